//! Plain-Rust logic of dm-replicator: the grammar of both targets' table
//! lines and messages.
//!
//! This module has no kernel dependency. The kernel module includes it as
//! `mod logic;` and the host crate `dmr-logic` (`host.rs`) includes it for
//! tests and tools, so everything here is `no_std` without `alloc`: input
//! is the argument vector dm already split on white space
//! (`&'a [&'a str]`), results borrow from it, errors are static C strings
//! for `ti->error`, and parsed specs print their canonical table text with
//! `Display` (what `dmsetup table` shows).
//!
//! Nothing reachable from input may panic: no indexing, no `unwrap`, no
//! unchecked arithmetic.
//!
//! - [`replicator_table`]: `replicator` table (replication log + site links).
//! - [`replicator_dev_table`]: `replicator-dev` table (one device on each
//!   site link, with its dirty log).
//! - [`message`]: messages of both targets.
//! - [`ringbuffer`], [`blockdev`], [`dirty_log`]: the parameters of the
//!   replication log, site link and dirty log groups.
//! - [`policy`], [`completion`], [`fallbehind`], [`slink`], [`number`],
//!   [`framing`]: words and framing shared by the above.
//! - [`backlog`]: a site link's backlog, counted incrementally.
//! - [`label`]: replica labels (group, device, role, generation) and the
//!   rules that refuse a wrong or stale copy.
//! - [`unapplied`]: the range lock of reads over writes not yet on
//!   their local device.
//! - [`error`]: every error message.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::arithmetic_side_effects
)]

pub mod backlog;
pub mod blockdev;
pub mod completion;
pub mod dirty_log;
pub mod error;
pub mod fallbehind;
pub mod framing;
pub mod label;
pub mod message;
pub mod number;
pub mod policy;
pub mod region_records;
pub mod replicator_dev_table;
pub mod replicator_table;
pub mod replog;
pub mod ringbuffer;
pub mod slink;
pub mod unapplied;

#[cfg(test)]
mod tests;
