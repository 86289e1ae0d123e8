// SPDX-License-Identifier: GPL-2.0
//! Device-mapper targets: the [`Target`] trait, its registration with dm
//! core, and the C callbacks that forward to it.

use super::args::{self, TargetError};
use super::bindings;
use super::bio::Bio;
use super::device::{DevId, DmDev};
use super::dirty_log::DirtyLog;
use super::status::StatusWriter;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::types::Opaque;

/// What the map function did with a bio.
pub(crate) enum MapResult {
    /// The bio was pointed at another device; dm core submits it.
    Remapped,
    /// The target took the bio and will end it later.
    Submitted,
    /// The target is done with the bio: end it with this result now.
    Done(Result),
    /// Hand the bio back to dm core to be issued again later (for example
    /// while a `--noflush` suspend is in progress).
    Requeue,
}

/// Which status `dmsetup` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusType {
    /// `dmsetup status`: the target's state.
    Info,
    /// `dmsetup table`: the table line, which must load again verbatim.
    Table,
    /// The IMA measurement record.
    Ima,
}

impl StatusType {
    fn from_raw(t: bindings::status_type_t) -> Self {
        match t {
            bindings::status_type_t_STATUSTYPE_TABLE => Self::Table,
            bindings::status_type_t_STATUSTYPE_IMA => Self::Ima,
            _ => Self::Info,
        }
    }

    pub(super) fn to_raw(self) -> bindings::status_type_t {
        match self {
            Self::Info => bindings::status_type_t_STATUSTYPE_INFO,
            Self::Table => bindings::status_type_t_STATUSTYPE_TABLE,
            Self::Ima => bindings::status_type_t_STATUSTYPE_IMA,
        }
    }
}

/// A device-mapper target type. Dm core creates one value per table line
/// (`ctr`) and drops it when the table goes (the `dtr` callback).
///
/// Optional methods are only wired up when implemented (`#[vtable]`); their
/// defaults are never called.
#[vtable]
pub(crate) trait Target: Sized + Send + Sync {
    /// Build the target from its table arguments.
    fn ctr(ctx: &mut TargetCtx<'_>, args: &[&str]) -> Result<Self, TargetError>;

    /// Map one bio.
    fn map(&self, bio: &mut Bio) -> MapResult;

    /// Called when a bio the target remapped completes, in the bio's
    /// completion context (may be interrupt context: no sleeping). `status`
    /// is the block status the bio completes with; the target may change it.
    fn end_io(&self, _bio: &mut Bio, _status: &mut u8) -> EndIoResult {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called before a suspend starts waiting for in-flight I/O.
    fn presuspend(&self) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called once the device is suspended: all I/O has completed.
    fn postsuspend(&self) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called before resume; an error keeps the device suspended.
    fn preresume(&self) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called when the device resumes I/O.
    fn resume(&self) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Write the status line of the given type.
    fn status(&self, _ty: StatusType, _out: &mut StatusWriter<'_>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Handle `dmsetup message`. An error is logged with its reason and
    /// returned to the caller; output written to `out` is shown by dmsetup.
    fn message(
        &self,
        _ctx: &TargetCtx<'_>,
        _args: &[&str],
        _out: &mut StatusWriter<'_>,
    ) -> Result<(), TargetError> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Report the devices the target maps to (for queue limits).
    fn iterate_devices(&self, _visit: &mut DeviceVisitor<'_>) -> i32 {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adjust the queue limits of the mapped device.
    fn io_hints(&self, _limits: &mut QueueLimits) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// What [`Target::end_io`] decided.
pub(crate) enum EndIoResult {
    /// The bio is complete.
    Done,
    /// The target keeps the bio and ends it later.
    Incomplete,
    /// Hand the bio back to dm core to be issued again.
    Requeue,
}

/// The queue limits of a mapped device, seen by [`Target::io_hints`].
#[repr(transparent)]
pub(crate) struct QueueLimits(Opaque<kernel::bindings::queue_limits>);

impl QueueLimits {
    fn raw(&self) -> *mut kernel::bindings::queue_limits {
        self.0.get()
    }

    /// Logical block size in bytes.
    pub(crate) fn logical_block_size(&self) -> u32 {
        // SAFETY: dm core passes valid limits for the duration of io_hints.
        unsafe { (*self.raw()).logical_block_size }
    }

    /// Set the minimum I/O size the device prefers, in bytes.
    pub(crate) fn set_io_min(&mut self, bytes: u32) {
        // SAFETY: as above; the limits are ours to change in io_hints.
        unsafe { (*self.raw()).io_min = bytes }
    }

    /// Set the optimal I/O size, in bytes.
    pub(crate) fn set_io_opt(&mut self, bytes: u32) {
        // SAFETY: as above.
        unsafe { (*self.raw()).io_opt = bytes }
    }
}

/// The target's `struct dm_target`, usable while a callback runs.
///
/// # Invariants
///
/// `ti` is valid for `'a`.
pub(crate) struct TargetCtx<'a> {
    ti: NonNull<bindings::dm_target>,
    _p: PhantomData<&'a mut bindings::dm_target>,
}

impl TargetCtx<'_> {
    fn ti(&self) -> *mut bindings::dm_target {
        self.ti.as_ptr()
    }

    /// First sector of the target in its mapped device.
    pub(crate) fn begin(&self) -> u64 {
        // SAFETY: `ti` is valid (type invariant).
        unsafe { (*self.ti()).begin }
    }

    /// Length of the target in sectors.
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: `ti` is valid (type invariant).
        unsafe { (*self.ti()).len }
    }

    /// Open a device (path or `major:minor`) with the table's mode.
    pub(crate) fn get_device(&self, path: &str) -> Result<DmDev> {
        let cpath = args::to_cstring(path)?;
        let mut dev: *mut bindings::dm_dev = core::ptr::null_mut();
        // SAFETY: `ti` and its table are valid; `cpath` is NUL-terminated;
        // dm_get_device serialises with the table's devices lock.
        let r = unsafe {
            let mode = bindings::dm_table_get_mode((*self.ti()).table);
            bindings::dm_get_device(self.ti(), cpath.as_ptr() as *const c_char, mode, &mut dev)
        };
        kernel::error::to_result(r)?;
        let dev = NonNull::new(dev).ok_or(ENODEV)?;
        // SAFETY: `dev` was just taken on `ti` and is owned by the result;
        // targets keep their devices no longer than themselves.
        Ok(unsafe { DmDev::from_raw(self.ti, dev) })
    }

    /// Create a dm dirty log (`core`, `disk`, ...) sized to this target.
    pub(crate) fn create_dirty_log(&self, type_name: &str, params: &[&str]) -> Result<DirtyLog> {
        // SAFETY: `ti` is valid; the target owns the log and drops it
        // before dm core frees `ti`.
        unsafe { DirtyLog::create(self.ti(), type_name, params) }
    }

    /// A handle for raising events later; see [`TargetHandle`].
    pub(crate) fn handle(&self) -> TargetHandle {
        TargetHandle { ti: self.ti }
    }

    /// Number of the mapped device this target belongs to.
    pub(crate) fn dm_dev_id(&self) -> DevId {
        // SAFETY: `ti`, its table and mapped device are valid.
        DevId(unsafe { bindings::dmr_target_devt(self.ti()) })
    }

    /// Logical block size in bytes of the target's mapped device, as its
    /// live table set it (meaningful for messages, not in ctr).
    pub(crate) fn logical_block_size(&self) -> u32 {
        // SAFETY: `ti`, its table and mapped device are valid.
        unsafe { bindings::dmr_target_lbs(self.ti()) }
    }

    /// How many flush bios dm core sends the target per flush.
    pub(crate) fn set_num_flush_bios(&mut self, n: u32) {
        // SAFETY: `ti` is valid and exclusively ours during ctr.
        unsafe { (*self.ti()).num_flush_bios = n }
    }

    /// How many discard bios dm core sends per discard.
    pub(crate) fn set_num_discard_bios(&mut self, n: u32) {
        // SAFETY: as above.
        unsafe { (*self.ti()).num_discard_bios = n }
    }

    /// Receive flushes (and FUA) even if the devices below have no
    /// volatile cache: the target gives them meaning of its own.
    pub(crate) fn set_flush_supported(&mut self) {
        // SAFETY: `ti` is valid and exclusively ours during ctr.
        unsafe { (*self.ti()).set_flush_supported(true) }
    }

    /// Bytes of per-bio data dm core reserves for each bio of the target.
    pub(crate) fn set_per_io_data_size(&mut self, bytes: u32) {
        // SAFETY: `ti` is valid and exclusively ours during ctr.
        unsafe { (*self.ti()).per_io_data_size = bytes }
    }

    /// Largest bio, in sectors, dm core hands the target (it splits).
    pub(crate) fn set_max_io_len(&mut self, sectors: u64) -> Result {
        // SAFETY: `ti` is valid and exclusively ours during ctr.
        kernel::error::to_result(unsafe { bindings::dm_set_target_max_io_len(self.ti(), sectors) })
    }

    /// How many write-zeroes bios dm core sends per write-zeroes.
    pub(crate) fn set_num_write_zeroes_bios(&mut self, n: u32) {
        // SAFETY: as above.
        unsafe { (*self.ti()).num_write_zeroes_bios = n }
    }
}

/// A reference to a target kept in its own private data, for work done
/// outside a callback (raising a dm event).
///
/// # Invariants
///
/// Only the target's private data holds it, or a copy the target takes
/// back in its destructor, and dm core frees `ti` only after the
/// destructor dropped that data, so `ti` is valid while the handle exists.
#[derive(Clone)]
pub(crate) struct TargetHandle {
    ti: NonNull<bindings::dm_target>,
}

// SAFETY: dm_table_event may be called from any process context.
unsafe impl Send for TargetHandle {}
// SAFETY: see `Send`.
unsafe impl Sync for TargetHandle {}

impl TargetHandle {
    /// Raise a dm event: `dmsetup wait` wakes up, udev gets a change event.
    pub(crate) fn event(&self) {
        // SAFETY: `ti` and its table are valid (type invariant).
        unsafe { bindings::dm_table_event((*self.ti.as_ptr()).table) }
    }

    /// Whether a `--noflush` suspend of the target's device is under way
    /// (meaningful in presuspend).
    pub(crate) fn noflush_suspending(&self) -> bool {
        // SAFETY: `ti` is valid (type invariant).
        unsafe { bindings::dm_noflush_suspending(self.ti.as_ptr()) != 0 }
    }
}

/// A dm event of one target that may be raised from any context (a bio's
/// completion): it runs from the system workqueue. Dropping it cancels
/// one still pending, so it never outlives the target.
pub(crate) struct DeferredEvent(NonNull<bindings::dmr_deferred_event>);

// SAFETY: the C object may be raised and freed from any thread.
unsafe impl Send for DeferredEvent {}
// SAFETY: `raise` only queues a work item, which is safe concurrently.
unsafe impl Sync for DeferredEvent {}

impl DeferredEvent {
    /// An event of the target behind `handle`.
    pub(crate) fn new(handle: &TargetHandle) -> Result<Self> {
        // SAFETY: `ti` is valid (TargetHandle invariant); the object keeps
        // it only while the target owning this value exists.
        let e = unsafe { bindings::dmr_deferred_event_new(handle.ti.as_ptr()) };
        NonNull::new(e).map(Self).ok_or(ENOMEM)
    }

    /// Raise the event soon; any context.
    pub(crate) fn raise(&self) {
        // SAFETY: the object is live until drop.
        unsafe { bindings::dmr_deferred_event_raise(self.0.as_ptr()) }
    }
}

impl Drop for DeferredEvent {
    fn drop(&mut self) {
        // SAFETY: the object is live and freed once; a pending run is
        // cancelled (or waited for) first, while the target still exists.
        unsafe { bindings::dmr_deferred_event_free(self.0.as_ptr()) }
    }
}

/// Passed to [`Target::iterate_devices`]: reports each device to dm core.
pub(crate) struct DeviceVisitor<'a> {
    ti: *mut bindings::dm_target,
    f: bindings::iterate_devices_callout_fn,
    data: *mut c_void,
    _p: PhantomData<&'a ()>,
}

impl DeviceVisitor<'_> {
    /// Report `len` sectors of `dev` from `start`; a non-zero result stops
    /// the iteration and must be returned by the target.
    pub(crate) fn visit(&mut self, dev: &DmDev, start: u64, len: u64) -> i32 {
        match self.f {
            // SAFETY: dm core's callout with its own `ti` and `data`, and a
            // device taken on this target.
            Some(f) => unsafe { f(self.ti, dev.as_raw(), start, len, self.data) },
            None => 0,
        }
    }
}

/// A registered target type; unregistered when dropped.
pub(crate) struct Registration {
    tt: Pin<KBox<Opaque<bindings::target_type>>>,
}

// SAFETY: the registration is only touched by module init and exit.
unsafe impl Send for Registration {}
// SAFETY: no shared access besides dm core's own, which locks internally.
unsafe impl Sync for Registration {}

impl Registration {
    /// Register target type `T` under `name`.
    pub(crate) fn new<T: Target>(
        module: &'static ThisModule,
        name: &'static core::ffi::CStr,
        version: [u32; 3],
    ) -> Result<Self> {
        let tt = bindings::target_type {
            name: name.as_ptr() as *const c_char,
            module: module.as_ptr(),
            version,
            ctr: Some(ctr_callback::<T>),
            dtr: Some(dtr_callback::<T>),
            map: Some(map_callback::<T>),
            end_io: if T::HAS_END_IO { Some(end_io_callback::<T>) } else { None },
            io_hints: if T::HAS_IO_HINTS { Some(io_hints_callback::<T>) } else { None },
            presuspend: if T::HAS_PRESUSPEND { Some(presuspend_callback::<T>) } else { None },
            postsuspend: if T::HAS_POSTSUSPEND { Some(postsuspend_callback::<T>) } else { None },
            preresume: if T::HAS_PRERESUME { Some(preresume_callback::<T>) } else { None },
            resume: if T::HAS_RESUME { Some(resume_callback::<T>) } else { None },
            status: if T::HAS_STATUS { Some(status_callback::<T>) } else { None },
            message: if T::HAS_MESSAGE { Some(message_callback::<T>) } else { None },
            iterate_devices: if T::HAS_ITERATE_DEVICES {
                Some(iterate_devices_callback::<T>)
            } else {
                None
            },
            ..Default::default()
        };
        let tt = KBox::pin(Opaque::new(tt), GFP_KERNEL)?;
        // SAFETY: `tt` is pinned and lives until `drop` unregisters it; its
        // name is static and its callbacks are valid for type `T`.
        kernel::error::to_result(unsafe { bindings::dm_register_target(tt.get()) })?;
        Ok(Self { tt })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; dm core refuses module unload while
        // tables of this type exist, so none are left.
        unsafe { bindings::dm_unregister_target(self.tt.get()) }
    }
}

/// The target value behind `ti->private`.
///
/// # Safety
///
/// `ti` must be a target of type `T` whose constructor succeeded and whose
/// destructor has not run.
unsafe fn private<'a, T: Target>(ti: *mut bindings::dm_target) -> &'a T {
    // SAFETY: the constructor stored a `KBox<T>` in `private`.
    unsafe { &*((*ti).private as *const T) }
}

fn set_error(ti: *mut bindings::dm_target, msg: &'static core::ffi::CStr) {
    // SAFETY: `ti` is the constructor's target; `msg` is static, as dm core
    // reads `ti->error` after the constructor returned.
    unsafe { (*ti).error = msg.as_ptr() as *mut c_char }
}

unsafe extern "C" fn ctr_callback<T: Target>(
    ti: *mut bindings::dm_target,
    argc: c_uint,
    argv: *mut *mut c_char,
) -> c_int {
    let Some(nti) = NonNull::new(ti) else {
        return EINVAL.to_errno();
    };
    let built = args::collect(argc, argv).and_then(|a| {
        let mut ctx = TargetCtx { ti: nti, _p: PhantomData };
        let t = T::ctr(&mut ctx, &a)?;
        KBox::new(t, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate target context", ENOMEM))
    });
    match built {
        Ok(b) => {
            // SAFETY: `ti` is valid during the constructor.
            unsafe { (*ti).private = KBox::into_raw(b).cast::<c_void>() };
            0
        }
        Err(e) => {
            set_error(ti, e.msg);
            e.err.to_errno()
        }
    }
}

unsafe extern "C" fn dtr_callback<T: Target>(ti: *mut bindings::dm_target) {
    // SAFETY: `ti` is valid; `private` holds the `KBox<T>` stored by the
    // constructor, which is dropped exactly once here.
    unsafe {
        let p = (*ti).private.cast::<T>();
        (*ti).private = core::ptr::null_mut();
        if !p.is_null() {
            drop(KBox::from_raw(p));
        }
    }
}

unsafe extern "C" fn map_callback<T: Target>(
    ti: *mut bindings::dm_target,
    bio: *mut kernel::bindings::bio,
) -> c_int {
    // SAFETY: dm core maps only on constructed targets, and hands the bio
    // to this call exclusively.
    let (t, b) = unsafe { (private::<T>(ti), Bio::from_raw(bio)) };
    let r = match t.map(b) {
        MapResult::Remapped => bindings::DM_MAPIO_REMAPPED,
        MapResult::Submitted => bindings::DM_MAPIO_SUBMITTED,
        MapResult::Requeue => bindings::DM_MAPIO_REQUEUE,
        MapResult::Done(res) => {
            let errno = match res {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            };
            // SAFETY: the bio is ours; ending it hands it back, and we
            // return SUBMITTED so dm core does not touch it again.
            unsafe {
                let status = kernel::bindings::errno_to_blk_status(errno);
                bindings::dmr_bio_endio(b.as_raw(), status);
            }
            bindings::DM_MAPIO_SUBMITTED
        }
    };
    r as c_int
}

unsafe extern "C" fn presuspend_callback<T: Target>(ti: *mut bindings::dm_target) {
    // SAFETY: called on a constructed target.
    unsafe { private::<T>(ti) }.presuspend()
}

unsafe extern "C" fn postsuspend_callback<T: Target>(ti: *mut bindings::dm_target) {
    // SAFETY: called on a constructed target.
    unsafe { private::<T>(ti) }.postsuspend()
}

unsafe extern "C" fn preresume_callback<T: Target>(ti: *mut bindings::dm_target) -> c_int {
    // SAFETY: called on a constructed target.
    match unsafe { private::<T>(ti) }.preresume() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn resume_callback<T: Target>(ti: *mut bindings::dm_target) {
    // SAFETY: called on a constructed target.
    unsafe { private::<T>(ti) }.resume()
}

unsafe extern "C" fn status_callback<T: Target>(
    ti: *mut bindings::dm_target,
    ty: bindings::status_type_t,
    _flags: c_uint,
    result: *mut c_char,
    maxlen: c_uint,
) {
    // SAFETY: called on a constructed target; `result` holds `maxlen`
    // writable bytes for the duration of the call.
    let (t, mut w) = unsafe { (private::<T>(ti), StatusWriter::from_raw(result, maxlen)) };
    t.status(StatusType::from_raw(ty), &mut w)
}

unsafe extern "C" fn message_callback<T: Target>(
    ti: *mut bindings::dm_target,
    argc: c_uint,
    argv: *mut *mut c_char,
    result: *mut c_char,
    maxlen: c_uint,
) -> c_int {
    let Some(nti) = NonNull::new(ti) else {
        return EINVAL.to_errno();
    };
    // SAFETY: called on a constructed target; `result` holds `maxlen`
    // writable bytes for the duration of the call.
    let (t, mut w) = unsafe { (private::<T>(ti), StatusWriter::from_raw(result, maxlen)) };
    let ctx = TargetCtx { ti: nti, _p: PhantomData };
    let r = args::collect(argc, argv).and_then(|a| t.message(&ctx, &a, &mut w));
    match r {
        Ok(()) if w.is_empty() => 0,
        // dm core copies the output to userspace when the result is 1.
        Ok(()) => 1,
        Err(e) => {
            // SAFETY: the mapped device outlives the message call.
            let name = unsafe { kernel::str::CStr::from_char_ptr(bindings::dmr_target_dm_name(ti)) };
            pr_err!("{}: message refused: {}\n", name, e.text());
            e.err.to_errno()
        }
    }
}

unsafe extern "C" fn iterate_devices_callback<T: Target>(
    ti: *mut bindings::dm_target,
    f: bindings::iterate_devices_callout_fn,
    data: *mut c_void,
) -> c_int {
    let mut v = DeviceVisitor { ti, f, data, _p: PhantomData };
    // SAFETY: called on a constructed target.
    unsafe { private::<T>(ti) }.iterate_devices(&mut v)
}

unsafe extern "C" fn end_io_callback<T: Target>(
    ti: *mut bindings::dm_target,
    bio: *mut kernel::bindings::bio,
    error: *mut kernel::bindings::blk_status_t,
) -> c_int {
    // SAFETY: dm core calls end_io on a constructed target with the bio it
    // mapped and a valid status pointer, exclusively for this call.
    let (t, b, status) = unsafe { (private::<T>(ti), Bio::from_raw(bio), &mut *error) };
    let r = match t.end_io(b, status) {
        EndIoResult::Done => bindings::DM_ENDIO_DONE,
        EndIoResult::Incomplete => bindings::DM_ENDIO_INCOMPLETE,
        EndIoResult::Requeue => bindings::DM_ENDIO_REQUEUE,
    };
    r as c_int
}

unsafe extern "C" fn io_hints_callback<T: Target>(
    ti: *mut bindings::dm_target,
    limits: *mut kernel::bindings::queue_limits,
) {
    // SAFETY: called on a constructed target with valid limits, which
    // `QueueLimits` wraps transparently for the duration of the call.
    let (t, l) = unsafe { (private::<T>(ti), &mut *limits.cast::<QueueLimits>()) };
    t.io_hints(l)
}
