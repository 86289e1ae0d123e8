//! Command line: `powercut record|check|state`.
//!
//! Exit status: 0 done (check: every cut passed); 1 a cut failed; 2 the
//! command could not run.

use std::io::Write;

use crashwriter::rng::Rng;

use crate::check::{check, parse_tables, CheckSpec};
use crate::cut::{marks_before, Builder};
use crate::record::{record, DeviceSpec};
use crate::trace::{Event, Trace};

/// Usage text.
pub const USAGE: &str = "\
usage: powercut record --dev NBD=SIZE[:IMAGE]... --marks FIFO --out TRACE
       powercut check --trace TRACE --dev DEV... --tables FILE --verify NAME...
                      --local N... --log N --blocks B --points P --seed S
                      [--acks FILE] [--name NAME]
                      [--remote-image N --remote NAME... [--resyncing]]
       powercut state --trace TRACE --seed S --out PREFIX [--acks FILE]

record  connects each /dev/nbdN (SIZE bytes, K or M suffix; contents from
        IMAGE or zeroes) and serves it from memory, recording every write,
        flush and FUA in the order they completed; every 'A ...'/'F ...'
        line read from FIFO is recorded as a mark where it was read. A line
        'end' disconnects the devices (close them first) and writes TRACE.
check   builds the states P cuts of TRACE leave, puts each on the DEVs
        (trace device i on the i-th), creates the tables of FILE (lines
        'NAME START LEN TYPE ARGS', %i: the i-th DEV, @NAME: an earlier
        table's major:minor), verifies the mapped devices NAME (the load's
        devices in order) against the acks before the cut (and FILE's of
        --acks), removes the tables, then requires a clean log on trace
        device --log and the same data on the trace devices --local.
state   writes the state of a cut right after the last mark of TRACE to
        PREFIX.N (one file per device) and the acks before it to
        PREFIX.acks (with those of --acks first).
";

#[derive(Default)]
struct Options {
    devs: Vec<String>,
    verify: Vec<String>,
    local: Vec<usize>,
    marks: Option<String>,
    out: Option<String>,
    trace: Option<String>,
    tables: Option<String>,
    acks: Option<String>,
    name: Option<String>,
    log: Option<usize>,
    blocks: Option<u64>,
    points: Option<usize>,
    seed: Option<u64>,
    remote_image: Option<usize>,
    remote: Vec<String>,
    resyncing: bool,
}

fn num<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let flag = a.as_str();
        if !allowed.contains(&flag) {
            return Err(format!("unexpected argument {flag}"));
        }
        let mut text = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--dev" => o.devs.push(text()?),
            "--verify" => o.verify.push(text()?),
            "--marks" => o.marks = Some(text()?),
            "--out" => o.out = Some(text()?),
            "--trace" => o.trace = Some(text()?),
            "--tables" => o.tables = Some(text()?),
            "--acks" => o.acks = Some(text()?),
            "--name" => o.name = Some(text()?),
            "--local" => o.local.push(num(flag, it.next())?),
            "--log" => o.log = Some(num(flag, it.next())?),
            "--blocks" => o.blocks = Some(num(flag, it.next())?),
            "--points" => o.points = Some(num(flag, it.next())?),
            "--seed" => o.seed = Some(num(flag, it.next())?),
            "--remote-image" => o.remote_image = Some(num(flag, it.next())?),
            "--remote" => o.remote.push(text()?),
            "--resyncing" => o.resyncing = true,
            _ => return Err(format!("unexpected argument {flag}")),
        }
    }
    Ok(o)
}

fn need<T: Clone>(v: &Option<T>, flag: &str) -> Result<T, String> {
    v.clone()
        .ok_or_else(|| format!("usage: {flag} is required"))
}

fn load_trace(o: &Options) -> Result<Trace, String> {
    let path = need(&o.trace, "--trace")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    Trace::decode(&bytes).map_err(|e| format!("{path}: {e}"))
}

fn read_acks(o: &Options) -> Result<String, String> {
    match &o.acks {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}")),
        None => Ok(String::new()),
    }
}

fn cmd_record(o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let devs = o
        .devs
        .iter()
        .map(|d| DeviceSpec::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    if devs.is_empty() || devs.len() > 8 {
        return Err("usage: one to eight --dev".to_string());
    }
    record(
        &devs,
        &need(&o.marks, "--marks")?,
        &need(&o.out, "--out")?,
        out,
    )
    .map_err(|e| e.to_string())?;
    Ok(0)
}

fn cmd_check(o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let trace = load_trace(o)?;
    let tables_path = need(&o.tables, "--tables")?;
    let text = std::fs::read_to_string(&tables_path).map_err(|e| format!("{tables_path}: {e}"))?;
    let spec = CheckSpec {
        name: o.name.clone().unwrap_or_else(|| "check".to_string()),
        devs: o.devs.clone(),
        tables: parse_tables(&text)?,
        verify: o.verify.clone(),
        local: o.local.clone(),
        log: need(&o.log, "--log")?,
        blocks: need(&o.blocks, "--blocks")?,
        points: need(&o.points, "--points")?,
        seed: need(&o.seed, "--seed")?,
        earlier_acks: read_acks(o)?,
        remote_image: o.remote_image,
        remote: o.remote.clone(),
        resyncing: o.resyncing,
    };
    if spec.verify.is_empty() || spec.verify.len() != spec.local.len() {
        return Err("usage: as many --local as --verify, at least one".to_string());
    }
    if spec.log >= spec.devs.len() || spec.local.iter().any(|&l| l >= spec.devs.len()) {
        return Err("usage: --log and --local name trace devices".to_string());
    }
    if spec.remote_image.is_some_and(|r| r >= spec.devs.len()) {
        return Err("usage: --remote-image names a trace device".to_string());
    }
    if spec.remote_image.is_none() != spec.remote.is_empty()
        || (!spec.remote.is_empty() && spec.remote.len() != spec.verify.len())
    {
        return Err("usage: --remote-image with as many --remote as --verify".to_string());
    }
    if spec.resyncing && spec.remote_image.is_none() {
        return Err("usage: --resyncing needs --remote-image".to_string());
    }
    let failed = check(&trace, &spec, out).map_err(|e| e.to_string())?;
    Ok(if failed > 0 { 1 } else { 0 })
}

fn cmd_state(o: &Options, out: &mut dyn Write) -> Result<i32, String> {
    let trace = load_trace(o)?;
    let prefix = need(&o.out, "--out")?;
    let at = trace
        .events
        .iter()
        .rposition(|e| matches!(e, Event::Mark(_)))
        .map_or(0, |i| i + 1);
    let (images, l) = Builder::new(&trace).state(at, &mut Rng::new(need(&o.seed, "--seed")?));
    for (i, image) in images.iter().enumerate() {
        std::fs::write(format!("{prefix}.{i}"), image).map_err(|e| format!("{prefix}.{i}: {e}"))?;
    }
    let acks = read_acks(o)? + &marks_before(&trace, at);
    std::fs::write(format!("{prefix}.acks"), &acks).map_err(|e| format!("{prefix}.acks: {e}"))?;
    let _ = writeln!(
        out,
        "powercut: state after event {at} of {}: volatile writes {} kept, {} lost, {} torn",
        trace.events.len(),
        l.kept,
        l.lost,
        l.torn
    );
    Ok(0)
}

/// Runs `powercut` with `args`; returns the exit status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some((cmd, rest)) = args.split_first() else {
        let _ = err.write_all(USAGE.as_bytes());
        return 2;
    };
    let allowed: &[&str] = match cmd.as_str() {
        "record" => &["--dev", "--marks", "--out"],
        "check" => &[
            "--trace",
            "--dev",
            "--tables",
            "--verify",
            "--local",
            "--log",
            "--blocks",
            "--points",
            "--seed",
            "--acks",
            "--name",
            "--remote-image",
            "--remote",
            "--resyncing",
        ],
        "state" => &["--trace", "--seed", "--out", "--acks"],
        "help" | "--help" | "-h" => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
        other => {
            let _ = writeln!(err, "powercut: unknown command {other}\n{USAGE}");
            return 2;
        }
    };
    let r = parse(rest, allowed).and_then(|o| match cmd.as_str() {
        "record" => cmd_record(&o, out),
        "check" => cmd_check(&o, out),
        _ => cmd_state(&o, out),
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "powercut {cmd}: {e}");
            if e.starts_with("usage") || e.starts_with("unexpected") {
                let _ = err.write_all(USAGE.as_bytes());
            }
            2
        }
    }
}
