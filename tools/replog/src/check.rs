//! `replog check`: is the log usable, and if not, where and why.
//!
//! Like `thin_check`: a report on stdout and an exit status. Every ring
//! entry's data is checked, not only those past the tail hint as at
//! resume.

use dmr_logic::replog::checkpoint::{newest, slot_block};
use dmr_logic::replog::geometry::check_fits;
use dmr_logic::replog::recovery::{read_checkpoints, read_superblock, scan, DataCheck, ScanEnd};
use dmr_logic::replog::{FormatError, LogError};

use crate::image::Image;
use crate::report;
use crate::HostCrc;

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to report: exit status 0.
    Clean,
    /// What a crash leaves and recovery discards (a torn last entry, a
    /// torn checkpoint slot): exit status 1.
    Recoverable(String),
    /// The kernel would refuse the log: exit status 2.
    Damaged(String),
}

impl Verdict {
    /// The exit status.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Clean => 0,
            Verdict::Recoverable(_) => 1,
            Verdict::Damaged(_) => 2,
        }
    }

    /// The closing line of the report.
    pub fn line(&self) -> String {
        match self {
            Verdict::Clean => "clean".to_string(),
            Verdict::Recoverable(why) => format!("recoverable: {why}"),
            Verdict::Damaged(why) => format!("damaged: {why}"),
        }
    }
}

/// Report lines and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// What was found, in order.
    pub lines: Vec<String>,
    /// The conclusion.
    pub verdict: Verdict,
}

/// Checks the log in `image`.
pub fn check(image: &mut Image) -> Report {
    let mut lines = Vec::new();
    let verdict = check_into(image, &mut lines);
    lines.push(verdict.line());
    Report { lines, verdict }
}

fn check_into(image: &mut Image, lines: &mut Vec<String>) -> Verdict {
    let mut buf = [0; 4096];
    let sb = match read_superblock::<HostCrc, _>(image, &mut buf) {
        Ok(sb) => sb,
        Err(e) => {
            lines.push(format!("block 0: {}", report::error_text(&e)));
            return Verdict::Damaged(report::error_text(&e));
        }
    };
    lines.push(report::superblock_line(&sb));
    let slots = read_checkpoints::<HostCrc, _>(image, &mut buf, &sb);
    for (slot, content) in slots.iter().enumerate() {
        lines.push(report::checkpoint_line(slot, content, sb.ring_start));
    }
    let cp = match newest(&slots) {
        Ok(cp) => *cp,
        Err(e) => return Verdict::Damaged(e.text().to_string()),
    };
    lines.push(format!("using checkpoint generation {}", cp.generation));
    let avail = image.avail_sectors().unwrap_or(0);
    if let Err(e) = check_fits(sb.ring_start, cp.ring_blocks, avail) {
        lines.push(format!(
            "ring: blocks {}..{} need {} sectors, {avail} available",
            sb.ring_start,
            sb.ring_start.saturating_add(cp.ring_blocks),
            sb.ring_start
                .saturating_add(cp.ring_blocks)
                .saturating_mul(8)
        ));
        return Verdict::Damaged(e.text().to_string());
    }
    let r = scan::<HostCrc, _>(image, &mut buf, &sb, &cp, DataCheck::All);
    let at = |pos: u64| sb.ring_start + pos;
    lines.push(if r.entries == 0 {
        format!(
            "entries: none, next seq {}, tail block {}",
            r.next_seq,
            at(r.tail)
        )
    } else {
        format!(
            "entries: {}, seq {}..{}, head block {}, tail block {}, {} of {} ring blocks used",
            r.entries,
            r.head_seq,
            r.next_seq - 1,
            at(r.head),
            at(r.tail),
            r.used,
            r.ring_blocks
        )
    });
    lines.push(report::end_line(&r.end));
    // Where each recorded site link resumes after an open: from its
    // position if the log still holds it, else by resynchronising.
    for (nr, seq) in cp.slinks.iter() {
        let held = r.head_seq <= seq && seq <= r.next_seq;
        lines.push(format!(
            "slink {nr}: position seq {seq}, {}",
            if held {
                "resumes from the log"
            } else {
                "not in the log, resynchronises"
            }
        ));
    }
    if let Err(e) = r.check() {
        return Verdict::Damaged(report::error_text(&e));
    }
    match r.end {
        ScanEnd::TornHeader { block, seq } | ScanEnd::TornData { block, seq } => {
            return Verdict::Recoverable(format!(
                "torn entry seq {seq} at block {block}, recovery drops it"
            ));
        }
        _ => {}
    }
    for (slot, content) in slots.iter().enumerate() {
        match content {
            Ok(_) | Err(LogError::Format(FormatError::CheckpointEmpty)) => {}
            Err(_) => {
                return Verdict::Recoverable(format!(
                    "checkpoint slot {slot} (block {}) unusable, recovery uses the other",
                    slot_block(slot)
                ));
            }
        }
    }
    Verdict::Clean
}
