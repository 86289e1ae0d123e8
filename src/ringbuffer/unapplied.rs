// SPDX-License-Identifier: GPL-2.0
//! Writes journaled but not yet on their local device, as a range lock
//! for reads.
//!
//! A write is acknowledged once its entry is durable in the log and its
//! local write is issued (`copy.rs`, `ack`), not once that write ended:
//! the block layer does not order a read after a write in flight, so a
//! read of a range with such a write must wait for it (`map_read`).
//!
//! The index is a table of counters, like dm-bio-prison's cells without
//! the cells: every entry with sectors counts once in each 64 KiB chunk
//! of its device it touches (hashed into [`BUCKETS`] counters), from its
//! append until its local write ends. A read waits while any counter of
//! its chunks is non-zero. Two chunks may share a counter: a read then
//! waits for a write it does not overlap, never the other way round.
//! No walk, no allocation, no lock: `map` reads atomics. An entry that
//! spans more than [`WIDE_CHUNKS`] chunks (a large discard) counts in
//! `wide` instead, which every read of the group waits for.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

/// Counters of the table: 32 KiB a group.
const BUCKETS: usize = 8192;
/// Sectors of a chunk (64 KiB).
const CHUNK_SHIFT: u32 = 7;
/// An entry over more chunks than this counts in `wide`.
const WIDE_CHUNKS: u64 = 8;
/// A read over more chunks than this looks at `total`.
const READ_CHUNKS: u64 = 64;

/// The unapplied writes of a group.
pub(crate) struct Unapplied {
    buckets: KVec<AtomicU32>,
    /// Entries counted here (too wide for the buckets).
    wide: AtomicU32,
    /// Every entry counted, wide or not.
    total: AtomicU32,
}

/// The counter of chunk `chunk` of device `dev`.
fn bucket(dev: u32, chunk: u64) -> usize {
    let h = (chunk ^ (u64::from(dev) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> (64 - BUCKETS.trailing_zeros())) as usize
}

/// First and last chunk of `sectors` sectors at `sector` (`sectors > 0`).
fn chunks(sector: u64, sectors: u64) -> (u64, u64) {
    let last = sector.saturating_add(sectors - 1);
    (sector >> CHUNK_SHIFT, last >> CHUNK_SHIFT)
}

impl Unapplied {
    pub(crate) fn new() -> Result<Self> {
        let mut buckets = KVec::with_capacity(BUCKETS, GFP_KERNEL)?;
        for _ in 0..BUCKETS {
            buckets.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(Self { buckets, wide: AtomicU32::new(0), total: AtomicU32::new(0) })
    }

    fn add(&self, dev: u32, sector: u64, sectors: u32, up: bool) {
        if sectors == 0 {
            return;
        }
        let step = |c: &AtomicU32| {
            if up {
                c.fetch_add(1, Ordering::AcqRel);
            } else {
                c.fetch_sub(1, Ordering::AcqRel);
            }
        };
        let (first, last) = chunks(sector, u64::from(sectors));
        if last - first >= WIDE_CHUNKS {
            step(&self.wide);
        } else {
            for chunk in first..=last {
                if let Some(c) = self.buckets.get(bucket(dev, chunk)) {
                    step(c);
                }
            }
        }
        step(&self.total);
    }

    /// An entry of `sectors` sectors at `sector` of device `dev` was
    /// journaled; its local write is to come.
    pub(crate) fn enter(&self, dev: u32, sector: u64, sectors: u32) {
        self.add(dev, sector, sectors, true)
    }

    /// Its local write ended (or will never be made).
    pub(crate) fn leave(&self, dev: u32, sector: u64, sectors: u32) {
        self.add(dev, sector, sectors, false)
    }

    /// Whether a read of `sectors` sectors at `sector` of `dev` must wait.
    pub(crate) fn blocks(&self, dev: u32, sector: u64, sectors: u32) -> bool {
        if self.total.load(Ordering::Acquire) == 0 || sectors == 0 {
            return false;
        }
        if self.wide.load(Ordering::Acquire) != 0 {
            return true;
        }
        let (first, last) = chunks(sector, u64::from(sectors));
        if last - first >= READ_CHUNKS {
            return true;
        }
        (first..=last).any(|chunk| self.buckets.get(bucket(dev, chunk)).is_some_and(|c| c.load(Ordering::Acquire) != 0))
    }
}
