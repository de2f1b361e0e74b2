//! Splitting the event inputs into units that workers read apart: byte ranges
//! of plain JSON Lines, line ranges of plain CSV, row ranges of Parquet.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use super::decode::{self, CsvSource, JsonSource, ParquetSource, SizeLimits};
use super::input::{self, Compression, Encoding, InputFile, PARQUET_MAGIC};
use crate::model::Table;

/// A piece of event input one worker reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unit {
    pub(crate) file: usize,
    pub(crate) index: usize,
    pub(crate) part: Part,
}

/// Which part of its file a unit is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    Whole,
    /// A byte range of a plain JSON Lines file, cut at the first line start in it.
    Bytes(u64, u64),
    /// Rows `start..end` of an uncompressed Parquet file.
    Rows(usize, usize),
    /// Bytes `start..end` of a plain CSV file, both at line starts, holding
    /// `lines` lines; a range after the first takes the file's header row.
    Lines {
        start: u64,
        end: u64,
        lines: u64,
    },
}

/// About how many events the inputs hold, to size the filters of allowed objects
/// before reading: a logged request is rarely under 100 bytes (a CSV row of the
/// generated corpus is 112, a JSON line 197), and compressed inputs (gzip, zstd,
/// Parquet) hold about 8 times their size. Erring high costs memory within the
/// filters' cap; erring low costs diagnoses (an object looks allowed). Stdin
/// counts as nothing, and its filters keep their smallest size.
///
/// A file named as a trail delivers it to S3 (`ACCOUNT_CloudTrail_REGION_…`)
/// holds CloudTrail records, never under 800 bytes (the bench corpus's are
/// 1,629, real ones 1-2 KB): counted at 100 bytes, 1 GB of them asked for
/// filters of 2 x 16 MiB for 660,232 records, and the first touch of that
/// memory was the largest share of a run's system time.
pub(crate) fn expected_events(files: &[InputFile]) -> u64 {
    expected_events_at(files.iter().map(|f| (f, f.size())))
}

/// [`expected_events`] of inputs of the sizes given (a merge's, recorded
/// when the partials read them).
pub(crate) fn expected_events_at<'a>(files: impl Iterator<Item = (&'a InputFile, u64)>) -> u64 {
    const BYTES_PER_EVENT: u64 = 100;
    const BYTES_PER_CLOUDTRAIL_RECORD: u64 = 800;
    const COMPRESSION_RATIO: u64 = 8;
    files
        .filter(|(f, _)| f.table == Table::Events)
        .map(|(f, size)| {
            let path = f.display().to_ascii_lowercase();
            let name = path.rsplit(['/', '\\']).next().unwrap_or_default();
            let compressed = [".gz", ".zst", ".zstd", ".parquet"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            let per_event = if name.contains("_cloudtrail_") {
                BYTES_PER_CLOUDTRAIL_RECORD
            } else {
                BYTES_PER_EVENT
            };
            size.saturating_mul(if compressed { COMPRESSION_RATIO } else { 1 }) / per_event
        })
        .sum()
}

/// The bytes of each unit, for cutting them into shards: a byte or line
/// range's own, a whole file's size, a share of its file's for a row range.
pub(crate) fn unit_bytes(units: &[Unit], files: &[InputFile]) -> Vec<u64> {
    let mut per_file: BTreeMap<usize, u64> = BTreeMap::new();
    for unit in units {
        *per_file.entry(unit.file).or_default() += 1;
    }
    (units.iter())
        .map(|unit| match unit.part {
            Part::Bytes(start, end) | Part::Lines { start, end, .. } => end - start,
            Part::Whole | Part::Rows(..) => files[unit.file].size() / per_file[&unit.file].max(1),
        })
        .collect()
}

/// Cuts the event inputs into units. Plain (uncompressed, on-disk) JSON Lines
/// are cut into byte ranges, CSV into line ranges where a line is a record
/// ([`plain_csv_ranges`]) and Parquet files into row ranges; compressed streams
/// are read from their start.
pub(crate) fn event_units<'a>(
    files: impl Iterator<Item = (usize, &'a InputFile)>,
    range_bytes: u64,
) -> Vec<Unit> {
    let mut units = Vec::new();
    for (file, input) in files {
        let len = input.size();
        // A file that cannot even be sniffed is read whole, where the failure is handled.
        let parts: Vec<Part> = if len <= range_bytes {
            vec![Part::Whole]
        } else if is_plain_json_lines(input).unwrap_or(false) {
            let count = len.div_ceil(range_bytes);
            (0..count)
                .map(|i| Part::Bytes(i * range_bytes, ((i + 1) * range_bytes).min(len)))
                .collect()
        } else if let Some(ranges) = plain_csv_ranges(input, range_bytes).ok().flatten() {
            ranges
        } else if let Some(rows) = plain_parquet_rows(input) {
            // Rows per unit in proportion to bytes.
            let count = len.div_ceil(range_bytes) as usize;
            let step = rows.div_ceil(count).max(1);
            (0..rows)
                .step_by(step)
                .map(|start| Part::Rows(start, (start + step).min(rows)))
                .collect()
        } else {
            vec![Part::Whole]
        };
        units.extend(
            parts
                .into_iter()
                .enumerate()
                .map(|(index, part)| Unit { file, index, part }),
        );
    }
    units
}

/// Line ranges of an uncompressed CSV file on disk, about `range_bytes` each,
/// for workers to read apart; `None` for anything else, for a file in which a
/// quoted cell holds a newline (there a line is not a record) and for CRLF
/// line ends (the CSV reader numbers their lines its own way): those are read
/// whole. Costs one pass over the file; where it holds no quote, a search for
/// one newline per range and a count of the rest.
pub(crate) fn plain_csv_ranges(input: &InputFile, range_bytes: u64) -> Result<Option<Vec<Part>>> {
    let Some(path) = input.seekable_path() else {
        return Ok(None);
    };
    if input.encoding_from_name() != Some(Encoding::Csv) {
        return Ok(None);
    }
    let context = || format!("cannot read {}", path.display());
    let mut file = File::open(path).with_context(context)?;
    let mut cuts = LineCuts {
        every: range_bytes,
        next: range_bytes,
        newlines: 0,
        // Where each range starts, with the newlines before it.
        starts: vec![(0, 0)],
    };
    let mut buf = vec![0u8; 1 << 20];
    let (mut offset, mut in_quotes, mut last_byte) = (0u64, false, b'\n');
    loop {
        let n = file.read(&mut buf).with_context(context)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if offset == 0 && Compression::sniff(chunk) != Compression::None {
            return Ok(None);
        }
        if chunk.contains(&b'\r') {
            // CRLF: the CSV reader numbers the lines of such a file in its own
            // way, which a range would not reproduce.
            return Ok(None);
        }
        if !in_quotes && !chunk.contains(&b'"') {
            // No quote: every newline ends a record. Find the first newline at
            // or after each cut point; count the others.
            let mut from = 0;
            loop {
                let look = (cuts.next.saturating_sub(offset) as usize).max(from);
                let Some(i) = chunk
                    .get(look..)
                    .and_then(|c| c.iter().position(|&b| b == b'\n'))
                else {
                    break;
                };
                cuts.newlines += count_newlines(&chunk[from..look + i]);
                cuts.newline_at(offset + (look + i) as u64);
                from = look + i + 1;
            }
            cuts.newlines += count_newlines(&chunk[from..]);
        } else {
            for (i, &b) in chunk.iter().enumerate() {
                match b {
                    b'"' => in_quotes = !in_quotes,
                    b'\n' if in_quotes => return Ok(None),
                    b'\n' => cuts.newline_at(offset + i as u64),
                    _ => {}
                }
            }
        }
        last_byte = chunk[n - 1];
        offset += n as u64;
    }
    // A last line without its newline is a line too.
    let lines = cuts.newlines + u64::from(last_byte != b'\n');
    let mut starts = cuts.starts;
    starts.retain(|&(at, _)| at == 0 || at < offset);
    let ends = starts.iter().skip(1).copied().chain([(offset, lines)]);
    let parts = starts
        .iter()
        .zip(ends)
        .map(|(&(start, before), (end, before_end))| Part::Lines {
            start,
            end,
            lines: before_end - before,
        })
        .collect();
    Ok(Some(parts))
}

/// Cut points of a file at the first newline past every `every` bytes.
struct LineCuts {
    every: u64,
    next: u64,
    newlines: u64,
    starts: Vec<(u64, u64)>,
}

impl LineCuts {
    /// Counts the newline at byte `at`, cutting after it if a cut is due.
    fn newline_at(&mut self, at: u64) {
        self.newlines += 1;
        if at >= self.next {
            self.starts.push((at + 1, self.newlines));
            self.next = at + 1 + self.every;
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The rows of an uncompressed Parquet file on disk, which workers can share
/// by row ranges; `None` for anything else, or a file whose footer cannot be
/// read (it is read whole, where the failure is reported).
fn plain_parquet_rows(input: &InputFile) -> Option<usize> {
    let path = input.seekable_path()?;
    let mut head = [0u8; 4];
    File::open(path).ok()?.read_exact(&mut head).ok()?;
    if head != PARQUET_MAGIC {
        return None;
    }
    ParquetSource::new(path.to_path_buf())
        .ok()
        .map(|source| source.rows())
}

fn is_plain_json_lines(input: &InputFile) -> Result<bool> {
    if matches!(
        input.encoding_from_name(),
        Some(Encoding::Csv | Encoding::Parquet)
    ) {
        return Ok(false);
    }
    let mut head = vec![0u8; 4096];
    let n = if let Some(url) = input.object() {
        let bytes = super::remote::ObjectReader::head(url, head.len() as u64)?;
        head[..bytes.len()].copy_from_slice(&bytes);
        bytes.len()
    } else {
        let Some(path) = input.seekable_path() else {
            return Ok(false);
        };
        File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .with_context(|| format!("cannot read {}", path.display()))?
    };
    let compressed = Compression::sniff(&head[..n]) != Compression::None;
    Ok(!compressed && decode::is_json_lines(&head[..n]))
}

/// `path`, opened and positioned at byte `offset`.
fn open_at(path: &std::path::Path, offset: u64) -> Result<File> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    file.seek(SeekFrom::Start(offset))
        .with_context(|| format!("cannot seek in {}", path.display()))?;
    Ok(file)
}

/// How a worker reads a range of a plain file.
pub struct RangeReader<'a> {
    /// Through a memory map (else `read`).
    pub mmap: bool,
    pub progress: &'a ProgressBar,
    pub limits: SizeLimits,
}

impl RangeReader<'_> {
    /// A source over bytes `[start, end)` of a CSV file, both at line starts;
    /// past the first range, its columns are named by the file's header row.
    pub fn csv(
        &self,
        input: &InputFile,
        start: u64,
        end: u64,
    ) -> Result<CsvSource<impl Read + Send>> {
        let path = input.path.as_ref().expect("ranges are cut only from files");
        let file = open_at(path, start)?;
        let range = input::PlainRange::up_to(file, end, self.mmap, self.progress.clone())
            .with_context(|| format!("cannot read {}", path.display()))?;
        if start == 0 {
            return CsvSource::with_limits(range, self.limits);
        }
        let header = CsvSource::with_limits(BufReader::new(open_at(path, 0)?), self.limits)?;
        Ok(CsvSource::with_headers(
            range,
            header.headers().to_vec(),
            self.limits,
        ))
    }

    /// A source over the lines that start in `[start, end)`: the line cut by
    /// `start` belongs to the range before.
    pub fn json(
        &self,
        input: &InputFile,
        start: u64,
        end: u64,
    ) -> Result<JsonSource<impl BufRead + Send>> {
        let path = input.path.as_ref().expect("ranges are cut only from files");
        let seek_to = start.saturating_sub(1);
        let mut reader = match input.object() {
            Some(url) => {
                input::PlainRange::Object(super::remote::ObjectReader::open(url, seek_to)?)
            }
            None => {
                let file = open_at(path, seek_to)?;
                input::PlainRange::lines_from(file, end, self.mmap, self.progress.clone())
                    .with_context(|| format!("cannot read {}", path.display()))?
            }
        };
        let mut line_start = seek_to;
        if start > 0 {
            let mut skipped = Vec::new();
            line_start += reader
                .read_until(b'\n', &mut skipped)
                .with_context(|| format!("cannot read {}", path.display()))?
                as u64;
        }
        let limit = end.saturating_sub(line_start);
        Ok(JsonSource::with_limits(reader, self.limits)?.with_byte_limit(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, table: Table) -> InputFile {
        InputFile {
            path: Some(path.into()),
            table,
            explicit: false,
            stream: false,
        }
    }

    #[test]
    fn events_are_expected_by_size_and_kind_of_file() {
        let trail = "logs/111122223333_CloudTrail_eu-west-1_20261102T0007Z_HRkUkqsK.json.gz";
        let cases = [
            (file("logs/events.jsonl", Table::Events), 1_000_000, 10_000),
            (
                file("logs/events.jsonl.gz", Table::Events),
                1_000_000,
                80_000,
            ),
            (file(trail, Table::Events), 1_000_000, 10_000),
            // Only the file's own name says it is a trail's.
            (
                file("a_CloudTrail_b/events.jsonl", Table::Events),
                1_000_000,
                10_000,
            ),
            (file("logs/tokens.jsonl", Table::Tokens), 1_000_000, 0),
        ];
        for (input, size, expected) in &cases {
            let got = expected_events_at(std::iter::once((input, *size)));
            assert_eq!(got, *expected, "{}", input.display());
        }
        let all = cases.iter().map(|(input, size, _)| (input, *size));
        assert_eq!(expected_events_at(all), 110_000);
    }
}
