//! Replica labels: the block format and the rules a `replicator-dev`
//! applies to the copies its table names.

use crate::label::{check_local, check_remote, label_sector, Label, LabelError, Refusal, Role};
use crate::replog::tests::SoftCrc;
use crate::replog::Block;

const SECTORS: u64 = 65536 + 8; // 32 MiB replicated, the label block after

fn primary() -> Label {
    Label {
        group: *b"group-uuid-01234",
        dev_nr: 0,
        role: Role::Primary,
        generation: 1,
        generation_tag: 0x1234_5678_9abc_def0,
        length: 65536,
    }
}

fn encoded(l: &Label) -> Block {
    let mut b = [0u8; 4096];
    l.encode::<SoftCrc>(&mut b);
    b
}

#[test]
fn the_label_is_the_last_whole_block() {
    assert_eq!(label_sector(65544), Some(65536));
    // A size that is not a whole number of blocks: the last whole one.
    assert_eq!(label_sector(65547), Some(65536));
    assert_eq!(label_sector(8), Some(0));
    assert_eq!(label_sector(7), None);
    assert_eq!(label_sector(0), None);
}

#[test]
fn round_trip_and_no_label() {
    let l = primary();
    assert_eq!(Label::decode::<SoftCrc>(&encoded(&l)), Ok(Some(l)));
    assert_eq!(Label::decode::<SoftCrc>(&[0u8; 4096]), Ok(None));
    let s = l.secondary();
    assert_eq!(Label::decode::<SoftCrc>(&encoded(&s)), Ok(Some(s)));
}

#[test]
fn damaged_labels_are_errors() {
    let mut b = encoded(&primary());
    b[40] ^= 1; // the generation
    assert_eq!(Label::decode::<SoftCrc>(&b), Err(LabelError::Checksum));
    assert_eq!(
        LabelError::Checksum.message(),
        c"Device label is corrupt (checksum)"
    );
    let mut b = encoded(&primary());
    b[8] = 9; // the version
    assert_eq!(Label::decode::<SoftCrc>(&b), Err(LabelError::Version(9)));
}

#[test]
fn promotion_starts_a_generation() {
    let s = primary().secondary();
    let p = s.promoted(77).unwrap();
    assert_eq!(
        (p.role, p.generation, p.generation_tag),
        (Role::Primary, 2, 77)
    );
    assert_eq!((p.group, p.dev_nr, p.length), (s.group, s.dev_nr, s.length));
    assert!(!p.same_generation(&s));
    let top = Label {
        generation: u64::MAX,
        ..s
    };
    assert_eq!(top.promoted(1), None);
    // A promotion needs a new tag.
    assert_eq!(s.promoted(s.generation_tag), None);
}

#[test]
fn devices_of_a_group_labelled_apart_share_generation_one() {
    let a = Label::first(*b"group-uuid-01234", 0, 100);
    let b = Label::first(*b"group-uuid-01234", 1, 200);
    assert!(a.same_generation(&b));
    assert_eq!((a.role, a.generation), (Role::Primary, 1));
    let other = Label::first(*b"group-uuid-98765", 0, 100);
    assert!(!a.same_generation(&other));
}

#[test]
fn the_local_device_must_be_this_devices_primary() {
    let l = primary();
    assert_eq!(check_local(&l, 0, 65536, SECTORS), Ok(()));
    assert_eq!(
        check_local(&l.secondary(), 0, 65536, SECTORS),
        Err(Refusal::LocalIsSecondary)
    );
    assert_eq!(
        check_local(&l, 1, 65536, SECTORS),
        Err(Refusal::LocalDevNr { label: 0 })
    );
    // The table would replicate the label block.
    assert_eq!(
        check_local(&l, 0, 65537, SECTORS),
        Err(Refusal::LengthOverlapsLabel)
    );
    assert_eq!(
        check_local(&l, 0, 65536, 4),
        Err(Refusal::LengthOverlapsLabel)
    );
    assert_eq!(
        Refusal::LocalIsSecondary.message(),
        c"Local device is a secondary copy: promote it first"
    );
}

#[test]
fn a_remote_must_be_a_secondary_of_this_generation() {
    let l = primary();
    let ok = l.secondary();
    let check = |r: &Label| check_remote(Some(&l), Some(r), 65536, SECTORS);
    assert_eq!(check(&ok), Ok(()));
    assert_eq!(check_remote(None, None, 65536, SECTORS), Ok(()));
    assert_eq!(
        check_remote(Some(&l), None, 65536, SECTORS),
        Err(Refusal::RemoteUnlabelled)
    );
    assert_eq!(
        check_remote(None, Some(&ok), 65536, SECTORS),
        Err(Refusal::LocalUnlabelled)
    );
    let other_group = Label {
        group: *b"another-group-00",
        ..ok
    };
    assert_eq!(check(&other_group), Err(Refusal::OtherGroup));
    assert_eq!(
        check(&Label { dev_nr: 1, ..ok }),
        Err(Refusal::OtherDevice { remote: 1 })
    );
    assert_eq!(check(&l), Err(Refusal::RemoteIsPrimary));
    assert_eq!(
        check_remote(Some(&l), Some(&ok), 65536, 65536),
        Err(Refusal::LengthOverlapsLabel)
    );
}

#[test]
fn takeover_and_failback_generations() {
    // The primary site A and its DR copy B, generation 1.
    let a = primary();
    let b = a.secondary();
    // A takeover promotes B: generation 2.
    let b2 = b.promoted(99).unwrap();
    // A, back, cannot replicate to B: it was taken over.
    assert_eq!(
        check_remote(Some(&a), Some(&b2), 65536, SECTORS),
        Err(Refusal::NewerGeneration {
            remote: 2,
            local: 1
        })
    );
    // Nor can B use A as its DR copy before A is failed back and joins.
    assert_eq!(
        check_remote(Some(&b2), Some(&a), 65536, SECTORS),
        Err(Refusal::OlderGeneration {
            remote: 1,
            local: 2
        })
    );
    assert_eq!(
        check_remote(Some(&b2), Some(&b2.secondary()), 65536, SECTORS),
        Ok(())
    );
    // Both promoted on their own from generation 1: split brain.
    let a2 = a.secondary().promoted(5).unwrap();
    assert_eq!(
        check_remote(Some(&b2), Some(&a2.secondary()), 65536, SECTORS),
        Err(Refusal::OtherBranch { generation: 2 })
    );
    assert_eq!(
        Refusal::OtherBranch { generation: 2 }.message(),
        c"Remote device was promoted on its own: split brain"
    );
}
