//! Parameters of the `blockdev` site link.
//!
//! Grammar (after `blockdev <#params>`):
//! `<slink_nr> [<policy> [<fbtype> <N>[unit]]]`, i.e. 1, 2 or 4 words;
//! 3 words are accepted when the third is the old `<fbtype>=<N>[unit]`.
//! The canonical form always writes the limit as two words (count 4).

use core::fmt;

use super::error::TableError;
use super::fallbehind::FallBehind;
use super::policy::Policy;
use super::slink::parse_slink_number;

/// One site link's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockdevParams {
    /// Site link number, below [`SLINK_MAX`](super::slink::SLINK_MAX).
    pub slink: u32,
    /// Policy, if written (default asynchronous).
    pub policy: Option<Policy>,
    /// Fall-behind limit, if written (none: unlimited).
    pub fallbehind: Option<FallBehind>,
}

/// Checks that a policy and a fall-behind limit go together: a synchronous
/// site link never falls behind, so a limit on one is a mistake. The kernel
/// also calls this when a message changes one of the two.
pub fn check_policy_fallbehind(
    policy: Policy,
    fallbehind: Option<&FallBehind>,
) -> Result<(), TableError> {
    if policy.is_synchronous() && fallbehind.is_some() {
        return Err(TableError::SyncFallBehind);
    }
    Ok(())
}

impl BlockdevParams {
    /// Parses the `<#params>` words following `blockdev <#params>`.
    pub fn parse(params: &[&str]) -> Result<BlockdevParams, TableError> {
        let (slink, rest) = params.split_first().ok_or(TableError::SlinkParamCount)?;
        if rest.len() > 3 {
            return Err(TableError::SlinkParamCount);
        }
        let slink = parse_slink_number(slink)?;
        let (policy, fallbehind) = match rest {
            [] => (None, None),
            [policy] => (Some(Policy::parse(policy)?), None),
            [policy, limit] => (
                Some(Policy::parse(policy)?),
                Some(FallBehind::parse_assignment(limit)?),
            ),
            [policy, kind, value] => (
                Some(Policy::parse(policy)?),
                Some(FallBehind::parse(kind, value)?),
            ),
            _ => return Err(TableError::SlinkParamCount),
        };
        check_policy_fallbehind(policy.unwrap_or_default(), fallbehind.as_ref())?;
        Ok(BlockdevParams {
            slink,
            policy,
            fallbehind,
        })
    }

    /// The effective policy.
    pub fn policy(&self) -> Policy {
        self.policy.unwrap_or_default()
    }

    /// Canonical `<#slink_params>`: 1, 2, or 4 with a fall-behind limit.
    pub fn param_count(&self) -> usize {
        match (self.policy, self.fallbehind) {
            (_, Some(_)) => 4,
            (Some(_), None) => 2,
            (None, None) => 1,
        }
    }
}

impl fmt::Display for BlockdevParams {
    /// Writes the parameters without type and count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.slink)?;
        if self.policy.is_some() || self.fallbehind.is_some() {
            write!(f, " {}", self.policy())?;
        }
        if let Some(fallbehind) = self.fallbehind {
            write!(f, " {fallbehind}")?;
        }
        Ok(())
    }
}
