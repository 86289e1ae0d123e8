//! Property tests: valid tables round-trip through their canonical text,
//! and no input makes a parser panic.

use std::string::{String, ToString};
use std::vec::Vec;

use proptest::prelude::*;
use proptest::sample::select;

use super::words;
use crate::logic::completion::Completion;
use crate::logic::message::{ReplicatorDevMessage, ReplicatorMessage};
use crate::logic::replicator_dev_table::ReplicatorDevTable;
use crate::logic::replicator_table::ReplicatorTable;

/// A word that can name a device.
fn dev_word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/dev/mapper/replog_store".to_string()),
        (0u32..300, 0u32..300).prop_map(|(a, b)| std::format!("{a}:{b}")),
        "[a-zA-Z0-9/:_.-]{1,16}",
    ]
}

/// A prefix of `word` of at least `min` bytes (ASCII words only).
fn prefix(word: &'static str, min: usize) -> impl Strategy<Value = String> {
    (min..=word.len()).prop_map(move |n| word.get(..n).unwrap_or(word).to_string())
}

/// A policy as a user may spell it; `sync` forces a synchronous one.
fn policy_word(sync_allowed: bool) -> impl Strategy<Value = String> {
    let sync = if sync_allowed {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    (
        sync,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prefix("synchronous", 2),
        prefix("asynchronous", 1),
        prefix("stall", 2),
    )
        .prop_map(|(sync, stall, bare_stall, stall_first, s, a, st)| {
            let mode = if sync { s } else { a };
            match (stall, bare_stall && !sync, stall_first) {
                (false, _, _) => mode,
                (true, true, _) => st,
                (true, false, true) => std::format!("{st}+{mode}"),
                (true, false, false) => std::format!("{mode}+{st}"),
            }
        })
}

/// A fall-behind limit as `(type, value)` words.
fn fallbehind_words() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (1u64..=u64::MAX).prop_map(|v| ("ios".to_string(), v.to_string())),
        (
            1u64..=1000,
            proptest::option::of(select(&b"sSkKmMgGtTpPeE"[..]))
        )
            .prop_map(|(v, u)| ("size".to_string(), with_unit(v, u))),
        (
            1u64..=15,
            proptest::option::of(select(&b"kKmMgGtTpPeE"[..]))
        )
            .prop_map(|(v, u)| ("data".to_string(), with_unit(v, u))),
        (
            1u64..=1_000_000,
            proptest::option::of(select(&b"tTsSmMhHdD"[..]))
        )
            .prop_map(|(v, u)| ("timeout".to_string(), with_unit(v, u))),
    ]
}

/// `value` followed by the unit letter, if any.
fn with_unit(value: u64, unit: Option<u8>) -> String {
    let mut s = value.to_string();
    if let Some(u) = unit {
        s.push(char::from(u));
    }
    s
}

/// A completion word, or none.
fn completion_word() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(select(&["ram", "disk"][..]).prop_map(str::to_string))
}

/// The words of one blockdev group for site link `slink`, in any accepted
/// form.
fn blockdev_group(slink: u32) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        Just(std::vec![slink.to_string()]),
        (policy_word(true), completion_word()).prop_map(move |(p, c)| {
            let mut v = std::vec![slink.to_string(), p];
            v.extend(c);
            v
        }),
        (policy_word(false), completion_word(), fallbehind_words()).prop_map(
            move |(p, c, (k, v))| {
                let mut w = std::vec![slink.to_string(), p];
                w.extend(c);
                w.push(std::format!("{k}={v}"));
                w
            }
        ),
        (policy_word(false), completion_word(), fallbehind_words()).prop_map(
            move |(p, c, (k, v))| {
                let mut w = std::vec![slink.to_string(), p];
                w.extend(c);
                w.extend([k, v]);
                w
            }
        ),
    ]
    .prop_map(|params| {
        let mut group = std::vec!["blockdev".to_string(), params.len().to_string()];
        group.extend(params);
        group
    })
}

/// Remote site link numbers in random order, without duplicates.
fn remote_slinks(max: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::btree_set(1u32..2048, 0..max)
        .prop_map(|s| s.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

/// The replication log group in any accepted form.
fn replog_group() -> impl Strategy<Value = Vec<String>> {
    (
        dev_word(),
        0u64..(u64::MAX / 2),
        0u8..5,
        2048u64..(u64::MAX / 2),
    )
        .prop_map(|(dev, start, mode, size)| {
            let mut params = std::vec![dev, start.to_string()];
            match mode {
                0 => {}
                1 => params.push("open".to_string()),
                2 => params.extend(["open".to_string(), size.to_string()]),
                3 => params.extend(["auto".to_string(), size.to_string()]),
                _ => params.extend(["create".to_string(), size.to_string()]),
            }
            let mut group = std::vec!["ringbuffer".to_string(), params.len().to_string()];
            group.extend(params);
            group
        })
}

/// A valid `replicator` table line in any accepted spelling.
fn replicator_line() -> impl Strategy<Value = String> {
    (replog_group(), remote_slinks(6))
        .prop_flat_map(|(replog, remotes)| {
            let groups: Vec<_> = core::iter::once(0)
                .chain(remotes)
                .map(blockdev_group)
                .collect();
            (Just(replog), groups)
        })
        .prop_map(|(replog, groups)| {
            let mut line = replog;
            line.extend(groups.into_iter().flatten());
            line.join(" ")
        })
}

/// The words of one remote device group with the given region size.
fn remote_device(slink: u32, region: u64) -> impl Strategy<Value = Vec<String>> {
    let sync = proptest::option::of(select(&["sync", "nosync"][..]));
    let region = region.to_string();
    (
        dev_word(),
        0u8..3,
        sync,
        dev_word(),
        proptest::collection::vec("[a-z0-9=:-]{1,8}", 1..4),
    )
        .prop_map(move |(dev, kind, sync, log_dev, user)| {
            let mut log = match kind {
                0 => std::vec!["core".to_string(), region.clone()],
                1 => std::vec!["disk".to_string(), log_dev, region.clone()],
                _ => {
                    let mut v = std::vec!["userspace".to_string()];
                    v.extend(user);
                    v
                }
            };
            if kind < 2 {
                log.extend(sync.map(str::to_string));
            }
            let count = log.len().saturating_sub(1).to_string();
            log.insert(1, count);
            let mut group = std::vec![slink.to_string(), "1".to_string(), dev];
            group.extend(log);
            group
        })
}

/// A valid `replicator-dev` table line.
fn replicator_dev_line() -> impl Strategy<Value = String> {
    (
        dev_word(),
        0u32..(1 << 31),
        dev_word(),
        remote_slinks(5),
        3u32..=31,
    )
        .prop_flat_map(|(replicator, dev_nr, local, remotes, shift)| {
            let groups: Vec<_> = remotes
                .into_iter()
                .map(|s| remote_device(s, 1u64 << shift))
                .collect();
            (Just((replicator, dev_nr, local)), groups)
        })
        .prop_map(|((replicator, dev_nr, local), groups)| {
            let mut line = std::vec![
                replicator,
                dev_nr.to_string(),
                "0".to_string(),
                "1".to_string(),
                local,
                "nolog".to_string(),
                "0".to_string(),
            ];
            line.extend(groups.into_iter().flatten());
            line.join(" ")
        })
}

/// Words the grammar knows, numbers, and junk.
fn token() -> impl Strategy<Value = String> {
    const KEYWORDS: &[&str] = &[
        "ringbuffer",
        "blockdev",
        "open",
        "auto",
        "create",
        "ios",
        "size",
        "data",
        "timeout",
        "nolog",
        "core",
        "disk",
        "ram",
        "userspace",
        "sync",
        "nosync",
        "synchronous",
        "asynchronous",
        "stall",
        "async",
        "s",
        "a",
        "start",
        "stop",
        "resume",
        "suspend",
        "postsuspend",
        "all",
        "slink",
        "add",
        "del",
        "message",
        "policy",
        "fallbehind",
        "statistics",
        "on",
        "off",
        "reset",
        "replog",
        "resize",
        "device",
        "0",
        "1",
        "2",
        "3",
        "4",
        "8",
        "2048",
        "65536",
        "253:1",
        "/dev/x",
        "ios=100",
        "size=1m",
        "async+stall",
        "sync+async",
    ];
    prop_oneof![
        4 => select(KEYWORDS).prop_map(str::to_string),
        2 => (0u64..5000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just("340282366920938463463374607431768211456".to_string()),
        1 => "[0-9]{1,4}[a-zA-Z=+]{0,2}",
        1 => "[a-z]{1,8}=[0-9]{0,3}[a-zA-Z]?",
        1 => "[a-z+]{1,12}",
        1 => "[\\PC&&\\S]{1,6}",
    ]
}

/// Checks that a parse of `line` by the replicator table grammar, if it
/// succeeds, has a canonical text that is a fixed point.
fn check_replicator(line: &[&str]) -> Result<(), TestCaseError> {
    if let Ok(t) = ReplicatorTable::parse(line) {
        let text = t.to_string();
        let w = words(&text);
        let again = ReplicatorTable::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        prop_assert_eq!(t.replog(), again.replog());
        prop_assert_eq!(
            t.slinks().collect::<Vec<_>>(),
            again.slinks().collect::<Vec<_>>()
        );
        prop_assert_eq!(again.to_string(), text);
    }
    Ok(())
}

/// Like [`check_replicator`] for the replicator-dev table.
fn check_replicator_dev(line: &[&str]) -> Result<(), TestCaseError> {
    if let Ok(t) = ReplicatorDevTable::parse(line) {
        let text = t.to_string();
        let w = words(&text);
        let again = ReplicatorDevTable::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        prop_assert_eq!((t.replicator, t.dev_nr), (again.replicator, again.dev_nr));
        prop_assert_eq!(
            t.devices().collect::<Vec<_>>(),
            again.devices().collect::<Vec<_>>()
        );
        prop_assert_eq!(again.to_string(), text);
    }
    Ok(())
}

/// Parses `line` as both kinds of message; a successful parse must
/// re-parse from its canonical text to the same text.
fn check_messages(line: &[&str]) -> Result<(), TestCaseError> {
    if let Ok(m) = ReplicatorMessage::parse(line) {
        let text = m.to_string();
        let w = words(&text);
        let again = ReplicatorMessage::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        prop_assert_eq!(m, again);
        prop_assert_eq!(again.to_string(), text);
    }
    if let Ok(m) = ReplicatorDevMessage::parse(line) {
        let text = m.to_string();
        let w = words(&text);
        let again = ReplicatorDevMessage::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        prop_assert_eq!(again.to_string(), text);
    }
    Ok(())
}

/// An edit of a word list: delete, replace or insert at an index.
fn mutate(mut line: Vec<String>, op: u8, at: usize, token: String) -> Vec<String> {
    let at = at % line.len().saturating_add(1);
    match op % 3 {
        0 if at < line.len() => {
            line.remove(at);
        }
        1 if at < line.len() => line[at] = token,
        _ => line.insert(at, token),
    }
    line
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn replicator_tables_round_trip(line in replicator_line()) {
        let w = words(&line);
        let t = ReplicatorTable::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        let text = t.to_string();
        let w2 = words(&text);
        let again = ReplicatorTable::parse(&w2).map_err(|e| TestCaseError::fail(e.text()))?;
        prop_assert_eq!(t.replog(), again.replog());
        prop_assert_eq!(t.slink_count(), again.slink_count());
        prop_assert_eq!(t.slinks().collect::<Vec<_>>(), again.slinks().collect::<Vec<_>>());
        prop_assert_eq!(again.to_string(), text);
    }

    #[test]
    fn replicator_dev_tables_round_trip(line in replicator_dev_line()) {
        let w = words(&line);
        let t = ReplicatorDevTable::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        let text = t.to_string();
        // Numbers are canonical and every count is already exact, so a
        // valid replicator-dev line is its own canonical text.
        prop_assert_eq!(&text, &line);
        check_replicator_dev(&w)?;
    }

    #[test]
    fn slink_policy_messages_round_trip(
        slink in 0u32..2048,
        policy in policy_word(true),
        completion in completion_word(),
    ) {
        let mut line = std::format!("slink message {slink} policy {policy}");
        if let Some(c) = &completion {
            line.push(' ');
            line.push_str(c);
        }
        let w = words(&line);
        let m = ReplicatorMessage::parse(&w).map_err(|e| TestCaseError::fail(e.text()))?;
        let expected = completion.as_deref().and_then(Completion::parse);
        prop_assert!(
            matches!(m, ReplicatorMessage::SlinkPolicy { slink: s, completion: c, .. }
                if s == slink && c == expected),
            "{:?}", m
        );
        check_messages(&w)?;
    }

    #[test]
    fn random_words_never_panic(line in proptest::collection::vec(token(), 0..40)) {
        let w: Vec<&str> = line.iter().map(String::as_str).collect();
        check_replicator(&w)?;
        check_replicator_dev(&w)?;
        check_messages(&w)?;
        let _ = ReplicatorDevTable::parse_device_add(&w);
        let _ = crate::logic::framing::split_group(&w);
    }

    #[test]
    fn edited_replicator_tables_never_panic(
        line in replicator_line(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), token()), 1..4),
    ) {
        let mut line: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        for (op, at, token) in edits {
            line = mutate(line, op, at, token);
        }
        let w: Vec<&str> = line.iter().map(String::as_str).collect();
        check_replicator(&w)?;
        let mut msg = std::vec!["slink", "add"];
        msg.extend(w.iter().skip(2));
        check_messages(&msg)?;
    }

    #[test]
    fn edited_replicator_dev_tables_never_panic(
        line in replicator_dev_line(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), token()), 1..4),
    ) {
        let mut line: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        for (op, at, token) in edits {
            line = mutate(line, op, at, token);
        }
        let w: Vec<&str> = line.iter().map(String::as_str).collect();
        check_replicator_dev(&w)?;
        let mut msg = std::vec!["device", "add"];
        msg.extend(w.iter());
        check_messages(&msg)?;
    }

    #[test]
    fn message_words_never_panic(
        head in select(&[
            "start", "stop all", "slink add blockdev", "slink del", "slink message 1 policy",
            "slink message 1 policy sync",
            "slink message 2 fallbehind", "statistics", "replog statistics", "replog resize",
            "device add r 0", "device del",
        ][..]),
        tail in proptest::collection::vec(token(), 0..8),
    ) {
        let mut w: Vec<&str> = head.split_whitespace().collect();
        w.extend(tail.iter().map(String::as_str));
        check_messages(&w)?;
    }
}
