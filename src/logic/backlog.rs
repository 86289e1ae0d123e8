//! A site link's backlog, counted incrementally: the entries it still
//! needs between its durable frontier and the log's end, their data
//! sectors, and the oldest of them.
//!
//! The fall-behind check runs on every pass of the engine and the status
//! on every `dmsetup status`; walking the whole backlog each time costs
//! O(backlog) per pass. Here each update walks only the entries that
//! arrived or that the frontier passed since the last one, so the cost
//! is amortised O(1) per entry.

/// What the counter learns of the entry with a given sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// The link needs it: its data sectors and when it was logged (ms).
    Needed { sectors: u64, at_ms: u64 },
    /// The link does not need it (another device's, or no data).
    Skipped,
    /// Not in the log (freed, or not yet there).
    Gone,
}

/// The counts of one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// The needed entries of `from..to` are counted.
    from: u64,
    to: u64,
    ios: u64,
    sectors: u64,
    /// The first needed entry at or after `from`, or `to` if none.
    oldest: u64,
    /// Counted since the last [`Backlog::invalidate`].
    valid: bool,
}

/// What [`Backlog::update`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behind {
    /// Needed entries.
    pub ios: u64,
    /// Their data sectors.
    pub sectors: u64,
    /// Age in ms of the oldest of them (0 when there is none).
    pub age_ms: u64,
}

impl Backlog {
    /// What the link needs changed (a device kept or forgotten): count
    /// again from scratch at the next update.
    pub fn invalidate(&mut self) {
        self.valid = false;
    }

    /// Bring the counts to the needed entries of `start..end` (the link's
    /// durable frontier and the log's end) and report them at `now_ms`.
    /// `look(seq)` describes an entry. Both bounds normally only grow; a
    /// bound that went back, or an entry the front passed that is gone
    /// before it was uncounted, makes it count again from `start`.
    pub fn update(&mut self, start: u64, end: u64, now_ms: u64, look: impl Fn(u64) -> Look) -> Behind {
        let end = end.max(start);
        // A bound that went back, or a frontier past everything counted.
        if !self.valid || start < self.from || end < self.to || start > self.to {
            self.reset(start);
        }
        // Uncount what the frontier passed.
        let mut seq = self.from;
        while seq < start {
            match look(seq) {
                Look::Needed { sectors, .. } => {
                    self.ios = self.ios.saturating_sub(1);
                    self.sectors = self.sectors.saturating_sub(sectors);
                }
                Look::Skipped => {}
                Look::Gone => {
                    self.reset(start);
                    break;
                }
            }
            seq = seq.saturating_add(1);
        }
        self.from = start;
        // Every entry of `from..oldest` is one the link does not need.
        self.oldest = self.oldest.max(start);
        // Count what arrived.
        for seq in self.to..end {
            if let Look::Needed { sectors, .. } = look(seq) {
                self.ios = self.ios.saturating_add(1);
                self.sectors = self.sectors.saturating_add(sectors);
            }
        }
        self.to = end;
        // The oldest needed entry: the search only moves forward.
        let mut age_ms = 0;
        while self.oldest < self.to {
            if let Look::Needed { at_ms, .. } = look(self.oldest) {
                age_ms = now_ms.saturating_sub(at_ms);
                break;
            }
            self.oldest = self.oldest.saturating_add(1);
        }
        if self.ios == 0 {
            age_ms = 0;
        }
        Behind { ios: self.ios, sectors: self.sectors, age_ms }
    }

    fn reset(&mut self, start: u64) {
        *self = Backlog { from: start, to: start, ios: 0, sectors: 0, oldest: start, valid: true };
    }
}
