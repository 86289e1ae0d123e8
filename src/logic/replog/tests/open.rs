//! `open`, `create` and `auto`.

use super::{MemLog, TestLog};
use crate::logic::replog::geometry::BLOCK_SIZE;
use crate::logic::replog::open::{decide, Action};
use crate::logic::replog::{load, FormatError, LogError};
use crate::logic::ringbuffer::OpenMode;

const MODES: [OpenMode; 5] = [
    OpenMode::Implicit,
    OpenMode::Open,
    OpenMode::OpenSized(2048),
    OpenMode::Auto(2048),
    OpenMode::Create(2048),
];

/// What each mode decides, in the order of [`MODES`].
fn decisions(t: &mut TestLog) -> [Result<Action, LogError>; 5] {
    let loaded = t.load();
    MODES.map(|mode| decide(mode, &loaded))
}

const NO_LOG: LogError = LogError::Format(FormatError::SuperblockMagic);

#[test]
fn device_without_a_log() {
    let mut mem = MemLog::new(40);
    let mut buf = [0; BLOCK_SIZE];
    let loaded = load::<super::SoftCrc, _>(&mut mem, &mut buf, 320);
    assert_eq!(loaded, Err(NO_LOG));
    let got = MODES.map(|mode| decide(mode, &loaded));
    assert_eq!(
        got,
        [
            Err(NO_LOG),
            Err(NO_LOG),
            Err(NO_LOG),
            Ok(Action::Format),
            Ok(Action::Format)
        ]
    );
}

#[test]
fn valid_idle_log() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    t.free(1);
    let open = Ok(Action::Open);
    assert_eq!(
        decisions(&mut t),
        [open, open, open, open, Ok(Action::Format)]
    );
}

#[test]
fn valid_active_log_is_not_overwritten() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    let open = Ok(Action::Open);
    let active = Err(LogError::Format(FormatError::LogActive));
    assert_eq!(decisions(&mut t), [open, open, open, open, active]);
    // Full: head == tail, and still active.
    let mut t = TestLog::new(32);
    for i in 0..16 {
        t.write(i, 8);
    }
    assert_eq!(t.writer.ring().head(), t.writer.ring().tail());
    assert_eq!(decisions(&mut t)[4], active);
}

#[test]
fn damaged_log_is_refused_except_by_create() {
    let mut t = TestLog::new(32);
    t.write(0, 8);
    t.mem.block(0)[200] ^= 1;
    let bad = Err(LogError::Format(FormatError::SuperblockChecksum));
    assert_eq!(decisions(&mut t), [bad, bad, bad, bad, Ok(Action::Format)]);

    let mut t = TestLog::new(32);
    t.write(0, 8);
    t.checkpoint();
    t.mem.block(3)[30] ^= 1;
    let lost = Err(LogError::Format(FormatError::EntriesLost));
    assert_eq!(
        decisions(&mut t),
        [lost, lost, lost, lost, Ok(Action::Format)]
    );
}
