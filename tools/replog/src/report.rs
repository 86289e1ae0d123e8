//! Text shared by `check` and `dump`: one line per superblock, checkpoint
//! slot, entry and scan end. Blocks are counted from the log start.

use dmr_logic::replog::checkpoint::{slot_block, Checkpoint};
use dmr_logic::replog::entry::EntryFlags;
use dmr_logic::replog::recovery::{Found, ScanEnd, ScannedEntry};
use dmr_logic::replog::superblock::FORMAT_VERSION;
use dmr_logic::replog::{EntryHeader, FormatError, LogError, Superblock};

/// A UUID in the usual 8-4-4-4-12 form.
pub fn uuid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses 32 hex digits, dashes anywhere.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let digits: Vec<u8> = text
        .chars()
        .filter(|&c| c != '-')
        .map(|c| c.to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    if digits.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    Some(out)
}

/// The text of a log error: the format's message, or the I/O details.
pub fn error_text(e: &LogError) -> String {
    e.to_string()
}

/// `superblock: version 1, uuid U, ring at block 3`.
pub fn superblock_line(sb: &Superblock) -> String {
    format!(
        "superblock: version {FORMAT_VERSION}, uuid {}, ring at block {}",
        uuid(&sb.uuid),
        sb.ring_start
    )
}

/// One checkpoint slot: its fields, `empty`, or what is wrong with it.
pub fn checkpoint_line(
    slot: usize,
    content: &Result<Checkpoint, LogError>,
    ring_start: u64,
) -> String {
    let what = match content {
        Ok(cp) => format!(
            "generation {}, incarnation {}, ring {} blocks, head block {} seq {} epoch {}, tail block {} seq {}",
            cp.generation,
            cp.incarnation,
            cp.ring_blocks,
            ring_start + cp.head,
            cp.head_seq,
            cp.head_epoch,
            ring_start + cp.tail,
            cp.tail_seq
        ),
        Err(LogError::Format(FormatError::CheckpointEmpty)) => "empty".to_string(),
        Err(e) => error_text(e),
    };
    let what = match content {
        Ok(cp) if !cp.slinks.is_empty() => {
            let at: Vec<String> = cp
                .slinks
                .iter()
                .map(|(nr, seq)| format!("slink {nr} seq {seq}"))
                .collect();
            format!("{what}, positions {}", at.join(" "))
        }
        _ => what,
    };
    let what = match content {
        Ok(cp) if cp.slinks.lost().next().is_some() => {
            let lost: Vec<String> = cp
                .slinks
                .lost()
                .map(|(nr, dev)| format!("slink {nr} dev {dev}"))
                .collect();
            format!("{what}, lost devices {}", lost.join(" "))
        }
        _ => what,
    };
    format!(
        "checkpoint slot {slot} (block {}): {what}",
        slot_block(slot)
    )
}

/// `write+flush+fua sector 7 len 3`, `flush`, `discard sector 0 len 8`.
pub fn request(h: &EntryHeader) -> String {
    let f = h.flags;
    let mut kind = String::from(if f.contains(EntryFlags::DISCARD) {
        "discard"
    } else if f.contains(EntryFlags::WRITE_ZEROES) {
        "write-zeroes"
    } else if h.sectors == 0 {
        "flush"
    } else {
        "write"
    });
    if f.contains(EntryFlags::FLUSH) && h.sectors > 0 {
        kind.push_str("+flush");
    }
    if f.contains(EntryFlags::FUA) {
        kind.push_str("+fua");
    }
    if h.sectors > 0 {
        kind.push_str(&format!(" sector {} len {}", h.sector, h.sectors));
    }
    kind
}

/// Flag names, for JSON.
pub fn flag_names(flags: EntryFlags) -> Vec<&'static str> {
    EntryFlags::NAMES
        .iter()
        .filter(|(flag, _)| flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect()
}

/// `0,1,5` or `none`.
pub fn slink_list(h: &EntryHeader) -> String {
    let list: Vec<String> = h.slinks.iter().map(|s| s.to_string()).collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(",")
    }
}

/// `entry seq 1 at block 3: incarnation 1, epoch 0, dev 1, write sector
/// 100 len 8, data crc 0x…, slinks 0,1`.
pub fn entry_line(e: &ScannedEntry) -> String {
    let h = &e.header;
    let crc = if h.has_data() {
        format!(", data crc {:#010x}", h.data_crc)
    } else {
        String::new()
    };
    format!(
        "entry seq {} at block {}: incarnation {}, epoch {}, dev {}, {}{}, slinks {}",
        h.seq,
        e.block,
        h.incarnation,
        h.epoch,
        h.dev,
        request(h),
        crc,
        slink_list(h)
    )
}

/// What ended the scan: `end: block 12: no entry`,
/// `end: block 15: entry seq 15: Bad entry header checksum`.
pub fn end_line(end: &ScanEnd) -> String {
    let (block, what) = end_parts(end);
    format!("end: block {block}: {what}")
}

/// The block where the scan ended and what is there.
pub fn end_parts(end: &ScanEnd) -> (u64, String) {
    match *end {
        ScanEnd::Clean { block, found } => (block, found_text(found)),
        ScanEnd::TornHeader { block, seq } | ScanEnd::TornData { block, seq } => {
            let error = end.error().map_or("", |e| e.text());
            (block, format!("entry seq {seq}: {error}"))
        }
        ScanEnd::Invalid { block, seq, error } => {
            (block, format!("entry seq {seq}: {}", error.text()))
        }
        ScanEnd::Unreadable { block, error } => (block, format!("read error (errno {})", error.0)),
    }
}

/// What lies where a clean scan ended.
pub fn found_text(found: Found) -> String {
    match found {
        Found::Nothing => "no entry".to_string(),
        Found::OtherLog => "entry of another log".to_string(),
        Found::Stale { seq } => format!("stale entry seq {seq}"),
        Found::EarlierRun { incarnation } => {
            format!("entry of an earlier run (incarnation {incarnation})")
        }
    }
}
