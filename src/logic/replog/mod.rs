//! The ring-buffer replication log ("replog"): on-disk format and the pure
//! logic around it, without I/O.
//!
//! Every write to a device of a replication group becomes an *entry* in
//! one ordered ring on the log device before it is acknowledged; the local
//! device and the remote site links are updated from the entries, and an
//! entry's space is freed once every site link (slink) that needs it has
//! it. The layout is in `Documentation/replog-format.rst`:
//!
//! ```text
//! block 0        superblock (written once, by format)
//! blocks 1, 2    checkpoint slots (alternating, generation % 2)
//! blocks 3..     the ring: entries, each a header block plus data blocks
//! ```
//!
//! The kernel does the I/O and calls in here to encode and decode blocks
//! ([`superblock`], [`checkpoint`], [`entry`]), to place entries in the
//! ring ([`ring`], [`writer`]), to format a log ([`format`](mod@format)), to find the
//! tail after a crash ([`recovery`]) and to decide what `open`, `create`
//! and `auto` do ([`open`]). The `replog` tool (`tools/replog`) uses the
//! same code to check and dump logs.
//!
//! Like the rest of `logic`: `no_std`, no allocation, no panics reachable
//! from disk contents. Blocks are caller-provided `[u8; 4096]` buffers
//! (kernel stacks are small), fields are little-endian at fixed offsets,
//! and the CRC-32C implementation is a type parameter ([`Crc32c`]).

pub mod checkpoint;
pub mod checksum;
pub mod entry;
pub mod error;
pub mod format;
pub mod geometry;
pub(crate) mod le;
pub mod open;
pub mod recovery;
pub mod ring;
pub mod slinks;
pub mod superblock;
pub mod writer;

pub use checkpoint::{Checkpoint, SlinkPositions};
pub use checksum::{Crc32c, DataCrc};
pub use entry::{EntryFlags, EntryHeader};
pub use error::{FormatError, LogError, ReadError, WriteError};
pub use format::{format, BlockWriter};
pub use geometry::{Block, BLOCK_SIZE};
pub use open::{decide, load, Action, Loaded};
pub use recovery::{
    scan, BlockReader, DataCheck, Recovered, Resume, ScanEnd, ScannedEntry, Scanner,
};
pub use ring::{Extent, Ring, RingError};
pub use slinks::SlinkBitmap;
pub use superblock::Superblock;
pub use writer::{AppendError, Op, Writer};

#[cfg(test)]
pub(crate) mod tests;
