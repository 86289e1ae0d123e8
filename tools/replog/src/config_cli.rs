//! `replog config check|tables|up|down|show|metrics FILE`: the command
//! line of boot-time assembly (`Documentation/assembly.rst`).
//!
//! Exit status: 0 done; 1 the machine is not as the file says (a device
//! missing or too small, a dmsetup command failed, a status that could
//! not be read); 2 the file is invalid (`FILE:LINE: reason` on standard
//! error); 3 the command could not run (usage, unreadable file, no
//! dmsetup).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::time::{Duration, Instant};

use crate::assemble::{self, Io};
use crate::config::Config;
use crate::config_check::check_devices;
use crate::config_parse::{parse_config, ConfigError};
use crate::dmsetup::{Dmsetup, DmsetupError};
use crate::hostdev::Host;
use crate::show::{self, Earlier};
use crate::{metrics, state, tables};

/// Exit status: the machine is not as the file says.
pub const EXIT_MACHINE: i32 = 1;
/// Exit status: the file is invalid.
pub const EXIT_INVALID: i32 = 2;
/// Exit status: the command could not run.
pub const EXIT_USAGE: i32 = 3;

/// Longest `--interval`: a sample an hour old says little about now.
const INTERVAL_MAX_SECONDS: f64 = 3600.0;

/// Parsed arguments after `config`.
#[derive(Debug, Default)]
struct Options {
    /// The subcommand.
    command: String,
    /// The configuration file.
    file: String,
    /// `--dry-run`.
    dry_run: bool,
    /// `--interval <seconds>`.
    interval: Option<Duration>,
}

/// Parses `--interval`'s value: seconds, a fraction allowed.
fn parse_interval(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= INTERVAL_MAX_SECONDS => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "--interval: not a number of seconds from 0 to {INTERVAL_MAX_SECONDS}: {text}"
        )),
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (command, rest) = args.split_first().ok_or("missing subcommand")?;
    let allowed: &[&str] = match command.as_str() {
        "check" | "tables" | "metrics" => &[],
        "up" | "down" => &["--dry-run"],
        "show" => &["--interval"],
        other => return Err(format!("unknown subcommand {other}")),
    };
    let mut o = Options {
        command: command.clone(),
        ..Options::default()
    };
    let mut file = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let flag = arg.as_str();
        if flag.starts_with("--") && !allowed.contains(&flag) {
            return Err(format!("unknown option {flag}"));
        }
        match flag {
            "--dry-run" => o.dry_run = true,
            "--interval" => {
                let value = it.next().ok_or("--interval needs a number of seconds")?;
                o.interval = Some(parse_interval(value)?);
            }
            _ if file.is_none() => file = Some(arg.clone()),
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    o.file = file.ok_or("missing configuration file")?;
    Ok(o)
}

/// Writes `FILE:LINE: reason` lines.
fn report(err: &mut dyn Write, file: &str, errors: &[ConfigError]) {
    for e in errors {
        let _ = writeln!(err, "{file}:{}: {}", e.line, e.reason);
    }
}

/// Runs `replog config ARGS`; returns the exit status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(err, "replog config: {e}");
            let _ = err.write_all(crate::cli::USAGE.as_bytes());
            return EXIT_USAGE;
        }
    };
    let text = match std::fs::read(&o.file) {
        Ok(text) => text,
        Err(e) => {
            let _ = writeln!(err, "replog config {}: {}: {e}", o.command, o.file);
            return EXIT_USAGE;
        }
    };
    let config = match parse_config(&text) {
        Ok(config) => config,
        Err(errors) => {
            report(err, &o.file, &errors);
            return EXIT_INVALID;
        }
    };
    let dm = Dmsetup::from_env();
    let mut io = Io {
        file: &o.file,
        out,
        err,
    };
    match o.command.as_str() {
        "check" => cmd_check(&config, &mut io),
        "tables" => cmd_tables(&config, &mut io),
        "up" => assemble::up(&config, &dm, o.dry_run, &mut io),
        "down" => assemble::down(&config, &dm, o.dry_run, &mut io),
        "show" => cmd_show(&config, &dm, o.interval, &mut io),
        _ => cmd_metrics(&config, &dm, &mut io),
    }
}

/// `check`: the file is valid; are its devices there?
fn cmd_check(config: &Config, io: &mut Io<'_>) -> i32 {
    let problems = check_devices(config);
    report(io.err, io.file, &problems);
    if problems.is_empty() {
        0
    } else {
        EXIT_MACHINE
    }
}

/// `tables`: the lines in creation order, devices as written.
fn cmd_tables(config: &Config, io: &mut Io<'_>) -> i32 {
    let host = Host::default();
    let mut lines = Vec::new();
    for group in &config.groups {
        match tables::group_tables(group, &host) {
            Ok(group_lines) => lines.extend(group_lines),
            Err(e) => {
                report(io.err, io.file, &[e]);
                return EXIT_MACHINE;
            }
        }
    }
    for line in lines {
        let _ = writeln!(io.out, "{line}");
    }
    0
}

/// The message and exit status of a dmsetup that cannot run.
fn no_dmsetup(io: &mut Io<'_>, command: &str, e: &DmsetupError) -> i32 {
    let _ = writeln!(io.err, "replog config {command}: {e}");
    EXIT_USAGE
}

/// `show`, with an estimate of resync times from two samples if
/// `interval` is given.
fn cmd_show(config: &Config, dm: &Dmsetup, interval: Option<Duration>, io: &mut Io<'_>) -> i32 {
    let first = match state::collect(config, dm) {
        Ok(states) => states,
        Err(e) => return no_dmsetup(io, "show", &e),
    };
    let (states, earlier) = match interval {
        None => (first, None),
        Some(interval) => {
            let taken = Instant::now();
            std::thread::sleep(interval);
            let second = match state::collect(config, dm) {
                Ok(states) => states,
                Err(e) => return no_dmsetup(io, "show", &e),
            };
            (second, Some((first, taken.elapsed().as_secs_f64())))
        }
    };
    let earlier = earlier.as_ref().map(|(states, seconds)| Earlier {
        states,
        seconds: *seconds,
    });
    let _ = io.out.write_all(show::render(&states, earlier).as_bytes());
    if states.iter().all(state::GroupState::complete) {
        0
    } else {
        EXIT_MACHINE
    }
}

/// `metrics`.
fn cmd_metrics(config: &Config, dm: &Dmsetup, io: &mut Io<'_>) -> i32 {
    match state::collect(config, dm) {
        Ok(states) => {
            let _ = io.out.write_all(metrics::render(&states).as_bytes());
            0
        }
        Err(e) => no_dmsetup(io, "metrics", &e),
    }
}
