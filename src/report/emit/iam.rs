//! `--emit iam-policy`: an identity-based policy document per principal, as JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{printable, risk_notes, shown, Grant, REDACTED, REDACTED_WHY};

/// An identity-based policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PolicyDocument {
    version: String,
    statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Statement {
    /// Set only on statements that --allow-risky let through: JSON has no comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    effect: String,
    action: Vec<String>,
    resource: Vec<String>,
}

/// The Sid of a risky statement, numbered (a Sid is unique within a policy and alphanumeric).
const RISKY_SID: &str = "RiskyGrantAllowedByFlag";

/// Whether the permission has the shape of an IAM action (it may still be invalid).
pub(super) fn iam_shaped(permission: &str) -> bool {
    (permission == "*" || permission.contains(':'))
        && !permission.starts_with("nonresource:")
        && !permission.contains('/')
}

/// `*`, or `service:Action` with IAM's characters (`*` and `?` are its wildcards).
fn is_iam_action(action: &str) -> bool {
    action == "*"
        || action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && (service == "*"
                    || service
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
        })
}

/// Why a resource ARN cannot be granted on as it is, if it cannot.
fn arn_problem(arn: &str) -> Option<&'static str> {
    if arn.contains(REDACTED) {
        Some(REDACTED_WHY)
    } else if arn.splitn(6, ':').count() < 6 || !arn.bytes().all(|b| b.is_ascii_graphic()) {
        Some("it is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, visible ASCII)")
    } else if arn.contains(['*', '?']) {
        Some("it is a wildcard pattern, not an object a request named")
    } else {
        None
    }
}

/// Why a grant to this principal is a grant to everyone, if it is.
fn iam_principal_risk(principal: &str) -> Option<&'static str> {
    (principal.eq_ignore_ascii_case("anonymous") || principal.contains('*'))
        .then_some("is anonymous or a wildcard: a grant to it is a grant to everyone")
}

/// How allowing this action on these resources reaches past a missing
/// permission, if it does. IAM action names are case-insensitive.
pub(super) fn iam_escalation(action: &str, resources: &[String]) -> Option<&'static str> {
    let on_everything = resources.iter().any(|r| r == "*");
    let is = |name: &str| action.eq_ignore_ascii_case(name);
    if is("*") || is("*:*") {
        Some("is every action of every service")
    } else if is("iam:*") {
        Some("is all of IAM, so every permission")
    } else if is("iam:PassRole") {
        Some("hands any role to a service the holder runs")
    } else if on_everything && is("sts:AssumeRole") {
        Some("assumes every role that trusts the holder")
    } else if on_everything && action.contains(['*', '?']) {
        Some("matches every action it names, on every resource")
    } else {
        None
    }
}

pub(super) fn render(
    grants: &[Grant<'_>],
    allow_risky: bool,
    warnings: &mut BTreeSet<String>,
) -> String {
    // principal -> (risky, resources) -> actions
    type Statements<'a> = BTreeMap<(bool, Vec<String>), BTreeSet<&'a str>>;
    let mut wanted: BTreeMap<&str, Statements<'_>> = BTreeMap::new();
    for grant in grants {
        let (principal, permission) = (grant.principal, grant.permission);
        let what = format!("{} for {}", shown(permission), shown(principal));
        // Not IAM: another emitter's, not a problem.
        if !iam_shaped(permission) {
            continue;
        }
        let principal_problem = if principal.contains(REDACTED) {
            Some(REDACTED_WHY)
        } else if principal.is_empty() || !printable(principal) || principal.trim() != principal {
            Some("it is empty, holds control, bidi or invisible characters, or white space at an end; grant it by hand if it is real")
        } else {
            None
        };
        if let Some(why) = principal_problem {
            warnings.insert(format!("skipped principal {}: {why}", shown(principal)));
            continue;
        }
        if !is_iam_action(permission) {
            warnings.insert(format!(
                "skipped {what}: it is not an IAM action (service:Action, service in a-z0-9-)"
            ));
            continue;
        }
        let arns: Vec<&String> = grant
            .objects
            .iter()
            .filter(|o| o.starts_with("arn:"))
            .collect();
        let mut resources: Vec<String> = Vec::new();
        for arn in &arns {
            match arn_problem(arn) {
                Some(why) => {
                    warnings.insert(format!("skipped object {} of {what}: {why}", shown(arn)));
                }
                None => resources.push(arn.to_string()),
            }
        }
        if resources.is_empty() {
            if !arns.is_empty() {
                // The objects named the grant; "*" in their place would grant far more.
                warnings.insert(format!(
                    "skipped {what}: none of its objects can be named, and \"*\" would grant more than was denied"
                ));
                continue;
            }
            resources.push("*".into());
        }
        let risk = risk_notes(
            grant,
            iam_principal_risk(principal),
            iam_escalation(permission, &resources),
        );
        if let (Some((_, refusal)), false) = (&risk, allow_risky) {
            warnings.insert(refusal.clone());
            continue;
        }
        wanted
            .entry(principal)
            .or_default()
            .entry((risk.is_some(), resources))
            .or_default()
            .insert(permission);
    }
    let documents: BTreeMap<&str, PolicyDocument> = wanted
        .into_iter()
        .map(|(principal, statements)| {
            let mut risky_count = 0;
            let statement = statements
                .into_iter()
                .map(|((risky, resource), actions)| Statement {
                    sid: risky.then(|| {
                        risky_count += 1;
                        format!("{RISKY_SID}{risky_count}")
                    }),
                    effect: "Allow".into(),
                    action: actions.into_iter().map(String::from).collect(),
                    resource,
                })
                .collect();
            let document = PolicyDocument {
                version: "2012-10-17".into(),
                statement,
            };
            (principal, document)
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&documents).expect("policy documents serialise");
    out.push('\n');
    out
}

pub(super) fn check(grants: &[&Grant<'_>], allow_risky: bool, json: &str) -> Result<(), String> {
    let documents: BTreeMap<String, PolicyDocument> =
        serde_json::from_str(json).map_err(|e| format!("not policy documents: {e}"))?;
    for (principal, document) in &documents {
        if document.version != "2012-10-17" {
            return Err(format!("version {:?}", document.version));
        }
        let own: Vec<&&Grant<'_>> = grants.iter().filter(|g| g.principal == principal).collect();
        if own.is_empty() {
            return Err(format!("policy for {principal:?}, no chosen principal"));
        }
        for statement in &document.statement {
            if statement.effect != "Allow" {
                return Err(format!("effect {:?}", statement.effect));
            }
            let risky = statement
                .action
                .iter()
                .any(|a| iam_escalation(a, &statement.resource).is_some())
                || iam_principal_risk(principal).is_some();
            let marked = statement
                .sid
                .as_deref()
                .is_some_and(|sid| sid.starts_with(RISKY_SID));
            if (risky && !allow_risky) || risky != marked {
                return Err(format!(
                    "statement {statement:?} of {principal:?}: risky {risky}, marked {marked}"
                ));
            }
            for action in &statement.action {
                let resources_ok = |g: &&&Grant<'_>| {
                    statement.resource.iter().all(|r| {
                        g.objects.iter().any(|o| o == r)
                            || (r == "*" && !g.objects.iter().any(|o| o.starts_with("arn:")))
                    })
                };
                if !own
                    .iter()
                    .any(|g| g.permission == action && resources_ok(g))
                {
                    return Err(format!(
                        "{action:?} on {:?} is no grant of {principal:?}",
                        statement.resource
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::emit::{check_round_trip, grant, render, Emit, Options};

    #[test]
    fn risky_iam_actions_are_refused_and_marked_when_allowed() {
        let bucket = ["arn:aws:s3:::exports/1.csv".to_string()];
        let grants = [
            grant("svc", "*:*", &[]),
            grant("svc", "iam:PassRole", &[]),
            grant("svc", "s3:*", &[]),
            grant("svc", "sts:AssumeRole", &[]),
            Grant {
                objects: &bucket,
                ..grant("svc", "s3:Get*", &[])
            },
            grant("svc", "s3:ListBucket", &[]),
            grant("anonymous", "s3:ListBucket", &[]),
        ];
        let refused = render(&grants, Emit::IamPolicy, &Options::default());
        assert_eq!(refused.warnings.len(), 5, "{:#?}", refused.warnings);
        let documents: BTreeMap<String, PolicyDocument> =
            serde_json::from_str(&refused.text).unwrap();
        let actions: Vec<&String> = documents
            .values()
            .flat_map(|d| &d.statement)
            .flat_map(|s| &s.action)
            .collect();
        assert_eq!(actions, ["s3:ListBucket", "s3:Get*"]);
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::IamPolicy, &options);
        assert!(
            allowed
                .text
                .contains("\"Sid\": \"RiskyGrantAllowedByFlag1\""),
            "{}",
            allowed.text
        );
        for (emitted, options) in [(&refused, &Options::default()), (&allowed, &options)] {
            check_round_trip(&grants, Emit::IamPolicy, options, emitted).unwrap();
        }
    }
}
