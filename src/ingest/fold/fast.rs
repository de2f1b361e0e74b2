//! The fast path for the bulk of a log: allowed requests in flat JSON Lines under
//! the canonical field names.
//!
//! Most lines of an audit log are allowed requests, and all ingest keeps of one is
//! a count under (principal, method, endpoint, org, fields) and the object it
//! touched. This path reads exactly those fields, borrowed from the line (serde
//! with `&str`, no JSON tree, no owned strings), templates the path into a
//! reused buffer, and finds the group by its key packed into a reused buffer. Anything it is
//! not sure of (another format's keys, a field that is not a plain string, escapes,
//! a duplicate key, a denial) returns `false`, and the line takes the full path:
//! both give the same aggregates, which a test checks on every sample scenario.

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::ingest::fold::aggregate::Aggregates;
use crate::ingest::record::redact::redact_object_str;
use crate::ingest::record::template::Templater;
use crate::ingest::record::{fields, formats};
use crate::model::time::EVENT_TIME_RANGE;
use crate::model::{SuccessGroup, SuccessKey, ACTION_METHOD};

/// The fields of a flat record in canonical names, borrowed from the line.
#[derive(Default)]
struct FlatRecord<'a> {
    ts: Option<&'a str>,
    principal: Option<&'a str>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    status: Option<u64>,
    org: Option<&'a str>,
    object_id: Option<&'a str>,
    fields: Option<Vec<&'a str>>,
    scopes: Option<&'a RawValue>,
    /// A key that marks another format's records ([`formats::is_marker`]).
    foreign: bool,
}

/// A key of a flat record.
#[derive(Clone, Copy)]
enum Key {
    Ts,
    Principal,
    Method,
    Path,
    Status,
    Org,
    ObjectId,
    Fields,
    Scopes,
    /// Marks another format's records.
    Marker,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            // Escaped keys arrive unescaped here, so `"k\u0069nd"` is `kind`.
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "ts" => Key::Ts,
                    "principal" => Key::Principal,
                    "method" => Key::Method,
                    "path" => Key::Path,
                    "status" => Key::Status,
                    "org" => Key::Org,
                    "object_id" => Key::ObjectId,
                    "fields" => Key::Fields,
                    "scopes" => Key::Scopes,
                    _ if formats::is_marker(key) => Key::Marker,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for FlatRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = FlatRecord<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlatRecord<'de>, A::Error> {
                let mut r = FlatRecord::default();
                // A repeated key sends the line to the full path, which keeps
                // the last value as serde_json does.
                let mut seen = 0u16;
                while let Some(key) = map.next_key::<Key>()? {
                    if matches!(key, Key::Marker | Key::Other) {
                        r.foreign |= matches!(key, Key::Marker);
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    let bit = 1u16 << key as u16;
                    if seen & bit != 0 {
                        return Err(de::Error::custom("duplicate field"));
                    }
                    seen |= bit;
                    match key {
                        Key::Ts => r.ts = map.next_value()?,
                        Key::Principal => r.principal = map.next_value()?,
                        Key::Method => r.method = map.next_value()?,
                        Key::Path => r.path = map.next_value()?,
                        Key::Status => r.status = map.next_value()?,
                        Key::Org => r.org = map.next_value()?,
                        Key::ObjectId => r.object_id = map.next_value()?,
                        Key::Fields => r.fields = map.next_value()?,
                        Key::Scopes => r.scopes = map.next_value()?,
                        Key::Marker | Key::Other => unreachable!("skipped above"),
                    }
                }
                Ok(r)
            }
        }
        deserializer.deserialize_map(RecordVisitor)
    }
}

/// One worker's fast path; holds buffers reused from line to line.
pub struct FastPath<'t> {
    templater: &'t Templater,
    template: String,
    /// The packed success key of the line ([`SuccessKey::pack`]).
    key: Vec<u8>,
}

impl<'t> FastPath<'t> {
    pub fn new(templater: &'t Templater) -> Self {
        FastPath {
            templater,
            template: String::with_capacity(128),
            key: Vec::with_capacity(256),
        }
    }

    /// Counts `line` into `agg` if it is an allowed request this path can read
    /// exactly; `false` leaves the line to the full path.
    pub fn count_success(&mut self, agg: &mut Aggregates, line: &[u8]) -> bool {
        // From text, not bytes: serde skips ignored fields without checking their
        // UTF-8, and the full path rejects such a line (found by fuzzing).
        let Ok(line) = std::str::from_utf8(line) else {
            return false;
        };
        let Ok(record) = serde_json::from_str::<FlatRecord>(line) else {
            return false;
        };
        if record.foreign {
            return false;
        }
        if !record.status.is_some_and(|s| (200..400).contains(&s)) {
            return false;
        }
        // Scopes the full path would reject (`fields::list`) must reach it.
        if !record.scopes.is_none_or(|raw| plain_list(raw.get())) {
            return false;
        }
        let (Some(ts), Some(principal), Some(method), Some(path)) = (
            record.ts,
            text(record.principal),
            text(record.method),
            text(record.path),
        ) else {
            return false;
        };
        // A lower-case method is upper-cased by the full path; a named action
        // is not templated there.
        if method.bytes().any(|b| b.is_ascii_lowercase()) || method == ACTION_METHOD {
            return false;
        }
        // Out of range: the full path skips it, with the reason.
        let Ok(ts) = fields::timestamp_text(ts) else {
            return false;
        };
        if !EVENT_TIME_RANGE.contains(&ts) {
            return false;
        }
        // Field names, trimmed, sorted and de-duplicated as `fields::list` does.
        let mut names: Vec<&str> = record
            .fields
            .unwrap_or_default()
            .into_iter()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();

        // Templating drops the query string and fragment itself.
        self.template.clear();
        let path_object = self.templater.template_into(path, &mut self.template);
        let object = text(record.object_id).or(path_object);
        if let Some(object) = object {
            let object = redact_object_str(object);
            agg.seen_pending
                .insert(&agg.seen, principal, &self.template, &object);
        }
        self.key.clear();
        let org = text(record.org);
        SuccessKey::pack(
            &mut self.key,
            principal,
            method,
            &self.template,
            org,
            &names,
        );
        agg.stats.read += 1;
        agg.stats.used += 1;
        match agg.successes.get_mut(self.key.as_slice()) {
            Some(group) => {
                group.count += 1;
                group.first_ts = group.first_ts.min(ts);
                group.last_ts = group.last_ts.max(ts);
            }
            None => {
                agg.successes.insert(
                    SuccessKey::from_packed(&self.key),
                    SuccessGroup {
                        count: 1,
                        first_ts: ts,
                        last_ts: ts,
                    },
                );
            }
        }
        true
    }
}

/// The path of a flat record under the canonical names and whether it was
/// denied, read as [`FastPath::count_success`] reads a line (borrowed, no JSON
/// tree): for the sample templates are learned from. `None` for anything the
/// full path must read, which then gives the same answer.
pub fn sampled_path(line: &[u8]) -> Option<(String, bool)> {
    let line = std::str::from_utf8(line).ok()?;
    let record = serde_json::from_str::<FlatRecord>(line).ok()?;
    if record.foreign {
        return None;
    }
    let path = text(record.path)?;
    Some((path.to_string(), record.status? == 403))
}

/// Whether a raw JSON value reads as a list without error: an array, null, or a
/// plain string that does not start like an array.
fn plain_list(raw: &str) -> bool {
    match raw.as_bytes().first() {
        Some(b'[') | Some(b'n') => true,
        Some(b'"') => !raw.contains('\\') && !raw[1..].trim_start().starts_with('['),
        _ => false,
    }
}

/// A present, non-blank string, trimmed (`fields::text` on a string).
fn text(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}
