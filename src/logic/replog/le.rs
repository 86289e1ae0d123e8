//! Little-endian fields at fixed byte offsets of a block.
//!
//! Offsets are constants of the format; an offset past the block reads as
//! zero and writes nothing, so no field access can panic.

use super::geometry::Block;

/// The `N` bytes at `off`.
pub(crate) fn bytes<const N: usize>(b: &Block, off: usize) -> [u8; N] {
    match b.get(off..).and_then(|s| s.first_chunk::<N>()) {
        Some(chunk) => *chunk,
        None => [0; N],
    }
}

/// Stores `value` at `off`.
pub(crate) fn put_bytes<const N: usize>(b: &mut Block, off: usize, value: &[u8; N]) {
    if let Some(chunk) = b.get_mut(off..).and_then(|s| s.first_chunk_mut::<N>()) {
        *chunk = *value;
    }
}

/// The little-endian `u32` at `off`.
pub(crate) fn u32_at(b: &Block, off: usize) -> u32 {
    u32::from_le_bytes(bytes(b, off))
}

/// The little-endian `u64` at `off`.
pub(crate) fn u64_at(b: &Block, off: usize) -> u64 {
    u64::from_le_bytes(bytes(b, off))
}

/// Stores `value` little-endian at `off`.
pub(crate) fn put_u32(b: &mut Block, off: usize, value: u32) {
    put_bytes(b, off, &value.to_le_bytes());
}

/// Stores `value` little-endian at `off`.
pub(crate) fn put_u64(b: &mut Block, off: usize, value: u64) {
    put_bytes(b, off, &value.to_le_bytes());
}
