//! The self-describing sector record.
//!
//! Every 512-byte sector of a written block is one record (little-endian):
//!
//! ```text
//!   0  magic "DMRCRSH1"
//!   8  seq          u64  sequence number of the write
//!  16  dev          u32  device index (position of --dev)
//!  20  sector       u32  sector index within the block (0..7)
//!  24  block        u64  block number on the device
//!  32  first        u64  first block of the write
//!  40  nblocks      u32  blocks in the write
//!  44  index        u32  block - first
//!  48  payload      456 bytes derived from (seq, dev, block, sector)
//! 504  checksum     u64  over bytes 0..504
//! ```

use crate::rng::{mix, Rng};
use crate::{BLOCK_SIZE, SECTORS_PER_BLOCK, SECTOR_SIZE};

/// First eight bytes of every record.
pub const MAGIC: [u8; 8] = *b"DMRCRSH1";
const PAYLOAD: std::ops::Range<usize> = 48..504;
const CSUM: usize = 504;

/// What a record says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sequence number of the write.
    pub seq: u64,
    /// Device index.
    pub dev: u32,
    /// Block number on the device.
    pub block: u64,
    /// Sector index within the block.
    pub sector: u32,
    /// First block of the write.
    pub first: u64,
    /// Blocks in the write.
    pub nblocks: u32,
}

/// What a sector holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sector {
    /// 512 zero bytes: never written.
    Zero,
    /// A valid record.
    Record(Header),
    /// The magic is there but the checksum, the payload or the fields do
    /// not agree: a damaged record (`seq` as read, for the report).
    Damaged { seq: u64 },
    /// Neither zeroes nor a record.
    Garbage,
}

fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The checksum of a record: a multiply-rotate hash of its first 504 bytes.
pub fn checksum(sector: &[u8]) -> u64 {
    let mut h: u64 = 0x6a09_e667_f3bc_c908;
    for w in sector[..CSUM].chunks_exact(8) {
        let w = u64::from_le_bytes(w.try_into().unwrap());
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
    }
    mix(h)
}

fn payload_rng(h: &Header) -> Rng {
    Rng::new(mix(h.seq) ^ mix((h.dev as u64) << 56 ^ h.block << 3 ^ h.sector as u64))
}

/// Writes the record for `h` into `out` (one sector).
pub fn encode_sector(h: &Header, out: &mut [u8]) {
    assert_eq!(out.len(), SECTOR_SIZE);
    out[0..8].copy_from_slice(&MAGIC);
    out[8..16].copy_from_slice(&h.seq.to_le_bytes());
    out[16..20].copy_from_slice(&h.dev.to_le_bytes());
    out[20..24].copy_from_slice(&h.sector.to_le_bytes());
    out[24..32].copy_from_slice(&h.block.to_le_bytes());
    out[32..40].copy_from_slice(&h.first.to_le_bytes());
    out[40..44].copy_from_slice(&h.nblocks.to_le_bytes());
    out[44..48].copy_from_slice(&((h.block - h.first) as u32).to_le_bytes());
    let mut rng = payload_rng(h);
    for w in out[PAYLOAD].chunks_exact_mut(8) {
        w.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let c = checksum(out);
    out[CSUM..].copy_from_slice(&c.to_le_bytes());
}

/// Fills `buf` (`nblocks` blocks) with the records of write `seq` of
/// blocks `first..first + nblocks` on device `dev`.
pub fn encode_write(seq: u64, dev: u32, first: u64, nblocks: u32, buf: &mut [u8]) {
    assert_eq!(buf.len(), nblocks as usize * BLOCK_SIZE);
    for (i, sector) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
        let h = Header {
            seq,
            dev,
            block: first + (i / SECTORS_PER_BLOCK) as u64,
            sector: (i % SECTORS_PER_BLOCK) as u32,
            first,
            nblocks,
        };
        encode_sector(&h, sector);
    }
}

/// Reads one sector.
pub fn decode_sector(s: &[u8]) -> Sector {
    assert_eq!(s.len(), SECTOR_SIZE);
    if s[0..8] != MAGIC {
        if s.iter().all(|&b| b == 0) {
            return Sector::Zero;
        }
        return Sector::Garbage;
    }
    let seq = get64(s, 8);
    let h = Header {
        seq,
        dev: get32(s, 16),
        sector: get32(s, 20),
        block: get64(s, 24),
        first: get64(s, 32),
        nblocks: get32(s, 40),
    };
    let index = get32(s, 44) as u64;
    let damaged = Sector::Damaged { seq };
    if checksum(s) != get64(s, CSUM) {
        return damaged;
    }
    if h.sector as usize >= SECTORS_PER_BLOCK
        || h.block < h.first
        || h.block - h.first != index
        || index >= h.nblocks as u64
    {
        return damaged;
    }
    let mut rng = payload_rng(&h);
    for w in s[PAYLOAD].chunks_exact(8) {
        if u64::from_le_bytes(w.try_into().unwrap()) != rng.next_u64() {
            return damaged;
        }
    }
    Sector::Record(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_of(seq: u64, dev: u32, first: u64, n: u32) -> Vec<u8> {
        let mut b = vec![0; n as usize * BLOCK_SIZE];
        encode_write(seq, dev, first, n, &mut b);
        b
    }

    #[test]
    fn round_trip_every_sector() {
        let b = block_of(77, 1, 100, 3);
        for (i, s) in b.chunks_exact(SECTOR_SIZE).enumerate() {
            let h = match decode_sector(s) {
                Sector::Record(h) => h,
                other => panic!("sector {i}: {other:?}"),
            };
            assert_eq!(h.seq, 77);
            assert_eq!(h.dev, 1);
            assert_eq!(h.first, 100);
            assert_eq!(h.nblocks, 3);
            assert_eq!(h.block, 100 + (i / 8) as u64);
            assert_eq!(h.sector, (i % 8) as u32);
        }
    }

    #[test]
    fn zero_and_garbage() {
        assert_eq!(decode_sector(&[0; 512]), Sector::Zero);
        let mut s = [0u8; 512];
        s[300] = 1;
        assert_eq!(decode_sector(&s), Sector::Garbage);
        assert_eq!(decode_sector(&[0xff; 512]), Sector::Garbage);
    }

    #[test]
    fn any_flipped_bit_is_damage() {
        let b = block_of(5, 0, 9, 1);
        let s = &b[..SECTOR_SIZE];
        for byte in 8..SECTOR_SIZE {
            let mut t = s.to_vec();
            t[byte] ^= 0x10;
            match decode_sector(&t) {
                Sector::Damaged { .. } => {}
                other => panic!("byte {byte}: {other:?}"),
            }
        }
    }

    #[test]
    fn payload_depends_on_seq_and_block() {
        let a = block_of(5, 0, 9, 1);
        let b = block_of(6, 0, 9, 1);
        let c = block_of(5, 0, 10, 1);
        let d = block_of(5, 1, 9, 1);
        assert_ne!(a[PAYLOAD], b[PAYLOAD]);
        assert_ne!(a[PAYLOAD], c[PAYLOAD]);
        assert_ne!(a[PAYLOAD], d[PAYLOAD]);
        // Sectors of one block differ too.
        assert_ne!(
            a[PAYLOAD],
            a[SECTOR_SIZE + PAYLOAD.start..SECTOR_SIZE + PAYLOAD.end]
        );
    }

    #[test]
    fn a_record_moved_with_its_checksum_fixed_is_still_caught() {
        // Re-labelling a record as another block (as a misdirected write
        // with a recomputed checksum would) breaks the payload.
        let mut s = block_of(5, 0, 9, 1)[..SECTOR_SIZE].to_vec();
        s[24..32].copy_from_slice(&10u64.to_le_bytes());
        s[32..40].copy_from_slice(&10u64.to_le_bytes());
        let c = checksum(&s);
        s[CSUM..].copy_from_slice(&c.to_le_bytes());
        assert_eq!(decode_sector(&s), Sector::Damaged { seq: 5 });
    }
}
