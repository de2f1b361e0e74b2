//! Suppressions: expected denials a nightly job should not alert on. Each names
//! a signature id or matches on principal, cause, permission and endpoint, and
//! carries a reason and an optional expiry date, after which it no longer hides
//! anything.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnose::Cause;

/// One suppression as written in the file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub signature: Option<String>,
    pub principal: Option<String>,
    pub cause: Option<String>,
    pub permission: Option<String>,
    /// `METHOD /template`, as in reports.
    pub endpoint: Option<String>,
    pub reason: String,
    /// Last day (UTC) it applies, `YYYY-MM-DD`.
    pub expires: Option<NaiveDate>,
}

/// What one denial group looks like to a suppression.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub signature: &'a str,
    pub principal: &'a str,
    pub cause: Cause,
    pub missing: &'a [String],
    pub endpoint: &'a str,
}

impl Suppression {
    fn matches(&self, s: &Subject) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.signature, s.signature)
            && eq(&self.principal, s.principal)
            && eq(&self.cause, s.cause.name())
            && eq(&self.endpoint, s.endpoint)
            && self
                .permission
                .as_ref()
                .is_none_or(|p| s.missing.contains(p))
    }

    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|last_day| today > last_day)
    }
}

/// The suppressions in force and those that expired.
#[derive(Debug, Default)]
pub struct Suppressions {
    active: Vec<Suppression>,
    pub expired: Vec<Suppression>,
}

impl Suppressions {
    /// Reads a JSON array of suppressions (or one per line).
    pub fn load(path: &Path, today: NaiveDate) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read suppressions file {}", path.display()))?;
        let all: Vec<Suppression> = if text.trim_start().starts_with('[') {
            serde_json::from_str(&text).with_context(|| {
                format!("{} is not a JSON array of suppressions", path.display())
            })?
        } else {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .with_context(|| format!("{}:{}: not a suppression", path.display(), i + 1))
                })
                .collect::<Result<_>>()?
        };
        Self::new(all, today).with_context(|| format!("in suppressions file {}", path.display()))
    }

    /// Splits suppressions into active and expired; each must match on something and give a reason.
    pub fn new(all: Vec<Suppression>, today: NaiveDate) -> Result<Self> {
        let mut out = Suppressions::default();
        for s in all {
            let matchers = [
                &s.signature,
                &s.principal,
                &s.cause,
                &s.permission,
                &s.endpoint,
            ];
            if matchers.iter().all(|m| m.is_none()) {
                bail!("a suppression must name a signature or match on principal, cause, permission or endpoint (reason: {:?})", s.reason);
            }
            if s.reason.trim().is_empty() {
                bail!("every suppression needs a reason: say why the denial is expected");
            }
            if let Some(cause) = &s.cause {
                if !Cause::ALL.iter().any(|c| c.name() == cause) {
                    bail!("unknown cause {cause:?} in a suppression; causes are named as in reports, e.g. workflow_state");
                }
            }
            if s.expired(today) {
                out.expired.push(s);
            } else {
                out.active.push(s);
            }
        }
        Ok(out)
    }

    /// Whether no suppression is active (none given, or all expired).
    pub fn hide_nothing(&self) -> bool {
        self.active.is_empty()
    }

    /// The first active suppression that hides this subject.
    pub fn hiding(&self, subject: &Subject) -> Option<&Suppression> {
        self.active.iter().find(|s| s.matches(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn subject() -> Subject<'static> {
        Subject {
            signature: "abc",
            principal: "svc",
            cause: Cause::WorkflowState,
            missing: &[],
            endpoint: "PATCH /t/{id}",
        }
    }

    #[test]
    fn matchers_and_expiry() {
        let all: Vec<Suppression> = serde_json::from_str(
            r#"[{"signature": "abc", "reason": "known", "expires": "2026-11-30"},
                {"principal": "svc", "cause": "workflow_state", "reason": "locked tasks are expected"},
                {"principal": "other", "reason": "other account", "expires": "2026-01-01"}]"#,
        )
        .unwrap();
        let s = Suppressions::new(all, day("2026-11-22")).unwrap();
        assert_eq!(s.hiding(&subject()).unwrap().reason, "known");
        assert_eq!(s.expired.len(), 1);
        let later = Suppressions::new(s.active.clone(), day("2026-12-01")).unwrap();
        assert_eq!(
            later.hiding(&subject()).unwrap().reason,
            "locked tasks are expected"
        );
        assert_eq!(
            later.expired.len(),
            1,
            "the signature suppression expired on 2026-11-30"
        );
    }

    #[test]
    fn bad_suppressions_say_what_to_fix() {
        let none: Vec<Suppression> = serde_json::from_str(r#"[{"reason": "x"}]"#).unwrap();
        assert!(Suppressions::new(none, day("2026-11-22")).is_err());
        let cause: Vec<Suppression> =
            serde_json::from_str(r#"[{"cause": "locked", "reason": "x"}]"#).unwrap();
        let err = Suppressions::new(cause, day("2026-11-22"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("workflow_state"), "{err}");
        assert!(
            serde_json::from_str::<Vec<Suppression>>(r#"[{"sig": "abc", "reason": "typo"}]"#)
                .is_err()
        );
    }
}
