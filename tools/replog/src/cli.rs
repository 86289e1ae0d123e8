//! Command line: `replog check|dump|format`, `replog
//! unshipped|dirty|failback` (failback, in `crate::unshipped`,
//! `crate::dirty` and `crate::failback`), `replog label ...` (replica
//! labels, in `crate::label`) and `replog config ...` (boot-time assembly
//! of groups, in `crate::config_cli`).
//!
//! Exit status: 0 clean; 1 only crash residue that recovery discards; 2
//! damaged (the kernel would refuse the log), or no log; 3 the command
//! could not run (usage, cannot open, refused). `unshipped` exits as
//! `check`; `dirty` 0, 2 (not a usable dirty log) or 3; `failback` as
//! `unshipped`, 2 also for a dirty log `dirty` refuses, and 4 when it
//! would discard writes without `--discard-unshipped`. `label` and
//! `config` have their own (see `crate::label`, `crate::config_cli`).

use std::io::Write;
use std::path::Path;

use dmr_logic::dirty_log::parse_region_size;
use dmr_logic::number::{parse_u32, parse_u64};
use dmr_logic::replog::geometry::{ring_blocks_for_sectors, BLOCK_SIZE};
use dmr_logic::replog::open::decide;
use dmr_logic::replog::{format, load, FormatError, LogError};
use dmr_logic::ringbuffer::OpenMode;
use dmr_logic::slink::parse_slink_number;

use crate::image::Image;
use crate::report;
use crate::HostCrc;

/// Exit status when the command could not do its work.
pub const EXIT_FAILED: i32 = 3;

/// Usage text.
pub const USAGE: &str = "\
usage: replog check <device-or-image> [--offset <sectors>]
       replog dump <device-or-image> [--offset <sectors>] [--json]
       replog format <device-or-image> --size <sectors> [--offset <sectors>] [--uuid <uuid>] [--force]
       replog unshipped <device-or-image> --slink <slink_nr> [--offset <sectors>] [--dev <dev_nr>]
       replog dirty <device-or-image> --region-size <sectors> [--offset <sectors>] [--length <sectors>]
       replog failback <device-or-image> --slink <slink_nr> --dev <dev_nr> --dirty-log <device-or-image>
                       --region-size <sectors> --length <sectors> [--offset <sectors>] [--mark <replicator-dev>]
                       [--discard-unshipped]
       replog label show <device-or-image>
       replog label create <device-or-image> --dev-nr <dev_nr> --length <sectors> [--group <uuid>] [--force]
       replog label join <device-or-image> --from <primary-device-or-image>
       replog label promote <device-or-image>... [--force]
       replog label check <local-device-or-image> [<remote-device-or-image>...] --length <sectors>
                          --dev-nr <dev_nr>
       replog config check FILE
       replog config tables FILE
       replog config up FILE [--dry-run]
       replog config down FILE [--dry-run]
       replog config show FILE [--interval <seconds>]
       replog config metrics FILE

failback: run on the old primary's logs while its group is not running
  unshipped  what site link <slink_nr> never received, from the replication
             log: '<dev_nr> <sector> <sectors>' per live entry from the link's
             position on (in sequence order; writes, discards, write-zeroes
             whose site-link map names it; all live entries if the link has
             no usable position), then '<dev_nr> all' per device whose
             given-up writes were not recorded (copy it whole); --dev keeps
             one device. Exit status as check's; 2: nothing printed.
  dirty      the out-of-sync regions of a dm-log 'disk' dirty log, merged:
             '<sector> <sectors>' per extent, ascending; --length (the
             device's sectors) clips the last one and counts regions the log
             does not cover as out of sync. Exit status: 0 done; 2 bad
             magic, version or size (nothing printed); 3 usage, cannot read.
  failback   both for device <dev_nr>, in one: the log's unshipped lines of
             the device and the out-of-sync regions of its dirty log
             (--dirty-log; --region-size its region size, --length the
             device's sectors: the dirty log must have ceil(length / region
             size) regions), widened to whole regions and merged into runs:
             '<sector> <sectors>' per run, ascending; with --mark, the
             'dmsetup message' line of each run for that replicator-dev, for
             sh. The last stderr line: '<k> of <n> regions to copy back'.
             Copying back discards the writes the old primary never
             shipped: if there are regions to copy back, failback refuses
             without --discard-unshipped (nothing printed, one more stderr
             line says why, exit 4).
             Exit status as unshipped's; 2 also a bad dirty log; 3 also a
             region count or an entry that does not fit --length; 4 refused
             for want of --discard-unshipped (over 1).
  Feed each extent to the new primary's replicator-dev of the device:
  'dmsetup message <replicator-dev> 0 mark <slink_nr> <sector> <sectors>'
  ('all': sector 0, the device's size).

label: the replica label in a copy's last whole 4 KiB block, outside the
  replicated length: group UUID, device number, role, generation
  show     'group', 'device', 'role', 'generation <n> (tag <hex>)', 'length',
           one per line
  create   a primary label of generation 1 for device <dev_nr> replicating
           --length sectors (below the label block), a random group UUID
           unless --group; a device already labelled (even damaged) is
           refused unless --force
  join     label a copy secondary of --from's primary label, after a full
           copy or a failback; its old label is overwritten
  promote  the devices given, all labelled, of one group and one
           generation, become primary of the next generation with one new
           tag (a takeover); a primary is refused unless --force
  check    the checks the kernel applies to a replicator-dev table of
           <dev_nr> and --length: the local device's label (a refusal ends
           the check), then each remote's against it; '<dev>: ok' per
           device that passes
  Errors as 'replog: <dev>: <reason>'. Exit status: 0 done; 1 refused (a
  damaged label, a label missing or not as needed, a length that reaches
  the label block, a failed check; nothing written); 3 usage, cannot open,
  read or write, show of an unlabelled device.

config: the replication groups of FILE (Documentation/assembly.rst)
  check    validate FILE (FILE:LINE: reason), then look for its devices
  tables   '<name> <table line>' per dm device in creation order; devices as
           in FILE, the control device as /dev/mapper/<group>
  up       create each group: its replicator, then its replicator-devs, block
           devices as major:minor (as 'dmsetup table' prints them); a group
           already up is left alone; a failed create removes what the run
           created; --dry-run prints the dmsetup commands
  down     suspend each replicator-dev, remove them, then the replicator
  show     state per group, site link and device; --interval reads it twice
           and estimates the resync time left
  metrics  the same state in the Prometheus text format
  DMR_DMSETUP replaces the dmsetup command. Exit status: 0 done; 1 a device
  missing or too small, a dmsetup command failed, a status not read; 2 FILE
  invalid; 3 usage, unreadable FILE, dmsetup cannot run.
";

/// Parsed command-line options.
#[derive(Debug, Default)]
struct Options {
    path: Option<String>,
    offset: u64,
    size: Option<u64>,
    json: bool,
    force: bool,
    uuid: Option<[u8; 16]>,
    slink: Option<u32>,
    dev: Option<u32>,
    region_size: Option<u64>,
    length: Option<u64>,
    dirty_log: Option<String>,
    mark: Option<String>,
    discard_unshipped: bool,
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let flag = arg.as_str();
        if flag.starts_with("--") && !allowed.contains(&flag) {
            return Err(format!("unknown option {flag}"));
        }
        let mut value = |what: &str| {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs {what}"))
        };
        let number =
            |text: &str| parse_u64(text).map_err(|_| format!("{flag}: not a number: {text}"));
        match flag {
            "--offset" => o.offset = number(value("a number of sectors")?)?,
            "--size" => o.size = Some(number(value("a number of sectors")?)?),
            "--uuid" => {
                let text = value("a UUID")?;
                o.uuid = Some(
                    report::parse_uuid(text)
                        .ok_or_else(|| format!("--uuid: not a UUID: {text}"))?,
                );
            }
            "--slink" => {
                let text = value("a site link number")?;
                o.slink =
                    Some(parse_slink_number(text).map_err(|e| format!("--slink: {e}: {text}"))?);
            }
            "--dev" => {
                let text = value("a device number")?;
                o.dev = Some(
                    parse_u32(text).map_err(|_| format!("--dev: not a device number: {text}"))?,
                );
            }
            "--region-size" => {
                let text = value("a number of sectors")?;
                o.region_size = Some(
                    parse_region_size(text).map_err(|e| format!("--region-size: {e}: {text}"))?,
                );
            }
            "--length" => o.length = Some(number(value("a number of sectors")?)?),
            "--dirty-log" => o.dirty_log = Some(value("a dirty log device or image")?.to_string()),
            "--mark" => o.mark = Some(value("a replicator-dev name")?.to_string()),
            "--json" => o.json = true,
            "--force" => o.force = true,
            "--discard-unshipped" => o.discard_unshipped = true,
            _ if o.path.is_none() => o.path = Some(arg.clone()),
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    if o.path.is_none() {
        return Err("missing device or image".to_string());
    }
    Ok(o)
}

/// Runs `replog` with `args` (without the program name); returns the exit
/// status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        let _ = err.write_all(USAGE.as_bytes());
        return EXIT_FAILED;
    };
    let allowed: &[&str] = match command.as_str() {
        "config" => return crate::config_cli::run(rest, out, err),
        "label" => return crate::label::run(rest, out, err),
        "check" => &["--offset"],
        "dump" => &["--offset", "--json"],
        "format" => &["--offset", "--size", "--uuid", "--force"],
        "unshipped" => &["--offset", "--slink", "--dev"],
        "dirty" => &["--offset", "--region-size", "--length"],
        "failback" => &[
            "--offset",
            "--slink",
            "--dev",
            "--dirty-log",
            "--region-size",
            "--length",
            "--mark",
            "--discard-unshipped",
        ],
        "help" | "--help" | "-h" => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
        other => {
            let _ = writeln!(err, "replog: unknown command {other}");
            let _ = err.write_all(USAGE.as_bytes());
            return EXIT_FAILED;
        }
    };
    let o = match parse(rest, allowed) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(err, "replog {command}: {e}");
            let _ = err.write_all(USAGE.as_bytes());
            return EXIT_FAILED;
        }
    };
    let path = Path::new(o.path.as_deref().unwrap_or_default());
    let result = match command.as_str() {
        "check" => cmd_check(path, &o, out),
        "dump" => cmd_dump(path, &o, out),
        "unshipped" => cmd_unshipped(path, &o, out, err),
        "dirty" => cmd_dirty(path, &o, out, err),
        "failback" => cmd_failback(path, &o, out, err),
        _ => cmd_format(path, &o, out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "replog {command}: {}: {e}", path.display());
            EXIT_FAILED
        }
    }
}

fn cmd_check(path: &Path, o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let mut image = Image::open(path, o.offset).map_err(|e| e.to_string())?;
    let report = crate::check::check(&mut image);
    for line in &report.lines {
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    Ok(report.verdict.exit_code())
}

fn cmd_dump(path: &Path, o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let mut image = Image::open(path, o.offset).map_err(|e| e.to_string())?;
    let dump = crate::dump::dump(&mut image, o.json);
    out.write_all(dump.out.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(if dump.found { 0 } else { 2 })
}

/// The remote site link `--slink` names (required, not 0).
fn remote_slink(o: &Options) -> Result<u32, String> {
    match o.slink {
        None => Err("--slink <slink_nr> is required".to_string()),
        Some(0) => Err("--slink: 0 is the local site; give a remote site link".to_string()),
        Some(nr) => Ok(nr),
    }
}

fn cmd_unshipped(
    path: &Path,
    o: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let slink = remote_slink(o)?;
    crate::unshipped::command(path, o.offset, slink, o.dev, out, err)
}

fn cmd_failback(
    path: &Path,
    o: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let slink = remote_slink(o)?;
    let dev = o.dev.ok_or("--dev <dev_nr> is required")?;
    let dirty_log = o
        .dirty_log
        .as_deref()
        .ok_or("--dirty-log <device-or-image> is required")?;
    let region_size = o.region_size.ok_or("--region-size <sectors> is required")?;
    let length = o.length.ok_or("--length <sectors> is required")?;
    let device = crate::failback::Device::new(region_size, length)?;
    if let Some(name) = &o.mark {
        crate::failback::check_mark_name(name)?;
    }
    let request = crate::failback::Request {
        log: path,
        offset: o.offset,
        slink,
        dev,
        dirty_log: Path::new(dirty_log),
        device,
        mark: o.mark.as_deref(),
        discard_unshipped: o.discard_unshipped,
    };
    crate::failback::command(&request, out, err)
}

fn cmd_dirty(
    path: &Path,
    o: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let region_size = o.region_size.ok_or("--region-size <sectors> is required")?;
    crate::dirty::command(path, o.offset, region_size, o.length, out, err)
}

fn cmd_format(path: &Path, o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let size = o.size.ok_or("--size <sectors> is required")?;
    let ring_blocks = ring_blocks_for_sectors(size).map_err(|e| e.text().to_string())?;
    let mut image = Image::create(path, o.offset, size).map_err(|e| e.to_string())?;
    let avail = image.avail_sectors().map_err(|e| e.to_string())?;
    if avail < size {
        return Err(format!(
            "{} ({avail} sectors available)",
            FormatError::LogBeyondDevice.text()
        ));
    }
    let mut buf = [0; BLOCK_SIZE];
    if !o.force {
        let loaded = load::<HostCrc, _>(&mut image, &mut buf, avail);
        // `create` formats unless the log has entries outstanding.
        if let Err(e) = decide(OpenMode::Create(size), &loaded) {
            return Err(format!("{} (use --force)", report::error_text(&e)));
        }
    }
    let uuid = match o.uuid {
        Some(uuid) => uuid,
        None => random_uuid().map_err(|e| e.to_string())?,
    };
    image.sync_writes(true);
    let (sb, cp) = format::<HostCrc, _>(&mut image, &mut buf, uuid, ring_blocks)
        .map_err(|e: LogError| report::error_text(&e))?;
    writeln!(
        out,
        "formatted: uuid {}, ring {} blocks at block {} ({} sectors)",
        report::uuid(&sb.uuid),
        cp.ring_blocks,
        sb.ring_start,
        (sb.ring_start + cp.ring_blocks) * 8
    )
    .map_err(|e| e.to_string())?;
    Ok(0)
}

/// `N` random bytes from `/dev/urandom`.
pub(crate) fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A random (version 4) UUID.
pub(crate) fn random_uuid() -> std::io::Result<[u8; 16]> {
    let mut uuid = random_bytes::<16>()?;
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(uuid)
}
