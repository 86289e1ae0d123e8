//! `replog`: check, dump and format dm-replicator replication logs in
//! images or on block devices, and read and write replica labels.
//!
//! The on-disk format is `Documentation/replog-format.rst`; the code that
//! reads and writes it is the kernel module's own, from the `dmr-logic`
//! crate, so the tool sees a log exactly as the kernel does.

pub mod append;
pub mod assemble;
pub mod check;
pub mod cli;
pub mod config;
pub mod config_check;
pub mod config_cli;
pub mod config_parse;
pub mod dirty;
pub mod dmsetup;
pub mod dump;
pub mod failback;
pub mod hostdev;
pub mod image;
pub mod label;
pub mod metrics;
pub mod report;
pub mod show;
pub mod state;
pub mod status;
pub mod tables;
pub mod unshipped;

use dmr_logic::replog::Crc32c;

/// CRC-32C from the `crc32c` crate (hardware accelerated where it can).
pub struct HostCrc;

impl Crc32c for HostCrc {
    fn crc32c(seed: u32, data: &[u8]) -> u32 {
        // The crate inverts on entry and exit; the format's trait does not.
        !crc32c::crc32c_append(!seed, data)
    }
}

#[cfg(test)]
mod tests {
    use super::HostCrc;
    use dmr_logic::replog::checksum::{crc32c, DataCrc};

    #[test]
    fn host_crc_is_the_standard_crc32c() {
        assert_eq!(crc32c::<HostCrc>(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c::<HostCrc>(b""), 0);
        let data: Vec<u8> = (0..9000u32).map(|i| (i * 7) as u8).collect();
        let chained = data
            .chunks(1000)
            .fold(DataCrc::new(), |c, piece| c.update::<HostCrc>(piece))
            .finish();
        assert_eq!(chained, crc32c::<HostCrc>(&data));
        assert_eq!(chained, crc32c::crc32c(&data));
    }
}
