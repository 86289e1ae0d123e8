//! The write-order load: one deterministic sequence of one-block writes,
//! and the block that says which write of the sequence it is.
//!
//! A run is defined by a seed S and a block count N: write number `i`
//! (1, 2, 3, ...) goes to block [`block_for`]`(S, N, i)` and fills it with
//! [`encode`]`(S, N, i, block)`. So the device state after the first `m`
//! writes is a function of (S, N, m) alone: every block holds its last
//! write numbered `<= m`, or zeroes if it has none. That is what lets the
//! checker (`order_check`) say whether a device is exactly such a prefix
//! state, without keeping a copy of any image, and lets a run be continued
//! (`order-write --first`) as one history.
//!
//! Block layout (4096 bytes, little-endian):
//!
//! ```text
//!    0  magic "DMRORDR1"
//!    8  seed      u64  S
//!   16  write     u64  write number i (>= 1)
//!   24  block     u64  block number (0..N)
//!   32  blocks    u64  N, the run's block count
//!   40  payload   4048 bytes derived from (S, i, block)
//! 4088  checksum  u64  over bytes 0..4088
//! ```

use crate::rng::{mix, Rng};
use crate::BLOCK_SIZE;

/// First eight bytes of every block of the write-order load.
pub const MAGIC: [u8; 8] = *b"DMRORDR1";
const PAYLOAD: std::ops::Range<usize> = 40..4088;
const CSUM: usize = 4088;

/// The block written by write `i` of the run (seed, blocks); `blocks` > 0.
pub fn block_for(seed: u64, blocks: u64, i: u64) -> u64 {
    if blocks == 0 {
        return 0;
    }
    mix(mix(seed ^ 0x6f72_6465_725f_7772) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % blocks
}

/// The little-endian word at byte `at` of `b` (within the block).
pub(crate) fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The checksum of a block's bytes 0..4088 (also `group`'s records).
pub(crate) fn checksum(block: &[u8]) -> u64 {
    let mut h: u64 = 0x3c6e_f372_fe94_f82b;
    for w in block[..CSUM].chunks_exact(8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(a))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    mix(h)
}

fn payload_rng(seed: u64, i: u64, block: u64) -> Rng {
    Rng::new(mix(seed) ^ mix(i.wrapping_add(0x5555)) ^ mix(block).rotate_left(17))
}

/// Fills `out` (one block) with write `i` of the run (seed, blocks) to
/// `block`.
pub fn encode(seed: u64, blocks: u64, i: u64, block: u64, out: &mut [u8; BLOCK_SIZE]) {
    out[0..8].copy_from_slice(&MAGIC);
    out[8..16].copy_from_slice(&seed.to_le_bytes());
    out[16..24].copy_from_slice(&i.to_le_bytes());
    out[24..32].copy_from_slice(&block.to_le_bytes());
    out[32..40].copy_from_slice(&blocks.to_le_bytes());
    let mut rng = payload_rng(seed, i, block);
    for w in out[PAYLOAD].chunks_exact_mut(8) {
        w.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let c = checksum(&out[..]);
    out[CSUM..].copy_from_slice(&c.to_le_bytes());
}

/// What one block of the device holds, judged against the run (seed,
/// blocks) and its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// All zeroes: never written.
    Zero,
    /// A valid write of this run, at its right place.
    Write(u64),
    /// Anything else, with what it is (for the report).
    Bad(String),
}

/// Judges `data` (one block, read from block `at`) against the run (seed,
/// blocks). Never panics, whatever `data` holds; a `data` of the wrong
/// length is `Bad`.
pub fn decode(seed: u64, blocks: u64, at: u64, data: &[u8]) -> Content {
    if data.len() != BLOCK_SIZE {
        return Content::Bad(format!("{} bytes, not a block", data.len()));
    }
    if data[0..8] != MAGIC {
        if data.iter().all(|&b| b == 0) {
            return Content::Zero;
        }
        return Content::Bad("foreign content".to_string());
    }
    let (s, i, block, n) = (
        word(data, 8),
        word(data, 16),
        word(data, 24),
        word(data, 32),
    );
    if checksum(data) != word(data, CSUM) {
        return Content::Bad(format!("damaged record (bad checksum; write {i} as read)"));
    }
    if s != seed {
        return Content::Bad(format!(
            "foreign content (write {i} of seed {s}, not {seed})"
        ));
    }
    if n != blocks {
        return Content::Bad(format!(
            "foreign content (write {i} of a run over {n} blocks, not {blocks})"
        ));
    }
    if i == 0 {
        return Content::Bad("damaged record (write number 0)".to_string());
    }
    if block != at {
        return Content::Bad(format!("holds write {i} of block {block} (misplaced)"));
    }
    let want = block_for(seed, blocks, i);
    if want != block {
        return Content::Bad(format!(
            "holds write {i} for block {block}, but seed {seed} puts write {i} at block {want}"
        ));
    }
    let mut rng = payload_rng(seed, i, block);
    if PAYLOAD
        .step_by(8)
        .any(|at| word(data, at) != rng.next_u64())
    {
        return Content::Bad(format!("damaged record (bad payload; write {i} as read)"));
    }
    Content::Write(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(seed: u64, blocks: u64, i: u64) -> (u64, [u8; BLOCK_SIZE]) {
        let b = block_for(seed, blocks, i);
        let mut d = [0u8; BLOCK_SIZE];
        encode(seed, blocks, i, b, &mut d);
        (b, d)
    }

    #[test]
    fn round_trip() {
        for i in 1..200 {
            let (b, d) = block(7, 64, i);
            assert!(b < 64);
            assert_eq!(decode(7, 64, b, &d), Content::Write(i));
        }
    }

    #[test]
    fn sequence_is_spread_and_depends_on_the_seed() {
        let a: Vec<u64> = (1..=1000).map(|i| block_for(1, 16, i)).collect();
        let b: Vec<u64> = (1..=1000).map(|i| block_for(2, 16, i)).collect();
        assert_ne!(a, b);
        for k in 0..16 {
            let c = a.iter().filter(|&&x| x == k).count();
            assert!((30..100).contains(&c), "block {k}: {c}");
        }
        assert_eq!(block_for(1, 1, 5), 0);
        assert_eq!(block_for(1, 0, 5), 0);
    }

    #[test]
    fn zero_foreign_and_damaged() {
        assert_eq!(decode(1, 8, 0, &[0; BLOCK_SIZE]), Content::Zero);
        assert_eq!(
            decode(1, 8, 0, &[0xff; BLOCK_SIZE]),
            Content::Bad("foreign content".into())
        );
        let mut z = [0u8; BLOCK_SIZE];
        z[4095] = 1;
        assert_eq!(decode(1, 8, 0, &z), Content::Bad("foreign content".into()));
        assert!(matches!(decode(1, 8, 0, &[0; 100]), Content::Bad(_)));
        let (b, d) = block(1, 8, 3);
        // Another seed's valid write.
        assert_eq!(
            decode(2, 8, b, &d),
            Content::Bad("foreign content (write 3 of seed 1, not 2)".into())
        );
        // Another run size.
        assert!(matches!(decode(1, 9, b, &d), Content::Bad(t) if t.contains("over 8 blocks")));
        // At the wrong place.
        let other = (b + 1) % 8;
        assert_eq!(
            decode(1, 8, other, &d),
            Content::Bad(format!("holds write 3 of block {b} (misplaced)"))
        );
        // Any flipped bit past the magic.
        for byte in (8..BLOCK_SIZE).step_by(37) {
            let mut t = d;
            t[byte] ^= 4;
            assert!(
                matches!(decode(1, 8, b, &t), Content::Bad(ref s) if s.starts_with("damaged")),
                "byte {byte}"
            );
        }
    }

    #[test]
    fn relabelled_record_with_fixed_checksum_is_caught() {
        let (b, mut d) = block(1, 8, 3);
        let other = (b + 1) % 8;
        // Claims write 3 of `other`, with a valid checksum: the sequence
        // puts write 3 elsewhere.
        d[24..32].copy_from_slice(&other.to_le_bytes());
        let c = checksum(&d);
        d[CSUM..].copy_from_slice(&c.to_le_bytes());
        assert!(matches!(decode(1, 8, other, &d), Content::Bad(t) if t.contains("puts write 3")));
        // Re-encoded as if seed's write 3 belonged there, the payload
        // differs from what block b's write would carry, so it is no copy.
        let (_, orig) = block(1, 8, 3);
        let mut e = [0u8; BLOCK_SIZE];
        encode(1, 8, 3, other, &mut e);
        assert_ne!(e[PAYLOAD], orig[PAYLOAD]);
    }
}
