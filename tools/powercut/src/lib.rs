//! `powercut`: the states a power cut can leave on a device group, and
//! whether dm-replicator recovers every acknowledged write from each.
//!
//! [`record`] serves the group's devices through the kernel's NBD client
//! ([`nbd`]) while a load runs, and keeps every write, flush and FUA in
//! the one order they completed, with the load's acknowledgements as
//! marks among them ([`trace`]). [`cut`] builds from that history the
//! contents a power cut at any point leaves (flushed writes kept,
//! unflushed ones kept, lost or torn), and [`check`] puts each such state
//! on RAM disks, activates the group's tables with the DM ioctls ([`dm`])
//! and verifies the data and the log; a remote site's copy is checked for
//! write order ([`order`]) and for catching up. See
//! `Documentation/testing.rst`.

pub mod check;
pub mod cli;
pub mod cut;
pub mod dm;
pub mod nbd;
pub mod order;
pub mod record;
pub mod sys;
pub mod trace;
