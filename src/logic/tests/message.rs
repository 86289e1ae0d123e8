//! Messages of both targets.

use std::string::{String, ToString};

use super::{emit_with, words};
use crate::logic::blockdev::BlockdevParams;
use crate::logic::completion::Completion;
use crate::logic::fallbehind::FallBehind;
use crate::logic::message::{
    ReplicatorDevMessage, ReplicatorMessage, ReplogMessage, Scope, StatsCmd,
};
use crate::logic::policy::Policy;

/// Parses a replicator message; the canonical text or the error.
fn msg(line: &str) -> Result<String, &'static str> {
    emit_with!(line, ReplicatorMessage::parse)
}

/// Parses a replicator-dev message; the canonical text or the error.
fn dev_msg(line: &str) -> Result<String, &'static str> {
    emit_with!(line, ReplicatorDevMessage::parse)
}

/// Parses a replicator message to its value.
fn parsed(line: &str) -> ReplicatorMessage<'static> {
    let w: &'static [&'static str] = std::vec::Vec::leak(words(line.to_string().leak()));
    ReplicatorMessage::parse(w).unwrap()
}

#[test]
fn start_stop() {
    assert_eq!(parsed("start"), ReplicatorMessage::Start(Scope::Group));
    assert_eq!(parsed("resume all"), ReplicatorMessage::Start(Scope::All));
    assert_eq!(parsed("stop"), ReplicatorMessage::Stop(Scope::Group));
    assert_eq!(parsed("suspend"), ReplicatorMessage::Stop(Scope::Group));
    assert_eq!(
        parsed("postsuspend all"),
        ReplicatorMessage::Stop(Scope::All)
    );
    assert_eq!(parsed("stop 2"), ReplicatorMessage::Stop(Scope::Slink(2)));
    assert_eq!(
        parsed("resume 1"),
        ReplicatorMessage::Start(Scope::Slink(1))
    );
    assert_eq!(msg("resume all"), Ok("start all".into()));
    assert_eq!(msg("postsuspend"), Ok("stop".into()));
    assert_eq!(msg("suspend 3"), Ok("stop 3".into()));
    assert_eq!(
        msg("stop 0"),
        Err("Site link 0 cannot be started or stopped")
    );
    assert_eq!(msg("start 1 2"), Err("Too many message arguments"));
    assert_eq!(
        msg("start everything"),
        Err("Only all may follow start or stop")
    );
    assert_eq!(msg("stop ALL"), Err("Only all may follow start or stop"));
    assert_eq!(msg("start all now"), Err("Too many message arguments"));
    assert_eq!(msg("sta"), Err("Unknown message"));
    assert_eq!(msg(""), Err("Empty message"));
}

#[test]
fn slink_add() {
    assert_eq!(
        parsed("slink add blockdev 4 1 async ios 100"),
        ReplicatorMessage::SlinkAdd {
            slink_type: "blockdev",
            params: BlockdevParams {
                slink: 1,
                policy: Some(Policy::ASYNCHRONOUS),
                completion: None,
                fallbehind: FallBehind::parse("ios", "100").ok(),
            },
        }
    );
    assert_eq!(
        msg("slink add blockdev 3 2 a size=1g"),
        Ok("slink add blockdev 4 2 asynchronous size 1g".into())
    );
    assert_eq!(
        msg("slink add blockdev 1 3"),
        Ok("slink add blockdev 1 3".into())
    );
    assert_eq!(
        parsed("slink add blockdev 3 2 sync ram"),
        ReplicatorMessage::SlinkAdd {
            slink_type: "blockdev",
            params: BlockdevParams {
                slink: 2,
                policy: Some(Policy::SYNCHRONOUS),
                completion: Some(Completion::Ram),
                fallbehind: None,
            },
        }
    );
    assert_eq!(
        msg("slink add blockdev 4 2 a disk ios=8"),
        Ok("slink add blockdev 5 2 asynchronous disk ios 8".into())
    );
    assert_eq!(
        msg("slink add blockdev 5 2 a memory ios 8"),
        Err("Unknown site link completion (ram or disk)")
    );
    assert_eq!(
        msg("slink add blockdev 1 0"),
        Err("Site link 0 cannot be added or deleted by message")
    );
    assert_eq!(msg("slink add"), Err("Missing site link type"));
    assert_eq!(
        msg("slink add blockdev"),
        Err("Too few site link parameters")
    );
    assert_eq!(
        msg("slink add blockdev x 1"),
        Err("Invalid site link parameter count")
    );
    assert_eq!(
        msg("slink add blockdev 2 1"),
        Err("Too few site link parameters")
    );
    assert_eq!(
        msg("slink add blockdev 1 1 extra"),
        Err("Too many message arguments")
    );
    assert_eq!(msg("slink add nbd 1 1"), Err("Unknown site link type"));
    assert_eq!(
        msg("slink add blockdev 4 1 sync ios 1"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
}

#[test]
fn slink_del() {
    assert_eq!(
        parsed("slink del 3"),
        ReplicatorMessage::SlinkDel { slink: 3 }
    );
    assert_eq!(msg("slink del 3"), Ok("slink del 3".into()));
    assert_eq!(msg("slink del"), Err("Missing site link number"));
    assert_eq!(
        msg("slink del 0"),
        Err("Site link 0 cannot be added or deleted by message")
    );
    assert_eq!(msg("slink del x"), Err("Invalid site link number"));
    assert_eq!(
        msg("slink del 2048"),
        Err("Site link number must be below 2048")
    );
    assert_eq!(msg("slink del 1 2"), Err("Too many message arguments"));
}

#[test]
fn slink_message() {
    assert_eq!(
        parsed("slink message 1 policy sync"),
        ReplicatorMessage::SlinkPolicy {
            slink: 1,
            policy: Policy::SYNCHRONOUS,
            completion: None
        }
    );
    assert_eq!(
        parsed("slink message 0 fallbehind ios=100"),
        ReplicatorMessage::SlinkFallBehind {
            slink: 0,
            fallbehind: FallBehind::parse("ios", "100").unwrap()
        }
    );
    assert_eq!(
        msg("slink message 2 policy async+stall"),
        Ok("slink message 2 policy asynchronous+stall".into())
    );
    assert_eq!(
        msg("slink message 2 fallbehind timeout 5s"),
        Ok("slink message 2 fallbehind timeout 5s".into())
    );
    assert_eq!(
        msg("slink message 2 fallbehind data=8"),
        Ok("slink message 2 fallbehind data 8".into())
    );
    assert_eq!(msg("slink message"), Err("Missing site link number"));
    assert_eq!(
        msg("slink message x policy sync"),
        Err("Invalid site link number")
    );
    assert_eq!(msg("slink message 1"), Err("Missing site link message"));
    assert_eq!(
        msg("slink message 1 mode sync"),
        Err("Unknown site link message")
    );
    assert_eq!(
        msg("slink message 1 policy"),
        Err("Missing site link policy")
    );
    assert_eq!(
        msg("slink message 1 policy sync stall"),
        Err("Unknown site link completion (ram or disk)")
    );
    assert_eq!(
        msg("slink message 1 policy s"),
        Err("Ambiguous site link policy abbreviation")
    );
    assert_eq!(
        msg("slink message 1 fallbehind"),
        Err("Missing fall-behind limit")
    );
    assert_eq!(
        msg("slink message 1 fallbehind ios"),
        Err("Fall-behind limit needs a type and a value")
    );
    assert_eq!(
        msg("slink message 1 fallbehind ios 1 2"),
        Err("Too many message arguments")
    );
    assert_eq!(
        msg("slink message 1 fallbehind ios 0"),
        Err("Fall-behind value must not be 0")
    );
    assert_eq!(
        parsed("slink message 1 retest 2s"),
        ReplicatorMessage::SlinkRetest { slink: 1, ms: 2000 }
    );
    assert_eq!(
        msg("slink message 3 retest 250"),
        Ok("slink message 3 retest 250".into())
    );
    assert_eq!(
        msg("slink message 3 retest 1h"),
        Ok("slink message 3 retest 3600000".into())
    );
    assert_eq!(
        msg("slink message 3 retest 10t"),
        Ok("slink message 3 retest 10".into())
    );
    for bad in ["", " 9", " 0", " 61m", " 2h", " x", " 5k", " -1"] {
        assert_eq!(
            msg(&std::format!("slink message 1 retest{bad}")),
            Err("Retest interval must be 10 ms to 1 hour, as <N>[t|s|m|h]"),
            "{bad:?}"
        );
    }
    assert_eq!(
        msg("slink message 1 retest 1s 2s"),
        Err("Too many message arguments")
    );
    assert_eq!(msg("slink"), Err("Missing site link command"));
    assert_eq!(msg("slink delete 1"), Err("Unknown site link command"));
}

#[test]
fn slink_message_completion() {
    assert_eq!(
        parsed("slink message 1 policy sync ram"),
        ReplicatorMessage::SlinkPolicy {
            slink: 1,
            policy: Policy::SYNCHRONOUS,
            completion: Some(Completion::Ram)
        }
    );
    assert_eq!(
        parsed("slink message 2 policy a disk"),
        ReplicatorMessage::SlinkPolicy {
            slink: 2,
            policy: Policy::ASYNCHRONOUS,
            completion: Some(Completion::Disk)
        }
    );
    assert_eq!(
        msg("slink message 1 policy sync ram"),
        Ok("slink message 1 policy synchronous ram".into())
    );
    assert_eq!(
        msg("slink message 1 policy stall disk"),
        Ok("slink message 1 policy asynchronous+stall disk".into())
    );
    assert_eq!(
        msg("slink message 1 policy sync"),
        Ok("slink message 1 policy synchronous".into())
    );
    for word in ["RAM", "ra", "memory", "Disk", "ios=1"] {
        assert_eq!(
            msg(&std::format!("slink message 1 policy sync {word}")),
            Err("Unknown site link completion (ram or disk)"),
            "{word}"
        );
    }
    assert_eq!(
        msg("slink message 1 policy sync ram disk"),
        Err("Too many message arguments")
    );
    assert_eq!(
        msg("slink message 1 policy ram"),
        Err("Unknown site link policy")
    );
    // The policy is checked before the completion.
    assert_eq!(
        msg("slink message 1 policy fast ram"),
        Err("Unknown site link policy")
    );
}

#[test]
fn statistics_and_replog() {
    assert_eq!(
        parsed("statistics on"),
        ReplicatorMessage::Statistics(StatsCmd::On)
    );
    assert_eq!(
        parsed("statistics off"),
        ReplicatorMessage::Statistics(StatsCmd::Off)
    );
    assert_eq!(
        parsed("replog statistics reset"),
        ReplicatorMessage::Replog(ReplogMessage::Statistics(StatsCmd::Reset))
    );
    assert_eq!(
        parsed("replog resize 4096"),
        ReplicatorMessage::Replog(ReplogMessage::Resize { sectors: 4096 })
    );
    assert_eq!(msg("statistics reset"), Ok("statistics reset".into()));
    assert_eq!(msg("replog resize 2048"), Ok("replog resize 2048".into()));
    assert_eq!(msg("statistics"), Err("Missing statistics argument"));
    assert_eq!(msg("statistics of"), Err("Unknown statistics argument"));
    assert_eq!(msg("statistics on off"), Err("Too many message arguments"));
    assert_eq!(msg("replog"), Err("Missing replication log command"));
    assert_eq!(
        msg("replog grow 4096"),
        Err("Unknown replication log command")
    );
    assert_eq!(msg("replog statistics"), Err("Missing statistics argument"));
    assert_eq!(msg("replog resize"), Err("Missing replication log size"));
    assert_eq!(msg("replog resize 4k"), Err("Invalid replication log size"));
    assert_eq!(
        msg("replog resize 1024"),
        Err("Replication log size must be at least 2048 sectors")
    );
    assert_eq!(
        msg("replog resize 4096 now"),
        Err("Too many message arguments")
    );
}

#[test]
fn dev_start_stop() {
    for (line, canonical) in [
        ("start", "start"),
        ("resume", "start"),
        ("stop", "stop"),
        ("suspend", "stop"),
        ("postsuspend", "stop"),
    ] {
        assert_eq!(dev_msg(line), Ok(canonical.into()));
    }
    assert_eq!(dev_msg("start all"), Err("Too many message arguments"));
    assert_eq!(dev_msg("stop now"), Err("Too many message arguments"));
    assert_eq!(dev_msg(""), Err("Empty message"));
    assert_eq!(dev_msg("slink del 1"), Err("Unknown message"));
}

#[test]
fn dev_device_add_del() {
    let w = words("device add 63:4 0 1 1 /dev/mapper/remote_device core 2 2048 sync");
    match ReplicatorDevMessage::parse(&w).unwrap() {
        ReplicatorDevMessage::DeviceAdd { table } => {
            assert_eq!(
                (table.replicator, table.dev_nr, table.device_count()),
                ("63:4", 0, 1)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        dev_msg("device add 63:4 0 1 1 /dev/mapper/remote_device core 2 2048 sync"),
        Ok("device add 63:4 0 1 1 /dev/mapper/remote_device core 2 2048 sync".into())
    );
    assert_eq!(
        dev_msg("device add 63:4 0 0 1 /dev/mapper/local_device nolog 0"),
        Err("Site link 0 device cannot be added or deleted by message")
    );
    assert_eq!(dev_msg("device add"), Err("Missing replicator device"));
    assert_eq!(dev_msg("device add 63:4"), Err("Missing device number"));
    assert_eq!(dev_msg("device del 2"), Ok("device del 2".into()));
    assert!(matches!(
        ReplicatorDevMessage::parse(&["device", "del", "2"]),
        Ok(ReplicatorDevMessage::DeviceDel { slink: 2 })
    ));
    assert_eq!(
        dev_msg("device del 0"),
        Err("Site link 0 device cannot be added or deleted by message")
    );
    assert_eq!(dev_msg("device del"), Err("Missing site link number"));
    assert_eq!(dev_msg("device del x"), Err("Invalid site link number"));
    assert_eq!(dev_msg("device del 1 2"), Err("Too many message arguments"));
    assert_eq!(dev_msg("device"), Err("Missing device command"));
    assert_eq!(dev_msg("device remove 1"), Err("Unknown device command"));
    assert_eq!(dev_msg("verify 1"), Ok("verify 1".into()));
    assert_eq!(dev_msg("verify 2 repair"), Ok("verify 2 repair".into()));
    assert_eq!(dev_msg("verify stop"), Ok("verify stop".into()));
    assert!(matches!(
        ReplicatorDevMessage::parse(&["verify", "3", "repair"]),
        Ok(ReplicatorDevMessage::Verify {
            slink: 3,
            repair: true
        })
    ));
    assert_eq!(
        dev_msg("verify"),
        Err("Missing site link number or stop after verify")
    );
    assert_eq!(dev_msg("verify 0"), Err("Site link 0 cannot be verified"));
    assert_eq!(dev_msg("verify x"), Err("Invalid site link number"));
    assert_eq!(
        dev_msg("verify 1 fix"),
        Err("Only repair may follow verify <slink_nr>")
    );
    assert_eq!(
        dev_msg("verify 1 repair now"),
        Err("Too many message arguments")
    );
    assert_eq!(dev_msg("verify stop 1"), Err("Invalid site link number"));
    assert_eq!(dev_msg("mark 1 0 8"), Ok("mark 1 0 8".into()));
    assert!(matches!(
        ReplicatorDevMessage::parse(&["mark", "2", "1024", "256"]),
        Ok(ReplicatorDevMessage::Mark {
            slink: 2,
            sector: 1024,
            sectors: 256
        })
    ));
    assert_eq!(
        dev_msg("mark"),
        Err("mark takes <slink_nr> <sector> <sectors>")
    );
    assert_eq!(
        dev_msg("mark 1 0"),
        Err("mark takes <slink_nr> <sector> <sectors>")
    );
    assert_eq!(
        dev_msg("mark 1 0 8 9"),
        Err("mark takes <slink_nr> <sector> <sectors>")
    );
    assert_eq!(
        dev_msg("mark 0 0 8"),
        Err("Site link 0 has no regions to mark")
    );
    assert_eq!(dev_msg("mark 1 x 8"), Err("Invalid extent to mark"));
    assert_eq!(dev_msg("mark 1 0 0"), Err("Invalid extent to mark"));
    assert_eq!(dev_msg("mark 1 0 -8"), Err("Invalid extent to mark"));
}
