// SPDX-License-Identifier: GPL-2.0
//! Writes while the log is failed.
//!
//! A failed log write or flush must not stop the application: from then
//! on each write goes straight to its local device, after its regions are
//! marked out of sync, durably, in the dirty log of every remote device
//! that replicates it (or remembered for a device not attached). The
//! records are written by the background work, off the state lock
//! (`dlog.rs`); the writes wait for it. Every
//! site link also gives up the entries it still needed from the log
//! (`Engine::pump_slinks`), so no remote loses track of what changed; the
//! regions resynchronise once a working log is loaded.
//!
//! At most [`DIRECT_SLOTS`] such writes are in flight; their slot number
//! is their completion tag.

use super::engine::{Engine, EngineQueue, State, Tag};
use super::submit::op_of;
use crate::dm::UserBio;
use kernel::prelude::*;

/// Direct writes in flight at most.
pub(crate) const DIRECT_SLOTS: usize = 64;

/// Milliseconds before a write that could not be recorded for a detached
/// remote device (no memory) is tried again.
const DIRECT_RETRY_MS: u32 = 10;

/// A write that bypasses the failed log.
pub(crate) struct DirectWrite {
    bio: UserBio,
    /// Device number in the group.
    pub(crate) dev: u32,
    /// Its clone is submitted to the local device.
    issued: bool,
    /// The generation of its out-of-sync records (`dlog.rs`), written
    /// before it is issued; 0 for none.
    gen: u64,
}

/// The generation of the records of this run, not known yet.
const THIS_RUN: u64 = u64::MAX;

/// The slots of the direct writes, allocated with the log's state.
pub(crate) struct Direct(KVec<Option<DirectWrite>>);

impl Direct {
    pub(crate) fn new() -> Result<Self> {
        let mut slots = KVec::with_capacity(DIRECT_SLOTS, GFP_KERNEL)?;
        for _ in 0..DIRECT_SLOTS {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(Self(slots))
    }

    fn free_slot(&self) -> Option<usize> {
        self.0.iter().position(Option::is_none)
    }

    /// The write in slot `slot`, which completed.
    pub(crate) fn take(&mut self, slot: u64) -> Option<DirectWrite> {
        let i = usize::try_from(slot).ok()?;
        self.0.get_mut(i)?.take()
    }

    /// Hand the writes of local device `local` not yet issued back to dm
    /// core (a `--noflush` suspend).
    pub(crate) fn requeue(&mut self, local: crate::dm::DevId) {
        for slot in self.0.iter_mut() {
            if slot.as_ref().is_some_and(|w| !w.issued && w.bio.dev() == local) {
                if let Some(w) = slot.take() {
                    w.bio.requeue();
                }
            }
        }
    }
}

impl DirectWrite {
    /// End the user's bio with the local write's result.
    pub(crate) fn complete(self, result: Result) {
        self.bio.complete(result);
    }
}

impl Engine {
    /// The log failed: take deferred bios into free slots, mark their
    /// regions out of sync for every remote site link, make the marks
    /// durable, then write them to their local devices.
    pub(super) fn append_direct(q: &EngineQueue, st: &mut State) {
        let mut marked = false;
        while let Some(i) = st.direct.free_slot() {
            let bio = match st.take_stalled() {
                Some(b) => b,
                None => match q.pop() {
                    Some(b) => b,
                    None => break,
                },
            };
            let op = op_of(&bio);
            if op.sectors > 0 {
                let (sector, sectors) = (op.sector, u64::from(op.sectors));
                let mut remembered = true;
                for s in st.slinks.iter_mut().filter(|s| s.replicates(op.dev)) {
                    match s.device(op.dev).cloned() {
                        Some(d) => d.mark_out_of_sync(sector, sectors),
                        None => remembered &= s.lose(op.dev, sector, sectors).is_ok(),
                    }
                }
                if !remembered {
                    // A write no remote could be told about is not made
                    // yet: it waits for memory (marks already made for
                    // other links are made again, harmlessly).
                    st.hold(bio);
                    q.kick_after(DIRECT_RETRY_MS);
                    break;
                }
                marked = true;
            }
            let gen = if op.sectors > 0 { THIS_RUN } else { 0 };
            if let Some(slot) = st.direct.0.get_mut(i) {
                *slot = Some(DirectWrite { bio, dev: op.dev, issued: false, gen });
            }
        }
        if marked {
            // The background work writes the records, off the lock; the
            // writes go once it tried (a dirty log that cannot be written
            // is logged there, and does not hold the application).
            let gen = st.dlog.mark();
            for w in st.direct.0.iter_mut().flatten().filter(|w| w.gen == THIS_RUN) {
                w.gen = gen;
            }
            q.kick_background();
        }
        let dlog = &st.dlog;
        for (i, slot) in st.direct.0.iter_mut().enumerate() {
            let Some(w) = slot.as_mut().filter(|w| !w.issued && dlog.tried(w.gen)) else { continue };
            if q.clone_submit(&w.bio, Tag::Direct(i as u64).encode()).is_err() {
                // Memory short: again once completions come back.
                return;
            }
            w.issued = true;
        }
    }
}
