// SPDX-License-Identifier: GPL-2.0
//! Resynchronisation bookkeeping of a `blockdev` remote device: the
//! search for out-of-sync regions and the record of copied ones. The log
//! issues the region copies (it knows which local writes are pending);
//! this side walks the dirty log.

use super::remote::RemoteDev;
use crate::slink::{Scan, SlinkDevice};
use core::sync::atomic::Ordering;

/// Regions one search for resync work looks at, at most.
const SCAN_REGIONS: u32 = 4096;
/// Out-of-sync regions one search passes over (a local write pending, a
/// copy in flight), at most: ruling one out costs a look at the log.
const SCAN_SKIPS: u32 = 16;
/// The next out-of-sync region of `dev` that `skip` does not rule out,
/// searching from the cursor round to it. One search looks at a bounded
/// number of regions (it runs under the log's lock, on every
/// completion): past that it leaves the cursor where it stopped and
/// answers [`Scan::More`], until a whole round found nothing. It asks a
/// dirty log that answers by round trip nothing: where the module does
/// not know a region's state it stops there with [`Scan::Fetch`]
/// (`records.rs`).
pub(super) fn next_out_of_sync(dev: &RemoteDev, skip: &dyn Fn(u64) -> bool) -> Scan {
    let n = dev.regions();
    if dev.in_sync() >= n {
        return Scan::None;
    }
    let from = dev.cursor.load(Ordering::Relaxed).min(n);
    let (mut looked, mut skipped) = (0u32, 0u32);
    for r in Iterator::chain(from..n, 0..from) {
        if looked >= SCAN_REGIONS || skipped >= SCAN_SKIPS {
            dev.cursor.store(r, Ordering::Relaxed);
            let round = dev.scanned.fetch_add(u64::from(looked), Ordering::Relaxed) + u64::from(looked);
            if round >= n {
                dev.scanned.store(0, Ordering::Relaxed);
                return Scan::None;
            }
            return Scan::More;
        }
        let Some(in_sync) = dev.region_state_now(r) else {
            // The search goes on at `r` once it is known: the regions
            // before it count towards the round.
            dev.scanned.fetch_add(u64::from(looked), Ordering::Relaxed);
            return dev.fetch_at(r);
        };
        looked += 1;
        if in_sync {
            continue;
        }
        if skip(r) {
            skipped += 1;
            continue;
        }
        dev.scanned.store(0, Ordering::Relaxed);
        return Scan::Found(r);
    }
    dev.scanned.store(0, Ordering::Relaxed);
    Scan::None
}

/// Region `r` of `dev` is copied and durable at the site: record it in
/// sync, written later by [`SlinkDevice::flush_lazy`]. Returns the regions
/// resynchronised since the device was last in sync if it is all in sync
/// now.
pub(super) fn region_copied(dev: &RemoteDev, r: u64) -> Option<u64> {
    dev.record(r, true);
    dev.lazy.store(true, Ordering::Relaxed);
    if dev.may_complete() {
        // Perhaps the last one: the count must be the log's own.
        dev.hand_over();
    }
    let n = dev.resynced.fetch_add(1, Ordering::Relaxed) + 1;
    if dev.in_sync() < dev.regions() {
        return None;
    }
    // The count starts again for the next time it falls behind.
    dev.resynced.store(0, Ordering::Relaxed);
    Some(n)
}
