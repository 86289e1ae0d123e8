//! Site link numbers: 0 is the local site, 1.. are remote sites.

use super::error::TableError;
use super::number::{parse_u32, NumberError};

/// Site link numbers are below this (the 2009 ringbuffer's 2048-bit mask).
pub const SLINK_MAX: u32 = 2048;

/// Number of `u64` words in a [`SlinkSet`].
const SLINK_WORDS: usize = 32;

/// Parses a site link number below [`SLINK_MAX`].
pub fn parse_slink_number(word: &str) -> Result<u32, TableError> {
    match parse_u32(word) {
        Ok(slink) if slink < SLINK_MAX => Ok(slink),
        Ok(_) => Err(TableError::SlinkNumberTooLarge),
        Err(NumberError::Overflow) => Err(TableError::SlinkNumberTooLarge),
        Err(NumberError::Malformed) => Err(TableError::SlinkNumberInvalid),
    }
}

/// A set of site link numbers on the stack (one bit each), to find
/// duplicates without allocating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlinkSet([u64; SLINK_WORDS]);

impl Default for SlinkSet {
    fn default() -> Self {
        SlinkSet::new()
    }
}

impl SlinkSet {
    /// The empty set.
    pub const fn new() -> SlinkSet {
        SlinkSet([0; SLINK_WORDS])
    }

    /// Word index and bit of `slink`, `None` if it is out of range.
    fn locate(slink: u32) -> Option<(usize, u64)> {
        let index = usize::try_from(slink / 64).ok()?;
        let bit = 1u64.checked_shl(slink % 64)?;
        (index < SLINK_WORDS).then_some((index, bit))
    }

    /// Adds `slink`; false if it was already there or is out of range.
    pub fn insert(&mut self, slink: u32) -> bool {
        let Some((index, bit)) = SlinkSet::locate(slink) else {
            return false;
        };
        match self.0.get_mut(index) {
            Some(word) if *word & bit == 0 => {
                *word |= bit;
                true
            }
            _ => false,
        }
    }

    /// Whether `slink` is in the set.
    pub fn contains(&self, slink: u32) -> bool {
        SlinkSet::locate(slink)
            .and_then(|(index, bit)| self.0.get(index).map(|word| word & bit != 0))
            .unwrap_or(false)
    }
}
