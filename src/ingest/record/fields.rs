//! Reading canonical fields out of a decoded record, whatever the source called
//! them: the field map, and the lenient-but-exact conversions (timestamps,
//! permission lists, numbers written as strings).

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::model::time::{self, format_millis, Millis, EVENT_TIME_RANGE, UNKNOWN_TIME};

/// Why one record was skipped. `kind` is what skips are counted by; `detail`
/// names the value or field for the report's samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub kind: &'static str,
    pub detail: String,
    /// The record as read, for `--quarantine`, where the reader has it.
    pub raw: Option<String>,
}

/// The kind of a record that is a repeat of another (an earlier audit stage of
/// one request): counted as skipped, never listed as bad input.
pub const FOLDED: &str = "audit stage folded";

impl Skip {
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Skip {
            kind,
            detail: detail.into(),
            raw: None,
        }
    }

    /// The same, keeping the record as read.
    pub fn with_raw(mut self, raw: impl Into<String>) -> Self {
        self.raw = Some(raw.into());
        self
    }
}

/// Maps canonical event field names onto the names (or dotted paths) a log uses.
///
/// `status=status_code` reads `status` from the column `status_code`;
/// `status=response.status` reads it from a nested object. A name the map does
/// not mention is read under its canonical name.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    paths: HashMap<String, String>,
}

impl FieldMap {
    /// Parses `canonical=source` pairs, comma separated (the `--map` flag).
    pub fn parse_pairs(spec: &str) -> Result<Self> {
        let mut map = FieldMap::default();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((canonical, source)) = pair.split_once('=') else {
                bail!("field mapping `{pair}` is not of the form canonical=source (for example status=status_code)");
            };
            map.insert(canonical.trim(), source.trim())?;
        }
        Ok(map)
    }

    /// Reads a JSON object `{"status": "response.status", ...}` (the `--map-file` flag).
    pub fn from_json_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read field-map file {}", path.display()))?;
        let object: HashMap<String, String> = serde_json::from_str(&text).with_context(|| {
            format!(
                "field-map file {} must be a JSON object of canonical name to source name, e.g. {{\"status\": \"response.status\"}}",
                path.display()
            )
        })?;
        let mut map = FieldMap::default();
        for (canonical, source) in object {
            map.insert(&canonical, &source)?;
        }
        Ok(map)
    }

    /// Whether every field is read under its canonical name.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The mappings, canonical name first, in order.
    pub fn pairs(&self) -> std::collections::BTreeMap<&str, &str> {
        self.paths
            .iter()
            .map(|(c, s)| (c.as_str(), s.as_str()))
            .collect()
    }

    /// Adds the mappings of `other`, which win over these.
    pub fn extend(&mut self, other: FieldMap) {
        self.paths.extend(other.paths);
    }

    fn insert(&mut self, canonical: &str, source: &str) -> Result<()> {
        if !CANONICAL_FIELDS.contains(&canonical) {
            bail!(
                "`{canonical}` is not a canonical field; map one of: {}",
                CANONICAL_FIELDS.join(", ")
            );
        }
        self.paths.insert(canonical.to_string(), source.to_string());
        Ok(())
    }

    /// The value of a canonical field in `record`, or `None` when absent or null.
    pub fn get<'a>(&self, record: &'a Value, canonical: &str) -> Option<&'a Value> {
        let path = self.paths.get(canonical).map_or(canonical, String::as_str);
        lookup(record, path).filter(|v| !v.is_null())
    }
}

/// Every canonical field name of every table, for validating field maps.
pub const CANONICAL_FIELDS: &[&str] = &[
    "ts",
    "principal",
    "token_id",
    "scopes",
    "method",
    "path",
    "status",
    "error_code",
    "message",
    "headers",
    "object_id",
    "org",
    "fields",
    "request_id",
    "issued_at",
    "expires_at",
    "snapshot_at",
    "role",
    "data_scope",
    "permissions",
    "inherits",
    "plane",
    "all_of",
    "any_of",
    "data_scoped",
];

/// A flat column named with dots (CSV) wins; otherwise the dots walk nested objects.
fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = record.get(path) {
        return Some(v);
    }
    if !path.contains('.') {
        return None;
    }
    path.split('.').try_fold(record, |v, key| v.get(key))
}

/// A non-empty string; numbers and booleans are written out.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An HTTP status, from a number or a numeric string.
pub fn status(value: &Value) -> Result<u16, Skip> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed
        .filter(|s| (100..=599).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| {
            Skip::new(
                "bad status",
                format!("status {value} is not an HTTP status code"),
            )
        })
}

/// A list of names: a JSON array, a string holding a JSON array, or a string
/// separated by spaces or commas (as OAuth writes scopes). Sorted, de-duplicated.
/// The texts of a JSON array (nothing for anything else), as exports list names.
pub fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(text)
        .collect()
}

pub fn list(value: &Value) -> Result<Vec<String>, Skip> {
    let mut items: Vec<String> = match value {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            let parsed: Value = serde_json::from_str(s).map_err(|_| {
                Skip::new(
                    "bad list",
                    format!("{s:?} starts like a JSON array but is not one"),
                )
            })?;
            return list(&parsed);
        }
        Value::String(s) => s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        Value::Null => Vec::new(),
        other => return Err(Skip::new("bad list", format!("{other} is not a list"))),
    };
    items.sort();
    items.dedup();
    Ok(items)
}

/// A timestamp in UTC milliseconds: RFC 3339 with any offset, or epoch seconds or
/// milliseconds as a number or numeric string (`time::parse`).
pub fn timestamp(value: &Value) -> Result<Millis, Skip> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(time::from_epoch)
            .ok_or_else(|| Skip::new(BAD_TIMESTAMP, format!("{value} is not a timestamp"))),
        Value::String(s) => timestamp_text(s),
        _ => Err(Skip::new(
            BAD_TIMESTAMP,
            format!("{value} is not a timestamp"),
        )),
    }
}

/// [`timestamp`] of a string value.
pub fn timestamp_text(text: &str) -> Result<Millis, Skip> {
    time::parse(text).map_err(|detail| Skip::new(BAD_TIMESTAMP, detail))
}

/// The skip reason of a value that is not a timestamp.
const BAD_TIMESTAMP: &str = "bad timestamp";

/// The skip reason of an event outside `EVENT_TIME_RANGE`.
pub const TIME_OUT_OF_RANGE: &str = "timestamp out of range";

/// Refuses an event time outside `EVENT_TIME_RANGE` (an unknown time passes).
pub fn event_time_in_range(ts: Millis) -> Result<(), Skip> {
    if ts == UNKNOWN_TIME || EVENT_TIME_RANGE.contains(&ts) {
        return Ok(());
    }
    Err(Skip::new(
        TIME_OUT_OF_RANGE,
        format!(
            "{} is outside 1970-01-01 .. 2099-12-31 (UTC), the events grantgap reads: check the clock that wrote it or the field mapped to ts",
            format_millis(ts)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_in_every_accepted_form_agree() {
        let expected = 1_762_000_000_000;
        for v in [
            json!("2025-11-01T12:26:40Z"),
            json!("2025-11-01T14:26:40+02:00"),
            json!("2025-11-01 12:26:40Z"),
            json!(1_762_000_000),
            json!(1_762_000_000_000i64),
            json!("1762000000"),
            json!(1_762_000_000.0),
        ] {
            assert_eq!(timestamp(&v), Ok(expected), "{v}");
        }
    }

    #[test]
    fn bad_timestamps_say_why() {
        let naive = timestamp(&json!("2025-11-01T12:26:40")).unwrap_err();
        assert!(naive.detail.contains("no UTC offset"), "{naive:?}");
        assert_eq!(
            timestamp(&json!("yesterday")).unwrap_err().kind,
            "bad timestamp"
        );
        assert!(timestamp(&json!(true)).is_err());
        // Beyond the year 9999 (found by fuzzing: it printed as 1970).
        assert!(timestamp(&json!("17635935968026802")).is_err());
        assert!(timestamp(&json!(1e300)).is_err());
        assert_eq!(
            timestamp(&json!(253_402_300_799_999_i64)),
            Ok(253_402_300_799_999)
        );
    }

    #[test]
    fn lists_from_arrays_and_strings() {
        let want = vec!["a.read".to_string(), "b.write".to_string()];
        assert_eq!(
            list(&json!(["b.write", "a.read", "a.read"])),
            Ok(want.clone())
        );
        assert_eq!(list(&json!("a.read b.write")), Ok(want.clone()));
        assert_eq!(list(&json!("a.read,b.write")), Ok(want.clone()));
        assert_eq!(list(&json!("[\"a.read\",\"b.write\"]")), Ok(want));
        assert!(list(&json!("[broken")).is_err());
    }

    #[test]
    fn field_map_reads_renamed_and_nested_fields() {
        let map = FieldMap::parse_pairs("status=response.status, principal=user").unwrap();
        let rec = json!({"response": {"status": 403}, "user": "svc-a"});
        assert_eq!(map.get(&rec, "status"), Some(&json!(403)));
        assert_eq!(map.get(&rec, "principal"), Some(&json!("svc-a")));
        let flat = json!({"response.status": "403"});
        assert_eq!(map.get(&flat, "status"), Some(&json!("403")));
        assert!(FieldMap::parse_pairs("stauts=x").is_err());
        assert!(FieldMap::parse_pairs("status").is_err());
    }

    #[test]
    fn status_accepts_numeric_strings_only() {
        assert_eq!(status(&json!("403")), Ok(403));
        assert!(status(&json!("forbidden")).is_err());
        assert!(status(&json!(42)).is_err());
    }

    #[test]
    fn millis_format_round_trips() {
        assert_eq!(format_millis(1_762_000_000_000), "2025-11-01T12:26:40Z");
        assert_eq!(
            timestamp(&json!(format_millis(1_762_000_000_123))),
            Ok(1_762_000_000_123)
        );
    }
}
