//! Upgrade rules: when a new version of a serving plugin is held instead of swapped
//! in (the old version keeps serving, the log and `/status` say why).
//!
//! Invariants:
//! - a candidate is judged against the version serving now, after it passed every
//!   load stage (signature, pin, deny list, compile, canary, grants): holding is a
//!   further "not yet", never a way around a refusal;
//! - three things hold it: another signing key than the serving version's (even one
//!   of the same publisher's keys: a rotation is the operator's to accept), a lower
//!   version (a rollback, by semantic versioning; versions that do not parse as
//!   semver are not compared), and requests beyond both the current grant and what
//!   the serving version already requested; an unreadable manifest where the serving
//!   version's was readable holds too, since its requests cannot be compared;
//! - a request is never a grant: an upgrade that swaps in runs under the same grant,
//!   whatever its manifest says. Holding on requests only keeps an upgrade that asks
//!   for more from surprising the operator.
//! - the operator accepts a hold by acting: `host grant` (new requests), changing the
//!   plugin's config section, or restarting the host.

use std::fmt;

use crate::runtime::{Grants, Plugin};

/// What the rules look at in one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Its version (`describe`).
    pub version: String,
    /// The fingerprint of the key that signed it, when its publisher was checked.
    pub key: Option<String>,
    /// What its manifest requests, as grant lines; `Err` when the manifest is
    /// unreadable (no manifest requests nothing).
    pub requests: Result<Vec<String>, String>,
    /// What the current config grants it, as grant lines.
    pub granted: Vec<String>,
}

impl Facts {
    /// The facts of a loaded plugin.
    pub fn of(plugin: &Plugin) -> Self {
        let requests = match &plugin.declared {
            Ok(Some(m)) => Grants::requested(&m.requests).map(|g| g.show()),
            Ok(None) => Ok(Vec::new()),
            Err(e) => Err(e.clone()),
        };
        Self {
            version: plugin.version.clone(),
            key: plugin.signed_by.as_ref().map(|s| s.key.clone()),
            requests,
            granted: plugin.grants_shown(),
        }
    }
}

/// Why an upgrade is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Signed by another key than the serving version.
    KeyChanged {
        /// The serving version's key.
        serving: String,
        /// The candidate's key.
        candidate: Option<String>,
    },
    /// A lower version than the serving one.
    Rollback {
        /// The serving version.
        serving: String,
        /// The candidate's version.
        candidate: String,
    },
    /// It requests what is neither granted nor requested before.
    MoreRequested {
        /// The new requests, as grant lines.
        lines: Vec<String>,
    },
    /// Its manifest cannot be read, where the serving version's could.
    Unreadable {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::KeyChanged { serving, candidate } => write!(
                f,
                "it is signed by {}, and the serving version by {serving} (restart the host or change its config section to accept the new key)",
                candidate.as_deref().unwrap_or("no key")
            ),
            Hold::Rollback { serving, candidate } => write!(
                f,
                "its version {candidate} is lower than the serving version {serving} (a rollback; restart the host to accept it)"
            ),
            Hold::MoreRequested { lines } => {
                // Grant lines are aligned for `host check`; one space reads better here.
                let lines: Vec<String> = lines
                    .iter()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect();
                write!(
                    f,
                    "it requests more than it is granted: {} (`host grant` accepts)",
                    lines.join("; ")
                )
            }
            Hold::Unreadable { reason } => write!(
                f,
                "its manifest is unreadable, so its requests cannot be compared: {reason}"
            ),
        }
    }
}

/// Whether `candidate` may replace `serving`, or why it is held.
pub fn judge(serving: &Facts, candidate: &Facts) -> Option<Hold> {
    if let Some(key) = &serving.key
        && candidate.key.as_ref() != Some(key)
    {
        return Some(Hold::KeyChanged {
            serving: key.clone(),
            candidate: candidate.key.clone(),
        });
    }
    if let (Ok(old), Ok(new)) = (
        semver::Version::parse(&serving.version),
        semver::Version::parse(&candidate.version),
    ) && new < old
    {
        return Some(Hold::Rollback {
            serving: serving.version.clone(),
            candidate: candidate.version.clone(),
        });
    }
    match (&serving.requests, &candidate.requests) {
        (Ok(_), Err(reason)) => Some(Hold::Unreadable {
            reason: reason.clone(),
        }),
        (before, Ok(asked)) => {
            let before: &[String] = before.as_deref().unwrap_or_default();
            let lines: Vec<String> = asked
                .iter()
                .filter(|l| !candidate.granted.contains(l) && !before.contains(l))
                .cloned()
                .collect();
            (!lines.is_empty()).then_some(Hold::MoreRequested { lines })
        }
        (Err(_), Err(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(version: &str, key: Option<&str>, requests: &[&str], granted: &[&str]) -> Facts {
        Facts {
            version: version.into(),
            key: key.map(str::to_owned),
            requests: Ok(requests.iter().map(|s| s.to_string()).collect()),
            granted: granted.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn an_upgrade_within_the_same_key_and_grant_swaps_in() {
        let serving = facts(
            "1.0.0",
            Some("SHA256:a"),
            &["http https://a"],
            &["http https://a"],
        );
        let candidate = facts(
            "1.1.0",
            Some("SHA256:a"),
            &["http https://a"],
            &["http https://a"],
        );
        assert_eq!(judge(&serving, &candidate), None);
    }

    #[test]
    fn another_signing_key_is_held_even_when_the_publisher_lists_it() {
        let serving = facts("1.0.0", Some("SHA256:a"), &[], &[]);
        let candidate = facts("1.1.0", Some("SHA256:b"), &[], &[]);
        let hold = judge(&serving, &candidate).unwrap();
        assert!(matches!(hold, Hold::KeyChanged { .. }));
        assert!(hold.to_string().contains("SHA256:b"), "{hold}");
    }

    #[test]
    fn a_lower_version_is_a_rollback_and_held() {
        let serving = facts("1.2.0", None, &[], &[]);
        assert_eq!(
            judge(&serving, &facts("1.10.0", None, &[], &[])),
            None,
            "compared as versions, not text"
        );
        assert!(matches!(
            judge(&serving, &facts("1.1.9", None, &[], &[])),
            Some(Hold::Rollback { .. })
        ));
        assert_eq!(
            judge(
                &facts("next", None, &[], &[]),
                &facts("0.1.0", None, &[], &[])
            ),
            None,
            "a version that is not semver is not compared"
        );
    }

    #[test]
    fn requests_beyond_the_grant_and_the_serving_versions_requests_are_held() {
        let serving = facts("1.0.0", None, &["proactive messages"], &[]);
        let same = facts("1.1.0", None, &["proactive messages"], &[]);
        assert_eq!(
            judge(&serving, &same),
            None,
            "asked before and not granted: no news"
        );
        let more = facts(
            "1.1.0",
            None,
            &["proactive messages", "http https://evil.example"],
            &[],
        );
        assert_eq!(
            judge(&serving, &more),
            Some(Hold::MoreRequested {
                lines: vec!["http https://evil.example".into()]
            })
        );
        let granted = facts(
            "1.1.0",
            None,
            &["http https://evil.example"],
            &["http https://evil.example"],
        );
        assert_eq!(judge(&serving, &granted), None, "granted by the operator");
    }

    #[test]
    fn an_unreadable_manifest_is_held_only_where_the_serving_one_was_readable() {
        let mut broken = facts("1.1.0", None, &[], &[]);
        broken.requests = Err("the section is malformed".into());
        assert!(matches!(
            judge(&facts("1.0.0", None, &[], &[]), &broken),
            Some(Hold::Unreadable { .. })
        ));
        let mut was_broken = facts("1.0.0", None, &[], &[]);
        was_broken.requests = Err("malformed".into());
        assert_eq!(judge(&was_broken, &broken), None);
    }
}
