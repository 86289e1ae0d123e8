// SPDX-License-Identifier: GPL-2.0
//! Replication groups: the state one `replicator` target shares with the
//! `replicator-dev` targets bound to it.
//!
//! A group is found by the device number of the replicator's own mapped
//! device (the "control device" named in `replicator-dev` tables). It holds
//! the site link configuration, which replicated devices are bound on which
//! site links, and the group's I/O statistics.

use crate::dm::{TargetError, DevId, Global};
use crate::logic::blockdev::BlockdevParams;
use crate::logic::slink::SlinkSet;
use crate::replog::Replog;
use crate::slink::SlinkType;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, Mutex, SpinLock};
use kernel::{new_mutex, new_spinlock};

/// A configured site link.
pub(crate) struct SlinkConfig {
    /// Its registered type (`blockdev`).
    pub(crate) ty: &'static dyn SlinkType,
    /// Number, policy and fall-behind limit.
    pub(crate) params: BlockdevParams,
}

/// One `replicator-dev` target's binding of a device number to site links.
pub(crate) struct Binding {
    /// The replicated device number within the group.
    pub(crate) dev_nr: u32,
    /// The local (site link 0) device.
    pub(crate) local: DevId,
    /// Remote site links the device is replicated to.
    pub(crate) slinks: SlinkSet,
    /// Region size of the remote devices' dirty logs, if any.
    pub(crate) region_size: Option<u64>,
    /// Whether replication of this device runs (`start`) or is paused.
    pub(crate) replicating: bool,
    /// The target is not live (not yet resumed, or suspended): no bio of
    /// it is in flight, so the group's log may be replaced.
    pub(crate) suspended: bool,
}

/// Mutable state of a group, under [`Group::state`].
pub(crate) struct GroupState {
    /// Site links by number; slink 0 is the local site.
    pub(crate) slinks: RBTree<u32, SlinkConfig>,
    /// Whether replication runs (`start`) or is paused (`stop`).
    pub(crate) replicating: bool,
    /// Bindings by the identity of the `replicator-dev` target owning them.
    pub(crate) bindings: RBTree<usize, Binding>,
    /// Identity of the `replicator` target whose site links are installed.
    pub(crate) owner: usize,
    /// Site links of reloaded `replicator` tables, by target identity,
    /// installed when that table is resumed.
    pub(crate) pending: RBTree<usize, RBTree<u32, SlinkConfig>>,
}

impl GroupState {
    /// The site links target `id` reports: its pending table's while it
    /// is an inactive reload, else the installed ones.
    pub(crate) fn slinks_of(&self, id: usize) -> &RBTree<u32, SlinkConfig> {
        self.pending.get(&id).unwrap_or(&self.slinks)
    }

    /// The region size all remote devices of the group share, if any
    /// remote device is bound, ignoring the binding `except`.
    pub(crate) fn region_size(&self, except: usize) -> Option<u64> {
        self.bindings
            .iter()
            .filter(|(id, _)| **id != except)
            .find_map(|(_, b)| b.region_size)
    }

    /// Whether any bound device uses site link `slink`.
    pub(crate) fn slink_in_use(&self, slink: u32) -> bool {
        self.bindings.values().any(|b| b.slinks.contains(slink))
    }

    /// Whether `dev_nr` is bound to a local device other than `local`.
    pub(crate) fn dev_nr_conflicts(&self, dev_nr: u32, local: DevId) -> bool {
        self.bindings
            .values()
            .any(|b| b.dev_nr == dev_nr && b.local != local)
    }
}

/// Counters of the I/O mapped by the group's devices.
#[derive(Default)]
pub(crate) struct Stats {
    /// Whether `statistics on` was given.
    pub(crate) enabled: AtomicBool,
    /// Read bios.
    pub(crate) reads: AtomicU64,
    /// Write bios (data writes, flushes, discards, write-zeroes).
    pub(crate) writes: AtomicU64,
    /// Sectors read.
    pub(crate) read_sectors: AtomicU64,
    /// Sectors written.
    pub(crate) write_sectors: AtomicU64,
}

impl Stats {
    /// Count one bio if statistics are on.
    pub(crate) fn account(&self, write: bool, sectors: u32) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let (n, s) = if write {
            (&self.writes, &self.write_sectors)
        } else {
            (&self.reads, &self.read_sectors)
        };
        n.fetch_add(1, Ordering::Relaxed);
        s.fetch_add(u64::from(sectors), Ordering::Relaxed);
    }

    /// Zero all counters.
    pub(crate) fn reset(&self) {
        for c in [&self.reads, &self.writes, &self.read_sectors, &self.write_sectors] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A replication group.
#[pin_data]
pub(crate) struct Group {
    /// Device number of the replicator's mapped device.
    pub(crate) id: DevId,
    /// Configuration and bindings.
    #[pin]
    pub(crate) state: Mutex<GroupState>,
    /// I/O statistics.
    pub(crate) stats: Stats,
    /// The group's replication log, shared by reloaded tables; replaced
    /// only while every `replicator-dev` of the group is suspended (see
    /// [`Group::replace_log`]). Never taken in interrupt context.
    #[pin]
    replog: SpinLock<Arc<dyn Replog>>,
}

/// Groups by control device number, with the number of `replicator`
/// targets (live and inactive tables) that hold each one.
static GROUPS: Global<Option<RBTree<u32, (Arc<Group>, u32)>>> = Global::new(None);

impl Group {
    /// Find the group of control device `id`.
    pub(crate) fn find(id: DevId) -> Option<Arc<Group>> {
        let groups = GROUPS.lock();
        groups.as_ref()?.get(&id.0).map(|(g, _)| g.clone())
    }

    /// Attach `replicator` target `owner` to the group of control device
    /// `id` with the site links of its table. A new group installs them at
    /// once and takes `replog`; an existing one (a table reload) keeps its
    /// log, and keeps the site links pending until the target resumes,
    /// after `check` accepted them.
    pub(crate) fn attach(
        id: DevId,
        owner: usize,
        slinks: RBTree<u32, SlinkConfig>,
        check: fn(&GroupState, &RBTree<u32, SlinkConfig>) -> Result<(), TargetError>,
        replog: Arc<dyn Replog>,
    ) -> Result<Arc<Group>, TargetError> {
        const NOMEM: TargetError = TargetError::new(c"Cannot allocate replication group", ENOMEM);
        let mut groups = GROUPS.lock();
        if let Some((g, refs)) = groups.as_mut().and_then(|t| t.get_mut(&id.0)) {
            let mut st = g.state.lock();
            check(&st, &slinks)?;
            st.pending.try_create_and_insert(owner, slinks, GFP_KERNEL).map_err(|_| NOMEM)?;
            drop(st);
            *refs += 1;
            return Ok(g.clone());
        }
        let state = GroupState {
            slinks,
            replicating: true,
            bindings: RBTree::new(),
            owner,
            pending: RBTree::new(),
        };
        let g = Arc::pin_init(
            pin_init!(Group {
                id,
                state <- new_mutex!(state),
                stats: Stats::default(),
                replog <- new_spinlock!(replog),
            }),
            GFP_KERNEL,
        )
        .map_err(|_| NOMEM)?;
        let tree = match groups.as_mut() {
            Some(t) => t,
            None => groups.insert(RBTree::new()),
        };
        tree.try_create_and_insert(id.0, (g.clone(), 1), GFP_KERNEL).map_err(|_| NOMEM)?;
        Ok(g)
    }

    /// Install the pending site links of `owner`, if it has any; returns
    /// the site links they replace.
    pub(crate) fn install(
        &self,
        owner: usize,
        check: fn(&GroupState, &RBTree<u32, SlinkConfig>) -> Result<(), TargetError>,
    ) -> Result<Option<RBTree<u32, SlinkConfig>>, TargetError> {
        let mut st = self.state.lock();
        if let Some(new) = st.pending.get(&owner) {
            check(&st, new)?;
        }
        let Some(new) = st.pending.remove(&owner) else { return Ok(None) };
        st.owner = owner;
        Ok(Some(core::mem::replace(&mut st.slinks, new)))
    }

    /// The group's replication log.
    pub(crate) fn replog(&self) -> Arc<dyn Replog> {
        self.replog.lock().clone()
    }

    /// Put `new` in place of the group's failed log. Every `replicator-dev`
    /// of the group must be suspended (none of their bios is in flight,
    /// and none reaches the log until they resume): each binds its local
    /// device and attaches its remote devices to the new log when it
    /// resumes, and their dirty logs say what to resynchronise.
    pub(crate) fn replace_log(&self, new: Arc<dyn Replog>) -> Result<(), TargetError> {
        let st = self.state.lock();
        if st.bindings.values().any(|b| !b.suspended) {
            return Err(TargetError::new(c"Suspend the group's replicator-dev devices to replace its log", EBUSY));
        }
        let old = core::mem::replace(&mut *self.replog.lock(), new);
        drop(st);
        // The failed log goes here, its work drained.
        drop(old);
        Ok(())
    }

    /// Detach `replicator` target `owner`; the group leaves the registry
    /// with the last one.
    pub(crate) fn detach(&self, owner: usize) {
        let mut groups = GROUPS.lock();
        self.state.lock().pending.remove(&owner);
        let Some(tree) = groups.as_mut() else { return };
        let last = match tree.get_mut(&self.id.0) {
            Some((_, refs)) => {
                *refs = refs.saturating_sub(1);
                *refs == 0
            }
            None => false,
        };
        if last {
            tree.remove(&self.id.0);
        }
        if tree.iter().next().is_none() {
            // Free the tree itself so nothing outlives the last group.
            *groups = None;
        }
    }
}
