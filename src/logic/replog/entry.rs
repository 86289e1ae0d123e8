//! Log entries: one user write (or discard, write-zeroes, flush) each.
//!
//! An entry starts on a ring block with its header; the data, if any,
//! follows in the next `ceil(sectors / 8)` blocks, the last one padded.
//! Discard, write-zeroes and empty flushes carry no data.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `DMREPLEN` |
//! | 8 | 16 | log UUID |
//! | 24 | 8 | sequence number (+1 per entry, from 1) |
//! | 32 | 8 | epoch (+1 at every flush entry) |
//! | 40 | 8 | first sector on the device |
//! | 48 | 4 | length in sectors |
//! | 52 | 4 | device number (`replicator-dev` `<dev_nr>`) |
//! | 56 | 4 | flags ([`EntryFlags`]) |
//! | 60 | 4 | CRC-32C of the data (`sectors * 512` bytes); 0 if none |
//! | 64 | 8 | incarnation: the run of the log that wrote the entry |
//! | 72..256 | | zero |
//! | 256 | 256 | slinks that need the entry ([`SlinkBitmap`]) |
//! | 512..4092 | | zero |
//! | 4092 | 4 | CRC-32C of bytes 0..4092 |
//!
//! The UUID and the exact sequence number let recovery tell this entry
//! from whatever an earlier lap of the ring or an earlier log left there;
//! the incarnation tells it from a copy an earlier run left with the same
//! sequence number (a write in flight at a crash, whose number recovery
//! gave to the next entry).

use super::checksum::{self, Crc32c};
use super::error::FormatError;
use super::geometry::{Block, BLOCK_SIZE, SECTOR_SIZE};
use super::le;
use super::slinks::{SlinkBitmap, SLINK_BITMAP_BYTES};

/// The entry header's magic.
pub const ENTRY_MAGIC: [u8; 8] = *b"DMREPLEN";

const MAGIC: usize = 0;
const UUID: usize = 8;
const SEQ: usize = 24;
const EPOCH: usize = 32;
const SECTOR: usize = 40;
const SECTORS: usize = 48;
const DEV: usize = 52;
const FLAGS: usize = 56;
const DATA_CRC: usize = 60;
const INCARNATION: usize = 64;
const SLINKS: usize = 256;
/// Everything after the site-link bitmap is zero.
const HEADER_TAIL: checksum::ZeroTail = checksum::ZeroTail::new(SLINKS + SLINK_BITMAP_BYTES);

/// What kind of request an entry records, and how it must be applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryFlags(pub u32);

impl EntryFlags {
    /// `REQ_PREFLUSH`: everything before must be stable first; starts a
    /// new epoch.
    pub const FLUSH: EntryFlags = EntryFlags(1);
    /// `REQ_FUA`: the write itself must be stable when it completes.
    pub const FUA: EntryFlags = EntryFlags(2);
    /// `REQ_OP_DISCARD`: no data.
    pub const DISCARD: EntryFlags = EntryFlags(4);
    /// `REQ_OP_WRITE_ZEROES`: no data.
    pub const WRITE_ZEROES: EntryFlags = EntryFlags(8);
    /// Every flag this version knows.
    pub const KNOWN: EntryFlags = EntryFlags(15);
    /// Names of the flags, for dumps.
    pub const NAMES: [(EntryFlags, &'static str); 4] = [
        (EntryFlags::FLUSH, "flush"),
        (EntryFlags::FUA, "fua"),
        (EntryFlags::DISCARD, "discard"),
        (EntryFlags::WRITE_ZEROES, "write-zeroes"),
    ];

    /// No flag: a plain write.
    pub const fn empty() -> EntryFlags {
        EntryFlags(0)
    }

    /// Whether all flags of `other` are set.
    pub const fn contains(self, other: EntryFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags and those of `other`.
    #[must_use]
    pub const fn with(self, other: EntryFlags) -> EntryFlags {
        EntryFlags(self.0 | other.0)
    }
}

/// A decoded entry header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    /// Position in the log's total order.
    pub seq: u64,
    /// Flush epoch: entries of one epoch may be applied in any order,
    /// epochs strictly in order.
    pub epoch: u64,
    /// Device number within the group.
    pub dev: u32,
    /// Request kind.
    pub flags: EntryFlags,
    /// First sector written.
    pub sector: u64,
    /// Length in sectors (0 only for an empty flush).
    pub sectors: u32,
    /// CRC-32C of the data; 0 for a data-less entry.
    pub data_crc: u32,
    /// The run of the log that wrote the entry (see
    /// [`Checkpoint::incarnation`](super::checkpoint::Checkpoint::incarnation)).
    pub incarnation: u64,
    /// Slinks the entry was written for.
    pub slinks: SlinkBitmap,
}

/// Ring blocks an entry with these flags and length occupies.
pub fn entry_blocks(flags: EntryFlags, sectors: u32) -> u64 {
    data_blocks(flags, sectors).saturating_add(1)
}

/// Whether such an entry carries data blocks.
pub fn has_data(flags: EntryFlags, sectors: u32) -> bool {
    sectors > 0 && flags.0 & (EntryFlags::DISCARD.0 | EntryFlags::WRITE_ZEROES.0) == 0
}

/// Data bytes of such an entry (`sectors * 512`, or 0 without data).
pub fn data_bytes(flags: EntryFlags, sectors: u32) -> u64 {
    if has_data(flags, sectors) {
        u64::from(sectors).saturating_mul(SECTOR_SIZE)
    } else {
        0
    }
}

/// Data blocks of such an entry.
pub fn data_blocks(flags: EntryFlags, sectors: u32) -> u64 {
    data_bytes(flags, sectors).div_ceil(BLOCK_SIZE as u64)
}

impl EntryHeader {
    /// Whether data blocks follow the header.
    pub fn has_data(&self) -> bool {
        has_data(self.flags, self.sectors)
    }

    /// Bytes of data covered by `data_crc`.
    pub fn data_bytes(&self) -> u64 {
        data_bytes(self.flags, self.sectors)
    }

    /// Data blocks after the header.
    pub fn data_blocks(&self) -> u64 {
        data_blocks(self.flags, self.sectors)
    }

    /// Ring blocks the entry occupies, header included.
    pub fn blocks(&self) -> u64 {
        entry_blocks(self.flags, self.sectors)
    }

    /// Whether the entry starts a new epoch.
    pub fn is_flush(&self) -> bool {
        self.flags.contains(EntryFlags::FLUSH)
    }

    /// Checks that the fields describe a request.
    pub fn validate(&self) -> Result<(), FormatError> {
        let flags = self.flags;
        if flags.0 & !EntryFlags::KNOWN.0 != 0 {
            return Err(FormatError::EntryFlags);
        }
        if flags.contains(EntryFlags::DISCARD) && flags.contains(EntryFlags::WRITE_ZEROES) {
            return Err(FormatError::EntryKind);
        }
        let no_data_op = flags.0 & (EntryFlags::DISCARD.0 | EntryFlags::WRITE_ZEROES.0) != 0;
        if self.sectors == 0 && (no_data_op || !flags.contains(EntryFlags::FLUSH)) {
            return Err(FormatError::EntryEmpty);
        }
        if self.sector.checked_add(u64::from(self.sectors)).is_none() {
            return Err(FormatError::EntryRange);
        }
        Ok(())
    }

    /// Writes the header of log `uuid` into `b` (the whole block).
    pub fn encode<C: Crc32c>(&self, uuid: &[u8; 16], b: &mut Block) {
        b.fill(0);
        le::put_bytes(b, MAGIC, &ENTRY_MAGIC);
        le::put_bytes(b, UUID, uuid);
        le::put_u64(b, SEQ, self.seq);
        le::put_u64(b, EPOCH, self.epoch);
        le::put_u64(b, SECTOR, self.sector);
        le::put_u32(b, SECTORS, self.sectors);
        le::put_u32(b, DEV, self.dev);
        le::put_u32(b, FLAGS, self.flags.0);
        le::put_u32(b, DATA_CRC, self.data_crc);
        le::put_u64(b, INCARNATION, self.incarnation);
        le::put_bytes(b, SLINKS, &self.slinks.0);
        // Filled with zeros above: nothing after the bitmap.
        checksum::seal_zero_tail::<C>(b, &HEADER_TAIL);
    }

    /// Reads an entry header of log `uuid`: magic, checksum, UUID, fields.
    pub fn decode<C: Crc32c>(b: &Block, uuid: &[u8; 16]) -> Result<EntryHeader, FormatError> {
        let peek = Peek::of::<C>(b);
        if !peek.magic {
            return Err(FormatError::EntryMagic);
        }
        if !peek.sealed {
            return Err(FormatError::EntryChecksum);
        }
        if &peek.uuid != uuid {
            return Err(FormatError::EntryOtherLog);
        }
        let header = EntryHeader {
            seq: peek.seq,
            epoch: le::u64_at(b, EPOCH),
            dev: le::u32_at(b, DEV),
            flags: EntryFlags(le::u32_at(b, FLAGS)),
            sector: le::u64_at(b, SECTOR),
            sectors: le::u32_at(b, SECTORS),
            data_crc: le::u32_at(b, DATA_CRC),
            incarnation: le::u64_at(b, INCARNATION),
            slinks: SlinkBitmap(le::bytes::<SLINK_BITMAP_BYTES>(b, SLINKS)),
        };
        header.validate()?;
        Ok(header)
    }
}

/// What a ring block looks like at a glance, before trusting it: enough
/// for recovery to tell a torn entry from an old or foreign one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek {
    /// Starts with the entry magic.
    pub magic: bool,
    /// Its checksum matches.
    pub sealed: bool,
    /// The UUID field (meaningful only with `magic`).
    pub uuid: [u8; 16],
    /// The sequence number field (meaningful only with `magic`).
    pub seq: u64,
    /// The incarnation field (meaningful only with `magic`).
    pub incarnation: u64,
}

impl Peek {
    /// Looks at block `b`.
    pub fn of<C: Crc32c>(b: &Block) -> Peek {
        let magic = le::bytes::<8>(b, MAGIC) == ENTRY_MAGIC;
        Peek {
            magic,
            sealed: magic && checksum::is_sealed::<C>(b),
            uuid: le::bytes(b, UUID),
            seq: le::u64_at(b, SEQ),
            incarnation: le::u64_at(b, INCARNATION),
        }
    }
}
