//! The error catalogue.

use std::collections::BTreeSet;

use crate::logic::error::TableError;

#[test]
fn messages_are_distinct_and_tidy() {
    let mut seen = BTreeSet::new();
    for e in TableError::ALL {
        let text = e.text();
        assert!(seen.insert(text), "duplicate message {text:?}");
        assert!(!text.is_empty() && text.len() < 80, "{text:?}");
        assert!(!text.ends_with('.') && !text.ends_with('\n'), "{text:?}");
        assert_eq!(text.as_bytes(), e.message().to_bytes());
        assert_eq!(std::format!("{e}"), text);
    }
    assert!(TableError::ALL.len() > 60);
}

#[test]
fn documentation_lists_every_message() {
    let doc = include_str!("../../../Documentation/tables.rst");
    for e in TableError::ALL {
        assert!(
            doc.contains(e.text()),
            "Documentation/tables.rst lacks {:?}",
            e.text()
        );
    }
}

#[test]
fn every_message_is_reached_by_some_test() {
    // Each test file asserts the exact texts it provokes; this checks that
    // together they cover the whole catalogue.
    let tests = [
        include_str!("blockdev.rs"),
        include_str!("dirty_log.rs"),
        include_str!("fallbehind.rs"),
        include_str!("message.rs"),
        include_str!("policy.rs"),
        include_str!("replicator_dev_table.rs"),
        include_str!("replicator_table.rs"),
        include_str!("ringbuffer.rs"),
    ];
    for e in TableError::ALL {
        let quoted = std::format!("\"{}\"", e.text());
        assert!(
            tests.iter().any(|t| t.contains(&quoted)),
            "no test provokes {:?}",
            e.text()
        );
    }
}
