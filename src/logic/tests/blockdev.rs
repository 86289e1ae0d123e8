//! Blockdev site link parameters.

use std::string::{String, ToString};

use super::words;
use crate::logic::blockdev::{check_policy_fallbehind, BlockdevParams};
use crate::logic::completion::Completion;
use crate::logic::fallbehind::{FallBehind, FallBehindKind};
use crate::logic::policy::Policy;
use crate::logic::slink::{parse_slink_number, SlinkSet, SLINK_MAX};

/// Parses blockdev parameters; returns `(count, text)` or the error.
fn bd(line: &str) -> Result<(usize, String), &'static str> {
    let w = words(line);
    BlockdevParams::parse(&w)
        .map(|p| (p.param_count(), p.to_string()))
        .map_err(|e| e.text())
}

#[test]
fn forms() {
    assert_eq!(bd("0"), Ok((1, "0".into())));
    assert_eq!(bd("3 async"), Ok((2, "3 asynchronous".into())));
    assert_eq!(bd("0 synchronous"), Ok((2, "0 synchronous".into())));
    assert_eq!(
        bd("1 async ios 100"),
        Ok((4, "1 asynchronous ios 100".into()))
    );
    assert_eq!(
        bd("1 async ios=100"),
        Ok((4, "1 asynchronous ios 100".into()))
    );
    assert_eq!(
        bd("1 stall size=200m"),
        Ok((4, "1 asynchronous+stall size 200m".into()))
    );
    assert_eq!(
        bd("1 asynchronous data 64"),
        Ok((4, "1 asynchronous data 64".into()))
    );
    assert_eq!(
        bd("2047 a timeout 5s"),
        Ok((4, "2047 asynchronous timeout 5s".into()))
    );
}

#[test]
fn parsed_fields() {
    let w = words("1 async ios 100");
    let p = BlockdevParams::parse(&w).unwrap();
    assert_eq!(
        p,
        BlockdevParams {
            slink: 1,
            policy: Some(Policy::ASYNCHRONOUS),
            completion: None,
            fallbehind: Some(FallBehind {
                kind: FallBehindKind::Ios,
                value: 100,
                unit: None
            }),
        }
    );
    let p = BlockdevParams::parse(&["5"]).unwrap();
    assert_eq!(p.policy, None);
    assert_eq!(p.policy(), Policy::ASYNCHRONOUS);
    assert_eq!(p.completion, None);
    assert_eq!(p.completion(), Completion::Disk);
    // A hand-built limit without a policy is still emitted canonically.
    let p = BlockdevParams {
        slink: 1,
        policy: None,
        completion: None,
        fallbehind: FallBehind::parse("ios", "5").ok(),
    };
    assert_eq!(
        (p.param_count(), p.to_string()),
        (4, "1 asynchronous ios 5".into())
    );
    // So is a hand-built completion without a policy.
    let p = BlockdevParams {
        slink: 1,
        policy: None,
        completion: Some(Completion::Ram),
        fallbehind: None,
    };
    assert_eq!(
        (p.param_count(), p.to_string()),
        (3, "1 asynchronous ram".into())
    );
}

#[test]
fn errors() {
    assert_eq!(bd(""), Err("Site link takes 1 to 5 parameters"));
    assert_eq!(
        bd("1 async ram ios 100 x"),
        Err("Site link takes 1 to 5 parameters")
    );
    assert_eq!(
        bd("1 async ios 100 x"),
        Err("Unknown site link completion (ram or disk)")
    );
    assert_eq!(bd("x"), Err("Invalid site link number"));
    assert_eq!(bd("-1 async"), Err("Invalid site link number"));
    assert_eq!(bd("2048"), Err("Site link number must be below 2048"));
    assert_eq!(
        bd("99999999999"),
        Err("Site link number must be below 2048")
    );
    assert_eq!(bd("1 s"), Err("Ambiguous site link policy abbreviation"));
    assert_eq!(
        bd("1 async ios"),
        Err("Fall-behind limit needs a type and a value")
    );
    assert_eq!(bd("1 async bogus 1"), Err("Unknown fall-behind type"));
    assert_eq!(
        bd("1 sync ios 100"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
    assert_eq!(
        bd("1 sync+stall ios=1"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
}

#[test]
fn policy_and_limit_check() {
    let limit = FallBehind::parse("ios", "1").unwrap();
    assert_eq!(
        check_policy_fallbehind(Policy::ASYNCHRONOUS, Some(&limit)),
        Ok(())
    );
    assert_eq!(check_policy_fallbehind(Policy::SYNCHRONOUS, None), Ok(()));
    assert_eq!(
        check_policy_fallbehind(Policy::SYNCHRONOUS, Some(&limit)).map_err(|e| e.text()),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
}

#[test]
fn slink_numbers_and_set() {
    assert_eq!(SLINK_MAX, 2048);
    assert_eq!(parse_slink_number("2047"), Ok(2047));
    let mut set = SlinkSet::new();
    assert!(set.insert(0) && set.insert(63) && set.insert(64) && set.insert(2047));
    assert!(!set.insert(63));
    assert!(!set.insert(2048));
    assert!(!set.insert(u32::MAX));
    assert!(set.contains(64) && !set.contains(65) && !set.contains(u32::MAX));
    assert_eq!(SlinkSet::default(), SlinkSet::new());
}

#[test]
fn completion_forms() {
    // Every count, with the completion and without.
    assert_eq!(bd("1 sync ram"), Ok((3, "1 synchronous ram".into())));
    assert_eq!(bd("1 sync disk"), Ok((3, "1 synchronous disk".into())));
    assert_eq!(bd("1 async ram"), Ok((3, "1 asynchronous ram".into())));
    assert_eq!(
        bd("1 stall disk"),
        Ok((3, "1 asynchronous+stall disk".into()))
    );
    assert_eq!(
        bd("1 async ram ios=100"),
        Ok((5, "1 asynchronous ram ios 100".into()))
    );
    assert_eq!(
        bd("1 a disk size=200m"),
        Ok((5, "1 asynchronous disk size 200m".into()))
    );
    assert_eq!(
        bd("1 async ram ios 100"),
        Ok((5, "1 asynchronous ram ios 100".into()))
    );
    assert_eq!(
        bd("2047 async+stall disk timeout 5s"),
        Ok((5, "2047 asynchronous+stall disk timeout 5s".into()))
    );
    // The canonical text is its own canonical text.
    for line in [
        "0",
        "1 asynchronous",
        "1 synchronous ram",
        "1 asynchronous ios 100",
        "1 asynchronous disk data 64",
    ] {
        assert_eq!(bd(line), Ok((words(line).len(), line.into())), "{line}");
    }
}

#[test]
fn completion_fields() {
    let p = BlockdevParams::parse(&words("3 sync ram")).unwrap();
    assert_eq!(
        p,
        BlockdevParams {
            slink: 3,
            policy: Some(Policy::SYNCHRONOUS),
            completion: Some(Completion::Ram),
            fallbehind: None,
        }
    );
    assert_eq!(p.completion(), Completion::Ram);
    let p = BlockdevParams::parse(&words("3 async disk size 8 ")).unwrap();
    assert_eq!(
        p,
        BlockdevParams {
            slink: 3,
            policy: Some(Policy::ASYNCHRONOUS),
            completion: Some(Completion::Disk),
            fallbehind: Some(FallBehind {
                kind: FallBehindKind::Size,
                value: 8,
                unit: None
            }),
        }
    );
    assert_eq!(p.completion(), Completion::Disk);
    let p = BlockdevParams::parse(&words("3 async ram timeout=2t")).unwrap();
    assert_eq!(p.completion, Some(Completion::Ram));
    assert_eq!(
        p.fallbehind,
        Some(FallBehind {
            kind: FallBehindKind::Timeout,
            value: 2,
            unit: Some(b't')
        })
    );
}

#[test]
fn completion_errors() {
    // Only the exact words are completions; in third place any other word
    // is read as the old single-word limit.
    for word in ["RAM", "Disk", "ra", "memory", "d"] {
        assert_eq!(
            bd(&std::format!("1 async {word}")),
            Err("Fall-behind limit needs a type and a value"),
            "{word}"
        );
        assert_eq!(
            bd(&std::format!("1 async {word} ios=1")),
            Err("Unknown fall-behind type"),
            "{word}"
        );
        assert_eq!(
            bd(&std::format!("1 async {word} ios 1")),
            Err("Unknown site link completion (ram or disk)"),
            "{word}"
        );
    }
    // A completion needs a policy before it, and comes before the limit.
    assert_eq!(bd("1 ram"), Err("Unknown site link policy"));
    assert_eq!(bd("1 disk"), Err("Unknown site link policy"));
    assert_eq!(
        bd("1 async ios 1 ram"),
        Err("Unknown site link completion (ram or disk)")
    );
    assert_eq!(bd("1 async ios=1 ram"), Err("Unknown fall-behind type"));
    assert_eq!(
        bd("1 async ram ram"),
        Err("Fall-behind limit needs a type and a value")
    );
    assert_eq!(
        bd("1 async ram disk ios 1"),
        Err("Site link takes 1 to 5 parameters")
    );
    // The completion does not lift the rule on synchronous limits.
    assert_eq!(
        bd("1 sync ram ios 100"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
    assert_eq!(
        bd("1 sync disk ios=100"),
        Err("Fall-behind limit not allowed on a synchronous site link")
    );
}
