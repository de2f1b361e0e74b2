//! Kubernetes audit events (`audit.k8s.io/v1` and `v1beta1`).
//!
//! The acting principal is the impersonated user when there is one. A request
//! is logged once per stage; only the final stage (`ResponseComplete`, or
//! `Panic`) is the request, earlier stages are folded away. The permission is
//! `group/resource[/subresource]:verb` (`core` for the core group), the
//! namespace is the data scope and the resource name the object; a request to a
//! non-resource URL needs `nonresource:PATH:verb`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{at, first_text, text_at, utc_timestamp, Envelope, LogFormat};
use crate::ingest::record::fields::{self, FieldMap, Skip};
use crate::model::{Event, ANONYMOUS_CODE, UNNAMED_ENDPOINT};

pub struct K8sAudit;

/// A forbidden message: `User "X" cannot VERB resource "R" in API group "G" in
/// the namespace "N"` (current), `User "X" cannot VERB R in the namespace "N"`
/// or `… at the cluster scope` (older), `User "X" cannot VERB path "/p"`.
static FORBIDDEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"cannot (?P<verb>[\w-]+) (?:resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"|path "(?P<path>[^"]+)"|(?P<old>[\w./-]+))(?: in the namespace "(?P<ns>[^"]+)")?"#,
    )
    .expect("forbidden message pattern compiles")
});

/// The permission and namespace a forbidden message names, for events that carry no `objectRef`.
fn from_message(message: &str) -> Option<(String, Option<String>)> {
    let c = FORBIDDEN.captures(message)?;
    let verb = &c["verb"];
    let permission = if let Some(path) = c.name("path") {
        format!("nonresource:{}:{verb}", path.as_str())
    } else {
        let resource = c.name("resource").or_else(|| c.name("old"))?.as_str();
        let group = c.name("group").map_or("", |g| g.as_str());
        let group = if group.is_empty() { "core" } else { group };
        format!("{group}/{resource}:{verb}")
    };
    Some((permission, c.name("ns").map(|n| n.as_str().to_string())))
}

/// Whether the request ran unauthenticated: as `system:anonymous`, or in the
/// `system:unauthenticated` group the API server gives such requests.
fn anonymous(record: &Value) -> bool {
    const UNAUTHENTICATED: &str = "system:unauthenticated";
    let user = text_at(record, "user.username");
    let in_group = at(record, "user.groups")
        .and_then(Value::as_array)
        .is_some_and(|g| g.iter().any(|g| g.as_str() == Some(UNAUTHENTICATED)));
    in_group || matches!(user.as_deref(), Some("system:anonymous" | UNAUTHENTICATED))
}

/// The permission a request needs, as RBAC rules name it.
fn permission(record: &Value, verb: &str) -> Option<String> {
    match at(record, "objectRef") {
        Some(object) => {
            let resource = text_at(object, "resource")?;
            let group = text_at(object, "apiGroup").unwrap_or_else(|| "core".into());
            let resource = match text_at(object, "subresource") {
                Some(sub) => format!("{resource}/{sub}"),
                None => resource,
            };
            Some(format!("{group}/{resource}:{verb}"))
        }
        None => {
            let message = text_at(record, "responseStatus.message").unwrap_or_default();
            if let Some((permission, _)) = from_message(&message) {
                return Some(permission);
            }
            let uri = text_at(record, "requestURI")?;
            Some(format!(
                "nonresource:{}:{verb}",
                uri.split('?').next().unwrap_or_default()
            ))
        }
    }
}

impl LogFormat for K8sAudit {
    fn name(&self) -> &'static str {
        "k8s-audit"
    }

    fn about(&self) -> &'static str {
        "Kubernetes audit events (audit.k8s.io/v1, v1beta1), one per line or in an EventList"
    }

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope {
            kind_suffix: Some("List"),
            ..Envelope::list("items")
        })
    }

    fn markers(&self) -> &'static [&'static str] {
        &["apiVersion", "kind", "verb", "user"]
    }

    fn detect(&self, record: &Value) -> bool {
        let audit_version = record
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("audit.k8s.io/"));
        // Exported events are often trimmed of `apiVersion`; the shape still tells.
        let kind_event = record.get("kind").and_then(Value::as_str) == Some("Event");
        let audit_shape = record.get("verb").is_some()
            && record.get("user").is_some()
            && (kind_event
                || record.get("objectRef").is_some()
                || record.get("requestURI").is_some());
        audit_version || audit_shape
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        let stage = text_at(record, "stage").unwrap_or_else(|| "ResponseComplete".into());
        if stage != "ResponseComplete" && stage != "Panic" {
            return Err(Skip::new(
                fields::FOLDED,
                format!("stage {stage} of a request whose ResponseComplete stage is its record"),
            ));
        }
        let principal = first_text(record, &["impersonatedUser.username", "user.username"])
            .ok_or_else(|| Skip::new("missing field", "no user.username in the audit event"))?;
        // Trimmed exports drop the verb; the request still counts.
        let verb = text_at(record, "verb").unwrap_or_else(|| "unknown".into());
        let status = at(record, "responseStatus.code")
            .and_then(Value::as_u64)
            .map_or(200, |c| c as u16);
        // Annotation keys contain dots, so they are read by key, not by dotted path.
        let annotation = |name: &str| {
            record
                .get("annotations")
                .and_then(|a| a.get(name))
                .and_then(fields::text)
        };
        let decision = annotation("authorization.k8s.io/decision");
        let mut headers = std::collections::BTreeMap::new();
        if status == 403 {
            if let Some(p) = permission(record, &verb) {
                headers.insert("x-required-permission".to_string(), p);
            }
        }
        // A trimmed record may name neither a resource nor a URI: say so
        // rather than show an empty endpoint.
        let path = match at(record, "objectRef") {
            Some(object) => {
                let group = text_at(object, "apiGroup").unwrap_or_else(|| "core".into());
                match (text_at(object, "resource"), text_at(object, "subresource")) {
                    (None, _) => UNNAMED_ENDPOINT.to_string(),
                    (Some(resource), Some(sub)) => format!("/{group}/{resource}/{{name}}/{sub}"),
                    (Some(resource), None) => format!("/{group}/{resource}"),
                }
            }
            None => text_at(record, "requestURI").unwrap_or_else(|| UNNAMED_ENDPOINT.into()),
        };
        let message = text_at(record, "responseStatus.message")
            .or_else(|| annotation("authorization.k8s.io/reason"));
        Ok(Event {
            ts: utc_timestamp(
                record,
                &[
                    "stageTimestamp",
                    "requestReceivedTimestamp",
                    "timestamp",
                    "p_event_time",
                ],
            )?,
            principal,
            token_id: None,
            token_issued_at: None,
            scopes: None,
            method: verb.to_ascii_uppercase(),
            path: path.split('?').next().unwrap_or_default().to_string(),
            status,
            error_code: if anonymous(record) {
                Some(ANONYMOUS_CODE.to_string())
            } else {
                decision
                    .filter(|d| d == "forbid")
                    .map(|_| "RBAC_FORBID".to_string())
            },
            message,
            headers,
            object_id: text_at(record, "objectRef.name"),
            org: text_at(record, "objectRef.namespace").or_else(|| {
                let message = text_at(record, "responseStatus.message")?;
                from_message(&message).and_then(|(_, ns)| ns)
            }),
            fields: Vec::new(),
            request_id: text_at(record, "auditID"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(extra: Value) -> Result<Event, Skip> {
        let mut base = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a1", "stage": "ResponseComplete",
            "stageTimestamp": "2026-11-20T01:02:03.5Z", "verb": "list", "user": {"username": "system:serviceaccount:ci:deployer"},
            "objectRef": {"resource": "pods", "namespace": "prod"}, "responseStatus": {"code": 403,
            "message": "pods is forbidden: User \"system:serviceaccount:ci:deployer\" cannot list resource \"pods\" in API group \"\" in the namespace \"prod\""}});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        K8sAudit.event(&base, &FieldMap::default())
    }

    #[test]
    fn a_forbidden_list_names_the_rbac_permission() {
        let e = event(json!({})).unwrap();
        assert_eq!(e.principal, "system:serviceaccount:ci:deployer");
        assert_eq!(
            (e.method.as_str(), e.path.as_str(), e.status),
            ("LIST", "/core/pods", 403)
        );
        assert_eq!(e.headers["x-required-permission"], "core/pods:list");
        assert_eq!(e.org.as_deref(), Some("prod"));
    }

    #[test]
    fn an_unauthenticated_request_is_marked_anonymous() {
        let anonymous = event(json!({"user": {"username": "system:anonymous"}})).unwrap();
        let in_group =
            event(json!({"user": {"username": "x", "groups": ["system:unauthenticated"]}}));
        let authenticated =
            event(json!({"user": {"username": "x", "groups": ["system:authenticated"]}}));
        assert_eq!(anonymous.error_code.as_deref(), Some(ANONYMOUS_CODE));
        assert_eq!(
            in_group.unwrap().error_code.as_deref(),
            Some(ANONYMOUS_CODE)
        );
        assert_eq!(authenticated.unwrap().error_code, None);
    }

    #[test]
    fn impersonation_subresources_and_groups() {
        let e = event(json!({"impersonatedUser": {"username": "bob"}, "verb": "create",
            "objectRef": {"resource": "deployments", "apiGroup": "apps", "subresource": "scale", "name": "web", "namespace": "prod"}}))
        .unwrap();
        assert_eq!(e.principal, "bob");
        assert_eq!(
            e.headers["x-required-permission"],
            "apps/deployments/scale:create"
        );
        assert_eq!(e.path, "/apps/deployments/{name}/scale");
        assert_eq!(e.object_id.as_deref(), Some("web"));
    }

    #[test]
    fn forbidden_messages_in_current_and_older_forms() {
        let current = r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default""#;
        assert_eq!(
            from_message(current),
            Some(("core/pods:list".into(), Some("default".into())))
        );
        let grouped = r#"User "x" cannot create resource "deployments/scale" in API group "apps" at the cluster scope"#;
        assert_eq!(
            from_message(grouped),
            Some(("apps/deployments/scale:create".into(), None))
        );
        let older = r#"User "x" cannot list pods in the namespace "default""#;
        assert_eq!(
            from_message(older),
            Some(("core/pods:list".into(), Some("default".into())))
        );
        let older_cluster = r#"User "x" cannot list nodes at the cluster scope"#;
        assert_eq!(
            from_message(older_cluster),
            Some(("core/nodes:list".into(), None))
        );
        let path = r#"forbidden: User "system:anonymous" cannot get path "/metrics""#;
        assert_eq!(
            from_message(path),
            Some(("nonresource:/metrics:get".into(), None))
        );
        // Without objectRef the message decides.
        let record = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "stageTimestamp": "2026-11-20T00:00:00Z", "verb": "list", "user": {"username": "x"},
            "requestURI": "/api/v1/namespaces/default/pods", "responseStatus": {"code": 403, "message": older}});
        let e = K8sAudit.event(&record, &FieldMap::default()).unwrap();
        assert_eq!(
            (
                e.headers["x-required-permission"].as_str(),
                e.org.as_deref()
            ),
            ("core/pods:list", Some("default"))
        );
    }

    #[test]
    fn non_resource_urls_and_earlier_stages() {
        let mut record = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1beta1", "stage": "ResponseComplete",
            "requestReceivedTimestamp": "2024-11-13 23:50:32.672347000", "verb": "get", "user": {"username": "system:anonymous"},
            "requestURI": "/healthz?verbose", "responseStatus": {"code": 403}});
        let e = K8sAudit.event(&record, &FieldMap::default()).unwrap();
        assert_eq!(
            e.headers["x-required-permission"],
            "nonresource:/healthz:get"
        );
        record["stage"] = json!("RequestReceived");
        assert_eq!(
            K8sAudit
                .event(&record, &FieldMap::default())
                .unwrap_err()
                .kind,
            "audit stage folded"
        );
    }
}
