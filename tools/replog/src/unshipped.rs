//! `replog unshipped`: what a site link's site never received, for a
//! failback.
//!
//! After a takeover at the DR site the old primary's log still holds the
//! writes it never shipped there. Run on that log while its group is not
//! running, this lists them so that the new primary's dirty log can be
//! told (`dmsetup message <replicator-dev> 0 mark <slink_nr> <sector>
//! <sectors>`) and the resync copies them back.
//!
//! ```text
//! replog unshipped <device-or-image> --slink N [--offset <sectors>] [--dev <dev_nr>]
//! ```
//!
//! The log is read as `check` and `dump` read it (the newest valid
//! checkpoint, then the entries recovery accepts after its head). Site link
//! `N`'s position `P` is the checkpoint's record for `N`: the first
//! sequence number its site does not hold durably. Then, on stdout and
//! nothing else there:
//!
//! ```text
//! <dev_nr> <sector> <sectors>     one per live entry with seq >= P
//! <dev_nr> all                    one per lost device of link N
//! ```
//!
//! - Entry lines come first, in sequence order, one per entry (not merged,
//!   not deduplicated). An entry counts if it changes the device (writes,
//!   discards and write-zeroes; not empty flushes) and its site-link map
//!   names `N`: the kernel ships to a link only the entries whose map names
//!   it, and leaves out of the map the links that do not replicate the
//!   entry's device (`replog-format.rst`, "Restart of site links").
//! - Without a position for `N`, or with one the log cannot resume from
//!   (below the head, past the next sequence number), every live entry
//!   counts, as the kernel's restart marks them all out of sync.
//! - `<dev_nr> all` lines follow, ascending: the checkpoint's lost-device
//!   records for `N`, devices whose given-up writes no dirty log recorded;
//!   the whole device must be copied.
//! - `--dev D` keeps only device `D`'s lines.
//!
//! Entries given up earlier (the log was full) are not in the log: their
//! regions are in the dirty logs (see `replog dirty`).
//!
//! Notes and a summary go to stderr, each line starting
//! `replog unshipped: `, the last one
//! `replog unshipped: <n> entries of <m> live unshipped for slink <N>`.
//!
//! Exit status as `check`'s: 0 clean; 1 crash residue that recovery
//! discards (the lines are printed all the same); 2 damaged or no log
//! (nothing on stdout, the reason on stderr); 3 usage or cannot open.

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;

use dmr_logic::replog::geometry::BLOCK_SIZE;
use dmr_logic::replog::recovery::{DataCheck, Scanner};
use dmr_logic::replog::{load, Checkpoint, EntryHeader};

use crate::check::{self, Verdict};
use crate::image::Image;
use crate::report;
use crate::HostCrc;

/// One line of output: something the site of a link lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unshipped {
    /// An extent of a device (one log entry): `<dev> <sector> <sectors>`.
    Extent {
        /// Device number (`replicator-dev` `<dev_nr>`).
        dev: u32,
        /// First sector.
        sector: u64,
        /// Length in sectors (at least 1).
        sectors: u32,
    },
    /// A whole device (a lost-device record): `<dev> all`.
    Device {
        /// Device number.
        dev: u32,
    },
}

impl Unshipped {
    /// The device the line is about.
    pub fn dev(&self) -> u32 {
        match *self {
            Unshipped::Extent { dev, .. } | Unshipped::Device { dev } => dev,
        }
    }
}

impl fmt::Display for Unshipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unshipped::Extent {
                dev,
                sector,
                sectors,
            } => write!(f, "{dev} {sector} {sectors}"),
            Unshipped::Device { dev } => write!(f, "{dev} all"),
        }
    }
}

/// Where the entries a link lacks begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At the link's position, which the log holds (`head_seq <= p <=
    /// next_seq`).
    Position(u64),
    /// The checkpoint records no position for the link: every live entry.
    NoPosition,
    /// The position is below the log's head (entries it needs are gone):
    /// every live entry.
    BelowHead(u64),
    /// The position is past the log's next sequence number (not one this
    /// log wrote): every live entry.
    BeyondNext(u64),
}

impl Start {
    /// Site link `slink`'s start in checkpoint `cp`, whose live entries
    /// are `head_seq..next_seq`.
    pub fn of(cp: &Checkpoint, slink: u32, head_seq: u64, next_seq: u64) -> Start {
        match cp.slinks.get(slink) {
            None => Start::NoPosition,
            Some(p) if p < head_seq => Start::BelowHead(p),
            Some(p) if p > next_seq => Start::BeyondNext(p),
            Some(p) => Start::Position(p),
        }
    }

    /// The first sequence number that counts (0: all).
    pub fn first_seq(&self) -> u64 {
        match *self {
            Start::Position(p) => p,
            _ => 0,
        }
    }
}

/// What [`select`] picked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Output lines: entries in sequence order, then whole devices.
    pub lines: Vec<Unshipped>,
    /// Entry lines among them.
    pub entries: u64,
    /// Live entries seen.
    pub live: u64,
    /// Entries from the start on that change a device but whose map does
    /// not name the link (their device is not replicated there), after
    /// the `--dev` filter.
    pub not_for_link: u64,
}

/// Picks, from the live entries `entries` (in sequence order), what site
/// link `slink` lacks from `start` on, and its lost devices recorded in
/// `cp`; only device `dev`'s if given.
pub fn select(
    entries: impl IntoIterator<Item = EntryHeader>,
    cp: &Checkpoint,
    start: Start,
    slink: u32,
    dev: Option<u32>,
) -> Selection {
    let mut s = Selection {
        lines: Vec::new(),
        entries: 0,
        live: 0,
        not_for_link: 0,
    };
    let wanted = |d: u32| dev.is_none_or(|want| want == d);
    let first = start.first_seq();
    for h in entries {
        s.live = s.live.saturating_add(1);
        if h.seq < first || h.sectors == 0 || !wanted(h.dev) {
            continue;
        }
        if !h.slinks.contains(slink) {
            s.not_for_link = s.not_for_link.saturating_add(1);
            continue;
        }
        s.lines.push(Unshipped::Extent {
            dev: h.dev,
            sector: h.sector,
            sectors: h.sectors,
        });
        s.entries = s.entries.saturating_add(1);
    }
    for (_, d) in cp.slinks.lost().filter(|&(nr, d)| nr == slink && wanted(d)) {
        s.lines.push(Unshipped::Device { dev: d });
    }
    s
}

/// The outcome of [`unshipped`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Lines for stdout (empty for a damaged log).
    pub lines: Vec<Unshipped>,
    /// Lines for stderr, without the `replog unshipped: ` prefix; the
    /// summary last.
    pub notes: Vec<String>,
    /// Exit status: 0, 1 or 2 (as `check`'s).
    pub code: i32,
}

/// What site link `slink` lacks according to the log in `image`; only
/// device `dev`'s if given.
pub fn unshipped(image: &mut Image, slink: u32, dev: Option<u32>) -> Report {
    let damaged = |why: String| Report {
        lines: Vec::new(),
        notes: vec![Verdict::Damaged(why).line()],
        code: 2,
    };
    // The verdict is `check`'s (every entry's data checked); the entries
    // are those recovery accepts, as `dump` lists them.
    let verdict = check::check(image).verdict;
    if let Verdict::Damaged(why) = verdict {
        return damaged(why);
    }
    let mut buf = [0; BLOCK_SIZE];
    let avail = image.avail_sectors().unwrap_or(0);
    let loaded = match load::<HostCrc, _>(image, &mut buf, avail) {
        Ok(loaded) => loaded,
        Err(e) => return damaged(report::error_text(&e)),
    };
    let cp = loaded.checkpoint;
    let r = loaded.recovered;
    let start = Start::of(&cp, slink, r.head_seq, r.next_seq);
    let live = usize::try_from(r.entries).unwrap_or(usize::MAX);
    let scanner = Scanner::<HostCrc, _>::new(
        image,
        &mut buf,
        &loaded.superblock,
        &cp,
        DataCheck::AfterTailHint,
    );
    let s = select(scanner.take(live).map(|e| e.header), &cp, start, slink, dev);

    let mut notes = Vec::new();
    if let Verdict::Recoverable(_) = verdict {
        notes.push(verdict.line());
    }
    let held = if r.entries == 0 {
        format!("the log holds no entry (next seq {})", r.next_seq)
    } else {
        format!(
            "the log holds seq {}..{}",
            r.head_seq,
            r.next_seq.saturating_sub(1)
        )
    };
    let g = cp.generation;
    notes.push(match start {
        Start::Position(p) => format!("slink {slink}: position seq {p} (checkpoint generation {g}), {held}"),
        Start::NoPosition => format!(
            "slink {slink}: no position in checkpoint generation {g}: every live entry counts as unshipped, {held}"
        ),
        Start::BelowHead(p) => format!(
            "slink {slink}: position seq {p} is below the log's head (entries before seq {} are gone): every live entry counts as unshipped, {held}",
            r.head_seq
        ),
        Start::BeyondNext(p) => format!(
            "slink {slink}: position seq {p} is past the log's next seq {} (not a position of this log): every live entry counts as unshipped, {held}",
            r.next_seq
        ),
    });
    if s.not_for_link > 0 {
        notes.push(format!(
            "{} entries from there on are not for slink {slink} (their devices are not replicated to it)",
            s.not_for_link
        ));
    }
    for line in &s.lines {
        if let Unshipped::Device { dev } = line {
            notes.push(format!(
                "slink {slink}: writes of device {dev} were given up unrecorded: copy it whole"
            ));
        }
    }
    notes.push(format!(
        "{} entries of {} live unshipped for slink {slink}",
        s.entries, s.live
    ));
    Report {
        lines: s.lines,
        notes,
        code: verdict.exit_code(),
    }
}

/// `replog unshipped`: runs on the log at `path`, `offset` sectors in, and
/// writes the lines and notes. `Err` if the log cannot be opened or the
/// output written (exit status 3).
pub fn command(
    path: &Path,
    offset: u64,
    slink: u32,
    dev: Option<u32>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let mut image = Image::open(path, offset).map_err(|e| e.to_string())?;
    let report = unshipped(&mut image, slink, dev);
    let mut w = BufWriter::new(out);
    for line in &report.lines {
        writeln!(w, "{line}").map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())?;
    for note in &report.notes {
        let _ = writeln!(err, "replog unshipped: {note}");
    }
    Ok(report.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmr_logic::replog::{EntryFlags, SlinkBitmap, SlinkPositions};

    fn header(
        seq: u64,
        dev: u32,
        flags: EntryFlags,
        sector: u64,
        sectors: u32,
        links: &[u32],
    ) -> EntryHeader {
        let mut slinks = SlinkBitmap::new();
        slinks.insert(0);
        for &l in links {
            slinks.insert(l);
        }
        EntryHeader {
            seq,
            epoch: 0,
            dev,
            flags,
            sector,
            sectors,
            data_crc: 0,
            incarnation: 1,
            slinks,
        }
    }

    fn write(seq: u64, dev: u32, sector: u64, sectors: u32) -> EntryHeader {
        header(seq, dev, EntryFlags::empty(), sector, sectors, &[1, 2])
    }

    /// Seq 10..=16: writes, an empty flush, a discard, a write-zeroes, an
    /// entry not for slink 2.
    fn entries() -> Vec<EntryHeader> {
        vec![
            write(10, 1, 0, 8),
            write(11, 2, 64, 16),
            header(12, 1, EntryFlags::FLUSH, 0, 0, &[1, 2]),
            header(13, 1, EntryFlags::DISCARD, 4096, 2048, &[1, 2]),
            header(14, 2, EntryFlags::WRITE_ZEROES, 8, 8, &[1, 2]),
            header(15, 3, EntryFlags::empty(), 100, 4, &[1]),
            header(
                16,
                1,
                EntryFlags::FLUSH.with(EntryFlags::FUA),
                200,
                1,
                &[1, 2],
            ),
        ]
    }

    fn checkpoint(positions: &[(u32, u64)], lost: &[(u32, u32)]) -> Checkpoint {
        let mut cp = Checkpoint::initial(64);
        let mut p = SlinkPositions::new();
        for &(nr, seq) in positions {
            assert!(p.insert(nr, seq));
        }
        for &(nr, dev) in lost {
            assert!(p.insert_lost(nr, dev));
        }
        cp.slinks = p;
        cp
    }

    fn text(lines: &[Unshipped]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn start_of_a_link() {
        let cp = checkpoint(&[(1, 12), (2, 5), (3, 30), (4, 17)], &[]);
        assert_eq!(Start::of(&cp, 1, 10, 17), Start::Position(12));
        assert_eq!(Start::of(&cp, 2, 10, 17), Start::BelowHead(5));
        assert_eq!(Start::of(&cp, 3, 10, 17), Start::BeyondNext(30));
        assert_eq!(Start::of(&cp, 4, 10, 17), Start::Position(17));
        assert_eq!(Start::of(&cp, 5, 10, 17), Start::NoPosition);
        assert_eq!(Start::Position(12).first_seq(), 12);
        assert_eq!(Start::BelowHead(5).first_seq(), 0);
    }

    #[test]
    fn entries_from_the_position_that_change_a_device() {
        let cp = checkpoint(&[(1, 12), (2, 11)], &[]);
        let s = select(entries(), &cp, Start::Position(12), 1, None);
        assert_eq!(
            text(&s.lines),
            ["1 4096 2048", "2 8 8", "3 100 4", "1 200 1"]
        );
        assert_eq!((s.entries, s.live, s.not_for_link), (4, 7, 0));
        // Seq 15 is not for slink 2.
        let s = select(entries(), &cp, Start::Position(11), 2, None);
        assert_eq!(
            text(&s.lines),
            ["2 64 16", "1 4096 2048", "2 8 8", "1 200 1"]
        );
        assert_eq!((s.entries, s.live, s.not_for_link), (4, 7, 1));
    }

    #[test]
    fn everything_live_without_a_usable_position() {
        let cp = checkpoint(&[], &[]);
        for start in [
            Start::NoPosition,
            Start::BelowHead(3),
            Start::BeyondNext(99),
        ] {
            let s = select(entries(), &cp, start, 1, None);
            assert_eq!(
                text(&s.lines),
                [
                    "1 0 8",
                    "2 64 16",
                    "1 4096 2048",
                    "2 8 8",
                    "3 100 4",
                    "1 200 1"
                ]
            );
        }
    }

    #[test]
    fn a_position_at_the_next_seq_lacks_nothing() {
        let cp = checkpoint(&[(1, 17)], &[]);
        let s = select(entries(), &cp, Start::Position(17), 1, None);
        assert!(s.lines.is_empty());
        assert_eq!((s.entries, s.live), (0, 7));
    }

    #[test]
    fn lost_devices_of_the_link_follow_and_dev_filters() {
        let cp = checkpoint(&[(1, 13)], &[(1, 2), (1, 9), (2, 1)]);
        let s = select(entries(), &cp, Start::Position(13), 1, None);
        assert_eq!(
            text(&s.lines),
            [
                "1 4096 2048",
                "2 8 8",
                "3 100 4",
                "1 200 1",
                "2 all",
                "9 all"
            ]
        );
        assert_eq!(s.entries, 4);
        let s = select(entries(), &cp, Start::Position(13), 1, Some(2));
        assert_eq!(text(&s.lines), ["2 8 8", "2 all"]);
        assert_eq!((s.entries, s.live), (1, 7));
        let s = select(entries(), &cp, Start::Position(13), 1, Some(1));
        assert_eq!(text(&s.lines), ["1 4096 2048", "1 200 1"]);
        let s = select(entries(), &cp, Start::NoPosition, 2, Some(1));
        assert_eq!(text(&s.lines), ["1 0 8", "1 4096 2048", "1 200 1", "1 all"]);
        assert_eq!(s.lines[3].dev(), 1);
    }

    #[test]
    fn no_entries() {
        let cp = checkpoint(&[(1, 1)], &[]);
        let s = select(Vec::new(), &cp, Start::Position(1), 1, None);
        assert_eq!((s.lines.len(), s.entries, s.live), (0, 0, 0));
    }
}
