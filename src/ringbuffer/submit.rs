// SPDX-License-Identifier: GPL-2.0
//! The first stage of the data path (see `engine.rs`): a mapped write is
//! copied and deferred, and the main work turns deferred bios into log
//! entries and starts their log writes. Apart because it alone takes new
//! writes in and gives them their place in the ring.

use super::engine::{Engine, EngineQueue, State, Tag};
use super::entries::{Entry, EntryState};
use crate::dm::{BioOp, KernelCrc32c, UserBio};
use crate::logic::replog::entry::{entry_blocks, has_data};
use crate::logic::replog::{AppendError, EntryFlags, Op, RingError, SlinkBitmap, BLOCK_SIZE};
use kernel::prelude::*;

impl Engine {
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

    /// Issue a read of device `dev_nr` (already remapped to the local
    /// device), or hold it while a journaled write it overlaps has not
    /// reached that device (`unapplied.rs`); the main work item issues it
    /// then ([`Engine::release_reads`]).
    pub(crate) fn map_read(q: &EngineQueue, dev_nr: u32, bio: &mut crate::dm::Bio) -> crate::dm::MapResult {
        let u = &q.inner().unapplied;
        let (sector, sectors) = (bio.sector(), bio.sectors());
        if !u.blocks(dev_nr, sector, sectors) {
            return crate::dm::MapResult::Remapped;
        }
        q.hold_read(bio, u64::from(dev_nr), || u.blocks(dev_nr, sector, sectors))
    }

    /// Issue the held reads no journaled write holds back any more. After
    /// local writes ended: the test runs under the lock `map_read` holds
    /// its reads under, so none is held after its last write left.
    pub(super) fn release_reads(q: &EngineQueue) {
        let u = &q.inner().unapplied;
        q.release_reads(&|tag: u64, sector: u64, sectors: u32| u.blocks(tag as u32, sector, sectors));
    }

    /// Turn deferred bios into entries while the ring has room.
    pub(super) fn append(&self, q: &EngineQueue, st: &mut State) {
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
                own: false,
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
            // Reads of its range wait until its local write ended.
            self.unapplied.enter(op.dev, op.sector, op.sectors);
            st.sectors = st.sectors.saturating_add(u64::from(op.sectors));
            st.counters.entries += 1;
            let Ok(hdr) = <&mut [u8; BLOCK_SIZE]>::try_from(st.hdr.as_mut_slice()) else {
                return;
            };
            h.encode::<KernelCrc32c>(&self.uuid, hdr);
            let src = if data { st.entries.get(h.seq).and_then(|e| e.bio.as_ref()) } else { None };
            // Alone in flight (every earlier entry durable, no log write or
            // flush out): written with FUA, the entry is durable when its
            // write ends, one I/O instead of a write and a flush. A lone
            // writer has no batch to wait for; behind it, the entries that
            // come meanwhile share the next flush as before.
            let fua = st.written == h.seq && st.durable == h.seq && !st.flushing;
            q.write_entry(io, sector, hdr, src, fua, Tag::Log(h.seq, fua).encode());
        }
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
