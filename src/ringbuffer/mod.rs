// SPDX-License-Identifier: GPL-2.0
//! The `ringbuffer` replication log: table parameters, status and
//! messages. The on-disk format and its rules are `logic::replog`; the
//! I/O is in [`engine`] (data path), [`open`] (recovery and format) and
//! [`replay`] (bringing local devices up to date after a crash).

mod apply;
mod commit;
mod copy;
mod direct;
mod dlog;
mod engine;
mod entries;
mod open;
mod reclaim;
mod replay;
mod slink;
mod submit;
mod unapplied;
mod verify;

use crate::dm::{msleep, Bio, BlockDevice, DevId, DmDev, MapResult, StatusWriter, TargetCtx, TargetError};
use crate::logic::message::{ReplogMessage, StatsCmd};
use crate::logic::replicator_table::REPLOG_RINGBUFFER;
use crate::logic::replog::geometry::ring_blocks_for_sectors;
use crate::logic::ringbuffer::{OpenMode, RingbufferParams, REPLOG_MIN_SECTORS};
use crate::dm::TargetHandle;
use crate::local_health::LocalHealth;
use crate::logic::blockdev::BlockdevParams;
use crate::replog::{Replog, ReplogType};
use crate::slink::SlinkDevice;
use slink::{Slink, LOST_ALL};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use engine::{Engine, EngineQueue, State};
use entries::Directory;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Registry entry of the `ringbuffer` replication-log type.
pub(crate) struct RingbufferType;

/// A ring-buffer replication log.
struct Ringbuffer {
    q: Arc<EngineQueue>,
    dev: DevId,
    dev_start: u64,
    open: OpenMode,
    /// Log size in sectors for the table line: the table's, or what
    /// `replog resize` set.
    size: AtomicU64,
    /// Whether the status shows the log's counters.
    stats: AtomicBool,
}

/// How long `replog resize` waits for writes in flight to become durable.
const RESIZE_WAIT_MS: u32 = 30_000;

/// Open the log device of `p` for the table; check the log fits.
fn table_device(ctx: &TargetCtx<'_>, p: &RingbufferParams<&str>) -> Result<(DmDev, u64), TargetError> {
    let dev = ctx
        .get_device(p.dev)
        .map_err(|e| TargetError::new(c"Cannot open replication log device", e))?;
    let avail = dev.sectors().checked_sub(p.dev_start).unwrap_or(0);
    if p.open.size().is_some_and(|s| s > avail) {
        return Err(TargetError::inval(c"Replication log does not fit on its device"));
    }
    if avail < REPLOG_MIN_SECTORS {
        return Err(TargetError::inval(c"Replication log device too small"));
    }
    Ok((dev, avail))
}

impl ReplogType for RingbufferType {
    fn name(&self) -> &'static str {
        REPLOG_RINGBUFFER
    }

    fn create(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<(Arc<dyn Replog>, DmDev), TargetError> {
        Self::start(ctx, params, false)
    }

    fn replace(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<(Arc<dyn Replog>, DmDev), TargetError> {
        Self::start(ctx, params, true)
    }
}

impl RingbufferType {
    /// Open (or, with `format`, format whatever the device holds) the log
    /// of a table line and start its engine.
    fn start(ctx: &TargetCtx<'_>, params: &[&str], format: bool) -> Result<(Arc<dyn Replog>, DmDev), TargetError> {
        let p = RingbufferParams::parse(params).map_err(crate::table_error)?;
        if format && p.open.size().is_none() {
            return Err(TargetError::inval(c"A log replacing a failed one needs its size (create <sectors>)"));
        }
        let (dev, avail) = table_device(ctx, &p)?;
        let bdev = BlockDevice::open(dev.id())
            .map_err(|e| TargetError::new(c"Cannot open replication log device", e))?;
        let q = open::open(bdev, p.dev_start, p.open, avail, format)?;
        let size = {
            let st = q.inner().state.lock();
            crate::logic::replog::geometry::log_sectors_for_ring(st.writer.ring().blocks()).unwrap_or(0)
        };
        let log = Ringbuffer {
            q,
            dev: dev.id(),
            dev_start: p.dev_start,
            open: p.open,
            size: AtomicU64::new(p.open.size().unwrap_or(size)),
            stats: AtomicBool::new(true),
        };
        let log: Arc<dyn Replog> = Arc::new(log, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate replication log", ENOMEM))?;
        Ok((log, dev))
    }
}

impl Ringbuffer {
    /// `replog resize`: hold new entries, let those in flight become
    /// durable, then write a checkpoint with the new ring size.
    fn resize(&self, sectors: u64) -> Result<(), TargetError> {
        let busy = TargetError::new(c"Replication log busy: writes did not complete", EBUSY);
        let e = self.q.inner();
        let blocks = ring_blocks_for_sectors(sectors).map_err(|e| TargetError::inval(e.message()))?;
        // The entry table's directory for the new size, allocated before
        // the state lock is taken.
        let mut dir = Some(Directory::for_ring(blocks, GFP_KERNEL).map_err(|_| TargetError::new(c"Cannot allocate replication log", ENOMEM))?);
        let mut buf = e.cp.lock();
        e.state.lock().paused = true;
        let mut waited = 0;
        let r = loop {
            {
                let mut st = e.state.lock();
                if st.failed_at.is_some() {
                    break Err(TargetError::new(c"Replication log failed", EIO));
                }
                if st.durable == st.writer.next_seq() {
                    break Engine::resize_locked(&self.q, &mut st, &mut buf, blocks, &mut dir);
                }
            }
            if waited >= RESIZE_WAIT_MS {
                break Err(busy);
            }
            self.q.kick();
            msleep(2);
            waited += 2;
        };
        e.state.lock().paused = false;
        self.q.kick();
        r?;
        self.size.store(sectors, Ordering::Relaxed);
        Ok(())
    }
}

impl Replog for Ringbuffer {
    fn reload(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<DmDev, TargetError> {
        let p = RingbufferParams::parse(params).map_err(crate::table_error)?;
        let (dev, _) = table_device(ctx, &p)?;
        let size = self.size.load(Ordering::Relaxed);
        if dev.id() != self.dev || p.dev_start != self.dev_start || p.open.size().is_some_and(|s| s != size) {
            return Err(TargetError::inval(c"A reloaded table must keep the group's replication log"));
        }
        Ok(dev)
    }

    fn table(&self, out: &mut StatusWriter<'_>) {
        let size = self.size.load(Ordering::Relaxed);
        // A resize is reported as the table to load next time.
        let open = match self.open {
            OpenMode::Auto(_) => OpenMode::Auto(size),
            OpenMode::Create(_) => OpenMode::Create(size),
            OpenMode::OpenSized(_) => OpenMode::OpenSized(size),
            m => m,
        };
        let p = RingbufferParams { dev: self.dev, dev_start: self.dev_start, open };
        let _ = write!(out, "{} {} {}", REPLOG_RINGBUFFER, p.param_count(), p);
    }

    fn usage(&self, out: &mut StatusWriter<'_>) {
        self.q.inner().usage(out);
    }

    fn backlog(&self, slink: u32) -> (u64, u64) {
        let mut guard = self.q.inner().state.lock();
        let st: &mut State = &mut guard;
        if slink == 0 {
            return (st.entries.len() as u64, st.sectors);
        }
        match st.slinks.iter_mut().find(|s| s.nr == slink) {
            Some(s) => {
                let b = s.backlog(&st.entries, crate::dm::now_ms());
                (b.ios, b.sectors)
            }
            None => (0, 0),
        }
    }

    fn enforcing(&self, slink: u32) -> bool {
        let st = self.q.inner().state.lock();
        st.slinks.iter().any(|s| s.nr == slink && s.enforcing)
    }

    fn set_slink(&self, params: &BlockdevParams) -> Result {
        let mut st = self.q.inner().state.lock();
        if let Some(s) = st.slinks.iter_mut().find(|s| s.nr == params.slink) {
            s.policy = params.policy();
            s.completion = params.completion();
            s.fallbehind = params.fallbehind;
            drop(st);
            self.q.kick();
            return Ok(());
        }
        st.slinks.reserve(1, GFP_KERNEL)?;
        // Built whole before anything of the state changes: a failed
        // allocation leaves the restore records as they were.
        let mut guard = st;
        let st: &mut State = &mut guard;
        let mut s = match st.restore.iter().find(|r| r.nr == params.slink) {
            // Recorded by the checkpoint of the log just opened, and its
            // position still in the log: it ships from there in order,
            // the devices of those entries kept needed until they attach.
            Some(r) => {
                let epoch = st.entries.get(r.seq).map_or(st.writer.epoch(), |e| e.epoch);
                let mut s = Slink::new(params, r.seq, epoch)?;
                for &dev in r.devs.iter() {
                    s.keep(dev)?;
                }
                pr_info!(
                    "replicator: slink={} resumes at entry {} ({} entries in the log)\n",
                    params.slink,
                    r.seq,
                    st.writer.next_seq().saturating_sub(r.seq)
                );
                s
            }
            // A new link starts at the next entry. What the site holds of
            // the older ones is unknown (no position recorded, or its
            // entries gone, or a link added online): copying them again in
            // order could take the site through states the group never
            // passed through, so their regions are marked out of sync
            // when the devices attach, and resync.
            None => Slink::new(params, st.writer.next_seq(), st.writer.epoch())?,
        };
        // Devices whose entries the link gave up before the restart while
        // they were not attached: resynchronised whole when they attach.
        for &(_, dev) in st.lost_restore.iter().filter(|l| l.0 == params.slink) {
            s.keep(dev)?;
            s.lose(dev, 0, LOST_ALL)?;
        }
        crate::dm::retain(&mut st.restore, |r| r.nr != params.slink);
        crate::dm::retain(&mut st.lost_restore, |l| l.0 != params.slink);
        st.slinks.push(s, GFP_KERNEL)?;
        drop(guard);
        self.q.kick();
        Ok(())
    }

    fn pause(&self, slink: Option<u32>, paused: bool) {
        let mut st = self.q.inner().state.lock();
        for s in st.slinks.iter_mut().filter(|s| slink.map_or(true, |nr| s.nr == nr)) {
            if s.paused != paused {
                s.paused = paused;
                pr_info!("replicator: slink={} {}\n", s.nr, if paused { "stopped" } else { "started" });
            }
        }
        drop(st);
        self.q.kick();
    }

    fn del_slink(&self, slink: u32) {
        let mut st = self.q.inner().state.lock();
        crate::dm::retain(&mut st.slinks, |s| !(s.nr == slink && s.devices.is_empty() && s.idle()));
        drop(st);
        self.q.kick();
    }

    fn set_retest(&self, slink: u32, ms: u32) -> Result {
        let mut st = self.q.inner().state.lock();
        let s = st.slinks.iter_mut().find(|s| s.nr == slink).ok_or(ENOENT)?;
        s.retest_ms = ms;
        s.retest_at = s.retest_at.min(crate::dm::now_ms().saturating_add(u64::from(ms)));
        drop(st);
        self.q.kick_after(ms);
        Ok(())
    }

    fn attach_remote(&self, dev: Arc<dyn SlinkDevice>) -> Result {
        Engine::attach_remote(&self.q, dev)
    }

    fn verify_begin(&self, dev: &Arc<dyn SlinkDevice>, region: u64) -> Option<u64> {
        verify::begin(&self.q, dev, region)
    }

    fn verify_end(&self, dev: &Arc<dyn SlinkDevice>, region: u64, since: u64) -> bool {
        verify::end(&self.q, dev, region, since)
    }

    fn mark_out_of_sync(&self, dev: &Arc<dyn SlinkDevice>, sector: u64, sectors: u64) -> Result {
        verify::mark_out_of_sync(&self.q, dev, sector, sectors)
    }

    fn detach_remote(&self, dev: &Arc<dyn SlinkDevice>, forget: bool) {
        Engine::detach_remote(&self.q, dev, forget)
    }

    fn forget_others(&self, dev_nr: u32, keep: &crate::logic::slink::SlinkSet) {
        Engine::forget_others(&self.q, dev_nr, keep)
    }

    fn remote_state(&self, slink: u32, dev_nr: u32) -> (char, bool) {
        let st = self.q.inner().state.lock();
        match st.slinks.iter().find(|s| s.nr == slink) {
            Some(s) => {
                let resyncing = s.error.is_none()
                    && s.device(dev_nr).is_some_and(|d| d.in_sync() < d.regions());
                (s.health(), resyncing)
            }
            None => ('A', false),
        }
    }

    fn set_event(&self, owner: usize, handle: TargetHandle) {
        *self.q.inner().event.lock() = Some((owner, handle));
    }

    fn clear_event(&self, owner: usize) {
        let mut ev = self.q.inner().event.lock();
        if ev.as_ref().is_some_and(|(o, _)| *o == owner) {
            *ev = None;
        }
    }

    fn add_dev_event(&self, target: usize, handle: TargetHandle) -> Result {
        let mut ev = self.q.inner().dev_events.lock();
        if let Some(slot) = ev.iter_mut().find(|slot| slot.as_ref().is_some_and(|(t, _)| *t == target)) {
            *slot = Some((target, handle));
            return Ok(());
        }
        match ev.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((target, handle)),
            None => ev.push(Some((target, handle)), GFP_KERNEL)?,
        }
        Ok(())
    }

    fn del_dev_event(&self, target: usize) {
        for slot in self.q.inner().dev_events.lock().iter_mut() {
            if slot.as_ref().is_some_and(|(t, _)| *t == target) {
                *slot = None;
            }
        }
    }

    fn info(&self, out: &mut StatusWriter<'_>) {
        let st = self.q.inner().state.lock();
        let health = if st.failed_at.is_some() { 'F' } else { 'A' };
        let head = st.entries.first_seq();
        let next = st.writer.next_seq();
        let epoch = st.writer.epoch();
        if self.stats.load(Ordering::Relaxed) {
            let c = st.counters;
            let _ = write!(
                out,
                " 8 {} {} {} {} {} {} {} {}",
                health, head, next, epoch, c.entries, c.flushes, c.checkpoints, c.full_waits
            );
        } else {
            let _ = write!(out, " 4 {} {} {} {}", health, head, next, epoch);
        }
    }

    fn message(&self, msg: &ReplogMessage) -> Result<(), TargetError> {
        match msg {
            ReplogMessage::Resize { sectors } => {
                let log = BlockDevice::open(self.dev)
                    .map_err(|e| TargetError::new(c"Cannot open replication log device", e))?;
                let avail = log.sectors().checked_sub(self.dev_start).unwrap_or(0);
                if *sectors > avail {
                    return Err(TargetError::inval(c"Replication log does not fit on its device"));
                }
                self.resize(*sectors)
            }
            ReplogMessage::Statistics(cmd) => {
                match cmd {
                    StatsCmd::On => self.stats.store(true, Ordering::Relaxed),
                    StatsCmd::Off => self.stats.store(false, Ordering::Relaxed),
                    StatsCmd::Reset => self.q.inner().state.lock().counters = Default::default(),
                }
                Ok(())
            }
        }
    }

    fn map_write(&self, dev_nr: u32, bio: &mut Bio) -> MapResult {
        Engine::submit(&self.q, dev_nr, bio)
    }

    fn map_read(&self, dev_nr: u32, bio: &mut Bio) -> MapResult {
        Engine::map_read(&self.q, dev_nr, bio)
    }

    fn bind(&self, target: usize, dev_nr: u32, local: DevId, health: &Arc<LocalHealth>) -> Result {
        Engine::bind(&self.q, target, dev_nr, local, health)
    }

    fn failed(&self) -> bool {
        self.q.inner().state.lock().failed_at.is_some()
    }

    fn settle(&self, target: usize) {
        Engine::settle(&self.q, target)
    }

    fn unbind(&self, target: usize) {
        Engine::unbind(&self.q, target)
    }

    fn requeue(&self, local: DevId) {
        Engine::requeue(&self.q, local)
    }

    fn suspend(&self) {
        let mut buf = self.q.inner().cp.lock();
        // Failures are logged by the engine.
        let _ = Engine::reclaim(&self.q, &mut buf, true);
    }
}
