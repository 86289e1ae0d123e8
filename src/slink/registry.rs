// SPDX-License-Identifier: GPL-2.0
//! The registry of site-link types, looked up by the type name in a
//! `replicator` table line. A new type is one `impl` of
//! [`super::SlinkType`] plus one line in `crate::SLINK_TYPES`, the module
//! root being the only place that names the concrete types.

use super::SlinkType;

/// Look up a site-link type.
pub(crate) fn slink_type(name: &str) -> Option<&'static dyn SlinkType> {
    crate::SLINK_TYPES.iter().copied().find(|t| t.name() == name)
}
