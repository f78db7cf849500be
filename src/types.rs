//! Small value types of the public API.

use crate::error::{Error, Result};

/// A pod ordinal: `0..=2147483647`.
pub type Pod = i32;

/// How long a link lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// No expiry; listed in the uid's hash of persistent links.
    Persistent,
    /// Expires after `seconds` (`1..=2147483647`); not listed in the uid's hash.
    Temporary {
        /// Time to live in seconds.
        seconds: u32,
    },
}

impl Persistence {
    /// A temporary link that expires after `seconds`.
    pub fn temporary(seconds: u32) -> Self {
        Persistence::Temporary { seconds }
    }

    /// From the spec's `persist_seconds`: `-1` is persistent, `1..=2147483647` temporary.
    pub fn from_seconds(persist_seconds: i32) -> Result<Self> {
        match persist_seconds {
            -1 => Ok(Persistence::Persistent),
            n if n >= 1 => Ok(Persistence::Temporary { seconds: n as u32 }),
            n => Err(Error::invalid(format!(
                "persist_seconds {n} is invalid: use -1 (persistent) or 1..=2147483647 (temporary)"
            ))),
        }
    }

    /// The spec's `persist_seconds`, after checking the range: `-1` or the TTL.
    pub(crate) fn checked_seconds(self) -> Result<i32> {
        match self {
            Persistence::Persistent => Ok(-1),
            Persistence::Temporary { seconds } => match i32::try_from(seconds) {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(Error::invalid(format!(
                    "temporary link of {seconds} s is invalid: the TTL must be 1..=2147483647"
                ))),
            },
        }
    }
}

/// What removing a link leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grace {
    /// Delete the link at once.
    Immediate,
    /// Keep the link as a temporary link for `seconds` (`1..=2147483647`), so a user who
    /// comes back soon returns to the same pod.
    Seconds(u32),
}

impl Grace {
    /// From the spec's `keep_seconds`: `-1` and `0` delete at once, `N > 0` keeps for N seconds.
    pub fn from_keep_seconds(keep_seconds: i32) -> Result<Self> {
        match keep_seconds {
            -1 | 0 => Ok(Grace::Immediate),
            n if n > 0 => Ok(Grace::Seconds(n as u32)),
            n => Err(Error::invalid(format!(
                "keep_seconds {n} is invalid: use -1 or 0 (delete now) or N > 0 (keep N seconds)"
            ))),
        }
    }

    /// The spec's `keep_seconds`, after checking the range: `0` or the grace period.
    pub(crate) fn checked_seconds(self) -> Result<i32> {
        match self {
            Grace::Immediate | Grace::Seconds(0) => Ok(0),
            Grace::Seconds(seconds) => i32::try_from(seconds).map_err(|_| {
                Error::invalid(format!(
                    "grace period of {seconds} s is invalid: at most 2147483647"
                ))
            }),
        }
    }
}

/// The outcome of [`Executor::try_set_linked_pod`](crate::Executor::try_set_linked_pod).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrySet {
    /// Whether the requested link was written.
    pub linked: bool,
    /// The pod the uid is linked to now: the requested one, or the persistent link that refused it.
    pub pod: Pod,
}

/// A pod that [`Executor::compute_linked_pod`](crate::Executor::compute_linked_pod) may choose,
/// with the load the caller measured for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The pod ordinal.
    pub pod: Pod,
    /// Any load figure where lower is better (sessions, CPU, ...).
    pub load: i64,
}

impl Candidate {
    /// A candidate pod with its load.
    pub fn new(pod: Pod, load: i64) -> Self {
        Candidate { pod, load }
    }
}

/// The least-loaded candidate; ties go to the lowest pod ordinal.
pub(crate) fn least_loaded(candidates: &[Candidate]) -> Option<Pod> {
    candidates
        .iter()
        .min_by_key(|c| (c.load, c.pod))
        .map(|c| c.pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_seconds_round_trip() {
        assert_eq!(
            Persistence::from_seconds(-1).unwrap(),
            Persistence::Persistent
        );
        assert_eq!(
            Persistence::from_seconds(5)
                .unwrap()
                .checked_seconds()
                .unwrap(),
            5
        );
        for bad in [0, -2, i32::MIN] {
            assert!(Persistence::from_seconds(bad).is_err());
        }
        assert!(Persistence::temporary(0).checked_seconds().is_err());
        assert!(Persistence::temporary(u32::MAX).checked_seconds().is_err());
    }

    #[test]
    fn keep_seconds_round_trip() {
        assert_eq!(Grace::from_keep_seconds(-1).unwrap(), Grace::Immediate);
        assert_eq!(Grace::from_keep_seconds(0).unwrap(), Grace::Immediate);
        assert_eq!(Grace::from_keep_seconds(9).unwrap(), Grace::Seconds(9));
        assert!(Grace::from_keep_seconds(-2).is_err());
        assert!(Grace::Seconds(u32::MAX).checked_seconds().is_err());
    }

    #[test]
    fn least_loaded_breaks_ties_by_lowest_pod() {
        let c = |pod, load| Candidate::new(pod, load);
        assert_eq!(least_loaded(&[]), None);
        assert_eq!(least_loaded(&[c(3, 5), c(1, 5), c(2, 7)]), Some(1));
        assert_eq!(least_loaded(&[c(3, i64::MIN), c(1, i64::MAX)]), Some(3));
    }
}
