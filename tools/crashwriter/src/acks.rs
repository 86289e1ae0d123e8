//! The writer's acknowledgement lines, and the newest acknowledged write
//! of every block.
//!
//! ```text
//! A <seq> <dev> <first-block> <nblocks>   write seq of those blocks returned
//! F <seq>                                 fdatasync after write seq returned
//! ```
//!
//! The host keeps what the guest printed before QEMU was killed, so the
//! last line may be cut anywhere. A cut line either has fewer fields (then
//! it is malformed and ignored) or a shorter last field: `nblocks` with
//! digits missing is smaller, so it claims fewer blocks than were written,
//! which is always safe.

use std::collections::BTreeMap;

/// One acknowledged write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Sequence number (never 0).
    pub seq: u64,
    /// Device index.
    pub dev: u32,
    /// First block.
    pub first: u64,
    /// Number of blocks (at least 1).
    pub nblocks: u64,
}

/// One line of an ack file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `A ...`
    Ack(Ack),
    /// `F <seq>`
    Flush(u64),
    /// `I <seq>`: write `seq` is about to be issued.
    Issue(u64),
    /// Anything else: cut by the crash, or not the writer's.
    Malformed,
}

fn num(s: &str) -> Option<u64> {
    // Plain decimal only: no sign, no spaces.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Line {
    let f: Vec<&str> = line.trim_end_matches('\r').split(' ').collect();
    match f.as_slice() {
        ["A", seq, dev, first, n] => {
            let (Some(seq), Some(dev), Some(first), Some(nblocks)) =
                (num(seq), num(dev), num(first), num(n))
            else {
                return Line::Malformed;
            };
            if seq == 0 || nblocks == 0 || dev > u32::MAX as u64 {
                return Line::Malformed;
            }
            if first.checked_add(nblocks).is_none() {
                return Line::Malformed;
            }
            Line::Ack(Ack {
                seq,
                dev: dev as u32,
                first,
                nblocks,
            })
        }
        ["F", seq] => num(seq).map_or(Line::Malformed, Line::Flush),
        ["I", seq] => num(seq).map_or(Line::Malformed, Line::Issue),
        _ => Line::Malformed,
    }
}

/// What a set of ack files holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckLog {
    /// The acknowledged writes, in file order.
    pub acks: Vec<Ack>,
    /// `F` lines seen.
    pub flushes: u64,
    /// Lines ignored as malformed.
    pub malformed: u64,
}

impl AckLog {
    /// Adds the lines of `text`.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            match parse_line(line) {
                Line::Ack(a) => self.acks.push(a),
                Line::Flush(_) => self.flushes += 1,
                Line::Issue(_) => {}
                Line::Malformed => self.malformed += 1,
            }
        }
    }

    /// Parses `text`.
    pub fn parse(text: &str) -> Self {
        let mut log = AckLog::default();
        log.add_text(text);
        log
    }

    /// The highest acknowledged sequence number (0 if none).
    pub fn max_seq(&self) -> u64 {
        self.acks.iter().map(|a| a.seq).max().unwrap_or(0)
    }

    /// The newest acknowledged write of every block (0: none) of devices
    /// of `blocks[dev]` blocks. An ack outside them means the ack file does
    /// not belong to these devices: an error naming it.
    pub fn table(&self, blocks: &[u64]) -> Result<Table, String> {
        let mut t = Table {
            newest: blocks.iter().map(|&n| vec![0; n as usize]).collect(),
        };
        for a in &self.acks {
            let size = blocks.get(a.dev as usize).copied();
            if size.is_none_or(|n| a.first + a.nblocks > n) {
                return Err(format!(
                    "ack of seq {} (device {} blocks {}..{}) is outside the device{}",
                    a.seq,
                    a.dev,
                    a.first,
                    a.first + a.nblocks,
                    match size {
                        Some(n) => format!(" ({n} blocks)"),
                        None => format!("s (only {} given)", blocks.len()),
                    }
                ));
            }
            let row = &mut t.newest[a.dev as usize];
            for b in a.first..a.first + a.nblocks {
                let w = &mut row[b as usize];
                *w = (*w).max(a.seq);
            }
        }
        Ok(t)
    }

    /// The same information in as few lines as possible: per device, runs
    /// of consecutive blocks whose newest acknowledged write is the same
    /// seq become one `A` line. Verifying against the result is the same
    /// as verifying against the whole log.
    pub fn compact(&self) -> String {
        let mut newest: BTreeMap<(u32, u64), u64> = BTreeMap::new();
        for a in &self.acks {
            for b in a.first..a.first + a.nblocks {
                let w = newest.entry((a.dev, b)).or_insert(0);
                *w = (*w).max(a.seq);
            }
        }
        let mut out = String::new();
        let mut run: Option<(u32, u64, u64, u64)> = None; // dev, first, n, seq
        let flush = |out: &mut String, run: Option<(u32, u64, u64, u64)>| {
            if let Some((dev, first, n, seq)) = run {
                out.push_str(&format!("A {seq} {dev} {first} {n}\n"));
            }
        };
        for ((dev, block), seq) in newest {
            match run {
                Some((d, f, n, s)) if d == dev && f + n == block && s == seq => {
                    run = Some((d, f, n + 1, s));
                }
                _ => {
                    flush(&mut out, run);
                    run = Some((dev, block, 1, seq));
                }
            }
        }
        flush(&mut out, run);
        out
    }
}

/// The newest acknowledged seq of every block (0: never acknowledged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// `newest[dev][block]`.
    pub newest: Vec<Vec<u64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            parse_line("A 12 1 300 4"),
            Line::Ack(Ack {
                seq: 12,
                dev: 1,
                first: 300,
                nblocks: 4
            })
        );
        assert_eq!(parse_line("F 50"), Line::Flush(50));
        assert_eq!(parse_line("I 51"), Line::Issue(51));
        assert_eq!(parse_line("A 12 1 300 4\r"), parse_line("A 12 1 300 4"));
        for bad in [
            "",
            "A",
            "A 12 1 300",
            "A 12 1 300 ",
            "A 12 1 300 4 5",
            "A 12  1 300 4",
            "A 0 1 300 4",
            "A 12 1 300 0",
            "A -1 1 300 4",
            "A +1 1 300 4",
            "A 12 x 300 4",
            "A 12 4294967296 0 1",
            "A 1 0 18446744073709551615 1",
            "a 12 1 300 4",
            "F",
            "F x",
            "I",
            "I 5 6",
            "crashwriter: started",
            "A 99999999999999999999 0 0 1",
        ] {
            assert_eq!(parse_line(bad), Line::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn cut_last_line_is_ignored_or_claims_less() {
        let full = "A 1000000123 1 4321 16";
        for cut in 0..full.len() {
            match parse_line(&full[..cut]) {
                Line::Malformed => {}
                Line::Ack(a) => {
                    assert_eq!((a.seq, a.dev, a.first), (1000000123, 1, 4321));
                    assert!(a.nblocks <= 16);
                }
                Line::Flush(_) | Line::Issue(_) => panic!("cut to {cut}"),
            }
        }
    }

    #[test]
    fn table_takes_the_newest_per_block() {
        let log =
            AckLog::parse("A 5 0 0 4\nA 3 0 2 4\nF 5\nA 9 1 7 1\nA 7 0 1 1\ngarbage\nA 1 0 3");
        assert_eq!(log.acks.len(), 4);
        assert_eq!((log.flushes, log.malformed, log.max_seq()), (1, 2, 9));
        let t = log.table(&[10, 10]).unwrap();
        assert_eq!(t.newest[0], vec![5, 7, 5, 5, 3, 3, 0, 0, 0, 0]);
        assert_eq!(t.newest[1], vec![0, 0, 0, 0, 0, 0, 0, 9, 0, 0]);
        assert!(log.table(&[10]).unwrap_err().contains("seq 9"));
        assert!(log.table(&[5, 10]).unwrap_err().contains("seq 3"));
    }

    #[test]
    fn rounds_concatenate() {
        // A later round's acks have higher seqs and supersede per block.
        let mut log = AckLog::parse("A 10 0 0 2\nA 11 0 5 1\nA 12 0 1");
        log.add_text("A 2000000001 0 1 1\nA 2000000002 0 9 1\n");
        let t = log.table(&[10]).unwrap();
        assert_eq!(
            t.newest[0],
            vec![10, 2000000001, 0, 0, 0, 11, 0, 0, 0, 2000000002]
        );
    }

    #[test]
    fn compact_keeps_the_table() {
        let text = "A 5 0 0 4\nA 3 0 2 4\nA 9 1 7 1\nA 7 0 1 1\nA 8 1 8 3\nA 8 1 0 2\nF 3\n";
        let log = AckLog::parse(text);
        let c = log.compact();
        assert_eq!(
            c,
            "A 5 0 0 1\nA 7 0 1 1\nA 5 0 2 2\nA 3 0 4 2\nA 8 1 0 2\nA 9 1 7 1\nA 8 1 8 3\n"
        );
        let again = AckLog::parse(&c);
        assert_eq!(again.malformed, 0);
        assert_eq!(again.table(&[12, 12]), log.table(&[12, 12]));
        assert_eq!(again.compact(), c);
        assert_eq!(AckLog::default().compact(), "");
    }
}
