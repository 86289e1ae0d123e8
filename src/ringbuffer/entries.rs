// SPDX-License-Identifier: GPL-2.0
//! The live entries of the log in memory, oldest first, indexed by
//! sequence number.
//!
//! Entries are appended with consecutive sequence numbers and leave only
//! from the front (after a checkpoint freed their ring space), so a table
//! indexed by sequence number finds any of them in constant time. Its
//! directory is sized for the ring, so any log fills to capacity. Its
//! pages of entry slots are allocated at open for the first
//! [`PREALLOC_ENTRIES`] entries, later a page at a time as the backlog
//! reaches a new high, and never freed while the log lives: a page left
//! empty goes to a pool the next one comes from. So once a log has held
//! N entries, holding N again allocates nothing (a ring's worth costs
//! about 2 % of the ring's size in memory). If a page cannot be had the
//! log treats itself as full until entries leave.

use crate::dm::UserBio;
use crate::logic::replog::{EntryFlags, Extent};
use kernel::alloc::{Flags, KVVec};
use kernel::prelude::*;

/// Where an entry is on its way to the local device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// Its log write is in flight.
    Writing,
    /// Written to the log (durable once the log flush covering it ends).
    Written,
    /// Durable; its local write is in flight.
    Applying,
    /// On the local device, which may still hold it in a volatile cache.
    Applied,
    /// Found by recovery; not yet replayed onto the local device.
    Replay,
    /// On the local device and flushed there: only its ring space is left.
    Settled,
}

/// One live entry.
pub(crate) struct Entry {
    /// Sequence number.
    pub(crate) seq: u64,
    /// Its epoch.
    pub(crate) epoch: u64,
    /// Its blocks in the ring.
    pub(crate) extent: Extent,
    /// Device number in the group.
    pub(crate) dev: u32,
    /// First sector on the device.
    pub(crate) sector: u64,
    /// Length in sectors.
    pub(crate) sectors: u32,
    /// Request kind.
    pub(crate) flags: EntryFlags,
    /// CRC-32C of the data (recovered entries are checked on replay).
    pub(crate) data_crc: u32,
    /// Progress.
    pub(crate) state: EntryState,
    /// The user's bio, ended once the entry is durable and its local
    /// write issued (and the site links writes wait for have it).
    pub(crate) bio: Option<UserBio>,
    /// Its local write holds its own data (`IoQueue::clone_submit`): the
    /// bio may end before that write does.
    pub(crate) own: bool,
    /// When it was appended (ms since boot), for fall-behind timeouts.
    pub(crate) at_ms: u64,
}

impl Entry {
    /// Whether the entry's sectors overlap `sector..sector + sectors` of
    /// device `dev`.
    pub(crate) fn overlaps(&self, dev: u32, sector: u64, sectors: u32) -> bool {
        self.dev == dev
            && self.sectors > 0
            && sectors > 0
            && self.sector < sector.saturating_add(u64::from(sectors))
            && sector < self.sector.saturating_add(u64::from(self.sectors))
    }
}

/// A fixed block of entry slots: one page of them.
type Chunk = KVec<Option<Entry>>;

/// Entries per chunk: as many as fit in a page, so a chunk is an order-0
/// allocation however large the log is.
const CHUNK: usize = {
    let n = 4096 / core::mem::size_of::<Option<Entry>>();
    if n == 0 {
        1
    } else {
        n
    }
};

/// Entries whose slots are allocated when the table is: the whole table
/// for small rings.
pub(crate) const PREALLOC_ENTRIES: usize = 4096;

/// The directory of a table for a ring of `ring_blocks` blocks, and room
/// for its pool of free chunks, allocated apart from the table so a
/// resize can allocate it before it takes the state lock.
pub(crate) struct Directory(KVVec<Option<Chunk>>, KVVec<Chunk>);

impl Directory {
    /// Room for every entry a ring of `ring_blocks` blocks can hold: an
    /// entry takes at least one block, and the live ones may straddle one
    /// more chunk than they fill.
    pub(crate) fn for_ring(ring_blocks: u64, flags: Flags) -> Result<Self> {
        let entries = usize::try_from(ring_blocks).map_err(|_| ENOMEM)?.checked_add(1).ok_or(ENOMEM)?;
        let len = entries.div_ceil(CHUNK).checked_add(1).ok_or(ENOMEM)?;
        let mut dir = KVVec::with_capacity(len, flags)?;
        for _ in 0..len {
            dir.push(None, flags)?;
        }
        Ok(Self(dir, KVVec::with_capacity(len, flags)?))
    }
}

/// The live entries.
///
/// Sequence number `seq` lives in slot `seq % CHUNK` of chunk `seq /
/// CHUNK`, which sits at that number modulo the directory's length. The
/// directory is sized once for the ring, so the table never moves and
/// never copies entries; a chunk comes from the pool (`dir.1`, with room
/// for every chunk of the directory) when the first entry of its range
/// arrives, or is allocated if the pool is empty, and goes back to the
/// pool when its last entry leaves.
pub(crate) struct Entries {
    dir: Directory,
    first_seq: u64,
    len: usize,
}

fn new_chunk(flags: Flags) -> Result<Chunk> {
    let mut c = KVec::with_capacity(CHUNK, flags)?;
    for _ in 0..CHUNK {
        c.push(None, flags)?;
    }
    Ok(c)
}

impl Entries {
    /// No entries, room for every entry a ring of `ring_blocks` blocks can
    /// hold; the next one appended has sequence number `next_seq`.
    pub(crate) fn new(next_seq: u64, ring_blocks: u64, flags: Flags) -> Result<Self> {
        let mut dir = Directory::for_ring(ring_blocks, flags)?;
        let chunks = PREALLOC_ENTRIES.div_ceil(CHUNK).min(dir.0.len());
        for _ in 0..chunks {
            dir.1.push(new_chunk(flags)?, flags)?;
        }
        Ok(Self { dir, first_seq: next_seq, len: 0 })
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Sequence number of the oldest entry (the next one's if empty).
    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number the next entry appended must have.
    pub(crate) fn end_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.len as u64)
    }

    /// Directory index of the chunk holding `seq`, and the slot in it.
    fn place(&self, seq: u64) -> Option<(usize, usize)> {
        let key = seq / CHUNK as u64;
        let d = usize::try_from(key.checked_rem(self.dir.0.len() as u64)?).ok()?;
        Some((d, (seq % CHUNK as u64) as usize))
    }

    fn index(&self, seq: u64) -> Option<(usize, usize)> {
        if seq < self.first_seq || seq >= self.end_seq() {
            return None;
        }
        self.place(seq)
    }

    /// The entry with sequence number `seq`.
    pub(crate) fn get(&self, seq: u64) -> Option<&Entry> {
        let (d, i) = self.index(seq)?;
        self.dir.0.get(d)?.as_ref()?.get(i)?.as_ref()
    }

    /// The entry with sequence number `seq`, to change.
    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let (d, i) = self.index(seq)?;
        self.dir.0.get_mut(d)?.as_mut()?.get_mut(i)?.as_mut()
    }

    /// Whether one more entry stays within the directory.
    fn has_room(&self) -> bool {
        let span = self.end_seq() / CHUNK as u64 - self.first_seq / CHUNK as u64;
        span < self.dir.0.len() as u64
    }

    /// Make room for one more entry: at most one page-sized allocation,
    /// when the next entry opens a chunk and the pool is empty. Fails on
    /// allocation failure or when the ring's worth of entries is live.
    pub(crate) fn reserve(&mut self, flags: Flags) -> Result {
        if !self.has_room() {
            return Err(ENOSPC);
        }
        let (d, _) = self.place(self.end_seq()).ok_or(EINVAL)?;
        let slot = self.dir.0.get_mut(d).ok_or(EINVAL)?;
        if slot.is_none() {
            *slot = Some(match crate::dm::pop(&mut self.dir.1) {
                Some(c) => c,
                None => new_chunk(flags)?,
            });
        }
        Ok(())
    }

    /// Append `entry`, which must carry sequence number [`Self::end_seq`]
    /// and fit ([`Self::reserve`]); otherwise it is handed back.
    pub(crate) fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if entry.seq != self.end_seq() || !self.has_room() {
            return Err(entry);
        }
        let Some((d, i)) = self.place(entry.seq) else {
            return Err(entry);
        };
        match self.dir.0.get_mut(d).and_then(Option::as_mut).and_then(|c| c.get_mut(i)) {
            Some(slot) => {
                *slot = Some(entry);
                self.len += 1;
                Ok(())
            }
            None => Err(entry),
        }
    }

    /// Remove the oldest entry; a chunk it leaves empty goes to the pool.
    pub(crate) fn pop_front(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        let (d, i) = self.place(self.first_seq)?;
        let chunk = self.dir.0.get_mut(d)?;
        let entry = chunk.as_mut()?.get_mut(i)?.take();
        self.first_seq = self.first_seq.saturating_add(1);
        self.len -= 1;
        if self.first_seq % CHUNK as u64 == 0 {
            if let Some(c) = chunk.take() {
                // Within the pool's capacity (one per directory slot): no
                // allocation; were it to fail, the chunk is freed.
                let _ = self.dir.1.push(c, GFP_NOWAIT);
            }
        }
        entry
    }

    /// Use `dir` if it is larger (the ring grew): chunk pointers move,
    /// entries stay where they are, the pool moves over.
    pub(crate) fn regrow(&mut self, mut dir: Directory) {
        if dir.0.len() <= self.dir.0.len() {
            return;
        }
        let first = self.first_seq / CHUNK as u64;
        let last = self.end_seq() / CHUNK as u64;
        for key in first..=last {
            let from = key.checked_rem(self.dir.0.len() as u64);
            let to = key.checked_rem(dir.0.len() as u64);
            let (Some(from), Some(to)) = (from, to) else { continue };
            let chunk = usize::try_from(from).ok().and_then(|f| self.dir.0.get_mut(f)).and_then(Option::take);
            if let Some(slot) = usize::try_from(to).ok().and_then(|t| dir.0.get_mut(t)) {
                *slot = chunk;
            }
        }
        // The new pool has room for at least as many.
        while let Some(c) = crate::dm::pop(&mut self.dir.1) {
            let _ = dir.1.push(c, GFP_NOWAIT);
        }
        self.dir = dir;
    }

    /// Sequence numbers of all entries, oldest first.
    pub(crate) fn seqs(&self) -> core::ops::Range<u64> {
        self.first_seq..self.end_seq()
    }
}
