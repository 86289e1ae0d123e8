//! Opening a log, and what the table's `open`, `create` and `auto` do.

use super::checkpoint::{self, Checkpoint};
use super::checksum::Crc32c;
use super::error::{FormatError, LogError};
use super::geometry::{check_fits, Block};
use super::recovery::{
    read_checkpoints, read_superblock, scan, BlockReader, DataCheck, Recovered, Resume,
};
use super::superblock::Superblock;
use crate::logic::ringbuffer::OpenMode;

/// A log read and recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Its superblock.
    pub superblock: Superblock,
    /// The checkpoint recovery started from (the newest valid one).
    pub checkpoint: Checkpoint,
    /// Where the live entries are.
    pub recovered: Recovered,
}

impl Loaded {
    /// Starts the new run: see [`Recovered::resume`].
    pub fn resume(&self) -> Result<Resume, FormatError> {
        self.recovered.resume(&self.checkpoint)
    }
}

/// Reads the superblock and checkpoints of the log at the reader's block
/// 0, checks the ring fits in the `avail_sectors` after the log start, and
/// scans for the tail (checking data after the tail hint). An error tells
/// precisely why the log cannot be used.
pub fn load<C: Crc32c, R: BlockReader>(
    reader: &mut R,
    buf: &mut Block,
    avail_sectors: u64,
) -> Result<Loaded, LogError> {
    let superblock = read_superblock::<C, R>(reader, buf)?;
    let slots = read_checkpoints::<C, R>(reader, buf, &superblock);
    let checkpoint = *checkpoint::newest(&slots)?;
    check_fits(superblock.ring_start, checkpoint.ring_blocks, avail_sectors)?;
    let recovered = scan::<C, R>(
        reader,
        buf,
        &superblock,
        &checkpoint,
        DataCheck::AfterTailHint,
    );
    recovered.check()?;
    Ok(Loaded {
        superblock,
        checkpoint,
        recovered,
    })
}

/// What the constructor does with the log device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Use the log found.
    Open,
    /// Format a new log.
    Format,
}

/// Decides between opening and formatting, from the table's open mode and
/// the result of [`load`]:
///
/// - `open` (with or without a size) needs a valid log;
/// - `create` formats, unless a valid log has entries outstanding;
/// - `auto` opens a valid log and formats a device without one (no
///   superblock magic), but refuses a damaged log: an unknown version, a
///   bad checksum or lost entries are reported, never formatted over.
pub fn decide(mode: OpenMode, loaded: &Result<Loaded, LogError>) -> Result<Action, LogError> {
    match (mode, loaded) {
        (OpenMode::Create(_), Ok(log)) if log.recovered.is_active() => {
            Err(LogError::Format(FormatError::LogActive))
        }
        (OpenMode::Create(_), _) => Ok(Action::Format),
        (_, Ok(_)) => Ok(Action::Open),
        (OpenMode::Auto(_), Err(LogError::Format(FormatError::SuperblockMagic))) => {
            Ok(Action::Format)
        }
        (_, Err(e)) => Err(*e),
    }
}
