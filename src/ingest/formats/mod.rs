//! Log formats: how one decoded record becomes a canonical [`Event`].
//!
//! Each format is one file with a [`LogFormat`] implementation: whether a record
//! looks like it, and how to map it. Real formats are recognised per record, so a
//! folder may mix them; `--input-format` forces one. A new format is one more
//! file and one more entry in [`FORMATS`].

mod cloudtrail;
mod gcp;
pub mod generic;
mod k8s;

use serde_json::Value;

use super::fields::{self, FieldMap, Skip};
use crate::model::{Event, Millis, UNKNOWN_TIME};

/// One log format.
pub trait LogFormat: Sync {
    /// The name used by `--input-format`.
    fn name(&self) -> &'static str;
    /// Whether the record is of this format (cheap: looks at a few keys).
    fn detect(&self, record: &Value) -> bool;
    /// The canonical event of a record, or why it is not one.
    fn event(&self, record: &Value, map: &FieldMap) -> Result<Event, Skip>;
}

/// The real formats, tried in order by auto-detection; the generic format (with
/// the field map) takes whatever none of them claims.
static FORMATS: [&dyn LogFormat; 3] = [&k8s::K8sAudit, &cloudtrail::CloudTrail, &gcp::GcpAudit];

/// Which format to read events as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Recognise each record: Kubernetes audit, CloudTrail, GCP audit, else generic.
    #[default]
    Auto,
    /// Canonical field names, with `--map`.
    Generic,
    /// Kubernetes audit events (`audit.k8s.io/v1`, `v1beta1`).
    K8sAudit,
    /// AWS CloudTrail records.
    Cloudtrail,
    /// GCP Cloud Audit Logs.
    GcpAudit,
}

impl InputFormat {
    fn format(self) -> Option<&'static dyn LogFormat> {
        let name = match self {
            InputFormat::Auto | InputFormat::Generic => return None,
            InputFormat::K8sAudit => "k8s-audit",
            InputFormat::Cloudtrail => "cloudtrail",
            InputFormat::GcpAudit => "gcp-audit",
        };
        FORMATS.iter().copied().find(|f| f.name() == name)
    }
}

/// The canonical event of a record read as `format`.
pub fn event_from_record(
    record: &Value,
    map: &FieldMap,
    format: InputFormat,
) -> Result<Event, Skip> {
    let chosen = match format {
        InputFormat::Generic => None,
        InputFormat::Auto => FORMATS.iter().copied().find(|f| f.detect(record)),
        forced => forced.format(),
    };
    let event = match chosen {
        Some(f) => f.event(record, map),
        None => generic::event_from_record(record, map),
    }?;
    fields::event_time_in_range(event.ts)?;
    Ok(event)
}

/// The path of a record read by the generic format, for learning templates. The
/// real formats build their paths from fields that never hold object ids.
pub fn generic_path(record: &Value, map: &FieldMap, format: InputFormat) -> Option<String> {
    let generic = match format {
        InputFormat::Generic => true,
        InputFormat::Auto => !FORMATS.iter().any(|f| f.detect(record)),
        _ => false,
    };
    generic
        .then(|| map.get(record, "path").and_then(fields::text))
        .flatten()
}

/// The value at a dotted path.
fn at<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// The text at a dotted path.
fn text_at(record: &Value, path: &str) -> Option<String> {
    at(record, path).and_then(fields::text)
}

/// The first text found among dotted paths.
fn first_text(record: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| text_at(record, p))
}

/// A timestamp written by a service that logs in UTC: RFC 3339, or the same
/// without an offset (as log pipelines often rewrite it), read as UTC. A record
/// with no timestamp at all is kept with [`UNKNOWN_TIME`]; one whose timestamp
/// cannot be read is skipped.
fn utc_timestamp(record: &Value, paths: &[&str]) -> Result<Millis, Skip> {
    let Some(value) = paths.iter().find_map(|p| at(record, p)) else {
        return Ok(UNKNOWN_TIME);
    };
    fields::timestamp(value).or_else(|skip| match value.as_str() {
        Some(s) => fields::timestamp(&Value::String(format!("{}Z", s.trim_end_matches('Z'))))
            .map_err(|_| skip),
        None => Err(skip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_routed_to_their_format() {
        let map = FieldMap::default();
        let k8s = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "stageTimestamp": "2026-11-20T00:00:00Z", "verb": "list", "user": {"username": "alice"},
            "objectRef": {"resource": "pods", "namespace": "default"}, "requestURI": "/api/v1/namespaces/default/pods",
            "responseStatus": {"code": 403}});
        assert_eq!(
            event_from_record(&k8s, &map, InputFormat::Auto)
                .unwrap()
                .principal,
            "alice"
        );
        let generic =
            json!({"ts": 1, "principal": "svc", "method": "GET", "path": "/x", "status": 200});
        assert_eq!(
            event_from_record(&generic, &map, InputFormat::Auto)
                .unwrap()
                .principal,
            "svc"
        );
        assert!(
            event_from_record(&generic, &map, InputFormat::K8sAudit).is_err(),
            "a forced format does not fall back"
        );
    }

    #[test]
    fn naive_service_timestamps_are_utc() {
        let r = json!({"t": "2024-11-13 23:50:32.672347000"});
        assert_eq!(utc_timestamp(&r, &["t"]), Ok(1_731_541_832_672));
    }
}
