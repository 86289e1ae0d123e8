//! The `replicator-dev` target's table line.
//!
//! Grammar:
//! `<replicator_device> <dev_nr>
//! {<slink_nr> <#dev_params> <dev_path> <dlog_type> <#dlog_params> <dlog_params...>}{1..N}`
//! with `#dev_params` = 1. The first device is the local one on site link
//! 0 with `nolog 0`; every remote device has a dirty log, all with the same
//! region size (the local device's I/O is split at that size); no site
//! link appears twice.

use core::fmt;

use super::error::TableError;
use super::framing::{split_framed, DIRTY_LOG};
use super::number::{parse_u32, parse_u64, NumberError};
use super::slink::{parse_slink_number, SlinkSet};

pub use super::dirty_log::{
    parse_region_size, DirtyLogSpec, SyncMode, REGION_MAX_SECTORS, REGION_MIN_SECTORS,
};

/// Device numbers are below this (2^31).
pub const DEV_NR_LIMIT: u32 = 1 << 31;

/// Parses a device number below [`DEV_NR_LIMIT`].
pub fn parse_dev_nr(word: &str) -> Result<u32, TableError> {
    match parse_u32(word) {
        Ok(nr) if nr < DEV_NR_LIMIT => Ok(nr),
        Ok(_) | Err(NumberError::Overflow) => Err(TableError::DevNrTooLarge),
        Err(NumberError::Malformed) => Err(TableError::DevNrInvalid),
    }
}

/// One device on one site link; `D` is a device as text or as the
/// kernel's device handle (emitted as `maj:min`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceSpec<'a, D = &'a str> {
    /// Site link the device is on (0: local).
    pub slink: u32,
    /// The device.
    pub dev: D,
    /// Its dirty log (`nolog` on site link 0).
    pub dirty_log: DirtyLogSpec<'a, D>,
}

impl<'a, D> DeviceSpec<'a, D> {
    /// The same device with every device (`dev` and a `disk` log's device)
    /// mapped by `f`.
    pub fn map_devs<E>(self, mut f: impl FnMut(D) -> E) -> DeviceSpec<'a, E> {
        DeviceSpec {
            slink: self.slink,
            dev: f(self.dev),
            dirty_log: self.dirty_log.map_dev(f),
        }
    }
}

impl<D: fmt::Display> fmt::Display for DeviceSpec<'_, D> {
    /// Writes `<slink_nr> 1 <dev> <dlog_type> <#dlog_params> <dlog_params>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} 1 {} {}",
            self.slink,
            self.dev,
            self.dirty_log.group()
        )
    }
}

/// Parses one device group off the front of `args`; returns it and the rest.
pub fn split_device<'a>(
    args: &'a [&'a str],
) -> Result<(DeviceSpec<'a>, &'a [&'a str]), TableError> {
    let [slink, count, dev, rest @ ..] = args else {
        return Err(TableError::DeviceTooFew);
    };
    let slink = parse_slink_number(slink)?;
    match parse_u64(count) {
        Ok(1) => {}
        Ok(_) | Err(NumberError::Overflow) => return Err(TableError::DevCountNotOne),
        Err(NumberError::Malformed) => return Err(TableError::DevCountInvalid),
    }
    let (kind, params, rest) = split_framed(rest, &DIRTY_LOG)?;
    let dirty_log = DirtyLogSpec::parse(kind, params)?;
    Ok((
        DeviceSpec {
            slink,
            dev: *dev,
            dirty_log,
        },
        rest,
    ))
}

/// A validated `replicator-dev` table line (or `device add` message),
/// borrowing its words.
#[derive(Clone, Copy, Debug)]
pub struct ReplicatorDevTable<'a> {
    /// The replicator target's device (its control device).
    pub replicator: &'a str,
    /// The device number in the replication log.
    pub dev_nr: u32,
    /// The device groups, as given.
    pub device_args: &'a [&'a str],
    /// Number of device groups.
    device_count: usize,
}

impl<'a> ReplicatorDevTable<'a> {
    /// Parses and validates a whole table line.
    pub fn parse(args: &'a [&'a str]) -> Result<ReplicatorDevTable<'a>, TableError> {
        ReplicatorDevTable::parse_mode(args, false)
    }

    /// Parses the arguments of a `device add` message: like a table line,
    /// but only remote devices may be added, so site link 0 is refused and
    /// the first group need not be on it.
    pub fn parse_device_add(args: &'a [&'a str]) -> Result<ReplicatorDevTable<'a>, TableError> {
        ReplicatorDevTable::parse_mode(args, true)
    }

    /// Parses a table line (`remote_only` false) or `device add` arguments.
    fn parse_mode(
        args: &'a [&'a str],
        remote_only: bool,
    ) -> Result<ReplicatorDevTable<'a>, TableError> {
        let (replicator, rest) = args.split_first().ok_or(TableError::ReplicatorMissing)?;
        let (dev_nr, device_args) = rest.split_first().ok_or(TableError::DevNrMissing)?;
        let dev_nr = parse_dev_nr(dev_nr)?;
        if device_args.is_empty() {
            return Err(TableError::DevicesMissing);
        }
        let mut seen = SlinkSet::new();
        let mut region_size = None;
        let mut device_count = 0usize;
        for device in (Devices { rest: device_args }) {
            let device = device?;
            if remote_only && device.slink == 0 {
                return Err(TableError::DeviceSlink0ByMessage);
            }
            if !remote_only && device_count == 0 && device.slink != 0 {
                return Err(TableError::FirstDeviceNotSlink0);
            }
            if !seen.insert(device.slink) {
                return Err(TableError::SlinkDuplicate);
            }
            match (device.slink, device.dirty_log.is_nolog()) {
                (0, false) => return Err(TableError::Slink0NeedsNolog),
                (1.., true) => return Err(TableError::RemoteNeedsDirtyLog),
                _ => {}
            }
            match (region_size, device.dirty_log.region_size()) {
                (Some(first), Some(this)) if first != this => {
                    return Err(TableError::RegionSizeMismatch);
                }
                (None, Some(this)) => region_size = Some(this),
                _ => {}
            }
            device_count = device_count.saturating_add(1);
        }
        Ok(ReplicatorDevTable {
            replicator,
            dev_nr,
            device_args,
            device_count,
        })
    }

    /// The devices in table order. Items are `Ok` for a table from
    /// [`parse`](Self::parse) unless `device_args` was changed since.
    pub fn devices(&self) -> Devices<'a> {
        Devices {
            rest: self.device_args,
        }
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.device_count
    }

    /// The common region size of the remote devices, if any has one.
    pub fn region_size(&self) -> Option<u64> {
        self.devices()
            .filter_map(Result::ok)
            .find_map(|d| d.dirty_log.region_size())
    }
}

/// Iterator over device groups; stops after the first error.
#[derive(Clone, Debug)]
pub struct Devices<'a> {
    /// Groups not yet walked.
    rest: &'a [&'a str],
}

impl<'a> Iterator for Devices<'a> {
    type Item = Result<DeviceSpec<'a>, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_device(self.rest) {
            Ok((device, rest)) => {
                self.rest = rest;
                Some(Ok(device))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl fmt::Display for ReplicatorDevTable<'_> {
    /// Writes the canonical table line, as `dmsetup table` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.replicator, self.dev_nr)?;
        for device in self.devices() {
            write!(f, " {}", device.map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}
