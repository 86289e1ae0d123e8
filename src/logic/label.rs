//! Replica labels: who a copy of a replicated device is.
//!
//! A copy of a device (the primary's local device, a DR site's remote
//! device) is a plain byte image, so nothing in its data says which group
//! and device it belongs to or how current it is. A label says so: one
//! 4 KiB block, the copy's last whole one, outside the replicated length
//! (DRBD keeps its internal meta-data the same way). It holds the group's
//! UUID, the device number, the copy's role and the group's *generation*:
//! a number and a random tag, both replaced when a secondary copy is
//! promoted (a takeover). Labels are optional; a `replicator-dev` whose
//! local device carries one checks every remote device's before it uses
//! it ([`check_local`], [`check_remote`]), so a wrong peer, a copy that
//! was never failed back, or a site that was taken over is refused instead
//! of silently overwritten. `replog label` writes and changes them
//! (`Documentation/replicator.rst`, "Identity and generations").

use super::replog::checksum::{self, Crc32c};
use super::replog::geometry::{Block, SECTORS_PER_BLOCK};
use super::replog::le;
use core::ffi::CStr;

/// "DMRLABEL": the label block's first eight bytes.
pub const LABEL_MAGIC: [u8; 8] = *b"DMRLABEL";
/// The label format's version.
pub const LABEL_VERSION: u32 = 1;

const MAGIC: usize = 0;
const VERSION: usize = 8;
const GROUP: usize = 16;
const DEV_NR: usize = 32;
const ROLE: usize = 36;
const GENERATION: usize = 40;
const GENERATION_TAG: usize = 48;
const LENGTH: usize = 56;

/// What a copy is to its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The copy applications write: the local device of the group's
    /// primary site.
    Primary,
    /// A copy on a DR site, written only by replication.
    Secondary,
}

impl Role {
    fn code(self) -> u32 {
        match self {
            Role::Primary => 1,
            Role::Secondary => 2,
        }
    }

    fn from_code(code: u32) -> Option<Role> {
        match code {
            1 => Some(Role::Primary),
            2 => Some(Role::Secondary),
            _ => None,
        }
    }

    /// `primary` or `secondary`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }
}

/// A decoded label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    /// The replication group's UUID: the same on every copy of every device
    /// of the group, at every site.
    pub group: [u8; 16],
    /// The device's number in the group (the `replicator-dev` table's).
    pub dev_nr: u32,
    /// Primary or secondary.
    pub role: Role,
    /// The group's generation: 1 when the group is labelled, one more at
    /// each promotion.
    pub generation: u64,
    /// A random tag of the generation, drawn at each promotion: two sites
    /// promoted independently to the same number differ here.
    pub generation_tag: u64,
    /// The replicated length in sectors the label was written for.
    pub length: u64,
}

/// Why a block is not a usable label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelError {
    /// The magic is there but the version is not one this code reads.
    Version(u32),
    /// The magic is there but the checksum does not match (a torn or
    /// damaged label).
    Checksum,
    /// A role code this format does not define.
    Role(u32),
}

impl LabelError {
    /// The message for `ti->error` and the tool.
    pub fn message(self) -> &'static CStr {
        match self {
            LabelError::Version(_) => c"Device label has an unknown version",
            LabelError::Checksum => c"Device label is corrupt (checksum)",
            LabelError::Role(_) => c"Device label has an unknown role",
        }
    }
}

/// The sector of the label block on a device of `dev_sectors` sectors: its
/// last whole 4 KiB block. `None` if the device is smaller than a block.
pub fn label_sector(dev_sectors: u64) -> Option<u64> {
    let last = dev_sectors.checked_sub(dev_sectors % SECTORS_PER_BLOCK)?;
    last.checked_sub(SECTORS_PER_BLOCK)
}

impl Label {
    /// A primary's label of device `dev_nr` of `group`, generation 1. Its
    /// tag is derived from the group's UUID, so every device of the group
    /// labelled on its own starts in the same generation; promotions
    /// draw random tags.
    pub fn first(group: [u8; 16], dev_nr: u32, length: u64) -> Label {
        let mut half = [0u8; 8];
        if let Some(first) = group.first_chunk::<8>() {
            half = *first;
        }
        let mut other = [0u8; 8];
        if let Some(last) = group.last_chunk::<8>() {
            other = *last;
        }
        Label {
            group,
            dev_nr,
            role: Role::Primary,
            generation: 1,
            generation_tag: u64::from_le_bytes(half) ^ u64::from_le_bytes(other),
            length,
        }
    }

    /// Writes the label into `b` (the whole block is overwritten).
    pub fn encode<C: Crc32c>(&self, b: &mut Block) {
        b.fill(0);
        le::put_bytes(b, MAGIC, &LABEL_MAGIC);
        le::put_u32(b, VERSION, LABEL_VERSION);
        le::put_bytes(b, GROUP, &self.group);
        le::put_u32(b, DEV_NR, self.dev_nr);
        le::put_u32(b, ROLE, self.role.code());
        le::put_u64(b, GENERATION, self.generation);
        le::put_u64(b, GENERATION_TAG, self.generation_tag);
        le::put_u64(b, LENGTH, self.length);
        checksum::seal::<C>(b);
    }

    /// Reads a label block: `Ok(None)` if it holds no label (no magic),
    /// an error if it holds a damaged or unknown one.
    pub fn decode<C: Crc32c>(b: &Block) -> Result<Option<Label>, LabelError> {
        if le::bytes::<8>(b, MAGIC) != LABEL_MAGIC {
            return Ok(None);
        }
        let version = le::u32_at(b, VERSION);
        if version != LABEL_VERSION {
            return Err(LabelError::Version(version));
        }
        if !checksum::is_sealed::<C>(b) {
            return Err(LabelError::Checksum);
        }
        let code = le::u32_at(b, ROLE);
        let role = Role::from_code(code).ok_or(LabelError::Role(code))?;
        Ok(Some(Label {
            group: le::bytes(b, GROUP),
            dev_nr: le::u32_at(b, DEV_NR),
            role,
            generation: le::u64_at(b, GENERATION),
            generation_tag: le::u64_at(b, GENERATION_TAG),
            length: le::u64_at(b, LENGTH),
        }))
    }

    /// Whether `other` is of the same generation (number and tag).
    pub fn same_generation(&self, other: &Label) -> bool {
        self.generation == other.generation && self.generation_tag == other.generation_tag
    }

    /// This label promoted: primary, the next generation with the new tag
    /// `tag`. `None` if the generation number would overflow or `tag` is
    /// this generation's.
    pub fn promoted(&self, tag: u64) -> Option<Label> {
        if tag == self.generation_tag {
            return None;
        }
        Some(Label {
            role: Role::Primary,
            generation: self.generation.checked_add(1)?,
            generation_tag: tag,
            ..*self
        })
    }

    /// The label of a secondary copy that joins this primary's generation
    /// (after a full or fail-back copy).
    pub fn secondary(&self) -> Label {
        Label {
            role: Role::Secondary,
            ..*self
        }
    }
}

/// Why a labelled copy cannot be used where a table puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The local device's label is a secondary's: it is a DR copy that was
    /// not promoted.
    LocalIsSecondary,
    /// The local device is labelled for another device number.
    LocalDevNr { label: u32 },
    /// The replicated length reaches into the label block.
    LengthOverlapsLabel,
    /// The local device has a label and the remote device has none.
    RemoteUnlabelled,
    /// The remote's label has no counterpart on the local device.
    LocalUnlabelled,
    /// The remote copy belongs to another group.
    OtherGroup,
    /// The remote copy is one of another device of the group.
    OtherDevice { remote: u32 },
    /// The remote copy is of an older generation: it was not failed back.
    OlderGeneration { remote: u64, local: u64 },
    /// The remote copy is of a newer generation: it was promoted, so this
    /// site was taken over.
    NewerGeneration { remote: u64, local: u64 },
    /// Same generation number, another tag: both sites were promoted on
    /// their own (split brain).
    OtherBranch { generation: u64 },
    /// The remote copy says it is a primary of this very generation.
    RemoteIsPrimary,
}

impl Refusal {
    /// The message for `ti->error` (the details go to the kernel log).
    pub fn message(self) -> &'static CStr {
        match self {
            Refusal::LocalIsSecondary => c"Local device is a secondary copy: promote it first",
            Refusal::LocalDevNr { .. } => c"Local device is labelled for another device number",
            Refusal::LengthOverlapsLabel => c"Replicated length overlaps the device label",
            Refusal::RemoteUnlabelled => c"Remote device has no label but the local device has one",
            Refusal::LocalUnlabelled => c"Remote device has a label but the local device has none",
            Refusal::OtherGroup => c"Remote device belongs to another replication group",
            Refusal::OtherDevice { .. } => {
                c"Remote device is a copy of another device of the group"
            }
            Refusal::OlderGeneration { .. } => {
                c"Remote device holds an older generation: fail it back first"
            }
            Refusal::NewerGeneration { .. } => {
                c"Remote device holds a newer generation: this site was taken over"
            }
            Refusal::OtherBranch { .. } => c"Remote device was promoted on its own: split brain",
            Refusal::RemoteIsPrimary => c"Remote device is labelled primary",
        }
    }
}

/// Checks the local device's label against the table: a primary's label
/// for this device number, outside the replicated length `len` (sectors)
/// of a device of `dev_sectors`.
pub fn check_local(label: &Label, dev_nr: u32, len: u64, dev_sectors: u64) -> Result<(), Refusal> {
    if label.role != Role::Primary {
        return Err(Refusal::LocalIsSecondary);
    }
    if label.dev_nr != dev_nr {
        return Err(Refusal::LocalDevNr {
            label: label.dev_nr,
        });
    }
    match label_sector(dev_sectors) {
        Some(at) if len <= at => Ok(()),
        _ => Err(Refusal::LengthOverlapsLabel),
    }
}

/// Checks a remote device's label against the local device's: both or
/// neither labelled; if labelled, a secondary copy of the same group,
/// device and generation, outside the replicated length `len` of a
/// device of `dev_sectors`.
pub fn check_remote(
    local: Option<&Label>,
    remote: Option<&Label>,
    len: u64,
    dev_sectors: u64,
) -> Result<(), Refusal> {
    let (local, remote) = match (local, remote) {
        (None, None) => return Ok(()),
        (Some(_), None) => return Err(Refusal::RemoteUnlabelled),
        (None, Some(_)) => return Err(Refusal::LocalUnlabelled),
        (Some(l), Some(r)) => (l, r),
    };
    if remote.group != local.group {
        return Err(Refusal::OtherGroup);
    }
    if remote.dev_nr != local.dev_nr {
        return Err(Refusal::OtherDevice {
            remote: remote.dev_nr,
        });
    }
    if remote.generation < local.generation {
        return Err(Refusal::OlderGeneration {
            remote: remote.generation,
            local: local.generation,
        });
    }
    if remote.generation > local.generation {
        return Err(Refusal::NewerGeneration {
            remote: remote.generation,
            local: local.generation,
        });
    }
    if remote.generation_tag != local.generation_tag {
        return Err(Refusal::OtherBranch {
            generation: local.generation,
        });
    }
    if remote.role != Role::Secondary {
        return Err(Refusal::RemoteIsPrimary);
    }
    match label_sector(dev_sectors) {
        Some(at) if len <= at => Ok(()),
        _ => Err(Refusal::LengthOverlapsLabel),
    }
}
