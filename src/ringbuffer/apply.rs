// SPDX-License-Identifier: GPL-2.0
//! Durable entries to the local devices (see `engine.rs`): their local
//! writes start in sequence order, overlapping ones one after the other;
//! a `--noflush` suspend gets back the bios not yet journaled. Apart
//! because it alone writes the local devices from the log.

use super::engine::{Engine, EngineQueue, State, Tag};
use super::entries::{Entry, EntryState};
use crate::dm::DevId;

impl State {
    /// Whether entry `e` is done as far as the local site goes, so its
    /// bio may end: durable in the log with its local write issued from
    /// data of its own (reads of its range wait for that write, see
    /// `unapplied.rs`), or applied. The local write is off the
    /// acknowledgement path: a crash before it ends replays the entry. An
    /// entry past a log failure is not durable: applied only.
    pub(super) fn locally_done(&self, e: &Entry) -> bool {
        match e.state {
            EntryState::Applied => true,
            EntryState::Applying => e.own && self.failed_at.map_or(true, |f| e.seq < f),
            _ => false,
        }
    }

    /// Whether `seq` overlaps an entry whose local write is in flight:
    /// the block layer does not order overlapping writes, the log does.
    fn overlaps_applying(&self, seq: u64, dev: u32, sector: u64, sectors: u32) -> bool {
        let mut left = self.applying;
        let mut s = seq;
        while left > 0 && s > self.entries.first_seq() {
            s -= 1;
            if let Some(e) = self.entries.get(s) {
                if e.state == EntryState::Applying {
                    left -= 1;
                    if e.overlaps(dev, sector, sectors) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

impl Engine {
    /// Start the local writes of durable entries, in order.
    pub(super) fn apply(&self, q: &EngineQueue, st: &mut State) {
        loop {
            let seq = st.apply;
            let limit = if st.failed_at.is_some() { st.written } else { st.durable };
            if seq >= limit {
                return;
            }
            // Not durable when the log failed: applied locally once every
            // site link gave it up to its dirty logs (`pump_slinks`), as a
            // direct write would be.
            let failed = st.failed_at.is_some_and(|f| seq >= f);
            let applying = st.applying;
            let Some(e) = st.entries.get(seq) else {
                st.apply += 1;
                continue;
            };
            if e.state != EntryState::Written {
                st.apply += 1;
                continue;
            }
            if failed && !st.slinks.iter().all(|s| s.releases(seq) || !s.needs(e)) {
                return;
            }
            let (dev, sector, sectors) = (e.dev, e.sector, e.sectors);
            // A failed empty flush still flushes the local device: the
            // log cannot make what came before it durable.
            let local = sectors > 0 || failed;
            if local && applying > 0 && st.overlaps_applying(seq, dev, sector, sectors) {
                return;
            }
            // A resync is reading the region from the local device.
            if local && st.resyncing(e) {
                return;
            }
            let Some(e) = st.entries.get_mut(seq) else { return };
            match e.bio.as_ref() {
                Some(bio) if local => {
                    let Ok(own) = q.clone_submit(bio, Tag::Local(seq).encode()) else {
                        // Memory short: again once completions come back.
                        return;
                    };
                    e.state = EntryState::Applying;
                    e.own = own;
                    st.applying += 1;
                }
                _ => {
                    // An empty flush is complete once durable.
                    e.state = EntryState::Settled;
                    self.unapplied.leave(e.dev, e.sector, e.sectors);
                    if let Some(bio) = e.bio.take() {
                        bio.complete(Ok(()));
                    }
                }
            }
            st.apply += 1;
        }
    }

    /// Hand deferred bios of local device `local` back to dm core (a
    /// `--noflush` suspend of its `replicator-dev`).
    pub(crate) fn requeue(q: &EngineQueue, local: DevId) {
        let mut st = q.inner().state.lock();
        let mine = st.stalled.as_ref().is_some_and(|b| b.dev() == local);
        let stalled = if mine { st.stalled.take() } else { None };
        // Keep the lock so the main work item cannot journal any of them.
        if let Some(b) = stalled {
            b.requeue();
        }
        st.direct.requeue(local);
        q.requeue_dev(local);
        drop(st);
    }
}
