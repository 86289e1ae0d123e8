//! Parameters of the `ringbuffer` replication log.
//!
//! Grammar (after `ringbuffer <#params>`):
//! `<dev> <dev_start> [open | open <size> | auto <size> | create <size>]`.
//! Two parameters mean `open`; an explicit `open` is kept so the table is
//! emitted as written.

use core::fmt;

use super::error::TableError;
use super::number::parse_u64;

/// Smallest replication log, in sectors (1 MiB).
pub const REPLOG_MIN_SECTORS: u64 = 2048;

/// How the constructor treats the log header on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Two parameters: open an existing log.
    Implicit,
    /// `open`: open an existing log.
    Open,
    /// `open <size>`: open an existing log of this size in sectors.
    OpenSized(u64),
    /// `auto <size>`: open a valid log, else create one of this size.
    Auto(u64),
    /// `create <size>`: create a new log of this size.
    Create(u64),
}

impl OpenMode {
    /// The size in sectors, if given.
    pub fn size(&self) -> Option<u64> {
        match *self {
            OpenMode::Implicit | OpenMode::Open => None,
            OpenMode::OpenSized(size) | OpenMode::Auto(size) | OpenMode::Create(size) => Some(size),
        }
    }

    /// The keyword, if written.
    pub fn keyword(&self) -> Option<&'static str> {
        match self {
            OpenMode::Implicit => None,
            OpenMode::Open | OpenMode::OpenSized(_) => Some("open"),
            OpenMode::Auto(_) => Some("auto"),
            OpenMode::Create(_) => Some("create"),
        }
    }

    /// Whether the log may be (re)initialised.
    pub fn may_create(&self) -> bool {
        matches!(self, OpenMode::Auto(_) | OpenMode::Create(_))
    }
}

/// Ringbuffer parameters; `D` is the device as text or as the kernel's
/// device handle (emitted as `maj:min`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingbufferParams<D> {
    /// Backing device of the log.
    pub dev: D,
    /// Sector of the log header on `dev`.
    pub dev_start: u64,
    /// Open, create or auto, with the size.
    pub open: OpenMode,
}

/// Parses a replication log size (at least [`REPLOG_MIN_SECTORS`]).
pub fn parse_replog_size(word: &str) -> Result<u64, TableError> {
    let size = parse_u64(word).map_err(|_| TableError::ReplogSizeInvalid)?;
    if size < REPLOG_MIN_SECTORS {
        return Err(TableError::ReplogSizeTooSmall);
    }
    Ok(size)
}

impl<'a> RingbufferParams<&'a str> {
    /// Parses the `<#params>` words following `ringbuffer <#params>`.
    pub fn parse(params: &'a [&'a str]) -> Result<RingbufferParams<&'a str>, TableError> {
        let (dev, start, mode, size) = match params {
            [dev, start] => (*dev, *start, None, None),
            [dev, start, mode] => (*dev, *start, Some(*mode), None),
            [dev, start, mode, size] => (*dev, *start, Some(*mode), Some(*size)),
            _ => return Err(TableError::ReplogParamCount),
        };
        let dev_start = parse_u64(start).map_err(|_| TableError::ReplogStartInvalid)?;
        let open = match (mode, size) {
            (None, _) => OpenMode::Implicit,
            (Some("open"), None) => OpenMode::Open,
            (Some("auto" | "create"), None) => return Err(TableError::ReplogSizeMissing),
            (Some(mode @ ("open" | "auto" | "create")), Some(size)) => {
                let size = parse_replog_size(size)?;
                match mode {
                    "open" => OpenMode::OpenSized(size),
                    "auto" => OpenMode::Auto(size),
                    _ => OpenMode::Create(size),
                }
            }
            (Some(_), _) => return Err(TableError::ReplogOpenModeUnknown),
        };
        if let Some(size) = open.size() {
            dev_start
                .checked_add(size)
                .ok_or(TableError::ReplogEndOverflow)?;
        }
        Ok(RingbufferParams {
            dev,
            dev_start,
            open,
        })
    }
}

impl<D> RingbufferParams<D> {
    /// `<#replog_params>`: 2 for implicit open, 3 for `open`, 4 with a size.
    pub fn param_count(&self) -> usize {
        match self.open {
            OpenMode::Implicit => 2,
            OpenMode::Open => 3,
            OpenMode::OpenSized(_) | OpenMode::Auto(_) | OpenMode::Create(_) => 4,
        }
    }

    /// The same parameters with the device replaced (e.g. by a `dm_dev`).
    pub fn with_dev<E>(self, dev: E) -> RingbufferParams<E> {
        RingbufferParams {
            dev,
            dev_start: self.dev_start,
            open: self.open,
        }
    }
}

impl<D: fmt::Display> fmt::Display for RingbufferParams<D> {
    /// Writes the parameters without type and count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.dev, self.dev_start)?;
        if let Some(keyword) = self.open.keyword() {
            write!(f, " {keyword}")?;
        }
        if let Some(size) = self.open.size() {
            write!(f, " {size}")?;
        }
        Ok(())
    }
}
