//! Stage 3, diagnose: [`Correlation`] in, one [`Diagnosis`] per denial group out.
//!
//! The required permissions come from the policy catalog when a rule matches,
//! else from the response itself (RFC 6750 `WWW-Authenticate` scope, or an
//! `x-…-required-scope`/`-permission` header). What the roles in effect do not
//! grant is missing. The full cause taxonomy builds on this.

pub mod policy;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use self::policy::PolicyCatalog;
use crate::correlate::roles::RoleGraph;
use crate::correlate::{CorrelatedDenial, Correlation};

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The roles in effect do not grant a required permission.
    MissingPermission,
    /// The data do not decide; the note says what would.
    Unknown,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::MissingPermission => "missing_permission",
            Cause::Unknown => "unknown",
        }
    }
}

/// Where the required permissions were learned, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementSource {
    /// A rule of the policy catalog.
    PolicyCatalog,
    /// The denial response named it (header or `WWW-Authenticate`).
    Response,
}

/// The diagnosis of one denial group.
#[derive(Debug)]
pub struct Diagnosis<'a> {
    pub denial: &'a CorrelatedDenial<'a>,
    pub cause: Cause,
    /// Every permission the request needed; a choice is written `a|b`.
    pub required: Vec<String>,
    pub source: Option<RequirementSource>,
    /// The required permissions the roles in effect do not grant.
    pub missing: Vec<String>,
    /// What would decide an `unknown`, or a remark on the evidence.
    pub note: Option<String>,
}

/// The diagnoses, and the catalog and graph the fix is searched in.
#[derive(Debug)]
pub struct Diagnosed<'a> {
    pub diagnoses: Vec<Diagnosis<'a>>,
    pub graph: &'a RoleGraph,
}

/// Diagnoses every denial group.
pub fn diagnose<'a>(correlation: &'a Correlation<'a>, catalog: &PolicyCatalog) -> Diagnosed<'a> {
    let diagnoses = correlation
        .denials
        .iter()
        .map(|denial| diagnose_one(denial, catalog, correlation))
        .collect();
    Diagnosed {
        diagnoses,
        graph: &correlation.graph,
    }
}

fn diagnose_one<'a>(
    denial: &'a CorrelatedDenial<'a>,
    catalog: &PolicyCatalog,
    correlation: &Correlation,
) -> Diagnosis<'a> {
    let key = denial.key;
    let (required, source) = match catalog.find(&key.method, &key.template) {
        Some(policy) => {
            let mut required: BTreeSet<String> = policy.all_of.iter().cloned().collect();
            if !policy.any_of.is_empty() {
                required.insert(policy.any_of.join("|"));
            }
            for field in &key.fields {
                if let Some(perm) = policy.fields.get(field) {
                    required.insert(perm.clone());
                }
            }
            (required, Some(RequirementSource::PolicyCatalog))
        }
        None => {
            let named =
                required_by_response(key.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let source = (!named.is_empty()).then_some(RequirementSource::Response);
            (named, source)
        }
    };
    let unknown = |note: String| Diagnosis {
        denial,
        cause: Cause::Unknown,
        required: required.iter().cloned().collect(),
        source,
        missing: Vec::new(),
        note: Some(note),
    };
    if required.is_empty() {
        return unknown(format!(
            "no policy matches {} {} and the response names no required permission: add a rule to the policy catalog (--policies)",
            key.method, key.template
        ));
    }
    if !correlation.has_snapshots {
        return unknown("no role snapshot was given, so what the principal held is unknown: add --role-snapshots".into());
    }
    if correlation.graph.is_empty() {
        return unknown(
            "no role definitions were given, so what the roles grant is unknown: add --roles"
                .into(),
        );
    }
    let granted = &denial.grants.api;
    let missing: Vec<String> = required
        .iter()
        .filter(|perm| !perm.split('|').any(|p| granted.contains(p)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return unknown(
            "the roles in effect grant every required permission: the cause lies in the token, the object or the data scope"
                .into(),
        );
    }
    Diagnosis {
        denial,
        cause: Cause::MissingPermission,
        required: required.into_iter().collect(),
        source,
        missing,
        note: None,
    }
}

/// `scope="a b"` inside an RFC 6750 `WWW-Authenticate` challenge.
static CHALLENGE_SCOPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bscope\s*=\s*"([^"]*)""#).expect("scope pattern compiles"));

/// The permissions a denial response names: the scope of an `insufficient_scope`
/// challenge, and headers such as `x-required-scope` or `x-infor-required-scope`.
pub fn required_by_response<'h>(
    headers: impl Iterator<Item = (&'h str, &'h str)>,
) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (name, value) in headers {
        let listed = if name == "www-authenticate" {
            if !value.to_ascii_lowercase().contains("insufficient_scope") {
                continue;
            }
            CHALLENGE_SCOPE.captures(value).map(|c| c[1].to_string())
        } else if name.contains("required-scope") || name.contains("required-permission") {
            Some(value.to_string())
        } else {
            None
        };
        for perm in listed.iter().flat_map(|l| l.split([' ', ','])) {
            if !perm.is_empty() {
                named.insert(perm.to_string());
            }
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_name_required_permissions() {
        let got = required_by_response(
            [
                (
                    "www-authenticate",
                    r#"Bearer realm="api", error="insufficient_scope", scope="a.read b.write""#,
                ),
                ("x-infor-required-scope", "project.tasks.assignments.manage"),
                ("x-infor-error-code", "INSUFFICIENT_PROJECT_PERMISSIONS"),
            ]
            .into_iter(),
        );
        let want: BTreeSet<String> = ["a.read", "b.write", "project.tasks.assignments.manage"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_invalid_token_challenge_names_nothing() {
        let got = required_by_response(
            [(
                "www-authenticate",
                r#"Bearer error="invalid_token", scope="a""#,
            )]
            .into_iter(),
        );
        assert!(got.is_empty());
    }
}
