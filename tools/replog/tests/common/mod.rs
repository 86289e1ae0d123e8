//! Helpers shared by the `replog` integration tests.
#![allow(dead_code)]

use std::process::Command;

/// Runs `replog args`: exit status, stdout lines, stderr lines.
pub fn replog(args: &[&str]) -> (i32, Vec<String>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_replog"))
        .args(args)
        .output()
        .expect("run replog");
    let lines = |b: Vec<u8>| {
        String::from_utf8(b)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    (
        out.status.code().unwrap_or(-1),
        lines(out.stdout),
        lines(out.stderr),
    )
}
