//! The system calls std does not wrap: `ioctl`, `poll`, and the flush of
//! a block device's page cache.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
    fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
}

/// `struct pollfd`.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

/// Whether `f` has data to read right now (or is at its end).
pub fn readable(f: &impl AsRawFd) -> io::Result<bool> {
    const POLLIN: i16 = 1;
    let mut p = PollFd {
        fd: f.as_raw_fd(),
        events: POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid `struct pollfd`, as `nfds` says; a zero
    // timeout returns at once.
    let r = unsafe { poll(&mut p, 1, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r > 0)
    }
}

/// `ioctl(fd, request, arg)` with an integer (or pointer-sized) argument.
pub fn ioctl_arg(f: &impl AsRawFd, request: u64, arg: u64) -> io::Result<i32> {
    // SAFETY: the requests used with this take an integer argument, which
    // the kernel does not dereference.
    let r = unsafe { ioctl(f.as_raw_fd(), request, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `ioctl(fd, request, buf)`: `buf` is the in/out structure of `request`,
/// at least as long as the request's size field says.
pub fn ioctl_buf(f: &impl AsRawFd, request: u64, buf: &mut [u8]) -> io::Result<i32> {
    let size = ((request >> 16) & 0x3fff) as usize;
    if buf.len() < size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ioctl buffer too small",
        ));
    }
    // SAFETY: `buf` is valid for reads and writes of at least the size the
    // request encodes, which is all the kernel copies in or out (larger
    // DM requests carry `data_size` inside the buffer, checked by callers).
    let r = unsafe { ioctl(f.as_raw_fd(), request, buf.as_mut_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `BLKFLSBUF`: write back and drop the page cache of a block device, so
/// buffered reads see what bios wrote under it.
pub fn flush_page_cache(f: &File) -> io::Result<()> {
    const BLKFLSBUF: u64 = 0x1261;
    ioctl_arg(f, BLKFLSBUF, 0).map(|_| ())
}
