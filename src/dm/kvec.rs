// SPDX-License-Identifier: GPL-2.0
//! What `KVec` lacks in 6.12: removing elements in place, and `pop`.
//!
//! Completions remove an element from a site link's small lists (copies,
//! region copies, devices) under the state lock. Rebuilding the list
//! allocates on every completion, and a failed allocation would lose an
//! element; removing in place never allocates.

use kernel::alloc::{Allocator, KVec, Vec};

/// Keep only the elements for which `keep` is true, in their order;
/// returns how many were removed.
pub(crate) fn retain<T>(v: &mut KVec<T>, mut keep: impl FnMut(&T) -> bool) -> usize {
    let len = v.len();
    let mut kept = 0;
    {
        let s = v.as_mut_slice();
        for i in 0..len {
            if s.get(i).is_some_and(&mut keep) {
                s.swap(kept, i);
                kept += 1;
            }
        }
    }
    let tail = v.as_mut_ptr().wrapping_add(kept);
    // SAFETY: `kept <= len <= capacity`. The elements `kept..len` are the
    // removed ones (moved there by the swaps above), initialised; the
    // length is cut first, so the vector no longer owns them, and each is
    // dropped exactly once here.
    unsafe {
        v.set_len(kept);
        core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(tail, len - kept));
    }
    len - kept
}

/// Remove the last element and return it, if any (never allocates).
pub(crate) fn pop<T, A: Allocator>(v: &mut Vec<T, A>) -> Option<T> {
    let last = v.len().checked_sub(1)?;
    // SAFETY: `last < len`, so the element there is initialised; the
    // length is cut first, so the vector no longer owns it and it is read
    // out exactly once.
    unsafe {
        v.set_len(last);
        Some(core::ptr::read(v.as_ptr().wrapping_add(last)))
    }
}
