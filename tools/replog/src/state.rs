//! The state of the configured groups, read from `dmsetup status` of
//! every device: what `show` and `metrics` print.
//!
//! A site link's `S`/`A` in the replicator's status says whether writes
//! wait for it, not whether it is connected; that is in its devices'
//! status (`A` alive, `W`/`R` down). So a site link is up when each of its
//! devices shows `A` on it, down when any shows `W` or `R`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::config::{Config, Device, Group};
use crate::dmsetup::{Dmsetup, DmsetupError};
use crate::status::{DeviceStatus, Health, ReplicatorStatus};

/// One group's state.
#[derive(Clone, Debug)]
pub struct GroupState<'c> {
    /// The group as configured.
    pub group: &'c Group,
    /// Its replicator's status, or why it could not be read.
    pub replicator: Result<ReplicatorStatus, String>,
    /// Its devices in file order.
    pub devices: Vec<DeviceState<'c>>,
}

/// One device's state.
#[derive(Clone, Debug)]
pub struct DeviceState<'c> {
    /// The device as configured.
    pub device: &'c Device,
    /// Its status, or why it could not be read.
    pub status: Result<DeviceStatus, String>,
}

/// Whether a site link is connected, from its devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Every device with a copy on it shows `A`.
    Up,
    /// These devices show `W` or `R` on it.
    Down(Vec<(String, Health)>),
    /// No device status has a copy on it.
    Unknown,
}

/// Reads and parses `dmsetup status NAME`: the status, or why not (for
/// a device that does not exist, dmsetup's own message). Only a dmsetup
/// that cannot be started is an error of the whole run.
fn read<T>(
    dm: &Dmsetup,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Result<T, String>, DmsetupError> {
    match dm.status(name) {
        Ok(text) => Ok(parse(&text)),
        Err(DmsetupError::Failed { message, .. }) if message.is_empty() => {
            Ok(Err("not present".to_string()))
        }
        Err(DmsetupError::Failed { message, .. }) => Ok(Err(message)),
        Err(e) => Err(e),
    }
}

/// Reads the state of every group of `config`.
pub fn collect<'c>(config: &'c Config, dm: &Dmsetup) -> Result<Vec<GroupState<'c>>, DmsetupError> {
    config
        .groups
        .iter()
        .map(|group| {
            let replicator = read(dm, &group.name, ReplicatorStatus::parse_dmsetup)?;
            let devices = group
                .devices
                .iter()
                .map(|device| {
                    Ok(DeviceState {
                        device,
                        status: read(dm, &device.name, DeviceStatus::parse_dmsetup)?,
                    })
                })
                .collect::<Result<_, DmsetupError>>()?;
            Ok(GroupState {
                group,
                replicator,
                devices,
            })
        })
        .collect()
}

impl GroupState<'_> {
    /// Site link numbers: the configured sites and any other the
    /// replicator reports (added by message), in order.
    pub fn slinks(&self) -> Vec<u32> {
        let mut slinks: Vec<u32> = self.group.sites.iter().map(|s| s.slink()).collect();
        if let Ok(status) = &self.replicator {
            slinks.extend(status.slinks.iter().map(|s| s.slink));
        }
        slinks.sort_unstable();
        slinks.dedup();
        slinks
    }

    /// Whether site link `slink` is connected, from the devices' status.
    pub fn link_state(&self, slink: u32) -> LinkState {
        let mut seen = false;
        let mut down = Vec::new();
        for state in &self.devices {
            let Ok(status) = &state.status else {
                continue;
            };
            if let Some(copy) = status.copy(slink) {
                seen = true;
                if !copy.health.is_up() {
                    down.push((state.device.name.clone(), copy.health));
                }
            }
        }
        match (seen, down.is_empty()) {
            (false, _) => LinkState::Unknown,
            (true, true) => LinkState::Up,
            (true, false) => LinkState::Down(down),
        }
    }

    /// Whether every status of the group was read.
    pub fn complete(&self) -> bool {
        self.replicator.is_ok() && self.devices.iter().all(|d| d.status.is_ok())
    }
}

/// Finds the state of device `name` of group `group` in an earlier
/// sample.
pub fn find_device<'a, 'c>(
    states: &'a [GroupState<'c>],
    group: &str,
    name: &str,
) -> Option<&'a DeviceState<'c>> {
    states
        .iter()
        .find(|g| g.group.name == group)?
        .devices
        .iter()
        .find(|d| d.device.name == name)
}
