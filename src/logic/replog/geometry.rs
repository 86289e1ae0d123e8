//! Where things are in a replication log: 4 KiB blocks, counted from the
//! log's start (`dev_start` of the table), and the size rules of the ring.
//!
//! The block size is 4 KiB whatever the device's sector size, so that every
//! block write is aligned on devices with 4 KiB sectors.

use super::error::FormatError;

/// Bytes in a log block.
pub const BLOCK_SIZE: usize = 4096;

/// One log block, as read from or written to the device.
pub type Block = [u8; BLOCK_SIZE];

/// Bytes in a sector, the unit of device-mapper and of table sizes.
pub const SECTOR_SIZE: u64 = 512;

/// Sectors in a log block.
pub const SECTORS_PER_BLOCK: u64 = 8;

/// Block of the superblock.
pub const SUPERBLOCK_BLOCK: u64 = 0;

/// Blocks of the two checkpoint slots; slot `generation % 2` is written.
pub const CHECKPOINT_BLOCKS: [u64; 2] = [1, 2];

/// First block of the ring in format version 1 (after the metadata).
pub const RING_START: u64 = 3;

/// Smallest ring, in blocks: room for a few entries. (The table grammar
/// asks for more: `REPLOG_MIN_SECTORS`.)
pub const MIN_RING_BLOCKS: u64 = 8;

/// Largest ring, in blocks: every block's sector number fits in 64 bits.
pub const MAX_RING_BLOCKS: u64 = u64::MAX / SECTORS_PER_BLOCK - RING_START;

/// The ring size, in blocks, of a log of `log_sectors` sectors (the table's
/// size): whole blocks after the metadata. A partial last block is unused.
pub fn ring_blocks_for_sectors(log_sectors: u64) -> Result<u64, FormatError> {
    let blocks = log_sectors / SECTORS_PER_BLOCK;
    match blocks.checked_sub(RING_START) {
        Some(ring) if ring >= MIN_RING_BLOCKS => Ok(ring),
        _ => Err(FormatError::LogTooSmall),
    }
}

/// Sectors a log with a ring of `ring_blocks` blocks occupies on its device
/// (metadata included), or `None` if that does not fit in 64 bits.
pub fn log_sectors_for_ring(ring_blocks: u64) -> Option<u64> {
    ring_blocks
        .checked_add(RING_START)?
        .checked_mul(SECTORS_PER_BLOCK)
}

/// Checks a ring size read from disk or asked for by a resize.
pub fn check_ring_blocks(ring_blocks: u64) -> Result<(), FormatError> {
    if ring_blocks < MIN_RING_BLOCKS {
        Err(FormatError::LogTooSmall)
    } else if ring_blocks > MAX_RING_BLOCKS {
        Err(FormatError::LogTooLarge)
    } else {
        Ok(())
    }
}

/// The device sector of log block `block` for a log starting at sector
/// `dev_start`, or `None` past the 64-bit sector range.
pub fn block_sector(dev_start: u64, block: u64) -> Option<u64> {
    block.checked_mul(SECTORS_PER_BLOCK)?.checked_add(dev_start)
}

/// Checks that a ring of `ring_blocks` starting at log block `ring_start`
/// fits in the `avail_sectors` the device has after the log start.
pub fn check_fits(
    ring_start: u64,
    ring_blocks: u64,
    avail_sectors: u64,
) -> Result<(), FormatError> {
    let end = ring_start
        .checked_add(ring_blocks)
        .and_then(|blocks| blocks.checked_mul(SECTORS_PER_BLOCK))
        .ok_or(FormatError::LogTooLarge)?;
    if end > avail_sectors {
        return Err(FormatError::LogBeyondDevice);
    }
    Ok(())
}
