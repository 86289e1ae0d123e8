//! Site link policies.

use std::string::ToString;

use crate::logic::policy::Policy;

/// Parses and emits a policy, or returns the error text.
fn policy(word: &str) -> Result<std::string::String, &'static str> {
    Policy::parse(word)
        .map(|p| p.to_string())
        .map_err(|e| e.text())
}

#[test]
fn long_words() {
    assert_eq!(policy("synchronous"), Ok("synchronous".into()));
    assert_eq!(policy("asynchronous"), Ok("asynchronous".into()));
    assert_eq!(policy("stall"), Ok("asynchronous+stall".into()));
    assert_eq!(
        policy("asynchronous+stall"),
        Ok("asynchronous+stall".into())
    );
    assert_eq!(policy("synchronous+stall"), Ok("synchronous+stall".into()));
}

#[test]
fn abbreviations_and_order() {
    assert_eq!(policy("sync"), Ok("synchronous".into()));
    assert_eq!(policy("sy"), Ok("synchronous".into()));
    assert_eq!(policy("async"), Ok("asynchronous".into()));
    assert_eq!(policy("a"), Ok("asynchronous".into()));
    assert_eq!(policy("st"), Ok("asynchronous+stall".into()));
    assert_eq!(policy("async+stall"), Ok("asynchronous+stall".into()));
    assert_eq!(policy("stall+async"), Ok("asynchronous+stall".into()));
    assert_eq!(policy("st+sync"), Ok("synchronous+stall".into()));
}

#[test]
fn accessors() {
    let p = Policy::parse("sync+stall").unwrap();
    assert!(p.is_synchronous() && p.is_stall());
    let p = Policy::parse("async").unwrap();
    assert!(!p.is_synchronous() && !p.is_stall());
    assert_eq!(p, Policy::ASYNCHRONOUS);
    assert_eq!(Policy::parse("synchronous").unwrap(), Policy::SYNCHRONOUS);
    assert_eq!(Policy::default(), Policy::ASYNCHRONOUS);
}

#[test]
fn errors() {
    assert_eq!(policy("s"), Err("Ambiguous site link policy abbreviation"));
    assert_eq!(
        policy("s+stall"),
        Err("Ambiguous site link policy abbreviation")
    );
    assert_eq!(policy("fast"), Err("Unknown site link policy"));
    assert_eq!(policy("synchronously"), Err("Unknown site link policy"));
    assert_eq!(policy("Sync"), Err("Unknown site link policy"));
    assert_eq!(policy(""), Err("Empty site link policy word"));
    assert_eq!(policy("async+"), Err("Empty site link policy word"));
    assert_eq!(policy("+stall"), Err("Empty site link policy word"));
    assert_eq!(policy("async++stall"), Err("Empty site link policy word"));
    assert_eq!(policy("stall+st"), Err("Site link policy word repeated"));
    assert_eq!(
        policy("sync+synchronous"),
        Err("Site link policy word repeated")
    );
    assert_eq!(
        policy("synchronous+asynchronous"),
        Err("Policies synchronous and asynchronous are mutually exclusive")
    );
    assert_eq!(
        policy("a+sync+stall"),
        Err("Policies synchronous and asynchronous are mutually exclusive")
    );
}
