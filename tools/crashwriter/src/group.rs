//! The group write-order load: several threads on several devices, the
//! block that says which write of which thread it is, and the log of the
//! acknowledged writes.
//!
//! The replicator keeps write order across all devices of a group: each
//! flush is an epoch boundary of the one log they share. So if write v
//! was acknowledged *and its `fdatasync` returned* before write w was
//! issued, a replica that holds w must hold v too (or a later write of
//! v's block). Writes that overlap in time may show up in any
//! combination. The load makes that relation visible without a global
//! clock:
//!
//! - thread t of device d owns the blocks b of d with `b % T == t`, so a
//!   block is only ever written by one thread, one write at a time, and
//!   per block the writes land in the order of that thread's numbers k;
//! - a thread's k-th write goes to [`block_for`]`(S, N, T, d, t, k)`, so
//!   the log can be checked against the run it claims to be;
//! - before it issues a write, a thread reads F, the number of lines the
//!   log has, and puts F in the record (the *frontier*). After the write
//!   and its `fdatasync` returned it appends the write's line, whose index
//!   is the number of lines before it. Lines are appended in one order, so
//!   log line i < F was written (and its write synced) before the write
//!   with frontier F was issued: the writes of the first F lines happened
//!   before it. That is all the checker (`group_check`) needs.
//!
//! Block layout (4096 bytes, little-endian):
//!
//! ```text
//!    0  magic     "DMRGRP01"
//!    8  seed      u64  S
//!   16  device    u64  d, the device's index (order of --dev)
//!   24  thread    u64  t (0..T)
//!   32  seq       u64  k, the thread's write number (>= 1)
//!   40  block     u64  b (0..N, b % T == t)
//!   48  frontier  u64  F, the log's line count when the write was issued
//!   56  blocks    u64  N, the run's blocks per device
//!   64  threads   u64  T, the run's threads per device
//!   72  payload   4016 bytes derived from (S, d, t, k, b)
//! 4088  checksum  u64  over bytes 0..4088 (the scheme of `order`)
//! ```
//!
//! T is in the record so that the checker learns it from the devices (and
//! can tell whether a block belongs to the thread that wrote it) without
//! being told.
//!
//! Log lines are `<idx> <d> <t> <k> <b> <F>\n`, idx counting from 0; see
//! [`parse`].

use std::collections::HashMap;
use std::fs::File;

use crate::order::{checksum, word};
use crate::rng::{mix, Rng};
use crate::writer::{blocks_of, open};
use crate::BLOCK_SIZE;

/// First eight bytes of every block of the group load.
pub const MAGIC: [u8; 8] = *b"DMRGRP01";
const PAYLOAD: std::ops::Range<usize> = 72..4088;
const CSUM: usize = 4088;

/// Threads per device when `--threads` is not given.
pub const DEFAULT_THREADS: u64 = 2;

/// What a run is: every block and log line is judged against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Seed of the block choices.
    pub seed: u64,
    /// Blocks used per device (from block 0).
    pub blocks: u64,
    /// Threads per device (1..=blocks).
    pub threads: u64,
}

/// One write: what its block's record and its log line say (the line's
/// index is its place in the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// Device index d.
    pub dev: u64,
    /// Thread t of that device.
    pub thread: u64,
    /// The thread's write number k (1, 2, ...).
    pub seq: u64,
    /// Block b.
    pub block: u64,
    /// Frontier F: log lines written before the write was issued.
    pub frontier: u64,
}

/// The block written by write `k` of thread `t` of device `d`: one of the
/// thread's own blocks (`b % threads == t`), picked from (seed, d, t, k).
/// Only meaningful for `t < threads <= blocks`; 0 otherwise.
pub fn block_for(seed: u64, blocks: u64, threads: u64, d: u64, t: u64, k: u64) -> u64 {
    if threads == 0 || t >= threads || threads > blocks {
        return 0;
    }
    let owned = (blocks - t).div_ceil(threads);
    let r = mix(mix(seed ^ 0x6772_6f75_705f_7772)
        ^ mix(d.wrapping_add(1)).rotate_left(23)
        ^ mix(t.wrapping_add(0x7468_7264)).rotate_left(41)
        ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    t + (r % owned) * threads
}

/// The payload does not depend on the frontier: a write issued again
/// after a killed run (same k, later F) differs only in its header.
fn payload_rng(seed: u64, w: &Write) -> Rng {
    Rng::new(
        mix(seed ^ 0x6772_7030)
            ^ mix(w.dev.wrapping_add(0x1111)).rotate_left(7)
            ^ mix(w.thread.wrapping_add(0x2222)).rotate_left(19)
            ^ mix(w.seq.wrapping_add(0x3333)).rotate_left(31)
            ^ mix(w.block.wrapping_add(0x4444)).rotate_left(43),
    )
}

/// Fills `out` (one block) with the record of `w` in `run`.
pub fn encode(run: &Run, w: &Write, out: &mut [u8; BLOCK_SIZE]) {
    out[0..8].copy_from_slice(&MAGIC);
    for (at, v) in [
        (8, run.seed),
        (16, w.dev),
        (24, w.thread),
        (32, w.seq),
        (40, w.block),
        (48, w.frontier),
        (56, run.blocks),
        (64, run.threads),
    ] {
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    let mut rng = payload_rng(run.seed, w);
    for c in out[PAYLOAD].chunks_exact_mut(8) {
        c.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let c = checksum(&out[..]);
    out[CSUM..].copy_from_slice(&c.to_le_bytes());
}

/// A valid record, as found on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The thread that wrote it.
    pub thread: u64,
    /// Its write number k.
    pub seq: u64,
    /// Its frontier F.
    pub frontier: u64,
    /// T of the run that wrote it.
    pub threads: u64,
}

/// What one block of a device holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// All zeroes: never written.
    Zero,
    /// A valid record of this run, at its right device and block, of the
    /// thread that owns the block.
    Write(Found),
    /// Anything else, with what it is (for the report).
    Bad(String),
}

/// Judges `data` (one block, read from block `at` of device `dev`) against
/// the run (seed, blocks); T is the record's own, which the checker then
/// compares across all blocks. Never panics, whatever `data` holds; a
/// `data` of the wrong length is `Bad`.
pub fn decode(seed: u64, blocks: u64, dev: u64, at: u64, data: &[u8]) -> Content {
    if data.len() != BLOCK_SIZE {
        return Content::Bad(format!("{} bytes, not a block", data.len()));
    }
    if data[0..8] != MAGIC {
        if data.iter().all(|&b| b == 0) {
            return Content::Zero;
        }
        return Content::Bad("foreign content".to_string());
    }
    let w = Write {
        dev: word(data, 16),
        thread: word(data, 24),
        seq: word(data, 32),
        block: word(data, 40),
        frontier: word(data, 48),
    };
    let (s, n, threads) = (word(data, 8), word(data, 56), word(data, 64));
    let (t, k) = (w.thread, w.seq);
    if checksum(data) != word(data, CSUM) {
        return Content::Bad(format!(
            "damaged record (bad checksum; write {k} of thread {t} as read)"
        ));
    }
    if s != seed {
        return Content::Bad(format!(
            "foreign content (write {k} of thread {t} of seed {s}, not {seed})"
        ));
    }
    if n != blocks {
        return Content::Bad(format!(
            "foreign content (write {k} of thread {t} of a run over {n} blocks, not {blocks})"
        ));
    }
    if k == 0 {
        return Content::Bad(format!("damaged record (write 0 of thread {t})"));
    }
    if threads == 0 || threads > blocks || t >= threads {
        return Content::Bad(format!(
            "damaged record (write {k} of thread {t} of {threads} threads over {blocks} blocks)"
        ));
    }
    if w.dev != dev {
        return Content::Bad(format!(
            "holds write {k} of thread {t} of device {} (misplaced: devices given in another order?)",
            w.dev
        ));
    }
    if w.block != at {
        return Content::Bad(format!(
            "holds write {k} of thread {t} for block {} (misplaced)",
            w.block
        ));
    }
    if at % threads != t {
        return Content::Bad(format!(
            "holds write {k} of thread {t}, which does not own the block ({threads} threads: its owner is thread {})",
            at % threads
        ));
    }
    let want = block_for(seed, blocks, threads, dev, t, k);
    if want != at {
        return Content::Bad(format!(
            "holds write {k} of thread {t}, but seed {seed} puts that write at block {want}"
        ));
    }
    let mut rng = payload_rng(seed, &w);
    if PAYLOAD.step_by(8).any(|p| word(data, p) != rng.next_u64()) {
        return Content::Bad(format!(
            "damaged record (bad payload; write {k} of thread {t} as read)"
        ));
    }
    Content::Write(Found {
        thread: t,
        seq: k,
        frontier: w.frontier,
        threads,
    })
}

/// What a log says: the acknowledged writes, in the order their lines
/// were appended (`lines[i]` is log line i).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupLog {
    /// The complete lines.
    pub lines: Vec<Write>,
    /// A last line without its newline was ignored.
    pub cut: bool,
    /// Bytes of the complete lines (where a cut line starts).
    pub complete: usize,
}

impl GroupLog {
    /// The log lines of each thread (d, t), in the order of its writes:
    /// `[(d, t)][k - 1]` is the line of write k.
    pub fn by_thread(&self) -> HashMap<(u64, u64), Vec<usize>> {
        let mut m: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
        for (i, w) in self.lines.iter().enumerate() {
            m.entry((w.dev, w.thread)).or_default().push(i);
        }
        m
    }
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a log of a run (seed, blocks) over `devices` devices with
/// `threads` threads each; `threads` None when it is not known (the
/// checker learns it from the devices, and a device of zeroes tells
/// nothing): each line's block is then not checked against the seed.
///
/// A last line without its newline was cut while being written (each
/// line is written with one `write`, so only a killed writer or a full
/// disk leaves one): it is ignored, which only makes the log claim less;
/// `group-write` cuts it off before it appends. The log must hold, per
/// thread, writes 1, 2, 3... in order, each line's index its place, its
/// frontier at most its index (the line was counted after the write was
/// issued) and above the index of the thread's previous line (which was
/// written before the thread issued this write).
pub fn parse(
    text: &[u8],
    seed: u64,
    blocks: u64,
    devices: u64,
    threads: Option<u64>,
) -> Result<GroupLog, String> {
    let complete = text.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    let mut log = GroupLog {
        lines: Vec::new(),
        cut: complete < text.len(),
        complete,
    };
    let body = std::str::from_utf8(&text[..complete])
        .map_err(|e| format!("bad log: not text (byte {})", e.valid_up_to()))?;
    // (d, t) -> (last k, its line)
    let mut last: HashMap<(u64, u64), (u64, u64)> = HashMap::new();
    for (i, line) in body.lines().enumerate() {
        let i = i as u64;
        let f: Vec<Option<u64>> = line.split(' ').map(num).collect();
        let [Some(idx), Some(d), Some(t), Some(k), Some(b), Some(fr)] = f[..] else {
            return Err(format!(
                "bad log: line {i} is not '<idx> <dev> <thread> <seq> <block> <frontier>': {line:?}"
            ));
        };
        if idx != i {
            return Err(format!(
                "bad log: line {i} says it is line {idx} (lines lost or repeated?)"
            ));
        }
        if d >= devices {
            return Err(format!(
                "bad log: line {i} is a write of device {d}, but only {devices} devices are given"
            ));
        }
        if b >= blocks {
            return Err(format!(
                "bad log: line {i} is a write to block {b}, but the run has {blocks} blocks"
            ));
        }
        if let Some(tt) = threads {
            let want = block_for(seed, blocks, tt, d, t, k);
            if t >= tt || want != b {
                return Err(format!(
                    "bad log: line {i} is write {k} of thread {t} of device {d} to block {b}, but seed {seed} over {blocks} blocks with {tt} threads {} (another seed, --blocks, --threads or order of --dev?)",
                    if t >= tt {
                        "has no such thread".to_string()
                    } else {
                        format!("puts it at block {want}")
                    }
                ));
            }
        }
        let (prev_k, prev_line) = match last.get(&(d, t)) {
            Some(&(k, line)) => (k, Some(line)),
            None => (0, None),
        };
        if k != prev_k.wrapping_add(1) {
            return Err(format!(
                "bad log: line {i} is write {k} of thread {t} of device {d}, after its write {prev_k} (a thread's writes must be 1, 2, 3... in order)"
            ));
        }
        if fr > i {
            return Err(format!(
                "bad log: line {i} has frontier {fr}, beyond the line itself"
            ));
        }
        if let Some(p) = prev_line {
            if fr <= p {
                return Err(format!(
                    "bad log: line {i} (write {k} of thread {t} of device {d}) has frontier {fr}, but the thread's write {prev_k} is line {p}, written before this write was issued"
                ));
            }
        }
        last.insert((d, t), (k, i));
        log.lines.push(Write {
            dev: d,
            thread: t,
            seq: k,
            block: b,
            frontier: fr,
        });
    }
    Ok(log)
}

/// The log line of `w` at index `idx`.
pub fn log_line(idx: u64, w: &Write) -> String {
    format!(
        "{idx} {} {} {} {} {}\n",
        w.dev, w.thread, w.seq, w.block, w.frontier
    )
}

/// The options of both commands (from `cli`'s parser).
#[derive(Debug, Default)]
pub struct GroupOptions {
    /// The devices, in index order.
    pub devs: Vec<String>,
    /// Blocks per device.
    pub blocks: Option<u64>,
    /// Seed of the run.
    pub seed: Option<u64>,
    /// Threads per device (group-write: default 2; group-check: default
    /// what the records say).
    pub threads: Option<u64>,
    /// group-write: writes to do.
    pub count: Option<u64>,
    /// group-write: how long to write, in ms.
    pub duration_ms: Option<u64>,
    /// The log file.
    pub log: Option<String>,
    /// group-check: every logged write must be there.
    pub all: bool,
    /// Without O_DIRECT.
    pub buffered: bool,
}

/// The options both commands need: (devices, blocks, seed, log).
pub fn required(o: &GroupOptions) -> Result<(Vec<String>, u64, u64, String), String> {
    match (o.devs.is_empty(), o.blocks, o.seed, &o.log) {
        (false, Some(0), Some(_), Some(_)) => Err("--blocks must be at least 1".to_string()),
        (false, Some(n), Some(s), Some(l)) => Ok((o.devs.clone(), n, s, l.clone())),
        _ => Err("usage: --dev, --blocks, --seed and --log are required".to_string()),
    }
}

/// Checks a threads count against the blocks (a usage error otherwise).
pub fn check_threads(threads: u64, blocks: u64) -> Result<(), String> {
    if threads == 0 {
        return Err("usage: --threads must be at least 1".to_string());
    }
    if threads > blocks {
        return Err(format!(
            "usage: --blocks {blocks} is fewer than --threads {threads} (each thread needs a block of its own)"
        ));
    }
    Ok(())
}

/// Opens every device and checks that it has `blocks` blocks.
pub fn open_devs(
    devs: &[String],
    blocks: u64,
    write: bool,
    buffered: bool,
) -> Result<Vec<File>, String> {
    let mut files = Vec::with_capacity(devs.len());
    for dev in devs {
        let f = open(dev, write, !buffered).map_err(|e| format!("{dev}: {e}"))?;
        let size = blocks_of(&f).map_err(|e| format!("{dev}: {e}"))?;
        if size < blocks {
            return Err(format!(
                "{dev}: {size} blocks, fewer than --blocks {blocks}"
            ));
        }
        files.push(f);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Run = Run {
        seed: 7,
        blocks: 64,
        threads: 3,
    };

    fn rec(d: u64, t: u64, k: u64, f: u64) -> (Write, [u8; BLOCK_SIZE]) {
        let w = Write {
            dev: d,
            thread: t,
            seq: k,
            block: block_for(RUN.seed, RUN.blocks, RUN.threads, d, t, k),
            frontier: f,
        };
        let mut out = [0u8; BLOCK_SIZE];
        encode(&RUN, &w, &mut out);
        (w, out)
    }

    fn bad(c: Content) -> String {
        match c {
            Content::Bad(s) => s,
            c => panic!("not bad: {c:?}"),
        }
    }

    #[test]
    fn round_trip() {
        for d in 0..3 {
            for t in 0..RUN.threads {
                for k in 1..100 {
                    let (w, b) = rec(d, t, k, k * 3 + d);
                    assert!(w.block < RUN.blocks && w.block % RUN.threads == t);
                    assert_eq!(
                        decode(RUN.seed, RUN.blocks, d, w.block, &b),
                        Content::Write(Found {
                            thread: t,
                            seq: k,
                            frontier: k * 3 + d,
                            threads: RUN.threads
                        })
                    );
                }
            }
        }
    }

    #[test]
    fn blocks_are_the_threads_own_and_spread() {
        // 10 blocks, 3 threads: thread 0 owns 0 3 6 9, 1 owns 1 4 7, 2
        // owns 2 5 8; each gets all of its own over 200 writes.
        for t in 0..3 {
            let mut seen: Vec<u64> = (1..=200).map(|k| block_for(5, 10, 3, 1, t, k)).collect();
            seen.sort();
            seen.dedup();
            let own: Vec<u64> = (0..10).filter(|b| b % 3 == t).collect();
            assert_eq!(seen, own, "thread {t}");
        }
        // Devices and seeds choose differently.
        let a: Vec<u64> = (1..50).map(|k| block_for(5, 64, 2, 0, 0, k)).collect();
        let b: Vec<u64> = (1..50).map(|k| block_for(5, 64, 2, 1, 0, k)).collect();
        let c: Vec<u64> = (1..50).map(|k| block_for(6, 64, 2, 0, 0, k)).collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
        // One thread, one block; degenerate arguments do not panic.
        assert_eq!(block_for(1, 1, 1, 0, 0, 9), 0);
        assert_eq!(block_for(1, 4, 0, 0, 0, 9), 0);
        assert_eq!(block_for(1, 4, 2, 0, 3, 9), 0);
        assert_eq!(block_for(1, 4, 8, 0, 3, 9), 0);
    }

    #[test]
    fn zero_foreign_and_damaged() {
        let (w, b) = rec(1, 2, 5, 9);
        let at = w.block;
        assert_eq!(decode(7, 64, 0, 0, &[0; BLOCK_SIZE]), Content::Zero);
        assert_eq!(
            bad(decode(7, 64, 0, 0, &[0xff; BLOCK_SIZE])),
            "foreign content"
        );
        assert!(matches!(decode(7, 64, 0, 0, &[0; 10]), Content::Bad(_)));
        assert!(matches!(decode(7, 64, 1, at, &b[..4095]), Content::Bad(_)));
        // Wrong seed, run size, device, block.
        assert_eq!(
            bad(decode(8, 64, 1, at, &b)),
            "foreign content (write 5 of thread 2 of seed 7, not 8)"
        );
        assert!(bad(decode(7, 65, 1, at, &b)).contains("over 64 blocks, not 65"));
        assert_eq!(
            bad(decode(7, 64, 0, at, &b)),
            "holds write 5 of thread 2 of device 1 (misplaced: devices given in another order?)"
        );
        assert_eq!(
            bad(decode(7, 64, 1, at + 3, &b)),
            format!("holds write 5 of thread 2 for block {at} (misplaced)")
        );
        // Any flipped bit past the magic.
        for byte in (8..BLOCK_SIZE).step_by(29) {
            let mut t = b;
            t[byte] ^= 0x10;
            assert!(
                bad(decode(7, 64, 1, at, &t)).starts_with("damaged"),
                "byte {byte}"
            );
        }
    }

    /// A record changed and its checksum fixed, as a bug elsewhere might
    /// write it.
    fn relabel(b: &[u8; BLOCK_SIZE], at: usize, v: u64) -> [u8; BLOCK_SIZE] {
        let mut d = *b;
        d[at..at + 8].copy_from_slice(&v.to_le_bytes());
        let c = checksum(&d);
        d[CSUM..].copy_from_slice(&c.to_le_bytes());
        d
    }

    #[test]
    fn relabelled_records_are_caught() {
        let (w, b) = rec(1, 2, 5, 9);
        let at = w.block;
        // Claimed by thread 1, which does not own the block.
        assert_eq!(
            bad(decode(7, 64, 1, at, &relabel(&b, 24, 1))),
            "holds write 5 of thread 1, which does not own the block (3 threads: its owner is thread 2)"
        );
        // Thread 3 of 3, thread count 0 or above the blocks, write 0.
        assert!(bad(decode(7, 64, 1, at, &relabel(&b, 24, 3))).starts_with("damaged record"));
        assert!(bad(decode(7, 64, 1, at, &relabel(&b, 64, 0))).starts_with("damaged record"));
        assert!(bad(decode(7, 64, 1, at, &relabel(&b, 64, 65))).starts_with("damaged record"));
        assert_eq!(
            bad(decode(7, 64, 1, at, &relabel(&b, 32, 0))),
            "damaged record (write 0 of thread 2)"
        );
        // Another write number: the seed puts it elsewhere (or, if at the
        // same block, the payload differs).
        let k6 = relabel(&b, 32, 6);
        let e = bad(decode(7, 64, 1, at, &k6));
        assert!(
            e.contains("but seed 7 puts that write at block") || e.contains("bad payload"),
            "{e}"
        );
        // Another frontier is a valid record: the checker compares it with
        // the log.
        assert!(matches!(
            decode(7, 64, 1, at, &relabel(&b, 48, 1)),
            Content::Write(Found { frontier: 1, .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::new(3);
        let (w, b) = rec(0, 1, 4, 2);
        for round in 0..2000u64 {
            let mut d = [0u8; BLOCK_SIZE];
            match round % 3 {
                0 => d.iter_mut().for_each(|x| *x = rng.next_u64() as u8),
                1 => {
                    d = b;
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(BLOCK_SIZE as u64) as usize;
                        d[at] = rng.next_u64() as u8;
                    }
                }
                _ => {
                    d = b;
                    let at = 8 * (1 + rng.below(8)) as usize;
                    d = relabel(&d, at, rng.next_u64() % 200);
                }
            }
            let c = decode(7, 64, rng.below(3), rng.below(80), &d);
            if let Content::Write(f) = c {
                // Only the true record's fields, or a relabelled frontier.
                assert_eq!((f.thread, f.seq, f.threads), (1, 4, 3));
            }
            let _ = decode(
                7,
                64,
                0,
                w.block,
                &d[..rng.below(BLOCK_SIZE as u64) as usize],
            );
        }
    }

    fn text(lines: &[Write]) -> String {
        lines
            .iter()
            .enumerate()
            .map(|(i, w)| log_line(i as u64, w))
            .collect()
    }

    fn w(d: u64, t: u64, k: u64, f: u64) -> Write {
        rec(d, t, k, f).0
    }

    #[test]
    fn good_logs() {
        let lines = vec![
            w(0, 0, 1, 0),
            w(1, 2, 1, 0),
            w(0, 0, 2, 1),
            w(0, 1, 1, 0),
            w(1, 2, 2, 2),
        ];
        let t = text(&lines);
        let log = parse(t.as_bytes(), 7, 64, 2, Some(3)).unwrap();
        assert_eq!(log.lines, lines);
        assert!(!log.cut);
        assert_eq!(log.complete, t.len());
        // Without T, the blocks are not checked against the seed.
        assert_eq!(parse(t.as_bytes(), 8, 64, 2, None).unwrap().lines, lines);
        let by = log.by_thread();
        assert_eq!(by[&(0, 0)], vec![0, 2]);
        assert_eq!(by[&(1, 2)], vec![1, 4]);
        assert_eq!(by[&(0, 1)], vec![3]);
        // A cut last line is ignored, whatever is left of it.
        let more = log_line(5, &w(0, 1, 2, 4));
        for keep in 0..more.len() {
            let cut = format!("{t}{}", &more[..keep]);
            let l = parse(cut.as_bytes(), 7, 64, 2, Some(3)).unwrap();
            assert_eq!((l.lines.len(), l.cut, l.complete), (5, keep > 0, t.len()));
        }
        // Even a cut inside a UTF-8 sequence.
        let mut b = t.clone().into_bytes();
        b.extend([b'5', 0xc3]);
        assert!(parse(&b, 7, 64, 2, Some(3)).unwrap().cut);
        assert_eq!(parse(b"", 7, 64, 2, None).unwrap(), GroupLog::default());
    }

    #[test]
    fn bad_logs() {
        let ok = [w(0, 0, 1, 0), w(0, 0, 2, 1)];
        let cases: Vec<(String, &str)> = vec![
            ("x\n".into(), "line 0 is not '<idx>"),
            ("0 0 0 1 0\n".into(), "line 0 is not '<idx>"),
            ("0 0 0 1 0 0 0\n".into(), "line 0 is not '<idx>"),
            ("\n".into(), "line 0 is not '<idx>"),
            ("0 0 0 1 -3 0\n".into(), "line 0 is not '<idx>"),
            (
                "0 0 0 1 0 99999999999999999999\n".into(),
                "line 0 is not '<idx>",
            ),
            (log_line(1, &ok[0]), "line 0 says it is line 1"),
            (log_line(0, &w(2, 0, 1, 0)), "only 2 devices are given"),
            (
                log_line(0, &Write { block: 64, ..ok[0] }),
                "but the run has 64 blocks",
            ),
            (
                log_line(
                    0,
                    &Write {
                        block: ok[0].block + 3,
                        ..ok[0]
                    },
                ),
                "but seed 7 over 64 blocks with 3 threads puts it at block",
            ),
            (
                log_line(0, &Write { thread: 3, ..ok[0] }),
                "has no such thread",
            ),
            (log_line(0, &w(0, 0, 2, 0)), "after its write 0"),
            (
                format!("{}{}", log_line(0, &ok[0]), log_line(1, &ok[0])),
                "after its write 1",
            ),
            (log_line(0, &w(0, 0, 1, 1)), "frontier 1, beyond the line"),
            (
                format!("{}{}", log_line(0, &ok[0]), log_line(1, &w(0, 0, 2, 0))),
                "but the thread's write 1 is line 0",
            ),
            ("0 0 0 1 \u{e9} 0\n".into(), "line 0 is not '<idx>"),
        ];
        for (t, want) in cases {
            let e = parse(t.as_bytes(), 7, 64, 2, Some(3)).unwrap_err();
            assert!(e.starts_with("bad log: "), "{t:?}: {e}");
            assert!(e.contains(want), "{t:?}: {e}");
        }
        assert!(parse(b"0 0 0 1 \xff 0\n", 7, 64, 2, None)
            .unwrap_err()
            .contains("not text"));
    }
}
