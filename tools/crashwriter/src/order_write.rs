//! The write-order load's writer: one thread, one block per write, an
//! `fdatasync` after each, and a log line after each acknowledged write.
//!
//! The replicator turns every flush into an epoch boundary, so each write
//! is its own epoch and a replica must show the state after some prefix of
//! the writes (see `order_check`).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use crate::order::{block_for, encode};
use crate::writer::aligned;
use crate::BLOCK_SIZE;

/// Settings of a write-order run.
#[derive(Clone, Debug)]
pub struct OrderLoad {
    /// Seed of the sequence.
    pub seed: u64,
    /// Blocks the sequence uses (from block 0).
    pub blocks: u64,
    /// Number of the first write (1 for a new run; n + 1 to continue a run
    /// whose log ends at write n).
    pub first: u64,
    /// Stop after this many writes.
    pub count: Option<u64>,
    /// Stop issuing writes after this long.
    pub duration: Option<Duration>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Writes acknowledged and logged by this run.
    pub done: u64,
    /// The last logged write (first - 1 if none).
    pub last: u64,
    /// The error that ended the run, if any.
    pub error: Option<String>,
}

/// Runs the load on `dev`; after each acknowledged write, writes one line
/// `<i> <block>\n` to `log` with a single `write_all` and flushes it.
pub fn run(dev: &File, load: &OrderLoad, log: &mut dyn Write) -> Outcome {
    let start = Instant::now();
    let mut out = Outcome {
        done: 0,
        last: load.first.saturating_sub(1),
        error: None,
    };
    if load.blocks == 0 || load.first == 0 {
        out.error = Some("no blocks to write, or write number 0".to_string());
        return out;
    }
    let (mut v, off) = aligned(BLOCK_SIZE);
    let mut i = load.first;
    loop {
        if load.count.is_some_and(|c| out.done >= c)
            || load.duration.is_some_and(|d| start.elapsed() >= d)
        {
            return out;
        }
        let b = block_for(load.seed, load.blocks, i);
        let buf: &mut [u8; BLOCK_SIZE] = match (&mut v[off..off + BLOCK_SIZE]).try_into() {
            Ok(buf) => buf,
            Err(_) => {
                out.error = Some("buffer".to_string());
                return out;
            }
        };
        encode(load.seed, load.blocks, i, b, buf);
        if let Err(e) = dev.write_all_at(buf, b * BLOCK_SIZE as u64) {
            out.error = Some(format!("write {i} (block {b}) failed: {e}"));
            return out;
        }
        if let Err(e) = dev.sync_data() {
            out.error = Some(format!("fdatasync after write {i} (block {b}) failed: {e}"));
            return out;
        }
        let line = format!("{i} {b}\n");
        if let Err(e) = log.write_all(line.as_bytes()).and_then(|()| log.flush()) {
            out.error = Some(format!("log line of write {i}: {e}"));
            return out;
        }
        out.done += 1;
        out.last = i;
        match i.checked_add(1) {
            Some(next) => i = next,
            None => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{decode, Content};
    use crate::order_check::state_after;

    #[test]
    fn writes_the_sequence_and_logs_it() {
        let dir = std::env::temp_dir().join(format!("cw-order-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("img");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        f.set_len(16 * BLOCK_SIZE as u64).unwrap();
        let mut log = Vec::new();
        let load = OrderLoad {
            seed: 9,
            blocks: 16,
            first: 1,
            count: Some(30),
            duration: None,
        };
        let o = run(&f, &load, &mut log);
        assert_eq!(
            o,
            Outcome {
                done: 30,
                last: 30,
                error: None
            }
        );
        // Continued.
        let o = run(
            &f,
            &OrderLoad {
                first: 31,
                count: Some(10),
                ..load.clone()
            },
            &mut log,
        );
        assert_eq!(
            o,
            Outcome {
                done: 10,
                last: 40,
                error: None
            }
        );
        let text = String::from_utf8(log).unwrap();
        assert_eq!(crate::order_log::parse(&text, 9, 16).unwrap().last, 40);
        let img = std::fs::read(&p).unwrap();
        let want = state_after(9, 16, 40);
        for (b, d) in img.chunks(BLOCK_SIZE).enumerate() {
            let got = match decode(9, 16, b as u64, d) {
                Content::Zero => 0,
                Content::Write(i) => i,
                Content::Bad(e) => panic!("block {b}: {e}"),
            };
            assert_eq!(got, want[b], "block {b}");
        }
        // A duration of zero writes nothing.
        let o = run(
            &f,
            &OrderLoad {
                first: 41,
                count: None,
                duration: Some(Duration::ZERO),
                ..load
            },
            &mut Vec::new(),
        );
        assert_eq!(
            o,
            Outcome {
                done: 0,
                last: 40,
                error: None
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
