//! Checkpoints: round trip, slots, and every refusal.

use super::SoftCrc;
use crate::logic::replog::checkpoint::{newest, slot_block, Checkpoint, CHECKPOINT_MAGIC};
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
