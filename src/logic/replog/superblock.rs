//! The superblock (log block 0): what the log is, written once by format.
//!
//! Everything that changes (ring size, head, tail) lives in the
//! checkpoints, which have two slots; the superblock has one copy and is
//! therefore never rewritten, so no crash can tear it.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `DMREPLSB` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | block size (4096) |
//! | 16 | 16 | log UUID |
//! | 32 | 8 | first ring block (3) |
//! | 40..4092 | | zero |
//! | 4092 | 4 | CRC-32C of bytes 0..4092 |
//!
//! Magic and version keep their offsets in every version, so a reader
//! refuses an unknown version by name instead of calling it corrupt.

use super::checksum::{self, Crc32c};
use super::error::FormatError;
use super::geometry::{Block, BLOCK_SIZE, RING_START};
use super::le;

/// The superblock's magic.
pub const SUPERBLOCK_MAGIC: [u8; 8] = *b"DMREPLSB";

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: usize = 0;
const VERSION: usize = 8;
const BLOCK_SIZE_OFF: usize = 12;
const UUID: usize = 16;
const RING_START_OFF: usize = 32;

/// The decoded superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Identifies this log: every checkpoint and entry carries it, so
    /// blocks left by an earlier log on the same device are never taken
    /// for this one's.
    pub uuid: [u8; 16],
    /// Log block where the ring starts.
    pub ring_start: u64,
}

impl Superblock {
    /// A new log's superblock (the UUID comes from the caller's RNG).
    pub fn new(uuid: [u8; 16]) -> Superblock {
        Superblock {
            uuid,
            ring_start: RING_START,
        }
    }

    /// Writes the superblock into `b` (the whole block is overwritten).
    pub fn encode<C: Crc32c>(&self, b: &mut Block) {
        b.fill(0);
        le::put_bytes(b, MAGIC, &SUPERBLOCK_MAGIC);
        le::put_u32(b, VERSION, FORMAT_VERSION);
        le::put_u32(b, BLOCK_SIZE_OFF, BLOCK_SIZE as u32);
        le::put_bytes(b, UUID, &self.uuid);
        le::put_u64(b, RING_START_OFF, self.ring_start);
        checksum::seal::<C>(b);
    }

    /// Reads a superblock, checking magic, version, checksum and layout in
    /// that order.
    pub fn decode<C: Crc32c>(b: &Block) -> Result<Superblock, FormatError> {
        if le::bytes::<8>(b, MAGIC) != SUPERBLOCK_MAGIC {
            return Err(FormatError::SuperblockMagic);
        }
        if le::u32_at(b, VERSION) != FORMAT_VERSION {
            return Err(FormatError::SuperblockVersion);
        }
        if !checksum::is_sealed::<C>(b) {
            return Err(FormatError::SuperblockChecksum);
        }
        if le::u32_at(b, BLOCK_SIZE_OFF) != BLOCK_SIZE as u32 {
            return Err(FormatError::SuperblockBlockSize);
        }
        let ring_start = le::u64_at(b, RING_START_OFF);
        if ring_start < RING_START {
            return Err(FormatError::SuperblockRingStart);
        }
        Ok(Superblock {
            uuid: le::bytes(b, UUID),
            ring_start,
        })
    }

    /// The version field of a block with the superblock magic (for
    /// reports about unsupported versions).
    pub fn raw_version(b: &Block) -> u32 {
        le::u32_at(b, VERSION)
    }
}
