//! `replog unshipped` on images `replog format` makes and
//! `replog::append` fills: exact stdout lines, stderr and exit status.

mod common;
use common::{data, formatted, lines, links, open, poke, replog};

use std::path::PathBuf;

use dmr_logic::replog::entry::EntryFlags;
use dmr_logic::replog::SlinkPositions;
use replog::append::Appender;

/// The prefix of this file's image names.
const PREFIX: &str = "unshipped-";

fn append(log: &mut Appender, dev: u32, flags: EntryFlags, sector: u64, sectors: u32) {
    let data_op = sectors > 0
        && !flags.contains(EntryFlags::DISCARD)
        && !flags.contains(EntryFlags::WRITE_ZEROES);
    let payload = if data_op {
        data(0, 5, sectors)
    } else {
        Vec::new()
    };
    common::append(log, dev, flags, sector, sectors, &payload);
}

fn write(log: &mut Appender, dev: u32, sector: u64, sectors: u32) {
    append(log, dev, EntryFlags::empty(), sector, sectors);
}

/// Three site links: 1 at seq 4, 2 at seq 3 with device 7 lost, 3 without
/// a position. Live entries seq 2..6 (seq 1 freed):
///
/// ```text
/// seq 2  dev 2 write 0+16              slinks 0,1,2,3
/// seq 3  dev 1 flush                   slinks 0
/// seq 4  dev 2 discard 4096+2048       slinks 0,1,2,3
/// seq 5  dev 3 write 50+4              slinks 0,1 (dev 3 not on 2, 3)
/// seq 6  dev 1 write-zeroes 800+8      slinks 0,1,2,3
/// ```
fn three_links(name: &str, offset: u64) -> PathBuf {
    let path = formatted(PREFIX, name, offset);
    let mut log = open(&path, offset);
    log.slinks = links(&[0, 1, 2, 3]);
    write(&mut log, 1, 100, 8);
    write(&mut log, 2, 0, 16);
    log.slinks = links(&[0]); // an empty flush is for the local site only
    append(&mut log, 1, EntryFlags::FLUSH, 0, 0);
    log.slinks = links(&[0, 1, 2, 3]);
    append(&mut log, 2, EntryFlags::DISCARD, 4096, 2048);
    log.slinks = links(&[0, 1]);
    write(&mut log, 3, 50, 4);
    log.slinks = links(&[0, 1, 2, 3]);
    append(&mut log, 1, EntryFlags::WRITE_ZEROES, 800, 8);
    let mut p = SlinkPositions::new();
    assert!(p.insert(1, 4));
    assert!(p.insert(2, 3));
    assert!(p.insert_lost(2, 7));
    log.set_positions(p);
    log.free(1).unwrap(); // head seq 2, next seq 7
    path
}

#[test]
fn two_links_at_different_positions() {
    let path = three_links("links", 0);
    let p = path.to_str().unwrap();
    let (code, out, _) = replog(&["check", p]);
    assert_eq!((code, out.last().map(String::as_str)), (0, Some("clean")));

    let (code, out, err) = replog(&["unshipped", p, "--slink", "1"]);
    assert_eq!(
        (code, out),
        (0, lines(&["2 4096 2048", "3 50 4", "1 800 8"]))
    );
    assert_eq!(
        err,
        lines(&[
            "replog unshipped: slink 1: position seq 4 (checkpoint generation 3), the log holds seq 2..6",
            "replog unshipped: 3 entries of 5 live unshipped for slink 1",
        ])
    );

    let (code, out, err) = replog(&["unshipped", p, "--slink", "2"]);
    assert_eq!(
        (code, out),
        (0, lines(&["2 4096 2048", "1 800 8", "7 all"]))
    );
    assert_eq!(
        err,
        lines(&[
            "replog unshipped: slink 2: position seq 3 (checkpoint generation 3), the log holds seq 2..6",
            "replog unshipped: 1 entries from there on are not for slink 2 (their devices are not replicated to it)",
            "replog unshipped: slink 2: writes of device 7 were given up unrecorded: copy it whole",
            "replog unshipped: 2 entries of 5 live unshipped for slink 2",
        ])
    );
}

#[test]
fn a_link_without_a_position_lacks_every_live_entry() {
    let path = three_links("noposition", 0);
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "3"]);
    assert_eq!(
        (code, out),
        (0, lines(&["2 0 16", "2 4096 2048", "1 800 8"]))
    );
    assert_eq!(
        err,
        lines(&[
            "replog unshipped: slink 3: no position in checkpoint generation 3: every live entry counts as unshipped, the log holds seq 2..6",
            "replog unshipped: 1 entries from there on are not for slink 3 (their devices are not replicated to it)",
            "replog unshipped: 3 entries of 5 live unshipped for slink 3",
        ])
    );
    // A link no entry is for lacks nothing.
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "9"]);
    assert_eq!((code, out.len()), (0, 0));
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog unshipped: 0 entries of 5 live unshipped for slink 9")
    );
}

#[test]
fn one_device() {
    let path = three_links("dev", 0);
    let p = path.to_str().unwrap();
    let (code, out, _) = replog(&["unshipped", p, "--slink", "2", "--dev", "2"]);
    assert_eq!((code, out), (0, lines(&["2 4096 2048"])));
    let (code, out, err) = replog(&["unshipped", p, "--slink", "2", "--dev", "7"]);
    assert_eq!((code, out), (0, lines(&["7 all"])));
    assert_eq!(
        err.last().map(String::as_str),
        Some("replog unshipped: 0 entries of 5 live unshipped for slink 2")
    );
    let (code, out, _) = replog(&["unshipped", p, "--slink", "1", "--dev", "1"]);
    assert_eq!((code, out), (0, lines(&["1 800 8"])));
}

#[test]
fn a_log_at_an_offset() {
    let path = three_links("offset", 64);
    let p = path.to_str().unwrap();
    let (code, out, _) = replog(&["unshipped", p, "--slink", "1", "--offset", "64"]);
    assert_eq!(
        (code, out),
        (0, lines(&["2 4096 2048", "3 50 4", "1 800 8"]))
    );
    let (code, out, err) = replog(&["unshipped", p, "--slink", "1"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&["replog unshipped: damaged: No replication log on device (bad superblock magic)"])
    );
}

#[test]
fn crash_residue_is_dropped_and_reported() {
    let path = formatted(PREFIX, "torn", 0);
    let mut log = open(&path, 0);
    log.slinks = links(&[0, 1]);
    write(&mut log, 1, 0, 8); // seq 1 at block 3
    write(&mut log, 1, 8, 8); // seq 2 at block 5
    write(&mut log, 2, 16, 16); // seq 3 at block 7
    poke(&path, 7 + 2, 10, 0x80); // second data block of seq 3
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "1"]);
    assert_eq!((code, out), (1, lines(&["1 0 8", "1 8 8"])));
    assert_eq!(
        err,
        lines(&[
            "replog unshipped: recoverable: torn entry seq 3 at block 7, recovery drops it",
            "replog unshipped: slink 1: no position in checkpoint generation 2: every live entry counts as unshipped, the log holds seq 1..2",
            "replog unshipped: 2 entries of 2 live unshipped for slink 1",
        ])
    );
}

#[test]
fn a_damaged_log_prints_nothing() {
    let path = formatted(PREFIX, "lost", 0);
    let mut log = open(&path, 0);
    log.slinks = links(&[0, 1]);
    for i in 0..3 {
        write(&mut log, 1, i * 8, 8);
    }
    log.checkpoint().unwrap();
    poke(&path, 6, 100, 0x04); // data of seq 2, before the tail hint
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "1"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&["replog unshipped: damaged: Log entries before the checkpoint tail are missing or damaged"])
    );

    let path = formatted(PREFIX, "nocp", 0);
    poke(&path, 2, 0, 0x01);
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "1"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&["replog unshipped: damaged: No valid checkpoint"])
    );
}

#[test]
fn an_empty_log_lacks_nothing() {
    let path = formatted(PREFIX, "empty", 0);
    let (code, out, err) = replog(&["unshipped", path.to_str().unwrap(), "--slink", "1"]);
    assert_eq!((code, out.len()), (0, 0));
    assert_eq!(
        err,
        lines(&[
            "replog unshipped: slink 1: no position in checkpoint generation 1: every live entry counts as unshipped, the log holds no entry (next seq 1)",
            "replog unshipped: 0 entries of 0 live unshipped for slink 1",
        ])
    );
}

#[test]
fn usage_errors() {
    let path = formatted(PREFIX, "usage", 0);
    let p = path.to_str().unwrap();
    let first = |args: &[&str]| {
        let (code, out, err) = replog(args);
        assert!(out.is_empty());
        (code, err.first().cloned().unwrap_or_default())
    };
    assert_eq!(
        first(&["unshipped", p]),
        (
            3,
            format!("replog unshipped: {p}: --slink <slink_nr> is required")
        )
    );
    assert_eq!(
        first(&["unshipped", p, "--slink", "0"]),
        (
            3,
            format!("replog unshipped: {p}: --slink: 0 is the local site; give a remote site link")
        )
    );
    let (code, err) = first(&["unshipped", p, "--slink", "2048"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog unshipped: --slink: ") && err.ends_with(": 2048"),
        "{err}"
    );
    assert_eq!(
        first(&["unshipped", p, "--slink", "1", "--dev", "x"]),
        (
            3,
            "replog unshipped: --dev: not a device number: x".to_string()
        )
    );
    assert_eq!(
        first(&["unshipped", p, "--slink", "1", "--json"]),
        (3, "replog unshipped: unknown option --json".to_string())
    );
    assert_eq!(
        first(&["unshipped", "--slink", "1"]),
        (3, "replog unshipped: missing device or image".to_string())
    );
    let (code, err) = first(&["unshipped", "/nonexistent/replog.img", "--slink", "1"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog unshipped: /nonexistent/replog.img: "),
        "{err}"
    );
}
