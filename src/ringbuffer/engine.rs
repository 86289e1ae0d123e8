// SPDX-License-Identifier: GPL-2.0
//! The log's data path: user writes become entries, entries become
//! durable in batches, then reach the local device, and their ring space
//! comes back through a checkpoint.
//!
//! ```text
//! map ──defer──▶ main work: append ─▶ log write ─▶ Written
//!                            │ one flush of the log device for every
//!                            ▼ batch of completed writes (group commit)
//!                          durable ─▶ local write ─▶ user bio ends
//! background work: flush local devices ─▶ checkpoint (FUA) ─▶ free ring
//! ```
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
use super::entries::{Directory, Entries, Entry, EntryState};
use super::slink::Slink;
use crate::dm::{BlockDevice, Class, DevId, IoQueue, KernelCrc32c, TargetHandle, UserBio};
use crate::dm::{BioOp, IoHandler};
use crate::local_health::LocalHealth;
use crate::logic::replog::entry::{entry_blocks, has_data};
use crate::logic::replog::geometry::block_sector;
use crate::logic::replog::{
    AppendError, Checkpoint, EntryFlags, Op, RingError, SlinkBitmap, SlinkPositions, Writer, BLOCK_SIZE,
};
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
    fn write_failed(&self, what: &str, err: Error) -> bool {
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
    /// The log write of entry `seq`.
    Log(u64),
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
/// below 2^61, so bit 61 marks a direct write's slot.
const TAG_DIRECT: u64 = 1 << 61;
/// Remote tags: operation in bits 60-61, site link in 48-59, sequence
/// number (of a copy) or resync slot below.
const REMOTE_OP_SHIFT: u32 = 60;
const REMOTE_SLINK_SHIFT: u32 = 48;
const REMOTE_SEQ: u64 = (1 << REMOTE_SLINK_SHIFT) - 1;

impl Tag {
    pub(super) fn encode(self) -> u64 {
        let (kind, rest) = match self {
            Tag::Log(s) => (0, s & TAG_SEQ),
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

    fn decode(tag: u64, next_seq: u64) -> Tag {
        let seq = tag & TAG_SEQ;
        match tag >> TAG_SHIFT {
            0 => Tag::Log(seq),
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
    /// Flushes of the log device (each makes a batch of entries durable).
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
    stalled: Option<UserBio>,
    /// Every entry before this one has its log write completed.
    written: u64,
    /// Every entry before this one is durable in the log.
    pub(crate) durable: u64,
    /// A log flush is in flight.
    flushing: bool,
    /// The next entry to apply to the local device.
    apply: u64,
    /// Entries whose local write is in flight.
    applying: u32,
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
    hdr: KVec<u8>,
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
    pub(crate) state: Pin<KBox<Mutex<State>>>,
    /// Serialises checkpoint writes; holds their block buffer.
    pub(crate) cp: Pin<KBox<Mutex<KVec<u8>>>>,
    /// The `replicator` target whose table gets the group's events.
    pub(crate) event: Pin<KBox<Mutex<Option<(usize, TargetHandle)>>>>,
    /// The `replicator-dev` targets, by identity: their tables get the
    /// events too, so `dmsetup wait` works on a replicated device. A
    /// target that goes leaves an empty slot, so removal never allocates.
    pub(crate) dev_events: Pin<KBox<Mutex<KVec<Option<(usize, TargetHandle)>>>>>,
}

/// The engine with its I/O queue.
pub(crate) type EngineQueue = IoQueue<Engine>;

impl State {
    /// The state of a log whose next entry is `next_seq` in epoch `epoch`,
    /// with the recovered entries `entries` (all durable) and the durable
    /// checkpoint `cp`.
    pub(crate) fn new(writer: Writer, entries: Entries, head_epoch: u64, cp: Checkpoint) -> Result<State> {
        let next = writer.next_seq();
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

    /// Whether `seq` overlaps an entry whose local write is in flight:
    /// the block layer does not order overlapping writes, the log does.
    fn overlaps_applying(&self, seq: u64, dev: u32, sector: u64, sectors: u32) -> bool {
        let mut left = self.applying;
        let mut s = seq;
        while left > 0 && s > self.entries.first_seq() {
            s -= 1;
            if let Some(e) = self.entries.get(s) {
                if e.state == EntryState::Applying {
                    left -= 1;
                    if e.overlaps(dev, sector, sectors) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Whether the oldest entries are done and freeing them is worth a
    /// checkpoint now: a write waits for space, or half the ring is used.
    fn wants_reclaim(&self) -> bool {
        let first = self.entries.first_seq();
        let done = self
            .entries
            .get(first)
            .is_some_and(|e| matches!(e.state, EntryState::Applied | EntryState::Settled) && e.bio.is_none())
            && self.slinks_release(first);
        let ring = self.writer.ring();
        done && (self.stalled.is_some() || ring.used() * 2 >= ring.blocks())
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

    /// Take a write-type bio of device `dev_nr` (already remapped to the
    /// local device) into the log.
    ///
    /// The data is copied here, in the submitter's context and outside the
    /// state lock, and its CRC taken from the copy: the log write, the
    /// local write and (through the ring) every site link get exactly the
    /// checksummed bytes. The CRC travels in the deferred bio's tag with
    /// its device number (see [`op_of`]).
    pub(crate) fn submit(q: &EngineQueue, dev_nr: u32, bio: &mut crate::dm::Bio) -> crate::dm::MapResult {
        let flags = entry_flags(bio.op(), bio.is_preflush(), bio.is_fua());
        let data = has_data(flags, bio.sectors());
        let reg = q.stabilize(bio, data);
        // The stored CRC is the standard one: register from !0, inverted.
        let crc = if data { !reg } else { 0 };
        q.defer(bio, (u64::from(crc) << 32) | u64::from(dev_nr))
    }

    /// Log I/O failed: from now on writes bypass the log (`direct.rs`)
    /// until a new log replaces it. Returns whether that is new.
    fn fail(st: &mut State, what: &str, err: Error) -> bool {
        if st.failed_at.is_some() {
            return false;
        }
        pr_err!(
            "replicator: replication log {} failed ({}); writes go to the local devices only from entry {} on, remote regions marked out of sync\n",
            what,
            err.to_errno(),
            st.durable
        );
        st.failed_at = Some(st.durable);
        true
    }

    /// A local write of device number `dev` failed: the bio got the error
    /// and the device shows `W`. Returns whether that is new.
    fn local_failed(st: &State, dev: u32, what: &str, err: Error) -> bool {
        st.device(dev).is_some_and(|d| d.write_failed(what, err))
    }

    /// Take the completed I/O; returns whether the status changed.
    fn handle_completions(q: &EngineQueue, st: &mut State) -> bool {
        let mut changed = false;
        for done in q.completed() {
            match Tag::decode(done.tag, st.writer.next_seq()) {
                Tag::Log(seq) => {
                    if let Some(e) = st.entries.get_mut(seq) {
                        e.state = EntryState::Written;
                    }
                    if let Err(err) = done.result {
                        changed |= Self::fail(st, "write", err);
                    }
                }
                Tag::Flush(covers) => {
                    st.flushing = false;
                    match done.result {
                        Ok(()) if st.failed_at.is_none() => st.durable = st.durable.max(covers),
                        Ok(()) => {}
                        Err(err) => changed |= Self::fail(st, "flush", err),
                    }
                }
                Tag::Local(seq) => {
                    st.applying = st.applying.saturating_sub(1);
                    let mut failed_dev = None;
                    if let Some(e) = st.entries.get_mut(seq) {
                        e.state = EntryState::Applied;
                        // A success may still wait for synchronous site
                        // links (`ack`); a failure ends the bio now.
                        if done.result.is_err() {
                            failed_dev = Some(e.dev);
                            if let Some(bio) = e.bio.take() {
                                bio.complete(done.result);
                            }
                        }
                    }
                    if let (Some(dev), Err(err)) = (failed_dev, done.result) {
                        changed |= Self::local_failed(st, dev, "write", err);
                    }
                }
                Tag::Direct(slot) => {
                    if let Some(w) = st.direct.take(slot) {
                        if let Err(err) = done.result {
                            changed |= Self::local_failed(st, w.dev, "write", err);
                        }
                        w.complete(done.result);
                    }
                }
                Tag::Remote(nr, op) => changed |= Self::remote_done(q, st, nr, op, done.result),
            }
        }
        while st.written < st.entries.end_seq()
            && st.entries.get(st.written).is_some_and(|e| e.state != EntryState::Writing)
        {
            st.written += 1;
        }
        changed
    }

    /// Turn deferred bios into entries while the ring has room.
    fn append(&self, q: &EngineQueue, st: &mut State) {
        loop {
            let bio = match st.stalled.take() {
                Some(b) => b,
                None => match q.pop() {
                    Some(b) => b,
                    None => return,
                },
            };
            let op = op_of(&bio);
            let blocks = entry_blocks(op.flags, op.sectors);
            if st.entries.reserve(GFP_KERNEL).is_err() || !st.writer.ring().fits(blocks) {
                if st.writer.ring().blocks() < blocks {
                    pr_err!("replicator: write of {} sectors larger than the log\n", op.sectors);
                    bio.complete(Err(EIO));
                    continue;
                }
                st.counters.full_waits += 1;
                st.stalled = Some(bio);
                return;
            }
            let data = has_data(op.flags, op.sectors);
            // Its write, before the entry is committed to: memory short,
            // the bio waits for completions to return some.
            let Ok(io) = q.entry_io(&self.log, if data { Some(&bio) } else { None }) else {
                st.stalled = Some(bio);
                return;
            };
            let crc = if data { (bio.tag() >> 32) as u32 } else { 0 };
            // The entry's slink map: the local site and every remote
            // site link that needs it, so that a restart knows which
            // devices a recorded link still waits for.
            let mut slinks = SlinkBitmap::default();
            slinks.insert(0);
            if op.sectors > 0 {
                for s in st.slinks.iter().filter(|s| s.replicates(op.dev)) {
                    slinks.insert(s.nr);
                }
            }
            if !st.restore.is_empty() {
                crate::dm::retain(&mut st.restore, |_| false);
            }
            let appended = match st.writer.append(&op, &slinks, crc) {
                Ok(a) => a,
                Err(AppendError::Ring(RingError::Full)) => {
                    st.counters.full_waits += 1;
                    st.stalled = Some(bio);
                    return;
                }
                Err(e) => {
                    pr_err!("replicator: cannot journal a write: {}\n", e.message().to_str().unwrap_or("?"));
                    bio.complete(Err(EIO));
                    continue;
                }
            };
            let h = appended.header;
            let Some(sector) = self.ring_sector(appended.extent.start) else {
                bio.complete(Err(EIO));
                continue;
            };
            let entry = Entry {
                seq: h.seq,
                epoch: h.epoch,
                extent: appended.extent,
                dev: op.dev,
                sector: op.sector,
                sectors: op.sectors,
                flags: op.flags,
                data_crc: h.data_crc,
                state: EntryState::Writing,
                bio: Some(bio),
                at_ms: crate::dm::now_ms(),
            };
            if let Err(mut e) = st.entries.push(entry) {
                // Cannot happen: reserved above, and sequence numbers come
                // from the writer. Fail the bio rather than lose it.
                if let Some(b) = e.bio.take() {
                    b.complete(Err(EIO));
                }
                Self::fail(st, "bookkeeping", EINVAL);
                return;
            }
            st.sectors = st.sectors.saturating_add(u64::from(op.sectors));
            st.counters.entries += 1;
            let Ok(hdr) = <&mut [u8; BLOCK_SIZE]>::try_from(st.hdr.as_mut_slice()) else {
                return;
            };
            h.encode::<KernelCrc32c>(&self.uuid, hdr);
            let src = if data { st.entries.get(h.seq).and_then(|e| e.bio.as_ref()) } else { None };
            q.write_entry(io, sector, hdr, src, Tag::Log(h.seq).encode());
        }
    }

    /// Start the local writes of durable entries, in order.
    fn apply(q: &EngineQueue, st: &mut State) {
        loop {
            let seq = st.apply;
            let limit = if st.failed_at.is_some() { st.written } else { st.durable };
            if seq >= limit {
                return;
            }
            // Not durable when the log failed: applied locally once every
            // site link gave it up to its dirty logs (`pump_slinks`), as a
            // direct write would be.
            let failed = st.failed_at.is_some_and(|f| seq >= f);
            let applying = st.applying;
            let Some(e) = st.entries.get(seq) else {
                st.apply += 1;
                continue;
            };
            if e.state != EntryState::Written {
                st.apply += 1;
                continue;
            }
            if failed && !st.slinks.iter().all(|s| s.releases(seq) || !s.needs(e)) {
                return;
            }
            let (dev, sector, sectors) = (e.dev, e.sector, e.sectors);
            // A failed empty flush still flushes the local device: the
            // log cannot make what came before it durable.
            let local = sectors > 0 || failed;
            if local && applying > 0 && st.overlaps_applying(seq, dev, sector, sectors) {
                return;
            }
            // A resync is reading the region from the local device.
            if local && st.resyncing(e) {
                return;
            }
            let Some(e) = st.entries.get_mut(seq) else { return };
            match e.bio.as_ref() {
                Some(bio) if local => {
                    if q.clone_submit(bio, Tag::Local(seq).encode()).is_err() {
                        // Memory short: again once completions come back.
                        return;
                    }
                    e.state = EntryState::Applying;
                    st.applying += 1;
                }
                _ => {
                    // An empty flush is complete once durable.
                    e.state = EntryState::Settled;
                    if let Some(bio) = e.bio.take() {
                        bio.complete(Ok(()));
                    }
                }
            }
            st.apply += 1;
        }
    }

    /// Hand deferred bios of local device `local` back to dm core (a
    /// `--noflush` suspend of its `replicator-dev`).
    pub(crate) fn requeue(q: &EngineQueue, local: DevId) {
        let mut st = q.inner().state.lock();
        let mine = st.stalled.as_ref().is_some_and(|b| b.dev() == local);
        let stalled = if mine { st.stalled.take() } else { None };
        // Keep the lock so the main work item cannot journal any of them.
        if let Some(b) = stalled {
            b.requeue();
        }
        st.direct.requeue(local);
        q.requeue_dev(local);
        drop(st);
    }

    /// Write the checkpoint `cp` durably.
    fn write_checkpoint(&self, buf: &mut KVec<u8>, cp: &Checkpoint) -> Result {
        let block = <&mut [u8; BLOCK_SIZE]>::try_from(buf.as_mut_slice()).map_err(|_| EINVAL)?;
        cp.encode::<KernelCrc32c>(&self.uuid, block);
        let sector = self.block_sector(cp.block()).ok_or(EINVAL)?;
        self.log.write(sector, block, true)
    }

    /// Free the oldest entries that every site link has, behind a durable
    /// checkpoint; with `force`, write a checkpoint even if none can go
    /// (it records the durable tail, for a quick open). Runs with the
    /// checkpoint lock held (`buf` is its buffer).
    pub(crate) fn reclaim(q: &EngineQueue, buf: &mut KVec<u8>, force: bool) -> Result {
        let e = q.inner();
        let mut flush: KVec<Arc<LocalDev>> = KVec::new();
        let (k, cp) = {
            let mut st = e.state.lock();
            let mut ring = *st.writer.ring();
            let mut head_epoch = st.head_epoch;
            let mut k = 0u64;
            for seq in st.entries.seqs() {
                let Some(en) = st.entries.get(seq) else { break };
                if en.bio.is_some() || !st.slinks_release(seq) {
                    break;
                }
                match en.state {
                    EntryState::Settled => {}
                    EntryState::Applied => {
                        let Some(d) = st.device(en.dev) else { break };
                        if !flush.iter().any(|f| f.dev_nr == en.dev) && flush.push(d.clone(), GFP_KERNEL).is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
                if ring.release(en.extent).is_err() {
                    break;
                }
                head_epoch = en.epoch;
                k += 1;
            }
            if k == 0 && !force {
                return Ok(());
            }
            let head_seq = st.entries.first_seq().saturating_add(k);
            let (tail, tail_seq) = match st.entries.get(st.durable.saturating_sub(1)) {
                Some(last) if st.durable > head_seq => {
                    let end = last.extent.end();
                    (if end >= ring.blocks() { 0 } else { end }, st.durable)
                }
                _ => (ring.head(), head_seq),
            };
            let cp = Checkpoint {
                ring_blocks: ring.blocks(),
                head: ring.head(),
                head_seq,
                head_epoch,
                tail,
                tail_seq,
                slinks: st.positions(),
                ..st.checkpoint.successor().map_err(|_| EINVAL)?
            };
            (k, cp)
        };
        // A device whose flush fails has lost writes the log cannot give
        // back to it: it is shown failed, and its entries go like the
        // others' (keeping them would fill the log and stop the group).
        let mut failed = false;
        for d in flush.iter() {
            if let Err(err) = d.bdev.flush() {
                failed |= d.write_failed("flush", err);
            }
        }
        if failed {
            e.raise_event();
        }
        if let Err(err) = e.write_checkpoint(buf, &cp) {
            let mut st = e.state.lock();
            let first = Self::fail(&mut st, "checkpoint write", err);
            drop(st);
            if first {
                e.raise_event();
                // The work item switches to direct writes.
                q.kick();
            }
            return Err(err);
        }
        {
            let mut st = e.state.lock();
            for _ in 0..k {
                let Some(mut en) = st.entries.pop_front() else { break };
                // The ring refuses anything but the oldest extent; the
                // planning above released the same extents in order.
                let _ = st.writer.release(en.extent);
                st.sectors = st.sectors.saturating_sub(u64::from(en.sectors));
                st.head_epoch = en.epoch;
                if let Some(b) = en.bio.take() {
                    b.complete(Err(EIO));
                }
            }
            st.checkpoint = cp;
            st.counters.checkpoints += 1;
        }
        q.kick();
        Ok(())
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

/// The entry request a user bio stands for.
/// The entry flags of a write.
fn entry_flags(op: BioOp, preflush: bool, fua: bool) -> EntryFlags {
    let mut flags = EntryFlags::empty();
    if preflush {
        flags = flags.with(EntryFlags::FLUSH);
    }
    if fua {
        flags = flags.with(EntryFlags::FUA);
    }
    match op {
        BioOp::Discard | BioOp::SecureErase => flags.with(EntryFlags::DISCARD),
        BioOp::WriteZeroes => flags.with(EntryFlags::WRITE_ZEROES),
        _ => flags,
    }
}

/// The journal operation of a deferred bio; its tag holds the device
/// number in the low 32 bits (the data's CRC above, see
/// [`Engine::submit`]).
pub(super) fn op_of(bio: &UserBio) -> Op {
    let flags = entry_flags(bio.op(), bio.is_preflush(), bio.is_fua());
    Op { dev: bio.tag() as u32, flags, sector: bio.sector(), sectors: bio.sectors() }
}

impl IoHandler for Engine {
    fn work(q: &EngineQueue) {
        let e = q.inner();
        let mut guard = e.state.lock();
        let st = &mut *guard;
        let mut changed = Self::handle_completions(q, st);
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
        Self::apply(q, st);
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
        if changed {
            e.raise_event();
        }
    }

    fn background(q: &EngineQueue) {
        let mut buf = q.inner().cp.lock();
        // Failures are logged where they happen; the space stays used.
        let _ = Self::reclaim(q, &mut buf, false);
    }
}

impl Engine {
    /// Switch to a ring of `blocks` blocks: every entry is durable and new
    /// ones are held (see `Ringbuffer::resize`); writes the checkpoint
    /// naming the new size, then uses it.
    pub(crate) fn resize_locked(
        q: &EngineQueue,
        st: &mut State,
        buf: &mut KVec<u8>,
        blocks: u64,
        dir: &mut Option<Directory>,
    ) -> Result<(), crate::dm::TargetError> {
        let e = q.inner();
        let ring = st
            .writer
            .ring()
            .resized(blocks)
            .map_err(|err| crate::dm::TargetError::inval(err.message()))?;
        let cp = Checkpoint {
            ring_blocks: ring.blocks(),
            head: ring.head(),
            head_seq: st.entries.first_seq(),
            head_epoch: st.head_epoch,
            tail: ring.tail(),
            tail_seq: st.writer.next_seq(),
            slinks: st.positions(),
            ..st
                .checkpoint
                .successor()
                .map_err(|err| crate::dm::TargetError::inval(err.message()))?
        };
        e.write_checkpoint(buf, &cp)
            .map_err(|err| crate::dm::TargetError::new(c"Cannot write replication log checkpoint", err))?;
        st.writer
            .resize(blocks)
            .map_err(|err| crate::dm::TargetError::inval(err.message()))?;
        st.checkpoint = cp;
        st.counters.checkpoints += 1;
        if let Some(dir) = dir.take() {
            st.entries.regrow(dir);
        }
        Ok(())
    }
}
