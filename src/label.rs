// SPDX-License-Identifier: GPL-2.0
//! Replica labels at table load: a `replicator-dev` whose local device
//! carries a label uses a remote device only if that copy is a secondary
//! of the same group, device and generation (`logic::label`); a copy of
//! another group or device, one that was never failed back, or one that
//! was promoted (this site was taken over) is refused with the reason in
//! `ti->error` and the details in the kernel log. Devices without labels
//! are used as before. The check runs at every table load and `device
//! add`, and again before a link writes to a remote after an outage
//! ([`RemoteLabel`]): a remote whose label cannot be read at load (its
//! site is down) is checked before the first write reaches it.

use crate::dm::{BlockDevice, DevId, KernelCrc32c, TargetError};
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use crate::logic::label::{check_local, check_remote, label_sector, Label, Refusal};
use crate::logic::replog::{Block, BLOCK_SIZE};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What a device holds where a label goes.
struct Read {
    /// The label, if the device has one.
    label: Option<Label>,
    /// The device's size in sectors.
    sectors: u64,
}

/// Reads `dev`'s label block: the I/O error if it cannot be read, else
/// the label or a table error for a damaged one.
fn read(dev: &BlockDevice) -> Result<Result<Read, TargetError>, Error> {
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
            pr_err!("device {}: label unusable: {}\n", dev.id(), e.message().to_str().unwrap_or(""));
            Err(TargetError::inval(e.message()))
        }
    })
}

/// The local device's label, as the remotes are checked against it.
pub(crate) enum LocalLabel {
    /// Read: the label, or none.
    Read(Option<Label>),
    /// The device could not be read (it failed: the target degrades it
    /// rather than refusing the table): the remotes are not checked.
    Unreadable,
}

impl LocalLabel {
    /// The label the remotes must match.
    pub(crate) fn label(&self) -> Option<&Label> {
        match self {
            LocalLabel::Read(l) => l.as_ref(),
            LocalLabel::Unreadable => None,
        }
    }
}

/// Reads and checks the local device's label against the table (device
/// `dev_nr`, `len` sectors replicated), for the remotes' checks.
pub(crate) fn check_local_dev(id: DevId, dev_nr: u32, len: u64) -> Result<LocalLabel, TargetError> {
    let err = |e| TargetError::new(c"Cannot read the local device's label", e);
    let dev = BlockDevice::open(id).map_err(err)?;
    let r = match read(&dev) {
        Ok(r) => r?,
        Err(e) if e != ENOMEM => return Ok(LocalLabel::Unreadable),
        Err(e) => return Err(err(e)),
    };
    if let Some(l) = &r.label {
        check_local(l, dev_nr, len, r.sectors).map_err(|why| refused(why, id, 0, dev_nr))?;
    }
    Ok(LocalLabel::Read(r.label))
}

/// Checks the remote device `dev` on `slink` against the local label;
/// returns whether it was checked (false: its label could not be read).
pub(crate) fn check_remote_dev(
    local: &LocalLabel,
    dev: &BlockDevice,
    slink: u32,
    dev_nr: u32,
    len: u64,
) -> Result<bool, TargetError> {
    let local = match local {
        LocalLabel::Read(l) => l.as_ref(),
        LocalLabel::Unreadable => return Ok(true),
    };
    let r = match read(dev) {
        Ok(r) => r?,
        // Nothing to compare with.
        Err(e) if local.is_none() && e != ENOMEM => return Ok(true),
        Err(e) if e != ENOMEM => {
            // A remote site that is down when the table loads (the old
            // primary of a takeover behind an `error` table, NBD not yet
            // connected) does not keep the group from coming up: the
            // label is checked before the link first writes to it.
            pr_warn!(
                "slink={slink} device {dev_nr}: remote device {}: cannot read its label ({}): checked before the link writes to it\n",
                dev.id(),
                e.to_errno()
            );
            return Ok(false);
        }
        Err(e) => return Err(TargetError::new(c"Cannot read the remote device's label", e)),
    };
    check_remote(local, r.label.as_ref(), len, r.sectors).map_err(|why| refused(why, dev.id(), slink, dev_nr))?;
    Ok(true)
}

/// A remote device's label is checked.
const CHECKED: u8 = 0;
/// Not checked since the device was last out of reach: no write may
/// reach it before it is.
const UNCHECKED: u8 = 1;
/// A check is running.
const CHECKING: u8 = 2;
/// The last check refused it.
const REFUSED: u8 = 3;
/// The last check could not read it.
const UNREADABLE: u8 = 4;

/// The label check of one remote device across link outages: a site that
/// was out of reach may come back as another device (an NBD reconnection
/// to another export, a path swapped while the link was down), so after
/// every outage the link writes to it again only once its label matched.
pub(crate) struct RemoteLabel {
    /// The local device's label; `None`: nothing to check.
    expected: Option<Label>,
    /// Shared with a running check, which outlives its reference to the
    /// device (see [`RemoteLabel::wait_idle`]).
    shared: Arc<Shared>,
}

/// The state of a remote device's label check.
struct Shared {
    state: AtomicU8,
    /// Refused checks in a row (logged at 1, 2, 4, 8...).
    refusals: AtomicU32,
}

impl RemoteLabel {
    /// The state after the table's check: `checked` false if the label
    /// could not be read then.
    pub(crate) fn new(expected: Option<Label>, checked: bool) -> Result<Self> {
        let state = if expected.is_none() || checked { CHECKED } else { UNCHECKED };
        let shared = Arc::new(Shared { state: AtomicU8::new(state), refusals: AtomicU32::new(0) }, GFP_KERNEL)?;
        Ok(RemoteLabel { expected, shared })
    }

    fn state(&self) -> u8 {
        self.shared.state.load(Ordering::Acquire)
    }

    /// Whether the link may write to the device.
    pub(crate) fn ok(&self) -> bool {
        self.state() == CHECKED
    }

    /// Why the last check failed, if it did: the device is not the copy
    /// the table names, or it could not be read.
    pub(crate) fn failed(&self) -> Option<&'static str> {
        match self.state() {
            REFUSED => Some("a remote device is not the copy its table names"),
            UNREADABLE => Some("cannot read a remote device's label"),
            _ => None,
        }
    }

    /// The link went down: check again before it writes.
    pub(crate) fn unverify(&self) {
        if self.expected.is_some() {
            let _ = self.shared.state.compare_exchange(CHECKED, UNCHECKED, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Wait for a running check to end: its reference to the device is
    /// gone then, so the table that owns the device (and its dirty log,
    /// which refers to the table) holds the last one. For a target going
    /// away, after its device left the link (no new check starts).
    pub(crate) fn wait_idle(&self) {
        while self.state() == CHECKING {
            crate::dm::msleep(10);
        }
    }
}

/// Start a check of the label of `bdev`, remote device `dev_nr` of
/// site link `slink` replicating `len` sectors, in the background if one
/// is due (its link calls this until [`RemoteLabel::ok`]); the link's
/// retest picks the result up.
pub(crate) fn start_check(l: &RemoteLabel, bdev: &Arc<BlockDevice>, slink: u32, dev_nr: u32, len: u64) {
    let Some(expected) = l.expected else { return };
    let from = l.state();
    if !matches!(from, UNCHECKED | REFUSED | UNREADABLE)
        || l.shared.state.compare_exchange(from, CHECKING, Ordering::AcqRel, Ordering::Acquire).is_err()
    {
        return;
    }
    let r = bdev.clone();
    let shared = l.shared.clone();
    let job = move || {
        let got = match read(&r) {
            Ok(Ok(got)) => check_remote(Some(&expected), got.label.as_ref(), len, got.sectors).map_err(Some),
            // Damaged (logged by `read`): not the copy it should be.
            Ok(Err(_)) => Err(None),
            // Still out of reach: again at the next retest.
            Err(_) => {
                drop(r);
                shared.state.store(UNREADABLE, Ordering::Release);
                return;
            }
        };
        let next = match got {
            Ok(()) => {
                if from != UNCHECKED {
                    pr_info!("slink={} device {}: remote device {}: label accepted\n", slink, dev_nr, r.id());
                }
                shared.refusals.store(0, Ordering::Relaxed);
                CHECKED
            }
            Err(why) => {
                let n = shared.refusals.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                if n.is_power_of_two() {
                    if let Some(why) = why {
                        let _ = refused(why, r.id(), slink, dev_nr);
                    }
                    pr_err!(
                        "slink={} device {}: the link stays down until the remote device is the right copy ({} checks)\n",
                        slink,
                        dev_nr,
                        n
                    );
                }
                REFUSED
            }
        };
        // The device first: a target waiting in `wait_idle` may go as soon
        // as the state changes, and its device with it.
        drop(r);
        shared.state.store(next, Ordering::Release);
    };
    if crate::dm::spawn_background_noio(job).is_err() {
        // Memory short: again at the link's next retest.
        l.shared.state.store(from, Ordering::Release);
    }
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
