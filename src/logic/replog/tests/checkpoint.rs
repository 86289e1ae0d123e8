//! Checkpoints: round trip, slots, and every refusal.

use super::SoftCrc;
use crate::logic::replog::checkpoint::{
    newest, slot_block, Checkpoint, SlinkPositions, CHECKPOINT_MAGIC, MAX_LOST_DEVICES,
    MAX_SLINK_POSITIONS,
};
use crate::logic::replog::checksum::CRC_OFFSET;
use crate::logic::replog::geometry::{Block, BLOCK_SIZE};
use crate::logic::replog::FormatError;

fn sample() -> Checkpoint {
    Checkpoint {
        generation: 6,
        ring_blocks: 1000,
        head: 17,
        head_seq: 40,
        head_epoch: 3,
        tail: 950,
        tail_seq: 90,
        incarnation: 2,
        slinks: SlinkPositions::new(),
    }
}

fn encoded(cp: &Checkpoint) -> Block {
    let mut b = [0x5a; BLOCK_SIZE];
    cp.encode::<SoftCrc>(&super::UUID, &mut b);
    b
}

#[test]
fn round_trip_and_layout() {
    let cp = sample();
    let b = encoded(&cp);
    assert_eq!(Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 0), Ok(cp));
    assert_eq!(&b[0..8], &CHECKPOINT_MAGIC);
    assert_eq!(&b[8..24], &super::UUID);
    let fields = [6u64, 1000, 17, 40, 3, 950, 90, 2];
    for (i, v) in fields.iter().enumerate() {
        assert_eq!(b[24 + 8 * i..32 + 8 * i], v.to_le_bytes(), "field {i}");
    }
    assert!(b[88..CRC_OFFSET].iter().all(|&x| x == 0));
}

#[test]
fn generations_alternate_slots() {
    let first = Checkpoint::initial(100);
    assert_eq!((first.generation, first.slot(), first.block()), (1, 1, 2));
    let second = first.successor().unwrap();
    assert_eq!(
        (second.generation, second.slot(), second.block()),
        (2, 0, 1)
    );
    assert_eq!(second.successor().unwrap().block(), 2);
    assert_eq!((slot_block(0), slot_block(1)), (1, 2));
    let last = Checkpoint {
        generation: u64::MAX,
        ..first
    };
    assert_eq!(last.successor(), Err(FormatError::CounterExhausted));
}

#[test]
fn wrong_slot_is_refused() {
    let b = encoded(&sample());
    assert_eq!(
        Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 1),
        Err(FormatError::CheckpointSlot)
    );
    let zero = Checkpoint {
        generation: 0,
        ..sample()
    };
    assert_eq!(
        Checkpoint::decode::<SoftCrc>(&encoded(&zero), &super::UUID, 0),
        Err(FormatError::CheckpointSlot)
    );
}

#[test]
fn refusals() {
    let decode = |b: &Block| Checkpoint::decode::<SoftCrc>(b, &super::UUID, 0);
    assert_eq!(decode(&[0; BLOCK_SIZE]), Err(FormatError::CheckpointEmpty));
    let mut b = encoded(&sample());
    b[1] = 0;
    assert_eq!(decode(&b), Err(FormatError::CheckpointMagic));
    let mut b = encoded(&sample());
    b[45] ^= 1;
    assert_eq!(decode(&b), Err(FormatError::CheckpointChecksum));
    let b = encoded(&sample());
    assert_eq!(
        Checkpoint::decode::<SoftCrc>(&b, b"another-log-uuid", 0),
        Err(FormatError::CheckpointOtherLog)
    );
    let bad = |cp: Checkpoint| decode(&encoded(&cp));
    let s = sample();
    assert_eq!(
        bad(Checkpoint { head: 1000, ..s }),
        Err(FormatError::CheckpointPosition)
    );
    assert_eq!(
        bad(Checkpoint { tail: 1000, ..s }),
        Err(FormatError::CheckpointPosition)
    );
    assert_eq!(
        bad(Checkpoint { tail_seq: 39, ..s }),
        Err(FormatError::CheckpointSequence)
    );
    assert_eq!(
        bad(Checkpoint {
            head_seq: 0,
            tail_seq: 0,
            ..s
        }),
        Err(FormatError::CheckpointSequence)
    );
    assert_eq!(
        bad(Checkpoint {
            ring_blocks: 7,
            head: 1,
            tail: 1,
            ..s
        }),
        Err(FormatError::LogTooSmall)
    );
    assert_eq!(
        bad(Checkpoint {
            incarnation: 0,
            ..s
        }),
        Err(FormatError::CheckpointIncarnation)
    );
    assert_eq!(
        bad(Checkpoint {
            ring_blocks: u64::MAX,
            ..s
        }),
        Err(FormatError::LogTooLarge)
    );
}

#[test]
fn newest_valid_slot_wins() {
    let a = Checkpoint {
        generation: 4,
        ..sample()
    };
    let b = Checkpoint {
        generation: 5,
        ..sample()
    };
    let torn: Result<Checkpoint, FormatError> = Err(FormatError::CheckpointChecksum);
    let ok = |cp: Checkpoint| -> Result<Checkpoint, FormatError> { Ok(cp) };
    assert_eq!(newest(&[ok(a), ok(b)]), Ok(&b));
    assert_eq!(
        newest(&[ok(Checkpoint { generation: 6, ..a }), ok(b)])
            .unwrap()
            .generation,
        6
    );
    assert_eq!(newest(&[ok(a), torn]), Ok(&a));
    assert_eq!(newest(&[torn, Ok(b)]), Ok(&b));
    assert_eq!(newest(&[torn, torn]), Err(FormatError::NoCheckpoint));
}

fn positions(records: &[(u32, u64)]) -> SlinkPositions {
    let mut p = SlinkPositions::new();
    for &(nr, seq) in records {
        assert!(p.insert(nr, seq), "insert {nr} {seq}");
    }
    p
}

#[test]
fn slink_positions_layout() {
    let cp = Checkpoint {
        slinks: positions(&[(7, 60), (1, 45)]),
        ..sample()
    };
    let b = encoded(&cp);
    assert_eq!(Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 0), Ok(cp));
    assert_eq!(b[88..92], 2u32.to_le_bytes());
    assert_eq!(b[92..96], [0; 4]);
    // Ascending by site link whatever the order of insertion.
    assert_eq!(b[96..100], 1u32.to_le_bytes());
    assert_eq!(b[100..104], [0; 4]);
    assert_eq!(b[104..112], 45u64.to_le_bytes());
    assert_eq!(b[112..116], 7u32.to_le_bytes());
    assert_eq!(b[120..128], 60u64.to_le_bytes());
    assert!(b[128..CRC_OFFSET].iter().all(|&x| x == 0));
    assert_eq!(cp.slinks.get(7), Some(60));
    assert_eq!(cp.slinks.get(2), None);
    // The successor carries the positions on.
    assert_eq!(cp.successor().unwrap().slinks, cp.slinks);
}

#[test]
fn slink_positions_without_table_read_as_none() {
    // A checkpoint written before the table existed: zeroes from 88 on.
    let b = encoded(&sample());
    let cp = Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 0).unwrap();
    assert!(cp.slinks.is_empty());
    assert_eq!(cp.slinks.get(1), None);
}

#[test]
fn slink_positions_insert() {
    let mut p = SlinkPositions::new();
    assert!(!p.insert(0, 5), "slink 0 is the local site");
    assert!(!p.insert(2048, 5));
    assert!(!p.insert(3, 0));
    assert!(p.insert(3, 5));
    assert!(p.insert(3, 9));
    assert_eq!((p.len(), p.get(3)), (1, Some(9)));
    for nr in (100..100 + MAX_SLINK_POSITIONS as u32 - 1).rev() {
        assert!(p.insert(nr, u64::from(nr)));
    }
    assert_eq!(p.len(), MAX_SLINK_POSITIONS);
    assert!(!p.insert(2, 1), "full");
    assert!(p.insert(3, 10), "an update fits a full table");
    let nrs: std::vec::Vec<u32> = p.iter().map(|(nr, _)| nr).collect();
    assert!(nrs.windows(2).all(|w| w[0] < w[1]));
    let cp = Checkpoint {
        slinks: p,
        ..sample()
    };
    assert_eq!(
        Checkpoint::decode::<SoftCrc>(&encoded(&cp), &super::UUID, 0),
        Ok(cp)
    );
}

/// `base` with `edit` applied and sealed again, decoded.
fn decode_edited(base: &Block, edit: &dyn Fn(&mut Block)) -> Result<Checkpoint, FormatError> {
    let mut b = *base;
    edit(&mut b);
    crate::logic::replog::checksum::seal::<SoftCrc>(&mut b);
    Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 0)
}

#[test]
fn slink_positions_refusals() {
    let base = encoded(&Checkpoint {
        slinks: positions(&[(1, 45), (7, 60)]),
        ..sample()
    });
    let refused = |edit: &dyn Fn(&mut Block)| decode_edited(&base, edit);
    let slinks = Err(FormatError::CheckpointSlinks);
    assert_eq!(
        refused(&|b| b[88..92].copy_from_slice(&33u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[88..92].copy_from_slice(&u32::MAX.to_le_bytes())),
        slinks
    );
    assert_eq!(refused(&|b| b[92] = 1), slinks);
    assert_eq!(refused(&|b| b[100] = 1), slinks);
    // Link 0, links out of order or twice, past 2047, sequence 0.
    assert_eq!(
        refused(&|b| b[96..100].copy_from_slice(&0u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[112..116].copy_from_slice(&1u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[96..100].copy_from_slice(&8u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[112..116].copy_from_slice(&2048u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[104..112].copy_from_slice(&0u64.to_le_bytes())),
        slinks
    );
    // A count below the records written leaves the rest unread.
    let one = refused(&|b| b[88..92].copy_from_slice(&1u32.to_le_bytes())).unwrap();
    assert_eq!(one.slinks, positions(&[(1, 45)]));
}

#[test]
fn lost_devices_layout() {
    let mut p = positions(&[(1, 45)]);
    assert!(p.insert_lost(3, 9));
    assert!(p.insert_lost(1, 2));
    assert!(p.insert_lost(3, 0));
    assert!(p.insert_lost(1, 2), "a pair already there");
    assert!(!p.insert_lost(0, 1), "slink 0 is the local site");
    assert!(!p.insert_lost(2048, 1));
    let cp = Checkpoint {
        slinks: p,
        ..sample()
    };
    let b = encoded(&cp);
    assert_eq!(Checkpoint::decode::<SoftCrc>(&b, &super::UUID, 0), Ok(cp));
    assert_eq!(b[92..96], 3u32.to_le_bytes());
    // Ascending by link, then device, after the 32 position records.
    let at = 96 + 16 * MAX_SLINK_POSITIONS;
    assert_eq!(at, 608);
    let want: [(u32, u32); 3] = [(1, 2), (3, 0), (3, 9)];
    for (i, (nr, dev)) in want.iter().enumerate() {
        assert_eq!(b[at + 8 * i..at + 8 * i + 4], nr.to_le_bytes());
        assert_eq!(b[at + 8 * i + 4..at + 8 * i + 8], dev.to_le_bytes());
    }
    assert!(b[at + 24..CRC_OFFSET].iter().all(|&x| x == 0));
    assert_eq!(cp.slinks.lost().collect::<std::vec::Vec<_>>(), want);
    assert_eq!(cp.successor().unwrap().slinks, cp.slinks);
    // Full table.
    let mut full = SlinkPositions::new();
    for dev in 0..MAX_LOST_DEVICES as u32 {
        assert!(full.insert_lost(5, dev));
    }
    assert!(!full.insert_lost(4, 0), "full");
    assert!(
        full.insert_lost(5, 0),
        "a pair already there fits a full table"
    );
}

#[test]
fn lost_devices_refusals() {
    let mut p = positions(&[(1, 45)]);
    assert!(p.insert_lost(1, 2));
    assert!(p.insert_lost(3, 9));
    let base = encoded(&Checkpoint {
        slinks: p,
        ..sample()
    });
    let refused = |edit: &dyn Fn(&mut Block)| decode_edited(&base, edit);
    let slinks = Err(FormatError::CheckpointSlinks);
    assert_eq!(
        refused(&|b| b[92..96].copy_from_slice(&65u32.to_le_bytes())),
        slinks
    );
    // Link 0, past 2047, out of order, twice.
    assert_eq!(
        refused(&|b| b[608..612].copy_from_slice(&0u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| b[616..620].copy_from_slice(&2048u32.to_le_bytes())),
        slinks
    );
    assert_eq!(
        refused(&|b| {
            b[616..620].copy_from_slice(&1u32.to_le_bytes());
            b[620..624].copy_from_slice(&1u32.to_le_bytes());
        }),
        slinks
    );
    assert_eq!(
        refused(&|b| {
            b[616..620].copy_from_slice(&1u32.to_le_bytes());
            b[620..624].copy_from_slice(&2u32.to_le_bytes());
        }),
        slinks
    );
    // A count past the records written reads a zero record: link 0.
    assert_eq!(
        refused(&|b| b[92..96].copy_from_slice(&3u32.to_le_bytes())),
        slinks
    );
}

proptest::proptest! {
    #[test]
    fn lost_devices_round_trip(pairs in proptest::collection::vec((0u32..2100, 0u32..8), 0..80)) {
        let mut p = SlinkPositions::new();
        let mut model = std::collections::BTreeSet::new();
        for &(nr, dev) in &pairs {
            let fits = model.contains(&(nr, dev)) || model.len() < MAX_LOST_DEVICES;
            let valid = (1..2048).contains(&nr);
            proptest::prop_assert_eq!(p.insert_lost(nr, dev), valid && fits);
            if valid && fits {
                model.insert((nr, dev));
            }
        }
        let got: std::vec::Vec<(u32, u32)> = p.lost().collect();
        let want: std::vec::Vec<(u32, u32)> = model.into_iter().collect();
        proptest::prop_assert_eq!(got, want);
        let cp = Checkpoint { slinks: p, ..sample() };
        proptest::prop_assert_eq!(Checkpoint::decode::<SoftCrc>(&encoded(&cp), &super::UUID, 0), Ok(cp));
    }

    #[test]
    fn slink_positions_round_trip(records in proptest::collection::vec((0u32..2100, 0u64..1000), 0..48)) {
        let mut p = SlinkPositions::new();
        let mut model = std::collections::BTreeMap::new();
        for &(nr, seq) in &records {
            let fits = model.contains_key(&nr) || model.len() < MAX_SLINK_POSITIONS;
            let valid = (1..2048).contains(&nr) && seq >= 1;
            proptest::prop_assert_eq!(p.insert(nr, seq), valid && fits);
            if valid && fits {
                model.insert(nr, seq);
            }
        }
        let got: std::vec::Vec<(u32, u64)> = p.iter().collect();
        let want: std::vec::Vec<(u32, u64)> = model.into_iter().collect();
        proptest::prop_assert_eq!(got, want);
        let cp = Checkpoint { slinks: p, ..sample() };
        proptest::prop_assert_eq!(Checkpoint::decode::<SoftCrc>(&encoded(&cp), &super::UUID, 0), Ok(cp));
    }
}
