// SPDX-License-Identifier: GPL-2.0
//! Health of a replicated device's local device, as slink 0 of the
//! `replicator-dev` status shows it.
//!
//! A read error is seen in the target's `end_io` (interrupt context), a
//! write error by the log's work item when the local write or its flush
//! completes; both only set a bit here. A write error of a write already
//! acknowledged (see `ringbuffer/unapplied.rs`) also marks the device as
//! lacking it: its reads fail from then on. The state stays until the table
//! is replaced (a reload), as dm-raid1 keeps a failed leg's state: a
//! device that failed once is suspect until the administrator acts.

use core::sync::atomic::{AtomicU8, Ordering};

const READ: u8 = 1;
const WRITE: u8 = 2;
/// An acknowledged write failed: the device lacks it.
const LOST: u8 = 4;

/// Read and write errors seen on one local device.
pub(crate) struct LocalHealth(AtomicU8);

impl LocalHealth {
    /// A device with no error seen.
    pub(crate) const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    /// Note a read error; returns whether it is the first (the status
    /// changes: an event is due).
    pub(crate) fn read_failed(&self) -> bool {
        self.0.fetch_or(READ, Ordering::Relaxed) & READ == 0
    }

    /// Note a write (or flush) error; returns whether it is the first.
    pub(crate) fn write_failed(&self) -> bool {
        self.0.fetch_or(WRITE, Ordering::Relaxed) & WRITE == 0
    }

    /// Note that the device lacks an acknowledged write (its local write
    /// failed after the log made it durable); returns whether that is new.
    /// Its reads fail from now on: they could return what the write
    /// replaced.
    pub(crate) fn lose(&self) -> bool {
        self.0.fetch_or(LOST, Ordering::AcqRel) & LOST == 0
    }

    /// Whether the device lacks an acknowledged write.
    pub(crate) fn lost(&self) -> bool {
        self.0.load(Ordering::Acquire) & LOST != 0
    }

    /// `W` after a write error, else `R` after a read error, else `A`.
    pub(crate) fn as_char(&self) -> char {
        let h = self.0.load(Ordering::Relaxed);
        if h & (WRITE | LOST) != 0 {
            'W'
        } else if h & READ != 0 {
            'R'
        } else {
            'A'
        }
    }
}
