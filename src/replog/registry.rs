// SPDX-License-Identifier: GPL-2.0
//! The registry of replication-log types, looked up by the type name in a
//! `replicator` table line. A new type is one `impl` of
//! [`super::ReplogType`] plus one line in `crate::REPLOG_TYPES`, the
//! module root being the only place that names the concrete types.

use super::ReplogType;

/// Look up a replication-log type.
pub(crate) fn replog_type(name: &str) -> Option<&'static dyn ReplogType> {
    crate::REPLOG_TYPES.iter().copied().find(|t| t.name() == name)
}
