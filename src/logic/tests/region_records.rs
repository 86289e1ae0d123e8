//! Region records on their way to a dirty log, against a model: the
//! newest record of a region wins, they leave oldest first, and the
//! counts follow.

use std::vec::Vec;

use proptest::prelude::*;

use crate::logic::region_records::{RegionRecords, BATCH, RECORDS};

fn records() -> RegionRecords<Vec<(u64, bool)>> {
    RegionRecords::new(std::vec![(0, false); RECORDS])
}

#[test]
fn newest_record_wins() {
    let mut r = records();
    assert!(r.is_empty());
    assert!(r.push(5, false));
    assert!(r.push(5, true));
    assert!(r.push(7, false));
    assert_eq!(r.lookup(5), Some(true));
    assert_eq!(r.lookup(7), Some(false));
    assert_eq!(r.lookup(6), None);
    assert_eq!((r.len(), r.outs(), r.ins()), (3, 2, 1));
}

#[test]
fn full_takes_nothing() {
    let mut r = records();
    for i in 0..RECORDS as u64 {
        assert!(r.push(i, i % 2 == 0));
    }
    assert!(!r.push(9999, false));
    assert_eq!(r.lookup(9999), None);
    assert_eq!(r.len(), RECORDS);
    r.remove_oldest(1);
    assert!(r.push(9999, false));
    assert_eq!(r.lookup(9999), Some(false));
}

#[test]
fn leave_oldest_first_in_batches() {
    let mut r = records();
    for i in 0..(BATCH as u64 + 3) {
        r.push(i, false);
    }
    let mut out = [(0, false); BATCH];
    assert_eq!(r.oldest(&mut out), BATCH);
    assert_eq!(out[0], (0, false));
    assert_eq!(out[BATCH - 1], (BATCH as u64 - 1, false));
    // Still answered from here until removed.
    assert_eq!(r.lookup(0), Some(false));
    r.remove_oldest(BATCH);
    assert_eq!(r.lookup(0), None);
    assert_eq!(r.oldest(&mut out), 3);
    assert_eq!(out[0], (BATCH as u64, false));
    r.remove_oldest(100);
    assert!(r.is_empty());
    assert_eq!(r.outs(), 0);
}

proptest! {
    /// Random pushes and drains: a region's answer is its newest record
    /// still waiting, what leaves does so in the order made, and the
    /// counts are those of the records waiting.
    #[test]
    fn model(ops in prop::collection::vec((0u8..4, 0u64..40, any::<bool>()), 1..400)) {
        let mut r = records();
        let mut model: Vec<(u64, bool)> = Vec::new();
        let mut pushed: Vec<(u64, bool)> = Vec::new();
        let mut applied: Vec<(u64, bool)> = Vec::new();
        for (op, region, in_sync) in ops {
            if op == 0 {
                let mut out = [(0, false); BATCH];
                let n = r.oldest(&mut out);
                prop_assert_eq!(n, model.len().min(BATCH));
                applied.extend_from_slice(&out[..n]);
                r.remove_oldest(n);
                model.drain(..n);
            } else if r.push(region, in_sync) {
                model.push((region, in_sync));
                pushed.push((region, in_sync));
            } else {
                prop_assert_eq!(model.len(), RECORDS);
            }
            for q in 0..40u64 {
                let want = model.iter().rev().find(|m| m.0 == q).map(|m| m.1);
                prop_assert_eq!(r.lookup(q), want);
            }
            prop_assert_eq!(r.len(), model.len());
            prop_assert_eq!(r.outs(), model.iter().filter(|m| !m.1).count());
        }
        // What left did so once each, in the order it was made.
        prop_assert_eq!(&applied[..], &pushed[..applied.len()]);
    }
}

use crate::logic::region_records::{RegionWindow, WINDOW};

#[test]
fn window_grows_and_restarts() {
    let mut w = RegionWindow::default();
    assert_eq!(w.get(0), None);
    for r in 10..20 {
        w.learn(r, r % 3 == 0);
    }
    assert_eq!(w.get(9), None);
    assert_eq!(w.get(12), Some(true));
    assert_eq!(w.get(13), Some(false));
    assert_eq!(w.get(20), None);
    // A record handed over changes a known region, not an unknown one.
    w.update(13, true);
    w.update(25, true);
    assert_eq!(w.get(13), Some(true));
    assert_eq!(w.get(25), None);
    // Learning inside the run corrects it; elsewhere it starts again.
    w.learn(12, false);
    assert_eq!(w.get(12), Some(false));
    w.learn(100, true);
    assert_eq!(w.get(12), None);
    assert_eq!(w.get(100), Some(true));
    w.forget();
    assert_eq!(w.get(100), None);
}

#[test]
fn window_slides_when_full() {
    let mut w = RegionWindow::default();
    for r in 0..WINDOW {
        w.learn(r, true);
    }
    assert_eq!(w.get(WINDOW - 1), Some(true));
    w.learn(WINDOW, false);
    assert_eq!(w.get(0), None);
    assert_eq!(w.get(WINDOW), Some(false));
}

proptest! {
    /// Against a map of what was learnt and updated: every answer the
    /// window gives is the region's latest state.
    #[test]
    fn window_never_lies(ops in prop::collection::vec((0u8..3, 0u64..(WINDOW + 200), any::<bool>()), 1..600)) {
        let mut w = RegionWindow::default();
        let mut truth = std::collections::BTreeMap::new();
        for (op, r, v) in ops {
            match op {
                0 => w.update(r, v),
                1 => w.learn(r, v),
                _ => {}
            }
            if op != 2 {
                truth.insert(r, v);
            }
            if let Some(got) = w.get(r) {
                prop_assert_eq!(Some(&got), truth.get(&r));
            }
        }
        for r in 0..(WINDOW + 200) {
            if let Some(got) = w.get(r) {
                prop_assert_eq!(Some(&got), truth.get(&r));
            }
        }
    }
}
