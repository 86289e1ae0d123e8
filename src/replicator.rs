// SPDX-License-Identifier: GPL-2.0
//! The `replicator` target: owns a group's replication log and its site
//! links. Its own mapped device is the group's control device, which
//! `replicator-dev` tables name; it maps no data of its own.
//!
//! Table: `<replog_type> <#replog_params> <replog_params>
//! {<slink_type> <#slink_params> <slink_params>}{1..N}`, see
//! `Documentation/tables.rst`.

use crate::dm::{
    Bio, BioOp, DmDev, TargetError, MapResult, StatusType, StatusWriter, Target, TargetCtx, TargetHandle,
};
use crate::group::{Group, GroupState, SlinkConfig};
use crate::logic::blockdev::check_policy_fallbehind;
use crate::logic::completion::status_mode;
use crate::logic::message::{ReplicatorMessage, Scope, StatsCmd};
use crate::logic::replicator_table::ReplicatorTable;
use crate::replog::{registry::replog_type, Replog};
use crate::slink::registry::slink_type;
use crate::{next_target_id, table_error};
use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::new_mutex;
use kernel::sync::{Arc, Mutex};

/// A `replicator` target.
pub(crate) struct Replicator {
    /// Identity of this target within its group (tables can be reloaded,
    /// so two targets of one group may exist for a while).
    id: usize,
    group: Arc<Group>,
    /// This table's reference to the log device (the log keeps its own).
    _log_dev: DmDev,
    handle: TargetHandle,
    /// A log formatted to replace the group's failed one when this table
    /// resumes.
    replacement: Pin<KBox<Mutex<Option<Arc<dyn Replog>>>>>,
}

/// Build the site-link configuration of a table line.
fn slinks_of(table: &ReplicatorTable<'_>) -> Result<RBTree<u32, SlinkConfig>, TargetError> {
    let mut slinks = RBTree::new();
    for s in table.slinks() {
        let (type_name, params) = s.map_err(table_error)?;
        let ty = slink_type(type_name)
            .ok_or(TargetError::inval(c"Unknown site link type"))?;
        let cfg = SlinkConfig { ty, params };
        slinks
            .try_create_and_insert(params.slink, cfg, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate site link", ENOMEM))?;
    }
    Ok(slinks)
}

/// Site links of `new` that bound devices still use but `new` lacks.
fn check_slinks_kept(state: &GroupState, new: &RBTree<u32, SlinkConfig>) -> Result<(), TargetError> {
    if state.bindings.values().any(|b| state.slinks.keys().any(|nr| b.slinks.contains(*nr) && new.get(nr).is_none())) {
        return Err(TargetError::new(c"A removed site link still has devices", EBUSY));
    }
    Ok(())
}

/// Give the log the remote site links of `slinks` (site link 0 is the
/// log's own local site).
fn push_slinks(group: &Group, slinks: &RBTree<u32, SlinkConfig>) -> Result<(), TargetError> {
    for (nr, cfg) in slinks.iter() {
        if *nr != 0 {
            group
                .replog()
                .set_slink(&cfg.params)
                .map_err(|e| TargetError::new(c"Cannot set up site link", e))?;
        }
    }
    Ok(())
}

impl Replicator {
    fn message_inner(&self, ctx: &TargetCtx<'_>, msg: ReplicatorMessage<'_>) -> Result<(), TargetError> {
        let _ = ctx;
        match msg {
            ReplicatorMessage::Start(scope) | ReplicatorMessage::Stop(scope) => {
                let on = matches!(msg, ReplicatorMessage::Start(_));
                let mut st = self.group.state.lock();
                let slink = match scope {
                    Scope::Slink(nr) => {
                        if st.slinks.get(&nr).is_none() {
                            return Err(TargetError::new(c"Site link does not exist", ENOENT));
                        }
                        Some(nr)
                    }
                    Scope::Group | Scope::All => {
                        st.replicating = on;
                        None
                    }
                };
                if scope == Scope::All {
                    for b in st.bindings.values_mut() {
                        b.replicating = on;
                    }
                }
                self.group.replog().pause(slink, !on);
            }
            ReplicatorMessage::SlinkAdd { slink_type, params } => {
                let ty = crate::slink::registry::slink_type(slink_type)
                    .ok_or(TargetError::inval(c"Unknown site link type"))?;
                let mut st = self.group.state.lock();
                if st.slinks.get(&params.slink).is_some() {
                    return Err(TargetError::new(c"Site link already exists", EEXIST));
                }
                self.group
                    .replog()
                    .set_slink(&params)
                    .map_err(|e| TargetError::new(c"Cannot set up site link", e))?;
                let cfg = SlinkConfig { ty, params };
                if st.slinks.try_create_and_insert(params.slink, cfg, GFP_KERNEL).is_err() {
                    self.group.replog().del_slink(params.slink);
                    return Err(TargetError::new(c"Cannot allocate site link", ENOMEM));
                }
            }
            ReplicatorMessage::SlinkDel { slink } => {
                let mut st = self.group.state.lock();
                if st.slinks.get(&slink).is_none() {
                    return Err(TargetError::new(c"Site link does not exist", ENOENT));
                }
                if st.slink_in_use(slink) {
                    return Err(TargetError::new(c"Site link still has devices", EBUSY));
                }
                st.slinks.remove(&slink);
                self.group.replog().del_slink(slink);
            }
            ReplicatorMessage::SlinkPolicy { slink, policy, completion } => {
                let mut st = self.group.state.lock();
                let cfg = st
                    .slinks
                    .get_mut(&slink)
                    .ok_or(TargetError::new(c"Site link does not exist", ENOENT))?;
                cfg.params.policy = Some(policy);
                // Without the word the link keeps its completion.
                if completion.is_some() {
                    cfg.params.completion = completion;
                }
                // A synchronous site link never falls behind: its limit goes.
                if policy.is_synchronous() {
                    cfg.params.fallbehind = None;
                }
                let params = cfg.params;
                self.group
                    .replog()
                    .set_slink(&params)
                    .map_err(|e| TargetError::new(c"Cannot set up site link", e))?;
            }
            ReplicatorMessage::SlinkFallBehind { slink, fallbehind } => {
                let mut st = self.group.state.lock();
                let cfg = st
                    .slinks
                    .get_mut(&slink)
                    .ok_or(TargetError::new(c"Site link does not exist", ENOENT))?;
                let policy = cfg.params.policy.unwrap_or_default();
                check_policy_fallbehind(policy, Some(&fallbehind)).map_err(table_error)?;
                cfg.params.fallbehind = Some(fallbehind);
                let params = cfg.params;
                self.group
                    .replog()
                    .set_slink(&params)
                    .map_err(|e| TargetError::new(c"Cannot set up site link", e))?;
            }
            ReplicatorMessage::SlinkRetest { slink, ms } => {
                if slink == 0 || self.group.state.lock().slinks.get(&slink).is_none() {
                    return Err(TargetError::new(c"Site link does not exist", ENOENT));
                }
                self.group
                    .replog()
                    .set_retest(slink, ms)
                    .map_err(|e| TargetError::new(c"Site link does not exist", e))?;
            }
            ReplicatorMessage::Statistics(cmd) => {
                let s = &self.group.stats;
                match cmd {
                    StatsCmd::On => s.enabled.store(true, Ordering::Relaxed),
                    StatsCmd::Off => s.enabled.store(false, Ordering::Relaxed),
                    StatsCmd::Reset => s.reset(),
                }
            }
            ReplicatorMessage::Replog(m) => self.group.replog().message(&m)?,
        }
        self.handle.event();
        Ok(())
    }
}

#[vtable]
impl Target for Replicator {
    fn ctr(ctx: &mut TargetCtx<'_>, args: &[&str]) -> Result<Self, TargetError> {
        let table = ReplicatorTable::parse(args).map_err(table_error)?;
        let ty = replog_type(table.replog_type)
            .ok_or(TargetError::inval(c"Unknown replication log type"))?;
        let slinks = slinks_of(&table)?;
        // A reload keeps the group's running log, unless it failed: then
        // the table's log is formatted to replace it when the table
        // resumes. A new group opens one.
        let mut replacement = None;
        let (replog, log_dev) = match Group::find(ctx.dm_dev_id()) {
            Some(g) => {
                let cur = g.replog();
                let dev = if cur.failed() {
                    let (new, dev) = ty.replace(ctx, table.replog_params)?;
                    replacement = Some(new);
                    dev
                } else {
                    cur.reload(ctx, table.replog_params)?
                };
                (cur, dev)
            }
            None => ty.create(ctx, table.replog_params)?,
        };
        let id = next_target_id();
        let group = Group::attach(ctx.dm_dev_id(), id, slinks, check_slinks_kept, replog)?;
        let replacement = KBox::pin_init(new_mutex!(replacement), GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate replication log", ENOMEM))?;
        let this = Self { id, group, _log_dev: log_dev, handle: ctx.handle(), replacement };
        if this.group.state.lock().owner == id {
            // A new group: its site links are live at once.
            push_slinks(&this.group, &this.group.state.lock().slinks)?;
            this.group.replog().set_event(id, ctx.handle());
        }
        Ok(this)
    }

    fn map(&self, bio: &mut Bio) -> MapResult {
        // The control device holds no data: reads see zeroes, writes fail.
        match bio.op() {
            BioOp::Read => {
                bio.zero_fill();
                MapResult::Done(Ok(()))
            }
            _ => MapResult::Done(Err(EIO)),
        }
    }

    fn preresume(&self) -> Result {
        // A reloaded table's site links take over when it goes live.
        let fail = |e: TargetError| {
            pr_err!("replicator {}: cannot resume: {}\n", self.group.id, e.text());
            e.err
        };
        // Kept for the next try when the devices are not suspended.
        let replacement = self.replacement.lock().clone();
        if let Some(new) = replacement {
            self.group.replace_log(new).map_err(fail)?;
            *self.replacement.lock() = None;
            pr_info!("replicator {}: replication log replaced; remote devices resynchronise from their dirty logs as their replicator-dev devices resume\n", self.group.id);
        }
        let old = self.group.install(self.id, check_slinks_kept).map_err(fail)?;
        let st = self.group.state.lock();
        push_slinks(&self.group, &st.slinks).map_err(fail)?;
        if let Some(old) = old {
            for nr in old.keys().filter(|nr| st.slinks.get(nr).is_none()) {
                self.group.replog().del_slink(*nr);
            }
        }
        drop(st);
        self.group.replog().set_event(self.id, self.handle.clone());
        Ok(())
    }

    fn postsuspend(&self) {
        // Record the durable tail, so the next open scans little.
        self.group.replog().suspend();
    }

    fn status(&self, ty: StatusType, out: &mut StatusWriter<'_>) {
        let st = self.group.state.lock();
        let slinks = st.slinks_of(self.id);
        match ty {
            StatusType::Info => {
                let _ = write!(out, "{} ", if st.replicating { "replicating" } else { "stopped" });
                let log = self.group.replog();
                log.usage(out);
                let _ = write!(out, " {}", slinks.iter().count());
                for (nr, cfg) in slinks.iter() {
                    let sync = cfg.params.policy.unwrap_or_default().is_synchronous() || log.enforcing(*nr);
                    let mode = status_mode(sync, cfg.params.completion());
                    let (ios, sectors) = log.backlog(*nr);
                    let _ = write!(out, " {} {},{},{}", nr, mode, ios, sectors);
                }
                log.info(out);
                let s = &self.group.stats;
                if s.enabled.load(Ordering::Relaxed) {
                    let _ = write!(
                        out,
                        " stats r={} w={} rs={} ws={}",
                        s.reads.load(Ordering::Relaxed),
                        s.writes.load(Ordering::Relaxed),
                        s.read_sectors.load(Ordering::Relaxed),
                        s.write_sectors.load(Ordering::Relaxed)
                    );
                }
            }
            StatusType::Table => {
                self.group.replog().table(out);
                for (_, cfg) in slinks.iter() {
                    let _ = write!(out, " {} {} {}", cfg.ty.name(), cfg.params.param_count(), cfg.params);
                }
            }
            StatusType::Ima => {
                out.ima_name_version("replicator", crate::VERSION);
            }
        }
    }

    fn message(
        &self,
        ctx: &TargetCtx<'_>,
        args: &[&str],
        _out: &mut StatusWriter<'_>,
    ) -> Result<(), TargetError> {
        let msg = ReplicatorMessage::parse(args).map_err(table_error)?;
        self.message_inner(ctx, msg)
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        self.group.replog().clear_event(self.id);
        self.group.detach(self.id);
    }
}
