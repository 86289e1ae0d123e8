//! Recovery: finding the tail after a crash without a metadata write per
//! user write.
//!
//! The scan starts at the newest checkpoint's head and accepts entries
//! while each is exactly the next expected one: magic, this log's UUID,
//! the next sequence number, a valid header checksum, a consistent epoch,
//! a place in the ring that overlaps nothing live, and (past the
//! checkpoint's tail hint, where writes may have been in flight) a valid
//! data checksum. Entry `s` is looked for where entry `s - 1` ended, then
//! at ring block 0 (where it goes if it did not fit before the end).
//!
//! A dropped (torn) entry's sequence number goes to the next entry
//! written, which may land at block 0 while the old copy, or a copy of a
//! later entry that was in flight at the crash, stays where it was. Every
//! open starts a new *incarnation* (recorded in a checkpoint before the
//! first new entry, carried by every entry): incarnations never decrease
//! along the log, and when the expected block and block 0 both hold the
//! expected entry, the later incarnation is the entry.
//!
//! Anything else ends the scan: never-written or foreign blocks, an
//! older lap's entry (its sequence number is lower), a torn header or
//! torn data. Sequence numbers are exact, so nothing stale is taken for
//! new. The scan reads synchronously through [`BlockReader`] into one
//! caller-provided block buffer; it allocates nothing.

use core::marker::PhantomData;

use super::checkpoint::{self, Checkpoint};
use super::checksum::{Crc32c, DataCrc};
use super::entry::{EntryHeader, Peek};
use super::error::{FormatError, LogError, ReadError};
use super::geometry::{Block, BLOCK_SIZE, SUPERBLOCK_BLOCK};
use super::ring::{Ring, RingError};
use super::superblock::Superblock;
use super::writer::Writer;

/// Reads log blocks; `block` counts 4 KiB blocks from the log start.
pub trait BlockReader {
    /// Reads block `block` into `buf`.
    fn read(&mut self, block: u64, buf: &mut Block) -> Result<(), ReadError>;
}

/// Reads and decodes the superblock.
pub fn read_superblock<C: Crc32c, R: BlockReader>(
    reader: &mut R,
    buf: &mut Block,
) -> Result<Superblock, LogError> {
    reader
        .read(SUPERBLOCK_BLOCK, buf)
        .map_err(|error| LogError::Read {
            block: SUPERBLOCK_BLOCK,
            error,
        })?;
    Ok(Superblock::decode::<C>(buf)?)
}

/// Reads both checkpoint slots; pick one with [`checkpoint::newest`].
/// Two plain calls rather than `[0, 1].map(...)`: the kernel opens the
/// log on a table load's stack, and the array adaptors keep several
/// copies of the (kilobyte-sized) checkpoints in their frames.
pub fn read_checkpoints<C: Crc32c, R: BlockReader>(
    reader: &mut R,
    buf: &mut Block,
    sb: &Superblock,
) -> [Result<Checkpoint, LogError>; 2] {
    [
        read_checkpoint::<C, R>(reader, buf, sb, 0),
        read_checkpoint::<C, R>(reader, buf, sb, 1),
    ]
}

/// Reads checkpoint slot `slot`.
fn read_checkpoint<C: Crc32c, R: BlockReader>(
    reader: &mut R,
    buf: &mut Block,
    sb: &Superblock,
    slot: usize,
) -> Result<Checkpoint, LogError> {
    let block = checkpoint::slot_block(slot);
    reader
        .read(block, buf)
        .map_err(|error| LogError::Read { block, error })?;
    Ok(Checkpoint::decode::<C>(buf, &sb.uuid, slot)?)
}

/// Which entries' data the scan reads and checks. Data is never skipped
/// past the tail hint: a torn copy of an entry there may have an intact
/// header while the valid copy lies at block 0 (see the module doc), so
/// a replay must check as the scan did to make the same choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataCheck {
    /// Entries from the checkpoint's tail hint on: those that may have
    /// been in flight at the crash. Entries before it were durable; their
    /// data is checked when it is copied out.
    AfterTailHint,
    /// Every entry (`replog check`).
    All,
}

/// What was found where the next entry should have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// No entry: never written, or torn without a trace of the expected
    /// sequence number.
    Nothing,
    /// A valid entry of another log (an earlier format).
    OtherLog,
    /// A valid entry of this log with another sequence number (an earlier
    /// lap of the ring).
    Stale {
        /// Its sequence number.
        seq: u64,
    },
    /// A valid copy of the expected entry left by an earlier run (written
    /// before a crash whose recovery gave its number to a newer entry).
    EarlierRun {
        /// Its incarnation.
        incarnation: u64,
    },
}

/// What ended a scan. Blocks count from the log start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// No entry with the expected sequence number: the normal end.
    Clean {
        /// Where the next entry was looked for (the tail).
        block: u64,
        /// What is there.
        found: Found,
    },
    /// The expected entry's header fails its checksum: a torn write.
    TornHeader {
        /// The header block.
        block: u64,
        /// The expected sequence number.
        seq: u64,
    },
    /// The expected entry's data fails its checksum: a torn write.
    TornData {
        /// The header block.
        block: u64,
        /// The entry's sequence number.
        seq: u64,
    },
    /// The expected entry's header is intact but impossible.
    Invalid {
        /// The header block.
        block: u64,
        /// The entry's sequence number.
        seq: u64,
        /// What is wrong.
        error: FormatError,
    },
    /// A block could not be read.
    Unreadable {
        /// The block.
        block: u64,
        /// The reader's error.
        error: ReadError,
    },
}

impl ScanEnd {
    /// The format error this end reports, if it is not a clean end or a
    /// read error.
    pub fn error(&self) -> Option<FormatError> {
        match self {
            ScanEnd::TornHeader { .. } => Some(FormatError::EntryChecksum),
            ScanEnd::TornData { .. } => Some(FormatError::EntryDataChecksum),
            ScanEnd::Invalid { error, .. } => Some(*error),
            ScanEnd::Clean { .. } | ScanEnd::Unreadable { .. } => None,
        }
    }

    /// Whether this end is expected after a crash (or a clean stop): the
    /// entries beyond were never acknowledged.
    pub fn is_benign(&self) -> bool {
        matches!(
            self,
            ScanEnd::Clean { .. } | ScanEnd::TornHeader { .. } | ScanEnd::TornData { .. }
        )
    }
}

/// One entry accepted by the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannedEntry {
    /// Ring block of the header.
    pub pos: u64,
    /// Log block of the header (ring start plus `pos`).
    pub block: u64,
    /// The header.
    pub header: EntryHeader,
}

/// The result of a scan: the live part of the ring and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// Ring size in blocks (from the checkpoint).
    pub ring_blocks: u64,
    /// Ring block of the first live entry (the tail if none).
    pub head: u64,
    /// Its sequence number.
    pub head_seq: u64,
    /// The epoch in force before it (the checkpoint's head epoch).
    pub head_epoch: u64,
    /// Ring block where the next entry goes.
    pub tail: u64,
    /// Sequence number of the next entry.
    pub next_seq: u64,
    /// Epoch of the newest entry (or the checkpoint's head epoch).
    pub epoch: u64,
    /// Live entries (`next_seq - head_seq`).
    pub entries: u64,
    /// Ring blocks from head to tail, the gap included.
    pub used: u64,
    /// Blocks skipped at the end of the ring.
    pub gap: u64,
    /// The checkpoint's tail hint: every entry before it was durable.
    pub tail_hint_seq: u64,
    /// The run that wrote the checkpoint.
    pub incarnation: u64,
    /// What ended the scan.
    pub end: ScanEnd,
}

/// How to go on writing after recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The checkpoint to write, durably, before the first new entry: the
    /// next generation and incarnation, head and tail as recovered.
    pub checkpoint: Checkpoint,
    /// The writer of the new run.
    pub writer: Writer,
}

impl Recovered {
    /// Whether entries are outstanding (`create` refuses such a log).
    pub fn is_active(&self) -> bool {
        self.entries > 0
    }

    /// Whether the scan ended before the checkpoint's tail hint: entries
    /// known durable are missing.
    pub fn lost_entries(&self) -> bool {
        self.next_seq < self.tail_hint_seq
    }

    /// Whether the log can be used: the scan ended benignly after the tail
    /// hint. Otherwise the reason, for `ti->error`.
    pub fn check(&self) -> Result<(), LogError> {
        match self.end {
            ScanEnd::Unreadable { block, error } => Err(LogError::Read { block, error }),
            ScanEnd::Invalid { error, .. } => Err(LogError::Format(error)),
            _ if self.lost_entries() => Err(LogError::Format(FormatError::EntriesLost)),
            _ => Ok(()),
        }
    }

    /// The ring's accounting, to continue writing.
    pub fn ring(&self) -> Result<Ring, RingError> {
        Ring::from_parts(self.ring_blocks, self.head, self.tail, self.used, self.gap)
    }

    /// Starts a new run after this recovery from checkpoint `newest`: the
    /// checkpoint to write first, and the writer to use once it is
    /// durable. Every open is a new run, so that copies of entries an
    /// earlier run left beyond the end are never taken for the new
    /// entries that reuse their sequence numbers.
    pub fn resume(&self, newest: &Checkpoint) -> Result<Resume, FormatError> {
        let ring = self.ring().map_err(|_| FormatError::RingInconsistent)?;
        let incarnation = self
            .incarnation
            .checked_add(1)
            .ok_or(FormatError::CounterExhausted)?;
        let checkpoint = Checkpoint {
            ring_blocks: self.ring_blocks,
            head: self.head,
            head_seq: self.head_seq,
            head_epoch: self.head_epoch,
            tail: self.tail,
            tail_seq: self.next_seq,
            incarnation,
            ..newest.successor()?
        };
        Ok(Resume {
            checkpoint,
            writer: Writer::new(ring, self.next_seq, self.epoch, incarnation),
        })
    }
}

/// How one candidate block turned out. (Short-lived, on the stack: the
/// size difference of the variants does not matter and there is no `Box`.)
#[allow(clippy::large_enum_variant)]
enum Candidate {
    /// The expected entry, valid; with the blocks skipped to reach it and
    /// the ring's use after it.
    Entry {
        header: EntryHeader,
        skip: u64,
        used: u64,
    },
    /// Not the expected entry.
    Other(Found),
    /// The expected entry, damaged, or a read error.
    End(ScanEnd),
}

/// Walks the log's entries from a checkpoint's head, in order; an
/// [`Iterator`] of [`ScannedEntry`]. When it returns `None`,
/// [`Scanner::recovered`] tells where the log ends and why. To replay the
/// entries a [`scan`] found, run a new scanner with the same checkpoint
/// and [`DataCheck`] and take [`Recovered::entries`] entries.
pub struct Scanner<'a, C, R> {
    reader: &'a mut R,
    buf: &'a mut Block,
    uuid: [u8; 16],
    ring_start: u64,
    ring_blocks: u64,
    check: DataCheck,
    tail_hint_seq: u64,
    incarnation: u64,
    /// Incarnation of the last entry accepted: runs only go forward.
    last_incarnation: u64,
    /// The header at ring block 0 at a glance, once read.
    zero: Option<Peek>,
    /// Where the next entry is looked for first.
    pos: u64,
    /// The next entry's sequence number.
    seq: u64,
    epoch: u64,
    head: u64,
    head_seq: u64,
    head_epoch: u64,
    used: u64,
    gap: u64,
    entries: u64,
    end: Option<ScanEnd>,
    crc: PhantomData<fn() -> C>,
}

impl<'a, C: Crc32c, R: BlockReader> Scanner<'a, C, R> {
    /// A scan of the log described by `sb` from checkpoint `cp`.
    pub fn new(
        reader: &'a mut R,
        buf: &'a mut Block,
        sb: &Superblock,
        cp: &Checkpoint,
        check: DataCheck,
    ) -> Scanner<'a, C, R> {
        Scanner {
            reader,
            buf,
            uuid: sb.uuid,
            ring_start: sb.ring_start,
            ring_blocks: cp.ring_blocks,
            check,
            tail_hint_seq: cp.tail_seq,
            incarnation: cp.incarnation,
            last_incarnation: 0,
            zero: None,
            pos: cp.head,
            seq: cp.head_seq,
            epoch: cp.head_epoch,
            head: cp.head,
            head_seq: cp.head_seq,
            head_epoch: cp.head_epoch,
            used: 0,
            gap: 0,
            entries: 0,
            end: None,
            crc: PhantomData,
        }
    }

    /// What ended the scan, once it has ended.
    pub fn end(&self) -> Option<&ScanEnd> {
        self.end.as_ref()
    }

    /// The scan's result, once it has ended.
    pub fn recovered(&self) -> Option<Recovered> {
        Some(Recovered {
            ring_blocks: self.ring_blocks,
            head: self.head,
            head_seq: self.head_seq,
            head_epoch: self.head_epoch,
            tail: self.pos,
            next_seq: self.seq,
            epoch: self.epoch,
            entries: self.entries,
            used: self.used,
            gap: self.gap,
            tail_hint_seq: self.tail_hint_seq,
            incarnation: self.incarnation,
            end: self.end?,
        })
    }

    /// The log block of ring block `pos`.
    fn block(&self, pos: u64) -> u64 {
        self.ring_start.saturating_add(pos)
    }

    /// Reads log block `block` into the buffer.
    fn read(&mut self, block: u64) -> Result<(), ScanEnd> {
        self.reader
            .read(block, self.buf)
            .map_err(|error| ScanEnd::Unreadable { block, error })
    }

    /// Looks for the expected entry at ring block `pos`; `jump` if that is
    /// block 0 instead of where the previous entry ended.
    fn candidate(&mut self, pos: u64, jump: bool) -> Candidate {
        let block = self.block(pos);
        let seq = self.seq;
        if let Err(end) = self.read(block) {
            return Candidate::End(end);
        }
        let peek = Peek::of::<C>(self.buf);
        if !peek.magic {
            return Candidate::Other(Found::Nothing);
        }
        if peek.uuid != self.uuid || peek.seq != seq {
            return Candidate::Other(match (peek.sealed, peek.uuid == self.uuid) {
                (false, _) => Found::Nothing,
                (true, false) => Found::OtherLog,
                (true, true) => Found::Stale { seq: peek.seq },
            });
        }
        // Past the tail hint every entry of the checkpoint's run carries
        // its incarnation; an older one is a copy that an earlier run's
        // recovery dropped (torn or not): the log ends cleanly before it.
        // The first sector holds magic, sequence number and incarnation,
        // so the incarnation is as sure as the sequence number matched.
        if seq >= self.tail_hint_seq && peek.incarnation < self.incarnation {
            return Candidate::Other(Found::EarlierRun {
                incarnation: peek.incarnation,
            });
        }
        if !peek.sealed {
            return Candidate::End(ScanEnd::TornHeader { block, seq });
        }
        let invalid = |error| Candidate::End(ScanEnd::Invalid { block, seq, error });
        let header = match EntryHeader::decode::<C>(self.buf, &self.uuid) {
            Ok(header) => header,
            Err(error) => return invalid(error),
        };
        if header.incarnation > self.incarnation {
            return invalid(FormatError::EntryIncarnation);
        }
        if header.incarnation < self.last_incarnation {
            return Candidate::Other(Found::EarlierRun {
                incarnation: header.incarnation,
            });
        }
        let blocks = header.blocks();
        if blocks > self.ring_blocks {
            return invalid(FormatError::EntryTooLarge);
        }
        if pos
            .checked_add(blocks)
            .is_none_or(|end| end > self.ring_blocks)
        {
            return invalid(FormatError::EntryCrossesEnd);
        }
        let epoch = if header.is_flush() {
            self.epoch.checked_add(1)
        } else {
            Some(self.epoch)
        };
        if epoch != Some(header.epoch) {
            return invalid(FormatError::EntryEpoch);
        }
        let skip = if jump && self.entries > 0 {
            self.ring_blocks.saturating_sub(self.pos)
        } else {
            0
        };
        let used = self
            .used
            .checked_add(skip)
            .and_then(|u| u.checked_add(blocks))
            .filter(|&u| u <= self.ring_blocks);
        let Some(used) = used else {
            return invalid(FormatError::EntryOverlapsHead);
        };
        let verify = match self.check {
            DataCheck::AfterTailHint => seq >= self.tail_hint_seq,
            DataCheck::All => true,
        };
        if verify && header.has_data() {
            match self.data_crc(block, &header) {
                Ok(crc) if crc == header.data_crc => {}
                Ok(_) => return Candidate::End(ScanEnd::TornData { block, seq }),
                Err(end) => return Candidate::End(end),
            }
        }
        Candidate::Entry { header, skip, used }
    }

    /// The CRC-32C of the data of the entry whose header is at `block`.
    fn data_crc(&mut self, block: u64, header: &EntryHeader) -> Result<u32, ScanEnd> {
        let mut crc = DataCrc::new();
        let mut left = header.data_bytes();
        let mut data_block = block;
        while left > 0 {
            data_block = data_block.saturating_add(1);
            self.read(data_block)?;
            let len = usize::try_from(left).map_or(BLOCK_SIZE, |l| l.min(BLOCK_SIZE));
            crc = crc.update::<C>(self.buf.get(..len).unwrap_or(&[]));
            left = left.saturating_sub(BLOCK_SIZE as u64);
        }
        Ok(crc.finish())
    }

    /// Whether ring block 0 holds a copy of entry `header.seq` from a later
    /// run than `header`: then that is the entry, and `header` a stale
    /// copy. (Block 0 is read once per scan.)
    fn newer_at_zero(&mut self, header: &EntryHeader) -> bool {
        let zero = match self.zero {
            Some(peek) => peek,
            None => {
                let block = self.block(0);
                if self.read(block).is_err() {
                    return false;
                }
                let peek = Peek::of::<C>(self.buf);
                self.zero = Some(peek);
                peek
            }
        };
        zero.sealed
            && zero.uuid == self.uuid
            && zero.seq == header.seq
            && zero.incarnation > header.incarnation
    }

    /// Finds and accepts the next entry, or says why there is none.
    fn step(&mut self) -> Result<ScannedEntry, ScanEnd> {
        let pos = self.pos;
        let first = self.candidate(pos, false);
        let (at, header, skip, used) = match first {
            Candidate::Entry { header, .. } if pos != 0 && self.newer_at_zero(&header) => {
                match self.candidate(0, true) {
                    Candidate::Entry { header, skip, used } => (0, header, skip, used),
                    second => return Err(self.end_of(0, second)),
                }
            }
            Candidate::Entry { header, skip, used } => (pos, header, skip, used),
            first if pos == 0 => return Err(self.end_of(pos, first)),
            first => match self.candidate(0, true) {
                Candidate::Entry { header, skip, used } => (0, header, skip, used),
                // Nothing at `pos`, and the entry was begun at block 0.
                Candidate::End(end) if matches!(first, Candidate::Other(_)) => return Err(end),
                _ => return Err(self.end_of(pos, first)),
            },
        };
        let next_seq = self.seq.checked_add(1).ok_or(ScanEnd::Invalid {
            block: self.block(at),
            seq: self.seq,
            error: FormatError::CounterExhausted,
        })?;
        if self.entries == 0 {
            self.head = at;
        }
        let end = at.saturating_add(header.blocks());
        self.pos = if end >= self.ring_blocks { 0 } else { end };
        self.seq = next_seq;
        self.epoch = header.epoch;
        self.last_incarnation = header.incarnation;
        self.used = used;
        self.gap = self.gap.saturating_add(skip);
        self.entries = self.entries.saturating_add(1);
        Ok(ScannedEntry {
            pos: at,
            block: self.block(at),
            header,
        })
    }

    /// The end a candidate at `pos` that is not an entry stands for.
    fn end_of(&self, pos: u64, candidate: Candidate) -> ScanEnd {
        let found = match candidate {
            Candidate::End(end) => return end,
            Candidate::Other(found) => found,
            Candidate::Entry { .. } => Found::Nothing,
        };
        ScanEnd::Clean {
            block: self.block(pos),
            found,
        }
    }

    /// Scans to the end and returns the result.
    pub fn finish(mut self) -> Recovered {
        loop {
            if let Some(recovered) = self.recovered() {
                return recovered;
            }
            // Ends: every entry accepted adds at least one used block, and
            // used blocks never exceed the ring.
            let _ = self.next();
        }
    }
}

impl<C: Crc32c, R: BlockReader> Iterator for Scanner<'_, C, R> {
    type Item = ScannedEntry;

    fn next(&mut self) -> Option<ScannedEntry> {
        if self.end.is_some() {
            return None;
        }
        match self.step() {
            Ok(entry) => Some(entry),
            Err(end) => {
                self.end = Some(end);
                None
            }
        }
    }
}

/// Scans the whole log from checkpoint `cp`.
pub fn scan<C: Crc32c, R: BlockReader>(
    reader: &mut R,
    buf: &mut Block,
    sb: &Superblock,
    cp: &Checkpoint,
    check: DataCheck,
) -> Recovered {
    Scanner::<C, R>::new(reader, buf, sb, cp, check).finish()
}
