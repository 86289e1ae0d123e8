//! `powercut check`: for each chosen cut of a trace, put the state it
//! leaves on real block devices, activate the group's tables on them
//! (recovery and replay run), and check what the application sees.
//!
//! At every cut:
//! 1. `replog check` of the log as the cut left it: clean, or only what
//!    recovery discards (a torn tail);
//! 2. the tables load, and every write acknowledged before the cut is
//!    there through the mapped devices (`crashwriter`'s verifier: a
//!    block holds its newest acknowledged write or a later one, whole or
//!    torn; a block never acknowledged holds zeroes or records of itself);
//! 3. after the tables are removed, `replog check` is clean and the local
//!    devices hold the same.
//!
//! With a remote site (`remote_image`: a trace device that keeps its
//! power and holds the remote copies of the load's devices back to back),
//! the copy as the cut left it must be in write order ([`order`]) unless
//! it was being resynchronised, and after activation the site link must
//! bring it level with the local devices by itself, every acknowledged
//! write included.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crashwriter::acks::AckLog;
use crashwriter::rng::Rng;
use crashwriter::verify::verify;
use crashwriter::writer::aligned;
use crashwriter::BLOCK_SIZE;
use dmr_logic::replog::checkpoint::slot_block;
use dmr_logic::replog::geometry::RING_START;

use crate::cut::{choose, marks_before, moments, Builder, LogLayout, Losses, Moment};
use crate::dm::{Control, Target};
use crate::order::{self, Order};
use crate::sys::flush_page_cache;
use crate::trace::Trace;

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckSpec {
    /// Scenario name, for the report.
    pub name: String,
    /// The block device that stands for each trace device.
    pub devs: Vec<String>,
    /// The tables, in creation order: (name, table line with `%N` for
    /// device N's path and `@NAME` for an earlier device's major:minor).
    pub tables: Vec<(String, String)>,
    /// The mapped devices the load wrote, in its `--dev` order.
    pub verify: Vec<String>,
    /// The trace devices under them (their local devices), same order.
    pub local: Vec<usize>,
    /// The trace device of the replication log.
    pub log: usize,
    /// Blocks the load used per device.
    pub blocks: u64,
    /// How many cuts.
    pub points: usize,
    /// Seed of the cut positions and of what each cut keeps.
    pub seed: u64,
    /// Acknowledgements from before the trace began.
    pub earlier_acks: String,
    /// The trace device of a remote site's copies (it keeps its power).
    pub remote_image: Option<usize>,
    /// The mapped devices of those copies, in the load's order.
    pub remote: Vec<String>,
    /// The copies were being resynchronised during the recording (out of
    /// write order, as a resync is): only their catching up is checked.
    pub resyncing: bool,
}

/// Seconds a remote copy gets to catch up after activation.
const CATCH_UP_SECS: u64 = 120;

/// Parses a tables file: `NAME START LEN TYPE ARGS...` per line; `#`
/// comments and blank lines are skipped.
pub fn parse_tables(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, table) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("tables: no table for {line}"))?;
        Target::parse(table)?;
        out.push((name.to_string(), table.trim().to_string()));
    }
    if out.is_empty() {
        return Err("tables: no tables".to_string());
    }
    Ok(out)
}

/// Substitutes `%N` and `@NAME` in a table line.
fn substitute(
    line: &str,
    devs: &[String],
    created: &BTreeMap<String, String>,
) -> Result<Target, String> {
    let words: Result<Vec<String>, String> = line
        .split_whitespace()
        .map(|w| {
            if let Some(n) = w.strip_prefix('%') {
                n.parse::<usize>()
                    .ok()
                    .and_then(|n| devs.get(n).cloned())
                    .ok_or_else(|| format!("tables: no device {w}"))
            } else if let Some(name) = w.strip_prefix('@') {
                created
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("tables: {w} is not created before"))
            } else {
                Ok(w.to_string())
            }
        })
        .collect();
    Target::parse(&words?.join(" "))
}

/// The `/dev/dm-N` paths of the created devices `names` (`numbers`:
/// their major:minor by name).
fn dm_paths(names: &[String], numbers: &BTreeMap<String, String>) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            let dev = numbers.get(n).map(String::as_str).unwrap_or("");
            format!("/dev/dm-{}", dev.rsplit(':').next().unwrap_or(""))
        })
        .collect()
}

/// The outcome of one cut.
struct Outcome {
    failure: Option<(String, Vec<String>)>,
}

struct Checker<'a> {
    spec: &'a CheckSpec,
    ctl: Control,
    files: Vec<File>,
    buf: (Vec<u8>, usize),
    /// Seconds spent in each phase of a check, over all cuts.
    phases: Phases,
}

/// Where a check's time goes, summed over the cuts: reported so a slow
/// run says what to make faster.
#[derive(Default)]
struct Phases {
    put: f64,
    precheck: f64,
    activate: f64,
    verify: f64,
    remove: f64,
    postcheck: f64,
    catch_up: f64,
}

impl Phases {
    fn line(&self, remote: bool) -> String {
        let catch_up = if remote {
            format!(", remote catch-up {:.0} s", self.catch_up)
        } else {
            String::new()
        };
        format!(
            "put {:.0} s, replog check {:.0} s, activation {:.0} s, verify {:.0} s{catch_up}, removal {:.0} s, checks after {:.0} s",
            self.put, self.precheck, self.activate, self.verify, self.remove, self.postcheck
        )
    }
}

/// Adds the seconds since `*t` to `slot` and restarts `*t`.
fn lap(t: &mut Instant, slot: &mut f64) {
    *slot += t.elapsed().as_secs_f64();
    *t = Instant::now();
}

const CHUNK_BLOCKS: usize = 64;

impl Checker<'_> {
    fn put_state(&self, images: &[Vec<u8>]) -> io::Result<()> {
        for (f, image) in self.files.iter().zip(images) {
            f.write_all_at(image, 0)?;
            f.sync_all()?;
            flush_page_cache(f)?;
        }
        Ok(())
    }

    /// `replog check` of the log device: its exit code and closing line.
    fn replog_check(&self) -> io::Result<(i32, String)> {
        flush_page_cache(&self.files[self.spec.log])?;
        let mut image = replog::image::Image::open(Path::new(&self.spec.devs[self.spec.log]), 0)?;
        let r = replog::check::check(&mut image);
        Ok((r.verdict.exit_code(), r.verdict.line()))
    }

    /// Verifies `paths` (in the load's device order) against `acks`;
    /// returns the violations (at most 5 listed) or a summary.
    fn verify(
        &mut self,
        paths: &[String],
        acks: &AckLog,
    ) -> io::Result<Result<String, Vec<String>>> {
        let table = match acks.table(&vec![self.spec.blocks; paths.len()]) {
            Ok(t) => t,
            Err(e) => return Ok(Err(vec![e])),
        };
        let files = paths
            .iter()
            .map(|p| crashwriter::writer::open(p, false, true))
            .collect::<io::Result<Vec<_>>>()?;
        let mut bad = Vec::new();
        let (v, off) = &mut self.buf;
        let st = verify(
            &table,
            CHUNK_BLOCKS,
            |dev, first, b| files[dev as usize].read_exact_at(b, first * BLOCK_SIZE as u64),
            |viol| {
                if bad.len() < 5 {
                    bad.push(viol.to_string());
                }
            },
            &mut v[*off..*off + CHUNK_BLOCKS * BLOCK_SIZE],
        )?;
        if st.bad > 0 {
            bad.push(format!("{} bad blocks of {}", st.bad, st.blocks));
            return Ok(Err(bad));
        }
        Ok(Ok(format!("{} acked, {} newer", st.acked, st.newer)))
    }

    /// Waits until each remote copy reads the same as its local device
    /// (`paths` and `remotes` pair up); returns the seconds it took, or
    /// the first copy that never did.
    fn catch_up(&self, paths: &[String], remotes: &[String]) -> io::Result<Result<f64, String>> {
        let t0 = Instant::now();
        let bytes = self.spec.blocks as usize * BLOCK_SIZE;
        let open = |p: &String| crashwriter::writer::open(p, false, true);
        let pairs = paths
            .iter()
            .zip(remotes)
            .map(|(a, b)| Ok((open(a)?, open(b)?)))
            .collect::<io::Result<Vec<_>>>()?;
        let (mut a, ao) = aligned(bytes);
        let (mut b, bo) = aligned(bytes);
        for (i, (local, remote)) in pairs.iter().enumerate() {
            loop {
                local.read_exact_at(&mut a[ao..ao + bytes], 0)?;
                remote.read_exact_at(&mut b[bo..bo + bytes], 0)?;
                if a[ao..ao + bytes] == b[bo..bo + bytes] {
                    break;
                }
                if t0.elapsed().as_secs() >= CATCH_UP_SECS {
                    return Ok(Err(format!(
                        "{} differs from {} after {CATCH_UP_SECS} s",
                        remotes[i], paths[i]
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        Ok(Ok(t0.elapsed().as_secs_f64()))
    }

    fn remove_all(&self, created: &[String]) -> Vec<String> {
        created
            .iter()
            .rev()
            .filter_map(|n| self.ctl.remove(n).err().map(|e| e.to_string()))
            .collect()
    }

    fn one(
        &mut self,
        images: &[Vec<u8>],
        acks: &AckLog,
        order: Option<Order>,
    ) -> io::Result<Outcome> {
        let fail = |why: String, details: Vec<String>| {
            Ok(Outcome {
                failure: Some((why, details)),
            })
        };
        if let Some(Order::Broken {
            shows,
            flush,
            violations,
        }) = order
        {
            return fail(
                format!("the remote copy shows write {shows}, issued after the flush of write {flush}, without what came before"),
                violations,
            );
        }
        let mut t = Instant::now();
        self.put_state(images)?;
        lap(&mut t, &mut self.phases.put);
        let (code, line) = self.replog_check()?;
        lap(&mut t, &mut self.phases.precheck);
        // Before the log's format is durable there is no log yet, and
        // nothing was acknowledged: the table's `auto` formats it again.
        if code > 1 && !(acks.acks.is_empty() && line.contains("No replication log")) {
            return fail(format!("replog check of the cut state: {line}"), vec![]);
        }
        let mut created: Vec<String> = Vec::new();
        let mut numbers = BTreeMap::new();
        for (name, line) in &self.spec.tables {
            let made = substitute(line, &self.spec.devs, &numbers)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
                .and_then(|t| self.ctl.create(name, &[t]));
            match made {
                Ok(dev) => {
                    numbers.insert(name.clone(), dev);
                    created.push(name.clone());
                }
                Err(e) => {
                    let left = self.remove_all(&created);
                    return fail(format!("activation: {e} (the kernel log says why)"), left);
                }
            }
        }
        lap(&mut t, &mut self.phases.activate);
        let mapped = dm_paths(&self.spec.verify, &numbers);
        let mut seen = self.verify(&mapped, acks);
        lap(&mut t, &mut self.phases.verify);
        if !self.spec.remote.is_empty() && matches!(seen, Ok(Ok(_))) {
            let remotes = dm_paths(&self.spec.remote, &numbers);
            let caught = self.catch_up(&mapped, &remotes);
            lap(&mut t, &mut self.phases.catch_up);
            seen = match caught {
                Err(e) => Err(e),
                Ok(Err(why)) => Ok(Err(vec![format!("remote copy: {why}")])),
                Ok(Ok(_)) => match self.verify(&remotes, acks) {
                    Ok(Err(mut v)) => {
                        v.insert(0, "remote copy after catching up:".to_string());
                        Ok(Err(v))
                    }
                    other => other,
                },
            };
        }
        let left = self.remove_all(&created);
        lap(&mut t, &mut self.phases.remove);
        match seen? {
            Err(v) => return fail("acknowledged writes missing after recovery".to_string(), v),
            Ok(_) if !left.is_empty() => return fail("dmsetup remove failed".to_string(), left),
            Ok(_) => {}
        }
        let (code, line) = self.replog_check()?;
        if code != 0 {
            return fail(format!("replog check after removal: {line}"), vec![]);
        }
        let locals: Vec<String> = self
            .spec
            .local
            .iter()
            .map(|&i| self.spec.devs[i].clone())
            .collect();
        let locals_ok = self.verify(&locals, acks)?;
        lap(&mut t, &mut self.phases.postcheck);
        if let Err(v) = locals_ok {
            return fail("local devices after removal differ".to_string(), v);
        }
        Ok(Outcome { failure: None })
    }
}

/// Checks `spec.points` cuts of `trace`; reports each failing cut and a
/// summary per moment on `out`. Returns the number of failed cuts.
pub fn check(trace: &Trace, spec: &CheckSpec, out: &mut dyn Write) -> io::Result<usize> {
    if spec.devs.len() != trace.initial.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the trace has {} devices, {} given",
                trace.initial.len(),
                spec.devs.len()
            ),
        ));
    }
    let mut files = Vec::new();
    for (path, image) in spec.devs.iter().zip(&trace.initial) {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        let size = crashwriter::writer::blocks_of(&f)? * BLOCK_SIZE as u64;
        if size < image.len() as u64 {
            return Err(io::Error::other(format!(
                "{path}: {size} bytes, the trace needs {}",
                image.len()
            )));
        }
        files.push(f);
    }
    let mut ck = Checker {
        spec,
        ctl: Control::open()?,
        files,
        buf: aligned(CHUNK_BLOCKS * BLOCK_SIZE),
        phases: Phases::default(),
    };
    let layout = LogLayout {
        dev: spec.log as u8,
        start: 0,
        checkpoint_blocks: [slot_block(0), slot_block(1)],
        ring_start: RING_START,
    };
    let moments = moments(trace, &layout);
    let mut rng = Rng::new(spec.seed);
    let picks = choose(&moments, spec.points, &mut rng);
    let powered: Vec<usize> = spec.remote_image.into_iter().collect();
    let mut builder = Builder::new(trace).powered(&powered);
    let mut per: BTreeMap<Moment, (u64, u64)> = BTreeMap::new();
    let mut total = Losses::default();
    let (mut failed, t0) = (0, Instant::now());
    let mut remote_required = 0usize;
    for (k, &at) in picks.iter().enumerate() {
        let (images, losses) = builder.state(at, &mut rng);
        total.kept += losses.kept;
        total.lost += losses.lost;
        total.torn += losses.torn;
        let mut acks = AckLog::parse(&spec.earlier_acks);
        acks.add_text(&marks_before(trace, at));
        let order = match spec.remote_image.filter(|_| !spec.resyncing) {
            Some(r) => Some(
                order::check(trace, at, &images[r], spec.blocks, spec.verify.len())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            ),
            None => None,
        };
        if let Some(Order::Held { required, .. }) = order {
            remote_required += required;
        }
        let o = ck.one(&images, &acks, order)?;
        let m = moments[at];
        let slot = per.entry(m).or_default();
        slot.0 += 1;
        if let Some((why, details)) = o.failure {
            slot.1 += 1;
            failed += 1;
            writeln!(
                out,
                "powercut {}: FAIL cut {k} after event {at} of {} ({}; {} acks; volatile writes {} kept, {} lost, {} torn): {why}",
                spec.name,
                trace.events.len(),
                m.name(),
                acks.acks.len(),
                losses.kept,
                losses.lost,
                losses.torn
            )?;
            for d in details {
                writeln!(out, "    {d}")?;
            }
        }
    }
    let moments_line: Vec<String> = per
        .iter()
        .map(|(m, (n, f))| {
            if *f > 0 {
                format!("{} {n} ({f} failed)", m.name())
            } else {
                format!("{} {n}", m.name())
            }
        })
        .collect();
    writeln!(
        out,
        "powercut {}: {} cuts of {} events in {:.0} s, {} failed; by moment: {}; volatile writes {} kept, {} lost, {} torn",
        spec.name,
        picks.len(),
        trace.events.len(),
        t0.elapsed().as_secs_f64(),
        failed,
        moments_line.join(", "),
        total.kept,
        total.lost,
        total.torn
    )?;
    if spec.remote_image.is_some() && !spec.resyncing {
        writeln!(
            out,
            "powercut {}: remote copies in write order: {} acknowledged writes required before the flushes they showed writes after",
            spec.name, remote_required
        )?;
    }
    writeln!(
        out,
        "powercut {}: time: {}",
        spec.name,
        ck.phases.line(spec.remote_image.is_some())
    )?;
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_substitution() {
        let t = parse_tables("# group\nrepl 0 8 replicator ringbuffer 4 %0 0 auto 4096 blockdev 2 0 synchronous\n\ndata0 0 8 replicator-dev @repl 0 0 1 %1 nolog 0\n").unwrap();
        assert_eq!(t.len(), 2);
        let devs = vec!["/dev/ram0".to_string(), "/dev/ram1".to_string()];
        let mut made = BTreeMap::new();
        assert!(substitute(&t[1].1, &devs, &made).is_err());
        made.insert("repl".to_string(), "253:0".to_string());
        let d = substitute(&t[1].1, &devs, &made).unwrap();
        assert_eq!(d.args, "253:0 0 0 1 /dev/ram1 nolog 0");
        assert!(substitute("0 8 linear %7 0", &devs, &made).is_err());
        assert!(parse_tables("").is_err());
        assert!(parse_tables("x 0 y linear").is_err());
    }
}
