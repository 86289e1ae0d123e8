//! Blockdev site link parameters.

use std::string::{String, ToString};

use super::words;
use crate::logic::blockdev::{check_policy_fallbehind, BlockdevParams};
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
    // A hand-built limit without a policy is still emitted canonically.
    let p = BlockdevParams {
        slink: 1,
        policy: None,
        fallbehind: FallBehind::parse("ios", "5").ok(),
    };
    assert_eq!(
        (p.param_count(), p.to_string()),
        (4, "1 asynchronous ios 5".into())
    );
}

#[test]
fn errors() {
    assert_eq!(bd(""), Err("Site link takes 1 to 4 parameters"));
    assert_eq!(
        bd("1 async ios 100 x"),
        Err("Site link takes 1 to 4 parameters")
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
