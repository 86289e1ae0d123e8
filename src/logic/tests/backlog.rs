//! The incremental backlog count against a plain walk of the entries.

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::logic::backlog::{Backlog, Behind, Look};

/// A log: entry `seq` is `log[seq - first]`, `Some((sectors, at_ms))`
/// when the link needs it.
struct Log {
    first: u64,
    entries: Vec<Option<(u64, u64)>>,
}

impl Log {
    fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }
    fn look(&self, seq: u64) -> Look {
        if seq < self.first || seq >= self.end() {
            return Look::Gone;
        }
        match self.entries[(seq - self.first) as usize] {
            Some((sectors, at_ms)) => Look::Needed { sectors, at_ms },
            None => Look::Skipped,
        }
    }
    /// The walk the counter replaces.
    fn walk(&self, start: u64, now: u64) -> Behind {
        let mut b = Behind::default();
        for seq in start.max(self.first)..self.end() {
            if let Look::Needed { sectors, at_ms } = self.look(seq) {
                if b.ios == 0 {
                    b.age_ms = now.saturating_sub(at_ms);
                }
                b.ios += 1;
                b.sectors += sectors;
            }
        }
        b
    }
}

#[test]
fn counts_arrivals_and_the_frontier() {
    let mut log = Log { first: 10, entries: Vec::new() };
    let mut b = Backlog::default();
    assert_eq!(b.update(10, 10, 100, |s| log.look(s)), Behind::default());
    log.entries.extend([Some((8, 50)), None, Some((16, 60)), Some((8, 70))]);
    assert_eq!(b.update(10, log.end(), 100, |s| log.look(s)), Behind { ios: 3, sectors: 32, age_ms: 50 });
    // The frontier passes the first two: the oldest is entry 12.
    assert_eq!(b.update(12, log.end(), 100, |s| log.look(s)), Behind { ios: 2, sectors: 24, age_ms: 40 });
    // Everything durable: nothing behind, no age.
    assert_eq!(b.update(14, log.end(), 100, |s| log.look(s)), Behind::default());
}

#[test]
fn recounts_when_an_uncounted_entry_is_gone() {
    let mut log = Log { first: 0, entries: vec![Some((8, 1)), Some((8, 2)), Some((8, 3))] };
    let mut b = Backlog::default();
    assert_eq!(b.update(0, 3, 10, |s| log.look(s)).ios, 3);
    // Entries 0 and 1 freed before the counter saw the frontier pass them.
    log.entries.drain(..2);
    log.first = 2;
    assert_eq!(b.update(2, 3, 10, |s| log.look(s)), Behind { ios: 1, sectors: 8, age_ms: 7 });
}

#[test]
fn invalidate_counts_again() {
    let mut log = Log { first: 0, entries: vec![Some((8, 1)), Some((8, 2))] };
    let mut b = Backlog::default();
    assert_eq!(b.update(0, 2, 10, |s| log.look(s)).ios, 2);
    // The link stops needing the first entry (its device forgotten).
    log.entries[0] = None;
    b.invalidate();
    assert_eq!(b.update(0, 2, 10, |s| log.look(s)), Behind { ios: 1, sectors: 8, age_ms: 8 });
}

/// One step of a link's life: entries arrive, the frontier moves, the
/// log frees entries, the link's needs change.
#[derive(Clone, Debug)]
enum Step {
    Append(Option<u64>),
    Advance(u64),
    Free(u64),
    /// The frontier moves and the log frees what it passed before the
    /// counter looks.
    AdvanceFree(u64),
    Forget,
    Look,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::option::of(1u64..256).prop_map(Step::Append),
        2 => (0u64..8).prop_map(Step::Advance),
        1 => (0u64..8).prop_map(Step::Free),
        1 => (0u64..8).prop_map(Step::AdvanceFree),
        1 => Just(Step::Forget),
        2 => Just(Step::Look),
    ]
}

proptest! {
    #[test]
    fn matches_a_walk(steps in prop::collection::vec(step(), 1..200)) {
        let mut log = Log { first: 0, entries: Vec::new() };
        let mut b = Backlog::default();
        let mut durable = 0u64;
        let mut now = 0u64;
        for s in steps {
            now += 1;
            match s {
                Step::Append(n) => log.entries.push(n.map(|sectors| (sectors, now))),
                Step::Advance(n) => durable = (durable + n).min(log.end()),
                Step::Free(n) => {
                    // Only what the link holds durably is freed.
                    let k = n.min(durable.saturating_sub(log.first)) as usize;
                    log.entries.drain(..k);
                    log.first += k as u64;
                }
                Step::AdvanceFree(n) => {
                    durable = (durable + n).min(log.end());
                    let k = durable.saturating_sub(log.first) as usize;
                    log.entries.drain(..k);
                    log.first += k as u64;
                }
                Step::Forget => {
                    for e in log.entries.iter_mut().filter(|e| e.is_some_and(|(s, _)| s % 3 == 0)) {
                        *e = None;
                    }
                    b.invalidate();
                }
                Step::Look => {}
            }
            let start = durable.max(log.first);
            let got = b.update(start, log.end(), now, |s| log.look(s));
            prop_assert_eq!(got, log.walk(start, now));
        }
    }
}
