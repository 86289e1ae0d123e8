//! The binary on image files: load, crash (kill), verify, damage.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_crashwriter");

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crashwriter-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Two zeroed 64-block images.
fn images(dir: &Path) -> Vec<String> {
    (0..2)
        .map(|i| {
            let p = dir.join(format!("disk{i}.img"));
            std::fs::File::create(&p)
                .unwrap()
                .set_len(64 * 4096)
                .unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

fn dev_args(devs: &[String]) -> Vec<&str> {
    devs.iter().flat_map(|d| ["--dev", d.as_str()]).collect()
}

fn verify(devs: &[String], acks: &[&Path]) -> Output {
    let mut a = vec!["verify"];
    a.extend(dev_args(devs));
    for f in acks {
        a.extend(["--acks", f.to_str().unwrap()]);
    }
    run(&a)
}

fn write(devs: &[String], seed: &str, start: &str, count: &str) -> Output {
    let mut a = vec![
        "write",
        "--seed",
        seed,
        "--start-seq",
        start,
        "--count",
        count,
    ];
    a.extend(dev_args(devs));
    run(&a)
}

#[test]
fn rounds_verify_clean_and_damage_is_reported() {
    let dir = scratch("rounds");
    let devs = images(&dir);
    let o = write(&devs, "1", "1", "400");
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "crashwriter: started");
    let acks: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("A "))
        .collect();
    assert_eq!(acks.len(), 400);
    assert_eq!(lines.iter().filter(|l| l.starts_with("F ")).count(), 8);
    let mut seqs: Vec<u64> = acks
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=400).collect::<Vec<u64>>());
    let round1 = dir.join("acks1");
    std::fs::write(&round1, &out).unwrap();
    let v = verify(&devs, &[&round1]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        text(&v).starts_with("verify: clean: 128 blocks on 2 device(s)"),
        "{}",
        text(&v)
    );
    assert!(
        text(&v).contains("acks: 400 lines, max seq 400, 1 malformed line ignored"),
        "{}",
        text(&v)
    );

    // Round 2 on the same disks; the ack files together.
    let o = write(&devs, "2", "1000000001", "300");
    assert!(o.status.success(), "{}", text(&o));
    let round2 = dir.join("acks2");
    std::fs::write(&round2, &o.stdout).unwrap();
    let v = verify(&devs, &[&round1, &round2]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Round 1's acks alone are satisfied too (newer data may be there).
    assert_eq!(verify(&devs, &[&round1]).status.code(), Some(0));
    // Compacted, the same.
    let c = run(&[
        "compact",
        "--acks",
        round1.to_str().unwrap(),
        "--acks",
        round2.to_str().unwrap(),
    ]);
    assert!(c.status.success());
    let compact = dir.join("compact");
    std::fs::write(&compact, &c.stdout).unwrap();
    let v = verify(&devs, &[&compact]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // Zero an acknowledged block of device 1: exactly that block fails.
    let last = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .rfind(|l| l.starts_with("A ") && l.split(' ').nth(2) == Some("1"))
        .unwrap()
        .to_string();
    let f: Vec<u64> = last
        .split(' ')
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let (seq, block) = (f[0], f[2]);
    let dev1 = std::fs::OpenOptions::new()
        .write(true)
        .open(&devs[1])
        .unwrap();
    dev1.write_all_at(&[0; 4096], block * 4096).unwrap();
    let v = verify(&devs, &[&compact]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    let t = text(&v);
    let bad: Vec<&str> = t.lines().filter(|l| l.starts_with("violation: ")).collect();
    assert_eq!(bad.len(), 1, "{t}");
    // Its newest ack may be a later multi-block write that covered it.
    assert!(
        bad[0].starts_with(&format!("violation: dev 1 block {block}: expected seq >= ")),
        "{t}"
    );
    assert!(bad[0].ends_with(", found zeroes"), "{t}");
    let want: u64 = bad[0]
        .split(">= ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(want >= seq);
    assert!(
        t.contains("verify: FAILED: 1 bad block of 128 blocks"),
        "{t}"
    );
}

#[test]
fn killed_writer_leaves_every_ack_on_disk() {
    let dir = scratch("kill");
    let devs = images(&dir);
    for round in 0..3u64 {
        let mut a = vec!["write".to_string(), "--seed".into(), round.to_string()];
        a.extend([
            "--start-seq".into(),
            (round * 1_000_000_000 + 1).to_string(),
        ]);
        for d in &devs {
            a.extend(["--dev".into(), d.clone()]);
        }
        let mut child = Command::new(BIN)
            .args(&a)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut r = BufReader::new(child.stdout.take().unwrap());
        let mut got = String::new();
        let mut acks = 0;
        while acks < 200 + 100 * round {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "writer ended early");
            acks += l.starts_with("A ") as u64;
            got += &l;
        }
        child.kill().unwrap();
        // Lines already printed when it died count too, but are not needed.
        child.wait().unwrap();
        // Cut the last line in the middle, as a crash would.
        got.truncate(got.len() - 3);
        let f = dir.join(format!("acks{round}"));
        std::fs::write(&f, &got).unwrap();
    }
    let files: Vec<PathBuf> = (0..3).map(|r| dir.join(format!("acks{r}"))).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let v = verify(&devs, &refs);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn acks_of_other_devices_and_bad_usage() {
    let dir = scratch("usage");
    let devs = images(&dir);
    let acks = dir.join("acks");
    std::fs::write(&acks, "A 5 2 0 1\n").unwrap();
    let v = verify(&devs, &[&acks]);
    assert_eq!(v.status.code(), Some(2));
    assert!(
        text(&v)
            .contains("ack of seq 5 (device 2 blocks 0..1) is outside the devices (only 2 given)"),
        "{}",
        text(&v)
    );
    std::fs::write(&acks, "A 5 1 60 8\n").unwrap();
    assert!(text(&verify(&devs, &[&acks])).contains("is outside the device (64 blocks)"));
    // Devices given in the wrong order: records of the other device.
    let o = write(&devs, "3", "1", "50");
    assert!(o.status.success());
    std::fs::write(&acks, &o.stdout).unwrap();
    let swapped = vec![devs[1].clone(), devs[0].clone()];
    let v = verify(&swapped, &[&acks]);
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v).contains(" of dev 1 block "), "{}", text(&v));

    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["bogus"]).status.code(), Some(2));
    assert_eq!(run(&["write", "--dev", &devs[0]]).status.code(), Some(2));
    assert_eq!(
        run(&[
            "write",
            "--dev",
            &devs[0],
            "--seed",
            "1",
            "--start-seq",
            "0"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(run(&["verify", "--dev", &devs[0]]).status.code(), Some(2));
    assert_eq!(
        run(&["verify", "--dev", &devs[0], "--acks", "/nonexistent"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&[
            "write",
            "--dev",
            &devs[0],
            "--blocks",
            "65",
            "--seed",
            "1",
            "--start-seq",
            "1"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(run(&["verify", "--frob"]).status.code(), Some(2));
    assert!(run(&["help"]).status.success());
}
