//! Plain-Rust logic of dm-replicator, built for host tests and tools.
#![no_std]
#![forbid(unsafe_code)]
#[cfg(test)]
extern crate std;
#[path = "mod.rs"]
mod logic;
pub use logic::*;
