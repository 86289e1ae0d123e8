//! `replog dirty`: the out-of-sync regions of a dm-log `disk` dirty log,
//! as extents, for a failback.
//!
//! ```text
//! replog dirty <device-or-image> --region-size <sectors> [--offset <sectors>] [--length <sectors>]
//! ```
//!
//! Reads the log as dm-log (`drivers/md/dm-log.c`) writes it, `offset`
//! sectors into the device or image:
//!
//! ```text
//! byte 0     __le32 magic       0x4d695272 (MIRROR_MAGIC, "MiRr")
//! byte 4     __le32 version     2 (MIRROR_DISK_VERSION; 1 is read as 2,
//!                               as a little-endian kernel does)
//! byte 8     __le64 nr_regions  regions the bitmap covers
//! byte 1024  clean bits         (LOG_OFFSET = 2 sectors) one bit per
//!                               region: bit r is bit r % 8 of byte r / 8
//!                               (test_bit_le); set = clean (in sync)
//! ```
//!
//! Region `r` covers sectors `r * R .. (r + 1) * R` (`R` = `--region-size`,
//! a power of two of at least 8, as the tables take it). On stdout, and
//! nothing else there, one line per maximal run of out-of-sync (clear)
//! regions, ascending:
//!
//! ```text
//! <sector> <sectors>
//! ```
//!
//! With `--length L` (the device's size in sectors) the regions are those
//! of the device, `ceil(L / R)`, as at the kernel's resume: regions the
//! header does not cover (the device grew) count as out of sync, bits past
//! the device (it shrank) are ignored, and the last extent ends at `L`.
//! Without it the regions are the header's `nr_regions`.
//!
//! Notes and a summary go to stderr, each line starting `replog dirty: `.
//!
//! Exit status: 0 done; 2 not a usable dirty log (bad magic, which the
//! kernel would take as a new log with every region out of sync; unknown
//! version; a bitmap shorter than `nr_regions`): nothing on stdout, the
//! reason on stderr; 3 usage, cannot open or read (output may be partial:
//! discard it).

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use dmr_logic::replog::geometry::SECTOR_SIZE;

/// dm-log's `MIRROR_MAGIC` ("MiRr").
pub const MIRROR_MAGIC: u32 = 0x4D69_5272;

/// dm-log's `MIRROR_DISK_VERSION`.
pub const MIRROR_DISK_VERSION: u32 = 2;

/// Byte offset of the clean bitmap: dm-log's `LOG_OFFSET` (2 sectors).
pub const BITMAP_OFFSET: u64 = 2 * SECTOR_SIZE;

/// Bytes of `struct log_header_disk`.
pub const HEADER_BYTES: usize = 16;

/// Bitmap bytes read at a time.
const CHUNK: usize = 1 << 20;

/// Why a dirty log cannot be read.
#[derive(Debug)]
pub enum DirtyError {
    /// Not dm-log's magic.
    Magic(u32),
    /// A version dm-log does not read.
    Version(u32),
    /// The header or bitmap extends past the end of the device.
    Short {
        /// Bytes needed from the log start.
        need: u128,
        /// Bytes there are.
        have: u64,
    },
    /// An out-of-sync region lies past 2^64 sectors.
    TooLarge,
    /// Reading the log or writing the output failed.
    Io(io::Error),
}

impl DirtyError {
    /// The exit status: 2 for a log that cannot be used, 3 for I/O.
    pub fn exit_code(&self) -> i32 {
        match self {
            DirtyError::Io(_) => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for DirtyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyError::Magic(m) => write!(
                f,
                "bad magic {m:#010x} (not {MIRROR_MAGIC:#010x}): not a disk dirty log (the kernel would take every region as out of sync)"
            ),
            DirtyError::Version(v) => write!(
                f,
                "unsupported dirty log version {v} (not {MIRROR_DISK_VERSION})"
            ),
            DirtyError::Short { need, have } => write!(
                f,
                "dirty log needs {need} bytes for its header and bitmap, {have} available"
            ),
            DirtyError::TooLarge => f.write_str("out-of-sync region beyond 2^64 sectors"),
            DirtyError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for DirtyError {
    fn from(e: io::Error) -> DirtyError {
        DirtyError::Io(e)
    }
}

/// The decoded `struct log_header_disk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Version read (1 or 2).
    pub version: u32,
    /// Regions the bitmap covers.
    pub nr_regions: u64,
}

impl Header {
    /// Decodes and checks the header.
    pub fn decode(b: &[u8; HEADER_BYTES]) -> Result<Header, DirtyError> {
        let [m0, m1, m2, m3, v0, v1, v2, v3, n @ ..] = *b;
        let magic = u32::from_le_bytes([m0, m1, m2, m3]);
        let version = u32::from_le_bytes([v0, v1, v2, v3]);
        let nr_regions = u64::from_le_bytes(n);
        if magic != MIRROR_MAGIC {
            return Err(DirtyError::Magic(magic));
        }
        // A little-endian kernel reads version 1 as 2 (same layout).
        if version != MIRROR_DISK_VERSION && version != 1 {
            return Err(DirtyError::Version(version));
        }
        Ok(Header {
            version,
            nr_regions,
        })
    }

    /// Bitmap bytes for `nr_regions`.
    pub fn bitmap_bytes(&self) -> u64 {
        self.nr_regions.div_ceil(8)
    }
}

/// An extent of sectors, `<sector> <sectors>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First sector.
    pub sector: u64,
    /// Length in sectors.
    pub sectors: u64,
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.sector, self.sectors)
    }
}

/// The regions considered: which come from the bitmap, which are out of
/// sync because the header does not cover them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regions {
    /// Region size in sectors (at least 1).
    pub region_size: u64,
    /// Regions of the device: `ceil(length / region_size)`, or the
    /// header's count without a length.
    pub count: u64,
    /// Regions read from the bitmap: `min(count, nr_regions)`.
    pub from_bitmap: u64,
    /// Where extents end: the length, if given.
    pub limit: Option<u64>,
}

impl Regions {
    /// The regions of a device of `length` sectors (or of the header's
    /// count) at `region_size` (at least 1; 0 is taken as 1).
    pub fn new(header: &Header, region_size: u64, length: Option<u64>) -> Regions {
        let region_size = region_size.max(1);
        let count = length.map_or(header.nr_regions, |l| l.div_ceil(region_size));
        Regions {
            region_size,
            count,
            from_bitmap: count.min(header.nr_regions),
            limit: length,
        }
    }
}

/// Counts of what was found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Out-of-sync regions.
    pub regions: u64,
    /// Extents written.
    pub extents: u64,
    /// Sectors in them.
    pub sectors: u64,
}

/// Merges out-of-sync regions, ascending, into extents.
struct Merger<'a> {
    regions: Regions,
    /// The run being built: first region, region after the last.
    run: Option<(u64, u64)>,
    tally: Tally,
    emit: &'a mut dyn FnMut(Extent) -> io::Result<()>,
}

impl Merger<'_> {
    /// Regions `from..to` are out of sync (`from` not below any earlier).
    fn dirty(&mut self, from: u64, to: u64) -> Result<(), DirtyError> {
        if from >= to {
            return Ok(());
        }
        self.tally.regions = self.tally.regions.saturating_add(to - from);
        match self.run {
            Some((start, end)) if end == from => self.run = Some((start, to)),
            _ => {
                self.flush()?;
                self.run = Some((from, to));
            }
        }
        Ok(())
    }

    /// Writes the run being built.
    fn flush(&mut self) -> Result<(), DirtyError> {
        let Some((first, end)) = self.run.take() else {
            return Ok(());
        };
        let size = u128::from(self.regions.region_size);
        let start = u128::from(first) * size;
        let mut stop = u128::from(end) * size;
        if let Some(limit) = self.regions.limit {
            stop = stop.min(u128::from(limit));
        }
        if stop <= start {
            return Ok(());
        }
        let sector = u64::try_from(start).map_err(|_| DirtyError::TooLarge)?;
        let sectors = u64::try_from(stop - start).map_err(|_| DirtyError::TooLarge)?;
        // The extent must end within 64 bits too.
        u64::try_from(stop).map_err(|_| DirtyError::TooLarge)?;
        (self.emit)(Extent { sector, sectors })?;
        self.tally.extents = self.tally.extents.saturating_add(1);
        self.tally.sectors = self.tally.sectors.saturating_add(sectors);
        Ok(())
    }

    /// The clear bits of `bytes`, the bitmap from region `first` (a
    /// multiple of 8), up to region `end`.
    fn bitmap(&mut self, first: u64, bytes: &[u8], end: u64) -> Result<(), DirtyError> {
        for (i, &byte) in (0u64..).zip(bytes) {
            let base = first.saturating_add(i.saturating_mul(8));
            if byte == 0xff && base.saturating_add(8) <= end {
                continue;
            }
            for bit in 0..8u64 {
                let region = base.saturating_add(bit);
                if region >= end {
                    return Ok(());
                }
                if byte & (1 << bit) == 0 {
                    self.dirty(region, region + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Walks the out-of-sync regions: bitmap bytes come from `read(byte
/// offset in the bitmap, buffer)`, each merged extent goes to `emit`.
pub fn walk(
    header: &Header,
    regions: Regions,
    read: &mut dyn FnMut(u64, &mut [u8]) -> io::Result<()>,
    emit: &mut dyn FnMut(Extent) -> io::Result<()>,
) -> Result<Tally, DirtyError> {
    walk_by(header, regions, CHUNK, read, emit)
}

/// [`walk`], reading at most `chunk` (at least 1) bitmap bytes at a time.
fn walk_by(
    header: &Header,
    regions: Regions,
    chunk: usize,
    read: &mut dyn FnMut(u64, &mut [u8]) -> io::Result<()>,
    emit: &mut dyn FnMut(Extent) -> io::Result<()>,
) -> Result<Tally, DirtyError> {
    let chunk = chunk.max(1);
    let mut m = Merger {
        regions,
        run: None,
        tally: Tally::default(),
        emit,
    };
    let bytes = regions.from_bitmap.div_ceil(8);
    let mut buf = vec![0u8; usize::try_from(bytes).map_or(chunk, |b| b.min(chunk))];
    let mut at = 0u64;
    while at < bytes {
        let n = usize::try_from(bytes - at).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..n).unwrap_or_default();
        read(at, chunk)?;
        m.bitmap(at.saturating_mul(8), chunk, regions.from_bitmap)?;
        at = at.saturating_add(n as u64);
    }
    // Regions the header does not cover: the kernel clears their bits.
    m.dirty(regions.from_bitmap.max(header.nr_regions), regions.count)?;
    m.flush()?;
    Ok(m.tally)
}

/// The extents of a dirty log whose header and bitmap are `log` (from its
/// first byte), for tests and small logs.
pub fn extents(
    log: &[u8],
    region_size: u64,
    length: Option<u64>,
) -> Result<Vec<Extent>, DirtyError> {
    let mut head = [0u8; HEADER_BYTES];
    let have = log.len() as u64;
    let need_header = HEADER_BYTES as u128;
    let bytes = log.get(..HEADER_BYTES).ok_or(DirtyError::Short {
        need: need_header,
        have,
    })?;
    head.copy_from_slice(bytes);
    let header = Header::decode(&head)?;
    let need = u128::from(BITMAP_OFFSET) + u128::from(header.bitmap_bytes());
    if need > u128::from(have) {
        return Err(DirtyError::Short { need, have });
    }
    let bitmap = log.get(BITMAP_OFFSET as usize..).unwrap_or_default();
    let mut out = Vec::new();
    walk(
        &header,
        Regions::new(&header, region_size, length),
        &mut |at, buf| {
            let from = usize::try_from(at).unwrap_or(usize::MAX);
            let src = from
                .checked_add(buf.len())
                .and_then(|to| bitmap.get(from..to))
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(src);
            Ok(())
        },
        &mut |e| {
            out.push(e);
            Ok(())
        },
    )?;
    Ok(out)
}

/// The dirty log in `file`, `offset` bytes in: its header, checked to fit
/// with its bitmap.
pub fn open(file: &mut File, offset: u64) -> Result<Header, DirtyError> {
    let len = file.seek(SeekFrom::End(0))?;
    let have = len.saturating_sub(offset);
    let need = HEADER_BYTES as u128;
    if need > u128::from(have) {
        return Err(DirtyError::Short { need, have });
    }
    let mut head = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut head, offset)?;
    let header = Header::decode(&head)?;
    let need = u128::from(BITMAP_OFFSET) + u128::from(header.bitmap_bytes());
    if need > u128::from(have) {
        return Err(DirtyError::Short { need, have });
    }
    Ok(header)
}

/// `replog dirty`: reads the dirty log at `path`, `offset` sectors in,
/// and writes its out-of-sync extents. `Err` if it cannot be opened or
/// read, or the output written (exit status 3).
pub fn command(
    path: &Path,
    offset: u64,
    region_size: u64,
    length: Option<u64>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let base = offset
        .checked_mul(SECTOR_SIZE)
        .ok_or("--offset too large")?;
    let header = match open(&mut file, base) {
        Ok(h) => h,
        Err(DirtyError::Io(e)) => return Err(e.to_string()),
        Err(e) => {
            let _ = writeln!(err, "replog dirty: {}: {e}", path.display());
            return Ok(e.exit_code());
        }
    };
    let regions = Regions::new(&header, region_size, length);
    let mut notes = Vec::new();
    if let Some(l) = length {
        if regions.count > header.nr_regions {
            notes.push(format!(
                "the log covers {} regions, --length {l} at region size {} has {}: regions {}.. count as out of sync (device grown, or another region size)",
                header.nr_regions, regions.region_size, regions.count, header.nr_regions
            ));
        } else if regions.count < header.nr_regions {
            notes.push(format!(
                "the log covers {} regions, --length {l} at region size {} has {}: regions {}.. ignored (device shrunk, or another region size)",
                header.nr_regions, regions.region_size, regions.count, regions.count
            ));
        }
    }
    let mut w = BufWriter::new(out);
    let bitmap_start = base.saturating_add(BITMAP_OFFSET);
    let result = walk(
        &header,
        regions,
        &mut |at, buf| file.read_exact_at(buf, bitmap_start.saturating_add(at)),
        &mut |e| writeln!(w, "{e}"),
    );
    let tally = match result {
        Ok(t) => t,
        Err(DirtyError::Io(e)) => return Err(e.to_string()),
        Err(e) => {
            let _ = writeln!(err, "replog dirty: {}: {e}", path.display());
            return Ok(e.exit_code());
        }
    };
    w.flush().map_err(|e| e.to_string())?;
    for note in &notes {
        let _ = writeln!(err, "replog dirty: {note}");
    }
    let _ = writeln!(
        err,
        "replog dirty: {} of {} regions out of sync: {} extents, {} sectors",
        tally.regions, regions.count, tally.extents, tally.sectors
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dm-log image: header, zero to byte 1024, then `bits` (clean bits,
    /// `true` = in sync), padded to whole `u64` words as dm-log does.
    fn image(magic: u32, version: u32, nr_regions: u64, bits: &[bool]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(magic.to_le_bytes());
        b.extend(version.to_le_bytes());
        b.extend(nr_regions.to_le_bytes());
        b.resize(BITMAP_OFFSET as usize, 0);
        let mut map = vec![0u8; bits.len().div_ceil(64) * 8];
        for (i, _) in bits.iter().enumerate().filter(|(_, &clean)| clean) {
            map[i / 8] |= 1 << (i % 8);
        }
        b.extend(map);
        b
    }

    fn clean_except(n: usize, dirty: &[usize]) -> Vec<bool> {
        (0..n).map(|i| !dirty.contains(&i)).collect()
    }

    fn lines(v: &[Extent]) -> Vec<String> {
        v.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn header_checks() {
        let ok = image(MIRROR_MAGIC, 2, 5, &[]);
        let head: [u8; 16] = ok[..16].try_into().unwrap();
        assert_eq!(
            Header::decode(&head).unwrap(),
            Header {
                version: 2,
                nr_regions: 5
            }
        );
        assert_eq!(&ok[..4], &[0x72, 0x52, 0x69, 0x4d]); // "rRiM" on disk
        let v1 = image(MIRROR_MAGIC, 1, 5, &[]);
        assert_eq!(
            Header::decode(&v1[..16].try_into().unwrap())
                .unwrap()
                .version,
            1
        );
        let bad = image(0x6469_7274, 2, 5, &[]);
        let e = Header::decode(&bad[..16].try_into().unwrap()).unwrap_err();
        assert!(matches!(e, DirtyError::Magic(0x6469_7274)));
        assert_eq!(e.exit_code(), 2);
        assert!(e
            .to_string()
            .starts_with("bad magic 0x64697274 (not 0x4d695272)"));
        let e =
            Header::decode(&image(MIRROR_MAGIC, 3, 5, &[])[..16].try_into().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "unsupported dirty log version 3 (not 2)");
    }

    #[test]
    fn runs_merge() {
        let log = image(
            MIRROR_MAGIC,
            2,
            20,
            &clean_except(20, &[0, 1, 2, 5, 7, 8, 19]),
        );
        let e = extents(&log, 8, None).unwrap();
        assert_eq!(lines(&e), ["0 24", "40 8", "56 16", "152 8"]);
    }

    #[test]
    fn all_clean_and_all_dirty() {
        let log = image(MIRROR_MAGIC, 2, 100, &clean_except(100, &[]));
        assert!(extents(&log, 1024, None).unwrap().is_empty());
        let log = image(MIRROR_MAGIC, 2, 100, &[false; 100]);
        assert_eq!(lines(&extents(&log, 1024, None).unwrap()), ["0 102400"]);
    }

    #[test]
    fn bits_past_nr_regions_are_ignored() {
        // dm-log clears the bits past the region count: not regions.
        let log = image(MIRROR_MAGIC, 2, 10, &clean_except(10, &[9]));
        assert_eq!(lines(&extents(&log, 8, None).unwrap()), ["72 8"]);
    }

    #[test]
    fn length_clips_grows_and_shrinks() {
        let log = image(MIRROR_MAGIC, 2, 10, &clean_except(10, &[3, 9]));
        // 76 sectors: 10 regions, the last one 4 sectors.
        assert_eq!(
            lines(&extents(&log, 8, Some(76)).unwrap()),
            ["24 8", "72 4"]
        );
        // Grown to 100 sectors: regions 10..12 out of sync, merged with 9.
        assert_eq!(
            lines(&extents(&log, 8, Some(100)).unwrap()),
            ["24 8", "72 28"]
        );
        // Shrunk to 30 sectors: region 9 is past the end.
        assert_eq!(lines(&extents(&log, 8, Some(30)).unwrap()), ["24 6"]);
        assert!(extents(&log, 8, Some(0)).unwrap().is_empty());
    }

    #[test]
    fn a_short_bitmap_is_damage() {
        let mut log = image(MIRROR_MAGIC, 2, 1000, &[true; 1000]);
        log.truncate(1024 + 100);
        let e = extents(&log, 8, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dirty log needs 1149 bytes for its header and bitmap, 1124 available"
        );
        assert_eq!(e.exit_code(), 2);
        let e = extents(&[0; 10], 8, None).unwrap_err();
        assert!(matches!(e, DirtyError::Short { need: 16, have: 10 }));
    }

    #[test]
    fn huge_regions_do_not_overflow() {
        let log = image(MIRROR_MAGIC, 2, 10, &clean_except(10, &[8, 9]));
        let e = extents(&log, 1 << 62, None).unwrap_err();
        assert!(matches!(e, DirtyError::TooLarge));
        let log = image(MIRROR_MAGIC, 2, 10, &clean_except(10, &[1]));
        assert_eq!(
            lines(&extents(&log, 1 << 62, None).unwrap()),
            [format!("{} {}", 1u64 << 62, 1u64 << 62)]
        );
    }

    #[test]
    fn chunked_reads_give_the_same_extents() {
        let n = 70_000u64;
        let header = Header {
            version: 2,
            nr_regions: n,
        };
        let dirty = |r: u64| r % 1000 < 3 || (30_000..30_100).contains(&r);
        let mut map = vec![0u8; n.div_ceil(8) as usize];
        for r in (0..n).filter(|&r| !dirty(r)) {
            map[(r / 8) as usize] |= 1 << (r % 8);
        }
        let mut reads = 0;
        let mut got = Vec::new();
        let tally = walk_by(
            &header,
            Regions::new(&header, 8, None),
            1000,
            &mut |at, buf| {
                reads += 1;
                buf.copy_from_slice(&map[at as usize..at as usize + buf.len()]);
                Ok(())
            },
            &mut |e| {
                got.push(e);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(reads, 9);
        assert_eq!(tally.regions, 70 * 3 + 97);
        assert_eq!(tally.extents, 70);
        assert_eq!(
            got[30],
            Extent {
                sector: 30_000 * 8,
                sectors: 100 * 8
            }
        );
        assert_eq!(
            got[0],
            Extent {
                sector: 0,
                sectors: 24
            }
        );
    }
}
