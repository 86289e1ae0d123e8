//! The dmsetup table lines of a configuration, in creation order.
//!
//! Each line is built from the values `dmr-logic` parsed and written with
//! its `Display`, the kernel's own canonical form (what `dmsetup table`
//! prints); then it is parsed back and printed again, and must come out
//! the same. A difference would mean the tool and the kernel disagree, so
//! it is an error rather than a line the kernel might read otherwise.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;

use dmr_logic::framing::Framed;
use dmr_logic::replicator_dev_table::{DeviceSpec, DirtyLogSpec, ReplicatorDevTable};
use dmr_logic::replicator_table::{ReplicatorTable, REPLOG_RINGBUFFER, SLINK_BLOCKDEV};

use crate::config::{Device, Group};
use crate::config_parse::ConfigError;

/// The `replicator` target's name.
pub const REPLICATOR: &str = "replicator";
/// The `replicator-dev` target's name.
pub const REPLICATOR_DEV: &str = "replicator-dev";

/// Length of a `replicator` line: the target maps no data, any length
/// does; 1 is what the documentation's examples use.
pub const REPLICATOR_LENGTH: u64 = 1;

/// How device words of a line are written.
pub trait Resolve {
    /// The table word for a block device named in the configuration: the
    /// path as written, or its `major:minor`.
    fn device(&self, path: &str) -> String;
    /// The group's replicator control device, for its devices' lines.
    fn control(&self, group: &Group) -> String;
    /// The length of a replicated device in sectors.
    fn length(&self, device: &Device) -> Result<u64, String>;
}

/// The control device as a path: `/dev/mapper/<group>`. The kernel opens
/// the replicator-dev's first word with `dm_get_device`, which takes a
/// path as well as `major:minor`.
pub fn control_path(group: &Group) -> String {
    format!("/dev/mapper/{}", group.name)
}

/// Devices as written, the control device as a path, and a fixed length
/// where the file gives none: for checking the grammar of a
/// configuration without looking at the machine.
#[derive(Clone, Copy, Debug)]
pub struct Unresolved {
    /// Length of a device without `length`.
    pub length: u64,
}

impl Resolve for Unresolved {
    fn device(&self, path: &str) -> String {
        path.to_string()
    }

    fn control(&self, group: &Group) -> String {
        control_path(group)
    }

    fn length(&self, device: &Device) -> Result<u64, String> {
        Ok(device.length.unwrap_or(self.length))
    }
}

/// Which target a line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The group's `replicator`.
    Replicator,
    /// One `replicator-dev`.
    ReplicatorDev,
}

impl Target {
    /// The target name in the table line.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Replicator => REPLICATOR,
            Target::ReplicatorDev => REPLICATOR_DEV,
        }
    }
}

/// One dm device to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLine {
    /// Its dm name.
    pub name: String,
    /// Its target.
    pub target: Target,
    /// The configuration line it comes from.
    pub config_line: usize,
    /// The table line as `dmsetup create NAME --table` takes it.
    pub table: String,
}

impl fmt::Display for TableLine {
    /// `<name> <table line>`, as `replog config tables` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.table)
    }
}

/// Parses `args` (a table line after `<start> <len> <target>`) with the
/// kernel's grammar and prints it back: the canonical form, or the
/// kernel's error message.
pub fn canonical(target: Target, args: &str) -> Result<String, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    match target {
        Target::Replicator => ReplicatorTable::parse(&words).map(|t| t.to_string()),
        Target::ReplicatorDev => ReplicatorDevTable::parse(&words).map(|t| t.to_string()),
    }
    .map_err(|e| e.text().to_string())
}

/// Checks that `args` is its own canonical form; returns the whole line.
fn finish(target: Target, length: u64, args: String, line: usize) -> Result<String, ConfigError> {
    let error = |reason: String| ConfigError { line, reason };
    let shown = canonical(target, &args)
        .map_err(|e| error(format!("{} table: {e}: {args}", target.name())))?;
    if shown != args {
        return Err(error(format!(
            "{} table is not canonical: built {args}, the kernel shows {shown}",
            target.name()
        )));
    }
    Ok(format!("0 {length} {} {args}", target.name()))
}

/// The group's `replicator` line.
pub fn replicator_line(group: &Group, r: &dyn Resolve) -> Result<String, ConfigError> {
    let log = group.log.params.clone();
    let dev = r.device(&log.dev);
    let mut args = Framed(REPLOG_RINGBUFFER, log.with_dev(dev)).to_string();
    for site in &group.sites {
        args.push(' ');
        args.push_str(&Framed(SLINK_BLOCKDEV, site.params).to_string());
    }
    finish(Target::Replicator, REPLICATOR_LENGTH, args, group.line)
}

/// The `replicator-dev` line of one device of the group.
pub fn device_line(group: &Group, device: &Device, r: &dyn Resolve) -> Result<String, ConfigError> {
    let error = |line: usize, reason: String| ConfigError { line, reason };
    let length = r.length(device).map_err(|e| error(device.line, e))?;
    let local = DeviceSpec {
        slink: 0,
        dev: r.device(&device.local),
        dirty_log: DirtyLogSpec::Nolog,
    };
    let mut args = format!("{} {} {local}", r.control(group), device.dev_nr);
    for remote in &device.remotes {
        let words = remote.dirty_log.words();
        let spec = remote
            .dirty_log
            .spec(&words)
            .map_err(|e| error(remote.line, format!("remote: {}", e.text())))?;
        let copy = DeviceSpec {
            slink: remote.slink,
            dev: r.device(&remote.dev),
            dirty_log: spec.map_dev(|dev| r.device(dev)),
        };
        args.push(' ');
        args.push_str(&copy.to_string());
    }
    finish(Target::ReplicatorDev, length, args, device.line)
}

/// Every line of a group: the replicator, then its devices in file order.
pub fn group_tables(group: &Group, r: &dyn Resolve) -> Result<Vec<TableLine>, ConfigError> {
    let mut lines = vec![TableLine {
        name: group.name.clone(),
        target: Target::Replicator,
        config_line: group.line,
        table: replicator_line(group, r)?,
    }];
    for device in &group.devices {
        lines.push(TableLine {
            name: device.name.clone(),
            target: Target::ReplicatorDev,
            config_line: device.line,
            table: device_line(group, device, r)?,
        });
    }
    Ok(lines)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::config_parse::parse_config;

    #[test]
    fn the_documented_example() {
        let config = parse_config(
            b"group repl
  log /dev/vg/replog auto 65536
  site 0 synchronous
  site 1 asynchronous ios 10000
  site 2 async+stall size=200m
  device r0 0 /dev/vg/data0 length 2048
    remote 1 /dev/nbd0 core 2048 nosync
    remote 2 /dev/nbd1 disk /dev/vg/dlog0 2048 nosync
",
        )
        .unwrap();
        let lines = group_tables(&config.groups[0], &Unresolved { length: 1 }).unwrap();
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "repl 0 1 replicator ringbuffer 4 /dev/vg/replog 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 10000 blockdev 4 2 asynchronous+stall size 200m",
                "r0 0 2048 replicator-dev /dev/mapper/repl 0 0 1 /dev/vg/data0 nolog 0 1 1 /dev/nbd0 core 2 2048 nosync 2 1 /dev/nbd1 disk 3 /dev/vg/dlog0 2048 nosync",
            ]
        );
    }
}
