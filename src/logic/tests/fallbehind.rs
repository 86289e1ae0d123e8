//! Fall-behind limits.

use std::string::{String, ToString};

use crate::logic::fallbehind::{FallBehind, FallBehindKind};

/// Parses `<kind> <value>` and returns the canonical text and base value.
fn fb(kind: &str, value: &str) -> Result<(String, u64), &'static str> {
    FallBehind::parse(kind, value)
        .map(|f| (f.to_string(), f.base_value()))
        .map_err(|e| e.text())
}

#[test]
fn ios() {
    assert_eq!(fb("ios", "100"), Ok(("ios 100".into(), 100)));
    assert_eq!(
        FallBehind::parse("ios", "100"),
        Ok(FallBehind {
            kind: FallBehindKind::Ios,
            value: 100,
            unit: None
        })
    );
}

#[test]
fn size_units_in_sectors() {
    assert_eq!(fb("size", "100"), Ok(("size 100".into(), 100)));
    assert_eq!(fb("size", "3s"), Ok(("size 3s".into(), 3)));
    assert_eq!(fb("size", "1k"), Ok(("size 1k".into(), 2)));
    assert_eq!(fb("size", "1K"), Ok(("size 1K".into(), 2)));
    assert_eq!(fb("size", "200m"), Ok(("size 200m".into(), 200 * 2048)));
    assert_eq!(fb("size", "1M"), Ok(("size 1M".into(), 2048)));
    assert_eq!(fb("size", "1g"), Ok(("size 1g".into(), 1 << 21)));
    assert_eq!(fb("size", "1t"), Ok(("size 1t".into(), 1 << 31)));
    assert_eq!(fb("size", "1p"), Ok(("size 1p".into(), 1 << 41)));
    assert_eq!(fb("size", "1e"), Ok(("size 1e".into(), 1 << 51)));
    assert_eq!(fb("size", "8191E"), Ok(("size 8191E".into(), 8191 << 51)));
}

#[test]
fn data_in_bytes_as_lvm2_emitted_it() {
    // LVM2's libdm wrote the byte count of `fall_behind_data`.
    assert_eq!(fb("data", "1048576"), Ok(("data 1048576".into(), 2048)));
    assert_eq!(fb("data", "100"), Ok(("data 100".into(), 1)));
    assert_eq!(fb("data", "513"), Ok(("data 513".into(), 2)));
    assert_eq!(fb("data", "2k"), Ok(("data 2k".into(), 4)));
    assert_eq!(fb("data", "1M"), Ok(("data 1M".into(), 2048)));
    assert_eq!(fb("data", "1e"), Ok(("data 1e".into(), 1 << 51)));
    assert_eq!(fb("data", "16e"), Err("Fall-behind value too large"));
    assert_eq!(fb("data", "1s"), Err("Unknown fall-behind unit"));
    assert_eq!(
        FallBehind::parse("data", "4096").map(|f| f.kind),
        Ok(FallBehindKind::Data)
    );
}

#[test]
fn timeout_units_in_ms_seconds_without_one() {
    // LVM2's libdm wrote `fall_behind_timeout` in seconds, without a unit.
    assert_eq!(fb("timeout", "250"), Ok(("timeout 250".into(), 250_000)));
    assert_eq!(fb("timeout", "250t"), Ok(("timeout 250t".into(), 250)));
    assert_eq!(fb("timeout", "5s"), Ok(("timeout 5s".into(), 5000)));
    assert_eq!(fb("timeout", "2m"), Ok(("timeout 2m".into(), 120_000)));
    assert_eq!(fb("timeout", "1H"), Ok(("timeout 1H".into(), 3_600_000)));
    assert_eq!(fb("timeout", "1d"), Ok(("timeout 1d".into(), 86_400_000)));
    assert_eq!(
        fb("timeout", "3D"),
        Ok(("timeout 3D".into(), 3 * 86_400_000))
    );
}

#[test]
fn assignment_form() {
    assert_eq!(
        FallBehind::parse_assignment("ios=100"),
        FallBehind::parse("ios", "100")
    );
    assert_eq!(
        FallBehind::parse_assignment("size=200m"),
        FallBehind::parse("size", "200m")
    );
    assert_eq!(
        FallBehind::parse_assignment("data=8"),
        FallBehind::parse("data", "8")
    );
    assert_eq!(
        FallBehind::parse_assignment("timeout=1s"),
        FallBehind::parse("timeout", "1s")
    );
    let err = |w| FallBehind::parse_assignment(w).map_err(|e| e.text());
    assert_eq!(
        err("ios"),
        Err("Fall-behind limit needs a type and a value")
    );
    assert_eq!(
        err("ios100"),
        Err("Fall-behind limit needs a type and a value")
    );
    assert_eq!(err("=100"), Err("Unknown fall-behind type"));
    assert_eq!(err("ios="), Err("Invalid fall-behind value"));
    assert_eq!(err("ios=1=2"), Err("Fall-behind ios takes no unit"));
    assert_eq!(err("size=1=2"), Err("Unknown fall-behind unit"));
}

#[test]
fn errors() {
    assert_eq!(fb("IOS", "1"), Err("Unknown fall-behind type"));
    assert_eq!(fb("io", "1"), Err("Unknown fall-behind type"));
    assert_eq!(fb("bytes", "1"), Err("Unknown fall-behind type"));
    assert_eq!(fb("ios", ""), Err("Invalid fall-behind value"));
    assert_eq!(fb("size", "m"), Err("Invalid fall-behind value"));
    assert_eq!(fb("size", "-1"), Err("Invalid fall-behind value"));
    assert_eq!(fb("size", "+1"), Err("Invalid fall-behind value"));
    assert_eq!(fb("size", "0100"), Err("Invalid fall-behind value"));
    assert_eq!(fb("ios", "10k"), Err("Fall-behind ios takes no unit"));
    assert_eq!(fb("ios", "10 "), Err("Fall-behind ios takes no unit"));
    assert_eq!(fb("size", "10x"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("size", "10h"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("size", "10mm"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("size", "10mb"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("size", "1\u{e9}"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("timeout", "10k"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("timeout", "10e"), Err("Unknown fall-behind unit"));
    assert_eq!(fb("ios", "0"), Err("Fall-behind value must not be 0"));
    assert_eq!(fb("size", "0m"), Err("Fall-behind value must not be 0"));
    assert_eq!(
        fb("ios", "18446744073709551616"),
        Err("Fall-behind value too large")
    );
    assert_eq!(fb("size", "8192e"), Err("Fall-behind value too large"));
    assert_eq!(
        fb("timeout", "18446744073709551615d"),
        Err("Fall-behind value too large")
    );
}

#[test]
fn extreme_values() {
    assert_eq!(
        fb("ios", "18446744073709551615"),
        Ok(("ios 18446744073709551615".into(), u64::MAX))
    );
    let hand_built = FallBehind {
        kind: FallBehindKind::Size,
        value: u64::MAX,
        unit: Some(b'e'),
    };
    assert_eq!(hand_built.base_value(), u64::MAX);
}
