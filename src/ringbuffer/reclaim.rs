// SPDX-License-Identifier: GPL-2.0
//! Checkpoints and freeing ring space (see `engine.rs`): the background
//! work flushes the local devices the oldest entries went to, writes a
//! checkpoint and only then frees their ring blocks; a resize writes the
//! checkpoint naming the new ring size. Apart because it runs
//! synchronously with the checkpoint lock held, not in the main work.

use super::engine::{Engine, EngineQueue, LocalDev, State};
use super::entries::{Directory, EntryState};
use crate::dm::KernelCrc32c;
use crate::logic::replog::{Checkpoint, BLOCK_SIZE};
use kernel::prelude::*;
use kernel::sync::Arc;

impl State {
    /// Whether the oldest entries are done and freeing them is worth a
    /// checkpoint now: a write waits for space, or half the ring is used.
    pub(super) fn wants_reclaim(&self) -> bool {
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
