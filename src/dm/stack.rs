// SPDX-License-Identifier: GPL-2.0
//! Running deep synchronous work on a fresh kernel stack.
//!
//! A target's constructor runs on the `dmsetup` ioctl's stack, under dm
//! core's frames; opening a replication log needs more stack than is left
//! there. [`on_fresh_stack`] runs it on a worker of the module's `dmr_open`
//! workqueue (`shim.c` says why that queue) and waits for it.

use super::bindings;
use core::mem::{ManuallyDrop, MaybeUninit};
use kernel::ffi::c_void;

/// The closure and the slot for its result, in the caller's frame.
struct Call<F, R> {
    f: ManuallyDrop<F>,
    out: MaybeUninit<R>,
}

/// Called by `dmr_on_fresh_stack` on the worker: runs the closure and
/// stores its result.
///
/// # Safety
///
/// `ctx` points to a `Call<F, R>` whose `f` is initialised and which
/// nothing else uses until this returns; called once per `Call`.
unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(ctx: *mut c_void) {
    // SAFETY: the caller's guarantee.
    let call = unsafe { &mut *ctx.cast::<Call<F, R>>() };
    // SAFETY: `f` is initialised and taken only here, once.
    let f = unsafe { ManuallyDrop::take(&mut call.f) };
    call.out.write(f());
}

/// Run `f` on a kernel worker's fresh stack and wait for it (sleeping,
/// uninterruptibly); returns what `f` returned. `f` runs in the caller's
/// allocation scope ([`super::NoIo`]), but `current` is the worker: a
/// file it puts last, for one, is released by the kernel's delayed fput
/// rather than on the caller's return to user space. Process context
/// only, and not from a work item of the `dmr_open` queue itself.
pub(crate) fn on_fresh_stack<F: FnOnce() -> R + Send, R: Send>(f: F) -> R {
    let mut call = Call { f: ManuallyDrop::new(f), out: MaybeUninit::uninit() };
    // SAFETY: `trampoline::<F, R>` matches the `Call<F, R>` passed as its
    // context, whose `f` is initialised. `dmr_on_fresh_stack` calls it
    // exactly once and returns only after it returned and its work item
    // ended (`flush_work`), so `call` outlives every use of the pointer
    // and nothing else touches it meanwhile. `F` and `R` are `Send`: the
    // closure runs, and its result is made, on another thread.
    unsafe { bindings::dmr_on_fresh_stack(Some(trampoline::<F, R>), core::ptr::addr_of_mut!(call).cast()) };
    // SAFETY: the trampoline ran once (above) and wrote `out`.
    unsafe { call.out.assume_init() }
}
