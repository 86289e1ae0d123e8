// SPDX-License-Identifier: GPL-2.0
//! Completions and the group commit (see `engine.rs`): finished log
//! writes are followed by one flush of the log device that makes the
//! whole batch durable; local, direct and remote completions end their
//! I/O, and a log error switches the group to direct writes. Apart
//! because every I/O the other stages start comes back here.

use super::engine::{Engine, EngineQueue, State, Tag};
use super::entries::EntryState;
use kernel::prelude::*;

impl Engine {
    /// Log I/O failed: from now on writes bypass the log (`direct.rs`)
    /// until a new log replaces it. Returns whether that is new.
    pub(super) fn fail(st: &mut State, what: &str, err: Error) -> bool {
        if st.failed_at.is_some() {
            return false;
        }
        pr_err!(
            "replicator: replication log {} failed ({}); writes go to the local devices only from entry {} on, remote regions marked out of sync\n",
            what,
            err.to_errno(),
            st.durable
        );
        st.failed_at = Some(st.durable);
        true
    }

    /// A local write of device number `dev` failed: the bio got the error
    /// and the device shows `W`. Returns whether that is new.
    fn local_failed(st: &State, dev: u32, what: &str, err: Error) -> bool {
        st.device(dev).is_some_and(|d| d.write_failed(what, err))
    }

    /// The local write of an acknowledged entry failed: the device lacks
    /// a write the application was told is done. It shows `W` and fails
    /// every read until its table is reloaded (`LocalHealth`); the log
    /// and the remote site links still have the write. Returns whether
    /// the status changed.
    fn local_lost(st: &State, dev: u32, sector: u64, sectors: u32, err: Error) -> bool {
        let Some(d) = st.device(dev) else { return false };
        let first = d.health.lose();
        if first {
            pr_err!(
                "replicator: acknowledged write of {} sectors at {} lost on local device {} ({}); its reads fail until the table is reloaded, the log and the remote sites have it\n",
                sectors,
                sector,
                d.bdev.id(),
                err.to_errno()
            );
        }
        d.write_failed("write", err) | first
    }

    /// Take the completed I/O; returns whether the status changed.
    pub(super) fn handle_completions(&self, q: &EngineQueue, st: &mut State) -> bool {
        let mut changed = false;
        for done in q.completed() {
            match Tag::decode(done.tag, st.writer.next_seq()) {
                Tag::Log(seq, fua) => {
                    if let Some(e) = st.entries.get_mut(seq) {
                        e.state = EntryState::Written;
                    }
                    match done.result {
                        // Written with FUA after every earlier entry was
                        // durable: durable itself, no flush needed.
                        Ok(()) if fua && st.durable == seq && st.failed_at.is_none() => {
                            st.durable = seq + 1;
                            // A commit of the log, as a flush is.
                            st.counters.flushes += 1;
                        }
                        Ok(()) => {}
                        Err(err) => changed |= Self::fail(st, "write", err),
                    }
                }
                Tag::Flush(covers) => {
                    st.flushing = false;
                    match done.result {
                        Ok(()) if st.failed_at.is_none() => st.durable = st.durable.max(covers),
                        Ok(()) => {}
                        Err(err) => changed |= Self::fail(st, "flush", err),
                    }
                }
                Tag::Local(seq) => {
                    st.applying = st.applying.saturating_sub(1);
                    let mut failed = None;
                    if let Some(e) = st.entries.get_mut(seq) {
                        e.state = EntryState::Applied;
                        self.unapplied.leave(e.dev, e.sector, e.sectors);
                        // A success may still wait for synchronous site
                        // links (`ack`); a failure ends the bio now, if
                        // it was not acknowledged already.
                        if done.result.is_err() {
                            let acked = e.bio.is_none();
                            if let Some(bio) = e.bio.take() {
                                bio.complete(done.result);
                            }
                            failed = Some((e.dev, e.sector, e.sectors, acked));
                        }
                    }
                    if let (Some((dev, sector, sectors, acked)), Err(err)) = (failed, done.result) {
                        changed |= if acked && sectors > 0 {
                            Self::local_lost(st, dev, sector, sectors, err)
                        } else {
                            Self::local_failed(st, dev, "write", err)
                        };
                    }
                }
                Tag::Direct(slot) => {
                    if let Some(w) = st.direct.take(slot) {
                        if let Err(err) = done.result {
                            changed |= Self::local_failed(st, w.dev, "write", err);
                        }
                        w.complete(done.result);
                    }
                }
                Tag::Remote(nr, op) => changed |= Self::remote_done(q, st, nr, op, done.result),
            }
        }
        while st.written < st.entries.end_seq()
            && st.entries.get(st.written).is_some_and(|e| e.state != EntryState::Writing)
        {
            st.written += 1;
        }
        changed
    }
}
