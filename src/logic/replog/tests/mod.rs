//! Host tests of the replication log: one file per concept, on in-memory
//! images built with the same encoders the kernel uses.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::collections::{BTreeSet, VecDeque};
use std::vec;
use std::vec::Vec;

use crate::logic::replog::checkpoint::Checkpoint;
use crate::logic::replog::entry::EntryFlags;
use crate::logic::replog::geometry::{Block, BLOCK_SIZE};
use crate::logic::replog::recovery::{scan, BlockReader, DataCheck, Recovered};
use crate::logic::replog::ring::Extent;
use crate::logic::replog::superblock::Superblock;
use crate::logic::replog::writer::{Appended, Op, Writer};
use crate::logic::replog::{
    load, BlockWriter, Crc32c, Loaded, LogError, ReadError, SlinkBitmap, WriteError,
};

mod checkpoint;
mod checksum;
mod entry;
mod error;
mod format;
mod open;
mod props;
mod recovery;
mod ring;
mod superblock;

/// CRC-32C register update (reflected polynomial 0x82f63b78), table
/// driven: the reference the format is defined by, independent of the
/// `crc32c` crate the tool uses.
pub(crate) struct SoftCrc;

/// The byte-at-a-time table of the reflected polynomial.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

impl Crc32c for SoftCrc {
    fn crc32c(seed: u32, data: &[u8]) -> u32 {
        data.iter().fold(seed, |crc, &byte| {
            (crc >> 8) ^ CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize]
        })
    }
}

/// The UUID of test logs.
pub(super) const UUID: [u8; 16] = *b"replog-test-uuid";

/// A log image in memory, with blocks that fail to read and a record of
/// the writes.
#[derive(Clone)]
pub(super) struct MemLog {
    pub blocks: Vec<Block>,
    pub unreadable: BTreeSet<u64>,
    pub writes: Vec<u64>,
}

impl MemLog {
    /// A zeroed image of `blocks` blocks.
    pub fn new(blocks: u64) -> MemLog {
        MemLog {
            blocks: vec![[0; BLOCK_SIZE]; blocks as usize],
            unreadable: BTreeSet::new(),
            writes: Vec::new(),
        }
    }

    /// Block `block`, to inspect or damage.
    pub fn block(&mut self, block: u64) -> &mut Block {
        &mut self.blocks[block as usize]
    }
}

impl BlockReader for MemLog {
    fn read(&mut self, block: u64, buf: &mut Block) -> Result<(), ReadError> {
        if self.unreadable.contains(&block) {
            return Err(ReadError(5));
        }
        match self.blocks.get(block as usize) {
            Some(b) => {
                *buf = *b;
                Ok(())
            }
            None => Err(ReadError(5)),
        }
    }
}

impl BlockWriter for MemLog {
    fn write(&mut self, block: u64, buf: &Block) -> Result<(), WriteError> {
        self.writes.push(block);
        match self.blocks.get_mut(block as usize) {
            Some(b) => {
                *b = *buf;
                Ok(())
            }
            None => Err(WriteError(28)),
        }
    }
}

/// An entry appended and not yet freed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Live {
    pub extent: Extent,
    pub seq: u64,
    pub epoch: u64,
}

/// A log being written the way the kernel will: entries appended through
/// a [`Writer`], space freed behind a checkpoint.
pub(super) struct TestLog {
    pub mem: MemLog,
    pub sb: Superblock,
    pub cp: Checkpoint,
    pub writer: Writer,
    pub live: VecDeque<Live>,
    /// Epoch before the oldest live entry.
    pub head_epoch: u64,
    pub slinks: SlinkBitmap,
}

/// Data of `sectors` sectors made from `seed`.
pub(super) fn pattern(seed: u64, sectors: u32) -> Vec<u8> {
    (0..sectors as usize * 512)
        .map(|i| (seed as usize * 31 + i * 7 + i / 512) as u8)
        .collect()
}

/// A plain write.
pub(super) fn write_op(dev: u32, sector: u64, sectors: u32) -> Op {
    Op {
        dev,
        flags: EntryFlags::empty(),
        sector,
        sectors,
    }
}

impl TestLog {
    /// A freshly formatted log with a ring of `ring_blocks` blocks.
    pub fn new(ring_blocks: u64) -> TestLog {
        TestLog::over(MemLog::new(3 + ring_blocks), UUID, ring_blocks)
    }

    /// Formats `mem` (whatever it holds) as log `uuid`.
    pub fn over(mut mem: MemLog, uuid: [u8; 16], ring_blocks: u64) -> TestLog {
        let mut buf = [0; BLOCK_SIZE];
        let (sb, cp) =
            crate::logic::replog::format::<SoftCrc, _>(&mut mem, &mut buf, uuid, ring_blocks)
                .unwrap();
        let mut slinks = SlinkBitmap::new();
        slinks.insert(0);
        slinks.insert(1);
        TestLog {
            mem,
            sb,
            cp,
            writer: TestLog::recover_writer(&cp),
            live: VecDeque::new(),
            head_epoch: 0,
            slinks,
        }
    }

    fn recover_writer(cp: &Checkpoint) -> Writer {
        Writer::formatted(cp).unwrap()
    }

    /// Appends an entry for `op` with `data` (`op.sectors * 512` bytes for
    /// a write, empty otherwise) and writes header and data.
    pub fn try_append(
        &mut self,
        op: Op,
        data: &[u8],
    ) -> Result<Appended, crate::logic::replog::AppendError> {
        let crc = crate::logic::replog::checksum::crc32c::<SoftCrc>(data);
        let appended = self.writer.append(&op, &self.slinks, crc)?;
        let header_block = self.sb.ring_start + appended.extent.start;
        let mut buf = [0; BLOCK_SIZE];
        appended.header.encode::<SoftCrc>(&self.sb.uuid, &mut buf);
        self.mem.write(header_block, &buf).unwrap();
        for (i, chunk) in data.chunks(BLOCK_SIZE).enumerate() {
            let mut block = [0; BLOCK_SIZE];
            block[..chunk.len()].copy_from_slice(chunk);
            self.mem.write(header_block + 1 + i as u64, &block).unwrap();
        }
        self.live.push_back(Live {
            extent: appended.extent,
            seq: appended.header.seq,
            epoch: appended.header.epoch,
        });
        Ok(appended)
    }

    /// Appends, which must succeed.
    pub fn append(&mut self, op: Op, data: &[u8]) -> Appended {
        self.try_append(op, data).unwrap()
    }

    /// Appends a write of `sectors` sectors of pattern data.
    pub fn write(&mut self, sector: u64, sectors: u32) -> Appended {
        let data = pattern(sector, sectors);
        self.append(write_op(1, sector, sectors), &data)
    }

    /// The checkpoint that would follow, naming the head after freeing
    /// the `freed` oldest entries.
    pub fn next_checkpoint(&self, freed: usize) -> Checkpoint {
        let mut ring = *self.writer.ring();
        for live in self.live.iter().take(freed) {
            ring.release(live.extent).unwrap();
        }
        let head_seq = self
            .live
            .get(freed)
            .map_or(self.writer.next_seq(), |l| l.seq);
        let head_epoch = match freed {
            0 => self.head_epoch,
            n => self.live[n - 1].epoch,
        };
        self.cp
            .advanced(&ring, head_seq, head_epoch, self.writer.next_seq())
            .unwrap()
    }

    /// Writes `cp` to its slot.
    pub fn write_checkpoint(&mut self, cp: &Checkpoint) {
        let mut buf = [0; BLOCK_SIZE];
        cp.encode::<SoftCrc>(&self.sb.uuid, &mut buf);
        self.mem.write(cp.block(), &buf).unwrap();
        self.cp = *cp;
    }

    /// Frees the `n` oldest entries: checkpoint first, then the ring.
    pub fn free(&mut self, n: usize) {
        let cp = self.next_checkpoint(n);
        self.write_checkpoint(&cp);
        for _ in 0..n {
            let live = self.live.pop_front().unwrap();
            self.writer.release(live.extent).unwrap();
            self.head_epoch = live.epoch;
        }
    }

    /// Writes a checkpoint without freeing anything (clean suspend).
    pub fn checkpoint(&mut self) {
        let cp = self.next_checkpoint(0);
        self.write_checkpoint(&cp);
    }

    /// Scans from the newest checkpoint on disk.
    pub fn scan(&mut self, check: DataCheck) -> Recovered {
        let mut buf = [0; BLOCK_SIZE];
        let sb = self.sb;
        let cp = self.cp;
        scan::<SoftCrc, _>(&mut self.mem, &mut buf, &sb, &cp, check)
    }

    /// Loads the log as the kernel does at resume.
    pub fn load(&mut self) -> Result<Loaded, LogError> {
        let mut buf = [0; BLOCK_SIZE];
        let avail = self.mem.blocks.len() as u64 * 8;
        load::<SoftCrc, _>(&mut self.mem, &mut buf, avail)
    }

    /// Simulates a crash and restart: loads the image, continues with the
    /// writer recovery gives, forgetting what the old writer knew beyond.
    pub fn crash_and_recover(&mut self) -> Loaded {
        let loaded = self.load().unwrap();
        let r = loaded.recovered;
        let resume = loaded.resume().unwrap();
        self.write_checkpoint(&resume.checkpoint);
        self.writer = resume.writer;
        self.live
            .retain(|l| l.seq >= r.head_seq && l.seq < r.next_seq);
        self.head_epoch = r.head_epoch;
        loaded
    }

    /// The header of a live entry, as on disk.
    pub fn header_of(&self, live: &Live) -> crate::logic::replog::EntryHeader {
        let block = &self.mem.blocks[(self.sb.ring_start + live.extent.start) as usize];
        crate::logic::replog::EntryHeader::decode::<SoftCrc>(block, &self.sb.uuid).unwrap()
    }

    /// Log block of ring block `pos`.
    pub fn block_of(&self, pos: u64) -> u64 {
        self.sb.ring_start + pos
    }
}
