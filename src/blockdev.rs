// SPDX-License-Identifier: GPL-2.0
//! The `blockdev` site link: remote sites reached as block devices (NBD,
//! NVMe/TCP, iSCSI, or any local device).

use crate::registry::SlinkType;

/// Registry entry of the `blockdev` site-link type.
pub(crate) struct BlockdevType;

impl SlinkType for BlockdevType {
    fn name(&self) -> &'static str {
        crate::logic::replicator_table::SLINK_BLOCKDEV
    }
}
