//! Checkpoints (log blocks 1 and 2): the ring's size, its head and a hint
//! of its tail, written rarely and in two alternating slots.
//!
//! A checkpoint is written when freed space is to be reused, on a clean
//! suspend and on resize, not per user write: recovery finds the tail by
//! scanning forward from the head (see [`recovery`](super::recovery)).
//! Checkpoint `generation` goes to slot `generation % 2`, overwriting the
//! older of the two, so a torn checkpoint write leaves the previous one.
//! The valid checkpoint with the higher generation wins.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `DMREPLCP` |
//! | 8 | 16 | log UUID |
//! | 24 | 8 | generation (>= 1) |
//! | 32 | 8 | ring size in blocks |
//! | 40 | 8 | head: ring block of the oldest entry still needed |
//! | 48 | 8 | head sequence number |
//! | 56 | 8 | head epoch: the epoch in force before the head entry |
//! | 64 | 8 | tail hint: ring block after the newest durable entry |
//! | 72 | 8 | tail hint sequence number (next sequence at the tail) |
//! | 80 | 8 | incarnation: counts the runs of the log (opens), from 1 |
//! | 88 | 4 | number of site link positions (0 = none recorded) |
//! | 92 | 4 | number of lost-device records (m) |
//! | 96 | 16 * n | positions: site link (4), zero (4), sequence number (8) |
//! | 608 | 8 * m | lost devices: site link (4), device number (4) |
//! | .. 4092 | | zero |
//! | 4092 | 4 | CRC-32C of bytes 0..4092 |

use super::checksum::{self, Crc32c};
use super::error::FormatError;
use super::geometry::{check_ring_blocks, Block, CHECKPOINT_BLOCKS};
use super::le;
use super::ring::Ring;
use crate::logic::slink::SLINK_MAX;

/// The checkpoint's magic.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"DMREPLCP";

/// Sequence number of a new log's first entry (0 is never used).
pub const FIRST_SEQ: u64 = 1;

const MAGIC: usize = 0;
const UUID: usize = 8;
const GENERATION: usize = 24;
const RING_BLOCKS: usize = 32;
const HEAD: usize = 40;
const HEAD_SEQ: usize = 48;
const HEAD_EPOCH: usize = 56;
const TAIL: usize = 64;
const TAIL_SEQ: usize = 72;
const INCARNATION: usize = 80;
const POSITIONS: usize = 88;
const LOST: usize = 92;
const POSITION_RECORDS: usize = 96;
/// Bytes of one position record.
const POSITION_BYTES: usize = 16;
const LOST_RECORDS: usize = POSITION_RECORDS + MAX_SLINK_POSITIONS * POSITION_BYTES;
/// Bytes of one lost-device record.
const LOST_BYTES: usize = 8;

/// Lost-device records a checkpoint holds at most. Past this a site link
/// that must give up entries of a device not attached keeps them instead
/// (the log stays full until the device attaches or the link catches up).
pub const MAX_LOST_DEVICES: usize = 64;

/// Site link positions a checkpoint records at most. Links past this
/// number (the highest numbers) go without a record: after a restart they
/// fall back to resynchronising what the log held for them.
pub const MAX_SLINK_POSITIONS: usize = 32;

/// Where each remote site link stands: the first sequence number its site
/// does not hold durably. Kept in the checkpoint so that a restart, clean
/// or not, resumes shipping in order from there instead of marking the
/// entries out of sync. Ascending by site link, each link once.
///
/// Also the *lost devices*: pairs of a site link and a device number for
/// which the link gave up entries (the log was full) while the device was
/// not attached, so no dirty log could record them. Only a whole-device
/// resynchronisation is sure to cover them; the record survives restarts
/// until the device attaches to the link. Ascending, each pair once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlinkPositions {
    len: usize,
    records: [(u32, u64); MAX_SLINK_POSITIONS],
    lost_len: usize,
    lost: [(u32, u32); MAX_LOST_DEVICES],
}

impl Default for SlinkPositions {
    fn default() -> Self {
        SlinkPositions::new()
    }
}

impl SlinkPositions {
    /// No position recorded (what logs written before the table read as).
    pub const fn new() -> SlinkPositions {
        SlinkPositions {
            len: 0,
            records: [(0, 0); MAX_SLINK_POSITIONS],
            lost_len: 0,
            lost: [(0, 0); MAX_LOST_DEVICES],
        }
    }

    /// The lost devices: (site link, device number), ascending.
    pub fn lost(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.lost.iter().take(self.lost_len).copied()
    }

    /// Records that site link `slink` lost entries of device `dev`. False
    /// if the link is not a remote one or the table is full (a pair
    /// already there is fine).
    pub fn insert_lost(&mut self, slink: u32, dev: u32) -> bool {
        if slink == 0 || slink >= SLINK_MAX {
            return false;
        }
        let at = self
            .lost()
            .position(|p| p >= (slink, dev))
            .unwrap_or(self.lost_len);
        if self
            .lost
            .get(at)
            .is_some_and(|&p| at < self.lost_len && p == (slink, dev))
        {
            return true;
        }
        if self.lost_len >= MAX_LOST_DEVICES {
            return false;
        }
        let mut moving = (slink, dev);
        for r in self
            .lost
            .iter_mut()
            .take(self.lost_len.saturating_add(1))
            .skip(at)
        {
            moving = core::mem::replace(r, moving);
        }
        self.lost_len = self.lost_len.saturating_add(1);
        true
    }

    /// Number of links recorded.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no link is recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The recorded links and their positions, ascending by link.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.records.iter().take(self.len).copied()
    }

    /// The position of site link `slink`, if recorded.
    pub fn get(&self, slink: u32) -> Option<u64> {
        self.iter().find(|&(nr, _)| nr == slink).map(|(_, seq)| seq)
    }

    /// Records site link `slink` at sequence number `seq` (replacing its
    /// record). False if the link is not a remote one (1..2047), `seq` is
    /// 0, or the table is full.
    pub fn insert(&mut self, slink: u32, seq: u64) -> bool {
        if slink == 0 || slink >= SLINK_MAX || seq < FIRST_SEQ {
            return false;
        }
        let at = self
            .iter()
            .position(|(nr, _)| nr >= slink)
            .unwrap_or(self.len);
        if let Some(r) = self.records.get_mut(at).filter(|r| r.0 == slink) {
            // Within `len`: unused records are (0, 0) and `slink` is not 0.
            r.1 = seq;
            return true;
        }
        if self.len >= MAX_SLINK_POSITIONS {
            return false;
        }
        // Move the higher links up by one, then put this one in place.
        let mut moving = (slink, seq);
        for r in self
            .records
            .iter_mut()
            .take(self.len.saturating_add(1))
            .skip(at)
        {
            moving = core::mem::replace(r, moving);
        }
        self.len = self.len.saturating_add(1);
        true
    }

    /// Checks the tables read from a checkpoint.
    fn validate(&self) -> Result<(), FormatError> {
        if self.len > MAX_SLINK_POSITIONS || self.lost_len > MAX_LOST_DEVICES {
            return Err(FormatError::CheckpointSlinks);
        }
        let mut last = 0u32;
        for (nr, seq) in self.iter() {
            if nr <= last || nr >= SLINK_MAX || seq < FIRST_SEQ {
                return Err(FormatError::CheckpointSlinks);
            }
            last = nr;
        }
        let mut last = (0u32, 0u32);
        for (i, p) in self.lost().enumerate() {
            if p.0 == 0 || p.0 >= SLINK_MAX || (i > 0 && p <= last) {
                return Err(FormatError::CheckpointSlinks);
            }
            last = p;
        }
        Ok(())
    }

    #[inline(never)]
    fn encode(&self, b: &mut Block) {
        le::put_u32(b, POSITIONS, u32::try_from(self.len).unwrap_or(0));
        for (i, (nr, seq)) in self.iter().enumerate() {
            let at = POSITION_RECORDS.saturating_add(i.saturating_mul(POSITION_BYTES));
            le::put_u32(b, at, nr);
            le::put_u64(b, at.saturating_add(8), seq);
        }
        le::put_u32(b, LOST, u32::try_from(self.lost_len).unwrap_or(0));
        for (i, (nr, dev)) in self.lost().enumerate() {
            let at = LOST_RECORDS.saturating_add(i.saturating_mul(LOST_BYTES));
            le::put_u32(b, at, nr);
            le::put_u32(b, at.saturating_add(4), dev);
        }
    }

    #[inline(never)]
    fn decode(b: &Block) -> Result<SlinkPositions, FormatError> {
        let n = usize::try_from(le::u32_at(b, POSITIONS)).unwrap_or(usize::MAX);
        let m = usize::try_from(le::u32_at(b, LOST)).unwrap_or(usize::MAX);
        if n > MAX_SLINK_POSITIONS || m > MAX_LOST_DEVICES {
            return Err(FormatError::CheckpointSlinks);
        }
        let mut p = SlinkPositions::new();
        for (i, r) in p.records.iter_mut().take(n).enumerate() {
            let at = POSITION_RECORDS.saturating_add(i.saturating_mul(POSITION_BYTES));
            if le::u32_at(b, at.saturating_add(4)) != 0 {
                return Err(FormatError::CheckpointSlinks);
            }
            *r = (le::u32_at(b, at), le::u64_at(b, at.saturating_add(8)));
        }
        p.len = n;
        for (i, r) in p.lost.iter_mut().take(m).enumerate() {
            let at = LOST_RECORDS.saturating_add(i.saturating_mul(LOST_BYTES));
            *r = (le::u32_at(b, at), le::u32_at(b, at.saturating_add(4)));
        }
        p.lost_len = m;
        p.validate()?;
        Ok(p)
    }
}

/// A decoded checkpoint. Positions are ring blocks (0 = first ring block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Counts checkpoints written; selects the slot.
    pub generation: u64,
    /// The ring size in blocks (resize changes it here, crash-safely).
    pub ring_blocks: u64,
    /// Where the oldest entry still needed starts (or the tail, if none).
    pub head: u64,
    /// Sequence number of the entry at `head`.
    pub head_seq: u64,
    /// The epoch in force before the head entry: the head entry's epoch is
    /// this, or this plus one if it is a flush.
    pub head_epoch: u64,
    /// Where the next entry went when the checkpoint was written; every
    /// entry before it was durable then. Recovery scans past it.
    pub tail: u64,
    /// Sequence number due at `tail`.
    pub tail_seq: u64,
    /// The run of the log this checkpoint belongs to: every open writes a
    /// checkpoint with the next incarnation before its first entry, and
    /// entries carry the incarnation that wrote them, so a copy left by an
    /// earlier run is told from a newer entry with the same sequence
    /// number.
    pub incarnation: u64,
    /// Per remote site link, the first entry its site does not hold
    /// durably (see [`SlinkPositions`]).
    pub slinks: SlinkPositions,
}

impl Checkpoint {
    /// The checkpoint a new log is formatted with: empty ring, generation 1.
    pub fn initial(ring_blocks: u64) -> Checkpoint {
        Checkpoint {
            generation: 1,
            ring_blocks,
            head: 0,
            head_seq: FIRST_SEQ,
            head_epoch: 0,
            tail: 0,
            tail_seq: FIRST_SEQ,
            incarnation: 1,
            slinks: SlinkPositions::new(),
        }
    }

    /// The next checkpoint: same fields, generation plus one (so the other
    /// slot). The caller then sets head, tail and ring size.
    pub fn successor(&self) -> Result<Checkpoint, FormatError> {
        let generation = self
            .generation
            .checked_add(1)
            .ok_or(FormatError::CounterExhausted)?;
        Ok(Checkpoint {
            generation,
            ..*self
        })
    }

    /// The next checkpoint, describing `ring` (whose head has moved past
    /// the entries being freed): `head_seq` and `head_epoch` of the new
    /// head entry, and the durable tail with `tail_seq` due there. Written
    /// durably before the freed space is reused.
    pub fn advanced(
        &self,
        ring: &Ring,
        head_seq: u64,
        head_epoch: u64,
        tail_seq: u64,
    ) -> Result<Checkpoint, FormatError> {
        Ok(Checkpoint {
            ring_blocks: ring.blocks(),
            head: ring.head(),
            head_seq,
            head_epoch,
            tail: ring.tail(),
            tail_seq,
            ..self.successor()?
        })
    }

    /// The slot this checkpoint belongs in (0 or 1).
    pub fn slot(&self) -> usize {
        if self.generation.is_multiple_of(2) {
            0
        } else {
            1
        }
    }

    /// The log block of this checkpoint's slot.
    pub fn block(&self) -> u64 {
        slot_block(self.slot())
    }

    /// Number of entries between head and tail hint.
    pub fn hinted_entries(&self) -> u64 {
        self.tail_seq.saturating_sub(self.head_seq)
    }

    /// Checks the fields against each other.
    pub fn validate(&self) -> Result<(), FormatError> {
        check_ring_blocks(self.ring_blocks)?;
        if self.head >= self.ring_blocks || self.tail >= self.ring_blocks {
            return Err(FormatError::CheckpointPosition);
        }
        if self.head_seq < FIRST_SEQ || self.tail_seq < self.head_seq {
            return Err(FormatError::CheckpointSequence);
        }
        if self.incarnation == 0 {
            return Err(FormatError::CheckpointIncarnation);
        }
        self.slinks.validate()
    }

    /// Writes the checkpoint of log `uuid` into `b` (the whole block).
    #[inline(never)]
    pub fn encode<C: Crc32c>(&self, uuid: &[u8; 16], b: &mut Block) {
        b.fill(0);
        le::put_bytes(b, MAGIC, &CHECKPOINT_MAGIC);
        le::put_bytes(b, UUID, uuid);
        le::put_u64(b, GENERATION, self.generation);
        le::put_u64(b, RING_BLOCKS, self.ring_blocks);
        le::put_u64(b, HEAD, self.head);
        le::put_u64(b, HEAD_SEQ, self.head_seq);
        le::put_u64(b, HEAD_EPOCH, self.head_epoch);
        le::put_u64(b, TAIL, self.tail);
        le::put_u64(b, TAIL_SEQ, self.tail_seq);
        le::put_u64(b, INCARNATION, self.incarnation);
        self.slinks.encode(b);
        checksum::seal::<C>(b);
    }

    /// Reads the checkpoint in slot `slot` of log `uuid`.
    ///
    /// This and the other encoders and decoders of checkpoints are out of
    /// line: the kernel opens a log on a table load's stack, and inlined
    /// into the functions that do the I/O their kilobyte-sized
    /// temporaries would sit on the stack under every read and write.
    #[inline(never)]
    pub fn decode<C: Crc32c>(
        b: &Block,
        uuid: &[u8; 16],
        slot: usize,
    ) -> Result<Checkpoint, FormatError> {
        if b.iter().all(|&byte| byte == 0) {
            return Err(FormatError::CheckpointEmpty);
        }
        if le::bytes::<8>(b, MAGIC) != CHECKPOINT_MAGIC {
            return Err(FormatError::CheckpointMagic);
        }
        if !checksum::is_sealed::<C>(b) {
            return Err(FormatError::CheckpointChecksum);
        }
        if &le::bytes::<16>(b, UUID) != uuid {
            return Err(FormatError::CheckpointOtherLog);
        }
        let cp = Checkpoint {
            generation: le::u64_at(b, GENERATION),
            ring_blocks: le::u64_at(b, RING_BLOCKS),
            head: le::u64_at(b, HEAD),
            head_seq: le::u64_at(b, HEAD_SEQ),
            head_epoch: le::u64_at(b, HEAD_EPOCH),
            tail: le::u64_at(b, TAIL),
            tail_seq: le::u64_at(b, TAIL_SEQ),
            incarnation: le::u64_at(b, INCARNATION),
            slinks: SlinkPositions::decode(b)?,
        };
        if cp.generation == 0 || cp.slot() != slot {
            return Err(FormatError::CheckpointSlot);
        }
        cp.validate()?;
        Ok(cp)
    }
}

/// The log block of checkpoint slot `slot` (0 or 1; others map to 1).
pub fn slot_block(slot: usize) -> u64 {
    let [first, second] = CHECKPOINT_BLOCKS;
    if slot == 0 {
        first
    } else {
        second
    }
}

/// The newer of the two slots' checkpoints, or
/// [`FormatError::NoCheckpoint`] if neither slot holds one.
pub fn newest<E>(slots: &[Result<Checkpoint, E>; 2]) -> Result<&Checkpoint, FormatError> {
    match slots {
        [Ok(a), Ok(b)] => Ok(if b.generation > a.generation { b } else { a }),
        [Ok(a), Err(_)] => Ok(a),
        [Err(_), Ok(b)] => Ok(b),
        [Err(_), Err(_)] => Err(FormatError::NoCheckpoint),
    }
}
