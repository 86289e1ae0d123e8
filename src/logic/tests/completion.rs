//! Site link completion words and the status mode.

use std::string::ToString;

use crate::logic::completion::{status_mode, Completion};

#[test]
fn words() {
    assert_eq!(Completion::parse("disk"), Some(Completion::Disk));
    assert_eq!(Completion::parse("ram"), Some(Completion::Ram));
    for word in [
        "", "RAM", "Ram", "ra", "r", "d", "dis", "disks", "memory", "mem", "ios",
    ] {
        assert_eq!(Completion::parse(word), None, "{word:?}");
    }
    assert_eq!(Completion::Disk.to_string(), "disk");
    assert_eq!(Completion::Ram.to_string(), "ram");
    assert_eq!(Completion::Disk.name(), "disk");
    assert_eq!(Completion::Ram.name(), "ram");
}

#[test]
fn default_and_accessors() {
    assert_eq!(Completion::default(), Completion::Disk);
    assert!(Completion::Ram.is_ram());
    assert!(!Completion::Disk.is_ram());
}

#[test]
fn status_modes() {
    assert_eq!(status_mode(false, Completion::Disk), 'A');
    assert_eq!(status_mode(false, Completion::Ram), 'A');
    assert_eq!(status_mode(true, Completion::Disk), 'S');
    assert_eq!(status_mode(true, Completion::Ram), 'M');
}
