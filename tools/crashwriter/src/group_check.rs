//! Do a group's devices show a state consistent with the order in which
//! the group's writes were acknowledged?
//!
//! The replicator only promises what flushes separate: if write v was
//! acknowledged and synced before write w was issued, a replica that
//! holds w holds v (or a later write of v's block). The log of the group
//! load (`group`) makes that relation checkable: every write found on a
//! device carries its frontier F, and the writes of log lines 0..F all
//! happened before it. So, given the run (seed S, blocks N) and its log
//! of L lines:
//!
//! 1. every block is zeroes or a valid record of this run at its own
//!    device and block, written by the thread that owns the block
//!    ([`decode`]); all records have the same thread count T (the one
//!    `--threads` gives, else the most common one). Anything else fails by
//!    itself (`device 1 block 17: foreign content`);
//! 2. a record must be a logged write, or the one write its thread had in
//!    flight when the writer stopped: write (last logged k) + 1 of its
//!    thread. A higher k was never issued. A logged write's record must
//!    carry the frontier of its log line, or a lower one: a killed run's
//!    write in flight is issued again by the next run under the same k,
//!    with a later frontier, so the block may hold the earlier attempt
//!    (which counts as not holding the logged write). Its frontier must
//!    also lie above the line of its thread's previous write, which was
//!    logged before it was issued;
//! 3. M is the highest frontier of the writes found (0 if none); M <= L,
//!    since frontiers count lines of the log. Every logged write v on a
//!    line below M happened before the write with frontier M, so it must
//!    be *present*: v's block holds v, or a later write of v's thread
//!    (which only overwrote it after v). Each block is judged by its
//!    newest such write; every block that lacks it is reported with a
//!    write found that depends on it;
//! 4. with `--all` (a local device, which holds every acknowledged
//!    write), every logged write must be present.
//!
//! Writes that overlapped in time may appear in any combination: a write
//! found only requires the lines below its own frontier.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;

use crate::group::{
    check_threads, decode, open_devs, parse, required, Content, Found, GroupLog, GroupOptions,
    Write,
};
use crate::writer::aligned;
use crate::BLOCK_SIZE;

/// Devices that passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// M: every write before log line M is there.
    pub needed: u64,
    /// L: lines in the log.
    pub logged: u64,
    /// Blocks holding a write.
    pub written: u64,
    /// Blocks of all devices.
    pub blocks: u64,
    /// Writes found that are not logged: in flight when a writer stopped.
    pub unlogged: u64,
    /// Every logged write is there too (`--all`).
    pub all: bool,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the devices hold every write before log line {} of {} ({} of {} blocks written",
            self.needed, self.logged, self.written, self.blocks
        )?;
        match self.unlogged {
            0 => {}
            1 => write!(f, ", 1 of them by an unlogged write in flight")?,
            n => write!(f, ", {n} of them by unlogged writes in flight")?,
        }
        write!(f, ")")?;
        if self.all {
            write!(f, "; all {} logged writes are there (--all)", self.logged)?;
        }
        Ok(())
    }
}

/// The thread count most records say (None: no record found).
pub fn threads_of(contents: &[Vec<Content>]) -> Option<u64> {
    let mut n: HashMap<u64, u64> = HashMap::new();
    for c in contents.iter().flatten() {
        if let Content::Write(f) = c {
            *n.entry(f.threads).or_default() += 1;
        }
    }
    n.into_iter()
        .max_by_key(|&(t, c)| (c, std::cmp::Reverse(t)))
        .map(|(t, _)| t)
}

/// A block as the dependency rule sees it.
#[derive(Clone, Copy)]
enum Held {
    /// Already reported: judged no further.
    Bad,
    Zero,
    Write(Found),
}

/// Does `h` hold logged write `v` (or a later write of its thread)?
fn present(h: Held, v: &Write) -> bool {
    match h {
        Held::Write(f) => {
            f.thread == v.thread && (f.seq > v.seq || (f.seq == v.seq && f.frontier == v.frontier))
        }
        _ => false,
    }
}

fn holds(h: Held, v: &Write) -> String {
    match h {
        Held::Write(f) if f.seq == v.seq => {
            format!(
                "it holds an earlier attempt of it, with frontier {}",
                f.frontier
            )
        }
        Held::Write(f) => format!("it holds write {} of thread {}", f.seq, f.thread),
        _ => "it holds zeroes".to_string(),
    }
}

/// Checks the decoded blocks of the devices (`contents[d][b]` is block b
/// of device d of the run over `blocks` blocks) against the log, with the
/// run's thread count `threads` (None only if no block holds a record).
/// Returns the verdict, or every problem found.
pub fn check(
    contents: &[Vec<Content>],
    blocks: u64,
    threads: Option<u64>,
    log: &GroupLog,
    all: bool,
) -> Result<Verdict, Vec<String>> {
    let mut problems = Vec::new();
    for (d, c) in contents.iter().enumerate() {
        if c.len() as u64 != blocks {
            problems.push(format!(
                "device {d}: {} blocks read, but the run has {blocks}",
                c.len()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let by = log.by_thread();
    let logged = log.lines.len() as u64;
    let mut held: Vec<Vec<Held>> = Vec::with_capacity(contents.len());
    // (frontier, device, thread, seq, block) of every write found that
    // counts.
    let mut found: Vec<(u64, u64, u64, u64, usize)> = Vec::new();
    let (mut written, mut unlogged) = (0, 0);
    for (d, dev) in contents.iter().enumerate() {
        let d = d as u64;
        let mut h = Vec::with_capacity(dev.len());
        for (b, c) in dev.iter().enumerate() {
            let f = match c {
                Content::Zero => {
                    h.push(Held::Zero);
                    continue;
                }
                Content::Bad(why) => {
                    problems.push(format!("device {d} block {b}: {why}"));
                    h.push(Held::Bad);
                    continue;
                }
                Content::Write(f) => *f,
            };
            let (t, k) = (f.thread, f.seq);
            let what = format!("device {d} block {b} holds write {k} of thread {t}");
            let lines: &[usize] = by.get(&(d, t)).map_or(&[], |v| v.as_slice());
            let problem = if k == 0 {
                // decode never gives one; `check` may be called with any.
                Some(format!(
                    "device {d} block {b}: damaged record (write 0 of thread {t})"
                ))
            } else if threads.is_some_and(|tt| tt != f.threads) {
                Some(format!(
                    "device {d} block {b}: write {k} of thread {t} of a run with {} threads, not {}",
                    f.threads,
                    threads.unwrap_or(0)
                ))
            } else if k > lines.len() as u64 + 1 {
                Some(format!(
                    "{what}, which was never issued (the log's last write of that thread is write {})",
                    lines.len()
                ))
            } else if let Some(&i) = lines.get((k - 1) as usize).filter(|&&i| {
                log.lines
                    .get(i)
                    .is_some_and(|line| f.frontier > line.frontier)
            }) {
                Some(format!(
                    "{what} with frontier {}, but log line {i} has it with frontier {} (an earlier attempt has a lower one, never a higher)",
                    f.frontier,
                    log.lines.get(i).map_or(0, |l| l.frontier)
                ))
            } else if let Some(&p) = k
                .checked_sub(2)
                .and_then(|j| lines.get(j as usize))
                .filter(|&&p| f.frontier <= p as u64)
            {
                Some(format!(
                    "{what} with frontier {}, but the thread's write {} is log line {p}, written before this write was issued",
                    f.frontier,
                    k - 1
                ))
            } else {
                None
            };
            if let Some(p) = problem {
                problems.push(p);
                h.push(Held::Bad);
                continue;
            }
            let is_logged = lines
                .get((k - 1) as usize)
                .and_then(|&i| log.lines.get(i))
                .is_some_and(|line| line.frontier == f.frontier);
            if !is_logged {
                unlogged += 1;
            }
            written += 1;
            found.push((f.frontier, d, t, k, b));
            h.push(Held::Write(f));
        }
        held.push(h);
    }
    found.sort_unstable();
    let m = found.last().map_or(0, |x| x.0);
    for &(fr, d, t, k, b) in found.iter().rev().take_while(|x| x.0 > logged) {
        problems.push(format!(
            "device {d} block {b} holds write {k} of thread {t} with frontier {fr}, but the log has only {logged} lines (lines lost, or the log of another run?)"
        ));
    }
    let needed = m.min(logged);
    // Per block, its newest logged write on a line below M, and its
    // newest logged write.
    let mut dep: Vec<Vec<Option<usize>>> = held.iter().map(|h| vec![None; h.len()]).collect();
    let mut last = dep.clone();
    for (i, w) in log.lines.iter().enumerate() {
        let (d, b) = (w.dev as usize, w.block as usize);
        if (i as u64) < needed {
            if let Some(x) = dep.get_mut(d).and_then(|v| v.get_mut(b)) {
                *x = Some(i);
            }
        }
        if let Some(x) = last.get_mut(d).and_then(|v| v.get_mut(b)) {
            *x = Some(i);
        }
    }
    for (d, h) in held.iter().enumerate() {
        for (b, &hb) in h.iter().enumerate() {
            if matches!(hb, Held::Bad) {
                continue;
            }
            let line = |i: Option<usize>| i.and_then(|i| log.lines.get(i).map(|w| (i, w)));
            if let Some((i, v)) = line(dep[d][b]).filter(|(_, v)| !present(hb, v)) {
                // The earliest write found that depends on v.
                let after = found.partition_point(|x| x.0 <= i as u64);
                let by = found.get(after).map_or(String::new(), |&(fr, d2, t2, k2, _)| {
                    format!(", but write {k2} of thread {t2} on device {d2} (frontier {fr}) depends on it")
                });
                problems.push(format!(
                    "device {d} block {b} lacks write {} of thread {} (log line {i}; {}){by}",
                    v.seq,
                    v.thread,
                    holds(hb, v)
                ));
            } else if let Some((i, v)) = line(last[d][b]).filter(|(_, v)| all && !present(hb, v)) {
                problems.push(format!(
                    "device {d} block {b} lacks write {} of thread {} (log line {i}; {}), which was acknowledged (--all)",
                    v.seq,
                    v.thread,
                    holds(hb, v)
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(Verdict {
            needed,
            logged,
            written,
            blocks: held.iter().map(|h| h.len() as u64).sum(),
            unlogged,
            all,
        })
    } else {
        Err(problems)
    }
}

/// Reads and decodes blocks 0..`blocks` of device `d`.
fn read_dev(
    f: &std::fs::File,
    name: &str,
    d: u64,
    seed: u64,
    blocks: u64,
) -> Result<Vec<Content>, String> {
    const CHUNK: u64 = 256;
    let (mut v, off) = aligned(CHUNK as usize * BLOCK_SIZE);
    let mut contents = Vec::with_capacity(blocks.min(1 << 24) as usize);
    let mut first = 0;
    while first < blocks {
        let n = (blocks - first).min(CHUNK);
        let buf = &mut v[off..off + n as usize * BLOCK_SIZE];
        f.read_exact_at(buf, first * BLOCK_SIZE as u64)
            .map_err(|e| format!("{name}: reading blocks {first}..{}: {e}", first + n))?;
        for (k, data) in buf.chunks_exact(BLOCK_SIZE).enumerate() {
            contents.push(decode(seed, blocks, d, first + k as u64, data));
        }
        first += n;
    }
    Ok(contents)
}

/// `group-check`. Exit status 0 when the devices pass, 1 when they do
/// not.
pub fn cmd_check(o: &GroupOptions, out: &mut (dyn std::io::Write + Send)) -> Result<i32, String> {
    let (devs, blocks, seed, path) = required(o)?;
    if let Some(t) = o.threads {
        check_threads(t, blocks)?;
    }
    let text = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let files = open_devs(&devs, blocks, false, o.buffered)?;
    let mut contents = Vec::with_capacity(files.len());
    for (d, (f, name)) in files.iter().zip(&devs).enumerate() {
        contents.push(read_dev(f, name, d as u64, seed, blocks)?);
    }
    let threads = o.threads.or_else(|| threads_of(&contents));
    let log = parse(&text, seed, blocks, devs.len() as u64, threads)
        .map_err(|e| format!("{path}: {e}"))?;
    let w = |out: &mut (dyn std::io::Write + Send), line: String| {
        writeln!(out, "group-check: {line}").map_err(|e| format!("stdout: {e}"))
    };
    let cut = if log.cut {
        " (a cut last log line was ignored)"
    } else {
        ""
    };
    match check(&contents, blocks, threads, &log, o.all) {
        Ok(v) => {
            w(out, format!("{v}{cut}"))?;
            Ok(0)
        }
        Err(problems) => {
            crate::order_cli::print_problems(out, "group-check", &problems)?;
            w(
                out,
                format!(
                    "FAILED: {} problem{} (seed {seed}, {blocks} blocks, {} devices, {}, {} logged writes{cut})",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" },
                    devs.len(),
                    threads.map_or("no record found".to_string(), |t| format!("{t} threads")),
                    log.lines.len(),
                ),
            )?;
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{block_for, encode, log_line, Run};
    use crate::rng::Rng;

    const RUN: Run = Run {
        seed: 21,
        blocks: 12,
        threads: 2,
    };
    const DEVS: u64 = 2;

    /// A run of `DEVS` devices with `RUN.threads` threads each, issuing
    /// and completing writes in an interleaving `seed` picks: the log, and
    /// the writes still in flight at the end.
    fn simulate(seed: u64, steps: usize) -> (Vec<Write>, Vec<Write>) {
        let n = (DEVS * RUN.threads) as usize;
        let mut next = vec![1u64; n];
        let mut inflight: Vec<Option<Write>> = vec![None; n];
        let mut log = Vec::new();
        let mut rng = Rng::new(seed);
        for _ in 0..steps {
            let i = rng.below(n as u64) as usize;
            let (d, t) = (i as u64 / RUN.threads, i as u64 % RUN.threads);
            match inflight[i].take() {
                None => {
                    let k = next[i];
                    next[i] += 1;
                    inflight[i] = Some(Write {
                        dev: d,
                        thread: t,
                        seq: k,
                        block: block_for(RUN.seed, RUN.blocks, RUN.threads, d, t, k),
                        frontier: log.len() as u64,
                    });
                }
                Some(w) => log.push(w),
            }
        }
        (log, inflight.into_iter().flatten().collect())
    }

    /// The devices after `writes`, applied in order, encoded and decoded.
    fn devices<'a>(writes: impl IntoIterator<Item = &'a Write>) -> Vec<Vec<Content>> {
        let mut img: Vec<Vec<Option<Write>>> = vec![vec![None; RUN.blocks as usize]; DEVS as usize];
        for w in writes {
            img[w.dev as usize][w.block as usize] = Some(*w);
        }
        img.iter()
            .enumerate()
            .map(|(d, dev)| {
                dev.iter()
                    .enumerate()
                    .map(|(b, w)| {
                        let mut blk = [0u8; BLOCK_SIZE];
                        if let Some(w) = w {
                            encode(&RUN, w, &mut blk);
                        }
                        decode(RUN.seed, RUN.blocks, d as u64, b as u64, &blk)
                    })
                    .collect()
            })
            .collect()
    }

    fn log_of(lines: &[Write]) -> GroupLog {
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, w)| log_line(i as u64, w))
            .collect();
        parse(
            text.as_bytes(),
            RUN.seed,
            RUN.blocks,
            DEVS,
            Some(RUN.threads),
        )
        .unwrap()
    }

    fn run(c: &[Vec<Content>], log: &GroupLog, all: bool) -> Result<Verdict, Vec<String>> {
        check(c, RUN.blocks, Some(RUN.threads), log, all)
    }

    #[test]
    fn every_prefix_passes_and_the_full_log_passes_all() {
        let (lines, inflight) = simulate(1, 400);
        let log = log_of(&lines);
        assert!(lines.len() > 100);
        for p in 0..=lines.len() {
            let v = run(&devices(&lines[..p]), &log, false).unwrap();
            assert!(v.needed <= p as u64, "prefix {p}: {v:?}");
            assert_eq!(
                (v.logged, v.unlogged, v.blocks),
                (lines.len() as u64, 0, 24)
            );
        }
        let v = run(&devices(&lines), &log, true).unwrap();
        assert!(v.to_string().ends_with(&format!(
            "; all {} logged writes are there (--all)",
            lines.len()
        )));
        // With the writes in flight: they only need what they saw.
        let v = run(&devices(lines.iter().chain(&inflight)), &log, true).unwrap();
        assert_eq!(v.unlogged, inflight.len() as u64);
        assert!(v.unlogged > 0);
        // A prefix is not all of it.
        let e = run(&devices(&lines[..lines.len() - 1]), &log, true).unwrap_err();
        let w = lines[lines.len() - 1];
        assert_eq!(
            e[0],
            format!(
                "device {} block {} lacks write {} of thread {} (log line {}; {}), which was acknowledged (--all)",
                w.dev,
                w.block,
                w.seq,
                w.thread,
                lines.len() - 1,
                // Its thread's write before it there, if any.
                match lines[..lines.len() - 1]
                    .iter()
                    .rfind(|x| (x.dev, x.block) == (w.dev, w.block))
                {
                    Some(x) => format!("it holds write {} of thread {}", x.seq, x.thread),
                    None => "it holds zeroes".to_string(),
                }
            )
        );
    }

    #[test]
    fn verdict_text() {
        let v = Verdict {
            needed: 5,
            logged: 9,
            written: 3,
            blocks: 24,
            unlogged: 1,
            all: false,
        };
        assert_eq!(
            v.to_string(),
            "the devices hold every write before log line 5 of 9 (3 of 24 blocks written, 1 of them by an unlogged write in flight)"
        );
        let v = Verdict { unlogged: 0, ..v };
        assert_eq!(
            v.to_string(),
            "the devices hold every write before log line 5 of 9 (3 of 24 blocks written)"
        );
    }

    /// A line j and an earlier line i it depends on (i < F_j), such that
    /// no line between them writes i's block: (i, j).
    fn dependent_pair(lines: &[Write]) -> (usize, usize) {
        for (j, w) in lines.iter().enumerate() {
            let i = w.frontier as usize;
            if i == 0 {
                continue;
            }
            let i = i - 1;
            let v = lines[i];
            if lines[i + 1..=j]
                .iter()
                .all(|x| (x.dev, x.block) != (v.dev, v.block))
            {
                return (i, j);
            }
        }
        panic!("no dependent pair");
    }

    #[test]
    fn a_lost_write_that_a_later_one_depends_on_fails() {
        let (lines, _) = simulate(2, 300);
        let log = log_of(&lines);
        let (i, j) = dependent_pair(&lines);
        let v = lines[i];
        // Lines 0..=j without line i: out of order across a dependency.
        let kept: Vec<Write> = lines[..=j]
            .iter()
            .enumerate()
            .filter(|&(x, _)| x != i)
            .map(|(_, w)| *w)
            .collect();
        let e = run(&devices(&kept), &log, false).unwrap_err();
        let mine = format!(
            "device {} block {} lacks write {} of thread {} (log line {i}; ",
            v.dev, v.block, v.seq, v.thread
        );
        let line = e
            .iter()
            .find(|l| l.starts_with(&mine))
            .unwrap_or_else(|| panic!("{e:?}"));
        assert!(line.contains("), but write "), "{line}");
        assert!(line.ends_with(") depends on it"), "{line}");
        // The write named depends on it indeed.
        let fr: u64 = line
            .rsplit("(frontier ")
            .next()
            .and_then(|s| s.split(')').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!(fr > i as u64, "{line}");
        // Line i in its place, it passes.
        assert!(run(&devices(&lines[..=j]), &log, false).is_ok());
    }

    #[test]
    fn a_later_concurrent_write_without_an_earlier_one_passes() {
        let (lines, _) = simulate(3, 300);
        let log = log_of(&lines);
        // Line j > i that does not depend on line i: F_j <= i.
        let (i, j) = (0..lines.len())
            .flat_map(|i| (i + 1..lines.len()).map(move |j| (i, j)))
            .find(|&(i, j)| lines[j].frontier <= i as u64)
            .unwrap();
        let mut state: Vec<Write> = lines[..i].to_vec();
        state.push(lines[j]);
        let v = run(&devices(&state), &log, false).unwrap();
        assert!(v.needed <= i as u64);
        // But with --all, line i (and more) are missing.
        assert!(run(&devices(&state), &log, true).is_err());
    }

    #[test]
    fn writes_never_issued_and_frontiers_that_lie() {
        let (lines, _) = simulate(4, 200);
        let log = log_of(&lines[..50]);
        // A write two past its thread's last logged one.
        let w = lines[50..]
            .iter()
            .find(|w| {
                let last = lines[..50]
                    .iter()
                    .filter(|x| (x.dev, x.thread) == (w.dev, w.thread))
                    .count() as u64;
                w.seq == last + 2
            })
            .copied()
            .unwrap();
        let mut state = lines[..50].to_vec();
        state.push(w);
        let e = run(&devices(&state), &log, false).unwrap_err();
        assert!(
            e.contains(&format!(
                "device {} block {} holds write {} of thread {}, which was never issued (the log's last write of that thread is write {})",
                w.dev, w.block, w.seq, w.thread, w.seq - 2
            )),
            "{e:?}"
        );
        // A logged write (the newest of its block) with a higher frontier
        // than its line.
        let x = (0..50)
            .rev()
            .find(|&x| {
                lines[x + 1..50]
                    .iter()
                    .all(|l| (l.dev, l.block) != (lines[x].dev, lines[x].block))
            })
            .unwrap();
        let v = lines[x];
        let mut state = lines[..50].to_vec();
        state.push(Write {
            frontier: v.frontier + 1,
            ..v
        });
        let e = run(&devices(&state), &log, false).unwrap_err();
        assert_eq!(
            e,
            vec![format!(
                "device {} block {} holds write {} of thread {} with frontier {}, but log line {x} has it with frontier {} (an earlier attempt has a lower one, never a higher)",
                v.dev, v.block, v.seq, v.thread, v.frontier + 1, v.frontier
            )]
        );
        // A frontier beyond the log.
        let (mut state, mut inflight) = (lines[..50].to_vec(), None);
        for w in &lines[50..] {
            if w.frontier > 50 {
                break;
            }
            inflight.get_or_insert(*w);
        }
        if let Some(w) = inflight {
            state.push(Write { frontier: 51, ..w });
            let e = run(&devices(&state), &log, false).unwrap_err();
            assert!(
                e.iter().any(|l| l.ends_with(
                    "with frontier 51, but the log has only 50 lines (lines lost, or the log of another run?)"
                )),
                "{e:?}"
            );
        }
    }

    #[test]
    fn an_earlier_attempt_of_a_logged_write() {
        // Run 1 was killed with write k of a thread in flight (frontier
        // F1); run 2 issued it again (F2 > F1) and logged it.
        let (lines, _) = simulate(5, 300);
        // The first line that depends on line x.
        let dependent = |x: usize| (x + 1..lines.len()).find(|&j| lines[j].frontier > x as u64);
        // A write issued a while after its thread's previous line, so
        // that an attempt one line earlier was possible too, and not
        // overwritten before a line that depends on it.
        let (x, v, j) = lines
            .iter()
            .enumerate()
            .find_map(|(x, w)| {
                let prev = lines[..x]
                    .iter()
                    .rposition(|y| (y.dev, y.thread) == (w.dev, w.thread))?;
                let j = dependent(x)?;
                let kept = lines[x + 1..=j]
                    .iter()
                    .all(|y| (y.dev, y.block) != (w.dev, w.block));
                (w.frontier > prev as u64 + 1 && kept).then_some((x, *w, j))
            })
            .unwrap();
        let log = log_of(&lines);
        let earlier = Write {
            frontier: v.frontier - 1,
            ..v
        };
        // Holding the earlier attempt as the newest: fine if nothing
        // needs line x.
        let mut state = lines[..x].to_vec();
        state.push(earlier);
        assert_eq!(run(&devices(&state), &log, false).unwrap().unlogged, 1);
        // With a write found that depends on line x, it is a hole.
        let mut state: Vec<Write> = lines[..=j].to_vec();
        state.retain(|w| *w != v);
        state.push(earlier);
        let e = run(&devices(&state), &log, false).unwrap_err();
        let want = format!(
            "device {} block {} lacks write {} of thread {} (log line {x}; it holds an earlier attempt of it, with frontier {}), but write ",
            v.dev,
            v.block,
            v.seq,
            v.thread,
            v.frontier - 1
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with(&want), "{e:?}");
    }

    #[test]
    fn bad_blocks_and_other_runs_fail_by_themselves() {
        let (lines, _) = simulate(6, 100);
        let log = log_of(&lines);
        let mut c = devices(&lines);
        c[1][5] = Content::Bad("foreign content".to_string());
        let e = run(&c, &log, false).unwrap_err();
        assert_eq!(e, vec!["device 1 block 5: foreign content"]);
        // A record of a run with another thread count.
        let mut c = devices(&lines);
        let b = (0..12)
            .find(|&b| matches!(c[0][b], Content::Write(_)))
            .unwrap();
        if let Content::Write(f) = &mut c[0][b] {
            f.threads = 3;
        }
        let e = run(&c, &log, false).unwrap_err();
        assert!(
            e[0].starts_with(&format!("device 0 block {b}: write ")),
            "{e:?}"
        );
        assert!(e[0].ends_with(" of a run with 3 threads, not 2"), "{e:?}");
        assert_eq!(threads_of(&c), Some(2));
        assert_eq!(threads_of(&devices(&[])), None);
        // Fewer blocks than the run.
        let mut c = devices(&lines);
        c[1].pop();
        assert_eq!(
            run(&c, &log, false).unwrap_err(),
            vec!["device 1: 11 blocks read, but the run has 12"]
        );
        // No record, no log, no threads: zero devices pass.
        assert_eq!(
            check(&devices(&[]), 12, None, &GroupLog::default(), true)
                .unwrap()
                .needed,
            0
        );
    }

    /// Over many interleavings: a state closed under happens-before (a
    /// prefix of the log, plus later writes that only depend on lines
    /// of the prefix, plus writes in flight that do) passes; taking away
    /// the newest write of a block that the state needs fails, naming it.
    #[test]
    fn closed_states_pass_and_holes_fail() {
        for seed in 0..40 {
            let (lines, inflight) = simulate(100 + seed, 200 + 10 * seed as usize);
            let log = log_of(&lines);
            let mut rng = Rng::new(seed);
            for _ in 0..10 {
                let p = rng.below(lines.len() as u64 + 1) as usize;
                let mut state: Vec<Write> = lines[..p].to_vec();
                for w in lines[p..].iter().chain(&inflight) {
                    // Its thread's earlier writes are lines below its
                    // frontier, so in the prefix: it may come or not.
                    if w.frontier <= p as u64 && rng.below(2) == 0 {
                        state.push(*w);
                    }
                }
                let c = devices(&state);
                let v = run(&c, &log, false).unwrap_or_else(|e| panic!("seed {seed} p {p}: {e:?}"));
                let m = state.iter().map(|w| w.frontier).max().unwrap_or(0);
                assert_eq!(v.needed, m, "seed {seed} p {p}");
                // A needed line whose block's newest write it is.
                let newest = |x: usize| {
                    let w = lines[x];
                    state.iter().rfind(|y| (y.dev, y.block) == (w.dev, w.block)) == Some(&w)
                };
                if let Some(x) = (0..m as usize).rev().find(|&x| newest(x)) {
                    let w = lines[x];
                    let holed: Vec<Write> = state.iter().filter(|y| **y != w).copied().collect();
                    let e = run(&devices(&holed), &log, false).unwrap_err();
                    let want = format!(
                        "device {} block {} lacks write {} of thread {} (log line {x}; ",
                        w.dev, w.block, w.seq, w.thread
                    );
                    assert!(
                        e.iter()
                            .any(|l| l.starts_with(&want) && l.ends_with("depends on it")),
                        "seed {seed} p {p}: {e:?}"
                    );
                }
            }
        }
    }
}
