//! The `replicator-dev` table line.

use std::string::{String, ToString};
use std::vec::Vec;

use super::{emit_with, words};
use crate::logic::replicator_dev_table::{
    parse_dev_nr, split_device, DeviceSpec, DirtyLogSpec, ReplicatorDevTable, SyncMode,
    DEV_NR_LIMIT,
};

/// Parses a table line; the canonical text or the error.
fn table(line: &str) -> Result<String, &'static str> {
    emit_with!(line, ReplicatorDevTable::parse)
}

/// Parses `device add` arguments; the canonical text or the error.
fn added(line: &str) -> Result<String, &'static str> {
    emit_with!(line, ReplicatorDevTable::parse_device_add)
}

#[test]
fn seed_examples() {
    let line = "63:4 0 0 1 /dev/mapper/local_device nolog 0";
    assert_eq!(table(line), Ok(line.into()));
    let line = "63:4 0 0 1 /dev/mapper/local_device nolog 0 1 1 /dev/mapper/remote_device core 2 2048 sync";
    assert_eq!(table(line), Ok(line.into()));
    let w = words(line);
    let t = ReplicatorDevTable::parse(&w).unwrap();
    assert_eq!((t.replicator, t.dev_nr, t.device_count()), ("63:4", 0, 2));
    assert_eq!(t.region_size(), Some(2048));
    let devices: Vec<_> = t.devices().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        devices,
        [
            DeviceSpec {
                slink: 0,
                dev: "/dev/mapper/local_device",
                dirty_log: DirtyLogSpec::Nolog
            },
            DeviceSpec {
                slink: 1,
                dev: "/dev/mapper/remote_device",
                dirty_log: DirtyLogSpec::Core {
                    region_size: 2048,
                    sync: Some(SyncMode::Sync),
                    params: &w[12..14]
                },
            },
        ]
    );
}

#[test]
fn lvm2_line_is_canonical() {
    let line = "253:5 0 0 1 253:2 nolog 0 1 1 253:3 disk 3 253:4 2048 nosync";
    assert_eq!(table(line), Ok(line.into()));
    let w = words(line);
    let t = ReplicatorDevTable::parse(&w).unwrap();
    let remote = t.devices().nth(1).unwrap().unwrap();
    assert_eq!(remote.dirty_log.type_name(), "disk");
    assert_eq!(remote.dirty_log.params(), &["253:4", "2048", "nosync"][..]);
    // The kernel emits devices as maj:min.
    let mapped = remote.map_devs(|d| if d == "253:3" { "8:16" } else { "8:32" });
    assert_eq!(mapped.to_string(), "1 1 8:16 disk 3 8:32 2048 nosync");
}

#[test]
fn many_remote_devices() {
    let line = "r 2147483647 0 1 a nolog 0 3 1 b core 1 64 1 1 c disk 2 l 64 9 1 d userspace 2 x y";
    assert_eq!(table(line), Ok(line.into()));
}

#[test]
fn header_errors() {
    assert_eq!(table(""), Err("Missing replicator device"));
    assert_eq!(table("63:4"), Err("Missing device number"));
    assert_eq!(table("63:4 0"), Err("At least one device required"));
    assert_eq!(table("63:4 x 0 1 a nolog 0"), Err("Invalid device number"));
    assert_eq!(table("63:4 -1 0 1 a nolog 0"), Err("Invalid device number"));
    assert_eq!(
        table("63:4 2147483648 0 1 a nolog 0"),
        Err("Device number must be below 2147483648")
    );
    assert_eq!(
        table("63:4 99999999999 0 1 a nolog 0"),
        Err("Device number must be below 2147483648")
    );
    assert_eq!(parse_dev_nr("2147483647"), Ok(DEV_NR_LIMIT - 1));
}

#[test]
fn group_errors() {
    assert_eq!(table("r 0 0"), Err("Too few device arguments"));
    assert_eq!(table("r 0 0 1 a"), Err("Too few device arguments"));
    assert_eq!(
        table("r 0 0 1 a nolog"),
        Err("Too few dirty log parameters")
    );
    assert_eq!(
        table("r 0 0 1 a nolog x"),
        Err("Invalid dirty log parameter count")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 0 1 1 b core 2 64"),
        Err("Too few dirty log parameters")
    );
    assert_eq!(table("r 0 x 1 a nolog 0"), Err("Invalid site link number"));
    assert_eq!(
        table("r 0 0 1 a nolog 0 2048 1 b core 1 64"),
        Err("Site link number must be below 2048")
    );
    assert_eq!(
        table("r 0 0 one a nolog 0"),
        Err("Invalid device parameter count")
    );
    assert_eq!(
        table("r 0 0 2 a b nolog 0"),
        Err("Device parameter count must be 1")
    );
    assert_eq!(
        table("r 0 0 0 nolog 0"),
        Err("Device parameter count must be 1")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 1 x"),
        Err("nolog takes no parameters")
    );
    assert_eq!(table("r 0 0 1 a bogus 0"), Err("Unknown dirty log type"));
}

#[test]
fn rule_errors() {
    assert_eq!(
        table("r 0 1 1 b core 1 64"),
        Err("First device must be on site link 0")
    );
    assert_eq!(
        table("r 0 0 1 a core 1 64"),
        Err("Site link 0 device must use nolog 0")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 0 1 1 b nolog 0"),
        Err("Dirty log required on remote site link")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 0 0 1 b nolog 0"),
        Err("Duplicate site link number")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 0 1 1 b core 1 64 1 1 c core 1 64"),
        Err("Duplicate site link number")
    );
    assert_eq!(
        table("r 0 0 1 a nolog 0 1 1 b core 1 64 2 1 c disk 2 l 128"),
        Err("Region size differs between remote devices")
    );
    // A userspace log's region size is its own business.
    assert_eq!(
        table("r 0 0 1 a nolog 0 1 1 b core 1 64 2 1 c userspace 2 u 128"),
        Ok("r 0 0 1 a nolog 0 1 1 b core 1 64 2 1 c userspace 2 u 128".into())
    );
}

#[test]
fn device_add_arguments() {
    assert_eq!(
        added("r 0 1 1 b core 1 64"),
        Ok("r 0 1 1 b core 1 64".into())
    );
    assert_eq!(
        added("r 0 2 1 b core 1 64 1 1 c core 2 64 nosync"),
        Ok("r 0 2 1 b core 1 64 1 1 c core 2 64 nosync".into())
    );
    assert_eq!(
        added("r 0 0 1 a nolog 0"),
        Err("Site link 0 device cannot be added or deleted by message")
    );
    assert_eq!(
        added("r 0 1 1 b core 1 64 0 1 a nolog 0"),
        Err("Site link 0 device cannot be added or deleted by message")
    );
    assert_eq!(
        added("r 0 1 1 b nolog 0"),
        Err("Dirty log required on remote site link")
    );
    assert_eq!(added("r 0"), Err("At least one device required"));
}

#[test]
fn split_one_device() {
    let w = words("1 1 b core 1 64 rest");
    let (device, rest) = split_device(&w).unwrap();
    assert_eq!(device.to_string(), "1 1 b core 1 64");
    assert_eq!(rest, &["rest"][..]);
}

#[test]
fn changed_args_give_errors_not_panics() {
    let w = words("r 0 0 1 a nolog 0");
    let mut t = ReplicatorDevTable::parse(&w).unwrap();
    let bad = words("0 1");
    t.device_args = &bad;
    assert!(t.devices().next().unwrap().is_err());
    assert_eq!(t.region_size(), None);
    let mut out = String::new();
    assert!(core::fmt::write(&mut out, format_args!("{t}")).is_err());
}
