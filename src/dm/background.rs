// SPDX-License-Identifier: GPL-2.0
//! The module's workqueue for long background jobs (online verify), which
//! sleep on synchronous I/O and so must not hold up the system queues.
//! It exists from module init to module exit; its destruction waits for
//! every job, so no job's code runs after the module is unloaded. The
//! queue of [`super::on_fresh_stack`] has the same lifetime and is
//! created and destroyed with it.

use super::bindings;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::workqueue::Queue;

/// The module's background workqueue (and the fresh-stack queue);
/// destroyed when dropped (module exit), after every job on them has
/// returned.
pub(crate) struct Background(NonNull<kernel::bindings::workqueue_struct>);

// SAFETY: a workqueue may be used and destroyed from any thread.
unsafe impl Send for Background {}
// SAFETY: queueing work is safe concurrently.
unsafe impl Sync for Background {}

impl Background {
    /// Create the workqueues (module init).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain call; module init runs once, before any job.
        let wq = unsafe { bindings::dmr_background_create() };
        let this = NonNull::new(wq).map(Self).ok_or(ENOMEM)?;
        // SAFETY: plain call, as above; on failure `this` is dropped,
        // which destroys the background queue (the fresh-stack destroy
        // skips a queue that was not created).
        if !unsafe { bindings::dmr_fresh_stack_create() } {
            return Err(ENOMEM);
        }
        Ok(this)
    }
}

/// Run `job` on the background workqueue. Called by targets, which exist
/// only between module init and exit: the workqueue is there.
pub(crate) fn spawn_background(job: impl FnOnce() + Send + 'static) -> Result {
    spawn(job, GFP_KERNEL)
}

/// [`spawn_background`] from the I/O path (a site link's work): the job's
/// allocation does no I/O, so it may fail under memory pressure.
pub(crate) fn spawn_background_noio(job: impl FnOnce() + Send + 'static) -> Result {
    let _noio = super::NoIo::enter();
    spawn(job, GFP_KERNEL)
}

fn spawn(job: impl FnOnce() + Send + 'static, flags: kernel::alloc::Flags) -> Result {
    // SAFETY: plain call.
    let wq = unsafe { bindings::dmr_background_get() };
    if wq.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: the workqueue lives until module exit, after every target
    // (and so every caller) is gone; the reference does not outlive this
    // call.
    let q = unsafe { Queue::from_raw(wq) };
    q.try_spawn(flags, job).map_err(|_| ENOMEM)
}

impl Drop for Background {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once; destroy_workqueue
        // drains the queue first. No fresh-stack work is left: each is
        // waited for by its caller, a target's constructor, and the
        // targets are gone.
        unsafe {
            bindings::dmr_fresh_stack_destroy();
            bindings::dmr_background_destroy();
        }
    }
}
