// SPDX-License-Identifier: GPL-2.0
//! The `replicator-dev` target: one replicated device of a group, with its
//! local device (site link 0) and its remote devices on other site links.
//!
//! Table: `<replicator_device> <dev_nr> {<slink_nr> <#dev_params>
//! <dev_path> <dlog_type> <#dlog_params> <dlog_params>}{1..N}`, see
//! `Documentation/tables.rst`. Writes go through the group's replication
//! log, which applies them to the local device once they are durable;
//! reads go straight to the local device.

use crate::dm::{
    device_error, Bio, DeferredEvent, BioOp, DeviceVisitor, DmDev, EndIoResult, MapResult, StatusType, StatusWriter,
    Target, TargetCtx, TargetError, TargetHandle,
};
use crate::group::{Binding, Group};
use crate::label;
use crate::label::LocalLabel;
use crate::local_health::LocalHealth;
use crate::logic::message::ReplicatorDevMessage;
use crate::logic::replicator_dev_table::ReplicatorDevTable;
use crate::logic::slink::SlinkSet;
use crate::slink::SlinkDevice;
use crate::verify::Verify;
use crate::{next_target_id, table_error};
use core::fmt::Write;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, Mutex};

/// Largest bio the target takes, in sectors (128 KiB): a log entry is a
/// header block plus the data, and must fit the smallest log many times.
const MAX_IO_SECTORS: u64 = 256;
// Every write is copied into stable pages before it is logged.
const _: () = assert!(MAX_IO_SECTORS <= crate::dm::MAX_STABLE_SECTORS);

/// A remote device: the table's reference, and the copy as the
/// replication log drives it (opened by its site link's type).
struct Remote {
    dev: DmDev,
    remote: Arc<dyn SlinkDevice>,
}

/// A `replicator-dev` target.
pub(crate) struct ReplicatorDev {
    id: usize,
    group: Arc<Group>,
    /// Keeps the replicator's device open, so it cannot go away under us.
    ctrl: DmDev,
    dev_nr: u32,
    begin: u64,
    len: u64,
    local: DmDev,
    /// Remote devices by site link number.
    remotes: Pin<KBox<Mutex<RBTree<u32, Remote>>>>,
    handle: TargetHandle,
    /// Errors of the local device (slink 0 of the status).
    health: Arc<LocalHealth>,
    /// This device's event for a local read error (raised in `end_io`).
    read_error_event: DeferredEvent,
    /// The last online verify started on this table, running or ended.
    verify: Pin<KBox<Mutex<Option<Arc<Verify>>>>>,
}

/// Open the remote devices of `table` (site links > 0) and check them
/// against the group: the site link exists, the region size is the group's,
/// the device is not yet on that site link, and its label (if the local
/// device `local_label` or it has one) says it is a current copy.
fn open_remotes(
    ctx: &TargetCtx<'_>,
    group: &Group,
    id: usize,
    table: &ReplicatorDevTable<'_>,
    have: &RBTree<u32, Remote>,
    local_label: &LocalLabel,
) -> Result<KVec<(u32, Remote)>, TargetError> {
    let mut out = KVec::new();
    for spec in table.devices() {
        let spec = spec.map_err(table_error)?;
        if spec.slink == 0 {
            continue;
        }
        if have.get(&spec.slink).is_some() || out.iter().any(|(s, _)| *s == spec.slink) {
            return Err(TargetError::new(c"Device already on this site link", EEXIST));
        }
        let ty = {
            let st = group.state.lock();
            let Some(cfg) = st.slinks.get(&spec.slink) else {
                return Err(TargetError::new(c"Site link not configured on the replicator", ENOENT));
            };
            // As written: a small device's one region, or a `core` log's
            // 0 (the default), does not change the group's region size.
            let got = spec.dirty_log.region_size().filter(|r| *r != 0);
            if let (Some(want), Some(got)) = (st.region_size(id), got) {
                if want != got {
                    return Err(TargetError::inval(c"Region size differs from the replication group's"));
                }
            }
            cfg.ty
        };
        let (dev, remote) = ty.open_device(ctx, table.dev_nr, &spec, local_label)?;
        let remote = Remote { dev, remote };
        out.push((spec.slink, remote), GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate remote device", ENOMEM))?;
    }
    Ok(out)
}

impl ReplicatorDev {
    /// The group binding that mirrors `remotes`.
    fn binding(&self, remotes: &RBTree<u32, Remote>, replicating: bool) -> Binding {
        let mut slinks = SlinkSet::new();
        let mut region_size = None;
        for (nr, r) in remotes.iter() {
            slinks.insert(*nr);
            region_size = match r.remote.table_region() {
                Some(0) => region_size,
                Some(table) => Some(table),
                None => Some(r.remote.region_sectors()),
            };
        }
        Binding { dev_nr: self.dev_nr, local: self.local.id(), slinks, region_size, replicating, suspended: true }
    }

    /// Record whether the target is live, for [`Group::replace_log`].
    fn set_suspended(&self, suspended: bool) {
        if let Some(b) = self.group.state.lock().bindings.get_mut(&self.id) {
            b.suspended = suspended;
        }
    }

    /// Publish the device's remotes to the group.
    fn rebind(&self, remotes: &RBTree<u32, Remote>) {
        let mut st = self.group.state.lock();
        let replicating = st.bindings.get(&self.id).map_or(true, |b| b.replicating);
        let mut b = self.binding(remotes, replicating);
        if let Some(old) = st.bindings.get_mut(&self.id) {
            b.suspended = old.suspended;
            *old = b;
        }
    }

    fn message_inner(&self, ctx: &TargetCtx<'_>, msg: ReplicatorDevMessage<'_>) -> Result<(), TargetError> {
        match msg {
            ReplicatorDevMessage::Start | ReplicatorDevMessage::Stop => {
                let on = matches!(msg, ReplicatorDevMessage::Start);
                let mut st = self.group.state.lock();
                if let Some(b) = st.bindings.get_mut(&self.id) {
                    b.replicating = on;
                }
            }
            ReplicatorDevMessage::DeviceAdd { table } => {
                let ctrl = ctx
                    .get_device(table.replicator)
                    .map_err(|e| TargetError::new(c"Cannot open replicator control device", e))?;
                if ctrl.id() != self.ctrl.id() || table.dev_nr != self.dev_nr {
                    return Err(TargetError::inval(c"Replicator device or device number does not match this device"));
                }
                drop(ctrl);
                let mut remotes = self.remotes.lock();
                let local_label = label::check_local_dev(self.local.id(), self.dev_nr, self.len)?;
                let new = open_remotes(ctx, &self.group, self.id, &table, &remotes, &local_label)?;
                // The live queue limits stay: a remote device must take
                // every bio the device may get.
                let lbs = ctx.logical_block_size();
                if new.iter().any(|(_, r)| r.dev.logical_block_size() > lbs) {
                    return Err(TargetError::inval(c"Remote device has a larger logical block size than this device"));
                }
                for (nr, r) in new {
                    // The device is live: the new log starts now.
                    r.remote.resume().map_err(|e| TargetError::new(c"Cannot start dirty log", e))?;
                    self.group
                        .replog()
                        .attach_remote(r.remote.clone())
                        .map_err(|e| TargetError::new(c"Cannot start replicating to the device", e))?;
                    remotes
                        .try_create_and_insert(nr, r, GFP_KERNEL)
                        .map_err(|_| TargetError::new(c"Cannot allocate remote device", ENOMEM))?;
                }
                self.rebind(&remotes);
            }
            ReplicatorDevMessage::DeviceDel { slink } => {
                let mut remotes = self.remotes.lock();
                let r = remotes
                    .remove(&slink)
                    .ok_or(TargetError::new(c"No device on this site link", ENOENT))?;
                if let Some(v) = self.verify.lock().as_ref().filter(|v| v.slink == slink) {
                    v.stop_and_wait();
                }
                self.group.replog().detach_remote(&r.remote, true);
                r.remote.quiesce();
                self.rebind(&remotes);
            }
            ReplicatorDevMessage::Verify { slink, repair } => {
                let remotes = self.remotes.lock();
                let r = remotes.get(&slink).ok_or(TargetError::new(c"No device on this site link", ENOENT))?;
                let mut verify = self.verify.lock();
                if verify.as_ref().is_some_and(|v| v.running()) {
                    return Err(TargetError::new(c"A verify is running on this device", EBUSY));
                }
                let v = Verify::start(&self.group, self.local.id(), &r.remote, repair, self.handle.clone())
                    .map_err(|e| TargetError::new(c"Cannot start the verify", e))?;
                *verify = Some(v);
            }
            ReplicatorDevMessage::Mark { slink, sector, sectors } => {
                let remotes = self.remotes.lock();
                let r = remotes.get(&slink).ok_or(TargetError::new(c"No device on this site link", ENOENT))?;
                if sector.checked_add(sectors).map_or(true, |end| end > self.len) {
                    return Err(TargetError::inval(c"Extent beyond the end of the device"));
                }
                self.group
                    .replog()
                    .mark_out_of_sync(&r.remote, sector, sectors)
                    .map_err(|e| TargetError::new(c"Dirty log cannot be written", e))?;
            }
            ReplicatorDevMessage::VerifyStop => {
                let verify = self.verify.lock();
                match verify.as_ref() {
                    Some(v) if v.running() => v.stop(),
                    _ => return Err(TargetError::new(c"No verify is running on this device", ENOENT)),
                }
            }
        }
        self.handle.event();
        Ok(())
    }
}

#[vtable]
impl Target for ReplicatorDev {
    fn ctr(ctx: &mut TargetCtx<'_>, args: &[&str]) -> Result<Self, TargetError> {
        let table = ReplicatorDevTable::parse(args).map_err(table_error)?;
        let ctrl = ctx
            .get_device(table.replicator)
            .map_err(|e| TargetError::new(c"Cannot open replicator control device", e))?;
        let group = Group::find(ctrl.id())
            .ok_or(TargetError::new(c"Device is not a replicator", ENODEV))?;
        let local_spec = table
            .devices()
            .next()
            .ok_or(TargetError::inval(c"Missing local device"))?
            .map_err(table_error)?;
        let local = ctx
            .get_device(local_spec.dev)
            .map_err(|e| TargetError::new(c"Cannot open local device", e))?;
        let local_label = label::check_local_dev(local.id(), table.dev_nr, ctx.len())?;
        let id = next_target_id();
        let mut remotes = RBTree::new();
        for (nr, r) in open_remotes(ctx, &group, id, &table, &remotes, &local_label)? {
            remotes
                .try_create_and_insert(nr, r, GFP_KERNEL)
                .map_err(|_| TargetError::new(c"Cannot allocate remote device", ENOMEM))?;
        }
        let remotes = KBox::pin_init(new_mutex!(remotes), GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate remote device list", ENOMEM))?;

        ctx.set_num_flush_bios(1);
        // Flushes divide the log into epochs whatever the devices below.
        ctx.set_flush_supported();
        ctx.set_num_discard_bios(1);
        ctx.set_num_write_zeroes_bios(1);
        ctx.set_per_io_data_size(crate::dm::PER_BIO_BYTES);
        // Every log entry must fit the smallest log with room to spare.
        ctx.set_max_io_len(MAX_IO_SECTORS)
            .map_err(|e| TargetError::new(c"Cannot set the maximum I/O size", e))?;
        let health = Arc::new(LocalHealth::new(), GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate device binding", ENOMEM))?;
        let read_error_event = DeferredEvent::new(&ctx.handle())
            .map_err(|_| TargetError::new(c"Cannot allocate device binding", ENOMEM))?;
        let verify = KBox::pin_init(new_mutex!(None), GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate device binding", ENOMEM))?;
        let this = Self {
            read_error_event,
            verify,
            health,
            id,
            group,
            ctrl,
            dev_nr: table.dev_nr,
            begin: ctx.begin(),
            len: ctx.len(),
            local,
            remotes,
            handle: ctx.handle(),
        };
        {
            let remotes = this.remotes.lock();
            let b = this.binding(&remotes, true);
            let mut st = this.group.state.lock();
            if st.dev_nr_conflicts(this.dev_nr, b.local) {
                return Err(TargetError::new(c"Device number is bound to another local device", EBUSY));
            }
            st.bindings
                .try_create_and_insert(this.id, b, GFP_KERNEL)
                .map_err(|_| TargetError::new(c"Cannot allocate device binding", ENOMEM))?;
        }
        // Site-link state changes wake `dmsetup wait` on this device too.
        this.group
            .replog()
            .add_dev_event(this.id, this.handle.clone())
            .map_err(|_| TargetError::new(c"Cannot allocate device binding", ENOMEM))?;
        Ok(this)
    }

    fn map(&self, bio: &mut Bio) -> MapResult {
        self.group.stats.account(bio.is_write(), bio.sectors());
        bio.set_dev(&self.local);
        if bio.sectors() != 0 {
            match bio.sector().checked_sub(self.begin) {
                Some(s) => bio.set_sector(s),
                None => return MapResult::Done(Err(EIO)),
            }
        }
        match bio.op() {
            // A device that lacks an acknowledged write cannot serve it.
            BioOp::Read if self.health.lost() => MapResult::Done(Err(EIO)),
            // Reads go to the local device once the writes they overlap
            // reached it (see `Replog::map_read`).
            BioOp::Read => self.group.replog().map_read(self.dev_nr, bio),
            _ => self.group.replog().map_write(self.dev_nr, bio),
        }
    }

    fn end_io(&self, bio: &mut Bio, status: &mut u8) -> EndIoResult {
        // Reads go straight to the local device; writes report their
        // errors through the log's work item.
        if bio.op() == BioOp::Read {
            if let Some(err) = device_error(*status) {
                if self.health.read_failed() {
                    pr_err!("replicator-dev {}: read error on local device {} ({}); device marked R\n", self.dev_nr, self.local.id(), err.to_errno());
                    self.read_error_event.raise();
                }
            }
        }
        EndIoResult::Done
    }

    fn presuspend(&self) {
        if self.handle.noflush_suspending() {
            self.group.replog().requeue(self.local.id());
        }
    }

    fn preresume(&self) -> Result {
        self.set_suspended(false);
        let replog = self.group.replog();
        // A log that replaced a failed one knows nothing of this device
        // yet: its events, local device and remotes come here.
        replog.add_dev_event(self.id, self.handle.clone())?;
        replog.bind(self.id, self.dev_nr, self.local.id(), &self.health).map_err(|e| {
            pr_err!("replicator-dev {}: cannot bring local device {} up to date: {:?}\n", self.dev_nr, self.local.id(), e);
            e
        })?;
        let remotes = self.remotes.lock();
        let mut keep = SlinkSet::new();
        for (nr, r) in remotes.iter() {
            // Attaching marks and flushes regions: the dirty log must have
            // read (or, when new, written) its state first.
            r.remote.resume().map_err(|e| {
                pr_err!("replicator-dev {}: dirty log of site link {} failed to resume: {:?}\n", self.dev_nr, nr, e);
                e
            })?;
            replog.attach_remote(r.remote.clone()).map_err(|e| {
                pr_err!("replicator-dev {}: cannot replicate to site link {}: {:?}\n", self.dev_nr, nr, e);
                e
            })?;
            keep.insert(*nr);
        }
        // Site links this table does not replicate the device to (a
        // reload without them) stop keeping its entries.
        replog.forget_others(self.dev_nr, &keep);
        Ok(())
    }

    fn postsuspend(&self) {
        self.group.replog().settle(self.id);
        self.set_suspended(true);
        for (nr, r) in self.remotes.lock().iter() {
            if let Err(e) = r.remote.postsuspend() {
                pr_warn!("replicator-dev {}: dirty log of site link {} failed to suspend: {:?}\n", self.dev_nr, nr, e);
            }
        }
    }



    fn status(&self, ty: StatusType, out: &mut StatusWriter<'_>) {
        let remotes = self.remotes.lock();
        match ty {
            StatusType::Info => {
                let _ = write!(out, "{} {}", self.ctrl.id(), self.dev_nr);
                let replicating = self
                    .group
                    .state
                    .lock()
                    .bindings
                    .get(&self.id)
                    .map_or(false, |b| b.replicating);
                let n = 1 + remotes.iter().count();
                let state = if replicating { "replicating" } else { "stopped" };
                let _ = write!(out, " {} {} 0 {} -", state, n, self.health.as_char());
                for (nr, r) in remotes.iter() {
                    let (health, resyncing) = self.group.replog().remote_state(*nr, self.dev_nr);
                    let _ = write!(
                        out,
                        " {} {} {}{}/{}",
                        nr,
                        health,
                        r.remote.in_sync(),
                        if resyncing { "+" } else { "" },
                        r.remote.regions()
                    );
                }
                // Shown while a remote copy is not a point-in-time image:
                // one character per device, in the order above.
                if remotes.iter().any(|(_, r)| !r.remote.consistency().consistent()) {
                    let _ = write!(out, " consistency -");
                    for (_, r) in remotes.iter() {
                        let _ = write!(out, "{}", if r.remote.consistency().consistent() { 'C' } else { 'I' });
                    }
                }
                if let Some(v) = self.verify.lock().as_ref() {
                    v.status(out);
                }
            }
            StatusType::Table => {
                let _ = write!(out, "{} {} 0 1 {} nolog 0", self.ctrl.id(), self.dev_nr, self.local.id());
                for (nr, r) in remotes.iter() {
                    let _ = write!(out, " {} ", nr);
                    r.remote.table(out);
                }
            }
            StatusType::Ima => {
                out.ima_name_version("replicator-dev", crate::VERSION);
            }
        }
    }

    fn message(
        &self,
        ctx: &TargetCtx<'_>,
        args: &[&str],
        _out: &mut StatusWriter<'_>,
    ) -> Result<(), TargetError> {
        let msg = ReplicatorDevMessage::parse(args).map_err(table_error)?;
        self.message_inner(ctx, msg)
    }

    /// The local and the remote devices: their limits stack, so every bio
    /// fits each of them (a remote with 4 KiB logical blocks gets no
    /// 512-byte write).
    fn iterate_devices(&self, visit: &mut DeviceVisitor<'_>) -> i32 {
        let ret = visit.visit(&self.local, 0, self.len);
        if ret != 0 {
            return ret;
        }
        for (_, r) in self.remotes.lock().iter() {
            let ret = visit.visit(&r.dev, 0, self.len);
            if ret != 0 {
                return ret;
            }
        }
        0
    }
}

impl Drop for ReplicatorDev {
    fn drop(&mut self) {
        // The handle copies go first: the target is going away.
        if let Some(v) = self.verify.lock().take() {
            v.stop_and_wait();
        }
        self.group.replog().del_dev_event(self.id);
        for (_, r) in self.remotes.lock().iter() {
            // Kept needed: the device may be created again (a restart).
            self.group.replog().detach_remote(&r.remote, false);
            r.remote.quiesce();
        }
        self.group.replog().unbind(self.id);
        self.group.state.lock().bindings.remove(&self.id);
    }
}
