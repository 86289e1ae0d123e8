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

/// The reflected CRC-32C polynomial.
const POLY: u32 = 0x82f6_3b78;

/// Product of `a` and `b` in GF(2)[x] modulo the CRC-32C polynomial, in
/// the register's reflected convention (bit 31 is x^0, bit 0 is x^31).
const fn gf2_multiply(mut a: u32, b: u32) -> u32 {
    let (mut product, mut bx, mut i) = (0, b, 0u32);
    while i < 32 {
        // Coefficient i of `a`, times `b * x^i`.
        if a & 0x8000_0000 != 0 {
            product ^= bx;
        }
        a <<= 1;
        bx = times_x(bx);
        i = i.saturating_add(1);
    }
    product
}

/// `p * x` modulo the polynomial: one zero bit fed into the register.
const fn times_x(p: u32) -> u32 {
    (p >> 1) ^ if p & 1 != 0 { POLY } else { 0 }
}

/// A block's zero tail, for [`seal_zero_tail`]: feeding `n` zero bytes
/// into the register multiplies it by x^(8n), which is computed once here
/// (at compile time for a constant), not per block.
pub(crate) struct ZeroTail {
    used: usize,
    factor: u32,
}

impl ZeroTail {
    /// The tail of a block whose bytes from `used` to the checksum are zero.
    pub(crate) const fn new(used: usize) -> ZeroTail {
        let used = if used < CRC_OFFSET { used } else { CRC_OFFSET };
        // x^(8n) modulo the polynomial, from x^0 (bit 31).
        let mut factor = 0x8000_0000u32;
        // `used <= CRC_OFFSET` (above), and the bits of a block fit.
        let mut bits = CRC_OFFSET.saturating_sub(used).saturating_mul(8);
        while bits > 0 {
            factor = times_x(factor);
            bits = bits.saturating_sub(1);
        }
        ZeroTail { used, factor }
    }

    /// The register after feeding the tail's zeros into `reg`.
    pub(crate) const fn shift(&self, reg: u32) -> u32 {
        gf2_multiply(reg, self.factor)
    }
}

/// [`seal`] for a block known to be zero from `tail.used` up to the
/// checksum: only the used bytes are read. An entry header uses 512 of
/// its 4092 bytes, so this is most of the cost of writing one.
pub(crate) fn seal_zero_tail<C: Crc32c>(b: &mut Block, tail: &ZeroTail) {
    let head = b.get(..tail.used).unwrap_or(&[]);
    let crc = !tail.shift(C::crc32c(!0, head));
    le::put_u32(b, CRC_OFFSET, crc);
}

/// Whether the block's stored checksum matches its contents.
pub(crate) fn is_sealed<C: Crc32c>(b: &Block) -> bool {
    le::u32_at(b, CRC_OFFSET) == block_crc::<C>(b)
}
