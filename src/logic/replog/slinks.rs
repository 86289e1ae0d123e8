//! The site links (slinks) an entry is for: a 2048-bit map, 256 bytes in
//! the entry header. Bit `n` is bit `n % 8` of byte `n / 8`.
//!
//! The map says which slinks needed the entry when it was written. Headers
//! are written once and never updated (rewriting one in place could tear
//! it and cut the log there): which slinks have copied an entry since is
//! kept in memory, and after a crash every slink in the map is given the
//! entries again from the head on.

use crate::logic::slink::{SlinkSet, SLINK_MAX};

/// Bytes of the map.
pub const SLINK_BITMAP_BYTES: usize = 256;

/// A set of slink numbers below [`SLINK_MAX`], in its on-disk form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlinkBitmap(pub [u8; SLINK_BITMAP_BYTES]);

impl Default for SlinkBitmap {
    fn default() -> Self {
        SlinkBitmap::new()
    }
}

impl SlinkBitmap {
    /// The empty set.
    pub const fn new() -> SlinkBitmap {
        SlinkBitmap([0; SLINK_BITMAP_BYTES])
    }

    /// Byte index and bit mask of `slink`, `None` if out of range.
    fn locate(slink: u32) -> Option<(usize, u8)> {
        if slink >= SLINK_MAX {
            return None;
        }
        let index = usize::try_from(slink / 8).ok()?;
        let bit = 1u8.checked_shl(slink % 8)?;
        Some((index, bit))
    }

    /// Adds `slink`; false if out of range.
    pub fn insert(&mut self, slink: u32) -> bool {
        match SlinkBitmap::locate(slink).and_then(|(i, bit)| Some((self.0.get_mut(i)?, bit))) {
            Some((byte, bit)) => {
                *byte |= bit;
                true
            }
            None => false,
        }
    }

    /// Removes `slink`.
    pub fn remove(&mut self, slink: u32) {
        if let Some((byte, bit)) =
            SlinkBitmap::locate(slink).and_then(|(i, bit)| Some((self.0.get_mut(i)?, bit)))
        {
            *byte &= !bit;
        }
    }

    /// Whether `slink` is in the set.
    pub fn contains(&self, slink: u32) -> bool {
        SlinkBitmap::locate(slink)
            .and_then(|(i, bit)| self.0.get(i).map(|byte| byte & bit != 0))
            .unwrap_or(false)
    }

    /// Whether no slink is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&byte| byte == 0)
    }

    /// The slinks in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..SLINK_MAX).filter(|&slink| self.contains(slink))
    }

    /// The same slinks as a grammar [`SlinkSet`].
    pub fn from_set(set: &SlinkSet) -> SlinkBitmap {
        let mut map = SlinkBitmap::new();
        for slink in (0..SLINK_MAX).filter(|&s| set.contains(s)) {
            map.insert(slink);
        }
        map
    }
}
