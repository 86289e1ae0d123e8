//! `replog config metrics`: the groups' state in the Prometheus text
//! exposition format (version 0.0.4), for node_exporter's textfile
//! collector or any scraper that runs a command.
//!
//! Each metric family is written once with `# HELP` and `# TYPE`, then
//! its samples, labelled `group`, `slink` and `device` as they apply. A
//! device or replicator whose status cannot be read gets its `*_present`
//! sample 0 and no other samples, so an alert on a missing series and one
//! on a value both work.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write;

use crate::state::{GroupState, LinkState};

/// Kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only grows (until the target is reloaded or reset).
    Counter,
}

/// One metric family and its samples.
struct Family {
    /// Metric name.
    name: &'static str,
    /// `# HELP` text.
    help: &'static str,
    /// `# TYPE`.
    kind: Kind,
    /// Samples: labels and value.
    samples: Vec<(Vec<(&'static str, String)>, u64)>,
}

/// The families, in output order.
const FAMILIES: &[(&str, Kind, &str)] = &[
    ("dmr_group_present", Kind::Gauge, "1 if the group's replicator exists and its status was read."),
    ("dmr_group_replicating", Kind::Gauge, "1 if the group is replicating, 0 if stopped."),
    ("dmr_log_ok", Kind::Gauge, "1 if the replication log is healthy (A), 0 if a log write or flush failed (F)."),
    ("dmr_log_used_sectors", Kind::Gauge, "Sectors of the replication log's ring in use."),
    ("dmr_log_size_sectors", Kind::Gauge, "Sectors of the replication log's ring."),
    ("dmr_log_entries_total", Kind::Counter, "Entries written to the replication log."),
    ("dmr_log_flushes_total", Kind::Counter, "Commits of the replication log: flushes of its device and entries written alone with FUA."),
    ("dmr_log_checkpoints_total", Kind::Counter, "Checkpoints written to the replication log."),
    ("dmr_log_full_waits_total", Kind::Counter, "Writes that waited for replication log space."),
    ("dmr_slink_up", Kind::Gauge, "1 if every device shows the site link alive (A), 0 if any shows it down (W or R)."),
    ("dmr_slink_writes_wait", Kind::Gauge, "1 if writes wait for the site link (S: synchronous or past its fall-behind limit), 0 if the log absorbs it (A)."),
    ("dmr_slink_backlog_entries", Kind::Gauge, "Live log entries the site link still needs."),
    ("dmr_slink_backlog_sectors", Kind::Gauge, "Data sectors of the log entries the site link still needs."),
    ("dmr_device_present", Kind::Gauge, "1 if the replicated device exists and its status was read."),
    ("dmr_device_replicating", Kind::Gauge, "1 if the device is replicating, 0 if stopped."),
    ("dmr_device_slink_up", Kind::Gauge, "1 if the device's copy on the site link is alive (A), 0 if it shows W or R."),
    ("dmr_device_regions_in_sync", Kind::Gauge, "Regions of the device's remote copy that are in sync."),
    ("dmr_device_regions", Kind::Gauge, "Regions of the device's remote copy."),
    ("dmr_device_resyncing", Kind::Gauge, "1 while the regions not in sync are being resynchronised."),
    ("dmr_device_remote_consistent", Kind::Gauge, "1 if the device's remote copy is a point-in-time image (consistent), 0 while it is not (I in the status's consistency group, e.g. during a resync)."),
    ("dmr_device_verify_differing_regions", Kind::Gauge, "Regions the last online verify found different on the site link."),
];

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The families being filled.
struct Families(Vec<Family>);

impl Families {
    fn new() -> Families {
        Families(
            FAMILIES
                .iter()
                .map(|&(name, kind, help)| Family {
                    name,
                    help,
                    kind,
                    samples: Vec::new(),
                })
                .collect(),
        )
    }

    /// Adds a sample to family `name` (one of [`FAMILIES`]).
    fn add(&mut self, name: &str, labels: Vec<(&'static str, String)>, value: u64) {
        if let Some(family) = self.0.iter_mut().find(|f| f.name == name) {
            family.samples.push((labels, value));
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for family in self.0.iter().filter(|f| !f.samples.is_empty()) {
            let kind = match family.kind {
                Kind::Gauge => "gauge",
                Kind::Counter => "counter",
            };
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {kind}", family.name);
            for (labels, value) in &family.samples {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let _ = writeln!(out, "{}{{{}}} {value}", family.name, labels.join(","));
            }
        }
        out
    }
}

/// The exposition text of the groups' state.
pub fn render(states: &[GroupState<'_>]) -> String {
    let mut m = Families::new();
    for state in states {
        let name = &state.group.name;
        let group = || vec![("group", name.clone())];
        let slink = |nr: u32| vec![("group", name.clone()), ("slink", nr.to_string())];
        m.add(
            "dmr_group_present",
            group(),
            u64::from(state.replicator.is_ok()),
        );
        if let Ok(status) = &state.replicator {
            m.add(
                "dmr_group_replicating",
                group(),
                u64::from(status.replicating),
            );
            m.add("dmr_log_ok", group(), u64::from(status.log.ok));
            m.add("dmr_log_used_sectors", group(), status.ring_used);
            m.add("dmr_log_size_sectors", group(), status.ring_size);
            if let Some(c) = status.log.counters {
                m.add("dmr_log_entries_total", group(), c.entries);
                m.add("dmr_log_flushes_total", group(), c.flushes);
                m.add("dmr_log_checkpoints_total", group(), c.checkpoints);
                m.add("dmr_log_full_waits_total", group(), c.full_waits);
            }
        }
        for nr in state.slinks() {
            match state.link_state(nr) {
                LinkState::Up => m.add("dmr_slink_up", slink(nr), 1),
                LinkState::Down(_) => m.add("dmr_slink_up", slink(nr), 0),
                LinkState::Unknown => {}
            }
            if let Some(b) = state.replicator.as_ref().ok().and_then(|s| s.slink(nr)) {
                m.add("dmr_slink_writes_wait", slink(nr), u64::from(b.writes_wait));
                m.add("dmr_slink_backlog_entries", slink(nr), b.ios);
                m.add("dmr_slink_backlog_sectors", slink(nr), b.sectors);
            }
        }
        for d in &state.devices {
            let device = || vec![("group", name.clone()), ("device", d.device.name.clone())];
            let copy = |nr: u32| {
                vec![
                    ("group", name.clone()),
                    ("device", d.device.name.clone()),
                    ("slink", nr.to_string()),
                ]
            };
            m.add("dmr_device_present", device(), u64::from(d.status.is_ok()));
            let Ok(status) = &d.status else {
                continue;
            };
            m.add(
                "dmr_device_replicating",
                device(),
                u64::from(status.replicating),
            );
            for c in &status.copies {
                m.add(
                    "dmr_device_slink_up",
                    copy(c.slink),
                    u64::from(c.health.is_up()),
                );
                if let Some(r) = c.regions {
                    m.add("dmr_device_regions_in_sync", copy(c.slink), r.in_sync);
                    m.add("dmr_device_regions", copy(c.slink), r.regions);
                    m.add(
                        "dmr_device_resyncing",
                        copy(c.slink),
                        u64::from(r.resyncing),
                    );
                }
                if c.slink != 0 {
                    m.add(
                        "dmr_device_remote_consistent",
                        copy(c.slink),
                        u64::from(c.consistent),
                    );
                }
            }
            if let Some(v) = status.verify {
                m.add(
                    "dmr_device_verify_differing_regions",
                    copy(v.slink),
                    v.differing,
                );
            }
        }
    }
    m.render()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn remote_consistency() {
        use crate::config_parse::parse_config;
        use crate::state::{DeviceState, GroupState};
        use crate::status::{DeviceStatus, ReplicatorStatus};
        let words = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        let config = parse_config(
            b"group g\nlog /dev/l\nsite 0\nsite 1\nsite 2\n\
              device a 0 /dev/a\nremote 1 /dev/b core 8\nremote 2 /dev/c core 8\n\
              device b 1 /dev/d\nremote 1 /dev/e core 8\n",
        )
        .unwrap();
        let group = &config.groups[0];
        let device = |i: usize, status: &str| DeviceState {
            device: &group.devices[i],
            status: DeviceStatus::parse_dmsetup(status),
        };
        // Device a: the copy on site link 2 is inconsistent, a verify
        // after the group; device b: no group, consistent.
        let a = "0 8 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 31+/32 \
                 consistency -CI verify 2 verified 32/32 1 0";
        let b = "0 8 replicator-dev 253:0 1 replicating 2 0 A - 1 A 32/32";
        let states = [GroupState {
            group,
            replicator: ReplicatorStatus::parse(&words("replicating 0/4096 0 4 A 1 1 0")),
            devices: vec![device(0, a), device(1, b)],
        }];
        let out = render(&states);
        let samples: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("dmr_device_remote_consistent{"))
            .collect();
        assert_eq!(
            samples,
            [
                "dmr_device_remote_consistent{group=\"g\",device=\"a\",slink=\"1\"} 1",
                "dmr_device_remote_consistent{group=\"g\",device=\"a\",slink=\"2\"} 0",
                "dmr_device_remote_consistent{group=\"g\",device=\"b\",slink=\"1\"} 1",
            ]
        );
        assert!(out.contains("\n# TYPE dmr_device_remote_consistent gauge\n"));
    }

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn families_are_unique_and_named_well() {
        for (i, (name, kind, help)) in FAMILIES.iter().enumerate() {
            assert!(name.starts_with("dmr_"));
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(*kind == Kind::Counter, name.ends_with("_total"), "{name}");
            assert!(!help.contains('\n') && !help.contains('\\'));
            assert!(FAMILIES
                .iter()
                .skip(i + 1)
                .all(|(other, _, _)| other != name));
        }
    }
}
