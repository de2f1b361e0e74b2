//! The generic format: canonical field names, or others through the field map.

use std::collections::BTreeMap;

use serde_json::Value;

use super::LogFormat;
use crate::ingest::record::fields::{self, FieldMap, Skip};
use crate::model::Event;

pub struct Generic;

impl LogFormat for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn about(&self) -> &'static str {
        "Canonical field names (ts, principal, method, path, status…), or others through --map"
    }

    /// Whatever no other format claims.
    fn detect(&self, _record: &Value) -> bool {
        true
    }

    fn event(&self, record: &Value, map: &FieldMap) -> Result<Event, Skip> {
        event_from_record(record, map)
    }

    fn sampled_path(&self, record: &Value, map: &FieldMap) -> Option<(String, bool)> {
        let path = map.get(record, "path").and_then(fields::text)?;
        let status = map
            .get(record, "status")
            .and_then(|s| fields::status(s).ok());
        Some((path, status == Some(403)))
    }
}

/// Reads one event. Fails with the reason the record cannot be used when a
/// required field (`ts`, `principal`, `method`, `path`, `status`) is missing or
/// unreadable; optional fields that are unreadable are dropped.
fn event_from_record(record: &Value, map: &FieldMap) -> Result<Event, Skip> {
    let required = |name: &str| {
        map.get(record, name).ok_or_else(|| {
            Skip::new(
                "missing field",
                format!("no `{name}` field: if the log names it otherwise, map it with --map {name}=NAME"),
            )
        })
    };
    let required_text = |name: &str| {
        required(name).and_then(|v| {
            fields::text(v).ok_or_else(|| Skip::new("missing field", format!("`{name}` is empty")))
        })
    };
    let optional_text = |name: &str| map.get(record, name).and_then(fields::text);

    let ts = fields::timestamp(required("ts")?)?;
    let principal = required_text("principal")?;
    let method = required_text("method")?.to_ascii_uppercase();
    let path = required_text("path")?;
    let status = fields::status(required("status")?)?;
    let scopes = match map.get(record, "scopes") {
        Some(v) => Some(fields::list(v)?),
        None => None,
    };
    let fields = match map.get(record, "fields") {
        Some(v) => fields::list(v)?,
        None => Vec::new(),
    };
    Ok(Event {
        ts,
        principal,
        token_id: optional_text("token_id"),
        token_issued_at: None,
        scopes,
        method,
        path: without_query(&path),
        status,
        error_code: optional_text("error_code"),
        message: optional_text("message"),
        headers: map
            .get(record, "headers")
            .map(explaining_headers)
            .unwrap_or_default(),
        object_id: optional_text("object_id"),
        org: optional_text("org"),
        fields,
        request_id: optional_text("request_id"),
    })
}

/// A path without its query string and fragment: they carry API keys and
/// session ids, and never pass ingest.
pub fn without_query(path: &str) -> String {
    path.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Header names that carry credentials; never kept, whatever else they match.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Whether a response header explains a denial and is worth keeping.
fn explains_denial(name: &str) -> bool {
    !CREDENTIAL_HEADERS.contains(&name)
        && !name.contains("token")
        && (name == "www-authenticate"
            || name.contains("scope")
            || name.contains("permission")
            || name.contains("error")
            || name.contains("reason"))
}

/// Keeps the headers that explain a denial, from an object `{name: value}` or an
/// array of `{name, value}` pairs. Names are lower-cased.
pub fn explaining_headers(value: &Value) -> BTreeMap<String, String> {
    let pairs: Vec<(String, Option<String>)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), fields::text(v)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let name = item.get("name").and_then(fields::text).unwrap_or_default();
                (name, item.get("value").and_then(fields::text))
            })
            .collect(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed) if !parsed.is_string() => return explaining_headers(&parsed),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            explains_denial(&name).then_some((name, value?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_record_maps_onto_an_event() {
        let rec = json!({
            "ts": "2026-11-20T08:00:00+01:00", "principal": "svc-maint", "token_id": "tok-1",
            "method": "put", "path": "/api/v1/maintenance/workorders/WO12345?access_token=abc",
            "status": 403, "message": "Forbidden: Insufficient permissions",
            "headers": {"WWW-Authenticate": "Bearer error=\"insufficient_scope\"", "Authorization": "Bearer abc",
                        "X-Infor-Error-Code": "INSUFFICIENT_PROJECT_PERMISSIONS", "Set-Cookie": "s=1"},
            "fields": ["status"], "org": "PLANT-1", "request_id": "req-1"
        });
        let e = event_from_record(&rec, &FieldMap::default()).unwrap();
        assert_eq!(e.ts, 1_795_158_000_000); // 2026-11-20T07:00:00Z
        assert_eq!(e.method, "PUT");
        assert_eq!(e.path, "/api/v1/maintenance/workorders/WO12345");
        assert_eq!(e.status, 403);
        assert_eq!(
            e.headers.keys().collect::<Vec<_>>(),
            vec!["www-authenticate", "x-infor-error-code"],
            "credentials are dropped, explanations kept"
        );
        assert_eq!(e.fields, vec!["status"]);
        assert_eq!(e.scopes, None);
    }

    #[test]
    fn missing_required_fields_name_the_field_and_the_fix() {
        let rec = json!({"ts": 1, "method": "GET", "path": "/x", "status": 200});
        let skip = event_from_record(&rec, &FieldMap::default()).unwrap_err();
        assert_eq!(skip.kind, "missing field");
        assert!(skip.detail.contains("--map principal="), "{}", skip.detail);
    }

    #[test]
    fn mapped_names_are_read() {
        let rec = json!({"time": 1_763_622_000, "user": "svc", "verb": "GET", "uri": "/x", "response": {"code": "403"}});
        let map = FieldMap::parse_pairs(
            "ts=time,principal=user,method=verb,path=uri,status=response.code",
        )
        .unwrap();
        let e = event_from_record(&rec, &map).unwrap();
        assert_eq!((e.principal.as_str(), e.status), ("svc", 403));
    }

    #[test]
    fn header_arrays_are_read() {
        let headers = json!([{"name": "X-Required-Scope", "value": "a.write"}, {"name": "Cookie", "value": "x"}]);
        let kept = explaining_headers(&headers);
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            vec![("x-required-scope".to_string(), "a.write".to_string())]
        );
    }
}
