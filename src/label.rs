// SPDX-License-Identifier: GPL-2.0
//! Replica labels at table load: a `replicator-dev` whose local device
//! carries a label uses a remote device only if that copy is a secondary
//! of the same group, device and generation (`logic::label`); a copy of
//! another group or device, one that was never failed back, or one that
//! was promoted (this site was taken over) is refused with the reason in
//! `ti->error` and the details in the kernel log. Devices without labels
//! are used as before.

use crate::dm::{BlockDevice, DevId, KernelCrc32c, TargetError};
use crate::logic::label::{check_local, check_remote, label_sector, Label, Refusal};
use crate::logic::replog::{Block, BLOCK_SIZE};
use kernel::prelude::*;

/// Reads the label of device `id`, with the device's size in sectors:
/// `None` if it has none (or is smaller than a block).
fn read(id: DevId) -> Result<(Option<Label>, u64), TargetError> {
    let err = |e| TargetError::new(c"Cannot read device label", e);
    let dev = BlockDevice::open(id).map_err(err)?;
    let sectors = dev.sectors();
    let Some(at) = label_sector(sectors) else {
        return Ok((None, sectors));
    };
    let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL).map_err(|_| err(ENOMEM))?;
    dev.read(at, &mut buf).map_err(err)?;
    let block = <&Block>::try_from(buf.as_slice()).map_err(|_| err(EINVAL))?;
    let label = Label::decode::<KernelCrc32c>(block).map_err(|e| {
        pr_err!("device {id}: label unusable: {}\n", e.message().to_str().unwrap_or(""));
        TargetError::inval(e.message())
    })?;
    Ok((label, sectors))
}

/// Reads and checks the local device's label against the table (device
/// `dev_nr`, `len` sectors replicated); returns it for the remotes' checks.
pub(crate) fn check_local_dev(id: DevId, dev_nr: u32, len: u64) -> Result<Option<Label>, TargetError> {
    let (label, sectors) = read(id)?;
    if let Some(l) = &label {
        check_local(l, dev_nr, len, sectors).map_err(|r| refused(r, id, 0, dev_nr))?;
    }
    Ok(label)
}

/// Checks the remote device `id` on `slink` against the local label.
pub(crate) fn check_remote_dev(
    local: Option<&Label>,
    id: DevId,
    slink: u32,
    dev_nr: u32,
    len: u64,
) -> Result<(), TargetError> {
    let (remote, sectors) = read(id)?;
    check_remote(local, remote.as_ref(), len, sectors).map_err(|r| refused(r, id, slink, dev_nr))
}

/// The refusal as a table error, its details logged.
fn refused(r: Refusal, id: DevId, slink: u32, dev_nr: u32) -> TargetError {
    let text = r.message().to_str().unwrap_or("");
    match r {
        Refusal::LocalDevNr { label } => {
            pr_err!("device {dev_nr}: local device {id} is labelled device {label}: {text}\n")
        }
        Refusal::OtherDevice { remote } => {
            pr_err!("slink={slink} device {dev_nr}: remote device {id} is labelled device {remote}: {text}\n")
        }
        Refusal::OlderGeneration { remote, local } | Refusal::NewerGeneration { remote, local } => {
            pr_err!("slink={slink} device {dev_nr}: remote device {id} holds generation {remote}, this site {local}: {text}\n")
        }
        Refusal::OtherBranch { generation } => {
            pr_err!("slink={slink} device {dev_nr}: remote device {id} holds another generation {generation}: {text}\n")
        }
        _ => pr_err!("slink={slink} device {dev_nr}: device {id}: {text}\n"),
    }
    TargetError::inval(r.message())
}
