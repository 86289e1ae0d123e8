//! A log on a file or block device, `offset` sectors in.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use dmr_logic::replog::geometry::{Block, BLOCK_SIZE, SECTOR_SIZE};
use dmr_logic::replog::{BlockReader, BlockWriter, ReadError, WriteError};

/// `EIO`, for short reads and offsets past 64 bits.
const EIO: i32 = 5;

/// The blocks of a log, counted from its start.
pub struct Image {
    file: File,
    /// Byte offset of the log start.
    offset: u64,
    /// Whether each write is synced before the next (format's ordering).
    sync_writes: bool,
}

impl Image {
    /// Opens `path` read-only; the log starts `offset` sectors in.
    pub fn open(path: &Path, offset: u64) -> io::Result<Image> {
        Image::with(File::open(path)?, offset)
    }

    /// Opens `path` for writing, creating a missing file and growing a
    /// short regular file to hold `sectors` sectors after the offset.
    pub fn create(path: &Path, offset: u64, sectors: u64) -> io::Result<Image> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let image = Image::with(file, offset)?;
        let meta = image.file.metadata()?;
        let end = image
            .offset
            .checked_add(sectors.checked_mul(SECTOR_SIZE).ok_or_else(too_large)?)
            .ok_or_else(too_large)?;
        if meta.is_file() && meta.len() < end {
            image.file.set_len(end)?;
        }
        Ok(image)
    }

    fn with(file: File, offset: u64) -> io::Result<Image> {
        Ok(Image {
            file,
            offset: offset.checked_mul(SECTOR_SIZE).ok_or_else(too_large)?,
            sync_writes: false,
        })
    }

    /// Makes every write durable before it returns.
    pub fn sync_writes(&mut self, on: bool) {
        self.sync_writes = on;
    }

    /// Sectors from the log start to the end of the file or device.
    pub fn avail_sectors(&mut self) -> io::Result<u64> {
        let len = self.file.seek(SeekFrom::End(0))?;
        Ok(len.saturating_sub(self.offset) / SECTOR_SIZE)
    }

    /// Byte position of log block `block`.
    fn position(&self, block: u64) -> Option<u64> {
        block
            .checked_mul(BLOCK_SIZE as u64)?
            .checked_add(self.offset)
    }
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset or size too large")
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(EIO)
}

impl BlockReader for Image {
    fn read(&mut self, block: u64, buf: &mut Block) -> Result<(), ReadError> {
        let pos = self.position(block).ok_or(ReadError(EIO))?;
        self.file
            .read_exact_at(buf, pos)
            .map_err(|e| ReadError(errno(&e)))
    }
}

impl BlockWriter for Image {
    fn write(&mut self, block: u64, buf: &Block) -> Result<(), WriteError> {
        let pos = self.position(block).ok_or(WriteError(EIO))?;
        self.file
            .write_all_at(buf, pos)
            .map_err(|e| WriteError(errno(&e)))?;
        if self.sync_writes {
            self.file.sync_data().map_err(|e| WriteError(errno(&e)))?;
        }
        Ok(())
    }
}
