//! Ring arithmetic: placement, wrapping, freeing, resizing.

use crate::logic::replog::ring::{Extent, Ring, RingError};
use crate::logic::replog::FormatError;

fn ext(start: u64, blocks: u64) -> Extent {
    Extent { start, blocks }
}

/// `(head, tail, used, gap)`.
fn state(r: &Ring) -> (u64, u64, u64, u64) {
    (r.head(), r.tail(), r.used(), r.gap())
}

#[test]
fn fills_wraps_with_a_gap_and_drains() {
    let mut r = Ring::empty_at(20, 0).unwrap();
    assert!(r.is_empty() && !r.is_full() && !r.is_wrapped());
    assert_eq!(r.reserve(8), Ok(ext(0, 8)));
    assert_eq!(r.reserve(8), Ok(ext(8, 8)));
    assert_eq!(state(&r), (0, 16, 16, 0));
    assert_eq!(r.reserve(5), Err(RingError::Full));
    assert!(!r.fits(5) && r.fits(4));
    assert_eq!(r.release(ext(0, 8)), Ok(()));
    // 4 blocks left at the end: a 5-block entry goes to block 0.
    assert_eq!(r.reserve(5), Ok(ext(0, 5)));
    assert_eq!(state(&r), (8, 5, 17, 4));
    assert!(r.is_wrapped());
    assert_eq!(r.free() + r.used(), r.blocks());
    assert_eq!(r.reserve(4), Err(RingError::Full));
    assert_eq!(r.reserve(3), Ok(ext(5, 3)));
    assert!(r.is_full());
    assert_eq!(r.reserve(1), Err(RingError::Full));
    // The head passes the last entry of its lap, then the gap.
    assert_eq!(r.release(ext(8, 8)), Ok(()));
    assert_eq!(state(&r), (0, 8, 8, 0));
    assert_eq!(r.release(ext(0, 5)), Ok(()));
    assert_eq!(r.release(ext(5, 3)), Ok(()));
    assert_eq!(state(&r), (8, 8, 0, 0));
    assert!(r.is_empty());
}

#[test]
fn an_entry_ending_at_the_end_wraps_the_tail() {
    let mut r = Ring::empty_at(20, 12).unwrap();
    assert_eq!(r.reserve(8), Ok(ext(12, 8)));
    assert_eq!(state(&r), (12, 0, 8, 0));
    assert!(r.is_wrapped());
    assert_eq!(r.reserve(12), Ok(ext(0, 12)));
    assert!(r.is_full());
    assert_eq!(r.release(ext(12, 8)), Ok(()));
    assert_eq!(state(&r), (0, 12, 12, 0));
}

#[test]
fn an_empty_ring_restarts_at_zero() {
    let mut r = Ring::empty_at(20, 15).unwrap();
    assert_eq!(r.reserve(6), Ok(ext(0, 6)));
    assert_eq!(state(&r), (0, 6, 6, 0));
    let mut r = Ring::empty_at(20, 15).unwrap();
    assert_eq!(r.reserve(20), Ok(ext(0, 20)));
    assert!(r.is_full());
    assert_eq!(state(&r), (0, 0, 20, 0));
}

#[test]
fn refusals() {
    let mut r = Ring::empty_at(20, 0).unwrap();
    assert_eq!(r.reserve(0), Err(RingError::TooLarge));
    assert_eq!(r.reserve(21), Err(RingError::TooLarge));
    assert_eq!(r.release(ext(0, 1)), Err(RingError::NotOldest));
    r.reserve(4).unwrap();
    r.reserve(4).unwrap();
    assert_eq!(r.release(ext(4, 4)), Err(RingError::NotOldest));
    assert_eq!(r.release(ext(0, 9)), Err(RingError::NotOldest));
    assert_eq!(r.release(ext(0, 0)), Err(RingError::NotOldest));
    assert_eq!(Ring::empty_at(7, 0), Err(FormatError::LogTooSmall));
    assert_eq!(Ring::empty_at(20, 20), Err(FormatError::CheckpointPosition));
    for e in [
        RingError::TooLarge,
        RingError::Full,
        RingError::NotOldest,
        RingError::Inconsistent,
    ] {
        assert!(!e.message().to_bytes().is_empty());
    }
}

#[test]
fn parts_must_be_consistent() {
    assert!(Ring::from_parts(20, 3, 3, 0, 0).is_ok());
    assert!(Ring::from_parts(20, 3, 9, 6, 0).is_ok());
    assert!(Ring::from_parts(20, 8, 5, 17, 4).is_ok());
    assert!(Ring::from_parts(20, 0, 0, 20, 0).is_ok());
    let bad = [
        (20, 3, 4, 0, 0),
        (20, 3, 9, 5, 0),
        (20, 3, 9, 6, 1),
        (20, 8, 5, 16, 4),
        (20, 17, 5, 8, 4),
        (20, 20, 5, 5, 0),
        (20, 2, 21, 19, 0),
        (20, 0, 0, 21, 0),
        (7, 0, 0, 0, 0),
    ];
    for (blocks, head, tail, used, gap) in bad {
        assert_eq!(
            Ring::from_parts(blocks, head, tail, used, gap),
            Err(RingError::Inconsistent),
            "{:?}",
            (blocks, head, tail, used, gap)
        );
    }
}

#[test]
fn resize_an_unwrapped_ring() {
    let mut r = Ring::empty_at(20, 0).unwrap();
    r.reserve(4).unwrap();
    r.reserve(10).unwrap();
    r.release(ext(0, 4)).unwrap();
    // Live: 4..14.
    let grown = r.resized(40).unwrap();
    assert_eq!((grown.blocks(), state(&grown)), (40, (4, 14, 10, 0)));
    let shrunk = r.resized(14).unwrap();
    assert_eq!((shrunk.blocks(), state(&shrunk)), (14, (4, 0, 10, 0)));
    assert_eq!(r.resized(13), Err(FormatError::ResizeLiveData));
    assert_eq!(r.resized(7), Err(FormatError::LogTooSmall));
    assert_eq!(r.resized(u64::MAX), Err(FormatError::LogTooLarge));
}

#[test]
fn resize_a_wrapped_ring() {
    let mut r = Ring::empty_at(20, 0).unwrap();
    r.reserve(8).unwrap();
    r.reserve(8).unwrap();
    r.release(ext(0, 8)).unwrap();
    r.reserve(5).unwrap();
    // Live: 8..16, gap 16..20, 0..5.
    let grown = r.resized(30).unwrap();
    assert_eq!(state(&grown), (8, 5, 27, 14));
    assert_eq!(grown.free(), 3);
    let shrunk = r.resized(16).unwrap();
    assert_eq!(state(&shrunk), (8, 5, 13, 0));
    assert_eq!(r.resized(15), Err(FormatError::ResizeLiveData));
    // The grown ring frees the whole gap when the head passes.
    let mut g = grown;
    g.release(ext(8, 8)).unwrap();
    assert_eq!(state(&g), (0, 5, 5, 0));
    assert_eq!(g.reserve(25), Ok(ext(5, 25)));
}

#[test]
fn resize_a_full_ring_and_an_empty_one() {
    let mut r = Ring::empty_at(20, 0).unwrap();
    r.reserve(20).unwrap();
    assert_eq!(r.resized(19), Err(FormatError::ResizeLiveData));
    let grown = r.resized(25).unwrap();
    assert_eq!(state(&grown), (0, 0, 25, 5));
    let mut g = grown;
    assert_eq!(g.reserve(1), Err(RingError::Full));
    g.release(ext(0, 20)).unwrap();
    assert!(g.is_empty());

    let e = Ring::empty_at(20, 13).unwrap();
    let shrunk = e.resized(10).unwrap();
    assert_eq!((shrunk.blocks(), state(&shrunk)), (10, (0, 0, 0, 0)));
}
