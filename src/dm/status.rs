// SPDX-License-Identifier: GPL-2.0
//! Writing status and message output into dm core's result buffer.

use core::fmt;

/// A `core::fmt::Write` sink over the `result`/`maxlen` buffer of a status
/// or message call.
///
/// Like `DMEMIT`, output that does not fit is cut off and the buffer stays
/// NUL-terminated; a completely filled buffer tells dm core to retry the
/// ioctl with a larger one.
pub(crate) struct StatusWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> StatusWriter<'a> {
    /// Wrap a result buffer.
    ///
    /// # Safety
    ///
    /// `result` must be valid for writes of `maxlen` bytes for `'a`.
    pub(super) unsafe fn from_raw(result: *mut kernel::ffi::c_char, maxlen: u32) -> Self {
        let buf: &'a mut [u8] = if result.is_null() || maxlen == 0 {
            &mut []
        } else {
            // SAFETY: the caller guarantees `maxlen` writable bytes.
            unsafe { core::slice::from_raw_parts_mut(result.cast::<u8>(), maxlen as usize) }
        };
        if let Some(b) = buf.first_mut() {
            *b = 0;
        }
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Write the IMA record's `target_name=<name>,target_version=<x.y.z>`,
    /// like `DMEMIT_TARGET_NAME_VERSION`.
    pub(crate) fn ima_name_version(&mut self, name: &str, version: [u32; 3]) {
        let [a, b, c] = version;
        let _ = fmt::Write::write_fmt(
            self,
            format_args!("target_name={name},target_version={a}.{b}.{c};"),
        );
    }

    /// Whether nothing was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Write for StatusWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the terminating NUL.
        let room = self.buf.len().saturating_sub(self.len + 1);
        let n = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + n),
            s.as_bytes().get(..n),
        ) {
            dst.copy_from_slice(src);
            self.len += n;
        }
        if let Some(b) = self.buf.get_mut(self.len) {
            *b = 0;
        }
        Ok(())
    }
}
