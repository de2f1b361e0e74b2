//! GCP Cloud Audit Logs (`protoPayload` of type `google.cloud.audit.AuditLog`).
//!
//! The principal is `authenticationInfo.principalEmail`; the endpoint is the
//! service and `methodName`. Each `authorizationInfo[]` entry with `granted:
//! false` names a permission the call required. Status code 7 is
//! PERMISSION_DENIED (403), 16 UNAUTHENTICATED (401), 5 NOT_FOUND (404).
//! "Insufficient authentication scopes" is kept in the message, where the
//! diagnosis reads it as a token-scope cause rather than a role gap.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{at, first_text, text_at, utc_timestamp, LogFormat};
use crate::ingest::record::fields::{FieldMap, Skip};
use crate::model::Event;

pub struct GcpAudit;

/// The principal of an entry that names no caller.
const UNKNOWN_CALLER: &str = "(caller not in log)";

impl LogFormat for GcpAudit {
    fn name(&self) -> &'static str {
        "gcp-audit"
    }

    fn about(&self) -> &'static str {
        "GCP Cloud Audit Logs entries (protoPayload of type AuditLog)"
    }

    fn markers(&self) -> &'static [&'static str] {
        &["protoPayload"]
    }

    fn detect(&self, record: &Value) -> bool {
        record.get("protoPayload").is_some_and(Value::is_object)
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        let payload = at(record, "protoPayload")
            .ok_or_else(|| Skip::new("missing field", "no protoPayload"))?;
        let principal = first_text(
            payload,
            &[
                "authenticationInfo.principalEmail",
                "authenticationInfo.principalSubject",
            ],
        )
        // Some entries (VPC Service Controls, trimmed exports) name no caller:
        // they are still denials, attributed to a named unknown.
        .unwrap_or_else(|| UNKNOWN_CALLER.to_string());
        let method_name = text_at(payload, "methodName")
            .or_else(|| text_at(record, "resource.labels.method"))
            .unwrap_or_else(|| "unknown-method".to_string());
        let service = text_at(payload, "serviceName")
            .or_else(|| text_at(record, "resource.labels.service"))
            .unwrap_or_else(|| "gcp".into());
        let denied: Vec<String> = payload
            .get("authorizationInfo")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a.get("granted").and_then(Value::as_bool) == Some(false))
            .filter_map(|a| text_at(a, "permission"))
            .collect();
        let code = at(payload, "status.code")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let status = match code {
            7 => 403,
            16 => 401,
            5 => 404,
            0 if !denied.is_empty() => 403,
            0 => 200,
            _ => 400,
        };
        let mut headers = BTreeMap::new();
        if status == 403 && !denied.is_empty() {
            let mut denied = denied;
            denied.sort();
            denied.dedup();
            headers.insert("x-required-permission".to_string(), denied.join(" "));
        }
        let reason = text_at(payload, "metadata.violationReason");
        Ok(Event {
            ts: utc_timestamp(record, &["timestamp", "receiveTimestamp", "p_event_time"])?,
            principal,
            token_id: None,
            token_issued_at: None,
            scopes: None,
            method: "CALL".into(),
            path: format!("/{service}/{method_name}"),
            status,
            error_code: reason.or_else(|| (code != 0).then(|| format!("GRPC_{code}"))),
            message: text_at(payload, "status.message"),
            headers,
            object_id: text_at(payload, "resourceName"),
            org: text_at(record, "resource.labels.project_id"),
            fields: Vec::new(),
            request_id: text_at(record, "insertId"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ungranted_permissions_are_required() {
        let record = json!({"timestamp": "2024-02-02T09:44:26.029835Z", "insertId": "i1",
            "resource": {"labels": {"project_id": "p1"}},
            "protoPayload": {"authenticationInfo": {"principalEmail": "ci@p1.iam.gserviceaccount.com"},
                "methodName": "google.cloud.run.v1.Services.SetIamPolicy", "serviceName": "run.googleapis.com",
                "resourceName": "projects/p1/locations/us-west1/services/api",
                "status": {"code": 7, "message": "Permission 'run.services.setIamPolicy' denied"},
                "authorizationInfo": [{"granted": false, "permission": "run.services.setIamPolicy"},
                                      {"granted": true, "permission": "run.services.get"}]}});
        let e = GcpAudit.event(&record, &FieldMap::default()).unwrap();
        assert_eq!(
            (e.status, e.principal.as_str()),
            (403, "ci@p1.iam.gserviceaccount.com")
        );
        assert_eq!(
            e.headers["x-required-permission"],
            "run.services.setIamPolicy"
        );
        assert_eq!(
            e.path,
            "/run.googleapis.com/google.cloud.run.v1.Services.SetIamPolicy"
        );
        assert_eq!(e.org.as_deref(), Some("p1"));
    }

    #[test]
    fn status_codes_map_to_http() {
        let with_code = |code: i64| {
            json!({"timestamp": "2024-02-02T09:44:26Z", "protoPayload": {"authenticationInfo": {"principalEmail": "a@b"},
                "methodName": "m", "status": {"code": code}}})
        };
        let status = |code| {
            GcpAudit
                .event(&with_code(code), &FieldMap::default())
                .unwrap()
                .status
        };
        assert_eq!(
            (status(0), status(7), status(16), status(5), status(3)),
            (200, 403, 401, 404, 400)
        );
    }
}
