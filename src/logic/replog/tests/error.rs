//! The error catalogue of the format.

use std::collections::BTreeSet;

use crate::logic::replog::recovery::{Found, ScanEnd};
use crate::logic::replog::{FormatError, LogError, ReadError, WriteError};

#[test]
fn messages_are_distinct_and_tidy() {
    let mut seen = BTreeSet::new();
    for e in FormatError::ALL {
        let text = e.text();
        assert!(seen.insert(text), "duplicate message {text:?}");
        assert!(!text.is_empty() && text.len() < 80, "{text:?}");
        assert!(!text.ends_with('.') && !text.ends_with('\n'), "{text:?}");
        assert_eq!(text.as_bytes(), e.message().to_bytes());
        assert_eq!(std::format!("{e}"), text);
        assert_eq!(LogError::Format(*e).message(), e.message());
    }
}

#[test]
fn io_errors_have_messages() {
    let read = LogError::Read {
        block: 7,
        error: ReadError(5),
    };
    assert_eq!(read.message(), c"Cannot read replication log");
    assert_eq!(
        std::format!("{read}"),
        "Cannot read replication log block 7 (errno 5)"
    );
    let write = LogError::Write {
        block: 2,
        error: WriteError(28),
    };
    assert_eq!(write.message(), c"Cannot write replication log");
    assert_eq!(
        std::format!("{write}"),
        "Cannot write replication log block 2 (errno 28)"
    );
}

#[test]
fn scan_ends_name_their_error() {
    let clean = ScanEnd::Clean {
        block: 3,
        found: Found::Nothing,
    };
    assert_eq!(clean.error(), None);
    assert_eq!(
        ScanEnd::TornHeader { block: 3, seq: 1 }.error(),
        Some(FormatError::EntryChecksum)
    );
    assert_eq!(
        ScanEnd::TornData { block: 3, seq: 1 }.error(),
        Some(FormatError::EntryDataChecksum)
    );
    assert_eq!(
        ScanEnd::Unreadable {
            block: 3,
            error: ReadError(5)
        }
        .error(),
        None
    );
}

#[test]
fn documentation_lists_every_message() {
    let doc = include_str!("../../../../Documentation/replog-format.rst");
    for e in FormatError::ALL {
        assert!(
            doc.contains(e.text()),
            "Documentation/replog-format.rst lacks {:?}",
            e.text()
        );
    }
}

#[test]
fn every_error_is_provoked_by_some_test() {
    let tests = [
        include_str!("checkpoint.rs"),
        include_str!("entry.rs"),
        include_str!("error.rs"),
        include_str!("format.rs"),
        include_str!("open.rs"),
        include_str!("recovery.rs"),
        include_str!("ring.rs"),
        include_str!("superblock.rs"),
    ]
    .concat();
    for e in FormatError::ALL {
        let name = std::format!("FormatError::{e:?}");
        assert!(tests.contains(&name), "no test mentions {name}");
    }
}
