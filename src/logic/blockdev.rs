//! Parameters of the `blockdev` site link.
//!
//! Grammar (after `blockdev <#params>`):
//! `<slink_nr> [<policy> [<completion>] [<fbtype> <N>[unit]]]`, i.e. 1 to
//! 5 words; the limit may also be the old single word
//! `<fbtype>=<N>[unit]`. The completion word is exactly `ram` or `disk`,
//! never a fall-behind type, so the forms do not overlap. The canonical
//! form writes the completion only if it was given and always writes the
//! limit as two words.

use core::fmt;

use super::completion::Completion;
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
    /// Completion, if written (default `disk`).
    pub completion: Option<Completion>,
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
        if rest.len() > 4 {
            return Err(TableError::SlinkParamCount);
        }
        let slink = parse_slink_number(slink)?;
        let Some((policy, rest)) = rest.split_first() else {
            return Ok(BlockdevParams {
                slink,
                policy: None,
                completion: None,
                fallbehind: None,
            });
        };
        let policy = Policy::parse(policy)?;
        let completion = rest.first().and_then(|word| Completion::parse(word));
        let limit = match (completion, rest) {
            (Some(_), [_, limit @ ..]) => limit,
            // Five words: the third can only be a completion.
            (None, [_, _, _]) => return Err(TableError::CompletionUnknown),
            _ => rest,
        };
        let fallbehind = match limit {
            [] => None,
            [limit] => Some(FallBehind::parse_assignment(limit)?),
            [kind, value] => Some(FallBehind::parse(kind, value)?),
            _ => return Err(TableError::SlinkParamCount),
        };
        check_policy_fallbehind(policy, fallbehind.as_ref())?;
        Ok(BlockdevParams {
            slink,
            policy: Some(policy),
            completion,
            fallbehind,
        })
    }

    /// The effective policy.
    pub fn policy(&self) -> Policy {
        self.policy.unwrap_or_default()
    }

    /// The effective completion.
    pub fn completion(&self) -> Completion {
        self.completion.unwrap_or_default()
    }

    /// Canonical `<#slink_params>`: 1; 2 with a policy; one more with a
    /// completion, two more with a fall-behind limit.
    pub fn param_count(&self) -> usize {
        match (self.completion, self.fallbehind) {
            (Some(_), Some(_)) => 5,
            (None, Some(_)) => 4,
            (Some(_), None) => 3,
            (None, None) if self.policy.is_some() => 2,
            (None, None) => 1,
        }
    }
}

impl fmt::Display for BlockdevParams {
    /// Writes the parameters without type and count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.slink)?;
        if self.policy.is_some() || self.completion.is_some() || self.fallbehind.is_some() {
            write!(f, " {}", self.policy())?;
        }
        if let Some(completion) = self.completion {
            write!(f, " {completion}")?;
        }
        if let Some(fallbehind) = self.fallbehind {
            write!(f, " {fallbehind}")?;
        }
        Ok(())
    }
}
