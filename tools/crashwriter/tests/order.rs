//! `order-write` and `order-check` on image files: prefix states pass,
//! a lagging copy passes, damage and holes fail with the block named.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_crashwriter");
const BLOCKS: &str = "64";

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("order-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn image(dir: &Path, name: &str) -> String {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(64 * 4096)
        .unwrap();
    p.to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

fn write(dev: &str, seed: &str, first: &str, count: &str, log: &Path) -> Output {
    run(&[
        "order-write",
        "--dev",
        dev,
        "--blocks",
        BLOCKS,
        "--seed",
        seed,
        "--first",
        first,
        "--count",
        count,
        "--out",
        log.to_str().unwrap(),
    ])
}

fn check(dev: &str, seed: &str, log: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "order-check",
        "--dev",
        dev,
        "--blocks",
        BLOCKS,
        "--seed",
        seed,
        "--log",
        log.to_str().unwrap(),
    ];
    a.extend(extra);
    run(&a)
}

#[test]
fn prefixes_pass_and_damage_fails() {
    let dir = scratch("prefix");
    let dev = image(&dir, "dev.img");
    let log = dir.join("log");
    let o = write(&dev, "5", "1", "60", &log);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("order-write: writes 1..60 done"),
        "{}",
        text(&o)
    );
    // The state after 60 writes, kept as the "lagging remote".
    let lag = dir.join("lag.img");
    std::fs::copy(&dev, &lag).unwrap();
    let lag = lag.to_str().unwrap().to_string();
    // The run goes on, appending to the same log.
    let o = write(&dev, "5", "61", "40", &log);
    assert!(o.status.success(), "{}", text(&o));
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 100);
    assert!(lines.starts_with("1 "));

    let c = check(&dev, "5", &log, &["--at-least", "100"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert!(
        text(&c).starts_with("order-check: device is the state after write 100 of 100;"),
        "{}",
        text(&c)
    );
    let c = check(&lag, "5", &log, &[]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert!(
        text(&c).starts_with("order-check: device is the state after write 60 of 100;"),
        "{}",
        text(&c)
    );
    // A lagging copy is not the final state.
    let c = check(&lag, "5", &log, &["--at-least", "100"]);
    assert_eq!(c.status.code(), Some(1), "{}", text(&c));
    assert!(text(&c).contains("the newest write on the device is 60, but the state after write 100 or later is required (--at-least 100)"), "{}", text(&c));

    // The log lost its last line: write 100 may be the unlogged one.
    let short: String = lines.lines().take(99).map(|l| format!("{l}\n")).collect();
    let log99 = dir.join("log99");
    std::fs::write(&log99, &short).unwrap();
    let c = check(&dev, "5", &log99, &["--at-least", "99"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert!(
        text(&c).contains(
            "state after write 100 of 99 (write 100 landed before its log line was written)"
        ),
        "{}",
        text(&c)
    );
    // Two lines lost: not possible with one writer.
    let short: String = lines.lines().take(98).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log99, &short).unwrap();
    let c = check(&dev, "5", &log99, &[]);
    assert_eq!(c.status.code(), Some(1), "{}", text(&c));
    assert!(
        text(&c).contains(
            "holds write 100, but the log ends at write 98: only write 99 can be missing"
        ),
        "{}",
        text(&c)
    );

    // Foreign content in block 17 of the lagging copy.
    let f = std::fs::OpenOptions::new().write(true).open(&lag).unwrap();
    f.write_all_at(&[0x5a; 4096], 17 * 4096).unwrap();
    let c = check(&lag, "5", &log, &[]);
    assert_eq!(c.status.code(), Some(1), "{}", text(&c));
    let t = text(&c);
    assert!(
        t.contains("order-check: block 17: foreign content\n"),
        "{t}"
    );
    assert!(t.contains("order-check: FAILED: "), "{t}");

    // A block of the final image set back to its content in the lagging
    // copy: a hole (unless the block was not written after write 60).
    let dev_f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&dev)
        .unwrap();
    let lag_f = std::fs::File::open(&lag).unwrap();
    let mut found = None;
    for b in 0..64u64 {
        let (mut x, mut y) = ([0u8; 4096], [0u8; 4096]);
        dev_f.read_exact_at(&mut x, b * 4096).unwrap();
        lag_f.read_exact_at(&mut y, b * 4096).unwrap();
        if x != y && b != 17 && y.iter().any(|&v| v != 0) {
            found = Some((b, y));
            break;
        }
    }
    let (b, old) = found.expect("a block rewritten after write 60");
    dev_f.write_all_at(&old, b * 4096).unwrap();
    let c = check(&dev, "5", &log, &[]);
    assert_eq!(c.status.code(), Some(1), "{}", text(&c));
    let t = text(&c);
    let want = format!("order-check: block {b} holds write ");
    let line = t
        .lines()
        .find(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        line.contains(", but the state after write 100 has write "),
        "{t}"
    );

    // The wrong seed: the log does not match it.
    let c = check(&lag, "6", &log, &[]);
    assert_eq!(c.status.code(), Some(2), "{}", text(&c));
    assert!(
        text(&c).contains("log line 1: write 1 at block "),
        "{}",
        text(&c)
    );
}

#[test]
fn duration_and_usage() {
    let dir = scratch("usage");
    let dev = image(&dir, "dev.img");
    let o = run(&[
        "order-write",
        "--dev",
        &dev,
        "--blocks",
        "64",
        "--seed",
        "1",
        "--duration-ms",
        "200",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The log went to stdout.
    let log = dir.join("log");
    std::fs::write(&log, &o.stdout).unwrap();
    let n = String::from_utf8_lossy(&o.stdout).lines().count();
    assert!(n > 0);
    let c = check(&dev, "1", &log, &["--at-least", &n.to_string()]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));

    // Too few blocks, missing options, both --dev twice.
    let o = run(&[
        "order-write",
        "--dev",
        &dev,
        "--blocks",
        "65",
        "--seed",
        "1",
        "--count",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("64 blocks, fewer than --blocks 65"),
        "{}",
        text(&o)
    );
    for args in [
        vec![
            "order-write",
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
        ],
        vec!["order-write", "--dev", &dev, "--seed", "1", "--count", "1"],
        vec![
            "order-write",
            "--dev",
            &dev,
            "--blocks",
            "0",
            "--seed",
            "1",
            "--count",
            "1",
        ],
        vec![
            "order-write",
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
            "--count",
            "1",
            "--first",
            "0",
        ],
        vec![
            "order-write",
            "--dev",
            &dev,
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
            "--count",
            "1",
        ],
        vec![
            "order-check",
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
        ],
        vec![
            "order-check",
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
            "--log",
            "/nonexistent",
        ],
        vec![
            "order-check",
            "--dev",
            &dev,
            "--blocks",
            "64",
            "--seed",
            "1",
            "--count",
            "3",
        ],
        vec!["order-write", "--at-least", "3"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
    // A write error ends the run with status 1 and what was done.
    let o = run(&[
        "order-write",
        "--dev",
        "/dev/full",
        "--blocks",
        "1",
        "--seed",
        "1",
        "--count",
        "3",
        "--buffered",
    ]);
    if o.status.code() != Some(2) {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("order-write: write 1 (block 0) failed: "),
            "{}",
            text(&o)
        );
    }
}
