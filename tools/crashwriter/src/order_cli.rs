//! `crashwriter order-write` and `crashwriter order-check`: the commands
//! of the write-order fidelity test (see `order`, `order_write`,
//! `order_check`).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use crate::order::decode;
use crate::order_check::check;
use crate::order_write::{run, OrderLoad};
use crate::writer::{aligned, blocks_of, open};
use crate::BLOCK_SIZE;

/// The options of both commands (from `cli`'s parser).
#[derive(Debug, Default)]
pub struct OrderOptions {
    /// The device.
    pub dev: Option<String>,
    /// Blocks of the run.
    pub blocks: Option<u64>,
    /// Seed of the run.
    pub seed: Option<u64>,
    /// order-write: writes to do.
    pub count: Option<u64>,
    /// order-write: how long to write, in ms.
    pub duration_ms: Option<u64>,
    /// order-write: number of the first write.
    pub first: Option<u64>,
    /// order-write: the log file (else stdout).
    pub out: Option<String>,
    /// order-check: the log file.
    pub log: Option<String>,
    /// order-check: the state after at least this write.
    pub at_least: Option<u64>,
    /// Without O_DIRECT.
    pub buffered: bool,
}

/// Problems printed before the rest are only counted.
const MAX_SHOWN: usize = 50;

/// Writes the first [`MAX_SHOWN`] of `problems` as `<prefix>: <problem>`
/// lines, then how many more there are.
pub(crate) fn print_problems(
    out: &mut (dyn Write + Send),
    prefix: &str,
    problems: &[String],
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("stdout: {e}");
    for p in problems.iter().take(MAX_SHOWN) {
        writeln!(out, "{prefix}: {p}").map_err(io)?;
    }
    if problems.len() > MAX_SHOWN {
        writeln!(out, "{prefix}: ... and {} more", problems.len() - MAX_SHOWN).map_err(io)?;
    }
    Ok(())
}

fn required(o: &OrderOptions) -> Result<(String, u64, u64), String> {
    match (&o.dev, o.blocks, o.seed) {
        (Some(d), Some(n), Some(s)) if n > 0 => Ok((d.clone(), n, s)),
        (Some(_), Some(0), Some(_)) => Err("--blocks must be at least 1".to_string()),
        _ => Err("usage: --dev, --blocks and --seed are required".to_string()),
    }
}

/// Opens `dev` and checks that it has `blocks` blocks.
fn open_dev(dev: &str, blocks: u64, write: bool, buffered: bool) -> Result<std::fs::File, String> {
    let f = open(dev, write, !buffered).map_err(|e| format!("{dev}: {e}"))?;
    let size = blocks_of(&f).map_err(|e| format!("{dev}: {e}"))?;
    if size < blocks {
        return Err(format!(
            "{dev}: {size} blocks, fewer than --blocks {blocks}"
        ));
    }
    Ok(f)
}

/// `order-write`. Exit status 0 when all writes were done, 1 when a write
/// (or the log) failed.
pub fn cmd_write(
    o: &OrderOptions,
    out: &mut (dyn Write + Send),
    err: &mut dyn Write,
) -> Result<i32, String> {
    let (dev, blocks, seed) = required(o)?;
    if o.count.is_none() && o.duration_ms.is_none() {
        return Err("usage: --count or --duration-ms is required".to_string());
    }
    let first = o.first.unwrap_or(1);
    if first == 0 {
        return Err("--first must be at least 1".to_string());
    }
    let f = open_dev(&dev, blocks, true, o.buffered)?;
    let load = OrderLoad {
        seed,
        blocks,
        first,
        count: o.count,
        duration: o.duration_ms.map(Duration::from_millis),
    };
    let outcome = match &o.out {
        Some(path) => {
            let mut log = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| format!("{path}: {e}"))?;
            run(&f, &load, &mut log)
        }
        None => run(&f, &load, out),
    };
    let range = if outcome.done == 0 {
        "no writes".to_string()
    } else {
        format!("writes {first}..{}", outcome.last)
    };
    match outcome.error {
        None => {
            let _ = writeln!(err, "order-write: {range} done");
            Ok(0)
        }
        Some(e) => {
            let _ = writeln!(err, "order-write: {e} (after {range})");
            Ok(1)
        }
    }
}

/// `order-check`. Exit status 0 when the device is a prefix state, 1 when
/// it is not.
pub fn cmd_check(o: &OrderOptions, out: &mut (dyn Write + Send)) -> Result<i32, String> {
    let (dev, blocks, seed) = required(o)?;
    let Some(path) = &o.log else {
        return Err("usage: --log FILE is required".to_string());
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let log = crate::order_log::parse(&String::from_utf8_lossy(&bytes), seed, blocks)
        .map_err(|e| format!("{path}: {e}"))?;
    let f = open_dev(&dev, blocks, false, o.buffered)?;
    const CHUNK: u64 = 256;
    let (mut v, off) = aligned(CHUNK as usize * BLOCK_SIZE);
    let mut contents = Vec::with_capacity(blocks.min(1 << 24) as usize);
    let mut first = 0;
    while first < blocks {
        let n = (blocks - first).min(CHUNK);
        let buf = &mut v[off..off + n as usize * BLOCK_SIZE];
        f.read_exact_at(buf, first * BLOCK_SIZE as u64)
            .map_err(|e| format!("{dev}: reading blocks {first}..{}: {e}", first + n))?;
        for (k, data) in buf.chunks_exact(BLOCK_SIZE).enumerate() {
            contents.push(decode(seed, blocks, first + k as u64, data));
        }
        first += n;
    }
    let w = |out: &mut (dyn Write + Send), line: String| {
        writeln!(out, "order-check: {line}").map_err(|e| format!("stdout: {e}"))
    };
    let cut = if log.cut {
        " (a cut last log line was ignored)"
    } else {
        ""
    };
    match check(&contents, seed, blocks, &log, o.at_least.unwrap_or(0)) {
        Ok(v) => {
            w(out, format!("{v}{cut}"))?;
            Ok(0)
        }
        Err(problems) => {
            print_problems(out, "order-check", &problems)?;
            w(
                out,
                format!(
                    "FAILED: {dev} is not the state after a prefix of the run (seed {seed}, {blocks} blocks, {} logged writes{cut}): {} problem{}",
                    log.last,
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                ),
            )?;
            Ok(1)
        }
    }
}
