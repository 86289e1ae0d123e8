//! Strict decimal numbers for table and message arguments.
//!
//! A number is canonical decimal: ASCII digits only, no sign, no blanks, no
//! hex, and no leading zeros (except `0` itself). Being strict makes the
//! table we emit equal to the table we were given, and keeps `010` from
//! meaning ten to us and eight to somebody else. Callers turn a
//! [`NumberError`] into a field-specific [`TableError`](super::error::TableError).

/// Why a word is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Empty, a non-digit, or a leading zero.
    Malformed,
    /// Canonical digits, but too large for the type.
    Overflow,
}

/// Parses a canonical decimal `u64`.
pub fn parse_u64(word: &str) -> Result<u64, NumberError> {
    let bytes = word.as_bytes();
    let canonical = match bytes {
        [] => false,
        [b'0', _, ..] => false,
        _ => bytes.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(NumberError::Malformed);
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = u64::from(b.wrapping_sub(b'0'));
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(NumberError::Overflow)
    })
}

/// Parses a canonical decimal `u32`.
pub fn parse_u32(word: &str) -> Result<u32, NumberError> {
    u32::try_from(parse_u64(word)?).map_err(|_| NumberError::Overflow)
}

/// Parses a canonical decimal `usize` (argument counts).
pub fn parse_usize(word: &str) -> Result<usize, NumberError> {
    usize::try_from(parse_u64(word)?).map_err(|_| NumberError::Overflow)
}

/// Splits a word into its leading ASCII digits and the rest (`200m` →
/// `("200", "m")`), for values with a unit suffix.
pub fn split_digits(word: &str) -> (&str, &str) {
    let end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    word.split_at_checked(end).unwrap_or((word, ""))
}
