//! `replog config up` and `down`: creating the configured groups at boot
//! and removing them at shutdown, with `dmsetup`.
//!
//! `up` creates each group's `replicator` first (its devices open its
//! control device), then its `replicator-dev`s in file order. A group
//! whose devices all exist is left alone, so that running `up` twice does
//! nothing the second time; of a group partly there, only the missing
//! devices are created (existing tables are not compared or reloaded).
//! When a create fails, everything this run created is removed again in
//! reverse order: the run leaves the machine as it found it, and the
//! service that ran it is failed with nothing half up.
//!
//! `down` suspends each `replicator-dev` of a group (its writes drain
//! into the log and the log writes a checkpoint), removes the
//! `replicator-dev`s, then the `replicator`. Devices that do not exist
//! are skipped; a failure is reported and the rest still removed, except
//! a replicator whose devices could not all be removed.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;

use crate::config::{Config, Group};
use crate::dmsetup::{Dmsetup, DmsetupError};
use crate::hostdev::Host;
use crate::tables;

/// Exit status: done.
pub const EXIT_OK: i32 = 0;
/// Exit status: a dmsetup command failed, or a device could not be
/// sized; the details are on standard error.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: dmsetup could not be run at all.
pub const EXIT_NO_DMSETUP: i32 = 3;

/// Output streams and the configuration file's name for messages.
pub struct Io<'a> {
    /// The configuration file, as given.
    pub file: &'a str,
    /// Progress: one line per device created, removed or skipped.
    pub out: &'a mut dyn Write,
    /// Errors.
    pub err: &'a mut dyn Write,
}

/// Removes what this run created, newest first.
fn roll_back(dm: &Dmsetup, created: &[String], io: &mut Io<'_>) {
    for name in created.iter().rev() {
        match dm.remove(name) {
            Ok(()) => {
                let _ = writeln!(io.out, "removed {name} (rolled back)");
            }
            Err(e) => {
                let _ = writeln!(io.err, "replog config up: rolling back: {e}");
            }
        }
    }
}

/// Why `up` stopped: a message for standard error, and the exit status.
struct Stop {
    /// The message.
    message: String,
    /// The exit status.
    code: i32,
}

impl From<DmsetupError> for Stop {
    fn from(e: DmsetupError) -> Stop {
        let code = match e {
            DmsetupError::Spawn(_) => EXIT_NO_DMSETUP,
            DmsetupError::Failed { .. } => EXIT_FAILED,
        };
        Stop {
            message: e.to_string(),
            code,
        }
    }
}

/// Creates the devices of `group` that do not exist; `created` collects
/// what was created, for a roll-back.
fn up_group(
    dm: &Dmsetup,
    group: &Group,
    created: &mut Vec<String>,
    io: &mut Io<'_>,
) -> Result<(), Stop> {
    let names = group.dm_names();
    let present: Vec<bool> = names
        .iter()
        .map(|name| dm.exists(name))
        .collect::<Result<_, _>>()?;
    if present.iter().all(|&p| p) {
        let _ = writeln!(io.out, "group {}: already up", group.name);
        return Ok(());
    }
    let file = io.file;
    let config_error = |e: crate::config_parse::ConfigError| Stop {
        message: format!("{file}:{}: {}", e.line, e.reason),
        code: EXIT_FAILED,
    };
    let mut host = Host {
        resolve: true,
        ..Host::default()
    };
    let mut present = present.into_iter();
    if present.next().unwrap_or(false) {
        let _ = writeln!(io.out, "{}: already present", group.name);
    } else {
        let table = tables::replicator_line(group, &host).map_err(config_error)?;
        dm.create(&group.name, &table)?;
        created.push(group.name.clone());
        let _ = writeln!(io.out, "created {}", group.name);
    }
    // The devices name the control device as `dmsetup table` shows it;
    // a path does as well for the kernel if dmsetup cannot tell.
    if let Ok(devno) = dm.devno(&group.name) {
        host.controls.insert(group.name.clone(), devno);
    }
    for (device, present) in group.devices.iter().zip(present) {
        if present {
            let _ = writeln!(io.out, "{}: already present", device.name);
            continue;
        }
        let table = tables::device_line(group, device, &host).map_err(config_error)?;
        dm.create(&device.name, &table)?;
        created.push(device.name.clone());
        let _ = writeln!(io.out, "created {}", device.name);
    }
    Ok(())
}

/// `replog config up`.
pub fn up(config: &Config, dm: &Dmsetup, dry_run: bool, io: &mut Io<'_>) -> i32 {
    // Every line is built before anything is created, so that a device
    // that cannot be sized stops the run before it starts.
    let host = Host {
        resolve: true,
        ..Host::default()
    };
    let mut plan = Vec::new();
    for group in &config.groups {
        match tables::group_tables(group, &host) {
            Ok(lines) => plan.extend(lines),
            Err(e) => {
                let _ = writeln!(io.err, "{}:{}: {}", io.file, e.line, e.reason);
                return EXIT_FAILED;
            }
        }
    }
    if dry_run {
        for line in &plan {
            let args = Dmsetup::create_args(&line.name, &line.table);
            let _ = writeln!(io.out, "{}", dm.command_line(&args));
        }
        return EXIT_OK;
    }
    let mut created = Vec::new();
    for group in &config.groups {
        if let Err(stop) = up_group(dm, group, &mut created, io) {
            let _ = writeln!(io.err, "replog config up: {}", stop.message);
            roll_back(dm, &created, io);
            return stop.code;
        }
    }
    EXIT_OK
}

/// Reports one step of `down`; returns whether it succeeded.
fn report(io: &mut Io<'_>, what: &str, name: &str, result: Result<(), DmsetupError>) -> bool {
    match result {
        Ok(()) => {
            let _ = writeln!(io.out, "{what} {name}");
            true
        }
        Err(e) => {
            let _ = writeln!(io.err, "replog config down: {e}");
            false
        }
    }
}

/// Removes one group; returns whether everything went well.
fn down_group(dm: &Dmsetup, group: &Group, io: &mut Io<'_>) -> Result<bool, DmsetupError> {
    let mut devices = Vec::new();
    for device in &group.devices {
        if dm.exists(&device.name)? {
            devices.push(device.name.as_str());
        }
    }
    let replicator = dm.exists(&group.name)?;
    if devices.is_empty() && !replicator {
        let _ = writeln!(io.out, "group {}: not present", group.name);
        return Ok(true);
    }
    let mut ok = true;
    for name in &devices {
        ok &= report(io, "suspended", name, dm.suspend(name));
    }
    let mut devices_gone = true;
    for name in devices.iter().rev() {
        devices_gone &= report(io, "removed", name, dm.remove(name));
    }
    ok &= devices_gone;
    if replicator {
        if devices_gone {
            ok &= report(io, "removed", &group.name, dm.remove(&group.name));
        } else {
            let _ = writeln!(
                io.err,
                "replog config down: {} not removed: its devices remain",
                group.name
            );
        }
    }
    Ok(ok)
}

/// `replog config down`: groups in reverse file order.
pub fn down(config: &Config, dm: &Dmsetup, dry_run: bool, io: &mut Io<'_>) -> i32 {
    if dry_run {
        for group in config.groups.iter().rev() {
            for device in &group.devices {
                let _ = writeln!(io.out, "{}", dm.command_line(&["suspend", &device.name]));
            }
            for name in group
                .dm_names()
                .iter()
                .skip(1)
                .rev()
                .chain([&group.name.as_str()])
            {
                let _ = writeln!(io.out, "{}", dm.command_line(&["remove", name]));
            }
        }
        return EXIT_OK;
    }
    let mut ok = true;
    for group in config.groups.iter().rev() {
        match down_group(dm, group, io) {
            Ok(group_ok) => ok &= group_ok,
            Err(e) => {
                let _ = writeln!(io.err, "replog config down: {e}");
                return EXIT_NO_DMSETUP;
            }
        }
    }
    if ok {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
