// SPDX-License-Identifier: GPL-2.0
//! Online verify: compare a replicated device's local copy with its copy
//! at one site link, region by region, while I/O goes on
//! (`dmsetup message <replicator-dev> 0 verify <slink_nr> [repair]`).
//!
//! A job runs on the module's background workqueue. For each region it
//! waits until the log says the region is quiet on the site link (every
//! write to it shipped, nothing in flight there), reads both copies with
//! dm-io, and keeps the result only if the log says nothing wrote the
//! region meanwhile; a region that never becomes quiet is skipped. A
//! differing region is named in the kernel log and, with `repair`, marked
//! out of sync so that the resync copies it. Transports that cannot
//! checksum at the site (NBD) are read whole: the job reads both sides.

use crate::slink::SlinkDevice;
use crate::dm::{msleep, BlockDevice, DevId, StatusWriter, TargetHandle};
use crate::group::Group;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use kernel::alloc::KVVec;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// Bytes read from each side at once.
const CHUNK_BYTES: usize = 64 * 1024;

/// Tries to find a region quiet before it is skipped, and the longest
/// wait between two tries in ms (the wait doubles from 1 ms).
const TRIES: u32 = 40;
const MAX_WAIT_MS: u32 = 128;

/// Differing regions named one by one in the kernel log, at most.
const LOGGED_REGIONS: u64 = 32;

/// Where a verify is.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Running = 0,
    Done = 1,
    Stopped = 2,
    Failed = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Running,
            1 => State::Done,
            2 => State::Stopped,
            _ => State::Failed,
        }
    }

    /// The word of the status.
    fn word(self) -> &'static str {
        match self {
            State::Running => "verifying",
            State::Done => "verified",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

/// What one region's comparison found.
enum Outcome {
    Same,
    Differs,
    /// Never quiet long enough: not compared.
    Skipped,
    /// Asked to stop.
    Stop,
}

/// One verify of one device's copy at one site link.
#[pin_data]
pub(crate) struct Verify {
    /// Site link number of the copy.
    pub(crate) slink: u32,
    repair: bool,
    group: Arc<Group>,
    remote: Arc<dyn SlinkDevice>,
    /// The job's own handle on the local device.
    local: BlockDevice,
    /// Raised when the job ends; taken back by the target's destructor
    /// before it waits for the job.
    #[pin]
    event: Mutex<Option<TargetHandle>>,
    stop: AtomicBool,
    state: AtomicU8,
    /// Regions looked at (compared or skipped), differing, skipped.
    done: AtomicU64,
    differ: AtomicU64,
    skipped: AtomicU64,
}

impl Verify {
    /// Start verifying `remote` (a copy of local device `local`) on the
    /// background workqueue.
    pub(crate) fn start(
        group: &Arc<Group>,
        local: DevId,
        remote: &Arc<dyn SlinkDevice>,
        repair: bool,
        handle: TargetHandle,
    ) -> Result<Arc<Verify>> {
        let v = Arc::pin_init(
            try_pin_init!(Verify {
                slink: remote.slink(),
                repair,
                group: group.clone(),
                remote: remote.clone(),
                local: BlockDevice::open(local)?,
                event <- new_mutex!(Some(handle)),
                stop: AtomicBool::new(false),
                state: AtomicU8::new(State::Running as u8),
                done: AtomicU64::new(0),
                differ: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
            }? Error),
            GFP_KERNEL,
        )?;
        let bytes = usize::try_from(remote.region_sectors().saturating_mul(512)).unwrap_or(CHUNK_BYTES).min(CHUNK_BYTES);
        let mut a = KVVec::from_elem(0u8, bytes, GFP_KERNEL)?;
        let mut b = KVVec::from_elem(0u8, bytes, GFP_KERNEL)?;
        let job = v.clone();
        crate::dm::spawn_background(move || job.run(&mut a, &mut b))?;
        pr_info!(
            "replicator: slink={} device {}: verify of {} regions started{}\n",
            v.slink,
            v.remote.dev_nr(),
            v.remote.regions(),
            if repair { " (repair)" } else { "" }
        );
        Ok(v)
    }

    /// Whether the job is still running.
    pub(crate) fn running(&self) -> bool {
        self.state() == State::Running
    }

    fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Ask the job to stop after the region it is at.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop the job and wait until it has ended, raising no event (the
    /// target goes).
    pub(crate) fn stop_and_wait(&self) {
        self.event.lock().take();
        self.stop();
        while self.running() {
            msleep(1);
        }
    }

    /// ` verify <slink_nr> <state> <done>/<regions> <differing> <skipped>`
    /// for the status.
    pub(crate) fn status(&self, out: &mut StatusWriter<'_>) {
        let _ = write!(
            out,
            " verify {} {} {}/{} {} {}",
            self.slink,
            self.state().word(),
            self.done.load(Ordering::Relaxed),
            self.remote.regions(),
            self.differ.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed)
        );
    }

    /// The job: every region in turn.
    fn run(&self, a: &mut [u8], b: &mut [u8]) {
        let (slink, dev_nr) = (self.slink, self.remote.dev_nr());
        let mut end = State::Done;
        for region in 0..self.remote.regions() {
            match self.compare(region, a, b) {
                Ok(Outcome::Same) => {}
                Ok(Outcome::Differs) => {
                    let n = self.differ.fetch_add(1, Ordering::Relaxed) + 1;
                    let (sector, sectors) = self.remote.region_extent(region);
                    let repaired = self.repair && self.mark(region);
                    if n <= LOGGED_REGIONS {
                        pr_warn!(
                            "replicator: slink={} device {}: region {} (sectors {}+{}) differs{}\n",
                            slink,
                            dev_nr,
                            region,
                            sector,
                            sectors,
                            if repaired { "; marked out of sync" } else { "" }
                        );
                    }
                }
                Ok(Outcome::Skipped) => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Outcome::Stop) => {
                    end = State::Stopped;
                    break;
                }
                Err(what) => {
                    pr_err!("replicator: slink={} device {}: verify failed at region {}: {}\n", slink, dev_nr, region, what);
                    end = State::Failed;
                    break;
                }
            }
            self.done.fetch_add(1, Ordering::Relaxed);
        }
        pr_info!(
            "replicator: slink={} device {}: verify {}: {} of {} regions, {} differ, {} skipped\n",
            slink,
            dev_nr,
            end.word(),
            self.done.load(Ordering::Relaxed),
            self.remote.regions(),
            self.differ.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed)
        );
        if let Some(h) = self.event.lock().take() {
            h.event();
        }
        // Last: the target's destructor may go on once it sees this.
        self.state.store(end as u8, Ordering::Release);
    }

    /// Compare `region` once it is quiet.
    fn compare(&self, region: u64, a: &mut [u8], b: &mut [u8]) -> Result<Outcome, &'static str> {
        let mut wait = 1;
        for _ in 0..TRIES {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Outcome::Stop);
            }
            let replog = self.group.replog();
            if let Some(since) = replog.verify_begin(&self.remote, region) {
                let differs = self.differs(region, a, b)?;
                if replog.verify_end(&self.remote, region, since) {
                    return Ok(if differs { Outcome::Differs } else { Outcome::Same });
                }
            }
            drop(replog);
            msleep(wait);
            wait = (wait * 2).min(MAX_WAIT_MS);
        }
        Ok(Outcome::Skipped)
    }

    /// Read `region` from both sides, a chunk at a time: whether they
    /// differ.
    fn differs(&self, region: u64, a: &mut [u8], b: &mut [u8]) -> Result<bool, &'static str> {
        let (mut sector, sectors) = self.remote.region_extent(region);
        let end = sector.saturating_add(sectors);
        let chunk = (a.len().min(b.len()) / 512) as u64;
        if chunk == 0 {
            return Err("no buffer");
        }
        while sector < end {
            let n = chunk.min(end - sector);
            let bytes = usize::try_from(n * 512).map_err(|_| "chunk too large")?;
            let (Some(la), Some(rb)) = (a.get_mut(..bytes), b.get_mut(..bytes)) else {
                return Err("chunk too large");
            };
            self.local.read(sector, la).map_err(|_| "read of the local device failed")?;
            self.remote.read(sector, rb).map_err(|_| "read of the remote device failed")?;
            if la != rb {
                return Ok(true);
            }
            sector += n;
        }
        Ok(false)
    }

    /// Mark `region` out of sync so that the resync copies it; whether
    /// that worked.
    fn mark(&self, region: u64) -> bool {
        let (sector, sectors) = self.remote.region_extent(region);
        match self.group.replog().mark_out_of_sync(&self.remote, sector, sectors) {
            Ok(()) => true,
            Err(e) => {
                pr_err!(
                    "replicator: slink={} device {}: dirty log cannot mark region {} ({:?})\n",
                    self.slink,
                    self.remote.dev_nr(),
                    region,
                    e
                );
                false
            }
        }
    }
}
