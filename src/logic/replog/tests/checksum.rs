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

/// The kernel's `__crc32c_le_shift` (lib/crc32.c), bit for bit: what
/// `KernelCrc32c::zeros` calls.
struct ShiftCrc;

const CRC32C_POLY_LE: u32 = 0x82f6_3b78;

fn gf2_multiply(mut x: u32, y: u32, modulus: u32) -> u32 {
    let mut product = if x & 1 != 0 { y } else { 0 };
    for _ in 0..31 {
        product = (product >> 1) ^ if product & 1 != 0 { modulus } else { 0 };
        x >>= 1;
        product ^= if x & 1 != 0 { y } else { 0 };
    }
    product
}

fn kernel_shift(mut crc: u32, mut len: usize) -> u32 {
    let mut power = CRC32C_POLY_LE;
    for _ in 0..8 * (len & 3) {
        crc = (crc >> 1) ^ if crc & 1 != 0 { CRC32C_POLY_LE } else { 0 };
    }
    len >>= 2;
    while len != 0 {
        if len & 1 != 0 {
            crc = gf2_multiply(crc, power, CRC32C_POLY_LE);
        }
        len >>= 1;
        power = gf2_multiply(power, power, CRC32C_POLY_LE);
    }
    crc
}

impl crate::logic::replog::Crc32c for ShiftCrc {
    fn crc32c(seed: u32, data: &[u8]) -> u32 {
        SoftCrc::crc32c(seed, data)
    }
    fn zeros(seed: u32, len: usize) -> u32 {
        kernel_shift(seed, len)
    }
}

use crate::logic::replog::Crc32c as _;

#[test]
fn shifting_in_zeros_is_feeding_them() {
    for len in [0usize, 1, 2, 3, 4, 5, 7, 255, 256, 257, 3580, 4092, 100_000] {
        for seed in [0u32, !0, 0x1234_5678, 0x8000_0001] {
            assert_eq!(
                ShiftCrc::zeros(seed, len),
                SoftCrc::zeros(seed, len),
                "len {len} seed {seed:#x}"
            );
            assert_eq!(
                SoftCrc::zeros(seed, len),
                SoftCrc::crc32c(seed, &std::vec![0u8; len])
            );
        }
    }
}

proptest::proptest! {
    /// An entry header sealed from its used part equals one sealed over
    /// the whole block, with either way of adding the zeros.
    #[test]
    fn header_seal_equals_whole_block_seal(
        seq in proptest::prelude::any::<u64>(),
        sector in proptest::prelude::any::<u64>(),
        sectors in 0u32..4096,
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
        let mut b = [0u8; BLOCK_SIZE];
        h.encode::<ShiftCrc>(&uuid, &mut a);
        h.encode::<SoftCrc>(&uuid, &mut b);
        proptest::prop_assert_eq!(&a[..], &b[..]);
        let whole = crc32c::<SoftCrc>(&a[..BLOCK_SIZE - 4]);
        proptest::prop_assert_eq!(&a[BLOCK_SIZE - 4..], &whole.to_le_bytes()[..]);
        proptest::prop_assert_eq!(EntryHeader::decode::<SoftCrc>(&a, &uuid).map(|d| d.seq), Ok(seq));
    }
}
