// SPDX-License-Identifier: GPL-2.0
//! The log's data path: user writes become entries, entries become
//! durable in batches, then reach the local device, and their ring space
//! comes back through a checkpoint.
//!
//! ```text
//! map ──defer──▶ main work: append ─▶ log write ─▶ Written
//!                            │ one flush of the log device for every
//!                            ▼ batch of completed writes (group commit)
//!                          durable ─▶ local write issued ─▶ user bio ends
//!                                       └─▶ ends: reads of its range go
//!                                           (`unapplied.rs`)
//! background work: flush local devices ─▶ checkpoint (FUA) ─▶ free ring
//! ```
//!
//! One file per stage: `submit.rs` (map and append: bios become entries
//! and log writes), `commit.rs` (completions and the group commit),
//! `apply.rs` (durable entries to the local devices) and `reclaim.rs`
//! (checkpoints and freeing ring space). This file holds the state they
//! share and the work loop that runs them in order.
//!
//! All decisions are made by one work item under the state lock, so the
//! log order is the order bios leave the deferred list, acknowledgements
//! go out in sequence order, and a full log simply leaves the next bio
//! where it is (`stalled`) until space comes back: nothing fails and
//! nothing overtakes. The background work item does the synchronous part
//! (flushes and checkpoint writes) without blocking the main one. Both
//! run in a no-I/O allocation scope (see `ioq.c`), so `GFP_KERNEL` here
//! never recurses into the log's own devices.

use super::copy::RemoteOp;
use super::direct::Direct;
use super::dlog::DlogWrites;
use super::entries::{Entries, EntryState};
use super::slink::Slink;
use super::unapplied::Unapplied;
use core::sync::atomic::{AtomicBool, Ordering};
use crate::dm::{BlockDevice, Class, IoHandler, IoQueue, TargetHandle, UserBio};
use crate::local_health::LocalHealth;
use crate::logic::replog::geometry::block_sector;
use crate::logic::replog::{Checkpoint, SlinkPositions, Writer, BLOCK_SIZE};
use core::fmt::Write as _;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, Mutex};

/// A local (site link 0) device the log replays onto and flushes.
pub(crate) struct LocalDev {
    /// Its device number in the group.
    pub(crate) dev_nr: u32,
    /// The log's own reference to it.
    pub(crate) bdev: BlockDevice,
    /// Its errors, shared with its `replicator-dev` target's status.
    pub(crate) health: Arc<LocalHealth>,
}

impl LocalDev {
    /// A write or flush of the device failed: it shows `W`, logged once.
    /// Returns whether that is new (an event is due).
    pub(super) fn write_failed(&self, what: &str, err: Error) -> bool {
        let first = self.health.write_failed();
        if first {
            pr_err!("replicator: {} error on local device {} ({}); device marked W\n", what, self.bdev.id(), err.to_errno());
        }
        first
    }
}

/// What a completion tag stands for: the kind in the top two bits, a
/// sequence number in the rest.
#[derive(Clone, Copy)]
pub(super) enum Tag {
    /// The log write of entry `seq`; with FUA (it makes the entry durable
    /// by itself) when the flag is set.
    Log(u64, bool),
    /// A flush of the log device covering entries before `seq`.
    Flush(u64),
    /// The local write of entry `seq`.
    Local(u64),
    /// The local write in slot `slot` of the direct writes (the log is
    /// failed, see `direct.rs`).
    Direct(u64),
    /// I/O of remote site link `nr`.
    Remote(u32, RemoteOp),
}

const TAG_SHIFT: u32 = 62;
const TAG_SEQ: u64 = (1 << TAG_SHIFT) - 1;
/// Log flushes and direct writes share a kind: a flush covers entries
/// below 2^61, so bit 61 marks a direct write's slot. The same bit marks
/// a log write with FUA.
const TAG_DIRECT: u64 = 1 << 61;
/// Remote tags: operation in bits 60-61, site link in 48-59, sequence
/// number (of a copy) or resync slot below.
const REMOTE_OP_SHIFT: u32 = 60;
const REMOTE_SLINK_SHIFT: u32 = 48;
const REMOTE_SEQ: u64 = (1 << REMOTE_SLINK_SHIFT) - 1;

impl Tag {
    pub(super) fn encode(self) -> u64 {
        let (kind, rest) = match self {
            Tag::Log(s, fua) => (0, if fua { TAG_DIRECT } else { 0 } | (s & TAG_SEQ & !TAG_DIRECT)),
            Tag::Flush(s) => (1, s & TAG_SEQ & !TAG_DIRECT),
            Tag::Direct(slot) => (1, TAG_DIRECT | (slot & !TAG_DIRECT & TAG_SEQ)),
            Tag::Local(s) => (2, s & TAG_SEQ),
            Tag::Remote(nr, op) => {
                let (op, seq) = match op {
                    RemoteOp::Copy(seq) => (0, seq),
                    RemoteOp::Flush => (1, 0),
                    RemoteOp::Resync(slot) => (2, slot),
                    RemoteOp::ResyncFlush(slot) => (3, slot),
                };
                let nr = u64::from(nr) & 0xfff;
                (3, (op << REMOTE_OP_SHIFT) | (nr << REMOTE_SLINK_SHIFT) | (seq & REMOTE_SEQ))
            }
        };
        (kind << TAG_SHIFT) | rest
    }

    pub(super) fn decode(tag: u64, next_seq: u64) -> Tag {
        let seq = tag & TAG_SEQ;
        match tag >> TAG_SHIFT {
            0 => Tag::Log(seq & !TAG_DIRECT, seq & TAG_DIRECT != 0),
            1 if seq & TAG_DIRECT != 0 => Tag::Direct(seq & !TAG_DIRECT),
            1 => Tag::Flush(seq),
            2 => Tag::Local(seq),
            _ => {
                let nr = ((tag >> REMOTE_SLINK_SHIFT) & 0xfff) as u32;
                let op = match (tag >> REMOTE_OP_SHIFT) & 3 {
                    0 => {
                        // The sequence number was cut to 48 bits: take the
                        // newest one with those bits not after `next_seq`.
                        let low = tag & REMOTE_SEQ;
                        let base = next_seq & !REMOTE_SEQ;
                        let full = base | low;
                        RemoteOp::Copy(if full > next_seq { full.wrapping_sub(REMOTE_SEQ + 1) } else { full })
                    }
                    1 => RemoteOp::Flush,
                    2 => RemoteOp::Resync(tag & REMOTE_SEQ),
                    _ => RemoteOp::ResyncFlush(tag & REMOTE_SEQ),
                };
                Tag::Remote(nr, op)
            }
        }
    }
}

/// Counters shown in the status.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counters {
    /// Entries written to the log.
    pub(crate) entries: u64,
    /// Commits of the log: flushes of the log device (each makes a batch
    /// of entries durable) and entries written alone with FUA.
    pub(crate) flushes: u64,
    /// Checkpoints written.
    pub(crate) checkpoints: u64,
    /// Times a write waited because the log was full.
    pub(crate) full_waits: u64,
}

/// The mutable state, under [`Engine::state`].
pub(crate) struct State {
    pub(crate) writer: Writer,
    pub(crate) entries: Entries,
    /// The oldest deferred bio, taken but not yet fitting in the ring.
    pub(super) stalled: Option<UserBio>,
    /// Every entry before this one has its log write completed.
    pub(super) written: u64,
    /// Every entry before this one is durable in the log.
    pub(crate) durable: u64,
    /// A log flush is in flight.
    pub(super) flushing: bool,
    /// The next entry to apply to the local device.
    pub(super) apply: u64,
    /// Entries whose local write is in flight.
    pub(super) applying: u32,
    /// After a log I/O error: entries from here on fail.
    pub(crate) failed_at: Option<u64>,
    /// New entries are held back (resize in progress).
    pub(crate) paused: bool,
    /// The epoch in force before the oldest live entry.
    pub(crate) head_epoch: u64,
    /// The last durable checkpoint.
    pub(crate) checkpoint: Checkpoint,
    /// Local devices by the identity of the `replicator-dev` target.
    pub(crate) devices: RBTree<usize, Arc<LocalDev>>,
    /// Sectors of user data in live entries.
    pub(crate) sectors: u64,
    pub(crate) counters: Counters,
    /// Header block being encoded.
    pub(super) hdr: KVec<u8>,
    /// Remote site links.
    pub(crate) slinks: KVec<Slink>,
    /// Entries before this one hold no user bio.
    pub(super) ack_from: u64,
    /// Site links the opened log's checkpoint recorded, not yet set up
    /// (see [`Restore`]); dropped once the log takes a new entry, whose
    /// slink map would not name a link set up later.
    pub(crate) restore: KVec<Restore>,
    /// Lost devices the opened log's checkpoint recorded for site links
    /// not yet set up: (link, device number). Each becomes a resync of
    /// the whole device when its link is set up, and is recorded again by
    /// every checkpoint until then.
    pub(crate) lost_restore: KVec<(u32, u32)>,
    /// A checkpoint could not record every lost device (its table is
    /// full); warned once.
    lost_unrecorded: bool,
    /// Writes in flight straight to their local devices (the log is
    /// failed).
    pub(crate) direct: Direct,
    /// Remote dirty-log records for the background work to write
    /// (`dlog.rs`).
    pub(crate) dlog: DlogWrites,
    /// Recovered entries not yet replayed onto their devices.
    pub(crate) replaying: u64,
}

/// Where a site link recorded by the checkpoint resumes after an open,
/// and the device numbers of the recovered entries it still needs (those
/// whose slink map names it, from its position on).
pub(crate) struct Restore {
    pub(crate) nr: u32,
    pub(crate) seq: u64,
    pub(crate) devs: KVec<u32>,
}

/// The log engine of one replication group.
pub(crate) struct Engine {
    /// The log device.
    pub(crate) log: BlockDevice,
    /// Sector of the log's block 0 on `log`.
    pub(crate) dev_start: u64,
    /// Log block of ring block 0.
    pub(crate) ring_start: u64,
    /// The log's UUID.
    pub(crate) uuid: [u8; 16],
    /// Everything that changes.
    /// Boxed apart from its lock: it is kilobytes (the checkpoint), and
    /// the log is opened on a table load's stack, where it is built.
    pub(crate) state: Pin<KBox<Mutex<KBox<State>>>>,
    /// Serialises checkpoint writes; holds their block buffer.
    pub(crate) cp: Pin<KBox<Mutex<KVec<u8>>>>,
    /// The `replicator` target whose table gets the group's events.
    pub(crate) event: Pin<KBox<Mutex<Option<(usize, TargetHandle)>>>>,
    /// The `replicator-dev` targets, by identity: their tables get the
    /// events too, so `dmsetup wait` works on a replicated device. A
    /// target that goes leaves an empty slot, so removal never allocates.
    pub(crate) dev_events: Pin<KBox<Mutex<KVec<Option<(usize, TargetHandle)>>>>>,
    /// Journaled writes not yet on their local device: reads of their
    /// ranges wait (`map_read`).
    pub(crate) unapplied: Unapplied,
    /// A resync search stopped where only a round trip to a dirty log
    /// can tell (`Scan::Fetch`): the background work asks.
    pub(crate) fetch: AtomicBool,
}

/// The engine with its I/O queue.
pub(crate) type EngineQueue = IoQueue<Engine>;

impl State {
    /// The state of a log whose next entry is `next_seq` in epoch `epoch`,
    /// with the recovered entries `entries` (all durable) and the durable
    /// checkpoint `cp`.
    pub(crate) fn new(writer: Writer, entries: Entries, head_epoch: u64, cp: Checkpoint) -> Result<State> {
        let next = writer.next_seq();
        let replaying = entries.seqs().filter(|&s| entries.get(s).is_some_and(|e| e.state == EntryState::Replay)).count() as u64;
        Ok(State {
            writer,
            entries,
            stalled: None,
            written: next,
            durable: next,
            flushing: false,
            apply: next,
            applying: 0,
            failed_at: None,
            paused: false,
            head_epoch,
            checkpoint: cp,
            devices: RBTree::new(),
            sectors: 0,
            counters: Counters::default(),
            hdr: KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?,
            slinks: KVec::new(),
            ack_from: next,
            restore: KVec::new(),
            lost_restore: KVec::new(),
            lost_unrecorded: false,
            direct: Direct::new()?,
            dlog: DlogWrites::default(),
            replaying,
        })
    }

    /// The next entry to apply locally.
    pub(super) fn apply_seq(&self) -> u64 {
        self.apply
    }

    /// The oldest deferred bio, if one waits.
    pub(super) fn take_stalled(&mut self) -> Option<UserBio> {
        self.stalled.take()
    }

    /// Put `bio` back first in line (taken by [`Self::take_stalled`]).
    pub(super) fn hold(&mut self, bio: UserBio) {
        self.stalled = Some(bio);
    }

    /// Whether a write waits for ring space.
    pub(super) fn is_full(&self) -> bool {
        self.stalled.is_some()
    }

    /// Whether every site link holds entry `seq`.
    pub(super) fn slinks_release(&self, seq: u64) -> bool {
        self.slinks.iter().all(|s| s.releases(seq)) && self.restore.iter().all(|r| seq < r.seq)
    }

    /// The site link positions for the next checkpoint: where each link
    /// stands, and for a recorded link not set up yet, its record. Every
    /// one is at or below the durable tail and at or above any head the
    /// checkpoint may name: the head only passes what every link holds,
    /// and a record not set up yet holds its entries (see
    /// [`State::slinks_release`]).
    pub(super) fn positions(&mut self) -> SlinkPositions {
        let mut p = SlinkPositions::new();
        for s in self.slinks.iter() {
            // Past the table's room a link goes unrecorded: after a
            // restart it resynchronises instead (replog-format.rst).
            let _ = p.insert(s.nr, s.durable);
        }
        for r in self.restore.iter() {
            if p.get(r.nr).is_none() {
                let _ = p.insert(r.nr, r.seq);
            }
        }
        // Devices whose given-up entries no dirty log recorded.
        let mut all = true;
        for s in self.slinks.iter() {
            for &(dev, _, _) in s.lost.iter() {
                all &= p.insert_lost(s.nr, dev);
            }
        }
        for &(nr, dev) in self.lost_restore.iter() {
            all &= p.insert_lost(nr, dev);
        }
        if !all && !self.lost_unrecorded {
            pr_warn!("replicator: too many devices with writes given up to record; a restart before they attach would not resynchronise them all\n");
        }
        self.lost_unrecorded = !all;
        p
    }

    /// The local device of `dev_nr`, if a target bound one.
    pub(crate) fn device(&self, dev_nr: u32) -> Option<&Arc<LocalDev>> {
        self.devices.values().find(|d| d.dev_nr == dev_nr)
    }
}

impl Engine {
    /// Sector of ring block `pos`.
    pub(super) fn ring_sector(&self, pos: u64) -> Option<u64> {
        block_sector(self.dev_start, self.ring_start.checked_add(pos)?)
    }

    /// Sector of log block `block`.
    pub(crate) fn block_sector(&self, block: u64) -> Option<u64> {
        block_sector(self.dev_start, block)
    }

    /// Raise a dm event on the group's `replicator` device and on every
    /// replicated device: a site link's state shows in all their statuses.
    pub(crate) fn raise_event(&self) {
        if let Some((_, h)) = self.event.lock().as_ref() {
            h.event();
        }
        for (_, h) in self.dev_events.lock().iter().flatten() {
            h.event();
        }
    }

    /// Write the log status: `<used>/<size>` in sectors of the ring.
    pub(crate) fn usage(&self, out: &mut crate::dm::StatusWriter<'_>) {
        let st = self.state.lock();
        let ring = st.writer.ring();
        let _ = write!(out, "{}/{}", ring.used() * 8, ring.blocks() * 8);
    }
}

impl IoHandler for Engine {
    fn work(q: &EngineQueue) {
        let e = q.inner();
        let mut guard = e.state.lock();
        let st: &mut State = &mut guard;
        let mut changed = e.handle_completions(q, st);
        if !st.paused {
            if st.failed_at.is_some() {
                Self::append_direct(q, st);
            } else {
                e.append(q, st);
            }
        }
        if !st.flushing && st.written > st.durable && st.failed_at.is_none() {
            // A test-only fault build (see `Kbuild`) takes written entries
            // as durable without the flush, to show the power-cut suite
            // catches it.
            #[cfg(dmr_fault_ack_before_flush)]
            {
                st.durable = st.written;
            }
            #[cfg(not(dmr_fault_ack_before_flush))]
            {
                // Memory short: again once completions come back.
                if q.flush(&e.log, Class::Local, Tag::Flush(st.written).encode()).is_ok() {
                    st.flushing = true;
                    st.counters.flushes += 1;
                }
            }
        }
        e.apply(q, st);
        changed |= e.pump_slinks(q, st);
        Self::ack(st);
        // A failed log takes no checkpoint.
        if st.wants_reclaim() && st.failed_at.is_none() {
            q.kick_background();
        }
        // Fall-behind timeouts are checked while a link is behind.
        if st.slinks.iter().any(|s| s.fallbehind.is_some() && s.durable < st.writer.next_seq()) {
            q.kick_after(100);
        }
        // So are remote I/O timeouts, while a link that is up has I/O out.
        let timeout = crate::dm::slink_timeout_ms();
        if timeout > 0 && st.slinks.iter().any(|s| s.error.is_none() && s.oldest_io_ms().is_some()) {
            q.kick_after((timeout / 4).max(100));
        }
        drop(guard);
        Self::release_reads(q);
        if changed {
            e.raise_event();
        }
    }

    fn background(q: &EngineQueue) {
        Self::flush_dirty_logs(q);
        if q.inner().fetch.swap(false, Ordering::Relaxed) {
            Self::fetch_regions(q);
        }
        let mut buf = q.inner().cp.lock();
        // Failures are logged where they happen; the space stays used.
        let _ = Self::reclaim(q, &mut buf, false);
    }
}
