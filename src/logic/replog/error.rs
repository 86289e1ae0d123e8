//! Errors of the replication log format.
//!
//! Each distinct problem has its own variant and text, so the kernel log
//! (`ti->error`) and `replog check` say precisely what is wrong. The text
//! is a static C string because dm core prints `ti->error` after the
//! constructor has returned.

use core::ffi::CStr;
use core::fmt;

/// Declares [`FormatError`], its texts and the list of all variants.
macro_rules! format_errors {
    ($($(#[doc = $doc:literal])+ $name:ident => $text:literal,)+) => {
        /// Something on disk (or asked of the log) that the format rejects.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FormatError {
            $($(#[doc = $doc])+ $name,)+
        }

        impl FormatError {
            /// Every error, for documentation and tests.
            pub const ALL: &'static [FormatError] = &[$(FormatError::$name,)+];

            /// The message for `ti->error`: static, short, human.
            pub fn message(&self) -> &'static CStr {
                match self {
                    $(FormatError::$name => $text,)+
                }
            }
        }
    };
}

format_errors! {
    /// Block 0 does not start with the superblock magic: no log here.
    SuperblockMagic => c"No replication log on device (bad superblock magic)",
    /// The superblock's format version is not one this code reads.
    SuperblockVersion => c"Unsupported log format version",
    /// The superblock's checksum does not match its contents.
    SuperblockChecksum => c"Bad superblock checksum",
    /// The superblock's block size is not 4096.
    SuperblockBlockSize => c"Unsupported log block size",
    /// The ring would start inside the metadata blocks.
    SuperblockRingStart => c"Bad superblock ring start",

    /// A checkpoint slot is all zeroes (never written).
    CheckpointEmpty => c"Checkpoint slot empty",
    /// A checkpoint slot does not start with the checkpoint magic.
    CheckpointMagic => c"Bad checkpoint magic",
    /// A checkpoint's checksum does not match (a torn checkpoint write).
    CheckpointChecksum => c"Bad checkpoint checksum",
    /// A checkpoint carries another log's UUID (left by an earlier format).
    CheckpointOtherLog => c"Checkpoint of another log",
    /// A checkpoint's generation is odd in slot 0 or even in slot 1.
    CheckpointSlot => c"Checkpoint generation does not match its slot",
    /// A checkpoint's head or tail is not a block of its ring.
    CheckpointPosition => c"Checkpoint head or tail outside the ring",
    /// A checkpoint's tail sequence is before its head sequence, or 0.
    CheckpointSequence => c"Checkpoint sequence numbers out of order",
    /// A checkpoint's incarnation is 0.
    CheckpointIncarnation => c"Checkpoint incarnation invalid",
    /// A checkpoint's site link positions are malformed (too many, a
    /// link out of range or twice, a zero sequence number or reserved
    /// bytes set).
    CheckpointSlinks => c"Checkpoint site link positions invalid",
    /// Neither checkpoint slot holds a valid checkpoint.
    NoCheckpoint => c"No valid checkpoint",

    /// The log has room for fewer than `MIN_RING_BLOCKS` ring blocks.
    LogTooSmall => c"Replication log too small",
    /// The ring's blocks would not all have a 64-bit sector number.
    LogTooLarge => c"Replication log too large",
    /// The ring extends past the end of the log device.
    LogBeyondDevice => c"Replication log extends beyond its device",

    /// A ring block does not start with the entry magic.
    EntryMagic => c"Bad entry magic",
    /// An entry header's checksum does not match (a torn header write).
    EntryChecksum => c"Bad entry header checksum",
    /// An entry's data does not match its data checksum (a torn data write).
    EntryDataChecksum => c"Bad entry data checksum",
    /// An entry carries another log's UUID.
    EntryOtherLog => c"Entry of another log",
    /// An entry has flags this version does not know.
    EntryFlags => c"Unknown entry flags",
    /// An entry is flagged both discard and write-zeroes.
    EntryKind => c"Entry is both discard and write-zeroes",
    /// An entry has no sectors and is not a flush.
    EntryEmpty => c"Entry without sectors must be a flush",
    /// An entry's sector plus length does not fit in 64 bits.
    EntryRange => c"Entry sector range overflows",
    /// An entry needs more blocks than the ring has.
    EntryTooLarge => c"Entry larger than the ring",
    /// An entry runs past the end of the ring (entries never wrap).
    EntryCrossesEnd => c"Entry crosses the ring end",
    /// An entry would overwrite the oldest live entry.
    EntryOverlapsHead => c"Entry overlaps the ring head",
    /// An entry's epoch is not its predecessor's (plus one for a flush).
    EntryEpoch => c"Entry epoch out of order",
    /// An entry's incarnation is newer than the checkpoint's: written by
    /// a run that did not record itself first.
    EntryIncarnation => c"Entry incarnation newer than the checkpoint",
    /// Recovery ended before the checkpoint's tail: acknowledged writes
    /// are missing or damaged.
    EntriesLost => c"Log entries before the checkpoint tail are missing or damaged",

    /// The ring state recovery found breaks the ring's invariants (a bug).
    RingInconsistent => c"Recovered ring state inconsistent",
    /// `create` found a valid log with entries still outstanding.
    LogActive => c"Refusing to overwrite an active replication log",
    /// A resize would cut live entries off the ring.
    ResizeLiveData => c"Live log entries do not fit in the new size",
    /// A sequence, epoch or generation counter would overflow.
    CounterExhausted => c"Replication log counter exhausted",
}

impl FormatError {
    /// The message as text, for logging and `Display`.
    pub fn text(&self) -> &'static str {
        self.message().to_str().unwrap_or("(invalid error text)")
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// A block could not be read; the errno (positive, e.g. 5 for `EIO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadError(pub i32);

/// A block could not be written; the errno (positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteError(pub i32);

/// Why a log cannot be opened or formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The contents are wrong.
    Format(FormatError),
    /// A block (counted from the log start) could not be read.
    Read {
        /// The block that failed.
        block: u64,
        /// The reader's error.
        error: ReadError,
    },
    /// A block (counted from the log start) could not be written.
    Write {
        /// The block that failed.
        block: u64,
        /// The writer's error.
        error: WriteError,
    },
}

impl LogError {
    /// The message for `ti->error`.
    pub fn message(&self) -> &'static CStr {
        match self {
            LogError::Format(e) => e.message(),
            LogError::Read { .. } => c"Cannot read replication log",
            LogError::Write { .. } => c"Cannot write replication log",
        }
    }
}

impl From<FormatError> for LogError {
    fn from(e: FormatError) -> Self {
        LogError::Format(e)
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Format(e) => f.write_str(e.text()),
            LogError::Read { block, error } => {
                write!(
                    f,
                    "Cannot read replication log block {block} (errno {})",
                    error.0
                )
            }
            LogError::Write { block, error } => {
                write!(
                    f,
                    "Cannot write replication log block {block} (errno {})",
                    error.0
                )
            }
        }
    }
}
