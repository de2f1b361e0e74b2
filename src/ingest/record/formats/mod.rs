//! Log formats: how one decoded record becomes a canonical `Event`.
//!
//! A format is one file: a [`LogFormat`] that declares its name, how its
//! records are recognised, the envelope a document wraps them in and the keys
//! that mark them, and how a record maps onto an event. `FORMATS` lists them,
//! and everything else (auto-detection, `--input-format`'s values and help,
//! the decoders' envelopes, the fast path's markers) is read from that list:
//! a new format is one more file and one more entry there.

mod azure;
mod cloudtrail;
mod exports;
mod gcp;
mod generic;
mod k8s;
mod lenient;
mod unread;

pub use exports::may_wrap;
pub use generic::{explaining_headers, without_query};

use std::borrow::Cow;
use std::sync::LazyLock;

use serde_json::Value;

use super::fields::{self, FieldMap, Skip};
use crate::model::{Event, Millis, UNKNOWN_TIME};

/// One log format.
pub trait LogFormat: Sync {
    /// The name `--input-format` takes.
    fn name(&self) -> &'static str;
    /// What the format is, for `--input-format`'s help.
    fn about(&self) -> &'static str;
    /// Whether the record is of this format (cheap: looks at a few keys).
    fn detect(&self, record: &Value) -> bool;
    /// The canonical event of a record, or why it is not one.
    fn event(&self, record: &Value, map: &FieldMap) -> Result<Event, Skip>;
    /// How a document wraps a list of this format's records, if it does.
    fn envelope(&self) -> Option<Envelope> {
        None
    }
    /// Top-level keys that may mark a record of this format: the fast path,
    /// which reads flat records in canonical names, leaves a line holding any
    /// of them to the full path.
    fn markers(&self) -> &'static [&'static str] {
        &[]
    }
    /// The path of a record as logged, when it may hold object ids to learn
    /// endpoint templates from (formats that build their paths from fields
    /// that never hold ids have none), and whether the request was denied.
    /// Read alone: building the whole event for a sample of 200,000 made
    /// learning three times slower.
    fn sampled_path(&self, _record: &Value, _map: &FieldMap) -> Option<(String, bool)> {
        None
    }
    /// The event of a record read from its text, without a tree, where this
    /// format reads records so and is sure the record is its own (with
    /// `detect`, as [`LogFormat::detect`] would find); `None` leaves the record
    /// to [`LogFormat::event`] on its tree, which also explains skips. A
    /// record holding a key another format or an exporter's wrapper is
    /// recognised by ([`is_foreign_to`]) is left to the tree.
    fn event_from_text(&self, _text: &str, _detect: bool) -> Option<Event> {
        None
    }
}

/// A document that wraps records in a list: `{"Records": [...]}`.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// The key of the list.
    pub list: &'static str,
    /// The document's `kind` must end so (`List`), where the key alone is too common.
    pub kind_suffix: Option<&'static str>,
    /// How one item of the list becomes a record, if it is not one as it is.
    pub item: Option<fn(Value) -> Value>,
}

impl Envelope {
    /// An envelope whose list holds records as they are.
    pub const fn list(list: &'static str) -> Self {
        Envelope {
            list,
            kind_suffix: None,
            item: None,
        }
    }

    /// Whether `document` is this envelope.
    fn fits(&self, document: &Value) -> bool {
        let kind_fits = self.kind_suffix.is_none_or(|suffix| {
            document
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.ends_with(suffix))
        });
        kind_fits && document.get(self.list).is_some_and(Value::is_array)
    }
}

/// Every format, tried in this order by auto-detection. The generic format,
/// last, takes whatever none of the others claims.
static FORMATS: &[&dyn LogFormat] = &[
    &k8s::K8sAudit,
    &cloudtrail::CloudTrail,
    &gcp::GcpAudit,
    &azure::AzureMonitor,
    &generic::Generic,
];

/// Which format to read events as.
#[derive(Clone, Copy, Default)]
pub enum InputFormat {
    /// Recognise each record.
    #[default]
    Auto,
    /// Read every record as this format.
    Forced(&'static dyn LogFormat),
}

/// `--input-format`'s value that recognises each record.
const AUTO: &str = "auto";

impl InputFormat {
    /// The format called `name` (`auto` or a format's name).
    pub fn named(name: &str) -> Option<Self> {
        if name == AUTO {
            return Some(InputFormat::Auto);
        }
        FORMATS
            .iter()
            .find(|f| f.name() == name)
            .map(|&f| InputFormat::Forced(f))
    }

    /// Every name [`InputFormat::named`] takes, with what it reads.
    pub fn choices() -> impl Iterator<Item = (&'static str, &'static str)> {
        let auto = (
            AUTO,
            "Recognise each record: any format below, else generic",
        );
        std::iter::once(auto).chain(FORMATS.iter().map(|f| (f.name(), f.about())))
    }

    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Auto => AUTO,
            InputFormat::Forced(f) => f.name(),
        }
    }

    /// Whether records may be read as the generic format: only those can take
    /// the fast path.
    pub fn may_be_generic(self) -> bool {
        match self {
            InputFormat::Auto => true,
            InputFormat::Forced(f) => f.name() == generic::Generic.name(),
        }
    }

    /// The format of `record`.
    fn of(self, record: &Value) -> &'static dyn LogFormat {
        match self {
            InputFormat::Forced(f) => f,
            InputFormat::Auto => FORMATS
                .iter()
                .copied()
                .find(|f| f.detect(record))
                .unwrap_or(&generic::Generic),
        }
    }
}

impl std::fmt::Debug for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for InputFormat {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

/// The canonical event of a record read as `format`.
pub fn event_from_record(
    record: &Value,
    map: &FieldMap,
    format: InputFormat,
) -> Result<Event, Skip> {
    let inner = exports::inner_record(record);
    let record = inner.as_ref().unwrap_or(record);
    let event = format
        .of(record)
        .event(record, map)
        .map_err(|skip| explain(record, format, skip))?;
    fields::event_time_in_range(event.ts)?;
    Ok(event)
}

/// A skip reason that says what the record is where a format's reason would
/// mislead: a record of a log grantgap does not read, or one that another
/// format than the forced one reads.
fn explain(record: &Value, format: InputFormat, skip: Skip) -> Skip {
    if let InputFormat::Forced(forced) = format {
        if let Some(other) = FORMATS.iter().find(|f| {
            f.name() != forced.name() && f.name() != generic::Generic.name() && f.detect(record)
        }) {
            return Skip::new(
                "another format",
                format!(
                    "this is a {} record, read as {} by --input-format: drop --input-format, or pass --input-format {}",
                    other.name(),
                    forced.name(),
                    other.name()
                ),
            );
        }
    }
    let detected_none = match format {
        InputFormat::Auto => FORMATS
            .iter()
            .all(|f| f.name() == generic::Generic.name() || !f.detect(record)),
        InputFormat::Forced(f) => f.name() == generic::Generic.name(),
    };
    match unread::recognise(record).filter(|_| detected_none) {
        Some(what) => Skip::new("unread format", what),
        None => skip,
    }
}

/// The path of a record as logged, to learn templates from, and whether it
/// was denied (see [`LogFormat::sampled_path`]).
pub fn sampled_path(record: &Value, map: &FieldMap, format: InputFormat) -> Option<(String, bool)> {
    let inner = exports::inner_record(record);
    let record = inner.as_ref().unwrap_or(record);
    format.of(record).sampled_path(record, map)
}

/// Every envelope a format or an exporter writes, in the order they are tried.
fn envelopes() -> impl Iterator<Item = Envelope> {
    FORMATS
        .iter()
        .filter_map(|f| f.envelope())
        .chain(exports::ENVELOPES.iter().copied())
}

/// The envelope `document` is, if it is one.
pub fn envelope_of(document: &Value) -> Option<Envelope> {
    envelopes().find(|envelope| envelope.fits(document))
}

/// Whether `key` may hold the list of an envelope.
pub fn is_envelope_list(key: &str) -> bool {
    ENVELOPE_LISTS
        .iter()
        .any(|l| l.len() == key.len() && *l == key)
}

static ENVELOPE_LISTS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| envelopes().map(|e| e.list).collect());

/// The records of a document that wraps them in a list, as some format or
/// exporter does; the document itself when it is no envelope.
pub fn unwrap_envelope(mut document: Value) -> Vec<Value> {
    match envelope_of(&document) {
        Some(envelope) => match document[envelope.list].take() {
            Value::Array(items) => match envelope.item {
                Some(item) => items.into_iter().map(item).collect(),
                None => items,
            },
            _ => unreachable!("fits() checked the list"),
        },
        None => vec![document],
    }
}

/// Whether `key` marks a record of some format other than the generic one,
/// or holds the list of an envelope.
pub fn is_marker(key: &str) -> bool {
    let markers = &*MARKERS;
    let Some(&first) = key.as_bytes().first() else {
        return false;
    };
    // Most keys are told apart by their first byte and length alone.
    let lengths = markers.lengths_by_first_byte[usize::from(first)];
    if key.len() >= 64 || lengths & 1 << key.len() == 0 {
        return false;
    }
    markers.all.contains(&key)
}

/// Every format's markers and envelope lists, and for each first byte the
/// lengths of those that start with it, as bits. The fast path asks of every
/// key of every line: one list checked by length first cost 6% of reading the
/// generated corpus, where lengths often match (`method`, `events`); lists by
/// length still 2.4%; asking each format in turn or a hash set cost 5% of a
/// wide gateway log.
struct Markers {
    all: Vec<&'static str>,
    lengths_by_first_byte: [u64; 256],
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| {
    let markers = FORMATS.iter().flat_map(|f| f.markers()).copied();
    let all: Vec<&str> = markers.chain(ENVELOPE_LISTS.iter().copied()).collect();
    let mut lengths_by_first_byte = [0u64; 256];
    for marker in &all {
        assert!((1..64).contains(&marker.len()), "a marker of 1 to 63 bytes");
        lengths_by_first_byte[usize::from(marker.as_bytes()[0])] |= 1 << marker.len();
    }
    Markers {
        all,
        lengths_by_first_byte,
    }
});

/// The levels of nesting past which serde_json builds no tree.
const TREE_DEPTH: usize = 127;

/// Whether `key` is one an exporter's wrapper or a format other than
/// `format` is recognised by, or holds the list of an envelope.
fn is_foreign_to(format: &dyn LogFormat, key: &str) -> bool {
    exports::WRAPPER_KEYS.contains(&key) || (is_marker(key) && !format.markers().contains(&key))
}

/// A record of an envelope read in one pass ([`envelope_records`]).
pub enum EnvelopeRecord<'a> {
    /// An allowed request, as much of it as is counted.
    Allowed(AllowedAction<'a>),
    /// Any other response (boxed: few are).
    Event(Box<Event>),
}

/// An allowed request that names an IAM action, as much of it as ingest keeps
/// of an allowed event: its count under (principal, action, org) and the
/// object it touched. Borrowed from the record where it can be: without the
/// whole event of each allowed record, built and dropped (and with the
/// actions' names remembered), a 1 GB CloudTrail run took 10% less CPU.
pub struct AllowedAction<'a> {
    pub ts: Millis,
    pub principal: Cow<'a, str>,
    pub action: String,
    pub org: Option<Cow<'a, str>>,
    pub object: Option<String>,
}

/// The records of a line that is a whole envelope of records its format
/// reads from text (a CloudTrail file), read in one pass, as
/// [`event_from_text`] reads each record; `None` to read the line as before.
/// Only where the format is detected: CloudTrail is the one format that reads
/// records from text, so its envelope's records are read by it alone.
pub fn envelope_records(line: &[u8], format: InputFormat) -> Option<Vec<EnvelopeRecord<'_>>> {
    match format {
        InputFormat::Auto => cloudtrail::records_of_file(line),
        InputFormat::Forced(_) => None,
    }
}

/// The canonical event of a record read from its text as `format`, where a
/// format reads records so ([`LogFormat::event_from_text`]); `None` leaves it
/// to [`event_from_record`] on its tree.
pub fn event_from_text(text: &str, format: InputFormat) -> Option<Event> {
    // The tree of a record nested deeper than serde_json builds (127 levels)
    // cannot be built, and the record is skipped; a text reader skips what it
    // does not read without counting levels. So a record with that many
    // brackets is left to the tree; CloudTrail's have a dozen or two.
    // Counted with memchr: a byte loop was 6% of a CloudTrail report's CPU.
    if memchr::memchr2_iter(b'{', b'[', text.as_bytes()).count() >= TREE_DEPTH {
        return None;
    }
    let event = match format {
        InputFormat::Auto => FORMATS.iter().find_map(|f| f.event_from_text(text, true))?,
        InputFormat::Forced(f) => f.event_from_text(text, false)?,
    };
    fields::event_time_in_range(event.ts).ok()?;
    Some(event)
}

/// The principal of a record that names no caller (a VPC Service Controls
/// denial, a Storage request by SAS, a trimmed export): still a denial,
/// attributed to a named unknown.
const UNKNOWN_CALLER: &str = "(caller not in log)";

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
    utc_time(paths.iter().find_map(|p| at(record, p)))
}

/// [`utc_timestamp`] of a value found (not null), or of none.
fn utc_time(value: Option<&Value>) -> Result<Millis, Skip> {
    let Some(value) = value else {
        return Ok(UNKNOWN_TIME);
    };
    // BigQuery's exports end a UTC time with ` UTC`.
    fields::timestamp(value).or_else(|skip| match value.as_str() {
        Some(s) => {
            let naive = s.trim_end_matches(" UTC").trim_end_matches('Z');
            fields::timestamp(&Value::String(format!("{naive}Z"))).map_err(|_| skip)
        }
        None => Err(skip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_are_told_from_keys_alike_in_first_byte_or_length() {
        let markers: Vec<&str> = FORMATS
            .iter()
            .flat_map(|f| f.markers())
            .copied()
            .chain(envelopes().map(|e| e.list))
            .collect();
        assert!(markers.len() > 10, "{markers:?}");
        for marker in &markers {
            assert!(is_marker(marker), "{marker}");
            // Same first byte and length, or a prefix, or one byte longer: not a marker.
            let mut changed = marker.to_string();
            changed.push('x');
            assert!(!is_marker(&changed) || markers.contains(&changed.as_str()));
            assert!(
                !is_marker(&marker[..marker.len() - 1])
                    || markers.contains(&&marker[..marker.len() - 1])
            );
            let last = marker.len() - 1;
            let swapped = format!(
                "{}{}",
                &marker[..last],
                if marker.ends_with('Q') { 'R' } else { 'Q' }
            );
            assert!(!is_marker(&swapped), "{swapped}");
        }
        for key in [
            "",
            "ts",
            "principal",
            "method",
            "path",
            "status",
            "events!",
            &"k".repeat(70),
        ] {
            assert!(!is_marker(key), "{key}");
        }
    }

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
            event_from_record(&generic, &map, InputFormat::named("k8s-audit").unwrap()).is_err(),
            "a forced format does not fall back"
        );
    }

    #[test]
    fn naive_service_timestamps_are_utc() {
        let r = json!({"t": "2024-11-13 23:50:32.672347000"});
        assert_eq!(utc_timestamp(&r, &["t"]), Ok(1_731_541_832_672));
    }
}
