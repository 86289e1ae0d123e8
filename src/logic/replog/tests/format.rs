//! Formatting: the writes, their order, and the result.

use super::{MemLog, SoftCrc, UUID};
use crate::logic::replog::checkpoint::Checkpoint;
use crate::logic::replog::geometry::{log_sectors_for_ring, ring_blocks_for_sectors, BLOCK_SIZE};
use crate::logic::replog::recovery::{read_checkpoints, read_superblock};
use crate::logic::replog::{format, FormatError, LogError, Superblock, WriteError};

#[test]
fn writes_the_empty_slot_the_checkpoint_then_the_superblock() {
    let mut mem = MemLog::new(20);
    let mut buf = [0; BLOCK_SIZE];
    let (sb, cp) = format::<SoftCrc, _>(&mut mem, &mut buf, UUID, 17).unwrap();
    assert_eq!(mem.writes, [1, 2, 0]);
    assert_eq!(sb, Superblock::new(UUID));
    assert_eq!(cp, Checkpoint::initial(17));
    assert_eq!(read_superblock::<SoftCrc, _>(&mut mem, &mut buf), Ok(sb));
    let slots = read_checkpoints::<SoftCrc, _>(&mut mem, &mut buf, &sb);
    assert_eq!(
        slots,
        [Err(LogError::Format(FormatError::CheckpointEmpty)), Ok(cp)]
    );
}

#[test]
fn refuses_a_tiny_ring_and_reports_write_errors() {
    let mut mem = MemLog::new(20);
    let mut buf = [0; BLOCK_SIZE];
    assert_eq!(
        format::<SoftCrc, _>(&mut mem, &mut buf, UUID, 7),
        Err(LogError::Format(FormatError::LogTooSmall))
    );
    assert!(mem.writes.is_empty());
    let mut tiny = MemLog::new(1);
    assert_eq!(
        format::<SoftCrc, _>(&mut tiny, &mut buf, UUID, 8),
        Err(LogError::Write {
            block: 1,
            error: WriteError(28)
        })
    );
}

#[test]
fn sizes_in_sectors() {
    assert_eq!(ring_blocks_for_sectors(2048), Ok(253));
    assert_eq!(ring_blocks_for_sectors(2055), Ok(253));
    assert_eq!(ring_blocks_for_sectors(88), Ok(8));
    assert_eq!(ring_blocks_for_sectors(87), Err(FormatError::LogTooSmall));
    assert_eq!(ring_blocks_for_sectors(0), Err(FormatError::LogTooSmall));
    assert_eq!(log_sectors_for_ring(253), Some(2048));
    assert_eq!(log_sectors_for_ring(u64::MAX), None);
    use crate::logic::replog::geometry::{block_sector, check_fits, MAX_RING_BLOCKS};
    assert_eq!(block_sector(100, 3), Some(124));
    assert_eq!(block_sector(7, u64::MAX / 8), Some(u64::MAX));
    assert_eq!(block_sector(8, u64::MAX / 8), None);
    assert_eq!(check_fits(3, 253, 2048), Ok(()));
    assert_eq!(check_fits(3, 253, 2047), Err(FormatError::LogBeyondDevice));
    assert_eq!(
        check_fits(3, u64::MAX, u64::MAX),
        Err(FormatError::LogTooLarge)
    );
    assert!(log_sectors_for_ring(MAX_RING_BLOCKS).is_some());
}
