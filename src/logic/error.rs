//! Errors of the table and message grammar.
//!
//! Every distinct mistake has its own variant and its own text, so a user
//! reading the kernel log (and a test) can tell them apart. The text is a
//! static C string because the kernel stores the pointer in `ti->error`,
//! which dm core prints after the constructor has returned.

use core::ffi::CStr;
use core::fmt;

/// Declares [`TableError`], its message texts and the list of all variants.
macro_rules! table_errors {
    ($($(#[doc = $doc:literal])+ $name:ident => $text:literal,)+) => {
        /// A table line or message the grammar rejects.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum TableError {
            $($(#[doc = $doc])+ $name,)+
        }

        impl TableError {
            /// Every error, for documentation and tests.
            pub const ALL: &'static [TableError] = &[$(TableError::$name,)+];

            /// The message for `ti->error`: static, short, human.
            pub fn message(&self) -> &'static CStr {
                match self {
                    $(TableError::$name => $text,)+
                }
            }
        }
    };
}

table_errors! {
    /// A `<type> <#params> <params>` group has no type word.
    GroupTypeMissing => c"Missing group type",
    /// A group's parameter count is not a number.
    GroupCountInvalid => c"Invalid group parameter count",
    /// A group's parameter count is missing or exceeds the arguments left.
    GroupTooFew => c"Too few group parameters",

    /// The replicator table is empty.
    ReplogTypeMissing => c"Missing replication log type",
    /// `#replog_params` is not a number.
    ReplogCountInvalid => c"Invalid replication log parameter count",
    /// `#replog_params` is missing or exceeds the arguments left.
    ReplogTooFew => c"Too few replication log parameters",
    /// The replication log type is not `ringbuffer`.
    ReplogTypeUnknown => c"Unknown replication log type",
    /// A ringbuffer takes 2, 3 or 4 parameters.
    ReplogParamCount => c"Replication log takes 2 to 4 parameters",
    /// `dev_start` is not a number.
    ReplogStartInvalid => c"Invalid replication log device start",
    /// The open mode is not `open`, `auto` or `create`.
    ReplogOpenModeUnknown => c"Unknown replication log open mode",
    /// `auto` or `create` is given without a size.
    ReplogSizeMissing => c"Replication log size required with auto or create",
    /// The replication log size is not a number.
    ReplogSizeInvalid => c"Invalid replication log size",
    /// The replication log size is below `REPLOG_MIN_SECTORS`.
    ReplogSizeTooSmall => c"Replication log size must be at least 2048 sectors",
    /// `dev_start + size` does not fit in 64 bits.
    ReplogEndOverflow => c"Replication log end exceeds the sector range",

    /// The replicator table has no site link group.
    SlinksMissing => c"At least one site link required",
    /// A site link group has no type word (only in `slink add`).
    SlinkTypeMissing => c"Missing site link type",
    /// `#slink_params` is not a number.
    SlinkCountInvalid => c"Invalid site link parameter count",
    /// `#slink_params` is missing or exceeds the arguments left.
    SlinkTooFew => c"Too few site link parameters",
    /// The site link type is not `blockdev`.
    SlinkTypeUnknown => c"Unknown site link type",
    /// A blockdev site link takes 1 to 5 parameters.
    SlinkParamCount => c"Site link takes 1 to 5 parameters",
    /// A word where only a completion fits is neither `ram` nor `disk`.
    CompletionUnknown => c"Unknown site link completion (ram or disk)",
    /// A site link number is not a number.
    SlinkNumberInvalid => c"Invalid site link number",
    /// A site link number is not below `SLINK_MAX`.
    SlinkNumberTooLarge => c"Site link number must be below 2048",
    /// The first site link of the replicator table is not 0.
    FirstSlinkNotZero => c"First site link must be 0",
    /// A site link number appears twice in one table line.
    SlinkDuplicate => c"Duplicate site link number",

    /// A policy has an empty word (`""`, `async+`, `+stall`).
    PolicyEmpty => c"Empty site link policy word",
    /// A policy word is no prefix of `synchronous`, `asynchronous`, `stall`.
    PolicyUnknown => c"Unknown site link policy",
    /// A policy abbreviation matches more than one word (`s`).
    PolicyAmbiguous => c"Ambiguous site link policy abbreviation",
    /// A policy word is given twice (`stall+stall`).
    PolicyRepeated => c"Site link policy word repeated",
    /// A policy combines `synchronous` and `asynchronous`.
    PolicySyncAsync => c"Policies synchronous and asynchronous are mutually exclusive",
    /// A synchronous site link is given a fall-behind limit.
    SyncFallBehind => c"Fall-behind limit not allowed on a synchronous site link",

    /// The fall-behind type is not `ios`, `size` (`data`) or `timeout`.
    FallBehindTypeUnknown => c"Unknown fall-behind type",
    /// A `<type>=<N>` fall-behind word has no `=`.
    FallBehindIncomplete => c"Fall-behind limit needs a type and a value",
    /// The fall-behind value does not start with a decimal number.
    FallBehindValueInvalid => c"Invalid fall-behind value",
    /// The fall-behind unit is not one of the type's unit letters.
    FallBehindUnitUnknown => c"Unknown fall-behind unit",
    /// An `ios` fall-behind value has a unit.
    FallBehindIosUnit => c"Fall-behind ios takes no unit",
    /// The fall-behind value is 0.
    FallBehindZero => c"Fall-behind value must not be 0",
    /// The fall-behind value times its unit does not fit in 64 bits.
    FallBehindTooLarge => c"Fall-behind value too large",

    /// The replicator-dev table is empty.
    ReplicatorMissing => c"Missing replicator device",
    /// The replicator-dev table has no device number.
    DevNrMissing => c"Missing device number",
    /// The device number is not a number.
    DevNrInvalid => c"Invalid device number",
    /// The device number is not below 2^31.
    DevNrTooLarge => c"Device number must be below 2147483648",
    /// The replicator-dev table has no device group.
    DevicesMissing => c"At least one device required",
    /// A device group ends before its dirty log type.
    DeviceTooFew => c"Too few device arguments",
    /// `#dev_params` is not a number.
    DevCountInvalid => c"Invalid device parameter count",
    /// `#dev_params` is a number other than 1.
    DevCountNotOne => c"Device parameter count must be 1",
    /// The first device group of a replicator-dev table is not on site link 0.
    FirstDeviceNotSlink0 => c"First device must be on site link 0",
    /// A site link 0 device has a dirty log.
    Slink0NeedsNolog => c"Site link 0 device must use nolog 0",
    /// A remote (site link > 0) device has `nolog`.
    RemoteNeedsDirtyLog => c"Dirty log required on remote site link",
    /// Two remote devices of one line have different region sizes.
    RegionSizeMismatch => c"Region size differs between remote devices",

    /// `#dlog_params` is not a number.
    DirtyLogCountInvalid => c"Invalid dirty log parameter count",
    /// `#dlog_params` is missing or exceeds the arguments left.
    DirtyLogTooFew => c"Too few dirty log parameters",
    /// The dirty log type is not `nolog`, `core`, `disk` or `userspace`.
    DirtyLogTypeUnknown => c"Unknown dirty log type",
    /// `nolog` is given parameters.
    NologParams => c"nolog takes no parameters",
    /// `core` takes `<region_size> [sync|nosync]`.
    CoreParamCount => c"core dirty log takes 1 or 2 parameters",
    /// `disk` takes `<dev> <region_size> [sync|nosync]`.
    DiskParamCount => c"disk dirty log takes 2 or 3 parameters",
    /// `userspace` is given no parameters.
    UserspaceParamsMissing => c"userspace dirty log needs parameters",
    /// The region size is not a number.
    RegionSizeInvalid => c"Invalid region size",
    /// The region size is not a power of two of at least 8 sectors.
    RegionSizeBad => c"Region size must be a power of two of at least 8 sectors",
    /// The region size exceeds dm-log's 32-bit limit (2^31 sectors).
    RegionSizeTooLarge => c"Region size must not exceed 2147483648 sectors",
    /// The dirty log sync word is neither `sync` nor `nosync`.
    SyncArgInvalid => c"Dirty log sync argument must be sync or nosync",

    /// A message without words.
    MessageEmpty => c"Empty message",
    /// A message whose first word is no known command.
    MessageUnknown => c"Unknown message",
    /// A message with words after its last argument.
    MessageTooMany => c"Too many message arguments",
    /// `start` or `stop` followed by a word other than `all`.
    StartStopArg => c"Only all may follow start or stop",
    /// `start 0` or `stop 0`: the local site always applies its writes.
    StartStopSlink0 => c"Site link 0 cannot be started or stopped",
    /// `slink` without `add`, `del` or `message`.
    SlinkCommandMissing => c"Missing site link command",
    /// `slink` followed by a word other than `add`, `del` or `message`.
    SlinkCommandUnknown => c"Unknown site link command",
    /// `slink del` or `slink message` without a site link number.
    SlinkNumberMissing => c"Missing site link number",
    /// `slink add` or `slink del` of site link 0.
    Slink0ByMessage => c"Site link 0 cannot be added or deleted by message",
    /// `slink message <nr>` without `policy` or `fallbehind`.
    SlinkMessageMissing => c"Missing site link message",
    /// `slink message <nr>` followed by a word other than `policy` or `fallbehind`.
    SlinkMessageUnknown => c"Unknown site link message",
    /// `slink message <nr> retest` without an interval, or a bad one.
    RetestInvalid => c"Retest interval must be 10 ms to 1 hour, as <N>[t|s|m|h]",
    /// `slink message <nr> policy` without a policy.
    PolicyMissing => c"Missing site link policy",
    /// `slink message <nr> fallbehind` without a limit.
    FallBehindMissing => c"Missing fall-behind limit",
    /// `statistics` without `on`, `off` or `reset`.
    StatsArgMissing => c"Missing statistics argument",
    /// `statistics` followed by a word other than `on`, `off` or `reset`.
    StatsArgUnknown => c"Unknown statistics argument",
    /// `replog` without `statistics` or `resize`.
    ReplogCommandMissing => c"Missing replication log command",
    /// `replog` followed by a word other than `statistics` or `resize`.
    ReplogCommandUnknown => c"Unknown replication log command",
    /// `replog resize` without a size.
    ResizeSizeMissing => c"Missing replication log size",
    /// `device` without `add` or `del`.
    DeviceCommandMissing => c"Missing device command",
    /// `device` followed by a word other than `add` or `del`.
    DeviceCommandUnknown => c"Unknown device command",
    /// `device add` with a site link 0 group, or `device del 0`.
    DeviceSlink0ByMessage => c"Site link 0 device cannot be added or deleted by message",
    /// `verify` without a site link number or `stop`.
    VerifyArgMissing => c"Missing site link number or stop after verify",
    /// `verify 0`: site link 0 is the local device itself.
    VerifySlink0 => c"Site link 0 cannot be verified",
    /// `verify <slink_nr>` followed by a word other than `repair`.
    VerifyModeUnknown => c"Only repair may follow verify <slink_nr>",
    /// `mark` without `<slink_nr> <sector> <sectors>`.
    MarkArgs => c"mark takes <slink_nr> <sector> <sectors>",
    /// `mark 0 ...`: site link 0 has no dirty log.
    MarkSlink0 => c"Site link 0 has no regions to mark",
    /// `mark`'s sector or count is not a number, or the count is 0.
    MarkExtentInvalid => c"Invalid extent to mark",
}

impl TableError {
    /// The message as text, for logging and `Display`.
    pub fn text(&self) -> &'static str {
        self.message().to_str().unwrap_or("(invalid error text)")
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}
