//! `replog failback`: the regions a new primary must copy back to the old
//! one after a takeover.
//!
//! After a takeover at the DR site, the old primary's copy of a device
//! differs from the new primary's where the old primary wrote and never
//! shipped: the entries its replication log still holds for the DR site's
//! link (`replog unshipped`) and the regions its dirty log recorded for the
//! entries its full log gave up (`replog dirty`). Run on the old primary's
//! logs while its group is not running, this gives the union of both as
//! runs of whole regions, for the new primary's dirty log
//! (`dmsetup message <replicator-dev> 0 mark <slink_nr> <sector>
//! <sectors>`): the resync then copies back those regions and what the new
//! primary wrote since, and nothing else.
//!
//! Copying those regions back discards the writes the old primary made
//! and never shipped (with the new primary writing too, a split brain):
//! a choice to make explicitly, as DRBD's after-split-brain resolution
//! is. Unless `--discard-unshipped` is given, a non-empty union is
//! refused (exit 4, nothing on stdout).
//!
//! ```text
//! replog failback <device-or-image> --slink N --dev D --dirty-log <dlog> --region-size R --length L [--offset <sectors>] [--mark <replicator-dev>] [--discard-unshipped]
//! ```
//!
//! - `<device-or-image>`, `--offset` sectors in, is the old primary's
//!   replication log, `N` the DR site's link in the old group, `D` the
//!   device's `<dev_nr>` there.
//! - `<dlog>` is device `D`'s `disk` dirty log for link `N`, read from its
//!   start; `R` its region size and `L` the device's length in sectors (the
//!   `replicator-dev` table's length). dm-log gives the device
//!   `ceil(L / R)` regions: a dirty log that records another number is
//!   refused (another device's log, or another length or region size).
//!
//! What counts: device `D`'s lines of `replog unshipped --slink N --dev D`
//! (a `D all` line is the whole device), and every out-of-sync region of
//! `<dlog>` as `replog dirty --region-size R --length L` finds them. Each
//! extent is widened to the regions it touches (region `r` is sectors
//! `r * R .. (r + 1) * R`, the last one clipped to `L`), and the regions are
//! merged into maximal runs of consecutive regions. On stdout, and nothing
//! else there, one line per run, ascending:
//!
//! ```text
//! <sector> <sectors>
//! dmsetup message <replicator-dev> 0 mark <N> <sector> <sectors>     with --mark
//! ```
//!
//! (`--mark` lines are ready for `sh`; a name sh would split or expand is
//! quoted.) `mark` takes sectors: the new primary's region size may differ
//! from `R`.
//!
//! Notes go to stderr, each line starting `replog failback: `: those of
//! `unshipped` (the link's position, crash residue, lost devices, its
//! count), the dirty log's count, and last
//! `replog failback: <k> of <n> regions to copy back (<bytes> bytes of <L * 512>)`.
//! Refused for want of `--discard-unshipped`, one more line follows it:
//! `replog failback: the old primary holds writes the other site never
//! received (<k> of <n> regions); copying back discards them: give
//! --discard-unshipped to do so`.
//!
//! Exit status as `unshipped`'s: 0 clean; 1 crash residue in the log that
//! recovery discards (the runs are printed all the same); 2 a damaged or no
//! replication log, or not a usable dirty log (bad magic or version, shorter
//! than its bitmap); 3 usage, a refused combination (the dirty log's region
//! count, an entry of `D` past `L`), cannot open or read either log; 4
//! regions to copy back without `--discard-unshipped` (4 wins over 1). For
//! 2, 3 and 4 nothing is on stdout, the reason is on stderr. An empty union
//! needs no `--discard-unshipped`: nothing is printed, exit 0 or 1.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use dmr_logic::replog::geometry::SECTOR_SIZE;

use crate::dirty::{self, Extent, Regions, BITMAP_OFFSET};
use crate::image::Image;
use crate::unshipped::{self, Unshipped};

/// Exit status of a refusal (as a usage error).
const REFUSED: i32 = 3;

/// Exit status when there are regions to copy back and
/// `--discard-unshipped` was not given.
pub const UNSHIPPED_KEPT: i32 = 4;

/// Longest dm device name (`DM_NAME_LEN` less its NUL).
pub const DM_NAME_MAX: usize = 127;

/// A run of whole regions, `first..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// First region.
    pub first: u64,
    /// The region after the last.
    pub end: u64,
}

impl Run {
    /// Regions in the run.
    pub fn regions(&self) -> u64 {
        self.end.saturating_sub(self.first)
    }
}

/// A device of `length` sectors cut into regions of `region_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    region_size: u64,
    length: u64,
}

impl Device {
    /// The device; `region_size` must be a power of two of at least 8
    /// sectors (as the tables take it), `length` at least 1.
    pub fn new(region_size: u64, length: u64) -> Result<Device, String> {
        if region_size < 8 || !region_size.is_power_of_two() {
            return Err(format!(
                "--region-size: must be a power of two of at least 8 sectors: {region_size}"
            ));
        }
        if length == 0 {
            return Err("--length: the device's length must be at least 1 sector".to_string());
        }
        Ok(Device {
            region_size,
            length,
        })
    }

    /// Region size in sectors.
    pub fn region_size(&self) -> u64 {
        self.region_size
    }

    /// Length in sectors.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Regions of the device, `ceil(length / region_size)`, as dm-log
    /// counts them.
    pub fn regions(&self) -> u64 {
        self.length.div_ceil(self.region_size)
    }

    /// Every region.
    pub fn whole(&self) -> Run {
        Run {
            first: 0,
            end: self.regions(),
        }
    }

    /// The regions sectors `sector..sector + sectors` touch (empty for no
    /// sectors); `None` if they end past the device.
    pub fn run_of(&self, sector: u64, sectors: u64) -> Option<Run> {
        let stop = u128::from(sector) + u128::from(sectors);
        if stop > u128::from(self.length) {
            return None;
        }
        let first = sector / self.region_size;
        if sectors == 0 {
            return Some(Run { first, end: first });
        }
        // At most `regions()`: `stop` is within the device.
        let end = u64::try_from(stop.div_ceil(u128::from(self.region_size))).ok()?;
        Some(Run { first, end })
    }

    /// The sectors of `run`, the device's last region clipped to its end.
    pub fn extent(&self, run: Run) -> Extent {
        let size = u128::from(self.region_size);
        let length = u128::from(self.length);
        let start = (u128::from(run.first) * size).min(length);
        let stop = (u128::from(run.end) * size).clamp(start, length);
        // Both within `length`, a u64.
        Extent {
            sector: u64::try_from(start).unwrap_or(u64::MAX),
            sectors: u64::try_from(stop - start).unwrap_or(0),
        }
    }
}

/// The union of `runs` as maximal runs (overlapping and adjacent ones
/// joined), ascending; empty runs dropped.
pub fn merge(runs: impl IntoIterator<Item = Run>) -> Vec<Run> {
    let mut runs: Vec<Run> = runs.into_iter().filter(|r| r.first < r.end).collect();
    runs.sort_unstable_by_key(|r| (r.first, r.end));
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        match merged.last_mut() {
            Some(last) if run.first <= last.end => last.end = last.end.max(run.end),
            _ => merged.push(run),
        }
    }
    merged
}

/// Checks a `--mark` name: what dm takes as a device name (1 to 127
/// bytes, no `/`), without control characters (one line per run) or a
/// leading `-` (dmsetup would take it as an option).
pub fn check_mark_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("--mark: an empty replicator-dev name".to_string());
    }
    if name.len() > DM_NAME_MAX {
        return Err(format!(
            "--mark: a dm device name has at most {DM_NAME_MAX} bytes: {name}"
        ));
    }
    if name.contains('/') {
        return Err(format!(
            "--mark: a dm device name has no '/' (give NAME, not /dev/mapper/NAME): {name}"
        ));
    }
    if name.starts_with('-') {
        return Err(format!(
            "--mark: dmsetup would take the name for an option: {name}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("--mark: a control character in the name: {name:?}"));
    }
    Ok(())
}

/// `word` as one `sh` word: as is if sh would take it so, else quoted.
pub fn shell_word(word: &str) -> Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-+:@%,=".contains(&b));
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// The outcome of [`failback`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The runs to copy back, ascending (empty unless the exit status is 0
    /// or 1).
    pub runs: Vec<Run>,
    /// Lines for stderr, without the `replog failback: ` prefix; the
    /// summary last for 0 and 1, the refusal after it for 4.
    pub notes: Vec<String>,
    /// Exit status: 0, 1, 2, 3 or 4 (after [`Report::unless_discarding`]).
    pub code: i32,
}

impl Report {
    fn failed(code: i32, note: String) -> Report {
        Report {
            runs: Vec::new(),
            notes: vec![note],
            code,
        }
    }

    /// The report to act on: as is if `discard_unshipped` or there is
    /// nothing to copy back (an empty union, or a failure); else refused,
    /// exit [`UNSHIPPED_KEPT`], no runs, the refusal the last note.
    /// `regions` is the device's count.
    pub fn unless_discarding(self, discard_unshipped: bool, regions: u64) -> Report {
        if discard_unshipped || self.runs.is_empty() {
            return self;
        }
        let copy: u64 = self
            .runs
            .iter()
            .map(Run::regions)
            .fold(0, u64::saturating_add);
        let mut notes = self.notes;
        notes.push(format!(
            "the old primary holds writes the other site never received ({copy} of {regions} regions); copying back discards them: give --discard-unshipped to do so"
        ));
        Report {
            runs: Vec::new(),
            notes,
            code: UNSHIPPED_KEPT,
        }
    }
}

/// What site link `slink` of the old group lacks of device `dev`, from
/// the replication log in `log` (named `log_name` in notes) and the
/// device's dirty log `dlog` (named `dlog_name`).
pub fn failback(
    log: &mut Image,
    log_name: &str,
    dlog: &mut File,
    dlog_name: &str,
    slink: u32,
    dev: u32,
    device: Device,
) -> Report {
    // The dirty log's header first: it is cheap, and a refusal should
    // not wait for the scan of the replication log.
    let header = match dirty::open(dlog, 0) {
        Ok(header) => header,
        Err(e) => return Report::failed(e.exit_code(), format!("{dlog_name}: {e}")),
    };
    if header.nr_regions != device.regions() {
        return Report::failed(
            REFUSED,
            format!(
                "{dlog_name}: the dirty log has {} regions, not the {} of --length {} at --region-size {}: another device's dirty log, or another length or region size",
                header.nr_regions,
                device.regions(),
                device.length,
                device.region_size
            ),
        );
    }

    let u = unshipped::unshipped(log, slink, Some(dev));
    if u.code == 2 {
        let notes = u.notes.iter().map(|n| format!("{log_name}: {n}")).collect();
        return Report {
            runs: Vec::new(),
            notes,
            code: 2,
        };
    }
    let mut runs = Vec::with_capacity(u.lines.len());
    for line in &u.lines {
        match *line {
            Unshipped::Extent {
                sector, sectors, ..
            } => match device.run_of(sector, u64::from(sectors)) {
                Some(run) => runs.push(run),
                None => {
                    return Report::failed(
                        REFUSED,
                        format!(
                            "{log_name}: entry '{line}' (<dev_nr> <sector> <sectors>) for slink {slink} ends past --length {}: not device {dev}'s length?",
                            device.length
                        ),
                    )
                }
            },
            Unshipped::Device { .. } => runs.push(device.whole()),
        }
    }

    let regions = Regions::new(&header, device.region_size, Some(device.length));
    let walked = dirty::walk(
        &header,
        regions,
        &mut |at, buf| dlog.read_exact_at(buf, BITMAP_OFFSET.saturating_add(at)),
        &mut |e| {
            // `walk` clips at the length: an extent past it cannot come;
            // were it to, copying the whole device loses nothing.
            runs.push(device.run_of(e.sector, e.sectors).unwrap_or(device.whole()));
            Ok(())
        },
    );
    let tally = match walked {
        Ok(tally) => tally,
        Err(e) => return Report::failed(e.exit_code(), format!("{dlog_name}: {e}")),
    };

    let runs = merge(runs);
    let copy: u64 = runs.iter().map(Run::regions).fold(0, u64::saturating_add);
    let sectors: u128 = runs
        .iter()
        .map(|&r| u128::from(device.extent(r).sectors))
        .sum();
    let bytes = sectors * u128::from(SECTOR_SIZE);
    let mut notes = u.notes;
    notes.push(format!(
        "dirty log: {} of {} regions out of sync",
        tally.regions, regions.count
    ));
    notes.push(format!(
        "{copy} of {} regions to copy back ({bytes} bytes of {})",
        device.regions(),
        u128::from(device.length) * u128::from(SECTOR_SIZE)
    ));
    Report {
        runs,
        notes,
        code: u.code,
    }
}

/// What `replog failback` is asked.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The old primary's replication log.
    pub log: &'a Path,
    /// Sectors into `log` where the log starts.
    pub offset: u64,
    /// The DR site's link in the old group (not 0).
    pub slink: u32,
    /// The device's `<dev_nr>`.
    pub dev: u32,
    /// The device's dirty log for the link.
    pub dirty_log: &'a Path,
    /// The device's length and the dirty log's region size.
    pub device: Device,
    /// `--mark`: the new primary's `replicator-dev` name, checked by
    /// [`check_mark_name`].
    pub mark: Option<&'a str>,
    /// `--discard-unshipped`: print the runs, discarding what the old
    /// primary never shipped; without it a non-empty union is refused.
    pub discard_unshipped: bool,
}

/// `replog failback`: runs `req` and writes the runs and notes (no runs,
/// exit [`UNSHIPPED_KEPT`], if there are some and `req` does not discard
/// unshipped writes). `Err` if the replication log cannot be opened or the
/// output written (exit status 3).
pub fn command(req: &Request<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, String> {
    let mut image = Image::open(req.log, req.offset).map_err(|e| e.to_string())?;
    let dlog_name = req.dirty_log.display().to_string();
    let report = match File::open(req.dirty_log) {
        Ok(mut dlog) => failback(
            &mut image,
            &req.log.display().to_string(),
            &mut dlog,
            &dlog_name,
            req.slink,
            req.dev,
            req.device,
        ),
        Err(e) => Report::failed(REFUSED, format!("{dlog_name}: {e}")),
    }
    .unless_discarding(req.discard_unshipped, req.device.regions());
    let mark = req.mark.map(shell_word);
    let mut w = BufWriter::new(out);
    for &run in &report.runs {
        let extent = req.device.extent(run);
        match &mark {
            Some(name) => writeln!(w, "dmsetup message {name} 0 mark {} {extent}", req.slink),
            None => writeln!(w, "{extent}"),
        }
        .map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())?;
    for note in &report.notes {
        let _ = writeln!(err, "replog failback: {note}");
    }
    Ok(report.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: u64, end: u64) -> Run {
        Run { first, end }
    }

    #[test]
    fn device_checks() {
        assert!(Device::new(8, 1).is_ok());
        assert_eq!(
            Device::new(12, 100).unwrap_err(),
            "--region-size: must be a power of two of at least 8 sectors: 12"
        );
        assert!(Device::new(4, 100).is_err());
        assert!(Device::new(0, 100).is_err());
        assert_eq!(
            Device::new(8, 0).unwrap_err(),
            "--length: the device's length must be at least 1 sector"
        );
    }

    #[test]
    fn extents_widen_to_regions() {
        // 10 regions of 8, the last one 3 sectors.
        let d = Device::new(8, 75).unwrap();
        assert_eq!(d.regions(), 10);
        assert_eq!(d.run_of(0, 1), Some(run(0, 1)));
        assert_eq!(d.run_of(7, 2), Some(run(0, 2)));
        assert_eq!(d.run_of(8, 8), Some(run(1, 2)));
        assert_eq!(d.run_of(74, 1), Some(run(9, 10)));
        assert_eq!(d.run_of(72, 3), Some(run(9, 10)));
        assert_eq!(d.run_of(72, 4), None);
        assert_eq!(d.run_of(75, 0), Some(run(9, 9)));
        assert_eq!(d.run_of(u64::MAX, u64::MAX), None);
        assert_eq!(d.whole(), run(0, 10));
        assert_eq!(d.extent(run(0, 10)).to_string(), "0 75");
        assert_eq!(d.extent(run(9, 10)).to_string(), "72 3");
        assert_eq!(d.extent(run(2, 4)).to_string(), "16 16");
        // Out of range or backwards: empty, no overflow.
        assert_eq!(d.extent(run(20, 30)).sectors, 0);
        assert_eq!(d.extent(run(5, 2)).sectors, 0);
        let big = Device::new(1 << 31, u64::MAX).unwrap();
        assert_eq!(big.regions(), 1 << 33);
        assert_eq!(
            big.extent(big.whole()),
            Extent {
                sector: 0,
                sectors: u64::MAX
            }
        );
        assert_eq!(
            big.run_of(u64::MAX - 1, 1),
            Some(run((1 << 33) - 1, 1 << 33))
        );
    }

    #[test]
    fn runs_merge() {
        assert_eq!(merge([]), []);
        assert_eq!(
            merge([
                run(5, 7),
                run(0, 2),
                run(2, 3),
                run(6, 9),
                run(4, 4),
                run(11, 12)
            ]),
            [run(0, 3), run(5, 9), run(11, 12)]
        );
        assert_eq!(merge([run(0, 10), run(3, 4), run(0, 10)]), [run(0, 10)]);
    }

    #[test]
    fn unshipped_writes_kept_unless_discarding() {
        let report = |runs: Vec<Run>, code| Report {
            runs,
            notes: vec!["summary".to_string()],
            code,
        };
        let some = report(vec![run(0, 2), run(5, 6)], 1);
        assert_eq!(some.clone().unless_discarding(true, 19), some);
        assert_eq!(
            some.unless_discarding(false, 19),
            Report {
                runs: Vec::new(),
                notes: vec![
                    "summary".to_string(),
                    "the old primary holds writes the other site never received (3 of 19 regions); copying back discards them: give --discard-unshipped to do so".to_string(),
                ],
                code: UNSHIPPED_KEPT,
            }
        );
        // Nothing to copy back, or a failure: as is.
        let none = report(Vec::new(), 0);
        assert_eq!(none.clone().unless_discarding(false, 19), none);
        let failed = Report::failed(2, "damaged".to_string());
        assert_eq!(failed.clone().unless_discarding(false, 19), failed);
    }

    #[test]
    fn mark_names() {
        assert!(check_mark_name("pb").is_ok());
        assert!(check_mark_name("vg0-lv_data.1").is_ok());
        assert!(check_mark_name("").is_err());
        assert!(check_mark_name(&"x".repeat(128)).is_err());
        assert!(check_mark_name(&"x".repeat(127)).is_ok());
        assert!(check_mark_name("/dev/mapper/pb").is_err());
        assert!(check_mark_name("-pb").is_err());
        assert!(check_mark_name("p\nb").is_err());
        assert_eq!(shell_word("vg0-lv_data.1"), "vg0-lv_data.1");
        assert_eq!(shell_word("my dev"), "'my dev'");
        assert_eq!(shell_word("it's$x"), r"'it'\''s$x'");
        assert_eq!(shell_word("~a"), "'~a'");
    }
}
