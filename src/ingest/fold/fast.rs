//! The fast path for the bulk of a log: flat JSON Lines under the canonical
//! field names.
//!
//! Most lines of an audit log are allowed requests, and all ingest keeps of one is
//! a count under (principal, method, endpoint, org, fields) and the object it
//! touched. This path reads exactly those fields, borrowed from the line (a
//! strict scanner, [`scan`]: no JSON tree, no owned strings), templates the path
//! into a reused buffer, and finds the group by its key packed into a reused
//! buffer. Any other response (a denial, a 404) it reads into the event the
//! generic format reads, without the tree. Anything it is not sure of (another
//! format's keys or an exporter's wrapper, a field that is not a plain string,
//! escapes, a duplicate key) is declined, and the line takes the full path:
//! both give the same aggregates, which a test checks on every sample scenario.
//! The allowed records of a CloudTrail file read in one pass are counted here
//! too ([`FastPath::count_action`]), from the parts of them that are counted.

use crate::ingest::fold::aggregate::Aggregates;
use crate::ingest::record::formats::AllowedAction;
use crate::ingest::record::redact::redact_object_str;
use crate::ingest::record::scan::{self, Scanned};
use crate::ingest::record::template::{PrefixMemo, Templater};
use crate::ingest::record::{fields, formats};
use crate::model::time::EVENT_TIME_RANGE;
use crate::model::{Event, Millis, SuccessGroup, SuccessKey, ACTION_METHOD};

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
    /// Fields only an event that is not counted reads, as scanned: an allowed
    /// request does not care what type they are.
    scopes: Option<Scanned<'a>>,
    token_id: Option<Scanned<'a>>,
    request_id: Option<Scanned<'a>>,
    error_code: Option<Scanned<'a>>,
    message: Option<Scanned<'a>>,
    headers: Option<Scanned<'a>>,
}

impl<'a> FlatRecord<'a> {
    /// Reads the record of a line as serde_json would read these fields;
    /// `false` for a line the full path must read: one [`scan::scan`]
    /// declines, a field of another type, a repeated field (serde_json keeps
    /// the last), another format's key or an envelope's list
    /// ([`formats::is_marker`]), or what may be an exporter's wrapper
    /// ([`formats::may_wrap`], asked only of `message` and the keys no field
    /// here has). Filled in place: returned, the record (some 250 bytes) was
    /// copied for every line.
    fn read(&mut self, line: &'a str) -> bool {
        let r = self;
        let mut seen = 0u16;
        scan::scan(line, formats::is_marker, |key, value| {
            let string = match value {
                Scanned::Str(s) => Some(s),
                _ => None,
            };
            let (bit, ok) = match key {
                "ts" => (0, text_or_null(value, &mut r.ts)),
                "principal" => (1, text_or_null(value, &mut r.principal)),
                "method" => (2, text_or_null(value, &mut r.method)),
                "path" => (3, text_or_null(value, &mut r.path)),
                "org" => (4, text_or_null(value, &mut r.org)),
                "object_id" => (5, text_or_null(value, &mut r.object_id)),
                "status" => (6, status(value, &mut r.status)),
                "fields" => (7, list_or_null(value, &mut r.fields)),
                "scopes" => (8, scanned(value, &mut r.scopes)),
                "token_id" => (9, scanned(value, &mut r.token_id)),
                "request_id" => (10, scanned(value, &mut r.request_id)),
                "error_code" => (11, scanned(value, &mut r.error_code)),
                "message" => (
                    12,
                    scanned(value, &mut r.message) && !formats::may_wrap(key, string),
                ),
                "headers" => (13, scanned(value, &mut r.headers)),
                _ => return !formats::may_wrap(key, string),
            };
            let repeated = seen & (1 << bit) != 0;
            seen |= 1 << bit;
            ok && !repeated
        })
    }

    /// The event the generic format reads from this record's tree, for a
    /// response the path does not count; `None` where that read would skip
    /// the record or its rules are not these (see [`optional_text`]).
    fn event(&self) -> Option<Event> {
        let ts = fields::timestamp_text(self.ts?).ok()?;
        if !EVENT_TIME_RANGE.contains(&ts) {
            return None;
        }
        let status = u16::try_from(self.status?)
            .ok()
            .filter(|s| (100..=599).contains(s))?;
        let path = text(self.path)?;
        Some(Event {
            ts,
            principal: text(self.principal)?.to_string(),
            token_id: optional_text(self.token_id)?,
            token_issued_at: None,
            scopes: match self.scopes {
                None | Some(Scanned::Null) => None,
                Some(value) => Some(list(value)?),
            },
            method: text(self.method)?.to_ascii_uppercase(),
            path: formats::without_query(path),
            status,
            error_code: optional_text(self.error_code)?,
            message: optional_text(self.message)?,
            headers: match self.headers {
                None | Some(Scanned::Null) => Default::default(),
                Some(Scanned::Str(s)) => {
                    formats::explaining_headers(&serde_json::Value::String(s.to_string()))
                }
                Some(Scanned::Other(raw)) => {
                    formats::explaining_headers(&serde_json::from_str(raw).ok()?)
                }
                Some(Scanned::Number(_)) => return None,
            },
            object_id: text(self.object_id).map(str::to_string),
            org: text(self.org).map(str::to_string),
            fields: names(self.fields.as_deref().unwrap_or_default())
                .into_iter()
                .map(str::to_string)
                .collect(),
            request_id: optional_text(self.request_id)?,
        })
    }
}

/// A field kept as scanned.
fn scanned<'a>(value: Scanned<'a>, out: &mut Option<Scanned<'a>>) -> bool {
    *out = Some(value);
    true
}

/// An optional text field as `fields::text` reads it, for a string or null;
/// `None` (declined) for a number or anything else, which it writes out its own way.
fn optional_text(value: Option<Scanned>) -> Option<Option<String>> {
    match value {
        None | Some(Scanned::Null) => Some(None),
        Some(Scanned::Str(s)) => Some(text(Some(s)).map(str::to_string)),
        Some(Scanned::Number(_) | Scanned::Other(_)) => None,
    }
}

/// A list as `fields::list` reads it, for an array of plain strings or a
/// string of names; `None` (declined) for anything else.
fn list(value: Scanned) -> Option<Vec<String>> {
    let items: Vec<&str> = match value {
        Scanned::Other(array) if array.starts_with('[') => scan::strings(array)?,
        Scanned::Str(s) if !s.trim_start().starts_with('[') => s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .collect(),
        _ => return None,
    };
    Some(names(&items).into_iter().map(str::to_string).collect())
}

/// Names trimmed, sorted and de-duplicated, blanks dropped, as `fields::list` gives them.
fn names<'a>(items: &[&'a str]) -> Vec<&'a str> {
    let mut names: Vec<&str> = items
        .iter()
        .map(|item| trim(item))
        .filter(|f| !f.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
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

/// What the fast path made of a line.
pub enum FastRead {
    /// An allowed request, counted.
    Counted,
    /// Another response, read as the full path reads it.
    Event(Box<Event>),
    /// A line for the full path.
    Declined,
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
    /// exactly, or reads it into its event if it is another response.
    pub fn read(&mut self, agg: &mut Aggregates, line: &[u8]) -> FastRead {
        // From text, not bytes: the scanner borrows strings from it, and the full
        // path rejects a line that is not UTF-8 (found by fuzzing).
        let Ok(line) = simdutf8::basic::from_utf8(line) else {
            return FastRead::Declined;
        };
        let mut record = FlatRecord::default();
        if !record.read(line) {
            return FastRead::Declined;
        }
        if !record.status.is_some_and(|s| (200..400).contains(&s)) {
            return record
                .event()
                .map_or(FastRead::Declined, |e| FastRead::Event(Box::new(e)));
        }
        if self.count_success(agg, &record) {
            FastRead::Counted
        } else {
            FastRead::Declined
        }
    }

    /// Counts an allowed request into `agg`; `false` leaves it to the full path.
    fn count_success(&mut self, agg: &mut Aggregates, record: &FlatRecord) -> bool {
        // Scopes the full path would reject (`fields::list`) must reach it.
        if !record.scopes.is_none_or(plain_list) {
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
        let names = names(record.fields.as_deref().unwrap_or_default());

        // Templating drops the query string and fragment itself.
        self.template.clear();
        let path_object =
            self.templater
                .template_into_with(path, &mut self.template, &mut self.prefixes);
        let counted = Counted {
            principal,
            method,
            template: &self.template,
            org: text(record.org),
            fields: &names,
            object: text(record.object_id).or(path_object),
            ts,
        };
        count(agg, &mut self.key, counted);
        true
    }

    /// Counts an allowed request that names an IAM action into `agg`, as
    /// [`Aggregates::add_event`] counts its event.
    pub fn count_action(&mut self, agg: &mut Aggregates, allowed: &AllowedAction) {
        let counted = Counted {
            principal: &allowed.principal,
            method: ACTION_METHOD,
            template: &allowed.action,
            org: allowed.org.as_deref(),
            fields: &[],
            object: allowed.object.as_deref(),
            ts: allowed.ts,
        };
        count(agg, &mut self.key, counted);
    }
}

/// An allowed request as it is counted: its group's key, the object it
/// touched (not yet redacted) and when.
struct Counted<'a> {
    principal: &'a str,
    method: &'a str,
    template: &'a str,
    org: Option<&'a str>,
    fields: &'a [&'a str],
    object: Option<&'a str>,
    ts: Millis,
}

/// Counts an allowed request into `agg`, its group found by its key packed
/// into `key` (a reused buffer).
fn count(agg: &mut Aggregates, key: &mut Vec<u8>, counted: Counted) {
    let Counted {
        principal,
        method,
        template,
        org,
        fields,
        object,
        ts,
    } = counted;
    if let Some(object) = object {
        let object = redact_object_str(object);
        agg.seen_pending
            .insert(&agg.seen, principal, template, &object);
    }
    key.clear();
    SuccessKey::pack(key, principal, method, template, org, fields);
    agg.stats.read += 1;
    agg.stats.used += 1;
    match agg.successes.get_mut(key.as_slice()) {
        Some(group) => {
            group.count += 1;
            group.first_ts = group.first_ts.min(ts);
            group.last_ts = group.last_ts.max(ts);
        }
        None => {
            agg.successes.insert(
                SuccessKey::from_packed(key),
                SuccessGroup {
                    count: 1,
                    first_ts: ts,
                    last_ts: ts,
                },
            );
        }
    }
}

/// The path of a flat record under the canonical names and whether it was
/// denied, read as [`FastPath::read`] reads a line (borrowed, no JSON
/// tree): for the sample templates are learned from. `None` for anything the
/// full path must read, which then gives the same answer.
pub fn sampled_path(line: &[u8]) -> Option<(String, bool)> {
    let line = simdutf8::basic::from_utf8(line).ok()?;
    let mut record = FlatRecord::default();
    if !record.read(line) {
        return None;
    }
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
