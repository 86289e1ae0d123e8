//! `replog dump`: superblock, checkpoints and every live entry, as text
//! or JSON. Entries are those recovery would replay (data checked past
//! the tail hint, as at resume).

use dmr_logic::replog::checkpoint::{newest, slot_block, Checkpoint};
use dmr_logic::replog::recovery::{
    read_checkpoints, read_superblock, DataCheck, Found, ScanEnd, Scanner,
};
use dmr_logic::replog::superblock::FORMAT_VERSION;
use dmr_logic::replog::{FormatError, LogError};
use serde_json::{json, Value};

use crate::image::Image;
use crate::report;
use crate::HostCrc;

/// What `dump` found: the text or JSON, and whether there was a log.
pub struct Dump {
    /// Lines of text, or one JSON document.
    pub out: String,
    /// Whether a superblock and a checkpoint were found.
    pub found: bool,
}

/// Dumps the log in `image`.
pub fn dump(image: &mut Image, as_json: bool) -> Dump {
    let mut buf = [0; 4096];
    let mut text = Vec::new();
    let mut doc = serde_json::Map::new();
    let done = |text: Vec<String>, doc: serde_json::Map<String, Value>, found| Dump {
        out: if as_json {
            format!("{:#}\n", Value::Object(doc))
        } else {
            text.iter().map(|l| format!("{l}\n")).collect()
        },
        found,
    };
    let sb = match read_superblock::<HostCrc, _>(image, &mut buf) {
        Ok(sb) => sb,
        Err(e) => {
            text.push(format!("block 0: {}", report::error_text(&e)));
            doc.insert(
                "superblock".into(),
                json!({"block": 0, "error": report::error_text(&e)}),
            );
            return done(text, doc, false);
        }
    };
    text.push(format!(
        "superblock (block 0): version {FORMAT_VERSION}, uuid {}, block size 4096, ring at block {}",
        report::uuid(&sb.uuid),
        sb.ring_start
    ));
    doc.insert(
        "superblock".into(),
        json!({
            "block": 0,
            "version": FORMAT_VERSION,
            "uuid": report::uuid(&sb.uuid),
            "block_size": 4096,
            "ring_start": sb.ring_start,
        }),
    );
    let slots = read_checkpoints::<HostCrc, _>(image, &mut buf, &sb);
    let mut slot_docs = Vec::new();
    for (slot, content) in slots.iter().enumerate() {
        text.push(report::checkpoint_line(slot, content, sb.ring_start));
        slot_docs.push(checkpoint_json(slot, content));
    }
    doc.insert("checkpoints".into(), Value::Array(slot_docs));
    let cp = match newest(&slots) {
        Ok(cp) => *cp,
        Err(e) => {
            text.push(format!("no checkpoint: {}", e.text()));
            doc.insert("checkpoint".into(), Value::Null);
            return done(text, doc, false);
        }
    };
    text.push(format!("using checkpoint generation {}", cp.generation));
    doc.insert("checkpoint".into(), json!(cp.generation));

    let mut entries = Vec::new();
    let mut scanner =
        Scanner::<HostCrc, _>::new(image, &mut buf, &sb, &cp, DataCheck::AfterTailHint);
    for e in &mut scanner {
        text.push(report::entry_line(&e));
        let h = &e.header;
        entries.push(json!({
            "seq": h.seq,
            "block": e.block,
            "pos": e.pos,
            "epoch": h.epoch,
            "incarnation": h.incarnation,
            "dev": h.dev,
            "flags": report::flag_names(h.flags),
            "sector": h.sector,
            "sectors": h.sectors,
            "blocks": h.blocks(),
            "data_crc": h.has_data().then_some(h.data_crc),
            "slinks": h.slinks.iter().collect::<Vec<_>>(),
        }));
    }
    let r = scanner.finish();
    text.push(report::end_line(&r.end));
    doc.insert("entries".into(), Value::Array(entries));
    doc.insert("end".into(), end_json(&r.end));
    doc.insert(
        "recovered".into(),
        json!({
            "head": r.head,
            "head_seq": r.head_seq,
            "tail": r.tail,
            "next_seq": r.next_seq,
            "epoch": r.epoch,
            "incarnation": r.incarnation,
            "entries": r.entries,
            "used": r.used,
            "gap": r.gap,
            "ring_blocks": r.ring_blocks,
        }),
    );
    done(text, doc, true)
}

fn checkpoint_json(slot: usize, content: &Result<Checkpoint, LogError>) -> Value {
    match content {
        Ok(cp) => json!({
            "slot": slot,
            "block": slot_block(slot),
            "generation": cp.generation,
            "ring_blocks": cp.ring_blocks,
            "head": cp.head,
            "head_seq": cp.head_seq,
            "head_epoch": cp.head_epoch,
            "tail": cp.tail,
            "tail_seq": cp.tail_seq,
            "incarnation": cp.incarnation,
            "slinks": cp.slinks.iter().map(|(nr, seq)| json!({"slink": nr, "seq": seq})).collect::<Vec<_>>(),
            "lost": cp.slinks.lost().map(|(nr, dev)| json!({"slink": nr, "dev": dev})).collect::<Vec<_>>(),
        }),
        Err(LogError::Format(FormatError::CheckpointEmpty)) => {
            json!({"slot": slot, "block": slot_block(slot), "empty": true})
        }
        Err(e) => json!({"slot": slot, "block": slot_block(slot), "error": report::error_text(e)}),
    }
}

fn end_json(end: &ScanEnd) -> Value {
    let (_, message) = report::end_parts(end);
    let (kind, block, seq) = match *end {
        ScanEnd::Clean { block, found } => {
            let (kind, seq) = match found {
                Found::Nothing => ("none", None),
                Found::OtherLog => ("other-log", None),
                Found::Stale { seq } => ("stale", Some(seq)),
                Found::EarlierRun { .. } => ("earlier-run", None),
            };
            (kind, block, seq)
        }
        ScanEnd::TornHeader { block, seq } => ("torn-header", block, Some(seq)),
        ScanEnd::TornData { block, seq } => ("torn-data", block, Some(seq)),
        ScanEnd::Invalid { block, seq, .. } => ("invalid", block, Some(seq)),
        ScanEnd::Unreadable { block, .. } => ("unreadable", block, None),
    };
    json!({"kind": kind, "block": block, "seq": seq, "message": message})
}
