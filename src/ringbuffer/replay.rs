// SPDX-License-Identifier: GPL-2.0
//! Binding local devices to the log, and replaying onto them the entries
//! recovery found.
//!
//! After a crash the log holds entries whose local writes may not have
//! happened. A `replicator-dev` binds its local device before it resumes
//! (preresume), and the entries of its device number are copied from the
//! log onto it in sequence order, each data checksum verified on the way,
//! then the device is flushed. Until then those entries keep their ring
//! space: an entry is never dropped for a device that is not there.

use super::engine::{Engine, EngineQueue, LocalDev};
use super::entries::EntryState;
use crate::dm::{BlockDevice, DevId, KernelCrc32c, NoIo};
use crate::local_health::LocalHealth;
use crate::logic::replog::checksum::crc32c;
use crate::logic::replog::entry::data_blocks;
use crate::logic::replog::{EntryFlags, Extent, BLOCK_SIZE};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What replay needs of an entry, copied out of the state lock.
#[derive(Clone, Copy)]
struct Pending {
    seq: u64,
    extent: Extent,
    sector: u64,
    sectors: u32,
    flags: EntryFlags,
    data_crc: u32,
}

impl Engine {
    /// Bind local device `local` of device number `dev_nr` for target
    /// `target`, its errors noted in `health`, and replay the entries it
    /// lacks.
    pub(crate) fn bind(q: &EngineQueue, target: usize, dev_nr: u32, local: DevId, health: &Arc<LocalHealth>) -> Result {
        let e = q.inner();
        // Replay writes to devices that may hold dirty pages of their own.
        let _noio = NoIo::enter();
        let existing = e.state.lock().devices.get(&target).cloned();
        let dev = match existing {
            Some(d) => d,
            None => {
                let bdev = BlockDevice::open(local)?;
                let d = Arc::new(LocalDev { dev_nr, bdev, health: health.clone() }, GFP_KERNEL)?;
                e.state.lock().devices.try_create_and_insert(target, d.clone(), GFP_KERNEL)?;
                d
            }
        };
        e.replay(&dev)
    }

    /// Forget the local device of target `target`.
    pub(crate) fn unbind(q: &EngineQueue, target: usize) {
        let gone = q.inner().state.lock().devices.remove(&target);
        drop(gone);
    }

    /// Flush the local device of target `target` and mark its applied
    /// entries settled (its `replicator-dev` was suspended: no user write
    /// of it is in flight). The local writes of writes acknowledged
    /// before the suspend may be: a suspended device's local device gets
    /// no write after the suspend returned, so they are waited for first.
    pub(crate) fn settle(q: &EngineQueue, target: usize) {
        let e = q.inner();
        let Some(dev) = e.state.lock().devices.get(&target).cloned() else { return };
        loop {
            let applying = {
                let st = e.state.lock();
                st.entries.seqs().any(|seq| {
                    st.entries.get(seq).is_some_and(|en| en.dev == dev.dev_nr && en.state == EntryState::Applying)
                })
            };
            if !applying {
                break;
            }
            q.kick();
            crate::dm::msleep(1);
        }
        if let Err(err) = dev.bdev.flush() {
            pr_err!("replicator: flush of local device {} failed ({:?})\n", dev.bdev.id(), err);
            return;
        }
        let mut st = e.state.lock();
        for seq in st.entries.seqs() {
            if let Some(en) = st.entries.get_mut(seq) {
                if en.dev == dev.dev_nr && en.state == EntryState::Applied {
                    en.state = EntryState::Settled;
                }
            }
        }
        drop(st);
        q.kick_background();
    }

    /// Copy every recovered entry of `dev` onto it, in order.
    fn replay(&self, dev: &LocalDev) -> Result {
        let mut todo: KVec<Pending> = KVec::new();
        {
            let st = self.state.lock();
            for seq in st.entries.seqs() {
                let Some(en) = st.entries.get(seq) else { continue };
                if en.dev == dev.dev_nr && en.state == EntryState::Replay {
                    let p = Pending {
                        seq,
                        extent: en.extent,
                        sector: en.sector,
                        sectors: en.sectors,
                        flags: en.flags,
                        data_crc: en.data_crc,
                    };
                    todo.push(p, GFP_KERNEL)?;
                }
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let mut buf: KVVec<u8> = KVVec::new();
        for p in todo.iter() {
            self.replay_one(dev, p, &mut buf)?;
        }
        dev.bdev.flush()?;
        let mut guard = self.state.lock();
        let st: &mut super::engine::State = &mut guard;
        for p in todo.iter() {
            if let Some(en) = st.entries.get_mut(p.seq) {
                if en.state == EntryState::Replay {
                    st.replaying = st.replaying.saturating_sub(1);
                }
                en.state = EntryState::Settled;
            }
        }
        pr_info!(
            "replicator: replayed {} log entries onto device {} ({})\n",
            todo.len(),
            dev.dev_nr,
            dev.bdev.id()
        );
        Ok(())
    }

    fn replay_one(&self, dev: &LocalDev, p: &Pending, buf: &mut KVVec<u8>) -> Result {
        let n = u64::from(p.sectors);
        if p.flags.contains(EntryFlags::DISCARD) {
            return match dev.bdev.discard(p.sector, n) {
                // A local device without discard support keeps the old data.
                Err(e) if e.to_errno() == -(kernel::bindings::EOPNOTSUPP as i32) => Ok(()),
                r => r,
            };
        }
        if p.flags.contains(EntryFlags::WRITE_ZEROES) {
            return dev.bdev.write_zeroes(p.sector, n);
        }
        if p.sectors == 0 {
            return Ok(());
        }
        let blocks = data_blocks(p.flags, p.sectors);
        let bytes = usize::try_from(blocks).ok().and_then(|b| b.checked_mul(BLOCK_SIZE)).ok_or(EINVAL)?;
        let data_len = usize::try_from(n * 512).map_err(|_| EINVAL)?;
        if buf.len() < bytes {
            *buf = KVVec::from_elem(0u8, bytes, GFP_KERNEL)?;
        }
        let area = buf.as_mut_slice().get_mut(..bytes).ok_or(EINVAL)?;
        let first = self.ring_start.checked_add(p.extent.start).and_then(|b| b.checked_add(1));
        let sector = first.and_then(|b| self.block_sector(b)).ok_or(EINVAL)?;
        self.log.read(sector, area)?;
        let data = area.get(..data_len).ok_or(EINVAL)?;
        if crc32c::<KernelCrc32c>(data) != p.data_crc {
            pr_err!(
                "replicator: log entry {} (device {}, sector {}) fails its data checksum; not replayed\n",
                p.seq,
                dev.dev_nr,
                p.sector
            );
            return Err(EIO);
        }
        dev.bdev.write(p.sector, data, false)
    }
}
