//! Property tests: ring accounting against a model, recovery against the
//! writer, and decoders on arbitrary bytes.

use std::collections::VecDeque;
use std::vec::Vec;

use proptest::prelude::*;

use super::{pattern, write_op, SoftCrc, TestLog, UUID};
use crate::logic::replog::checksum::CRC_OFFSET;
use crate::logic::replog::entry::{EntryHeader, Peek};
use crate::logic::replog::geometry::{Block, BLOCK_SIZE};
use crate::logic::replog::recovery::{DataCheck, Scanner};
use crate::logic::replog::ring::{Extent, Ring, RingError};
use crate::logic::replog::writer::Op;
use crate::logic::replog::{Checkpoint, EntryFlags, FormatError, Superblock};

/// A step of a ring workload.
#[derive(Clone, Debug)]
enum RingOp {
    Reserve(u64),
    Release,
    Resize(u64),
}

fn ring_op(max: u64) -> impl Strategy<Value = RingOp> {
    prop_oneof![
        5 => (1..=max).prop_map(RingOp::Reserve),
        4 => Just(RingOp::Release),
        1 => (8..=2 * max).prop_map(RingOp::Resize),
    ]
}

/// Checks the ring against the live extents it handed out.
fn check_ring(r: &Ring, live: &VecDeque<Extent>) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.free() + r.used(), r.blocks());
    prop_assert!(r.head() < r.blocks() && r.tail() < r.blocks());
    let live_blocks: u64 = live.iter().map(|e| e.blocks).sum();
    prop_assert_eq!(live_blocks + r.gap(), r.used());
    if let Some(first) = live.front() {
        prop_assert_eq!(first.start, r.head());
    } else {
        prop_assert!(r.is_empty());
    }
    for (i, a) in live.iter().enumerate() {
        prop_assert!(a.end() <= r.blocks(), "{:?} past the end", a);
        for b in live.iter().skip(i + 1) {
            prop_assert!(
                a.end() <= b.start || b.end() <= a.start,
                "{:?} overlaps {:?}",
                a,
                b
            );
        }
    }
    prop_assert_eq!(
        Ring::from_parts(r.blocks(), r.head(), r.tail(), r.used(), r.gap()),
        Ok(*r)
    );
    Ok(())
}

proptest! {
    #[test]
    fn ring_never_overlaps_live_entries(
        blocks in 8u64..80,
        ops in prop::collection::vec(ring_op(24), 1..200),
    ) {
        let mut r = Ring::empty_at(blocks, 0).unwrap();
        let mut live = VecDeque::new();
        for op in ops {
            match op {
                RingOp::Reserve(n) => match r.reserve(n) {
                    Ok(e) => {
                        prop_assert_eq!(e.blocks, n);
                        live.push_back(e);
                    }
                    Err(RingError::Full) => prop_assert!(!live.is_empty() && !r.fits(n)),
                    Err(RingError::TooLarge) => prop_assert!(n > r.blocks()),
                    Err(e) => prop_assert!(false, "reserve: {:?}", e),
                },
                RingOp::Release => {
                    if let Some(e) = live.pop_front() {
                        prop_assert_eq!(r.release(e), Ok(()));
                    } else {
                        prop_assert_eq!(r.release(Extent { start: r.head(), blocks: 1 }), Err(RingError::NotOldest));
                    }
                }
                RingOp::Resize(n) => {
                    let max_end = live.iter().map(Extent::end).max().unwrap_or(0);
                    match r.resized(n) {
                        Ok(new) => {
                            prop_assert!(max_end <= n);
                            r = new;
                        }
                        Err(FormatError::ResizeLiveData) => prop_assert!(max_end > n),
                        Err(e) => prop_assert!(false, "resize: {:?}", e),
                    }
                }
            }
            check_ring(&r, &live)?;
        }
    }
}

/// A step of a log workload.
#[derive(Clone, Debug)]
enum LogOp {
    Write(u32),
    Discard(u32),
    Flush,
    Free(usize),
    Checkpoint,
    Crash,
    TearLast(usize),
    TearLastData(usize),
}

fn log_op() -> impl Strategy<Value = LogOp> {
    prop_oneof![
        6 => (1u32..40).prop_map(LogOp::Write),
        1 => (1u32..1000).prop_map(LogOp::Discard),
        1 => Just(LogOp::Flush),
        3 => (1usize..4).prop_map(LogOp::Free),
        1 => Just(LogOp::Checkpoint),
        2 => Just(LogOp::Crash),
        1 => (0usize..BLOCK_SIZE).prop_map(LogOp::TearLast),
        1 => any::<usize>().prop_map(LogOp::TearLastData),
    ]
}

/// Recovers `t` and checks recovery found exactly the live entries.
fn crash(t: &mut TestLog, torn: bool) -> Result<(), TestCaseError> {
    let before = *t.writer.ring();
    let seqs: Vec<u64> = t.live.iter().map(|l| l.seq).collect();
    let loaded = t.crash_and_recover();
    let r = loaded.recovered;
    let expect: &[u64] = if torn { &seqs[..seqs.len() - 1] } else { &seqs };
    prop_assert_eq!(r.entries as usize, expect.len());
    prop_assert_eq!(r.head_seq, expect.first().copied().unwrap_or(r.next_seq));
    if !torn {
        prop_assert_eq!(r.ring().unwrap(), before);
    }
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = (t.sb, t.cp);
    let replay: Vec<u64> =
        Scanner::<SoftCrc, _>::new(&mut t.mem, &mut buf, &sb, &cp, DataCheck::AfterTailHint)
            .take(r.entries as usize)
            .map(|e| e.header.seq)
            .collect();
    prop_assert_eq!(&replay[..], expect);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn recovery_finds_exactly_what_was_written(
        ring in 16u64..64,
        ops in prop::collection::vec(log_op(), 1..120),
    ) {
        let mut t = TestLog::new(ring);
        for op in ops {
            match op {
                LogOp::Write(sectors) => {
                    let data = pattern(u64::from(sectors), sectors);
                    let _ = t.try_append(write_op(1, 8 * u64::from(sectors), sectors), &data);
                }
                LogOp::Discard(sectors) => {
                    let op = Op { flags: EntryFlags::DISCARD, ..write_op(2, 0, sectors) };
                    let _ = t.try_append(op, &[]);
                }
                LogOp::Flush => {
                    let op = Op { flags: EntryFlags::FLUSH, ..write_op(0, 0, 0) };
                    let _ = t.try_append(op, &[]);
                }
                LogOp::Free(n) => {
                    let n = n.min(t.live.len());
                    t.free(n);
                }
                LogOp::Checkpoint => t.checkpoint(),
                LogOp::Crash => crash(&mut t, false)?,
                LogOp::TearLast(offset) => {
                    // Tear the newest entry's header if it was written after
                    // the last checkpoint (so not yet acknowledged as durable
                    // in the checkpoint's tail hint).
                    let Some(last) = t.live.back().copied() else { continue };
                    if last.seq < t.cp.tail_seq {
                        continue;
                    }
                    let block = t.block_of(last.extent.start);
                    t.mem.block(block)[offset] ^= 0x40;
                    crash(&mut t, true)?;
                }
                LogOp::TearLastData(offset) => {
                    let Some(last) = t.live.back().copied() else { continue };
                    let bytes = t.header_of(&last).data_bytes() as usize;
                    if last.seq < t.cp.tail_seq || bytes == 0 {
                        continue;
                    }
                    let offset = offset % bytes;
                    let block = t.block_of(last.extent.start) + 1 + (offset / BLOCK_SIZE) as u64;
                    t.mem.block(block)[offset % BLOCK_SIZE] ^= 0x01;
                    crash(&mut t, true)?;
                }
            }
        }
        crash(&mut t, false)?;
    }

    #[test]
    fn decoders_take_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), BLOCK_SIZE),
        magic in 0usize..4,
        reseal in any::<bool>(),
        slot in 0usize..3,
    ) {
        let mut b: Block = bytes.try_into().unwrap();
        let magics: [&[u8; 8]; 3] = [b"DMREPLSB", b"DMREPLCP", b"DMREPLEN"];
        if let Some(m) = magics.get(magic) {
            b[..8].copy_from_slice(*m);
            b[8..12].copy_from_slice(&1u32.to_le_bytes());
        }
        if reseal {
            let crc = crate::logic::replog::checksum::crc32c::<SoftCrc>(&b[..CRC_OFFSET]);
            b[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        }
        let _ = Superblock::decode::<SoftCrc>(&b);
        let _ = Checkpoint::decode::<SoftCrc>(&b, &UUID, slot);
        let _ = EntryHeader::decode::<SoftCrc>(&b, &UUID);
        let _ = Peek::of::<SoftCrc>(&b);
        if let Ok(h) = EntryHeader::decode::<SoftCrc>(&b, &b[8..24].try_into().unwrap()) {
            prop_assert!(h.validate().is_ok());
            let _ = (h.blocks(), h.data_bytes());
        }
    }

    #[test]
    fn scanning_garbage_ends(
        seeds in prop::collection::vec(any::<u64>(), 1..12),
        head in 0u64..16,
        head_seq in 1u64..4,
    ) {
        // A ring of entry headers with random fields, some of them valid.
        let mut t = TestLog::new(16);
        for (i, seed) in seeds.iter().enumerate() {
            let h = EntryHeader {
                seq: seed % 5,
                epoch: (seed >> 8) % 2,
                dev: 0,
                flags: EntryFlags(((seed >> 16) % 3) as u32),
                sector: 0,
                sectors: ((seed >> 24) % 50) as u32,
                data_crc: 0,
                incarnation: (seed >> 40) % 3,
                slinks: Default::default(),
            };
            let mut buf = [0; BLOCK_SIZE];
            h.encode::<SoftCrc>(&UUID, &mut buf);
            *t.mem.block(3 + (seed >> 32) % 16) = buf;
            let _ = i;
        }
        let cp = Checkpoint { head, head_seq, tail_seq: head_seq, ..t.cp };
        t.cp = cp;
        let r = t.scan(DataCheck::All);
        prop_assert!(r.used <= 16 && r.tail < 16);
        prop_assert!(r.ring().is_ok());
    }
}
