// SPDX-License-Identifier: GPL-2.0
//! A remote device's dirty log kept off the replication log's lock, which
//! every write of the group waits for (`logic::region_records`).
//!
//! A dirty log that answers only by round trip (a `userspace` log asks
//! its daemon for every mark and every question):
//!
//! - region records are made in memory and handed to the dirty log by the
//!   background work before it flushes, oldest first;
//! - the search for resync work answers from the records and from a
//!   window of regions the background work asked about; where neither
//!   knows, it stops ([`Scan::Fetch`]) and the background work asks the
//!   next regions ([`RemoteDev::fetch_regions`]).
//!
//! A `core` or `disk` log changes and answers in memory and takes a
//! record at once, except while the background work flushes it (a `disk`
//! log's flush is I/O, under `log_lock`): then the record waits in the
//! list like a round-trip log's, for the next flush.
//!
//! Records are handed over, and questions asked, under `log_lock`, which
//! also writes each handed-over record into the window, so the window
//! never holds a state older than the log's.

use super::remote::RemoteDev;
use crate::logic::region_records::{RegionRecords, RegionWindow, BATCH, RECORDS};
use crate::slink::{Scan, SlinkDevice};
use core::sync::atomic::Ordering;
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

/// Regions the background work asks about per run.
const FETCH: u64 = 32;

/// No fetch wanted (see [`RemoteDev::fetch_from`]).
pub(super) const NO_FETCH: u64 = u64::MAX;

/// What the module holds of a dirty log beside it.
pub(super) struct Pending {
    records: RegionRecords<KVec<(u64, bool)>>,
    /// Used for a log that answers by round trip only.
    window: RegionWindow,
}

/// [`Pending`] under its lock (a spinlock: nothing under it sleeps).
pub(super) type PendingLock = Pin<KBox<SpinLock<Pending>>>;

/// Room for a dirty log's records.
pub(super) fn pending() -> Result<PendingLock> {
    let storage = KVec::from_elem((0u64, false), RECORDS, GFP_KERNEL)?;
    let p = Pending { records: RegionRecords::new(storage), window: RegionWindow::default() };
    Ok(KBox::pin_init(new_spinlock!(p), GFP_KERNEL)?)
}

impl RemoteDev {
    /// Record region `r` in sync or out of sync: in memory for a dirty
    /// log that changes by round trip, or while a flush holds the log
    /// (handed over by [`Self::hand_over`]), else in the log at once, after
    /// any that wait. When the records are full, they and this one go to
    /// the log now, in order.
    pub(super) fn record(&self, r: u64, in_sync: bool) {
        if (self.round_trip || self.flushing.load(Ordering::Acquire) > 0) && self.pending.lock().records.push(r, in_sync) {
            return;
        }
        let _guard = self.log_lock.lock();
        self.hand_over_locked();
        self.apply(r, in_sync);
    }

    /// Hand every waiting record to the dirty log, oldest first.
    pub(super) fn hand_over(&self) {
        let _guard = self.log_lock.lock();
        self.hand_over_locked();
    }

    /// [`Self::hand_over`] with `log_lock` held. A record stays where
    /// questions find it until the log (and the window) has it; then the
    /// log's count is asked once, here, rather than by the next pass of
    /// the log's work under its lock.
    pub(super) fn hand_over_locked(&self) {
        let mut batch = [(0u64, false); BATCH];
        let mut any = false;
        loop {
            let n = self.pending.lock().records.oldest(&mut batch);
            if n == 0 {
                break;
            }
            for &(r, in_sync) in batch.iter().take(n) {
                self.apply(r, in_sync);
            }
            let mut g = self.pending.lock();
            for &(r, in_sync) in batch.iter().take(n) {
                g.window.update(r, in_sync);
            }
            g.records.remove_oldest(n);
            any = true;
        }
        if any {
            self.log.sync_count();
        }
    }

    fn apply(&self, r: u64, in_sync: bool) {
        match in_sync {
            true => self.log.set_in_sync(r),
            false => self.log.set_out_of_sync(r),
        }
    }

    /// Whether records wait for the dirty log.
    pub(super) fn records_waiting(&self) -> bool {
        !self.pending.lock().records.is_empty()
    }

    /// Whether region `r` is in sync, if known without a round trip: its
    /// waiting record, the window, or a log that answers in memory.
    pub(super) fn region_state_now(&self, r: u64) -> Option<bool> {
        let known = {
            let g = self.pending.lock();
            g.records.lookup(r).or_else(|| g.window.get(r))
        };
        match (known, self.round_trip) {
            (Some(known), _) => Some(known),
            (None, true) => None,
            (None, false) => Some(self.log.in_sync_now(r).unwrap_or_else(|| self.log.in_sync(r))),
        }
    }

    /// Whether region `r` is in sync, asking the dirty log if need be.
    pub(super) fn region_state(&self, r: u64) -> bool {
        self.region_state_now(r).unwrap_or_else(|| self.log.in_sync(r))
    }

    /// Regions in sync: the dirty log's count, below all of them while an
    /// out-of-sync record waits. In-sync records that wait are not
    /// counted yet (a lower count only means a region is taken as out of
    /// sync a little longer).
    pub(super) fn sync_count(&self) -> u64 {
        let n = self.log.sync_count();
        match self.pending.lock().records.outs() {
            0 => n,
            _ => n.min(self.regions().saturating_sub(1)),
        }
    }

    /// Whether the records waiting may make every region in sync (each
    /// in-sync record adds one region at most): then they go to the log
    /// now, so that its count says whether they did.
    pub(super) fn may_complete(&self) -> bool {
        let ins = self.pending.lock().records.ins();
        ins > 0 && self.log.sync_count().saturating_add(ins as u64) >= self.regions()
    }

    /// A search stopped at region `r`, which only the dirty log can tell
    /// about: [`Scan::Fetch`], the background work asks.
    pub(super) fn fetch_at(&self, r: u64) -> Scan {
        self.cursor.store(r, Ordering::Relaxed);
        self.fetch_from.store(r, Ordering::Relaxed);
        Scan::Fetch
    }

    /// Ask the dirty log about the regions from where a search stopped,
    /// [`FETCH`] of them, without the replication log's lock.
    pub(super) fn fetch_regions(&self) {
        let from = self.fetch_from.swap(NO_FETCH, Ordering::Relaxed);
        if !self.round_trip || from == NO_FETCH {
            return;
        }
        let _guard = self.log_lock.lock();
        let end = from.saturating_add(FETCH).min(self.regions());
        for r in from..end {
            let in_sync = self.log.in_sync(r);
            self.pending.lock().window.learn(r, in_sync);
        }
    }

    /// The log was suspended or resumed: what the window holds may be old.
    pub(super) fn forget_window(&self) {
        self.pending.lock().window.forget();
    }

    /// Flush the dirty log, the waiting records first; records made
    /// meanwhile wait for the next flush (see [`Self::record`]).
    pub(super) fn flush_log(&self) -> Result {
        // Counted before the lock is taken: a record made while this
        // waits for it is handed over below.
        self.flushing.fetch_add(1, Ordering::AcqRel);
        let r = {
            let _guard = self.log_lock.lock();
            self.hand_over_locked();
            self.log.flush()
        };
        self.flushing.fetch_sub(1, Ordering::AcqRel);
        r
    }
}
