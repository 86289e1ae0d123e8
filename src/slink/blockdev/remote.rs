// SPDX-License-Identifier: GPL-2.0
//! One remote device of the `blockdev` site link: the copy of a group's
//! device, written as a block device, its regions tracked by a dm dirty
//! log.

use crate::dm::{BlockDevice, Busy, Class, DevId, DirtyLog, StatusType, StatusWriter, Submit};
use crate::label::RemoteLabel;
use crate::logic::dirty_log::WithRegion;
use crate::slink::{Consistency, Scan, SlinkDevice, Source};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// One remote device: the copy of device `dev_nr` at site link `slink`.
pub(crate) struct RemoteDev {
    /// Site link number (at least 1).
    pub(super) slink: u32,
    /// Device number in the group.
    pub(super) dev_nr: u32,
    /// The log's own reference to the device (shared with a label check
    /// running in the background).
    pub(super) bdev: Arc<BlockDevice>,
    /// The device as the table names it.
    pub(super) table_dev: DevId,
    /// The table's region size where the dirty log was given another.
    pub(super) table_region: Option<u64>,
    /// Regions of the device that are out of sync.
    pub(super) log: DirtyLog,
    /// Held to change the dirty log and to flush it: a flush writes the
    /// live bitmap and then forgets that anything changed, so a mark made
    /// during a flush could be forgotten unwritten. Reads of a region's
    /// state need no lock.
    pub(super) log_lock: Pin<KBox<Mutex<()>>>,
    /// Records waiting for the dirty log, and the regions known of one
    /// that answers by round trip (`records.rs`).
    pub(super) pending: super::records::PendingLock,
    /// The dirty log answers only by round trip (not `core` or `disk`).
    pub(super) round_trip: bool,
    /// Flushes of the dirty log in progress or waiting for it: records
    /// made meanwhile wait for one.
    pub(super) flushing: AtomicU32,
    /// Where the background work is to ask the dirty log about regions,
    /// or [`super::records::NO_FETCH`].
    pub(super) fetch_from: AtomicU64,
    /// Regions recorded in sync but not yet written ([`region_copied`]
    /// leaves the write to [`SlinkDevice::flush_lazy`], off the log's
    /// lock). Losing them in a crash only copies those regions again.
    ///
    /// [`region_copied`]: SlinkDevice::region_copied
    pub(super) lazy: AtomicBool,
    /// Region size in sectors.
    pub(super) region_sectors: u64,
    /// Size of the replicated device in sectors.
    pub(super) len: u64,
    /// Where the next search for an out-of-sync region starts.
    pub(super) cursor: AtomicU64,
    /// Regions looked at since a search last found one.
    pub(super) scanned: AtomicU64,
    /// Regions copied by resynchronisation since it was last in sync.
    pub(super) resynced: AtomicU64,
    /// Whether it is a point-in-time image.
    pub(super) consistency: Consistency,
    /// Whether a write too small for the device's block size was logged.
    warned_block_size: AtomicBool,
    /// The check of the device's label (when the local device has one).
    pub(super) label: RemoteLabel,
}

impl RemoteDev {
    /// Device `bdev` (named `table_dev` in the table) as the copy of
    /// `dev_nr` on `slink`, tracked by `log`, for a replicated device of
    /// `len` sectors, its label checked as `label` says.
    pub(super) fn new(
        slink: u32,
        dev_nr: u32,
        bdev: BlockDevice,
        table_dev: DevId,
        table_region: Option<u64>,
        log: DirtyLog,
        len: u64,
        label: RemoteLabel,
    ) -> Result<RemoteDev> {
        let region_sectors = log.region_size();
        if region_sectors == 0 {
            return Err(EINVAL);
        }
        Ok(RemoteDev {
            pending: super::records::pending()?,
            round_trip: !log.changes_in_memory(),
            flushing: AtomicU32::new(0),
            fetch_from: AtomicU64::new(super::records::NO_FETCH),
            slink,
            dev_nr,
            bdev: Arc::new(bdev, GFP_KERNEL)?,
            table_dev,
            table_region,
            log,
            log_lock: KBox::pin_init(new_mutex!(()), GFP_KERNEL)?,
            lazy: AtomicBool::new(false),
            label,
            region_sectors,
            len,
            cursor: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            resynced: AtomicU64::new(0),
            consistency: Consistency::default(),
            warned_block_size: AtomicBool::new(false),
        })
    }
}

impl SlinkDevice for RemoteDev {
    fn slink(&self) -> u32 {
        self.slink
    }

    fn dev_nr(&self) -> u32 {
        self.dev_nr
    }

    fn device_id(&self) -> DevId {
        self.bdev.id()
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn block_sectors(&self) -> u64 {
        self.bdev.logical_block_sectors()
    }

    fn write(&self, io: &Submit<'_>, src: Source<'_>, sector: u64, sectors: u64, tag: u64) -> Result<bool, Busy> {
        match src {
            Source::Zeroes => io.zero(&self.bdev, sector, sectors, tag).map(|()| true),
            Source::Memory(bio) => io.ship(bio, &self.bdev, sector, sectors, tag),
            Source::Device { dev, sector: from, resync } => {
                io.copy(resync, dev, from, &self.bdev, sector, sectors, tag).map(|()| true)
            }
        }
    }

    fn flush(&self, io: &Submit<'_>, tag: u64) -> Result<(), Busy> {
        io.flush(&self.bdev, Class::Remote, tag)
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result {
        self.bdev.read(sector, buf)
    }

    fn region_sectors(&self) -> u64 {
        self.region_sectors
    }

    fn region_in_sync(&self, r: u64) -> bool {
        self.region_state(r)
    }

    fn set_region(&self, r: u64, in_sync: bool) {
        self.record(r, in_sync)
    }

    fn in_sync(&self) -> u64 {
        self.sync_count()
    }

    fn flush_dirty_log(&self) -> Result {
        self.lazy.store(false, Ordering::Relaxed);
        self.flush_log()
    }

    fn flush_lazy(&self) {
        if !self.lazy.load(Ordering::Relaxed) && !self.records_waiting() {
            return;
        }
        if let Err(err) = self.flush_dirty_log() {
            pr_warn!("replicator: dirty log of slink={} device {} cannot be written ({:?})\n", self.slink, self.dev_nr, err);
        }
    }

    fn next_out_of_sync(&self, skip: &dyn Fn(u64) -> bool) -> Scan {
        super::resync::next_out_of_sync(self, skip)
    }

    fn fetch_regions(&self) {
        RemoteDev::fetch_regions(self)
    }

    fn resync_from(&self, r: u64) {
        self.cursor.store(r, Ordering::Relaxed);
    }

    fn region_copied(&self, r: u64) -> Option<u64> {
        super::resync::region_copied(self, r)
    }

    fn consistency(&self) -> &Consistency {
        &self.consistency
    }

    fn warn_block_size(&self) {
        if !self.warned_block_size.swap(true, Ordering::Relaxed) {
            pr_warn!(
                "replicator: slink={} device {}: writes not aligned to the remote's {}-byte blocks are resynchronised by region\n",
                self.slink,
                self.dev_nr,
                self.block_sectors().saturating_mul(512)
            );
        }
    }

    fn identity_ok(&self) -> bool {
        self.label.ok()
    }

    fn identity_failed(&self) -> Option<&'static str> {
        self.label.failed()
    }

    fn check_identity(&self) {
        crate::label::start_check(&self.label, &self.bdev, self.slink, self.dev_nr, self.len);
    }

    fn recheck_identity(&self) {
        self.label.unverify();
    }

    fn resume(&self) -> Result {
        let _guard = self.log_lock.lock();
        self.log.resume()?;
        self.forget_window();
        // Records made while it was suspended, after the log's own resume.
        self.hand_over_locked();
        Ok(())
    }

    fn postsuspend(&self) -> Result {
        self.flush_lazy();
        let _guard = self.log_lock.lock();
        self.forget_window();
        self.log.postsuspend()
    }

    fn quiesce(&self) {
        self.label.wait_idle();
        self.flush_lazy();
    }

    fn table_region(&self) -> Option<u64> {
        self.table_region
    }

    fn table(&self, out: &mut StatusWriter<'_>) {
        let _ = write!(out, "1 {} ", self.table_dev);
        match self.table_region {
            Some(region) => self.log.with_status(StatusType::Table, |text| {
                let _ = write!(out, "{}", WithRegion { text, region });
            }),
            None => self.log.status(StatusType::Table, out),
        }
    }
}
