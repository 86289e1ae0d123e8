//! The status lines of both targets, as `dmsetup status` prints them
//! (`Documentation/replicator.rst`, "Status").
//!
//! `replicator`:
//! `<replicating|stopped> <ring_used>/<ring_size> <#slinks>
//! {<slink_nr> <S|A>,<ios>,<sectors>}... <#log_args> <health> <head_seq>
//! <next_seq> <epoch> [<entries> <flushes> <checkpoints> <full_waits>]
//! [stats r=<reads> w=<writes> rs=<read_sectors> ws=<write_sectors>]`
//!
//! `replicator-dev`:
//! `<replicator maj:min> <dev_nr> <replicating|stopped> <#devices>
//! {<slink_nr> <health> <in_sync>[+]/<regions>|-}...
//! [consistency <-|C|I>...]
//! [verify <slink_nr> <verifying|verified|stopped|failed> <done>/<regions>
//! <differing> <skipped>]`
//!
//! The `consistency` word has one character per device group, in their
//! order: `-` for the local device (first), `C` or `I` for each remote
//! copy; the group is there only while some remote copy is inconsistent
//! ("DR consistency").
//!
//! The parsers are strict: a word out of place is an error naming it, so
//! that a change of the format shows up as an error, not as wrong numbers.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use dmr_logic::number::{parse_u32, parse_u64};

use crate::hostdev::parse_devno;
use crate::tables::Target;

/// A `replicator`'s status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicatorStatus {
    /// `replicating`, or `stopped` after a `stop` message.
    pub replicating: bool,
    /// Sectors of the ring in use.
    pub ring_used: u64,
    /// Sectors of the ring.
    pub ring_size: u64,
    /// The site links in status order.
    pub slinks: Vec<SlinkBacklog>,
    /// The replication log.
    pub log: LogStatus,
    /// I/O counts, while `statistics on`.
    pub stats: Option<IoStats>,
}

/// One site link in the `replicator` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlinkBacklog {
    /// Its number.
    pub slink: u32,
    /// `S` (until on the site's disk) or `M` (until its device completed
    /// the write): writes wait for it (synchronous, or past its
    /// fall-behind limit); `A`: the log absorbs its backlog.
    pub writes_wait: bool,
    /// Live log entries it still needs (site link 0: not yet freed).
    pub ios: u64,
    /// Their data sectors.
    pub sectors: u64,
}

/// The log group of the `replicator` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogStatus {
    /// Health `A`; `F` (false) when a log write or flush failed.
    pub ok: bool,
    /// Sequence number of the oldest live entry.
    pub head_seq: u64,
    /// The next sequence number.
    pub next_seq: u64,
    /// The current flush epoch.
    pub epoch: u64,
    /// The counters, unless `replog statistics off`.
    pub counters: Option<LogCounters>,
}

/// The replication log's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogCounters {
    /// Entries written.
    pub entries: u64,
    /// Flushes of the log device.
    pub flushes: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Writes that waited for log space.
    pub full_waits: u64,
}

/// The `stats` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoStats {
    /// Reads.
    pub reads: u64,
    /// Writes.
    pub writes: u64,
    /// Sectors read.
    pub read_sectors: u64,
    /// Sectors written.
    pub write_sectors: u64,
}

/// Health of a device on a site link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// `A`: alive.
    Alive,
    /// `R`: a read failed (the source of a copy, or the local device).
    ReadError,
    /// `W`: a write failed: the site link is down (or the local device
    /// failed a write or flush).
    WriteError,
}

impl Health {
    /// The status letter.
    pub fn letter(&self) -> char {
        match self {
            Health::Alive => 'A',
            Health::ReadError => 'R',
            Health::WriteError => 'W',
        }
    }

    /// Whether this is `A`.
    pub fn is_up(&self) -> bool {
        *self == Health::Alive
    }
}

/// Regions of a remote copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionSync {
    /// Regions in sync.
    pub in_sync: u64,
    /// All regions.
    pub regions: u64,
    /// `+`: the others are being resynchronised.
    pub resyncing: bool,
}

/// One copy of a device, on one site link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyStatus {
    /// The site link.
    pub slink: u32,
    /// Its health.
    pub health: Health,
    /// Its regions; `None` (`-`) for the local device, which has no dirty
    /// log.
    pub regions: Option<RegionSync>,
    /// Whether it is a point-in-time image of the device: `I` in the
    /// `consistency` group makes it false; `C`, and no group, true. Always
    /// true for the local device.
    pub consistent: bool,
}

/// State of an online verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyState {
    /// Running.
    Verifying,
    /// Went through every region.
    Verified,
    /// Ended by `verify stop`.
    Stopped,
    /// Ended by an error.
    Failed,
}

impl VerifyState {
    /// The status word.
    pub fn word(&self) -> &'static str {
        match self {
            VerifyState::Verifying => "verifying",
            VerifyState::Verified => "verified",
            VerifyState::Stopped => "stopped",
            VerifyState::Failed => "failed",
        }
    }
}

/// The `verify` group of a `replicator-dev` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyStatus {
    /// The site link verified.
    pub slink: u32,
    /// Its state.
    pub state: VerifyState,
    /// Regions looked at.
    pub done: u64,
    /// All regions.
    pub regions: u64,
    /// Regions that differ.
    pub differing: u64,
    /// Regions skipped.
    pub skipped: u64,
}

/// A `replicator-dev`'s status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceStatus {
    /// The replicator's control device, `major:minor`.
    pub replicator: String,
    /// The device number.
    pub dev_nr: u32,
    /// `replicating` or `stopped`.
    pub replicating: bool,
    /// Its copies: the local device (site link 0) first.
    pub copies: Vec<CopyStatus>,
    /// The last verify, if one was started.
    pub verify: Option<VerifyStatus>,
}

impl DeviceStatus {
    /// The copy on site link `slink`.
    pub fn copy(&self, slink: u32) -> Option<&CopyStatus> {
        self.copies.iter().find(|c| c.slink == slink)
    }
}

/// The words of a status, consumed front to back.
struct Words<'a> {
    /// The target, for messages.
    target: &'static str,
    /// Words left.
    rest: std::slice::Iter<'a, &'a str>,
}

impl<'a> Words<'a> {
    /// The next word; `what` names it in the error if there is none.
    fn next(&mut self, what: &str) -> Result<&'a str, String> {
        self.rest
            .next()
            .copied()
            .ok_or_else(|| format!("{} status: {what} missing", self.target))
    }

    /// The next word if there is one.
    fn peek(&self) -> Option<&'a str> {
        self.rest.clone().next().copied()
    }

    /// An error about `word` in place of `what`.
    fn bad(&self, what: &str, word: &str) -> String {
        format!("{} status: {what} expected, found {word}", self.target)
    }

    /// A decimal number.
    fn number(&mut self, what: &str) -> Result<u64, String> {
        let word = self.next(what)?;
        parse_u64(word).map_err(|_| self.bad(what, word))
    }

    /// A site link or device number.
    fn number32(&mut self, what: &str) -> Result<u32, String> {
        let word = self.next(what)?;
        parse_u32(word).map_err(|_| self.bad(what, word))
    }

    /// `replicating` or `stopped`.
    fn state(&mut self) -> Result<bool, String> {
        match self.next("replicating|stopped")? {
            "replicating" => Ok(true),
            "stopped" => Ok(false),
            word => Err(self.bad("replicating|stopped", word)),
        }
    }

    /// `<a>/<b>`.
    fn fraction(&mut self, what: &str) -> Result<(u64, u64), String> {
        let word = self.next(what)?;
        let (a, b) = word.split_once('/').ok_or_else(|| self.bad(what, word))?;
        match (parse_u64(a), parse_u64(b)) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(self.bad(what, word)),
        }
    }

    /// No word may be left.
    fn end(&mut self) -> Result<(), String> {
        match self.next("") {
            Err(_) => Ok(()),
            Ok(word) => Err(format!("{} status: unexpected {word}", self.target)),
        }
    }
}

/// A count of groups of `per` words that follow: no more than the words
/// left hold, so that a corrupt count cannot make us reserve memory for it.
fn count(words: &mut Words<'_>, what: &str, per: usize) -> Result<usize, String> {
    let n = words.number(what)?;
    let left = words.rest.len();
    usize::try_from(n)
        .ok()
        .filter(|&n| n.checked_mul(per).is_some_and(|w| w <= left))
        .ok_or_else(|| format!("{} status: {what} {n} but {left} words left", words.target))
}

/// The INFO words of `dmsetup status NAME`'s output for a device of one
/// target: checks `<start> <length> <target>` and returns what follows.
pub fn info_words(text: &str, target: Target) -> Result<Vec<&str>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let line = lines.next().ok_or_else(|| "empty status".to_string())?;
    if lines.next().is_some() {
        return Err("status of more than one target".to_string());
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [start, length, kind, info @ ..]
            if parse_u64(start).is_ok() && parse_u64(length).is_ok() =>
        {
            if *kind == target.name() {
                Ok(info.to_vec())
            } else {
                Err(format!("a {kind} device, not a {}", target.name()))
            }
        }
        _ => Err(format!("not a dmsetup status line: {line}")),
    }
}

impl ReplicatorStatus {
    /// Parses `dmsetup status` output of a `replicator`.
    pub fn parse_dmsetup(text: &str) -> Result<ReplicatorStatus, String> {
        ReplicatorStatus::parse(&info_words(text, Target::Replicator)?)
    }

    /// Parses the INFO words.
    pub fn parse(info: &[&str]) -> Result<ReplicatorStatus, String> {
        let mut w = Words {
            target: "replicator",
            rest: info.iter(),
        };
        let replicating = w.state()?;
        let (ring_used, ring_size) = w.fraction("<ring_used>/<ring_size>")?;
        let n = count(&mut w, "<#slinks>", 2)?;
        let mut slinks = Vec::with_capacity(n);
        for _ in 0..n {
            let slink = w.number32("<slink_nr>")?;
            let what = "<S|M|A>,<ios>,<sectors>";
            let word = w.next(what)?;
            let parts: Vec<&str> = word.split(',').collect();
            let backlog = match parts.as_slice() {
                [kind @ ("S" | "M" | "A"), ios, sectors] => match (parse_u64(ios), parse_u64(sectors)) {
                    (Ok(ios), Ok(sectors)) => Some(SlinkBacklog {
                        slink,
                        writes_wait: *kind != "A",
                        ios,
                        sectors,
                    }),
                    _ => None,
                },
                _ => None,
            };
            slinks.push(backlog.ok_or_else(|| w.bad(what, word))?);
        }
        let log_args = w.number("<#log_args>")?;
        if log_args != 4 && log_args != 8 {
            return Err(format!(
                "replicator status: <#log_args> is 4 or 8, found {log_args}"
            ));
        }
        let ok = match w.next("log health")? {
            "A" => true,
            "F" => false,
            word => return Err(w.bad("log health A|F", word)),
        };
        let head_seq = w.number("<head_seq>")?;
        let next_seq = w.number("<next_seq>")?;
        let epoch = w.number("<epoch>")?;
        let counters = if log_args == 8 {
            Some(LogCounters {
                entries: w.number("<entries>")?,
                flushes: w.number("<flushes>")?,
                checkpoints: w.number("<checkpoints>")?,
                full_waits: w.number("<full_waits>")?,
            })
        } else {
            None
        };
        let stats = if w.peek() == Some("stats") {
            let _ = w.next("stats")?;
            let mut field = |key: &str| -> Result<u64, String> {
                let word = w.next(key)?;
                word.strip_prefix(key)
                    .and_then(|v| v.strip_prefix('='))
                    .and_then(|v| parse_u64(v).ok())
                    .ok_or_else(|| w.bad(&format!("{key}=<n>"), word))
            };
            Some(IoStats {
                reads: field("r")?,
                writes: field("w")?,
                read_sectors: field("rs")?,
                write_sectors: field("ws")?,
            })
        } else {
            None
        };
        w.end()?;
        Ok(ReplicatorStatus {
            replicating,
            ring_used,
            ring_size,
            slinks,
            log: LogStatus {
                ok,
                head_seq,
                next_seq,
                epoch,
                counters,
            },
            stats,
        })
    }

    /// The backlog of site link `slink`.
    pub fn slink(&self, slink: u32) -> Option<&SlinkBacklog> {
        self.slinks.iter().find(|s| s.slink == slink)
    }
}

impl DeviceStatus {
    /// Parses `dmsetup status` output of a `replicator-dev`.
    pub fn parse_dmsetup(text: &str) -> Result<DeviceStatus, String> {
        DeviceStatus::parse(&info_words(text, Target::ReplicatorDev)?)
    }

    /// Parses the INFO words.
    pub fn parse(info: &[&str]) -> Result<DeviceStatus, String> {
        let mut w = Words {
            target: "replicator-dev",
            rest: info.iter(),
        };
        let replicator = w.next("<replicator maj:min>")?;
        if parse_devno(replicator).is_none() {
            return Err(w.bad("<replicator maj:min>", replicator));
        }
        let dev_nr = w.number32("<dev_nr>")?;
        let replicating = w.state()?;
        let n = count(&mut w, "<#devices>", 3)?;
        let mut copies = Vec::with_capacity(n);
        for _ in 0..n {
            let slink = w.number32("<slink_nr>")?;
            let health = match w.next("<health>")? {
                "A" => Health::Alive,
                "R" => Health::ReadError,
                "W" => Health::WriteError,
                word => return Err(w.bad("<health> A|R|W", word)),
            };
            let what = "<in_sync>[+]/<regions> or -";
            let word = w.next(what)?;
            let regions = if word == "-" {
                None
            } else {
                let parsed = word.split_once('/').and_then(|(sync, regions)| {
                    let (sync, resyncing) = match sync.strip_suffix('+') {
                        Some(sync) => (sync, true),
                        None => (sync, false),
                    };
                    Some(RegionSync {
                        in_sync: parse_u64(sync).ok()?,
                        regions: parse_u64(regions).ok()?,
                        resyncing,
                    })
                });
                Some(parsed.ok_or_else(|| w.bad(what, word))?)
            };
            copies.push(CopyStatus {
                slink,
                health,
                regions,
                consistent: true,
            });
        }
        if w.peek() == Some("consistency") {
            let _ = w.next("consistency")?;
            let word = w.next("consistency <-|C|I>...")?;
            let chars: Vec<char> = word.chars().collect();
            if chars.len() != copies.len() {
                return Err(w.bad(
                    &format!(
                        "consistency of {} characters (one per device)",
                        copies.len()
                    ),
                    word,
                ));
            }
            let Some(('-', remote)) = chars.split_first() else {
                return Err(w.bad("consistency starting with - (the local device)", word));
            };
            for (copy, c) in copies.iter_mut().skip(1).zip(remote) {
                copy.consistent = match c {
                    'C' => true,
                    'I' => false,
                    _ => return Err(w.bad("consistency C|I for each remote copy", word)),
                };
            }
        }
        let verify = if w.peek() == Some("verify") {
            let _ = w.next("verify")?;
            let slink = w.number32("verify <slink_nr>")?;
            let state = match w.next("verify state")? {
                "verifying" => VerifyState::Verifying,
                "verified" => VerifyState::Verified,
                "stopped" => VerifyState::Stopped,
                "failed" => VerifyState::Failed,
                word => return Err(w.bad("verifying|verified|stopped|failed", word)),
            };
            let (done, regions) = w.fraction("verify <done>/<regions>")?;
            Some(VerifyStatus {
                slink,
                state,
                done,
                regions,
                differing: w.number("verify <differing>")?,
                skipped: w.number("verify <skipped>")?,
            })
        } else {
            None
        };
        w.end()?;
        Ok(DeviceStatus {
            replicator: replicator.to_string(),
            dev_nr,
            replicating,
            copies,
            verify,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn replicator_fresh() {
        // tests/vm/10-replicator-table.sh
        let s = ReplicatorStatus::parse_dmsetup(
            "0 1 replicator replicating 0/65512 2 0 A,0,0 1 A,0,0 8 A 1 1 0 0 0 0 0\n",
        )
        .unwrap();
        assert!(s.replicating);
        assert_eq!((s.ring_used, s.ring_size), (0, 65512));
        assert_eq!(
            s.slinks,
            [
                SlinkBacklog {
                    slink: 0,
                    writes_wait: false,
                    ios: 0,
                    sectors: 0
                },
                SlinkBacklog {
                    slink: 1,
                    writes_wait: false,
                    ios: 0,
                    sectors: 0
                },
            ]
        );
        assert_eq!(
            s.log,
            LogStatus {
                ok: true,
                head_seq: 1,
                next_seq: 1,
                epoch: 0,
                counters: Some(LogCounters {
                    entries: 0,
                    flushes: 0,
                    checkpoints: 0,
                    full_waits: 0
                }),
            }
        );
        assert_eq!(s.stats, None);
    }

    #[test]
    fn replicator_variants() {
        // tests/vm/12-messages.sh: three site links, one synchronous.
        let s = ReplicatorStatus::parse(&words(
            "replicating 0/65512 3 0 A,0,0 1 A,0,0 2 S,0,0 8 A 1 1 0 0 0 0 0",
        ))
        .unwrap();
        assert!(s.slink(2).unwrap().writes_wait);
        // Counters hidden (`replog statistics off`), then statistics on.
        let s = ReplicatorStatus::parse(&words(
            "stopped 1024/32744 2 0 S,12,96 1 A,64,512 4 F 1 3 0 stats r=3 w=2 rs=24 ws=16",
        ))
        .unwrap();
        assert!(!s.replicating);
        assert!(!s.log.ok);
        assert_eq!(s.log.counters, None);
        assert_eq!(s.slink(1).unwrap().sectors, 512);
        assert_eq!(
            s.stats,
            Some(IoStats {
                reads: 3,
                writes: 2,
                read_sectors: 24,
                write_sectors: 16
            })
        );
        // tests/vm/12-messages.sh: log counters after two writes.
        let s = ReplicatorStatus::parse(&words("replicating 0/65512 1 0 S,0,0 8 A 1 3 0 2 2 2 0"))
            .unwrap();
        assert_eq!(s.log.counters.unwrap().entries, 2);
        assert_eq!(s.log.next_seq, 3);
        // tests/vm/30-slink.sh: a synchronous `ram` link, one entry
        // completed at the site but not yet flushed there.
        let s = ReplicatorStatus::parse(&words("replicating 8/65512 1 1 M,1,8 8 A 1 3 0 2 2 2 0")).unwrap();
        assert_eq!(s.slinks, vec![SlinkBacklog { slink: 1, writes_wait: true, ios: 1, sectors: 8 }]);
    }

    #[test]
    fn replicator_errors() {
        let bad = |s: &str| ReplicatorStatus::parse(&words(s)).unwrap_err();
        assert_eq!(bad(""), "replicator status: replicating|stopped missing");
        assert_eq!(
            bad("running 0/1 0 4 A 1 1 0"),
            "replicator status: replicating|stopped expected, found running"
        );
        assert_eq!(
            bad("replicating 0/65512 1 0 X,0,0 4 A 1 1 0"),
            "replicator status: <S|M|A>,<ios>,<sectors> expected, found X,0,0"
        );
        assert_eq!(
            bad("replicating 0/65512 1 0 A,0,0 5 A 1 1 0 0"),
            "replicator status: <#log_args> is 4 or 8, found 5"
        );
        assert_eq!(
            bad("replicating 0/65512 1 0 A,0,0 4 A 1 1 0 extra"),
            "replicator status: unexpected extra"
        );
        assert_eq!(
            bad("replicating 0/65512 99999999999 0 A,0,0"),
            "replicator status: <#slinks> 99999999999 but 2 words left"
        );
        assert!(bad("replicating 0/65512 1 0 A,0,0 4 Q 1 1 0").contains("log health"));
        assert!(bad("replicating 0/65512 0 4 A 1 1 0 stats r=1 w=1 rs=1").contains("ws"));
    }

    #[test]
    fn device_examples() {
        // tests/vm/11-replicator-dev-table.sh
        let s = DeviceStatus::parse_dmsetup("0 1024 replicator-dev 253:1 0 replicating 1 0 A -")
            .unwrap();
        assert_eq!(s.replicator, "253:1");
        assert_eq!(
            s.copies,
            [CopyStatus {
                slink: 0,
                health: Health::Alive,
                regions: None,
                consistent: true
            }]
        );
        let s = DeviceStatus::parse(&words("253:1 0 replicating 2 0 A - 1 A 32/32")).unwrap();
        assert_eq!(
            s.copy(1).unwrap().regions,
            Some(RegionSync {
                in_sync: 32,
                regions: 32,
                resyncing: false
            })
        );
        // An initial copy in progress, and a link that timed out
        // (tests/vm/33-online.sh).
        let s =
            DeviceStatus::parse(&words("253:1 3 stopped 3 0 A - 1 A 12+/32 2 W 128/128")).unwrap();
        assert!(!s.replicating);
        assert_eq!(s.dev_nr, 3);
        assert_eq!(
            s.copy(1).unwrap().regions,
            Some(RegionSync {
                in_sync: 12,
                regions: 32,
                resyncing: true
            })
        );
        assert_eq!(s.copy(2).unwrap().health, Health::WriteError);
        // tests/vm/42-verify.sh
        let s = DeviceStatus::parse(&words(
            "253:1 0 replicating 2 0 A - 1 A 128/128 verify 1 verified 128/128 2 0",
        ))
        .unwrap();
        assert_eq!(
            s.verify,
            Some(VerifyStatus {
                slink: 1,
                state: VerifyState::Verified,
                done: 128,
                regions: 128,
                differing: 2,
                skipped: 0
            })
        );
        // tests/vm/39-local-failure.sh: a local device that failed a read.
        let s = DeviceStatus::parse(&words("253:1 0 replicating 2 0 R - 1 A 16/16")).unwrap();
        assert_eq!(s.copy(0).unwrap().health, Health::ReadError);
        // Without a consistency group every copy is consistent.
        assert!(s.copies.iter().all(|c| c.consistent));
    }

    #[test]
    fn device_consistency() {
        let consistent = |s: &DeviceStatus| -> Vec<(u32, bool)> {
            s.copies.iter().map(|c| (c.slink, c.consistent)).collect()
        };
        // Documentation/replicator.rst, "Status": a resync, after a verify.
        let s = DeviceStatus::parse(&words(
            "253:1 0 replicating 2 0 A - 1 A 102+/128 consistency -I verify 1 verified 128/128 0 0",
        ))
        .unwrap();
        assert_eq!(consistent(&s), [(0, true), (1, false)]);
        assert_eq!(
            s.copy(1).unwrap().regions,
            Some(RegionSync {
                in_sync: 102,
                regions: 128,
                resyncing: true
            })
        );
        assert_eq!(s.verify.unwrap().state, VerifyState::Verified);
        // Two remote copies, one of them inconsistent; no verify.
        let s = DeviceStatus::parse(&words(
            "253:1 2 replicating 3 0 A - 1 W 30/32 2 A 31+/32 consistency -CI",
        ))
        .unwrap();
        assert_eq!(consistent(&s), [(0, true), (1, true), (2, false)]);
        assert_eq!(s.verify, None);
        // The same with a verify group after it.
        let s = DeviceStatus::parse(&words(
            "253:1 2 replicating 3 0 A - 1 W 30/32 2 A 31+/32 consistency -CI verify 2 verifying 7/32 1 0",
        ))
        .unwrap();
        assert_eq!(consistent(&s), [(0, true), (1, true), (2, false)]);
        assert_eq!(s.verify.unwrap().done, 7);
        // Both inconsistent, from dmsetup.
        let s = DeviceStatus::parse_dmsetup(
            "0 2048 replicator-dev 253:1 0 replicating 3 0 A - 1 A 0+/32 2 A 32/32 consistency -II\n",
        )
        .unwrap();
        assert_eq!(consistent(&s), [(0, true), (1, false), (2, false)]);
        // All consistent: the kernel leaves the group out then, but `C`
        // says the same.
        let s = DeviceStatus::parse(&words(
            "253:1 0 replicating 2 0 A - 1 A 32/32 consistency -C",
        ))
        .unwrap();
        assert!(s.copies.iter().all(|c| c.consistent));
    }

    #[test]
    fn device_consistency_errors() {
        let bad = |s: &str| DeviceStatus::parse(&words(s)).unwrap_err();
        let two = "253:1 0 replicating 2 0 A - 1 A 12+/32";
        let three = "253:1 0 replicating 3 0 A - 1 A 12+/32 2 A 32/32";
        assert_eq!(
            bad(&format!("{two} consistency")),
            "replicator-dev status: consistency <-|C|I>... missing"
        );
        assert_eq!(
            bad(&format!("{two} consistency -CI")),
            "replicator-dev status: consistency of 2 characters (one per device) expected, found -CI"
        );
        assert_eq!(
            bad(&format!("{three} consistency -I")),
            "replicator-dev status: consistency of 3 characters (one per device) expected, found -I"
        );
        assert_eq!(
            bad(&format!("{two} consistency - I")),
            "replicator-dev status: consistency of 2 characters (one per device) expected, found -"
        );
        assert_eq!(
            bad(&format!("{two} consistency I-")),
            "replicator-dev status: consistency starting with - (the local device) expected, found I-"
        );
        assert_eq!(
            bad(&format!("{two} consistency CI")),
            "replicator-dev status: consistency starting with - (the local device) expected, found CI"
        );
        assert_eq!(
            bad(&format!("{three} consistency -CX")),
            "replicator-dev status: consistency C|I for each remote copy expected, found -CX"
        );
        assert_eq!(
            bad(&format!("{three} consistency --I")),
            "replicator-dev status: consistency C|I for each remote copy expected, found --I"
        );
        assert_eq!(
            bad(&format!("{two} consistency -i")),
            "replicator-dev status: consistency C|I for each remote copy expected, found -i"
        );
        // One character per device, not per byte.
        assert_eq!(
            bad(&format!("{two} consistency -\u{e9}")),
            "replicator-dev status: consistency C|I for each remote copy expected, found -\u{e9}"
        );
        // The group comes before verify, once.
        assert_eq!(
            bad(&format!("{two} verify 1 verified 32/32 0 0 consistency -I")),
            "replicator-dev status: unexpected consistency"
        );
        assert_eq!(
            bad(&format!("{two} consistency -I consistency -I")),
            "replicator-dev status: unexpected consistency"
        );
    }

    #[test]
    fn device_errors() {
        let bad = |s: &str| DeviceStatus::parse(&words(s)).unwrap_err();
        assert_eq!(
            bad("repl 0 replicating 1 0 A -"),
            "replicator-dev status: <replicator maj:min> expected, found repl"
        );
        assert_eq!(
            bad("253:1 0 replicating 1 0 X -"),
            "replicator-dev status: <health> A|R|W expected, found X"
        );
        assert_eq!(
            bad("253:1 0 replicating 2 0 A - 1 A 12-/32"),
            "replicator-dev status: <in_sync>[+]/<regions> or - expected, found 12-/32"
        );
        assert_eq!(
            bad("253:1 0 replicating 2 0 A -"),
            "replicator-dev status: <#devices> 2 but 3 words left"
        );
        assert!(bad("253:1 0 replicating 1 0 A - verify 1 done 1/1 0 0").contains("verifying"));
    }

    #[test]
    fn dmsetup_lines() {
        assert_eq!(
            info_words("0 8 linear 7:0 0\n", Target::Replicator).unwrap_err(),
            "a linear device, not a replicator"
        );
        assert_eq!(
            info_words("", Target::Replicator).unwrap_err(),
            "empty status"
        );
        assert!(info_words("0 1 replicator a\n0 1 replicator b\n", Target::Replicator).is_err());
        assert!(info_words("Device does not exist.", Target::Replicator).is_err());
    }
}
