//! Stage 1, ingest: input files in, [`Ingested`] out.
//!
//! Events are read in parallel, across files and within one large file (cut into
//! byte ranges at line boundaries), and folded into [`Aggregates`]; they are never
//! all held at once. The small tables (tokens, role snapshots, roles, policies)
//! are read whole, first, because the event groups are cut at snapshot instants.

pub(crate) mod fold;
pub mod partial;
pub(crate) mod record;
pub(crate) mod source;

pub use self::fold::aggregate::{Aggregates, BadRecord, EventRow, TableStats};
pub use self::fold::filter::DenialFilter;
pub use self::record::fields::FieldMap;
pub use self::record::formats::InputFormat;
pub use self::record::template::{
    is_id_segment, is_version_segment, Templater, DEFAULT_LEARN_MIN_VALUES,
};
pub use self::source::decode::SizeLimits;
pub use self::source::input::{resolve, InputFile};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use self::fold::reader::EventReader;
use self::fold::seen::SeenObjects;
use self::fold::timeline::{self, Timeline};
use self::fold::{aggregate, quarantine};
use self::record::fields::{self, Skip};
use self::record::tables::{self, SmallTables};
use self::record::template;
use self::source::units::{event_units, expected_events, Unit};
use crate::model::{Millis, Policy, Position, RoleBinding, RoleDef, Table, Token};

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
    /// Any record that cannot be used stops the run (a `StrictFailure`).
    pub strict: bool,
    /// Fail as an `UnusableInput` when no event is used or more than this
    /// share of them is skipped; `None` never fails (the library's default:
    /// the command line sets it).
    pub max_skipped: Option<f64>,
    /// Denied requests kept per group as evidence; `usize::MAX` keeps every one.
    pub samples_per_group: usize,
    /// Count allowed requests of flat JSON Lines through `fast::FastPath`
    /// (off only to check it against the full path).
    pub fast_path: bool,
    /// Write every skipped record here (JSON Lines: where, why, the record redacted).
    pub quarantine: Option<PathBuf>,
    /// When IAM exports were taken, by file, where neither their data nor
    /// their names say (`--snapshot-at FILE=TIME`).
    pub snapshot_at: Vec<(PathBuf, Millis)>,
    /// Keep every used event as an [`aggregate::EventRow`] (for `grantgap query`;
    /// memory grows with the input, so only when asked).
    pub event_rows: bool,
    /// Read ranges of plain JSON Lines and CSV files through a memory map
    /// (`input::Mapped`); off (`--no-mmap`), with `read`.
    pub mmap: bool,
    /// Denial groups a worker holds before it writes them to a temporary file
    /// (`spill`): what bounds ingest's memory, whatever the input's size.
    pub spill_after: usize,
    /// The largest record and document read; longer ones are skipped.
    pub limits: SizeLimits,
    /// Which denials are reported (`--principal`, `--since`, `--until`).
    pub denials: DenialFilter,
}

/// About 30 MB of denial groups per worker, as read (with their objects and
/// samples).
pub const SPILL_AFTER_GROUPS: usize = 1 << 16;

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
            snapshot_at: Vec::new(),
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
            denials: DenialFilter::default(),
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
    /// How long after a grant a denial is taken for permission sync: denial
    /// groups are cut at the end of it, and diagnosis judges by it.
    pub propagation_window: Millis,
}

impl Ingested {
    /// What the report should say of how ingest went without failing it.
    pub fn warnings(&self) -> Vec<String> {
        let overfull = fold::seen::overfull_warning(self.events.seen_false_positive_rate);
        // Files named on the command line that yield nothing fail the run;
        // files found in a folder are only named.
        let barren = barren_files(&self.files, &self.events, false)
            .into_iter()
            .map(|(file, skipped)| format!("{file} yielded no event ({skipped} records skipped)"));
        overfull
            .into_iter()
            .chain(barren)
            .chain(self.absent_inputs())
            .collect()
    }

    /// Which of the tables that sharpen a diagnosis the run had none of, and
    /// what that leaves undecided: said once, so no confidence rests on
    /// behaviour alone without the report saying so.
    fn absent_inputs(&self) -> Option<String> {
        let mut absent = Vec::new();
        if self.policies.is_empty() {
            absent.push("a policy catalog (--policies): what an endpoint requires comes only from the responses and from succeeding peers");
        }
        if self.bindings.is_empty() {
            absent.push("role snapshots or IAM state (--role-snapshots, --iam): the roles in effect are unknown, so stale tokens, propagation delays and data scopes cannot be told from missing permissions, and no existing role can be named as the fix");
        } else if self.roles.is_empty() {
            absent.push("role definitions (--roles, --iam): the roles held grant nothing known");
        }
        if self.tokens.is_empty() {
            absent.push(
                "tokens (--tokens): scopes and expiry are known only where the log carries them",
            );
        }
        (!absent.is_empty()).then(|| format!("ran without {}", absent.join("; ")))
    }

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
pub(crate) fn skip_unreadable(
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
    /// Event files named on the command line that yielded no event, with
    /// how many records each skipped.
    barren: Vec<(String, u64)>,
    /// The first skipped record of the most frequent reason, located
    /// (`file:line: reason: detail`): what the records are, when no event is used.
    example: Option<String>,
}

impl UnusableInput {
    /// Fails when no event was used, or when skipped events (stage folds, which
    /// are repeats, aside) pass `max_share` of those read.
    fn check(
        events: &TableStats,
        barren: Vec<(String, u64)>,
        max_share: f64,
        example_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(), Self> {
        let mut reasons: Vec<(String, u64)> = events
            .skipped
            .iter()
            .filter(|(kind, _)| kind.as_str() != fields::FOLDED)
            .map(|(kind, n)| (kind.clone(), *n))
            .collect();
        let skipped: u64 = reasons.iter().map(|(_, n)| n).sum();
        let share = skipped as f64 / (events.used + skipped).max(1) as f64;
        if events.used > 0 && share <= max_share && barren.is_empty() {
            return Ok(());
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        reasons.truncate(3);
        let example = reasons.first().and_then(|(kind, _)| example_of(kind));
        Err(UnusableInput {
            used: events.used,
            skipped,
            max_share,
            reasons,
            barren,
            example,
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
        let barren: Vec<String> = self
            .barren
            .iter()
            .map(|(file, skipped)| match skipped {
                0 => format!("{file} (empty)"),
                n => format!("{file} ({n} records skipped)"),
            })
            .collect();
        if self.used > 0 && !barren.is_empty() {
            return write!(
                f,
                "{} yielded no event: check that the feed wrote it and its format (--input-format, --map) (no report was written)",
                barren.join(", ")
            );
        }
        if self.used == 0 && self.skipped == 0 {
            return write!(
                f,
                "the inputs hold no events: check that the feed wrote its files (no report was written)"
            );
        }
        if self.used == 0 {
            let example = match &self.example {
                Some(example) => format!(", e.g. {example}"),
                None => String::new(),
            };
            return write!(
                f,
                "no event could be used: {} skipped ({}{example}); check the log's format (--input-format, --map) (no report was written)",
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
    // Both read on one core each (0.1 and 0.45 s before a 2 GB corpus), and
    // neither needs the other.
    let (tables, templater) = rayon::join(
        || read_tables(&files, options, &progress),
        || learn_templates(&files, options),
    );
    let (tables, templater) = (tables?, templater?);
    let seen = SeenObjects::for_objects(expected_events(&files));
    let tables_read = (&tables, &templater);
    let events = read_events(&files, options, tables_read, &progress, seen, |units, _| {
        vec![true; units.len()]
    })?;
    progress.finish_and_clear();
    finish(files, options, tables, events, learned(&templater))
}

/// The small tables as read, with what reading them skipped.
struct Tables {
    tokens: Vec<Token>,
    /// With the role changes that cut denial groups ([`timeline::with_role_changes`]).
    bindings: Vec<RoleBinding>,
    roles: Vec<RoleDef>,
    policies: Vec<Policy>,
    stats: BTreeMap<Table, TableStats>,
    bad: Vec<BadRecord>,
    quarantine: Option<Vec<fold::aggregate::Quarantined>>,
}

/// Reads the small tables (tokens, role snapshots, roles, policies, IAM state).
fn read_tables(
    files: &[InputFile],
    options: &IngestOptions,
    progress: &ProgressBar,
) -> Result<Tables> {
    // The field map renames event fields only: the small tables are written for
    // grantgap and use the canonical names.
    let canonical = FieldMap::default();
    let mut small = SmallTables {
        files,
        map: &canonical,
        progress,
        stats: BTreeMap::new(),
        bad: Vec::new(),
        quarantine: options.quarantine.as_ref().map(|_| Vec::new()),
        limits: options.limits,
        snapshot_at: &options.snapshot_at,
    };
    let tokens = small.read(Table::Tokens, tables::token_from_record)?;
    let mut bindings = small.read(Table::RoleSnapshots, tables::binding_from_record)?;
    let mut roles = small.read(Table::Roles, tables::role_from_record)?;
    let policies = small.read(Table::Policies, tables::policy_from_record)?;
    let (rbac_roles, rbac_bindings) = small.read_rbac()?;
    roles.extend(rbac_roles);
    bindings.extend(rbac_bindings);
    let bindings = timeline::with_role_changes(bindings, &roles);
    Ok(Tables {
        tokens,
        bindings,
        roles,
        policies,
        stats: small.stats,
        bad: small.bad,
        quarantine: small.quarantine,
    })
}

/// The id patterns, and the parameters learned from a sample of the paths:
/// the same sample, from the start of the inputs, whichever share of them is
/// read next.
fn learn_templates(files: &[InputFile], options: &IngestOptions) -> Result<Templater> {
    let mut templater = Templater::with_patterns(&options.id_patterns)?;
    if options.learn_min_values > 0 {
        let map = &options.field_map;
        // Flat lines under the canonical names are read as the fast path reads them.
        let flat = (map.is_empty() && options.input_format.may_be_generic())
            .then_some(fold::fast::sampled_path as template::FlatPathReader);
        let paths = template::sample_paths(files, map, options.input_format, options.limits, flat)?;
        let paths = paths.iter().map(|(path, denied)| (path.as_str(), *denied));
        templater.learn(paths, options.learn_min_values);
    }
    Ok(templater)
}

/// The learned parameters as the report lists them.
fn learned(templater: &Templater) -> Vec<String> {
    templater
        .learned()
        .into_iter()
        .map(|p| format!("{p}/{{id}}"))
        .collect()
}

/// Reads the events of the units `pick` chooses (of the units every run cuts
/// the inputs into, in that order) into aggregates, recording allowed objects
/// in `seen`.
fn read_events(
    files: &[InputFile],
    options: &IngestOptions,
    (tables, templater): (&Tables, &Templater),
    progress: &ProgressBar,
    seen: SeenObjects,
    pick: impl FnOnce(&[Unit], &[InputFile]) -> Vec<bool>,
) -> Result<Aggregates> {
    let map = &options.field_map;
    let timeline = Timeline::new(&tables.bindings, &tables.tokens, options.propagation_window);
    let units = event_units(
        files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.table == Table::Events),
        options.range_bytes,
    );
    let picked = pick(&units, files);
    let units: Vec<_> = units
        .into_iter()
        .zip(picked)
        .filter_map(|(unit, read)| read.then_some(unit))
        .collect();
    let seen = Arc::new(seen);
    let reader = EventReader {
        files,
        map,
        progress,
        timeline: &timeline,
        templater,
        format: options.input_format,
        samples_per_group: options.samples_per_group,
        seen: &seen,
        quarantine: options.quarantine.is_some(),
        event_rows: options.event_rows,
        mmap: options.mmap,
        limits: options.limits,
        denials: &options.denials,
        // The fast path folds allowed requests into counters: no row to keep.
        fast_path: options.fast_path
            && !options.event_rows
            && map.is_empty()
            && options.input_format.may_be_generic(),
    };
    // Ingest's own steps, within the "ingest" lap.
    let mut clock = crate::clock::StageClock::start();
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
    clock.lap("ingest: read events");
    if let Some(rows) = &mut events.rows {
        rows.sort_unstable_by_key(|r| r.position);
    }
    Ok(events)
}

/// Checks what was read (`--strict`, `--max-skipped`), writes the quarantine,
/// and hands on what ingest made.
fn finish(
    files: Vec<InputFile>,
    options: &IngestOptions,
    tables: Tables,
    events: Aggregates,
    learned_templates: Vec<String>,
) -> Result<Ingested> {
    let Tables {
        tokens,
        bindings,
        roles,
        policies,
        mut stats,
        mut bad,
        quarantine: small_quarantine,
    } = tables;
    let mut events = events;
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
        // With any share allowed (--max-skipped 0), a file whose records were all
        // skipped passes; an empty one never does.
        let mut barren = barren_files(&files, &events, true);
        barren.retain(|(_, skipped)| *skipped == 0 || max_share < 1.0);
        let example_of = |kind: &str| {
            let b = bad.iter().find(|b| b.kind == kind)?;
            let at = Ingested::locate_in(&files, &events.unit_lines, b.position);
            Some(format!("{at}: {}", b.detail))
        };
        UnusableInput::check(&stats[&Table::Events], barren, max_share, example_of)?;
    }
    Ok(Ingested {
        learned_templates,
        propagation_window: options.propagation_window,
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

/// Event files that yielded no event, with the records each skipped: those
/// named on the command line (`explicit`), or those found in a folder.
fn barren_files(files: &[InputFile], events: &Aggregates, explicit: bool) -> Vec<(String, u64)> {
    files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.table == Table::Events && f.explicit == explicit)
        .filter_map(|(i, f)| {
            let (used, skipped) = events.per_file.get(&i).copied().unwrap_or_default();
            (used == 0).then(|| (f.display(), skipped))
        })
        .collect()
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

#[cfg(test)]
mod tests;
