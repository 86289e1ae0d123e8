//! Site link completion: how far a write must get at the site before a
//! write that waits for the site link completes.
//!
//! Grammar: exactly `disk` or `ram`, no abbreviation, so that the word
//! cannot be taken for a fall-behind type. Writes wait for a site link
//! when its policy is synchronous or it is past its fall-behind limit.

use core::fmt;

/// When a blockdev site link acknowledges a write that waits for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Completion {
    /// Once a flush of the remote device has completed after the copy: the
    /// data is durable at the site (DRBD protocol C).
    #[default]
    Disk,
    /// Once the remote device has completed the copy, without waiting for
    /// its flush: the data may still be in the device's volatile cache
    /// (DRBD protocol B). Less latency; a site that loses power may lose
    /// it, but the log keeps every entry until it is durable there.
    Ram,
}

impl Completion {
    /// Parses `disk` or `ram`; `None` for any other word.
    pub fn parse(word: &str) -> Option<Completion> {
        match word {
            "disk" => Some(Completion::Disk),
            "ram" => Some(Completion::Ram),
            _ => None,
        }
    }

    /// The keyword.
    pub fn name(&self) -> &'static str {
        match self {
            Completion::Disk => "disk",
            Completion::Ram => "ram",
        }
    }

    /// Whether writes complete before the remote flush.
    pub fn is_ram(&self) -> bool {
        *self == Completion::Ram
    }
}

impl fmt::Display for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A site link's mode in the `replicator` INFO status: `A` when writes do
/// not wait for it, `S` when they wait until the data is on the remote
/// disk, `M` when they wait only until it is in the remote device's
/// memory.
pub fn status_mode(synchronous_or_enforcing: bool, completion: Completion) -> char {
    match (synchronous_or_enforcing, completion) {
        (false, _) => 'A',
        (true, Completion::Disk) => 'S',
        (true, Completion::Ram) => 'M',
    }
}
