//! `crashwriter`: a write load whose every block says what wrote it, and
//! the verifier that checks, after a crash, that every acknowledged write
//! is still there.
//!
//! The writer fills each 4 KiB block with eight 512-byte self-describing
//! sectors ([`record`]), writes it with `O_DIRECT` and only then prints
//! `A <seq> <dev> <first-block> <nblocks>` ([`acks`]). After the crash the
//! verifier ([`verify`]) reads every block back: a block covered by an
//! acknowledged write must hold, in every sector, a record of that block
//! with a sequence number at least that of the newest acknowledged write
//! covering it.
//!
//! Records are per sector, not per block, because a write that was in
//! flight at the crash may land torn at sector granularity; each sector of
//! a torn write is then either the old or the new record, and both are
//! fine.
//!
//! The write-order fidelity test has its own load ([`order`]): one thread,
//! one block and one `fdatasync` per write, from a sequence the seed
//! defines ([`order_write`]); its checker ([`order_check`]) requires a
//! device to be exactly the state after some prefix of that sequence.
//!
//! The group write-order test ([`group`]) runs several threads on several
//! devices, each write recording how many writes were logged (acknowledged
//! and synced) before it was issued ([`group_write`]); its checker
//! ([`group_check`]) requires every write that a write found on the
//! devices depends on to be there as well.

pub mod acks;
pub mod cli;
pub mod group;
pub mod group_check;
pub mod group_write;
pub mod order;
pub mod order_check;
pub mod order_cli;
pub mod order_log;
pub mod order_write;
pub mod record;
pub mod rng;
pub mod verify;
pub mod writer;

/// Bytes per block: the unit of the load and of the verification.
pub const BLOCK_SIZE: usize = 4096;
/// Bytes per sector: the unit of a record.
pub const SECTOR_SIZE: usize = 512;
/// Sectors per block.
pub const SECTORS_PER_BLOCK: usize = BLOCK_SIZE / SECTOR_SIZE;
/// The longest write, in blocks.
pub const MAX_WRITE_BLOCKS: u64 = 16;
