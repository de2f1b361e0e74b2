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

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::aggregate::{Aggregates, SuccessGroup, SuccessKey};
use super::fields;
use super::redact::redact_object_str;
use super::template::Templater;

/// The fields of a flat record in canonical names, borrowed from the line.
#[derive(Deserialize)]
struct FlatRecord<'a> {
    ts: Option<&'a str>,
    principal: Option<&'a str>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    status: Option<u64>,
    org: Option<&'a str>,
    object_id: Option<&'a str>,
    fields: Option<Vec<&'a str>>,
    #[serde(borrow)]
    scopes: Option<&'a RawValue>,
    // Keys that mark Kubernetes, CloudTrail or GCP records, which the full path reads.
    #[serde(rename = "apiVersion")]
    api_version: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    verb: Option<IgnoredAny>,
    user: Option<IgnoredAny>,
    #[serde(rename = "eventName")]
    event_name: Option<IgnoredAny>,
    #[serde(rename = "protoPayload")]
    proto_payload: Option<IgnoredAny>,
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
        if record.api_version.is_some()
            || record.kind.is_some()
            || record.verb.is_some()
            || record.user.is_some()
            || record.event_name.is_some()
            || record.proto_payload.is_some()
        {
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
        if method.bytes().any(|b| b.is_ascii_lowercase()) {
            return false;
        }
        // Out of range: the full path skips it, with the reason.
        let Ok(ts) = fields::timestamp_text(ts) else {
            return false;
        };
        if !fields::EVENT_TIME_RANGE.contains(&ts) {
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
