// SPDX-License-Identifier: GPL-2.0
//! A view of a `struct bio` handed to a target's map function.

use super::bindings;
use super::device::DmDev;
use kernel::types::Opaque;

/// The error a bio's completion status `status` reports for its device,
/// if it reports one: not for success, a retry (`BLK_STS_AGAIN`), dm's
/// requeue or an operation the device does not support.
pub(crate) fn device_error(status: u8) -> Option<kernel::error::Error> {
    // SAFETY: a lookup in the block layer's table of statuses; any value
    // is accepted (unknown ones give -EIO).
    let errno = unsafe { kernel::bindings::blk_status_to_errno(status) };
    let benign = [kernel::bindings::EAGAIN, kernel::bindings::EOPNOTSUPP, kernel::bindings::EREMCHG];
    if benign.iter().any(|&e| i64::from(errno) == -i64::from(e)) {
        return None;
    }
    kernel::error::to_result(errno).err()
}

/// The request operation of a bio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BioOp {
    /// Read data.
    Read,
    /// Write data.
    Write,
    /// An empty flush (REQ_PREFLUSH without data).
    Flush,
    /// Discard sectors.
    Discard,
    /// Securely erase sectors.
    SecureErase,
    /// Write zeroes to sectors.
    WriteZeroes,
    /// Anything else (zone management, driver private).
    Other,
}

/// A bio owned by the target for the duration of its map call.
#[repr(transparent)]
pub(crate) struct Bio(Opaque<kernel::bindings::bio>);

impl Bio {
    /// View a raw bio.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid bio that the caller owns exclusively for
    /// the lifetime `'a` (dm core hands a bio to exactly one map call).
    pub(super) unsafe fn from_raw<'a>(ptr: *mut kernel::bindings::bio) -> &'a mut Bio {
        // SAFETY: `Bio` is a transparent wrapper of `bindings::bio`; the
        // caller guarantees validity and exclusivity.
        unsafe { &mut *(ptr.cast::<Bio>()) }
    }

    pub(super) fn as_raw(&self) -> *mut kernel::bindings::bio {
        self.0.get()
    }

    /// The request operation.
    pub(crate) fn op(&self) -> BioOp {
        // SAFETY: the bio is valid (type invariant).
        let op = unsafe { bindings::dmr_bio_op(self.as_raw()) };
        match op {
            kernel::bindings::req_op_REQ_OP_READ => BioOp::Read,
            kernel::bindings::req_op_REQ_OP_WRITE => BioOp::Write,
            kernel::bindings::req_op_REQ_OP_FLUSH => BioOp::Flush,
            kernel::bindings::req_op_REQ_OP_DISCARD => BioOp::Discard,
            kernel::bindings::req_op_REQ_OP_SECURE_ERASE => BioOp::SecureErase,
            kernel::bindings::req_op_REQ_OP_WRITE_ZEROES => BioOp::WriteZeroes,
            _ => BioOp::Other,
        }
    }

    /// Whether the bio carries REQ_PREFLUSH (an empty flush bio does too).
    pub(crate) fn is_preflush(&self) -> bool {
        // SAFETY: the bio is valid (type invariant).
        unsafe { bindings::dmr_bio_is_preflush(self.as_raw()) }
    }

    /// Whether the bio carries REQ_FUA.
    pub(crate) fn is_fua(&self) -> bool {
        // SAFETY: the bio is valid (type invariant).
        unsafe { bindings::dmr_bio_is_fua(self.as_raw()) }
    }

    /// Whether the bio writes data (or changes the device without data).
    pub(crate) fn is_write(&self) -> bool {
        !matches!(self.op(), BioOp::Read)
    }

    /// First sector, relative to the start of the device the bio targets.
    pub(crate) fn sector(&self) -> u64 {
        // SAFETY: the bio is valid (type invariant); reading a plain field.
        unsafe { (*self.as_raw()).bi_iter.bi_sector }
    }

    /// Move the bio to another sector.
    pub(crate) fn set_sector(&mut self, sector: u64) {
        // SAFETY: the bio is valid and owned by us (type invariant).
        unsafe { (*self.as_raw()).bi_iter.bi_sector = sector }
    }

    /// Size in sectors.
    pub(crate) fn sectors(&self) -> u32 {
        // SAFETY: the bio is valid (type invariant).
        unsafe { bindings::dmr_bio_sectors(self.as_raw()) }
    }

    /// Size in bytes.
    pub(crate) fn bytes(&self) -> u32 {
        // SAFETY: the bio is valid (type invariant); reading a plain field.
        unsafe { (*self.as_raw()).bi_iter.bi_size }
    }

    /// Point the bio at `dev`; the target then returns
    /// [`super::MapResult::Remapped`].
    pub(crate) fn set_dev(&mut self, dev: &DmDev) {
        // SAFETY: the bio is valid and owned by us; `dev` holds a reference
        // on its block device for as long as the target exists.
        unsafe { bindings::dmr_bio_set_dev(self.as_raw(), dev.bdev()) }
    }

    /// Fill the bio's data with zeroes (a read served without a device).
    pub(crate) fn zero_fill(&mut self) {
        // SAFETY: the bio is valid and owned by us.
        unsafe { bindings::dmr_bio_zero_fill(self.as_raw()) }
    }
}
