//! Serving block devices through the kernel's NBD client, so every
//! request the kernel sends them is seen, in one order, by this process.
//!
//! Each device is connected in the ioctl mode of `drivers/block/nbd.c`:
//! the transmission phase only, over one end of a socket pair, with the
//! other end read by a server thread. There is no network and no
//! handshake. The device advertises a volatile cache (flush) and FUA, so
//! the kernel sends them as the application's stack issued them.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::sys::{ioctl_arg, readable};
use crate::trace::Event;

const fn nbd_io(nr: u64) -> u64 {
    (0xab << 8) | nr
}
const NBD_SET_SOCK: u64 = nbd_io(0);
const NBD_SET_BLKSIZE: u64 = nbd_io(1);
const NBD_SET_SIZE: u64 = nbd_io(2);
const NBD_DO_IT: u64 = nbd_io(3);
const NBD_CLEAR_SOCK: u64 = nbd_io(4);
const NBD_DISCONNECT: u64 = nbd_io(8);
const NBD_SET_FLAGS: u64 = nbd_io(10);

const NBD_FLAG_HAS_FLAGS: u64 = 1 << 0;
const NBD_FLAG_SEND_FLUSH: u64 = 1 << 2;
const NBD_FLAG_SEND_FUA: u64 = 1 << 3;
const NBD_CMD_FLAG_FUA: u32 = 1 << 16;

const REQUEST_MAGIC: u32 = 0x2560_9513;
const REPLY_MAGIC: u32 = 0x6744_6698;
const CMD_READ: u32 = 0;
const CMD_WRITE: u32 = 1;
const CMD_DISC: u32 = 2;
const CMD_FLUSH: u32 = 3;
const EIO: u32 = 5;
const EINVAL: u32 = 22;

/// The devices' contents and everything done to them, in order.
#[derive(Default)]
pub struct Recording {
    /// Current contents, one image per device.
    pub images: Vec<Vec<u8>>,
    /// The history.
    pub events: Vec<Event>,
}

/// One connected `/dev/nbdN`.
pub struct Served {
    dev: File,
    client: Option<JoinHandle<io::Result<()>>>,
    server: Option<JoinHandle<io::Result<u64>>>,
}

impl Served {
    /// Connects `path` as device `index` of `rec` (whose image gives the
    /// size) and starts serving it.
    pub fn start(path: &str, index: u8, rec: Arc<Mutex<Recording>>) -> io::Result<Served> {
        let size = rec
            .lock()
            .map_err(|_| poisoned())?
            .images
            .get(index as usize)
            .map(|i| i.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such device"))?;
        let dev = OpenOptions::new().read(true).write(true).open(path)?;
        let (kernel_end, our_end) = UnixStream::pair()?;
        ioctl_arg(&dev, NBD_SET_BLKSIZE, 512)?;
        ioctl_arg(&dev, NBD_SET_SIZE, size)?;
        ioctl_arg(
            &dev,
            NBD_SET_FLAGS,
            NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA,
        )?;
        ioctl_arg(&dev, NBD_SET_SOCK, kernel_end.as_raw_fd() as u64)?;
        let server = std::thread::spawn(move || serve(our_end, index, &rec));
        let runner = dev.try_clone()?;
        let client = std::thread::spawn(move || {
            // Returns once the device is disconnected; the kernel holds
            // its own reference to the socket until then.
            let r = ioctl_arg(&runner, NBD_DO_IT, 0).map(|_| ());
            let _ = ioctl_arg(&runner, NBD_CLEAR_SOCK, 0);
            drop(kernel_end);
            r
        });
        Ok(Served {
            dev,
            client: Some(client),
            server: Some(server),
        })
    }

    /// Disconnects the device (nothing may hold it open) and returns how
    /// many requests were served.
    pub fn stop(mut self) -> io::Result<u64> {
        ioctl_arg(&self.dev, NBD_DISCONNECT, 0)?;
        let served = match self.server.take().map(|h| h.join()) {
            Some(Ok(r)) => r?,
            _ => return Err(io::Error::other("nbd server thread panicked")),
        };
        if let Some(h) = self.client.take() {
            // NBD_DO_IT reports the disconnect itself as an error on some
            // kernels; the served count is what matters.
            let _ = h.join();
        }
        Ok(served)
    }
}

fn poisoned() -> io::Error {
    io::Error::other("recording lock poisoned")
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut x = [0; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn reply(sock: &mut UnixStream, error: u32, cookie: &[u8], data: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 16];
    head[..4].copy_from_slice(&REPLY_MAGIC.to_be_bytes());
    head[4..8].copy_from_slice(&error.to_be_bytes());
    head[8..].copy_from_slice(cookie);
    if error == 0 && !data.is_empty() {
        let mut all = Vec::with_capacity(16 + data.len());
        all.extend_from_slice(&head);
        all.extend_from_slice(data);
        sock.write_all(&all)
    } else {
        sock.write_all(&head)
    }
}

/// Writes received but not yet answered at most: a device may hold this
/// many in its queue.
const MAX_PENDING: usize = 16;

/// A write received and applied to the image, not yet answered.
struct Pending {
    cookie: [u8; 8],
    event: Event,
}

/// Answers the pending writes in the order they came, recording each as
/// it completes.
fn complete(
    sock: &mut UnixStream,
    rec: &Mutex<Recording>,
    pending: &mut Vec<Pending>,
) -> io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut r = rec.lock().map_err(|_| poisoned())?;
    for p in pending.drain(..) {
        r.events.push(p.event);
        reply(sock, 0, &p.cookie, &[])?;
    }
    Ok(())
}

/// Serves requests until the kernel disconnects; returns their number.
///
/// The recorded order is an order in which the requests completed, and
/// it is as unkind as the block layer allows: while more requests are
/// already waiting, a write is applied but not answered, so a flush that
/// arrives meanwhile is recorded (and answered) before the writes it was
/// not issued after. A flush covers only the writes that completed
/// before it, which is all the block layer promises; a caller that
/// flushes before its writes completed is caught by the cuts after it.
fn serve(mut sock: UnixStream, dev: u8, rec: &Mutex<Recording>) -> io::Result<u64> {
    let mut served = 0;
    let mut head = [0u8; 28];
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        if pending.len() >= MAX_PENDING || !readable(&sock)? {
            complete(&mut sock, rec, &mut pending)?;
        }
        match sock.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(served),
            Err(e) => return Err(e),
        }
        if be32(&head, 0) != REQUEST_MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad NBD request magic",
            ));
        }
        let ty = be32(&head, 4);
        let mut cookie = [0u8; 8];
        cookie.copy_from_slice(&head[8..16]);
        let from = be64(&head, 16);
        let len = be32(&head, 24) as usize;
        served += 1;
        match ty & 0xffff {
            CMD_DISC => {
                complete(&mut sock, rec, &mut pending)?;
                return Ok(served);
            }
            CMD_WRITE => {
                let mut data = vec![0u8; len];
                sock.read_exact(&mut data)?;
                let mut r = rec.lock().map_err(|_| poisoned())?;
                match region(&mut r.images[dev as usize], from, len) {
                    Some(dst) => {
                        dst.copy_from_slice(&data);
                        let fua = ty & NBD_CMD_FLAG_FUA != 0;
                        drop(r);
                        pending.push(Pending {
                            cookie,
                            event: Event::Write {
                                dev,
                                offset: from,
                                fua,
                                data,
                            },
                        });
                    }
                    None => {
                        drop(r);
                        reply(&mut sock, EINVAL, &cookie, &[])?;
                    }
                }
            }
            CMD_READ => {
                let (error, data) = {
                    let mut r = rec.lock().map_err(|_| poisoned())?;
                    match region(&mut r.images[dev as usize], from, len) {
                        Some(src) => (0, src.to_vec()),
                        None => (EINVAL, Vec::new()),
                    }
                };
                reply(&mut sock, error, &cookie, &data)?;
            }
            CMD_FLUSH => {
                // Recorded before the writes still pending: it was issued
                // before they completed, so it need not cover them.
                rec.lock()
                    .map_err(|_| poisoned())?
                    .events
                    .push(Event::Flush { dev });
                reply(&mut sock, 0, &cookie, &[])?;
            }
            _ => reply(&mut sock, EIO, &cookie, &[])?,
        }
    }
}

fn region(image: &mut [u8], from: u64, len: usize) -> Option<&mut [u8]> {
    let at = usize::try_from(from).ok()?;
    image.get_mut(at..at.checked_add(len)?)
}
