// SPDX-License-Identifier: GPL-2.0
//! Devices opened by a target with `dm_get_device`.

use super::bindings;
use core::fmt;
use core::ptr::NonNull;

/// A block device number (`dev_t`), printed as `major:minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DevId(pub(crate) u32);

impl DevId {
    /// Major number.
    pub(crate) fn major(self) -> u32 {
        self.0 >> 20
    }
    /// Minor number.
    pub(crate) fn minor(self) -> u32 {
        self.0 & ((1 << 20) - 1)
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major(), self.minor())
    }
}

/// A device reference taken by a target; put again when dropped.
///
/// # Invariants
///
/// `dev` was returned by `dm_get_device(ti, ...)` and has not been put;
/// `ti` outlives this value (targets drop their devices in their
/// destructor, before dm core frees `ti`).
pub(crate) struct DmDev {
    ti: NonNull<bindings::dm_target>,
    dev: NonNull<bindings::dm_dev>,
}

// SAFETY: a `dm_dev` reference may be used and put from any thread.
unsafe impl Send for DmDev {}
// SAFETY: the shared accessors only read immutable fields of `dm_dev`.
unsafe impl Sync for DmDev {}

impl DmDev {
    /// Wrap a device reference.
    ///
    /// # Safety
    ///
    /// `dev` must come from `dm_get_device(ti, ..)` and be put only by this
    /// value; `ti` must outlive it.
    pub(super) unsafe fn from_raw(
        ti: NonNull<bindings::dm_target>,
        dev: NonNull<bindings::dm_dev>,
    ) -> Self {
        Self { ti, dev }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::dm_dev {
        self.dev.as_ptr()
    }

    pub(super) fn bdev(&self) -> *mut kernel::bindings::block_device {
        // SAFETY: `dev` is valid (type invariant); `bdev` is set by
        // dm_get_device and stays valid until the device is put.
        unsafe { (*self.dev.as_ptr()).bdev.cast() }
    }

    /// The device number.
    pub(crate) fn id(&self) -> DevId {
        // SAFETY: `dev` is valid (type invariant).
        DevId(unsafe { bindings::dmr_dev_devt(self.dev.as_ptr()) })
    }

    /// Size of the device in sectors.
    pub(crate) fn sectors(&self) -> u64 {
        // SAFETY: `dev` is valid (type invariant).
        unsafe { bindings::dmr_dev_sectors(self.dev.as_ptr()) }
    }

    /// Logical block size in bytes.
    pub(crate) fn logical_block_size(&self) -> u32 {
        // SAFETY: `dev` is valid (type invariant).
        unsafe { bindings::dmr_dev_lbs(self.dev.as_ptr()) }
    }
}

impl Drop for DmDev {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the reference was taken on `ti`
        // with dm_get_device, is put exactly once, and `ti` is alive.
        unsafe { bindings::dm_put_device(self.ti.as_ptr(), self.dev.as_ptr()) }
    }
}
