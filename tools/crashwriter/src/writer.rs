//! The write load: threads writing self-describing blocks with `O_DIRECT`,
//! printing an ack line after each write returned.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::record::encode_write;
use crate::rng::{mix, Rng};
use crate::{BLOCK_SIZE, MAX_WRITE_BLOCKS};

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
const O_DIRECT: i32 = 0o40000;
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const O_DIRECT: i32 = 0o200000;

/// Opens a device (or file) for the load or the verifier; `direct` adds
/// `O_DIRECT`, so the page cache can neither absorb writes nor hide what
/// is on the device.
pub fn open(path: &str, write: bool, direct: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(write);
    if direct {
        o.custom_flags(O_DIRECT);
    }
    o.open(path)
}

/// Size of an open device or file in whole blocks.
pub fn blocks_of(mut f: &File) -> io::Result<u64> {
    let bytes = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(bytes / BLOCK_SIZE as u64)
}

/// A zeroed buffer of `len` bytes aligned to a block (for `O_DIRECT`),
/// as the backing vector and the offset where the aligned part starts.
pub fn aligned(len: usize) -> (Vec<u8>, usize) {
    let v = vec![0u8; len + BLOCK_SIZE];
    let off = v.as_ptr().align_offset(BLOCK_SIZE);
    (v, off)
}

/// Settings of the load.
#[derive(Clone, Debug)]
pub struct Load {
    /// Blocks used at the start of each device.
    pub blocks: Vec<u64>,
    /// Seed of the random choices.
    pub seed: u64,
    /// Sequence number of the first write (above every earlier round's).
    pub start_seq: u64,
    /// Writer threads.
    pub threads: usize,
    /// fdatasync after every write whose seq is a multiple of this (0: never).
    pub sync_every: u64,
    /// Stop after this many writes (None: run until killed).
    pub count: Option<u64>,
    /// Print `I <seq>` before each write is issued: with the `A` and `F`
    /// lines, what a remote copy's write order is checked against.
    pub issue_marks: bool,
}

struct Sched {
    next_seq: u64,
    issued: u64,
    /// (dev, first, nblocks) of the writes in flight: a block is never in
    /// two of them, so per block the writes land in seq order and the
    /// newest acknowledged one is the one that must be there.
    inflight: Vec<(u32, u64, u64)>,
}

fn pick(rng: &mut Rng, blocks: &[u64]) -> (u32, u64, u64) {
    let dev = rng.below(blocks.len() as u64) as u32;
    let size = blocks[dev as usize];
    // Mostly one block, one write in five 2..16 blocks.
    let n = if rng.below(5) == 0 {
        2 + rng.below(MAX_WRITE_BLOCKS - 1)
    } else {
        1
    }
    .min(size);
    let first = rng.below(size - n + 1);
    (dev, first, n)
}

/// Runs the load on `files` (one per device, in device order) and prints
/// `crashwriter: started`, then `A`/`F` lines to `out`. Returns after
/// `count` writes, or with the first I/O error.
pub fn run(
    files: &[File],
    load: &Load,
    out: &Mutex<&mut (dyn Write + Send)>,
) -> Result<(), String> {
    assert_eq!(files.len(), load.blocks.len());
    if load.blocks.contains(&0) {
        return Err("a device has no blocks to write".to_string());
    }
    let sched = Mutex::new(Sched {
        next_seq: load.start_seq,
        issued: 0,
        inflight: Vec::new(),
    });
    let stop = AtomicBool::new(false);
    let error: Mutex<Option<String>> = Mutex::new(None);
    let say = |line: String| -> io::Result<()> {
        let mut o = out.lock().unwrap();
        writeln!(o, "{line}")?;
        o.flush()
    };
    say("crashwriter: started".to_string()).map_err(|e| format!("stdout: {e}"))?;
    let fail = |msg: String| {
        stop.store(true, Ordering::SeqCst);
        let mut e = error.lock().unwrap();
        if e.is_none() {
            *e = Some(msg);
        }
    };
    std::thread::scope(|s| {
        for t in 0..load.threads.max(1) {
            let (sched, stop, say, fail) = (&sched, &stop, &say, &fail);
            s.spawn(move || {
                let mut rng = Rng::new(mix(load.seed) ^ mix(t as u64 + 1));
                let (mut v, off) = aligned(MAX_WRITE_BLOCKS as usize * BLOCK_SIZE);
                while !stop.load(Ordering::SeqCst) {
                    let (seq, dev, first, n) = {
                        let mut s = sched.lock().unwrap();
                        if load.count.is_some_and(|c| s.issued >= c) {
                            return;
                        }
                        let (dev, first, n) = loop {
                            let (d, f, n) = pick(&mut rng, &load.blocks);
                            if !s
                                .inflight
                                .iter()
                                .any(|&(d2, f2, n2)| d2 == d && f < f2 + n2 && f2 < f + n)
                            {
                                break (d, f, n);
                            }
                        };
                        let seq = s.next_seq;
                        s.next_seq += 1;
                        s.issued += 1;
                        s.inflight.push((dev, first, n));
                        (seq, dev, first, n)
                    };
                    if load.issue_marks {
                        if let Err(e) = say(format!("I {seq}")) {
                            fail(format!("stdout: {e}"));
                            return;
                        }
                    }
                    let buf = &mut v[off..off + n as usize * BLOCK_SIZE];
                    encode_write(seq, dev, first, n as u32, buf);
                    if let Err(e) = files[dev as usize].write_all_at(buf, first * BLOCK_SIZE as u64)
                    {
                        fail(format!(
                            "write of seq {seq} (device {dev} blocks {first}..{}) failed: {e}",
                            first + n
                        ));
                        return;
                    }
                    if let Err(e) = say(format!("A {seq} {dev} {first} {n}")) {
                        fail(format!("stdout: {e}"));
                        return;
                    }
                    {
                        let mut s = sched.lock().unwrap();
                        let i = s
                            .inflight
                            .iter()
                            .position(|&w| w == (dev, first, n))
                            .unwrap();
                        s.inflight.swap_remove(i);
                    }
                    if load.sync_every > 0 && seq % load.sync_every == 0 {
                        for (d, f) in files.iter().enumerate() {
                            if let Err(e) = f.sync_data() {
                                fail(format!("fdatasync of device {d} failed: {e}"));
                                return;
                            }
                        }
                        if let Err(e) = say(format!("F {seq}")) {
                            fail(format!("stdout: {e}"));
                            return;
                        }
                    }
                }
            });
        }
    });
    match error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_stay_inside_and_vary() {
        let mut rng = Rng::new(1);
        let blocks = [100, 7];
        let mut long = 0;
        let mut devs = [0; 2];
        for _ in 0..2000 {
            let (d, f, n) = pick(&mut rng, &blocks);
            assert!((1..=MAX_WRITE_BLOCKS).contains(&n) && f + n <= blocks[d as usize]);
            devs[d as usize] += 1;
            long += (n > 1) as u32;
        }
        assert!(devs[0] > 800 && devs[1] > 800, "{devs:?}");
        assert!(long > 200 && long < 700, "{long}");
        // A one-block device only gets one-block writes.
        assert_eq!(pick(&mut Rng::new(3), &[1]), (0, 0, 1));
    }

    #[test]
    fn aligned_buffers() {
        for len in [512, 4096, 65536] {
            let (v, off) = aligned(len);
            assert_eq!(v[off..].as_ptr() as usize % BLOCK_SIZE, 0);
            assert!(v.len() - off >= len);
        }
    }
}
