// SPDX-License-Identifier: GPL-2.0
//! Replication logs: the `ReplogType` / `Replog` trait pair the targets
//! drive a group's log through. A log keeps the group's writes in order
//! and feeds its site links, whose remote copies it sees only as
//! [`SlinkDevice`]s.

pub(crate) mod registry;

use crate::dm::{Bio, DevId, DmDev, MapResult, StatusWriter, TargetCtx, TargetError, TargetHandle};
use crate::local_health::LocalHealth;
use crate::logic::blockdev::BlockdevParams;
use crate::logic::message::ReplogMessage;
use crate::slink::SlinkDevice;
use kernel::prelude::*;
use kernel::sync::Arc;

/// A kind of replication log (`ringbuffer`).
pub(crate) trait ReplogType: Sync {
    /// The name used in table lines.
    fn name(&self) -> &'static str;
    /// Open (or format) a log from its table parameters (after `<type>
    /// <#params>`); also returns the table's reference to the log device.
    fn create(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<(Arc<dyn Replog>, DmDev), TargetError>;
    /// Format a new log from its table parameters, whatever the device
    /// holds, to replace a group's failed one: every write since the
    /// failure went to the local devices and was marked for the remotes,
    /// so nothing on the device is to be replayed.
    fn replace(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<(Arc<dyn Replog>, DmDev), TargetError>;
}

/// A replication log, shared by the tables of one group: a reloaded
/// `replicator` table keeps the running log.
pub(crate) trait Replog: Send + Sync {
    /// Check that a reloaded table's parameters name this log; returns the
    /// new table's reference to the log device.
    fn reload(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<DmDev, TargetError>;
    /// Write `<type> <#params> <params>` as in the table line.
    fn table(&self, out: &mut StatusWriter<'_>);
    /// Write `<used>/<size>` of the INFO status.
    fn usage(&self, out: &mut StatusWriter<'_>);
    /// Entries and sectors site link `slink` still needs.
    fn backlog(&self, slink: u32) -> (u64, u64);
    /// Whether remote site link `slink` is past its fall-behind limit, so
    /// that writes wait for it as if it were synchronous.
    fn enforcing(&self, slink: u32) -> bool;
    /// Write the log's own group of the INFO status (with a leading space).
    fn info(&self, out: &mut StatusWriter<'_>);
    /// Handle a `replog ...` message.
    fn message(&self, msg: &ReplogMessage) -> Result<(), TargetError>;
    /// Journal a write-type bio of device `dev_nr`, already remapped to
    /// its local device.
    fn map_write(&self, dev_nr: u32, bio: &mut Bio) -> MapResult;
    /// Issue a read of device `dev_nr`, already remapped to its local
    /// device, once every acknowledged write it overlaps is there: a
    /// write is acknowledged when the log has it, before its local write
    /// ends.
    fn map_read(&self, dev_nr: u32, bio: &mut Bio) -> MapResult;
    /// Bind the local device of `replicator-dev` target `target`, its
    /// errors noted in `health`, and replay the entries it lacks
    /// (preresume).
    fn bind(&self, target: usize, dev_nr: u32, local: DevId, health: &Arc<LocalHealth>) -> Result;
    /// The target's device is suspended: flush it, settle its entries.
    fn settle(&self, target: usize);
    /// The target goes.
    fn unbind(&self, target: usize);
    /// Hand deferred bios of local device `local` back for a `--noflush`
    /// suspend.
    fn requeue(&self, local: DevId);
    /// The `replicator` is suspended: write a checkpoint.
    fn suspend(&self);
    /// Add remote site link `params.slink`, or change its policy and
    /// fall-behind limit.
    fn set_slink(&self, params: &BlockdevParams) -> Result;
    /// Pause (`stop`) or resume (`start`) shipping to remote site link
    /// `slink`, or to every one (`None`). A paused link issues no copy,
    /// region copy or flush; writes do not wait for it.
    fn pause(&self, slink: Option<u32>, paused: bool);
    /// Remove remote site link `slink` (it has no devices left).
    fn del_slink(&self, slink: u32);
    /// Set how long a site link that is down waits between tries.
    fn set_retest(&self, slink: u32, ms: u32) -> Result;
    /// Start replicating to a remote device; one of the same number on
    /// the same site link (a reloaded table's) hands over to it.
    fn attach_remote(&self, dev: Arc<dyn SlinkDevice>) -> Result;
    /// Stop replicating to `dev` unless another device took its place;
    /// returns once none of its I/O is in flight. With `forget` (`device
    /// del`) its site link stops replicating the device number; without
    /// (the target goes, e.g. for a restart) the link keeps its entries
    /// until the device attaches again.
    fn detach_remote(&self, dev: &Arc<dyn SlinkDevice>, forget: bool);
    /// Online verify: whether region `region` of `dev` may be compared
    /// now (its site link holds every write to it and nothing is in
    /// flight there); returns what to give [`Self::verify_end`].
    fn verify_begin(&self, dev: &Arc<dyn SlinkDevice>, region: u64) -> Option<u64>;
    /// Whether the comparison of `region` begun with `since` stands:
    /// nothing wrote the region meanwhile and it is still quiet.
    fn verify_end(&self, dev: &Arc<dyn SlinkDevice>, region: u64, since: u64) -> bool;
    /// Mark the regions of `sector..+sectors` of `dev` out of sync,
    /// durably, so that the resync copies them.
    fn mark_out_of_sync(&self, dev: &Arc<dyn SlinkDevice>, sector: u64, sectors: u64) -> Result;
    /// Device number `dev_nr` is replicated only to the site links in
    /// `keep` now: the others stop needing its entries.
    fn forget_others(&self, dev_nr: u32, keep: &crate::logic::slink::SlinkSet);
    /// Health character of site link `slink` (`A`, `R` or `W`) and whether
    /// it is resynchronising device `dev_nr`.
    fn remote_state(&self, slink: u32, dev_nr: u32) -> (char, bool);
    /// Whether a log write or flush failed (writes bypass the log).
    fn failed(&self) -> bool;
    /// Raise the group's events on `replicator` target `owner`.
    fn set_event(&self, owner: usize, handle: TargetHandle);
    /// `replicator` target `owner` goes: no more events through it.
    fn clear_event(&self, owner: usize);
    /// Raise the group's events on `replicator-dev` target `target` too.
    fn add_dev_event(&self, target: usize, handle: TargetHandle) -> Result;
    /// `replicator-dev` target `target` goes: no more events through it.
    fn del_dev_event(&self, target: usize);
}
