//! Is a device exactly the state after a prefix of the write-order load?
//!
//! Write-order fidelity means a replica only ever shows a state the
//! primary went through: after the first `m` writes for some `m`, never a
//! later write without an earlier one. With one writer, one block per
//! write and a `fdatasync` after each (so each write is its own epoch),
//! those states are exactly the prefixes of the run's sequence.
//!
//! The rule, given the run (seed S, blocks N) and its log of n writes:
//!
//! 1. every block is zeroes or a valid write of this run at its own place
//!    ([`decode`](crate::order::decode)); anything else fails by itself
//!    (`block 17: foreign content`);
//! 2. m is the highest write number on the device (0 if all zero). Since
//!    every write goes to one block and nothing overwrites it before a
//!    later write, the state after m writes holds write m: no other
//!    prefix can match, so m is the only candidate;
//! 3. m <= n + 1. The writer logs write i (and flushes the line) before it
//!    issues write i + 1, so a write missing from the log can only be the
//!    one in flight when the writer stopped: n + 1. Anything higher means
//!    log lines were lost, or the log belongs to another run. m < n is
//!    fine: a remote site may lag behind the acknowledged writes;
//! 4. with `--at-least K`, m >= K (a local device must hold every
//!    acknowledged write: K = n; a resynchronised remote the same);
//! 5. every block holds the last write numbered <= m that the sequence
//!    puts there, or zeroes if it has none ([`state_after`]).
//!
//! Every block that breaks rule 1 or 5 is reported, with what it holds and
//! what the state after write m has there.

use crate::order::{block_for, Content};
use crate::order_log::OrderLog;

/// The newest write of every block after the first `m` writes of the run
/// (0: none).
pub fn state_after(seed: u64, blocks: u64, m: u64) -> Vec<u64> {
    let mut last = vec![0; blocks as usize];
    for i in 1..=m {
        if let Some(w) = last.get_mut(block_for(seed, blocks, i) as usize) {
            *w = i;
        }
    }
    last
}

/// A device that passed: the state after write `state`, with `logged`
/// writes in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// m: the device is the state after this many writes.
    pub state: u64,
    /// n: the last logged write.
    pub logged: u64,
    /// Blocks holding a write (the others are zero).
    pub written: u64,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "device is the state after write {} of {}",
            self.state, self.logged
        )?;
        if self.state > self.logged {
            write!(
                f,
                " (write {} landed before its log line was written)",
                self.state
            )?;
        }
        write!(f, "; {} blocks written", self.written)
    }
}

fn what(w: u64) -> String {
    if w == 0 {
        "zeroes".to_string()
    } else {
        format!("write {w}")
    }
}

/// Checks the decoded blocks of a device (`contents[b]` is block b of the
/// run (seed, blocks)) against the log, requiring the state after write
/// `at_least` or later. Returns the verdict, or every problem found.
pub fn check(
    contents: &[Content],
    seed: u64,
    blocks: u64,
    log: &OrderLog,
    at_least: u64,
) -> Result<Verdict, Vec<String>> {
    let mut problems = Vec::new();
    if contents.len() as u64 != blocks {
        problems.push(format!(
            "{} blocks read, but the run has {blocks}",
            contents.len()
        ));
        return Err(problems);
    }
    let mut m = 0;
    let mut m_at = 0;
    let mut written = 0;
    for (b, c) in contents.iter().enumerate() {
        if let Content::Write(i) = *c {
            written += 1;
            if i > m {
                m = i;
                m_at = b;
            }
        }
    }
    let n = log.last;
    let beyond_log = m > n.saturating_add(1);
    if beyond_log {
        problems.push(format!(
            "block {m_at} holds write {m}, but the log ends at write {n}: only write {} can be missing from it (each line is written before the next write is issued)",
            n + 1
        ));
    }
    if m < at_least {
        problems.push(format!(
            "the newest write on the device is {}, but the state after write {at_least} or later is required (--at-least {at_least})",
            m
        ));
    }
    // Past the log, the expected state is unknown to the log's reader and
    // could be huge to compute: rule 3 already failed.
    let expected = if beyond_log {
        None
    } else {
        Some(state_after(seed, blocks, m))
    };
    for (b, c) in contents.iter().enumerate() {
        match (c, expected.as_ref().and_then(|e| e.get(b))) {
            (Content::Bad(why), _) => problems.push(format!("block {b}: {why}")),
            (Content::Zero, Some(&e)) if e != 0 => problems.push(format!(
                "block {b} is zeroes, but the state after write {m} has write {e} there"
            )),
            (Content::Write(w), Some(&e)) if *w != e => problems.push(format!(
                "block {b} holds write {w}, but the state after write {m} has {} there",
                what(e)
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(Verdict {
            state: m,
            logged: n,
            written,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{decode, encode};
    use crate::BLOCK_SIZE;

    const SEED: u64 = 11;
    const BLOCKS: u64 = 32;

    /// The device image after the first `m` writes.
    fn image(m: u64) -> Vec<u8> {
        let mut img = vec![0u8; BLOCKS as usize * BLOCK_SIZE];
        for i in 1..=m {
            write(&mut img, i);
        }
        img
    }

    fn write(img: &mut [u8], i: u64) {
        let b = block_for(SEED, BLOCKS, i);
        let mut blk = [0u8; BLOCK_SIZE];
        encode(SEED, BLOCKS, i, b, &mut blk);
        let at = b as usize * BLOCK_SIZE;
        img[at..at + BLOCK_SIZE].copy_from_slice(&blk);
    }

    fn contents(img: &[u8]) -> Vec<Content> {
        img.chunks(BLOCK_SIZE)
            .enumerate()
            .map(|(b, d)| decode(SEED, BLOCKS, b as u64, d))
            .collect()
    }

    fn run(img: &[u8], n: u64, at_least: u64) -> Result<Verdict, Vec<String>> {
        let log = OrderLog {
            last: n,
            cut: false,
        };
        check(&contents(img), SEED, BLOCKS, &log, at_least)
    }

    /// The first write > `after` that goes to a block already written
    /// and then some write to it again: (block, earlier write, later).
    fn overwritten_block(after: u64) -> (u64, u64, u64) {
        let mut seen = std::collections::HashMap::new();
        for i in 1.. {
            let b = block_for(SEED, BLOCKS, i);
            if let Some(&prev) = seen.get(&b) {
                if prev > after {
                    return (b, prev, i);
                }
            }
            seen.insert(b, i);
        }
        unreachable!()
    }

    #[test]
    fn every_prefix_passes() {
        for m in [0, 1, 2, 5, 31, 32, 100, 400] {
            let img = image(m);
            let v = run(&img, 400, 0).unwrap();
            assert_eq!((v.state, v.logged), (m, 400));
            assert_eq!(
                v.written,
                state_after(SEED, BLOCKS, m)
                    .iter()
                    .filter(|&&w| w > 0)
                    .count() as u64
            );
        }
        assert_eq!(
            run(&image(57), 57, 0).unwrap().to_string(),
            format!(
                "device is the state after write 57 of 57; {} blocks written",
                run(&image(57), 57, 0).unwrap().written
            )
        );
    }

    #[test]
    fn one_unlogged_write_is_tolerated_two_are_not() {
        let img = image(58);
        let v = run(&img, 57, 57).unwrap();
        assert_eq!(v.state, 58);
        assert!(v.to_string().starts_with(
            "device is the state after write 58 of 57 (write 58 landed before its log line was written)"
        ));
        let e = run(&image(59), 57, 0).unwrap_err();
        let b = block_for(SEED, BLOCKS, 59);
        assert_eq!(
            e,
            vec![format!("block {b} holds write 59, but the log ends at write 57: only write 58 can be missing from it (each line is written before the next write is issued)")]
        );
    }

    #[test]
    fn at_least() {
        assert!(run(&image(40), 57, 40).is_ok());
        assert_eq!(
            run(&image(40), 57, 57).unwrap_err(),
            vec!["the newest write on the device is 40, but the state after write 57 or later is required (--at-least 57)"]
        );
        assert_eq!(
            run(&image(0), 0, 1).unwrap_err(),
            vec!["the newest write on the device is 0, but the state after write 1 or later is required (--at-least 1)"]
        );
    }

    #[test]
    fn a_hole_is_reported() {
        // A block lost its latest write: it still has the one before.
        let (b, prev, later) = overwritten_block(0);
        let m = later + 20;
        let mut img = image(m);
        let want = state_after(SEED, BLOCKS, m)[b as usize];
        assert!(want >= later);
        // Put back the older write of that block (as if `want` was lost).
        write(&mut img, prev);
        let e = run(&img, m, 0).unwrap_err();
        assert_eq!(
            e,
            vec![format!("block {b} holds write {prev}, but the state after write {m} has write {want} there")]
        );
        // Zeroed instead.
        let at = b as usize * BLOCK_SIZE;
        img[at..at + BLOCK_SIZE].fill(0);
        assert_eq!(
            run(&img, m, 0).unwrap_err(),
            vec![format!(
                "block {b} is zeroes, but the state after write {m} has write {want} there"
            )]
        );
    }

    #[test]
    fn out_of_order_is_reported() {
        // Write m landed but an earlier write to another block did not:
        // the device is no prefix state, whatever the log.
        let m = 90;
        let bm = block_for(SEED, BLOCKS, m);
        // The last write before m to a block other than bm, whose block
        // had an older write (or none) before it.
        let (k, bk) = (1..m)
            .rev()
            .map(|k| (k, block_for(SEED, BLOCKS, k)))
            .find(|&(k, b)| b != bm && state_after(SEED, BLOCKS, m)[b as usize] == k)
            .unwrap();
        let before = state_after(SEED, BLOCKS, k - 1)[bk as usize];
        let mut img = image(k - 1);
        for i in k + 1..=m {
            write(&mut img, i);
        }
        // Block bk still has `before` (write k never landed), unless a
        // later write put something there.
        let e = run(&img, m, 0).unwrap_err();
        assert_eq!(
            e,
            vec![format!(
                "block {bk} {}, but the state after write {m} has write {k} there",
                if before == 0 {
                    "is zeroes".to_string()
                } else {
                    format!("holds write {before}")
                }
            )]
        );
    }

    #[test]
    fn foreign_content_fails_by_itself() {
        let mut img = image(20);
        img[17 * BLOCK_SIZE..18 * BLOCK_SIZE].fill(0xa5);
        let e = run(&img, 20, 0).unwrap_err();
        assert!(
            e.contains(&"block 17: foreign content".to_string()),
            "{e:?}"
        );
        // Another seed's write.
        let mut blk = [0u8; BLOCK_SIZE];
        let b = block_for(SEED + 1, BLOCKS, 1);
        encode(SEED + 1, BLOCKS, 1, b, &mut blk);
        let mut img = image(0);
        img[b as usize * BLOCK_SIZE..][..BLOCK_SIZE].copy_from_slice(&blk);
        assert_eq!(
            run(&img, 20, 0).unwrap_err(),
            vec![format!(
                "block {b}: foreign content (write 1 of seed {}, not {SEED})",
                SEED + 1
            )]
        );
    }

    #[test]
    fn block_count_mismatch() {
        let log = OrderLog::default();
        let e = check(&[Content::Zero], SEED, BLOCKS, &log, 0).unwrap_err();
        assert_eq!(e, vec![format!("1 blocks read, but the run has {BLOCKS}")]);
    }

    #[test]
    fn state_after_counts() {
        let s = state_after(SEED, BLOCKS, 1000);
        for (b, &w) in s.iter().enumerate() {
            assert!(w <= 1000);
            if w > 0 {
                assert_eq!(block_for(SEED, BLOCKS, w), b as u64);
                assert!((w + 1..=1000).all(|i| block_for(SEED, BLOCKS, i) != b as u64));
            }
        }
    }
}
