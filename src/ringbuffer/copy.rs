// SPDX-License-Identifier: GPL-2.0
//! The engine's side of the remote site links (see [`super::slink`]):
//! issuing copies, flushes and region resyncs, taking their completions,
//! and giving entries up for a link when the log is full.

use super::engine::{Engine, EngineQueue, State, Tag};
use super::entries::{Entries, Entry, EntryState};
use super::dlog::{DlogWrites, Gate};
use super::slink::{Copy, GiveUp, LinkError, Resync, Skip, Slink, MAX_COPIES, MAX_RESYNCS};
use super::unapplied::Unapplied;
use crate::dm::{now_ms, slink_timeout_ms};
use crate::slink::{self, Scan, SlinkDevice, Source};
use crate::logic::replog::EntryFlags;
use kernel::prelude::*;
use kernel::sync::Arc;

/// What a remote completion was for.
#[derive(Clone, Copy)]
pub(super) enum RemoteOp {
    /// The copy of an entry.
    Copy(u64),
    /// A flush of the link's devices.
    Flush,
    /// A region copy of a resync, by its slot.
    Resync(u64),
    /// The flush that makes a copied region durable before it is marked
    /// in sync, by its slot.
    ResyncFlush(u64),
}

impl Engine {
    /// Issue what every site link can take now; returns whether the state
    /// shown in the status changed.
    pub(super) fn pump_slinks(&self, q: &EngineQueue, st: &mut State) -> bool {
        let now = now_ms();
        let mut changed = false;
        let head = st.entries.first_seq();
        let full = st.is_full();
        let mut slinks = core::mem::take(&mut st.slinks);
        for s in slinks.iter_mut() {
            // A give-up whose records are being written: the link waits
            // for them, then lets its entries go.
            match Self::given_up(q, st, s) {
                Some(true) => {
                    changed = true;
                    // The entries it held may now be applied or freed.
                    q.kick();
                    continue;
                }
                Some(false) => continue,
                None => {}
            }
            if st.failed_at.is_some() {
                // Nothing more is read from a failed log: what the link
                // still needs goes to its dirty logs, as every write does
                // from now on. Resync waits for a working log.
                let end = st.entries.end_seq();
                if s.idle() && s.durable < end {
                    self.give_up(q, st, s, end, "log failed");
                }
                continue;
            }
            if s.error.is_some() {
                for r in s.resync.iter_mut() {
                    r.stale = true;
                }
            }
            changed |= s.check_fallbehind(&st.entries, now);
            changed |= Self::check_timeout(q, s, now);
            // A full log waiting on this link (slow or down): let it drain,
            // then give up its entries, unless it stalls writers instead.
            // A link that is down may have I/O out that never ends (a
            // transport that hangs): it gives up without draining, or
            // the full log would hold every writer.
            let giving_up = full && !s.policy.is_stall() && !s.releases(head);
            if giving_up {
                if s.idle() || s.error.is_some() {
                    let to = st.durable;
                    self.give_up(q, st, s, to, "log full");
                }
                continue;
            }
            if s.paused {
                // Stopped: what is in flight completes, nothing new goes.
                continue;
            }
            if s.devices.iter().any(|d| !d.identity_ok()) {
                // A labelled remote not checked since it was out of reach
                // gets nothing before its label matched (checked in the
                // background); one that did not match keeps the link down.
                // Checked at once on a link that is up, at its retest
                // pace on one that is down (a failed check takes it down
                // first).
                let failed = s.devices.iter().find_map(|d| d.identity_failed());
                if let (None, Some(why)) = (s.error, failed) {
                    pr_warn!("replicator: slink={} down ({}); local I/O continues\n", s.nr, why);
                    s.error = Some(LinkError::Write);
                    s.probing = false;
                    s.retest_at = now.saturating_add(u64::from(s.retest_ms));
                    changed = true;
                } else if s.error.is_none() || now >= s.retest_at {
                    for d in s.devices.iter() {
                        d.check_identity();
                    }
                    s.retest_at = now.saturating_add(u64::from(s.retest_ms));
                }
                q.kick_after(s.retest_ms);
                continue;
            }
            if s.error.is_some() && !s.probing {
                if !s.idle() {
                    // Its completions run the work again.
                    continue;
                }
                if now < s.retest_at {
                    // Nothing else may come: make sure the retest does.
                    q.kick_after(u32::try_from(s.retest_at - now).unwrap_or(u32::MAX));
                    continue;
                }
                // Try again from what the site is known to hold. The link
                // stays down until a copy succeeds (see `remote_done`).
                s.probing = true;
                s.retries = s.retries.saturating_add(1);
                s.failed = None;
                s.next = s.durable;
                s.unflushed = false;
            }
            self.issue_copies(q, s, &st.entries, st.durable, &mut st.dlog);
            if s.inflight.is_empty() && s.flushes == 0 {
                if s.unflushed {
                    Self::flush_slink(q, s);
                } else {
                    s.durable = s.durable.max(s.copied());
                }
            }
            if s.next >= st.durable && s.inflight.len() < MAX_COPIES / 2 {
                Self::resync_step(q, st, s);
            }
            for dev in s.devices.iter() {
                let copying = s.resync.iter().any(|r| slink::same(&r.dev, dev));
                if dev.consistency().settle(s.durable, copying, dev.behind_regions()) {
                    pr_info!("replicator: slink={} device {} consistent\n", s.nr, dev.dev_nr());
                    changed = true;
                }
            }
            if s.probing && s.idle() && !s.blocked {
                // Nothing to send: nothing is known to fail either. A link
                // waiting for a detached device has not been tried: it
                // stays down until a write to the site succeeds.
                changed |= s.link_up();
            }
        }
        st.slinks = slinks;
        changed
    }

    /// Copy the durable entries of `s` in order, within an epoch at once.
    fn issue_copies(&self, q: &EngineQueue, s: &mut Slink, entries: &Entries, durable: u64, dlog: &mut DlogWrites) {
        s.blocked = false;
        while s.inflight.len() < MAX_COPIES && s.next < durable {
            let seq = s.next;
            let Some(e) = entries.get(seq) else {
                if seq < entries.first_seq() {
                    s.next = entries.first_seq();
                    continue;
                }
                return;
            };
            if !s.needs(e) {
                s.next += 1;
                continue;
            }
            if e.epoch != s.epoch {
                // The old epoch must be complete and durable at the site.
                if !s.inflight.is_empty() || s.flushes > 0 {
                    return;
                }
                if s.unflushed {
                    Self::flush_slink(q, s);
                    return;
                }
                s.epoch = e.epoch;
            }
            let Some(dev) = s.device(e.dev).cloned() else {
                // Its device is detached (a restart of its
                // `replicator-dev`): later entries wait for it.
                s.blocked = true;
                return;
            };
            let sectors = u64::from(e.sectors);
            if s.busy(e.dev, e.sector, sectors) {
                return;
            }
            let lbs = dev.block_sectors();
            if e.sector % lbs != 0 || sectors % lbs != 0 {
                // The site's device takes no write this small or this
                // misaligned (its block size grew since the table was
                // loaded: a reloaded path, an NBD device connected with
                // 4 KiB blocks). Resynchronised by region instead, whole
                // regions being whole blocks; durably marked (by the
                // background work, `dlog.rs`) before the link passes the
                // entry.
                let Some(mut skip) = s.skipping.filter(|k| k.seq == seq) else {
                    dev.mark_out_of_sync(e.sector, sectors);
                    s.skipping = Some(Skip { seq, gen: dlog.mark(), retry_at: 0 });
                    q.kick_background();
                    return;
                };
                match dlog.wait(q, skip.gen, s.retest_ms, &mut skip.retry_at) {
                    Gate::Waiting => s.skipping = Some(skip),
                    // Marked again on the next run.
                    Gate::Failed => s.skipping = None,
                    Gate::Written => {
                        s.skipping = None;
                        dev.warn_block_size();
                        s.next += 1;
                        continue;
                    }
                }
                return;
            }
            let zero = e.flags.contains(EntryFlags::DISCARD) || e.flags.contains(EntryFlags::WRITE_ZEROES);
            // The ring sector of the data (none for a zeroing job).
            let src = match zero {
                true => None,
                false => match e.extent.start.checked_add(1).and_then(|b| self.ring_sector(b)) {
                    Some(src) => Some(src),
                    None => return,
                },
            };
            // Tracked before it is issued: a copy in flight is always in
            // `inflight`, so teardown and synchronous writers wait for it.
            // The list holds MAX_COPIES from the link's creation: this
            // push does not allocate.
            let c = Copy { seq, dev: e.dev, sector: e.sector, sectors, at_ms: now_ms() };
            if s.inflight.push(c, GFP_NOWAIT).is_err() {
                return;
            }
            let tag = Tag::Remote(s.nr, RemoteOp::Copy(seq)).encode();
            // While the writer's bio is held (a link that writes wait for,
            // or one that keeps up), its stable copy goes to the site from
            // memory; otherwise the data is read back from the ring.
            let io = q.submit();
            let ring = |src| Source::Device { dev: &self.log, sector: src, resync: false };
            let issued = match (src, e.bio.as_ref()) {
                (None, _) => dev.write(&io, Source::Zeroes, e.sector, sectors, tag),
                (Some(src), Some(bio)) => match dev.write(&io, Source::Memory(bio), e.sector, sectors, tag) {
                    Ok(false) => dev.write(&io, ring(src), e.sector, sectors, tag),
                    shipped => shipped,
                },
                (Some(src), None) => dev.write(&io, ring(src), e.sector, sectors, tag),
            };
            if issued.is_err() {
                // Memory short: untracked again, issued once remote
                // completions come back.
                crate::dm::retain(&mut s.inflight, |c| c.seq != seq);
                return;
            }
            s.next += 1;
        }
    }

    /// Flush every device of `s`: the copies completed so far become
    /// durable at the site.
    fn flush_slink(q: &EngineQueue, s: &mut Slink) {
        s.flush_covers = s.copied();
        s.flush_at_ms = now_ms();
        s.unflushed = false;
        for d in s.devices.iter() {
            if d.flush(&q.submit(), Tag::Remote(s.nr, RemoteOp::Flush).encode()).is_err() {
                // Memory short: this round covers nothing new; another
                // one follows once remote completions come back.
                s.flush_covers = s.durable;
                s.unflushed = true;
                break;
            }
            s.flushes += 1;
        }
        if s.flushes == 0 {
            s.durable = s.durable.max(s.flush_covers);
        }
    }

    /// Copy the next out-of-sync regions of the devices of `s` from their
    /// local devices, up to [`MAX_RESYNCS`] at once, each once no local
    /// write to it is pending (the copy must see every entry the link
    /// skipped there).
    fn resync_step(q: &EngineQueue, st: &State, s: &mut Slink) {
        let mut di = 0;
        while s.resync.len() < MAX_RESYNCS {
            let Some(dev) = s.devices.get(di).cloned() else { return };
            let Some(local) = st.device(dev.dev_nr()) else {
                di += 1;
                continue;
            };
            let dev_nr = dev.dev_nr();
            let found = dev.next_out_of_sync(&|r| {
                let (sector, sectors) = dev.region_extent(r);
                sectors == 0 || st.local_pending(&q.inner().unapplied, dev_nr, sector, sectors) || s.busy(dev_nr, sector, sectors)
            });
            let region = match found {
                Scan::Found(r) => r,
                Scan::More => {
                    // The search goes on in the next work run.
                    q.kick();
                    di += 1;
                    continue;
                }
                Scan::Fetch => {
                    // The background work asks the dirty log, then runs
                    // the work again.
                    q.inner().fetch.store(true, core::sync::atomic::Ordering::Relaxed);
                    q.kick_background();
                    di += 1;
                    continue;
                }
                Scan::None => {
                    di += 1;
                    continue;
                }
            };
            let (sector, sectors) = dev.region_extent(region);
            let Some(slot) = (0..MAX_RESYNCS as u64).find(|n| s.resync.iter().all(|r| r.slot != *n)) else { return };
            let r = Resync {
                slot,
                dev: dev.clone(),
                _local: local.clone(),
                region,
                sector,
                sectors,
                at_ms: now_ms(),
                upto: st.entries.end_seq(),
                stale: false,
            };
            // Room for MAX_RESYNCS from the link's creation: no allocation.
            if s.resync.push(r, GFP_NOWAIT).is_err() {
                return;
            }
            let tag = Tag::Remote(s.nr, RemoteOp::Resync(slot)).encode();
            let src = Source::Device { dev: &local.bdev, sector, resync: true };
            if dev.write(&q.submit(), src, sector, sectors, tag).is_err() {
                // Memory short: the region is copied in a later run.
                crate::dm::retain(&mut s.resync, |r| r.slot != slot);
                return;
            }
            dev.resync_from(region.saturating_add(1));
        }
    }

    /// The log is full (or failed) and `s` holds its oldest entries: mark
    /// the regions of those before `to` out of sync (or, for a device not
    /// attached, remember them until it attaches); once the background
    /// work wrote the marks, [`Self::given_up`] lets the entries go.
    ///
    /// I/O of the link may still be in flight (a link that is down): a
    /// copy in flight keeps its region from being resynchronised until it
    /// ends (`Slink::busy`), and a region copy in flight is stale (see
    /// [`Resync::stale`]): its region stays out of sync.
    fn give_up(&self, q: &EngineQueue, st: &mut State, s: &mut Slink, to: u64, why: &'static str) {
        let from = s.durable.max(st.entries.first_seq());
        let mut n = 0u64;
        for seq in from..to {
            let Some(e) = st.entries.get(seq).filter(|e| s.needs(e)) else { continue };
            match s.device(e.dev).cloned() {
                Some(dev) => dev.mark_out_of_sync(e.sector, u64::from(e.sectors)),
                None => {
                    if s.lose(e.dev, e.sector, u64::from(e.sectors)).is_err() {
                        pr_err!("replicator: no memory to record what slink={} gives up; log entries kept\n", s.nr);
                        return;
                    }
                }
            }
            n += 1;
        }
        let gen = st.dlog.mark();
        s.giving_up = Some(GiveUp { to, gen, entries: n, why, retry_at: 0 });
        q.kick_background();
    }

    /// The give-up of `s` in progress, if any: `Some(true)` if its records
    /// are now written and the link passed its entries, `Some(false)` if
    /// they are still being written. A dirty log that could not be written
    /// keeps the entries, and the link tries again after its retest
    /// interval (`None`: it may give up again).
    fn given_up(q: &EngineQueue, st: &State, s: &mut Slink) -> Option<bool> {
        let mut g = s.giving_up?;
        match st.dlog.wait(q, g.gen, s.retest_ms, &mut g.retry_at) {
            Gate::Waiting => {
                s.giving_up = Some(g);
                return Some(false);
            }
            Gate::Failed => {
                pr_err!("replicator: dirty logs of slink={} cannot be written; log entries kept\n", s.nr);
                s.giving_up = None;
                return None;
            }
            Gate::Written => {}
        }
        s.giving_up = None;
        s.next = s.next.max(g.to);
        s.durable = s.durable.max(g.to);
        s.failed = None;
        s.unflushed = false;
        s.dropped = s.dropped.saturating_add(g.entries);
        pr_warn!("replicator: {}: slink={} gives up {} entries; their regions will be resynchronised\n", g.why, s.nr, g.entries);
        Some(true)
    }

    /// A remote I/O in flight for longer than the `slink_timeout` module
    /// parameter marks the link down, as an error would: writes stop
    /// waiting for a site that does not answer. The I/O itself is left to
    /// the transport; the link is retried once it has ended. Returns
    /// whether the link went down.
    fn check_timeout(q: &EngineQueue, s: &mut Slink, now: u64) -> bool {
        let limit = u64::from(slink_timeout_ms());
        if limit == 0 || (s.error.is_some() && !s.probing) {
            return false;
        }
        let Some(oldest) = s.oldest_io_ms() else { return false };
        let age = now.saturating_sub(oldest);
        if age < limit {
            return false;
        }
        let was_up = s.error.is_none();
        if was_up {
            pr_warn!(
                "replicator: slink={} down (timeout, I/O pending for {} ms); local I/O continues, retrying every {} ms\n",
                s.nr,
                age,
                s.retest_ms
            );
        }
        s.error = Some(LinkError::Write);
        s.probing = false;
        s.retest_at = now.saturating_add(u64::from(s.retest_ms));
        s.recheck_identities();
        q.kick_after(s.retest_ms);
        was_up
    }

    /// Take a remote completion; returns whether the status changed.
    pub(super) fn remote_done(q: &EngineQueue, st: &mut State, nr: u32, op: RemoteOp, result: Result) -> bool {
        let Some(s) = st.slinks.iter_mut().find(|s| s.nr == nr) else { return false };
        let errno = result.err().map_or(0, |e| e.to_errno());
        let what = match op {
            RemoteOp::Copy(_) => "copy",
            RemoteOp::Flush => "flush",
            RemoteOp::Resync(_) => "region copy",
            RemoteOp::ResyncFlush(_) => "region flush",
        };
        let error = match result {
            Ok(()) => None,
            Err(e) if e.to_errno() == -(kernel::bindings::ENODATA as i32) => Some(LinkError::Read),
            Err(_) => Some(LinkError::Write),
        };
        // A retried link is up again once a write to it succeeds.
        let mut changed = error.is_none() && !matches!(op, RemoteOp::Flush) && s.link_up();
        match op {
            RemoteOp::Copy(seq) => {
                if error.is_none() {
                    // A write reached the copy while older ones are missing
                    // there (regions out of sync): out of write order. A
                    // failed write is taken as not written.
                    let dev = s.inflight.iter().find(|c| c.seq == seq).and_then(|c| s.device(c.dev));
                    if let Some(dev) = dev.filter(|d| d.behind_regions()) {
                        changed |= Self::diverged(s.nr, &**dev, 0, "writes reach it while regions are out of sync");
                    }
                }
                crate::dm::retain(&mut s.inflight, |c| c.seq != seq);
                if error.is_some() {
                    s.failed = Some(s.failed.map_or(seq, |f| f.min(seq)));
                } else {
                    s.unflushed = true;
                }
            }
            RemoteOp::Flush => {
                s.flushes = s.flushes.saturating_sub(1);
                if s.flushes == 0 && error.is_none() && s.error.is_none() {
                    s.durable = s.durable.max(s.flush_covers);
                }
            }
            RemoteOp::Resync(slot) if error.is_none() => {
                // The region holds the local device's writes of entries
                // the link may not have shipped yet.
                for r in s.resync.iter().filter(|r| r.slot == slot) {
                    changed |= Self::diverged(s.nr, &*r.dev, r.upto, "resynchronising out of write order");
                }
                // Copied: in sync once durable at the site.
                let tag = Tag::Remote(s.nr, RemoteOp::ResyncFlush(slot)).encode();
                let short = s
                    .resync
                    .iter()
                    .find(|r| r.slot == slot)
                    .is_some_and(|r| r.dev.flush(&q.submit(), tag).is_err());
                if short {
                    // Memory short: the region stays out of sync and is
                    // copied again when the scan comes back to it.
                    for r in s.resync.iter().filter(|r| r.slot == slot) {
                        r.dev.resync_from(r.region);
                    }
                    crate::dm::retain(&mut s.resync, |r| r.slot != slot);
                }
            }
            RemoteOp::Resync(slot) | RemoteOp::ResyncFlush(slot) => {
                if error.is_none() {
                    for r in s.resync.iter().filter(|r| r.slot == slot && !r.stale) {
                        changed |= Self::region_synced(s.nr, r);
                    }
                    // Its dirty log is written there, off the lock.
                    st.dlog.lazy = true;
                    q.kick_background();
                }
                crate::dm::retain(&mut s.resync, |r| r.slot != slot);
            }
        }
        if let Some(err) = error {
            if s.error.is_none() || s.probing {
                if s.error.is_none() {
                    pr_warn!(
                        "replicator: slink={} down ({} error, {} failed: {}); local I/O continues, retrying every {} ms\n",
                        s.nr,
                        if err == LinkError::Read { "read" } else { "write" },
                        what,
                        errno,
                        s.retest_ms
                    );
                    changed = true;
                } else if s.retries.is_power_of_two() {
                    // A retry failed: say why now and then (tries 1, 2,
                    // 4, 8...), so a link that stays down can be diagnosed.
                    pr_info!(
                        "replicator: slink={} still down after {} tries ({} error, {} failed: {})\n",
                        s.nr,
                        s.retries,
                        if err == LinkError::Read { "read" } else { "write" },
                        what,
                        errno
                    );
                }
                s.error = Some(err);
                s.probing = false;
                s.retest_at = now_ms().saturating_add(u64::from(s.retest_ms));
                s.recheck_identities();
                q.kick_after(s.retest_ms);
            }
        }
        changed
    }

    /// A write reached remote device `dev` out of write order (see
    /// [`crate::slink::Consistency::diverge`]); returns whether that
    /// changed its state.
    pub(super) fn diverged(nr: u32, dev: &dyn SlinkDevice, upto: u64, why: &str) -> bool {
        if !dev.consistency().diverge(upto) {
            return false;
        }
        pr_info!("replicator: slink={} device {} inconsistent: {}\n", nr, dev.dev_nr(), why);
        true
    }

    /// Region `r.region` is copied: record it in sync (written by the
    /// background work, [`Self::flush_dirty_logs`]). Returns whether that
    /// made the whole device in sync (a state change for the status).
    fn region_synced(nr: u32, r: &Resync) -> bool {
        let Some(n) = r.dev.region_copied(r.region) else { return false };
        pr_info!("replicator: slink={} device {} in sync; {} regions resynchronised\n", nr, r.dev.dev_nr(), n);
        true
    }

    /// End the bios whose entries are done locally ([`State::locally_done`])
    /// and durable at every site link they wait for, in order.
    pub(super) fn ack(st: &mut State) {
        let mut seq = st.ack_from.max(st.entries.first_seq());
        let mut front = true;
        while seq < st.apply_seq() {
            let ready = match st.entries.get(seq) {
                Some(e) if e.bio.is_some() => st.locally_done(e) && st.slinks.iter().all(|s| s.acks(e)),
                _ => false,
            };
            if ready {
                if let Some(bio) = st.entries.get_mut(seq).and_then(|e| e.bio.take()) {
                    bio.complete(Ok(()));
                }
            }
            let held = st.entries.get(seq).is_some_and(|e| e.bio.is_some());
            if front && !held {
                st.ack_from = seq + 1;
            } else {
                front = false;
            }
            seq += 1;
        }
    }

    /// Start copying to remote device `dev`. A device of the same number
    /// on the same link (the previous table of a reloaded
    /// `replicator-dev`) hands over: its sync state carries over, and it
    /// is released once its I/O is done. Entries the link already
    /// passed may not have reached the local device yet: their regions
    /// are marked out of sync too, so a resync brings them.
    pub(crate) fn attach_remote(q: &EngineQueue, dev: Arc<dyn SlinkDevice>) -> Result {
        let old = {
            let mut st = q.inner().state.lock();
            let first = st.entries.first_seq();
            let s = st.slinks.iter_mut().find(|s| s.nr == dev.slink()).ok_or(ENOENT)?;
            let mut devices = KVec::with_capacity(s.devices.len() + 1, GFP_KERNEL)?;
            let mut old = None;
            for d in s.devices.iter() {
                if d.dev_nr() == dev.dev_nr() {
                    old = Some(d.clone());
                } else {
                    devices.push(d.clone(), GFP_KERNEL)?;
                }
            }
            if let Some(o) = old.as_ref() {
                if slink::same(o, &dev) {
                    return Ok(());
                }
                // Same device and region size: the old log's state is the
                // truth (a reload must not copy everything again). Another
                // device keeps what its own log says, plus the old one's
                // out-of-sync regions.
                let same = o.device_id() == dev.device_id() && o.region_sectors() == dev.region_sectors();
                for r in 0..o.regions().min(dev.regions()) {
                    if !o.region_in_sync(r) {
                        dev.set_region(r, false);
                    } else if same {
                        dev.set_region(r, true);
                    }
                }
            }
            devices.push(dev.clone(), GFP_KERNEL)?;
            s.devices_changed();
            let dev_nr = dev.dev_nr();
            let kept = s.replicates(dev_nr);
            s.keep(dev_nr)?;
            s.devices = devices;
            if kept && old.is_none() {
                // The link kept needing its entries while it was away
                // (or since a restart resumed the link): it ships them in
                // order. Only what a full log gave up meanwhile resyncs.
                for &(_, sector, sectors) in s.lost.iter().filter(|l| l.0 == dev_nr) {
                    dev.mark_out_of_sync(sector, sectors);
                }
                crate::dm::retain(&mut s.lost, |l| l.0 != dev_nr);
            } else {
                let upto = s.next;
                for seq in first..upto {
                    if let Some(e) = st.entries.get(seq).filter(|e| e.dev == dev_nr) {
                        dev.mark_out_of_sync(e.sector, u64::from(e.sectors));
                    }
                }
            }
            // A copy with regions out of sync that is not the same device
            // of a reload is not known to be a point-in-time image: its
            // link may have shipped later writes before (the dirty log
            // does not say).
            match old.as_ref() {
                Some(o) if o.device_id() == dev.device_id() && o.region_sectors() == dev.region_sectors() => {
                    dev.consistency().inherit(o.consistency())
                }
                _ => {
                    if old.is_none() {
                        dev.consistency().rebase();
                    }
                    if dev.behind_regions() {
                        dev.consistency().diverge(0);
                    }
                }
            }
            old
        };
        if let Err(err) = dev.flush_dirty_log() {
            pr_warn!("replicator: dirty log of slink={} device {} cannot be written ({:?})\n", dev.slink(), dev.dev_nr(), err);
        }
        q.kick();
        if let Some(old) = old {
            Self::wait_remote_idle(q, &old);
        }
        Ok(())
    }

    /// Stop copying to remote device `dev` (unless another took its place);
    /// returns once none of its I/O is in flight. With `forget`, the link
    /// also stops replicating its device number (`device del`); without,
    /// the link keeps needing its entries until it attaches again.
    pub(crate) fn detach_remote(q: &EngineQueue, dev: &Arc<dyn SlinkDevice>, forget: bool) {
        {
            let mut st = q.inner().state.lock();
            let Some(s) = st.slinks.iter_mut().find(|s| s.nr == dev.slink()) else { return };
            let attached = s.devices.iter().any(|d| slink::same(d, dev));
            if attached {
                crate::dm::retain(&mut s.devices, |d| !slink::same(d, dev));
                s.devices_changed();
            }
            if forget && (attached || s.device(dev.dev_nr()).is_none()) {
                s.forget(dev.dev_nr());
            }
        }
        q.kick();
        Self::wait_remote_idle(q, dev);
    }

    /// Device number `dev_nr` is replicated to the site links in `keep`
    /// only (a table without the others went live): the others forget it.
    pub(crate) fn forget_others(q: &EngineQueue, dev_nr: u32, keep: &crate::logic::slink::SlinkSet) {
        let mut st = q.inner().state.lock();
        for s in st.slinks.iter_mut().filter(|s| !keep.contains(s.nr)) {
            // A device of the previous table may still be attached: its
            // target waits for its I/O when it goes (`detach_remote`).
            crate::dm::retain(&mut s.devices, |d| d.dev_nr() != dev_nr);
            s.devices_changed();
            s.forget(dev_nr);
        }
        drop(st);
        q.kick();
    }

    /// Wait until no copy, flush, resync or dirty-log write may still use
    /// `dev`: its copies are known by device number only, so wait for all
    /// of that number.
    fn wait_remote_idle(q: &EngineQueue, dev: &Arc<dyn SlinkDevice>) {
        loop {
            {
                let st = q.inner().state.lock();
                if st.dlog.flushing {
                    drop(st);
                    crate::dm::msleep(1);
                    continue;
                }
                let busy = st.slinks.iter().find(|s| s.nr == dev.slink()).is_some_and(|s| {
                    s.flushes > 0
                        || s.inflight.iter().any(|c| c.dev == dev.dev_nr())
                        || s.resync.iter().any(|r| slink::same(&r.dev, dev))
                });
                if !busy {
                    return;
                }
            }
            q.kick();
            crate::dm::msleep(1);
        }
    }
}

impl State {
    /// Whether a local write to `sector..+sectors` of device `dev` is not
    /// yet done: journaled but not applied (the counters of
    /// `unapplied.rs`, no walk), or recovered but not replayed (a walk,
    /// only while the log holds such entries).
    pub(super) fn local_pending(&self, unapplied: &Unapplied, dev: u32, sector: u64, sectors: u64) -> bool {
        let len = u32::try_from(sectors).unwrap_or(u32::MAX);
        if unapplied.blocks(dev, sector, len) {
            return true;
        }
        self.replaying > 0 && self.entries.seqs().any(|seq| {
            self.entries.get(seq).is_some_and(|e| {
                e.state == EntryState::Replay && e.overlaps(dev, sector, len)
            })
        })
    }

    /// Whether a resync in flight reads the local region `e` writes (a
    /// stale one's region stays out of sync whatever it reads).
    pub(super) fn resyncing(&self, e: &Entry) -> bool {
        let sectors = u64::from(e.sectors);
        self.slinks.iter().any(|s| s.resync.iter().any(|r| !r.stale && r.overlaps(e.dev, e.sector, sectors)))
    }
}
