//! Entry headers and slink maps.

use super::SoftCrc;
use crate::logic::replog::checksum::CRC_OFFSET;
use crate::logic::replog::entry::{entry_blocks, EntryFlags, EntryHeader, Peek, ENTRY_MAGIC};
use crate::logic::replog::geometry::{Block, BLOCK_SIZE};
use crate::logic::replog::{FormatError, SlinkBitmap};
use crate::logic::slink::SlinkSet;

fn header(flags: EntryFlags, sectors: u32) -> EntryHeader {
    let mut slinks = SlinkBitmap::new();
    for s in [0, 9, 2047] {
        assert!(slinks.insert(s));
    }
    EntryHeader {
        seq: 77,
        epoch: 5,
        dev: 3,
        flags,
        sector: 123_456,
        sectors,
        data_crc: 0xdead_beef,
        incarnation: 4,
        slinks,
    }
}

fn encoded(h: &EntryHeader) -> Block {
    let mut b = [0x33; BLOCK_SIZE];
    h.encode::<SoftCrc>(&super::UUID, &mut b);
    b
}

#[test]
fn round_trip_and_layout() {
    let h = header(EntryFlags::FLUSH.with(EntryFlags::FUA), 9);
    let b = encoded(&h);
    assert_eq!(EntryHeader::decode::<SoftCrc>(&b, &super::UUID), Ok(h));
    assert_eq!(&b[0..8], &ENTRY_MAGIC);
    assert_eq!(&b[8..24], &super::UUID);
    assert_eq!(b[24..32], 77u64.to_le_bytes());
    assert_eq!(b[32..40], 5u64.to_le_bytes());
    assert_eq!(b[40..48], 123_456u64.to_le_bytes());
    assert_eq!(b[48..52], 9u32.to_le_bytes());
    assert_eq!(b[52..56], 3u32.to_le_bytes());
    assert_eq!(b[56..60], 3u32.to_le_bytes());
    assert_eq!(b[60..64], 0xdead_beefu32.to_le_bytes());
    assert_eq!(b[64..72], 4u64.to_le_bytes());
    assert!(b[72..256].iter().all(|&x| x == 0));
    // Slink n is bit n % 8 of byte 256 + n / 8.
    assert_eq!(b[256], 0b1);
    assert_eq!(b[257], 0b10);
    assert_eq!(b[511], 0b1000_0000);
    assert!(b[258..511].iter().all(|&x| x == 0));
    assert!(b[512..CRC_OFFSET].iter().all(|&x| x == 0));
}

#[test]
fn sizes_in_blocks() {
    let w = EntryFlags::empty();
    assert_eq!(entry_blocks(w, 1), 2);
    assert_eq!(entry_blocks(w, 8), 2);
    assert_eq!(entry_blocks(w, 9), 3);
    assert_eq!(entry_blocks(w, 2048), 257);
    assert_eq!(entry_blocks(EntryFlags::DISCARD, 1 << 20), 1);
    assert_eq!(entry_blocks(EntryFlags::WRITE_ZEROES, 8), 1);
    assert_eq!(entry_blocks(EntryFlags::FLUSH, 0), 1);
    assert_eq!(
        entry_blocks(w, u32::MAX),
        1 + (u64::from(u32::MAX) * 512).div_ceil(4096)
    );
    let h = header(w, 9);
    assert_eq!(
        (h.has_data(), h.data_bytes(), h.data_blocks(), h.blocks()),
        (true, 4608, 2, 3)
    );
    let d = header(EntryFlags::DISCARD, 9);
    assert_eq!((d.has_data(), d.data_bytes(), d.blocks()), (false, 0, 1));
}

#[test]
fn kinds_of_entry() {
    let ok = |flags, sectors| header(flags, sectors).validate();
    assert_eq!(ok(EntryFlags::empty(), 1), Ok(()));
    assert_eq!(ok(EntryFlags::FLUSH, 0), Ok(()));
    assert_eq!(ok(EntryFlags::FLUSH.with(EntryFlags::FUA), 0), Ok(()));
    assert_eq!(ok(EntryFlags::DISCARD, 8), Ok(()));
    assert_eq!(
        ok(EntryFlags::WRITE_ZEROES.with(EntryFlags::FUA), 8),
        Ok(())
    );
    assert_eq!(ok(EntryFlags(16), 8), Err(FormatError::EntryFlags));
    assert_eq!(
        ok(EntryFlags::DISCARD.with(EntryFlags::WRITE_ZEROES), 8),
        Err(FormatError::EntryKind)
    );
    assert_eq!(ok(EntryFlags::empty(), 0), Err(FormatError::EntryEmpty));
    assert_eq!(ok(EntryFlags::FUA, 0), Err(FormatError::EntryEmpty));
    assert_eq!(
        ok(EntryFlags::DISCARD.with(EntryFlags::FLUSH), 0),
        Err(FormatError::EntryEmpty)
    );
    let mut h = header(EntryFlags::empty(), 8);
    h.sector = u64::MAX - 7;
    assert_eq!(h.validate(), Err(FormatError::EntryRange));
    h.sector = u64::MAX - 8;
    assert_eq!(h.validate(), Ok(()));
}

#[test]
fn decode_refusals() {
    let h = header(EntryFlags::empty(), 8);
    let mut b = encoded(&h);
    b[3] = 0;
    assert_eq!(
        EntryHeader::decode::<SoftCrc>(&b, &super::UUID),
        Err(FormatError::EntryMagic)
    );
    let mut b = encoded(&h);
    b[300] ^= 4;
    assert_eq!(
        EntryHeader::decode::<SoftCrc>(&b, &super::UUID),
        Err(FormatError::EntryChecksum)
    );
    let b = encoded(&h);
    assert_eq!(
        EntryHeader::decode::<SoftCrc>(&b, b"another-log-uuid"),
        Err(FormatError::EntryOtherLog)
    );
    let b = encoded(&header(EntryFlags(1 << 31), 8));
    assert_eq!(
        EntryHeader::decode::<SoftCrc>(&b, &super::UUID),
        Err(FormatError::EntryFlags)
    );
}

#[test]
fn peek_reads_without_trusting() {
    let b = encoded(&header(EntryFlags::empty(), 8));
    let p = Peek::of::<SoftCrc>(&b);
    assert!(p.magic && p.sealed);
    assert_eq!((p.uuid, p.seq, p.incarnation), (super::UUID, 77, 4));
    let mut torn = b;
    torn[4000] = 1;
    let p = Peek::of::<SoftCrc>(&torn);
    assert!(p.magic && !p.sealed);
    assert_eq!(p.seq, 77);
    assert!(!Peek::of::<SoftCrc>(&[0; BLOCK_SIZE]).magic);
}

#[test]
fn slink_bitmap() {
    let mut m = SlinkBitmap::new();
    assert!(m.is_empty());
    assert!(m.insert(5) && m.insert(2047) && m.insert(0));
    assert!(!m.insert(2048));
    assert!(m.contains(5) && !m.contains(6) && !m.contains(4096));
    assert_eq!(m.iter().collect::<std::vec::Vec<_>>(), [0, 5, 2047]);
    m.remove(5);
    m.remove(9999);
    assert_eq!(m.iter().collect::<std::vec::Vec<_>>(), [0, 2047]);
    let mut set = SlinkSet::new();
    set.insert(0);
    set.insert(1000);
    let from = SlinkBitmap::from_set(&set);
    assert_eq!(from.iter().collect::<std::vec::Vec<_>>(), [0, 1000]);
    assert_eq!(SlinkBitmap::default(), SlinkBitmap::new());
}
