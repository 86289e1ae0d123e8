//! The range lock of reads over writes journaled but not yet on their
//! local device: which counters of a table an entry counts in, and which
//! a read looks at. The table itself, of atomics, is the log's
//! (`ringbuffer/unapplied.rs`); the rule it relies on is tested here: a
//! read that overlaps a counted entry always finds one of its counters
//! non-zero.
//!
//! A device is cut into chunks of 64 KiB; chunk `c` of device `d` counts
//! in counter [`bucket`]`(d, c)` of [`BUCKETS`]. An entry counts once in
//! each chunk it touches, or, over more than [`WIDE_CHUNKS`] chunks, once
//! in the table's wide counter (which every read waits for). A read over
//! more than [`READ_CHUNKS`] chunks waits while anything is counted.

/// Counters of the table, as a power of two.
const BUCKET_BITS: u32 = 13;
/// Counters of the table.
pub const BUCKETS: usize = 1 << BUCKET_BITS;
/// Sectors of a chunk, as a shift (64 KiB).
const CHUNK_SHIFT: u32 = 7;
/// An entry over more chunks than this counts in the wide counter.
const WIDE_CHUNKS: u64 = 8;
/// A read over more chunks than this waits for every entry.
const READ_CHUNKS: u64 = 64;

/// What an entry or a read touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cells {
    /// Nothing: no sectors.
    Nothing,
    /// The counters of chunks `first..=last` of device `dev`.
    Chunks { dev: u32, first: u64, last: u64 },
    /// Too many chunks: an entry counts in the wide counter; a read
    /// waits while any entry is counted.
    Wide,
}

impl Cells {
    fn new(dev: u32, sector: u64, sectors: u32, most: u64) -> Cells {
        let Some(len) = u64::from(sectors).checked_sub(1) else { return Cells::Nothing };
        let first = sector >> CHUNK_SHIFT;
        let last = sector.saturating_add(len) >> CHUNK_SHIFT;
        if last.saturating_sub(first) >= most {
            Cells::Wide
        } else {
            Cells::Chunks { dev, first, last }
        }
    }

    /// Where an entry of `sectors` sectors at `sector` of `dev` counts.
    pub fn entry(dev: u32, sector: u64, sectors: u32) -> Cells {
        Cells::new(dev, sector, sectors, WIDE_CHUNKS)
    }

    /// What a read of `sectors` sectors at `sector` of `dev` looks at.
    pub fn read(dev: u32, sector: u64, sectors: u32) -> Cells {
        Cells::new(dev, sector, sectors, READ_CHUNKS)
    }

    /// The counters of [`Cells::Chunks`] (none for the others).
    pub fn buckets(self) -> impl Iterator<Item = usize> {
        let (dev, range) = match self {
            Cells::Chunks { dev, first, last } => (dev, Some(first..=last)),
            Cells::Nothing | Cells::Wide => (0, None),
        };
        range.into_iter().flatten().map(move |c| bucket(dev, c))
    }
}

/// The counter of chunk `chunk` of device `dev`: a multiplicative hash,
/// so neighbouring chunks and devices spread over the table.
pub fn bucket(dev: u32, chunk: u64) -> usize {
    let h = (chunk ^ (u64::from(dev) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The top bits index the table.
    (h >> (u64::BITS - BUCKET_BITS)) as usize
}
