//! AWS CloudTrail records (one per line, or a file's `Records` array).
//!
//! The principal is the role of an assumed-role session (`sessionIssuer.arn`),
//! else the identity's ARN. The action is the service prefix of `eventSource`
//! and the `eventName` (`s3:GetObject`); it is what a denial required. Only
//! access-denied error codes are denials; other errors (throttling, validation)
//! are counted apart. The error message keeps the policy layer that denied
//! ("no identity-based policy allows", "an explicit deny in a service control
//! policy") and loses the encoded authorization failure message.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{first_text, text_at, utc_timestamp, Envelope, LogFormat};
use crate::ingest::record::fields::{FieldMap, Skip};
use crate::model::{Event, UNKNOWN_TIME};

pub struct CloudTrail;

/// Whether an error code is an access denial.
fn is_denial(code: &str) -> bool {
    let code = code.strip_prefix("Client.").unwrap_or(code);
    code.contains("AccessDenied")
        || code == "UnauthorizedOperation"
        || code == "UnauthorizedAccess"
        || code == "Forbidden"
}

/// "… is not authorized to perform: ACTION [on resource: RESOURCE]".
static NOT_AUTHORIZED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"not authorized to perform:?\s+([\w.-]+:[\w*.-]+)(?:\s+on resource:?\s+(\S+?))?(?:\s+because|\s+with|$|\.\s)")
        .expect("CloudTrail message pattern compiles")
});

/// The encoded authorization failure message: opaque, long, and not for reports.
static ENCODED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s*Encoded authorization failure message:\s*\S+").expect("pattern compiles")
});

/// The policy layer that denied, as CloudTrail's message names it.
static LAYER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(no (?:identity-based|resource-based|session|permissions boundary|service control|VPC endpoint|resource control) polic(?:y|ies) allows|(?:with )?an explicit deny in (?:an? )?(?:identity-based|resource-based|session|permissions boundary|service control|VPC endpoint|resource control) policy|denied due to a VPC endpoint policy)",
    )
    .expect("layer pattern compiles")
});

/// "no identity-based policy allows", "an explicit deny in a service control policy", …
fn policy_layer(message: &str) -> Option<String> {
    LAYER
        .find(message)
        .map(|m| m.as_str().trim_start_matches("with ").to_string())
}

impl LogFormat for CloudTrail {
    fn name(&self) -> &'static str {
        "cloudtrail"
    }

    fn about(&self) -> &'static str {
        "AWS CloudTrail records, one per line or in a {\"Records\": [...]} file as S3 delivers them"
    }

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope {
            list: "Records",
            kind_suffix: None,
        })
    }

    fn markers(&self) -> &'static [&'static str] {
        &["eventName"]
    }

    fn detect(&self, record: &Value) -> bool {
        record.get("eventName").is_some()
            && ["eventSource", "eventType", "awsRegion", "userIdentity"]
                .iter()
                .any(|k| record.get(k).is_some())
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        // Trimmed exports may drop eventSource; the action then has no service prefix.
        let source = text_at(record, "eventSource").unwrap_or_else(|| "aws".into());
        let name = text_at(record, "eventName")
            .ok_or_else(|| Skip::new("missing field", "no eventName"))?;
        let service = source.split('.').next().unwrap_or(&source).to_string();
        let identity_type = text_at(record, "userIdentity.type").unwrap_or_default();
        let principal = match identity_type.as_str() {
            "AssumedRole" | "FederatedUser" => first_text(
                record,
                &[
                    "userIdentity.sessionContext.sessionIssuer.arn",
                    "userIdentity.arn",
                ],
            ),
            "AWSService" => first_text(
                record,
                &["userIdentity.invokedBy", "userIdentity.principalId"],
            ),
            _ => first_text(
                record,
                &[
                    "userIdentity.arn",
                    "userIdentity.principalId",
                    "userIdentity.userName",
                ],
            ),
        }
        // Some records (service events, trimmed exports) name no identity.
        .unwrap_or_else(|| {
            first_text(record, &["userIdentity.type"])
                .unwrap_or_else(|| "(identity not in log)".into())
        });
        let code = text_at(record, "errorCode");
        let status = match code.as_deref() {
            None => 200,
            Some(c) if is_denial(c) => 403,
            Some(_) => 400,
        };
        let message =
            text_at(record, "errorMessage").map(|m| ENCODED.replace_all(&m, "").trim().to_string());
        let named = message.as_deref().and_then(|m| NOT_AUTHORIZED.captures(m));
        let action = named
            .as_ref()
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| format!("{service}:{name}"));
        let resource = named
            .as_ref()
            .and_then(|c| c.get(2))
            .map(|r| {
                r.as_str()
                    .trim_end_matches(['.', ','])
                    .trim_matches('"')
                    .to_string()
            })
            .filter(|r| r != "*");
        let mut headers = BTreeMap::new();
        if status == 403 {
            headers.insert("x-required-permission".to_string(), action);
            if let Some(layer) = message.as_deref().and_then(policy_layer) {
                headers.insert("x-denial-reason".to_string(), layer);
            }
        }
        Ok(Event {
            ts: utc_timestamp(record, &["eventTime", "p_event_time"])?,
            principal,
            token_id: text_at(record, "userIdentity.accessKeyId"),
            token_issued_at: utc_timestamp(
                record,
                &["userIdentity.sessionContext.attributes.creationDate"],
            )
            .ok()
            .filter(|t| *t != UNKNOWN_TIME),
            scopes: None,
            method: "CALL".into(),
            path: format!("/{service}/{name}"),
            status,
            error_code: code,
            message: message.filter(|m| !m.is_empty()),
            headers,
            object_id: resource,
            org: text_at(record, "recipientAccountId"),
            fields: Vec::new(),
            request_id: text_at(record, "eventID"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(code: Option<&str>, message: Option<&str>, identity: Value) -> Value {
        json!({"eventTime": "2025-01-20T15:59:33Z", "eventSource": "organizations.amazonaws.com",
               "eventName": "LeaveOrganization", "errorCode": code, "errorMessage": message,
               "userIdentity": identity, "recipientAccountId": "111122223333", "eventID": "e1"})
    }

    fn assumed_role() -> Value {
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/SampleRole/Session",
               "accessKeyId": "ASIAEXAMPLE", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/SampleRole"}}})
    }

    #[test]
    fn assumed_roles_are_attributed_to_the_role_and_the_action_is_named() {
        let msg = "User: arn:aws:sts::111122223333:assumed-role/SampleRole/Session is not authorized to perform: organizations:LeaveOrganization on resource: * because no identity-based policy allows the organizations:LeaveOrganization action";
        let e = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some(msg), assumed_role()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(e.principal, "arn:aws:iam::111122223333:role/SampleRole");
        assert_eq!(
            (e.status, e.path.as_str()),
            (403, "/organizations/LeaveOrganization")
        );
        assert_eq!(
            e.headers["x-required-permission"],
            "organizations:LeaveOrganization"
        );
        assert_eq!(e.object_id, None, "a * resource is no object");
    }

    #[test]
    fn resources_arns_and_bare_denials() {
        let msg = "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: iam:GetRole on resource: arn:aws:iam::123456789012:role/FooBar";
        let user = json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/tester"});
        let e = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some(msg), user.clone()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(e.headers["x-required-permission"], "iam:GetRole");
        assert_eq!(
            e.object_id.as_deref(),
            Some("arn:aws:iam::123456789012:role/FooBar")
        );
        let bare = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some("Access Denied"), user.clone()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(
            bare.headers["x-required-permission"],
            "organizations:LeaveOrganization"
        );
        let ec2 = CloudTrail
            .event(
                &record(Some("Client.UnauthorizedOperation"), None, user),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(ec2.status, 403);
    }

    #[test]
    fn the_policy_layer_is_named() {
        assert_eq!(
            policy_layer("… on resource: * because no identity-based policy allows the x action")
                .as_deref(),
            Some("no identity-based policy allows")
        );
        assert_eq!(
            policy_layer("… with an explicit deny in a service control policy").as_deref(),
            Some("an explicit deny in a service control policy")
        );
        assert_eq!(
            policy_layer("The request was denied due to a VPC endpoint policy").as_deref(),
            Some("denied due to a VPC endpoint policy")
        );
        assert_eq!(policy_layer("Access Denied"), None);
    }

    #[test]
    fn other_errors_are_not_denials_and_encoded_messages_are_dropped() {
        let user = json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/u"});
        for code in [
            "ThrottlingException",
            "ValidationException",
            "EntityTemporarilyUnmodifiable",
        ] {
            assert_eq!(
                CloudTrail
                    .event(
                        &record(Some(code), None, user.clone()),
                        &FieldMap::default()
                    )
                    .unwrap()
                    .status,
                400
            );
        }
        assert_eq!(
            CloudTrail
                .event(&record(None, None, user.clone()), &FieldMap::default())
                .unwrap()
                .status,
            200
        );
        let msg = "You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf0123456789xyz";
        let e = CloudTrail
            .event(
                &record(Some("Client.UnauthorizedOperation"), Some(msg), user),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(
            e.message.as_deref(),
            Some("You are not authorized to perform this operation.")
        );
    }
}
