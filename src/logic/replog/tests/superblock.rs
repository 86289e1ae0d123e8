//! The superblock: round trip and every refusal.

use super::SoftCrc;
use crate::logic::replog::checksum::CRC_OFFSET;
use crate::logic::replog::geometry::{Block, BLOCK_SIZE, RING_START};
use crate::logic::replog::superblock::{Superblock, FORMAT_VERSION, SUPERBLOCK_MAGIC};
use crate::logic::replog::FormatError;

fn encoded(sb: &Superblock) -> Block {
    let mut b = [0xa5; BLOCK_SIZE];
    sb.encode::<SoftCrc>(&mut b);
    b
}

/// Re-seals `b` after an edit, so that only the edited field is wrong.
fn reseal(b: &mut Block) {
    let crc = crate::logic::replog::checksum::crc32c::<SoftCrc>(&b[..CRC_OFFSET]);
    b[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn round_trip_and_layout() {
    let sb = Superblock::new(super::UUID);
    let b = encoded(&sb);
    assert_eq!(Superblock::decode::<SoftCrc>(&b), Ok(sb));
    assert_eq!(&b[0..8], b"DMREPLSB");
    assert_eq!(&b[0..8], &SUPERBLOCK_MAGIC);
    assert_eq!(b[8..12], FORMAT_VERSION.to_le_bytes());
    assert_eq!(b[12..16], 4096u32.to_le_bytes());
    assert_eq!(&b[16..32], &super::UUID);
    assert_eq!(b[32..40], RING_START.to_le_bytes());
    assert!(b[40..CRC_OFFSET].iter().all(|&x| x == 0));
    let crc = crate::logic::replog::checksum::crc32c::<SoftCrc>(&b[..CRC_OFFSET]);
    assert_eq!(b[CRC_OFFSET..], crc.to_le_bytes());
}

#[test]
fn bad_magic_means_no_log() {
    let mut b = encoded(&Superblock::new(super::UUID));
    b[0] = b'X';
    assert_eq!(
        Superblock::decode::<SoftCrc>(&b),
        Err(FormatError::SuperblockMagic)
    );
    assert_eq!(
        Superblock::decode::<SoftCrc>(&[0; BLOCK_SIZE]),
        Err(FormatError::SuperblockMagic)
    );
}

#[test]
fn unknown_version_is_refused_before_the_checksum() {
    let mut b = encoded(&Superblock::new(super::UUID));
    b[8..12].copy_from_slice(&2u32.to_le_bytes());
    // Not resealed: a version-2 block need not follow version 1's rules.
    assert_eq!(
        Superblock::decode::<SoftCrc>(&b),
        Err(FormatError::SuperblockVersion)
    );
    assert_eq!(Superblock::raw_version(&b), 2);
    b[8..12].copy_from_slice(&0u32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(
        Superblock::decode::<SoftCrc>(&b),
        Err(FormatError::SuperblockVersion)
    );
}

#[test]
fn any_flipped_bit_fails_the_checksum() {
    let good = encoded(&Superblock::new(super::UUID));
    for offset in [16, 31, 40, 1000, 4091, 4092, 4095] {
        let mut b = good;
        b[offset] ^= 0x10;
        assert_eq!(
            Superblock::decode::<SoftCrc>(&b),
            Err(FormatError::SuperblockChecksum),
            "offset {offset}"
        );
    }
}

#[test]
fn layout_fields_are_checked() {
    let mut b = encoded(&Superblock::new(super::UUID));
    b[12..16].copy_from_slice(&512u32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(
        Superblock::decode::<SoftCrc>(&b),
        Err(FormatError::SuperblockBlockSize)
    );

    let sb = Superblock {
        uuid: super::UUID,
        ring_start: 2,
    };
    let b = encoded(&sb);
    assert_eq!(
        Superblock::decode::<SoftCrc>(&b),
        Err(FormatError::SuperblockRingStart)
    );

    let sb = Superblock {
        uuid: super::UUID,
        ring_start: 256,
    };
    assert_eq!(Superblock::decode::<SoftCrc>(&encoded(&sb)), Ok(sb));
}
