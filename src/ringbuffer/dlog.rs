// SPDX-License-Identifier: GPL-2.0
//! Remote devices' dirty logs written off the log's state lock.
//!
//! A dirty log's flush is I/O (a `disk` log writes its bitmap, a
//! `userspace` one asks its daemon), and the state lock is what every
//! write of the group waits for. So the main work item only changes the
//! logs in memory under the lock; the background work writes them
//! without it ([`Engine::flush_dirty_logs`]):
//!
//! - in-sync records of copied regions, lazily: losing them in a crash
//!   only copies those regions again;
//! - out-of-sync records, which must be durable before what depends on
//!   them goes on (a link passing entries it gave up or cannot write, a
//!   direct write while the log is failed): each batch of them is a
//!   *generation* ([`DlogWrites::mark`]); what depends on it waits until
//!   the background work wrote that generation ([`DlogWrites::gate`]).

use super::engine::{Engine, EngineQueue, State};
use crate::dm::now_ms;
use crate::slink::SlinkDevice;
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::Arc;

/// The generations of out-of-sync records, in the state.
#[derive(Default)]
pub(crate) struct DlogWrites {
    /// The newest generation made.
    marked: u64,
    /// The newest generation the background work wrote, or tried to.
    tried: u64,
    /// The newest generation written to every device's dirty log.
    written: u64,
    /// Copied regions left in-sync records to write, lazily.
    pub(crate) lazy: bool,
    /// The background work holds references to remote devices to write
    /// their dirty logs: a device that goes waits for it.
    pub(crate) flushing: bool,
}

/// Where a generation of out-of-sync records stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Not written yet.
    Waiting,
    /// Written to every dirty log: what depends on it may go.
    Written,
    /// A dirty log could not be written (logged).
    Failed,
}

impl DlogWrites {
    /// Out-of-sync records were made in memory that must be durable
    /// before something goes on: their generation. The caller kicks the
    /// background work.
    pub(crate) fn mark(&mut self) -> u64 {
        self.marked = self.marked.saturating_add(1);
        self.marked
    }

    /// Where generation `gen` stands.
    pub(crate) fn gate(&self, gen: u64) -> Gate {
        if self.written >= gen {
            Gate::Written
        } else if self.tried >= gen {
            Gate::Failed
        } else {
            Gate::Waiting
        }
    }

    /// Whether generation `gen` was written, or tried.
    pub(crate) fn tried(&self, gen: u64) -> bool {
        self.tried >= gen
    }

    /// Where generation `gen` stands for something that waits on it and
    /// tries again after a failure: `Waiting` until it was tried (the
    /// background work is kicked again, in case memory was short for its
    /// last run); after a failure, `Waiting` for `pause_ms` more (from
    /// `retry_at`, set then), then `Failed` once: a dirty log that cannot
    /// be written is not retried in a loop.
    pub(crate) fn wait(&self, q: &EngineQueue, gen: u64, pause_ms: u32, retry_at: &mut u64) -> Gate {
        match self.gate(gen) {
            Gate::Waiting => {
                q.kick_background();
                Gate::Waiting
            }
            Gate::Written => Gate::Written,
            Gate::Failed => {
                let now = now_ms();
                if *retry_at == 0 {
                    *retry_at = now.saturating_add(u64::from(pause_ms));
                }
                if now < *retry_at {
                    q.kick_after(u32::try_from(*retry_at - now).unwrap_or(pause_ms));
                    Gate::Waiting
                } else {
                    Gate::Failed
                }
            }
        }
    }
}

impl Engine {
    /// References to every remote device of the group, for background
    /// work on them without the state lock; `flushing` is set until
    /// [`Self::release_devices`], so a device that goes waits
    /// (`wait_remote_idle`). `None` when memory is short.
    fn hold_devices(st: &mut State) -> Option<KVec<Arc<dyn SlinkDevice>>> {
        let n = st.slinks.iter().map(|s| s.devices.len()).sum();
        let _noio = crate::dm::NoIo::enter();
        let mut devices = KVec::<Arc<dyn SlinkDevice>>::with_capacity(n, GFP_KERNEL).ok()?;
        for d in st.slinks.iter().flat_map(|s| s.devices.iter()) {
            devices.push(d.clone(), GFP_KERNEL).ok()?;
        }
        st.dlog.flushing = true;
        Some(devices)
    }

    /// Drop the references of [`Self::hold_devices`]; returns the state
    /// locked again.
    fn release_devices(q: &EngineQueue, devices: KVec<Arc<dyn SlinkDevice>>) -> Guard<'_, KBox<State>, MutexBackend> {
        // The references go before a waiting `wait_remote_idle` may let
        // its device go.
        drop(devices);
        let mut st = q.inner().state.lock();
        st.dlog.flushing = false;
        st
    }

    /// Write the remote devices' dirty logs, without the state lock: every
    /// one when out-of-sync records are waiting (a generation not tried
    /// yet), else those with lazy in-sync records
    /// ([`SlinkDevice::flush_lazy`]). Background work item only; the main
    /// work runs again after a generation was tried.
    pub(super) fn flush_dirty_logs(q: &EngineQueue) {
        let (devices, gen, full) = {
            let mut st = q.inner().state.lock();
            let d = &st.dlog;
            let full = d.marked > d.tried;
            if (!d.lazy && !full) || d.flushing {
                return;
            }
            let gen = d.marked;
            // Memory short: lazy records stay in memory until the next
            // run; a waiting generation kicks this work again.
            let Some(devices) = Self::hold_devices(&mut st) else { return };
            st.dlog.lazy = false;
            (devices, gen, full)
        };
        let mut ok = true;
        for d in devices.iter() {
            if !full {
                d.flush_lazy();
            } else if let Err(err) = d.flush_dirty_log() {
                pr_warn!("replicator: dirty log of slink={} device {} cannot be written ({:?})\n", d.slink(), d.dev_nr(), err);
                ok = false;
            }
        }
        {
            let mut st = Self::release_devices(q, devices);
            if full {
                st.dlog.tried = st.dlog.tried.max(gen);
                if ok {
                    st.dlog.written = st.dlog.written.max(gen);
                }
            }
        }
        if full {
            q.kick();
        }
    }

    /// Ask the dirty logs that answer by round trip about the regions
    /// where a resync search stopped (`Scan::Fetch`), without the state
    /// lock, then run the main work again (which searches on, or asks
    /// for this again when memory was short). Background work item only.
    pub(super) fn fetch_regions(q: &EngineQueue) {
        let devices = Self::hold_devices(&mut q.inner().state.lock());
        if let Some(devices) = devices {
            for d in devices.iter() {
                d.fetch_regions();
            }
            drop(Self::release_devices(q, devices));
        }
        q.kick();
    }
}
