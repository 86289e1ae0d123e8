// SPDX-License-Identifier: GPL-2.0
//! Replica labels at table load: a `replicator-dev` whose local device
//! carries a label uses a remote device only if that copy is a secondary
//! of the same group, device and generation (`logic::label`); a copy of
//! another group or device, one that was never failed back, or one that
//! was promoted (this site was taken over) is refused with the reason in
//! `ti->error` and the details in the kernel log. Devices without labels
//! are used as before. The check runs at every table load and `device
//! add`; a remote whose label cannot be read then (its site is down) is
//! used unchecked, and says so.

use crate::dm::{BlockDevice, DevId, KernelCrc32c, TargetError};
use crate::logic::label::{check_local, check_remote, label_sector, Label, Refusal};
use crate::logic::replog::{Block, BLOCK_SIZE};
use kernel::prelude::*;

/// What a device holds where a label goes.
struct Read {
    /// The label, if the device has one.
    label: Option<Label>,
    /// The device's size in sectors.
    sectors: u64,
}

/// Reads device `id`'s label block: the I/O error if it cannot be read,
/// else the label or a table error for a damaged one.
fn read(id: DevId) -> Result<Result<Read, TargetError>, Error> {
    let dev = BlockDevice::open(id)?;
    let sectors = dev.sectors();
    let Some(at) = label_sector(sectors) else {
        return Ok(Ok(Read { label: None, sectors }));
    };
    let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    dev.read(at, &mut buf)?;
    let block = <&Block>::try_from(buf.as_slice()).map_err(|_| EINVAL)?;
    Ok(match Label::decode::<KernelCrc32c>(block) {
        Ok(label) => Ok(Read { label, sectors }),
        Err(e) => {
            pr_err!("device {id}: label unusable: {}\n", e.message().to_str().unwrap_or(""));
            Err(TargetError::inval(e.message()))
        }
    })
}

/// Reads and checks the local device's label against the table (device
/// `dev_nr`, `len` sectors replicated); returns it for the remotes' checks.
pub(crate) fn check_local_dev(id: DevId, dev_nr: u32, len: u64) -> Result<Option<Label>, TargetError> {
    let r = read(id).map_err(|e| TargetError::new(c"Cannot read the local device's label", e))??;
    if let Some(l) = &r.label {
        check_local(l, dev_nr, len, r.sectors).map_err(|why| refused(why, id, 0, dev_nr))?;
    }
    Ok(r.label)
}

/// Checks the remote device `id` on `slink` against the local label.
pub(crate) fn check_remote_dev(
    local: Option<&Label>,
    id: DevId,
    slink: u32,
    dev_nr: u32,
    len: u64,
) -> Result<(), TargetError> {
    let r = match read(id) {
        Ok(r) => r?,
        Err(e) if e != ENOMEM => {
            // A remote site that is down when the table loads (the old
            // primary of a takeover behind an `error` table, NBD not yet
            // connected) does not keep the group from coming up.
            if local.is_some() {
                pr_warn!(
                    "slink={slink} device {dev_nr}: remote device {id}: cannot read its label ({}): used unchecked; reload the table once it is reachable\n",
                    e.to_errno()
                );
            }
            return Ok(());
        }
        Err(e) => return Err(TargetError::new(c"Cannot read the remote device's label", e)),
    };
    check_remote(local, r.label.as_ref(), len, r.sectors).map_err(|why| refused(why, id, slink, dev_nr))
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
