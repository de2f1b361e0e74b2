//! Records of logs grantgap does not read, recognised by their keys, so a file
//! of them is named for what it is ("an Okta System Log") rather than skipped
//! line by line for a missing field.

use serde_json::Value;

/// A log shape grantgap knows and does not read.
struct Unread {
    /// What the record is, with its article.
    name: &'static str,
    /// Why grantgap does not read it, or what to give it instead.
    why: &'static str,
    /// Whether a record has this shape.
    matches: fn(&Value) -> bool,
}

fn has(record: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| record.get(*k).is_some())
}

fn category_is(record: &Value, names: &[&str]) -> bool {
    record
        .get("category")
        .and_then(Value::as_str)
        .is_some_and(|c| names.contains(&c))
}

static UNREAD: &[Unread] = &[
    Unread {
        name: "a Microsoft Entra ID sign-in log",
        why: "sign-ins record token issuance, never an API call's 403; give grantgap the Azure Activity Log or the resource logs of the service that refused",
        matches: |r| {
            category_is(
                r,
                &[
                    "SignInLogs",
                    "NonInteractiveUserSignInLogs",
                    "ServicePrincipalSignInLogs",
                    "ManagedIdentitySignInLogs",
                ],
            ) || has(r, &["appId", "conditionalAccessStatus"])
        },
    },
    Unread {
        name: "a Microsoft Entra ID audit log",
        why: "directory changes, not API authorization decisions",
        matches: |r| category_is(r, &["AuditLogs"]) || has(r, &["activityDisplayName", "loggedByService"]),
    },
    Unread {
        name: "an Okta System Log",
        why: "identity-provider events; the API whose 403s you chase logs them (a gateway's access log, a cloud audit log)",
        matches: |r| has(r, &["eventType", "actor", "outcome"]) && r.get("published").is_some(),
    },
    Unread {
        name: "a GitHub audit log",
        why: "GitHub's own audit events; give grantgap the logs of the API that refused",
        matches: |r| has(r, &["action", "actor"]) && (r.get("@timestamp").is_some() || r.get("org").is_some()),
    },
    Unread {
        name: "a Google Workspace activity report",
        why: "grantgap reads GCP Cloud Audit Logs, not Workspace reports",
        matches: |r| {
            r.get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.starts_with("admin#reports"))
        },
    },
    Unread {
        name: "an AWS CloudTrail digest or Insights",
        why: "digests and Insights summarise; give grantgap the trail's event records",
        matches: |r| r.get("digestStartTime").is_some() || r.get("insightDetails").is_some(),
    },
];

/// What a record no format reads is, and why grantgap does not read it.
pub(super) fn recognise(record: &Value) -> Option<String> {
    UNREAD.iter().find(|u| (u.matches)(record)).map(|u| {
        format!(
            "this is {} record, which grantgap does not read: {}",
            u.name, u.why
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_shapes_are_named() {
        let okta = json!({"eventType": "user.session.start", "actor": {"id": "u"}, "outcome": {"result": "FAILURE"},
            "published": "2026-11-20T00:00:00Z"});
        assert!(recognise(&okta).unwrap().contains("Okta System Log"));
        let signin =
            json!({"category": "ServicePrincipalSignInLogs", "time": "2026-11-20T00:00:00Z"});
        assert!(recognise(&signin).unwrap().contains("sign-in log"));
        assert_eq!(recognise(&json!({"ts": 1, "path": "/x"})), None);
    }
}
