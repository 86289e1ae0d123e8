//! The range lock's counters against the overlaps they stand for.

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::logic::unapplied::{bucket, Cells, BUCKETS};

/// The table as the log keeps it, in plain integers.
struct Table {
    buckets: Vec<u32>,
    wide: u32,
    total: u32,
}

impl Table {
    fn new() -> Table {
        Table { buckets: vec![0; BUCKETS], wide: 0, total: 0 }
    }
    fn enter(&mut self, dev: u32, sector: u64, sectors: u32) {
        let cells = Cells::entry(dev, sector, sectors);
        match cells {
            Cells::Nothing => return,
            Cells::Wide => self.wide += 1,
            Cells::Chunks { .. } => cells.buckets().for_each(|b| self.buckets[b] += 1),
        }
        self.total += 1;
    }
    fn leave(&mut self, dev: u32, sector: u64, sectors: u32) {
        let cells = Cells::entry(dev, sector, sectors);
        match cells {
            Cells::Nothing => return,
            Cells::Wide => self.wide -= 1,
            Cells::Chunks { .. } => cells.buckets().for_each(|b| self.buckets[b] -= 1),
        }
        self.total -= 1;
    }
    /// The read side, as `Unapplied::blocks`.
    fn blocks(&self, dev: u32, sector: u64, sectors: u32) -> bool {
        if self.total == 0 {
            return false;
        }
        match Cells::read(dev, sector, sectors) {
            Cells::Nothing => false,
            Cells::Wide => true,
            cells => self.wide != 0 || cells.buckets().any(|b| self.buckets[b] != 0),
        }
    }
}

fn overlaps(a: (u32, u64, u32), b: (u32, u64, u32)) -> bool {
    a.0 == b.0 && a.2 > 0 && b.2 > 0 && a.1 < b.1 + u64::from(b.2) && b.1 < a.1 + u64::from(a.2)
}

#[test]
fn chunks_of_a_range() {
    assert_eq!(Cells::entry(3, 127, 1), Cells::Chunks { dev: 3, first: 0, last: 0 });
    assert_eq!(Cells::entry(3, 127, 2), Cells::Chunks { dev: 3, first: 0, last: 1 });
    assert_eq!(Cells::entry(0, 128 * 5, 128 * 8), Cells::Chunks { dev: 0, first: 5, last: 12 });
    assert_eq!(Cells::entry(0, 128 * 5, 128 * 8 + 1), Cells::Wide);
    assert_eq!(Cells::read(0, 128 * 5, 128 * 8 + 1), Cells::Chunks { dev: 0, first: 5, last: 13 });
    assert_eq!(Cells::read(0, 0, 128 * 64 + 1), Cells::Wide);
    assert_eq!(Cells::entry(0, 77, 0), Cells::Nothing);
    assert_eq!(Cells::entry(0, 77, 0).buckets().count(), 0);
    // The end of the device does not overflow.
    assert_eq!(Cells::entry(1, u64::MAX, 8), Cells::Chunks { dev: 1, first: u64::MAX >> 7, last: u64::MAX >> 7 });
    assert!(bucket(7, u64::MAX) < BUCKETS);
}

#[test]
fn a_read_waits_for_its_write_only_while_it_is_counted() {
    let mut t = Table::new();
    t.enter(0, 4096, 8);
    assert!(t.blocks(0, 4096, 8));
    assert!(t.blocks(0, 4100, 1));
    assert!(!t.blocks(0, 0, 8), "another chunk of the device");
    t.enter(1, 0, 1 << 20);
    assert!(t.blocks(2, 0, 8), "a wide entry holds every read");
    t.leave(1, 0, 1 << 20);
    t.leave(0, 4096, 8);
    assert!(!t.blocks(0, 4096, 8));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every read that overlaps a counted entry waits; once every entry
    /// left, none does.
    #[test]
    fn overlapping_reads_wait(
        entries in proptest::collection::vec((0u32..4, 0u64..1 << 22, prop_oneof![1u32..=256, 1u32..=1 << 16]), 1..24),
        reads in proptest::collection::vec((0u32..4, 0u64..1 << 22, prop_oneof![1u32..=256, 1u32..=1 << 14]), 1..24),
    ) {
        let mut t = Table::new();
        for &(d, s, n) in &entries {
            t.enter(d, s, n);
        }
        for &r in &reads {
            if entries.iter().any(|&e| overlaps(e, r)) {
                prop_assert!(t.blocks(r.0, r.1, r.2), "read {:?} not held", r);
            }
        }
        for &(d, s, n) in &entries {
            t.leave(d, s, n);
        }
        prop_assert_eq!(t.total, 0);
        prop_assert_eq!(t.wide, 0);
        prop_assert!(t.buckets.iter().all(|&c| c == 0));
        for &r in &reads {
            prop_assert!(!t.blocks(r.0, r.1, r.2));
        }
    }
}
