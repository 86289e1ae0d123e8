//! `replog config`: the configuration file's grammar and errors, the table
//! lines it gives (canonical: the kernel's grammar parses them back to the
//! same text), and `up`/`down`/`show`/`metrics` against a fake `dmsetup`
//! (a shell script keeping its devices in a directory) given in
//! `DMR_DMSETUP`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use dmr_logic::replicator_dev_table::ReplicatorDevTable;
use dmr_logic::replicator_table::ReplicatorTable;
use replog::config::{Device, Group};
use replog::config_parse::parse_config;
use replog::tables::{group_tables, Resolve, Target, Unresolved};

/// Devices as `major:minor`, as `up` writes block devices: every path
/// gets a number of its own.
struct Numbered;

impl Resolve for Numbered {
    fn device(&self, path: &str) -> String {
        if path.contains(':') {
            return path.to_string();
        }
        let n = path
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        format!("{}:{}", 8 + n % 200, n % 1_048_576)
    }

    fn control(&self, _: &Group) -> String {
        "253:0".to_string()
    }

    fn length(&self, device: &Device) -> Result<u64, String> {
        Ok(device.length.unwrap_or(1 << 40))
    }
}

/// A fresh, empty directory for test `name`.
fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("config-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fake dmsetup: devices are directories under `dev/`, each command
/// line is appended to `commands`; `fail-<command>-<name>` makes a command
/// fail; `status/<name>` is the status text (`status/<name>.<n>` for the
/// n-th call, if present).
const FAKE_DMSETUP: &str = r#"#!/bin/sh
D=@DIR@
echo "$*" >>"$D/commands"
cmd=$1
shift
for last; do :; done
[ "$cmd" = create ] && last=$1
nodev() { echo "Device does not exist." >&2; exit 1; }
if [ -e "$D/fail-$cmd-$last" ]; then
	echo "device-mapper: $cmd ioctl on $last failed: Device or resource busy" >&2
	exit 1
fi
case $cmd in
info)
	[ -d "$D/dev/$last" ] || nodev
	if [ "$1" = -c ]; then cat "$D/dev/$last/devno"; else echo "Name: $last"; fi ;;
create)
	[ -d "$D/dev/$1" ] && { echo "device-mapper: create ioctl on $1 failed: Device or resource busy" >&2; exit 1; }
	n=$(cat "$D/minor" 2>/dev/null || echo 0)
	echo $((n + 1)) >"$D/minor"
	mkdir -p "$D/dev/$1"
	echo "253:$n" >"$D/dev/$1/devno"
	printf '%s\n' "$3" >"$D/dev/$1/table" ;;
suspend)
	[ -d "$D/dev/$last" ] || nodev ;;
remove)
	[ -d "$D/dev/$last" ] || nodev
	rm -r "$D/dev/$last" ;;
status)
	n=$(cat "$D/count-$last" 2>/dev/null || echo 0)
	n=$((n + 1))
	echo $n >"$D/count-$last"
	if [ -f "$D/status/$last.$n" ]; then cat "$D/status/$last.$n"
	elif [ -f "$D/status/$last" ]; then cat "$D/status/$last"
	else nodev; fi ;;
*)
	echo "fake dmsetup: unknown command $cmd" >&2
	exit 2 ;;
esac
"#;

/// A test bench: a directory with the fake dmsetup and device files.
struct Bench {
    dir: PathBuf,
}

impl Bench {
    fn new(name: &str) -> Bench {
        let dir = test_dir(name);
        let script = dir.join("dmsetup");
        fs::write(
            &script,
            FAKE_DMSETUP.replace("@DIR@", dir.to_str().unwrap()),
        )
        .unwrap();
        fs::create_dir_all(dir.join("dev")).unwrap();
        fs::create_dir_all(dir.join("status")).unwrap();
        Bench { dir }
    }

    /// Creates a "device": a file of `sectors` sectors.
    fn disk(&self, name: &str, sectors: u64) -> String {
        let path = self.dir.join(name);
        fs::File::create(&path)
            .unwrap()
            .set_len(sectors * 512)
            .unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Writes the configuration file (`@` stands for the bench directory).
    fn config(&self, text: &str) -> String {
        let path = self.dir.join("groups.conf");
        fs::write(&path, text.replace('@', self.dir.to_str().unwrap())).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Runs `replog args` with the fake dmsetup: exit status, stdout,
    /// stderr (bench directory shown as `@`).
    fn replog(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_replog"))
            .args(args)
            .env(
                "DMR_DMSETUP",
                format!("sh {}", self.dir.join("dmsetup").display()),
            )
            .output()
            .unwrap();
        let dir = self.dir.to_str().unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap().replace(dir, "@");
        (
            out.status.code().unwrap_or(-1),
            text(out.stdout),
            text(out.stderr),
        )
    }

    /// The commands the fake dmsetup got, without the `info` queries.
    fn commands(&self) -> Vec<String> {
        let dir = self.dir.to_str().unwrap();
        fs::read_to_string(self.dir.join("commands"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("info"))
            .map(|l| l.replace(dir, "@"))
            .collect()
    }

    fn clear_log(&self) {
        let _ = fs::remove_file(self.dir.join("commands"));
    }

    /// Makes `dmsetup <command> <name>` fail.
    fn fail(&self, command: &str, name: &str) {
        fs::write(self.dir.join(format!("fail-{command}-{name}")), "").unwrap();
    }

    /// The dm devices that exist.
    fn devices(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.join("dev"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    /// Canned `dmsetup status NAME` (for the n-th call if `n` is given).
    fn status(&self, name: &str, n: Option<u32>, text: &str) {
        let file = match n {
            Some(n) => format!("{name}.{n}"),
            None => name.to_string(),
        };
        fs::write(self.dir.join("status").join(file), format!("{text}\n")).unwrap();
    }
}

/// A group of two devices, one with two remote copies.
const TWO_DEVICES: &str = "\
# the test group
group repl
  log @/log auto 65536                 # ringbuffer
  site 0 synchronous
  site 1 asynchronous ios 10000
  site 2 async+stall size=200m
  device r0 0 @/data0
    remote 1 @/nbd0 core 2048 nosync
    remote 2 @/nbd1 disk @/dlog0 2048 sync
  device r1 1 @/data1 length 1024
    remote 1 @/nbd2 core 2048
";

/// The bench with the devices of [`TWO_DEVICES`].
fn two_devices(name: &str) -> (Bench, String) {
    let b = Bench::new(name);
    b.disk("log", 131_072);
    for (disk, sectors) in [
        ("data0", 2048),
        ("data1", 4096),
        ("nbd0", 2048),
        ("nbd1", 4096),
        ("nbd2", 1024),
        ("dlog0", 8),
    ] {
        b.disk(disk, sectors);
    }
    let conf = b.config(TWO_DEVICES);
    (b, conf)
}

const REPL_TABLE: &str = "0 1 replicator ringbuffer 4 @/log 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 10000 blockdev 4 2 asynchronous+stall size 200m";

#[test]
fn check_a_valid_file() {
    let (b, conf) = two_devices("check-valid");
    assert_eq!(
        b.replog(&["config", "check", &conf]),
        (0, String::new(), String::new())
    );
}

#[test]
fn check_reports_missing_and_small_devices() {
    let (b, conf) = two_devices("check-missing");
    fs::remove_file(b.dir.join("nbd1")).unwrap();
    fs::remove_file(b.dir.join("dlog0")).unwrap();
    b.disk("nbd0", 2047);
    b.disk("log", 60_000);
    let (code, out, err) = b.replog(&["config", "check", &conf]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "@/groups.conf:3: log does not fit on @/log: start 0 + 65536 sectors is beyond its 60000 sectors
@/groups.conf:8: remote device @/nbd0 (2047 sectors) is smaller than device r0 (2048 sectors)
@/groups.conf:9: remote device @/nbd1 not found
@/groups.conf:9: dirty log device @/dlog0 not found
"
    );
    let conf = b.config("group g\nlog @/log\nsite 0\ndevice d 0 @/data0 length 4096\n");
    let (code, _, err) = b.replog(&["config", "check", &conf]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "@/groups.conf:4: device d: length 4096 is beyond the 2048 sectors of local device @/data0\n"
    );
}

#[test]
fn check_reports_every_mistake_with_its_line() {
    let b = Bench::new("check-invalid");
    let conf = b.config(
        "device x 0 /dev/a
group repl
  log /dev/l auto 10
  site 0 sync
  site 0
  site 3 sync ios 5
  site 4 async+sync
  site 5 async ios 0
  site 6 async size 12q
  device r0 0 /dev/a
    remote 1 /dev/b core 2048
    remote 2 /dev/c nolog
    remote 0 /dev/c core 2048
    remote 3 /dev/c core 4096
    remote 3 /dev/d core 2048
  device r0 0 /dev/b
   remote 3 /dev/q disk /dev/x 2048 maybe
  device bad/name 1 /dev/e extra
  device r2 2147483648 /dev/f
  device r3 3 /dev/a
  device r4 4 /dev/g length 0
    remote 3 /dev/h userspace
  frob
group repl
group g2
  log /dev/l
  log /dev/m
  site 0
",
    );
    let (code, out, err) = b.replog(&["config", "check", &conf]);
    assert_eq!((code, out.as_str()), (2, ""));
    let expect = [
        "1: device outside a group (a group line must come first)",
        "3: log: Replication log size must be at least 2048 sectors",
        "5: site 0 is already declared on line 4",
        "6: site: Fall-behind limit not allowed on a synchronous site link",
        "7: site: Policies synchronous and asynchronous are mutually exclusive",
        "8: site: Fall-behind value must not be 0",
        "9: site: Unknown fall-behind unit",
        "11: remote: site link 1 is not declared as a site of group repl",
        "12: remote: Dirty log required on remote site link",
        "13: remote on site link 0: the local device is the device line's",
        "14: remote: Region size differs between remote devices (line 11 has 2048)",
        "15: remote: site link 3 is not declared as a site of group repl",
        "16: device number 0 is already used in group repl on line 10",
        "17: remote: Dirty log sync argument must be sync or nosync",
        "18: device takes device <name> <dev_nr> <local device> [length <sectors>]",
        "19: device: Device number must be below 2147483648",
        "20: local device /dev/a is already replicated on line 10",
        "21: device: length must be at least 1 sector",
        "22: remote: userspace dirty log needs parameters",
        "23: unknown keyword frob (expected group, log, site, device or remote)",
        "24: dm name repl is already used on line 2",
        "27: second log in group g2 (the first is on line 26)",
    ];
    let expect: Vec<String> = expect
        .iter()
        .map(|e| format!("@/groups.conf:{e}"))
        .collect();
    assert_eq!(err.lines().collect::<Vec<_>>(), expect);
}

#[test]
fn other_refusals() {
    let b = Bench::new("refusals");
    const FORM: &str =
        "log <dev> [start <sector>] [open [<sectors>] | auto <sectors> | create <sectors>]";
    let cases = [
        ("group\n", "1: group needs a name: group <name>".to_string()),
        ("group a b\n", "1: group takes one word: group <name>".into()),
        ("group control\n", "1: dm name control is reserved".into()),
        ("group g\nsite 0\nlog /dev/l start\n", format!("3: log: start needs a sector: {FORM}")),
        ("group g\nsite 0\nlog /dev/l start 01 open\n", "3: log: Invalid replication log device start".into()),
        ("group g\nsite 0\nlog /dev/l auto\n", "3: log: Replication log size required with auto or create".into()),
        ("group g\nsite 0\nlog /dev/l sometimes 4096\n", "3: log: Unknown replication log open mode".into()),
        ("group g\nsite 0\nlog /dev/l open 4096 now\n", format!("3: log: too many words: {FORM}")),
        ("group g\nsite 0\nlog\n", format!("3: log needs a device: {FORM}")),
        ("group g\nlog /dev/l\nsite 0\nsite 2048\n", "4: site: Site link number must be below 2048".into()),
        ("group g\nlog /dev/l\nsite 0\nsite 1 async ram ios 1 2\n", "4: site: Site link takes 1 to 5 parameters".into()),
        ("group g\nlog /dev/l\nsite 0\nsite\n", "4: site: Site link takes 1 to 5 parameters".into()),
        ("group g\nlog /dev/l\nsite 0\ndevice d 0 /dev/a\nremote x /dev/b core 8\n", "5: remote: Invalid site link number".into()),
        ("group g\nlog /dev/l\nsite 0\nsite 1\ndevice d 0 /dev/a\nremote 1 /dev/b\n", "6: remote takes remote <slink_nr> <device> <dirty log type> [<dirty log params>...]".into()),
        ("group g\nlog /dev/l\nsite 0\nsite 1\ndevice d 0 /dev/a\nremote 1 /dev/b core 8\nremote 1 /dev/c core 8\n", "7: device d already has a remote on site link 1 (line 6)".into()),
        ("group g\nlog /dev/l\nsite 0\ngroup h\nlog /dev/l\nsite 0\n", "5: log: /dev/l at sector 0 is already the log of line 2".into()),
        ("group g\nlog /dev/l\nsite 0\ndevice g 0 /dev/a\n", "4: dm name g is already used on line 1".into()),
        // A malformed device line still takes its remote lines.
        ("group g\nlog /dev/l\nsite 0\nsite 1\ndevice d 0 /dev/a\n remote 1 /dev/r core 8\ndevice e\n remote 1 /dev/r core 8\n", "7: device takes device <name> <dev_nr> <local device> [length <sectors>]".into()),
        ("\u{ff}\n", "1: unknown keyword \u{ff} (expected group, log, site, device or remote)".into()),
        ("# nothing\n", "1: no group in the file".into()),
    ];
    for (text, expect) in cases {
        let conf = b.config(text);
        let (code, _, err) = b.replog(&["config", "check", &conf]);
        assert_eq!(
            (code, err.as_str()),
            (2, format!("@/groups.conf:{expect}\n").as_str()),
            "{text}"
        );
    }
    fs::write(
        b.dir.join("groups.conf"),
        b"group g\nlog /dev/l\nsite 0\n\xff\n",
    )
    .unwrap();
    let (code, _, err) = b.replog(&[
        "config",
        "check",
        &format!("{}/groups.conf", b.dir.display()),
    ]);
    assert_eq!(
        (code, err.as_str()),
        (2, "@/groups.conf:4: not UTF-8 text\n")
    );
}

#[test]
fn tables_in_creation_order() {
    let (b, conf) = two_devices("tables");
    let conf2 = b.config(&format!(
        "{TWO_DEVICES}\ngroup second\n log 7:0 start 2048 create 4096\n site 0\n device s0 0 8:16 length 100\n"
    ));
    assert_eq!(conf, conf2);
    let (code, out, err) = b.replog(&["config", "tables", &conf]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("repl {REPL_TABLE}").as_str(),
            "r0 0 2048 replicator-dev /dev/mapper/repl 0 0 1 @/data0 nolog 0 1 1 @/nbd0 core 2 2048 nosync 2 1 @/nbd1 disk 3 @/dlog0 2048 sync",
            "r1 0 1024 replicator-dev /dev/mapper/repl 1 0 1 @/data1 nolog 0 1 1 @/nbd2 core 1 2048",
            "second 0 1 replicator ringbuffer 4 7:0 2048 create 4096 blockdev 1 0",
            "s0 0 100 replicator-dev /dev/mapper/second 0 0 1 8:16 nolog 0",
        ]
    );
    // Without a length, a local device that cannot be sized stops `tables`.
    fs::remove_file(b.dir.join("data0")).unwrap();
    let (code, out, err) = b.replog(&["config", "tables", &conf]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "@/groups.conf:7: cannot size the local device (@/data0: No such file or directory (os error 2)); give its length\n"
    );
}

/// Splits a table line `0 <len> <target> <args>`: target and arguments.
fn split_line(line: &str) -> (&str, &str) {
    let mut parts = line.splitn(4, ' ');
    assert_eq!(parts.next(), Some("0"));
    assert!(parts.next().unwrap().parse::<u64>().is_ok());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// The kernel's canonical form of a line's arguments.
fn reparse(target: &str, args: &str) -> String {
    let words: Vec<&str> = args.split(' ').collect();
    match target {
        "replicator" => ReplicatorTable::parse(&words).unwrap().to_string(),
        "replicator-dev" => ReplicatorDevTable::parse(&words).unwrap().to_string(),
        other => panic!("target {other}"),
    }
}

#[test]
fn tables_are_canonical_over_many_configurations() {
    let logs = [
        "/dev/l",
        "/dev/l open",
        "/dev/l open 4096",
        "/dev/l auto 2048",
        "/dev/l create 65536",
        "/dev/l start 32 auto 65536",
        "253:1 start 0",
        "/dev/l start 18446744073709549567 create 2048",
    ];
    let sites = [
        "",
        "sync",
        "synchronous",
        "a",
        "async",
        "st",
        "stall",
        "sync+stall",
        "stall+async",
        "async ios 1",
        "async ios=100",
        "async size 200m",
        "a size=1K",
        "async+stall size 7s",
        "async data 1048576",
        "async data 4k",
        "async timeout 30",
        "async timeout 5t",
        "async timeout 2H",
        "stall timeout=1d",
    ];
    let remotes = [
        "core 8",
        "core 2048 sync",
        "core 0 nosync",
        "disk /dev/dl 2048",
        "disk 253:9 2048 nosync",
        "userspace dmr-ulog-r0 core 128 sync",
        "userspace uuid",
    ];
    let mut count = 0;
    for (i, log) in logs.iter().enumerate() {
        for (j, site) in sites.iter().enumerate() {
            for (k, remote) in remotes.iter().enumerate() {
                // Site 0 takes every policy too; remotes on sites 1 and
                // 7; region sizes equal within a device except for
                // userspace logs, whose size the kernel does not know.
                let other = if remote.starts_with("core 0") || remote.starts_with("userspace") {
                    *remote
                } else if remote.starts_with("core 8") {
                    "disk /dev/dl2 8 sync"
                } else {
                    "core 2048"
                };
                let text = format!(
                    "group g{i}\nlog {log}\nsite 0 {site}\nsite 1 {site}\nsite 7\n\
                     device d{j}-{k} {k} /dev/local{j}\n  remote 1 /dev/remote {remote}\n  remote 7 /dev/other {other}\n\
                     device e{j}-{k} 1{k} /dev/elocal{j} length 4096\n\
                     group h{i}\n log /dev/h start 8\n site 0\n"
                );
                let config =
                    parse_config(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
                let resolvers: [&dyn Resolve; 2] = [&Unresolved { length: 8192 }, &Numbered];
                for (group, resolver) in
                    config.groups.iter().flat_map(|g| resolvers.map(|r| (g, r)))
                {
                    for line in group_tables(group, resolver).unwrap() {
                        let (target, args) = split_line(&line.table);
                        let expect = match line.target {
                            Target::Replicator => "replicator",
                            Target::ReplicatorDev => "replicator-dev",
                        };
                        assert_eq!(target, expect);
                        let canonical = reparse(target, args);
                        assert_eq!(canonical, args, "{text}");
                        // The canonical form is its own canonical form.
                        assert_eq!(reparse(target, &canonical), canonical);
                        count += 1;
                    }
                }
            }
        }
    }
    assert_eq!(count, logs.len() * sites.len() * remotes.len() * 4 * 2);
}

#[test]
fn the_canonical_form_of_what_was_written() {
    let config = parse_config(
        b"group g
  log /dev/l start 32 auto 65536
  site 0 a ios=100
  site 2 stall size=200m
  site 1 sync
  device d 0 /dev/a length 1024
    remote 2 /dev/b core 0 sync
",
    )
    .unwrap();
    let lines: Vec<String> = group_tables(&config.groups[0], &Unresolved { length: 1 })
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            // Sites in number order, policies in full, limits as two words.
            "g 0 1 replicator ringbuffer 4 /dev/l 32 auto 65536 blockdev 4 0 asynchronous ios 100 blockdev 2 1 synchronous blockdev 4 2 asynchronous+stall size 200m",
            "d 0 1024 replicator-dev /dev/mapper/g 0 0 1 /dev/a nolog 0 2 1 /dev/b core 2 0 sync",
        ]
    );
}

#[test]
fn up_creates_each_group_in_order_once() {
    let (b, conf) = two_devices("up");
    let (code, out, err) = b.replog(&["config", "up", &conf]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "created repl\ncreated r0\ncreated r1\n");
    assert_eq!(
        b.commands(),
        [
            format!("create repl --table {REPL_TABLE}").as_str(),
            // The control device as dmsetup info gives it; the files stay
            // paths (block devices would be major:minor).
            "create r0 --table 0 2048 replicator-dev 253:0 0 0 1 @/data0 nolog 0 1 1 @/nbd0 core 2 2048 nosync 2 1 @/nbd1 disk 3 @/dlog0 2048 sync",
            "create r1 --table 0 1024 replicator-dev 253:0 1 0 1 @/data1 nolog 0 1 1 @/nbd2 core 1 2048",
        ]
    );
    assert_eq!(b.devices(), ["r0", "r1", "repl"]);
    // A second run finds the group up and creates nothing.
    b.clear_log();
    let (code, out, err) = b.replog(&["config", "up", &conf]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "group repl: already up\n", "")
    );
    assert_eq!(b.commands(), Vec::<String>::new());
    // With one device gone, only that one is created.
    b.replog(&["config", "down", &conf]);
    let (code, _, _) = b.replog(&["config", "up", &conf]);
    assert_eq!(code, 0);
    fs::remove_dir_all(b.dir.join("dev/r1")).unwrap();
    b.clear_log();
    let (code, out, _) = b.replog(&["config", "up", &conf]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "repl: already present\nr0: already present\ncreated r1\n"
        )
    );
    assert_eq!(b.commands().len(), 1);
    assert!(b.commands()[0].starts_with("create r1 --table 0 1024 replicator-dev 253:3 1 "));
}

#[test]
fn up_rolls_back_what_it_created() {
    let (b, _) = two_devices("rollback");
    let conf = b.config(&format!(
        "group first\n log @/log2 auto 4096\n site 0\n{TWO_DEVICES}"
    ));
    b.fail("create", "r1");
    let (code, out, err) = b.replog(&["config", "up", &conf]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "created first\ncreated repl\ncreated r0\n\
         removed r0 (rolled back)\nremoved repl (rolled back)\nremoved first (rolled back)\n"
    );
    assert!(
        err.starts_with(
            "replog config up: sh @/dmsetup create r1 --table '0 1024 replicator-dev 253:1 1 "
        ),
        "{err}"
    );
    assert!(
        err.ends_with(": device-mapper: create ioctl on r1 failed: Device or resource busy\n"),
        "{err}"
    );
    assert_eq!(b.devices(), Vec::<String>::new());
    let commands = b.commands();
    assert_eq!(
        commands[commands.len() - 3..],
        ["remove r0", "remove repl", "remove first"]
    );
    // A device that already existed is not rolled back.
    fs::remove_file(b.dir.join("fail-create-r1")).unwrap();
    fs::create_dir_all(b.dir.join("dev/first")).unwrap();
    fs::write(b.dir.join("dev/first/devno"), "253:40\n").unwrap();
    b.fail("create", "r0");
    b.clear_log();
    let (code, out, _) = b.replog(&["config", "up", &conf]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "group first: already up\ncreated repl\nremoved repl (rolled back)\n"
    );
    assert_eq!(b.devices(), ["first"]);
}

#[test]
fn up_stops_before_creating_when_a_device_cannot_be_sized() {
    let (b, conf) = two_devices("unsized");
    fs::remove_file(b.dir.join("data0")).unwrap();
    let (code, out, err) = b.replog(&["config", "up", &conf]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("@/groups.conf:7: cannot size the local device"),
        "{err}"
    );
    assert_eq!(b.commands(), Vec::<String>::new());
}

#[test]
fn dry_runs() {
    let (b, conf) = two_devices("dry-run");
    let (code, out, err) = b.replog(&["config", "up", &conf, "--dry-run"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("sh @/dmsetup create repl --table '{REPL_TABLE}'").as_str(),
            "sh @/dmsetup create r0 --table '0 2048 replicator-dev /dev/mapper/repl 0 0 1 @/data0 nolog 0 1 1 @/nbd0 core 2 2048 nosync 2 1 @/nbd1 disk 3 @/dlog0 2048 sync'",
            "sh @/dmsetup create r1 --table '0 1024 replicator-dev /dev/mapper/repl 1 0 1 @/data1 nolog 0 1 1 @/nbd2 core 1 2048'",
        ]
    );
    let (code, out, _) = b.replog(&["config", "down", "--dry-run", &conf]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "sh @/dmsetup suspend r0\nsh @/dmsetup suspend r1\nsh @/dmsetup remove r1\nsh @/dmsetup remove r0\nsh @/dmsetup remove repl\n"
    );
    assert_eq!(b.commands(), Vec::<String>::new());
}

#[test]
fn down_suspends_then_removes() {
    let (b, _) = two_devices("down");
    let conf = b.config(&format!(
        "group first\n log @/log2 auto 4096\n site 0\n{TWO_DEVICES}"
    ));
    b.replog(&["config", "up", &conf]);
    fs::remove_dir_all(b.dir.join("dev/r0")).unwrap();
    b.clear_log();
    let (code, out, err) = b.replog(&["config", "down", &conf]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "suspended r1\nremoved r1\nremoved repl\nremoved first\n"
    );
    assert_eq!(
        b.commands(),
        ["suspend r1", "remove r1", "remove repl", "remove first"]
    );
    let (code, out, _) = b.replog(&["config", "down", &conf]);
    assert_eq!(
        (code, out.as_str()),
        (0, "group repl: not present\ngroup first: not present\n")
    );
}

#[test]
fn down_keeps_a_replicator_whose_devices_remain() {
    let (b, conf) = two_devices("down-busy");
    b.replog(&["config", "up", &conf]);
    b.fail("remove", "r0");
    b.clear_log();
    let (code, out, err) = b.replog(&["config", "down", &conf]);
    assert_eq!(code, 1);
    assert_eq!(out, "suspended r0\nsuspended r1\nremoved r1\n");
    assert_eq!(
        err,
        "replog config down: sh @/dmsetup remove r0: device-mapper: remove ioctl on r0 failed: Device or resource busy\n\
         replog config down: repl not removed: its devices remain\n"
    );
    assert_eq!(b.devices(), ["r0", "repl"]);
}

/// Canned status of [`TWO_DEVICES`]: site link 1 down on r0, r1 being
/// resynchronised (its copy inconsistent meanwhile), a verify that found
/// differences.
fn canned_status(b: &Bench) {
    b.status(
        "repl",
        None,
        "0 1 replicator replicating 4096/65512 3 0 S,0,0 1 A,120,960 2 S,3,24 8 A 17 137 5 200 40 12 0",
    );
    b.status(
        "r0",
        None,
        "0 2048 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 32/32 verify 2 verified 32/32 2 0",
    );
    b.status(
        "r1",
        None,
        "0 1024 replicator-dev 253:0 1 replicating 2 0 A - 1 A 10+/16 consistency -I",
    );
}

#[test]
fn show_summarises_the_groups() {
    let (b, conf) = two_devices("show");
    canned_status(&b);
    let (code, out, err) = b.replog(&["config", "show", &conf]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "\
group repl: replicating; log ok (A); ring 4096/65512 sectors used (6.2%)
  slink 0 (local, synchronous): up; backlog 0 entries, 0 sectors; writes wait (S)
  slink 1 (asynchronous ios 10000): down (W on r0); backlog 120 entries, 960 sectors; log absorbs (A)
  slink 2 (asynchronous+stall size 200m): up; backlog 3 entries, 24 sectors; writes wait (S)
  device r0 (dev_nr 0): replicating; local A
    slink 1: W; 30/32 regions in sync (93.7%)
    slink 2: A; 32/32 regions in sync (100.0%)
    verify slink 2: verified 32/32 regions, 2 differ, 0 skipped
  device r1 (dev_nr 1): replicating; local A
    slink 1: A; 10/16 regions in sync (62.5%), resyncing, inconsistent (not a point-in-time image until the resync ends)
"
    );
    // A failed log, a stopped group, a missing device.
    b.status(
        "repl",
        None,
        "0 1 replicator stopped 0/65512 1 0 A,0,0 4 F 1 1 0",
    );
    fs::remove_file(b.dir.join("status/r1")).unwrap();
    let (code, out, _) = b.replog(&["config", "show", &conf]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "\
group repl: stopped; log FAILED (F): writes go to the local devices only; ring 0/65512 sectors used (0.0%)
  slink 0 (local, synchronous): up; backlog 0 entries, 0 sectors; log absorbs (A)
  slink 1 (asynchronous ios 10000): down (W on r0)
  slink 2 (asynchronous+stall size 200m): up
  device r0 (dev_nr 0): replicating; local A
    slink 1: W; 30/32 regions in sync (93.7%)
    slink 2: A; 32/32 regions in sync (100.0%)
    verify slink 2: verified 32/32 regions, 2 differ, 0 skipped
  device r1 (dev_nr 1): not available: Device does not exist.
"
    );
    // Two remote copies, one inconsistent, the verify group after the
    // consistency group; then a consistency group the parser refuses.
    b.status(
        "r0",
        None,
        "0 2048 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 31+/32 consistency -CI verify 2 verified 32/32 1 0",
    );
    let (_, out, _) = b.replog(&["config", "show", &conf]);
    assert!(
        out.contains(
            "
  device r0 (dev_nr 0): replicating; local A
    slink 1: W; 30/32 regions in sync (93.7%)
    slink 2: A; 31/32 regions in sync (96.8%), resyncing, inconsistent (not a point-in-time image until the resync ends)
    verify slink 2: verified 32/32 regions, 1 differ, 0 skipped
"
        ),
        "{out}"
    );
    for (group, error) in [
        (
            "-C",
            "consistency of 3 characters (one per device) expected, found -C",
        ),
        (
            "C-I",
            "consistency starting with - (the local device) expected, found C-I",
        ),
        (
            "-CX",
            "consistency C|I for each remote copy expected, found -CX",
        ),
    ] {
        b.status(
            "r0",
            None,
            &format!(
                "0 2048 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 31+/32 \
                 consistency {group}"
            ),
        );
        let (code, out, _) = b.replog(&["config", "show", &conf]);
        assert_eq!(code, 1);
        assert!(
            out.contains(&format!(
                "\n  device r0 (dev_nr 0): not available: replicator-dev status: {error}\n"
            )),
            "{out}"
        );
    }
    // A status the parser refuses is reported, not guessed at.
    b.status("repl", None, "0 1 linear 7:0 0");
    let (code, out, _) = b.replog(&["config", "show", &conf]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "group repl: replicator not available: a linear device, not a replicator\n"
        ),
        "{out}"
    );
}

#[test]
fn show_estimates_the_resync_time_from_two_samples() {
    let (b, conf) = two_devices("show-interval");
    canned_status(&b);
    b.status(
        "r1",
        Some(1),
        "0 1024 replicator-dev 253:0 1 replicating 2 0 A - 1 A 1+/1000",
    );
    b.status(
        "r1",
        Some(2),
        "0 1024 replicator-dev 253:0 1 replicating 2 0 A - 1 A 2+/1000",
    );
    b.status(
        "r0",
        Some(1),
        "0 2048 replicator-dev 253:0 0 replicating 2 0 A - 1 A 7+/32",
    );
    b.status(
        "r0",
        Some(2),
        "0 2048 replicator-dev 253:0 0 replicating 2 0 A - 1 A 7+/32",
    );
    let (code, out, err) = b.replog(&["config", "show", &conf, "--interval", "0.2"]);
    assert_eq!((code, err.as_str()), (0, ""));
    // One region in 0.2 s and a bit: 998 left take over 3 minutes.
    let r1 = out.lines().last().unwrap();
    assert!(
        r1.starts_with("    slink 1: A; 2/1000 regions in sync (0.2%), resyncing, about "),
        "{out}"
    );
    assert!(r1.ends_with(" left"), "{out}");
    assert!(
        out.contains("    slink 1: A; 7/32 regions in sync (21.8%), resyncing, no progress in "),
        "{out}"
    );
    let (code, _, err) = b.replog(&["config", "show", &conf, "--interval", "0"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("replog config: --interval: not a number of seconds"),
        "{err}"
    );
}

#[test]
fn metrics_in_prometheus_text_format() {
    let (b, conf) = two_devices("metrics");
    canned_status(&b);
    let (code, out, err) = b.replog(&["config", "metrics", &conf]);
    assert_eq!((code, err.as_str()), (0, ""));
    for line in [
        "# HELP dmr_slink_up 1 if every device shows the site link alive (A), 0 if any shows it down (W or R).",
        "# TYPE dmr_slink_up gauge",
        "dmr_slink_up{group=\"repl\",slink=\"0\"} 1",
        "dmr_slink_up{group=\"repl\",slink=\"1\"} 0",
        "dmr_slink_up{group=\"repl\",slink=\"2\"} 1",
        "dmr_slink_backlog_entries{group=\"repl\",slink=\"1\"} 120",
        "dmr_slink_backlog_sectors{group=\"repl\",slink=\"1\"} 960",
        "dmr_slink_writes_wait{group=\"repl\",slink=\"2\"} 1",
        "dmr_log_ok{group=\"repl\"} 1",
        "dmr_log_used_sectors{group=\"repl\"} 4096",
        "dmr_log_size_sectors{group=\"repl\"} 65512",
        "# TYPE dmr_log_entries_total counter",
        "dmr_log_entries_total{group=\"repl\"} 200",
        "dmr_log_full_waits_total{group=\"repl\"} 0",
        "dmr_device_present{group=\"repl\",device=\"r1\"} 1",
        "dmr_device_regions_in_sync{group=\"repl\",device=\"r0\",slink=\"1\"} 30",
        "dmr_device_regions{group=\"repl\",device=\"r0\",slink=\"1\"} 32",
        "dmr_device_regions_in_sync{group=\"repl\",device=\"r1\",slink=\"1\"} 10",
        "dmr_device_resyncing{group=\"repl\",device=\"r1\",slink=\"1\"} 1",
        "dmr_device_slink_up{group=\"repl\",device=\"r0\",slink=\"1\"} 0",
        "dmr_device_verify_differing_regions{group=\"repl\",device=\"r0\",slink=\"2\"} 2",
        "# TYPE dmr_device_remote_consistent gauge",
        "dmr_device_remote_consistent{group=\"repl\",device=\"r0\",slink=\"1\"} 1",
        "dmr_device_remote_consistent{group=\"repl\",device=\"r0\",slink=\"2\"} 1",
        "dmr_device_remote_consistent{group=\"repl\",device=\"r1\",slink=\"1\"} 0",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing from\n{out}");
    }
    // None for the local device.
    let local = "dmr_device_remote_consistent{group=\"repl\",device=\"r0\",slink=\"0\"}";
    assert!(!out.contains(local), "{out}");
    check_exposition(&out);
    // Two remote copies, one inconsistent, a verify after the group.
    b.status(
        "r0",
        None,
        "0 2048 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 31+/32 consistency -CI verify 2 verified 32/32 1 0",
    );
    let (code, out, _) = b.replog(&["config", "metrics", &conf]);
    assert_eq!(code, 0);
    for line in [
        "dmr_device_remote_consistent{group=\"repl\",device=\"r0\",slink=\"1\"} 1",
        "dmr_device_remote_consistent{group=\"repl\",device=\"r0\",slink=\"2\"} 0",
        "dmr_device_resyncing{group=\"repl\",device=\"r0\",slink=\"2\"} 1",
        "dmr_device_verify_differing_regions{group=\"repl\",device=\"r0\",slink=\"2\"} 1",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing from\n{out}");
    }
    check_exposition(&out);
    // A refused consistency group: the device is not present.
    b.status(
        "r0",
        None,
        "0 2048 replicator-dev 253:0 0 replicating 3 0 A - 1 W 30/32 2 A 31+/32 consistency I",
    );
    let (code, out, _) = b.replog(&["config", "metrics", &conf]);
    assert_eq!(code, 0);
    assert!(out.contains("\ndmr_device_present{group=\"repl\",device=\"r0\"} 0\n"));
    assert!(!out.contains("device=\"r0\",slink"));
    check_exposition(&out);
    canned_status(&b);
    // A missing device is a 0, not an error.
    fs::remove_file(b.dir.join("status/r1")).unwrap();
    let (code, out, _) = b.replog(&["config", "metrics", &conf]);
    assert_eq!(code, 0);
    assert!(out.contains("\ndmr_device_present{group=\"repl\",device=\"r1\"} 0\n"));
    assert!(!out.contains("device=\"r1\",slink"));
    check_exposition(&out);
}

/// Checks the text exposition format: each family's HELP and TYPE once,
/// before its samples, which follow together; sample lines well formed.
fn check_exposition(text: &str) {
    let mut families: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!families.contains(&name), "{name} twice");
            families.push(name.clone());
            current = name;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(name, current);
            assert!(kind == "gauge" || kind == "counter");
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<u64>().is_ok(), "{line}");
            let (name, labels) = series.split_once('{').unwrap();
            assert_eq!(name, current, "{line}");
            let labels = labels.strip_suffix('}').unwrap();
            for label in labels.split(',') {
                let (key, value) = label.split_once('=').unwrap();
                assert!(["group", "slink", "device"].contains(&key), "{line}");
                assert!(value.starts_with('"') && value.ends_with('"'), "{line}");
            }
        }
    }
}

#[test]
fn without_dmsetup() {
    let (b, conf) = two_devices("no-dmsetup");
    for args in [
        ["config", "up", conf.as_str()],
        ["config", "down", conf.as_str()],
        ["config", "show", conf.as_str()],
        ["config", "metrics", conf.as_str()],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_replog"))
            .args(args)
            .env("DMR_DMSETUP", "/nonexistent/dmsetup")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("cannot run /nonexistent/dmsetup: "), "{err}");
    }
    assert_eq!(b.devices(), Vec::<String>::new());
}

#[test]
fn config_usage_errors() {
    let b = Bench::new("usage");
    let usage = |args: &[&str], first: &str| {
        let (code, _, err) = b.replog(args);
        assert_eq!((code, err.lines().next()), (3, Some(first)), "{args:?}");
    };
    usage(&["config"], "replog config: missing subcommand");
    usage(
        &["config", "start", "f"],
        "replog config: unknown subcommand start",
    );
    usage(
        &["config", "check"],
        "replog config: missing configuration file",
    );
    usage(
        &["config", "show", "f", "--dry-run"],
        "replog config: unknown option --dry-run",
    );
    usage(
        &["config", "tables", "f", "g"],
        "replog config: unexpected argument g",
    );
    usage(
        &["config", "show", "f", "--interval"],
        "replog config: --interval needs a number of seconds",
    );
    usage(
        &["config", "check", "/nonexistent/groups.conf"],
        "replog config check: /nonexistent/groups.conf: No such file or directory (os error 2)",
    );
    let (code, out, _) = b.replog(&["help"]);
    assert_eq!(code, 0);
    assert!(out.contains("replog config up FILE [--dry-run]"));
}

#[test]
fn the_documented_example_is_valid() {
    // Documentation/assembly.rst, "Example".
    let doc = include_str!("../../../Documentation/assembly.rst");
    let start = doc
        .find("    group repl\n")
        .expect("example in assembly.rst");
    let example: String = doc[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let config = parse_config(example.as_bytes()).unwrap();
    assert_eq!(config.groups.len(), 2);
    let tables: Vec<String> = config
        .groups
        .iter()
        .flat_map(|g| group_tables(g, &Unresolved { length: 4_194_304 }).unwrap())
        .map(|l| l.to_string())
        .collect();
    for line in &tables {
        assert!(
            doc.contains(&format!("    {line}\n")),
            "{line} not in the documentation"
        );
    }
}
