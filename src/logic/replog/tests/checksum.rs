//! CRC-32C: the reference implementation and the chaining the kernel uses.

use super::SoftCrc;
use crate::logic::replog::checksum::{crc32c, DataCrc};

#[test]
fn standard_check_value() {
    assert_eq!(crc32c::<SoftCrc>(b"123456789"), 0xe306_9283);
    assert_eq!(crc32c::<SoftCrc>(b""), 0);
}

#[test]
fn pieces_chain_to_the_whole() {
    let data: std::vec::Vec<u8> = (0..10_000u32).map(|i| (i * 13) as u8).collect();
    let whole = crc32c::<SoftCrc>(&data);
    let pieces = data
        .chunks(4096)
        .fold(DataCrc::new(), |crc, piece| crc.update::<SoftCrc>(piece))
        .finish();
    assert_eq!(whole, pieces);
    assert_eq!(DataCrc::default().finish(), 0);
}

use crate::logic::replog::checksum::ZeroTail;
use crate::logic::replog::Crc32c as _;

#[test]
fn a_zero_tail_shift_is_feeding_zeros() {
    for used in [0usize, 1, 2, 3, 5, 255, 256, 512, 3000, 4091, 4092, 5000] {
        let tail = ZeroTail::new(used);
        let n = 4092usize.saturating_sub(used);
        for seed in [0u32, !0, 0x1234_5678, 0x8000_0001, 1] {
            assert_eq!(
                tail.shift(seed),
                SoftCrc::crc32c(seed, &std::vec![0u8; n]),
                "used {used} seed {seed:#x}"
            );
        }
    }
}

proptest::proptest! {
    /// An entry header (sealed from its used bytes) carries the checksum of
    /// its whole block, and decodes.
    #[test]
    fn header_seal_equals_whole_block_seal(
        seq in proptest::prelude::any::<u64>(),
        sector in 0u64..1 << 40,
        // A write of no sectors without flags is not an entry (decode says
        // EntryEmpty); the empty kinds have tests of their own.
        sectors in 1u32..4096,
        crc in proptest::prelude::any::<u32>(),
        bits in proptest::collection::vec(0u32..2048, 0..8),
    ) {
        use crate::logic::replog::{EntryFlags, EntryHeader, SlinkBitmap};
        use crate::logic::replog::geometry::BLOCK_SIZE;
        let mut slinks = SlinkBitmap::new();
        for b in bits {
            slinks.insert(b);
        }
        let h = EntryHeader { seq, epoch: seq / 3, dev: 1, flags: EntryFlags::empty(), sector, sectors, data_crc: crc, incarnation: 2, slinks };
        let uuid = *b"replog-test-uuid";
        let mut a = [0u8; BLOCK_SIZE];
        h.encode::<SoftCrc>(&uuid, &mut a);
        let whole = crc32c::<SoftCrc>(&a[..BLOCK_SIZE - 4]);
        proptest::prop_assert_eq!(&a[BLOCK_SIZE - 4..], &whole.to_le_bytes()[..]);
        proptest::prop_assert_eq!(EntryHeader::decode::<SoftCrc>(&a, &uuid).map(|d| d.seq), Ok(seq));
    }
}
