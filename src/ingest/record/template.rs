//! Path templating: `/workorders/WO12345` becomes `/workorders/{id}`, so requests
//! to different objects of one endpoint fall into one group.
//!
//! Three sources of `{id}`, applied in order: built-in patterns (numbers, UUIDs,
//! hex, dates, e-mails, mixed ids such as `WO12345`), patterns the user adds
//! (`--id-pattern`), and positions learned from a sample of the data: where one
//! path prefix is followed by many distinct literal segments (`/projects/alpha`,
//! `/projects/beta`, …), or by a few of one digit-bearing shape that denials
//! reach (`/periods/2026-03`), that position is a parameter.
//!
//! A segment that holds a secret (a reset token, a `sig=` signature, a
//! `Bearer%20…` credential) becomes `{secret}` before any of these: the endpoint
//! still groups, whichever characters the token starts with, and neither the
//! template nor the object id carries the value.

use anyhow::Result;
use indicatif::ProgressBar;

use super::fields::FieldMap;
use super::formats::{self, InputFormat};
use crate::ingest::record::fields::Skip;
use crate::ingest::source::decode::{records_of_line, SizeLimits};
use crate::ingest::source::input::InputFile;
use crate::ingest::source::open_source;
use crate::model::Table;
use std::collections::BTreeSet;
use std::sync::LazyLock;

// hashbrown's default hasher (foldhash): the learned prefixes are looked up
// for every segment of every path, and SipHash cost more than the lookup.
use hashbrown::{HashMap, HashSet};
use regex::Regex;

use crate::ingest::record::redact::is_secret_segment;

/// A segment that names one object rather than an endpoint: numbers, UUIDs, long
/// hex, dates, e-mail addresses, and mixed ids such as `WO12345` or `M-1001`.
static ID_SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(?:
            \d+                                   # 12345
          | [0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}   # uuid
          | [0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]* | [0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*  # hex with letters and digits
          | \d{4}-\d{2}-\d{2}(?:[T\ ][0-9:.]+Z?)?  # dates
          | [^@/\s]+@[^@/\s]+                     # e-mail
          | [A-Za-z_]*[A-Za-z][A-Za-z_]*[-_.]?\d[\w.-]*  # WO12345, M-1001, OP-2345, SO_77
          | [\w.-]*\d[\w.-]*(?:[,;+|~][\w.-]+)+        # composite keys: 2026-01-05,ACME  42;7
          | [\w.-]+(?:[,;+|~][\w.-]+)*[,;+|~][\w.-]*\d[\w.-]*  # ACME,2026-01-05  52.5,13.4
          # (not `:`: it ends Google-style custom methods, `gemini-1.5:generateContent`)
        )$",
    )
    .expect("id pattern compiles")
});

/// Segments that look like ids but name an API version: `v1`, `v2.1`, `v2beta1`.
static VERSION_SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[vV]\d+(?:(?:alpha|beta)\d+)?(?:\.\d+)*$").expect("version pattern compiles")
});

/// Whether a path segment names an API version (`v1`, `v2.1`, `v2beta1`).
pub fn is_version_segment(segment: &str) -> bool {
    VERSION_SEGMENT.is_match(segment)
}

/// Whether a path segment is an object id rather than part of the endpoint.
pub fn is_id_segment(segment: &str) -> bool {
    // Shortcuts for the segments of nearly every path, each giving exactly what
    // the patterns give (a test checks): the patterns cost more than the rest of
    // reading an allowed request.
    let bytes = segment.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        return true; // `\d+`, never a version (those start with v)
    }
    if matches!(bytes[0], b'v' | b'V')
        && bytes.len() > 1
        && bytes[1..].iter().all(u8::is_ascii_digit)
    {
        return false; // `v1`: a version
    }
    // Every id pattern but the UUID needs a digit or an `@`; a UUID has 36
    // characters. One pass over the bytes where the segment is ASCII (the only
    // numeric ASCII characters are the digits).
    let digit_or_at = if segment.is_ascii() {
        bytes.iter().any(|&b| b == b'@' || b.is_ascii_digit())
    } else {
        segment.contains('@') || segment.chars().any(char::is_numeric)
    };
    if segment.len() != 36 && !digit_or_at {
        return false;
    }
    if let Some(id) = mixed_id_by_bytes(bytes) {
        return id;
    }
    if is_uuid(bytes) {
        return true; // the uuid pattern; never a version (no `v`)
    }
    !VERSION_SEGMENT.is_match(segment) && ID_SEGMENT.is_match(segment)
}

/// The commonest id shape, `WO12345`, `M-1001`, `SO_77` (letters, an optional
/// `-` or `.`, a digit, then word characters, `.` and `-`), decided from the
/// bytes: `Some(true)` exactly where the patterns would match it, `None` to
/// leave every other segment to them (a test checks both agree). The two
/// regex searches cost more than the rest of templating a path with an id.
fn mixed_id_by_bytes(bytes: &[u8]) -> Option<bool> {
    // `v1`, `v2beta1`: versions, for the version pattern to decide.
    if matches!(bytes.first(), Some(b'v' | b'V')) && bytes.get(1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let prefix = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'_')
        .count();
    if !bytes[..prefix].iter().any(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut at = prefix;
    if matches!(bytes.get(at), Some(b'-' | b'.')) {
        at += 1;
    }
    let digit = bytes.get(at).is_some_and(u8::is_ascii_digit);
    let rest = bytes
        .get(at..)
        .unwrap_or_default()
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    (digit && rest).then_some(true)
}

/// `8-4-4-4-12` hex digits: the UUID pattern, decided from the bytes (the
/// patterns' two searches were most of templating a gateway's UUID paths).
fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, b)| match at {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// [`is_uuid`] with lower-case hex digits only.
fn is_lowercase_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, b)| match at {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// The placeholder of a path segment that holds a secret.
pub const SECRET_SEGMENT: &str = "{secret}";

/// Segments shorter than this are examined for secrets only when they hold `=`
/// or `%` (`sig=…`, `Bearer%20…`): random tokens this short are not told apart
/// from names, and nearly every segment (`workorders`, `v1beta1`) is skipped
/// by one length check.
const SHORTEST_SECRET_SEGMENT: usize = 16;

/// Whether a segment holds a secret, when it is long or its path has `=` or `%`.
/// Cold and out of line: inlined, it made templating an ordinary path 9% slower
/// (the loop grew: 78 against 72 ns); out of line, the loop is as fast as
/// without it.
#[cold]
#[inline(never)]
fn holds_secret(segment: &str) -> bool {
    (segment.len() >= SHORTEST_SECRET_SEGMENT || segment.bytes().any(|b| matches!(b, b'=' | b'%')))
        && is_secret_segment(segment)
}

/// Distinct literal segments after one prefix from which that position is learned
/// as a parameter.
pub const DEFAULT_LEARN_MIN_VALUES: usize = 25;

/// Distinct values after one prefix from which a position that denials reach
/// is learned, when every value has one shape that holds a digit (`2026-03`,
/// `2026-04`, …). Denials are few: at the general threshold their objects
/// would stay separate endpoints, pooled with neither their peers nor their
/// 404s. One digit-bearing shape across values that differ is what ids look
/// like; endpoint names are words (`orders`, `invoices`), and a position whose
/// values mix shapes (`s3`, `sqs`) is left alone.
const DENIED_LEARN_MIN_VALUES: usize = 3;

/// A segment's shape: digits, capitals and small letters each become one
/// mark per run (`2026-03` and `2025-11` are `9-9`; `FY26` is `A9`).
fn shape(segment: &str) -> String {
    let mut out = String::new();
    for c in segment.chars() {
        let mark = match c {
            '0'..='9' => '9',
            'A'..='Z' => 'A',
            'a'..='z' => 'a',
            other => other,
        };
        if !out.ends_with(mark) || !matches!(mark, '9' | 'A' | 'a') {
            out.push(mark);
        }
    }
    out
}

/// `1.0`, `2.1.3`: a version number, never an id position's value.
fn is_version_number(segment: &str) -> bool {
    segment.contains('.')
        && segment
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The followers of two parts of the sample, as if noted from both.
fn merge_followers(
    mut into: HashMap<String, Followers>,
    from: HashMap<String, Followers>,
) -> HashMap<String, Followers> {
    if into.len() < from.len() {
        return merge_followers(from, into);
    }
    for (prefix, followers) in from {
        let mine = into.entry(prefix).or_default();
        mine.denied |= followers.denied;
        for (value, after) in followers.values {
            mine.values.entry(value).or_default().extend(after);
        }
    }
    into
}

/// What one prefix is followed by in the sample. Hash maps, looked up by
/// borrowed slices: with sorted maps of owned keys, comparing and copying
/// prefixes took most of a 300,000-event report's time.
#[derive(Debug, Default, PartialEq)]
struct Followers {
    /// Literal next segment -> the segments after it (the path may also end there).
    values: HashMap<String, BTreeSet<String>>,
    /// Whether a denied request reached a value here.
    denied: bool,
}

impl Followers {
    /// Whether the values' continuations look alike: at least 80% of the
    /// values that continue share their most common next segment.
    fn alike(&self) -> bool {
        let continuing: Vec<&BTreeSet<String>> = self
            .values
            .values()
            .filter(|after| !after.is_empty())
            .collect();
        if continuing.is_empty() {
            return true;
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for after in &continuing {
            for a in after.iter() {
                *counts.entry(a.as_str()).or_default() += 1;
            }
        }
        let top = counts.values().copied().max().unwrap_or(0);
        top * 5 >= continuing.len() * 4
    }

    /// Whether denials reach this position and its values share one shape
    /// with a digit (see [`DENIED_LEARN_MIN_VALUES`]).
    fn denied_ids(&self) -> bool {
        if !self.denied || self.values.len() < DENIED_LEARN_MIN_VALUES {
            return false;
        }
        let mut shapes = self.values.keys().map(|v| shape(v));
        let first = shapes.next().unwrap_or_default();
        first.contains('9')
            && shapes.all(|s| s == first)
            && !self
                .values
                .keys()
                .any(|v| is_version_segment(v) || is_version_number(v))
    }
}

/// The part of a path that names the endpoint (the query string and fragment
/// dropped), and whether it holds `=` or `%`, the marks of `sig=…` and
/// `Bearer%20…`. One byte search: a two-character pattern costs more than the
/// short loop, and noting the marks at each byte cost 10% of templating.
fn endpoint_part(path: &str) -> (&str, bool) {
    let bytes = path.as_bytes();
    let mut assigns_or_escapes = false;
    let mut from = 0;
    while let Some(at) = bytes[from..]
        .iter()
        .position(|b| matches!(b, b'?' | b'#' | b'=' | b'%'))
    {
        if matches!(bytes[from + at], b'?' | b'#') {
            return (&path[..from + at], assigns_or_escapes);
        }
        assigns_or_escapes = true;
        from += at + 1;
    }
    (path, assigns_or_escapes)
}

/// One worker's path prefixes that are their own template: no id, no
/// secret, no learned parameter ([`Templater::template_into_with`]). Emptied
/// when full.
#[derive(Debug, Default)]
pub struct PrefixMemo {
    literal: HashSet<Box<str>>,
}

impl PrefixMemo {
    const CAPACITY: usize = 4096;
}

/// Turns paths into endpoint templates.
#[derive(Debug, Clone, Default)]
pub struct Templater {
    /// More segment patterns that mean an id (`--id-pattern`), matched whole.
    extra: Vec<Regex>,
    /// Template prefixes (`/api/v1/projects`) whose next segment is a learned parameter.
    learned: HashSet<String>,
}

impl Templater {
    /// A templater with user patterns; each must match a whole segment.
    pub fn with_patterns(patterns: &[String]) -> anyhow::Result<Self> {
        let extra = patterns
            .iter()
            .map(|p| {
                Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                    anyhow::anyhow!("--id-pattern {p:?} is not a valid regular expression: {e}")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Templater {
            extra,
            learned: HashSet::new(),
        })
    }

    /// The prefixes learned as parameter positions, sorted.
    pub fn learned(&self) -> BTreeSet<&str> {
        self.learned.iter().map(String::as_str).collect()
    }

    fn is_id(&self, segment: &str) -> bool {
        is_id_segment(segment)
            || (!segment.is_empty() && self.extra.iter().any(|r| r.is_match(segment)))
    }

    /// The endpoint template of a path, and the last id it held (the object the
    /// request was about, when the log does not name one; never a secret).
    pub fn template(&self, path: &str) -> (String, Option<String>) {
        let mut out = String::with_capacity(path.len());
        let last_id = self.template_into(path, &mut out);
        (out, last_id.map(str::to_string))
    }

    /// [`Templater::template`] into a buffer the caller reuses (`out` is appended
    /// to; pass it empty), with the last id borrowed from the path.
    pub fn template_into<'p>(&self, path: &'p str, out: &mut String) -> Option<&'p str> {
        let (path, assigns_or_escapes) = endpoint_part(path);
        self.template_segments(path, assigns_or_escapes, out)
    }

    /// [`Templater::template_into`], skipping the prefix before the last
    /// segment where this worker found that prefix to be its own template
    /// before. Most paths are an endpoint and then an id (`/api/v1/orders/123`):
    /// the endpoint's segments are templated once, and each path then costs a
    /// lookup and its last segment. (A prefix that holds an id is not kept:
    /// where ids sit mid-path, `/customers/123/addresses`, there is one such
    /// prefix per object.)
    pub fn template_into_with<'p>(
        &self,
        path: &'p str,
        out: &mut String,
        memo: &mut PrefixMemo,
    ) -> Option<&'p str> {
        let (path, assigns_or_escapes) = endpoint_part(path);
        // `=` or `%` anywhere makes every segment a secret suspect: not memoised.
        // A byte loop from the end: the last segment is a few bytes, and
        // `rfind`'s char searcher was 3% of reading the generated corpus.
        let cut = (!assigns_or_escapes)
            .then(|| path.bytes().rposition(|b| b == b'/'))
            .flatten();
        let Some(cut) = cut else {
            return self.template_segments(path, assigns_or_escapes, out);
        };
        let (prefix, last) = (&path[..cut], &path[cut + 1..]);
        let mut last_id = None;
        if memo.literal.contains(prefix) {
            out.push_str(prefix);
        } else {
            let start = out.len();
            last_id = self.template_segments(prefix, false, out);
            // (`{id}` literally, at a learned position, templates to itself.)
            if last_id.is_none() && out[start..] == *prefix {
                if memo.literal.len() >= PrefixMemo::CAPACITY {
                    memo.literal.clear();
                }
                memo.literal.insert(prefix.into());
            }
        }
        // The last segment is never the first (a `/` comes before it).
        if self.push_segment(1, last, false, out) {
            last_id = Some(last);
        }
        last_id
    }

    /// Templates the segments of `path` (query and fragment already dropped)
    /// into `out`, and returns the last id among them.
    fn template_segments<'p>(
        &self,
        path: &'p str,
        assigns_or_escapes: bool,
        out: &mut String,
    ) -> Option<&'p str> {
        let mut last_id = None;
        // Split by a byte loop: `str::split` searches each short segment with
        // memchr, whose set-up costs more than the segment.
        let cuts = path.bytes().enumerate().filter(|&(_, b)| b == b'/');
        let ends = cuts.map(|(at, _)| at).chain(std::iter::once(path.len()));
        let mut start = 0;
        let segments = ends.map(|end| {
            let segment = &path[start..end];
            start = end + 1;
            segment
        });
        for (i, segment) in segments.enumerate() {
            if self.push_segment(i, segment, assigns_or_escapes, out) {
                last_id = Some(segment);
            }
        }
        last_id
    }

    /// Appends the template of the `i`th segment (after a `/` unless it is the
    /// first) to `out`, the template of the segments before it; whether it
    /// was an id.
    #[inline]
    fn push_segment(
        &self,
        i: usize,
        segment: &str,
        assigns_or_escapes: bool,
        out: &mut String,
    ) -> bool {
        // A lower-case UUID, most ids in a gateway's paths, is an id whatever
        // the rest says (and no secret can be lower-case hex and dashes): told
        // here by one pass over it, not by the learned positions, the secret
        // check and the id shapes in turn (those were 7% of reading the `wide`
        // corpus).
        if is_lowercase_uuid(segment.as_bytes()) {
            if i > 0 {
                out.push('/');
            }
            out.push_str("{id}");
            return true;
        }
        let learned = i > 0
            && !self.learned.is_empty()
            && !segment.is_empty()
            && self.learned.contains(out.as_str());
        if i > 0 {
            out.push('/');
        }
        if (segment.len() >= SHORTEST_SECRET_SEGMENT || assigns_or_escapes) && holds_secret(segment)
        {
            out.push_str(SECRET_SEGMENT);
            false
        } else if learned || self.is_id(segment) {
            out.push_str("{id}");
            true
        } else {
            out.push_str(segment);
            false
        }
    }

    /// Learns parameter positions from a sample of paths, each with whether
    /// its request was denied: a prefix followed by at least `min_values`
    /// distinct literal segments whose continuations look alike (see
    /// [`Followers::alike`]) is a parameter position, and so is one that
    /// denials reach with fewer values of one id-like shape
    /// ([`DENIED_LEARN_MIN_VALUES`]). Learning repeats until nothing new is
    /// learned, so `/projects/alpha/tasks/design` learns both positions.
    pub fn learn<'p>(
        &mut self,
        paths: impl IntoIterator<Item = (&'p str, bool)>,
        min_values: usize,
    ) {
        use rayon::prelude::*;
        // What is learned depends on which paths occur and whether any of
        // each was denied, not on how often: each distinct path is read once a
        // round, and the rounds share the paths across the threads.
        let mut distinct: HashMap<&str, bool> = HashMap::new();
        for (path, denied) in paths {
            *distinct.entry(path).or_default() |= denied;
        }
        let distinct: Vec<(&str, bool)> = distinct.into_iter().collect();
        loop {
            let next = distinct
                .par_iter()
                .fold(
                    || (HashMap::new(), String::new()),
                    |(mut next, mut template), &(path, denied)| {
                        self.follow(path, denied, &mut template, &mut next);
                        (next, template)
                    },
                )
                .map(|(next, _)| next)
                .reduce(HashMap::new, merge_followers);
            let candidates: Vec<String> = next
                .into_iter()
                .filter(|(prefix, f)| {
                    !self.learned.contains(prefix)
                        && (f.values.len() >= min_values || f.denied_ids())
                        && f.alike()
                })
                .map(|(prefix, _)| prefix)
                .collect();
            // Shallowest first: once `/projects/{id}` is learned, the tasks of
            // every project share one prefix and are learned once, not per project.
            let depth = |p: &String| p.matches('/').count();
            let shallowest = candidates.iter().map(depth).min();
            let learned_any = !candidates.is_empty();
            for prefix in candidates {
                if Some(depth(&prefix)) == shallowest {
                    self.learned.insert(prefix);
                }
            }
            if !learned_any {
                return;
            }
        }
    }

    /// Notes in `next` what each prefix of `path`'s template is followed by
    /// (`template` a buffer to reuse).
    fn follow(
        &self,
        path: &str,
        denied: bool,
        template: &mut String,
        next: &mut HashMap<String, Followers>,
    ) {
        template.clear();
        self.template_into(path, template);
        let template = template.as_str();
        // (start of the segment, the segment), after the leading one.
        let mut starts = vec![0];
        starts.extend(template.match_indices('/').map(|(at, _)| at + 1));
        let segments: Vec<(usize, &str)> = starts
            .iter()
            .enumerate()
            .map(|(i, &from)| {
                let to = starts.get(i + 1).map_or(template.len(), |next| next - 1);
                (from, &template[from..to])
            })
            .collect();
        for k in 1..segments.len() {
            let (from, segment) = segments[k];
            if segment == "{id}" || segment == SECRET_SEGMENT || segment.is_empty() {
                continue;
            }
            let followers = next.entry_ref(&template[..from - 1]).or_default();
            followers.denied |= denied;
            let after = followers.values.entry_ref(segment).or_default();
            if let Some(&(_, following)) = segments.get(k + 1) {
                if !after.contains(following) {
                    after.insert(following.to_string());
                }
            }
        }
    }
}

/// Reads a JSON line's path, and whether it was denied, without decoding it;
/// `None` leaves the line to be decoded.
pub(crate) type FlatPathReader = fn(&[u8]) -> Option<(String, bool)>;

/// Events read, from the start of the inputs, to learn path templates from.
const TEMPLATE_SAMPLE_EVENTS: usize = 200_000;

/// Inputs whose first this many events hold no path have none to learn from.
const PATHLESS_EVENTS: usize = 1_000;

/// The paths of the first events of the inputs, each with whether its request
/// was denied, to learn templates from. Reading them again later costs little:
/// they are at most a few tens of MB.
///
/// `flat` reads a JSON line's path and status without decoding it, where it
/// can (the fast path's reader); other lines are decoded whole.
pub(crate) fn sample_paths(
    files: &[InputFile],
    map: &FieldMap,
    format: InputFormat,
    limits: SizeLimits,
    flat: Option<FlatPathReader>,
) -> Result<Vec<(String, bool)>> {
    let mut sample = Sample {
        map,
        format,
        paths: Vec::new(),
        events: 0,
    };
    // Not counted as progress: the main pass reads these bytes again.
    let quiet = ProgressBar::hidden();
    for input in files
        .iter()
        .filter(|f| f.table == Table::Events && !f.stream)
    {
        // Unreadable files are counted by the main pass.
        let Ok(mut source) = open_source(input, &quiet, limits) else {
            continue;
        };
        let mut lines = LineBatch::default();
        loop {
            if sample.is_full() {
                return Ok(sample.paths);
            }
            let next = match flat {
                // The lines are gathered and read a batch at a time across the
                // threads, as the first thing a run does while the other core
                // has little else to do (a 2 GB gateway log's 200,000 lines of
                // 1.2 KB: 0.38 s on one core).
                Some(read) => source.next_record_unless(&mut |_, line| {
                    if sample.is_full() {
                        return false;
                    }
                    lines.push(line);
                    if lines.is_full() {
                        sample.add_lines(&lines, read);
                        lines.clear();
                    }
                    true
                }),
                None => source.next_record_unless(&mut |_, _| false),
            };
            // What the source hands out itself (a document read whole, a line
            // too long) comes after the lines gathered before it.
            if let Some(read) = flat {
                sample.add_lines(&lines, read);
                lines.clear();
            }
            let Some((_, record)) = next else {
                break;
            };
            sample.add_record(record);
        }
    }
    Ok(sample.paths)
}

/// The sample being read: each event counts once, in input order.
struct Sample<'m> {
    map: &'m FieldMap,
    format: InputFormat,
    paths: Vec<(String, bool)>,
    events: usize,
}

impl Sample<'_> {
    /// Events, not paths, are counted, and inputs whose first events hold no
    /// path are not sampled further: CloudTrail's records name actions, not
    /// paths, and counting paths had a whole CloudTrail input decoded twice
    /// (1 GB: 20.4 s, against 12.9 s with 200,000 events decoded again).
    fn is_full(&self) -> bool {
        self.events >= TEMPLATE_SAMPLE_EVENTS
            || (self.paths.is_empty() && self.events >= PATHLESS_EVENTS)
    }

    /// Adds an event with its path, if it has one; `false` if the sample
    /// is full, and the event left out.
    fn add(&mut self, sampled: Option<(String, bool)>) -> bool {
        if self.is_full() {
            return false;
        }
        self.events += 1;
        self.paths.extend(sampled);
        true
    }

    /// Adds a decoded record, unless the sample is full.
    fn add_record(&mut self, record: Result<serde_json::Value, Skip>) {
        let sampled = record
            .ok()
            .and_then(|r| formats::sampled_path(&r, self.map, self.format));
        self.add(sampled);
    }

    /// Adds the events of `lines`, in order, until the sample is full: each
    /// line read by `flat` where it can be, else decoded as the source would.
    fn add_lines(&mut self, lines: &LineBatch, flat: FlatPathReader) {
        use rayon::prelude::*;
        let (map, format) = (self.map, self.format);
        let read: Vec<LineRead> = (0..lines.len())
            .into_par_iter()
            .map(|i| {
                let line = lines.get(i);
                match flat(line) {
                    Some(sampled) => LineRead::Flat(sampled),
                    None => LineRead::Decoded(
                        records_of_line(line)
                            .into_iter()
                            .map(|r| r.ok().and_then(|r| formats::sampled_path(&r, map, format)))
                            .collect(),
                    ),
                }
            })
            .collect();
        for line in read {
            let added = match line {
                LineRead::Flat(sampled) => self.add(Some(sampled)),
                LineRead::Decoded(records) => records.into_iter().all(|sampled| self.add(sampled)),
            };
            if !added {
                return;
            }
        }
    }
}

/// What a line of the sample held.
enum LineRead {
    /// One event, read by the flat reader.
    Flat((String, bool)),
    /// Each of its records' path, if it has one.
    Decoded(Vec<Option<(String, bool)>>),
}

/// Lines copied out of a source, to be read together.
#[derive(Default)]
struct LineBatch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl LineBatch {
    /// Lines or bytes gathered before a batch is read: enough for each thread
    /// to have a share worth its start, few enough that little is read past
    /// the sample's end.
    const LINES: usize = 8192;
    const BYTES: usize = 8 << 20;

    fn push(&mut self, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        self.ends.push(self.bytes.len());
    }

    fn is_full(&self) -> bool {
        self.ends.len() >= Self::LINES || self.bytes.len() >= Self::BYTES
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortcuts_agree_with_the_patterns() {
        let by_patterns =
            |s: &str| !s.is_empty() && !VERSION_SEGMENT.is_match(s) && ID_SEGMENT.is_match(s);
        for segment in [
            "",
            "123",
            "0",
            "v1",
            "V2",
            "v2beta1",
            "v",
            "api",
            "orders",
            "workorders",
            "WO12345",
            "M-1001",
            "abcdefab-abcd-abcd-abcd-abcdefabcdef",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "0f8fad5b-d9cb-469f-a165-70867728950e0",
            "0f8fad5bd-9cb-469f-a165-70867728950e",
            "jane@example.com",
            "2026-11-20",
            "deadbeef",
            "dead",
            "x١٢٣",
            "١٢٣",
            "v١",
            "SO_77",
            "ACME,2026-01-05",
            "42;7",
            "items:batchGet",
            "gemini-1.5-pro:countTokens",
            "a,b",
            "a.b",
            "tasks",
            "ORG-EU",
            "{id}",
            "items_v",
            "αβγ",
        ] {
            assert_eq!(is_id_segment(segment), by_patterns(segment), "{segment:?}");
        }
    }

    fn template(path: &str) -> (String, Option<String>) {
        Templater::default().template(path)
    }

    proptest::proptest! {
        /// Where the byte check decides, the patterns agree.
        #[test]
        fn the_byte_check_agrees_with_the_patterns(
            segment in "[A-Za-z_vV]{0,4}[-._]?[0-9vV]{0,3}[A-Za-z0-9_.,;@-]{0,6}",
        ) {
            if let Some(id) = mixed_id_by_bytes(segment.as_bytes()) {
                let by_patterns = !segment.is_empty()
                    && !VERSION_SEGMENT.is_match(&segment)
                    && ID_SEGMENT.is_match(&segment);
                proptest::prop_assert_eq!(id, by_patterns);
            }
        }

        /// UUID-shaped or nearly: the byte check and the patterns agree.
        #[test]
        fn uuids_are_ids_as_the_patterns_say(
            segment in "[0-9a-fA-Fg-]{8}-?[0-9a-fA-F-]{4}[-x]?[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{11,13}",
        ) {
            let by_patterns = !VERSION_SEGMENT.is_match(&segment) && ID_SEGMENT.is_match(&segment);
            proptest::prop_assert_eq!(is_id_segment(&segment), by_patterns, "{}", segment);
            if is_uuid(segment.as_bytes()) {
                proptest::prop_assert!(by_patterns);
            }
        }

        /// What lets `push_segment` decide a lower-case UUID first: it is an
        /// id, and no secret.
        #[test]
        fn lowercase_uuids_are_ids_and_no_secrets(
            segment in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            upper in proptest::option::of(0usize..36),
        ) {
            proptest::prop_assert!(is_lowercase_uuid(segment.as_bytes()));
            proptest::prop_assert!(is_id_segment(&segment));
            proptest::prop_assert!(!crate::ingest::record::redact::is_secret_segment(&segment));
            let (template, id) = template(&format!("/api/v2/customers/{segment}/addresses"));
            proptest::prop_assert_eq!(template, "/api/v2/customers/{id}/addresses");
            proptest::prop_assert_eq!(id.as_deref(), Some(segment.as_str()));
            // One upper-case letter, and the shortcut leaves it to the rest.
            if let Some(at) = upper.filter(|&at| segment.as_bytes()[at].is_ascii_lowercase()) {
                let mut mixed = segment.clone().into_bytes();
                mixed[at].make_ascii_uppercase();
                proptest::prop_assert!(!is_lowercase_uuid(&mixed));
            }
        }
    }

    #[test]
    fn ids_of_every_kind_become_placeholders() {
        let cases = [
            (
                "/api/v1/maintenance/workorders/WO12345",
                "/api/v1/maintenance/workorders/{id}",
                Some("WO12345"),
            ),
            (
                "/api/v1/resources/machines/M-1001/assign",
                "/api/v1/resources/machines/{id}/assign",
                Some("M-1001"),
            ),
            (
                "/api/v1/projects/4711/tasks/T-88",
                "/api/v1/projects/{id}/tasks/{id}",
                Some("T-88"),
            ),
            (
                "/orders/3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f",
                "/orders/{id}",
                Some("3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f"),
            ),
            ("/blobs/deadbeef42", "/blobs/{id}", Some("deadbeef42")),
            ("/reports/2026-11-22", "/reports/{id}", Some("2026-11-22")),
            (
                "/users/jane.doe@example.com/roles",
                "/users/{id}/roles",
                Some("jane.doe@example.com"),
            ),
            (
                "/invoices/ACME,2026-01-05/lines",
                "/invoices/{id}/lines",
                Some("ACME,2026-01-05"),
            ),
            ("/geo/52.5,13.4", "/geo/{id}", Some("52.5,13.4")),
            (
                "/v1/models/gemini-1.5-pro:countTokens",
                "/v1/models/gemini-1.5-pro:countTokens",
                None,
            ),
            (
                "/fscmRestApi/resources/custom/inventoryAttributes",
                "/fscmRestApi/resources/custom/inventoryAttributes",
                None,
            ),
        ];
        for (path, want, id) in cases {
            assert_eq!(
                template(path),
                (want.to_string(), id.map(str::to_string)),
                "{path}"
            );
        }
    }

    #[test]
    fn words_and_versions_stay() {
        for segment in [
            "v1",
            "v2.1",
            "v2beta2",
            "shifts",
            "SHIFT-A",
            "inventoryAttributes",
            "assign",
            "face",
        ] {
            assert!(!is_id_segment(segment), "{segment}");
        }
    }

    #[test]
    fn user_patterns_add_ids() {
        let t = Templater::with_patterns(&["SHIFT-[A-Z]".to_string()]).unwrap();
        assert_eq!(
            t.template("/api/v1/shifts/SHIFT-A").0,
            "/api/v1/shifts/{id}"
        );
        assert!(Templater::with_patterns(&["(".to_string()]).is_err());
    }

    #[test]
    fn many_distinct_values_after_a_prefix_are_learned_as_a_parameter() {
        let slugs = [
            "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
        ];
        let tasks = [
            "design", "build", "review", "ship", "plan", "test", "audit", "deploy", "document",
            "train",
        ];
        let mut paths = Vec::new();
        for s in slugs {
            for t in tasks {
                paths.push(format!("/api/v1/projects/{s}/tasks/{t}"));
            }
        }
        // A real fan-out of endpoints that must stay literal.
        for e in ["orders", "users", "invoices", "projects"] {
            paths.push(format!("/api/v1/{e}"));
        }
        let mut t = Templater::default();
        t.learn(paths.iter().map(|p| (p.as_str(), false)), 10);
        assert_eq!(
            t.template("/api/v1/projects/omega/tasks/cleanup").0,
            "/api/v1/projects/{id}/tasks/{id}"
        );
        assert_eq!(
            t.template("/api/v1/projects/omega/tasks/cleanup")
                .1
                .as_deref(),
            Some("cleanup")
        );
        assert_eq!(t.template("/api/v1/orders").0, "/api/v1/orders");
        // Below the threshold nothing is learned.
        let mut strict = Templater::default();
        strict.learn(paths.iter().map(|p| (p.as_str(), false)), 11);
        assert_eq!(
            strict.template("/api/v1/projects/omega/tasks/cleanup").0,
            "/api/v1/projects/omega/tasks/cleanup"
        );
    }

    #[test]
    fn siblings_with_different_continuations_are_not_learned() {
        // 26 resources, each with its own operation: an API surface, not values.
        let paths: Vec<String> = ('a'..='z')
            .map(|c| format!("/api/res{c}{c}/op{c}{c}"))
            .collect();
        let mut t = Templater::default();
        t.learn(paths.iter().map(|p| (p.as_str(), false)), 3);
        assert_eq!(t.template("/api/resqq/opqq").0, "/api/resqq/opqq");
    }

    #[test]
    fn followers_noted_in_parts_and_merged_are_those_noted_at_once() {
        let paths: Vec<(String, bool)> = (0..60)
            .map(|i| {
                let words = [
                    "ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv",
                ];
                let path = format!("/p/v{}/{}/{i}/x", i % 7, words[i % 11]);
                (path, i % 11 == 0)
            })
            .collect();
        let t = Templater::default();
        let noted = |paths: &[(String, bool)]| {
            let (mut next, mut template) = (HashMap::new(), String::new());
            for (path, denied) in paths {
                t.follow(path, *denied, &mut template, &mut next);
            }
            next
        };
        let whole = noted(&paths);
        for cut in [1, 20, 59] {
            let (first, second) = paths.split_at(cut);
            assert_eq!(merge_followers(noted(first), noted(second)), whole);
            assert_eq!(merge_followers(noted(second), noted(first)), whole);
        }
    }

    #[test]
    fn few_values_of_one_shape_are_learned_where_denials_reach_them() {
        let periods = |denied: bool| -> Vec<(String, bool)> {
            ["2026-01", "2026-02", "2026-03"]
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("/fin/periods/{p}/close"), denied && i == 2))
                .collect()
        };
        let learned = |paths: &[(String, bool)]| {
            let mut t = Templater::default();
            t.learn(paths.iter().map(|(p, d)| (p.as_str(), *d)), 25);
            t.template("/fin/periods/2025-12/close").0
        };
        assert_eq!(learned(&periods(true)), "/fin/periods/{id}/close");
        // Without a denial there, the general threshold holds.
        assert_eq!(learned(&periods(false)), "/fin/periods/2025-12/close");
    }

    #[test]
    fn words_mixed_shapes_and_versions_stay_where_denials_reach_them() {
        for values in [
            ["s3", "ec2", "sqs"],
            ["1.0", "2.0", "2.1"],
            ["orders", "users", "invoices"],
        ] {
            let paths: Vec<(String, bool)> = values
                .iter()
                .map(|v| (format!("/api/{v}/search"), true))
                .collect();
            let mut t = Templater::default();
            t.learn(paths.iter().map(|(p, d)| (p.as_str(), *d)), 25);
            assert!(t.learned().is_empty(), "{values:?}");
        }
        assert_eq!(shape("2026-03"), "9-9");
        assert_eq!(shape("FY26-P03"), "A9-A9");
    }

    const TOKEN: &str = "Xk9fQ2mZ7pLr4TbW8nVc";

    #[test]
    fn secret_segments_become_a_placeholder_and_no_object() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXZhbHVl";
        let cases = [
            (
                format!("/api/v1/password-reset/{TOKEN}"),
                "/api/v1/password-reset/{secret}",
                None,
            ),
            // Whichever character the token starts with: one endpoint.
            (
                "/api/v1/password-reset/7k9fQ2mZXpLr4TbW8nVc".to_string(),
                "/api/v1/password-reset/{secret}",
                None,
            ),
            (
                format!("/api/v1/users/42/reset/{TOKEN}/confirm"),
                "/api/v1/users/{id}/reset/{secret}/confirm",
                Some("42"),
            ),
            (
                "/files/report.pdf;sig=Zm9vYmFyYmF6cXV4".to_string(),
                "/files/{secret}",
                None,
            ),
            ("/reset/token=ab12".to_string(), "/reset/{secret}", None),
            (
                format!("/auth/Bearer%20{jwt}/check"),
                "/auth/{secret}/check",
                None,
            ),
            (format!("/auth/{jwt}"), "/auth/{secret}", None),
            (
                "/login/dXNlcjpwYXNzd29yZA==".to_string(),
                "/login/{secret}",
                None,
            ),
            (
                "/keys/AKIAIOSFODNN7EXAMPLE".to_string(),
                "/keys/{secret}",
                None,
            ),
            (
                "/hooks/ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A".to_string(),
                "/hooks/{secret}",
                None,
            ),
        ];
        for (path, want, id) in cases {
            assert_eq!(
                template(&path),
                (want.to_string(), id.map(str::to_string)),
                "{path}"
            );
        }
    }

    #[test]
    fn a_learned_position_holding_a_secret_gives_no_object() {
        let mut t = Templater::default();
        // 26 codes of letters only: not ids, learned as a parameter.
        let paths: Vec<String> = (b'a'..=b'z')
            .map(|c| format!("/reset/code{}/confirm", char::from(c)))
            .collect();
        t.learn(paths.iter().map(|p| (p.as_str(), false)), 25);
        assert_eq!(
            t.template("/reset/other/confirm"),
            ("/reset/{id}/confirm".to_string(), Some("other".to_string()))
        );
        assert_eq!(
            t.template(&format!("/reset/{TOKEN}/confirm")),
            ("/reset/{secret}/confirm".to_string(), None)
        );
    }

    #[test]
    fn ordinary_long_segments_stay() {
        for path in [
            "/2015-03-31/functions/ListFunctions20150331",
            "/s3/PutBucketLogging/GetBucketPolicyStatus",
            "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles",
            "/api/v1/namespaces/prod/serviceaccounts/deployer/token",
            "/core/serviceaccounts/{name}/token",
            "/fscmRestApi/resources/custom/inventoryAttributes",
            "/iam/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b",
            "/search/q%20a",
        ] {
            assert!(!template(path).0.contains(SECRET_SEGMENT), "{path}");
        }
    }

    #[test]
    fn query_strings_are_dropped() {
        // Query strings carry API keys; they never reach a template.
        assert_eq!(template("/items/42?api_key=secret").0, "/items/{id}");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A path segment: a word of the endpoint, or an id of one of the built-in kinds.
    fn segment() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            "[a-z]{1,12}(-[a-z]{1,8})?".prop_map(|s| (s, false)),
            "[vV][0-9]{1,2}".prop_map(|s| (s, false)),
            "[0-9]{1,12}".prop_map(|s| (s, true)),
            // Not `V` + digits alone: that is a version (`V2`), a word of the endpoint.
            "[A-UW-Z][A-Z]{0,2}-?[0-9]{1,8}".prop_map(|s| (s, true)),
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(|s| (s, true)),
        ]
    }

    proptest! {
        /// Ids become `{id}`, words stay, the last id is the object, and a template
        /// is its own template.
        #[test]
        fn ids_and_only_ids_become_parameters(
            segments in prop::collection::vec(segment(), 1..8),
            query in prop::option::of("[a-z]{1,5}=[a-z0-9]{1,10}"),
        ) {
            let templater = Templater::default();
            let mut path: String = segments.iter().map(|(s, _)| format!("/{s}")).collect();
            if let Some(q) = &query {
                path = format!("{path}?{q}");
            }
            let expected: String = segments
                .iter()
                .map(|(s, id)| if *id { "/{id}".to_string() } else { format!("/{s}") })
                .collect();
            let (template, object) = templater.template(&path);
            prop_assert_eq!(&template, &expected);
            let last_id = segments.iter().rev().find(|(_, id)| *id).map(|(s, _)| s.clone());
            prop_assert_eq!(object, last_id);
            prop_assert_eq!(templater.template(&template).0, template);
        }
    }

    /// A path segment as logs write them, the awkward ones included: empty,
    /// `{id}` itself, values of a learned position, long tokens (secret
    /// suspects), `=` and `%`.
    fn messy_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            segment().prop_map(|(s, _)| s),
            Just(String::new()),
            Just("{id}".to_string()),
            Just("projects".to_string()),
            "(alpha|beta|gamma|delta)",
            "[A-Za-z0-9_-]{16,40}",
            "[a-z]{1,4}=[a-z0-9]{1,8}",
            "[a-z]{1,4}%20[a-z]{1,4}",
        ]
    }

    fn messy_path() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop::collection::vec(messy_segment(), 0..6),
            prop::option::of("[?#][a-z0-9=&%/]{0,12}"),
        )
            .prop_map(|(rooted, segments, tail)| {
                let mut path = if rooted {
                    "/".to_string()
                } else {
                    String::new()
                };
                path.push_str(&segments.join("/"));
                path.push_str(tail.as_deref().unwrap_or_default());
                path
            })
    }

    proptest! {
        /// One worker's memo of literal prefixes, over many paths, templates
        /// each as the plain path does, and finds the same object.
        #[test]
        fn memoised_prefixes_template_as_the_plain_path(
            paths in prop::collection::vec(messy_path(), 1..60),
        ) {
            let mut templater = Templater::default();
            let sample: Vec<String> = ["alpha", "beta", "gamma", "delta"]
                .iter()
                .map(|p| format!("/projects/{p}/tasks"))
                .collect();
            templater.learn(sample.iter().map(|p| (p.as_str(), false)), 3);
            prop_assert!(!templater.learned().is_empty());
            let mut memo = PrefixMemo::default();
            // Each path twice: the second reading meets its own prefix in the memo.
            for path in paths.iter().chain(&paths) {
                let (mut plain, mut memoised) = (String::new(), String::new());
                let plain_id = templater.template_into(path, &mut plain);
                let memoised_id = templater.template_into_with(path, &mut memoised, &mut memo);
                prop_assert_eq!(&memoised, &plain, "{}", path);
                prop_assert_eq!(memoised_id, plain_id, "{}", path);
            }
        }
    }
}
