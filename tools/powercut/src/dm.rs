//! Creating and removing device-mapper devices with the DM ioctls, as
//! `dmsetup create`/`remove` do, without a process per call: a check of
//! a cut loads and removes several tables, hundreds of times per run.

use std::fs::{File, OpenOptions};
use std::io;

use crate::sys::ioctl_buf;

const IOCTL_SIZE: u64 = 312;
const fn dm_iowr(nr: u64) -> u64 {
    (3 << 30) | (IOCTL_SIZE << 16) | (0xfd << 8) | nr
}
const DM_DEV_CREATE: u64 = dm_iowr(3);
const DM_DEV_REMOVE: u64 = dm_iowr(4);
const DM_DEV_SUSPEND: u64 = dm_iowr(6);
const DM_TABLE_LOAD: u64 = dm_iowr(9);
const DM_TABLE_STATUS: u64 = dm_iowr(12);

const DM_SUSPEND_FLAG: u32 = 1 << 1;
const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;
const NAME_LEN: usize = 128;
const SPEC_SIZE: usize = 40;
const BUF_SIZE: usize = 16 * 1024;

// Offsets in struct dm_ioctl.
const DATA_SIZE: usize = 12;
const DATA_START: usize = 16;
const TARGET_COUNT: usize = 20;
const FLAGS: usize = 28;
const DEV: usize = 40;
const NAME: usize = 48;

/// `/dev/mapper/control`.
pub struct Control {
    file: File,
}

/// One line of a table: start, length, target type, arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub start: u64,
    pub len: u64,
    pub kind: String,
    pub args: String,
}

impl Target {
    /// Parses `START LEN TYPE ARGS...`.
    pub fn parse(line: &str) -> Result<Target, String> {
        let mut it = line.split_whitespace();
        let mut num = |what: &str| -> Result<u64, String> {
            it.next()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("table line needs a {what}: {line}"))
        };
        let start = num("start sector")?;
        let len = num("length")?;
        let kind = it
            .next()
            .ok_or_else(|| format!("table line needs a target type: {line}"))?
            .to_string();
        let args: Vec<&str> = it.collect();
        Ok(Target {
            start,
            len,
            kind,
            args: args.join(" "),
        })
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(x)
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(x)
}

impl Control {
    /// Opens the control device.
    pub fn open() -> io::Result<Control> {
        Ok(Control {
            file: OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/mapper/control")?,
        })
    }

    /// A request buffer for device `name`.
    fn request(name: &str) -> io::Result<Vec<u8>> {
        if name.len() >= NAME_LEN || name.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad device name {name}"),
            ));
        }
        let mut b = vec![0u8; BUF_SIZE];
        put_u32(&mut b, 0, 4);
        put_u32(&mut b, DATA_SIZE, BUF_SIZE as u32);
        put_u32(&mut b, DATA_START, IOCTL_SIZE as u32);
        b[NAME..NAME + name.len()].copy_from_slice(name.as_bytes());
        Ok(b)
    }

    fn call(&self, what: &str, name: &str, request: u64, buf: &mut [u8]) -> io::Result<()> {
        ioctl_buf(&self.file, request, buf)
            .map(|_| ())
            .map_err(|e| io::Error::new(e.kind(), format!("{what} {name}: {e}")))
    }

    /// Creates `name` with `table` and resumes it; returns its
    /// `major:minor`. On failure nothing of it is left.
    pub fn create(&self, name: &str, table: &[Target]) -> io::Result<String> {
        let mut b = Self::request(name)?;
        self.call("create", name, DM_DEV_CREATE, &mut b)?;
        let dev = get_u64(&b, DEV);
        let result = self.load(name, table).and_then(|()| self.resume(name));
        if let Err(e) = result {
            let _ = self.remove(name);
            return Err(e);
        }
        // The kernel's encoding of dev_t (huge_encode_dev).
        let major = ((dev >> 8) & 0xfff) as u32;
        let minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32;
        Ok(format!("{major}:{minor}"))
    }

    fn load(&self, name: &str, table: &[Target]) -> io::Result<()> {
        let mut b = Self::request(name)?;
        let mut at = IOCTL_SIZE as usize;
        for t in table {
            let spec = at;
            let params = at + SPEC_SIZE;
            // NUL-terminated, next spec 8-byte aligned; `next` counts
            // from this spec (from the ioctl header for the first).
            let next = (params + t.args.len() + 1).next_multiple_of(8);
            if next > b.len() || t.kind.len() >= 16 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("table of {name} too large"),
                ));
            }
            b[spec..spec + 8].copy_from_slice(&t.start.to_ne_bytes());
            b[spec + 8..spec + 16].copy_from_slice(&t.len.to_ne_bytes());
            put_u32(&mut b, spec + 20, (next - spec) as u32);
            b[spec + 24..spec + 24 + t.kind.len()].copy_from_slice(t.kind.as_bytes());
            b[params..params + t.args.len()].copy_from_slice(t.args.as_bytes());
            at = next;
        }
        put_u32(&mut b, TARGET_COUNT, table.len() as u32);
        self.call("load table of", name, DM_TABLE_LOAD, &mut b)
    }

    fn resume(&self, name: &str) -> io::Result<()> {
        let mut b = Self::request(name)?;
        self.call("resume", name, DM_DEV_SUSPEND, &mut b)
    }

    /// Suspends `name` (flushing what it holds).
    pub fn suspend(&self, name: &str) -> io::Result<()> {
        let mut b = Self::request(name)?;
        put_u32(&mut b, FLAGS, DM_SUSPEND_FLAG);
        self.call("suspend", name, DM_DEV_SUSPEND, &mut b)
    }

    /// Removes `name`.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let mut b = Self::request(name)?;
        self.call("remove", name, DM_DEV_REMOVE, &mut b)
    }

    /// The status line of each target of `name`, as `dmsetup status`
    /// prints them (without start, length and type).
    pub fn status(&self, name: &str) -> io::Result<Vec<String>> {
        let mut b = Self::request(name)?;
        self.call("status of", name, DM_TABLE_STATUS, &mut b)?;
        if get_u32(&b, FLAGS) & DM_BUFFER_FULL_FLAG != 0 {
            return Err(io::Error::other(format!("status of {name} too long")));
        }
        let start = get_u32(&b, DATA_START) as usize;
        let mut out = Vec::new();
        let mut at = start;
        for _ in 0..get_u32(&b, TARGET_COUNT) {
            let params = at + SPEC_SIZE;
            let Some(rest) = b.get(params..) else { break };
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            at = start + get_u32(&b, at + 20) as usize;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_lines() {
        let t = Target::parse("0 8192 replicator-dev 253:0 0 0 1 /dev/ram1 nolog 0").unwrap();
        assert_eq!(
            (t.start, t.len, t.kind.as_str()),
            (0, 8192, "replicator-dev")
        );
        assert_eq!(t.args, "253:0 0 0 1 /dev/ram1 nolog 0");
        assert!(Target::parse("0 x linear").is_err());
        assert!(Target::parse("0 8").is_err());
    }

    #[test]
    fn request_numbers_match_the_uapi() {
        assert_eq!(DM_DEV_CREATE, 0xc138_fd03);
        assert_eq!(DM_TABLE_STATUS, 0xc138_fd0c);
    }
}
