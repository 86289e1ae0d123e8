// SPDX-License-Identifier: GPL-2.0
//! The `ringbuffer` replication log.
//!
//! For now this holds the log's configuration and its device: the table
//! is checked (the log must fit on its device) and reported, and `replog
//! resize` changes the configured size. The on-disk ring itself is built on
//! top of this.

use crate::dm::{TargetError, DmDev, StatusWriter, TargetCtx};
use crate::logic::message::ReplogMessage;
use crate::logic::ringbuffer::{OpenMode, RingbufferParams, REPLOG_MIN_SECTORS};
use crate::registry::{Replog, ReplogType};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Registry entry of the `ringbuffer` replication-log type.
pub(crate) struct RingbufferType;

/// A ring-buffer replication log.
struct Ringbuffer {
    dev: DmDev,
    params: RingbufferParams<()>,
    /// Log size in sectors: the table's size, or what `replog resize` set.
    size: AtomicU64,
}

impl ReplogType for RingbufferType {
    fn name(&self) -> &'static str {
        crate::logic::replicator_table::REPLOG_RINGBUFFER
    }

    fn create(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<Arc<dyn Replog>, TargetError> {
        let p = RingbufferParams::parse(params).map_err(crate::table_error)?;
        let dev = ctx
            .get_device(p.dev)
            .map_err(|e| TargetError::new(c"Cannot open replication log device", e))?;
        let dev_sectors = dev.sectors();
        let avail = dev_sectors.checked_sub(p.dev_start).unwrap_or(0);
        let size = match p.open.size() {
            Some(s) => s,
            // Opening an existing log takes its size from the log header;
            // until the on-disk format exists, the device's remainder.
            None => avail,
        };
        if size > avail {
            return Err(TargetError::inval(c"Replication log does not fit on its device"));
        }
        if size < REPLOG_MIN_SECTORS {
            return Err(TargetError::inval(c"Replication log device too small"));
        }
        let log = Ringbuffer {
            dev,
            params: p.with_dev(()),
            size: AtomicU64::new(size),
        };
        let log: Arc<dyn Replog> = Arc::new(log, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate replication log", ENOMEM))?;
        Ok(log)
    }
}

impl Replog for Ringbuffer {
    fn table(&self, out: &mut StatusWriter<'_>) {
        let size = self.size.load(Ordering::Relaxed);
        // A resize is reported as the table to load next time.
        let open = match self.params.open {
            OpenMode::Auto(_) => OpenMode::Auto(size),
            OpenMode::Create(_) => OpenMode::Create(size),
            OpenMode::OpenSized(_) => OpenMode::OpenSized(size),
            m => m,
        };
        let p = RingbufferParams { dev: self.dev.id(), dev_start: self.params.dev_start, open };
        let _ = write!(out, "{} {} {}", crate::logic::replicator_table::REPLOG_RINGBUFFER, p.param_count(), p);
    }

    fn info(&self, out: &mut StatusWriter<'_>) {
        let _ = write!(out, "0/{}", self.size.load(Ordering::Relaxed));
    }

    fn message(&self, msg: &ReplogMessage) -> Result<(), TargetError> {
        match msg {
            ReplogMessage::Resize { sectors } => {
                let avail = self.dev.sectors().checked_sub(self.params.dev_start).unwrap_or(0);
                if *sectors > avail {
                    return Err(TargetError::inval(c"Replication log does not fit on its device"));
                }
                if *sectors < REPLOG_MIN_SECTORS {
                    return Err(TargetError::inval(c"Replication log size too small"));
                }
                self.size.store(*sectors, Ordering::Relaxed);
                Ok(())
            }
            // The ring keeps its counters once entries are written to it.
            ReplogMessage::Statistics(_) => Err(TargetError::inval(
                c"Replication log statistics are kept by the on-disk ring, which this version lacks",
            )),
        }
    }
}
