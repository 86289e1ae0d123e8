//! Write order at a remote site: what a remote copy must hold, given what
//! it shows.
//!
//! The replicator keeps write-order fidelity at flush granularity: a
//! flush (an epoch boundary of the whole group) orders the writes that
//! completed before it was issued before the writes issued after it
//! completed; within an epoch, remote copies may land in any order. In the
//! load's own terms (`crashwriter write --issue-marks`), with the marks in
//! the order the recorder read them:
//!
//! - `I s` is printed before write `s` is issued, `A s ...` after it
//!   completed, and `F s` after the `fdatasync` that the thread of write
//!   `s` issued after printing `A s` completed;
//! - so if a remote copy shows any sector of a write `b` whose `I b`
//!   comes after some `F s`, that flush lay between every write
//!   acknowledged up to `A s` and `b`: each of those writes must be on the
//!   remote copy too, or overwritten by a later one.
//!
//! The check takes the latest such `F s` for everything the copy shows,
//! and verifies the copy against the acknowledgements up to `A s` with
//! `crashwriter`'s rule (each acknowledged block holds its write or a
//! later one, whole or torn).

use std::collections::HashMap;

use crashwriter::acks::{parse_line, AckLog, Line};
use crashwriter::record::{decode_sector, Sector};
use crashwriter::verify::verify;
use crashwriter::{BLOCK_SIZE, SECTOR_SIZE};

use crate::trace::{Event, Trace};

/// Where each mark of the first `at` events of a trace stands.
struct Marks {
    /// Position (index among the marks) of `I s`, by `s`.
    issue: HashMap<u64, usize>,
    /// Position of `A s ...`, by `s`.
    ack: HashMap<u64, usize>,
    /// `F s` lines: (position, s), in order.
    flushes: Vec<(usize, u64)>,
    /// The mark lines, in order.
    lines: Vec<String>,
}

impl Marks {
    fn before(trace: &Trace, at: usize) -> Marks {
        let mut m = Marks {
            issue: HashMap::new(),
            ack: HashMap::new(),
            flushes: Vec::new(),
            lines: Vec::new(),
        };
        for e in trace.events.iter().take(at) {
            let Event::Mark(line) = e else { continue };
            let pos = m.lines.len();
            match parse_line(line) {
                Line::Issue(s) => {
                    m.issue.insert(s, pos);
                }
                Line::Ack(a) => {
                    m.ack.insert(a.seq, pos);
                }
                Line::Flush(s) => m.flushes.push((pos, s)),
                Line::Malformed => {}
            }
            m.lines.push(line.clone());
        }
        m
    }
}

/// The write sequence numbers a copy shows (any sector of theirs).
fn shown(image: &[u8]) -> Vec<u64> {
    let mut seqs: Vec<u64> = image
        .chunks(SECTOR_SIZE)
        .filter_map(|s| match decode_sector(s) {
            Sector::Record(h) => Some(h.seq),
            _ => None,
        })
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

/// What the order check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Order {
    /// The copy holds everything its newest write's epoch requires:
    /// `required` acknowledgements, up to the flush after write `flush`
    /// (None: it shows nothing issued after a completed flush).
    Held { required: usize, flush: Option<u64> },
    /// It shows write `shows` (issued after the flush of write `flush`)
    /// but lacks writes acknowledged before that flush.
    Broken {
        shows: u64,
        flush: u64,
        violations: Vec<String>,
    },
}

/// Checks a remote copy: `image` holds the copies of the load's devices
/// back to back, `blocks` blocks each; the marks are those of the first
/// `at` events of `trace`.
pub fn check(
    trace: &Trace,
    at: usize,
    image: &[u8],
    blocks: u64,
    devices: usize,
) -> Result<Order, String> {
    let marks = Marks::before(trace, at);
    // The newest write the copy shows, by when it was issued.
    let Some((shows, issued)) = shown(image)
        .into_iter()
        .filter_map(|s| marks.issue.get(&s).map(|&p| (s, p)))
        .max_by_key(|&(_, p)| p)
    else {
        return Ok(Order::Held {
            required: 0,
            flush: None,
        });
    };
    let Some(&(_, flush)) = marks.flushes.iter().rev().find(|&&(p, _)| p < issued) else {
        return Ok(Order::Held {
            required: 0,
            flush: None,
        });
    };
    let upto = *marks
        .ack
        .get(&flush)
        .ok_or_else(|| format!("F {flush} without its A line among the marks"))?;
    let acks = AckLog::parse(&marks.lines[..=upto].join("\n"));
    let table = acks.table(&vec![blocks; devices])?;
    let dev_bytes = blocks as usize * BLOCK_SIZE;
    if image.len() < dev_bytes * devices {
        return Err(format!(
            "the remote image has {} bytes, {} devices of {blocks} blocks need more",
            image.len(),
            devices
        ));
    }
    let mut violations = Vec::new();
    let mut buf = vec![0u8; BLOCK_SIZE];
    let st = verify(
        &table,
        1,
        |dev, first, b| {
            let at = dev as usize * dev_bytes + first as usize * BLOCK_SIZE;
            b.copy_from_slice(&image[at..at + b.len()]);
            Ok(())
        },
        |v| {
            if violations.len() < 5 {
                violations.push(v.to_string());
            }
        },
        &mut buf,
    )
    .map_err(|e| e.to_string())?;
    if st.bad > 0 {
        violations.push(format!("{} bad blocks of {}", st.bad, st.blocks));
        return Ok(Order::Broken {
            shows,
            flush,
            violations,
        });
    }
    Ok(Order::Held {
        required: acks.acks.len(),
        flush: Some(flush),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crashwriter::record::encode_write;

    const BLOCKS: u64 = 4;

    fn image_with(writes: &[(u64, u64)]) -> Vec<u8> {
        let mut image = vec![0u8; BLOCKS as usize * BLOCK_SIZE];
        for &(seq, block) in writes {
            let at = block as usize * BLOCK_SIZE;
            encode_write(seq, 0, block, 1, &mut image[at..at + BLOCK_SIZE]);
        }
        image
    }

    fn marks(lines: &[&str]) -> Trace {
        Trace {
            initial: vec![],
            events: lines.iter().map(|l| Event::Mark(l.to_string())).collect(),
        }
    }

    #[test]
    fn a_write_after_a_flush_needs_what_came_before_it() {
        // Write 1 (block 0) acked, synced; write 2 (block 1) issued after.
        let t = marks(&["I 1", "A 1 0 0 1", "F 1", "I 2", "A 2 0 1 1"]);
        let n = t.events.len();
        // Both: held. Only 1: held (2 in flight). Only 2: broken.
        assert_eq!(
            check(&t, n, &image_with(&[(1, 0), (2, 1)]), BLOCKS, 1),
            Ok(Order::Held {
                required: 1,
                flush: Some(1)
            })
        );
        assert_eq!(
            check(&t, n, &image_with(&[(1, 0)]), BLOCKS, 1),
            Ok(Order::Held {
                required: 0,
                flush: None
            })
        );
        assert!(matches!(
            check(&t, n, &image_with(&[(2, 1)]), BLOCKS, 1),
            Ok(Order::Broken {
                shows: 2,
                flush: 1,
                ..
            })
        ));
        assert_eq!(
            check(&t, n, &image_with(&[]), BLOCKS, 1),
            Ok(Order::Held {
                required: 0,
                flush: None
            })
        );
    }

    #[test]
    fn writes_of_one_epoch_land_in_any_order() {
        // 1 and 2 acked in one epoch (no flush between): 2 without 1 is fine.
        let t = marks(&[
            "I 1",
            "I 2",
            "A 2 0 1 1",
            "A 1 0 0 1",
            "I 3",
            "A 3 0 2 1",
            "F 3",
        ]);
        let n = t.events.len();
        assert_eq!(
            check(&t, n, &image_with(&[(2, 1)]), BLOCKS, 1),
            Ok(Order::Held {
                required: 0,
                flush: None
            })
        );
        // A later write over an earlier one's block satisfies it.
        let t = marks(&[
            "I 1",
            "A 1 0 0 1",
            "F 1",
            "I 2",
            "A 2 0 0 1",
            "I 3",
            "A 3 0 1 1",
        ]);
        let n = t.events.len();
        assert_eq!(
            check(&t, n, &image_with(&[(2, 0), (3, 1)]), BLOCKS, 1),
            Ok(Order::Held {
                required: 1,
                flush: Some(1)
            })
        );
    }
}
