// SPDX-License-Identifier: GPL-2.0
//! Site links: how the replication log reaches the copies of a group's
//! devices at a remote site.
//!
//! The log (`crate::ringbuffer`) decides *what* a site link gets and
//! *when*: entries in sequence order, epochs, the frontiers of what was
//! copied and what is durable there, policies and fall-behind limits. A
//! site-link type decides *how*: it opens the copy of a replicated device
//! at the site (the `replicator-dev` table's device parameters), writes
//! data to it from the source the log names, flushes it, and keeps the
//! copy's dirty log, which says which regions a resynchronisation must
//! bring over. The log sees each copy only as a [`SlinkDevice`].
//!
//! A new transport is one `impl SlinkType` with its `impl SlinkDevice`,
//! and one line in `crate::SLINK_TYPES`.

pub(crate) mod blockdev;
mod consistency;
pub(crate) mod registry;

pub(crate) use consistency::Consistency;

use crate::dm::{BlockDevice, Busy, DevId, DmDev, StatusWriter, Submit, TargetCtx, TargetError, UserBio};
use crate::label::LocalLabel;
use crate::logic::replicator_dev_table::DeviceSpec;
use kernel::prelude::*;
use kernel::sync::Arc;

/// A kind of site link (`blockdev`).
pub(crate) trait SlinkType: Sync {
    /// The name used in `replicator` table lines. The parameters after
    /// `<type> <#params>` are the same for all types (`logic::blockdev`).
    fn name(&self) -> &'static str;
    /// Open the copy of device `dev_nr` at the site that `spec` (one
    /// device of a `replicator-dev` table, its site link above 0) names,
    /// for a table of `ctx.len()` sectors whose local device carries
    /// `local_label`. Returns the table's reference to the device (for its
    /// queue limits) and the copy as the log drives it.
    fn open_device(
        &self,
        ctx: &TargetCtx<'_>,
        dev_nr: u32,
        spec: &DeviceSpec<'_>,
        local_label: &LocalLabel,
    ) -> Result<(DmDev, Arc<dyn SlinkDevice>), TargetError>;
}

/// Where the data of a [`SlinkDevice::write`] comes from.
pub(crate) enum Source<'a> {
    /// Zeroes: a discard or write-zeroes entry.
    Zeroes,
    /// The stable copy of a writer's bio, still held: the same pages the
    /// log and local writes use. The write may decline (`Ok(false)`):
    /// then the log reads its ring instead.
    Memory(&'a UserBio),
    /// A device, from `sector` on: the log's ring, or the local device for
    /// a region copy (`resync`, which goes at the resync's pace).
    Device { dev: &'a BlockDevice, sector: u64, resync: bool },
}

/// What a search for resync work found.
pub(crate) enum Scan {
    /// This region is out of sync and may be copied now.
    Found(u64),
    /// Nothing yet: the search stopped at its bound, go on later.
    More,
    /// Nothing yet: only a round trip to the dirty log can tell about the
    /// next region. The background work asks
    /// ([`SlinkDevice::fetch_regions`]); the search goes on after it.
    Fetch,
    /// No region may be copied now.
    None,
}

/// The copy of one replicated device at a remote site, as the log drives
/// it: the transport, the dirty log of its regions, and the check that it
/// is the copy its table names (its identity).
///
/// Its I/O completes on the log's work item with the tag it was given;
/// `Err(Busy)` means memory was short and nothing was issued.
pub(crate) trait SlinkDevice: Send + Sync {
    /// Site link number (at least 1).
    fn slink(&self) -> u32;
    /// Device number in the group.
    fn dev_nr(&self) -> u32;
    /// The device written to: a reload naming the same one keeps its
    /// sync state.
    fn device_id(&self) -> DevId;
    /// Size of the replicated device in sectors.
    fn len(&self) -> u64;
    /// The smallest write the device takes, in sectors.
    fn block_sectors(&self) -> u64;

    /// Write `sectors` sectors of `src` at `sector`; `Ok(false)` if a
    /// [`Source::Memory`] write declined.
    fn write(&self, io: &Submit<'_>, src: Source<'_>, sector: u64, sectors: u64, tag: u64) -> Result<bool, Busy>;
    /// Make the writes completed so far durable at the site.
    fn flush(&self, io: &Submit<'_>, tag: u64) -> Result<(), Busy>;
    /// Read `buf.len()` bytes at `sector`, synchronously (online verify).
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result;

    /// Region size in sectors (never 0).
    fn region_sectors(&self) -> u64;
    /// Whether region `r` is in sync.
    fn region_in_sync(&self, r: u64) -> bool;
    /// Record region `r` in sync or out of sync (in memory until
    /// [`Self::flush_dirty_log`]).
    fn set_region(&self, r: u64, in_sync: bool);
    /// Regions in sync.
    fn in_sync(&self) -> u64;
    /// Write the dirty log's changes durably.
    fn flush_dirty_log(&self) -> Result;
    /// The next out-of-sync region that `skip` does not rule out, by a
    /// bounded search from where the last one stopped.
    fn next_out_of_sync(&self, skip: &dyn Fn(u64) -> bool) -> Scan;
    /// The next search starts at region `r`.
    fn resync_from(&self, r: u64);
    /// Ask the dirty log, without the replication log's lock, about the
    /// regions where a search stopped with [`Scan::Fetch`]. Background
    /// work only.
    fn fetch_regions(&self);
    /// Region `r` was copied and is durable at the site: record it in
    /// sync, without writing the dirty log (see [`Self::flush_lazy`]).
    /// Returns the regions resynchronised since the device was last in
    /// sync if that made every region in sync.
    fn region_copied(&self, r: u64) -> Option<u64>;
    /// Write the in-sync records [`Self::region_copied`] left, if any:
    /// called off the log's lock. (Out-of-sync records are written by
    /// [`Self::flush_dirty_log`] before the log passes their entries.)
    fn flush_lazy(&self);
    /// The writes of its point-in-time image (see [`Consistency`]).
    fn consistency(&self) -> &Consistency;
    /// Say once that writes smaller than the device's blocks go by region.
    fn warn_block_size(&self);

    /// Whether the device was checked to be the copy its table names
    /// since the site was last out of reach: only then is it written.
    fn identity_ok(&self) -> bool;
    /// Why the last check failed, if it did.
    fn identity_failed(&self) -> Option<&'static str>;
    /// Start a check in the background if one is due.
    fn check_identity(&self);
    /// The site was out of reach: check again before writing.
    fn recheck_identity(&self);

    /// Start the dirty log (the device goes live).
    fn resume(&self) -> Result;
    /// Stop the dirty log (the device is suspended), its records written.
    fn postsuspend(&self) -> Result;
    /// Wait until no background work uses the device and write its dirty
    /// log's records: its table may go.
    fn quiesce(&self);
    /// The region size the table gave where another is in use (0, or one
    /// larger than the device): shown in the table, and checked against
    /// the group's.
    fn table_region(&self) -> Option<u64>;
    /// Write the device's part of a `replicator-dev` table line after
    /// `<slink_nr>`: `<#dev_params> <dev_path> <dlog_type> <#dlog_params>
    /// <dlog_params>`.
    fn table(&self, out: &mut StatusWriter<'_>);

    /// Number of regions.
    fn regions(&self) -> u64 {
        let (len, rs) = (self.len(), self.region_sectors());
        match len.checked_div(rs) {
            Some(n) if n.saturating_mul(rs) < len => n + 1,
            Some(n) => n,
            None => 0,
        }
    }

    /// Whether some region is out of sync: an entry shipped now reaches
    /// the copy while older writes are missing there.
    fn behind_regions(&self) -> bool {
        self.in_sync() < self.regions()
    }

    /// The regions `sector..sector + sectors` touches.
    fn regions_of(&self, sector: u64, sectors: u64) -> core::ops::Range<u64> {
        if sectors == 0 {
            return 0..0;
        }
        let rs = self.region_sectors();
        match (sector.checked_div(rs), sector.saturating_add(sectors - 1).checked_div(rs)) {
            (Some(first), Some(last)) => first..last.saturating_add(1).min(self.regions()),
            _ => 0..0,
        }
    }

    /// Sectors of region `r`: start and length (the last one may be short).
    fn region_extent(&self, r: u64) -> (u64, u64) {
        let start = r.saturating_mul(self.region_sectors());
        (start, self.region_sectors().min(self.len().saturating_sub(start)))
    }

    /// Mark the regions of `sector..sector + sectors` out of sync.
    fn mark_out_of_sync(&self, sector: u64, sectors: u64) {
        for r in self.regions_of(sector, sectors) {
            self.set_region(r, false);
        }
    }
}

/// Whether `a` and `b` are the same device object (not merely the same
/// device: a reload opens a new one for it).
pub(crate) fn same(a: &Arc<dyn SlinkDevice>, b: &Arc<dyn SlinkDevice>) -> bool {
    core::ptr::addr_eq(&**a as *const dyn SlinkDevice, &**b as *const dyn SlinkDevice)
}
