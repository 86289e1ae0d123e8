//! Framing of `<type> <#params> <params...>` groups, the shape shared by
//! replication logs, site links and dirty logs.

use core::fmt;

use super::error::TableError;
use super::number::parse_usize;

/// The errors one kind of group reports for bad framing, so the user is
/// told which group was wrong.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Framing {
    /// No type word.
    pub(crate) type_missing: TableError,
    /// The count is not a number.
    pub(crate) count_invalid: TableError,
    /// The count is missing or exceeds the arguments left.
    pub(crate) too_few: TableError,
}

/// Errors of a group of unknown kind.
pub(crate) const GENERIC: Framing = Framing {
    type_missing: TableError::GroupTypeMissing,
    count_invalid: TableError::GroupCountInvalid,
    too_few: TableError::GroupTooFew,
};

/// Errors of a replication log group.
pub(crate) const REPLOG: Framing = Framing {
    type_missing: TableError::ReplogTypeMissing,
    count_invalid: TableError::ReplogCountInvalid,
    too_few: TableError::ReplogTooFew,
};

/// Errors of a site link group.
pub(crate) const SLINK: Framing = Framing {
    type_missing: TableError::SlinkTypeMissing,
    count_invalid: TableError::SlinkCountInvalid,
    too_few: TableError::SlinkTooFew,
};

/// Errors of a dirty log group.
pub(crate) const DIRTY_LOG: Framing = Framing {
    type_missing: TableError::DeviceTooFew,
    count_invalid: TableError::DirtyLogCountInvalid,
    too_few: TableError::DirtyLogTooFew,
};

/// A split group: type word, its parameters, and the arguments after it.
pub type Group<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);

/// Splits one group off the front of `args`, reporting `framing`'s errors.
pub(crate) fn split_framed<'a>(
    args: &'a [&'a str],
    framing: &Framing,
) -> Result<Group<'a>, TableError> {
    let (kind, rest) = args.split_first().ok_or(framing.type_missing)?;
    let (count, rest) = rest.split_first().ok_or(framing.too_few)?;
    let count = parse_usize(count).map_err(|_| framing.count_invalid)?;
    let (params, rest) = rest.split_at_checked(count).ok_or(framing.too_few)?;
    Ok((kind, params, rest))
}

/// Splits `<type> <#n> <n params>` off the front of `args`: returns the
/// type, the params and the rest.
pub fn split_group<'a>(args: &'a [&'a str]) -> Result<Group<'a>, TableError> {
    split_framed(args, &GENERIC)
}

/// Parameters that form the tail of a group and know their count.
pub trait GroupParams: fmt::Display {
    /// The canonical `<#params>`.
    fn param_count(&self) -> usize;
}

/// Displays a whole group: `<type> <#params>[ <params>]`.
#[derive(Clone, Copy, Debug)]
pub struct Framed<'t, P>(pub &'t str, pub P);

impl<P: GroupParams> fmt::Display for Framed<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.1.param_count();
        write!(f, "{} {}", self.0, count)?;
        if count > 0 {
            write!(f, " {}", self.1)?;
        }
        Ok(())
    }
}

impl<P: GroupParams> GroupParams for &P {
    fn param_count(&self) -> usize {
        (**self).param_count()
    }
}

impl<D: fmt::Display> GroupParams for super::ringbuffer::RingbufferParams<D> {
    fn param_count(&self) -> usize {
        super::ringbuffer::RingbufferParams::param_count(self)
    }
}

impl GroupParams for super::blockdev::BlockdevParams {
    fn param_count(&self) -> usize {
        super::blockdev::BlockdevParams::param_count(self)
    }
}
