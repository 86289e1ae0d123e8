//! Parser of the configuration file (`Documentation/assembly.rst`).
//!
//! The file is line-based: `#` starts a comment, words are separated by
//! white space, indentation means nothing. Each line starts with a keyword
//! (`group`, `log`, `site`, `device`, `remote`); a line belongs to the
//! group (and a `remote` to the device) last opened above it. Values the
//! kernel checks are checked by `dmr-logic`'s parsers, so a file is valid
//! exactly when the kernel accepts the table lines built from it; their
//! messages are the kernel's, after the keyword of the line.
//!
//! Every line is checked even after an error, so that one run lists all
//! mistakes; a file with any error gives no [`Config`].
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::fmt;

use dmr_logic::error::TableError;
use dmr_logic::number::parse_u64;
use dmr_logic::replicator_dev_table::parse_dev_nr;
use dmr_logic::replicator_table::{BlockdevParams, RingbufferParams};
use dmr_logic::slink::parse_slink_number;

use crate::config::{Config, Device, DirtyLog, Group, Log, Remote, Site};
use crate::tables;

/// A mistake in the file, at a line (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    /// `LINE: reason`; the caller puts the file name in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.reason)
    }
}

/// Longest dm device name (`DM_NAME_LEN` is 128 with the NUL).
pub const DM_NAME_MAX: usize = 127;

/// Checks a dm device name: what dmsetup and udev take without mangling
/// (udev's whitelist), not a name `/dev/mapper` already uses.
pub fn check_dm_name(name: &str) -> Result<(), String> {
    if name.len() > DM_NAME_MAX {
        return Err(format!(
            "dm name {name} is longer than {DM_NAME_MAX} characters"
        ));
    }
    if matches!(name, "." | ".." | "control") {
        return Err(format!("dm name {name} is reserved"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c);
    if !name.chars().all(allowed) {
        return Err(format!(
            "dm name {name} may only contain letters, digits and + - . : = @ _"
        ));
    }
    Ok(())
}

/// `keyword: <kernel message>` for an error of the kernel's grammar.
fn kernel(keyword: &str, e: TableError) -> String {
    format!("{keyword}: {}", e.text())
}

/// The device a `remote` line attaches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeviceContext {
    /// No `device` line in the current group yet.
    None,
    /// The last `device` of the current group (its index).
    Open(usize),
}

/// A group being read.
struct GroupBuild {
    /// Name (possibly invalid: then an error was recorded).
    name: String,
    /// Line of `group`.
    line: usize,
    /// The `group` line was wrong: the group's own checks (a log, site
    /// 0) would only repeat that.
    bad: bool,
    /// Line of the `log` keyword, once given (also when it was wrong,
    /// so that a bad log line is not also reported as a missing one).
    log_line: Option<usize>,
    /// The log, once given and valid.
    log: Option<Log>,
    /// Sites in file order.
    sites: Vec<Site>,
    /// Devices in file order.
    devices: Vec<Device>,
}

/// Parser state: the groups read so far and the names every dm device
/// of the file takes (all in one namespace, `/dev/mapper`).
#[derive(Default)]
struct Parser {
    /// Errors so far.
    errors: Vec<ConfigError>,
    /// Finished groups.
    groups: Vec<Group>,
    /// The group being read.
    group: Option<GroupBuild>,
    /// Where `remote` lines go.
    device: Option<DeviceContext>,
    /// dm names with their lines.
    names: HashMap<String, usize>,
    /// Local devices with their lines: one device cannot be replicated
    /// twice.
    locals: HashMap<String, usize>,
    /// Log devices and start sectors with their lines.
    logs: HashMap<(String, u64), usize>,
}

/// Parses a configuration file's bytes.
pub fn parse_config(text: &[u8]) -> Result<Config, Vec<ConfigError>> {
    let mut p = Parser::default();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = index.saturating_add(1);
        let Ok(raw) = std::str::from_utf8(raw) else {
            p.error(line, "not UTF-8 text".to_string());
            continue;
        };
        let code = raw.split_once('#').map_or(raw, |(code, _)| code);
        let words: Vec<&str> = code.split_whitespace().collect();
        let Some((&keyword, args)) = words.split_first() else {
            continue;
        };
        let result = match keyword {
            "group" => p.group_line(line, args),
            "log" => p.log_line(line, args),
            "site" => p.site_line(line, args),
            "device" => p.device_line(line, args),
            "remote" => p.remote_line(line, args),
            other => Err(format!(
                "unknown keyword {other} (expected group, log, site, device or remote)"
            )),
        };
        if let Err(reason) = result {
            p.error(line, reason);
        }
    }
    p.finish_group();
    if p.groups.is_empty() && p.errors.is_empty() {
        p.error(1, "no group in the file".to_string());
    }
    if p.errors.is_empty() {
        let config = Config { groups: p.groups };
        check_tables(&config)?;
        Ok(config)
    } else {
        p.errors.sort_by_key(|e| e.line);
        Err(p.errors)
    }
}

/// Builds every table line of a valid configuration (device lengths of 1
/// where the file gives none) and parses it back with `dmr-logic`: the
/// kernel's grammar is the last word on what the file may say.
fn check_tables(config: &Config) -> Result<(), Vec<ConfigError>> {
    let errors: Vec<ConfigError> = config
        .groups
        .iter()
        .filter_map(|group| tables::group_tables(group, &tables::Unresolved { length: 1 }).err())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl Parser {
    fn error(&mut self, line: usize, reason: String) {
        self.errors.push(ConfigError { line, reason });
    }

    /// Records a dm name, refusing one the file already uses.
    fn claim_name(&mut self, name: &str, line: usize) -> Result<(), String> {
        check_dm_name(name)?;
        if let Some(first) = self.names.get(name) {
            return Err(format!("dm name {name} is already used on line {first}"));
        }
        self.names.insert(name.to_string(), line);
        Ok(())
    }

    /// The group being read, or the error of a line outside any group.
    fn current(&mut self, keyword: &str) -> Result<&mut GroupBuild, String> {
        self.group
            .as_mut()
            .ok_or_else(|| format!("{keyword} outside a group (a group line must come first)"))
    }

    /// `group <name>`.
    fn group_line(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        self.finish_group();
        let result = self.open_named_group(line, args);
        if result.is_err() {
            if let Some(group) = self.group.as_mut() {
                group.bad = true;
            }
        }
        result
    }

    /// Opens the group of a `group` line, also when the line is wrong.
    fn open_named_group(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        let name = match args {
            [name] => *name,
            [] => {
                self.open_group(String::new(), line);
                return Err("group needs a name: group <name>".to_string());
            }
            [name, ..] => {
                self.open_group((*name).to_string(), line);
                return Err("group takes one word: group <name>".to_string());
            }
        };
        self.open_group(name.to_string(), line);
        self.claim_name(name, line)
    }

    /// Starts reading a group, also after a bad `group` line, so that
    /// the lines under it are checked against it rather than reported as
    /// outside a group.
    fn open_group(&mut self, name: String, line: usize) {
        self.group = Some(GroupBuild {
            name,
            line,
            bad: false,
            log_line: None,
            log: None,
            sites: Vec::new(),
            devices: Vec::new(),
        });
        self.device = Some(DeviceContext::None);
    }

    /// `log <dev> [start <sector>] [open [<sectors>] | auto <sectors> | create <sectors>]`.
    fn log_line(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        const FORM: &str =
            "log <dev> [start <sector>] [open [<sectors>] | auto <sectors> | create <sectors>]";
        let group = self.current("log")?;
        if let Some(first) = group.log_line {
            return Err(format!(
                "second log in group {} (the first is on line {first})",
                group.name
            ));
        }
        group.log_line = Some(line);
        let (dev, rest) = args
            .split_first()
            .ok_or_else(|| format!("log needs a device: {FORM}"))?;
        let (start, mode) = match rest {
            ["start", start, mode @ ..] => (*start, mode),
            ["start"] => return Err(format!("log: start needs a sector: {FORM}")),
            mode => ("0", mode),
        };
        if mode.len() > 2 {
            return Err(format!("log: too many words: {FORM}"));
        }
        let words: Vec<&str> = [*dev, start].iter().chain(mode).copied().collect();
        let params = RingbufferParams::parse(&words).map_err(|e| kernel("log", e))?;
        let params = params.with_dev(dev.to_string());
        let key = (params.dev.clone(), params.dev_start);
        group.log = Some(Log { line, params });
        if let Some(first) = self.logs.get(&key) {
            return Err(format!(
                "log: {} at sector {} is already the log of line {first}",
                key.0, key.1
            ));
        }
        self.logs.insert(key, line);
        Ok(())
    }

    /// `site <slink_nr> [<policy> [ram|disk] [<fbtype> <N>[<unit>]]]`: the
    /// `blockdev` parameters of the table.
    fn site_line(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        let group = self.current("site")?;
        let params = BlockdevParams::parse(args).map_err(|e| kernel("site", e))?;
        if let Some(first) = group.sites.iter().find(|s| s.slink() == params.slink) {
            return Err(format!(
                "site {} is already declared on line {}",
                params.slink, first.line
            ));
        }
        group.sites.push(Site { line, params });
        Ok(())
    }

    /// `device <name> <dev_nr> <local device> [length <sectors>]`.
    fn device_line(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        const FORM: &str = "device <name> <dev_nr> <local device> [length <sectors>]";
        let group = self.current("device")?;
        let (name, dev_nr, local, length) = match args {
            [name, dev_nr, local] => (*name, *dev_nr, *local, None),
            [name, dev_nr, local, "length", length] => (*name, *dev_nr, *local, Some(*length)),
            _ => ("", "", "", None),
        };
        // Open the device even if the line is wrong, so that its
        // `remote` lines are checked against it, not another device.
        let index = group.devices.len();
        group.devices.push(Device {
            line,
            name: name.to_string(),
            // No device number is this large: a placeholder until the
            // word is checked, that no other device's number equals.
            dev_nr: u32::MAX,
            local: local.to_string(),
            length: None,
            remotes: Vec::new(),
        });
        self.device = Some(DeviceContext::Open(index));
        if name.is_empty() {
            return Err(format!("device takes {FORM}"));
        }
        let dev_nr = parse_dev_nr(dev_nr).map_err(|e| kernel("device", e))?;
        let length = match length.map(parse_u64) {
            None => None,
            Some(Ok(0)) => return Err("device: length must be at least 1 sector".to_string()),
            Some(Ok(length)) => Some(length),
            Some(Err(_)) => return Err("device: length is not a number of sectors".to_string()),
        };
        let group = self.current("device")?;
        if let Some(first) = group
            .devices
            .iter()
            .find(|d| d.dev_nr == dev_nr && d.line != line)
        {
            return Err(format!(
                "device number {dev_nr} is already used in group {} on line {}",
                group.name, first.line
            ));
        }
        if let Some(device) = group.devices.get_mut(index) {
            device.dev_nr = dev_nr;
            device.length = length;
        }
        self.claim_name(name, line)?;
        if let Some(first) = self.locals.get(local) {
            return Err(format!(
                "local device {local} is already replicated on line {first}"
            ));
        }
        self.locals.insert(local.to_string(), line);
        Ok(())
    }

    /// `remote <slink_nr> <remote device> <dlog_type> [<dlog_params>...]`.
    fn remote_line(&mut self, line: usize, args: &[&str]) -> Result<(), String> {
        const FORM: &str = "remote <slink_nr> <device> <dirty log type> [<dirty log params>...]";
        let context = self.device;
        let group = self.current("remote")?;
        let Some(DeviceContext::Open(index)) = context else {
            return Err(
                "remote before any device of the group (a device line must come first)".to_string(),
            );
        };
        let Some(device) = group.devices.get_mut(index) else {
            return Err("remote before any device of the group".to_string());
        };
        let [slink, dev, kind, params @ ..] = args else {
            return Err(format!("remote takes {FORM}"));
        };
        let slink = parse_slink_number(slink).map_err(|e| kernel("remote", e))?;
        if slink == 0 {
            return Err("remote on site link 0: the local device is the device line's".to_string());
        }
        let dirty_log = DirtyLog {
            kind: (*kind).to_string(),
            params: params.iter().map(|w| (*w).to_string()).collect(),
        };
        let words = dirty_log.words();
        let spec = dirty_log.spec(&words).map_err(|e| kernel("remote", e))?;
        if spec.is_nolog() {
            return Err(kernel("remote", TableError::RemoteNeedsDirtyLog));
        }
        if let Some(first) = device.remotes.iter().find(|r| r.slink == slink) {
            return Err(format!(
                "device {} already has a remote on site link {slink} (line {})",
                device.name, first.line
            ));
        }
        let region = spec.region_size();
        for other in &device.remotes {
            let other_words = other.dirty_log.words();
            let other_region = other
                .dirty_log
                .spec(&other_words)
                .ok()
                .and_then(|s| s.region_size());
            if let (Some(a), Some(b)) = (region, other_region) {
                if a != b {
                    return Err(format!(
                        "{} (line {} has {b})",
                        kernel("remote", TableError::RegionSizeMismatch),
                        other.line
                    ));
                }
            }
        }
        device.remotes.push(Remote {
            line,
            slink,
            dev: (*dev).to_string(),
            dirty_log,
        });
        Ok(())
    }

    /// Closes the group being read: checks what needs the whole group
    /// (a log, site 0, the sites the remotes name) and keeps it.
    fn finish_group(&mut self) {
        let Some(mut build) = self.group.take() else {
            return;
        };
        self.device = None;
        let mut errors = Vec::new();
        if !build.bad && !build.sites.iter().any(|s| s.slink() == 0) {
            errors.push(ConfigError {
                line: build.line,
                reason: format!(
                    "group {} has no site 0 (the local site): add a line site 0 [<policy>]",
                    build.name
                ),
            });
        }
        for device in &build.devices {
            for remote in &device.remotes {
                if !build.sites.iter().any(|s| s.slink() == remote.slink) {
                    errors.push(ConfigError {
                        line: remote.line,
                        reason: format!(
                            "remote: site link {} is not declared as a site of group {}",
                            remote.slink, build.name
                        ),
                    });
                }
            }
        }
        build.sites.sort_by_key(Site::slink);
        let log = build.log.take();
        if !build.bad && build.log_line.is_none() {
            errors.push(ConfigError {
                line: build.line,
                reason: format!("group {} has no log line", build.name),
            });
        }
        self.errors.extend(errors);
        if let Some(log) = log {
            self.groups.push(Group {
                name: build.name,
                line: build.line,
                log,
                sites: build.sites,
                devices: build.devices,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse_config(text.as_bytes()) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    const GOOD: &str = "\
group repl
  log /dev/vg/replog auto 65536          # a comment
  site 0 synchronous
  site 1 asynchronous ios 10000
  device r0 0 /dev/vg/data0
    remote 1 /dev/nbd0 core 2048 nosync
";

    #[test]
    fn a_good_file() {
        let config = parse_config(GOOD.as_bytes()).unwrap();
        let group = &config.groups[0];
        assert_eq!(group.name, "repl");
        assert_eq!(group.sites.len(), 2);
        assert_eq!(group.devices[0].remotes[0].slink, 1);
        assert_eq!(group.devices[0].remotes[0].line, 6);
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            errors("device r0 0 /dev/x\n"),
            ["1: device outside a group (a group line must come first)"]
        );
        assert_eq!(
            errors("group g\nlog /dev/l auto 4096\nsite 0\nremote 1 /dev/y core 8\n"),
            ["4: remote before any device of the group (a device line must come first)"]
        );
        assert_eq!(
            errors("frob\n"),
            ["1: unknown keyword frob (expected group, log, site, device or remote)"]
        );
        assert_eq!(errors(""), ["1: no group in the file"]);
        assert_eq!(errors("group g\nsite 0\n"), ["1: group g has no log line"]);
    }

    #[test]
    fn kernel_messages() {
        let base = "group g\nlog /dev/l auto 4096\nsite 0\n";
        assert_eq!(
            errors(&format!("{base}site 1 sync ios 10\n")),
            ["4: site: Fall-behind limit not allowed on a synchronous site link"]
        );
        assert_eq!(
            errors(&format!("{base}site 1 s\n")),
            ["4: site: Ambiguous site link policy abbreviation"]
        );
        assert_eq!(
            errors("group g\nlog /dev/l auto 100\nsite 0\n"),
            ["2: log: Replication log size must be at least 2048 sectors"]
        );
        assert_eq!(
            errors(&format!(
                "{base}site 1\ndevice d 0 /dev/a\nremote 1 /dev/b core 1000\n"
            )),
            ["6: remote: Region size must be a power of two of at least 8 sectors"]
        );
    }

    #[test]
    fn names() {
        assert!(check_dm_name("r0-data_1.x").is_ok());
        assert!(check_dm_name("a/b").is_err());
        assert!(check_dm_name("control").is_err());
        assert!(check_dm_name(&"x".repeat(128)).is_err());
    }
}
