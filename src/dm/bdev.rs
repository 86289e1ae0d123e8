// SPDX-License-Identifier: GPL-2.0
//! Block devices the replication log opens itself, by device number, with
//! synchronous I/O through dm-io.
//!
//! A table's `dm_get_device` reference belongs to that table and goes
//! with it, while the log outlives table reloads; so the log keeps its own
//! reference to its device and to the local devices it replays onto. The
//! synchronous helpers are for the slow paths only (open, recovery,
//! replay, checkpoints); the hot path is [`super::IoQueue`].

use super::bindings;
use super::device::DevId;
use core::ptr::NonNull;
use kernel::ffi::c_void;
use kernel::prelude::*;

/// `BLK_OPEN_READ | BLK_OPEN_WRITE` (`include/linux/blkdev.h`; bindgen
/// cannot evaluate the casts in their definitions).
const OPEN_READ_WRITE: u32 = 1 | 2;

const OP_READ: u32 = kernel::bindings::req_op_REQ_OP_READ;
const OP_WRITE: u32 = kernel::bindings::req_op_REQ_OP_WRITE;
const SYNC: u32 = 1 << kernel::bindings::req_flag_bits___REQ_SYNC;
const PREFLUSH: u32 = 1 << kernel::bindings::req_flag_bits___REQ_PREFLUSH;
const FUA: u32 = 1 << kernel::bindings::req_flag_bits___REQ_FUA;

/// An open block device with a dm-io client for synchronous I/O.
///
/// # Invariants
///
/// `file` was returned by `bdev_file_open_by_dev` and is put by `drop`;
/// `client` was returned by `dm_io_client_create` and is destroyed by
/// `drop`.
pub(crate) struct BlockDevice {
    file: NonNull<kernel::bindings::file>,
    client: NonNull<bindings::dm_io_client>,
    id: DevId,
}

// SAFETY: an open block device file and a dm-io client may be used from
// any thread; dm-io synchronises internally.
unsafe impl Send for BlockDevice {}
// SAFETY: as above.
unsafe impl Sync for BlockDevice {}

impl BlockDevice {
    /// Open device `id` for reading and writing (not exclusively: the
    /// tables that name it hold their own claims).
    pub(crate) fn open(id: DevId) -> Result<BlockDevice> {
        // SAFETY: plain call; the result is a file or an error pointer.
        let file = unsafe {
            kernel::bindings::bdev_file_open_by_dev(
                id.0,
                OPEN_READ_WRITE,
                core::ptr::null_mut(),
                core::ptr::null(),
            )
        };
        let file = kernel::error::from_err_ptr(file)?;
        let file = NonNull::new(file).ok_or(ENODEV)?;
        // SAFETY: plain call.
        let client = unsafe { bindings::dm_io_client_create() };
        let client = match kernel::error::from_err_ptr(client).ok().and_then(NonNull::new) {
            Some(c) => c,
            None => {
                // SAFETY: opened above, put once.
                unsafe { kernel::bindings::fput(file.as_ptr()) };
                return Err(ENOMEM);
            }
        };
        Ok(BlockDevice { file, client, id })
    }

    /// The device number.
    pub(crate) fn id(&self) -> DevId {
        self.id
    }

    pub(super) fn bdev(&self) -> *mut kernel::bindings::block_device {
        // SAFETY: `file` is an open block device file (type invariant).
        unsafe { kernel::bindings::file_bdev(self.file.as_ptr()) }
    }

    /// Size in sectors.
    pub(crate) fn sectors(&self) -> u64 {
        // SAFETY: the device is open (type invariant).
        unsafe { bindings::dmr_bdev_sectors(self.bdev().cast()) }
    }

    /// Logical block size in sectors (at least 1): the smallest write
    /// the device takes, and the alignment of every write to it. It can
    /// change while the device is open (a reloaded dm device, a
    /// reconnected NBD device).
    pub(crate) fn logical_block_sectors(&self) -> u64 {
        // SAFETY: the device is open (type invariant).
        let bytes = unsafe { bindings::dmr_bdev_lbs(self.bdev().cast()) };
        (u64::from(bytes) / 512).max(1)
    }

    /// Synchronous I/O of `len` bytes at `buf` (kmalloc'ed or vmalloc'ed).
    fn io(&self, opf: u32, sector: u64, buf: *mut u8, len: usize) -> Result {
        if len % 512 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: plain query on an address we own.
        let vmalloc = unsafe { kernel::bindings::is_vmalloc_addr(buf as *const c_void) };
        let mut req = bindings::dm_io_request {
            bi_opf: opf,
            mem: bindings::dm_io_memory {
                type_: if vmalloc {
                    bindings::dm_io_mem_type_DM_IO_VMA
                } else {
                    bindings::dm_io_mem_type_DM_IO_KMEM
                },
                offset: 0,
                ptr: bindings::dm_io_memory__bindgen_ty_1 { vma: buf.cast() },
            },
            notify: bindings::dm_io_notify { fn_: None, context: core::ptr::null_mut() },
            client: self.client.as_ptr(),
        };
        let mut region = bindings::dm_io_region {
            bdev: self.bdev().cast(),
            sector,
            count: (len / 512) as u64,
        };
        let mut error_bits: kernel::ffi::c_ulong = 0;
        // SAFETY: synchronous request (no notify function): `buf` holds
        // `len` bytes for the duration of the call, as do `req`, `region`
        // and `error_bits`; the device is open.
        let r = unsafe { bindings::dm_io(&mut req, 1, &mut region, &mut error_bits, 0) };
        kernel::error::to_result(r)?;
        if error_bits != 0 {
            return Err(EIO);
        }
        Ok(())
    }

    /// Read `buf.len()` bytes (a multiple of 512) at `sector`.
    pub(crate) fn read(&self, sector: u64, buf: &mut [u8]) -> Result {
        self.io(OP_READ | SYNC, sector, buf.as_mut_ptr(), buf.len())
    }

    /// Write `buf` at `sector`; with `durable`, preceded by a cache flush
    /// and written with FUA, so that it and everything written before are
    /// stable when this returns.
    pub(crate) fn write(&self, sector: u64, buf: &[u8], durable: bool) -> Result {
        let flags = if durable { PREFLUSH | FUA } else { 0 };
        // dm-io does not write to the buffer.
        self.io(OP_WRITE | SYNC | flags, sector, buf.as_ptr().cast_mut(), buf.len())
    }

    /// Flush the device's volatile cache.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: the device is open.
        kernel::error::to_result(unsafe { kernel::bindings::blkdev_issue_flush(self.bdev()) })
    }

    /// Discard `sectors` sectors at `sector`.
    pub(crate) fn discard(&self, sector: u64, sectors: u64) -> Result {
        // SAFETY: the device is open; GFP_NOIO as this runs on I/O paths.
        kernel::error::to_result(unsafe {
            kernel::bindings::blkdev_issue_discard(self.bdev(), sector, sectors, kernel::bindings::GFP_KERNEL)
        })
    }

    /// Write zeroes to `sectors` sectors at `sector`.
    pub(crate) fn write_zeroes(&self, sector: u64, sectors: u64) -> Result {
        // SAFETY: the device is open; GFP_NOIO as this runs on I/O paths.
        kernel::error::to_result(unsafe {
            kernel::bindings::blkdev_issue_zeroout(self.bdev(), sector, sectors, kernel::bindings::GFP_KERNEL, 0)
        })
    }
}

impl Drop for BlockDevice {
    fn drop(&mut self) {
        // SAFETY: both were created in `open` and are released once.
        unsafe {
            bindings::dm_io_client_destroy(self.client.as_ptr());
            kernel::bindings::fput(self.file.as_ptr());
        }
    }
}

/// A no-I/O allocation scope (`memalloc_noio_save`): allocations inside
/// do not start I/O to reclaim memory. Ends when dropped.
pub(crate) struct NoIo(u32);

impl NoIo {
    /// Enter the scope.
    pub(crate) fn enter() -> NoIo {
        // SAFETY: plain call; the scope is left by `drop` on this task.
        NoIo(unsafe { bindings::dmr_noio_save() })
    }
}

impl Drop for NoIo {
    fn drop(&mut self) {
        // SAFETY: restores what `enter` saved, on the same task.
        unsafe { bindings::dmr_noio_restore(self.0) }
    }
}

/// Fill `buf` with random bytes (log UUIDs).
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { kernel::bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Sleep for `ms` milliseconds (process context).
pub(crate) fn msleep(ms: u32) {
    // SAFETY: plain call; callers run in process context.
    unsafe { kernel::bindings::msleep(ms) }
}

/// The kernel's CRC-32C for the log format (`crc32c()`, accelerated where
/// the CPU has an instruction for it).
pub(crate) struct KernelCrc32c;

impl crate::logic::replog::Crc32c for KernelCrc32c {
    fn crc32c(seed: u32, data: &[u8]) -> u32 {
        // SAFETY: `data` is readable for its length.
        unsafe { bindings::dmr_crc32c(seed, data.as_ptr().cast(), data.len()) }
    }
}
