//! Recovery: scans over in-memory images, clean, wrapped, torn, stale,
//! damaged.

use std::vec::Vec;

use super::{pattern, write_op, MemLog, SoftCrc, TestLog, UUID};
use crate::logic::replog::geometry::BLOCK_SIZE;
use crate::logic::replog::recovery::{DataCheck, Found, ScanEnd, Scanner};
use crate::logic::replog::writer::Op;
use crate::logic::replog::{Checkpoint, EntryFlags, EntryHeader, FormatError, LogError, ReadError};

/// A log with ring blocks `0..30` used by ten 3-block entries, the first
/// five freed, and four more entries wrapped to ring blocks `0..12`
/// (2 blocks of gap at the end). Live: seq 6..=14. The device has room
/// for a ring of 64 blocks.
fn wrapped() -> TestLog {
    let mut t = TestLog::over(MemLog::new(3 + 64), UUID, 32);
    for i in 0..10 {
        t.write(i * 100, 16);
    }
    t.free(5);
    for i in 10..14 {
        t.write(i * 100, 16);
    }
    t
}

#[test]
fn fresh_log_is_empty() {
    let mut t = TestLog::new(32);
    let r = t.load().unwrap().recovered;
    assert_eq!(
        (r.head, r.tail, r.head_seq, r.next_seq, r.epoch, r.entries),
        (0, 0, 1, 1, 0, 0)
    );
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 3,
            found: Found::Nothing
        }
    );
    assert!(!r.is_active());
    assert_eq!(r.ring().unwrap(), *t.writer.ring());
}

#[test]
fn clean_log_with_every_kind_of_entry() {
    let mut t = TestLog::new(64);
    let ops = [
        (write_op(1, 100, 8), pattern(1, 8)),
        (
            Op {
                flags: EntryFlags::DISCARD,
                ..write_op(2, 4096, 1 << 16)
            },
            Vec::new(),
        ),
        (
            Op {
                flags: EntryFlags::WRITE_ZEROES,
                ..write_op(1, 0, 64)
            },
            Vec::new(),
        ),
        (
            Op {
                flags: EntryFlags::FLUSH,
                ..write_op(1, 0, 0)
            },
            Vec::new(),
        ),
        (
            Op {
                flags: EntryFlags::FLUSH.with(EntryFlags::FUA),
                ..write_op(3, 7, 3)
            },
            pattern(2, 3),
        ),
    ];
    let appended: Vec<_> = ops.iter().map(|(op, data)| t.append(*op, data)).collect();
    let epochs: Vec<_> = appended.iter().map(|a| a.header.epoch).collect();
    assert_eq!(epochs, [0, 0, 0, 1, 2]);
    let r = t.scan(DataCheck::All);
    assert_eq!(
        (r.entries, r.next_seq, r.epoch, r.head, r.tail),
        (5, 6, 2, 0, 7)
    );
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 10,
            found: Found::Nothing
        }
    );
    assert_eq!(r.check(), Ok(()));
    assert_eq!(r.ring().unwrap(), *t.writer.ring());
    let resume = r.resume(&t.cp).unwrap();
    let w = resume.writer;
    assert_eq!(
        (w.next_seq(), w.epoch()),
        (t.writer.next_seq(), t.writer.epoch())
    );
    assert_eq!((w.incarnation(), t.writer.incarnation()), (2, 1));
    assert_eq!(*w.ring(), *t.writer.ring());
    assert_eq!(
        (w.next_seq(), w.epoch()),
        (t.writer.next_seq(), t.writer.epoch())
    );

    // Replay: the headers, in order, where they were written.
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = (t.sb, t.cp);
    let replay: Vec<_> =
        Scanner::<SoftCrc, _>::new(&mut t.mem, &mut buf, &sb, &cp, DataCheck::AfterTailHint)
            .take(r.entries as usize)
            .collect();
    assert_eq!(replay.len(), 5);
    for (scanned, appended) in replay.iter().zip(&appended) {
        assert_eq!(scanned.header, appended.header);
        assert_eq!(scanned.pos, appended.extent.start);
        assert_eq!(scanned.block, 3 + appended.extent.start);
    }
}

#[test]
fn wrapped_ring_skips_the_gap_and_stops_at_the_previous_lap() {
    let mut t = wrapped();
    let r = t.load().unwrap().recovered;
    assert_eq!(
        (r.head, r.head_seq, r.tail, r.next_seq, r.entries),
        (15, 6, 12, 15, 9)
    );
    assert_eq!((r.used, r.gap), (29, 2));
    // Ring block 12 holds entry 5 of the previous lap.
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 15,
            found: Found::Stale { seq: 5 }
        }
    );
    assert_eq!(r.ring().unwrap(), *t.writer.ring());
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = (t.sb, t.cp);
    let positions: Vec<_> =
        Scanner::<SoftCrc, _>::new(&mut t.mem, &mut buf, &sb, &cp, DataCheck::All)
            .map(|e| (e.header.seq, e.pos))
            .collect();
    assert_eq!(
        positions,
        [
            (6, 15),
            (7, 18),
            (8, 21),
            (9, 24),
            (10, 27),
            (11, 0),
            (12, 3),
            (13, 6),
            (14, 9)
        ]
    );
}

#[test]
fn full_ring_stops_at_its_own_head() {
    let mut t = TestLog::new(32);
    for i in 0..8 {
        t.write(i, 24);
    }
    assert!(t.writer.ring().is_full());
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.used, r.head, r.tail), (8, 32, 0, 0));
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 3,
            found: Found::Stale { seq: 1 }
        }
    );
}

#[test]
fn torn_data_of_the_last_entry_ends_the_scan() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    t.write(8, 8);
    let last = t.write(16, 12);
    let data_block = t.block_of(last.extent.start) + 2;
    t.mem.block(data_block)[100] ^= 0xff;
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.next_seq, r.tail), (2, 3, 4));
    assert_eq!(
        r.end,
        ScanEnd::TornData {
            block: t.block_of(4),
            seq: 3
        }
    );
    assert!(r.end.is_benign());
}

#[test]
fn padding_after_the_data_is_not_checked() {
    let mut t = TestLog::new(32);
    let e = t.write(0, 3);
    t.mem.block(t.block_of(e.extent.start) + 1)[3 * 512] = 0xff;
    assert_eq!(t.scan(DataCheck::All).entries, 1);
}

#[test]
fn torn_header_of_the_last_entry_ends_the_scan() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let last = t.write(8, 8);
    t.mem.block(t.block_of(last.extent.start))[1000] ^= 1;
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.tail), (1, 2));
    assert_eq!(r.end, ScanEnd::TornHeader { block: 5, seq: 2 });
}

#[test]
fn half_written_header_over_an_old_lap() {
    let mut t = wrapped();
    let old = *t.mem.block(15);
    t.write(1400, 16);
    let new = *t.mem.block(15);

    // First sector new (magic, UUID, seq 15), the rest still old: torn.
    let mut half = old;
    half[..512].copy_from_slice(&new[..512]);
    *t.mem.block(15) = half;
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!((r.entries, r.next_seq), (9, 15));
    assert_eq!(r.end, ScanEnd::TornHeader { block: 15, seq: 15 });

    // First sector old (seq 5), the rest new: the new entry never started
    // as far as anyone can tell.
    let mut half = new;
    half[..512].copy_from_slice(&old[..512]);
    *t.mem.block(15) = half;
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 15,
            found: Found::Nothing
        }
    );
}

#[test]
fn entries_of_an_earlier_log_are_not_taken() {
    let mut old = TestLog::new(32);
    for i in 0..5 {
        old.write(i, 8);
    }
    // A new log over the same blocks: the old entries have the right
    // sequence numbers in the right places, but another UUID.
    let mut t = TestLog::over(old.mem.clone(), *b"a-different-uuid", 32);
    let r = t.load().unwrap().recovered;
    assert_eq!(r.entries, 0);
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 3,
            found: Found::OtherLog
        }
    );
    assert_eq!(
        t.mem.blocks[1], [0; BLOCK_SIZE],
        "format empties the other slot"
    );
}

#[test]
fn a_torn_entry_rewritten_at_block_zero_is_found_there() {
    let mut t = TestLog::new(32);
    for i in 0..9 {
        t.write(i, 16); // 3 blocks each: ring blocks 0..27
    }
    t.free(3);
    let torn = t.write(900, 24); // seq 10 at 27..31
    assert_eq!(torn.extent.start, 27);
    t.mem.block(t.block_of(28))[0] ^= 1;
    let loaded = t.crash_and_recover();
    assert_eq!(
        loaded.recovered.end,
        ScanEnd::TornData { block: 30, seq: 10 }
    );
    assert_eq!(loaded.recovered.tail, 27);

    // Seq 10 again, too large for 27..32: it goes to block 0, and the torn
    // one stays at 27.
    let again = t.write(1000, 40);
    assert_eq!((again.header.seq, again.extent.start), (10, 0));
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.next_seq, r.tail, r.gap), (7, 11, 6, 5));
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 9,
            found: Found::Stale { seq: 3 }
        }
    );
    assert_eq!(r.ring().unwrap(), *t.writer.ring());

    // A replay makes the same choice.
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = (t.sb, t.cp);
    let replay: Vec<_> =
        Scanner::<SoftCrc, _>::new(&mut t.mem, &mut buf, &sb, &cp, DataCheck::AfterTailHint)
            .take(r.entries as usize)
            .map(|e| (e.header.seq, e.pos))
            .collect();
    assert_eq!(replay.last(), Some(&(10, 0)));
}

#[test]
fn damage_before_the_tail_hint_is_lost_data() {
    let mut t = TestLog::new(32);
    for i in 0..5 {
        t.write(i, 8);
    }
    t.checkpoint();
    t.mem.block(t.block_of(4))[40] ^= 1; // header of seq 3
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!(r.end, ScanEnd::TornHeader { block: 7, seq: 3 });
    assert!(r.lost_entries());
    assert_eq!(r.check(), Err(LogError::Format(FormatError::EntriesLost)));
    assert_eq!(t.load(), Err(LogError::Format(FormatError::EntriesLost)));
}

#[test]
fn data_before_the_tail_hint_is_trusted_unless_asked() {
    let mut t = TestLog::new(32);
    for i in 0..3 {
        t.write(i, 8);
    }
    t.checkpoint();
    t.mem.block(t.block_of(3))[7] ^= 1; // data of seq 2
    assert_eq!(t.scan(DataCheck::AfterTailHint).entries, 3);
    let r = t.scan(DataCheck::All);
    assert_eq!(r.end, ScanEnd::TornData { block: 5, seq: 2 });
    assert_eq!(r.check(), Err(LogError::Format(FormatError::EntriesLost)));
}

#[test]
fn intact_but_impossible_entries_are_refused() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let last = t.write(8, 8);
    let block = t.block_of(last.extent.start);
    let reencode = |t: &mut TestLog, edit: &dyn Fn(&mut EntryHeader)| {
        let mut h = last.header;
        edit(&mut h);
        let mut buf = [0; BLOCK_SIZE];
        h.encode::<SoftCrc>(&UUID, &mut buf);
        *t.mem.block(block) = buf;
        t.scan(DataCheck::AfterTailHint)
    };
    let r = reencode(&mut t, &|h| h.epoch = 7);
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block,
            seq: 2,
            error: FormatError::EntryEpoch
        }
    );
    assert_eq!(r.check(), Err(LogError::Format(FormatError::EntryEpoch)));
    let r = reencode(&mut t, &|h| h.sectors = 8 * 30);
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block,
            seq: 2,
            error: FormatError::EntryCrossesEnd
        }
    );
    let r = reencode(&mut t, &|h| h.sectors = 8 * 40);
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block,
            seq: 2,
            error: FormatError::EntryTooLarge
        }
    );
    let r = reencode(&mut t, &|h| h.flags = EntryFlags(64));
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block,
            seq: 2,
            error: FormatError::EntryFlags
        }
    );
    assert!(!r.end.is_benign());
}

#[test]
fn an_entry_over_the_head_is_refused() {
    let mut t = TestLog::new(32);
    for i in 0..6 {
        t.write(i, 24); // 4 blocks each: 0..24
    }
    t.free(1); // head 4
               // An intact header claiming seq 7 at ring block 0 with 5 blocks: it
               // would overwrite the live entry at 4.
    let mut h = t.header_of(&t.live[0]);
    h.seq = 7;
    h.sectors = 32;
    h.data_crc = 0;
    let mut buf = [0; BLOCK_SIZE];
    h.encode::<SoftCrc>(&UUID, &mut buf);
    *t.mem.block(3) = buf;
    t.mem.block(27)[0] = 0; // block 24 is not an entry
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!(r.entries, 5);
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block: 3,
            seq: 7,
            error: FormatError::EntryOverlapsHead
        }
    );
}

#[test]
fn read_errors_end_the_scan_and_fail_the_load() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    t.write(8, 8);
    t.mem.unreadable.insert(6);
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!(
        r.end,
        ScanEnd::Unreadable {
            block: 6,
            error: ReadError(5)
        }
    );
    assert_eq!(r.entries, 1);
    assert_eq!(
        t.load(),
        Err(LogError::Read {
            block: 6,
            error: ReadError(5)
        })
    );
    t.mem.unreadable.insert(0);
    assert_eq!(
        t.load(),
        Err(LogError::Read {
            block: 0,
            error: ReadError(5)
        })
    );
    assert!(std::format!("{}", t.load().unwrap_err()).contains("block 0"));
}

#[test]
fn newest_checkpoint_wins_and_a_torn_one_falls_back() {
    let mut t = TestLog::new(32);
    for i in 0..6 {
        t.write(i, 8);
    }
    t.free(1); // generation 2, slot 0
    t.free(1); // generation 3, slot 1
    let loaded = t.load().unwrap();
    assert_eq!(loaded.checkpoint.generation, 3);
    assert_eq!(
        (loaded.recovered.head_seq, loaded.recovered.entries),
        (3, 4)
    );

    // A crash while writing generation 4 over generation 2: slot 0 torn,
    // nothing freed yet. Generation 3 is used.
    let mut cp = t.next_checkpoint(2);
    cp.generation = 4;
    let mut buf = [0; BLOCK_SIZE];
    cp.encode::<SoftCrc>(&UUID, &mut buf);
    buf[2000] ^= 1;
    *t.mem.block(1) = buf;
    let loaded = t.load().unwrap();
    assert_eq!(loaded.checkpoint.generation, 3);
    assert_eq!(loaded.recovered.entries, 4);

    // Both slots unusable.
    t.mem.block(2)[50] ^= 1;
    assert_eq!(t.load(), Err(LogError::Format(FormatError::NoCheckpoint)));
}

#[test]
fn superblock_damage_is_named() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let good = *t.mem.block(0);
    t.mem.block(0)[100] = 1;
    assert_eq!(
        t.load(),
        Err(LogError::Format(FormatError::SuperblockChecksum))
    );
    *t.mem.block(0) = good;
    t.mem.block(0)[8] = 9;
    assert_eq!(
        t.load(),
        Err(LogError::Format(FormatError::SuperblockVersion))
    );
    *t.mem.block(0) = good;
    t.mem.block(0)[0] = 0;
    assert_eq!(
        t.load(),
        Err(LogError::Format(FormatError::SuperblockMagic))
    );
}

#[test]
fn the_ring_must_fit_on_the_device() {
    let mut t = TestLog::new(32);
    let mut buf = [0; BLOCK_SIZE];
    let short = (3 + 32) * 8 - 1;
    assert_eq!(
        crate::logic::replog::load::<SoftCrc, _>(&mut t.mem, &mut buf, short),
        Err(LogError::Format(FormatError::LogBeyondDevice))
    );
}

#[test]
fn resized_rings_recover() {
    let mut t = wrapped();
    // Grow while wrapped: the gap grows, recovery still finds block 0.
    let grown = t.writer.ring().resized(48).unwrap();
    let mut cp = t.next_checkpoint(0);
    cp.ring_blocks = 48;
    cp.head = grown.head();
    t.write_checkpoint(&cp);
    t.writer.resize(48).unwrap();
    assert_eq!(*t.writer.ring(), grown);
    t.write(5000, 16);
    let r = t.load().unwrap().recovered;
    assert_eq!((r.ring_blocks, r.entries, r.gap), (48, 10, 18));
    assert_eq!(r.ring().unwrap(), *t.writer.ring());

    // Free the first lap; shrink to just above the live entries.
    t.free(5);
    assert_eq!(
        t.writer.ring().resized(14),
        Err(FormatError::ResizeLiveData)
    );
    let shrunk = t.writer.ring().resized(17).unwrap();
    let mut cp = t.next_checkpoint(0);
    cp.ring_blocks = 17;
    cp.head = shrunk.head();
    t.write_checkpoint(&cp);
    t.writer.resize(17).unwrap();
    t.write(6000, 8);
    let r = t.load().unwrap().recovered;
    assert_eq!(
        (r.ring_blocks, r.entries, r.head, r.tail, r.used),
        (17, 6, 0, 0, 17)
    );
    assert_eq!(r.ring().unwrap(), *t.writer.ring());
}

#[test]
fn resuming_starts_a_new_run() {
    let mut t = wrapped();
    let loaded = t.load().unwrap();
    let resume = loaded.resume().unwrap();
    let cp = resume.checkpoint;
    assert_eq!(cp.generation, loaded.checkpoint.generation + 1);
    assert_eq!(cp.incarnation, loaded.checkpoint.incarnation + 1);
    assert_eq!(
        (cp.ring_blocks, cp.head, cp.head_seq, cp.head_epoch),
        (32, 15, 6, 0)
    );
    assert_eq!((cp.tail, cp.tail_seq), (12, 15));
    assert_eq!(resume.writer.incarnation(), cp.incarnation);
    assert_eq!(*resume.writer.ring(), *t.writer.ring());
    let mut broken = loaded.recovered;
    broken.used += 1;
    assert_eq!(
        broken.resume(&loaded.checkpoint),
        Err(FormatError::RingInconsistent)
    );
    let last = Checkpoint {
        incarnation: u64::MAX,
        ..loaded.checkpoint
    };
    let mut r = loaded.recovered;
    r.incarnation = u64::MAX;
    assert_eq!(r.resume(&last), Err(FormatError::CounterExhausted));
}

#[test]
fn a_stale_copy_of_an_earlier_run_loses_to_block_zero() {
    let mut t = TestLog::new(32);
    for i in 0..9 {
        t.write(i, 16); // ring blocks 0..27
    }
    t.free(3);
    let old = t.write(900, 24); // seq 10 at 27..31, incarnation 1
    t.mem.block(t.block_of(28))[0] ^= 1; // its data is torn
    t.crash_and_recover(); // incarnation 2
    let new = t.write(1000, 40); // seq 10 again, at 0
    assert_eq!(
        (old.header.seq, new.header.seq, new.extent.start),
        (10, 10, 0)
    );
    assert_eq!(new.header.incarnation, 2);
    // A checkpoint past seq 10: its data is no longer checked by the scan,
    // and the old copy at 27 has an intact header.
    t.checkpoint();
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.next_seq, r.tail), (7, 11, 6));
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = (t.sb, t.cp);
    let last = Scanner::<SoftCrc, _>::new(&mut t.mem, &mut buf, &sb, &cp, DataCheck::AfterTailHint)
        .last()
        .unwrap();
    assert_eq!(
        (last.header.seq, last.pos, last.header.incarnation),
        (10, 0, 2)
    );
}

#[test]
fn a_later_entry_left_by_an_earlier_run_ends_the_log() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let torn = t.write(8, 8); // seq 2 at 2..4
    let later = t.write(16, 8); // seq 3 at 4..6, written, never acknowledged
    t.mem.block(t.block_of(torn.extent.start))[100] ^= 1;
    let loaded = t.crash_and_recover();
    assert_eq!(
        loaded.recovered.end,
        ScanEnd::TornHeader { block: 5, seq: 2 }
    );
    let again = t.write(24, 8); // seq 2, incarnation 2, at 2..4
    assert_eq!((again.header.seq, again.extent.start), (2, 2));
    // Block 4 still holds the old seq 3, intact: it is not the new log's.
    assert_eq!(later.extent.start, 4);
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.next_seq, r.tail), (2, 3, 4));
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: 7,
            found: Found::EarlierRun { incarnation: 1 }
        }
    );
}

#[test]
fn an_entry_of_an_unrecorded_run_is_refused() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let second = t.write(8, 8);
    let mut h = second.header;
    h.incarnation = 2;
    let mut buf = [0; BLOCK_SIZE];
    h.encode::<SoftCrc>(&UUID, &mut buf);
    *t.mem.block(5) = buf;
    let r = t.scan(DataCheck::AfterTailHint);
    assert_eq!(
        r.end,
        ScanEnd::Invalid {
            block: 5,
            seq: 2,
            error: FormatError::EntryIncarnation
        }
    );
}

#[test]
fn a_torn_tail_an_earlier_run_dropped_ends_the_log_cleanly() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let torn = t.write(8, 16); // seq 2 at 2..5
    let data_block = t.block_of(torn.extent.start) + 1;
    t.mem.block(data_block)[100] ^= 1;
    let loaded = t.crash_and_recover(); // incarnation 2, tail hint at seq 2
    assert!(matches!(
        loaded.recovered.end,
        ScanEnd::TornData { seq: 2, .. }
    ));
    // Nothing written since: the torn copy is still where seq 2 goes, but
    // the run that wrote it is over and its recovery dropped it.
    let r = t.load().unwrap().recovered;
    assert_eq!((r.entries, r.next_seq, r.tail), (1, 2, 2));
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: t.block_of(2),
            found: Found::EarlierRun { incarnation: 1 }
        }
    );
    // `replog check`, which checks every entry's data, says the same.
    let r = t.scan(DataCheck::All);
    assert_eq!(
        r.end,
        ScanEnd::Clean {
            block: t.block_of(2),
            found: Found::EarlierRun { incarnation: 1 }
        }
    );
}

#[test]
fn site_link_positions_carry_over_to_the_new_run() {
    let mut t = wrapped();
    let mut cp = t.next_checkpoint(0);
    assert!(cp.slinks.insert(2, 9));
    assert!(cp.slinks.insert(1, 15));
    t.write_checkpoint(&cp);
    let loaded = t.load().unwrap();
    assert_eq!(loaded.checkpoint.slinks, cp.slinks);
    // The checkpoint of the new run keeps them until a site link is set
    // up again; link 2's entry is still in the log, link 1 holds all.
    let resume = loaded.resume().unwrap();
    assert_eq!(resume.checkpoint.slinks, cp.slinks);
    let r = loaded.recovered;
    let held = |seq: u64| r.head_seq <= seq && seq <= r.next_seq;
    assert!(held(9) && held(15));
    assert!(!held(r.head_seq - 1));
}
