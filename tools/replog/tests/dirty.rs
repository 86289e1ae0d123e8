//! `replog dirty` on hand-built dm-log `disk` dirty logs (header at byte
//! 0, clean bitmap at byte 1024, as `drivers/md/dm-log.c` writes them).

mod common;
use common::{dirty_log, lines, replog, MIRROR_MAGIC};

use std::os::unix::fs::FileExt;

/// The prefix of this file's image names.
const PREFIX: &str = "dirty-";

#[test]
fn merged_extents() {
    // 200 regions of 1024 sectors; dirty 0..3, 9, 10, 63, 64, 65, 199.
    let path = dirty_log(
        PREFIX,
        "merged",
        0,
        MIRROR_MAGIC,
        2,
        200,
        &[0, 1, 2, 9, 10, 63, 64, 65, 199],
    );
    let (code, out, err) = replog(&["dirty", path.to_str().unwrap(), "--region-size", "1024"]);
    assert_eq!(
        (code, out),
        (
            0,
            lines(&["0 3072", "9216 2048", "64512 3072", "203776 1024"])
        )
    );
    assert_eq!(
        err,
        lines(&["replog dirty: 9 of 200 regions out of sync: 4 extents, 9216 sectors"])
    );
}

#[test]
fn a_clean_log_prints_nothing() {
    let path = dirty_log(PREFIX, "clean", 0, MIRROR_MAGIC, 2, 100, &[]);
    let (code, out, _) = replog(&["dirty", path.to_str().unwrap(), "--region-size", "8"]);
    assert_eq!((code, out.len()), (0, 0));
}

#[test]
fn length_clips_the_last_extent() {
    // 10 regions of 8 sectors over a device of 75 sectors.
    let path = dirty_log(PREFIX, "clip", 0, MIRROR_MAGIC, 2, 10, &[2, 8, 9]);
    let p = path.to_str().unwrap();
    let (code, out, err) = replog(&["dirty", p, "--region-size", "8", "--length", "75"]);
    assert_eq!((code, out), (0, lines(&["16 8", "64 11"])));
    assert_eq!(
        err,
        lines(&["replog dirty: 3 of 10 regions out of sync: 2 extents, 19 sectors"])
    );
    // Without --length the last region is whole.
    let (_, out, _) = replog(&["dirty", p, "--region-size", "8"]);
    assert_eq!(out, lines(&["16 8", "64 16"]));
}

#[test]
fn a_grown_or_shrunk_device() {
    let path = dirty_log(PREFIX, "grown", 0, MIRROR_MAGIC, 2, 10, &[2]);
    let p = path.to_str().unwrap();
    // 100 sectors: 13 regions, 10..13 not in the log count as out of sync.
    let (code, out, err) = replog(&["dirty", p, "--region-size", "8", "--length", "100"]);
    assert_eq!((code, out), (0, lines(&["16 8", "80 20"])));
    assert_eq!(
        err,
        lines(&[
            "replog dirty: the log covers 10 regions, --length 100 at region size 8 has 13: regions 10.. count as out of sync (device grown, or another region size)",
            "replog dirty: 4 of 13 regions out of sync: 2 extents, 28 sectors",
        ])
    );
    // 20 sectors: 3 regions, the rest ignored.
    let path = dirty_log(PREFIX, "shrunk", 0, MIRROR_MAGIC, 2, 10, &[2, 5]);
    let (code, out, err) = replog(&[
        "dirty",
        path.to_str().unwrap(),
        "--region-size",
        "8",
        "--length",
        "20",
    ]);
    assert_eq!((code, out), (0, lines(&["16 4"])));
    assert_eq!(
        err[0],
        "replog dirty: the log covers 10 regions, --length 20 at region size 8 has 3: regions 3.. ignored (device shrunk, or another region size)"
    );
}

#[test]
fn a_log_at_an_offset() {
    let path = dirty_log(PREFIX, "offset", 16, MIRROR_MAGIC, 2, 64, &[1, 63]);
    let p = path.to_str().unwrap();
    let (code, out, _) = replog(&["dirty", p, "--region-size", "16", "--offset", "16"]);
    assert_eq!((code, out), (0, lines(&["16 16", "1008 16"])));
    let (code, out, err) = replog(&["dirty", p, "--region-size", "16"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog dirty: {p}: bad magic 0x00000000 (not 0x4d695272): not a disk dirty log (the kernel would take every region as out of sync)"
        )])
    );
}

#[test]
fn bad_magic_version_and_size() {
    let path = dirty_log(PREFIX, "magic", 0, 0x6469_7274, 2, 10, &[1]);
    let p = path.to_str().unwrap();
    let (code, out, err) = replog(&["dirty", p, "--region-size", "8"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog dirty: {p}: bad magic 0x64697274 (not 0x4d695272): not a disk dirty log (the kernel would take every region as out of sync)"
        )])
    );
    let path = dirty_log(PREFIX, "version", 0, MIRROR_MAGIC, 3, 10, &[1]);
    let p = path.to_str().unwrap();
    let (code, out, err) = replog(&["dirty", p, "--region-size", "8"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog dirty: {p}: unsupported dirty log version 3 (not 2)"
        )])
    );
    // Version 1 reads as 2 (a little-endian kernel does so).
    let path = dirty_log(PREFIX, "version1", 0, MIRROR_MAGIC, 1, 10, &[1]);
    let (code, out, _) = replog(&["dirty", path.to_str().unwrap(), "--region-size", "8"]);
    assert_eq!((code, out), (0, lines(&["8 8"])));
    // A header claiming more regions than the device holds.
    let path = dirty_log(PREFIX, "short", 0, MIRROR_MAGIC, 2, 10, &[1]);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&100_000u64.to_le_bytes(), 8).unwrap();
    let p = path.to_str().unwrap();
    let (code, out, err) = replog(&["dirty", p, "--region-size", "8"]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        err,
        lines(&[&format!(
            "replog dirty: {p}: dirty log needs 13524 bytes for its header and bitmap, 1536 available"
        )])
    );
}

#[test]
fn usage_errors() {
    let path = dirty_log(PREFIX, "usage", 0, MIRROR_MAGIC, 2, 10, &[1]);
    let p = path.to_str().unwrap();
    let first = |args: &[&str]| {
        let (code, out, err) = replog(args);
        assert!(out.is_empty());
        (code, err.first().cloned().unwrap_or_default())
    };
    assert_eq!(
        first(&["dirty", p]),
        (
            3,
            format!("replog dirty: {p}: --region-size <sectors> is required")
        )
    );
    assert_eq!(
        first(&["dirty", p, "--region-size", "12"]),
        (
            3,
            "replog dirty: --region-size: Region size must be a power of two of at least 8 sectors: 12"
                .to_string()
        )
    );
    assert_eq!(
        first(&["dirty", p, "--region-size", "8", "--length", "x"]),
        (3, "replog dirty: --length: not a number: x".to_string())
    );
    assert_eq!(
        first(&["dirty", p, "--region-size", "8", "--slink", "1"]),
        (3, "replog dirty: unknown option --slink".to_string())
    );
    let (code, err) = first(&["dirty", "/nonexistent/dlog.img", "--region-size", "8"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog dirty: /nonexistent/dlog.img: "),
        "{err}"
    );
}
