// SPDX-License-Identifier: GPL-2.0
//! The log's side of online verify (`crate::verify`): when a region's
//! local and remote copies may be compared while writes go on.
//!
//! A region may be compared when its site link holds every write to it:
//! the region is in sync in the dirty log, the link is up, no entry that
//! writes it waits to be copied or is being copied, no local write to it
//! is pending and no region copy runs there. The verify then reads both
//! copies and asks again: the comparison stands only if the region is
//! still quiet and no entry for it was appended in between. Otherwise it
//! is tried again later.

use super::engine::{Engine, EngineQueue, State};
use super::slink::Slink;
use super::unapplied::Unapplied;
use crate::slink::{self, SlinkDevice};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Entries one check looks through, at most (under the log's lock): a
/// link further behind than that is not quiet anywhere.
const WINDOW: u64 = 4096;

/// Whether region `region` of `dev` is quiet on its site link.
fn quiet(st: &State, unapplied: &Unapplied, s: &Slink, dev: &Arc<dyn SlinkDevice>, region: u64) -> bool {
    let (sector, sectors) = dev.region_extent(region);
    let len = u32::try_from(sectors).unwrap_or(u32::MAX);
    let attached = s.device(dev.dev_nr()).is_some_and(|d| slink::same(d, dev));
    attached
        && sectors > 0
        && st.failed_at.is_none()
        && s.error.is_none()
        && s.failed.is_none()
        && dev.region_in_sync(region)
        && !s.busy(dev.dev_nr(), sector, sectors)
        && !st.local_pending(unapplied, dev.dev_nr(), sector, sectors)
        && !written(st, s.next.max(st.entries.first_seq()), dev.dev_nr(), sector, len)
}

/// Start comparing `region` of `dev`: the entry sequence number to check
/// against at the end, or `None` if the region is not quiet now.
pub(super) fn begin(q: &EngineQueue, dev: &Arc<dyn SlinkDevice>, region: u64) -> Option<u64> {
    let st = q.inner().state.lock();
    let s = st.slinks.iter().find(|s| s.nr == dev.slink())?;
    quiet(&st, &q.inner().unapplied, s, dev, region).then(|| st.entries.end_seq())
}

/// Whether the comparison of `region` begun at entry `since` stands: the
/// region is still quiet and no entry written since (still in the log)
/// overlaps it. Entries already reclaimed cannot be checked: it does not.
pub(super) fn end(q: &EngineQueue, dev: &Arc<dyn SlinkDevice>, region: u64, since: u64) -> bool {
    let st = q.inner().state.lock();
    let Some(s) = st.slinks.iter().find(|s| s.nr == dev.slink()) else { return false };
    let (sector, sectors) = dev.region_extent(region);
    let len = u32::try_from(sectors).unwrap_or(u32::MAX);
    quiet(&st, &q.inner().unapplied, s, dev, region) && st.entries.first_seq() <= since && !written(&st, since, dev.dev_nr(), sector, len)
}

/// Whether an entry from `from` on writes part of `sector..+sectors` of
/// device `dev_nr`, or there are too many to tell.
fn written(st: &State, from: u64, dev_nr: u32, sector: u64, sectors: u32) -> bool {
    let end = st.entries.end_seq();
    end.saturating_sub(from) > WINDOW
        || (from..end).any(|seq| st.entries.get(seq).is_some_and(|e| e.overlaps(dev_nr, sector, sectors)))
}

/// Mark the regions of `sector..+sectors` of `dev` out of sync, durably,
/// and let the resync copy them (a verify's repair, `mark`). The resync
/// search starts again from the first of them.
pub(super) fn mark_out_of_sync(q: &EngineQueue, dev: &Arc<dyn SlinkDevice>, sector: u64, sectors: u64) -> Result {
    let diverged = {
        let _st = q.inner().state.lock();
        dev.mark_out_of_sync(sector, sectors);
        if let Some(first) = dev.regions_of(sector, sectors).next() {
            dev.resync_from(first);
        }
        // The regions differ from the local device: whatever the copy
        // holds there is not part of the local device's history.
        Engine::diverged(dev.slink(), &**dev, 0, "regions marked out of sync")
    };
    let r = dev.flush_dirty_log();
    if diverged {
        q.inner().raise_event();
    }
    q.kick();
    r
}
