//! Block devices on this machine: whether one exists, its size, and its
//! `major:minor`.
//!
//! The kernel prints every device of a table as `major:minor`; `up`
//! writes the devices it can resolve that way, so that the line it loads
//! is the line `dmsetup table` prints back. A word already of the form
//! `major:minor` is looked up in `/sys/dev/block`. A path that is no
//! block device (a regular file in a test) stays a path.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::fs;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use dmr_logic::number::parse_u32;

use crate::config::{Device, Group};
use crate::tables::{control_path, Resolve};

/// Bytes per sector.
const SECTOR: u64 = 512;

/// Major and minor of a Linux `dev_t` (glibc's `gnu_dev_major` and
/// `gnu_dev_minor`: 12 + 20 bits split over the 64-bit value).
pub fn split_dev(dev: u64) -> (u64, u64) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    (major, minor)
}

/// `(major, minor)` of a word written as `major:minor`.
pub fn parse_devno(word: &str) -> Option<(u32, u32)> {
    let (major, minor) = word.split_once(':')?;
    Some((parse_u32(major).ok()?, parse_u32(minor).ok()?))
}

/// The block device `path` names: its `major:minor`, if it is one.
pub fn devno(path: &str) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    let (major, minor) = split_dev(meta.rdev());
    Some(format!("{major}:{minor}"))
}

/// The table word for `path`: `major:minor` for a block device, else the
/// word as written.
pub fn resolve(path: &str) -> String {
    devno(path).unwrap_or_else(|| path.to_string())
}

/// The sysfs directory of a block device number.
fn sysfs(word: &str) -> Option<PathBuf> {
    let (major, minor) = parse_devno(word)?;
    Some(PathBuf::from(format!("/sys/dev/block/{major}:{minor}")))
}

/// Whether `path` (or `major:minor`) names something that exists.
pub fn exists(path: &str) -> bool {
    match sysfs(path) {
        Some(dir) if !path.starts_with('/') => dir.exists(),
        _ => fs::metadata(path).is_ok(),
    }
}

/// Size in sectors of a block device or file: sysfs's `size` (readable
/// without opening the device), else the end of the opened device, or a
/// regular file's length.
pub fn size_sectors(path: &str) -> Result<u64, String> {
    let word = if path.starts_with('/') {
        devno(path)
    } else {
        Some(path.to_string())
    };
    if let Some(dir) = word.as_deref().and_then(sysfs) {
        if let Ok(text) = fs::read_to_string(dir.join("size")) {
            if let Ok(sectors) = text.trim().parse::<u64>() {
                return Ok(sectors);
            }
        }
    }
    let meta = fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.file_type().is_block_device() {
        let mut file = fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        let bytes = file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("{path}: {e}"))?;
        return Ok(bytes / SECTOR);
    }
    if meta.is_file() {
        return Ok(meta.len() / SECTOR);
    }
    Err(format!("{path}: not a block device"))
}

/// Resolves against this machine: devices to `major:minor` when
/// `resolve` is set (`up`), as written otherwise (`tables`); control
/// devices from `controls` (filled by `up` once a replicator exists),
/// else `/dev/mapper/<group>`; lengths from the file or the local
/// device's size.
#[derive(Clone, Debug, Default)]
pub struct Host {
    /// Whether block devices are written as `major:minor`.
    pub resolve: bool,
    /// Known control devices, by group name.
    pub controls: HashMap<String, String>,
}

impl Resolve for Host {
    fn device(&self, path: &str) -> String {
        if self.resolve {
            resolve(path)
        } else {
            path.to_string()
        }
    }

    fn control(&self, group: &Group) -> String {
        self.controls
            .get(&group.name)
            .cloned()
            .unwrap_or_else(|| control_path(group))
    }

    fn length(&self, device: &Device) -> Result<u64, String> {
        if let Some(length) = device.length {
            return Ok(length);
        }
        match size_sectors(&device.local) {
            Ok(0) => Err(format!(
                "local device {} is empty; give its length",
                device.local
            )),
            Ok(sectors) => Ok(sectors),
            Err(e) => Err(format!(
                "cannot size the local device ({e}); give its length"
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dev_t_split() {
        // makedev(253, 1) and makedev(259, 1048576) as glibc encodes them.
        assert_eq!(split_dev((253 << 8) | 1), (253, 1));
        let big = ((259u64 & 0xfff) << 8) | ((1_048_576u64 & 0xffff_ff00) << 12);
        assert_eq!(split_dev(big), (259, 1_048_576));
        assert_eq!(parse_devno("253:1"), Some((253, 1)));
        assert_eq!(parse_devno("/dev/sda"), None);
        assert_eq!(parse_devno("253:01"), None);
    }

    #[test]
    fn files_stay_paths() {
        let path = std::env::temp_dir().join("replog-hostdev-file");
        fs::write(&path, vec![0u8; 4096]).unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(resolve(p), p);
        assert_eq!(size_sectors(p), Ok(8));
        assert!(exists(p));
        assert!(!exists("/nonexistent/replog-hostdev"));
        let _ = fs::remove_file(&path);
    }
}
