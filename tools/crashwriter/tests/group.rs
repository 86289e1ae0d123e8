//! `group-write` and `group-check` on image files: a run passes, replicas
//! built from its log pass as long as they keep what the writes on them
//! depend on, holes and reordering across a dependency fail with the
//! block named, and killed runs continue one log.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crashwriter::group::{encode, parse, Run, Write};

const BIN: &str = env!("CARGO_BIN_EXE_crashwriter");
const BLOCKS: u64 = 64;
const BS: u64 = 4096;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("group-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` zeroed images of `BLOCKS` blocks, named `{prefix}{i}.img`.
fn images(dir: &Path, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("{prefix}{i}.img"));
            std::fs::File::create(&p)
                .unwrap()
                .set_len(BLOCKS * BS)
                .unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

fn args<'a>(cmd: &'a str, devs: &'a [String], seed: &'a str, log: &'a Path) -> Vec<&'a str> {
    let mut a = vec![cmd];
    for d in devs {
        a.extend(["--dev", d.as_str()]);
    }
    a.extend([
        "--blocks",
        "64",
        "--seed",
        seed,
        "--log",
        log.to_str().unwrap(),
    ]);
    a
}

fn write(devs: &[String], seed: &str, log: &Path, extra: &[&str]) -> Output {
    let mut a = args("group-write", devs, seed, log);
    a.extend(extra);
    run(&a)
}

fn check(devs: &[String], seed: &str, log: &Path, extra: &[&str]) -> Output {
    let mut a = args("group-check", devs, seed, log);
    a.extend(extra);
    run(&a)
}

/// Asserts a pass: one line, exit 0; returns M.
fn passes(o: &Output) -> u64 {
    let t = text(o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert_eq!(t.lines().count(), 1, "{t}");
    let rest = t
        .strip_prefix("group-check: the devices hold every write before log line ")
        .unwrap_or_else(|| panic!("{t}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Asserts a failure: exit 1, the last line FAILED; returns the lines.
fn fails(o: &Output) -> Vec<String> {
    let t = text(o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let lines: Vec<String> = t.lines().map(str::to_string).collect();
    assert!(
        lines.last().unwrap().starts_with("group-check: FAILED: "),
        "{t}"
    );
    lines
}

fn log_lines(log: &Path, seed: u64, devices: u64, threads: u64) -> Vec<Write> {
    let bytes = std::fs::read(log).unwrap();
    let l = parse(&bytes, seed, BLOCKS, devices, Some(threads)).unwrap();
    assert!(!l.cut);
    l.lines
}

/// Images of a replica that applied `writes` in order.
fn replica(dir: &Path, name: &str, run: &Run, writes: &[Write]) -> Vec<String> {
    let devs = images(dir, name, 2);
    let files: Vec<std::fs::File> = devs
        .iter()
        .map(|d| std::fs::OpenOptions::new().write(true).open(d).unwrap())
        .collect();
    for w in writes {
        let mut b = [0u8; 4096];
        encode(run, w, &mut b);
        files[w.dev as usize]
            .write_all_at(&b, w.block * BS)
            .unwrap();
    }
    devs
}

const RUN: Run = Run {
    seed: 5,
    blocks: BLOCKS,
    threads: 2,
};

#[test]
fn a_run_passes_and_replicas_are_judged_by_what_they_depend_on() {
    let dir = scratch("replicas");
    let devs = images(&dir, "dev", 2);
    let log = dir.join("log");
    let o = write(&devs, "5", &log, &["--threads", "2", "--count", "200"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        text(&o),
        "group-write: 200 writes (log lines 0..200) done\n"
    );
    let lines = log_lines(&log, 5, 2, 2);
    assert_eq!(lines.len(), 200);
    // Both devices were written. (Which of their threads got writes in
    // is up to the scheduler: a busy host may starve one of them.)
    for d in 0..2 {
        assert!(lines.iter().any(|w| w.dev == d), "device {d}");
    }
    let m = passes(&check(&devs, "5", &log, &[]));
    assert_eq!(m, lines.iter().map(|w| w.frontier).max().unwrap().min(200));
    assert!(m > 150, "{m}");
    passes(&check(&devs, "5", &log, &["--all"]));
    passes(&check(&devs, "5", &log, &["--all", "--threads", "2"]));

    // The log, applied again, makes the very same images.
    let again = replica(&dir, "again", &RUN, &lines);
    for d in 0..2 {
        assert!(
            std::fs::read(&devs[d]).unwrap() == std::fs::read(&again[d]).unwrap(),
            "device {d}"
        );
    }

    // Replicas that stopped after some line: all pass; only the full one
    // passes --all.
    for p in [0, 1, 7, 50, 123, 199] {
        let r = replica(&dir, &format!("p{p}-"), &RUN, &lines[..p]);
        let m = passes(&check(&r, "5", &log, &[]));
        assert!(m <= p as u64, "prefix {p}: {m}");
        let e = fails(&check(&r, "5", &log, &["--all"]));
        assert!(e[0].ends_with("which was acknowledged (--all)"), "{e:?}");
    }

    // One write gone from the full replica, a write that a later one
    // depends on: its block holds its thread's write before (or zeroes).
    let m = lines.iter().map(|w| w.frontier).max().unwrap() as usize;
    let newest = |state: &[Write], x: usize| {
        state
            .iter()
            .rfind(|y| (y.dev, y.block) == (lines[x].dev, lines[x].block))
            == Some(&lines[x])
    };
    let x = (0..m).rev().find(|&x| newest(&lines, x)).unwrap();
    let v = lines[x];
    let holed: Vec<Write> = lines.iter().filter(|w| **w != v).copied().collect();
    let r = replica(&dir, "hole", &RUN, &holed);
    let e = fails(&check(&r, "5", &log, &[]));
    let want = format!(
        "group-check: device {} block {} lacks write {} of thread {} (log line {x}; ",
        v.dev, v.block, v.seq, v.thread
    );
    assert!(
        e.iter().any(|l| l.starts_with(&want)
            && l.contains(", but write ")
            && l.ends_with(") depends on it")),
        "{e:?}"
    );
    assert_eq!(e.len(), 2, "{e:?}");

    // Out of order across a dependency: line j landed, line i (below
    // j's frontier) did not, and nothing between wrote i's block.
    let (i, j) = (1..lines.len())
        .find_map(|j| {
            let i = (lines[j].frontier as usize).checked_sub(1)?;
            let v = lines[i];
            lines[i + 1..=j]
                .iter()
                .all(|y| (y.dev, y.block) != (v.dev, v.block))
                .then_some((i, j))
        })
        .unwrap();
    let mut reordered: Vec<Write> = lines[..i].to_vec();
    reordered.extend(&lines[i + 1..=j]);
    let r = replica(&dir, "reordered", &RUN, &reordered);
    let e = fails(&check(&r, "5", &log, &[]));
    let v = lines[i];
    let want = format!(
        "group-check: device {} block {} lacks write {} of thread {} (log line {i}; ",
        v.dev, v.block, v.seq, v.thread
    );
    assert!(e.iter().any(|l| l.starts_with(&want)), "{e:?}");
    // With line i in its place, that state passes.
    reordered.insert(i, v);
    let r = replica(&dir, "ordered", &RUN, &reordered);
    passes(&check(&r, "5", &log, &[]));

    // A later write concurrent with an earlier one (it does not depend on
    // it: its frontier is at most the earlier one's line) may land alone.
    let (i, j) = (0..lines.len())
        .flat_map(|i| (i + 1..lines.len()).map(move |j| (i, j)))
        .find(|&(i, j)| lines[j].frontier <= i as u64)
        .expect("two concurrent writes among 200 of 4 threads");
    let mut state: Vec<Write> = lines[..i].to_vec();
    state.push(lines[j]);
    let r = replica(&dir, "concurrent", &RUN, &state);
    let m = passes(&check(&r, "5", &log, &[]));
    assert!(m <= i as u64);

    // Foreign content, devices in the wrong order, another seed.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&devs[1])
        .unwrap();
    f.write_all_at(&[0x5a; 4096], 17 * BS).unwrap();
    let e = fails(&check(&devs, "5", &log, &[]));
    assert!(
        e.contains(&"group-check: device 1 block 17: foreign content".to_string()),
        "{e:?}"
    );
    let swapped = vec![again[1].clone(), again[0].clone()];
    let e = fails(&check(&swapped, "5", &log, &[]));
    assert!(
        e[0].contains("(misplaced: devices given in another order?)"),
        "{e:?}"
    );
    let e = fails(&check(&again, "6", &log, &[]));
    assert!(e[0].contains("of seed 5, not 6)"), "{e:?}");
    // Told the thread count, the log itself is of another run.
    let o = check(&again, "6", &log, &["--threads", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains(": bad log: line "), "{}", text(&o));
    assert!(
        text(&o).contains("(another seed, --blocks, --threads or order of --dev?)"),
        "{}",
        text(&o)
    );
}

#[test]
fn continued_runs_and_cut_lines() {
    let dir = scratch("continue");
    let devs = images(&dir, "dev", 2);
    let log = dir.join("log");
    let o = write(&devs, "9", &log, &["--count", "100", "--threads", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = write(&devs, "9", &log, &["--count", "100", "--threads", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        text(&o),
        "group-write: 100 writes (log lines 100..200) done\n"
    );
    let lines = log_lines(&log, 9, 2, 3);
    assert_eq!(lines.len(), 200);
    passes(&check(&devs, "9", &log, &["--all"]));

    // A cut last line is ignored by the checker...
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, b"200 1 2 ").unwrap();
    let c = check(&devs, "9", &log, &["--all"]);
    passes(&c);
    assert!(
        text(&c).ends_with(" (a cut last log line was ignored)\n"),
        "{}",
        text(&c)
    );
    // ... and cut off by the writer before it appends.
    let o = write(&devs, "9", &log, &["--count", "50", "--threads", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with(&format!(
            "group-write: {}: its cut last line (8 bytes) was cut off\n",
            log.display()
        )),
        "{}",
        text(&o)
    );
    assert_eq!(log_lines(&log, 9, 2, 3).len(), 250);
    passes(&check(&devs, "9", &log, &["--all"]));

    // Another thread count does not continue this log.
    let o = write(&devs, "9", &log, &["--count", "5"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("(not a log of this run)"), "{}", text(&o));

    // A few seeds and thread counts, from scratch.
    for (seed, threads) in [(1u64, 1u64), (2, 2), (3, 5), (4, 64)] {
        let devs = images(&dir, &format!("s{seed}-"), 3);
        let log = dir.join(format!("log{seed}"));
        let (s, t) = (seed.to_string(), threads.to_string());
        let o = write(&devs, &s, &log, &["--count", "60", "--threads", &t]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(log_lines(&log, seed, 3, threads).len(), 60);
        passes(&check(&devs, &s, &log, &["--all"]));
    }
}

#[test]
fn killed_writers_continue_one_log() {
    let dir = scratch("kill");
    let devs = images(&dir, "dev", 2);
    let log = dir.join("log");
    let mut want = 0;
    for round in 0..3 {
        let mut a = args("group-write", &devs, "3", &log);
        a.extend(["--duration-ms", "60000", "--threads", "4"]);
        let mut child = Command::new(BIN).args(&a).spawn().unwrap();
        want += 80;
        let start = Instant::now();
        loop {
            let n = std::fs::read(&log).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
            if n >= want {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "round {round}: {n} lines"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // The local devices hold every logged write, and at most one more
        // per thread.
        let c = check(&devs, "3", &log, &["--all"]);
        passes(&c);
        want = std::fs::read_to_string(&log).unwrap().lines().count();
    }
    let o = write(&devs, "3", &log, &["--count", "40", "--threads", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    passes(&check(&devs, "3", &log, &["--all"]));
}

#[test]
fn usage_and_errors() {
    let dir = scratch("usage");
    let devs = images(&dir, "dev", 2);
    let log = dir.join("log");
    let l = log.to_str().unwrap();
    let d0 = devs[0].as_str();
    let base = ["--dev", d0, "--seed", "1", "--log", l];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--blocks", "64", "--count", "1", "--threads", "65"],
            "--blocks 64 is fewer than --threads 65",
        ),
        (
            vec!["--blocks", "64", "--count", "1", "--threads", "0"],
            "--threads must be at least 1",
        ),
        (
            vec!["--blocks", "1", "--count", "1"],
            "--blocks 1 is fewer than --threads 2",
        ),
        (
            vec!["--blocks", "0", "--count", "1"],
            "--blocks must be at least 1",
        ),
        (
            vec!["--blocks", "64"],
            "--count or --duration-ms is required",
        ),
        (
            vec!["--blocks", "65", "--count", "1"],
            "64 blocks, fewer than --blocks 65",
        ),
        (
            vec!["--blocks", "64", "--count", "1", "--all"],
            "unexpected argument --all",
        ),
    ];
    for (extra, want) in cases {
        let mut a = vec!["group-write"];
        a.extend(base);
        a.extend(extra);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{a:?}: {}", text(&o));
    }
    let o = run(&[
        "group-write",
        "--dev",
        d0,
        "--blocks",
        "64",
        "--seed",
        "1",
        "--count",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--log are required"), "{}", text(&o));
    assert!(!log.exists());

    // group-check: no log, a bad log, a bad thread count, no --log.
    let o = check(&devs, "1", &dir.join("none"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    std::fs::write(&log, "0 0 0 1 0 0\n1 0 0 3 0 1\n").unwrap();
    let o = check(&devs, "1", &log, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("bad log: line 1 is write 3 of thread 0 of device 0, after its write 1"),
        "{}",
        text(&o)
    );
    std::fs::write(&log, "").unwrap();
    let o = check(&devs, "1", &log, &["--threads", "65"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = check(&devs, "1", &log, &["--count", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&["group-check", "--dev", d0, "--blocks", "64", "--seed", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // An empty log and zero devices: nothing needed.
    assert_eq!(passes(&check(&devs, "1", &log, &["--all"])), 0);
    // A group-write log line naming a third device: not this run.
    std::fs::write(&log, "0 2 0 1 0 0\n").unwrap();
    let o = check(&devs, "1", &log, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("only 2 devices are given"),
        "{}",
        text(&o)
    );

    // A write error ends the run with status 1, naming it.
    std::fs::write(&log, "").unwrap();
    let o = run(&[
        "group-write",
        "--dev",
        "/dev/full",
        "--blocks",
        "1",
        "--threads",
        "1",
        "--seed",
        "1",
        "--count",
        "3",
        "--log",
        l,
        "--buffered",
    ]);
    if o.status.code() != Some(2) {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).starts_with("group-write: write 1 of thread 0 (device 0 block 0) failed: "),
            "{}",
            text(&o)
        );
        assert!(text(&o).ends_with(" (after no writes)\n"), "{}", text(&o));
    }

    let h = run(&["help"]);
    assert!(h.status.success());
    assert!(text(&h).contains("crashwriter group-write --dev DEV [--dev DEV...]"));
    assert!(text(&h).contains("crashwriter group-check --dev DEV [--dev DEV...]"));
}
