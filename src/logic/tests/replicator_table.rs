//! The `replicator` table line.

use std::string::String;
use std::vec::Vec;

use super::{emit_with, words};
use crate::logic::blockdev::BlockdevParams;
use crate::logic::fallbehind::{FallBehind, FallBehindKind};
use crate::logic::framing::split_group;
use crate::logic::policy::Policy;
use crate::logic::replicator_table::{
    OpenMode, ReplicatorTable, RingbufferParams, REPLOG_RINGBUFFER, SLINK_BLOCKDEV,
};

/// Parses a table line; the canonical text or the error.
fn table(line: &str) -> Result<String, &'static str> {
    emit_with!(line, ReplicatorTable::parse)
}

#[test]
fn seed_example() {
    let line = "ringbuffer 4 /dev/mapper/replog_store 32 auto 65536 \
                blockdev 4 0 async ios 100 blockdev 4 1 async ios 10000";
    let w = words(line);
    let t = ReplicatorTable::parse(&w).unwrap();
    assert_eq!(t.replog_type, REPLOG_RINGBUFFER);
    assert_eq!(
        t.replog(),
        RingbufferParams {
            dev: "/dev/mapper/replog_store",
            dev_start: 32,
            open: OpenMode::Auto(65536)
        }
    );
    assert_eq!(t.slink_count(), 2);
    let slinks: Vec<_> = t.slinks().collect();
    let ios = |value| {
        Some(FallBehind {
            kind: FallBehindKind::Ios,
            value,
            unit: None,
        })
    };
    assert_eq!(
        slinks,
        [
            Ok((
                SLINK_BLOCKDEV,
                BlockdevParams {
                    slink: 0,
                    policy: Some(Policy::ASYNCHRONOUS),
                    completion: None,
                    fallbehind: ios(100)
                }
            )),
            Ok((
                SLINK_BLOCKDEV,
                BlockdevParams {
                    slink: 1,
                    policy: Some(Policy::ASYNCHRONOUS),
                    completion: None,
                    fallbehind: ios(10000)
                }
            )),
        ]
    );
    assert_eq!(
        table(line),
        Ok("ringbuffer 4 /dev/mapper/replog_store 32 auto 65536 \
            blockdev 4 0 asynchronous ios 100 blockdev 4 1 asynchronous ios 10000"
            .into())
    );
}

#[test]
fn lvm2_line_is_canonical() {
    let line = "ringbuffer 4 253:1 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 100";
    assert_eq!(table(line), Ok(line.into()));
    // LVM2 wrote `data` in bytes and `timeout` in seconds: kept as
    // written, so the line reloads verbatim with LVM2's meaning.
    for line in [
        "ringbuffer 4 253:1 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous data 4096",
        "ringbuffer 4 253:1 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous timeout 30",
    ] {
        assert_eq!(table(line), Ok(line.into()));
    }
}

#[test]
fn canonical_forms() {
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0"),
        Ok("ringbuffer 2 /dev/r 0 blockdev 1 0".into())
    );
    assert_eq!(
        table("ringbuffer 3 /dev/r 8 open blockdev 3 0 a ios=5 blockdev 2 7 st"),
        Ok("ringbuffer 3 /dev/r 8 open blockdev 4 0 asynchronous ios 5 blockdev 2 7 asynchronous+stall".into())
    );
    assert_eq!(
        table("ringbuffer 4 /dev/r 8 create 4096 blockdev 4 0 async size 200m"),
        Ok("ringbuffer 4 /dev/r 8 create 4096 blockdev 4 0 asynchronous size 200m".into())
    );
}

#[test]
fn framing_errors() {
    assert_eq!(table(""), Err("Missing replication log type"));
    assert_eq!(
        table("ringbuffer"),
        Err("Too few replication log parameters")
    );
    assert_eq!(
        table("ringbuffer x /dev/r 0"),
        Err("Invalid replication log parameter count")
    );
    assert_eq!(
        table("ringbuffer -2 /dev/r 0"),
        Err("Invalid replication log parameter count")
    );
    assert_eq!(
        table("ringbuffer 4 /dev/r 0"),
        Err("Too few replication log parameters")
    );
    assert_eq!(
        table("ringbuffer 99999999999999999999 /dev/r 0"),
        Err("Invalid replication log parameter count")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev"),
        Err("Too few site link parameters")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev one 0"),
        Err("Invalid site link parameter count")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 2 0"),
        Err("Too few site link parameters")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 0"),
        Err("Site link takes 1 to 5 parameters")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0 junk"),
        Err("Too few site link parameters")
    );
}

#[test]
fn semantic_errors() {
    assert_eq!(
        table("ringbuf 2 /dev/r 0 blockdev 1 0"),
        Err("Unknown replication log type")
    );
    assert_eq!(
        table("ringbuffer 1 /dev/r blockdev 1 0"),
        Err("Replication log takes 2 to 4 parameters")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0"),
        Err("At least one site link required")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 iscsi 1 0"),
        Err("Unknown site link type")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0 nbd 1 1"),
        Err("Unknown site link type")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 1"),
        Err("First site link must be 0")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0 blockdev 1 1 blockdev 2 1 sync"),
        Err("Duplicate site link number")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0 blockdev 1 0"),
        Err("Duplicate site link number")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 1 0 blockdev 1 2048"),
        Err("Site link number must be below 2048")
    );
    assert_eq!(
        table("ringbuffer 2 /dev/r 0 blockdev 4 0 sync ios 1"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
}

#[test]
fn all_site_links() {
    let mut line = String::from("ringbuffer 2 /dev/r 0");
    for slink in 0..2048 {
        line.push_str(&std::format!(" blockdev 1 {slink}"));
    }
    let w = words(&line);
    let t = ReplicatorTable::parse(&w).unwrap();
    assert_eq!(t.slink_count(), 2048);
    assert!(t.slinks().all(|s| s.is_ok()));
}

#[test]
fn changed_args_give_errors_not_panics() {
    let w = words("ringbuffer 2 /dev/r 0 blockdev 1 0");
    let mut t = ReplicatorTable::parse(&w).unwrap();
    let bad = words("blockdev 7");
    t.slink_args = &bad;
    assert!(t.slinks().next().unwrap().is_err());
    assert!(t.slinks().nth(1).is_none());
    let mut out = String::new();
    assert!(core::fmt::write(&mut out, format_args!("{t}")).is_err());
}

#[test]
fn generic_groups() {
    let w = words("core 2 1024 sync rest of line");
    assert_eq!(split_group(&w), Ok(("core", &w[2..4], &w[4..])));
    let w = words("nolog 0");
    assert_eq!(split_group(&w), Ok(("nolog", &w[2..], &w[2..])));
    let err = |line: &str| {
        let w = words(line);
        split_group(&w).map(|_| ()).map_err(|e| e.text())
    };
    assert_eq!(err(""), Err("Missing group type"));
    assert_eq!(err("core"), Err("Too few group parameters"));
    assert_eq!(err("core x"), Err("Invalid group parameter count"));
    assert_eq!(err("core 3 1 2"), Err("Too few group parameters"));
}
