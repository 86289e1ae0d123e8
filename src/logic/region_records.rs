// SPDX-License-Identifier: GPL-2.0
//! Region records waiting to reach a dirty log that cannot take them now
//! (a `userspace` log asks its daemon for every change; a `disk` log is
//! being flushed). The log's work makes them here, in memory, under the
//! log's lock; the background work hands them to the dirty log, oldest
//! first, and removes each only once the log has it, so a question about
//! a region is answered from here first and never sees a record that has
//! left here but not yet reached the log.

/// Records a dirty log's queue holds; past that the caller writes them
/// through.
pub const RECORDS: usize = 1024;

/// Records taken for the dirty log at a time.
pub const BATCH: usize = 32;

/// The records of one dirty log, in the order they were made, in storage
/// `S` allocated once (a slice of `(region, in_sync)`; its length is the
/// capacity).
pub struct RegionRecords<S> {
    /// The first `len` are live.
    recs: S,
    len: usize,
    /// Live records that say out of sync.
    outs: usize,
}

impl<S: core::ops::DerefMut<Target = [(u64, bool)]>> RegionRecords<S> {
    /// No records, in `storage`.
    pub fn new(storage: S) -> Self {
        RegionRecords { recs: storage, len: 0, outs: 0 }
    }

    /// Whether no record waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Records waiting that say out of sync: while there is one, the
    /// device has a region out of sync whatever the dirty log counts.
    pub fn outs(&self) -> usize {
        self.outs
    }

    /// Records waiting that say in sync.
    pub fn ins(&self) -> usize {
        self.len.saturating_sub(self.outs)
    }

    /// Record region `r` in sync or not, after every record before;
    /// `false` when full (nothing recorded).
    pub fn push(&mut self, r: u64, in_sync: bool) -> bool {
        let Some(slot) = self.recs.get_mut(self.len) else { return false };
        *slot = (r, in_sync);
        self.len = self.len.saturating_add(1);
        if !in_sync {
            self.outs = self.outs.saturating_add(1);
        }
        true
    }

    /// The newest record of region `r`, if one waits.
    pub fn lookup(&self, r: u64) -> Option<bool> {
        self.live().iter().rev().find(|rec| rec.0 == r).map(|rec| rec.1)
    }

    /// The oldest records, at most [`BATCH`], copied into `out`; returns
    /// how many. They stay until [`Self::remove_oldest`].
    pub fn oldest(&self, out: &mut [(u64, bool); BATCH]) -> usize {
        let n = self.len.min(BATCH);
        for (o, rec) in out.iter_mut().zip(self.live().iter().take(n)) {
            *o = *rec;
        }
        n
    }

    /// The dirty log now has the `n` oldest records: they go.
    pub fn remove_oldest(&mut self, n: usize) {
        let n = n.min(self.len);
        let gone = self.live().iter().take(n).filter(|rec| !rec.1).count();
        if let Some(live) = self.recs.get_mut(..self.len) {
            live.copy_within(n.., 0);
        }
        self.len = self.len.saturating_sub(n);
        self.outs = self.outs.saturating_sub(gone);
    }

    fn live(&self) -> &[(u64, bool)] {
        self.recs.get(..self.len).unwrap_or(&[])
    }
}

/// Regions a [`RegionWindow`] knows at most.
pub const WINDOW: u64 = 4096;

const WORDS: usize = (WINDOW / 64) as usize;

/// What the background work learnt of a run of regions from a dirty log
/// that answers only by round trip, so that a search for resync work
/// under the log's lock need not ask: the regions `base..base + known`,
/// each in sync or not. Kept true by the same lock that hands records to
/// the dirty log: every record handed over is written here too.
pub struct RegionWindow {
    base: u64,
    known: u64,
    bits: [u64; WORDS],
}

impl Default for RegionWindow {
    fn default() -> Self {
        RegionWindow { base: 0, known: 0, bits: [0; WORDS] }
    }
}

impl RegionWindow {
    /// Whether region `r` is in sync, if known.
    pub fn get(&self, r: u64) -> Option<bool> {
        let i = r.checked_sub(self.base).filter(|i| *i < self.known)?;
        let word = self.bits.get(usize::try_from(i / 64).ok()?)?;
        Some(word & (1 << (i % 64)) != 0)
    }

    /// Region `r` is now in sync or not (a record handed over): kept if
    /// known.
    pub fn update(&mut self, r: u64, in_sync: bool) {
        if self.get(r).is_some() {
            self.put(r.saturating_sub(self.base), in_sync);
        }
    }

    /// The dirty log says region `r` is in sync or not: the run grows by
    /// it when `r` follows it (and it has room), is corrected when `r` is
    /// in it, and else starts again at `r`.
    pub fn learn(&mut self, r: u64, in_sync: bool) {
        let end = self.base.saturating_add(self.known);
        if r != end || self.known >= WINDOW {
            if r >= self.base && r < end {
                self.put(r.saturating_sub(self.base), in_sync);
                return;
            }
            self.base = r;
            self.known = 0;
        }
        self.put(self.known, in_sync);
        self.known = self.known.saturating_add(1);
    }

    /// Forget everything (the log was suspended or resumed).
    pub fn forget(&mut self) {
        self.known = 0;
    }

    fn put(&mut self, i: u64, in_sync: bool) {
        let Some(word) = usize::try_from(i / 64).ok().and_then(|w| self.bits.get_mut(w)) else { return };
        let bit = 1u64 << (i % 64);
        if in_sync {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }
}
