//! CRC-32C, supplied by the caller.
//!
//! The kernel has an accelerated `crc32c()`, host code the `crc32c` crate;
//! the format code takes either as a type parameter. Every metadata block
//! (superblock, checkpoint, entry header) keeps the checksum of its first
//! 4092 bytes in its last four, so a write torn anywhere in the block is
//! caught (the 2009 log checksummed only a pointer's worth of bytes).

use super::geometry::{Block, BLOCK_SIZE};
use super::le;

/// A CRC-32C (Castagnoli) register update, as the kernel's
/// `crc32c(seed, data, len)`: no inversion on entry or exit, so updates
/// chain (`crc32c(crc32c(s, a), b) == crc32c(s, ab)`).
pub trait Crc32c {
    /// Feeds `data` into a register holding `seed`; returns the register.
    fn crc32c(seed: u32, data: &[u8]) -> u32;

    /// Feeds `len` zero bytes. The kernel does this in logarithmic time
    /// (`__crc32c_le_shift`); this default feeds them.
    fn zeros(seed: u32, len: usize) -> u32 {
        const ZEROS: [u8; 256] = [0; 256];
        let (mut reg, mut left) = (seed, len);
        while left > 0 {
            let n = left.min(ZEROS.len());
            reg = Self::crc32c(reg, ZEROS.get(..n).unwrap_or(&[]));
            left -= n;
        }
        reg
    }
}

/// The standard CRC-32C of `data` (initial value and final XOR `!0`; the
/// check value of `b"123456789"` is `0xe306_9283`): what the format stores.
pub fn crc32c<C: Crc32c>(data: &[u8]) -> u32 {
    DataCrc::new().update::<C>(data).finish()
}

/// The CRC-32C of an entry's data, fed piece by piece (bio segments, log
/// blocks); equal to [`crc32c`] of the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataCrc(u32);

impl Default for DataCrc {
    fn default() -> Self {
        DataCrc::new()
    }
}

impl DataCrc {
    /// Nothing fed yet.
    pub const fn new() -> DataCrc {
        DataCrc(!0)
    }

    /// Feeds the next piece.
    #[must_use]
    pub fn update<C: Crc32c>(self, data: &[u8]) -> DataCrc {
        DataCrc(C::crc32c(self.0, data))
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> u32 {
        !self.0
    }
}

/// Byte offset of a metadata block's checksum.
pub const CRC_OFFSET: usize = BLOCK_SIZE - 4;

/// The checksum a metadata block should carry: CRC-32C of bytes 0..4092.
pub(crate) fn block_crc<C: Crc32c>(b: &Block) -> u32 {
    let body = b.get(..CRC_OFFSET).unwrap_or(&[]);
    crc32c::<C>(body)
}

/// Stores the block's checksum in its last four bytes.
pub(crate) fn seal<C: Crc32c>(b: &mut Block) {
    let crc = block_crc::<C>(b);
    le::put_u32(b, CRC_OFFSET, crc);
}

/// [`seal`] for a block known to be zero from byte `used` up to the
/// checksum: only the first `used` bytes are read, the zeros are shifted
/// in. An entry header uses 512 of its 4092 bytes, so this is most of the
/// cost of writing one.
pub(crate) fn seal_zero_tail<C: Crc32c>(b: &mut Block, used: usize) {
    let used = used.min(CRC_OFFSET);
    let head = b.get(..used).unwrap_or(&[]);
    let crc = !C::zeros(C::crc32c(!0, head), CRC_OFFSET - used);
    le::put_u32(b, CRC_OFFSET, crc);
}

/// Whether the block's stored checksum matches its contents.
pub(crate) fn is_sealed<C: Crc32c>(b: &Block) -> bool {
    le::u32_at(b, CRC_OFFSET) == block_crc::<C>(b)
}
