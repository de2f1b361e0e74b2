//! Reading canonical fields out of a decoded record, whatever the source called
//! them: the field map, and the lenient-but-exact conversions (timestamps,
//! permission lists, numbers written as strings).

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use chrono::DateTime;
use serde_json::Value;

use crate::model::Millis;

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

/// Epoch values below this are seconds, above it milliseconds: 1e11 seconds is
/// the year 5138, while 1e11 milliseconds is 1973, so real logs never straddle it.
const EPOCH_MILLIS_THRESHOLD: f64 = 1e11;

/// A timestamp in UTC milliseconds: RFC 3339 with any offset, or epoch seconds or
/// milliseconds as a number or numeric string.
pub fn timestamp(value: &Value) -> Result<Millis, Skip> {
    let parsed = match value {
        Value::Number(n) => n.as_f64().and_then(from_epoch),
        Value::String(s) => return timestamp_text(s),
        _ => None,
    };
    parsed.ok_or_else(|| Skip::new("bad timestamp", format!("{value} is not a timestamp")))
}

/// [`timestamp`] of a string value.
pub fn timestamp_text(text: &str) -> Result<Millis, Skip> {
    let s = text.trim();
    if let Some(ms) = utc_millis(s) {
        return Ok(ms);
    }
    match s.parse::<f64>() {
        Ok(x) => from_epoch(x).ok_or_else(|| {
            Skip::new(
                "bad timestamp",
                format!("{} is not a timestamp", Value::String(text.to_string())),
            )
        }),
        Err(_) => rfc3339(s),
    }
}

/// The end of the year 9999 in epoch milliseconds: no log is later, and times
/// beyond it cannot be printed as RFC 3339.
const LATEST_MILLIS: f64 = 253_402_300_799_999.0;

/// The events grantgap reads: from 1970-01-01 up to (not including)
/// 2100-01-01, UTC. Nothing older or newer is a real API request; a log that
/// claims otherwise has a broken clock or a mis-mapped field, and one such
/// denial once stretched the timeline over 10,000 years (8.4 GB of buckets).
/// Tokens and snapshots may lie outside it (a token that never expires).
pub const EVENT_TIME_RANGE: std::ops::Range<Millis> = 0..4_102_444_800_000;

/// The skip reason of an event outside [`EVENT_TIME_RANGE`].
pub const TIME_OUT_OF_RANGE: &str = "timestamp out of range";

/// Refuses an event time outside [`EVENT_TIME_RANGE`] (an unknown time passes).
pub fn event_time_in_range(ts: Millis) -> Result<(), Skip> {
    if ts == crate::model::UNKNOWN_TIME || EVENT_TIME_RANGE.contains(&ts) {
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

/// Epoch seconds or milliseconds (see [`EPOCH_MILLIS_THRESHOLD`]) in milliseconds.
fn from_epoch(x: f64) -> Option<Millis> {
    if !x.is_finite() || !(0.0..=LATEST_MILLIS).contains(&x) {
        None
    } else if x < EPOCH_MILLIS_THRESHOLD {
        Some((x * 1000.0).round() as i64)
    } else {
        Some(x.round() as i64)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]Z`, the layout nearly every log writes, read
/// without chrono's general parser, which cost 4% of reading a line; chrono
/// still checks the date and time. `None` for anything else (an offset, a
/// leap second, a bad date), which [`rfc3339`] reads or rejects, so both give
/// the same answer (a test checks).
fn utc_millis(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let (&last, _) = b.split_last()?;
    let layout = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && matches!(last, b'Z' | b'z');
    if !layout {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    // Milliseconds are the first three digits of the fraction: chrono keeps
    // nanoseconds, and whole milliseconds of them round down.
    let millis = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..]
            if (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit) =>
        {
            let first = &fraction[..fraction.len().min(3)];
            number(first)? * 10u32.pow(3 - first.len() as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        number(&b[0..4])? as i32,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )?;
    let time = chrono::NaiveTime::from_hms_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    )?;
    Some(date.and_time(time).and_utc().timestamp_millis() + Millis::from(millis))
}

fn rfc3339(s: &str) -> Result<Millis, Skip> {
    // RFC 3339 allows a space for the `T`; chrono's parser does not.
    // Borrowed unless it must change: this runs for every event.
    let normalised: std::borrow::Cow<str> = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..]).into()
    } else {
        s.into()
    };
    match DateTime::parse_from_rfc3339(&normalised) {
        Ok(t) => Ok(t.timestamp_millis()),
        Err(_) if DateTime::parse_from_rfc3339(&format!("{normalised}Z")).is_ok() => {
            Err(Skip::new(
                "bad timestamp",
                format!(
                    "{s:?} has no UTC offset: write it with Z or +hh:mm so its instant is known"
                ),
            ))
        }
        Err(_) => Err(Skip::new(
            "bad timestamp",
            format!("{s:?} is neither RFC 3339 nor epoch seconds/milliseconds"),
        )),
    }
}

/// Formats UTC milliseconds as RFC 3339 with a `Z`, to the second when whole;
/// `unknown` for [`crate::model::UNKNOWN_TIME`].
pub fn format_millis(ms: Millis) -> String {
    if ms == crate::model::UNKNOWN_TIME {
        return "unknown".into();
    }
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    if ms % 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
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
    fn the_usual_layout_reads_as_chrono_reads_it() {
        let general = |s: &str| {
            let s = s.replacen(' ', "T", 1);
            DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        let mut cases = vec![
            "2026-11-02T00:00:00.000Z".to_string(),
            "2026-11-02t23:59:59z".into(),
            "2026-11-02 23:59:59.9Z".into(),
            "1970-01-01T00:00:00Z".into(),
            "1969-12-31T23:59:59.999Z".into(),
            "0000-01-01T00:00:00.5Z".into(),
            "9999-12-31T23:59:59.999999999Z".into(),
            "2024-02-29T12:00:00.123456Z".into(),
            // Not read by the fast path; the general one decides.
            "2023-02-29T12:00:00Z".into(),
            "2026-11-02T24:00:00Z".into(),
            "2016-12-31T23:59:60Z".into(),
            "2026-11-02T00:00:00.Z".into(),
            "2026-11-02T00:00:00.1234567890Z".into(),
            "2026-11-02T00:00:00+01:00".into(),
            "2026-11-02T0a:00:00Z".into(),
            "+026-11-02T00:00:00Z".into(),
        ];
        // Every millisecond digit and fraction length, over a range of dates.
        for i in 0..2_000i64 {
            let ms = i * 7_919_000_003 % 253_402_300_799_999;
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let digits = (i % 10) as usize;
            let fraction = format!("{:09}", t.timestamp_subsec_nanos());
            let dot = if digits == 0 { "" } else { "." };
            let text = format!(
                "{}{dot}{}Z",
                t.format("%Y-%m-%dT%H:%M:%S"),
                &fraction[..digits]
            );
            cases.push(text);
        }
        for case in &cases {
            let fast = utc_millis(case);
            assert!(fast.is_none() || fast == general(case), "{case}: {fast:?}");
            assert_eq!(timestamp_text(case).ok(), general(case), "{case}");
        }
        assert!(cases.iter().filter(|c| utc_millis(c).is_some()).count() > 2_000);
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
