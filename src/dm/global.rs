// SPDX-License-Identifier: GPL-2.0
//! Module-wide state guarded by one kernel mutex.
//!
//! The kernel crate of 6.12 cannot build a `Mutex` in a `static`; the C
//! shim defines one statically initialised `struct mutex` instead, and
//! `Global` guards data with it.

use super::bindings;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// Data guarded by the module's global mutex.
///
/// Only one `Global` may exist in the module: all share the same mutex, so
/// a second one would deadlock if locked while the first is held.
pub(crate) struct Global<T> {
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the global mutex.
unsafe impl<T: Send> Sync for Global<T> {}

impl<T> Global<T> {
    /// Create the guarded value (in a `static`).
    pub(crate) const fn new(v: T) -> Self {
        Self {
            data: UnsafeCell::new(v),
        }
    }

    /// Lock the global mutex. Sleeps: process context only.
    pub(crate) fn lock(&self) -> GlobalGuard<'_, T> {
        // SAFETY: the shim's mutex is statically initialised.
        unsafe { bindings::dmr_global_lock() };
        GlobalGuard { g: self }
    }
}

/// Access to the data of a locked [`Global`]; unlocks when dropped.
pub(crate) struct GlobalGuard<'a, T> {
    g: &'a Global<T>,
}

impl<T> Deref for GlobalGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the global mutex is held while the guard exists.
        unsafe { &*self.g.data.get() }
    }
}

impl<T> DerefMut for GlobalGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the global mutex is held while the guard exists, and the
        // guard is borrowed mutably.
        unsafe { &mut *self.g.data.get() }
    }
}

impl<T> Drop for GlobalGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard locked the mutex in `Global::lock`.
        unsafe { bindings::dmr_global_unlock() };
    }
}
