//! Appending entries to a log image the way the kernel does: for tests
//! and demonstrations (the tool's commands never write entries).

use std::collections::VecDeque;

use dmr_logic::replog::checksum::crc32c;
use dmr_logic::replog::geometry::BLOCK_SIZE;
use dmr_logic::replog::recovery::{DataCheck, Scanner};
use dmr_logic::replog::ring::Extent;
use dmr_logic::replog::writer::{Appended, Op};
use dmr_logic::replog::{
    load, BlockWriter, Checkpoint, SlinkBitmap, SlinkPositions, Superblock, Writer,
};

use crate::image::Image;
use crate::HostCrc;

/// An entry not yet freed.
#[derive(Clone, Copy, Debug)]
struct Live {
    extent: Extent,
    seq: u64,
    epoch: u64,
}

/// An open log that entries are appended to.
pub struct Appender {
    /// The log's blocks.
    pub image: Image,
    /// Its superblock.
    pub sb: Superblock,
    /// The newest checkpoint written.
    pub cp: Checkpoint,
    /// Sequence numbers, epochs and ring space.
    pub writer: Writer,
    /// The slinks new entries are for.
    pub slinks: SlinkBitmap,
    live: VecDeque<Live>,
    /// Epoch before the oldest live entry.
    head_epoch: u64,
}

impl Appender {
    /// Opens the log in `image` as the kernel does at resume: recovers it
    /// and writes the checkpoint that starts a new run.
    pub fn open(mut image: Image) -> Result<Appender, String> {
        let mut buf = [0; BLOCK_SIZE];
        let avail = image.avail_sectors().unwrap_or(0);
        let loaded = load::<HostCrc, _>(&mut image, &mut buf, avail).map_err(|e| e.to_string())?;
        let r = loaded.recovered;
        let mut live = VecDeque::new();
        let scanner = Scanner::<HostCrc, _>::new(
            &mut image,
            &mut buf,
            &loaded.superblock,
            &loaded.checkpoint,
            DataCheck::AfterTailHint,
        );
        for e in scanner.take(r.entries as usize) {
            live.push_back(Live {
                extent: Extent {
                    start: e.pos,
                    blocks: e.header.blocks(),
                },
                seq: e.header.seq,
                epoch: e.header.epoch,
            });
        }
        let resume = loaded.resume().map_err(|e| e.text().to_string())?;
        let mut slinks = SlinkBitmap::new();
        slinks.insert(0);
        let mut log = Appender {
            image,
            sb: loaded.superblock,
            cp: resume.checkpoint,
            writer: resume.writer,
            slinks,
            live,
            head_epoch: r.head_epoch,
        };
        log.write_checkpoint(&resume.checkpoint)?;
        Ok(log)
    }

    fn write_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), String> {
        let mut buf = [0; BLOCK_SIZE];
        cp.encode::<HostCrc>(&self.sb.uuid, &mut buf);
        self.write(cp.block(), &buf)?;
        self.cp = *cp;
        Ok(())
    }

    /// Appends an entry for `op`; `data` is its payload (`op.sectors *
    /// 512` bytes for a write, empty otherwise).
    pub fn append(&mut self, op: Op, data: &[u8]) -> Result<Appended, String> {
        let appended = self
            .writer
            .append(&op, &self.slinks, crc32c::<HostCrc>(data))
            .map_err(|e| e.message().to_string_lossy().into_owned())?;
        let block = self.sb.ring_start + appended.extent.start;
        let mut buf = [0; BLOCK_SIZE];
        appended.header.encode::<HostCrc>(&self.sb.uuid, &mut buf);
        self.write(block, &buf)?;
        for (i, chunk) in data.chunks(BLOCK_SIZE).enumerate() {
            let mut buf = [0; BLOCK_SIZE];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write(block + 1 + i as u64, &buf)?;
        }
        self.live.push_back(Live {
            extent: appended.extent,
            seq: appended.header.seq,
            epoch: appended.header.epoch,
        });
        Ok(appended)
    }

    fn write(&mut self, block: u64, buf: &[u8; BLOCK_SIZE]) -> Result<(), String> {
        self.image
            .write(block, buf)
            .map_err(|e| format!("write block {block}: errno {}", e.0))
    }

    /// Frees the `n` oldest entries: a checkpoint naming the new head
    /// first, then the ring space.
    pub fn free(&mut self, n: usize) -> Result<(), String> {
        let n = n.min(self.live.len());
        let mut ring = *self.writer.ring();
        for live in self.live.iter().take(n) {
            ring.release(live.extent).map_err(|e| format!("{e:?}"))?;
        }
        let head_seq = self.live.get(n).map_or(self.writer.next_seq(), |l| l.seq);
        let head_epoch = match n {
            0 => self.head_epoch,
            n => self.live[n - 1].epoch,
        };
        let cp = self
            .cp
            .advanced(&ring, head_seq, head_epoch, self.writer.next_seq())
            .map_err(|e| e.text().to_string())?;
        self.write_checkpoint(&cp)?;
        for _ in 0..n {
            if let Some(live) = self.live.pop_front() {
                self.writer
                    .release(live.extent)
                    .map_err(|e| format!("{e:?}"))?;
                self.head_epoch = live.epoch;
            }
        }
        Ok(())
    }

    /// Writes a checkpoint without freeing anything (as at clean suspend).
    pub fn checkpoint(&mut self) -> Result<(), String> {
        self.free(0)
    }

    /// Records `positions` in the checkpoints written from now on.
    pub fn set_positions(&mut self, positions: SlinkPositions) {
        self.cp.slinks = positions;
    }
}
