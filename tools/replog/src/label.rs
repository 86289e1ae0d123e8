//! `replog label show|create|join|promote|check`: the replica labels of
//! `dmr_logic::label` on devices and images.
//!
//! A label is one 4 KiB block in a copy's last whole 4 KiB block,
//! outside the replicated length. These commands read and write that
//! block and nothing else; every write is synced before the command goes
//! on (as `replog format` writes).
//!
//! ```text
//! replog label show <dev>
//! replog label create <dev> --dev-nr <dev_nr> --length <sectors> [--group <uuid>] [--force]
//! replog label join <dev> --from <primary-dev>
//! replog label promote <dev>... [--force]
//! replog label check <local-dev> [<remote-dev>...] --length <sectors> --dev-nr <dev_nr>
//! ```
//!
//! - `show` prints the label, one field per line (`group`, `device`,
//!   `role`, `generation <n> (tag <hex>)`, `length`).
//! - `create` writes a new primary label of generation 1 with a random
//!   tag, of a random group unless `--group`. A `--length` that reaches
//!   the label block is refused, and so is a device that holds a label,
//!   valid or damaged, unless `--force`.
//! - `join` writes the secondary label of `--from`'s primary label (after
//!   a full copy or a fail-back copy), whatever the device held.
//! - `promote` makes every device given primary of the next generation,
//!   with one new random tag for all of them: they must be labelled, of
//!   one group and of one generation (number and tag). A device already
//!   primary is refused unless `--force`.
//! - `check` applies the kernel's checks of a `replicator-dev` table of
//!   device `--dev-nr` and length `--length` whose local device is
//!   `<local-dev>` and whose remote devices are the others:
//!   `dmr_logic::label::check_local` if the local device is labelled
//!   (a refusal there ends the check, as it ends the table load), then
//!   `check_remote` for each remote device. `<dev>: ok` per device that
//!   passes; a refusal has the numbers behind it in parentheses.
//!
//! Errors go to stderr as `replog: <dev>: <reason>`. Exit status: 0 done;
//! 1 refused (a damaged label, a label missing or not as the command
//! needs, a length that reaches the label block, a check that fails);
//! 3 usage, a device that cannot be opened, read or written, and `show`
//! of a device without a label. Refused writing commands write nothing;
//! a write that fails ends the command (the lines printed name the
//! devices written).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Display;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use dmr_logic::label::{check_local, check_remote, label_sector, Label, LabelError, Refusal, Role};
use dmr_logic::number::{parse_u32, parse_u64};
use dmr_logic::replog::{Block, BlockReader, BlockWriter, BLOCK_SIZE};

use crate::cli::{random_bytes, random_uuid, EXIT_FAILED, USAGE};
use crate::hostdev::size_sectors;
use crate::image::Image;
use crate::report;
use crate::HostCrc;

/// Exit status: refused (nothing written).
pub const EXIT_REFUSED: i32 = 1;

/// A parsed `replog label` command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Show {
        dev: String,
    },
    Create {
        dev: String,
        dev_nr: u32,
        length: u64,
        group: Option<[u8; 16]>,
        force: bool,
    },
    Join {
        dev: String,
        from: String,
    },
    Promote {
        devs: Vec<String>,
        force: bool,
    },
    Check {
        local: String,
        remotes: Vec<String>,
        dev_nr: u32,
        length: u64,
    },
}

/// The options of a subcommand, and whether it takes more than one
/// device.
fn options_of(sub: &str) -> Option<(&'static [&'static str], bool)> {
    Some(match sub {
        "show" => (&[], false),
        "create" => (&["--dev-nr", "--length", "--group", "--force"], false),
        "join" => (&["--from"], false),
        "promote" => (&["--force"], true),
        "check" => (&["--dev-nr", "--length"], true),
        _ => return None,
    })
}

/// `value`, or `<what> is required`.
fn required<T>(value: Option<T>, what: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{what} is required"))
}

/// Parses the arguments after `label`.
fn parse(args: &[String]) -> Result<Command, String> {
    let (sub, rest) = args.split_first().ok_or("missing subcommand")?;
    let (allowed, many) = options_of(sub).ok_or_else(|| format!("unknown subcommand {sub}"))?;
    let mut devs: Vec<String> = Vec::new();
    let (mut dev_nr, mut length, mut group, mut from, mut force) = (None, None, None, None, false);
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let flag = arg.as_str();
        if !flag.starts_with("--") {
            if !many && !devs.is_empty() {
                return Err(format!("unexpected argument {arg}"));
            }
            devs.push(arg.clone());
            continue;
        }
        if !allowed.contains(&flag) {
            return Err(format!("unknown option {flag}"));
        }
        if flag == "--force" {
            force = true;
            continue;
        }
        // What the flag needs, and what a bad value is not.
        let (needs, not) = match flag {
            "--dev-nr" => ("a device number", "a device number"),
            "--length" => ("a number of sectors", "a number"),
            "--group" => ("a UUID", "a UUID"),
            _ => ("a device or image", ""),
        };
        let text = it
            .next()
            .ok_or_else(|| format!("{flag} needs {needs}"))?
            .as_str();
        let bad = || format!("{flag}: not {not}: {text}");
        match flag {
            "--dev-nr" => dev_nr = Some(parse_u32(text).map_err(|_| bad())?),
            "--length" => length = Some(parse_u64(text).map_err(|_| bad())?),
            "--group" => group = Some(report::parse_uuid(text).ok_or_else(bad)?),
            _ => from = Some(text.to_string()),
        }
    }
    let mut devs = devs.into_iter();
    let dev = devs.next().ok_or("missing device or image")?;
    Ok(match sub.as_str() {
        "show" => Command::Show { dev },
        "create" => Command::Create {
            dev,
            dev_nr: required(dev_nr, "--dev-nr <dev_nr>")?,
            length: required(length, "--length <sectors>")?,
            group,
            force,
        },
        "join" => Command::Join {
            dev,
            from: required(from, "--from <primary-device-or-image>")?,
        },
        "promote" => Command::Promote {
            devs: std::iter::once(dev).chain(devs).collect(),
            force,
        },
        _ => Command::Check {
            local: dev,
            remotes: devs.collect(),
            dev_nr: required(dev_nr, "--dev-nr <dev_nr>")?,
            length: required(length, "--length <sectors>")?,
        },
    })
}

/// Runs `replog label ARGS`; returns the exit status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let command = match parse(args) {
        Ok(command) => command,
        Err(e) => {
            let _ = writeln!(err, "replog label: {e}");
            let _ = err.write_all(USAGE.as_bytes());
            return EXIT_FAILED;
        }
    };
    let result = match command {
        Command::Show { dev } => show(&dev, out),
        Command::Create {
            dev,
            dev_nr,
            length,
            group,
            force,
        } => create(&dev, dev_nr, length, group, force, out),
        Command::Join { dev, from } => join(&dev, &from, out),
        Command::Promote { devs, force } => promote(&devs, force, out),
        Command::Check {
            local,
            remotes,
            dev_nr,
            length,
        } => return check(&local, &remotes, dev_nr, length, out, err),
    };
    match result {
        Ok(()) => 0,
        Err(f) => f.report(err),
    }
}

/// Why a command stopped: the exit status and `<dev>: <reason>`.
#[derive(Debug)]
struct Failure {
    code: i32,
    text: String,
}

impl Failure {
    /// Refused: exit status 1.
    fn refused(path: &str, why: impl Display) -> Failure {
        Failure {
            code: EXIT_REFUSED,
            text: format!("{path}: {why}"),
        }
    }

    /// Could not run: exit status 3.
    fn failed(path: &str, why: impl Display) -> Failure {
        Failure {
            code: EXIT_FAILED,
            text: format!("{path}: {why}"),
        }
    }

    /// Writes `replog: <dev>: <reason>`; returns the exit status.
    fn report(&self, err: &mut dyn Write) -> i32 {
        let _ = writeln!(err, "replog: {}", self.text);
        self.code
    }
}

/// A device or image and what its label block holds.
struct Dev<'a> {
    path: &'a str,
    /// Its size in sectors.
    sectors: u64,
    /// The label block's sector; `None` if the device is too small for one
    /// (and then it holds no label).
    at: Option<u64>,
    /// What the label block holds.
    label: Result<Option<Label>, LabelError>,
}

/// The I/O error of `errno`, for its text.
fn errno_text(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

impl<'a> Dev<'a> {
    /// Sizes `path` and reads its label block.
    fn read(path: &'a str) -> Result<Dev<'a>, Failure> {
        let sectors = size_sectors(path).map_err(|e| Failure {
            code: EXIT_FAILED,
            text: e,
        })?;
        let at = label_sector(sectors);
        let label = match at {
            None => Ok(None),
            Some(at) => {
                let mut image =
                    Image::open(Path::new(path), at).map_err(|e| Failure::failed(path, e))?;
                let mut block: Block = [0; BLOCK_SIZE];
                image.read(0, &mut block).map_err(|e| {
                    let e = errno_text(e.0);
                    Failure::failed(path, format!("cannot read the label at sector {at}: {e}"))
                })?;
                Label::decode::<HostCrc>(&block)
            }
        };
        Ok(Dev {
            path,
            sectors,
            at,
            label,
        })
    }

    /// The label, `None` if there is none; a damaged one is refused.
    fn label(&self) -> Result<Option<Label>, Failure> {
        self.label
            .map_err(|e| Failure::refused(self.path, e.message().to_string_lossy()))
    }

    /// The label, which must be there.
    fn labelled(&self) -> Result<Label, Failure> {
        self.label()?
            .ok_or_else(|| Failure::refused(self.path, "no label"))
    }

    /// Refuses a replicated length that reaches the label block (or is 0);
    /// `named` is how the message names it (`--length 8`).
    fn fits(&self, length: u64, named: &str) -> Result<(), Failure> {
        match self.at {
            None => Err(Failure::refused(
                self.path,
                format!(
                    "too small for a label (the device has {} sectors)",
                    self.sectors
                ),
            )),
            Some(_) if length == 0 => Err(Failure::refused(
                self.path,
                format!("{named}: the replicated length must be at least one sector"),
            )),
            Some(at) if length > at => Err(Failure::refused(
                self.path,
                format!(
                    "{named} reaches the label block at sector {at} (the device has {} sectors)",
                    self.sectors
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Writes `label` into the label block, durably.
    fn write(&self, label: &Label) -> Result<(), Failure> {
        let at = self
            .at
            .ok_or_else(|| Failure::refused(self.path, "too small for a label"))?;
        let mut block: Block = [0; BLOCK_SIZE];
        label.encode::<HostCrc>(&mut block);
        // The file exists (it was read): nothing is created or grown.
        let mut image = Image::create(Path::new(self.path), at, 0)
            .map_err(|e| Failure::failed(self.path, e))?;
        image.sync_writes(true);
        image.write(0, &block).map_err(|e| {
            let e = errno_text(e.0);
            Failure::failed(
                self.path,
                format!("cannot write the label at sector {at}: {e}"),
            )
        })
    }
}

/// `<role> of group <uuid> device <n> generation <g>`.
fn describe(l: &Label) -> String {
    format!(
        "{} of group {} device {} generation {}",
        l.role.name(),
        report::uuid(&l.group),
        l.dev_nr,
        l.generation
    )
}

/// `<g> (tag <hex>)`.
fn generation(l: &Label) -> String {
    format!("{} (tag {:016x})", l.generation, l.generation_tag)
}

/// What `show` prints.
fn show_text(l: &Label) -> String {
    format!(
        "group {}\ndevice {}\nrole {}\ngeneration {}\nlength {}\n",
        report::uuid(&l.group),
        l.dev_nr,
        l.role.name(),
        generation(l),
        l.length
    )
}

/// Writes a line to stdout.
fn say(out: &mut dyn Write, line: impl Display) -> Result<(), Failure> {
    writeln!(out, "{line}").map_err(|e| Failure::failed("stdout", e))
}

/// A new generation tag.
fn random_tag() -> Result<u64, Failure> {
    random_bytes::<8>()
        .map(u64::from_le_bytes)
        .map_err(|e| Failure::failed("/dev/urandom", e))
}

fn show(path: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let copy = Dev::read(path)?;
    let label = copy
        .label()?
        .ok_or_else(|| Failure::failed(path, "no label"))?;
    out.write_all(show_text(&label).as_bytes())
        .map_err(|e| Failure::failed("stdout", e))
}

fn create(
    path: &str,
    dev_nr: u32,
    length: u64,
    group: Option<[u8; 16]>,
    force: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let copy = Dev::read(path)?;
    if !force {
        let held = match copy.label {
            Ok(None) => None,
            Ok(Some(l)) => Some(describe(&l)),
            Err(e) => Some(e.message().to_string_lossy().into_owned()),
        };
        if let Some(held) = held {
            return Err(Failure::refused(
                path,
                format!("already labelled: {held} (use --force)"),
            ));
        }
    }
    copy.fits(length, &format!("--length {length}"))?;
    let group = match group {
        Some(group) => group,
        None => random_uuid().map_err(|e| Failure::failed("/dev/urandom", e))?,
    };
    let label = Label::first(group, dev_nr, length);
    copy.write(&label)?;
    say(
        out,
        format_args!(
            "{path}: group {} device {dev_nr} primary generation 1",
            report::uuid(&group)
        ),
    )
}

/// Whether `a` and `b` are the same file or block device.
fn same_device(a: &str, b: &str) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => {
            let block = |m: &std::fs::Metadata| m.file_type().is_block_device();
            (a.dev(), a.ino()) == (b.dev(), b.ino())
                || (block(&a) && block(&b) && a.rdev() == b.rdev())
        }
        _ => false,
    }
}

fn join(path: &str, from: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let primary = Dev::read(from)?.labelled()?;
    if primary.role != Role::Primary {
        return Err(Failure::refused(
            from,
            format!("not a primary: {}", describe(&primary)),
        ));
    }
    if same_device(path, from) {
        return Err(Failure::refused(path, format!("is {from} itself")));
    }
    let copy = Dev::read(path)?;
    copy.fits(
        primary.length,
        &format!("length {} of {from}'s label", primary.length),
    )?;
    let label = primary.secondary();
    copy.write(&label)?;
    say(out, format_args!("{path}: {}", describe(&label)))
}

fn promote(paths: &[String], force: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let copies = paths
        .iter()
        .map(|p| Dev::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut labels: Vec<(&Dev<'_>, Label)> = Vec::with_capacity(copies.len());
    for copy in &copies {
        let label = copy.labelled()?;
        if let Some((first, l)) = labels.first() {
            if label.group != l.group {
                return Err(Failure::refused(
                    copy.path,
                    format!(
                        "group {}, not {} as {}",
                        report::uuid(&label.group),
                        report::uuid(&l.group),
                        first.path
                    ),
                ));
            }
            if !label.same_generation(l) {
                return Err(Failure::refused(
                    copy.path,
                    format!(
                        "generation {}, not {} as {}",
                        generation(&label),
                        generation(l),
                        first.path
                    ),
                ));
            }
        }
        if label.role == Role::Primary && !force {
            return Err(Failure::refused(
                copy.path,
                format!(
                    "already primary of generation {} (use --force)",
                    label.generation
                ),
            ));
        }
        labels.push((copy, label));
    }
    let tag = random_tag()?;
    let mut promoted = Vec::with_capacity(labels.len());
    for (copy, label) in labels {
        let next = label.promoted(tag).ok_or_else(|| {
            Failure::refused(
                copy.path,
                format!("generation {} is the last one", label.generation),
            )
        })?;
        promoted.push((copy, next));
    }
    for (copy, label) in promoted {
        copy.write(&label)?;
        say(out, format_args!("{}: {}", copy.path, describe(&label)))?;
    }
    Ok(())
}

/// The `replicator-dev` table `check` checks devices against.
struct Table {
    dev_nr: u32,
    length: u64,
}

/// The numbers behind a refusal of `copy`, in parentheses (or nothing).
fn detail(
    r: Refusal,
    table: &Table,
    copy: &Dev<'_>,
    local: Option<&Label>,
    remote: Option<&Label>,
) -> String {
    let tags = |g: u64| match (local, remote) {
        (Some(l), Some(r)) => format!(
            " (generation {g}: remote tag {:016x}, local tag {:016x})",
            r.generation_tag, l.generation_tag
        ),
        _ => format!(" (generation {g})"),
    };
    match r {
        Refusal::LocalDevNr { label } => {
            format!(" (labelled device {label}, --dev-nr {})", table.dev_nr)
        }
        Refusal::LengthOverlapsLabel => match copy.at {
            Some(at) => format!(" (--length {}, label block at sector {at})", table.length),
            None => format!(
                " (--length {}, the device has {} sectors)",
                table.length, copy.sectors
            ),
        },
        Refusal::OtherGroup => match (local, remote) {
            (Some(l), Some(r)) => format!(
                " (remote group {}, local {})",
                report::uuid(&r.group),
                report::uuid(&l.group)
            ),
            _ => String::new(),
        },
        Refusal::OtherDevice { remote } => match local {
            Some(l) => format!(" (remote device {remote}, local {})", l.dev_nr),
            None => format!(" (remote device {remote})"),
        },
        Refusal::OlderGeneration { remote, local } | Refusal::NewerGeneration { remote, local } => {
            format!(" (remote generation {remote}, local {local})")
        }
        Refusal::OtherBranch { generation } => tags(generation),
        Refusal::LocalIsSecondary
        | Refusal::RemoteUnlabelled
        | Refusal::LocalUnlabelled
        | Refusal::RemoteIsPrimary => String::new(),
    }
}

/// The outcome of one device's check: `Ok` or why not.
fn verdict(
    copy: &Dev<'_>,
    result: Result<(), Refusal>,
    table: &Table,
    local: Option<&Label>,
    remote: Option<&Label>,
) -> Result<(), Failure> {
    result.map_err(|r| {
        Failure::refused(
            copy.path,
            format!(
                "{}{}",
                r.message().to_string_lossy(),
                detail(r, table, copy, local, remote)
            ),
        )
    })
}

/// `check`: the local device as the kernel checks it first (a refusal
/// there ends the check, as it ends the table load), then every remote
/// device, each on its own; the exit status is the worst.
fn check(
    local_path: &str,
    remotes: &[String],
    dev_nr: u32,
    length: u64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let table = Table { dev_nr, length };
    let checked = Dev::read(local_path).and_then(|local| {
        let label = local.label()?;
        if let Some(l) = &label {
            let result = check_local(l, dev_nr, length, local.sectors);
            verdict(&local, result, &table, Some(l), None)?;
        }
        say(out, format_args!("{local_path}: ok"))?;
        Ok(label)
    });
    let local = match checked {
        Ok(label) => label,
        Err(f) => return f.report(err),
    };
    let mut code = 0;
    for path in remotes {
        let outcome = Dev::read(path).and_then(|remote| {
            let label = remote.label()?;
            let result = check_remote(local.as_ref(), label.as_ref(), length, remote.sectors);
            verdict(&remote, result, &table, local.as_ref(), label.as_ref())?;
            say(out, format_args!("{path}: ok"))
        });
        if let Err(f) = outcome {
            code = code.max(f.report(err));
        }
    }
    code
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn parsed(line: &str) -> Result<Command, String> {
        parse(&args(line))
    }

    const GROUP: &str = "00112233-4455-6677-8899-aabbccddeeff";

    #[test]
    fn commands_parse() {
        assert_eq!(parsed("show a"), Ok(Command::Show { dev: "a".into() }));
        assert_eq!(
            parsed(&format!(
                "create a --length 8 --dev-nr 2 --group {GROUP} --force"
            )),
            Ok(Command::Create {
                dev: "a".into(),
                dev_nr: 2,
                length: 8,
                group: report::parse_uuid(GROUP),
                force: true,
            })
        );
        assert_eq!(
            parsed("create a --dev-nr 0 --length 1"),
            Ok(Command::Create {
                dev: "a".into(),
                dev_nr: 0,
                length: 1,
                group: None,
                force: false,
            })
        );
        assert_eq!(
            parsed("join a --from b"),
            Ok(Command::Join {
                dev: "a".into(),
                from: "b".into()
            })
        );
        assert_eq!(
            parsed("promote a b c --force"),
            Ok(Command::Promote {
                devs: args("a b c"),
                force: true
            })
        );
        assert_eq!(
            parsed("check l --dev-nr 1 r1 --length 8 r2"),
            Ok(Command::Check {
                local: "l".into(),
                remotes: args("r1 r2"),
                dev_nr: 1,
                length: 8,
            })
        );
        assert_eq!(
            parsed("check l --dev-nr 1 --length 8"),
            Ok(Command::Check {
                local: "l".into(),
                remotes: Vec::new(),
                dev_nr: 1,
                length: 8,
            })
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let cases = [
            ("", "missing subcommand"),
            ("wipe a", "unknown subcommand wipe"),
            ("show", "missing device or image"),
            ("show a b", "unexpected argument b"),
            ("show a --force", "unknown option --force"),
            ("join a --force --from b", "unknown option --force"),
            ("check a --group x", "unknown option --group"),
            ("create a --length 8", "--dev-nr <dev_nr> is required"),
            ("create a --dev-nr 1", "--length <sectors> is required"),
            (
                "create a --dev-nr 1 --length",
                "--length needs a number of sectors",
            ),
            (
                "create a --dev-nr x1 --length 8",
                "--dev-nr: not a device number: x1",
            ),
            (
                "create a --dev-nr 4294967296 --length 8",
                "--dev-nr: not a device number: 4294967296",
            ),
            (
                "create a --dev-nr 1 --length 08",
                "--length: not a number: 08",
            ),
            (
                "create a --dev-nr 1 --length 8 --group",
                "--group needs a UUID",
            ),
            (
                "create a --dev-nr 1 --length 8 --group 0011",
                "--group: not a UUID: 0011",
            ),
            ("join a", "--from <primary-device-or-image> is required"),
            ("join a --from", "--from needs a device or image"),
            ("promote --force", "missing device or image"),
            ("check a --length 8", "--dev-nr <dev_nr> is required"),
            ("check a b --dev-nr 1", "--length <sectors> is required"),
        ];
        for (line, e) in cases {
            assert_eq!(parsed(line), Err(e.to_string()), "{line}");
        }
    }

    fn label() -> Label {
        Label {
            group: report::parse_uuid(GROUP).unwrap(),
            dev_nr: 3,
            role: Role::Secondary,
            generation: 7,
            generation_tag: 0xab,
            length: 4088,
        }
    }

    #[test]
    fn labels_print() {
        let l = label();
        assert_eq!(
            show_text(&l),
            format!(
                "group {GROUP}\ndevice 3\nrole secondary\ngeneration 7 (tag 00000000000000ab)\nlength 4088\n"
            )
        );
        assert_eq!(
            describe(&l),
            format!("secondary of group {GROUP} device 3 generation 7")
        );
    }

    #[test]
    fn refusals_give_their_numbers() {
        let copy = Dev {
            path: "r",
            sectors: 4096,
            at: Some(4088),
            label: Ok(None),
        };
        let table = Table {
            dev_nr: 3,
            length: 4089,
        };
        let (l, r) = (
            label(),
            Label {
                generation_tag: 0xcd,
                ..label()
            },
        );
        let d = |refusal| detail(refusal, &table, &copy, Some(&l), Some(&r));
        assert_eq!(
            d(Refusal::OtherBranch { generation: 7 }),
            " (generation 7: remote tag 00000000000000cd, local tag 00000000000000ab)"
        );
        assert_eq!(
            d(Refusal::LocalDevNr { label: 2 }),
            " (labelled device 2, --dev-nr 3)"
        );
        assert_eq!(
            d(Refusal::LengthOverlapsLabel),
            " (--length 4089, label block at sector 4088)"
        );
        assert_eq!(
            d(Refusal::OtherDevice { remote: 4 }),
            " (remote device 4, local 3)"
        );
        assert_eq!(
            d(Refusal::NewerGeneration {
                remote: 8,
                local: 7
            }),
            " (remote generation 8, local 7)"
        );
        assert_eq!(d(Refusal::RemoteIsPrimary), "");
    }
}
