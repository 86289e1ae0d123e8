// SPDX-License-Identifier: GPL-2.0
//! Table and message arguments as Rust strings, and constructor errors.

use kernel::prelude::*;

/// Why a constructor or a message failed: a static
/// message for `ti->error` (dm core prints it after the constructor
/// returns, so it must outlive the call) and the errno to return.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TargetError {
    /// Human-readable reason, shown by dm core in the kernel log.
    pub(crate) msg: &'static core::ffi::CStr,
    /// Error code handed back to the ioctl.
    pub(crate) err: Error,
}

impl TargetError {
    /// An `-EINVAL` error with a message.
    pub(crate) const fn inval(msg: &'static core::ffi::CStr) -> Self {
        Self { msg, err: EINVAL }
    }

    /// An error with a message and a specific errno.
    pub(crate) const fn new(msg: &'static core::ffi::CStr, err: Error) -> Self {
        Self { msg, err }
    }

    /// The message as text, for logging.
    pub(crate) fn text(&self) -> &'static str {
        self.msg.to_str().unwrap_or("(invalid message)")
    }
}

/// Borrow `argv[0..argc]` as string slices.
///
/// Device-mapper splits table lines and messages on white space; every
/// argument is a NUL-terminated string that lives as long as the call.
pub(super) fn collect<'a>(
    argc: core::ffi::c_uint,
    argv: *mut *mut kernel::ffi::c_char,
) -> Result<KVec<&'a str>, TargetError> {
    let n = argc as usize;
    let mut out = KVec::with_capacity(n, GFP_KERNEL)
        .map_err(|_| TargetError::new(c"Cannot allocate argument list", ENOMEM))?;
    for i in 0..n {
        // SAFETY: dm core passes `argc` valid pointers in `argv`.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            return Err(TargetError::inval(c"Missing argument"));
        }
        // SAFETY: each argument is a NUL-terminated string that outlives
        // the constructor or message call that borrows it.
        let s = unsafe { kernel::str::CStr::from_char_ptr(p as *const kernel::ffi::c_char) };
        let s = s
            .to_str()
            .map_err(|_| TargetError::inval(c"Arguments must be UTF-8 text"))?;
        out.push(s, GFP_KERNEL)
            .map_err(|_| TargetError::new(c"Cannot allocate argument list", ENOMEM))?;
    }
    Ok(out)
}

/// A NUL-terminated copy of `s`, for C functions taking `const char *`.
pub(super) fn to_cstring(s: &str) -> Result<KVec<u8>> {
    if s.as_bytes().contains(&0) {
        return Err(EINVAL);
    }
    let mut v = KVec::with_capacity(s.len() + 1, GFP_KERNEL)?;
    v.extend_from_slice(s.as_bytes(), GFP_KERNEL)?;
    v.push(0, GFP_KERNEL)?;
    Ok(v)
}

/// C `char *` pointers to NUL-terminated copies of `args`, for C functions
/// taking an argument vector (`dm_dirty_log_create`). The copies must stay
/// alive while the pointers are used.
pub(super) struct CArgv {
    _copies: KVec<KVec<u8>>,
    ptrs: KVec<*mut kernel::ffi::c_char>,
}

impl CArgv {
    pub(super) fn new(args: &[&str]) -> Result<Self> {
        let mut copies = KVec::with_capacity(args.len(), GFP_KERNEL)?;
        let mut ptrs = KVec::with_capacity(args.len() + 1, GFP_KERNEL)?;
        for a in args {
            let c = to_cstring(a)?;
            // The heap buffer of `c` does not move when `c` is moved into
            // `copies`, so the pointer stays valid.
            ptrs.push(c.as_ptr() as *mut kernel::ffi::c_char, GFP_KERNEL)?;
            copies.push(c, GFP_KERNEL)?;
        }
        ptrs.push(core::ptr::null_mut(), GFP_KERNEL)?;
        Ok(Self { _copies: copies, ptrs })
    }

    pub(super) fn argc(&self) -> core::ffi::c_uint {
        self.ptrs.len().saturating_sub(1) as core::ffi::c_uint
    }

    pub(super) fn argv(&mut self) -> *mut *mut kernel::ffi::c_char {
        self.ptrs.as_mut_ptr()
    }
}
