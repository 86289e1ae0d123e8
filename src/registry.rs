// SPDX-License-Identifier: GPL-2.0
//! Registries of replication-log types and site-link types, looked up by
//! the type name in a `replicator` table line. A new type is one `impl` of
//! the trait plus one line in the registry array.

use crate::dm::{TargetError, StatusWriter, TargetCtx};
use crate::logic::message::ReplogMessage;
use kernel::prelude::*;
use kernel::sync::Arc;

/// A kind of replication log (`ringbuffer`).
pub(crate) trait ReplogType: Sync {
    /// The name used in table lines.
    fn name(&self) -> &'static str;
    /// Build a log from its table parameters (after `<type> <#params>`).
    fn create(&self, ctx: &TargetCtx<'_>, params: &[&str]) -> Result<Arc<dyn Replog>, TargetError>;
}

/// A replication log owned by a `replicator` target.
pub(crate) trait Replog: Send + Sync {
    /// Write `<type> <#params> <params>` as in the table line.
    fn table(&self, out: &mut StatusWriter<'_>);
    /// Write the log's part of the INFO status.
    fn info(&self, out: &mut StatusWriter<'_>);
    /// Handle a `replog ...` message.
    fn message(&self, msg: &ReplogMessage) -> Result<(), TargetError>;
}

/// A kind of site link (`blockdev`).
pub(crate) trait SlinkType: Sync {
    /// The name used in table lines. The parameters after `<type>
    /// <#params>` are the same for all types (`logic::blockdev`).
    fn name(&self) -> &'static str;
}

/// The registered replication-log types.
static REPLOG_TYPES: [&dyn ReplogType; 1] = [&crate::ringbuffer::RingbufferType];

/// The registered site-link types.
static SLINK_TYPES: [&dyn SlinkType; 1] = [&crate::blockdev::BlockdevType];

/// Look up a replication-log type.
pub(crate) fn replog_type(name: &str) -> Option<&'static dyn ReplogType> {
    REPLOG_TYPES.iter().copied().find(|t| t.name() == name)
}

/// Look up a site-link type.
pub(crate) fn slink_type(name: &str) -> Option<&'static dyn SlinkType> {
    SLINK_TYPES.iter().copied().find(|t| t.name() == name)
}
