//! Appending entries: sequence numbers, epochs and ring space.
//!
//! The kernel turns a bio into an [`Op`], computes the data checksum,
//! calls [`Writer::append`] for the header and the extent, encodes the
//! header and writes header and data there. It acknowledges a write only
//! when its entry and every earlier one are durable, so that recovery,
//! which keeps the longest valid prefix of the log, never drops an
//! acknowledged write.

use core::ffi::CStr;

use super::checkpoint::Checkpoint;
use super::entry::{EntryFlags, EntryHeader};
use super::error::FormatError;
use super::ring::{Extent, Ring, RingError};
use super::slinks::SlinkBitmap;

/// A request to journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// Device number within the group.
    pub dev: u32,
    /// Request kind.
    pub flags: EntryFlags,
    /// First sector.
    pub sector: u64,
    /// Length in sectors (0 for an empty flush).
    pub sectors: u32,
}

/// Why an entry cannot be appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// The request is not a valid entry, or a counter is exhausted.
    Invalid(FormatError),
    /// The ring has no room ([`RingError::Full`]: wait for space).
    Ring(RingError),
}

impl AppendError {
    /// The message, for the kernel log.
    pub fn message(&self) -> &'static CStr {
        match self {
            AppendError::Invalid(e) => e.message(),
            AppendError::Ring(e) => e.message(),
        }
    }
}

/// A new entry: where to write it and its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Ring blocks of header and data.
    pub extent: Extent,
    /// The header to encode at `extent.start`.
    pub header: EntryHeader,
}

/// The writing end of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writer {
    ring: Ring,
    next_seq: u64,
    epoch: u64,
    incarnation: u64,
}

impl Writer {
    /// A writer continuing after `next_seq - 1` in `epoch`, for the run
    /// `incarnation`, whose checkpoint must be durable before the first
    /// entry is written. Usually from [`Writer::formatted`] or
    /// [`Recovered::resume`](super::recovery::Recovered::resume).
    pub fn new(ring: Ring, next_seq: u64, epoch: u64, incarnation: u64) -> Writer {
        Writer {
            ring,
            next_seq,
            epoch,
            incarnation,
        }
    }

    /// The writer of a log just formatted with checkpoint `cp` (the first
    /// run: format wrote its checkpoint).
    pub fn formatted(cp: &Checkpoint) -> Result<Writer, FormatError> {
        let ring = Ring::empty_at(cp.ring_blocks, cp.head)?;
        Ok(Writer::new(
            ring,
            cp.head_seq,
            cp.head_epoch,
            cp.incarnation,
        ))
    }

    /// The ring's accounting.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Sequence number of the next entry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Epoch of the newest entry (the next one's unless it is a flush).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The run entries are written in.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Assigns the next entry its sequence number, epoch and ring blocks.
    /// `data_crc` is the CRC-32C of the data (ignored without data).
    pub fn append(
        &mut self,
        op: &Op,
        slinks: &SlinkBitmap,
        data_crc: u32,
    ) -> Result<Appended, AppendError> {
        let flush = op.flags.contains(EntryFlags::FLUSH);
        let epoch = if flush {
            self.epoch.checked_add(1)
        } else {
            Some(self.epoch)
        };
        let next_seq = self.next_seq.checked_add(1);
        let (Some(epoch), Some(next_seq)) = (epoch, next_seq) else {
            return Err(AppendError::Invalid(FormatError::CounterExhausted));
        };
        let mut header = EntryHeader {
            seq: self.next_seq,
            epoch,
            dev: op.dev,
            flags: op.flags,
            sector: op.sector,
            sectors: op.sectors,
            data_crc: 0,
            incarnation: self.incarnation,
            slinks: *slinks,
        };
        if header.has_data() {
            header.data_crc = data_crc;
        }
        header.validate().map_err(AppendError::Invalid)?;
        let extent = self
            .ring
            .reserve(header.blocks())
            .map_err(AppendError::Ring)?;
        self.next_seq = next_seq;
        self.epoch = epoch;
        Ok(Appended { extent, header })
    }

    /// Frees the oldest entry; see [`Ring::release`].
    pub fn release(&mut self, extent: Extent) -> Result<(), RingError> {
        self.ring.release(extent)
    }

    /// Switches to a ring of `blocks` blocks; see [`Ring::resized`].
    pub fn resize(&mut self, blocks: u64) -> Result<(), FormatError> {
        self.ring = self.ring.resized(blocks)?;
        Ok(())
    }
}
