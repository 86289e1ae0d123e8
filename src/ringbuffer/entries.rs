// SPDX-License-Identifier: GPL-2.0
//! The live entries of the log in memory, oldest first, indexed by
//! sequence number.
//!
//! Entries are appended with consecutive sequence numbers and leave only
//! from the front (after a checkpoint freed their ring space), so a
//! circular array indexed by `seq - first_seq` finds any of them in
//! constant time. It grows by doubling; if that allocation fails the log
//! treats itself as full until entries leave.

use crate::dm::UserBio;
use crate::logic::replog::{EntryFlags, Extent};
use kernel::alloc::Flags;
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
    /// The user's bio, ended once the entry is durable and applied (and
    /// durable at the site links writes wait for).
    pub(crate) bio: Option<UserBio>,
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

/// The live entries.
pub(crate) struct Entries {
    slots: KVec<Option<Entry>>,
    front: usize,
    len: usize,
    first_seq: u64,
}

impl Entries {
    /// No entries; the next one appended has sequence number `next_seq`.
    pub(crate) fn new(next_seq: u64) -> Self {
        Self { slots: KVec::new(), front: 0, len: 0, first_seq: next_seq }
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

    fn index(&self, seq: u64) -> Option<usize> {
        let off = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        if off >= self.len {
            return None;
        }
        let cap = self.slots.len();
        (self.front.checked_add(off)?).checked_rem(cap)
    }

    /// The entry with sequence number `seq`.
    pub(crate) fn get(&self, seq: u64) -> Option<&Entry> {
        let i = self.index(seq)?;
        self.slots.get(i)?.as_ref()
    }

    /// The entry with sequence number `seq`, to change.
    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let i = self.index(seq)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Make room for one more entry; fails only on allocation failure.
    pub(crate) fn reserve(&mut self, flags: Flags) -> Result {
        if self.len < self.slots.len() {
            return Ok(());
        }
        let cap = self.slots.len().max(64).checked_mul(2).ok_or(ENOMEM)?;
        let mut slots = KVec::with_capacity(cap, flags)?;
        let old_cap = self.slots.len();
        for off in 0..self.len {
            let entry = match (self.front + off).checked_rem(old_cap) {
                Some(i) => self.slots.get_mut(i).and_then(Option::take),
                None => None,
            };
            slots.push(entry, flags)?;
        }
        while slots.len() < cap {
            slots.push(None, flags)?;
        }
        self.slots = slots;
        self.front = 0;
        Ok(())
    }

    /// Append `entry`, which must carry sequence number [`Self::end_seq`]
    /// and fit ([`Self::reserve`]); otherwise it is handed back.
    pub(crate) fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if entry.seq != self.end_seq() || self.len >= self.slots.len() {
            return Err(entry);
        }
        let Some(i) = (self.front + self.len).checked_rem(self.slots.len()) else {
            return Err(entry);
        };
        match self.slots.get_mut(i) {
            Some(slot) => {
                *slot = Some(entry);
                self.len += 1;
                Ok(())
            }
            None => Err(entry),
        }
    }

    /// Remove the oldest entry.
    pub(crate) fn pop_front(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        let entry = self.slots.get_mut(self.front)?.take();
        self.front = (self.front + 1).checked_rem(self.slots.len()).unwrap_or(0);
        self.len -= 1;
        self.first_seq = self.first_seq.saturating_add(1);
        entry
    }

    /// Sequence numbers of all entries, oldest first.
    pub(crate) fn seqs(&self) -> core::ops::Range<u64> {
        self.first_seq..self.end_seq()
    }
}
