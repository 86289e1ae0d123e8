// SPDX-License-Identifier: GPL-2.0
//! The `blockdev` site link: remote sites reached as block devices (NBD,
//! NVMe/TCP, iSCSI, or any local device).
//!
//! A remote device is opened by its `replicator-dev` table, which also
//! creates its dirty log; the replication log copies entries to it and
//! resynchronises the regions the dirty log marks out of sync.

use crate::dm::{BlockDevice, DirtyLog};
use crate::label::RemoteLabel;
use crate::registry::SlinkType;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::prelude::*;

/// Regions one search for resync work looks at, at most.
const SCAN_REGIONS: u32 = 4096;
/// Out-of-sync regions one search passes over (a local write pending, a
/// copy in flight), at most: ruling one out costs a look at the log.
const SCAN_SKIPS: u32 = 16;

/// What a search for resync work found.
pub(crate) enum Scan {
    /// This region is out of sync and may be copied now.
    Found(u64),
    /// Nothing yet: the search stopped at its bound, go on later.
    More,
    /// No region may be copied now.
    None,
}

/// Registry entry of the `blockdev` site-link type.
pub(crate) struct BlockdevType;

impl SlinkType for BlockdevType {
    fn name(&self) -> &'static str {
        crate::logic::replicator_table::SLINK_BLOCKDEV
    }
}

/// One remote device: the copy of device `dev_nr` at site link `slink`.
pub(crate) struct RemoteDev {
    /// Site link number (at least 1).
    pub(crate) slink: u32,
    /// Device number in the group.
    pub(crate) dev_nr: u32,
    /// The log's own reference to the device.
    pub(crate) bdev: BlockDevice,
    /// Regions of the device that are out of sync.
    pub(crate) log: DirtyLog,
    /// Region size in sectors.
    pub(crate) region_sectors: u64,
    /// Size of the replicated device in sectors.
    pub(crate) len: u64,
    /// Where the next search for an out-of-sync region starts.
    pub(crate) cursor: AtomicU64,
    /// Regions looked at since a search last found one.
    pub(crate) scanned: AtomicU64,
    /// Regions copied by resynchronisation since it was last in sync.
    pub(crate) resynced: AtomicU64,
    /// Whether the copy may not be a point-in-time image (see
    /// [`RemoteDev::diverge`]).
    inconsistent: AtomicBool,
    /// The sequence number the site must hold durably before the copy is
    /// a point-in-time image again: region copies may hold writes of
    /// entries before it that the link has not shipped yet.
    settles_at: AtomicU64,
    /// Whether a write too small for the device's block size was logged.
    warned_block_size: AtomicBool,
    /// The check of the device's label (when the local device has one).
    pub(crate) label: RemoteLabel,
}

impl RemoteDev {
    /// Device `bdev` as the copy of `dev_nr` on `slink`, tracked by
    /// `log`, for a replicated device of `len` sectors, its label checked
    /// as `label` says.
    pub(crate) fn new(
        slink: u32,
        dev_nr: u32,
        bdev: BlockDevice,
        log: DirtyLog,
        len: u64,
        label: RemoteLabel,
    ) -> Result<RemoteDev> {
        let region_sectors = log.region_size();
        if region_sectors == 0 {
            return Err(EINVAL);
        }
        Ok(RemoteDev {
            slink,
            dev_nr,
            bdev,
            log,
            label,
            region_sectors,
            len,
            cursor: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            resynced: AtomicU64::new(0),
            inconsistent: AtomicBool::new(false),
            settles_at: AtomicU64::new(0),
            warned_block_size: AtomicBool::new(false),
        })
    }

    /// Whether the copy is known to be a point-in-time image of the
    /// device: the writes of some prefix of its history, in order. The
    /// log ships entries in order, so a copy that only falls behind stays
    /// one; a region copy, or an entry shipped while some region is out
    /// of sync (its older writes missing there), breaks that until every
    /// region is in sync and the link has shipped every entry a region
    /// copy may have taken.
    pub(crate) fn consistent(&self) -> bool {
        !self.inconsistent.load(Ordering::Relaxed)
    }

    /// The copy stops being a point-in-time image: a write reaches it out
    /// of order, or regions of it are declared different. `upto` is the
    /// end of the log when a region copy reads the local device (every
    /// entry it may hold is before it), 0 otherwise. Returns whether the
    /// state changed. Called under the log's lock.
    pub(crate) fn diverge(&self, upto: u64) -> bool {
        self.settles_at.fetch_max(upto, Ordering::Relaxed);
        !self.inconsistent.swap(true, Ordering::Relaxed)
    }

    /// Whether an entry shipped now reaches the copy out of order: some
    /// region is out of sync, its older writes missing at the site.
    pub(crate) fn behind_regions(&self) -> bool {
        self.in_sync() < self.regions()
    }

    /// The copy is a point-in-time image again if every region is in sync,
    /// none is being copied (`copying`) and the site holds every entry
    /// before `durable`. Returns whether the state changed. Called under
    /// the log's lock.
    pub(crate) fn settle(&self, durable: u64, copying: bool) -> bool {
        if self.consistent() || copying || self.behind_regions() || durable < self.settles_at.load(Ordering::Relaxed) {
            return false;
        }
        self.inconsistent.store(false, Ordering::Relaxed);
        true
    }

    /// Attached to a log afresh (a new table, or a log that replaced a
    /// failed one): sequence numbers of another log mean nothing here.
    pub(crate) fn rebase_settle(&self) {
        self.settles_at.store(0, Ordering::Relaxed);
    }

    /// Take the state of `old`, the device this one replaces on a reload.
    pub(crate) fn inherit_consistency(&self, old: &RemoteDev) {
        if !old.consistent() {
            self.diverge(old.settles_at.load(Ordering::Relaxed));
        }
    }

    /// Number of regions.
    pub(crate) fn regions(&self) -> u64 {
        match self.len.checked_div(self.region_sectors) {
            Some(n) if n.saturating_mul(self.region_sectors) < self.len => n + 1,
            Some(n) => n,
            None => 0,
        }
    }

    /// Regions in sync.
    pub(crate) fn in_sync(&self) -> u64 {
        self.log.sync_count()
    }

    /// The regions `sector..sector + sectors` touches.
    pub(crate) fn regions_of(&self, sector: u64, sectors: u64) -> core::ops::Range<u64> {
        if sectors == 0 {
            return 0..0;
        }
        let rs = self.region_sectors;
        match (sector.checked_div(rs), sector.saturating_add(sectors - 1).checked_div(rs)) {
            (Some(first), Some(last)) => first..last.saturating_add(1).min(self.regions()),
            _ => 0..0,
        }
    }

    /// Sectors of region `r`: start and length (the last one may be short).
    pub(crate) fn region_extent(&self, r: u64) -> (u64, u64) {
        let start = r.saturating_mul(self.region_sectors);
        (start, self.region_sectors.min(self.len.saturating_sub(start)))
    }

    /// The next out-of-sync region that `skip` does not rule out,
    /// searching from the cursor round to it. One search looks at a
    /// bounded number of regions (the resync runs under the log's lock,
    /// on every completion): past that it leaves the cursor where it
    /// stopped and answers [`Scan::More`], until a whole round found
    /// nothing.
    pub(crate) fn next_out_of_sync(&self, skip: impl Fn(u64) -> bool) -> Scan {
        let n = self.regions();
        if self.in_sync() >= n {
            return Scan::None;
        }
        let from = self.cursor.load(Ordering::Relaxed).min(n);
        let (mut looked, mut skipped) = (0u32, 0u32);
        for r in Iterator::chain(from..n, 0..from) {
            if looked >= SCAN_REGIONS || skipped >= SCAN_SKIPS {
                self.cursor.store(r, Ordering::Relaxed);
                let round = self.scanned.fetch_add(u64::from(looked), Ordering::Relaxed) + u64::from(looked);
                if round >= n {
                    self.scanned.store(0, Ordering::Relaxed);
                    return Scan::None;
                }
                return Scan::More;
            }
            looked += 1;
            if self.log.in_sync(r) {
                continue;
            }
            if skip(r) {
                skipped += 1;
                continue;
            }
            self.scanned.store(0, Ordering::Relaxed);
            return Scan::Found(r);
        }
        self.scanned.store(0, Ordering::Relaxed);
        Scan::None
    }

    /// Say once that writes smaller than the device's block size of
    /// `lbs` sectors go by region.
    pub(crate) fn warn_block_size(&self, lbs: u64) {
        if !self.warned_block_size.swap(true, Ordering::Relaxed) {
            pr_warn!(
                "replicator: slink={} device {}: writes not aligned to the remote's {}-byte blocks are resynchronised by region\n",
                self.slink,
                self.dev_nr,
                lbs.saturating_mul(512)
            );
        }
    }

    /// Mark the regions of `sector..sector + sectors` out of sync.
    pub(crate) fn mark_out_of_sync(&self, sector: u64, sectors: u64) {
        for r in self.regions_of(sector, sectors) {
            self.log.set_out_of_sync(r);
        }
    }
}
