// SPDX-License-Identifier: GPL-2.0
//! The `blockdev` site link: remote sites reached as block devices (NBD,
//! NVMe/TCP, iSCSI, or any local device).
//!
//! A remote device is opened by its `replicator-dev` table, which also
//! creates its dirty log; the replication log copies entries to it and
//! resynchronises the regions the dirty log marks out of sync.

mod records;
mod remote;
mod resync;

use crate::dm::{BlockDevice, DmDev, TargetCtx, TargetError};
use crate::label::{self, LocalLabel};
use crate::logic::replicator_dev_table::DeviceSpec;
use crate::slink::{SlinkDevice, SlinkType};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;
use remote::RemoteDev;

/// Registry entry of the `blockdev` site-link type.
pub(crate) struct BlockdevType;

impl SlinkType for BlockdevType {
    fn name(&self) -> &'static str {
        crate::logic::replicator_table::SLINK_BLOCKDEV
    }

    /// Open the remote device, check its label against the local
    /// device's, and create its dirty log.
    fn open_device(
        &self,
        ctx: &TargetCtx<'_>,
        dev_nr: u32,
        spec: &DeviceSpec<'_>,
        local_label: &LocalLabel,
    ) -> Result<(DmDev, Arc<dyn SlinkDevice>), TargetError> {
        let dev = ctx
            .get_device(spec.dev)
            .map_err(|e| TargetError::new(c"Cannot open remote device", e))?;
        if dev.sectors() < ctx.len() {
            return Err(TargetError::inval(c"Remote device is smaller than the replicated device"));
        }
        let bdev = BlockDevice::open(dev.id()).map_err(|e| TargetError::new(c"Cannot open remote device", e))?;
        let checked = label::check_remote_dev(local_label, &bdev, spec.slink, dev_nr, ctx.len())?;
        // The region size dm-log gets: the table's, unless it is 0 or
        // larger than the device (see `DirtyLogSpec::kernel_region_size`).
        let table_region = spec.dirty_log.region_size();
        let region = spec.dirty_log.kernel_region_size(ctx.len());
        let region_word = match region.filter(|r| Some(*r) != table_region) {
            Some(r) => Some(
                CString::try_from_fmt(fmt!("{r}")).map_err(|_| TargetError::new(c"Cannot create dirty log", ENOMEM))?,
            ),
            None => None,
        };
        let mut params = KVec::new();
        for (i, word) in spec.dirty_log.params().iter().enumerate() {
            // The region word: core's first parameter, disk's second.
            let at_region = matches!((spec.dirty_log.type_name(), i), ("core", 0) | ("disk", 1));
            let word = match (&region_word, at_region) {
                (Some(r), true) => r.to_str().unwrap_or(word),
                _ => word,
            };
            params.push(word, GFP_KERNEL).map_err(|_| TargetError::new(c"Cannot create dirty log", ENOMEM))?;
        }
        let log = ctx
            .create_dirty_log(spec.dirty_log.type_name(), &params)
            .map_err(|e| TargetError::new(c"Cannot create dirty log", e))?;
        let label = label::RemoteLabel::new(local_label.label().copied(), checked)
            .map_err(|_| TargetError::new(c"Cannot allocate remote device", ENOMEM))?;
        let table_region = table_region.filter(|_| region_word.is_some());
        let remote = RemoteDev::new(spec.slink, dev_nr, bdev, dev.id(), table_region, log, ctx.len(), label)
            .map_err(|e| TargetError::new(c"Cannot open remote device", e))?;
        let remote: Arc<dyn SlinkDevice> = Arc::new(remote, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate remote device", ENOMEM))?;
        Ok((dev, remote))
    }
}
