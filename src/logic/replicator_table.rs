//! The `replicator` target's table line.
//!
//! Grammar:
//! `<replog_type> <#replog_params> <replog_params...>
//! {<slink_type> <#slink_params> <slink_params...>}{1..N}`
//! with replog type `ringbuffer` and slink type `blockdev`. The first site
//! link is 0 (the local site) and no site link appears twice.

use core::fmt;

use super::error::TableError;
use super::framing::{split_framed, Framed, REPLOG, SLINK};
use super::slink::SlinkSet;

pub use super::blockdev::{check_policy_fallbehind, BlockdevParams};
pub use super::framing::split_group;
pub use super::ringbuffer::{OpenMode, RingbufferParams, REPLOG_MIN_SECTORS};
pub use super::slink::SLINK_MAX;

/// The only replication log type.
pub const REPLOG_RINGBUFFER: &str = "ringbuffer";
/// The only site link type.
pub const SLINK_BLOCKDEV: &str = "blockdev";

/// A validated `replicator` table line, borrowing its words.
#[derive(Clone, Copy, Debug)]
pub struct ReplicatorTable<'a> {
    /// Replication log type (`ringbuffer`).
    pub replog_type: &'a str,
    /// The replication log's parameters, as given.
    pub replog_params: &'a [&'a str],
    /// The site link groups, as given.
    pub slink_args: &'a [&'a str],
    /// The parsed replication log parameters.
    replog: RingbufferParams<&'a str>,
    /// Number of site link groups.
    slink_count: usize,
}

/// Parses one site link group off the front of `args`: returns the type,
/// the parameters and the rest.
pub fn split_slink<'a>(
    args: &'a [&'a str],
) -> Result<(&'a str, BlockdevParams, &'a [&'a str]), TableError> {
    let (kind, params, rest) = split_framed(args, &SLINK)?;
    if kind != SLINK_BLOCKDEV {
        return Err(TableError::SlinkTypeUnknown);
    }
    Ok((kind, BlockdevParams::parse(params)?, rest))
}

impl<'a> ReplicatorTable<'a> {
    /// Parses and validates a whole table line.
    pub fn parse(args: &'a [&'a str]) -> Result<ReplicatorTable<'a>, TableError> {
        let (replog_type, replog_params, slink_args) = split_framed(args, &REPLOG)?;
        if replog_type != REPLOG_RINGBUFFER {
            return Err(TableError::ReplogTypeUnknown);
        }
        let replog = RingbufferParams::parse(replog_params)?;
        if slink_args.is_empty() {
            return Err(TableError::SlinksMissing);
        }
        let mut seen = SlinkSet::new();
        let mut slink_count = 0usize;
        for slink in (Slinks { rest: slink_args }) {
            let (_, params) = slink?;
            if slink_count == 0 && params.slink != 0 {
                return Err(TableError::FirstSlinkNotZero);
            }
            if !seen.insert(params.slink) {
                return Err(TableError::SlinkDuplicate);
            }
            slink_count = slink_count.saturating_add(1);
        }
        Ok(ReplicatorTable {
            replog_type,
            replog_params,
            slink_args,
            replog,
            slink_count,
        })
    }

    /// The replication log parameters.
    pub fn replog(&self) -> RingbufferParams<&'a str> {
        self.replog
    }

    /// The site links in table order, as `(type, params)`. Items are `Ok`
    /// for a table from [`parse`](Self::parse) unless `slink_args` was
    /// changed since.
    pub fn slinks(&self) -> Slinks<'a> {
        Slinks {
            rest: self.slink_args,
        }
    }

    /// Number of site links.
    pub fn slink_count(&self) -> usize {
        self.slink_count
    }
}

/// Iterator over site link groups; stops after the first error.
#[derive(Clone, Debug)]
pub struct Slinks<'a> {
    /// Groups not yet walked.
    rest: &'a [&'a str],
}

impl<'a> Iterator for Slinks<'a> {
    type Item = Result<(&'a str, BlockdevParams), TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_slink(self.rest) {
            Ok((kind, params, rest)) => {
                self.rest = rest;
                Some(Ok((kind, params)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl fmt::Display for ReplicatorTable<'_> {
    /// Writes the canonical table line, as `dmsetup table` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Framed(self.replog_type, self.replog))?;
        for slink in self.slinks() {
            let (kind, params) = slink.map_err(|_| fmt::Error)?;
            write!(f, " {}", Framed(kind, params))?;
        }
        Ok(())
    }
}
