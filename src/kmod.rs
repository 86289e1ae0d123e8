// SPDX-License-Identifier: GPL-2.0
//! dm-replicator: block-level remote replication for device-mapper.
//!
//! Registers two targets: `replicator`, which owns a group's replication
//! log and site links, and `replicator-dev`, one per replicated device.
//! See `Documentation/replicator.rst`.

use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

mod dm;
mod group;
mod label;
mod local_health;
// Shared with host crates: not every item has a user in the module.
#[allow(unreachable_pub, dead_code, unused_imports)]
mod logic;
mod replog;
mod replicator;
mod replicator_dev;
mod ringbuffer;
mod slink;
mod verify;

module! {
    type: DmReplicator,
    name: "dm_replicator",
    author: "dm-replicator developers",
    description: "device-mapper remote replication targets",
    license: "GPL",
}

/// The replication-log types a `replicator` table may name: one line
/// per type (see `replog::registry`).
static REPLOG_TYPES: [&dyn replog::ReplogType; 1] = [&ringbuffer::RingbufferType];

/// The site-link types a `replicator` table may name: one line per type
/// (see `slink::registry`).
static SLINK_TYPES: [&dyn slink::SlinkType; 1] = [&slink::blockdev::BlockdevType];

/// Target versions, reported by `dmsetup targets`.
const VERSION: [u32; 3] = [0, 1, 0];

struct DmReplicator {
    _replicator: dm::Registration,
    _replicator_dev: dm::Registration,
    /// Dropped last: the targets are unregistered first.
    _background: dm::Background,
}

impl kernel::Module for DmReplicator {
    fn init(module: &'static ThisModule) -> Result<Self> {
        #[cfg(dmr_fault_ack_before_flush)]
        pr_warn!("dm-replicator: TEST-ONLY FAULT BUILD: acknowledges writes before the log flush\n");
        let background = dm::Background::new()?;
        let replicator = dm::Registration::new::<replicator::Replicator>(module, c"replicator", VERSION)?;
        let replicator_dev =
            dm::Registration::new::<replicator_dev::ReplicatorDev>(module, c"replicator-dev", VERSION)?;
        Ok(Self { _replicator: replicator, _replicator_dev: replicator_dev, _background: background })
    }
}

/// A fresh identity for a target, to tell tables of one group apart.
fn next_target_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A grammar error as a constructor error.
fn table_error(e: logic::error::TableError) -> dm::TargetError {
    dm::TargetError::inval(e.message())
}
