//! Fall-behind limit: how far an asynchronous site link may lag before
//! writes wait for it as if it were synchronous.
//!
//! Grammar: `<type> <N>[unit]` (or the old single word `<type>=<N>[unit]`),
//! type `ios` (a count, no unit), `size` (sectors), `data` (bytes, as
//! LVM2's libdm emitted it) or `timeout` (seconds without a unit, as
//! LVM2 emitted it; `t` for milliseconds).
//!
//! | type    | units (either case) | multipliers                                      |
//! |---------|---------------------|--------------------------------------------------|
//! | size    | `s k m g t p e`     | 1, 2, 2<<10, 2<<20, 2<<30, 2<<40, 2<<50 sectors  |
//! | data    | `k m g t p e`       | 1<<10 .. 1<<60 bytes (none: bytes), rounded up to sectors |
//! | timeout | `t s m h d`         | 1, 1000, 60000, 3600000, 86400000 ms (none: s)   |
//!
//! 1 KiB is 2 sectors; this fixes the 2009 code's off-by-one unit index.
//! The type word and the unit are kept as given, so the table is emitted
//! as it was written and reloads with the same meaning.

use core::fmt;

use super::error::TableError;
use super::number::{parse_u64, split_digits, NumberError};

/// What a fall-behind limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallBehindKind {
    /// Outstanding writes.
    Ios,
    /// Outstanding data, in sectors.
    Size,
    /// Outstanding data, written in bytes (LVM2's `data`), counted in
    /// sectors.
    Data,
    /// Age of the oldest outstanding write, in milliseconds.
    Timeout,
}

impl FallBehindKind {
    /// Parses `ios`, `size`, `data` or `timeout`.
    pub fn parse(word: &str) -> Result<FallBehindKind, TableError> {
        match word {
            "ios" => Ok(FallBehindKind::Ios),
            "size" => Ok(FallBehindKind::Size),
            "data" => Ok(FallBehindKind::Data),
            "timeout" => Ok(FallBehindKind::Timeout),
            _ => Err(TableError::FallBehindTypeUnknown),
        }
    }

    /// The canonical keyword.
    pub fn name(&self) -> &'static str {
        match self {
            FallBehindKind::Ios => "ios",
            FallBehindKind::Size => "size",
            FallBehindKind::Data => "data",
            FallBehindKind::Timeout => "timeout",
        }
    }

    /// The multiplier of `unit` (any case) for this type, `None` if the
    /// type has no such unit: to sectors for `size`, bytes for `data`,
    /// milliseconds for `timeout`. No unit is 1, but 1000 (seconds) for
    /// `timeout`.
    pub fn multiplier(&self, unit: Option<u8>) -> Option<u64> {
        let Some(unit) = unit else {
            return Some(if *self == FallBehindKind::Timeout {
                1000
            } else {
                1
            });
        };
        let lower = unit.to_ascii_lowercase();
        match self {
            FallBehindKind::Ios => None,
            FallBehindKind::Size => match lower {
                b's' => Some(1),
                b'k' => Some(2),
                b'm' => Some(2 << 10),
                b'g' => Some(2 << 20),
                b't' => Some(2 << 30),
                b'p' => Some(2 << 40),
                b'e' => Some(2 << 50),
                _ => None,
            },
            FallBehindKind::Data => match lower {
                b'k' => Some(1 << 10),
                b'm' => Some(1 << 20),
                b'g' => Some(1 << 30),
                b't' => Some(1 << 40),
                b'p' => Some(1 << 50),
                b'e' => Some(1 << 60),
                _ => None,
            },
            FallBehindKind::Timeout => match lower {
                b't' => Some(1),
                b's' => Some(1000),
                b'm' => Some(60 * 1000),
                b'h' => Some(60 * 60 * 1000),
                b'd' => Some(24 * 60 * 60 * 1000),
                _ => None,
            },
        }
    }
}

impl fmt::Display for FallBehindKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fall-behind limit as written: value and unit are kept for emission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallBehind {
    /// What is counted.
    pub kind: FallBehindKind,
    /// The number as written, before the unit.
    pub value: u64,
    /// The unit letter as written (ASCII), if any.
    pub unit: Option<u8>,
}

impl FallBehind {
    /// Parses `<kind_word> <value_word>`, e.g. `size` `200m`.
    pub fn parse(kind_word: &str, value_word: &str) -> Result<FallBehind, TableError> {
        let kind = FallBehindKind::parse(kind_word)?;
        let (digits, suffix) = split_digits(value_word);
        let value = parse_u64(digits).map_err(|e| match e {
            NumberError::Malformed => TableError::FallBehindValueInvalid,
            NumberError::Overflow => TableError::FallBehindTooLarge,
        })?;
        let unit = match suffix.as_bytes() {
            [] => None,
            [_, ..] if kind == FallBehindKind::Ios => {
                return Err(TableError::FallBehindIosUnit);
            }
            [u] => Some(*u),
            _ => return Err(TableError::FallBehindUnitUnknown),
        };
        let multiplier = kind
            .multiplier(unit)
            .ok_or(TableError::FallBehindUnitUnknown)?;
        if value == 0 {
            return Err(TableError::FallBehindZero);
        }
        value
            .checked_mul(multiplier)
            .ok_or(TableError::FallBehindTooLarge)?;
        Ok(FallBehind { kind, value, unit })
    }

    /// Parses the old single-word form `<type>=<N>[unit]`, e.g. `ios=100`.
    pub fn parse_assignment(word: &str) -> Result<FallBehind, TableError> {
        let (kind_word, value_word) = word
            .split_once('=')
            .ok_or(TableError::FallBehindIncomplete)?;
        FallBehind::parse(kind_word, value_word)
    }

    /// The limit in base units: ios count, sectors (`size`, and `data`
    /// rounded up to whole sectors), or milliseconds.
    ///
    /// Parsing guarantees the product fits; a hand-built value saturates
    /// rather than panicking.
    pub fn base_value(&self) -> u64 {
        let v = self
            .value
            .saturating_mul(self.kind.multiplier(self.unit).unwrap_or(1));
        match self.kind {
            FallBehindKind::Data => v.div_ceil(512),
            _ => v,
        }
    }
}

impl fmt::Display for FallBehind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.value)?;
        if let Some(unit) = self.unit {
            write!(f, "{}", char::from(unit))?;
        }
        Ok(())
    }
}
