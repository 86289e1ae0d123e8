// SPDX-License-Identifier: GPL-2.0
//! Remote site links: copying durable entries to the remote devices of
//! each site link, and resynchronising the regions they miss.
//!
//! Each site link walks the log in sequence order on its own cursor. Its
//! copies (from the writer's stable copy while it is held, else from the
//! ring; see [`crate::slink::Source`]) run concurrently within an epoch, except where they overlap;
//! before the first entry of a new epoch every copy of the old one must
//! have completed and the remote devices must have been flushed. So a
//! remote device always holds a state the local group passed through, up
//! to the writes of one epoch in progress.
//!
//! ```text
//! durable entry ─▶ copy ─▶ (batch drained) flush ─▶ durable at the site
//!        ▲ error: link down ── retest timer ── resume from `durable`
//! log full, link not `stall`: entries dropped for the link, their
//! regions marked out of sync ─▶ resync: local region ─▶ remote (kcopyd)
//! ```
//!
//! A write waits for the site links that are synchronous, or that passed
//! their fall-behind limit, until its entry is durable there (or the link
//! is down: local I/O never fails because of a remote site).

use super::engine::LocalDev;
use super::entries::{Entries, Entry};
use crate::slink::SlinkDevice;
use crate::logic::fallbehind::{FallBehind, FallBehindKind};
use crate::logic::backlog::{Backlog, Behind, Look};
use crate::logic::blockdev::BlockdevParams;
use crate::logic::completion::Completion;
use crate::logic::policy::Policy;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Copies of one site link in flight at most.
pub(crate) const MAX_COPIES: usize = 32;

/// Region copies of one site link in flight at most.
pub(crate) const MAX_RESYNCS: usize = 8;

/// Default milliseconds between tries of a site link that is down.
pub(crate) const RETEST_MS: u32 = 5000;

/// Records of writes given up for detached devices, at most, before a
/// device's records collapse into a resync of the whole device.
pub(crate) const MAX_LOST: usize = 1024;

/// Length of a [`Slink::lost`] record that stands for the whole device.
pub(crate) const LOST_ALL: u64 = u64::MAX;

/// A copy in flight: the entry and what it overwrites.
#[derive(Clone, Copy)]
pub(crate) struct Copy {
    pub(crate) seq: u64,
    pub(crate) dev: u32,
    pub(crate) sector: u64,
    pub(crate) sectors: u64,
    /// When it was issued (ms since boot).
    pub(crate) at_ms: u64,
}

impl Copy {
    /// Whether the copy overwrites part of `sector..sector + sectors` of
    /// device `dev`.
    pub(crate) fn overlaps(&self, dev: u32, sector: u64, sectors: u64) -> bool {
        self.dev == dev
            && self.sector < sector.saturating_add(sectors)
            && sector < self.sector.saturating_add(self.sectors)
    }
}

/// A region being resynchronised.
#[derive(Clone)]
pub(crate) struct Resync {
    /// Which of the link's resyncs in flight (below [`MAX_RESYNCS`]): the
    /// completion's tag names it.
    pub(crate) slot: u64,
    pub(crate) dev: Arc<dyn SlinkDevice>,
    /// The local device read from, kept open until the copy completes.
    pub(crate) _local: Arc<LocalDev>,
    pub(crate) region: u64,
    pub(crate) sector: u64,
    pub(crate) sectors: u64,
    /// When it was issued (ms since boot).
    pub(crate) at_ms: u64,
    /// The end of the log when it was issued: the region copy may hold
    /// the writes of any entry before it.
    pub(crate) upto: u64,
    /// Its link went down while it was in flight: its write to the site
    /// may never end (a transport that hangs), so local writes to the
    /// region no longer wait for it, and its region stays out of sync
    /// whatever it copied. It still keeps the region from being copied
    /// again until it ends.
    pub(crate) stale: bool,
}

impl Resync {
    /// Whether the region copy reads or writes part of
    /// `sector..sector + sectors` of device `dev`.
    pub(crate) fn overlaps(&self, dev: u32, sector: u64, sectors: u64) -> bool {
        self.dev.dev_nr() == dev
            && self.sector < sector.saturating_add(sectors)
            && sector < self.sector.saturating_add(self.sectors)
    }
}

/// Why a site link is down: the health character of the status.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// Reading the source failed (the log or the local device).
    Read,
    /// Writing the remote device failed.
    Write,
}

/// One remote site link as the log sees it.
pub(crate) struct Slink {
    /// Site link number (at least 1).
    pub(crate) nr: u32,
    pub(crate) policy: Policy,
    /// When a write that waits for the link may complete: once the
    /// site's device completed the copy (`ram`), or once a flush made it
    /// durable there (`disk`).
    pub(crate) completion: Completion,
    pub(crate) fallbehind: Option<FallBehind>,
    /// Past its fall-behind limit: writes wait for it.
    pub(crate) enforcing: bool,
    /// Its remote devices, as attached now.
    pub(crate) devices: KVec<Arc<dyn SlinkDevice>>,
    /// The device numbers it replicates, attached or not: a
    /// `replicator-dev` removed for a restart keeps its entries needed
    /// (and its link waits for it, as the group's write order requires);
    /// only `device del`, a table without the device or `slink del`
    /// forget one.
    pub(crate) devs: KVec<u32>,
    /// Writes given up (log full) for a device that was not attached,
    /// by device number, sector and length: marked out of sync when it
    /// attaches again. [`LOST_ALL`] sectors stand for the whole device.
    pub(crate) lost: KVec<(u32, u64, u64)>,
    /// Stopped at an entry of a device that is not attached: writes do
    /// not wait for it, as for a link that is down.
    pub(crate) blocked: bool,
    /// Stopped by message: nothing new is issued to the site, and
    /// writes do not wait for it.
    pub(crate) paused: bool,
    /// The next entry to look at.
    pub(crate) next: u64,
    /// Copies in flight.
    pub(crate) inflight: KVec<Copy>,
    /// The oldest entry whose copy failed since the link went down.
    pub(crate) failed: Option<u64>,
    /// Epoch of the copies issued since the last flush.
    pub(crate) epoch: u64,
    /// Copies completed since the last flush was issued.
    pub(crate) unflushed: bool,
    /// Remote flushes in flight, the entries they cover, and when they
    /// were issued (ms since boot).
    pub(crate) flushes: u32,
    pub(crate) flush_covers: u64,
    pub(crate) flush_at_ms: u64,
    /// Every needed entry before this one is durable at the site.
    pub(crate) durable: u64,
    /// Down, and why.
    pub(crate) error: Option<LinkError>,
    /// Down, and being tried again: its first write decides.
    pub(crate) probing: bool,
    /// Tries since it went down.
    pub(crate) retries: u32,
    /// When to try again (ms since boot).
    pub(crate) retest_at: u64,
    /// Milliseconds between tries.
    pub(crate) retest_ms: u32,
    /// The region copies in flight.
    pub(crate) resync: KVec<Resync>,
    /// Entries given up for this link (their regions resync instead).
    pub(crate) dropped: u64,
    /// A give-up whose out-of-sync records are being written (`dlog.rs`):
    /// the link passes its entries once they are durable.
    pub(crate) giving_up: Option<GiveUp>,
    /// An entry the site's device cannot take (misaligned), its regions
    /// marked out of sync: passed once they are written.
    pub(crate) skipping: Option<Skip>,
    /// Its backlog, counted as entries arrive and become durable there.
    behind: Backlog,
}

/// An entry passed once its out-of-sync records are written.
#[derive(Clone, Copy)]
pub(crate) struct Skip {
    /// The entry.
    pub(crate) seq: u64,
    /// The generation of its records.
    pub(crate) gen: u64,
    /// As [`GiveUp::retry_at`].
    pub(crate) retry_at: u64,
}

/// A give-up waiting for its out-of-sync records to be written.
#[derive(Clone, Copy)]
pub(crate) struct GiveUp {
    /// The entries before this one go.
    pub(crate) to: u64,
    /// The generation of its records.
    pub(crate) gen: u64,
    /// How many entries that is.
    pub(crate) entries: u64,
    /// Why (for the kernel log).
    pub(crate) why: &'static str,
    /// A dirty log could not be written: when to try again (ms since
    /// boot), 0 before that.
    pub(crate) retry_at: u64,
}

impl Slink {
    /// A site link that starts copying at entry `first`. Its lists of
    /// copies and region copies in flight are allocated here, full size:
    /// the work item tracks a copy before issuing it and must never find
    /// itself without memory to do so.
    pub(crate) fn new(params: &BlockdevParams, first: u64, epoch: u64) -> Result<Slink> {
        Ok(Slink {
            nr: params.slink,
            policy: params.policy(),
            completion: params.completion(),
            fallbehind: params.fallbehind,
            enforcing: false,
            devices: KVec::new(),
            devs: KVec::new(),
            lost: KVec::new(),
            blocked: false,
            paused: false,
            next: first,
            inflight: KVec::with_capacity(MAX_COPIES, GFP_KERNEL)?,
            failed: None,
            epoch,
            unflushed: false,
            flushes: 0,
            flush_covers: first,
            flush_at_ms: 0,
            durable: first,
            error: None,
            probing: false,
            retries: 0,
            retest_at: 0,
            retest_ms: RETEST_MS,
            resync: KVec::with_capacity(MAX_RESYNCS, GFP_KERNEL)?,
            dropped: 0,
            giving_up: None,
            skipping: None,
            behind: Backlog::default(),
        })
    }

    /// Its devices changed: a give-up or skip whose records are being
    /// written is decided again with the devices it has now (a device
    /// that left may not have its marks written, one that came has none).
    pub(crate) fn devices_changed(&mut self) {
        self.giving_up = None;
        self.skipping = None;
    }

    /// Its remote device for device number `dev_nr`.
    pub(crate) fn device(&self, dev_nr: u32) -> Option<&Arc<dyn SlinkDevice>> {
        self.devices.iter().find(|d| d.dev_nr() == dev_nr)
    }

    /// Nothing of the link is in flight.
    pub(crate) fn idle(&self) -> bool {
        self.inflight.is_empty() && self.flushes == 0 && self.resync.is_empty()
    }

    /// When the oldest of its I/O in flight was issued, if any.
    pub(crate) fn oldest_io_ms(&self) -> Option<u64> {
        let copies = self.inflight.iter().map(|c| c.at_ms);
        let resyncs = self.resync.iter().map(|r| r.at_ms);
        let flush = (self.flushes > 0).then_some(self.flush_at_ms);
        Iterator::chain(Iterator::chain(copies, resyncs), flush).min()
    }

    /// Whether writes wait for this link.
    pub(crate) fn is_sync(&self) -> bool {
        self.policy.is_synchronous() || self.enforcing
    }

    /// Whether entry `e` must reach this link: it writes a device the
    /// link replicates, attached or not.
    pub(crate) fn needs(&self, e: &Entry) -> bool {
        needed_by(&self.devs, e)
    }

    /// Whether the link replicates device number `dev_nr`.
    pub(crate) fn replicates(&self, dev_nr: u32) -> bool {
        self.devs.contains(&dev_nr)
    }

    /// Replicate device number `dev_nr` from now on.
    pub(crate) fn keep(&mut self, dev_nr: u32) -> Result {
        if !self.replicates(dev_nr) {
            self.devs.push(dev_nr, GFP_KERNEL)?;
            self.behind.invalidate();
        }
        Ok(())
    }

    /// Stop replicating device number `dev_nr`: its entries are no longer
    /// needed here, and what was given up for it is forgotten.
    pub(crate) fn forget(&mut self, dev_nr: u32) {
        crate::dm::retain(&mut self.devs, |d| *d != dev_nr);
        crate::dm::retain(&mut self.lost, |l| l.0 != dev_nr);
        self.behind.invalidate();
    }

    /// Remember that a write of `sectors` at `sector` of device `dev_nr`,
    /// not attached, was given up. Past [`MAX_LOST`] records a device's
    /// records collapse into one for the whole device.
    pub(crate) fn lose(&mut self, dev_nr: u32, sector: u64, sectors: u64) -> Result {
        if self.lost.iter().any(|l| l.0 == dev_nr && l.2 == LOST_ALL) {
            return Ok(());
        }
        if self.lost.len() >= MAX_LOST {
            crate::dm::retain(&mut self.lost, |l| l.0 != dev_nr);
            self.lost.push((dev_nr, 0, LOST_ALL), GFP_KERNEL)?;
            return Ok(());
        }
        self.lost.push((dev_nr, sector, sectors), GFP_KERNEL)?;
        Ok(())
    }

    /// Every entry before this one has been copied (or was not needed).
    pub(crate) fn copied(&self) -> u64 {
        let mut c = self.failed.unwrap_or(self.next).min(self.next);
        for cp in self.inflight.iter() {
            c = c.min(cp.seq);
        }
        c
    }

    /// Whether the link holds entry `seq` durably, or cannot hold it up.
    pub(crate) fn releases(&self, seq: u64) -> bool {
        seq < self.durable
    }

    /// Whether a write of entry `e` may complete as far as this link goes.
    pub(crate) fn acks(&self, e: &Entry) -> bool {
        !self.is_sync() || self.error.is_some() || self.blocked || self.paused || !self.needs(e) || e.seq < self.acked()
    }

    /// Every needed entry before this one has reached the site as far as
    /// the link's completion asks: durable there, or (`ram`) completed
    /// by its device. The log keeps the entries until they are durable.
    fn acked(&self) -> u64 {
        match self.completion {
            Completion::Disk => self.durable,
            Completion::Ram => self.durable.max(self.copied()),
        }
    }

    /// Entries and data sectors the link still needs, and the age in ms of
    /// the oldest of them: counted incrementally (`logic::backlog`).
    pub(crate) fn backlog(&mut self, entries: &Entries, now: u64) -> Behind {
        let start = self.durable.max(entries.first_seq());
        let devs = &self.devs;
        self.behind.update(start, entries.end_seq(), now, |seq| match entries.get(seq) {
            None => Look::Gone,
            Some(e) if needed_by(devs, e) => Look::Needed { sectors: u64::from(e.sectors), at_ms: e.at_ms },
            Some(_) => Look::Skipped,
        })
    }

    /// Re-evaluate the fall-behind limit; returns whether the state changed.
    pub(crate) fn check_fallbehind(&mut self, entries: &Entries, now: u64) -> bool {
        let over = match self.fallbehind {
            Some(fb) if !self.policy.is_synchronous() => {
                // Released at three quarters of the limit, so that a link
                // hovering at its limit does not flip with every entry.
                let limit = fb.base_value();
                let at = if self.enforcing { limit - limit / 4 } else { limit };
                let have = |ios: u64, sectors: u64, age: u64| match fb.kind {
                    FallBehindKind::Ios => ios,
                    FallBehindKind::Size | FallBehindKind::Data => sectors,
                    FallBehindKind::Timeout => age,
                };
                let b = self.backlog(entries, now);
                have(b.ios, b.sectors, b.age_ms) > at
            }
            _ => false,
        };
        if over == self.enforcing {
            return false;
        }
        self.enforcing = over;
        if over {
            pr_info!("replicator: enforcing fallbehind sync on slink={}\n", self.nr);
        } else {
            pr_info!("replicator: releasing fallbehind sync on slink={}\n", self.nr);
        }
        true
    }

    /// Whether a copy or a resync in flight overlaps `sector..+sectors`
    /// of device `dev`.
    pub(crate) fn busy(&self, dev: u32, sector: u64, sectors: u64) -> bool {
        self.inflight.iter().any(|c| c.overlaps(dev, sector, sectors))
            || self.resync.iter().any(|r| r.overlaps(dev, sector, sectors))
    }

    /// The link lost its site: its devices' labels are checked again
    /// before it writes to them.
    pub(crate) fn recheck_identities(&self) {
        for d in self.devices.iter() {
            d.recheck_identity();
        }
    }

    /// A retried link proved itself: it is up again. Returns whether it
    /// was down.
    pub(crate) fn link_up(&mut self) -> bool {
        if !self.probing {
            return false;
        }
        self.probing = false;
        self.error = None;
        pr_info!("replicator: slink={} up again after {} tries\n", self.nr, self.retries);
        self.retries = 0;
        true
    }

    /// Status health character.
    pub(crate) fn health(&self) -> char {
        match self.error {
            None => 'A',
            Some(LinkError::Read) => 'R',
            Some(LinkError::Write) => 'W',
        }
    }
}

/// Whether entry `e` must reach a link replicating device numbers `devs`:
/// it writes one of them, attached or not.
fn needed_by(devs: &[u32], e: &Entry) -> bool {
    e.sectors > 0 && devs.contains(&e.dev)
}
