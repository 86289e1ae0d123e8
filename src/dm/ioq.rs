// SPDX-License-Identifier: GPL-2.0
//! Asynchronous I/O of the replication log: user bios taken from `map`,
//! log and local writes issued from a work item, and their completions
//! handed back to that work item in process context.
//!
//! The completion side is C (`ioq.c`): bios of the queue carry a small
//! front-pad record that their end_io, which may run in hard irq context,
//! pushes on a lock-free list before queueing the work item. Nothing here
//! sleeps in end_io and nothing allocates without a mempool behind it.

use super::bindings;
use super::bio::{Bio, BioOp};
use super::bdev::BlockDevice;
use super::target::MapResult;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The two work items of a queue.
pub(crate) trait IoHandler: Send + Sync + Sized {
    /// The main work item: runs after [`IoQueue::kick`], after a user bio
    /// was deferred and after an I/O of the queue completed.
    fn work(q: &IoQueue<Self>);
    /// The background work item: runs after [`IoQueue::kick_background`],
    /// concurrently with the main one; may sleep on synchronous I/O.
    fn background(q: &IoQueue<Self>);
}

/// A completion queue with its workqueue, bio_set and page pool, owning
/// the handler `T` its work items run on.
///
/// # Invariants
///
/// `raw` is a live queue created by `dmr_ioq_create` whose context is
/// this value (which lives in an `Arc`, so never moves); it is destroyed
/// only by `drop`, which waits for its bios and work items first.
pub(crate) struct IoQueue<T> {
    raw: NonNull<bindings::dmr_ioq>,
    inner: T,
}

// SAFETY: the C queue is safe to use from any thread; `T` is `Send`.
unsafe impl<T: Send> Send for IoQueue<T> {}
// SAFETY: all C entry points synchronise internally; `T` is `Sync`.
unsafe impl<T: Sync> Sync for IoQueue<T> {}

unsafe extern "C" fn trampoline<T: IoHandler>(ctx: *mut c_void, which: kernel::ffi::c_int) {
    // SAFETY: `ctx` was set to the `IoQueue<T>` inside its `Arc` before
    // any work could be queued, and `drop` drains the work items before
    // the value goes.
    let q = unsafe { &*(ctx as *const IoQueue<T>) };
    if which == 0 {
        T::work(q)
    } else {
        T::background(q)
    }
}

impl<T: IoHandler> IoQueue<T> {
    /// A queue named `name` (its workqueue is `dmr-<name>`) around `inner`.
    pub(crate) fn new(name: &CStr, inner: T) -> Result<Arc<Self>> {
        // SAFETY: `name` is NUL-terminated; the callback matches the C type.
        let raw = unsafe { bindings::dmr_ioq_create(name.as_ptr().cast(), Some(trampoline::<T>)) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // On failure the value is dropped, which destroys `raw`.
        let q = Arc::new(IoQueue { raw, inner }, GFP_KERNEL)?;
        // SAFETY: no work can run yet (nothing was queued); the `Arc`'s
        // contents never move.
        unsafe { bindings::dmr_ioq_set_ctx(raw.as_ptr(), &*q as *const Self as *mut c_void) };
        Ok(q)
    }
}

impl<T> IoQueue<T> {
    fn raw(&self) -> *mut bindings::dmr_ioq {
        self.raw.as_ptr()
    }

    /// The handler.
    pub(crate) fn inner(&self) -> &T {
        &self.inner
    }

    /// Queue the main work item.
    pub(crate) fn kick(&self) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_kick(self.raw(), 0) }
    }

    /// Queue the background work item.
    pub(crate) fn kick_background(&self) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_kick(self.raw(), 1) }
    }

    /// Wait until no bio of the queue is in flight and both work items
    /// are idle. Must not be called from the work items.
    pub(crate) fn quiesce(&self) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_quiesce(self.raw()) }
    }

    /// Bios of the queue in flight.
    pub(crate) fn inflight(&self) -> u32 {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_inflight(self.raw()) }
    }

    /// Copy the data of a write `bio` (if `data`) into pages of the queue;
    /// its log and local writes then use the copy, so the bytes
    /// checksummed, logged and applied are the same whatever the submitter
    /// does with its buffer meanwhile. Returns the CRC-32C register (seeded
    /// with `!0`, not inverted) of the copy. Must come before
    /// [`Self::defer`]; may sleep. The copy is freed when the bio ends.
    pub(crate) fn stabilize(&self, bio: &mut Bio, data: bool) -> u32 {
        // SAFETY: dm core gave the bio to this map call, with per-bio data
        // of `PER_BIO_BYTES` (the target set it); the copy is owned by the
        // bio's per-bio data until `dmr_user_bio_end` frees it.
        unsafe { bindings::dmr_io_stabilize(self.raw(), bio.as_raw(), kernel::ffi::c_int::from(data)) }
    }

    /// Take a user bio from `map` onto the deferred list, tagged with
    /// `tag` (read back with [`UserBio::tag`]); the main work item takes
    /// it with [`IoQueue::pop`]. The returned result is what `map` returns.
    /// The target's per-bio data must hold [`PER_BIO_BYTES`]
    /// ([`super::TargetCtx::set_per_io_data_size`]), and the bio must have
    /// been through [`Self::stabilize`].
    pub(crate) fn defer(&self, bio: &mut Bio, tag: u64) -> MapResult {
        // SAFETY: dm core gave the bio to this map call with per-bio data
        // of at least 8 bytes; after this the queue owns the bio, and
        // `map` returns SUBMITTED so dm core does not touch it.
        unsafe {
            let p = bindings::dmr_bio_per_data(bio.as_raw(), PER_BIO_BYTES).cast::<u64>();
            p.write_unaligned(tag);
            bindings::dmr_ioq_defer(self.raw(), bio.as_raw());
        }
        MapResult::Submitted
    }

    /// The oldest deferred user bio.
    pub(crate) fn pop(&self) -> Option<UserBio> {
        // SAFETY: `raw` is live; a bio taken off the list is ours.
        let bio = unsafe { bindings::dmr_ioq_pop(self.raw()) };
        NonNull::new(bio).map(|bio| UserBio { bio })
    }

    /// Hand every deferred bio aimed at `dev` back to dm core to be issued
    /// again (a `--noflush` suspend); returns how many.
    pub(crate) fn requeue_dev(&self, dev: super::DevId) -> u32 {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_requeue_dev(self.raw(), dev.0) }
    }

    /// The bio and header page of a log entry write to `dev` of the data
    /// of `data`, taken before the entry is committed to, so that a
    /// shortage of memory holds the write back instead of failing it.
    /// Main work item only.
    pub(crate) fn entry_io(&self, dev: &BlockDevice, data: Option<&UserBio>) -> Result<EntryIo<'_, T>, Busy> {
        let src = data.map_or(core::ptr::null_mut(), |b| b.bio.as_ptr());
        // SAFETY: `raw` is live; `dev` and `src` are only looked at.
        let bio = unsafe { bindings::dmr_io_entry_begin(self.raw(), dev.bdev(), src) };
        let bio = NonNull::new(bio).ok_or(Busy)?;
        Ok(EntryIo { bio, _q: self })
    }

    /// Write a log entry with `io` at `sector` of the device `io` was taken
    /// for: the header block `hdr` and the data of `data`, padded to
    /// 4 KiB, with FUA if `fua`. Completes with `tag`.
    pub(crate) fn write_entry(&self, io: EntryIo<'_, T>, sector: u64, hdr: &[u8; 4096], data: Option<&UserBio>, fua: bool, tag: u64) {
        let src = data.map_or(core::ptr::null_mut(), |b| b.bio.as_ptr());
        let bio = io.bio.as_ptr();
        core::mem::forget(io);
        // SAFETY: `raw` is live; `bio` came from `dmr_io_entry_begin` of
        // this queue and is submitted once; its device is open for the
        // call and, by the caller's contract with `BlockDevice`, until
        // completion; `hdr` is copied before the call returns; `src` is a
        // user bio we own, which stays alive (it is ended only after this
        // write completes).
        unsafe { bindings::dmr_io_write_entry(self.raw(), bio, sector, hdr.as_ptr().cast(), src, kernel::ffi::c_int::from(fua), tag) }
    }

    /// Its submission side, for code that does not know the handler.
    pub(crate) fn submit(&self) -> Submit<'_> {
        Submit { raw: self.raw, _q: PhantomData }
    }

    /// Flush the volatile cache of `dev`, an I/O of `class` (see
    /// [`Submit::flush`]).
    pub(crate) fn flush(&self, dev: &BlockDevice, class: Class, tag: u64) -> Result<(), Busy> {
        self.submit().flush(dev, class, tag)
    }

    /// Issue a copy of user bio `bio` (same device, sector and data,
    /// without PREFLUSH and FUA), a local I/O. Completes with `tag`.
    /// `Ok(true)`: the write holds its own data (the stable copy, or it
    /// has none), so `bio` may end before it completes; `Ok(false)`: it
    /// uses the user's pages, and `bio` must stay alive until then. Main
    /// work item only.
    pub(crate) fn clone_submit(&self, bio: &UserBio, tag: u64) -> Result<bool, Busy> {
        let mut own: kernel::ffi::c_int = 0;
        // SAFETY: `raw` is live; the user bio is ours; the clone holds a
        // reference to its stable copy, and when it has none (`own` is
        // 0) the caller keeps the bio until the clone completed; the
        // clone, when there is one, is submitted once.
        unsafe {
            let clone = bindings::dmr_io_clone(self.raw(), bio.bio.as_ptr(), tag, &mut own);
            if clone.is_null() {
                return Err(Busy);
            }
            bindings::dmr_io_submit(clone);
        }
        Ok(own != 0)
    }

    /// Hold read `bio` of `map` (already remapped to its local device) if
    /// `blocked()` says so, decided under the lock [`Self::release_reads`]
    /// takes; `tag` is handed back to that function's test. The returned
    /// result is what `map` returns: `Submitted` when held.
    pub(crate) fn hold_read(&self, bio: &mut Bio, tag: u64, blocked: impl FnOnce() -> bool) -> MapResult {
        // SAFETY: `raw` is live; the lock is a spinlock: `blocked` only
        // reads atomics.
        unsafe { bindings::dmr_ioq_held_lock(self.raw()) };
        let hold = blocked();
        if hold {
            // SAFETY: dm core gave the bio to this map call with per-bio
            // data of `PER_BIO_BYTES`; the queue owns it from here (map
            // returns SUBMITTED) and hands it back to dm core with
            // `dm_submit_bio_remap`; the lock is held.
            unsafe { bindings::dmr_ioq_hold_read(self.raw(), bio.as_raw(), tag) };
        }
        // SAFETY: taken above.
        unsafe { bindings::dmr_ioq_held_unlock(self.raw()) };
        if hold {
            MapResult::Submitted
        } else {
            MapResult::Remapped
        }
    }

    /// Issue the held reads for which `still(tag, sector, sectors)` is
    /// false; the others stay held. Returns how many went. `still` runs
    /// under a spinlock and must not sleep.
    pub(crate) fn release_reads<F: Fn(u64, u64, u32) -> bool>(&self, still: &F) -> u32 {
        unsafe extern "C" fn call<F: Fn(u64, u64, u32) -> bool>(ctx: *mut c_void, tag: u64, sector: u64, sectors: u32) -> bool {
            // SAFETY: `ctx` is the `&F` passed below, alive for the call.
            let f = unsafe { &*(ctx as *const F) };
            f(tag, sector, sectors)
        }
        // SAFETY: `raw` is live; `still` outlives the call, which is
        // synchronous.
        unsafe { bindings::dmr_ioq_release_reads(self.raw(), Some(call::<F>), still as *const F as *mut c_void) }
    }

    /// Run the main work item again after `ms` milliseconds.
    pub(crate) fn kick_after(&self, ms: u32) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::dmr_ioq_kick_after(self.raw(), ms) }
    }

    /// Take the I/Os completed since the last call, oldest first.
    pub(crate) fn completed(&self) -> Completed<'_, T> {
        // SAFETY: `raw` is live (type invariant).
        let pos = unsafe { bindings::dmr_ioq_completed(self.raw()) };
        Completed { pos, _q: self }
    }
}

/// The submission side of an [`IoQueue`], whatever its handler: what a
/// site link needs to issue its I/O, completing on the queue's work item
/// with a tag.
///
/// # Invariants
///
/// `raw` is the live queue of the `IoQueue` borrowed for `'a`.
pub(crate) struct Submit<'a> {
    raw: NonNull<bindings::dmr_ioq>,
    _q: PhantomData<&'a ()>,
}

impl Submit<'_> {
    /// Flush the volatile cache of `dev`, an I/O of `class`. Completes
    /// with `tag`. Main work item only.
    pub(crate) fn flush(&self, dev: &BlockDevice, class: Class, tag: u64) -> Result<(), Busy> {
        let opf = kernel::bindings::req_op_REQ_OP_WRITE
            | (1 << kernel::bindings::req_flag_bits___REQ_PREFLUSH)
            | (1 << kernel::bindings::req_flag_bits___REQ_SYNC);
        // SAFETY: `raw` is live; `dev` stays open until completion; the
        // bio, when there is one, is submitted once.
        unsafe {
            let bio = bindings::dmr_io_new(self.raw.as_ptr(), class.raw(), dev.bdev(), 0, opf, 0, tag);
            if bio.is_null() {
                return Err(Busy);
            }
            bindings::dmr_io_submit(bio);
        }
        Ok(())
    }

    /// Copy `sectors` sectors from `src` at `src_sector` to `dst` at
    /// `dst_sector` with dm-kcopyd, a remote I/O; `resync` uses the
    /// throttled client. Completes with `tag`: `ENODATA` for a read error,
    /// `EIO` for a write error. Both devices must stay open until then.
    /// Main work item only.
    pub(crate) fn copy(
        &self,
        resync: bool,
        src: &BlockDevice,
        src_sector: u64,
        dst: &BlockDevice,
        dst_sector: u64,
        sectors: u64,
        tag: u64,
    ) -> Result<(), Busy> {
        // SAFETY: `raw` is live; the caller keeps both devices open until
        // the completion with `tag` is taken.
        let r = unsafe {
            bindings::dmr_io_copy(
                self.raw.as_ptr(),
                i32::from(resync),
                src.bdev(),
                src_sector,
                dst.bdev(),
                dst_sector,
                sectors,
                tag,
            )
        };
        issued(r)
    }

    /// Write zeroes to `sectors` sectors of `dst` at `sector` with
    /// dm-kcopyd, a remote I/O. Completes with `tag`. Main work item only.
    pub(crate) fn zero(&self, dst: &BlockDevice, sector: u64, sectors: u64, tag: u64) -> Result<(), Busy> {
        // SAFETY: `raw` is live; the caller keeps `dst` open until the
        // completion with `tag` is taken.
        issued(unsafe { bindings::dmr_io_zero(self.raw.as_ptr(), dst.bdev(), sector, sectors, tag) })
    }

    /// Write the stable copy of `bio`'s data (`sectors` long) to `dst` at
    /// `sector`, for a remote site link, as remote I/O completing with
    /// `tag`: the copy the log write and the local write use, so no read
    /// of the log. The write holds the copy until it completes, whether
    /// `bio` ends first or not. `Ok(false)`: not issued, the data is not
    /// held that way (no copy, or such writes hold all the memory they
    /// may): copy from the log.
    pub(crate) fn ship(&self, bio: &UserBio, dst: &BlockDevice, sector: u64, sectors: u64, tag: u64) -> Result<bool, Busy> {
        // SAFETY: `raw` is live; `bio` is a user bio of this queue, live
        // while borrowed, whose per-bio data holds its stable copy or
        // NULL (it went through `stabilize`); the write takes its own
        // reference to the copy. The caller keeps `dst` open until the
        // completion with `tag` is taken.
        let r = unsafe { bindings::dmr_io_ship(self.raw.as_ptr(), bio.bio.as_ptr(), dst.bdev(), sector, sectors, tag) };
        if r == EAGAIN.to_errno() {
            return Ok(false);
        }
        issued(r).map(|()| true)
    }
}

impl<T> Drop for IoQueue<T> {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and dropped once; destroy waits for bios
        // in flight and drains the work items while `inner` is intact.
        unsafe { bindings::dmr_ioq_destroy(self.raw()) }
    }
}

/// Milliseconds since boot.
pub(crate) fn now_ms() -> u64 {
    // SAFETY: reads jiffies; no preconditions.
    unsafe { bindings::dmr_now_ms() }
}

/// How long a remote I/O may be in flight before its site link is marked
/// down, in milliseconds (module parameter `slink_timeout`); 0 for never.
pub(crate) fn slink_timeout_ms() -> u32 {
    // SAFETY: reads a module parameter; no preconditions.
    unsafe { bindings::dmr_slink_timeout_ms() }
}

/// Bytes of per-bio data [`IoQueue::stabilize`] and [`IoQueue::defer`]
/// use: the tag, then the stable copy of the data.
pub(crate) const PER_BIO_BYTES: u32 = bindings::DMR_PER_BIO_BYTES;

/// The largest write [`IoQueue::stabilize`] copies, in sectors: a target
/// using it sets a `max_io_len` of at most this.
pub(crate) const MAX_STABLE_SECTORS: u64 = bindings::DMR_STABLE_MAX_PAGES as u64 * 8;

/// Memory is short and the I/O's class holds its reserve: nothing was
/// issued. The main work item runs again as I/O of the class completes;
/// it issues nothing more until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// `Busy` for the `-ENOMEM` of a C issuing function, nothing for 0.
fn issued(r: kernel::ffi::c_int) -> Result<(), Busy> {
    if r == 0 {
        Ok(())
    } else {
        Err(Busy)
    }
}

/// The class of an I/O of the queue, each with its own reserve, so that
/// remote I/O hanging on a transport never holds what the log and the
/// local devices need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The log device and the local devices.
    Local,
    /// The remote devices of the site links.
    Remote,
}

impl Class {
    fn raw(self) -> kernel::ffi::c_int {
        match self {
            Class::Local => bindings::DMR_IO_LOCAL as kernel::ffi::c_int,
            Class::Remote => bindings::DMR_IO_REMOTE as kernel::ffi::c_int,
        }
    }
}

/// The bio and header page of a log entry write, taken by
/// [`IoQueue::entry_io`] and either written by [`IoQueue::write_entry`]
/// or given back when dropped.
///
/// # Invariants
///
/// `bio` came from `dmr_io_entry_begin` of the queue `_q` and was never
/// submitted.
pub(crate) struct EntryIo<'a, T> {
    bio: NonNull<kernel::bindings::bio>,
    _q: &'a IoQueue<T>,
}

impl<T> Drop for EntryIo<'_, T> {
    fn drop(&mut self) {
        // SAFETY: never submitted (type invariant); given back once.
        unsafe { bindings::dmr_io_discard(self.bio.as_ptr()) }
    }
}

/// One completed I/O of the queue.
pub(crate) struct Done {
    /// The tag it was issued with.
    pub(crate) tag: u64,
    /// Its result.
    pub(crate) result: Result,
}

/// The completions taken by [`IoQueue::completed`].
pub(crate) struct Completed<'a, T> {
    pos: *mut kernel::bindings::llist_node,
    _q: &'a IoQueue<T>,
}

impl<T> Iterator for Completed<'_, T> {
    type Item = Done;

    fn next(&mut self) -> Option<Done> {
        // SAFETY: `pos` walks a list taken off the queue, which only this
        // iterator owns; each bio is read and freed once.
        unsafe {
            let bio = bindings::dmr_io_next(&mut self.pos);
            if bio.is_null() {
                return None;
            }
            let tag = bindings::dmr_io_tag(bio);
            let status = bindings::dmr_io_status(bio);
            bindings::dmr_io_free(bio);
            let errno = kernel::bindings::blk_status_to_errno(status);
            let result = kernel::error::to_result(errno);
            Some(Done { tag, result })
        }
    }
}

impl<T> Drop for Completed<'_, T> {
    fn drop(&mut self) {
        // Free what was not looked at.
        for _ in self.by_ref() {}
    }
}

/// A user bio the target took in `map` and must end exactly once.
///
/// # Invariants
///
/// `bio` is a dm clone handed to our map function, for which map returned
/// SUBMITTED, and which has not been ended.
pub(crate) struct UserBio {
    bio: NonNull<kernel::bindings::bio>,
}

// SAFETY: a bio may be ended from any thread.
unsafe impl Send for UserBio {}
// SAFETY: the shared accessors only read the bio.
unsafe impl Sync for UserBio {}

impl UserBio {
    fn view(&self) -> &Bio {
        // SAFETY: the bio is valid and ours (type invariant).
        unsafe { Bio::from_raw(self.bio.as_ptr()) }
    }

    /// The tag given to [`IoQueue::defer`].
    pub(crate) fn tag(&self) -> u64 {
        // SAFETY: the bio is valid and has the per-bio data `defer` wrote.
        unsafe {
            bindings::dmr_bio_per_data(self.bio.as_ptr(), PER_BIO_BYTES)
                .cast::<u64>()
                .read_unaligned()
        }
    }

    /// The request operation.
    pub(crate) fn op(&self) -> BioOp {
        self.view().op()
    }

    /// REQ_PREFLUSH.
    pub(crate) fn is_preflush(&self) -> bool {
        self.view().is_preflush()
    }

    /// REQ_FUA.
    pub(crate) fn is_fua(&self) -> bool {
        self.view().is_fua()
    }

    /// First sector (on the device the bio is aimed at).
    pub(crate) fn sector(&self) -> u64 {
        self.view().sector()
    }

    /// Size in sectors.
    pub(crate) fn sectors(&self) -> u32 {
        self.view().sectors()
    }

    /// Device the bio is aimed at.
    pub(crate) fn dev(&self) -> super::DevId {
        // SAFETY: the bio is valid and aimed at a device.
        super::DevId(unsafe { bindings::dmr_bio_devt(self.bio.as_ptr()) })
    }

    /// The raw bio, giving up ownership: the caller ends it.
    fn take(self) -> *mut kernel::bindings::bio {
        let bio = self.bio.as_ptr();
        core::mem::forget(self);
        bio
    }

    /// End the bio with `result`.
    pub(crate) fn complete(self, result: Result) {
        let errno = match result {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        // SAFETY: plain conversion; the bio is ended exactly once, as
        // `take` consumed `self` without running Drop; it went through
        // `stabilize`, so its per-bio data holds its copy or NULL.
        unsafe {
            let status = kernel::bindings::errno_to_blk_status(errno);
            bindings::dmr_user_bio_end(self.take(), status)
        }
    }

    /// Hand the bio back to dm core to issue again after a `--noflush`
    /// suspend (BLK_STS_DM_REQUEUE; dm fails it if not suspending).
    pub(crate) fn requeue(self) {
        // SAFETY: ended exactly once, as in `complete`.
        unsafe { bindings::dmr_bio_requeue(self.take()) }
    }
}

impl Drop for UserBio {
    fn drop(&mut self) {
        // A bio must never be lost: one dropped unhandled fails.
        pr_warn!("replicator: user bio dropped unhandled, failing it\n");
        // SAFETY: not ended yet (type invariant); ended once here, with
        // its copy freed as in `complete`.
        unsafe {
            let status = kernel::bindings::errno_to_blk_status(EIO.to_errno());
            bindings::dmr_user_bio_end(self.bio.as_ptr(), status)
        }
    }
}
