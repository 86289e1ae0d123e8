//! Strict decimal numbers.

use crate::logic::number::{parse_u32, parse_u64, parse_usize, split_digits, NumberError};

#[test]
fn accepts_canonical_decimals() {
    assert_eq!(parse_u64("0"), Ok(0));
    assert_eq!(parse_u64("7"), Ok(7));
    assert_eq!(parse_u64("65536"), Ok(65536));
    assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
    assert_eq!(parse_usize("12"), Ok(12));
}

#[test]
fn rejects_everything_else() {
    for word in [
        "", "+1", "-1", " 1", "1 ", "0x10", "01", "00", "1a", "1.0", "1_000", "\u{661}",
    ] {
        assert_eq!(parse_u64(word), Err(NumberError::Malformed), "{word:?}");
    }
}

#[test]
fn overflow_is_an_error() {
    assert_eq!(
        parse_u64("18446744073709551616"),
        Err(NumberError::Overflow)
    );
    assert_eq!(
        parse_u64("99999999999999999999999999"),
        Err(NumberError::Overflow)
    );
    assert_eq!(parse_u32("4294967296"), Err(NumberError::Overflow));
}

#[test]
fn splits_digits_from_unit() {
    assert_eq!(split_digits("200m"), ("200", "m"));
    assert_eq!(split_digits("200"), ("200", ""));
    assert_eq!(split_digits("m"), ("", "m"));
    assert_eq!(split_digits("1\u{e9}"), ("1", "\u{e9}"));
    assert_eq!(split_digits(""), ("", ""));
}
