//! Formatting a new log: three block writes, superblock last.
//!
//! The ring is not cleared: whatever it holds carries another UUID (or
//! none) and ends recovery's scan at once. The empty checkpoint slot is
//! zeroed so that a check reports it as empty rather than foreign. Each
//! write must be durable before the next (the kernel writes with FUA), so
//! a crash during format leaves either no superblock or a whole log.

use super::checkpoint::Checkpoint;
use super::checksum::Crc32c;
use super::error::{LogError, WriteError};
use super::geometry::{check_ring_blocks, Block, SUPERBLOCK_BLOCK};
use super::superblock::Superblock;

/// Writes log blocks; `block` counts 4 KiB blocks from the log start.
pub trait BlockWriter {
    /// Writes `buf` to block `block`, durably.
    fn write(&mut self, block: u64, buf: &Block) -> Result<(), WriteError>;
}

/// Formats a log with a ring of `ring_blocks` blocks and the new log's
/// `uuid` (random, from the caller). Returns its superblock and first
/// checkpoint. `buf` is scratch space.
pub fn format<C: Crc32c, W: BlockWriter>(
    writer: &mut W,
    buf: &mut Block,
    uuid: [u8; 16],
    ring_blocks: u64,
) -> Result<(Superblock, Checkpoint), LogError> {
    check_ring_blocks(ring_blocks)?;
    let sb = Superblock::new(uuid);
    let cp = Checkpoint::initial(ring_blocks);
    let other = Checkpoint {
        generation: cp.generation.saturating_add(1),
        ..cp
    };
    let write = |w: &mut W, block: u64, buf: &Block| {
        w.write(block, buf)
            .map_err(|error| LogError::Write { block, error })
    };
    buf.fill(0);
    write(writer, other.block(), buf)?;
    cp.encode::<C>(&sb.uuid, buf);
    write(writer, cp.block(), buf)?;
    sb.encode::<C>(buf);
    write(writer, SUPERBLOCK_BLOCK, buf)?;
    Ok((sb, cp))
}
