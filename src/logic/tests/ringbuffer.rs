//! Ringbuffer replication log parameters.

use std::string::{String, ToString};

use super::words;
use crate::logic::ringbuffer::{OpenMode, RingbufferParams, REPLOG_MIN_SECTORS};

/// Parses ringbuffer parameters; returns `(count, text)` or the error.
fn rb(line: &str) -> Result<(usize, String), &'static str> {
    let w = words(line);
    RingbufferParams::parse(&w)
        .map(|p| (p.param_count(), p.to_string()))
        .map_err(|e| e.text())
}

#[test]
fn open_modes() {
    assert_eq!(rb("/dev/x 0"), Ok((2, "/dev/x 0".into())));
    assert_eq!(rb("/dev/x 32 open"), Ok((3, "/dev/x 32 open".into())));
    assert_eq!(
        rb("/dev/x 32 open 4096"),
        Ok((4, "/dev/x 32 open 4096".into()))
    );
    assert_eq!(
        rb("/dev/x 32 auto 65536"),
        Ok((4, "/dev/x 32 auto 65536".into()))
    );
    assert_eq!(
        rb("253:1 0 create 2048"),
        Ok((4, "253:1 0 create 2048".into()))
    );
}

#[test]
fn parsed_fields() {
    let w = words("/dev/mapper/replog_store 32 auto 65536");
    let p = RingbufferParams::parse(&w).unwrap();
    assert_eq!(
        p,
        RingbufferParams {
            dev: "/dev/mapper/replog_store",
            dev_start: 32,
            open: OpenMode::Auto(65536)
        }
    );
    assert_eq!(p.open.size(), Some(65536));
    assert!(p.open.may_create());
    let w = words("/dev/x 0 open");
    let p = RingbufferParams::parse(&w).unwrap();
    assert_eq!(p.open, OpenMode::Open);
    assert!(!p.open.may_create());
    assert_eq!(p.open.size(), None);
    let mapped = p.with_dev("8:16");
    assert_eq!(mapped.to_string(), "8:16 0 open");
    assert_eq!(REPLOG_MIN_SECTORS, 2048);
}

#[test]
fn errors() {
    assert_eq!(rb(""), Err("Replication log takes 2 to 4 parameters"));
    assert_eq!(rb("/dev/x"), Err("Replication log takes 2 to 4 parameters"));
    assert_eq!(
        rb("/dev/x 0 auto 4096 x"),
        Err("Replication log takes 2 to 4 parameters")
    );
    assert_eq!(
        rb("/dev/x start"),
        Err("Invalid replication log device start")
    );
    assert_eq!(rb("/dev/x -1"), Err("Invalid replication log device start"));
    assert_eq!(
        rb("/dev/x 18446744073709551616"),
        Err("Invalid replication log device start")
    );
    assert_eq!(
        rb("/dev/x 0 auto"),
        Err("Replication log size required with auto or create")
    );
    assert_eq!(
        rb("/dev/x 0 create"),
        Err("Replication log size required with auto or create")
    );
    assert_eq!(
        rb("/dev/x 0 reopen"),
        Err("Unknown replication log open mode")
    );
    assert_eq!(
        rb("/dev/x 0 AUTO 4096"),
        Err("Unknown replication log open mode")
    );
    assert_eq!(
        rb("/dev/x 0 format x"),
        Err("Unknown replication log open mode")
    );
    assert_eq!(rb("/dev/x 0 auto 64k"), Err("Invalid replication log size"));
    assert_eq!(
        rb("/dev/x 0 create 2047"),
        Err("Replication log size must be at least 2048 sectors")
    );
    assert_eq!(
        rb("/dev/x 0 open 0"),
        Err("Replication log size must be at least 2048 sectors")
    );
    assert_eq!(
        rb("/dev/x 18446744073709549568 auto 2048"),
        Err("Replication log end exceeds the sector range")
    );
    assert_eq!(
        rb("/dev/x 18446744073709549567 auto 2048"),
        Ok((4, "/dev/x 18446744073709549567 auto 2048".into()))
    );
    assert_eq!(
        rb("/dev/x 18446744073709551615"),
        Ok((2, "/dev/x 18446744073709551615".into()))
    );
}
