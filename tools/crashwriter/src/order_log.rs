//! The write-order load's log: one line `<i> <block>` per acknowledged
//! write, written (and flushed) after the write and its `fdatasync`
//! returned and before the next write is issued.
//!
//! A log holds writes 1, 2, ..., n in order (a continued run appends to
//! the same file); each line must agree with the run's sequence
//! ([`block_for`]), which catches a log checked with the wrong seed or
//! block count. A last line without its newline was cut while being
//! written (the writer writes each line with one `write`, so only a
//! killed writer or a full disk leaves one): it is ignored, which only
//! makes the log claim less.

use crate::order::block_for;

/// What a log says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderLog {
    /// The last acknowledged write (0: none).
    pub last: u64,
    /// A cut last line was ignored.
    pub cut: bool,
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a log of the run (seed, blocks).
pub fn parse(text: &str, seed: u64, blocks: u64) -> Result<OrderLog, String> {
    let mut log = OrderLog::default();
    let (body, cut) = match text.rfind('\n') {
        Some(p) => (&text[..=p], !text[p + 1..].is_empty()),
        None => ("", !text.is_empty()),
    };
    log.cut = cut;
    for (k, line) in body.lines().enumerate() {
        let lineno = k + 1;
        let f: Vec<&str> = line.split(' ').collect();
        let (i, b) = match f.as_slice() {
            [i, b] => match (num(i), num(b)) {
                (Some(i), Some(b)) => (i, b),
                _ => {
                    return Err(format!(
                        "log line {lineno}: not '<write> <block>': {line:?}"
                    ))
                }
            },
            _ => {
                return Err(format!(
                    "log line {lineno}: not '<write> <block>': {line:?}"
                ))
            }
        };
        if i != log.last + 1 {
            return Err(format!(
                "log line {lineno}: write {i} after write {} (the log must hold writes 1, 2, 3... in order)",
                log.last
            ));
        }
        let want = block_for(seed, blocks, i);
        if b != want {
            return Err(format!(
                "log line {lineno}: write {i} at block {b}, but seed {seed} over {blocks} blocks puts it at block {want} (another seed or --blocks?)"
            ));
        }
        log.last = i;
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_text(seed: u64, blocks: u64, n: u64) -> String {
        (1..=n)
            .map(|i| format!("{i} {}\n", block_for(seed, blocks, i)))
            .collect()
    }

    #[test]
    fn good_logs() {
        assert_eq!(parse("", 1, 8), Ok(OrderLog::default()));
        let t = log_text(3, 100, 50);
        assert_eq!(
            parse(&t, 3, 100),
            Ok(OrderLog {
                last: 50,
                cut: false
            })
        );
        // A cut last line is ignored, whatever is left of it.
        for keep in 0..5 {
            let more = format!("51 {}", block_for(3, 100, 51));
            let cut = format!("{t}{}", &more[..keep.min(more.len())]);
            let want = OrderLog {
                last: 50,
                cut: keep > 0,
            };
            assert_eq!(parse(&cut, 3, 100), Ok(want), "{keep}");
        }
    }

    #[test]
    fn bad_logs() {
        let t = log_text(3, 100, 5);
        let e = parse(&t, 4, 100).unwrap_err();
        assert!(e.starts_with("log line 1: write 1 at block "), "{e}");
        assert!(e.contains("another seed or --blocks"), "{e}");
        let skip: String = t
            .lines()
            .filter(|l| !l.starts_with("3 "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            parse(&skip, 3, 100).unwrap_err(),
            "log line 3: write 4 after write 2 (the log must hold writes 1, 2, 3... in order)"
        );
        for bad in [
            "x 1\n",
            "1\n",
            "1 2 3\n",
            "\n",
            " 1 2\n",
            "1 -2\n",
            "1 99999999999999999999\n",
        ] {
            let e = parse(bad, 3, 100).unwrap_err();
            assert!(
                e.starts_with("log line 1: not '<write> <block>'"),
                "{bad:?}: {e}"
            );
        }
    }
}
