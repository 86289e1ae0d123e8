//! Dirty log groups of replicated devices.

use std::string::{String, ToString};

use super::words;
use crate::logic::dirty_log::{parse_region_size, DirtyLogSpec, SyncMode, WithRegion};

/// Parses `<type> <params...>`; returns `(type, count, group text)` or the error.
fn dl(kind: &str, params: &str) -> Result<(&'static str, usize, String), &'static str> {
    let w = words(params);
    DirtyLogSpec::parse(kind, &w)
        .map(|d| (d.type_name(), d.param_count(), d.group().to_string()))
        .map_err(|e| e.text())
}

#[test]
fn types() {
    assert_eq!(dl("nolog", ""), Ok(("nolog", 0, "nolog 0".into())));
    assert_eq!(dl("core", "2048"), Ok(("core", 1, "core 1 2048".into())));
    assert_eq!(
        dl("core", "2048 sync"),
        Ok(("core", 2, "core 2 2048 sync".into()))
    );
    assert_eq!(
        dl("disk", "253:4 2048"),
        Ok(("disk", 2, "disk 2 253:4 2048".into()))
    );
    assert_eq!(
        dl("disk", "253:4 2048 nosync"),
        Ok(("disk", 3, "disk 3 253:4 2048 nosync".into()))
    );
    assert_eq!(
        dl("userspace", "uuid clustered-core 1024"),
        Ok((
            "userspace",
            3,
            "userspace 3 uuid clustered-core 1024".into()
        ))
    );
}

#[test]
fn accessors() {
    let w = words("253:4 2048 nosync");
    let d = DirtyLogSpec::parse("disk", &w).unwrap();
    assert_eq!(d.region_size(), Some(2048));
    assert_eq!(d.sync(), Some(SyncMode::Nosync));
    assert_eq!(d.params(), &w[..]);
    assert!(!d.is_nolog());
    assert_eq!(
        d,
        DirtyLogSpec::Disk {
            dev: "253:4",
            region_size: 2048,
            sync: Some(SyncMode::Nosync),
            params: &w
        }
    );
    let mapped = d.map_dev(|_| 42u32);
    assert_eq!(mapped.group().to_string(), "disk 3 42 2048 nosync");
    let n: DirtyLogSpec<'_> = DirtyLogSpec::parse("nolog", &[]).unwrap();
    assert!(n.is_nolog());
    assert_eq!(
        (n.region_size(), n.sync(), n.params().len()),
        (None, None, 0)
    );
    let w = words("a b");
    let u = DirtyLogSpec::parse("userspace", &w).unwrap();
    assert_eq!((u.region_size(), u.params()), (None, &w[..]));
    assert_eq!(SyncMode::Sync.keyword(), "sync");
}

#[test]
fn region_sizes() {
    assert_eq!(parse_region_size("8"), Ok(8));
    assert_eq!(parse_region_size("2147483648"), Ok(1 << 31));
    let err = |w| parse_region_size(w).map_err(|e| e.text());
    assert_eq!(
        err("4"),
        Err("Region size must be a power of two of at least 8 sectors")
    );
    assert_eq!(
        err("0"),
        Err("Region size must be a power of two of at least 8 sectors")
    );
    assert_eq!(
        err("1000"),
        Err("Region size must be a power of two of at least 8 sectors")
    );
    assert_eq!(
        err("4294967296"),
        Err("Region size must not exceed 2147483648 sectors")
    );
    assert_eq!(err("2k"), Err("Invalid region size"));
    assert_eq!(err("99999999999999999999"), Err("Invalid region size"));
}

#[test]
fn errors() {
    assert_eq!(dl("nolog", "0"), Err("nolog takes no parameters"));
    assert_eq!(
        dl("core", ""),
        Err("core dirty log takes 1 or 2 parameters")
    );
    assert_eq!(
        dl("core", "1024 sync x"),
        Err("core dirty log takes 1 or 2 parameters")
    );
    assert_eq!(
        dl("core", "1024 Sync"),
        Err("Dirty log sync argument must be sync or nosync")
    );
    assert_eq!(
        dl("core", "1000"),
        Err("Region size must be a power of two of at least 8 sectors")
    );
    assert_eq!(
        dl("disk", "1024"),
        Err("disk dirty log takes 2 or 3 parameters")
    );
    assert_eq!(
        dl("disk", "a 1024 sync x"),
        Err("disk dirty log takes 2 or 3 parameters")
    );
    assert_eq!(
        dl("disk", "a 1024 resync"),
        Err("Dirty log sync argument must be sync or nosync")
    );
    assert_eq!(dl("disk", "1024 a"), Err("Invalid region size"));
    assert_eq!(
        dl("userspace", ""),
        Err("userspace dirty log needs parameters")
    );
    assert_eq!(dl("mirror", "1024"), Err("Unknown dirty log type"));
    assert_eq!(dl("-", ""), Err("Unknown dirty log type"));
}

#[test]
fn lvm2_core_forms() {
    // LVM2's libdm wrote `core 2 0 sync` for a remote without a sync log.
    let w = ["0", "sync"];
    let d = DirtyLogSpec::parse("core", &w).unwrap();
    assert_eq!((d.region_size(), d.sync()), (Some(0), Some(SyncMode::Sync)));
    assert_eq!(d.kernel_region_size(1 << 20), Some(1024));
    assert_eq!(d.kernel_region_size(1000), Some(512));
    // The seed's example: a 2048-sector region on a 1024-sector device is
    // one region covering it.
    let w = ["2048", "sync"];
    let d = DirtyLogSpec::parse("core", &w).unwrap();
    assert_eq!(d.kernel_region_size(1024), Some(1024));
    assert_eq!(d.kernel_region_size(1500), Some(1024));
    assert_eq!(d.kernel_region_size(4096), Some(2048));
    assert_eq!(d.kernel_region_size(4), Some(8));
    assert_eq!(d.kernel_region_size(0), Some(8));
    // A disk log keeps 0 invalid; nolog has no region.
    let w = ["/dev/x", "0"];
    assert!(DirtyLogSpec::parse("disk", &w).is_err());
    assert_eq!(
        DirtyLogSpec::parse("nolog", &[])
            .unwrap()
            .kernel_region_size(1024),
        None
    );
}

#[test]
fn table_text_with_the_tables_region() {
    let w = |text, region| std::format!("{}", WithRegion { text, region });
    assert_eq!(w("core 2 1024 sync", 0), "core 2 0 sync");
    assert_eq!(w("core 1 1024", 2048), "core 1 2048");
    assert_eq!(
        w("disk 3 253:4 1024 nosync", 4096),
        "disk 3 253:4 4096 nosync"
    );
    assert_eq!(w("userspace 3 a b c", 8), "userspace 3 a b c");
    assert_eq!(w("", 8), "");
}
