//! The recorded history of a device group: every write, flush and mark
//! in the one order the recorder served them, and the devices' contents
//! before the first.
//!
//! File format (little-endian), written once when recording ends:
//!
//! ```text
//!   "DMRPCUT1"
//!   u32 devices; per device: u64 bytes, u64 n, then n times
//!       (u64 block, 4096 bytes): the non-zero blocks it started with
//!   u64 events; per event a kind byte:
//!       1 write: u8 dev, u8 fua, u64 offset, u32 len, len bytes
//!       2 flush: u8 dev
//!       3 mark:  u32 len, len bytes of text (one line of the load's output)
//! ```

use std::io;

/// Bytes per block of an initial image.
pub const BLOCK: usize = 4096;
/// Bytes per sector: the unit a torn write keeps or loses.
pub const SECTOR: usize = 512;

const MAGIC: &[u8; 8] = b"DMRPCUT1";

/// One thing a device was asked to do, or a line the load printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Data written at byte `offset` of device `dev`; `fua`: durable when
    /// it completes.
    Write {
        dev: u8,
        offset: u64,
        fua: bool,
        data: Vec<u8>,
    },
    /// Every write to `dev` that completed before is durable.
    Flush { dev: u8 },
    /// A line of the load's output (an acknowledgement), recorded after
    /// the load printed it.
    Mark(String),
}

/// A recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Each device's contents when recording started (its length is the
    /// device's size).
    pub initial: Vec<Vec<u8>>,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
}

impl Trace {
    /// The file form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.initial.len() as u32).to_le_bytes());
        for image in &self.initial {
            out.extend_from_slice(&(image.len() as u64).to_le_bytes());
            let used: Vec<(usize, &[u8])> = image
                .chunks(BLOCK)
                .enumerate()
                .filter(|(_, b)| b.iter().any(|&x| x != 0))
                .collect();
            out.extend_from_slice(&(used.len() as u64).to_le_bytes());
            for (i, b) in used {
                out.extend_from_slice(&(i as u64).to_le_bytes());
                out.extend_from_slice(b);
                out.resize(out.len() + BLOCK - b.len(), 0);
            }
        }
        out.extend_from_slice(&(self.events.len() as u64).to_le_bytes());
        for e in &self.events {
            match e {
                Event::Write {
                    dev,
                    offset,
                    fua,
                    data,
                } => {
                    out.extend_from_slice(&[1, *dev, *fua as u8]);
                    out.extend_from_slice(&offset.to_le_bytes());
                    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                    out.extend_from_slice(data);
                }
                Event::Flush { dev } => out.extend_from_slice(&[2, *dev]),
                Event::Mark(text) => {
                    out.push(3);
                    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    /// Decodes a file; any inconsistency is an error naming it.
    pub fn decode(bytes: &[u8]) -> io::Result<Trace> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(bad("not a power-cut trace (bad magic)"));
        }
        let mut t = Trace::default();
        for _ in 0..r.u32()? {
            let size = usize::try_from(r.u64()?).map_err(|_| bad("device too large"))?;
            if size > 1 << 34 {
                return Err(bad("device too large"));
            }
            let mut image = vec![0u8; size];
            for _ in 0..r.u64()? {
                let at = usize::try_from(r.u64()?)
                    .ok()
                    .and_then(|b| b.checked_mul(BLOCK))
                    .filter(|&at| at < size)
                    .ok_or_else(|| bad("initial block outside the device"))?;
                let data = r.take(BLOCK)?;
                let end = (at + BLOCK).min(size);
                image[at..end].copy_from_slice(&data[..end - at]);
            }
            t.initial.push(image);
        }
        let n = r.u64()?;
        for _ in 0..n {
            let e = match r.take(1)?[0] {
                1 => {
                    let head = r.take(2)?;
                    let (dev, fua) = (head[0], head[1] != 0);
                    let offset = r.u64()?;
                    let len = r.u32()? as usize;
                    let data = r.take(len)?.to_vec();
                    t.check_extent(dev, offset, len)?;
                    Event::Write {
                        dev,
                        offset,
                        fua,
                        data,
                    }
                }
                2 => {
                    let dev = r.take(1)?[0];
                    t.check_extent(dev, 0, 0)?;
                    Event::Flush { dev }
                }
                3 => {
                    let len = r.u32()? as usize;
                    let text = String::from_utf8(r.take(len)?.to_vec())
                        .map_err(|_| bad("mark is not text"))?;
                    Event::Mark(text)
                }
                k => return Err(bad(&format!("unknown event kind {k}"))),
            };
            t.events.push(e);
        }
        if r.at != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(t)
    }

    fn check_extent(&self, dev: u8, offset: u64, len: usize) -> io::Result<()> {
        let size = self
            .initial
            .get(dev as usize)
            .ok_or_else(|| {
                bad(&format!(
                    "event for device {dev}, which the trace does not have"
                ))
            })?
            .len() as u64;
        if offset.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(bad(&format!(
                "write at {offset}+{len} is outside device {dev}"
            )));
        }
        Ok(())
    }
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("trace: {why}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| bad("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        let mut a = vec![0u8; 3 * BLOCK + 512];
        a[BLOCK + 7] = 9;
        a[3 * BLOCK + 100] = 1;
        Trace {
            initial: vec![a, vec![0; 1024]],
            events: vec![
                Event::Write {
                    dev: 0,
                    offset: 512,
                    fua: false,
                    data: vec![5; 1024],
                },
                Event::Flush { dev: 1 },
                Event::Mark("A 1 0 0 1".into()),
                Event::Write {
                    dev: 1,
                    offset: 0,
                    fua: true,
                    data: vec![6; 512],
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let t = sample();
        assert_eq!(Trace::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn refuses_damage() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Trace::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut t = sample();
        t.events.push(Event::Write {
            dev: 1,
            offset: 1000,
            fua: false,
            data: vec![1; 512],
        });
        assert!(Trace::decode(&t.encode()).is_err());
        let mut t = sample();
        t.events.push(Event::Flush { dev: 2 });
        assert!(Trace::decode(&t.encode()).is_err());
    }
}
