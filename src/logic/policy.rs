//! Site link policy: how writes wait for a site link.
//!
//! Grammar: words joined by `+`, each word `synchronous`, `asynchronous` or
//! `stall`, or any unambiguous prefix of one (`sync`, `async`, `a`, `st`;
//! `s` is ambiguous). `stall` alone means `asynchronous+stall`. The
//! canonical form is long, with `+stall` last.

use core::fmt;

use super::error::TableError;

/// A site link policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Writes complete only after this site link has them; otherwise
    /// asynchronous: the replication log absorbs the backlog.
    pub synchronous: bool,
    /// When the replication log is full, writers wait instead of the site
    /// link falling back to dirty-log tracking.
    pub stall: bool,
}

/// One policy word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Synchronous,
    Asynchronous,
    Stall,
}

/// The policy words with their long names.
const WORDS: [(&str, Word); 3] = [
    ("synchronous", Word::Synchronous),
    ("asynchronous", Word::Asynchronous),
    ("stall", Word::Stall),
];

/// Resolves a possibly abbreviated word.
fn word(part: &str) -> Result<Word, TableError> {
    if part.is_empty() {
        return Err(TableError::PolicyEmpty);
    }
    let mut matches = WORDS.iter().filter(|(name, _)| name.starts_with(part));
    match (matches.next(), matches.next()) {
        (Some(&(_, w)), None) => Ok(w),
        (Some(_), Some(_)) => Err(TableError::PolicyAmbiguous),
        (None, _) => Err(TableError::PolicyUnknown),
    }
}

impl Policy {
    /// `asynchronous`, the default of a site link.
    pub const ASYNCHRONOUS: Policy = Policy {
        synchronous: false,
        stall: false,
    };
    /// `synchronous`.
    pub const SYNCHRONOUS: Policy = Policy {
        synchronous: true,
        stall: false,
    };

    /// Parses a policy word such as `async+stall`.
    pub fn parse(text: &str) -> Result<Policy, TableError> {
        let (mut sync, mut asynchronous, mut stall) = (false, false, false);
        for part in text.split('+') {
            let seen = match word(part)? {
                Word::Synchronous => &mut sync,
                Word::Asynchronous => &mut asynchronous,
                Word::Stall => &mut stall,
            };
            if *seen {
                return Err(TableError::PolicyRepeated);
            }
            *seen = true;
        }
        if sync && asynchronous {
            return Err(TableError::PolicySyncAsync);
        }
        Ok(Policy {
            synchronous: sync,
            stall,
        })
    }

    /// Whether writes wait for this site link.
    pub fn is_synchronous(&self) -> bool {
        self.synchronous
    }

    /// Whether writers stall when the replication log is full.
    pub fn is_stall(&self) -> bool {
        self.stall
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.synchronous {
            "synchronous"
        } else {
            "asynchronous"
        })?;
        if self.stall {
            f.write_str("+stall")?;
        }
        Ok(())
    }
}
