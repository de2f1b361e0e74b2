//! The fast path for the bulk of a log: allowed requests in flat JSON Lines under
//! the canonical field names.
//!
//! Most lines of an audit log are allowed requests, and all ingest keeps of one is
//! a count under (principal, method, endpoint, org, fields) and the object it
//! touched. This path reads exactly those fields, borrowed from the line (a
//! strict scanner, [`scan`]: no JSON tree, no owned strings), templates the path
//! into a reused buffer, and finds the group by its key packed into a reused
//! buffer. Anything it is not sure of (another format's keys, a field that is
//! not a plain string, escapes, a duplicate key, a denial) returns `false`, and
//! the line takes the full path: both give the same aggregates, which a test
//! checks on every sample scenario.

use crate::ingest::fold::aggregate::Aggregates;
use crate::ingest::fold::scan::{self, Scanned};
use crate::ingest::record::redact::redact_object_str;
use crate::ingest::record::template::{PrefixMemo, Templater};
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
    /// Whether `scopes` reads as a list without error (see [`plain_list`]).
    plain_scopes: bool,
}

impl<'a> FlatRecord<'a> {
    /// The record of a line as serde_json would read these fields, or `None`
    /// for a line the full path must read: one [`scan::scan`] declines, a
    /// field of another type, a repeated field (serde_json keeps the last), or
    /// another format's key or an envelope's list ([`formats::is_marker`]).
    fn read(line: &'a str) -> Option<Self> {
        let mut r = FlatRecord {
            plain_scopes: true,
            ..FlatRecord::default()
        };
        let mut seen = 0u16;
        let read = scan::scan(line, formats::is_marker, |key, value| {
            let (bit, ok) = match key {
                "ts" => (0, text_or_null(value, &mut r.ts)),
                "principal" => (1, text_or_null(value, &mut r.principal)),
                "method" => (2, text_or_null(value, &mut r.method)),
                "path" => (3, text_or_null(value, &mut r.path)),
                "org" => (4, text_or_null(value, &mut r.org)),
                "object_id" => (5, text_or_null(value, &mut r.object_id)),
                "status" => (6, status(value, &mut r.status)),
                "fields" => (7, list_or_null(value, &mut r.fields)),
                "scopes" => {
                    r.plain_scopes = plain_list(value);
                    (8, true)
                }
                _ => return true,
            };
            let repeated = seen & (1 << bit) != 0;
            seen |= 1 << bit;
            ok && !repeated
        });
        read.then_some(r)
    }
}

/// A string field: a string, or null for none.
fn text_or_null<'a>(value: Scanned<'a>, out: &mut Option<&'a str>) -> bool {
    match value {
        Scanned::Str(s) => *out = Some(s),
        Scanned::Null => *out = None,
        _ => return false,
    }
    true
}

/// `status`: an unsigned integer, or null for none.
fn status(value: Scanned, out: &mut Option<u64>) -> bool {
    match value {
        Scanned::Number(n) => match n.parse() {
            Ok(n) => *out = Some(n),
            Err(_) => return false,
        },
        Scanned::Null => *out = None,
        _ => return false,
    }
    true
}

/// `fields`: a list of strings, or null for none.
fn list_or_null<'a>(value: Scanned<'a>, out: &mut Option<Vec<&'a str>>) -> bool {
    match value {
        Scanned::Other(array) => match scan::strings(array) {
            Some(list) => *out = Some(list),
            None => return false,
        },
        Scanned::Null => *out = None,
        _ => return false,
    }
    true
}

/// One worker's fast path; holds buffers reused from line to line.
pub struct FastPath<'t> {
    templater: &'t Templater,
    prefixes: PrefixMemo,
    template: String,
    /// The packed success key of the line ([`SuccessKey::pack`]).
    key: Vec<u8>,
}

impl<'t> FastPath<'t> {
    pub fn new(templater: &'t Templater) -> Self {
        FastPath {
            templater,
            prefixes: PrefixMemo::default(),
            template: String::with_capacity(128),
            key: Vec::with_capacity(256),
        }
    }

    /// Counts `line` into `agg` if it is an allowed request this path can read
    /// exactly; `false` leaves the line to the full path.
    pub fn count_success(&mut self, agg: &mut Aggregates, line: &[u8]) -> bool {
        // From text, not bytes: the scanner borrows strings from it, and the full
        // path rejects a line that is not UTF-8 (found by fuzzing).
        let Ok(line) = simdutf8::basic::from_utf8(line) else {
            return false;
        };
        let Some(record) = FlatRecord::read(line) else {
            return false;
        };
        if !record.status.is_some_and(|s| (200..400).contains(&s)) {
            return false;
        }
        // Scopes the full path would reject (`fields::list`) must reach it.
        if !record.plain_scopes {
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
            .map(trim)
            .filter(|f| !f.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();

        // Templating drops the query string and fragment itself.
        self.template.clear();
        let path_object =
            self.templater
                .template_into_with(path, &mut self.template, &mut self.prefixes);
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
    let line = simdutf8::basic::from_utf8(line).ok()?;
    let record = FlatRecord::read(line)?;
    let path = text(record.path)?;
    Some((path.to_string(), record.status? == 403))
}

/// Whether a JSON value reads as a list without error: an array, null, or a
/// string that does not start like an array.
fn plain_list(value: Scanned) -> bool {
    match value {
        Scanned::Other(raw) => raw.starts_with('['),
        Scanned::Null => true,
        Scanned::Str(s) => !s.trim_start().starts_with('['),
        Scanned::Number(_) => false,
    }
}

/// A present, non-blank string, trimmed (`fields::text` on a string).
fn text(value: Option<&str>) -> Option<&str> {
    value.map(trim).filter(|s| !s.is_empty())
}

/// `str::trim`, answered from the two end bytes where they are visible ASCII
/// (no whitespace can end the string): nearly every value, for which the
/// trim's character decoding was 1.3% of reading the generated corpus.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The end-byte shortcut trims as `str::trim` does, Unicode
        /// whitespace (`\u{a0}`, `\u{2003}`) and multi-byte ends included.
        #[test]
        fn trim_is_str_trim(s in "[ \t\u{a0}\u{2003}a-z/é{}0-9]{0,12}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }
    }
}
