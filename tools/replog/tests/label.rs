//! `replog label` on sparse images: what it writes, prints and refuses,
//! with exact messages and exit status.

mod common;
use common::{image_path, lines, poke, replog_raw, UUID};

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use dmr_logic::label::{Label, Role};
use replog::report::parse_uuid;
use replog::HostCrc;

const PREFIX: &str = "label-";
/// The test images' size: the last whole 4 KiB block starts at sector
/// 4096, the label block at 4088; the 4 sectors after 4096 are a partial
/// block.
const SECTORS: u64 = 4100;
/// The label block of a [`SECTORS`]-sector image.
const LABEL_SECTOR: u64 = 4088;
/// Another group.
const OTHER: &str = "ffeeddcc-bbaa-9988-7766-554433221100";

/// A sparse image `name` of `sectors` sectors.
fn image(name: &str, sectors: u64) -> PathBuf {
    let path = image_path(PREFIX, name);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(sectors * 512).unwrap();
    path
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `replog label args`: exit status, stdout lines, stderr whole.
fn label(args: &[&str]) -> (i32, Vec<String>, String) {
    let mut all = vec!["label"];
    all.extend(args);
    replog_raw(&all)
}

/// Runs `replog label args`, which must succeed with nothing on stderr;
/// returns its stdout lines.
fn ok(args: &[&str]) -> Vec<String> {
    let (code, out, err) = label(args);
    assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    out
}

/// Runs `replog label args`, which must exit `code` with nothing on
/// stdout; returns stderr.
fn fails(code: i32, args: &[&str]) -> String {
    let (got, out, err) = label(args);
    assert_eq!((got, out), (code, Vec::<String>::new()), "{args:?}: {err}");
    err
}

/// A new image `name` labelled primary of device `dev_nr` of `group`.
fn primary(name: &str, dev_nr: u32, group: &str) -> PathBuf {
    let path = image(name, SECTORS);
    let dev_nr = dev_nr.to_string();
    let out = ok(&[
        "create",
        p(&path),
        "--dev-nr",
        &dev_nr,
        "--length",
        "4088",
        "--group",
        group,
    ]);
    assert_eq!(
        out,
        [format!(
            "{}: group {group} device {dev_nr} primary generation 1",
            p(&path)
        )]
    );
    path
}

/// A new image `name` joined to `from`.
fn secondary(name: &str, from: &Path) -> PathBuf {
    let path = image(name, SECTORS);
    ok(&["join", p(&path), "--from", p(from)]);
    path
}

/// The label of `path` as `show` prints it.
fn show(path: &Path) -> Vec<String> {
    ok(&["show", p(path)])
}

/// The generation line of `path`'s label: `generation <g> (tag <hex>)`.
fn generation(path: &Path) -> String {
    show(path)[3].clone()
}

/// The tag of `path`'s label.
fn tag(path: &Path) -> String {
    let line = generation(path);
    let tag = line
        .split_once("(tag ")
        .and_then(|(_, t)| t.strip_suffix(')'))
        .unwrap()
        .to_string();
    assert_eq!(tag.len(), 16, "{line}");
    assert!(tag
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    tag
}

/// `check` with the test table (device `dev_nr`, length 4088).
fn check(dev_nr: u32, devices: &[&Path]) -> (i32, Vec<String>, String) {
    let dev_nr = dev_nr.to_string();
    let mut args = vec!["check"];
    args.extend(devices.iter().map(|d| p(d)));
    args.extend(["--dev-nr", &dev_nr, "--length", "4088"]);
    label(&args)
}

/// `check` of `local` and `remote` as device 1, refused with `message`
/// for `remote`: the local device passes.
fn refused(local: &Path, remote: &Path, message: &str) {
    let (code, out, err) = check(1, &[local, remote]);
    assert_eq!(
        (code, out, err),
        (
            1,
            vec![format!("{}: ok", p(local))],
            format!("replog: {}: {message}\n", p(remote))
        )
    );
}

#[test]
fn create_then_show() {
    let path = image("round-trip", SECTORS);
    // Data everywhere but the label block must stay as it is.
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&vec![0xa5; SECTORS as usize * 512], 0)
        .unwrap();
    assert_eq!(
        fails(3, &["show", p(&path)]),
        format!("replog: {}: no label\n", p(&path))
    );
    let out = ok(&[
        "create",
        p(&path),
        "--dev-nr",
        "3",
        "--length",
        "4088",
        "--group",
        UUID,
    ]);
    assert_eq!(
        out,
        [format!(
            "{}: group {UUID} device 3 primary generation 1",
            p(&path)
        )]
    );
    let tag = tag(&path);
    assert_eq!(
        show(&path),
        lines(&[
            &format!("group {UUID}"),
            "device 3",
            "role primary",
            &format!("generation 1 (tag {tag})"),
            "length 4088",
        ])
    );
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), SECTORS as usize * 512);
    let (start, end) = (
        LABEL_SECTOR as usize * 512,
        LABEL_SECTOR as usize * 512 + 4096,
    );
    assert!(bytes[..start].iter().all(|&b| b == 0xa5));
    assert!(bytes[end..].iter().all(|&b| b == 0xa5));
    assert_eq!(&bytes[start..start + 8], b"DMRLABEL");
}

#[test]
fn create_draws_a_group_and_a_tag() {
    let a = image("random-a", SECTORS);
    let b = image("random-b", SECTORS);
    let out_a = ok(&["create", p(&a), "--dev-nr", "0", "--length", "8"]);
    let out_b = ok(&["create", p(&b), "--dev-nr", "0", "--length", "8"]);
    let group = |path: &Path| show(path)[0].clone();
    assert_ne!(group(&a), group(&b));
    assert_ne!(tag(&a), tag(&b));
    let uuid = group(&a)["group ".len()..].to_string();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "a version 4 UUID: {uuid}");
    assert_eq!(
        out_a,
        [format!(
            "{}: group {uuid} device 0 primary generation 1",
            p(&a)
        )]
    );
    assert_eq!(out_b.len(), 1);
}

#[test]
fn create_refuses_a_labelled_device() {
    let path = primary("relabel", 1, UUID);
    let before = show(&path);
    let err = fails(
        1,
        &[
            "create",
            p(&path),
            "--dev-nr",
            "2",
            "--length",
            "8",
            "--group",
            OTHER,
        ],
    );
    assert_eq!(
        err,
        format!(
            "replog: {}: already labelled: primary of group {UUID} device 1 generation 1 (use --force)\n",
            p(&path)
        )
    );
    assert_eq!(show(&path), before);
    ok(&[
        "create",
        p(&path),
        "--dev-nr",
        "2",
        "--length",
        "8",
        "--group",
        OTHER,
        "--force",
    ]);
    assert_eq!(
        show(&path)[..2],
        lines(&[&format!("group {OTHER}"), "device 2"])
    );
}

#[test]
fn a_damaged_label_is_reported_and_refused() {
    let path = primary("damaged", 1, UUID);
    poke(&path, LABEL_SECTOR / 8, 100, 0x10);
    let corrupt = format!("replog: {}: Device label is corrupt (checksum)\n", p(&path));
    assert_eq!(fails(1, &["show", p(&path)]), corrupt);
    assert_eq!(
        fails(1, &["create", p(&path), "--dev-nr", "1", "--length", "8"]),
        format!(
            "replog: {}: already labelled: Device label is corrupt (checksum) (use --force)\n",
            p(&path)
        )
    );
    let (code, out, err) = check(1, &[&path]);
    assert_eq!((code, out, err), (1, vec![], corrupt.clone()));
    assert_eq!(fails(1, &["promote", p(&path), "--force"]), corrupt);
    ok(&[
        "create",
        p(&path),
        "--dev-nr",
        "1",
        "--length",
        "8",
        "--force",
    ]);
    assert_eq!(show(&path)[4], "length 8");
    // An unknown version.
    poke(&path, LABEL_SECTOR / 8, 8, 0x02);
    assert_eq!(
        fails(1, &["show", p(&path)]),
        format!(
            "replog: {}: Device label has an unknown version\n",
            p(&path)
        )
    );
}

#[test]
fn create_refuses_a_length_into_the_label_block() {
    let path = image("too-long", SECTORS);
    let small = image("too-small", 15);
    let tiny = image("tiny", 7);
    let cases = [
        (
            &path,
            "4089",
            "--length 4089 reaches the label block at sector 4088 (the device has 4100 sectors)",
        ),
        (
            &path,
            "0",
            "--length 0: the replicated length must be at least one sector",
        ),
        (
            &small,
            "1",
            "--length 1 reaches the label block at sector 0 (the device has 15 sectors)",
        ),
        (
            &tiny,
            "1",
            "too small for a label (the device has 7 sectors)",
        ),
    ];
    for (dev, length, why) in cases {
        assert_eq!(
            fails(1, &["create", p(dev), "--dev-nr", "1", "--length", length]),
            format!("replog: {}: {why}\n", p(dev))
        );
    }
    assert_eq!(
        fails(3, &["show", p(&tiny)]),
        format!("replog: {}: no label\n", p(&tiny))
    );
    // Nothing was written.
    for path in [&path, &small, &tiny] {
        assert!(std::fs::read(path).unwrap().iter().all(|&b| b == 0));
    }
    let missing = image_path(PREFIX, "missing");
    let err = fails(
        3,
        &["create", p(&missing), "--dev-nr", "1", "--length", "8"],
    );
    assert!(
        err.starts_with(&format!("replog: {}: ", p(&missing))),
        "{err}"
    );
    assert!(!missing.exists());
}

#[test]
fn join_then_check() {
    let primary = primary("join-p", 1, UUID);
    let copy = image("join-s", SECTORS);
    // Whatever the copy held is overwritten.
    ok(&[
        "create",
        p(&copy),
        "--dev-nr",
        "5",
        "--length",
        "8",
        "--group",
        OTHER,
    ]);
    let out = ok(&["join", p(&copy), "--from", p(&primary)]);
    assert_eq!(
        out,
        [format!(
            "{}: secondary of group {UUID} device 1 generation 1",
            p(&copy)
        )]
    );
    let mut expect = show(&primary);
    expect[2] = "role secondary".to_string();
    assert_eq!(show(&copy), expect);
    let (code, out, err) = check(1, &[&primary, &copy]);
    assert_eq!(
        (code, out, err.as_str()),
        (
            0,
            vec![format!("{}: ok", p(&primary)), format!("{}: ok", p(&copy))],
            ""
        )
    );
    // Without remotes: the local label alone.
    assert_eq!(check(1, &[&primary]).0, 0);
}

#[test]
fn join_refuses() {
    let primary = primary("join-refused-p", 1, UUID);
    let copy = secondary("join-refused-s", &primary);
    let bare = image("join-refused-u", SECTORS);
    let target = image("join-refused-t", SECTORS);
    assert_eq!(
        fails(1, &["join", p(&target), "--from", p(&bare)]),
        format!("replog: {}: no label\n", p(&bare))
    );
    assert_eq!(
        fails(1, &["join", p(&target), "--from", p(&copy)]),
        format!(
            "replog: {}: not a primary: secondary of group {UUID} device 1 generation 1\n",
            p(&copy)
        )
    );
    assert_eq!(
        fails(1, &["join", p(&primary), "--from", p(&primary)]),
        format!("replog: {}: is {} itself\n", p(&primary), p(&primary))
    );
    let small = image("join-refused-small", 2048);
    assert_eq!(
        fails(1, &["join", p(&small), "--from", p(&primary)]),
        format!(
            "replog: {}: length 4088 of {}'s label reaches the label block at sector 2040 (the device has 2048 sectors)\n",
            p(&small),
            p(&primary)
        )
    );
    assert_eq!(
        fails(3, &["show", p(&target)]),
        format!("replog: {}: no label\n", p(&target))
    );
}

/// Writes `label` into the label block of the [`SECTORS`]-sector image
/// `name` (as `replog label` would, for labels it cannot make).
fn labelled(name: &str, label: &Label) -> PathBuf {
    let path = image(name, SECTORS);
    let mut block = [0u8; 4096];
    label.encode::<HostCrc>(&mut block);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&block, LABEL_SECTOR * 512).unwrap();
    path
}

/// A secondary label of device `dev_nr` of the test group, generation 1
/// with tag `tag`.
fn secondary_label(dev_nr: u32, tag: u64) -> Label {
    Label {
        group: parse_uuid(UUID).unwrap(),
        dev_nr,
        role: Role::Secondary,
        generation: 1,
        generation_tag: tag,
        length: 4088,
    }
}

#[test]
fn promote_gives_all_devices_one_new_generation() {
    // A DR site's copies of devices 1 and 2 of a group.
    let s1 = labelled("promote-s1", &secondary_label(1, 0x1234));
    let s2 = labelled("promote-s2", &secondary_label(2, 0x1234));
    let out = ok(&["promote", p(&s1), p(&s2)]);
    assert_eq!(
        out,
        [
            format!("{}: primary of group {UUID} device 1 generation 2", p(&s1)),
            format!("{}: primary of group {UUID} device 2 generation 2", p(&s2)),
        ]
    );
    let tag = tag(&s1);
    assert_ne!(tag, "0000000000001234");
    for (path, dev_nr) in [(&s1, "1"), (&s2, "2")] {
        assert_eq!(
            show(path),
            lines(&[
                &format!("group {UUID}"),
                &format!("device {dev_nr}"),
                "role primary",
                &format!("generation 2 (tag {tag})"),
                "length 4088",
            ])
        );
    }
}

#[test]
fn promote_refuses() {
    let s1 = labelled("refuse-s1", &secondary_label(1, 0x1234));
    let s2 = labelled(
        "refuse-s2",
        &Label {
            generation: 2,
            ..secondary_label(2, 0x1234)
        },
    );
    let s3 = labelled("refuse-s3", &secondary_label(3, 0x5678));
    let s4 = labelled(
        "refuse-s4",
        &Label {
            group: parse_uuid(OTHER).unwrap(),
            ..secondary_label(4, 0x1234)
        },
    );
    let p5 = labelled(
        "refuse-p5",
        &Label {
            role: Role::Primary,
            ..secondary_label(5, 0x1234)
        },
    );
    let bare = image("refuse-u", SECTORS);
    let before: Vec<Vec<String>> = [&s1, &s2, &s3, &s4, &p5].map(|d| show(d)).to_vec();
    let cases: [(&Path, &str); 5] = [
        (
            &s2,
            "generation 2 (tag 0000000000001234), not 1 (tag 0000000000001234) as S1",
        ),
        (
            &s3,
            "generation 1 (tag 0000000000005678), not 1 (tag 0000000000001234) as S1",
        ),
        (&s4, &format!("group {OTHER}, not {UUID} as S1")),
        (&p5, "already primary of generation 1 (use --force)"),
        (&bare, "no label"),
    ];
    for (other, message) in cases {
        let message = message.replace("S1", p(&s1));
        assert_eq!(
            fails(1, &["promote", p(&s1), p(other)]),
            format!("replog: {}: {message}\n", p(other))
        );
    }
    let after: Vec<Vec<String>> = [&s1, &s2, &s3, &s4, &p5].map(|d| show(d)).to_vec();
    assert_eq!(after, before);
    // --force promotes a primary.
    let out = ok(&["promote", p(&s1), p(&p5), "--force"]);
    assert_eq!(out.len(), 2);
    assert_eq!(generation(&s1), generation(&p5));
    assert!(generation(&p5).starts_with("generation 2 "));
}

#[test]
fn check_the_local_label() {
    let primary = primary("check-local-p", 1, UUID);
    let copy = secondary("check-local-s", &primary);
    let (code, out, err) = check(1, &[&copy]);
    assert_eq!(
        (code, out, err),
        (
            1,
            vec![],
            format!(
                "replog: {}: Local device is a secondary copy: promote it first\n",
                p(&copy)
            )
        )
    );
    // As in the kernel, a local refusal ends the check.
    let (code, out, err) = check(2, &[&primary, &copy]);
    assert_eq!(
        (code, out, err),
        (
            1,
            vec![],
            format!(
                "replog: {}: Local device is labelled for another device number (labelled device 1, --dev-nr 2)\n",
                p(&primary)
            )
        )
    );
    let (code, out, err) = label(&[
        "check",
        p(&primary),
        p(&copy),
        "--dev-nr",
        "1",
        "--length",
        "4089",
    ]);
    let overlap =
        "Replicated length overlaps the device label (--length 4089, label block at sector 4088)";
    assert_eq!(
        (code, out, err),
        (1, vec![], format!("replog: {}: {overlap}\n", p(&primary)))
    );
}

#[test]
fn check_refuses_a_copy_of_another_group_or_device() {
    let p1 = primary("check-other-p1", 1, UUID);
    let p2 = primary("check-other-p2", 2, UUID);
    let s2 = secondary("check-other-s2", &p2);
    let stranger = primary("check-other-x", 1, OTHER);
    let stranger_copy = secondary("check-other-xs", &stranger);
    refused(
        &p1,
        &stranger_copy,
        &format!(
            "Remote device belongs to another replication group (remote group {OTHER}, local {UUID})"
        ),
    );
    refused(
        &p1,
        &s2,
        "Remote device is a copy of another device of the group (remote device 2, local 1)",
    );
}

#[test]
fn check_refuses_a_copy_not_failed_back() {
    // The DR site took over and was failed back to; the old primary
    // promoted again, its old DR copy never joined the new generation.
    let primary = primary("older-p", 1, UUID);
    let copy = secondary("older-s", &primary);
    ok(&["promote", p(&primary), "--force"]);
    refused(
        &primary,
        &copy,
        "Remote device holds an older generation: fail it back first (remote generation 1, local 2)",
    );
    // Joined again (after the failback copy): fine.
    ok(&["join", p(&copy), "--from", p(&primary)]);
    assert_eq!(check(1, &[&primary, &copy]).0, 0);
}

#[test]
fn check_refuses_a_site_that_took_over() {
    let primary = primary("newer-p", 1, UUID);
    let copy = secondary("newer-s", &primary);
    ok(&["promote", p(&copy)]);
    refused(
        &primary,
        &copy,
        "Remote device holds a newer generation: this site was taken over (remote generation 2, local 1)",
    );
}

#[test]
fn check_refuses_a_split_brain() {
    let primary = primary("branch-p", 1, UUID);
    let a = secondary("branch-a", &primary);
    let b = secondary("branch-b", &primary);
    ok(&["promote", p(&a)]);
    ok(&["promote", p(&b)]);
    let (tag_a, tag_b) = (tag(&a), tag(&b));
    assert_ne!(tag_a, tag_b);
    refused(
        &a,
        &b,
        &format!(
            "Remote device was promoted on its own: split brain (generation 2: remote tag {tag_b}, local tag {tag_a})"
        ),
    );
}

#[test]
fn check_refuses_a_primary_remote() {
    let primary = primary("primary-remote-p", 1, UUID);
    let copy = secondary("primary-remote-s", &primary);
    let out = ok(&["promote", p(&primary), p(&copy), "--force"]);
    assert_eq!(
        out,
        [
            format!(
                "{}: primary of group {UUID} device 1 generation 2",
                p(&primary)
            ),
            format!(
                "{}: primary of group {UUID} device 1 generation 2",
                p(&copy)
            ),
        ]
    );
    assert_eq!(generation(&primary), generation(&copy));
    refused(&primary, &copy, "Remote device is labelled primary");
}

#[test]
fn check_labelled_and_unlabelled() {
    let primary = primary("unlabelled-p", 1, UUID);
    let copy = secondary("unlabelled-s", &primary);
    let bare = image("unlabelled-u", SECTORS);
    let bare2 = image("unlabelled-u2", SECTORS);
    refused(
        &bare,
        &copy,
        "Remote device has a label but the local device has none",
    );
    refused(
        &primary,
        &bare,
        "Remote device has no label but the local device has one",
    );
    // Labels are optional.
    let (code, out, err) = check(1, &[&bare, &bare2]);
    assert_eq!(
        (code, out, err.as_str()),
        (
            0,
            vec![format!("{}: ok", p(&bare)), format!("{}: ok", p(&bare2))],
            ""
        )
    );
}

#[test]
fn check_goes_on_past_a_bad_remote() {
    let primary = primary("bad-remote-p", 1, UUID);
    let copy = secondary("bad-remote-s", &primary);
    let damaged = secondary("bad-remote-d", &primary);
    poke(&damaged, LABEL_SECTOR / 8, 200, 0x01);
    let missing = image_path(PREFIX, "bad-remote-missing");
    let (code, out, err) = check(1, &[&primary, &damaged, &missing, &copy]);
    assert_eq!(
        out,
        [format!("{}: ok", p(&primary)), format!("{}: ok", p(&copy))]
    );
    let err: Vec<&str> = err.lines().collect();
    assert_eq!(
        err[0],
        format!(
            "replog: {}: Device label is corrupt (checksum)",
            p(&damaged)
        )
    );
    assert!(err[1].starts_with(&format!("replog: {}: ", p(&missing))));
    assert_eq!((code, err.len()), (3, 2));
}

#[test]
fn usage() {
    let first = |args: &[&str]| {
        let (code, out, err) = label(args);
        assert_eq!(out, Vec::<String>::new());
        assert!(err.contains("\nusage: replog check"), "{err}");
        (code, err.lines().next().unwrap().to_string())
    };
    assert_eq!(first(&[]), (3, "replog label: missing subcommand".into()));
    assert_eq!(
        first(&["create", "x", "--dev-nr", "1"]),
        (3, "replog label: --length <sectors> is required".into())
    );
    assert_eq!(
        first(&["show", "x", "--offset", "8"]),
        (3, "replog label: unknown option --offset".into())
    );
    let (code, out, _) = replog_raw(&["help"]);
    assert_eq!(code, 0);
    for line in [
        "       replog label show <device-or-image>",
        "       replog label create <device-or-image> --dev-nr <dev_nr> --length <sectors> [--group <uuid>] [--force]",
        "       replog label join <device-or-image> --from <primary-device-or-image>",
        "       replog label promote <device-or-image>... [--force]",
    ] {
        assert!(out.contains(&line.to_string()), "{line}");
    }
}
