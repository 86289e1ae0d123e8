//! Command line: `crashwriter
//! write|verify|compact|order-write|order-check|group-write|group-check`.
//!
//! Exit status: 0 done (verify, order-check, group-check: clean); 1
//! verify, order-check or group-check found violations, or a load hit an
//! I/O error; 2 the command could not run (usage, open, a bad log).

use std::io::Write;
use std::sync::Mutex;

use crate::acks::AckLog;
use crate::group::GroupOptions;
use crate::order_cli::OrderOptions;
use crate::verify::verify;
use std::os::unix::fs::FileExt;

use crate::writer::{aligned, blocks_of, open, Load};
use crate::BLOCK_SIZE;

/// Exit status when the command could not run.
pub const EXIT_USAGE: i32 = 2;

/// Usage text.
pub const USAGE: &str = "\
usage: crashwriter write --dev DEV [--dev DEV...] [--blocks N] --seed S --start-seq Q
                         [--threads T] [--sync-every K] [--count C] [--buffered]
                         [--issue-marks]
       crashwriter verify --dev DEV [--dev DEV...] --acks FILE [--acks FILE...]
                          [--blocks N] [--buffered]
       crashwriter compact --acks FILE [--acks FILE...]
       crashwriter order-write --dev DEV --blocks N --seed S
                               (--count C | --duration-ms T) [--first I] [--out FILE]
       crashwriter order-check --dev DEV --blocks N --seed S --log FILE [--at-least K]
       crashwriter group-write --dev DEV [--dev DEV...] --blocks N --seed S [--threads T]
                               (--count C | --duration-ms D) --log FILE
       crashwriter group-check --dev DEV [--dev DEV...] --blocks N --seed S --log FILE
                               [--threads T] [--all]

write   runs a load until killed (or C writes): T threads (4) write 1..16
        blocks of 4 KiB with O_DIRECT, each sector a self-describing record;
        after each write returned it prints 'A <seq> <dev> <first> <nblocks>',
        after every K-th (50) an fdatasync and 'F <seq>'. --blocks: blocks
        used per device (default: the whole device). --issue-marks: also
        'I <seq>' before each write is issued.
verify  checks every block against the newest acknowledged write covering it
        (all ack files together); prints each violation and a summary.
compact prints the acks reduced to the newest write per block, in ranges.
order-write  one thread writes writes I, I+1, ... (I: --first, 1) of the run
        (S, N): write i fills the block the seed picks for it with a record
        of (S, i, block), with O_DIRECT, then fdatasync; then it appends
        'i block' to FILE (or stdout) and flushes the line. Stops after C
        writes, T ms, or the first error (exit 1).
order-check  decodes every block of DEV and checks that DEV is exactly the
        state after the first m writes of the run, for m <= (last logged
        write) + 1 and m >= K; prints that m, or every block that breaks it.
group-write  T threads (2) per device (numbered by the order of --dev), each
        with one write in flight: thread t owns the blocks b with b % T == t.
        A write reads F (the lines FILE has), writes one block with O_DIRECT
        holding a record of (S, d, t, k, b, F), then fdatasync; then it
        appends 'idx d t k b F' to FILE (idx: its line number from 0). A
        FILE with lines continues that run (its cut last line is cut off
        first). Stops after C writes in all, D ms, or the first error
        (exit 1).
group-check  decodes every block of every DEV; with M the highest F found
        (each write found was issued after log lines 0..M were written),
        every write of those lines must be there, or a later one of its
        thread to its block; --all: every logged write. A write found must
        be logged or its thread's one in flight. T: as the records say.
        Prints M, or every block that breaks it.
--buffered  without O_DIRECT (all commands).
";

#[derive(Debug, Default)]
struct Options {
    devs: Vec<String>,
    acks: Vec<String>,
    blocks: Option<u64>,
    seed: Option<u64>,
    start_seq: Option<u64>,
    threads: usize,
    /// --threads as given (group-write has another default).
    threads_given: Option<u64>,
    sync_every: u64,
    count: Option<u64>,
    buffered: bool,
    issue_marks: bool,
    duration_ms: Option<u64>,
    first: Option<u64>,
    out: Option<String>,
    log: Option<String>,
    at_least: Option<u64>,
    all: bool,
}

impl Options {
    fn order(&self) -> Result<OrderOptions, String> {
        if self.devs.len() > 1 {
            return Err("usage: one --dev only".to_string());
        }
        Ok(OrderOptions {
            dev: self.devs.first().cloned(),
            blocks: self.blocks,
            seed: self.seed,
            count: self.count,
            duration_ms: self.duration_ms,
            first: self.first,
            out: self.out.clone(),
            log: self.log.clone(),
            at_least: self.at_least,
            buffered: self.buffered,
        })
    }

    fn group(&self) -> GroupOptions {
        GroupOptions {
            devs: self.devs.clone(),
            blocks: self.blocks,
            seed: self.seed,
            threads: self.threads_given,
            count: self.count,
            duration_ms: self.duration_ms,
            log: self.log.clone(),
            all: self.all,
            buffered: self.buffered,
        }
    }
}

fn number(flag: &str, text: Option<&String>) -> Result<u64, String> {
    let text = text.ok_or_else(|| format!("{flag} needs a number"))?;
    text.parse()
        .map_err(|_| format!("{flag}: not a number: {text}"))
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut o = Options {
        threads: 4,
        sync_every: 50,
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let flag = arg.as_str();
        if !allowed.contains(&flag) {
            return Err(format!("unexpected argument {flag}"));
        }
        match flag {
            "--dev" => o.devs.push(it.next().ok_or("--dev needs a path")?.clone()),
            "--acks" => o.acks.push(it.next().ok_or("--acks needs a file")?.clone()),
            "--blocks" => o.blocks = Some(number(flag, it.next())?),
            "--seed" => o.seed = Some(number(flag, it.next())?),
            "--start-seq" => o.start_seq = Some(number(flag, it.next())?),
            "--threads" => {
                let n = number(flag, it.next())?;
                o.threads = n as usize;
                o.threads_given = Some(n);
            }
            "--sync-every" => o.sync_every = number(flag, it.next())?,
            "--count" => o.count = Some(number(flag, it.next())?),
            "--buffered" => o.buffered = true,
            "--issue-marks" => o.issue_marks = true,
            "--duration-ms" => o.duration_ms = Some(number(flag, it.next())?),
            "--first" => o.first = Some(number(flag, it.next())?),
            "--out" => o.out = Some(it.next().ok_or("--out needs a file")?.clone()),
            "--log" => o.log = Some(it.next().ok_or("--log needs a file")?.clone()),
            "--at-least" => o.at_least = Some(number(flag, it.next())?),
            "--all" => o.all = true,
            _ => unreachable!(),
        }
    }
    Ok(o)
}

/// Runs `crashwriter` with `args` (without the program name); returns the
/// exit status.
pub fn run(args: &[String], out: &mut (dyn Write + Send), err: &mut dyn Write) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        let _ = err.write_all(USAGE.as_bytes());
        return EXIT_USAGE;
    };
    let allowed: &[&str] = match command.as_str() {
        "write" => &[
            "--dev",
            "--blocks",
            "--seed",
            "--start-seq",
            "--threads",
            "--sync-every",
            "--count",
            "--buffered",
            "--issue-marks",
        ],
        "verify" => &["--dev", "--acks", "--blocks", "--buffered"],
        "compact" => &["--acks"],
        "order-write" => &[
            "--dev",
            "--blocks",
            "--seed",
            "--count",
            "--duration-ms",
            "--first",
            "--out",
            "--buffered",
        ],
        "order-check" => &[
            "--dev",
            "--blocks",
            "--seed",
            "--log",
            "--at-least",
            "--buffered",
        ],
        "group-write" => &[
            "--dev",
            "--blocks",
            "--seed",
            "--threads",
            "--count",
            "--duration-ms",
            "--log",
            "--buffered",
        ],
        "group-check" => &[
            "--dev",
            "--blocks",
            "--seed",
            "--threads",
            "--log",
            "--all",
            "--buffered",
        ],
        "help" | "--help" | "-h" => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
        other => {
            let _ = writeln!(err, "crashwriter: unknown command {other}");
            let _ = err.write_all(USAGE.as_bytes());
            return EXIT_USAGE;
        }
    };
    let result = parse(rest, allowed).and_then(|o| match command.as_str() {
        "write" => cmd_write(&o, out),
        "verify" => cmd_verify(&o, out),
        "order-write" => o
            .order()
            .and_then(|o| crate::order_cli::cmd_write(&o, out, err)),
        "order-check" => o.order().and_then(|o| crate::order_cli::cmd_check(&o, out)),
        "group-write" => crate::group_write::cmd_write(&o.group(), err),
        "group-check" => crate::group_check::cmd_check(&o.group(), out),
        _ => cmd_compact(&o, out),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "crashwriter {command}: {e}");
            if e.starts_with("usage") || e.starts_with("unexpected") || e.contains("needs") {
                let _ = err.write_all(USAGE.as_bytes());
            }
            EXIT_USAGE
        }
    }
}

fn read_acks(o: &Options) -> Result<AckLog, String> {
    if o.acks.is_empty() {
        return Err("usage: --acks FILE is required".to_string());
    }
    let mut log = AckLog::default();
    for f in &o.acks {
        let bytes = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
        // A line cut by the crash may end inside a UTF-8 sequence.
        log.add_text(&String::from_utf8_lossy(&bytes));
    }
    Ok(log)
}

/// Opens the devices and works out how many blocks each one uses.
fn open_devs(o: &Options, write: bool) -> Result<(Vec<std::fs::File>, Vec<u64>), String> {
    if o.devs.is_empty() {
        return Err("usage: at least one --dev is required".to_string());
    }
    let mut files = Vec::new();
    let mut blocks = Vec::new();
    for d in &o.devs {
        let f = open(d, write, !o.buffered).map_err(|e| format!("{d}: {e}"))?;
        let size = blocks_of(&f).map_err(|e| format!("{d}: {e}"))?;
        let n = o.blocks.unwrap_or(size);
        if n > size {
            return Err(format!("{d}: {size} blocks, fewer than --blocks {n}"));
        }
        if n == 0 {
            return Err(format!("{d}: no blocks"));
        }
        files.push(f);
        blocks.push(n);
    }
    Ok((files, blocks))
}

fn cmd_write(o: &Options, out: &mut (dyn Write + Send)) -> Result<i32, String> {
    let (Some(seed), Some(start_seq)) = (o.seed, o.start_seq) else {
        return Err("usage: --seed and --start-seq are required".to_string());
    };
    if start_seq == 0 {
        return Err("--start-seq must be at least 1".to_string());
    }
    let (files, blocks) = open_devs(o, true)?;
    let load = Load {
        blocks,
        seed,
        start_seq,
        threads: o.threads,
        sync_every: o.sync_every,
        count: o.count,
        issue_marks: o.issue_marks,
    };
    let out = Mutex::new(out);
    match crate::writer::run(&files, &load, &out) {
        Ok(()) => Ok(0),
        Err(e) => {
            let out = out.into_inner().unwrap();
            let _ = writeln!(out, "crashwriter: {e}");
            Ok(1)
        }
    }
}

fn cmd_verify(o: &Options, out: &mut (dyn Write + Send)) -> Result<i32, String> {
    let log = read_acks(o)?;
    let (files, blocks) = open_devs(o, false)?;
    let table = log.table(&blocks)?;
    const CHUNK: usize = 256;
    let (mut v, off) = aligned(CHUNK * BLOCK_SIZE);
    let mut io_err = None;
    let stats = verify(
        &table,
        CHUNK,
        |dev, first, buf| files[dev as usize].read_exact_at(buf, first * BLOCK_SIZE as u64),
        |v| {
            if let Err(e) = writeln!(out, "violation: {v}") {
                io_err.get_or_insert(e);
            }
        },
        &mut v[off..off + CHUNK * BLOCK_SIZE],
    )
    .map_err(|e| format!("reading: {e}"))?;
    if let Some(e) = io_err {
        return Err(format!("stdout: {e}"));
    }
    let acks = format!(
        "acks: {} lines, max seq {}{}",
        log.acks.len(),
        log.max_seq(),
        match log.malformed {
            0 => String::new(),
            1 => ", 1 malformed line ignored".to_string(),
            n => format!(", {n} malformed lines ignored"),
        }
    );
    let counts = format!(
        "{} blocks on {} device(s): {} acked, {} newer unacked, {} unacked, {} zero",
        stats.blocks,
        blocks.len(),
        stats.acked,
        stats.newer,
        stats.unacked,
        stats.zero
    );
    if stats.bad == 0 {
        writeln!(out, "verify: clean: {counts}; {acks}").map_err(|e| e.to_string())?;
        Ok(0)
    } else {
        writeln!(
            out,
            "verify: FAILED: {} bad block{} of {counts}; {acks}",
            stats.bad,
            if stats.bad == 1 { "" } else { "s" }
        )
        .map_err(|e| e.to_string())?;
        Ok(1)
    }
}

fn cmd_compact(o: &Options, out: &mut (dyn Write + Send)) -> Result<i32, String> {
    let log = read_acks(o)?;
    out.write_all(log.compact().as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(0)
}
