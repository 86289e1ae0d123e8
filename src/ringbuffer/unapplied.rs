// SPDX-License-Identifier: GPL-2.0
//! Writes journaled but not yet on their local device, as a range lock
//! for reads.
//!
//! A write is acknowledged once its entry is durable in the log and its
//! local write is issued (`State::locally_done`), not once that write
//! ended: the block layer does not order a read after a write in flight,
//! so a read of a range with such a write must wait for it
//! (`Engine::map_read`).
//!
//! The index is a table of counters, like dm-bio-prison's cells without
//! the cells: every entry with sectors counts in the counters of the
//! 64 KiB chunks of its device it touches, from its append until its
//! local write ends; a read waits while a counter of its chunks is not
//! zero. Which counters those are is `logic::unapplied` (host-tested: an
//! overlapping read always finds one). Two chunks may share a counter: a
//! read then waits for a write it does not overlap, never the other way
//! round. No walk, no allocation, no lock: `map` reads atomics.

use crate::logic::unapplied::{Cells, BUCKETS};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

/// The unapplied writes of a group.
pub(crate) struct Unapplied {
    buckets: KVec<AtomicU32>,
    /// Entries too wide for the buckets: every read waits for them.
    wide: AtomicU32,
    /// Every entry counted.
    total: AtomicU32,
}

impl Unapplied {
    pub(crate) fn new() -> Result<Self> {
        let mut buckets = KVec::with_capacity(BUCKETS, GFP_KERNEL)?;
        for _ in 0..BUCKETS {
            buckets.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(Self { buckets, wide: AtomicU32::new(0), total: AtomicU32::new(0) })
    }

    fn count(&self, dev: u32, sector: u64, sectors: u32, up: bool) {
        let step = |c: &AtomicU32| {
            if up {
                c.fetch_add(1, Ordering::AcqRel);
            } else {
                c.fetch_sub(1, Ordering::AcqRel);
            }
        };
        let cells = Cells::entry(dev, sector, sectors);
        match cells {
            Cells::Nothing => return,
            Cells::Wide => step(&self.wide),
            Cells::Chunks { .. } => cells.buckets().filter_map(|b| self.buckets.get(b)).for_each(step),
        }
        step(&self.total);
    }

    /// An entry of `sectors` sectors at `sector` of device `dev` was
    /// journaled; its local write is to come.
    pub(crate) fn enter(&self, dev: u32, sector: u64, sectors: u32) {
        self.count(dev, sector, sectors, true)
    }

    /// Its local write ended (or will never be made).
    pub(crate) fn leave(&self, dev: u32, sector: u64, sectors: u32) {
        self.count(dev, sector, sectors, false)
    }

    /// Whether a read of `sectors` sectors at `sector` of `dev` must wait.
    pub(crate) fn blocks(&self, dev: u32, sector: u64, sectors: u32) -> bool {
        if self.total.load(Ordering::Acquire) == 0 {
            return false;
        }
        match Cells::read(dev, sector, sectors) {
            Cells::Nothing => false,
            Cells::Wide => true,
            cells => {
                self.wide.load(Ordering::Acquire) != 0
                    || cells.buckets().any(|b| self.buckets.get(b).is_some_and(|c| c.load(Ordering::Acquire) != 0))
            }
        }
    }
}
