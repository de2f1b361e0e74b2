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

use super::{at, first_text, text_at, utc_timestamp, LogFormat, UNKNOWN_CALLER};
use crate::ingest::record::fields::{FieldMap, Skip};
use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Event, ACTION_METHOD, DENIED_BY_HEADER, NOT_A_RESPONSE};

pub struct GcpAudit;

/// Where the audit record is: a log entry's `protoPayload`, or the column a
/// BigQuery log sink writes it to.
const PAYLOADS: [&str; 2] = ["protoPayload", "protopayload_auditlog"];

impl LogFormat for GcpAudit {
    fn name(&self) -> &'static str {
        "gcp-audit"
    }

    fn about(&self) -> &'static str {
        "GCP Cloud Audit Logs entries (protoPayload of type AuditLog)"
    }

    fn markers(&self) -> &'static [&'static str] {
        &PAYLOADS
    }

    fn detect(&self, record: &Value) -> bool {
        PAYLOADS
            .iter()
            .any(|p| record.get(*p).is_some_and(Value::is_object))
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        let payload = PAYLOADS
            .iter()
            .find_map(|p| at(record, p))
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
        let service =
            text_at(payload, "serviceName").or_else(|| text_at(record, "resource.labels.service"));
        // BigQuery exports write integers as strings.
        let code = at(payload, "status.code")
            .and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok()))
            .unwrap_or(0);
        // A VPC Service Controls dry run logs what the perimeter would have
        // refused; the call went through.
        let dry_run = at(payload, "metadata.dryRun").and_then(Value::as_bool) == Some(true);
        let mut denied = denied_permissions(payload, code);
        // A trimmed entry may drop the method; the permission checked names
        // the call as well.
        let method_name = text_at(payload, "methodName")
            .or_else(|| text_at(record, "resource.labels.method"))
            .or_else(|| denied.first().cloned())
            .or_else(|| {
                let checks = at(payload, "authorizationInfo")?.as_array()?;
                checks.iter().find_map(|c| text_at(c, "permission"))
            })
            .unwrap_or_else(|| "unknown-method".to_string());
        let guardrail = guardrail(payload);
        let status = match code {
            _ if dry_run => NOT_A_RESPONSE,
            _ if guardrail.is_some() => 403,
            7 => 403,
            16 => 401,
            5 => 404,
            0 if !denied.is_empty() => 403,
            0 => 200,
            _ => 400,
        };
        let mut headers = BTreeMap::new();
        if status == 403 && !denied.is_empty() {
            denied.sort();
            denied.dedup();
            headers.insert("x-required-permission".to_string(), denied.join(" "));
        }
        if let Some(guardrail) = guardrail {
            headers.insert(DENIED_BY_HEADER.to_string(), guardrail);
        }
        let reason = text_at(payload, "metadata.violationReason");
        Ok(Event {
            ts: utc_timestamp(record, &["timestamp", "receiveTimestamp", "p_event_time"])?,
            principal,
            token_id: None,
            token_issued_at: None,
            scopes: None,
            method: ACTION_METHOD.into(),
            path: endpoint(service.as_deref(), &method_name),
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

/// The endpoint of a call: its method name, which is fully qualified
/// (`google.cloud.run.v1.Services.SetIamPolicy`, `storage.objects.get`), with
/// the service in front where the method alone does not name it
/// (`io.k8s.core.v1.pods.list` on `k8s.io`).
fn endpoint(service: Option<&str>, method: &str) -> String {
    match service {
        Some(service) if !method.contains(service.split('.').next().unwrap_or(service)) => {
            format!("{service}:{method}")
        }
        _ => method.to_string(),
    }
}

/// "Permission 'iam.serviceAccounts.create' denied on resource …", BigQuery's
/// unquoted "Permission bigquery.tables.get denied on table …", Compute's
/// "Required 'compute.instances.get' permission for …", Cloud SQL's "possibly
/// missing permission cloudsql.instances.get".
static PERMISSION_IN_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bpermissions?\s+'?([a-z][\w-]*(?:\.[\w-]+){2,})'?\s+(?:is\s+)?denied|\brequired\s+'([a-z][\w-]*(?:\.[\w-]+){2,})'\s+permission|\bmissing\s+permission\s+'?([a-z][\w-]*(?:\.[\w-]+){2,})")
        .expect("GCP permission pattern compiles")
});

/// The permissions a call was refused, in every form a denial takes: an
/// `authorizationInfo` entry with `granted: false`, or, in a PERMISSION_DENIED
/// entry, one with no `granted` at all (proto3 leaves `false` out of the JSON);
/// an `ErrorInfo` detail's `metadata.permission`; the message.
fn denied_permissions(payload: &Value, code: i64) -> Vec<String> {
    let permission_denied = code == 7;
    let from_authorization: Vec<String> = payload
        .get("authorizationInfo")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| match a.get("granted").and_then(Value::as_bool) {
            Some(granted) => !granted,
            None => permission_denied,
        })
        .filter_map(|a| text_at(a, "permission"))
        .collect();
    if !from_authorization.is_empty() || !permission_denied {
        return from_authorization;
    }
    let from_details: Vec<String> = at(payload, "status.details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| text_at(d, "metadata.permission"))
        .collect();
    if !from_details.is_empty() {
        return from_details;
    }
    text_at(payload, "status.message")
        .and_then(|m| {
            let captures = PERMISSION_IN_MESSAGE.captures(&m)?;
            let permission = captures.iter().skip(1).flatten().next()?;
            Some(permission.as_str().to_string())
        })
        .or_else(|| permission_of_method(payload))
        .into_iter()
        .collect()
}

/// The permission a method requires where its name says it: Cloud Storage's
/// JSON API methods are named as their permissions (`storage.objects.delete`),
/// and GKE logs Kubernetes calls as `io.k8s.GROUP.VERSION.RESOURCE.VERB`,
/// which is the RBAC permission `GROUP/RESOURCE:VERB` the Kubernetes format
/// writes.
fn permission_of_method(payload: &Value) -> Option<String> {
    let method = text_at(payload, "methodName")?;
    let service = text_at(payload, "serviceName").unwrap_or_default();
    if service == "storage.googleapis.com" && method.starts_with("storage.") {
        return Some(method);
    }
    let rest = method.strip_prefix("io.k8s.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    let version = parts.iter().position(|p| {
        p.len() > 1 && p.starts_with('v') && p[1..2].bytes().all(|b| b.is_ascii_digit())
    })?;
    let (group, after) = (&parts[..version], &parts[version + 1..]);
    let (verb, resource) = after.split_last()?;
    if group.is_empty() || resource.is_empty() {
        return None;
    }
    let group = match group {
        [one] if matches!(*one, "core" | "apps" | "batch" | "autoscaling" | "policy") => {
            one.to_string()
        }
        reversed => {
            let mut names: Vec<&str> = reversed.to_vec();
            names.reverse();
            format!("{}.k8s.io", names.join("."))
        }
    };
    Some(format!("{group}/{}:{verb}", resource.join("/")))
}

/// The guardrail that refused the call, as `KIND[ NAME]` for the
/// `x-denied-by` header: a VPC Service Controls perimeter (the Policy Denied
/// audit log's metadata) or an organization policy constraint.
fn guardrail(payload: &Value) -> Option<String> {
    let metadata_type = text_at(payload, "metadata.@type").unwrap_or_default();
    if metadata_type.ends_with("VpcServiceControlAuditMetadata") {
        return Some(
            match text_at(payload, "metadata.securityPolicyInfo.servicePerimeterName") {
                Some(perimeter) => format!("vpc_service_controls {perimeter}"),
                None => "vpc_service_controls".to_string(),
            },
        );
    }
    let violations = at(
        payload,
        "policyViolationInfo.orgPolicyViolationInfo.violationInfo",
    )?;
    let constraint = violations
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|v| text_at(v, "constraint"));
    Some(match constraint {
        Some(constraint) => format!("organization_policy {constraint}"),
        None => "organization_policy".to_string(),
    })
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
        assert_eq!(e.path, "google.cloud.run.v1.Services.SetIamPolicy");
        assert_eq!(e.org.as_deref(), Some("p1"));
    }

    #[test]
    fn a_trimmed_entry_is_named_by_the_permission_it_checked() {
        let record = json!({"timestamp": "2024-02-02T09:44:26Z",
            "protoPayload": {"authenticationInfo": {"principalEmail": "u@p1.example"},
                "authorizationInfo": [{"granted": false, "permission": "run.services.setIamPolicy"}]}});
        let e = GcpAudit.event(&record, &FieldMap::default()).unwrap();
        assert_eq!(
            (e.status, e.path.as_str()),
            (403, "run.services.setIamPolicy")
        );
        assert_eq!(
            endpoint(None, "io.k8s.core.v1.services.create"),
            "io.k8s.core.v1.services.create"
        );
        assert_eq!(
            endpoint(Some("iamcredentials.googleapis.com"), "SignJwt"),
            "iamcredentials.googleapis.com:SignJwt"
        );
    }

    #[test]
    fn methods_that_name_their_permission() {
        let payload =
            |service: &str, method: &str| json!({"serviceName": service, "methodName": method});
        let of = |service, method| permission_of_method(&payload(service, method));
        assert_eq!(
            of("storage.googleapis.com", "storage.objects.delete").as_deref(),
            Some("storage.objects.delete")
        );
        assert_eq!(
            of("k8s.io", "io.k8s.core.v1.pods.list").as_deref(),
            Some("core/pods:list")
        );
        assert_eq!(
            of("k8s.io", "io.k8s.authorization.rbac.v1.clusterroles.create").as_deref(),
            Some("rbac.authorization.k8s.io/clusterroles:create")
        );
        assert_eq!(
            of("k8s.io", "io.k8s.core.v1.pods.exec.create").as_deref(),
            Some("core/pods/exec:create")
        );
        assert_eq!(
            of(
                "run.googleapis.com",
                "google.cloud.run.v1.Services.GetService"
            ),
            None
        );
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
