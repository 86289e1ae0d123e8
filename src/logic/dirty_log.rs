//! The dirty log of a replicated device: which regions a remote device
//! still has to be resynchronised in.
//!
//! Grammar (a group `<dlog_type> <#dlog_params> <dlog_params...>`):
//! `nolog 0` (site link 0 only), `core <region_size> [sync|nosync]`
//! (region size 0: the default, as LVM2 wrote its log-less form),
//! `disk <dev> <region_size> [sync|nosync]`, or `userspace <params...>`
//! (passed to dm-log-userspace unchecked). The kernel hands
//! [`type_name`](DirtyLogSpec::type_name) and the raw
//! [`params`](DirtyLogSpec::params) to `dm_dirty_log_create`.

use core::fmt;

use super::error::TableError;
use super::framing::{Framed, GroupParams};
use super::number::parse_u64;

/// Smallest region, in sectors (4 KiB, one page).
pub const REGION_MIN_SECTORS: u64 = 8;
/// Largest region, in sectors: dm-log keeps region sizes in 32 bits.
pub const REGION_MAX_SECTORS: u64 = 1 << 31;

/// Region size of a `core` log written with region size 0 (LVM2's
/// `core 2 0 sync`, its "no sync log" form): dm-mirror's usual 512 KiB.
pub const REGION_DEFAULT_SECTORS: u64 = 1024;

/// Whether a new dirty log starts with all regions in sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `sync`: resynchronise everything.
    Sync,
    /// `nosync`: assume the remote copy is already in sync.
    Nosync,
}

impl SyncMode {
    /// Parses `sync` or `nosync`.
    pub fn parse(word: &str) -> Result<SyncMode, TableError> {
        match word {
            "sync" => Ok(SyncMode::Sync),
            "nosync" => Ok(SyncMode::Nosync),
            _ => Err(TableError::SyncArgInvalid),
        }
    }

    /// The keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            SyncMode::Sync => "sync",
            SyncMode::Nosync => "nosync",
        }
    }
}

/// Parses a region size: a power of two in
/// [`REGION_MIN_SECTORS`]..=[`REGION_MAX_SECTORS`] sectors.
pub fn parse_region_size(word: &str) -> Result<u64, TableError> {
    let size = parse_u64(word).map_err(|_| TableError::RegionSizeInvalid)?;
    if size < REGION_MIN_SECTORS || !size.is_power_of_two() {
        return Err(TableError::RegionSizeBad);
    }
    if size > REGION_MAX_SECTORS {
        return Err(TableError::RegionSizeTooLarge);
    }
    Ok(size)
}

/// A device's dirty log; `D` is the log device of `disk` as text or as the
/// kernel's device handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirtyLogSpec<'a, D = &'a str> {
    /// `nolog 0`: the local device (site link 0) needs no dirty log.
    Nolog,
    /// `core`: an in-memory log.
    Core {
        /// Region size in sectors.
        region_size: u64,
        /// Initial sync state, if given.
        sync: Option<SyncMode>,
        /// The raw parameters, for `dm_dirty_log_create`.
        params: &'a [&'a str],
    },
    /// `disk`: a persistent log on `dev`.
    Disk {
        /// The log device.
        dev: D,
        /// Region size in sectors.
        region_size: u64,
        /// Initial sync state, if given.
        sync: Option<SyncMode>,
        /// The raw parameters, for `dm_dirty_log_create`.
        params: &'a [&'a str],
    },
    /// `userspace`: dm-log-userspace's own parameters, unchecked.
    Userspace {
        /// The raw parameters.
        params: &'a [&'a str],
    },
}

impl<'a> DirtyLogSpec<'a> {
    /// Parses a dirty log from its type and parameters.
    pub fn parse(kind: &str, params: &'a [&'a str]) -> Result<DirtyLogSpec<'a>, TableError> {
        match kind {
            "nolog" if params.is_empty() => Ok(DirtyLogSpec::Nolog),
            "nolog" => Err(TableError::NologParams),
            "core" => match params {
                [region] | [region, _] => Ok(DirtyLogSpec::Core {
                    region_size: match *region {
                        "0" => 0,
                        word => parse_region_size(word)?,
                    },
                    sync: params.get(1).map(|w| SyncMode::parse(w)).transpose()?,
                    params,
                }),
                _ => Err(TableError::CoreParamCount),
            },
            "disk" => match params {
                [dev, region] | [dev, region, _] => Ok(DirtyLogSpec::Disk {
                    dev: *dev,
                    region_size: parse_region_size(region)?,
                    sync: params.get(2).map(|w| SyncMode::parse(w)).transpose()?,
                    params,
                }),
                _ => Err(TableError::DiskParamCount),
            },
            "userspace" if params.is_empty() => Err(TableError::UserspaceParamsMissing),
            "userspace" => Ok(DirtyLogSpec::Userspace { params }),
            _ => Err(TableError::DirtyLogTypeUnknown),
        }
    }
}

impl<'a, D> DirtyLogSpec<'a, D> {
    /// The type word for `dm_dirty_log_create`.
    pub fn type_name(&self) -> &'static str {
        match self {
            DirtyLogSpec::Nolog => "nolog",
            DirtyLogSpec::Core { .. } => "core",
            DirtyLogSpec::Disk { .. } => "disk",
            DirtyLogSpec::Userspace { .. } => "userspace",
        }
    }

    /// The raw parameters as given, for `dm_dirty_log_create`.
    pub fn params(&self) -> &'a [&'a str] {
        match self {
            DirtyLogSpec::Nolog => &[],
            DirtyLogSpec::Core { params, .. }
            | DirtyLogSpec::Disk { params, .. }
            | DirtyLogSpec::Userspace { params } => params,
        }
    }

    /// The region size in sectors, unless `nolog` or `userspace`.
    pub fn region_size(&self) -> Option<u64> {
        match self {
            DirtyLogSpec::Core { region_size, .. } | DirtyLogSpec::Disk { region_size, .. } => {
                Some(*region_size)
            }
            DirtyLogSpec::Nolog | DirtyLogSpec::Userspace { .. } => None,
        }
    }

    /// The region size the kernel's dirty log gets for a device of `len`
    /// sectors, unless `nolog` or `userspace`: the table's (the default
    /// for a `core` log's 0), lowered to the largest power of two not
    /// above `len`, so that a region larger than the device is one region
    /// covering it (dm-log refuses a region larger than its target).
    /// Never below [`REGION_MIN_SECTORS`].
    pub fn kernel_region_size(&self, len: u64) -> Option<u64> {
        let size = match self.region_size()? {
            0 => REGION_DEFAULT_SECTORS,
            size => size,
        };
        let cap = match len.checked_ilog2() {
            Some(bits) => 1u64 << bits,
            None => REGION_MIN_SECTORS,
        };
        Some(size.min(cap).max(REGION_MIN_SECTORS))
    }

    /// The initial sync state, if given.
    pub fn sync(&self) -> Option<SyncMode> {
        match self {
            DirtyLogSpec::Core { sync, .. } | DirtyLogSpec::Disk { sync, .. } => *sync,
            DirtyLogSpec::Nolog | DirtyLogSpec::Userspace { .. } => None,
        }
    }

    /// Whether this is `nolog`.
    pub fn is_nolog(&self) -> bool {
        matches!(self, DirtyLogSpec::Nolog)
    }

    /// Canonical `<#dlog_params>`.
    pub fn param_count(&self) -> usize {
        let sync = usize::from(self.sync().is_some());
        match self {
            DirtyLogSpec::Nolog => 0,
            DirtyLogSpec::Core { .. } => sync.saturating_add(1),
            DirtyLogSpec::Disk { .. } => sync.saturating_add(2),
            DirtyLogSpec::Userspace { params } => params.len(),
        }
    }

    /// The same log with the `disk` device mapped by `f`.
    pub fn map_dev<E>(self, f: impl FnOnce(D) -> E) -> DirtyLogSpec<'a, E> {
        match self {
            DirtyLogSpec::Nolog => DirtyLogSpec::Nolog,
            DirtyLogSpec::Core {
                region_size,
                sync,
                params,
            } => DirtyLogSpec::Core {
                region_size,
                sync,
                params,
            },
            DirtyLogSpec::Disk {
                dev,
                region_size,
                sync,
                params,
            } => DirtyLogSpec::Disk {
                dev: f(dev),
                region_size,
                sync,
                params,
            },
            DirtyLogSpec::Userspace { params } => DirtyLogSpec::Userspace { params },
        }
    }
}

impl<D: fmt::Display> DirtyLogSpec<'_, D> {
    /// The whole group, `<type> <#params> <params>`, for display.
    pub fn group(&self) -> Framed<'static, &Self> {
        Framed(self.type_name(), self)
    }
}

impl<D: fmt::Display> fmt::Display for DirtyLogSpec<'_, D> {
    /// Writes the parameters without type and count (see [`Self::group`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyLogSpec::Nolog => Ok(()),
            DirtyLogSpec::Core { region_size, .. } => write!(f, "{region_size}"),
            DirtyLogSpec::Disk {
                dev, region_size, ..
            } => write!(f, "{dev} {region_size}"),
            DirtyLogSpec::Userspace { params } => {
                let mut words = params.iter();
                if let Some(first) = words.next() {
                    f.write_str(first)?;
                }
                words.try_for_each(|w| write!(f, " {w}"))
            }
        }?;
        if let Some(sync) = self.sync() {
            write!(f, " {}", sync.keyword())?;
        }
        Ok(())
    }
}

impl<D: fmt::Display> GroupParams for DirtyLogSpec<'_, D> {
    fn param_count(&self) -> usize {
        DirtyLogSpec::param_count(self)
    }
}

/// A dirty log's table text (`<type> <#params> <params>`, as dm-log
/// prints it) with its region size word replaced by `region`: the
/// table's own region size where the kernel's log was given another
/// ([`DirtyLogSpec::kernel_region_size`]), so that the line reloads
/// verbatim. Text of another type is written unchanged.
pub struct WithRegion<'t> {
    /// The kernel's text.
    pub text: &'t str,
    /// The region size to show.
    pub region: u64,
}

impl fmt::Display for WithRegion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.text.split(' ').next() {
            Some("core") => 2,
            Some("disk") => 3,
            _ => usize::MAX,
        };
        for (i, word) in self.text.split(' ').enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if i == at {
                write!(f, "{}", self.region)?;
            } else {
                f.write_str(word)?;
            }
        }
        Ok(())
    }
}
