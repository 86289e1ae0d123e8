//! `replog config check`'s look at the machine, after the file itself
//! was found valid: does every block device the configuration names
//! exist, and do the sizes fit (the log on its device, the length on the
//! local device, every remote device at least as large as the device it
//! copies, which the kernel requires)?
//!
//! These are problems of the machine rather than of the file (a remote
//! device that is not connected yet, a volume not yet activated), so
//! `check` tells them apart by its exit status: 2 for the file, 1 for
//! these.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::config::{Config, DeviceRole, Group};
use crate::config_parse::ConfigError;
use crate::hostdev::{exists, size_sectors};

/// The size of `path` if it exists and can be sized.
fn size(path: &str) -> Option<u64> {
    if exists(path) {
        size_sectors(path).ok()
    } else {
        None
    }
}

/// Problems of one group.
fn check_group(group: &Group, problems: &mut Vec<ConfigError>) {
    for used in group.device_uses() {
        if !exists(used.path) {
            problems.push(ConfigError {
                line: used.line,
                reason: format!("{} {} not found", used.role.name(), used.path),
            });
        }
    }
    let log = &group.log.params;
    if let (Some(wanted), Some(have)) = (log.open.size(), size(&log.dev)) {
        let end = log.dev_start.saturating_add(wanted);
        if end > have {
            problems.push(ConfigError {
                line: group.log.line,
                reason: format!(
                    "log does not fit on {}: start {} + {wanted} sectors is beyond its {have} sectors",
                    log.dev, log.dev_start
                ),
            });
        }
    }
    for device in &group.devices {
        let local = size(&device.local);
        let length = device.length.or(local);
        if let (Some(length), Some(local)) = (device.length, local) {
            if length > local {
                problems.push(ConfigError {
                    line: device.line,
                    reason: format!(
                        "device {}: length {length} is beyond the {local} sectors of {} {}",
                        device.name,
                        DeviceRole::Local.name(),
                        device.local
                    ),
                });
            }
        }
        for remote in &device.remotes {
            if let (Some(length), Some(have)) = (length, size(&remote.dev)) {
                if have < length {
                    problems.push(ConfigError {
                        line: remote.line,
                        reason: format!(
                            "{} {} ({have} sectors) is smaller than device {} ({length} sectors)",
                            DeviceRole::Remote.name(),
                            remote.dev,
                            device.name
                        ),
                    });
                }
            }
        }
    }
}

/// Every problem of the machine for `config`, by line.
pub fn check_devices(config: &Config) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    for group in &config.groups {
        check_group(group, &mut problems);
    }
    problems.sort_by_key(|p| p.line);
    problems
}
