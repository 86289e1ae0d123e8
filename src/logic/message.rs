//! Messages (`dmsetup message`) of both targets.
//!
//! Keywords are matched exactly, not by prefix: a message changes a
//! running replicator, so a typo must not select another command.
//!
//! `replicator`:
//! `start|resume [all]`, `stop|suspend|postsuspend [all]`,
//! `slink add <slink_type> <#slink_params> <slink_params...>`,
//! `slink del <nr>`, `slink message <nr> policy <policy> [ram|disk]`,
//! `slink message <nr> fallbehind <type> <N>[unit]` (or `<type>=<N>[unit]`),
//! `statistics on|off|reset`, `replog statistics on|off|reset`,
//! `replog resize <sectors>`.
//!
//! `replicator-dev`:
//! `start|resume`, `stop|suspend|postsuspend`,
//! `device add <replicator_device> <dev_nr> <device groups...>`,
//! `device del <slink_nr>`.

use core::fmt;

use super::blockdev::BlockdevParams;
use super::completion::Completion;
use super::error::TableError;
use super::fallbehind::FallBehind;
use super::framing::Framed;
use super::number::parse_u64;
use super::policy::Policy;
use super::replicator_dev_table::ReplicatorDevTable;
use super::replicator_table::split_slink;
use super::ringbuffer::parse_replog_size;
use super::slink::parse_slink_number;

/// `statistics` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsCmd {
    /// `on`: collect development statistics.
    On,
    /// `off`: stop collecting.
    Off,
    /// `reset`: zero the counters.
    Reset,
}

impl StatsCmd {
    /// Parses the words after `statistics`: exactly one of `on|off|reset`.
    fn parse_args(args: &[&str]) -> Result<StatsCmd, TableError> {
        let cmd = match args {
            [] => return Err(TableError::StatsArgMissing),
            ["on"] => StatsCmd::On,
            ["off"] => StatsCmd::Off,
            ["reset"] => StatsCmd::Reset,
            [_] => return Err(TableError::StatsArgUnknown),
            _ => return Err(TableError::MessageTooMany),
        };
        Ok(cmd)
    }

    /// The keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            StatsCmd::On => "on",
            StatsCmd::Off => "off",
            StatsCmd::Reset => "reset",
        }
    }
}

/// A message for the replication log (`replog ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplogMessage {
    /// `replog statistics on|off|reset`.
    Statistics(StatsCmd),
    /// `replog resize <sectors>`.
    Resize {
        /// New size in sectors.
        sectors: u64,
    },
}

impl ReplogMessage {
    /// Parses the words after `replog`.
    fn parse_args(args: &[&str]) -> Result<ReplogMessage, TableError> {
        let (cmd, rest) = args.split_first().ok_or(TableError::ReplogCommandMissing)?;
        match *cmd {
            "statistics" => Ok(ReplogMessage::Statistics(StatsCmd::parse_args(rest)?)),
            "resize" => match rest {
                [] => Err(TableError::ResizeSizeMissing),
                [size] => Ok(ReplogMessage::Resize {
                    sectors: parse_replog_size(size)?,
                }),
                _ => Err(TableError::MessageTooMany),
            },
            _ => Err(TableError::ReplogCommandUnknown),
        }
    }
}

/// A message to the `replicator` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicatorMessage<'a> {
    /// `start|resume [all|<slink_nr>]`: ship to the remote site links
    /// again (every one, or the one given); with `all`, also mark every
    /// device of the group replicating.
    Start(Scope),
    /// `stop|suspend|postsuspend [all|<slink_nr>]`: pause shipping.
    Stop(Scope),
    /// `slink add <slink_type> <#slink_params> <slink_params>`: a remote
    /// site link, the same group as in the table.
    SlinkAdd {
        /// The site link type (`blockdev`).
        slink_type: &'a str,
        /// Its parameters; `slink` is at least 1.
        params: BlockdevParams,
    },
    /// `slink del <nr>`, `nr` at least 1.
    SlinkDel {
        /// Site link to delete.
        slink: u32,
    },
    /// `slink message <nr> policy <policy> [<completion>]`.
    SlinkPolicy {
        /// Site link to change.
        slink: u32,
        /// New policy; check it against the current limit with
        /// [`check_policy_fallbehind`](super::blockdev::check_policy_fallbehind).
        policy: Policy,
        /// New completion; `None` keeps the site link's current one.
        completion: Option<Completion>,
    },
    /// `slink message <nr> fallbehind <type> <N>[unit]`.
    SlinkFallBehind {
        /// Site link to change.
        slink: u32,
        /// New limit; check it against the current policy with
        /// [`check_policy_fallbehind`](super::blockdev::check_policy_fallbehind).
        fallbehind: FallBehind,
    },
    /// `slink message <nr> retest <N>[unit]`: how long a site link that is
    /// down waits between tries (unit as for a `timeout` limit; ms).
    SlinkRetest {
        /// Site link to change.
        slink: u32,
        /// Interval in milliseconds.
        ms: u32,
    },
    /// `statistics on|off|reset` of the target.
    Statistics(StatsCmd),
    /// `replog ...`, for the replication log.
    Replog(ReplogMessage),
}

/// Parses the remote site link number of `slink del`.
fn remote_slink(args: &[&str]) -> Result<u32, TableError> {
    match args {
        [] => Err(TableError::SlinkNumberMissing),
        [nr] => match parse_slink_number(nr)? {
            0 => Err(TableError::Slink0ByMessage),
            slink => Ok(slink),
        },
        _ => Err(TableError::MessageTooMany),
    }
}

/// Parses a retest interval: `<N>[t|s|m|h]` (milliseconds without a unit),
/// from 10 ms to one hour.
fn parse_retest(word: &str) -> Result<u32, TableError> {
    let t = FallBehind::parse("timeout", word).map_err(|_| TableError::RetestInvalid)?;
    // The time units of a fall-behind timeout, but milliseconds by default.
    let ms = if t.unit.is_none() {
        t.value
    } else {
        t.base_value()
    };
    match u32::try_from(ms) {
        Ok(ms) if (10..=3_600_000).contains(&ms) => Ok(ms),
        _ => Err(TableError::RetestInvalid),
    }
}

/// What a `start` or `stop` of the `replicator` applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every remote site link (no argument).
    Group,
    /// Every remote site link and every device of the group (`all`).
    All,
    /// One remote site link (`<slink_nr>`, at least 1).
    Slink(u32),
}

/// Parses the optional `all` or site link number after `start` or `stop`.
fn parse_scope(args: &[&str]) -> Result<Scope, TableError> {
    match args {
        [] => Ok(Scope::Group),
        ["all"] => Ok(Scope::All),
        [w] if w.starts_with(|c: char| c.is_ascii_digit()) => match parse_slink_number(w)? {
            0 => Err(TableError::StartStopSlink0),
            slink => Ok(Scope::Slink(slink)),
        },
        [_] => Err(TableError::StartStopArg),
        _ => Err(TableError::MessageTooMany),
    }
}

impl<'a> ReplicatorMessage<'a> {
    /// Parses a message to the `replicator` target.
    pub fn parse(args: &'a [&'a str]) -> Result<ReplicatorMessage<'a>, TableError> {
        let (cmd, rest) = args.split_first().ok_or(TableError::MessageEmpty)?;
        match *cmd {
            "start" | "resume" => Ok(ReplicatorMessage::Start(parse_scope(rest)?)),
            "stop" | "suspend" | "postsuspend" => Ok(ReplicatorMessage::Stop(parse_scope(rest)?)),
            "slink" => ReplicatorMessage::parse_slink(rest),
            "statistics" => Ok(ReplicatorMessage::Statistics(StatsCmd::parse_args(rest)?)),
            "replog" => Ok(ReplicatorMessage::Replog(ReplogMessage::parse_args(rest)?)),
            _ => Err(TableError::MessageUnknown),
        }
    }

    /// Parses the words after `slink`.
    fn parse_slink(args: &'a [&'a str]) -> Result<ReplicatorMessage<'a>, TableError> {
        let (cmd, rest) = args.split_first().ok_or(TableError::SlinkCommandMissing)?;
        match *cmd {
            "add" => {
                let (slink_type, params, extra) = split_slink(rest)?;
                if !extra.is_empty() {
                    return Err(TableError::MessageTooMany);
                }
                if params.slink == 0 {
                    return Err(TableError::Slink0ByMessage);
                }
                Ok(ReplicatorMessage::SlinkAdd { slink_type, params })
            }
            "del" => Ok(ReplicatorMessage::SlinkDel {
                slink: remote_slink(rest)?,
            }),
            "message" => {
                let (nr, rest) = rest.split_first().ok_or(TableError::SlinkNumberMissing)?;
                let slink = parse_slink_number(nr)?;
                let (what, rest) = rest.split_first().ok_or(TableError::SlinkMessageMissing)?;
                match *what {
                    "policy" => {
                        let (policy, completion) = match rest {
                            [] => return Err(TableError::PolicyMissing),
                            [policy] => (Policy::parse(policy)?, None),
                            [policy, completion] => (
                                Policy::parse(policy)?,
                                Some(
                                    Completion::parse(completion)
                                        .ok_or(TableError::CompletionUnknown)?,
                                ),
                            ),
                            _ => return Err(TableError::MessageTooMany),
                        };
                        Ok(ReplicatorMessage::SlinkPolicy {
                            slink,
                            policy,
                            completion,
                        })
                    }
                    "fallbehind" => {
                        let fallbehind = match rest {
                            [] => return Err(TableError::FallBehindMissing),
                            [limit] => FallBehind::parse_assignment(limit)?,
                            [kind, value] => FallBehind::parse(kind, value)?,
                            _ => return Err(TableError::MessageTooMany),
                        };
                        Ok(ReplicatorMessage::SlinkFallBehind { slink, fallbehind })
                    }
                    "retest" => match rest {
                        [value] => Ok(ReplicatorMessage::SlinkRetest {
                            slink,
                            ms: parse_retest(value)?,
                        }),
                        [] => Err(TableError::RetestInvalid),
                        _ => Err(TableError::MessageTooMany),
                    },
                    _ => Err(TableError::SlinkMessageUnknown),
                }
            }
            _ => Err(TableError::SlinkCommandUnknown),
        }
    }
}

impl fmt::Display for ReplicatorMessage<'_> {
    /// Writes the canonical message text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = |f: &mut fmt::Formatter<'_>, s: &Scope| match s {
            Scope::Group => Ok(()),
            Scope::All => f.write_str(" all"),
            Scope::Slink(n) => write!(f, " {n}"),
        };
        match self {
            ReplicatorMessage::Start(s) => {
                f.write_str("start")?;
                scope(f, s)
            }
            ReplicatorMessage::Stop(s) => {
                f.write_str("stop")?;
                scope(f, s)
            }
            ReplicatorMessage::SlinkAdd { slink_type, params } => {
                write!(f, "slink add {}", Framed(slink_type, params))
            }
            ReplicatorMessage::SlinkDel { slink } => write!(f, "slink del {slink}"),
            ReplicatorMessage::SlinkPolicy {
                slink,
                policy,
                completion,
            } => {
                write!(f, "slink message {slink} policy {policy}")?;
                if let Some(completion) = completion {
                    write!(f, " {completion}")?;
                }
                Ok(())
            }
            ReplicatorMessage::SlinkFallBehind { slink, fallbehind } => {
                write!(f, "slink message {slink} fallbehind {fallbehind}")
            }
            ReplicatorMessage::SlinkRetest { slink, ms } => {
                write!(f, "slink message {slink} retest {ms}")
            }
            ReplicatorMessage::Statistics(cmd) => write!(f, "statistics {}", cmd.keyword()),
            ReplicatorMessage::Replog(ReplogMessage::Statistics(cmd)) => {
                write!(f, "replog statistics {}", cmd.keyword())
            }
            ReplicatorMessage::Replog(ReplogMessage::Resize { sectors }) => {
                write!(f, "replog resize {sectors}")
            }
        }
    }
}

/// A message to a `replicator-dev` target.
#[derive(Clone, Copy, Debug)]
pub enum ReplicatorDevMessage<'a> {
    /// `start|resume`: resume replication of this device on all site links.
    Start,
    /// `stop|suspend|postsuspend`.
    Stop,
    /// `device add <replicator_device> <dev_nr> <device groups...>`: remote
    /// devices only; the kernel checks that replicator and `dev_nr` are
    /// this target's.
    DeviceAdd {
        /// The parsed arguments.
        table: ReplicatorDevTable<'a>,
    },
    /// `device del <slink_nr>`, `slink_nr` at least 1.
    DeviceDel {
        /// Site link whose copy of this device is removed.
        slink: u32,
    },
    /// `verify <slink_nr> [repair]`: compare the local device with its
    /// copy at `slink`, region by region, while I/O goes on; with
    /// `repair`, differing regions are marked out of sync (and so
    /// resynchronised).
    Verify {
        /// Site link whose copy is compared (at least 1).
        slink: u32,
        /// Mark differing regions out of sync.
        repair: bool,
    },
    /// `verify stop`: end a verify in progress.
    VerifyStop,
    /// `mark <slink_nr> <sector> <sectors>`: mark the regions of an
    /// extent out of sync on a site link, so that the resync copies them
    /// (a failback feeds what the old primary never shipped).
    Mark {
        /// Site link (at least 1).
        slink: u32,
        /// First sector of the extent.
        sector: u64,
        /// Its length (at least 1).
        sectors: u64,
    },
}

impl<'a> ReplicatorDevMessage<'a> {
    /// Parses a message to a `replicator-dev` target.
    pub fn parse(args: &'a [&'a str]) -> Result<ReplicatorDevMessage<'a>, TableError> {
        let (cmd, rest) = args.split_first().ok_or(TableError::MessageEmpty)?;
        match *cmd {
            "start" | "resume" if rest.is_empty() => Ok(ReplicatorDevMessage::Start),
            "stop" | "suspend" | "postsuspend" if rest.is_empty() => Ok(ReplicatorDevMessage::Stop),
            "start" | "resume" | "stop" | "suspend" | "postsuspend" => {
                Err(TableError::MessageTooMany)
            }
            "device" => {
                let (sub, rest) = rest.split_first().ok_or(TableError::DeviceCommandMissing)?;
                match *sub {
                    "add" => Ok(ReplicatorDevMessage::DeviceAdd {
                        table: ReplicatorDevTable::parse_device_add(rest)?,
                    }),
                    "del" => match rest {
                        [] => Err(TableError::SlinkNumberMissing),
                        [nr] => match parse_slink_number(nr)? {
                            0 => Err(TableError::DeviceSlink0ByMessage),
                            slink => Ok(ReplicatorDevMessage::DeviceDel { slink }),
                        },
                        _ => Err(TableError::MessageTooMany),
                    },
                    _ => Err(TableError::DeviceCommandUnknown),
                }
            }
            "mark" => match rest {
                [nr, sector, sectors] => {
                    let slink = match parse_slink_number(nr)? {
                        0 => return Err(TableError::MarkSlink0),
                        n => n,
                    };
                    let sector = parse_u64(sector).map_err(|_| TableError::MarkExtentInvalid)?;
                    let sectors = match parse_u64(sectors) {
                        Ok(n) if n > 0 => n,
                        _ => return Err(TableError::MarkExtentInvalid),
                    };
                    Ok(ReplicatorDevMessage::Mark {
                        slink,
                        sector,
                        sectors,
                    })
                }
                _ => Err(TableError::MarkArgs),
            },
            "verify" => match rest {
                [] => Err(TableError::VerifyArgMissing),
                ["stop"] => Ok(ReplicatorDevMessage::VerifyStop),
                [nr, mode @ ..] => {
                    let slink = match parse_slink_number(nr)? {
                        0 => return Err(TableError::VerifySlink0),
                        n => n,
                    };
                    let repair = match mode {
                        [] => false,
                        ["repair"] => true,
                        [_] => return Err(TableError::VerifyModeUnknown),
                        _ => return Err(TableError::MessageTooMany),
                    };
                    Ok(ReplicatorDevMessage::Verify { slink, repair })
                }
            },
            _ => Err(TableError::MessageUnknown),
        }
    }
}

impl fmt::Display for ReplicatorDevMessage<'_> {
    /// Writes the canonical message text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicatorDevMessage::Start => f.write_str("start"),
            ReplicatorDevMessage::Stop => f.write_str("stop"),
            ReplicatorDevMessage::DeviceAdd { table } => write!(f, "device add {table}"),
            ReplicatorDevMessage::DeviceDel { slink } => write!(f, "device del {slink}"),
            ReplicatorDevMessage::Verify {
                slink,
                repair: false,
            } => write!(f, "verify {slink}"),
            ReplicatorDevMessage::Verify {
                slink,
                repair: true,
            } => write!(f, "verify {slink} repair"),
            ReplicatorDevMessage::VerifyStop => f.write_str("verify stop"),
            ReplicatorDevMessage::Mark {
                slink,
                sector,
                sectors,
            } => write!(f, "mark {slink} {sector} {sectors}"),
        }
    }
}
