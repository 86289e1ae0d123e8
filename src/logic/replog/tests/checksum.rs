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
