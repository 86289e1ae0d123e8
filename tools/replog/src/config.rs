//! The configuration of `replog config`: replication groups as a boot
//! script sets them up, one `replicator` and its `replicator-dev`s each.
//!
//! The file format is `Documentation/assembly.rst`; the parser is
//! [`crate::config_parse`]. This module is the validated result: every
//! value in it was accepted by `dmr-logic`'s own parsers (the kernel's
//! grammar), so the table lines built from it ([`crate::tables`]) load.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use dmr_logic::error::TableError;
use dmr_logic::replicator_dev_table::DirtyLogSpec;
use dmr_logic::replicator_table::{BlockdevParams, RingbufferParams};

/// A whole configuration file: groups in file order, which is the order
/// `up` creates them in (and `down` removes them in reverse).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The groups.
    pub groups: Vec<Group>,
}

/// One replication group: the `replicator` device named `name` and its
/// replicated devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The dm name of the replicator (its control device is
    /// `/dev/mapper/<name>`).
    pub name: String,
    /// Line of the `group` keyword, for messages.
    pub line: usize,
    /// The replication log.
    pub log: Log,
    /// The site links, ordered by number: site link 0 (the local site)
    /// first, as the kernel requires of the table.
    pub sites: Vec<Site>,
    /// The replicated devices in file order.
    pub devices: Vec<Device>,
}

/// The group's replication log (`ringbuffer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// Line of the `log` keyword.
    pub line: usize,
    /// Device (as written), start sector and open mode.
    pub params: RingbufferParams<String>,
}

/// One site link of the group (`blockdev`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Line of the `site` keyword.
    pub line: usize,
    /// Number, policy and fall-behind limit as the kernel parses them.
    pub params: BlockdevParams,
}

impl Site {
    /// The site link number.
    pub fn slink(&self) -> u32 {
        self.params.slink
    }
}

/// One replicated device: a `replicator-dev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Line of the `device` keyword.
    pub line: usize,
    /// Its dm name.
    pub name: String,
    /// Its number in the replication log.
    pub dev_nr: u32,
    /// The local device (site link 0), as written.
    pub local: String,
    /// Length in sectors if given; otherwise the local device's size.
    pub length: Option<u64>,
    /// Its copies on remote site links, in file order.
    pub remotes: Vec<Remote>,
}

/// A remote copy of a device on one site link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Line of the `remote` keyword.
    pub line: usize,
    /// The site link (at least 1).
    pub slink: u32,
    /// The remote device, as written.
    pub dev: String,
    /// Its dirty log.
    pub dirty_log: DirtyLog,
}

/// A dirty log as written: type and parameters without the count (the
/// table's `<#dlog_params>` is computed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyLog {
    /// `core`, `disk` or `userspace`.
    pub kind: String,
    /// The parameters.
    pub params: Vec<String>,
}

impl DirtyLog {
    /// The parameters as the word slice `dmr-logic` parses.
    pub fn words(&self) -> Vec<&str> {
        self.params.iter().map(String::as_str).collect()
    }

    /// Parses the log with the kernel's grammar; `words` is
    /// [`Self::words`] (the spec borrows from it).
    pub fn spec<'a>(&'a self, words: &'a [&'a str]) -> Result<DirtyLogSpec<'a>, TableError> {
        DirtyLogSpec::parse(&self.kind, words)
    }

    /// The device of a `disk` log (its first parameter), the only dirty
    /// log parameter that names a block device the tool knows about.
    pub fn disk_device(&self) -> Option<&str> {
        match (self.kind.as_str(), self.params.first()) {
            ("disk", Some(dev)) => Some(dev),
            _ => None,
        }
    }
}

/// What a block device named in the configuration is for, so that a
/// message about it says which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRole {
    /// The replication log's device.
    Log,
    /// A replicated device's local copy.
    Local,
    /// A remote copy.
    Remote,
    /// A `disk` dirty log's device.
    DirtyLog,
}

impl DeviceRole {
    /// A word for messages.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceRole::Log => "log device",
            DeviceRole::Local => "local device",
            DeviceRole::Remote => "remote device",
            DeviceRole::DirtyLog => "dirty log device",
        }
    }
}

/// A block device named in the configuration, with where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceUse<'a> {
    /// Its line.
    pub line: usize,
    /// What it is for.
    pub role: DeviceRole,
    /// The path or `major:minor` as written.
    pub path: &'a str,
}

impl Group {
    /// Every block device the group names, in file order of their lines,
    /// for `check`'s look at the machine.
    pub fn device_uses(&self) -> Vec<DeviceUse<'_>> {
        let mut uses = vec![DeviceUse {
            line: self.log.line,
            role: DeviceRole::Log,
            path: &self.log.params.dev,
        }];
        for device in &self.devices {
            uses.push(DeviceUse {
                line: device.line,
                role: DeviceRole::Local,
                path: &device.local,
            });
            for remote in &device.remotes {
                uses.push(DeviceUse {
                    line: remote.line,
                    role: DeviceRole::Remote,
                    path: &remote.dev,
                });
                if let Some(dev) = remote.dirty_log.disk_device() {
                    uses.push(DeviceUse {
                        line: remote.line,
                        role: DeviceRole::DirtyLog,
                        path: dev,
                    });
                }
            }
        }
        uses
    }

    /// The dm names of the group in creation order: the replicator, then
    /// its devices.
    pub fn dm_names(&self) -> Vec<&str> {
        std::iter::once(self.name.as_str())
            .chain(self.devices.iter().map(|d| d.name.as_str()))
            .collect()
    }

    /// The site with number `slink`, if declared.
    pub fn site(&self, slink: u32) -> Option<&Site> {
        self.sites.iter().find(|s| s.slink() == slink)
    }
}
