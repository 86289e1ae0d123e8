// SPDX-License-Identifier: GPL-2.0
//! The kernel's dm dirty logs (`core`, `disk`, `userspace`), which track
//! the regions of a remote device that are out of sync.

use super::args::CArgv;
use super::bindings;
use super::status::StatusWriter;
use super::target::StatusType;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::Mutex;

/// A dirty log created by `dm_dirty_log_create`; destroyed when dropped.
///
/// The `core` and `disk` logs do no locking of their own (dm-raid1 calls
/// them from one thread), while this log is used by the replication log's
/// work items and by target callbacks: every operation holds `lock`. The
/// lock also holds whether the log is resumed, so the first resume after
/// a suspend happens once, before anything marks or flushes regions.
///
/// # Invariants
///
/// `log` is a live dirty log whose `type_` table is valid, created on a
/// target that outlives it; its operations are called only under `lock`,
/// except `in_sync` with `can_block` 0: a `core` or `disk` log reads a
/// bit of its memory (dm-raid1 calls it so from `map`, concurrently with
/// its worker's changes and flushes), a `userspace` log answers
/// `EWOULDBLOCK` at once.
pub(crate) struct DirtyLog {
    log: NonNull<bindings::dm_dirty_log>,
    lock: Pin<KBox<Mutex<bool>>>,
    /// The log's count of regions in sync, or [`UNKNOWN`]: the replication
    /// log asks it on every pass of its work item, and a `userspace` log
    /// answers by a round trip to its daemon. Asked once, then kept by
    /// arithmetic as this module changes regions (each change asks the
    /// region's state first), forgotten at resume and postsuspend; all
    /// under `lock`, read without it. Only this module changes the log's
    /// regions; a daemon that changed them by itself would be seen after
    /// the next resume.
    sync_count: AtomicU64,
}

/// [`DirtyLog::sync_count`] not known.
const UNKNOWN: u64 = u64::MAX;

// SAFETY: dirty log operations are callable from any process context, and
// are serialised by `lock`.
unsafe impl Send for DirtyLog {}
// SAFETY: see `Send`.
unsafe impl Sync for DirtyLog {}

impl DirtyLog {
    /// Create a dirty log of type `type_name` with `params` on target `ti`.
    ///
    /// # Safety
    ///
    /// `ti` must be a live target that outlives the returned log.
    pub(super) unsafe fn create(
        ti: *mut bindings::dm_target,
        type_name: &str,
        params: &[&str],
    ) -> Result<Self> {
        let name = super::args::to_cstring(type_name)?;
        let mut argv = CArgv::new(params)?;
        let lock = KBox::pin_init(new_mutex!(false), GFP_KERNEL)?;
        // SAFETY: `name` and `argv` are NUL-terminated and alive for the
        // call; the caller guarantees `ti`. No flush callback is needed.
        let log = unsafe {
            bindings::dm_dirty_log_create(
                name.as_ptr() as *const kernel::ffi::c_char,
                ti,
                None,
                argv.argc(),
                argv.argv(),
            )
        };
        NonNull::new(log).map(|log| Self { log, lock, sync_count: AtomicU64::new(UNKNOWN) }).ok_or(EINVAL)
    }

    /// Holds the log for a sequence of operations.
    fn locked(&self) -> Guard<'_, bool, MutexBackend> {
        self.lock.lock()
    }

    fn ty(&self) -> &bindings::dm_dirty_log_type {
        // SAFETY: `log` and its type table are valid (type invariant).
        unsafe { &*(*self.log.as_ptr()).type_ }
    }

    /// Whether the log's regions change in memory (`core`, `disk`, whose
    /// marks are bit operations until a flush); any other type (a
    /// `userspace` log asks its daemon for every change) is taken as one
    /// that changes by a round trip.
    pub(crate) fn changes_in_memory(&self) -> bool {
        let name = self.ty().name;
        if name.is_null() {
            return false;
        }
        // SAFETY: a registered dirty log type's name is a NUL-terminated
        // string that lives as long as the type, which outlives the log.
        let name = unsafe { core::ffi::CStr::from_ptr(name.cast()) };
        name == c"core" || name == c"disk"
    }

    /// Region size in sectors.
    pub(crate) fn region_size(&self) -> u64 {
        match self.ty().get_region_size {
            // SAFETY: calling the log's own operation on the live log.
            Some(f) => u64::from(unsafe { f(self.log.as_ptr()) }),
            None => 0,
        }
    }

    /// Tell the log the device resumes, once after each suspend: a `disk`
    /// log reads or writes its on-disk state here.
    pub(crate) fn resume(&self) -> Result {
        let mut resumed = self.locked();
        if *resumed {
            return Ok(());
        }
        let r = match self.ty().resume {
            // SAFETY: calling the log's own operation on the live log,
            // under its lock.
            Some(f) => kernel::error::to_result(unsafe { f(self.log.as_ptr()) }),
            None => Ok(()),
        };
        // A `disk` log has read its regions.
        self.sync_count.store(UNKNOWN, Ordering::Release);
        *resumed = r.is_ok();
        r
    }

    /// Tell the log the device is suspended: a `disk` log writes itself out.
    pub(crate) fn postsuspend(&self) -> Result {
        let mut resumed = self.locked();
        *resumed = false;
        self.sync_count.store(UNKNOWN, Ordering::Release);
        match self.ty().postsuspend {
            // SAFETY: calling the log's own operation on the live log,
            // under its lock.
            Some(f) => kernel::error::to_result(unsafe { f(self.log.as_ptr()) }),
            None => Ok(()),
        }
    }

    /// Whether `region` is in sync (asks a userspace log, so may sleep).
    pub(crate) fn in_sync(&self, region: u64) -> bool {
        let _held = self.locked();
        self.in_sync_locked(region)
    }

    /// Whether `region` is in sync, if the log knows without sleeping:
    /// `None` from a log that must ask elsewhere (a `userspace` log asks
    /// its daemon), which answers `EWOULDBLOCK` when it may not block.
    /// Takes no lock: it never waits for a flush in progress.
    pub(crate) fn in_sync_now(&self, region: u64) -> Option<bool> {
        match self.ty().in_sync {
            // SAFETY: calling the log's own operation on the live log;
            // with `can_block` 0 it may run beside the others (type
            // invariant).
            Some(f) => match unsafe { f(self.log.as_ptr(), region, 0) } {
                r if r == EAGAIN.to_errno() => None,
                r => Some(r > 0),
            },
            None => Some(false),
        }
    }

    fn in_sync_locked(&self, region: u64) -> bool {
        self.in_sync_raw(region) > 0
    }

    /// The log's answer: 1 in sync, 0 not, an error below 0.
    fn in_sync_raw(&self, region: u64) -> i32 {
        match self.ty().in_sync {
            // SAFETY: calling the log's own operation on the live log; the
            // caller holds its lock.
            Some(f) => unsafe { f(self.log.as_ptr(), region, 1) },
            None => 0,
        }
    }

    /// Region `region`, which the log answered `was` about (see
    /// [`Self::in_sync_raw`]), is now in sync or not: the kept count
    /// follows, or is forgotten when the answer was an error. Under the
    /// lock.
    fn count_change(&self, was: i32, now: bool) {
        let known = self.sync_count.load(Ordering::Acquire);
        if was < 0 {
            self.sync_count.store(UNKNOWN, Ordering::Release);
            return;
        }
        if known == UNKNOWN || (was > 0) == now {
            return;
        }
        let n = if now { known.saturating_add(1) } else { known.saturating_sub(1) };
        self.sync_count.store(n, Ordering::Release);
    }

    /// Record `region` as out of sync, persistently for a `disk` log (its
    /// on-disk clean bit is cleared at the next [`Self::flush`]).
    pub(crate) fn set_out_of_sync(&self, region: u64) {
        let _held = self.locked();
        let ty = self.ty();
        let was = self.in_sync_raw(region);
        // SAFETY: calling the log's own operations on the live log.
        unsafe {
            if let Some(f) = ty.mark_region {
                f(self.log.as_ptr(), region);
            }
            if let Some(f) = ty.set_region_sync {
                f(self.log.as_ptr(), region, 0);
            }
        }
        self.count_change(was, false);
    }

    /// Record `region` as in sync again (clean on disk after the next
    /// [`Self::flush`]).
    pub(crate) fn set_in_sync(&self, region: u64) {
        let _held = self.locked();
        let ty = self.ty();
        let was = self.in_sync_raw(region);
        if was > 0 {
            return;
        }
        // SAFETY: calling the log's own operations on the live log.
        unsafe {
            if let Some(f) = ty.set_region_sync {
                f(self.log.as_ptr(), region, 1);
            }
            if let Some(f) = ty.clear_region {
                f(self.log.as_ptr(), region);
            }
        }
        self.count_change(was, true);
    }

    /// Write the log's changed state out (a no-op for `core`).
    pub(crate) fn flush(&self) -> Result {
        let _held = self.locked();
        match self.ty().flush {
            // SAFETY: calling the log's own operation on the live log.
            Some(f) => kernel::error::to_result(unsafe { f(self.log.as_ptr()) }),
            None => Ok(()),
        }
    }

    /// Number of regions that are in sync: asks the log only while the
    /// count is not known (see the `sync_count` field).
    pub(crate) fn sync_count(&self) -> u64 {
        let known = self.sync_count.load(Ordering::Acquire);
        if known != UNKNOWN {
            return known;
        }
        let _held = self.locked();
        let n = match self.ty().get_sync_count {
            // SAFETY: calling the log's own operation on the live log.
            Some(f) => unsafe { f(self.log.as_ptr()) },
            None => 0,
        };
        // 0 is not kept: a `userspace` log also answers 0 when its daemon
        // does not (and one that answers UNKNOWN is asked every time).
        if n != 0 {
            self.sync_count.store(n, Ordering::Release);
        }
        n
    }

    /// Write the log's own status (`TABLE` gives `<type> <#args> <args>`).
    pub(crate) fn status(&self, ty: StatusType, out: &mut StatusWriter<'_>) {
        self.with_status(ty, |text| {
            let _ = core::fmt::Write::write_str(out, text);
        });
    }

    /// Call `f` with the log's own status text (empty if it has none).
    pub(crate) fn with_status(&self, ty: StatusType, f: impl FnOnce(&str)) {
        let Some(status) = self.ty().status else { return f("") };
        let _held = self.locked();
        // Room for a userspace log's line: its uuid alone may take 128.
        let mut buf = [0u8; 384];
        // SAFETY: `buf` is writable for its length; the log is live.
        unsafe {
            status(
                self.log.as_ptr(),
                ty.to_raw(),
                buf.as_mut_ptr() as *mut kernel::ffi::c_char,
                buf.len() as u32,
            )
        };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let text = buf.get(..end).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("");
        f(text.trim_end())
    }
}

impl Drop for DirtyLog {
    fn drop(&mut self) {
        // SAFETY: the log is live and destroyed exactly once (invariant).
        unsafe { bindings::dm_dirty_log_destroy(self.log.as_ptr()) }
    }
}
