//! Checking devices against the acknowledged writes.
//!
//! For every block, let W be the newest acknowledged write covering it.
//! With W, every sector must be a record of that block (device, block,
//! sector) with seq >= W: a later write that was not acknowledged may have
//! landed, whole or torn. Without W, every sector must be zeroes or a
//! record of that block.

use crate::acks::Table;
use crate::record::{decode_sector, Sector};
use crate::{BLOCK_SIZE, SECTORS_PER_BLOCK, SECTOR_SIZE};

/// A block that breaks the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Device index.
    pub dev: u32,
    /// Block number.
    pub block: u64,
    /// The newest acknowledged write (None: never acknowledged).
    pub expected: Option<u64>,
    /// What the block holds, sector by sector where they differ.
    pub found: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expected {
            Some(w) => write!(
                f,
                "dev {} block {}: expected seq >= {w}, found {}",
                self.dev, self.block, self.found
            ),
            None => write!(
                f,
                "dev {} block {}: never acknowledged, expected zeroes or records of this block, found {}",
                self.dev, self.block, self.found
            ),
        }
    }
}

/// How a block that passed looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Good {
    /// Never acknowledged, all zeroes.
    Zero,
    /// Never acknowledged, (partly) written by writes in flight.
    Unacked,
    /// Exactly the newest acknowledged write.
    Acked,
    /// Acknowledged, and (partly) overwritten by a later write in flight.
    Newer,
}

/// Counts over a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blocks read.
    pub blocks: u64,
    /// Blocks holding exactly their newest acknowledged write.
    pub acked: u64,
    /// Blocks holding a later, unacknowledged write (wholly or partly).
    pub newer: u64,
    /// Never-acknowledged blocks holding records of in-flight writes.
    pub unacked: u64,
    /// Never-written (zero) blocks.
    pub zero: u64,
    /// Blocks breaking the rule.
    pub bad: u64,
}

fn describe(dev: u32, block: u64, i: usize, s: &Sector) -> String {
    match *s {
        Sector::Zero => "zeroes".to_string(),
        Sector::Garbage => "garbage".to_string(),
        Sector::Damaged { seq } => format!("a damaged record (seq {seq} as read)"),
        Sector::Record(h) => {
            let mut t = format!("seq {}", h.seq);
            if h.dev != dev || h.block != block {
                t += &format!(" of dev {} block {}", h.dev, h.block);
            }
            if h.sector as usize != i {
                t += &format!(" sector {}", h.sector);
            }
            t
        }
    }
}

/// Checks one block (`data`: BLOCK_SIZE bytes) of device `dev`, whose
/// newest acknowledged write is `newest` (0: none).
pub fn check_block(dev: u32, block: u64, newest: u64, data: &[u8]) -> Result<Good, Violation> {
    assert_eq!(data.len(), BLOCK_SIZE);
    let sectors: Vec<Sector> = data.chunks_exact(SECTOR_SIZE).map(decode_sector).collect();
    let mut ok = true;
    let (mut newer, mut records) = (0, 0);
    for (i, s) in sectors.iter().enumerate() {
        match *s {
            Sector::Record(h) if h.dev == dev && h.block == block && h.sector as usize == i => {
                records += 1;
                if h.seq > newest {
                    newer += 1;
                }
                if h.seq < newest {
                    ok = false;
                }
            }
            Sector::Zero if newest == 0 => {}
            _ => ok = false,
        }
    }
    if ok {
        return Ok(if newest == 0 {
            if records == 0 {
                Good::Zero
            } else {
                Good::Unacked
            }
        } else if newer > 0 {
            Good::Newer
        } else {
            Good::Acked
        });
    }
    // Group runs of sectors that look alike.
    let texts: Vec<String> = sectors
        .iter()
        .enumerate()
        .map(|(i, s)| describe(dev, block, i, s))
        .collect();
    let found = if texts.iter().all(|t| *t == texts[0]) {
        texts[0].clone()
    } else {
        let mut parts = Vec::new();
        let mut start = 0;
        for i in 1..=SECTORS_PER_BLOCK {
            if i == SECTORS_PER_BLOCK || texts[i] != texts[start] {
                let range = if i - 1 == start {
                    format!("sector {start}")
                } else {
                    format!("sectors {start}-{}", i - 1)
                };
                parts.push(format!("{range}: {}", texts[start]));
                start = i;
            }
        }
        parts.join(", ")
    };
    Err(Violation {
        dev,
        block,
        expected: (newest != 0).then_some(newest),
        found,
    })
}

/// Verifies the devices of `table` block by block. `read(dev, first, buf)`
/// fills `buf` (a multiple of BLOCK_SIZE) with blocks from `first` on.
/// `report` sees each violation as it is found.
pub fn verify(
    table: &Table,
    chunk_blocks: usize,
    mut read: impl FnMut(u32, u64, &mut [u8]) -> std::io::Result<()>,
    mut report: impl FnMut(&Violation),
    buf: &mut [u8],
) -> std::io::Result<Stats> {
    assert!(buf.len() >= chunk_blocks * BLOCK_SIZE && chunk_blocks > 0);
    let mut st = Stats::default();
    for (dev, row) in table.newest.iter().enumerate() {
        let dev = dev as u32;
        let blocks = row.len() as u64;
        let mut first = 0;
        while first < blocks {
            let n = (blocks - first).min(chunk_blocks as u64);
            let chunk = &mut buf[..n as usize * BLOCK_SIZE];
            read(dev, first, chunk)?;
            for (i, data) in chunk.chunks_exact(BLOCK_SIZE).enumerate() {
                let block = first + i as u64;
                st.blocks += 1;
                match check_block(dev, block, row[block as usize], data) {
                    Ok(Good::Zero) => st.zero += 1,
                    Ok(Good::Unacked) => st.unacked += 1,
                    Ok(Good::Acked) => st.acked += 1,
                    Ok(Good::Newer) => st.newer += 1,
                    Err(v) => {
                        st.bad += 1;
                        report(&v);
                    }
                }
            }
            first += n;
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acks::AckLog;
    use crate::record::encode_write;

    /// An in-memory device set: writes as the writer would.
    struct Disks(Vec<Vec<u8>>);

    impl Disks {
        fn new(devs: usize, blocks: u64) -> Self {
            Disks(vec![vec![0; blocks as usize * BLOCK_SIZE]; devs])
        }
        fn write(&mut self, seq: u64, dev: u32, first: u64, n: u32) {
            let at = first as usize * BLOCK_SIZE;
            encode_write(
                seq,
                dev,
                first,
                n,
                &mut self.0[dev as usize][at..at + n as usize * BLOCK_SIZE],
            );
        }
        fn run(&self, acks: &str) -> (Stats, Vec<String>) {
            let log = AckLog::parse(acks);
            let blocks = (self.0[0].len() / BLOCK_SIZE) as u64;
            let table = log.table(&vec![blocks; self.0.len()]).unwrap();
            let mut found = Vec::new();
            let mut buf = vec![0; 3 * BLOCK_SIZE];
            let st = verify(
                &table,
                3,
                |dev, first, b| {
                    let at = first as usize * BLOCK_SIZE;
                    b.copy_from_slice(&self.0[dev as usize][at..at + b.len()]);
                    Ok(())
                },
                |v| found.push(v.to_string()),
                &mut buf,
            )
            .unwrap();
            (st, found)
        }
    }

    #[test]
    fn clean_run() {
        let mut d = Disks::new(2, 8);
        d.write(1, 0, 0, 2);
        d.write(2, 1, 3, 4);
        d.write(3, 0, 1, 1);
        d.write(4, 0, 5, 1); // in flight at the crash: landed, not acked
        let (st, bad) = d.run("A 1 0 0 2\nA 2 1 3 4\nA 3 0 1 1\nA 4 0");
        assert_eq!(bad, Vec::<String>::new());
        assert_eq!(
            st,
            Stats {
                blocks: 16,
                acked: 6,
                newer: 0,
                unacked: 1,
                zero: 9,
                bad: 0
            }
        );
    }

    #[test]
    fn a_later_unacked_write_may_land_whole_or_torn() {
        let mut d = Disks::new(1, 4);
        d.write(10, 0, 0, 2);
        d.write(11, 0, 1, 2); // not acked, landed whole
                              // Write 12 of block 0 tore: only its first three sectors landed.
        let mut new = vec![0; BLOCK_SIZE];
        encode_write(12, 0, 0, 1, &mut new);
        d.0[0][..3 * 512].copy_from_slice(&new[..3 * 512]);
        // A torn never-acked write of block 3: half zeroes, half record.
        encode_write(13, 0, 3, 1, &mut new);
        d.0[0][3 * BLOCK_SIZE..3 * BLOCK_SIZE + 1024].copy_from_slice(&new[..1024]);
        let (st, bad) = d.run("A 10 0 0 2\n");
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!((st.newer, st.unacked, st.acked, st.zero), (2, 2, 0, 0));
    }

    #[test]
    fn lost_acked_write_is_reported_precisely() {
        let mut d = Disks::new(2, 8);
        d.write(1, 0, 0, 4);
        d.write(2, 1, 2, 1);
        d.write(3, 0, 2, 1);
        // The device lost write 3 (block 2 still has write 1) and block 1
        // of device 0 was zeroed behind our back.
        d.write(1, 0, 2, 1);
        d.0[0][BLOCK_SIZE..2 * BLOCK_SIZE].fill(0);
        // Device 1 block 2 got device 0's block 2 (misdirected).
        let copy = d.0[0][2 * BLOCK_SIZE..3 * BLOCK_SIZE].to_vec();
        d.0[1][2 * BLOCK_SIZE..3 * BLOCK_SIZE].copy_from_slice(&copy);
        let (st, bad) = d.run("A 1 0 0 4\nA 2 1 2 1\nA 3 0 2 1\n");
        assert_eq!(
            bad,
            vec![
                "dev 0 block 1: expected seq >= 1, found zeroes",
                "dev 0 block 2: expected seq >= 3, found seq 1",
                "dev 1 block 2: expected seq >= 2, found seq 1 of dev 0 block 2",
            ]
        );
        assert_eq!(st.bad, 3);
    }

    #[test]
    fn mixed_sectors_are_grouped() {
        let mut d = Disks::new(1, 2);
        d.write(5, 0, 0, 1);
        d.0[0][4 * 512..].fill(0);
        d.0[0][7 * 512 + 9] = 0xaa;
        d.0[0][2 * 512 + 100] ^= 1;
        let (_, bad) = d.run("A 5 0 0 1");
        assert_eq!(
            bad,
            vec!["dev 0 block 0: expected seq >= 5, found sectors 0-1: seq 5, sector 2: a damaged record (seq 5 as read), sector 3: seq 5, sectors 4-6: zeroes, sector 7: garbage"]
        );
    }

    #[test]
    fn never_acked_blocks_must_be_zero_or_their_own() {
        let mut d = Disks::new(1, 4);
        d.write(5, 0, 0, 1);
        // Block 1 holds block 0's record, block 2 garbage.
        let copy = d.0[0][..BLOCK_SIZE].to_vec();
        d.0[0][BLOCK_SIZE..2 * BLOCK_SIZE].copy_from_slice(&copy);
        d.0[0][2 * BLOCK_SIZE + 17] = 1;
        let (st, bad) = d.run("");
        assert_eq!(st.unacked, 1);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].starts_with("dev 0 block 1: never acknowledged, expected zeroes or records of this block, found seq 5 of dev 0 block 0"), "{}", bad[0]);
        assert_eq!(
            bad[1],
            "dev 0 block 2: never acknowledged, expected zeroes or records of this block, found sector 0: garbage, sectors 1-7: zeroes"
        );
    }

    #[test]
    fn a_zeroed_block_after_many_rounds() {
        // Round 1 and round 2 (start seqs 1 and 1000000001) on the same
        // disks; the ack files are concatenated.
        let mut d = Disks::new(1, 6);
        d.write(1, 0, 0, 3);
        d.write(2, 0, 3, 3);
        d.write(1_000_000_001, 0, 2, 2);
        let acks = "A 1 0 0 3\nA 2 0 3 3\nA 1000000001 0 2 2\n";
        let (st, bad) = d.run(acks);
        assert!(bad.is_empty());
        assert_eq!(st.acked, 6);
        d.0[0][3 * BLOCK_SIZE..4 * BLOCK_SIZE].fill(0);
        let (_, bad) = d.run(acks);
        assert_eq!(
            bad,
            vec!["dev 0 block 3: expected seq >= 1000000001, found zeroes"]
        );
        // Compacting the acks changes nothing.
        let (_, again) = d.run(&AckLog::parse(acks).compact());
        assert_eq!(again, bad);
    }
}
