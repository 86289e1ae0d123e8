//! The `replog` binary on images it formats and `replog::append` fills,
//! intact and damaged: exit status and exact report lines.

mod common;
use common::replog_raw as replog;
use common::{append, data, format_log, image_path, lines, open, poke, UUID};

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use dmr_logic::replog::entry::EntryFlags;
use dmr_logic::replog::writer::Appended;
use dmr_logic::replog::EntryHeader;
use replog::append::Appender;
use replog::HostCrc;

/// Formats a new image `name` of `sectors` sectors with the test UUID.
fn formatted(name: &str, sectors: u64) -> PathBuf {
    let path = image_path("", name);
    assert_eq!(format_log(&path, sectors, None).len(), 1);
    path
}

fn check(path: &Path) -> (i32, Vec<String>) {
    let (code, out, err) = replog(&["check", path.to_str().unwrap()]);
    assert_eq!(err, "");
    (code, out)
}

fn write(log: &mut Appender, sector: u64, sectors: u32) -> Appended {
    let bytes = data(sector as u8, 3, sectors);
    append(log, 1, EntryFlags::empty(), sector, sectors, &bytes)
}

/// The first report lines of a 2048-sector test log just formatted.
fn fresh_lines() -> Vec<String> {
    vec![
        format!("superblock: version 1, uuid {UUID}, ring at block 3"),
        "checkpoint slot 0 (block 1): empty".into(),
        "checkpoint slot 1 (block 2): generation 1, incarnation 1, ring 253 blocks, head block 3 seq 1 epoch 0, tail block 3 seq 1".into(),
        "using checkpoint generation 1".into(),
    ]
}

/// The first report lines of a 2048-sector test log formatted, then opened
/// once (which starts run 2) and written to.
fn opened_lines() -> Vec<String> {
    vec![
        format!("superblock: version 1, uuid {UUID}, ring at block 3"),
        "checkpoint slot 0 (block 1): generation 2, incarnation 2, ring 253 blocks, head block 3 seq 1 epoch 0, tail block 3 seq 1".into(),
        "checkpoint slot 1 (block 2): generation 1, incarnation 1, ring 253 blocks, head block 3 seq 1 epoch 0, tail block 3 seq 1".into(),
        "using checkpoint generation 2".into(),
    ]
}

#[test]
fn a_fresh_log_is_clean() {
    let path = formatted("fresh", 2048);
    let (code, out) = check(&path);
    let mut expect = fresh_lines();
    expect.extend(lines(&[
        "entries: none, next seq 1, tail block 3",
        "end: block 3: no entry",
        "clean",
    ]));
    assert_eq!((code, out), (0, expect));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2048 * 512);
}

/// Four entries: a write, a discard, an empty flush, a write with flush
/// and FUA.
fn four_entries(name: &str) -> (PathBuf, [u32; 2]) {
    let path = formatted(name, 2048);
    let mut log = open(&path, 0);
    let first = write(&mut log, 100, 8);
    append(&mut log, 2, EntryFlags::DISCARD, 4096, 65536, &[]);
    append(&mut log, 1, EntryFlags::FLUSH, 0, 0, &[]);
    let flush_fua = EntryFlags::FLUSH.with(EntryFlags::FUA);
    let last = append(&mut log, 3, flush_fua, 7, 3, &data(9, 3, 3));
    (path, [first.header.data_crc, last.header.data_crc])
}

#[test]
fn check_and_dump_a_log_with_entries() {
    let (path, [crc1, crc4]) = four_entries("entries");
    assert_eq!(crc1, crc32c::crc32c(&data(100, 3, 8)));
    let (code, out) = check(&path);
    let mut expect = opened_lines();
    expect.extend(lines(&[
        "entries: 4, seq 1..4, head block 3, tail block 9, 6 of 253 ring blocks used",
        "end: block 9: no entry",
        "clean",
    ]));
    assert_eq!((code, out), (0, expect));

    let (code, out, _) = replog(&["dump", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    let mut expect = opened_lines();
    expect[0] =
        format!("superblock (block 0): version 1, uuid {UUID}, block size 4096, ring at block 3");
    expect.extend([
        format!("entry seq 1 at block 3: incarnation 2, epoch 0, dev 1, write sector 100 len 8, data crc {crc1:#010x}, slinks 0"),
        "entry seq 2 at block 5: incarnation 2, epoch 0, dev 2, discard sector 4096 len 65536, slinks 0".into(),
        "entry seq 3 at block 6: incarnation 2, epoch 1, dev 1, flush, slinks 0".into(),
        format!("entry seq 4 at block 7: incarnation 2, epoch 2, dev 3, write+flush+fua sector 7 len 3, data crc {crc4:#010x}, slinks 0"),
        "end: block 9: no entry".into(),
    ]);
    assert_eq!(out, expect);
}

#[test]
fn dump_as_json() {
    let (path, [crc1, _]) = four_entries("json");
    let (code, out, _) = replog(&["dump", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out.join("\n")).unwrap();
    assert_eq!(doc["superblock"]["uuid"], UUID);
    assert_eq!(doc["superblock"]["version"], 1);
    assert_eq!(doc["checkpoint"], 2);
    assert_eq!(doc["checkpoints"][0]["incarnation"], 2);
    assert_eq!(doc["checkpoints"][1]["generation"], 1);
    assert_eq!(doc["checkpoints"][1]["ring_blocks"], 253);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[0]["block"], 3);
    assert_eq!(entries[0]["sectors"], 8);
    assert_eq!(entries[0]["data_crc"], crc1);
    assert_eq!(entries[0]["slinks"], serde_json::json!([0]));
    assert_eq!(entries[0]["incarnation"], 2);
    assert_eq!(entries[1]["flags"], serde_json::json!(["discard"]));
    assert_eq!(entries[1]["data_crc"], serde_json::Value::Null);
    assert_eq!(entries[3]["flags"], serde_json::json!(["flush", "fua"]));
    assert_eq!(entries[3]["epoch"], 2);
    assert_eq!(doc["end"]["kind"], "none");
    assert_eq!(doc["end"]["block"], 9);
    assert_eq!(doc["recovered"]["next_seq"], 5);
    assert_eq!(doc["recovered"]["used"], 6);
}

#[test]
fn bad_superblock_magic_means_no_log() {
    let path = formatted("magic", 2048);
    poke(&path, 0, 0, 0xff);
    let (code, out) = check(&path);
    assert_eq!(
        (code, out),
        (
            2,
            lines(&[
                "block 0: No replication log on device (bad superblock magic)",
                "damaged: No replication log on device (bad superblock magic)",
            ])
        )
    );
    let (code, out, _) = replog(&["dump", path.to_str().unwrap()]);
    assert_eq!(
        (code, out),
        (
            2,
            lines(&["block 0: No replication log on device (bad superblock magic)"])
        )
    );
}

#[test]
fn bad_superblock_checksum_and_version() {
    let path = formatted("sbcrc", 2048);
    poke(&path, 0, 2000, 0x01);
    assert_eq!(
        check(&path),
        (
            2,
            lines(&[
                "block 0: Bad superblock checksum",
                "damaged: Bad superblock checksum"
            ])
        )
    );
    let path = formatted("version", 2048);
    poke(&path, 0, 8, 0x03); // version 1 -> 2
    assert_eq!(
        check(&path),
        (
            2,
            lines(&[
                "block 0: Unsupported log format version",
                "damaged: Unsupported log format version"
            ])
        )
    );
}

#[test]
fn torn_last_entry_is_recoverable() {
    let path = formatted("torn-data", 2048);
    let mut log = open(&path, 0);
    write(&mut log, 0, 8);
    write(&mut log, 8, 8);
    let last = write(&mut log, 16, 16);
    assert_eq!(last.extent.start, 4);
    poke(&path, 3 + 4 + 2, 10, 0x80); // second data block of seq 3
    let (code, out) = check(&path);
    assert_eq!(code, 1);
    assert_eq!(
        out[4..],
        lines(&[
            "entries: 2, seq 1..2, head block 3, tail block 7, 4 of 253 ring blocks used",
            "end: block 7: entry seq 3: Bad entry data checksum",
            "recoverable: torn entry seq 3 at block 7, recovery drops it",
        ])
    );

    let path = formatted("torn-header", 2048);
    let mut log = open(&path, 0);
    write(&mut log, 0, 8);
    write(&mut log, 8, 8);
    poke(&path, 5, 3000, 0x01); // header of seq 2
    let (code, out) = check(&path);
    assert_eq!(code, 1);
    assert_eq!(
        out[4..],
        lines(&[
            "entries: 1, seq 1..1, head block 3, tail block 5, 2 of 253 ring blocks used",
            "end: block 5: entry seq 2: Bad entry header checksum",
            "recoverable: torn entry seq 2 at block 5, recovery drops it",
        ])
    );
}

#[test]
fn a_wrapped_ring() {
    // 160 sectors: 20 blocks, a ring of 17.
    let path = formatted("wrapped", 160);
    let mut log = open(&path, 0);
    for i in 0..5 {
        write(&mut log, i * 16, 16); // 3 blocks each: ring 0..15
    }
    log.free(3).unwrap();
    let wrapped = write(&mut log, 500, 16);
    assert_eq!(wrapped.extent.start, 0);
    write(&mut log, 600, 16);
    let (code, out) = check(&path);
    assert_eq!(
        (code, out),
        (
            0,
            lines(&[
                &format!("superblock: version 1, uuid {UUID}, ring at block 3"),
                "checkpoint slot 0 (block 1): generation 2, incarnation 2, ring 17 blocks, head block 3 seq 1 epoch 0, tail block 3 seq 1",
                "checkpoint slot 1 (block 2): generation 3, incarnation 2, ring 17 blocks, head block 12 seq 4 epoch 0, tail block 18 seq 6",
                "using checkpoint generation 3",
                "entries: 4, seq 4..7, head block 12, tail block 9, 14 of 17 ring blocks used",
                "end: block 9: stale entry seq 3",
                "clean",
            ])
        )
    );
    let (_, out, _) = replog(&["dump", path.to_str().unwrap()]);
    let seqs: Vec<&str> = out
        .iter()
        .filter(|l| l.starts_with("entry seq"))
        .map(|l| &l[..l.find(':').unwrap()])
        .collect();
    assert_eq!(
        seqs,
        [
            "entry seq 4 at block 12",
            "entry seq 5 at block 15",
            "entry seq 6 at block 3",
            "entry seq 7 at block 6"
        ]
    );
}

#[test]
fn a_torn_checkpoint_falls_back_to_the_other_slot() {
    let path = formatted("cp-torn", 2048);
    let mut log = open(&path, 0); // generation 2, slot 0
    write(&mut log, 0, 8);
    write(&mut log, 8, 8);
    log.free(1).unwrap(); // generation 3, slot 1
    log.checkpoint().unwrap(); // generation 4, slot 0
    poke(&path, 1, 100, 0x01); // tear generation 4
    let (code, out) = check(&path);
    assert_eq!(code, 1);
    assert_eq!(
        out[1..],
        lines(&[
            "checkpoint slot 0 (block 1): Bad checkpoint checksum",
            "checkpoint slot 1 (block 2): generation 3, incarnation 2, ring 253 blocks, head block 5 seq 2 epoch 0, tail block 7 seq 3",
            "using checkpoint generation 3",
            "entries: 1, seq 2..2, head block 5, tail block 7, 2 of 253 ring blocks used",
            "end: block 7: no entry",
            "recoverable: checkpoint slot 0 (block 1) unusable, recovery uses the other",
        ])
    );
    poke(&path, 2, 0, 0x01);
    let (code, out) = check(&path);
    assert_eq!(code, 2);
    assert_eq!(
        out[1..],
        lines(&[
            "checkpoint slot 0 (block 1): Bad checkpoint checksum",
            "checkpoint slot 1 (block 2): Bad checkpoint magic",
            "damaged: No valid checkpoint",
        ])
    );
}

#[test]
fn damage_before_the_checkpoint_tail_is_lost_data() {
    let path = formatted("lost", 2048);
    let mut log = open(&path, 0);
    for i in 0..3 {
        write(&mut log, i * 8, 8);
    }
    log.checkpoint().unwrap();
    poke(&path, 6, 100, 0x04); // data of seq 2
    let (code, out) = check(&path);
    assert_eq!(code, 2);
    assert_eq!(
        out[4..],
        lines(&[
            "entries: 1, seq 1..1, head block 3, tail block 5, 2 of 253 ring blocks used",
            "end: block 5: entry seq 2: Bad entry data checksum",
            "damaged: Log entries before the checkpoint tail are missing or damaged",
        ])
    );
}

#[test]
fn an_intact_but_impossible_entry_is_damage() {
    let path = formatted("epoch", 2048);
    let mut log = open(&path, 0);
    write(&mut log, 0, 8);
    let second = write(&mut log, 8, 8);
    let header = EntryHeader {
        epoch: 4,
        ..second.header
    };
    let mut buf = [0; 4096];
    let uuid: [u8; 16] = replog::report::parse_uuid(UUID).unwrap();
    header.encode::<HostCrc>(&uuid, &mut buf);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&buf, 5 * 4096).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 2);
    assert_eq!(
        out[5..],
        lines(&[
            "end: block 5: entry seq 2: Entry epoch out of order",
            "damaged: Entry epoch out of order"
        ])
    );
}

#[test]
fn a_truncated_device() {
    let path = formatted("short", 2048);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(1000 * 512).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 2);
    assert_eq!(
        out[4..],
        lines(&[
            "ring: blocks 3..256 need 2048 sectors, 1000 available",
            "damaged: Replication log extends beyond its device",
        ])
    );
}

#[test]
fn a_log_at_an_offset() {
    let path = image_path("", "offset");
    let p = path.to_str().unwrap();
    format_log(&path, 2048, Some(64));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), (64 + 2048) * 512);
    let (code, out, _) = replog(&["check", p, "--offset", "64"]);
    assert_eq!((code, out.last().map(String::as_str)), (0, Some("clean")));
    let (code, out, _) = replog(&["check", p]);
    assert_eq!(
        (code, out[0].as_str()),
        (
            2,
            "block 0: No replication log on device (bad superblock magic)"
        )
    );
}

#[test]
fn format_refuses_an_active_log_without_force() {
    let path = formatted("active", 2048);
    let mut log = open(&path, 0);
    write(&mut log, 0, 8);
    let p = path.to_str().unwrap();
    let (code, out, err) = replog(&["format", p, "--size", "2048"]);
    assert_eq!(code, 3);
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!(
            "replog format: {p}: Refusing to overwrite an active replication log (use --force)\n"
        )
    );
    let (code, out, _) = replog(&["format", p, "--size", "2048", "--force"]);
    assert_eq!(code, 0);
    assert!(
        out[0].starts_with("formatted: uuid ")
            && out[0].ends_with(", ring 253 blocks at block 3 (2048 sectors)")
    );
    assert_ne!(
        out[0],
        format!("formatted: uuid {UUID}, ring 253 blocks at block 3 (2048 sectors)")
    );
    let (code, out) = check(&path);
    assert_eq!(
        (code, &out[4]),
        (0, &"entries: none, next seq 1, tail block 3".to_string())
    );
    assert_eq!(out[5], "end: block 3: entry of another log");
}

#[test]
fn usage_errors() {
    let (code, _, err) = replog(&[]);
    assert_eq!(code, 3);
    assert!(err.starts_with("usage: replog check"));
    let (code, _, err) = replog(&["frobnicate", "x"]);
    assert_eq!(
        (code, err.lines().next()),
        (3, Some("replog: unknown command frobnicate"))
    );
    let (code, _, err) = replog(&["check", "x", "--json"]);
    assert_eq!(
        (code, err.lines().next()),
        (3, Some("replog check: unknown option --json"))
    );
    let (code, _, err) = replog(&["check", "x", "--offset", "07"]);
    assert_eq!(
        (code, err.lines().next()),
        (3, Some("replog check: --offset: not a number: 07"))
    );
    let (code, _, err) = replog(&["check"]);
    assert_eq!(
        (code, err.lines().next()),
        (3, Some("replog check: missing device or image"))
    );
    let path = image_path("", "nosize");
    let (code, _, err) = replog(&["format", path.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.ends_with(": --size <sectors> is required\n"), "{err}");
    let (code, _, err) = replog(&["format", path.to_str().unwrap(), "--size", "80"]);
    assert_eq!(code, 3);
    assert!(err.ends_with(": Replication log too small\n"), "{err}");
    let (code, _, err) = replog(&["check", "/nonexistent/replog.img"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog check: /nonexistent/replog.img: "),
        "{err}"
    );
    let (code, out, _) = replog(&["help"]);
    assert_eq!(
        (code, out[0].as_str()),
        (
            0,
            "usage: replog check <device-or-image> [--offset <sectors>]"
        )
    );
}

#[test]
fn an_entry_left_by_an_earlier_run_ends_the_log() {
    let path = formatted("earlier-run", 2048);
    let mut log = open(&path, 0); // run 2
    write(&mut log, 0, 8); // seq 1 at block 3
    write(&mut log, 8, 8); // seq 2 at block 5
    write(&mut log, 16, 8); // seq 3 at block 7
    poke(&path, 5, 64, 0x01); // seq 2 torn: seq 3 was never acknowledged
    let mut log = open(&path, 0); // run 3 drops seq 2 and 3
    let again = write(&mut log, 24, 8);
    assert_eq!((again.header.seq, again.header.incarnation), (2, 3));
    let (code, out) = check(&path);
    assert_eq!(code, 0);
    assert_eq!(
        out[3..],
        lines(&[
            "using checkpoint generation 3",
            "entries: 2, seq 1..2, head block 3, tail block 7, 4 of 253 ring blocks used",
            "end: block 7: entry of an earlier run (incarnation 2)",
            "clean",
        ])
    );
}

#[test]
fn site_link_positions_are_reported() {
    use dmr_logic::replog::SlinkPositions;
    let path = formatted("positions", 2048);
    let mut log = open(&path, 0); // generation 2, slot 0
    write(&mut log, 0, 8);
    write(&mut log, 8, 8);
    write(&mut log, 16, 8);
    let mut p = SlinkPositions::new();
    assert!(p.insert(3, 1));
    assert!(p.insert(1, 3));
    log.set_positions(p);
    log.free(1).unwrap(); // generation 3, slot 1: head seq 2
    let (code, out) = check(&path);
    assert_eq!(code, 0);
    assert_eq!(
        out[2..],
        lines(&[
            "checkpoint slot 1 (block 2): generation 3, incarnation 2, ring 253 blocks, head block 5 seq 2 epoch 0, tail block 9 seq 4, positions slink 1 seq 3 slink 3 seq 1",
            "using checkpoint generation 3",
            "entries: 2, seq 2..3, head block 5, tail block 9, 4 of 253 ring blocks used",
            "end: block 9: no entry",
            "slink 1: position seq 3, resumes from the log",
            "slink 3: position seq 1, not in the log, resynchronises",
            "clean",
        ])
    );
    let (code, out, _) = replog(&["dump", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out.join("\n")).unwrap();
    assert_eq!(
        doc["checkpoints"][1]["slinks"],
        serde_json::json!([{"slink": 1, "seq": 3}, {"slink": 3, "seq": 1}])
    );
    assert_eq!(doc["checkpoints"][0]["slinks"], serde_json::json!([]));
}
