//! Host tests of the grammar: one file per concept, plus property tests.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::vec::Vec;

mod backlog;
mod blockdev;
mod completion;
mod dirty_log;
mod error;
mod fallbehind;
mod label;
mod message;
mod number;
mod policy;
mod region_records;
mod props;
mod replicator_dev_table;
mod replicator_table;
mod ringbuffer;
mod unapplied;

/// Splits a line into words the way dm does.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Parses `line` with the path `parse` and returns the canonical text or
/// the error message.
macro_rules! emit_with {
    ($line:expr, $parse:path) => {{
        let w = $crate::logic::tests::words($line);
        $parse(&w)
            .map(|v| std::string::ToString::to_string(&v))
            .map_err(|e| e.text())
    }};
}
use emit_with;
