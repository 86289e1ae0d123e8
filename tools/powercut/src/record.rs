//! `powercut record`: serve the devices of a group through NBD while a
//! load runs on them, and write down everything they were asked to do.
//!
//! The load's acknowledgements reach the recorder through a FIFO: each
//! line read from it (`A ...`, `F ...` and `I ...`, as `crashwriter
//! write` prints them) becomes a mark at the point of the history where it was
//! read, which is after the write it acknowledges completed. A line
//! `end` stops the recording: the devices are disconnected (nothing may
//! hold them open then) and the trace is written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use crate::nbd::{Recording, Served};
use crate::trace::{Event, Trace};

/// One device to serve.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// The `/dev/nbdN` to connect.
    pub nbd: String,
    /// Its size in bytes (a multiple of 4096).
    pub size: u64,
    /// A file with its initial contents (zeroes without).
    pub image: Option<String>,
}

impl DeviceSpec {
    /// Parses `NBD=SIZE[:IMAGE]`, SIZE in bytes or with a K/M suffix.
    pub fn parse(text: &str) -> Result<DeviceSpec, String> {
        let (nbd, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("--dev {text}: NBD=SIZE[:IMAGE]"))?;
        let (size, image) = match rest.split_once(':') {
            Some((s, i)) => (s, Some(i.to_string())),
            None => (rest, None),
        };
        let (digits, unit) = match size.strip_suffix('M') {
            Some(d) => (d, 1 << 20),
            None => match size.strip_suffix('K') {
                Some(d) => (d, 1 << 10),
                None => (size, 1),
            },
        };
        let size = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .filter(|&n| n > 0 && n % 4096 == 0 && n <= 1 << 30)
            .ok_or_else(|| format!("--dev {text}: size must be a multiple of 4096 up to 1G"))?;
        Ok(DeviceSpec {
            nbd: nbd.to_string(),
            size,
            image,
        })
    }
}

fn initial_image(spec: &DeviceSpec) -> io::Result<Vec<u8>> {
    let mut image = vec![0u8; spec.size as usize];
    if let Some(path) = &spec.image {
        let data = std::fs::read(path)?;
        let n = data.len().min(image.len());
        image[..n].copy_from_slice(&data[..n]);
    }
    Ok(image)
}

/// Records until `end` arrives on `marks`; writes the trace to `out` and
/// a summary line to `report`.
pub fn record(
    devs: &[DeviceSpec],
    marks: &str,
    out: &str,
    report: &mut dyn Write,
) -> io::Result<()> {
    let initial = devs
        .iter()
        .map(initial_image)
        .collect::<io::Result<Vec<_>>>()?;
    let rec = Arc::new(Mutex::new(Recording {
        images: initial.clone(),
        events: Vec::new(),
    }));
    let mut served = Vec::new();
    for (i, d) in devs.iter().enumerate() {
        match Served::start(&d.nbd, i as u8, rec.clone()) {
            Ok(s) => served.push(s),
            Err(e) => {
                for s in served {
                    let _ = s.stop();
                }
                return Err(io::Error::new(e.kind(), format!("{}: {e}", d.nbd)));
            }
        }
    }
    writeln!(report, "powercut: recording {} devices", devs.len())?;
    report.flush()?;
    let (mut lines, mut ended) = (0u64, false);
    while !ended {
        // Each writer's open and close is one pass; `end` ends them all.
        let fifo = BufReader::new(File::open(marks)?);
        for line in fifo.lines() {
            let line = line?;
            if line == "end" {
                ended = true;
                break;
            }
            if line.starts_with("A ") || line.starts_with("F ") || line.starts_with("I ") {
                lines += 1;
                rec.lock()
                    .map_err(|_| io::Error::other("recording lock poisoned"))?
                    .events
                    .push(Event::Mark(line));
            }
        }
    }
    let mut requests = 0;
    for s in served {
        requests += s.stop()?;
    }
    let events = std::mem::take(
        &mut rec
            .lock()
            .map_err(|_| io::Error::other("recording lock poisoned"))?
            .events,
    );
    let trace = Trace { initial, events };
    let (mut writes, mut flushes, mut fua) = (0, 0, 0);
    for e in &trace.events {
        match e {
            Event::Write { fua: f, .. } => {
                writes += 1;
                fua += *f as u64;
            }
            Event::Flush { .. } => flushes += 1,
            Event::Mark(_) => {}
        }
    }
    std::fs::write(out, trace.encode())?;
    writeln!(
        report,
        "powercut: recorded {} events ({writes} writes, {fua} of them FUA, {flushes} flushes, {lines} marks) from {requests} requests",
        trace.events.len()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DeviceSpec;

    #[test]
    fn device_specs() {
        let d = DeviceSpec::parse("/dev/nbd0=2M").unwrap();
        assert_eq!(
            (d.nbd.as_str(), d.size, d.image),
            ("/dev/nbd0", 2 << 20, None)
        );
        let d = DeviceSpec::parse("/dev/nbd1=8K:/tmp/x").unwrap();
        assert_eq!((d.size, d.image.as_deref()), (8192, Some("/tmp/x")));
        assert!(DeviceSpec::parse("/dev/nbd0=1000").is_err());
        assert!(DeviceSpec::parse("/dev/nbd0").is_err());
        assert!(DeviceSpec::parse("/dev/nbd0=0").is_err());
    }
}
