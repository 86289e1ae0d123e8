// SPDX-License-Identifier: GPL-2.0
//! Opening the log at table load: read and recover it, or format it, as
//! the table's `open`, `create` or `auto` says; then start a new run.
//!
//! Everything here is synchronous and runs for the constructor (on a
//! worker's stack while it waits), before the log takes any write:
//! `logic::replog` decides, this file does the I/O.

use super::engine::{Engine, EngineQueue, Restore, State};
use super::entries::{Entries, Entry, EntryState};
use super::unapplied::Unapplied;
use crate::dm::{on_fresh_stack, random_bytes, BlockDevice, IoQueue, KernelCrc32c, TargetError};
use crate::logic::replog::geometry::{block_sector, ring_blocks_for_sectors};
use crate::logic::replog::{
    decide, format, load, Action, Block, BlockReader, BlockWriter, DataCheck, Loaded, LogError, ReadError,
    Scanner, WriteError, Writer, BLOCK_SIZE,
};
use crate::logic::ringbuffer::OpenMode;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Blocks the scans read at once. They walk the ring forward, block by
/// block, twice (recovery, then the entries to replay); one synchronous
/// request per 4 KiB block would make opening a large log take minutes.
const READ_AHEAD_BLOCKS: usize = 32;

/// Reads and writes log blocks synchronously, reading ahead.
struct Reader<'a> {
    dev: &'a BlockDevice,
    dev_start: u64,
    /// Log blocks on the device: read-ahead stops there.
    blocks: u64,
    /// Blocks `first..first + cached` of the log, read ahead.
    cache: KVVec<u8>,
    first: u64,
    cached: u64,
}

impl Reader<'_> {
    /// Reads `n` blocks from `block` into the cache.
    fn fill(&mut self, block: u64, n: u64) -> Result<(), ReadError> {
        self.cached = 0;
        let sector = block_sector(self.dev_start, block).ok_or(ReadError(EINVAL.to_errno()))?;
        let bytes = usize::try_from(n).ok().and_then(|n| n.checked_mul(BLOCK_SIZE)).ok_or(ReadError(EINVAL.to_errno()))?;
        let area = self.cache.get_mut(..bytes).ok_or(ReadError(EINVAL.to_errno()))?;
        self.dev.read(sector, area).map_err(|e| ReadError(e.to_errno()))?;
        self.first = block;
        self.cached = n;
        Ok(())
    }
}

impl BlockReader for Reader<'_> {
    fn read(&mut self, block: u64, buf: &mut Block) -> Result<(), ReadError> {
        let hit = block >= self.first && block - self.first < self.cached;
        if !hit {
            let n = self.blocks.saturating_sub(block).min(READ_AHEAD_BLOCKS as u64);
            // A failed read-ahead (a bad block further on) must not fail a
            // block that reads: the block alone decides, as without it.
            if n <= 1 || self.fill(block, n).is_err() {
                self.fill(block, 1)?;
            }
        }
        let at = usize::try_from(block - self.first).ok().and_then(|b| b.checked_mul(BLOCK_SIZE));
        let cached = at.and_then(|at| self.cache.get(at..at.checked_add(BLOCK_SIZE)?));
        buf.copy_from_slice(cached.ok_or(ReadError(EINVAL.to_errno()))?);
        Ok(())
    }
}

impl BlockWriter for Reader<'_> {
    fn write(&mut self, block: u64, buf: &Block) -> Result<(), WriteError> {
        if block >= self.first && block - self.first < self.cached {
            self.cached = 0;
        }
        let sector = block_sector(self.dev_start, block).ok_or(WriteError(EINVAL.to_errno()))?;
        self.dev.write(sector, buf, true).map_err(|e| WriteError(e.to_errno()))
    }
}

fn log_error(e: LogError) -> TargetError {
    let err = match e {
        LogError::Format(_) => EINVAL,
        LogError::Read { .. } | LogError::Write { .. } => EIO,
    };
    TargetError::new(e.message(), err)
}

const NOMEM: TargetError = TargetError::new(c"Cannot allocate replication log", ENOMEM);

/// Open, recover or format the log at `dev_start` of `log` (which has
/// `avail` sectors from there), and start its engine; with `reformat`, format
/// it whatever it holds.
///
/// A table load calls this deep in the ioctl's stack, under dm core, and
/// the open needs kilobytes of it: it runs on a worker's fresh stack
/// while the caller waits ([`on_fresh_stack`]).
#[inline(never)]
pub(crate) fn open(log: BlockDevice, dev_start: u64, mode: OpenMode, avail: u64, reformat: bool) -> Result<Arc<EngineQueue>, TargetError> {
    on_fresh_stack(move || open_engine(log, dev_start, mode, avail, reformat))
}

/// [`open`], on the worker. The checkpoints it handles are a kilobyte
/// each: each step is a function of its own (`inline(never)`), so that
/// only the path taken is on the stack.
#[inline(never)]
fn open_engine(log: BlockDevice, dev_start: u64, mode: OpenMode, avail: u64, reformat: bool) -> Result<Arc<EngineQueue>, TargetError> {
    let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL).map_err(|_| NOMEM)?;
    let (state, uuid, ring_start) = open_state(&log, dev_start, mode, avail, reformat, &mut buf)?;
    let engine = Engine {
        log,
        dev_start,
        ring_start,
        uuid,
        state: KBox::pin_init(new_mutex!(state), GFP_KERNEL).map_err(|_| NOMEM)?,
        cp: KBox::pin_init(new_mutex!(buf), GFP_KERNEL).map_err(|_| NOMEM)?,
        event: KBox::pin_init(new_mutex!(None), GFP_KERNEL).map_err(|_| NOMEM)?,
        dev_events: KBox::pin_init(new_mutex!(KVec::new()), GFP_KERNEL).map_err(|_| NOMEM)?,
        unapplied: Unapplied::new().map_err(|_| NOMEM)?,
        fetch: core::sync::atomic::AtomicBool::new(false),
    };
    IoQueue::new(c"replog", engine).map_err(|_| NOMEM)
}

/// The engine's state, the log's UUID and where its ring starts.
type Opened = (KBox<State>, [u8; 16], u64);

/// Read what the log holds and decide, then format or recover it.
#[inline(never)]
fn open_state(log: &BlockDevice, dev_start: u64, mode: OpenMode, avail: u64, reformat: bool, buf: &mut KVec<u8>) -> Result<Opened, TargetError> {
    let block = <&mut Block>::try_from(buf.as_mut_slice()).map_err(|_| NOMEM)?;
    let cache = KVVec::from_elem(0u8, READ_AHEAD_BLOCKS * BLOCK_SIZE, GFP_KERNEL).map_err(|_| NOMEM)?;
    let mut io = Reader { dev: log, dev_start, blocks: avail / 8, cache, first: 0, cached: 0 };
    let loaded = load::<KernelCrc32c, _>(&mut io, block, avail);
    let action = if reformat { Action::Format } else { decide(mode, &loaded).map_err(log_error)? };
    match (action, loaded) {
        (Action::Format, _) => format_new(log, &mut io, block, mode),
        (Action::Open, Ok(l)) => recover(log, &mut io, block, mode, l),
        (Action::Open, Err(e)) => Err(log_error(e)),
    }
}

/// Format a new log.
#[inline(never)]
fn format_new(log: &BlockDevice, io: &mut Reader<'_>, block: &mut Block, mode: OpenMode) -> Result<Opened, TargetError> {
    let size = mode.size().ok_or(TargetError::inval(c"Replication log size missing"))?;
    let ring_blocks = ring_blocks_for_sectors(size).map_err(|e| log_error(e.into()))?;
    let mut uuid = [0u8; 16];
    random_bytes(&mut uuid);
    let (sb, cp) = format::<KernelCrc32c, _>(io, block, uuid, ring_blocks).map_err(log_error)?;
    let writer = Writer::formatted(&cp).map_err(|e| log_error(e.into()))?;
    pr_info!("replicator: formatted replication log on {} ({} ring blocks)\n", log.id(), ring_blocks);
    let state = State::new(writer, Entries::new(cp.head_seq, ring_blocks, GFP_KERNEL).map_err(|_| NOMEM)?, cp.head_epoch, cp).map_err(|_| NOMEM)?;
    let state = KBox::new(state, GFP_KERNEL).map_err(|_| NOMEM)?;
    Ok((state, sb.uuid, sb.ring_start))
}

/// Recover a log: the entries to replay, where each site link resumes,
/// and the new run's checkpoint.
#[inline(never)]
fn recover(log: &BlockDevice, io: &mut Reader<'_>, block: &mut Block, mode: OpenMode, l: Loaded) -> Result<Opened, TargetError> {
    if let OpenMode::OpenSized(size) = mode {
        if ring_blocks_for_sectors(size) != Ok(l.checkpoint.ring_blocks) {
            return Err(TargetError::inval(c"Replication log size differs from the table's"));
        }
    }
    let resume = l.resume().map_err(|e| log_error(e.into()))?;
    // The recovered entries, to replay and to free later.
    let mut entries = Entries::new(l.recovered.head_seq, l.checkpoint.ring_blocks, GFP_KERNEL).map_err(|_| NOMEM)?;
    let mut sectors = 0u64;
    // Site links the checkpoint recorded resume from their
    // position if the log still holds it (replog-format.rst,
    // "Restart of site links").
    let (head, next) = (l.recovered.head_seq, l.recovered.next_seq);
    let mut restore: KVec<Restore> = KVec::new();
    for (nr, seq) in l.checkpoint.slinks.iter() {
        if head <= seq && seq <= next {
            restore.push(Restore { nr, seq, devs: KVec::new() }, GFP_KERNEL).map_err(|_| NOMEM)?;
        } else {
            pr_warn!(
                "replicator: slink={} position {} is no longer in the log ({} to {}); its devices resynchronise\n",
                nr,
                seq,
                head,
                next
            );
        }
    }
    let scan = Scanner::<KernelCrc32c, _>::new(io, block, &l.superblock, &l.checkpoint, DataCheck::AfterTailHint);
    for s in scan.take(usize::try_from(l.recovered.entries).unwrap_or(usize::MAX)) {
        let h = s.header;
        entries.reserve(GFP_KERNEL).map_err(|_| NOMEM)?;
        let e = Entry {
            seq: h.seq,
            epoch: h.epoch,
            extent: crate::logic::replog::Extent { start: s.pos, blocks: h.blocks() },
            dev: h.dev,
            sector: h.sector,
            sectors: h.sectors,
            flags: h.flags,
            data_crc: h.data_crc,
            state: EntryState::Replay,
            bio: None,
            at_ms: crate::dm::now_ms(),
            own: false,
        };
        entries
            .push(e)
            .map_err(|_| TargetError::inval(c"Replication log entries changed while opening"))?;
        sectors = sectors.saturating_add(u64::from(h.sectors));
        for r in restore.iter_mut() {
            if h.seq >= r.seq && h.sectors > 0 && h.slinks.contains(r.nr) && !r.devs.contains(&h.dev) {
                r.devs.push(h.dev, GFP_KERNEL).map_err(|_| NOMEM)?;
            }
        }
    }
    if entries.end_seq() != l.recovered.next_seq {
        return Err(TargetError::inval(c"Replication log entries changed while opening"));
    }
    // The new run's checkpoint is durable before its first entry.
    let cp = resume.checkpoint;
    let mut cpbuf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL).map_err(|_| NOMEM)?;
    let cpblock = <&mut Block>::try_from(cpbuf.as_mut_slice()).map_err(|_| NOMEM)?;
    cp.encode::<KernelCrc32c>(&l.superblock.uuid, cpblock);
    BlockWriter::write(io, cp.block(), cpblock)
        .map_err(|error| log_error(LogError::Write { block: cp.block(), error }))?;
    if l.recovered.entries > 0 {
        pr_info!(
            "replicator: replication log on {}: {} entries to replay (sequence {} to {})\n",
            log.id(),
            l.recovered.entries,
            l.recovered.head_seq,
            l.recovered.next_seq
        );
    }
    let mut state = KBox::new(State::new(resume.writer, entries, l.recovered.head_epoch, cp).map_err(|_| NOMEM)?, GFP_KERNEL).map_err(|_| NOMEM)?;
    state.sectors = sectors;
    state.restore = restore;
    for (nr, dev) in l.checkpoint.slinks.lost() {
        state.lost_restore.push((nr, dev), GFP_KERNEL).map_err(|_| NOMEM)?;
    }
    Ok((state, l.superblock.uuid, l.superblock.ring_start))
}
