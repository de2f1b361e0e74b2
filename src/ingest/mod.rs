//! Stage 1, ingest: input files in, [`Ingested`] out.
//!
//! Events are read in parallel, across files and within one large file (cut into
//! byte ranges at line boundaries), and folded into [`Aggregates`]; they are never
//! all held at once. The small tables (tokens, role snapshots, roles, policies)
//! are read whole, first, because the event groups are cut at snapshot instants.

pub mod aggregate;
pub mod decode;
pub mod fast;
pub mod fields;
pub mod formats;
pub mod input;
pub mod parquet_footer;
pub mod quarantine;
pub mod rbac;
pub mod redact;
pub mod seen;
pub mod spill;
pub mod tables;
pub mod template;
pub mod timeline;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use self::aggregate::{Aggregates, BadRecord, Derived, Position, TableStats};
use self::decode::{CsvSource, JsonSource, ParquetSource, RecordSource, SizeLimits, YamlSource};
use self::fast::FastPath;
use self::fields::{FieldMap, Skip};
use self::formats::InputFormat;
use self::input::{Compression, Encoding, InputFile};
use self::seen::SeenObjects;
use self::template::Templater;
use self::timeline::Timeline;
use crate::model::{Millis, Policy, RoleBinding, RoleDef, Table, Token};

/// Size of the byte ranges one plain JSON Lines file is cut into: large enough that
/// per-range overhead vanishes, small enough that a 10 GB file feeds every core.
const RANGE_BYTES: u64 = 32 << 20;

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub field_map: FieldMap,
    /// Draw progress bars (only ever on a terminal).
    pub progress: bool,
    /// Plain JSON Lines files larger than this are cut into ranges of this size.
    pub range_bytes: u64,
    /// How long after a grant a denial is still taken for permission sync.
    pub propagation_window: Millis,
    /// More path-segment patterns that mean an id (`--id-pattern`).
    pub id_patterns: Vec<String>,
    /// Distinct values after a prefix from which a parameter is learned; 0 learns nothing.
    pub learn_min_values: usize,
    /// Which log format events are read as.
    pub input_format: InputFormat,
    /// Any record that cannot be used stops the run (a [`StrictFailure`]).
    pub strict: bool,
    /// Fail as an [`UnusableInput`] when no event is used or more than this
    /// share of them is skipped; `None` never fails (the library's default:
    /// the command line sets it).
    pub max_skipped: Option<f64>,
    /// Denied requests kept per group as evidence; `usize::MAX` keeps every one.
    pub samples_per_group: usize,
    /// Count allowed requests of flat JSON Lines through [`fast::FastPath`]
    /// (off only to check it against the full path).
    pub fast_path: bool,
    /// Write every skipped record here (JSON Lines: where, why, the record redacted).
    pub quarantine: Option<PathBuf>,
    /// Keep every used event as an [`aggregate::EventRow`] (for `grantgap query`;
    /// memory grows with the input, so only when asked).
    pub event_rows: bool,
    /// Read ranges of plain JSON Lines and CSV files through a memory map
    /// ([`input::Mapped`]); off (`--no-mmap`), with `read`.
    pub mmap: bool,
    /// Denial groups a worker holds before it writes them to a temporary file
    /// ([`spill`]): what bounds ingest's memory, whatever the input's size.
    pub spill_after: usize,
    /// The largest record and document read; longer ones are skipped.
    pub limits: SizeLimits,
}

/// About 30 MB of denial groups per worker, as read (with their objects and
/// samples).
pub const SPILL_AFTER_GROUPS: usize = 1 << 16;

/// Events read, from the start of the inputs, to learn path templates from.
const TEMPLATE_SAMPLE_EVENTS: usize = 200_000;

/// Ten minutes: "save and sync permissions (can take 5-10 minutes)".
pub const DEFAULT_PROPAGATION_WINDOW: Millis = 10 * 60 * 1000;

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            field_map: FieldMap::default(),
            progress: false,
            range_bytes: RANGE_BYTES,
            samples_per_group: aggregate::SAMPLES_PER_GROUP,
            fast_path: true,
            quarantine: None,
            event_rows: false,
            mmap: true,
            spill_after: SPILL_AFTER_GROUPS,
            propagation_window: DEFAULT_PROPAGATION_WINDOW,
            id_patterns: Vec::new(),
            learn_min_values: template::DEFAULT_LEARN_MIN_VALUES,
            input_format: InputFormat::Auto,
            strict: false,
            max_skipped: None,
            limits: SizeLimits::default(),
        }
    }
}

/// What ingest hands to correlation: event aggregates and the small tables.
#[derive(Debug)]
pub struct Ingested {
    pub events: Aggregates,
    pub tokens: Vec<Token>,
    pub bindings: Vec<RoleBinding>,
    pub roles: Vec<RoleDef>,
    pub policies: Vec<Policy>,
    /// Records read, used and skipped, per table.
    pub stats: BTreeMap<Table, TableStats>,
    /// The first skipped records of all tables, by position.
    pub bad_records: Vec<BadRecord>,
    /// The inputs, indexed by [`Position::file`].
    pub files: Vec<InputFile>,
    /// Path prefixes whose next segment was learned to be a parameter.
    pub learned_templates: Vec<String>,
}

impl Ingested {
    /// `file:line` of a position, with the line counted from the start of the file.
    pub fn locate(&self, position: Position) -> String {
        Self::locate_in(&self.files, &self.events.unit_lines, position)
    }

    fn locate_in(
        files: &[InputFile],
        unit_lines: &BTreeMap<(usize, usize), u64>,
        position: Position,
    ) -> String {
        let file = files[position.file()].display();
        if position.line == 0 {
            // The file as a whole (it could not be opened).
            return file;
        }
        let earlier: u64 = unit_lines
            .range((position.file(), 0)..(position.file(), position.unit()))
            .map(|(_, lines)| lines)
            .sum();
        format!("{file}:{}", earlier + position.line)
    }
}

/// The skip reason of a file found in a folder or by a glob that cannot be read.
pub const UNREADABLE_FILE: &str = "unreadable file";

/// A file found in a folder or by a glob that cannot be opened is counted and
/// skipped; one the user named stops the run.
fn skip_unreadable(
    input: &InputFile,
    error: anyhow::Error,
    agg: &mut Aggregates,
    position: Position,
) -> Result<()> {
    if input.explicit {
        return Err(error);
    }
    agg.add_skip(position, Skip::new(UNREADABLE_FILE, format!("{error:#}")));
    Ok(())
}

/// Bad input under `--strict`: the run stops before any output.
#[derive(Debug)]
pub struct StrictFailure {
    pub skipped: u64,
    pub first: Vec<String>,
}

impl std::fmt::Display for StrictFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--strict: {} input records could not be used (first: {}); fix them or run without --strict to skip and count them",
            self.skipped,
            self.first.join("; ")
        )
    }
}

impl std::error::Error for StrictFailure {}

/// Events that cannot make a report a nightly job should trust: none at all
/// (empty input, or a log in a shape grantgap does not read), or more skipped
/// than `--max-skipped` allows. A broken feed must not look like a night
/// without 403s.
#[derive(Debug)]
pub struct UnusableInput {
    used: u64,
    skipped: u64,
    max_share: f64,
    /// The most frequent skip reasons, most first.
    reasons: Vec<(String, u64)>,
}

impl UnusableInput {
    /// Fails when no event was used, or when skipped events (stage folds, which
    /// are repeats, aside) pass `max_share` of those read.
    fn check(events: &TableStats, max_share: f64) -> Result<(), Self> {
        let mut reasons: Vec<(String, u64)> = events
            .skipped
            .iter()
            .filter(|(kind, _)| kind.as_str() != fields::FOLDED)
            .map(|(kind, n)| (kind.clone(), *n))
            .collect();
        let skipped: u64 = reasons.iter().map(|(_, n)| n).sum();
        let share = skipped as f64 / (events.used + skipped).max(1) as f64;
        if events.used > 0 && share <= max_share {
            return Ok(());
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        reasons.truncate(3);
        Err(UnusableInput {
            used: events.used,
            skipped,
            max_share,
            reasons,
        })
    }
}

impl std::fmt::Display for UnusableInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        if self.used == 0 && self.skipped == 0 {
            return write!(
                f,
                "the inputs hold no events: check that the feed wrote its files (no report was written)"
            );
        }
        if self.used == 0 {
            return write!(
                f,
                "no event could be used: {} skipped ({}); check the log's format (--input-format, --map) (no report was written)",
                self.skipped,
                reasons.join(", ")
            );
        }
        write!(
            f,
            "{} of {} events skipped ({:.1}%, more than --max-skipped {}): {}; see the first bad records above, or raise --max-skipped (0 allows any share) (no report was written)",
            self.skipped,
            self.used + self.skipped,
            100.0 * self.skipped as f64 / (self.used + self.skipped) as f64,
            self.max_share,
            reasons.join(", ")
        )
    }
}

impl std::error::Error for UnusableInput {}

/// Reads every input. Fails only when an input cannot be opened at all; bad
/// records are counted, kept as samples and skipped.
pub fn ingest(files: Vec<InputFile>, options: &IngestOptions) -> Result<Ingested> {
    let total_bytes = files.iter().map(InputFile::size).sum();
    let progress = progress_bar(total_bytes, options.progress);
    let map = &options.field_map;

    // The field map renames event fields only: the small tables are written for
    // grantgap and use the canonical names.
    let canonical = FieldMap::default();
    let mut small = SmallTables {
        files: &files,
        map: &canonical,
        progress: &progress,
        stats: BTreeMap::new(),
        bad: Vec::new(),
        quarantine: options.quarantine.as_ref().map(|_| Vec::new()),
        limits: options.limits,
    };
    let read_small_tables = || -> Result<_> {
        let tokens = small.read(Table::Tokens, tables::token_from_record)?;
        let bindings = small.read(Table::RoleSnapshots, tables::binding_from_record)?;
        let roles = small.read(Table::Roles, tables::role_from_record)?;
        let policies = small.read(Table::Policies, tables::policy_from_record)?;
        let (rbac_roles, rbac_bindings) = small.read_rbac()?;
        let (mut roles, mut bindings) = (roles, bindings);
        roles.extend(rbac_roles);
        bindings.extend(rbac_bindings);
        Ok((tokens, bindings, roles, policies))
    };
    let learn_templates = || -> Result<Templater> {
        let mut templater = Templater::with_patterns(&options.id_patterns)?;
        if options.learn_min_values > 0 {
            let paths = sample_paths(&files, map, options.input_format, options.limits)?;
            templater.learn(paths.iter().map(String::as_str), options.learn_min_values);
        }
        Ok(templater)
    };
    // Both read on one core each (0.1 and 0.45 s before a 2 GB corpus), and
    // neither needs the other.
    let (small_tables, templater) = rayon::join(read_small_tables, learn_templates);
    let (tokens, bindings, roles, policies) = small_tables?;
    let templater = templater?;
    let SmallTables {
        mut stats,
        mut bad,
        quarantine: small_quarantine,
        ..
    } = small;

    let bindings = timeline::with_role_changes(bindings, &roles);
    let timeline = Timeline::new(&bindings, &tokens, options.propagation_window);

    let units = event_units(
        files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.table == Table::Events),
        options.range_bytes,
    );
    let seen = Arc::new(SeenObjects::for_objects(expected_events(&files)));
    let reader = EventReader {
        files: &files,
        map,
        progress: &progress,
        timeline: &timeline,
        templater: &templater,
        format: options.input_format,
        samples_per_group: options.samples_per_group,
        seen: &seen,
        quarantine: options.quarantine.is_some(),
        event_rows: options.event_rows,
        mmap: options.mmap,
        limits: options.limits,
        // The fast path folds allowed requests into counters: no row to keep.
        fast_path: options.fast_path
            && !options.event_rows
            && map.is_empty()
            && matches!(
                options.input_format,
                InputFormat::Auto | InputFormat::Generic
            ),
    };
    // Ingest's own steps, within the "ingest" lap.
    let mut clock = crate::StageClock::start();
    // One set of aggregates per thread, each taking the next unit while any is
    // left, merged once at the end. A unit's own set would rebuild the maps of
    // allowed requests, about as large, hundreds of times; rayon's fold makes
    // one per split of the list, and each extra set cost a merge of maps as
    // large as the result (0.55 s of CPU on the 2 GB corpus, much of it while
    // the other core read on alone).
    let queue = std::sync::Mutex::new(units.into_iter());
    let failed = std::sync::atomic::AtomicBool::new(false);
    let per_thread = rayon::broadcast(|_| {
        let mut agg = reader.aggregates();
        while !failed.load(std::sync::atomic::Ordering::Relaxed) {
            let Some(unit) = queue.lock().expect("no worker panics").next() else {
                break;
            };
            let read = reader.read(&mut agg, unit);
            if let Err(e) = read.and_then(|()| agg.spill_if_full(options.spill_after)) {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(agg)
    });
    let mut events = reader.aggregates();
    for agg in per_thread {
        events = events.merge(agg?);
    }
    progress.finish_and_clear();
    clock.lap("ingest: read events");
    drop(seen);
    if let Some(rows) = &mut events.rows {
        rows.sort_unstable_by_key(|r| r.position);
    }

    stats.insert(Table::Events, events.stats.clone());
    bad.extend(events.bad.iter().cloned());
    bad.sort();
    bad.truncate(aggregate::BAD_RECORDS_KEPT);
    if options.strict {
        let skipped: u64 = stats
            .values()
            .flat_map(|t| t.skipped.iter())
            .filter(|(kind, _)| kind.as_str() != fields::FOLDED)
            .map(|(_, n)| n)
            .sum();
        if skipped > 0 {
            let locate = |b: &BadRecord| {
                let at = Ingested::locate_in(&files, &events.unit_lines, b.position);
                format!("{at}: {}: {}", b.kind, b.detail)
            };
            let first = bad.iter().take(3).map(locate).collect();
            return Err(StrictFailure { skipped, first }.into());
        }
    }
    // After the strict check: a --strict run that fails writes nothing.
    if let Some(path) = &options.quarantine {
        let mut records = small_quarantine.unwrap_or_default();
        records.extend(events.quarantine.take().unwrap_or_default());
        records.sort();
        let located = records.into_iter().map(|q| {
            let at = Ingested::locate_in(&files, &events.unit_lines, q.position);
            (at, q)
        });
        quarantine::write(path, located)?;
    }
    // After the quarantine: it holds what a failed feed's records were.
    if let Some(max_share) = options.max_skipped {
        UnusableInput::check(&stats[&Table::Events], max_share)?;
    }
    let learned_templates = templater
        .learned()
        .into_iter()
        .map(|p| format!("{p}/{{id}}"))
        .collect();
    Ok(Ingested {
        learned_templates,
        events,
        tokens,
        bindings,
        roles,
        policies,
        stats,
        bad_records: bad,
        files,
    })
}

fn progress_bar(total: u64, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("progress template is valid"),
    );
    bar
}

/// Opens one input as a record source, whatever its encoding and compression.
fn open_source(
    input: &InputFile,
    progress: &ProgressBar,
    limits: SizeLimits,
) -> Result<Box<dyn RecordSource>> {
    let (mut stream, compression) = input::open(input, progress)?;
    let encoding = match input.encoding_from_name() {
        Some(encoding) => encoding,
        None => sniff_encoding(&mut stream)
            .with_context(|| format!("cannot read {}", input.display()))?,
    };
    let context = || format!("cannot read {}", input.display());
    Ok(match encoding {
        Encoding::Json => Box::new(JsonSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Yaml => Box::new(YamlSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Csv => Box::new(CsvSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Parquet => match (input.seekable_path(), compression) {
            (Some(path), Compression::None) => Box::new(ParquetSource::new(path.to_path_buf())?),
            _ => Box::new(ParquetSource::from_stream(stream, limits).with_context(context)?),
        },
    })
}

/// The encoding of a stream whose name does not say: JSON starts with `{` or `[`,
/// Parquet with `PAR1`, YAML with `---`, `apiVersion:` or `kind:`, anything else
/// is taken for CSV.
fn sniff_encoding(stream: &mut dyn BufRead) -> std::io::Result<Encoding> {
    let head = stream.fill_buf()?;
    if head.starts_with(b"PAR1") {
        return Ok(Encoding::Parquet);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(256)]);
    let text = text.trim_start();
    Ok(match text.as_bytes().first() {
        Some(b'{' | b'[') => Encoding::Json,
        // A YAML document marker, or a manifest's first key.
        _ if text.starts_with("---")
            || text.starts_with("apiVersion:")
            || text.starts_with("kind:") =>
        {
            Encoding::Yaml
        }
        _ => Encoding::Csv,
    })
}

/// The paths of the first events of the inputs, to learn templates from. Reading
/// them again later costs little: they are at most a few tens of MB.
fn sample_paths(
    files: &[InputFile],
    map: &FieldMap,
    format: InputFormat,
    limits: SizeLimits,
) -> Result<Vec<String>> {
    let mut paths = Vec::new();
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
        while let Some((_, record)) = source.next_record() {
            if paths.len() >= TEMPLATE_SAMPLE_EVENTS {
                return Ok(paths);
            }
            if let Some(path) = record
                .ok()
                .and_then(|r| formats::generic_path(&r, map, format))
            {
                paths.push(path);
            }
        }
    }
    Ok(paths)
}

type ParseFn<T> = fn(&Value, &FieldMap) -> Result<T, Skip>;

/// Reads the small tables, sequentially and whole, keeping their counts and bad records.
struct SmallTables<'a> {
    files: &'a [InputFile],
    map: &'a FieldMap,
    progress: &'a ProgressBar,
    stats: BTreeMap<Table, TableStats>,
    bad: Vec<BadRecord>,
    /// Skipped rows, when `--quarantine` asks for them.
    quarantine: Option<Vec<aggregate::Quarantined>>,
    limits: SizeLimits,
}

impl SmallTables<'_> {
    /// Reads the RBAC dumps into role definitions (aggregation followed) and bindings.
    fn read_rbac(&mut self) -> Result<(Vec<RoleDef>, Vec<RoleBinding>)> {
        let objects = self.read(Table::Rbac, |record, _| rbac::object_from_record(record))?;
        let mut roles = Vec::new();
        let mut bindings = Vec::new();
        for object in objects {
            match object {
                rbac::RbacObject::Role(def, aggregation) => roles.push((def, aggregation)),
                rbac::RbacObject::Bindings(b) => bindings.extend(b),
            }
        }
        rbac::aggregate(&mut roles);
        Ok((roles.into_iter().map(|(def, _)| def).collect(), bindings))
    }

    fn read<T>(&mut self, table: Table, parse: ParseFn<T>) -> Result<Vec<T>> {
        let mut rows = Vec::new();
        let mut skips = Aggregates {
            quarantine: self.quarantine.take(),
            ..Aggregates::default()
        };
        for (file, input) in self
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.table == table)
        {
            let mut source = match open_source(input, self.progress, self.limits) {
                Ok(source) => source,
                Err(e) => {
                    skip_unreadable(input, e, &mut skips, Position::new(file, 0, 0))?;
                    continue;
                }
            };
            while let Some((line, record)) = source.next_record() {
                let position = Position::new(file, 0, line);
                match record
                    .and_then(|r| parse(&r, self.map).map_err(|s| s.with_raw(r.to_string())))
                {
                    Ok(row) => rows.push(row),
                    Err(skip) => skips.add_skip(position, skip),
                }
            }
        }
        let mut stats = skips.stats;
        stats.used = rows.len() as u64;
        stats.read += stats.used;
        self.stats.insert(table, stats);
        self.bad.extend(skips.bad);
        self.quarantine = skips.quarantine;
        Ok(rows)
    }
}

/// A piece of event input one worker reads.
#[derive(Debug, Clone, Copy)]
struct Unit {
    file: usize,
    index: usize,
    part: Part,
}

/// Which part of its file a unit is.
#[derive(Debug, Clone, Copy)]
enum Part {
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
fn expected_events(files: &[InputFile]) -> u64 {
    const BYTES_PER_EVENT: u64 = 100;
    const COMPRESSION_RATIO: u64 = 8;
    files
        .iter()
        .filter(|f| f.table == Table::Events)
        .map(|f| {
            let name = f.display().to_ascii_lowercase();
            let compressed = [".gz", ".zst", ".zstd", ".parquet"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            let bytes = f
                .size()
                .saturating_mul(if compressed { COMPRESSION_RATIO } else { 1 });
            bytes / BYTES_PER_EVENT
        })
        .sum()
}

/// Cuts the event inputs into units. Plain (uncompressed, on-disk) JSON Lines
/// are cut into byte ranges, CSV into line ranges where a line is a record
/// ([`plain_csv_ranges`]) and Parquet files into row ranges; compressed streams
/// are read from their start.
fn event_units<'a>(
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
fn plain_csv_ranges(input: &InputFile, range_bytes: u64) -> Result<Option<Vec<Part>>> {
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
        let compressed =
            chunk.starts_with(&[0x1f, 0x8b]) || chunk.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        if offset == 0 && compressed {
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
    if &head != b"PAR1" {
        return None;
    }
    ParquetSource::new(path.to_path_buf())
        .ok()
        .map(|source| source.rows())
}

fn is_plain_json_lines(input: &InputFile) -> Result<bool> {
    let Some(path) = input.seekable_path() else {
        return Ok(false);
    };
    if matches!(
        input.encoding_from_name(),
        Some(Encoding::Csv | Encoding::Parquet)
    ) {
        return Ok(false);
    }
    let mut head = [0u8; 4096];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let compressed = head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    Ok(!compressed && decode::is_json_lines(&head[..n]))
}

/// `path`, opened and positioned at byte `offset`.
fn open_at(path: &std::path::Path, offset: u64) -> Result<File> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    file.seek(SeekFrom::Start(offset))
        .with_context(|| format!("cannot seek in {}", path.display()))?;
    Ok(file)
}

/// Everything a worker needs to fold one unit of events into aggregates.
struct EventReader<'a> {
    files: &'a [InputFile],
    map: &'a FieldMap,
    progress: &'a ProgressBar,
    timeline: &'a Timeline,
    templater: &'a Templater,
    format: InputFormat,
    samples_per_group: usize,
    seen: &'a Arc<SeenObjects>,
    /// Allowed requests in canonical JSON Lines take [`FastPath`].
    fast_path: bool,
    /// Keep skipped records for `--quarantine`.
    quarantine: bool,
    /// Keep every used event.
    event_rows: bool,
    /// Map ranges of plain files into memory.
    mmap: bool,
    limits: SizeLimits,
}

impl EventReader<'_> {
    /// Empty aggregates for one worker.
    fn aggregates(&self) -> Aggregates {
        let mut agg = Aggregates::new(self.samples_per_group, self.seen.clone());
        agg.quarantine = self.quarantine.then(Vec::new);
        agg.rows = self.event_rows.then(Vec::new);
        agg
    }

    /// Folds the events of one unit into `agg`.
    fn read(&self, agg: &mut Aggregates, unit: Unit) -> Result<()> {
        let input = &self.files[unit.file];
        let opened = match unit.part {
            Part::Whole => open_source(input, self.progress, self.limits)
                .map(|mut source| self.fold(agg, &mut *source, unit)),
            Part::Bytes(start, end) => self.open_range(input, start, end).map(|mut source| {
                self.fold(agg, &mut source, unit);
                agg.unit_lines
                    .insert((unit.file, unit.index), source.lines_read());
            }),
            Part::Lines { start, end, lines } => {
                self.open_csv_range(input, start, end).map(|mut source| {
                    self.fold(agg, &mut source, unit);
                    agg.unit_lines.insert((unit.file, unit.index), lines);
                })
            }
            Part::Rows(start, end) => {
                let path = input
                    .path
                    .clone()
                    .expect("row ranges are cut only from files");
                ParquetSource::new(path).map(|source| {
                    let mut source = source.with_rows(start, end);
                    self.fold(agg, &mut source, unit);
                    agg.unit_lines
                        .insert((unit.file, unit.index), (end - start) as u64);
                })
            }
        };
        if let Err(e) = opened {
            skip_unreadable(input, e, agg, Position::new(unit.file, unit.index, 0))?;
        }
        Ok(())
    }

    /// A source over bytes `[start, end)` of a CSV file, both at line starts;
    /// past the first range, its columns are named by the file's header row.
    fn open_csv_range(
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
    fn open_range(
        &self,
        input: &InputFile,
        start: u64,
        end: u64,
    ) -> Result<JsonSource<impl BufRead + Send>> {
        let path = input.path.as_ref().expect("ranges are cut only from files");
        let seek_to = start.saturating_sub(1);
        let file = open_at(path, seek_to)?;
        let mut reader = input::PlainRange::lines_from(file, end, self.mmap, self.progress.clone())
            .with_context(|| format!("cannot read {}", path.display()))?;
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

    fn fold(&self, agg: &mut Aggregates, source: &mut dyn RecordSource, unit: Unit) {
        let mut fast = self.fast_path.then(|| FastPath::new(self.templater));
        loop {
            let next = match &mut fast {
                Some(fast) => {
                    let agg = &mut *agg;
                    source.next_record_unless(&mut |line| fast.count_success(agg, line))
                }
                None => source.next_record(),
            };
            let Some((line, record)) = next else { break };
            let position = Position::new(unit.file, unit.index, line);
            let quarantining = agg.quarantine.is_some();
            let event = record.and_then(|r| {
                formats::event_from_record(&r, self.map, self.format).map_err(|skip| {
                    // The record as read goes to the quarantine; no cost otherwise.
                    if quarantining {
                        skip.with_raw(r.to_string())
                    } else {
                        skip
                    }
                })
            });
            match event {
                Ok(event) => {
                    let (template, path_object) = self.templater.template(&event.path);
                    // Only denial groups are cut by the timeline: allowed requests skip the lookups.
                    let denied = event.is_denial();
                    let derived = Derived {
                        template,
                        path_object,
                        segment: if denied {
                            self.timeline.segment(&event.principal, event.ts)
                        } else {
                            0
                        },
                        after_token_expiry: denied
                            && self
                                .timeline
                                .after_expiry(event.token_id.as_deref(), event.ts),
                    };
                    agg.add_event(event, derived, position);
                }
                Err(skip) => agg.add_skip(position, skip),
            }
        }
        agg.flush_seen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;

    const EVENTS: &str = r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"PUT","path":"/w/WO1","status":403,"request_id":"r1"}
{"ts":"2026-11-20T00:00:02Z","principal":"svc-a","method":"GET","path":"/w/WO2","status":200}
{not json

{"ts":"2026-11-20T00:00:03Z","principal":"svc-b","method":"PUT","path":"/w/WO3","status":403}
{"ts":"yesterday","principal":"svc-b","method":"PUT","path":"/w/WO3","status":403}
{"ts":"2026-11-20T00:00:04Z","principal":"svc-a","method":"PUT","path":"/w/WO1","status":403,"request_id":"r0"}
{"ts":"2026-11-20T00:00:05Z","method":"PUT","path":"/w/WO1","status":403}
{"ts":"2026-11-20T00:00:06Z","principal":"svc-c","method":"DELETE","path":"/w/WO9","status":404}
"#;

    fn events_file(dir: &Path, name: &str, bytes: &[u8]) -> InputFile {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        InputFile {
            path: Some(path),
            table: Table::Events,
            explicit: true,
            stream: false,
        }
    }

    /// What a report depends on, in a comparable order.
    /// Denial groups (name, count, first, last, samples), event stats, bad lines (line, reason).
    type Essence = (
        Vec<(String, u64, Millis, Millis, Vec<String>)>,
        TableStats,
        Vec<(String, String)>,
    );

    fn essence(ingested: &Ingested) -> Essence {
        let mut groups: Vec<_> = ingested
            .events
            .denial_groups_copy()
            .iter()
            .map(|(k, g)| {
                let ids = g
                    .samples
                    .iter()
                    .map(|s| format!("{:?}@{}", s.request_id, ingested.locate(s.position)))
                    .collect();
                (
                    format!("{} {} {}", k.principal, k.method, k.template),
                    g.count,
                    g.first_ts,
                    g.last_ts,
                    ids,
                )
            })
            .collect();
        groups.sort();
        let bad = ingested
            .bad_records
            .iter()
            .map(|b| {
                (
                    ingested
                        .locate(b.position)
                        .rsplit(':')
                        .next()
                        .unwrap()
                        .to_string(),
                    b.kind.clone(),
                )
            })
            .collect();
        (groups, ingested.events.stats.clone(), bad)
    }

    #[test]
    fn row_ranges_of_one_parquet_file_give_what_the_whole_file_gives() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let n = 40;
        let ts: Vec<String> = (0..n)
            .map(|i| format!("2026-11-20T00:00:{:02}Z", i % 60))
            .collect();
        let principal: Vec<String> = (0..n).map(|i| format!("svc-{}", i % 3)).collect();
        let path_column: Vec<String> = (0..n).map(|i| format!("/w/WO{}", i % 7)).collect();
        let status: Vec<i64> = (0..n).map(|i| if i % 4 == 0 { 403 } else { 200 }).collect();
        let request_id: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let mut df = df!(
            "ts" => ts,
            "principal" => principal,
            "method" => vec!["PUT"; n],
            "path" => path_column,
            "status" => status,
            "request_id" => request_id,
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let file = || InputFile {
            path: Some(path.clone()),
            table: Table::Events,
            explicit: true,
            stream: false,
        };
        let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        for range_bytes in [1, size / 7, size / 2] {
            let options = IngestOptions {
                range_bytes,
                ..Default::default()
            };
            let units = event_units([(0, &file())].into_iter(), range_bytes);
            assert!(units.len() > 1, "range_bytes {range_bytes}: {units:?}");
            let cut = ingest(vec![file()], &options).unwrap();
            assert_eq!(essence(&cut), essence(&whole), "range_bytes {range_bytes}");
        }
        let (groups, stats, _) = essence(&whole);
        assert_eq!((stats.read, stats.used), (40, 40));
        // Rows keep their numbers in the file, whichever unit read them.
        let samples: Vec<&String> = groups.iter().flat_map(|g| &g.4).collect();
        assert!(
            samples
                .iter()
                .any(|s| s.starts_with("Some(\"r36\")@") && s.ends_with("events.parquet:37")),
            "{samples:?}"
        );
    }

    #[test]
    fn ranges_of_one_file_give_what_the_whole_file_gives() {
        let dir = tempfile::tempdir().unwrap();
        let whole = ingest(
            vec![events_file(dir.path(), "a.jsonl", EVENTS.as_bytes())],
            &IngestOptions::default(),
        )
        .unwrap();
        for range_bytes in [1, 7, 50, 120, 400] {
            // Mapped into memory, or read with `read` (`--no-mmap`).
            for mmap in [true, false] {
                let options = IngestOptions {
                    range_bytes,
                    mmap,
                    ..Default::default()
                };
                let cut = ingest(
                    vec![events_file(dir.path(), "a.jsonl", EVENTS.as_bytes())],
                    &options,
                )
                .unwrap();
                assert_eq!(
                    essence(&cut),
                    essence(&whole),
                    "range_bytes {range_bytes}, mmap {mmap}"
                );
            }
        }
        let (groups, stats, bad) = essence(&whole);
        assert_eq!(groups[0].1, 2, "{groups:?}");
        assert_eq!((stats.read, stats.used, stats.skipped_total()), (8, 5, 3));
        let lines: Vec<&str> = bad.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            lines,
            vec!["3", "6", "8"],
            "blank lines still count as lines"
        );
    }

    const EVENTS_CSV: &str = "ts,principal,method,path,status,request_id,message
2026-11-20T00:00:01Z,svc-a,PUT,/w/WO1,403,r1,\"Forbidden, by policy\"
2026-11-20T00:00:02Z,svc-a,GET,/w/WO2,200,,
2026-11-20T00:00:03Z,svc-b,PUT,/w/WO3,403,,\"a \"\"quoted\"\" word\"
2026-11-20T00:00:03Z,svc-b,PUT
yesterday,svc-b,PUT,/w/WO3,403,,

2026-11-20T00:00:04Z,svc-a,PUT,/w/WO1,403,r0,
2026-11-20T00:00:06Z,svc-c,DELETE,/w/WO9,403,,";

    #[test]
    fn line_ranges_of_one_csv_file_give_what_the_whole_file_gives() {
        let dir = tempfile::tempdir().unwrap();
        let file = || events_file(dir.path(), "a.csv", EVENTS_CSV.as_bytes());
        let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
        for range_bytes in [1, 7, 50, 120, 400] {
            let ranges = plain_csv_ranges(&file(), range_bytes).unwrap().unwrap();
            let lines: u64 = ranges
                .iter()
                .map(|p| match p {
                    Part::Lines { lines, .. } => *lines,
                    _ => unreachable!("CSV is cut into line ranges"),
                })
                .sum();
            assert_eq!(lines, 9, "range_bytes {range_bytes}: {ranges:?}");
            for mmap in [true, false] {
                let options = IngestOptions {
                    range_bytes,
                    mmap,
                    ..Default::default()
                };
                let cut = ingest(vec![file()], &options).unwrap();
                assert_eq!(
                    essence(&cut),
                    essence(&whole),
                    "range_bytes {range_bytes}, mmap {mmap}"
                );
            }
        }
        let (groups, stats, bad) = essence(&whole);
        assert_eq!(groups.len(), 4, "{groups:?}");
        assert_eq!((stats.read, stats.used), (7, 5));
        let lines: Vec<&str> = bad.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(lines, vec!["5", "6"], "{bad:?}");
    }

    /// A quoted cell holding a newline, and CRLF line ends (which the CSV
    /// reader numbers its own way), keep a CSV file whole.
    #[test]
    fn csv_files_a_line_range_would_misread_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let texts = [
            EVENTS_CSV.replace("Forbidden, by policy", "Forbidden,\nby policy"),
            EVENTS_CSV.replace('\n', "\r\n"),
        ];
        for text in texts {
            let file = || events_file(dir.path(), "a.csv", text.as_bytes());
            assert!(plain_csv_ranges(&file(), 7).unwrap().is_none());
            let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
            let options = IngestOptions {
                range_bytes: 7,
                ..Default::default()
            };
            let cut = ingest(vec![file()], &options).unwrap();
            assert_eq!(essence(&cut), essence(&whole));
        }
    }

    #[test]
    fn every_encoding_and_compression_reads_the_same() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let good: String = EVENTS
            .lines()
            .filter(|l| l.contains("\"ts\":\"2026"))
            .map(|l| format!("{l}\n"))
            .collect();
        let reference = essence(
            &ingest(
                vec![events_file(dir.path(), "ref.jsonl", good.as_bytes())],
                &IngestOptions::default(),
            )
            .unwrap(),
        );

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(good.as_bytes()).unwrap();
        let zst = zstd::encode_all(good.as_bytes(), 3).unwrap();

        let records: Vec<serde_json::Value> = good
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let column = |name: &str| -> Vec<Option<String>> {
            records
                .iter()
                .map(|r| {
                    r.get(name)
                        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                })
                .collect()
        };
        let names = ["ts", "principal", "method", "path", "status", "request_id"];
        let mut csv = names.join(",") + "\n";
        for i in 0..records.len() {
            let row: Vec<String> = names
                .iter()
                .map(|n| column(n)[i].clone().unwrap_or_default())
                .collect();
            csv += &(row.join(",") + "\n");
        }
        let mut df = DataFrame::new_infer_height(
            names
                .iter()
                .map(|n| Column::new((*n).into(), column(n)))
                .collect(),
        )
        .unwrap();
        let parquet_path = dir.path().join("e.parquet");
        ParquetWriter::new(std::fs::File::create(&parquet_path).unwrap())
            .finish(&mut df)
            .unwrap();
        let parquet = std::fs::read(&parquet_path).unwrap();

        for (name, bytes) in [
            ("e.jsonl.gz", gz.finish().unwrap()),
            ("e.jsonl.zst", zst),
            ("e.csv", csv.into_bytes()),
            ("e2.parquet", parquet),
            ("no-extension", good.clone().into_bytes()),
        ] {
            let ingested = ingest(
                vec![events_file(dir.path(), name, &bytes)],
                &IngestOptions::default(),
            )
            .unwrap();
            let (groups, stats, _) = essence(&ingested);
            let strip = |g: &Vec<(String, u64, Millis, Millis, Vec<String>)>| -> Vec<(String, u64, Millis, Millis)> {
                g.iter().map(|(a, b, c, d, _)| (a.clone(), *b, *c, *d)).collect()
            };
            assert_eq!(strip(&groups), strip(&reference.0), "{name}");
            assert_eq!(stats, reference.1, "{name}");
        }
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// Everything ingest keeps of the events, in a comparable form.
    fn everything(ingested: &Ingested) -> String {
        let events = &ingested.events;
        let denials = events.denial_groups_copy();
        let successes: BTreeMap<_, _> = events.successes.iter().collect();
        // What was read of objects (allowed, answered 404) is in the denials'
        // object facts.
        format!(
            "{denials:?}\n{successes:?}\n{:?}\n{:?}\n{:?}",
            events.other_statuses, events.stats, ingested.bad_records
        )
    }

    fn both_ways(files: impl Fn() -> Vec<InputFile>) -> (String, String) {
        let fast = ingest(files(), &IngestOptions::default()).unwrap();
        let full = ingest(
            files(),
            &IngestOptions {
                fast_path: false,
                ..IngestOptions::default()
            },
        )
        .unwrap();
        (everything(&fast), everything(&full))
    }

    #[test]
    fn the_fast_path_keeps_exactly_what_the_full_path_keeps() {
        for scenario in ["maintenance", "project", "resources", "inventory"] {
            let folder = format!("{}/sample_logs/{scenario}", env!("CARGO_MANIFEST_DIR"));
            let (fast, full) = both_ways(|| input::resolve(&folder, None).unwrap());
            assert_eq!(fast, full, "{scenario}");
        }
    }

    #[test]
    fn lines_the_fast_path_cannot_read_exactly_take_the_full_path() {
        let lines = [
            r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/w/1?k=v","status":200,"fields":[" b","a","b",""]}"#,
            r#"{"ts":1763596802,"principal":"svc-a","method":"get","path":"/w/2","status":"200"}"#,
            r#"{"ts":"2026-11-20T00:00:03Z","principal":" svc-\u0061 ","method":"GET","path":"/w/3","status":201,"org":" "}"#,
            r#"{"ts":"2026-11-20T00:00:04Z","principal":"svc-a","method":"GET","path":"/w/4","status":200,"scopes":{"a":1}}"#,
            r#"{"ts":"2026-11-20T00:00:05Z","principal":"svc-a","method":"GET","path":"/w/5","status":200,"scopes":"[not json"}"#,
            r#"{"ts":"2026-11-20T00:00:06Z","principal":"svc-a","method":"GET","path":"/w/6","status":200,"status":403}"#,
            r#"{"ts":"2026-11-20T00:00:07Z","principal":"svc-a","method":"GET","path":"/w/7","status":200,"object_id":42}"#,
            r#"{"ts":"2026-11-20 00:00:08Z","principal":"svc-a","method":"GET","path":"/w/8","status":200,"fields":"x y"}"#,
            r#"{"ts":"2026-11-20T00:00:09","principal":"svc-a","method":"GET","path":"/w/9","status":200}"#,
            r#"{"ts":"2026-11-20T00:00:10Z","principal":"","method":"GET","path":"/w/10","status":200}"#,
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","user":{"username":"u"},"requestURI":"/api/v1/pods","responseStatus":{"code":200},"stageTimestamp":"2026-11-20T00:00:11Z"}"#,
            r#"{"ts":"2026-11-20T00:00:12Z","principal":"svc-a","method":"GET","path":"/w/12","status":200,"scopes":"a b","org":"EU","object_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"ts":"2026-11-20T00:00:13Z","principal":"svc-a","method":"GET","path":"/w/13","status":404}"#,
            r#"{"ts":"2026-11-20T00:00:14Z","principal":"svc-a","method":"GET","path":"/w/14","status":99}"#,
        ];
        let mut text = (lines.join("\n") + "\n").into_bytes();
        // Invalid UTF-8 in a field the fast path ignores (found by fuzzing).
        text.extend(b"{\"ts\":\"2026-11-20T00:00:15Z\",\"principal\":\"svc-a\",\"method\":\"GET\",\"path\":\"/w/15\",\"status\":200,\"request_id\":\"\xff\xfe\"}\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, text).unwrap();
        let files = || {
            vec![InputFile {
                path: Some(path.clone()),
                table: Table::Events,
                explicit: true,
                stream: false,
            }]
        };
        let (fast, full) = both_ways(files);
        assert_eq!(fast, full);
        assert!(
            full.contains("bad list") && full.contains("bad timestamp"),
            "{full}"
        );
        assert!(
            full.contains("line: 15"),
            "the invalid UTF-8 line is skipped: {full}"
        );
    }

    #[test]
    fn generated_logs_read_alike_both_ways() {
        use crate::generate::{self, GenerateOptions};
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            principals: 40,
            seed: 3,
            ..GenerateOptions::new(dir.path().to_path_buf(), 20_000)
        };
        generate::generate(&options, |_| {}).unwrap();
        let logs = dir.path().join("logs").display().to_string();
        let (fast, full) = both_ways(|| input::resolve(&logs, None).unwrap());
        assert_eq!(fast, full);
    }
}
