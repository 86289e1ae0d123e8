//! `replog config show`: the groups' state for a person, at a glance.
//!
//! ```text
//! group repl: replicating; log ok (A); ring 4096/65512 sectors used (6.2%)
//!   slink 0 (local, synchronous): up; backlog 0 entries, 0 sectors; writes wait (S)
//!   slink 1 (asynchronous ios 10000): down (W on r0); backlog 120 entries, 960 sectors; log absorbs (A)
//!   device r0 (dev_nr 0): replicating; local A
//!     slink 1: W; 30/32 regions in sync (93.7%)
//!   device r1 (dev_nr 1): replicating; local A
//!     slink 1: A; 10/16 regions in sync (62.5%), resyncing, inconsistent (not a point-in-time image until the resync ends)
//! ```
//!
//! Percentages are rounded down, so 100.0% means every region is in
//! sync. A remote copy that the status's `consistency` group shows as `I`
//! is marked inconsistent. With two samples (`--interval`), a copy being
//! resynchronised gets an estimate of the time left from its rate between
//! them.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write;

use crate::config::Site;
use crate::state::{find_device, DeviceState, GroupState, LinkState};
use crate::status::{CopyStatus, RegionSync};

/// An earlier sample and the seconds since it, for rates.
#[derive(Clone, Copy, Debug)]
pub struct Earlier<'a, 'c> {
    /// The states then.
    pub states: &'a [GroupState<'c>],
    /// Seconds between the two samples.
    pub seconds: f64,
}

/// `part/whole` as a percentage with one decimal, rounded down.
pub fn percent(part: u64, whole: u64) -> Option<String> {
    if whole == 0 {
        return None;
    }
    let permille = u128::from(part) * 1000 / u128::from(whole);
    Some(format!("{}.{}%", permille / 10, permille % 10))
}

/// A duration for people: `45s`, `3m20s`, `2h05m`, `3d04h`.
pub fn duration(seconds: f64) -> String {
    // Saturating float-to-int conversion: a huge estimate stays huge.
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// What a site's configuration says, for its heading.
fn site_text(site: Option<&Site>) -> String {
    match site {
        Some(site) => {
            let mut text = site.params.policy().to_string();
            if let Some(limit) = site.params.fallbehind {
                let _ = write!(text, " {limit}");
            }
            text
        }
        None => "not in the configuration".to_string(),
    }
}

/// The time left of a resync, from the rate since the earlier sample.
fn estimate(now: &RegionSync, before: Option<&RegionSync>, seconds: f64) -> Option<String> {
    let before = before?;
    if !now.resyncing || now.in_sync >= now.regions || seconds <= 0.0 {
        return None;
    }
    let gained = now.in_sync.saturating_sub(before.in_sync);
    if gained == 0 {
        return Some(format!("no progress in {}", duration(seconds)));
    }
    let left = now.regions.saturating_sub(now.in_sync);
    let rate = gained as f64 / seconds;
    Some(format!("about {} left", duration(left as f64 / rate)))
}

/// One remote copy's line.
fn copy_line(
    out: &mut String,
    copy: &CopyStatus,
    before: Option<&CopyStatus>,
    seconds: Option<f64>,
) {
    let _ = write!(out, "    slink {}: {}", copy.slink, copy.health.letter());
    if let Some(sync) = &copy.regions {
        let _ = write!(out, "; {}/{} regions in sync", sync.in_sync, sync.regions);
        if let Some(p) = percent(sync.in_sync, sync.regions) {
            let _ = write!(out, " ({p})");
        }
        if sync.resyncing {
            out.push_str(", resyncing");
        }
        let before = before.and_then(|c| c.regions.as_ref());
        if let Some(eta) = seconds.and_then(|s| estimate(sync, before, s)) {
            let _ = write!(out, ", {eta}");
        }
    }
    if !copy.consistent {
        out.push_str(", inconsistent (not a point-in-time image until the resync ends)");
    }
    out.push('\n');
}

/// One device's lines.
fn device_lines(
    out: &mut String,
    group: &str,
    state: &DeviceState<'_>,
    earlier: Option<Earlier<'_, '_>>,
) {
    let device = state.device;
    let _ = write!(out, "  device {} (dev_nr {}): ", device.name, device.dev_nr);
    let status = match &state.status {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(out, "not available: {e}");
            return;
        }
    };
    out.push_str(if status.replicating {
        "replicating"
    } else {
        "stopped"
    });
    if let Some(local) = status.copy(0) {
        let _ = write!(out, "; local {}", local.health.letter());
    }
    out.push('\n');
    let before = earlier
        .and_then(|e| find_device(e.states, group, &device.name))
        .and_then(|d| d.status.as_ref().ok());
    for copy in status.copies.iter().filter(|c| c.slink != 0) {
        let previous = before.and_then(|b| b.copy(copy.slink));
        copy_line(out, copy, previous, earlier.map(|e| e.seconds));
    }
    if let Some(v) = &status.verify {
        let _ = writeln!(
            out,
            "    verify slink {}: {} {}/{} regions, {} differ, {} skipped",
            v.slink,
            v.state.word(),
            v.done,
            v.regions,
            v.differing,
            v.skipped
        );
    }
}

/// One group's lines.
fn group_lines(out: &mut String, state: &GroupState<'_>, earlier: Option<Earlier<'_, '_>>) {
    let group = state.group;
    let _ = write!(out, "group {}: ", group.name);
    match &state.replicator {
        Ok(status) => {
            out.push_str(if status.replicating {
                "replicating"
            } else {
                "stopped"
            });
            out.push_str(if status.log.ok {
                "; log ok (A)"
            } else {
                "; log FAILED (F): writes go to the local devices only"
            });
            let _ = write!(
                out,
                "; ring {}/{} sectors used",
                status.ring_used, status.ring_size
            );
            if let Some(p) = percent(status.ring_used, status.ring_size) {
                let _ = write!(out, " ({p})");
            }
            out.push('\n');
        }
        Err(e) => {
            let _ = writeln!(out, "replicator not available: {e}");
        }
    }
    for slink in state.slinks() {
        let site = group.site(slink);
        let local = if slink == 0 { "local, " } else { "" };
        let _ = write!(out, "  slink {slink} ({local}{}): ", site_text(site));
        match state.link_state(slink) {
            LinkState::Up => out.push_str("up"),
            LinkState::Down(devices) => {
                let which: Vec<String> = devices
                    .iter()
                    .map(|(name, health)| format!("{} on {name}", health.letter()))
                    .collect();
                let _ = write!(out, "down ({})", which.join(", "));
            }
            LinkState::Unknown => out.push_str("no device status"),
        }
        if let Some(backlog) = state.replicator.as_ref().ok().and_then(|s| s.slink(slink)) {
            let _ = write!(
                out,
                "; backlog {} entries, {} sectors; {}",
                backlog.ios,
                backlog.sectors,
                if backlog.writes_wait {
                    "writes wait (S)"
                } else {
                    "log absorbs (A)"
                }
            );
        }
        out.push('\n');
    }
    for device in &state.devices {
        device_lines(out, &group.name, device, earlier);
    }
}

/// The whole text of `show`.
pub fn render(states: &[GroupState<'_>], earlier: Option<Earlier<'_, '_>>) -> String {
    let mut out = String::new();
    for state in states {
        group_lines(&mut out, state, earlier);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(percent(30, 32), Some("93.7%".to_string()));
        assert_eq!(percent(31, 32), Some("96.8%".to_string()));
        assert_eq!(percent(999_999, 1_000_000), Some("99.9%".to_string()));
        assert_eq!(percent(5, 5), Some("100.0%".to_string()));
        assert_eq!(percent(0, 0), None);
        assert_eq!(duration(44.6), "45s");
        assert_eq!(duration(200.0), "3m20s");
        assert_eq!(duration(7500.0), "2h05m");
        assert_eq!(duration(277_200.0), "3d05h");
        assert_eq!(
            duration(f64::INFINITY),
            format!("{}d{:02}h", u64::MAX / 86_400, u64::MAX % 86_400 / 3600)
        );
    }

    #[test]
    fn estimates() {
        let sync = |in_sync, resyncing| RegionSync {
            in_sync,
            regions: 100,
            resyncing,
        };
        // 10 regions in 5 s: 2 per second, 60 left.
        assert_eq!(
            estimate(&sync(40, true), Some(&sync(30, true)), 5.0),
            Some("about 30s left".into())
        );
        assert_eq!(
            estimate(&sync(40, true), Some(&sync(40, true)), 5.0),
            Some("no progress in 5s".into())
        );
        assert_eq!(estimate(&sync(40, false), Some(&sync(30, true)), 5.0), None);
        assert_eq!(estimate(&sync(100, true), Some(&sync(30, true)), 5.0), None);
        assert_eq!(estimate(&sync(40, true), None, 5.0), None);
    }

    #[test]
    fn copy_lines() {
        use crate::status::Health;
        let line = |copy: &CopyStatus, before: Option<&CopyStatus>, seconds| {
            let mut out = String::new();
            copy_line(&mut out, copy, before, seconds);
            out
        };
        let copy = |in_sync, resyncing, consistent| CopyStatus {
            slink: 1,
            health: Health::Alive,
            regions: Some(RegionSync {
                in_sync,
                regions: 128,
                resyncing,
            }),
            consistent,
        };
        assert_eq!(
            line(&copy(128, false, true), None, None),
            "    slink 1: A; 128/128 regions in sync (100.0%)\n"
        );
        assert_eq!(
            line(&copy(102, true, false), None, None),
            "    slink 1: A; 102/128 regions in sync (79.6%), resyncing, \
             inconsistent (not a point-in-time image until the resync ends)\n"
        );
        // After the estimate; and with the link down.
        assert_eq!(
            line(
                &copy(102, true, false),
                Some(&copy(92, true, false)),
                Some(5.0)
            ),
            "    slink 1: A; 102/128 regions in sync (79.6%), resyncing, about 13s left, \
             inconsistent (not a point-in-time image until the resync ends)\n"
        );
        let down = CopyStatus {
            health: Health::WriteError,
            ..copy(30, false, false)
        };
        assert_eq!(
            line(&down, None, None),
            "    slink 1: W; 30/128 regions in sync (23.4%), \
             inconsistent (not a point-in-time image until the resync ends)\n"
        );
    }
}
