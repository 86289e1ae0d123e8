//! `replog failback` on replication logs `replog format` makes and
//! `replog::append` fills, with hand-built dm-log `disk` dirty logs: exact
//! stdout lines, stderr and exit status. Copying back discards the old
//! primary's unshipped writes: runs are printed only with
//! `--discard-unshipped`, `D` below.
//!
//! The device is mostly 150 sectors at region size 8: 19 regions, the last
//! one 6 sectors (144..150).

mod common;
use common::{append, data, formatted, lines, links, open, poke, replog, MIRROR_MAGIC};

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use dmr_logic::replog::entry::EntryFlags;
use dmr_logic::replog::SlinkPositions;
use replog::append::Appender;

/// The prefix of this file's replication log image names.
const LOG: &str = "failback-log-";

/// Appends a write of `sectors` at `sector` of device `dev`.
fn write(log: &mut Appender, dev: u32, sector: u64, sectors: u32) {
    let bytes = data(0, 3, sectors);
    append(log, dev, EntryFlags::empty(), sector, sectors, &bytes);
}

/// A replication log `offset` sectors in holding the writes `writes`
/// (`(dev, sector, sectors)`, seq 1.., every one for slinks 0, 1, 2),
/// with the checkpoint's positions `positions` (`(slink, seq)`) and
/// lost-device records `lost` (`(slink, dev)`).
fn log_with(
    name: &str,
    offset: u64,
    writes: &[(u32, u64, u32)],
    positions: &[(u32, u64)],
    lost: &[(u32, u32)],
) -> PathBuf {
    let path = formatted(LOG, name, offset);
    let mut log = open(&path, offset);
    log.slinks = links(&[0, 1, 2]);
    for &(dev, sector, sectors) in writes {
        write(&mut log, dev, sector, sectors);
    }
    let mut p = SlinkPositions::new();
    for &(nr, seq) in positions {
        assert!(p.insert(nr, seq));
    }
    for &(nr, dev) in lost {
        assert!(p.insert_lost(nr, dev));
    }
    log.set_positions(p);
    log.checkpoint().unwrap();
    path
}

/// A dirty log image `name` at byte 0, version 2: the header, the bitmap
/// of `nr_regions` with the regions `dirty` clear (out of sync), rounded up
/// to 512 bytes as on a device (see `common::dirty_log`).
fn dirty_log(name: &str, magic: u32, nr_regions: u64, dirty: &[u64]) -> PathBuf {
    common::dirty_log("failback-dlog-", name, 0, magic, 2, nr_regions, dirty)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `--discard-unshipped`.
const D: &str = "--discard-unshipped";

/// The last stderr line of a failback refused for want of `D`.
fn refusal(copy: u64, regions: u64) -> String {
    format!("replog failback: the old primary holds writes the other site never received ({copy} of {regions} regions); copying back discards them: give --discard-unshipped to do so")
}

/// `replog failback <log> --slink <slink> --dev 1 --dirty-log <dlog>
/// --region-size 8 --length 150`, then `extra`.
fn failback(
    log: &Path,
    dlog: &Path,
    slink: &str,
    extra: &[&str],
) -> (i32, Vec<String>, Vec<String>) {
    let mut args = vec![
        "failback",
        s(log),
        "--slink",
        slink,
        "--dev",
        "1",
        "--dirty-log",
        s(dlog),
        "--region-size",
        "8",
        "--length",
        "150",
    ];
    args.extend_from_slice(extra);
    replog(&args)
}

#[test]
fn runs_merged_across_both_sources() {
    // Seq 1 is shipped (slink 1 at seq 2); seq 3 is another device's.
    let log = log_with(
        "merged",
        64,
        &[(1, 60, 8), (1, 3, 2), (2, 40, 8), (1, 20, 8), (1, 100, 1)],
        &[(1, 2)],
        &[],
    );
    // Regions 1 (joins the entries' 0 and 2..4), 3 (theirs too), 13
    // (after 12's entry), 16 and the short last one.
    let dlog = dirty_log("merged", MIRROR_MAGIC, 19, &[1, 3, 13, 16, 18]);
    let (code, out, err) = failback(&log, &dlog, "1", &["--offset", "64", D]);
    assert_eq!(
        (code, out),
        (0, lines(&["0 32", "96 16", "128 8", "144 6"]))
    );
    assert_eq!(
        err,
        lines(&[
            "replog failback: slink 1: position seq 2 (checkpoint generation 3), the log holds seq 1..5",
            "replog failback: 3 entries of 5 live unshipped for slink 1",
            "replog failback: dirty log: 5 of 19 regions out of sync",
            "replog failback: 8 of 19 regions to copy back (31744 bytes of 76800)",
        ])
    );
    // What `unshipped` and `dirty` list, for comparison.
    let (_, out, _) = replog(&[
        "unshipped",
        s(&log),
        "--slink",
        "1",
        "--dev",
        "1",
        "--offset",
        "64",
    ]);
    assert_eq!(out, lines(&["1 3 2", "1 20 8", "1 100 1"]));
    let (_, out, _) = replog(&["dirty", s(&dlog), "--region-size", "8", "--length", "150"]);
    assert_eq!(out, lines(&["8 8", "24 8", "104 8", "128 8", "144 6"]));
}

#[test]
fn overlapping_and_adjacent_runs() {
    // Entries over regions 0..2 and 1..3 (overlapping), 6 (after the
    // dirty 4..6), 9..13 (one entry across region boundaries) and 10
    // again; dirty 2..4 (overlapping the entries), 4, 5, 13 (adjacent).
    let log = log_with(
        "overlap",
        0,
        &[(1, 0, 16), (1, 12, 8), (1, 50, 4), (1, 79, 22), (1, 80, 8)],
        &[(1, 1)],
        &[],
    );
    let dlog = dirty_log("overlap", MIRROR_MAGIC, 19, &[2, 3, 4, 5, 13]);
    let (code, out, err) = failback(&log, &dlog, "1", &[D]);
    assert_eq!((code, out), (0, lines(&["0 56", "72 40"])));
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog failback: 12 of 19 regions to copy back (49152 bytes of 76800)")
    );
}

#[test]
fn a_short_last_region() {
    // An entry in the last region only, the dirty log the one before.
    let log = log_with("short", 0, &[(1, 148, 2)], &[(1, 1)], &[]);
    let dlog = dirty_log("short", MIRROR_MAGIC, 19, &[17]);
    let (code, out, err) = failback(&log, &dlog, "1", &[D]);
    assert_eq!((code, out), (0, lines(&["136 14"])));
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog failback: 2 of 19 regions to copy back (7168 bytes of 76800)")
    );
    // The entry alone: the 6 sectors of the last region.
    let dlog = dirty_log("short-clean", MIRROR_MAGIC, 19, &[]);
    let (code, out, _) = failback(&log, &dlog, "1", &[D]);
    assert_eq!((code, out), (0, lines(&["144 6"])));
}

#[test]
fn a_lost_device_is_copied_whole() {
    // Device 1's writes given up unrecorded for slink 1; device 2's for
    // slink 2 do not count.
    let log = log_with(
        "lost",
        0,
        &[(1, 0, 8), (1, 64, 8)],
        &[(1, 2), (2, 1)],
        &[(1, 1), (2, 2)],
    );
    let dlog = dirty_log("lost", MIRROR_MAGIC, 19, &[3, 18]);
    let (code, out, err) = failback(&log, &dlog, "1", &[D]);
    assert_eq!((code, out), (0, lines(&["0 150"])));
    assert_eq!(
        err,
        lines(&[
            "replog failback: slink 1: position seq 2 (checkpoint generation 3), the log holds seq 1..2",
            "replog failback: slink 1: writes of device 1 were given up unrecorded: copy it whole",
            "replog failback: 1 entries of 2 live unshipped for slink 1",
            "replog failback: dirty log: 2 of 19 regions out of sync",
            "replog failback: 19 of 19 regions to copy back (76800 bytes of 76800)",
        ])
    );
    // Slink 2 lost device 2, not 1: both entries and the dirty regions.
    let (code, out, _) = failback(&log, &dlog, "2", &[D]);
    assert_eq!((code, out), (0, lines(&["0 8", "24 8", "64 8", "144 6"])));
}

#[test]
fn mark_lines() {
    let log = log_with("mark", 0, &[(1, 3, 2), (1, 100, 1)], &[(2, 1)], &[]);
    let dlog = dirty_log("mark", MIRROR_MAGIC, 19, &[1, 18]);
    let (code, out, err) = failback(&log, &dlog, "2", &["--mark", "pb", D]);
    assert_eq!(
        (code, out),
        (
            0,
            lines(&[
                "dmsetup message pb 0 mark 2 0 16",
                "dmsetup message pb 0 mark 2 96 8",
                "dmsetup message pb 0 mark 2 144 6",
            ])
        )
    );
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog failback: 4 of 19 regions to copy back (15360 bytes of 76800)")
    );
    // A name sh would split is quoted.
    let (code, out, _) = failback(&log, &dlog, "2", &[D, "--mark", "new primary's"]);
    assert_eq!(code, 0);
    assert_eq!(out[0], r"dmsetup message 'new primary'\''s' 0 mark 2 0 16");
}

#[test]
fn nothing_to_copy() {
    // Slink 1 holds everything (position at the next seq), the dirty log
    // is clean: nothing to discard, no --discard-unshipped needed.
    let log = log_with("nothing", 0, &[(1, 0, 8), (1, 64, 8)], &[(1, 3)], &[]);
    let dlog = dirty_log("nothing", MIRROR_MAGIC, 19, &[]);
    let (code, out, err) = failback(&log, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (0, 0));
    assert_eq!(
        err,
        lines(&[
            "replog failback: slink 1: position seq 3 (checkpoint generation 3), the log holds seq 1..2",
            "replog failback: 0 entries of 2 live unshipped for slink 1",
            "replog failback: dirty log: 0 of 19 regions out of sync",
            "replog failback: 0 of 19 regions to copy back (0 bytes of 76800)",
        ])
    );
    let (code, out, _) = failback(&log, &dlog, "1", &["--mark", "pb"]);
    assert_eq!((code, out.len()), (0, 0));
    // The same with it.
    let (code, out, err2) = failback(&log, &dlog, "1", &["--mark", "pb", D]);
    assert_eq!((code, out.len(), err2), (0, 0, err));
}

#[test]
fn unshipped_writes_are_discarded_only_when_asked() {
    // As in `runs_merged_across_both_sources`.
    let log = log_with(
        "discard",
        64,
        &[(1, 60, 8), (1, 3, 2), (2, 40, 8), (1, 20, 8), (1, 100, 1)],
        &[(1, 2)],
        &[],
    );
    let dlog = dirty_log("discard", MIRROR_MAGIC, 19, &[1, 3, 13, 16, 18]);
    let notes = lines(&[
        "replog failback: slink 1: position seq 2 (checkpoint generation 3), the log holds seq 1..5",
        "replog failback: 3 entries of 5 live unshipped for slink 1",
        "replog failback: dirty log: 5 of 19 regions out of sync",
        "replog failback: 8 of 19 regions to copy back (31744 bytes of 76800)",
    ]);
    for extra in [&["--offset", "64"][..], &["--offset", "64", "--mark", "pb"]] {
        let (code, out, err) = failback(&log, &dlog, "1", extra);
        assert_eq!((code, out.len()), (4, 0), "{extra:?}: {out:?}");
        let mut refused = notes.clone();
        refused.push(refusal(8, 19));
        assert_eq!(err, refused, "{extra:?}");
    }
    let (code, out, err) = failback(&log, &dlog, "1", &["--offset", "64", D]);
    assert_eq!(
        (code, out, err),
        (
            0,
            lines(&["0 32", "96 16", "128 8", "144 6"]),
            notes.clone()
        )
    );
    let (code, out, err) = failback(&log, &dlog, "1", &[D, "--offset", "64", "--mark", "pb"]);
    assert_eq!(
        (code, out, err),
        (
            0,
            lines(&[
                "dmsetup message pb 0 mark 1 0 32",
                "dmsetup message pb 0 mark 1 96 16",
                "dmsetup message pb 0 mark 1 128 8",
                "dmsetup message pb 0 mark 1 144 6",
            ]),
            notes
        )
    );
    // The dirty log alone is enough to refuse; the whole device counts
    // for a lost one.
    let clean = log_with("discard-clean", 0, &[(1, 0, 8)], &[(1, 2)], &[]);
    let (code, out, err) = failback(&clean, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (4, 0));
    assert_eq!(err.last(), Some(&refusal(5, 19)));
    let lost = log_with("discard-lost", 0, &[(1, 0, 8)], &[(1, 2)], &[(1, 1)]);
    let (code, out, err) = failback(&lost, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (4, 0));
    assert_eq!(err.last(), Some(&refusal(19, 19)));
}

#[test]
fn crash_residue_still_prints_the_runs() {
    let path = formatted(LOG, "torn", 0);
    let mut log = open(&path, 0);
    log.slinks = links(&[0, 1]);
    write(&mut log, 1, 0, 8); // seq 1 at block 3
    write(&mut log, 1, 8, 8); // seq 2 at block 5
    write(&mut log, 1, 96, 16); // seq 3 at block 7
    poke(&path, 7 + 2, 10, 0x80); // second data block of seq 3
    let dlog = dirty_log("torn", MIRROR_MAGIC, 19, &[5]);
    let (code, out, err) = failback(&path, &dlog, "1", &[D]);
    assert_eq!((code, out), (1, lines(&["0 16", "40 8"])));
    assert_eq!(
        err[0],
        "replog failback: recoverable: torn entry seq 3 at block 7, recovery drops it"
    );
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog failback: 3 of 19 regions to copy back (12288 bytes of 76800)")
    );
    // Without --discard-unshipped the refusal wins over the residue.
    let (code, out, refused) = failback(&path, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (4, 0));
    let mut expected = err;
    expected.push(refusal(3, 19));
    assert_eq!(refused, expected);
    // Residue and nothing to copy back: 1, nothing printed.
    let dlog = dirty_log("torn-clean", MIRROR_MAGIC, 19, &[]);
    let clean = formatted(LOG, "torn-shipped", 0);
    let mut log = open(&clean, 0);
    log.slinks = links(&[0, 1]);
    write(&mut log, 1, 0, 8); // seq 1 at block 3
    write(&mut log, 1, 8, 8); // seq 2 at block 5
    let mut p = SlinkPositions::new();
    assert!(p.insert(1, 3));
    log.set_positions(p);
    log.checkpoint().unwrap();
    write(&mut log, 1, 96, 16); // seq 3 at block 7
    poke(&clean, 7 + 2, 10, 0x80);
    let (code, out, err) = failback(&clean, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (1, 0), "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog failback: 0 of 19 regions to copy back (0 bytes of 76800)")
    );
}

#[test]
fn a_damaged_log_or_dirty_log_prints_nothing() {
    let log = formatted(LOG, "nocp", 0);
    poke(&log, 2, 0, 0x01);
    let dlog = dirty_log("damaged", MIRROR_MAGIC, 19, &[1]);
    let (code, out, err) = failback(&log, &dlog, "1", &["--mark", "pb"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog failback: {}: damaged: No valid checkpoint",
            s(&log)
        )])
    );

    let log = log_with("badmagic", 0, &[(1, 0, 8)], &[], &[]);
    let dlog = dirty_log("badmagic", 0x6469_7274, 19, &[1]);
    let (code, out, err) = failback(&log, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog failback: {}: bad magic 0x64697274 (not 0x4d695272): not a disk dirty log (the kernel would take every region as out of sync)",
            s(&dlog)
        )])
    );

    // A header whose bitmap does not fit the device.
    let dlog = dirty_log("truncated", MIRROR_MAGIC, 19, &[1]);
    let file = OpenOptions::new().write(true).open(&dlog).unwrap();
    file.set_len(1026).unwrap();
    let (code, out, err) = failback(&log, &dlog, "1", &[]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog failback: {}: dirty log needs 1027 bytes for its header and bitmap, 1026 available",
            s(&dlog)
        )])
    );

    let (code, out, err) = failback(&log, Path::new("/nonexistent/dlog.img"), "1", &[]);
    assert_eq!((code, out.len()), (3, 0));
    assert_eq!(err.len(), 1);
    assert!(
        err[0].starts_with("replog failback: /nonexistent/dlog.img: "),
        "{err:?}"
    );
}

/// `args` as `&str`s.
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn refusals() {
    let log = log_with("usage", 0, &[(1, 0, 8), (1, 140, 10)], &[], &[]);
    let p = s(&log).to_string();
    let dlog = dirty_log("usage", MIRROR_MAGIC, 19, &[1]);
    let d = s(&dlog).to_string();
    let first = |args: &[String]| {
        let (code, out, err) = replog(&refs(args));
        assert!(out.is_empty(), "{out:?}");
        (code, err.first().cloned().unwrap_or_default())
    };
    let all: Vec<String> = [
        "failback",
        &p,
        "--slink",
        "1",
        "--dev",
        "1",
        "--dirty-log",
        &d,
        "--region-size",
        "8",
        "--length",
        "150",
    ]
    .map(str::to_string)
    .to_vec();
    let with = |name: &str, value: &str| {
        let mut args = all.clone();
        let i = args.iter().position(|a| a == name).unwrap();
        args[i + 1] = value.to_string();
        args
    };
    let without = |name: &str| {
        let mut args = all.clone();
        let i = args.iter().position(|a| a == name).unwrap();
        args.drain(i..i + 2);
        args
    };
    let plus = |extra: &[&str]| {
        let mut args = all.clone();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let (code, out, _) = replog(&refs(&plus(&[D])));
    assert_eq!((code, out), (0, lines(&["0 16", "136 14"])));
    let (code, out, err) = replog(&refs(&all));
    assert_eq!((code, out.len()), (4, 0));
    assert_eq!(err.last(), Some(&refusal(4, 19)));
    assert_eq!(
        first(&plus(&[D, "yes"])),
        (3, "replog failback: unexpected argument yes".to_string())
    );

    assert_eq!(
        first(&with("--region-size", "12")),
        (
            3,
            "replog failback: --region-size: Region size must be a power of two of at least 8 sectors: 12"
                .to_string()
        )
    );
    // 160 sectors at 8 are 20 regions; at 16, 150 sectors are 10.
    let mismatch = |count: u64, length: u64, size: u64| {
        format!(
            "replog failback: {d}: the dirty log has 19 regions, not the {count} of --length {length} at --region-size {size}: another device's dirty log, or another length or region size"
        )
    };
    assert_eq!(first(&with("--length", "160")), (3, mismatch(20, 160, 8)));
    // With the flag too: it discards, it does not overrule a refusal.
    let mut args = with("--length", "160");
    args.push(D.to_string());
    assert_eq!(first(&args), (3, mismatch(20, 160, 8)));
    assert_eq!(
        first(&with("--region-size", "16")),
        (3, mismatch(10, 150, 16))
    );
    // 145 sectors are 19 regions too, but an entry ends at 150.
    assert_eq!(
        first(&with("--length", "145")),
        (
            3,
            format!("replog failback: {p}: entry '1 140 10' (<dev_nr> <sector> <sectors>) for slink 1 ends past --length 145: not device 1's length?")
        )
    );
    assert_eq!(
        first(&with("--length", "0")),
        (
            3,
            format!(
                "replog failback: {p}: --length: the device's length must be at least 1 sector"
            )
        )
    );
    for (option, message) in [
        ("--slink", "--slink <slink_nr> is required"),
        ("--dev", "--dev <dev_nr> is required"),
        ("--dirty-log", "--dirty-log <device-or-image> is required"),
        ("--region-size", "--region-size <sectors> is required"),
        ("--length", "--length <sectors> is required"),
    ] {
        assert_eq!(
            first(&without(option)),
            (3, format!("replog failback: {p}: {message}"))
        );
    }
    assert_eq!(
        first(&with("--slink", "0")),
        (
            3,
            format!("replog failback: {p}: --slink: 0 is the local site; give a remote site link")
        )
    );
    assert_eq!(
        first(&plus(&["--mark", "/dev/mapper/pb"])),
        (
            3,
            format!("replog failback: {p}: --mark: a dm device name has no '/' (give NAME, not /dev/mapper/NAME): /dev/mapper/pb")
        )
    );
    assert_eq!(
        first(&plus(&["--mark"])),
        (
            3,
            "replog failback: --mark needs a replicator-dev name".to_string()
        )
    );
    assert_eq!(
        first(&plus(&["--json"])),
        (3, "replog failback: unknown option --json".to_string())
    );
    let (code, err) = first(&with("failback", "/nonexistent/replog.img"));
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog failback: /nonexistent/replog.img: "),
        "{err}"
    );
}

#[test]
fn usage_names_failback() {
    let (code, out, _) = replog(&["help"]);
    assert_eq!(code, 0);
    assert!(out.iter().any(|l| l.starts_with(
        "       replog failback <device-or-image> --slink <slink_nr> --dev <dev_nr> --dirty-log"
    )));
    assert!(out.iter().any(|l| l.trim() == "[--discard-unshipped]"));
}
