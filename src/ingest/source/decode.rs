//! Decoders: turn a byte stream in one encoding (JSON Lines or a JSON array, CSV,
//! Parquet) into records, each with its line (or row) number. Records are JSON
//! objects whatever the encoding, so the field map reads them all the same way.
//!
//! A new encoding is one more [`RecordSource`] here.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use polars::prelude::{AnyValue, DataFrame, ParquetReader, SerReader, TimeUnit};
use serde_json::{Map, Value};

use super::document::Document;
pub use super::document::Record;
use crate::ingest::record::fields::Skip;
use crate::ingest::record::formats;

/// One decoded record, or the reason its line could not be decoded.
pub type Decoded = (u64, Result<Value, Skip>);

/// The largest record and document a source holds in memory. A log is
/// attacker-shaped text: one 10 GB line (313 KB as zstd) once asked for 4 GB at
/// a time and ended the run. Past a limit the record is skipped as too long
/// (and quarantined by its first bytes), read through without being held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    /// One line of JSON Lines, one CSV row.
    pub record: usize,
    /// A file read whole: a JSON array or envelope, a YAML stream, a Parquet
    /// stream copied to a temporary file to be read.
    pub document: u64,
}

impl Default for SizeLimits {
    /// A Kubernetes audit event with its request and response bodies is at
    /// most a few MB (etcd keeps objects under 1.5 MB), a CloudTrail event
    /// 256 KB; a CloudTrail file or an RBAC dump of a large cluster, tens of MB.
    fn default() -> Self {
        SizeLimits {
            record: 16 << 20,
            document: 512 << 20,
        }
    }
}

/// The skip reason of a record or document over its [`SizeLimits`].
pub const TOO_LONG: &str = "too long";

/// Bytes of a too-long record kept for the quarantine.
const TOO_LONG_KEPT: usize = 1024;

fn too_long(what: &str, limit: u64, head: &[u8]) -> Skip {
    // A secret cut in two by the end of what is kept might no longer look like
    // one to the redactor: the kept bytes end before the word the cut falls in.
    let mut head = &head[..head.len().min(TOO_LONG_KEPT)];
    if head.len() == TOO_LONG_KEPT {
        let word = head
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || b"._~+/=%-".contains(b)))
            .map_or(0, |at| at + 1);
        head = &head[..word];
    }
    Skip::new(
        TOO_LONG,
        format!(
            "{what} is longer than {limit} bytes: raise --max-{}-size if it is genuine",
            if what == "the document" {
                "document"
            } else {
                "record"
            }
        ),
    )
    .with_raw(format!("{}…", String::from_utf8_lossy(head)))
}

/// Reads up to and including the next `\n` into `buf`, keeping at most `max`
/// bytes: the rest of a longer line is read through and dropped. Returns the
/// bytes read and whether the line was cut.
fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let (mut read, mut cut) = (0, false);
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((read, cut));
        }
        let (line_end, found) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if line_end > room {
            cut = true;
        }
        buf.extend_from_slice(&available[..line_end.min(room)]);
        reader.consume(line_end);
        read += line_end;
        if found {
            return Ok((read, cut));
        }
    }
}

/// Reads all of `reader` if it holds at most `limit` bytes; `None` (having
/// read `limit + 1`, the first bytes kept in `text`) if it holds more.
fn read_document(reader: impl Read, limit: u64, text: &mut Vec<u8>) -> std::io::Result<bool> {
    reader.take(limit.saturating_add(1)).read_to_end(text)?;
    Ok(text.len() as u64 <= limit)
}

/// A stream of records from one input. The `u64` is the 1-based line (JSON Lines,
/// CSV) or record number (JSON array, Parquet) within what the source reads.
pub trait RecordSource: Send {
    fn next_record(&mut self) -> Option<Decoded>;

    /// Like [`RecordSource::next_record`], but a JSON Lines source first offers each
    /// line, with its number, to `take`, which returns `true` if it has dealt with
    /// the line itself (the fast path); only lines it leaves are decoded and returned.
    fn next_record_unless(&mut self, take: &mut dyn FnMut(u64, &[u8]) -> bool) -> Option<Decoded> {
        let _ = take;
        self.next_record()
    }

    /// Like [`RecordSource::next_record_unless`], but the items of an
    /// envelope's list may come as their text ([`Record::Text`]).
    fn next_record_or_text(
        &mut self,
        take: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Option<(u64, Result<Record, Skip>)> {
        let (line, record) = self.next_record_unless(take)?;
        Some((line, record.map(Record::Tree)))
    }
}

/// JSON Lines. A document that is not one object per line (a `[` array, or one
/// object spread over many lines) is read whole. An envelope of records (a
/// CloudTrail file's `Records`, a Kubernetes `EventList`'s `items`) yields its
/// records, all at the envelope's line.
pub struct JsonSource<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    /// Records waiting to be handed out, all from line `line`.
    queued: std::collections::VecDeque<Result<Record, Skip>>,
    /// The whole input was one document, now queued: nothing follows it.
    whole_document: bool,
    /// Stop before a line that starts this many bytes in (for reading one range of a file).
    byte_limit: Option<u64>,
    consumed: u64,
    failed: bool,
    limits: SizeLimits,
}

/// The head of a stream [`is_json_lines`] looks at, at most.
const SNIFF_WINDOW: usize = 1 << 20;

/// Whether the text starts with a whole JSON value on its first line; `false`
/// for a `[` array or an object spread over several lines (pretty-printed).
pub fn is_json_lines(head: &[u8]) -> bool {
    // What a stream's buffer holds: a file inflated whole is held whole, and
    // would otherwise have a first line of megabytes checked in full.
    let head = &head[..head.len().min(SNIFF_WINDOW)];
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    if head.first() != Some(&b'{') {
        return false;
    }
    // memchr: searched byte by byte, a CloudTrail file's megabyte without a
    // newline was 6% of a CloudTrail report's CPU.
    match memchr::memchr(b'\n', head) {
        // Checked, not built: the first line of a CloudTrail file is all of it.
        Some(end) => !serde_json::from_slice::<serde::de::IgnoredAny>(&head[..end])
            .is_err_and(|e| e.is_eof()),
        // The first line is longer than what we can see: treat as JSON Lines.
        None => true,
    }
}

/// The records inside an envelope (as a format or exporter writes it), or the value itself.
fn unwrap_envelope(value: Value) -> Vec<Value> {
    formats::unwrap_envelope(value)
}

thread_local! {
    /// The line buffer of the last source dropped on this thread, for the next
    /// one: a CloudTrail file is one line of a few megabytes, and a buffer
    /// grown anew for each file is copied at each doubling.
    static SPARE_LINE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A larger buffer is not kept once its source is done: one per thread.
const SPARE_LINE_MAX: usize = 16 << 20;

impl<R> Drop for JsonSource<R> {
    fn drop(&mut self) {
        if self.buf.capacity() <= SPARE_LINE_MAX {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            SPARE_LINE.set(buf);
        }
    }
}

impl<R: BufRead + Send> JsonSource<R> {
    /// A source with the default [`SizeLimits`].
    pub fn new(reader: R) -> Result<Self> {
        Self::with_limits(reader, SizeLimits::default())
    }

    pub fn with_limits(mut reader: R, limits: SizeLimits) -> Result<Self> {
        // Whitespace before the first record is left in place so line numbers stay true.
        let head = reader.fill_buf().context("cannot read input")?;
        let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let whole_document = first == Some(b'[') || (first == Some(b'{') && !is_json_lines(head));
        let mut source = JsonSource {
            reader,
            line: 0,
            buf: SPARE_LINE.take(),
            queued: Default::default(),
            whole_document,
            byte_limit: None,
            consumed: 0,
            failed: false,
            limits,
        };
        if whole_document {
            let mut text = Vec::new();
            let whole = read_document(&mut source.reader, limits.document, &mut text)
                .context("cannot read input")?;
            if !whole {
                // One record stands for the document: counted, quarantined by
                // its first bytes, and the rest of the file is not read.
                source
                    .queued
                    .push_back(Err(too_long("the document", limits.document, &text)));
                return Ok(source);
            }
            let records = document_records(&text)
                .context("the input is one JSON document (an array, or an object over several lines) but not valid JSON")?;
            source.queued = records.into_iter().map(Ok).collect();
        }
        Ok(source)
    }

    /// Reads only the lines that start within the first `limit` bytes.
    pub fn with_byte_limit(mut self, limit: u64) -> Self {
        self.byte_limit = Some(limit);
        self
    }

    /// Lines read so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.line
    }
}

impl<R: BufRead + Send> RecordSource for JsonSource<R> {
    fn next_record(&mut self) -> Option<Decoded> {
        self.next_record_unless(&mut |_, _| false)
    }

    fn next_record_unless(&mut self, take: &mut dyn FnMut(u64, &[u8]) -> bool) -> Option<Decoded> {
        let (line, record) = self.next_record_or_text(take)?;
        Some((line, record.and_then(Record::into_tree)))
    }

    fn next_record_or_text(
        &mut self,
        take: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Option<(u64, Result<Record, Skip>)> {
        if let Some(item) = self.queued.pop_front() {
            // A whole document numbers its records; an envelope line gives them its line.
            if self.whole_document {
                self.line += 1;
            }
            return Some((self.line, item.and_then(object_record)));
        }
        if self.whole_document {
            return None;
        }
        loop {
            if self.failed || self.byte_limit.is_some_and(|limit| self.consumed >= limit) {
                return None;
            }
            self.buf.clear();
            let cut = match read_line_bounded(&mut self.reader, &mut self.buf, self.limits.record) {
                Ok((0, _)) => return None,
                Ok((n, cut)) => {
                    self.consumed += n as u64;
                    self.line += 1;
                    cut
                }
                Err(e) => {
                    // A broken stream (truncated gzip, I/O error) cannot be resumed.
                    self.failed = true;
                    self.line += 1;
                    return Some((self.line, Err(Skip::new("unreadable input", e.to_string()))));
                }
            };
            if cut {
                let skip = too_long("the line", self.limits.record as u64, &self.buf);
                return Some((self.line, Err(skip)));
            }
            let line = self.buf.trim_ascii();
            if line.is_empty() || take(self.line, line) {
                continue;
            }
            let mut records = match line_records(line) {
                Ok(records) => records.into_iter(),
                Err(skip) => return Some((self.line, Err(skip))),
            };
            let Some(first) = records.next() else {
                continue;
            };
            self.queued.extend(records.map(Ok));
            return Some((self.line, object_record(first)));
        }
    }
}

/// The records of a JSON Lines line as [`JsonSource::next_record_unless`]
/// hands them out when `take` leaves the line: none for an envelope of no
/// items, one error for a line that is not JSON.
pub fn records_of_line(line: &[u8]) -> Vec<Result<Value, Skip>> {
    match line_records(line) {
        Ok(records) => records
            .into_iter()
            .map(|r| object_record(r).and_then(Record::into_tree))
            .collect(),
        Err(skip) => vec![Err(skip)],
    }
}

/// [`json_records`], a line that is not JSON skipped with its text.
fn line_records(line: &[u8]) -> Result<Vec<Record>, Skip> {
    json_records(line).map_err(|e| {
        Skip::new("malformed JSON", e.to_string()).with_raw(String::from_utf8_lossy(line))
    })
}

/// The records of a file read whole: the items of a top-level array, an
/// envelope's items, or the document.
fn document_records(text: &[u8]) -> Result<Vec<Record>, serde_json::Error> {
    let Ok(text) = std::str::from_utf8(text) else {
        let records = match serde_json::from_slice(text)? {
            Value::Array(items) => items,
            other => unwrap_envelope(other),
        };
        return Ok(records.into_iter().map(Record::Tree).collect());
    };
    match serde_json::from_str(text)? {
        Document::Other(Value::Array(items)) => Ok(items.into_iter().map(Record::Tree).collect()),
        document => document.records(),
    }
}

/// The records of one line: in one document, as JSON Lines has it; in several
/// written back to back (`{…}{…}`, as Firehose concatenates CloudWatch Logs
/// payloads); or in one after a timestamp (`2026-11-20T08:00:00.000Z {…}`, each
/// line of a CloudWatch Logs export to S3). Envelopes are unwrapped.
fn json_records(line: &[u8]) -> Result<Vec<Record>, serde_json::Error> {
    // Checked as UTF-8 once, then parsed as text: parsing bytes, serde_json
    // checks each string on its own (1 GB of CloudTrail: 6.3 against 7.1 s).
    // Bytes that are not text are parsed as bytes, and serde_json names the error.
    match std::str::from_utf8(line) {
        Ok(text) => {
            let documents: Vec<Document> =
                values_read(line, |from| serde_json::de::StrRead::new(&text[from..]))?;
            let mut records = Vec::new();
            for document in documents {
                records.extend(document.records()?);
            }
            Ok(records)
        }
        Err(_) => {
            let values: Vec<Value> =
                values_read(line, |from| serde_json::de::SliceRead::new(&line[from..]))?;
            let records = values.into_iter().flat_map(unwrap_envelope);
            Ok(records.map(Record::Tree).collect())
        }
    }
}

/// The JSON values of a line, as [`json_records`] finds them, with
/// `read(from)` reading the line from byte `from` on (`from` is 0 or just after
/// an ASCII byte, so text stays whole characters).
fn values_read<'a, T: serde::Deserialize<'a>, R: serde_json::de::Read<'a>>(
    line: &[u8],
    read: impl Fn(usize) -> R,
) -> Result<Vec<T>, serde_json::Error> {
    let one = |from: usize| -> Result<T, serde_json::Error> {
        let mut parser = serde_json::Deserializer::new(read(from));
        let value = serde::Deserialize::deserialize(&mut parser)?;
        parser.end()?;
        Ok(value)
    };
    let error = match one(0) {
        Ok(value) => return Ok(vec![value]),
        Err(e) => e,
    };
    if line.first().is_some_and(u8::is_ascii_digit) {
        if let Some(space) = line.iter().position(|&b| b == b' ') {
            let from = space
                + line[space..]
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
            if line.get(from) == Some(&b'{') {
                if let Ok(value) = one(from) {
                    return Ok(vec![value]);
                }
            }
        }
    }
    if line.first() == Some(&b'{') {
        let values: Result<Vec<T>, _> =
            serde_json::Deserializer::new(read(0)).into_iter().collect();
        if let Ok(values) = values {
            if values.len() > 1 {
                return Ok(values);
            }
        }
    }
    Err(error)
}

/// A record that is an object, as every record must be.
fn object_record(record: Record) -> Result<Record, Skip> {
    match record {
        Record::Text(text) if text.get().starts_with('{') => Ok(Record::Text(text)),
        other => other.into_tree().and_then(object).map(Record::Tree),
    }
}

fn object(value: Value) -> Result<Value, Skip> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(Skip::new(
            "not a JSON object",
            "each record must be a JSON object",
        ))
    }
}

/// A YAML stream: each document a record, envelopes (`kind: List`) unwrapped.
/// Read whole: YAML inputs are role and policy dumps, not logs.
pub struct YamlSource {
    records: std::vec::IntoIter<(u64, Result<Value, Skip>)>,
}

impl YamlSource {
    /// A source with the default [`SizeLimits`].
    pub fn new(reader: impl Read) -> Result<Self> {
        Self::with_limits(reader, SizeLimits::default())
    }

    pub fn with_limits(reader: impl Read, limits: SizeLimits) -> Result<Self> {
        use serde::Deserialize;
        let mut bytes = Vec::new();
        if !read_document(reader, limits.document, &mut bytes)
            .context("cannot read the YAML input")?
        {
            let skip = too_long("the document", limits.document, &bytes);
            return Ok(YamlSource {
                records: vec![(1, Err(skip))].into_iter(),
            });
        }
        let text =
            String::from_utf8(bytes).context("cannot read the YAML input: it is not UTF-8")?;
        let mut records = Vec::new();
        for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let number = i as u64 + 1;
            match Value::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => records.extend(
                    unwrap_envelope(value)
                        .into_iter()
                        .map(|v| (number, object(v))),
                ),
                Err(e) => {
                    // A YAML syntax error leaves the rest of the stream unreadable.
                    records.push((number, Err(Skip::new("malformed YAML", e.to_string()))));
                    break;
                }
            }
        }
        Ok(YamlSource {
            records: records.into_iter(),
        })
    }
}

impl RecordSource for YamlSource {
    fn next_record(&mut self) -> Option<Decoded> {
        self.records.next()
    }
}

/// CSV with a header row. Empty cells are absent fields; a row with more or fewer
/// cells than the header is skipped rather than guessed at.
pub struct CsvSource<R: Read> {
    reader: csv::Reader<Budgeted<R>>,
    headers: Vec<String>,
    record: csv::ByteRecord,
    failed: bool,
}

/// A reader that fails once one record has taken more than `limit` bytes:
/// the csv reader grows its record buffer without a bound, so the bound is on
/// what it is handed. [`CsvSource`] resets the count at each record, through
/// the csv reader's `get_mut`.
struct Budgeted<R> {
    inner: R,
    since_record: u64,
    limit: u64,
    spent: bool,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.since_record += n as u64;
        if self.since_record > self.limit {
            self.spent = true;
            return Err(std::io::Error::other(TOO_LONG));
        }
        Ok(n)
    }
}

impl<R: Read + Send> CsvSource<R> {
    /// Records of a CSV stream that starts with its header row, with the
    /// default [`SizeLimits`].
    pub fn new(reader: R) -> Result<Self> {
        Self::with_limits(reader, SizeLimits::default())
    }

    /// Records of a CSV stream that starts with its header row.
    pub fn with_limits(reader: R, limits: SizeLimits) -> Result<Self> {
        let reader = Budgeted::new(reader, limits);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let headers = reader
            .headers()
            .context("cannot read the CSV header row")?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        Ok(Self::with_reader(reader, headers))
    }

    /// Records of a part of a CSV file after its header row, named by `headers`
    /// (the file's, from [`CsvSource::new`] over its start).
    pub fn with_headers(reader: R, headers: Vec<String>, limits: SizeLimits) -> Self {
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(Budgeted::new(reader, limits));
        Self::with_reader(reader, headers)
    }

    fn with_reader(reader: csv::Reader<Budgeted<R>>, headers: Vec<String>) -> Self {
        CsvSource {
            reader,
            headers,
            record: csv::ByteRecord::new(),
            failed: false,
        }
    }

    /// The column names, trimmed.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

impl<R: Read> Budgeted<R> {
    fn new(inner: R, limits: SizeLimits) -> Self {
        Budgeted {
            inner,
            since_record: 0,
            // The reader pulls its buffer's worth ahead of the record it is on.
            limit: (limits.record as u64).saturating_add(CSV_READ_AHEAD),
            spent: false,
        }
    }
}

/// What the csv reader reads ahead of the record it returns: its buffer.
const CSV_READ_AHEAD: u64 = 64 << 10;

impl<R: Read + Send> RecordSource for CsvSource<R> {
    fn next_record(&mut self) -> Option<Decoded> {
        if self.failed {
            return None;
        }
        self.reader.get_mut().since_record = 0;
        let result = self.reader.read_byte_record(&mut self.record);
        let line = self.record.position().map_or(0, |p| p.line());
        match result {
            Ok(false) => None,
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                // The csv reader cannot resynchronise after an I/O error; stop here.
                let budget = self.reader.get_ref();
                if budget.spent {
                    self.failed = true;
                    let skip = Skip::new(
                        TOO_LONG,
                        format!(
                            "a CSV row is longer than {} bytes: raise --max-record-size if it is genuine; the rest of the file is not read",
                            budget.limit - CSV_READ_AHEAD
                        ),
                    );
                    return Some((line, Err(skip)));
                }
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.failed = true;
                    return Some((line, Err(Skip::new("unreadable input", e.to_string()))));
                }
                Some((line, Err(Skip::new("malformed CSV", e.to_string()))))
            }
            Ok(true) if self.record.len() != self.headers.len() => Some((
                line,
                Err(Skip::new(
                    "ragged CSV row",
                    format!(
                        "{} cells where the header has {}",
                        self.record.len(),
                        self.headers.len()
                    ),
                )
                .with_raw(
                    self.record
                        .iter()
                        .map(String::from_utf8_lossy)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
            )),
            Ok(true) => {
                let mut map = Map::new();
                for (name, cell) in self.headers.iter().zip(self.record.iter()) {
                    let Ok(cell) = std::str::from_utf8(cell) else {
                        return Some((
                            line,
                            Err(Skip::new("invalid UTF-8", format!("column {name}"))),
                        ));
                    };
                    if !cell.is_empty() {
                        map.insert(name.clone(), Value::String(cell.to_string()));
                    }
                }
                Some((line, Ok(Value::Object(map))))
            }
        }
    }
}

/// Parquet, read a slice of rows at a time so a large file is never held whole.
pub struct ParquetSource {
    /// Holds a decompressed copy alive while it is read (Parquet needs random access).
    _spill: Option<tempfile::NamedTempFile>,
    path: PathBuf,
    /// The first row to read, and one past the last.
    first_row: usize,
    rows: usize,
    next_row: usize,
    batch: Option<(DataFrame, usize)>,
}

/// Rows read at a time.
const PARQUET_BATCH_ROWS: usize = 64 * 1024;

impl ParquetSource {
    pub fn new(path: PathBuf) -> Result<Self> {
        Self::open_spilled(path, None)
    }

    /// Copies a stream (stdin, or a compressed file) to a temporary file and
    /// reads that; a stream over [`SizeLimits::document`] is refused once that
    /// much is copied, not after filling the disk.
    pub fn from_stream(stream: impl Read, limits: SizeLimits) -> Result<Self> {
        let mut spill = tempfile::NamedTempFile::new()
            .context("cannot create a temporary file for a Parquet stream")?;
        let copied = std::io::copy(
            &mut stream.take(limits.document.saturating_add(1)),
            &mut spill,
        )
        .context("cannot copy the Parquet stream to a temporary file")?;
        if copied > limits.document {
            anyhow::bail!(
                "the Parquet stream is larger than {} bytes: decompress it to a file (read in place, with no limit) or raise --max-document-size",
                limits.document
            );
        }
        let path = spill.path().to_path_buf();
        Self::open_spilled(path, Some(spill))
    }

    fn open_spilled(path: PathBuf, spill: Option<tempfile::NamedTempFile>) -> Result<Self> {
        crate::ingest::source::parquet_footer::check(&path)
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        let file = Self::open(&path)?;
        let rows = without_panics(|| ParquetReader::new(file).num_rows())
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        Ok(ParquetSource {
            _spill: spill,
            path,
            first_row: 0,
            rows,
            next_row: 0,
            batch: None,
        })
    }

    /// The file's rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Reads only rows `start..end` (of the file), numbered from 1 at `start`:
    /// one worker's share of a large file.
    pub fn with_rows(mut self, start: usize, end: usize) -> Self {
        self.first_row = start.min(self.rows);
        self.next_row = self.first_row;
        self.rows = end.min(self.rows);
        self
    }

    fn open(path: &PathBuf) -> Result<File> {
        File::open(path).with_context(|| format!("cannot open {}", path.display()))
    }

    fn load_batch(&mut self) -> Result<()> {
        let len = PARQUET_BATCH_ROWS.min(self.rows - self.next_row);
        let file = Self::open(&self.path)?;
        let first = self.next_row;
        let df = without_panics(|| {
            ParquetReader::new(file)
                .with_slice(Some((first, len)))
                .finish()
        })
        .with_context(|| format!("cannot read rows of {}", self.path.display()))?;
        self.batch = Some((df, 0));
        Ok(())
    }
}

impl RecordSource for ParquetSource {
    fn next_record(&mut self) -> Option<Decoded> {
        if self.next_row >= self.rows {
            return None;
        }
        if self.batch.as_ref().is_none_or(|(df, i)| *i >= df.height()) {
            if let Err(e) = self.load_batch() {
                // A batch that cannot be read cannot be skipped row by row: stop.
                let line = (self.next_row - self.first_row) as u64 + 1;
                self.next_row = self.rows;
                return Some((line, Err(Skip::new("unreadable Parquet", format!("{e:#}")))));
            }
        }
        let (df, i) = self.batch.as_mut().expect("batch loaded above");
        let mut map = Map::new();
        for column in df.columns() {
            let value = column.get(*i).map(any_value_to_json).unwrap_or(Value::Null);
            if !value.is_null() {
                map.insert(column.name().to_string(), value);
            }
        }
        *i += 1;
        self.next_row += 1;
        Some((
            (self.next_row - self.first_row) as u64,
            Ok(Value::Object(map)),
        ))
    }
}

/// Runs a polars read, turning a panic into an error. polars' Parquet decoder
/// panics on some corrupt metadata (found by fuzzing: "thrift bool field"); a
/// damaged file must be a skipped input, not the end of the run.
fn without_panics<T>(read: impl FnOnce() -> polars::prelude::PolarsResult<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(result) => Ok(result?),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            anyhow::bail!("the Parquet decoder failed on damaged data ({message})")
        }
    }
}

fn any_value_to_json(value: AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => x.into(),
        AnyValue::Int16(x) => x.into(),
        AnyValue::Int32(x) => x.into(),
        AnyValue::Int64(x) => x.into(),
        AnyValue::UInt8(x) => x.into(),
        AnyValue::UInt16(x) => x.into(),
        AnyValue::UInt32(x) => x.into(),
        AnyValue::UInt64(x) => x.into(),
        AnyValue::Float32(x) => x.into(),
        AnyValue::Float64(x) => x.into(),
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let ms = match unit {
                TimeUnit::Nanoseconds => v / 1_000_000,
                TimeUnit::Microseconds => v / 1_000,
                TimeUnit::Milliseconds => v,
            };
            // Epoch milliseconds; `fields::timestamp` reads them back exactly.
            ms.into()
        }
        AnyValue::List(series) => Value::Array(series.iter().map(any_value_to_json).collect()),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_one_value_several_back_to_back_or_one_after_a_timestamp() {
        let values = |line: &[u8]| {
            json_records(line).map(|records| {
                let trees: Vec<Value> = records
                    .into_iter()
                    .map(|r| r.into_tree().unwrap())
                    .collect();
                serde_json::to_string(&trees).unwrap()
            })
        };
        assert_eq!(values(br#"{"a":"\u00e9"}"#).unwrap(), r#"[{"a":"é"}]"#);
        assert_eq!(
            values(br#"{"a":1}{"b":2} {"c":3}"#).unwrap(),
            r#"[{"a":1},{"b":2},{"c":3}]"#
        );
        let exported = "2026-11-20T08:00:00.000Z  {\"a\":\"é\"}".as_bytes();
        assert_eq!(values(exported).unwrap(), r#"[{"a":"é"}]"#);
        // Bytes that are not text: before a timestamp's space they are left out,
        // in the value they are an error.
        assert_eq!(values(b"20\xff6 {\"a\":1}").unwrap(), r#"[{"a":1}]"#);
        assert!(values(b"{\"a\":\"\xff\"}").is_err());
        assert!(values(br#"{"a":1} x"#).is_err());
        assert!(values(br#"{"a":1}{"b":"#).is_err());
    }

    #[test]
    fn a_damaged_parquet_file_is_an_error_not_a_panic() {
        // Found by fuzzing: polars' decoder panics on this file's metadata.
        let damaged = include_bytes!("../../../tests/fixtures/damaged.parquet");
        match ParquetSource::from_stream(&damaged[..], SizeLimits::default()) {
            Err(e) => assert!(format!("{e:#}").contains("Parquet"), "{e:#}"),
            Ok(mut source) => while source.next_record().is_some() {},
        }
    }
    use serde_json::json;

    fn drain(mut source: impl RecordSource) -> Vec<Decoded> {
        std::iter::from_fn(|| source.next_record()).collect()
    }

    #[test]
    fn json_lines_number_lines_and_skip_bad_ones() {
        let text = b"{\"a\":1}\n\n{broken\n[1]\n{\"a\":2}";
        let got = drain(JsonSource::new(&text[..]).unwrap());
        let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 3, 4, 5]);
        assert_eq!(got[0].1, Ok(json!({"a": 1})));
        assert_eq!(got[1].1.as_ref().unwrap_err().kind, "malformed JSON");
        assert_eq!(got[2].1.as_ref().unwrap_err().kind, "not a JSON object");
        assert_eq!(got[3].1, Ok(json!({"a": 2})));
    }

    #[test]
    fn json_array_documents_are_records() {
        let got = drain(JsonSource::new(&b"  [{\"a\":1},\n {\"a\":2}]"[..]).unwrap());
        assert_eq!(
            got,
            vec![(1, Ok(json!({"a": 1}))), (2, Ok(json!({"a": 2})))]
        );
    }

    #[test]
    fn invalid_utf8_is_a_skipped_line() {
        let got = drain(JsonSource::new(&b"{\"a\":\"\xff\"}\n{\"a\":1}\n"[..]).unwrap());
        assert!(got[0].1.is_err());
        assert_eq!(got[1], (2, Ok(json!({"a": 1}))));
    }

    #[test]
    fn yaml_streams_and_lists_become_records() {
        let text = "kind: Role\nmetadata: {name: a}\n---\nkind: List\nitems:\n  - kind: ClusterRole\n    metadata: {name: b}\n  - kind: ClusterRole\n    metadata: {name: c}\n---\n";
        let got = drain(YamlSource::new(text.as_bytes()).unwrap());
        let names: Vec<(u64, &str)> = got
            .iter()
            .map(|(n, r)| {
                (
                    *n,
                    r.as_ref().unwrap()["metadata"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(names, vec![(1, "a"), (2, "b"), (2, "c")]);
        let bad = drain(YamlSource::new("a: [unclosed\n".as_bytes()).unwrap());
        assert_eq!(bad[0].1.as_ref().unwrap_err().kind, "malformed YAML");
    }

    #[test]
    fn csv_rows_become_objects_and_ragged_rows_are_skipped() {
        let text = "principal,status,org\nsvc-a,403,\nsvc-b,200\nsvc-c,200,M1\n";
        let got = drain(CsvSource::new(text.as_bytes()).unwrap());
        assert_eq!(
            got[0],
            (2, Ok(json!({"principal": "svc-a", "status": "403"})))
        );
        assert_eq!(got[1].0, 3);
        assert_eq!(got[1].1.as_ref().unwrap_err().kind, "ragged CSV row");
        assert_eq!(
            got[2],
            (
                4,
                Ok(json!({"principal": "svc-c", "status": "200", "org": "M1"}))
            )
        );
    }

    #[test]
    fn parquet_rows_become_objects() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let mut df = df!("principal" => ["svc-a", "svc-b"], "status" => [403i64, 200]).unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let got = drain(ParquetSource::new(path).unwrap());
        assert_eq!(
            got,
            vec![
                (1, Ok(json!({"principal": "svc-a", "status": 403}))),
                (2, Ok(json!({"principal": "svc-b", "status": 200}))),
            ]
        );
    }
}
