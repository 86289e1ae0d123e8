//! The group load's writer: T threads per device, each with one write in
//! flight, an `fdatasync` after each write, and one shared log.
//!
//! Per write, a thread reads the log's line count F (the frontier) under
//! the log's lock, writes its block with `O_DIRECT` holding a record with
//! F in it, calls `fdatasync` on the device, and then, under the lock
//! again, appends the write's line `<idx> <d> <t> <k> <b> <F>` with one
//! `write_all` (idx: the line count before it) and counts it. So a write
//! is only logged once it is acknowledged and synced, and every line
//! below F was logged before the write with frontier F was issued: the
//! happens-before relation the checker (`group_check`) relies on.
//!
//! A log that already has lines is continued: the line count starts at
//! theirs and each thread at its last logged write + 1. A cut last line
//! (a killed writer) is cut off the file first, so the next line starts a
//! line of its own; the write it was logging counts as not logged, was in
//! flight for the checker, and is issued again under the same number k
//! with a new frontier (the same block and payload).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::group::{
    block_for, check_threads, encode, log_line, open_devs, parse, required, GroupLog, GroupOptions,
    Run, Write, DEFAULT_THREADS,
};
use crate::writer::aligned;
use crate::BLOCK_SIZE;

/// Settings of a group run.
#[derive(Clone, Debug)]
pub struct GroupLoad {
    /// Seed, blocks and threads per device.
    pub run: Run,
    /// Stop after this many writes (all threads together).
    pub count: Option<u64>,
    /// Stop issuing writes after this long.
    pub duration: Option<Duration>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Writes acknowledged, synced and logged by this run.
    pub done: u64,
    /// Lines of the log at the end (the earlier runs' too).
    pub lines: u64,
    /// The first error, which ended the run, if any.
    pub error: Option<String>,
}

/// The log and what is counted under its lock.
struct Shared<'a> {
    log: &'a mut (dyn std::io::Write + Send),
    /// Lines in the log.
    lines: u64,
    /// Writes issued by this run.
    issued: u64,
    /// Writes logged by this run.
    done: u64,
    /// A line could not be written whole: nothing more may be appended
    /// (a line after a partial one would be glued to it).
    broken: bool,
}

/// A lock that a panicking thread cannot make unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the load on `devs` (one file per device, in device order),
/// continuing the run that `prior` logged, and appends to `log` (whose
/// complete lines are `prior`'s). Returns after `count` writes, after
/// `duration`, or at the first error of any thread; then no thread issues
/// another write, but a write that was already issued is still logged
/// once it is synced.
pub fn run(
    devs: &[File],
    load: &GroupLoad,
    prior: &GroupLog,
    log: &mut (dyn std::io::Write + Send),
) -> Outcome {
    let r = load.run;
    let start = Instant::now();
    let shared = Mutex::new(Shared {
        log,
        lines: prior.lines.len() as u64,
        issued: 0,
        done: 0,
        broken: false,
    });
    let stop = AtomicBool::new(false);
    let error: Mutex<Option<String>> = Mutex::new(None);
    let fail = |msg: String| {
        stop.store(true, Ordering::SeqCst);
        lock(&error).get_or_insert(msg);
    };
    if r.threads == 0 || r.threads > r.blocks {
        fail(format!(
            "{} threads over {} blocks: each thread needs a block of its own",
            r.threads, r.blocks
        ));
    }
    let by_thread = prior.by_thread();
    std::thread::scope(|s| {
        for (d, dev) in devs.iter().enumerate() {
            for t in 0..r.threads {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let d = d as u64;
                let first = by_thread.get(&(d, t)).map_or(0, |v| v.len() as u64) + 1;
                let (shared, stop, fail) = (&shared, &stop, &fail);
                let body = move || {
                    let (mut v, off) = aligned(BLOCK_SIZE);
                    let mut k = first;
                    loop {
                        if stop.load(Ordering::SeqCst)
                            || load.duration.is_some_and(|l| start.elapsed() >= l)
                        {
                            return;
                        }
                        let frontier = {
                            let mut sh = lock(shared);
                            if sh.broken || load.count.is_some_and(|c| sh.issued >= c) {
                                return;
                            }
                            sh.issued += 1;
                            sh.lines
                        };
                        let w = Write {
                            dev: d,
                            thread: t,
                            seq: k,
                            block: block_for(r.seed, r.blocks, r.threads, d, t, k),
                            frontier,
                        };
                        let Ok(buf) =
                            <&mut [u8; BLOCK_SIZE]>::try_from(&mut v[off..off + BLOCK_SIZE])
                        else {
                            fail("buffer".to_string());
                            return;
                        };
                        encode(&r, &w, buf);
                        let what =
                            format!("write {k} of thread {t} (device {d} block {})", w.block);
                        if let Err(e) = dev.write_all_at(buf, w.block * BLOCK_SIZE as u64) {
                            fail(format!("{what} failed: {e}"));
                            return;
                        }
                        if let Err(e) = dev.sync_data() {
                            fail(format!("fdatasync of device {d} after {what} failed: {e}"));
                            return;
                        }
                        {
                            let mut sh = lock(shared);
                            if sh.broken {
                                return;
                            }
                            let line = log_line(sh.lines, &w);
                            if let Err(e) = sh
                                .log
                                .write_all(line.as_bytes())
                                .and_then(|()| sh.log.flush())
                            {
                                sh.broken = true;
                                fail(format!("log line {} ({what}): {e}", sh.lines));
                                return;
                            }
                            sh.lines += 1;
                            sh.done += 1;
                        }
                        match k.checked_add(1) {
                            Some(next) => k = next,
                            None => return,
                        }
                    }
                };
                if let Err(e) = std::thread::Builder::new()
                    .name(format!("group-{d}-{t}"))
                    .spawn_scoped(s, body)
                {
                    fail(format!("cannot start thread {t} of device {d}: {e}"));
                }
            }
        }
    });
    let sh = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
    Outcome {
        done: sh.done,
        lines: sh.lines,
        error: error.into_inner().unwrap_or_else(PoisonError::into_inner),
    }
}

/// `group-write`. Exit status 0 when all writes were done, 1 when a write,
/// an `fdatasync` or the log failed.
pub fn cmd_write(o: &GroupOptions, err: &mut dyn std::io::Write) -> Result<i32, String> {
    let (devs, blocks, seed, path) = required(o)?;
    let threads = o.threads.unwrap_or(DEFAULT_THREADS);
    check_threads(threads, blocks)?;
    if o.count.is_none() && o.duration_ms.is_none() {
        return Err("usage: --count or --duration-ms is required".to_string());
    }
    let files = open_devs(&devs, blocks, true, o.buffered)?;
    let mut log = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| format!("{path}: {e}"))?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut log, &mut text).map_err(|e| format!("{path}: {e}"))?;
    let prior = parse(&text, seed, blocks, devs.len() as u64, Some(threads))
        .map_err(|e| format!("{path}: {e} (not a log of this run)"))?;
    if prior.cut {
        log.set_len(prior.complete as u64)
            .map_err(|e| format!("{path}: cutting off its cut last line: {e}"))?;
        let _ = writeln!(
            err,
            "group-write: {path}: its cut last line ({} bytes) was cut off",
            text.len() - prior.complete
        );
    }
    let load = GroupLoad {
        run: Run {
            seed,
            blocks,
            threads,
        },
        count: o.count,
        duration: o.duration_ms.map(Duration::from_millis),
    };
    let first = prior.lines.len() as u64;
    let outcome = run(&files, &load, &prior, &mut log);
    let range = if outcome.done == 0 {
        "no writes".to_string()
    } else {
        format!(
            "{} writes (log lines {first}..{})",
            outcome.done, outcome.lines
        )
    };
    match outcome.error {
        None => {
            let _ = writeln!(err, "group-write: {range} done");
            Ok(0)
        }
        Some(e) => {
            let _ = writeln!(err, "group-write: {e} (after {range})");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{decode, Content};

    fn images(name: &str, n: usize, blocks: u64) -> (std::path::PathBuf, Vec<File>) {
        let dir =
            std::env::temp_dir().join(format!("cw-group-write-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = (0..n)
            .map(|i| {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(dir.join(format!("d{i}")))
                    .unwrap();
                f.set_len(blocks * BLOCK_SIZE as u64).unwrap();
                f
            })
            .collect();
        (dir, files)
    }

    #[test]
    fn writes_log_and_continues() {
        let (dir, files) = images("run", 2, 16);
        let load = GroupLoad {
            run: Run {
                seed: 4,
                blocks: 16,
                threads: 3,
            },
            count: Some(60),
            duration: None,
        };
        let mut log = Vec::new();
        let o = run(&files, &load, &GroupLog::default(), &mut log);
        assert_eq!(
            o,
            Outcome {
                done: 60,
                lines: 60,
                error: None
            }
        );
        let prior = parse(&log, 4, 16, 2, Some(3)).unwrap();
        assert_eq!(prior.lines.len(), 60);
        // Continued: numbers go on per thread, the index from 60.
        let o = run(
            &files,
            &GroupLoad {
                count: Some(25),
                ..load.clone()
            },
            &prior,
            &mut log,
        );
        assert_eq!((o.done, o.lines, o.error), (25, 85, None));
        let all = parse(&log, 4, 16, 2, Some(3)).unwrap();
        assert_eq!(all.lines.len(), 85);
        assert_eq!(all.lines[..60], prior.lines[..]);
        // Every block holds the last logged write of its thread there.
        let mut want = vec![vec![None; 16]; 2];
        for w in &all.lines {
            want[w.dev as usize][w.block as usize] = Some((w.thread, w.seq, w.frontier));
        }
        for (d, f) in files.iter().enumerate() {
            for b in 0..16u64 {
                let mut buf = [0u8; BLOCK_SIZE];
                f.read_exact_at(&mut buf, b * BLOCK_SIZE as u64).unwrap();
                let got = match decode(4, 16, d as u64, b, &buf) {
                    Content::Zero => None,
                    Content::Write(x) => Some((x.thread, x.seq, x.frontier)),
                    Content::Bad(e) => panic!("device {d} block {b}: {e}"),
                };
                assert_eq!(got, want[d][b as usize], "device {d} block {b}");
            }
        }
        // A duration of zero writes nothing.
        let o = run(
            &files,
            &GroupLoad {
                count: None,
                duration: Some(Duration::ZERO),
                ..load.clone()
            },
            &all,
            &mut Vec::new(),
        );
        assert_eq!((o.done, o.lines, o.error), (0, 85, None));
        // Too many threads for the blocks.
        let o = run(
            &files,
            &GroupLoad {
                run: Run {
                    threads: 17,
                    ..load.run
                },
                ..load
            },
            &GroupLog::default(),
            &mut Vec::new(),
        );
        assert_eq!(o.done, 0);
        assert!(o.error.unwrap().contains("17 threads over 16 blocks"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A log that fails after some bytes.
    struct Failing(Vec<u8>, usize);

    impl std::io::Write for Failing {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + b.len() > self.1 {
                let n = self.1 - self.0.len();
                self.0.extend_from_slice(&b[..n]);
                if n == 0 {
                    return Err(std::io::Error::other("disk full"));
                }
                return Ok(n);
            }
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_error_stops_every_thread_and_nothing_follows_a_partial_line() {
        let (dir, files) = images("fail", 2, 8);
        let mut log = Failing(Vec::new(), 100);
        let o = run(
            &files,
            &GroupLoad {
                run: Run {
                    seed: 1,
                    blocks: 8,
                    threads: 2,
                },
                count: Some(1000),
                duration: None,
            },
            &GroupLog::default(),
            &mut log,
        );
        let e = o.error.unwrap();
        assert!(
            e.starts_with("log line ") && e.ends_with(": disk full"),
            "{e}"
        );
        let p = parse(&log.0, 1, 8, 2, Some(2)).unwrap();
        assert!(p.cut);
        assert_eq!(p.lines.len() as u64, o.done);
        assert_eq!(o.lines, o.done);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
