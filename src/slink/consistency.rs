// SPDX-License-Identifier: GPL-2.0
//! Whether a remote copy is a point-in-time image of its device.
//!
//! The log ships entries in order, so a copy that only falls behind holds
//! the writes of some prefix of the device's history. A region copy, or an
//! entry shipped while some region is out of sync (its older writes
//! missing at the site), breaks that until every region is in sync and the
//! link has shipped every entry a region copy may have taken. The log
//! keeps this state; the copy carries it, so that a reloaded table's new
//! device object takes it over.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The point-in-time state of one remote copy. Changed under the log's
/// lock; read anywhere.
#[derive(Default)]
pub(crate) struct Consistency {
    /// Whether the copy may not be a point-in-time image.
    inconsistent: AtomicBool,
    /// The sequence number the site must hold durably before the copy is
    /// a point-in-time image again: region copies may hold writes of
    /// entries before it that the link has not shipped yet.
    settles_at: AtomicU64,
}

impl Consistency {
    /// Whether the copy is known to be a point-in-time image.
    pub(crate) fn consistent(&self) -> bool {
        !self.inconsistent.load(Ordering::Relaxed)
    }

    /// The copy stops being a point-in-time image: a write reaches it out
    /// of order, or regions of it are declared different. `upto` is the
    /// end of the log when a region copy reads the local device (every
    /// entry it may hold is before it), 0 otherwise. Returns whether the
    /// state changed.
    pub(crate) fn diverge(&self, upto: u64) -> bool {
        self.settles_at.fetch_max(upto, Ordering::Relaxed);
        !self.inconsistent.swap(true, Ordering::Relaxed)
    }

    /// The copy is a point-in-time image again if no region is out of
    /// sync (`behind` false) or being copied (`copying` false) and the
    /// site holds every entry before `durable`. Returns whether the state
    /// changed.
    pub(crate) fn settle(&self, durable: u64, copying: bool, behind: bool) -> bool {
        if self.consistent() || copying || behind || durable < self.settles_at.load(Ordering::Relaxed) {
            return false;
        }
        self.inconsistent.store(false, Ordering::Relaxed);
        true
    }

    /// Attached to a log afresh (a new table, or a log that replaced a
    /// failed one): sequence numbers of another log mean nothing here.
    pub(crate) fn rebase(&self) {
        self.settles_at.store(0, Ordering::Relaxed);
    }

    /// Take the state of `old`, the copy's state before a reload.
    pub(crate) fn inherit(&self, old: &Consistency) {
        if !old.consistent() {
            self.diverge(old.settles_at.load(Ordering::Relaxed));
        }
    }
}
