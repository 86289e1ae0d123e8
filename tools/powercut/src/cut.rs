//! The states a power cut leaves, built from a trace.
//!
//! A cut after the first `at` events of a trace leaves, on each device:
//! - every write that a later flush of that device (before the cut)
//!   covered, and every FUA write: these are durable;
//! - of the writes since that device's last flush, each one whole, not at
//!   all, or torn (any subset of its 512-byte sectors), chosen at random
//!   per write;
//! - nothing of what came after the cut;
//! - on a device that keeps its power (a remote site's, when only the
//!   primary loses it), every write before the cut.
//!
//! Writes are applied in trace order, so a sector holds the newest of the
//! versions that survived: a device never brings back an older version
//! over a newer one it had already made durable. A cut right after a
//! mark is the earliest point where that mark's acknowledgement must
//! hold.

use crashwriter::rng::Rng;

use crate::trace::{Event, Trace, SECTOR};

/// What a cut did to the writes that were not yet durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Volatile writes kept whole.
    pub kept: u64,
    /// Volatile writes lost.
    pub lost: u64,
    /// Volatile writes torn.
    pub torn: u64,
}

/// Builds the states of cuts in increasing order of `at`.
pub struct Builder<'t> {
    trace: &'t Trace,
    /// Per device: every write before `durable_upto` applied.
    base: Vec<Vec<u8>>,
    durable_upto: Vec<usize>,
    /// Per device: the index of its last flush among the events scanned.
    last_flush: Vec<usize>,
    scanned: usize,
    /// Per device: it keeps its power (a remote site's device): every
    /// write before the cut is there.
    powered: Vec<bool>,
}

impl<'t> Builder<'t> {
    /// A builder at the start of `trace`.
    pub fn new(trace: &'t Trace) -> Self {
        let n = trace.initial.len();
        Builder {
            trace,
            base: trace.initial.clone(),
            durable_upto: vec![0; n],
            last_flush: vec![0; n],
            scanned: 0,
            powered: vec![false; n],
        }
    }

    /// The same, with the devices of `powered` keeping their power.
    pub fn powered(mut self, powered: &[usize]) -> Self {
        for &d in powered {
            if let Some(p) = self.powered.get_mut(d) {
                *p = true;
            }
        }
        self
    }

    /// The device images a cut after the first `at` events leaves (`at`
    /// at most the number of events, and never below an earlier call's).
    pub fn state(&mut self, at: usize, rng: &mut Rng) -> (Vec<Vec<u8>>, Losses) {
        let at = at.min(self.trace.events.len());
        let at = at.max(self.scanned);
        for i in self.scanned..at {
            if let Event::Flush { dev } = self.trace.events[i] {
                self.last_flush[dev as usize] = i;
            }
        }
        self.scanned = at;
        for dev in 0..self.base.len() {
            let upto = self.last_flush[dev].max(self.durable_upto[dev]);
            for i in self.durable_upto[dev]..upto {
                if let Event::Write {
                    dev: d,
                    offset,
                    data,
                    ..
                } = &self.trace.events[i]
                {
                    if *d as usize == dev {
                        put(&mut self.base[dev], *offset, data);
                    }
                }
            }
            self.durable_upto[dev] = upto;
        }
        let mut images = self.base.clone();
        let mut losses = Losses::default();
        let from = self.durable_upto.iter().copied().min().unwrap_or(at);
        for i in from..at {
            let Event::Write {
                dev,
                offset,
                fua,
                data,
            } = &self.trace.events[i]
            else {
                continue;
            };
            let dev = *dev as usize;
            if i < self.durable_upto[dev] {
                continue;
            }
            let image = &mut images[dev];
            if *fua || self.powered[dev] {
                put(image, *offset, data);
                continue;
            }
            match rng.below(10) {
                0..=3 => {
                    losses.kept += 1;
                    put(image, *offset, data);
                }
                4..=6 => losses.lost += 1,
                _ => {
                    losses.torn += 1;
                    for (s, sector) in data.chunks(SECTOR).enumerate() {
                        if rng.below(2) == 0 {
                            put(image, *offset + (s * SECTOR) as u64, sector);
                        }
                    }
                }
            }
        }
        (images, losses)
    }
}

fn put(image: &mut [u8], offset: u64, data: &[u8]) {
    // Trace::decode checked every extent against the device size.
    let at = offset as usize;
    if let Some(dst) = image.get_mut(at..at + data.len()) {
        dst.copy_from_slice(data);
    }
}

/// The lines of every mark among the first `at` events.
pub fn marks_before(trace: &Trace, at: usize) -> String {
    let mut text = String::new();
    for e in trace.events.iter().take(at) {
        if let Event::Mark(line) = e {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Where in the log's life a cut falls, from the writes to the log
/// device (`log`) before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Moment {
    /// A checkpoint naming a new ring size (`replog resize`) was in
    /// flight or had just landed.
    Resize,
    /// A checkpoint write was in flight or had just landed.
    Checkpoint,
    /// The ring had just wrapped: the newest entry write went below the
    /// previous one.
    Wrap,
    /// Entry writes were not yet flushed: a group commit in flight.
    Commit,
    /// Only writes to other devices (local applies, replay) were volatile.
    Apply,
    /// Everything before the cut was durable.
    Quiet,
}

impl Moment {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Moment::Resize => "resize",
            Moment::Checkpoint => "checkpoint",
            Moment::Wrap => "ring wrap",
            Moment::Commit => "group commit",
            Moment::Apply => "apply",
            Moment::Quiet => "quiet",
        }
    }
}

/// Which blocks of the log device are what.
#[derive(Clone, Copy, Debug)]
pub struct LogLayout {
    /// Trace device index of the log device.
    pub dev: u8,
    /// Byte offset of the log on that device.
    pub start: u64,
    /// Log blocks of the two checkpoint slots.
    pub checkpoint_blocks: [u64; 2],
    /// First log block of the ring.
    pub ring_start: u64,
}

/// How many events back a checkpoint or wrap still counts as "just".
const RECENT: usize = 8;

/// What a write to the log device is, where it matters to a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Landmark {
    /// A checkpoint with the same ring size as the one before.
    Checkpoint,
    /// A checkpoint with another ring size.
    Resize,
    /// A ring write below the previous one.
    Wrap,
}

/// Byte offset of the ring size in a checkpoint block.
const CHECKPOINT_RING_BLOCKS: usize = 32;

/// What each event is for the log (`None`: nothing of note).
fn landmarks(trace: &Trace, log: &LogLayout) -> Vec<Option<Landmark>> {
    let mut last_ring: Option<u64> = None;
    let mut ring_size: Option<u64> = None;
    trace
        .events
        .iter()
        .map(|e| {
            let Event::Write {
                dev, offset, data, ..
            } = e
            else {
                return None;
            };
            if *dev != log.dev || *offset < log.start {
                return None;
            }
            let block = (offset - log.start) / crate::trace::BLOCK as u64;
            if log.checkpoint_blocks.contains(&block) {
                // A write from the block's start holds the ring size.
                let at_start = (offset - log.start).is_multiple_of(crate::trace::BLOCK as u64);
                let size = data
                    .get(CHECKPOINT_RING_BLOCKS..CHECKPOINT_RING_BLOCKS + 8)
                    .filter(|_| at_start)
                    .map(|b| {
                        b.iter()
                            .rev()
                            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
                    });
                let resized = matches!((ring_size, size), (Some(a), Some(b)) if a != b && b != 0);
                if size.is_some_and(|b| b != 0) {
                    ring_size = size;
                }
                return Some(if resized {
                    Landmark::Resize
                } else {
                    Landmark::Checkpoint
                });
            }
            if block < log.ring_start {
                return None;
            }
            let wrapped = last_ring.is_some_and(|b| block < b);
            last_ring = Some(block);
            wrapped.then_some(Landmark::Wrap)
        })
        .collect()
}

/// The moment each cut position `at` (0..=events) falls in.
pub fn moments(trace: &Trace, log: &LogLayout) -> Vec<Moment> {
    let marks = landmarks(trace, log);
    let mut out = Vec::with_capacity(trace.events.len() + 1);
    let mut since_flush: Vec<bool> = vec![false; trace.initial.len()];
    let (mut last_cp, mut last_resize, mut last_wrap) =
        (None::<usize>, None::<usize>, None::<usize>);
    out.push(Moment::Quiet);
    for (i, e) in trace.events.iter().enumerate() {
        match e {
            Event::Flush { dev } => since_flush[*dev as usize] = false,
            Event::Write {
                dev, fua: false, ..
            } => since_flush[*dev as usize] = true,
            _ => {}
        }
        match marks[i] {
            Some(Landmark::Checkpoint) => last_cp = Some(i),
            Some(Landmark::Resize) => last_resize = Some(i),
            Some(Landmark::Wrap) => last_wrap = Some(i),
            None => {}
        }
        let recent = |x: Option<usize>| x.is_some_and(|x| i - x < RECENT);
        let log_dirty = since_flush.get(log.dev as usize).copied().unwrap_or(false);
        let other_dirty = since_flush
            .iter()
            .enumerate()
            .any(|(d, &v)| v && d != log.dev as usize);
        out.push(if recent(last_resize) {
            Moment::Resize
        } else if recent(last_cp) {
            Moment::Checkpoint
        } else if recent(last_wrap) {
            Moment::Wrap
        } else if log_dirty {
            Moment::Commit
        } else if other_dirty {
            Moment::Apply
        } else {
            Moment::Quiet
        });
    }
    out
}

/// `count` cut positions in 1..=events, ascending: one in each of
/// `count` equal stretches of the trace, except that up to a third go to
/// the rarer moments (resizes, checkpoints and wraps), shared among them,
/// so each gets its share.
pub fn choose(moments: &[Moment], count: usize, rng: &mut Rng) -> Vec<usize> {
    let n = moments.len().saturating_sub(1);
    if n == 0 || count == 0 {
        return Vec::new();
    }
    let mut picks = Vec::with_capacity(count);
    let rare_kinds = [Moment::Resize, Moment::Checkpoint, Moment::Wrap];
    let mut budget = count / 3;
    for (k, kind) in rare_kinds.iter().enumerate() {
        let mut pool: Vec<usize> = (1..=n).filter(|&at| moments[at] == *kind).collect();
        // What a kind cannot use goes to the kinds after it.
        let want = (budget / (rare_kinds.len() - k)).min(pool.len());
        for _ in 0..want {
            let i = rng.below(pool.len() as u64) as usize;
            picks.push(pool.swap_remove(i));
        }
        budget -= want;
    }
    let rest = count - picks.len();
    for k in 0..rest {
        let lo = 1 + k * n / rest;
        let hi = (1 + (k + 1) * n / rest).max(lo + 1).min(n + 1);
        picks.push(lo + rng.below((hi - lo) as u64) as usize);
    }
    picks.sort_unstable();
    picks.dedup();
    picks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(dev: u8, offset: u64, fua: bool, byte: u8) -> Event {
        Event::Write {
            dev,
            offset,
            fua,
            data: vec![byte; 1024],
        }
    }

    fn trace() -> Trace {
        Trace {
            initial: vec![vec![0; 4096], vec![0; 4096]],
            events: vec![
                w(0, 0, false, 1),       // 0: flushed by 2
                w(1, 0, false, 2),       // 1: never flushed
                Event::Flush { dev: 0 }, // 2
                w(0, 1024, false, 3),    // 3: volatile
                w(0, 2048, true, 4),     // 4: FUA
                Event::Mark("A 1 0 0 1".into()),
                w(0, 0, false, 5), // 6: volatile over a durable sector
            ],
        }
    }

    #[test]
    fn durable_writes_always_survive() {
        let t = trace();
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let mut b = Builder::new(&t);
            let (img, _) = b.state(7, &mut rng);
            // Write 0 is durable; write 6 may have replaced it, whole or in part.
            for s in 0..2 {
                let x = img[0][s * 512];
                assert!(x == 1 || x == 5, "seed {seed}: sector {s} holds {x}");
            }
            assert!(img[0][2048..3072].iter().all(|&x| x == 4), "FUA write lost");
            for s in 0..2 {
                let x = img[0][1024 + s * 512];
                assert!(x == 0 || x == 3);
                let y = img[1][s * 512];
                assert!(y == 0 || y == 2);
            }
        }
    }

    #[test]
    fn every_fate_happens_and_nothing_after_the_cut() {
        let t = trace();
        let (mut zero, mut three) = (false, false);
        for seed in 0..200 {
            let mut b = Builder::new(&t);
            let (img, l) = b.state(4, &mut Rng::new(seed));
            assert_eq!(l.kept + l.lost + l.torn, 2);
            assert!(
                img[0][2048..3072].iter().all(|&x| x == 0),
                "write after the cut landed"
            );
            assert!(img[0][..1024].iter().all(|&x| x == 1));
            zero |= img[0][1024] == 0;
            three |= img[0][1024] == 3;
        }
        assert!(zero && three);
    }

    #[test]
    fn increasing_cuts_match_fresh_builders() {
        let t = trace();
        let mut b = Builder::new(&t);
        for at in 0..=7 {
            let (inc, _) = b.state(at, &mut Rng::new(at as u64));
            let (fresh, _) = Builder::new(&t).state(at, &mut Rng::new(at as u64));
            assert_eq!(inc, fresh, "at {at}");
        }
    }

    #[test]
    fn marks_and_moments() {
        let t = trace();
        assert_eq!(marks_before(&t, 5), "");
        assert_eq!(marks_before(&t, 6), "A 1 0 0 1\n");
        let log = LogLayout {
            dev: 0,
            start: 0,
            checkpoint_blocks: [5, 6],
            ring_start: 0,
        };
        let m = moments(&t, &log);
        assert_eq!(m.len(), 8);
        assert_eq!(m[1], Moment::Commit);
        assert_eq!(m[3], Moment::Apply);
        let picks = choose(&m, 4, &mut Rng::new(1));
        assert!(!picks.is_empty());
        assert!(!picks.is_empty() && picks.windows(2).all(|p| p[0] < p[1]));
        assert!(picks.iter().all(|&p| (1..=7).contains(&p)));
    }

    fn checkpoint(offset: u64, ring_blocks: u64) -> Event {
        let mut data = vec![0u8; 4096];
        data[CHECKPOINT_RING_BLOCKS..CHECKPOINT_RING_BLOCKS + 8]
            .copy_from_slice(&ring_blocks.to_le_bytes());
        Event::Write {
            dev: 0,
            offset,
            fua: true,
            data,
        }
    }

    #[test]
    fn a_checkpoint_with_a_new_ring_size_is_a_resize() {
        let t = Trace {
            initial: vec![vec![0; 16 * 4096]],
            events: vec![
                checkpoint(4096, 100),
                w(0, 3 * 4096, false, 1),
                checkpoint(2 * 4096, 100),
                checkpoint(4096, 150),
            ],
        };
        let log = LogLayout {
            dev: 0,
            start: 0,
            checkpoint_blocks: [1, 2],
            ring_start: 3,
        };
        let m = moments(&t, &log);
        assert_eq!(m[1], Moment::Checkpoint);
        assert_eq!(m[3], Moment::Checkpoint);
        assert_eq!(m[4], Moment::Resize);
        let picks = choose(&m, 9, &mut Rng::new(7));
        assert!(
            picks.contains(&4),
            "the only resize cut is taken: {picks:?}"
        );
    }

    #[test]
    fn a_powered_device_keeps_every_write() {
        let t = trace();
        for seed in 0..50 {
            let (img, _) = Builder::new(&t).powered(&[1]).state(7, &mut Rng::new(seed));
            assert!(img[1][..1024].iter().all(|&x| x == 2), "seed {seed}");
        }
    }
}
