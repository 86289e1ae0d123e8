//! Helpers shared by the `replog` integration tests.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use dmr_logic::replog::entry::EntryFlags;
use dmr_logic::replog::writer::{Appended, Op};
use dmr_logic::replog::SlinkBitmap;
use replog::append::Appender;
use replog::image::Image;

/// The UUID test logs are formatted with.
pub const UUID: &str = "00112233-4455-6677-8899-aabbccddeeff";

/// The magic of a dm-log `disk` dirty log header.
pub const MIRROR_MAGIC: u32 = 0x4D69_5272;

/// Runs `replog args`: exit status, stdout lines, stderr whole (to check
/// its line ends too).
pub fn replog_raw(args: &[&str]) -> (i32, Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replog"))
        .args(args)
        .output()
        .expect("run replog");
    let stdout = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout.lines().map(str::to_string).collect(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `replog args`: exit status, stdout lines, stderr lines.
pub fn replog(args: &[&str]) -> (i32, Vec<String>, Vec<String>) {
    let (code, out, err) = replog_raw(args);
    (code, out, err.lines().map(str::to_string).collect())
}

pub fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A fresh path for image `name` of the test file using `prefix`
/// (`replog-{prefix}{name}.img`, so that tests running in parallel do not
/// collide).
pub fn image_path(prefix: &str, name: &str) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("replog-{prefix}{name}.img"));
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs `replog format` on `path`: `sectors` sectors, `offset` sectors in
/// (`None`: no `--offset`), the test UUID. Asserts it succeeds with nothing
/// on stderr; returns its stdout lines.
pub fn format_log(path: &Path, sectors: u64, offset: Option<u64>) -> Vec<String> {
    let sectors = sectors.to_string();
    let offset = offset.map(|o| o.to_string());
    let mut args = vec!["format", path.to_str().unwrap(), "--size", &sectors];
    if let Some(offset) = &offset {
        args.extend(["--offset", offset]);
    }
    args.extend(["--uuid", UUID]);
    let (code, out, err) = replog_raw(&args);
    assert_eq!((code, err.as_str()), (0, ""));
    out
}

/// Formats a new replication log `name` (see [`image_path`]) of 2048
/// sectors, `offset` sectors in.
pub fn formatted(prefix: &str, name: &str, offset: u64) -> PathBuf {
    let path = image_path(prefix, name);
    format_log(&path, 2048, Some(offset));
    path
}

/// Opens the replication log `offset` sectors into `path` for appending.
pub fn open(path: &Path, offset: u64) -> Appender {
    Appender::open(Image::create(path, offset, 0).unwrap()).unwrap()
}

/// The site links `nrs`.
pub fn links(nrs: &[u32]) -> SlinkBitmap {
    let mut map = SlinkBitmap::new();
    for &nr in nrs {
        assert!(map.insert(nr));
    }
    map
}

/// `sectors` sectors of test data: byte `i` is `seed + i / step`.
pub fn data(seed: u8, step: usize, sectors: u32) -> Vec<u8> {
    (0..sectors as usize * 512)
        .map(|i| seed.wrapping_add((i / step) as u8))
        .collect()
}

/// Appends an entry of device `dev` with `flags` for `sectors` at
/// `sector`, carrying `data`.
pub fn append(
    log: &mut Appender,
    dev: u32,
    flags: EntryFlags,
    sector: u64,
    sectors: u32,
    data: &[u8],
) -> Appended {
    let op = Op {
        dev,
        flags,
        sector,
        sectors,
    };
    log.append(op, data).unwrap()
}

/// XORs `mask` into the byte at `block * 4096 + offset`.
pub fn poke(path: &Path, block: u64, offset: u64, mask: u8) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let pos = block * 4096 + offset;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, pos).unwrap();
    byte[0] ^= mask;
    file.write_all_at(&byte, pos).unwrap();
}

/// Writes a dm-log `disk` dirty log image `name` (see [`image_path`]):
/// `pad` zero sectors, the header (`magic`, `version`, `nr_regions`), the
/// bitmap of `nr_regions` at byte 1024 of the log with the regions `dirty`
/// clear (out of sync), rounded up to 512 bytes as on a device (as
/// `drivers/md/dm-log.c` writes them).
pub fn dirty_log(
    prefix: &str,
    name: &str,
    pad: u64,
    magic: u32,
    version: u32,
    nr_regions: u64,
    dirty: &[u64],
) -> PathBuf {
    let path = image_path(prefix, name);
    let mut b = vec![0u8; pad as usize * 512];
    b.extend(magic.to_le_bytes());
    b.extend(version.to_le_bytes());
    b.extend(nr_regions.to_le_bytes());
    b.resize(pad as usize * 512 + 1024, 0);
    let mut map = vec![0u8; (nr_regions.div_ceil(64) * 8) as usize];
    for r in (0..nr_regions).filter(|r| !dirty.contains(r)) {
        map[(r / 8) as usize] |= 1 << (r % 8);
    }
    b.extend(map);
    b.resize(b.len().div_ceil(512) * 512, 0);
    std::fs::write(&path, b).unwrap();
    path
}
