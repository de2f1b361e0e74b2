//! Partial states: what reading one share of the inputs keeps, written to a
//! file (`grantgap partial`), and any number of them merged back into what
//! ingest hands on (`grantgap merge`), exactly as if every input had been read
//! in one run.
//!
//! Exact by construction: every share of one set of inputs numbers files and
//! units as a run over all of them does, learns its templates from the same
//! sample (the start of the inputs), and sizes its filters of allowed objects
//! from all the inputs; and every part of [`Aggregates`] merges exactly, in any
//! order. The file format is described in `docs/partial-state.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::fold::aggregate::{Aggregates, BadRecord, TableStats};
use super::fold::seen::SeenObjects;
use super::fold::spill::{Decoder, Encoder, Run};
use super::source::units::{expected_events_at, unit_bytes, Unit};
use super::{IngestOptions, Ingested, InputFile};
use crate::model::{Millis, ObjectKey, SuccessGroup, SuccessKey, Table};

/// The first bytes of every partial state.
const MAGIC: &[u8; 16] = b"grantgap partial";
/// The layout after the magic; a reader refuses any other.
pub const FORMAT: u32 = 1;

/// Which share of the inputs a partial reads: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Which of the units, of `weights` bytes in the order every run cuts
    /// them, this shard reads. Each unit goes in turn to the shard that has
    /// the fewest bytes so far (the lowest index on a tie): shards differ by at
    /// most one unit (32 MB of a plain file, or one compressed file).
    fn reads(&self, weights: &[u64]) -> Vec<bool> {
        let mut load = vec![0u64; self.count];
        weights
            .iter()
            .map(|&bytes| {
                let (least, _) = load
                    .iter()
                    .enumerate()
                    .min_by_key(|&(i, &l)| (l, i))
                    .expect("at least one shard");
                load[least] += bytes.max(1);
                least == self.index
            })
            .collect()
    }
}

/// What a partial state says of itself before its data: checked against every
/// other partial it is merged with.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    /// The grantgap version that wrote it.
    grantgap: String,
    /// The options that decide what reading makes, named as the flags are.
    read_with: ReadOptions,
    /// Every input of its runs, in the order that numbers them.
    inputs: Vec<InputEntry>,
    /// The runs whose shards it holds: one, or more once partials of other
    /// inputs (other nights) are merged in.
    runs: Vec<RunShards>,
    learned_templates: Vec<String>,
    /// The first and last time of an event read, in ms since the epoch.
    span: Option<(Millis, Millis)>,
}

/// The shards of one run: `partial` over one list of inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunShards {
    /// The run's inputs, by their index in the header's.
    inputs: Vec<usize>,
    shard_count: usize,
    shards: Vec<usize>,
}

/// One input as the partial found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct InputEntry {
    /// `None` is standard input.
    path: Option<String>,
    table: String,
    explicit: bool,
    stream: bool,
    bytes: u64,
}

/// The options that change what is read, under their flags' names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ReadOptions {
    input_format: String,
    map: BTreeMap<String, String>,
    id_pattern: Vec<String>,
    learn_templates: usize,
    propagation_window_ms: Millis,
    max_record_size: usize,
    max_document_size: u64,
    principal: Vec<String>,
    since: Option<Millis>,
    until: Option<Millis>,
    snapshot_at: Vec<(String, Millis)>,
    /// Not a flag: where files are cut into units, which positions count from.
    range_bytes: u64,
    /// Denied requests kept per group.
    samples_per_group: usize,
}

impl ReadOptions {
    fn of(options: &IngestOptions) -> Self {
        ReadOptions {
            input_format: options.input_format.name().to_string(),
            map: (options.field_map.pairs().into_iter())
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect(),
            id_pattern: options.id_patterns.clone(),
            learn_templates: options.learn_min_values,
            propagation_window_ms: options.propagation_window,
            max_record_size: options.limits.record,
            max_document_size: options.limits.document,
            principal: (options.denials.principals.iter())
                .map(|p| p.as_str().to_string())
                .collect(),
            since: options.denials.since,
            until: options.denials.until,
            snapshot_at: (options.snapshot_at.iter())
                .map(|(f, at)| (f.display().to_string(), *at))
                .collect(),
            range_bytes: options.range_bytes,
            samples_per_group: options.samples_per_group,
        }
    }

    /// Sets what the stages after reading use: the window diagnosis judges
    /// by, and how the small tables (read again by merge) are read.
    fn apply(&self, options: &mut IngestOptions) {
        options.propagation_window = self.propagation_window_ms;
        options.snapshot_at = (self.snapshot_at.iter())
            .map(|(f, at)| (PathBuf::from(f), *at))
            .collect();
        options.limits.record = self.max_record_size;
        options.limits.document = self.max_document_size;
        options.samples_per_group = self.samples_per_group;
    }

    /// The options, by flag, whose values differ.
    fn differences(&self, other: &ReadOptions) -> Vec<String> {
        let (mine, theirs) = (serde_json::json!(self), serde_json::json!(other));
        let (Some(mine), Some(theirs)) = (mine.as_object(), theirs.as_object()) else {
            return Vec::new();
        };
        (mine.iter())
            .filter(|(name, value)| theirs.get(*name) != Some(value))
            .map(|(name, value)| {
                let other = theirs.get(name).cloned().unwrap_or_default();
                format!("{name}: {value} against {other}")
            })
            .collect()
    }
}

impl InputEntry {
    fn of(file: &InputFile) -> Result<Self> {
        let path = match &file.path {
            None => None,
            Some(p) => Some(p.to_str().map(str::to_string).with_context(|| {
                format!(
                    "{} is not UTF-8: a partial state names its inputs as text; rename it",
                    p.display()
                )
            })?),
        };
        Ok(InputEntry {
            path,
            table: file.table.name().to_string(),
            explicit: file.explicit,
            stream: file.stream,
            bytes: file.size(),
        })
    }

    fn file(&self) -> Result<InputFile> {
        let table = Table::ALL
            .into_iter()
            .find(|t| t.name() == self.table)
            .with_context(|| format!("an input of an unknown table {:?}", self.table))?;
        Ok(InputFile {
            path: self.path.as_ref().map(PathBuf::from),
            table,
            explicit: self.explicit,
            stream: self.stream,
        })
    }
}

/// Reads shard `shard` of the inputs and writes its partial state to `out`
/// (whole or not at all). Returns the events read and the denial groups kept.
pub fn write_partial(
    files: Vec<InputFile>,
    options: &IngestOptions,
    shard: Shard,
    out: &Path,
) -> Result<(u64, u64)> {
    let pick = |units: &[Unit], files: &[InputFile]| shard.reads(&unit_bytes(units, files));
    let (mut header, events) = read_share(files, options, pick)?;
    header.runs[0].shard_count = shard.count;
    header.runs[0].shards = vec![shard.index];
    let read = events.stats.read;
    let groups = write(out, &header, events)?;
    Ok((read, groups))
}

/// Reads the units `pick` chooses into aggregates, with the header of a
/// partial state of them (shard to be filled in).
fn read_share(
    files: Vec<InputFile>,
    options: &IngestOptions,
    pick: impl FnOnce(&[Unit], &[InputFile]) -> Vec<bool>,
) -> Result<(Header, Aggregates)> {
    if options.quarantine.is_some() {
        bail!(
            "a partial state keeps no skipped records, only their counts and the first few: run \
             `grantgap report --quarantine` on the logs"
        );
    }
    let progress = super::progress_bar(files.iter().map(InputFile::size).sum(), options.progress);
    let (tables, templater) = rayon::join(
        || super::read_tables(&files, options, &ProgressBar::hidden()),
        || super::learn_templates(&files, options),
    );
    let (tables, templater) = (tables?, templater?);
    // The largest filters, whatever this share's size: a merge folds them to
    // the size a run over all its inputs chooses, which is then its filter.
    let seen = SeenObjects::largest();
    let tables_read = (&tables, &templater);
    let events = super::read_events(&files, options, tables_read, &progress, seen, pick)?;
    progress.finish_and_clear();
    let header = Header {
        grantgap: env!("CARGO_PKG_VERSION").to_string(),
        read_with: ReadOptions::of(options),
        inputs: files.iter().map(InputEntry::of).collect::<Result<_>>()?,
        runs: vec![RunShards {
            inputs: (0..files.len()).collect(),
            shard_count: 1,
            shards: Vec::new(),
        }],
        learned_templates: super::learned(&templater),
        span: None,
    };
    Ok((header, events))
}

/// Merges the partial states at `paths` into what ingest hands on, as
/// `ingest` would have made it from all their inputs; with `window`, only
/// the runs whose newest event is within it of the newest of all. The small
/// tables are read again from where the partials read them; `options` gives
/// how the merged events are judged (`--strict`, `--max-skipped`).
pub fn merge(
    paths: &[PathBuf],
    options: &IngestOptions,
    window: Option<Millis>,
) -> Result<Ingested> {
    let paths = within(paths, window)?;
    let (header, mut events) = merge_states(&paths)?;
    for run in &header.runs {
        let missing: Vec<String> = (0..run.shard_count)
            .filter(|i| !run.shards.contains(i))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            let first = &header.inputs[run.inputs[0]];
            bail!(
                "the partial states hold {} of {} shards of the run over {}{} (missing: {}): \
                 merge every shard's partial, or write the merge of these with --partial to add \
                 the rest later",
                run.shards.len(),
                run.shard_count,
                first.path.as_deref().unwrap_or("<stdin>"),
                match run.inputs.len() {
                    1 => String::new(),
                    n => format!(" and {} more inputs", n - 1),
                },
                missing.join(", ")
            );
        }
    }
    let files = (header.inputs.iter())
        .map(InputEntry::file)
        .collect::<Result<Vec<_>>>()?;
    for (entry, file) in header.inputs.iter().zip(&files) {
        if file.table == Table::Events {
            continue;
        }
        if file.stream {
            bail!(
                "the {} table was read from {}, which merge cannot read again: name it as a file",
                entry.table,
                file.display()
            );
        }
        if file.size() != entry.bytes {
            bail!(
                "{} held {} bytes when the partials were made and {} now: merge reads the \
                 {} table again, so make the partials again from the file as it is",
                file.display(),
                entry.bytes,
                file.size(),
                entry.table
            );
        }
    }
    // The filters a run over all these inputs would have made: its objects
    // folded to its size (exactly: see `SeenObjects::folded_to`).
    let sizes = header.inputs.iter().map(|entry| entry.bytes);
    let bits = SeenObjects::bits_for(expected_events_at(files.iter().zip(sizes)));
    if events.seen.bits() < bits {
        bail!(
            "the partial states' filters of allowed objects hold {} bits, and these inputs need \
             {bits}: make them again with this version of grantgap",
            events.seen.bits()
        );
    }
    events.fold_seen_to(bits);
    let mut options = options.clone();
    header.read_with.apply(&mut options);
    let tables = super::read_tables(&files, &options, &ProgressBar::hidden())?;
    super::finish(files, &options, tables, events, header.learned_templates)
}

/// The partials whose runs' newest event lies within `window` of the newest
/// of all (all of them without a window); says on stderr how many it left out.
fn within(paths: &[PathBuf], window: Option<Millis>) -> Result<Vec<PathBuf>> {
    let Some(window) = window else {
        return Ok(paths.to_vec());
    };
    // Partials of one set of runs (named by their inputs) are kept or left
    // out together: the newest event of any, and the files.
    type RunsNamed = Vec<Vec<String>>;
    let mut runs: BTreeMap<RunsNamed, (Option<Millis>, Vec<PathBuf>)> = BTreeMap::new();
    for path in paths {
        let header = read_header(path)?;
        let key = (header.runs.iter())
            .map(|run| {
                let names = run.inputs.iter().map(|&i| header.inputs[i].path.clone());
                names.map(Option::unwrap_or_default).collect()
            })
            .collect();
        let entry = runs.entry(key).or_default();
        entry.0 = entry.0.max(header.span.map(|(_, last)| last));
        entry.1.push(path.clone());
    }
    let newest = runs.values().filter_map(|(last, _)| *last).max();
    let Some(newest) = newest else {
        return Ok(paths.to_vec());
    };
    let mut kept = Vec::new();
    let mut left_out = 0;
    for (last, files) in runs.into_values() {
        if last.is_none_or(|last| last >= newest.saturating_sub(window)) {
            kept.extend(files);
        } else {
            left_out += files.len();
        }
    }
    if left_out > 0 {
        eprintln!(
            "grantgap: --window: left out {left_out} partial states whose newest event is older than the window"
        );
    }
    kept.sort();
    Ok(kept)
}

/// Merges the partial states at `paths` (with `window`, as [`merge`] keeps
/// them) into one, written to `out`: what merging them all with others later
/// gives, in any grouping.
pub fn merge_into(paths: &[PathBuf], window: Option<Millis>, out: &Path) -> Result<u64> {
    let (header, events) = merge_states(&within(paths, window)?)?;
    write(out, &header, events)
}

/// Reads and merges partial states, refusing any two that were read with
/// other options, that count one event file in two runs, or that hold one
/// shard twice.
fn merge_states(paths: &[PathBuf]) -> Result<(Header, Aggregates)> {
    let Some((first, rest)) = paths.split_first() else {
        bail!("no partial state to merge: name the files `grantgap partial` wrote");
    };
    let (mut header, mut events) = read(first)?;
    for path in rest {
        let (theirs, mut their_events) = read(path)?;
        let mismatch = |what: String| {
            anyhow::anyhow!(
                "{} and {} {what}: merge partials of one grantgap, read alike",
                first.display(),
                path.display()
            )
        };
        let differences = header.read_with.differences(&theirs.read_with);
        if !differences.is_empty() {
            return Err(mismatch(format!(
                "were read with different options ({}); make them again with the same",
                differences.join("; ")
            )));
        }
        if theirs.learned_templates != header.learned_templates {
            return Err(mismatch(format!(
                "learned different endpoint templates ({:?} and {:?}); give the ids as \
                 --id-pattern, or --learn-templates 0, to every partial",
                header.learned_templates, theirs.learned_templates
            )));
        }
        let (merged, mine, their) = header.union(theirs).map_err(mismatch)?;
        events.renumber_files(&mine);
        their_events.renumber_files(&their);
        header = merged;
        events = events.merge(their_events);
    }
    Ok((header, events))
}

impl Header {
    /// This header and `theirs` as one, with how each numbered inputs
    /// becomes the merged numbering; an error says what cannot merge.
    fn union(self, theirs: Header) -> Result<(Header, Vec<usize>, Vec<usize>), String> {
        let mut all: Vec<(InputFile, InputEntry)> = Vec::new();
        for entry in self.inputs.iter().chain(&theirs.inputs) {
            let file = entry.file().map_err(|e| e.to_string())?;
            match all
                .iter_mut()
                .find(|(f, _)| f.path == file.path && f.table == file.table)
            {
                Some((known, seen)) if seen.bytes == entry.bytes && seen.stream == entry.stream => {
                    known.explicit |= file.explicit;
                    seen.explicit |= entry.explicit;
                }
                Some((_, seen)) => {
                    return Err(format!(
                        "read {} at {} and {} bytes (it changed between them)",
                        entry.path.as_deref().unwrap_or("<stdin>"),
                        seen.bytes,
                        entry.bytes
                    ));
                }
                None => all.push((file, entry.clone())),
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let index_of = |entry: &InputEntry| {
            (all.iter())
                .position(|(_, e)| e.path == entry.path && e.table == entry.table)
                .expect("every input is in the union")
        };
        let mine: Vec<usize> = self.inputs.iter().map(index_of).collect();
        let their: Vec<usize> = theirs.inputs.iter().map(index_of).collect();
        let renumber = |run: RunShards, map: &[usize]| {
            let mut inputs: Vec<usize> = run.inputs.iter().map(|&i| map[i]).collect();
            inputs.sort_unstable();
            RunShards { inputs, ..run }
        };
        let mut runs: Vec<RunShards> = self.runs.into_iter().map(|r| renumber(r, &mine)).collect();
        let inputs: Vec<InputEntry> = all.into_iter().map(|(_, e)| e).collect();
        for run in theirs.runs.into_iter().map(|r| renumber(r, &their)) {
            match runs.iter_mut().find(|r| r.inputs == run.inputs) {
                Some(same) if same.shard_count != run.shard_count => {
                    return Err(format!(
                        "cut the same inputs into {} and {} shards",
                        same.shard_count, run.shard_count
                    ));
                }
                Some(same) => {
                    if let Some(twice) = run.shards.iter().find(|s| same.shards.contains(s)) {
                        return Err(format!(
                            "both hold shard {twice}: each shard is merged once"
                        ));
                    }
                    same.shards.extend(run.shards);
                    same.shards.sort_unstable();
                }
                None => {
                    let is_event = |i: &&usize| inputs[**i].table == Table::Events.name();
                    let twice = (run.inputs.iter().filter(is_event))
                        .find(|i| runs.iter().any(|r| r.inputs.contains(i)));
                    if let Some(&twice) = twice {
                        return Err(format!(
                            "both read {} in runs over other inputs: its events would count twice",
                            inputs[twice].path.as_deref().unwrap_or("<stdin>")
                        ));
                    }
                    runs.push(run);
                }
            }
        }
        runs.sort_by(|a, b| a.inputs.cmp(&b.inputs));
        let header = Header {
            inputs,
            runs,
            span: crate::ingest::fold::spill::widen(self.span, theirs.span),
            ..self
        };
        Ok((header, mine, their))
    }
}

/// Writes a partial state: the magic, the format, the header as JSON, the
/// events' aggregates, and the denial groups in key order to the end.
/// Returns the denial groups written.
fn write(out: &Path, header: &Header, mut events: Aggregates) -> Result<u64> {
    // The groups in key order first, into a temporary file (they were spilled
    // there anyway): the header says when the events were, denials included.
    let denials = events.take_denials()?;
    let mut groups = tempfile::tempfile()?;
    let (count, denied) = {
        let mut e = Encoder(io::BufWriter::with_capacity(1 << 20, &mut groups));
        let written = denials.write_to(&mut e)?;
        e.0.flush()?;
        written
    };
    groups.seek(SeekFrom::Start(0))?;
    let allowed = (events.successes.values())
        .map(|g| (g.first_ts, g.last_ts))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let header = Header {
        span: crate::ingest::fold::spill::widen(allowed, denied),
        ..header.clone()
    };
    crate::output::write_atomically(out, |w| {
        let mut e = Encoder(io::BufWriter::with_capacity(1 << 20, w));
        e.bytes(MAGIC)?;
        e.bytes(&FORMAT.to_le_bytes())?;
        let json = serde_json::to_vec(&header).map_err(io::Error::other)?;
        e.u64(json.len() as u64)?;
        e.bytes(&json)?;
        write_aggregates(&mut e, &events)?;
        io::copy(&mut groups, &mut e.0)?;
        e.0.flush()
    })
    .with_context(|| format!("cannot write the partial state {}", out.display()))?;
    Ok(count)
}

/// Everything but the denial groups, each part in a fixed order so that one
/// share read twice (a retried task) writes the same bytes.
fn write_aggregates(e: &mut Encoder<impl Write>, a: &Aggregates) -> io::Result<()> {
    e.u64(a.sample_limit as u64)?;
    e.u64(a.denied)?;
    e.u64(a.filtered_denials)?;
    write_stats(e, &a.stats)?;
    e.len(a.other_statuses.len())?;
    for (status, n) in &a.other_statuses {
        e.bytes(&status.to_le_bytes())?;
        e.u64(*n)?;
    }
    e.len(a.per_file.len())?;
    for (file, (used, skipped)) in &a.per_file {
        e.u64(*file as u64)?;
        e.u64(*used)?;
        e.u64(*skipped)?;
    }
    e.len(a.unit_lines.len())?;
    for ((file, unit), lines) in &a.unit_lines {
        e.u64(*file as u64)?;
        e.u64(*unit as u64)?;
        e.u64(*lines)?;
    }
    e.len(a.bad.len())?;
    for bad in &a.bad {
        e.position(bad.position)?;
        e.str(&bad.kind)?;
        e.str(&bad.detail)?;
    }
    let mut messages: Vec<&str> = a.messages.iter().map(|m| &**m).collect();
    messages.sort_unstable();
    e.list(&messages)?;
    let mut not_found: Vec<_> = a.not_found.iter().collect();
    not_found.sort_unstable();
    e.len(not_found.len())?;
    for (key, n) in not_found {
        e.str(&key.template)?;
        e.str(&key.object)?;
        e.u64(*n)?;
    }
    let mut successes: Vec<_> = a.successes.iter().collect();
    successes.sort_unstable_by(|x, y| x.0.cmp(y.0));
    e.len(successes.len())?;
    for (key, group) in successes {
        e.str(key.principal())?;
        e.str(key.method())?;
        e.str(key.template())?;
        e.opt_str(key.org())?;
        e.list(&key.fields().collect::<Vec<_>>())?;
        e.u64(group.count)?;
        e.bytes(&group.first_ts.to_le_bytes())?;
        e.bytes(&group.last_ts.to_le_bytes())?;
    }
    a.seen.write_to(&mut e.0)
}

fn write_stats(e: &mut Encoder<impl Write>, stats: &TableStats) -> io::Result<()> {
    e.u64(stats.read)?;
    e.u64(stats.used)?;
    e.len(stats.skipped.len())?;
    for (kind, n) in &stats.skipped {
        e.str(kind)?;
        e.u64(*n)?;
    }
    Ok(())
}

/// Reads a partial state: its header and aggregates, its denial groups left
/// on disk to be merged in key order as spilled runs are.
fn read(path: &Path) -> Result<(Header, Aggregates)> {
    let (header, mut input) = open(path)?;
    let damaged = || {
        format!(
            "cannot read the partial state {}: it is cut short or damaged; make it again with \
             grantgap partial",
            path.display()
        )
    };
    let mut events = read_aggregates(&mut input).with_context(damaged)?;
    // Every partial keeps the largest filters (see `read_share`), so they merge.
    if events.seen.bits() != SeenObjects::LARGEST_BITS {
        bail!("{}", damaged());
    }
    let start = input.stream_position()?;
    let mut file = input.into_inner();
    let end = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(start))?;
    events.add_run(Run::from_position(file, end - start));
    Ok((header, events))
}

/// The header of a partial state.
fn read_header(path: &Path) -> Result<Header> {
    Ok(open(path)?.0)
}

/// Opens a partial state and reads its header, checking what it is.
fn open(path: &Path) -> Result<(Header, BufReader<File>)> {
    let damaged = || {
        format!(
            "cannot read the partial state {}: it is cut short or damaged; make it again with \
             grantgap partial",
            path.display()
        )
    };
    let file = File::open(path)
        .with_context(|| format!("cannot open the partial state {}", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 16];
    if input.read_exact(&mut magic).is_err() || &magic != MAGIC {
        bail!(
            "{} is not a partial state: merge reads the files `grantgap partial -o FILE` writes",
            path.display()
        );
    }
    let mut d = Decoder::new(&mut input, 0);
    let format = d.u32().with_context(damaged)?;
    if format != FORMAT {
        bail!(
            "{} is a partial state of format {format}, and this grantgap reads format {FORMAT}: \
             make it again with this version",
            path.display()
        );
    }
    let len = d.u64().with_context(damaged)?;
    let mut json = Vec::new();
    (&mut d.input).take(len).read_to_end(&mut json)?;
    let header: Header = serde_json::from_slice(&json).with_context(damaged)?;
    let version = env!("CARGO_PKG_VERSION");
    if header.grantgap != version {
        bail!(
            "{} was made by grantgap {}, and this is {version}: make every partial with one version",
            path.display(),
            header.grantgap
        );
    }
    Ok((header, input))
}

fn read_aggregates(input: &mut impl BufRead) -> io::Result<Aggregates> {
    let mut d = Decoder::new(input, 0);
    let sample_limit = usize::try_from(d.u64()?).unwrap_or(usize::MAX);
    let (denied, filtered_denials) = (d.u64()?, d.u64()?);
    let stats = read_stats(&mut d)?;
    let other_statuses = (0..d.u32()?)
        .map(|_| Ok((u16::from_le_bytes(d.array()?), d.u64()?)))
        .collect::<io::Result<_>>()?;
    let per_file = (0..d.u32()?)
        .map(|_| Ok((d.u64()? as usize, (d.u64()?, d.u64()?))))
        .collect::<io::Result<_>>()?;
    let unit_lines = (0..d.u32()?)
        .map(|_| Ok(((d.u64()? as usize, d.u64()? as usize), d.u64()?)))
        .collect::<io::Result<_>>()?;
    let bad = (0..d.u32()?)
        .map(|_| {
            Ok(BadRecord {
                position: d.position()?,
                kind: d.string()?,
                detail: d.string()?,
            })
        })
        .collect::<io::Result<_>>()?;
    let messages = (0..d.u32()?)
        .map(|_| d.shared())
        .collect::<io::Result<_>>()?;
    let not_found = (0..d.u32()?)
        .map(|_| {
            let key = ObjectKey {
                template: d.string()?,
                object: d.string()?,
            };
            Ok((key, d.u64()?))
        })
        .collect::<io::Result<_>>()?;
    let successes = (0..d.u32()?)
        .map(|_| {
            let (principal, method, template) = (d.string()?, d.string()?, d.string()?);
            let org = d.opt_string()?;
            let fields = d.list()?;
            let key = SuccessKey::new(&principal, &method, &template, org.as_deref(), &fields);
            let group = SuccessGroup {
                count: d.u64()?,
                first_ts: d.i64()?,
                last_ts: d.i64()?,
            };
            Ok((key, group))
        })
        .collect::<io::Result<_>>()?;
    let seen = SeenObjects::read_from(&mut d.input)?;
    let mut events = Aggregates::new(sample_limit, Arc::new(seen));
    events.denied = denied;
    events.filtered_denials = filtered_denials;
    events.stats = stats;
    events.other_statuses = other_statuses;
    events.per_file = per_file;
    events.unit_lines = unit_lines;
    events.bad = bad;
    events.messages = messages;
    events.not_found = not_found;
    events.successes = successes;
    Ok(events)
}

fn read_stats(d: &mut Decoder<impl BufRead>) -> io::Result<TableStats> {
    let (read, used) = (d.u64()?, d.u64()?);
    let skipped = (0..d.u32()?)
        .map(|_| Ok((d.string()?, d.u64()?)))
        .collect::<io::Result<_>>()?;
    Ok(TableStats {
        read,
        used,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::generate::{self, GenerateOptions};
    use crate::pipeline::{self, Input};

    /// A generated bundle of three log files, made once for every test.
    fn corpus() -> &'static (tempfile::TempDir, Vec<InputFile>) {
        static CORPUS: OnceLock<(tempfile::TempDir, Vec<InputFile>)> = OnceLock::new();
        CORPUS.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let log = GenerateOptions {
                principals: 30,
                seed: 9,
                files: 3,
                ..GenerateOptions::new(dir.path().to_path_buf(), 12_000)
            };
            generate::generate(&log, |_| {}).unwrap();
            let logs = dir.path().join("logs");
            let files = crate::ingest::resolve(logs.to_str().unwrap(), None).unwrap();
            (dir, files)
        })
    }

    /// Files cut into 16 KB units (about 150 of them), so shards split files.
    fn options(spill_after: usize) -> pipeline::Options {
        pipeline::Options {
            ingest: IngestOptions {
                range_bytes: 1 << 14,
                spill_after,
                ..IngestOptions::default()
            },
            ..pipeline::Options::default()
        }
    }

    fn report(input: impl Into<Input>, options: &pipeline::Options) -> String {
        let report = pipeline::analyse(input, options).unwrap();
        serde_json::to_string_pretty(&report).unwrap()
    }

    /// The report of everything, read in one run.
    fn whole() -> &'static str {
        static WHOLE: OnceLock<String> = OnceLock::new();
        WHOLE.get_or_init(|| report(corpus().1.clone(), &options(usize::MAX)))
    }

    fn partials_input(paths: Vec<PathBuf>) -> Input {
        Input::Partials {
            paths,
            window: None,
        }
    }

    /// Writes `count` partials into `dir`, unit `u` going to shard `shard_of(u)`.
    fn partials(
        dir: &Path,
        count: usize,
        shard_of: impl Fn(usize) -> usize,
        options: &IngestOptions,
    ) -> Vec<PathBuf> {
        (0..count)
            .map(|index| {
                let pick = |units: &[Unit], _: &[InputFile]| {
                    (0..units.len()).map(|u| shard_of(u) == index).collect()
                };
                let (mut header, events) = read_share(corpus().1.clone(), options, pick).unwrap();
                header.runs[0].shards = vec![index];
                header.runs[0].shard_count = count;
                let path = dir.join(format!("part-{index}"));
                write(&path, &header, events).unwrap();
                path
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Any split of the units into shards (uneven, some empty), merged in
        /// any order, makes the report of the whole, byte for byte.
        #[test]
        fn any_split_merged_in_any_order_is_the_whole(
            count in 1usize..9,
            seed in any::<u64>(),
            spill in prop_oneof![Just(usize::MAX), Just(5usize)],
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            // Uneven: each shard drawn with its own weight.
            let weights: Vec<u32> = (0..count).map(|_| rng.random_range(0..4)).collect();
            let total: u32 = weights.iter().sum::<u32>().max(1);
            let shard_of = |unit: usize| {
                let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ unit as u64);
                let mut draw = r.random_range(0..total);
                weights.iter().position(|&w| {
                    let here = draw < w;
                    draw = draw.saturating_sub(w);
                    here
                }).unwrap_or(0)
            };
            let options = options(spill);
            let mut paths = partials(dir.path(), count, shard_of, &options.ingest);
            paths.rotate_left(seed as usize % count);
            prop_assert!(report(partials_input(paths), &options) == whole());
        }
    }

    #[test]
    fn merging_is_associative() {
        let dir = tempfile::tempdir().unwrap();
        let options = options(usize::MAX);
        let parts = partials(dir.path(), 3, |u| u % 3, &options.ingest);
        let (a, b, c) = (&parts[0], &parts[1], &parts[2]);
        let ab = dir.path().join("ab");
        merge_into(&[a.clone(), b.clone()], None, &ab).unwrap();
        let bc = dir.path().join("bc");
        merge_into(&[c.clone(), b.clone()], None, &bc).unwrap();
        let left = report(partials_input(vec![ab, c.clone()]), &options);
        let right = report(partials_input(vec![a.clone(), bc]), &options);
        assert!(left == right);
        assert!(left == whole());
    }

    #[test]
    fn one_shard_of_one_with_every_unit_is_the_whole_and_more_shards_than_units_leave_some_empty() {
        let dir = tempfile::tempdir().unwrap();
        let options = options(usize::MAX);
        let one = partials(dir.path(), 1, |_| 0, &options.ingest);
        assert!(report(partials_input(one), &options) == whole());
        // More shards than units (1 MB each): most read nothing.
        let dir = tempfile::tempdir().unwrap();
        let mut options = options;
        options.ingest.range_bytes = 1 << 20;
        let many = (0..12)
            .map(|index| {
                let path = dir.path().join(format!("p{index}"));
                let shard = Shard { index, count: 12 };
                write_partial(corpus().1.clone(), &options.ingest, shard, &path).unwrap();
                path
            })
            .collect();
        let whole = report(corpus().1.clone(), &options);
        assert!(report(partials_input(many), &options) == whole);
    }

    #[test]
    fn shards_of_one_record_and_of_none_merge_like_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = options(usize::MAX);
        // Units shorter than a line: each holds one line start or none.
        options.ingest.range_bytes = 150;
        let shard_of = |unit: usize| match unit {
            0..=4 => unit,
            _ => 5,
        };
        let parts = partials(dir.path(), 7, shard_of, &options.ingest);
        let records: Vec<u64> = (parts.iter())
            .map(|p| read(p).unwrap().1.stats.read)
            .collect();
        assert!(records[..5].contains(&1), "{records:?}");
        assert!(records[..5].contains(&0), "{records:?}");
        assert_eq!(records[6], 0, "shard 6 has no unit");
        let whole = report(corpus().1.clone(), &options);
        assert!(report(partials_input(parts), &options) == whole);
    }

    #[test]
    fn shards_are_balanced_by_bytes() {
        let weights = [100, 5, 5, 5, 5, 100, 1, 1];
        let shards: Vec<Vec<bool>> = (0..3)
            .map(|index| Shard { index, count: 3 }.reads(&weights))
            .collect();
        for unit in 0..weights.len() {
            let holders = shards.iter().filter(|s| s[unit]).count();
            assert_eq!(holders, 1, "unit {unit} read by {holders} shards");
        }
        let loads: Vec<u64> = shards
            .iter()
            .map(|s| {
                (s.iter().zip(weights))
                    .filter(|(r, _)| **r)
                    .map(|(_, w)| w)
                    .sum()
            })
            .collect();
        assert_eq!(loads, [100, 110, 12]);
    }

    #[test]
    fn partials_of_other_runs_or_the_same_shard_twice_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let options = options(usize::MAX);
        let parts = partials(dir.path(), 2, |u| u % 2, &options.ingest);
        let refused = |paths: Vec<PathBuf>| {
            let error = merge(&paths, &options.ingest, None).expect_err("refused");
            format!("{error:#}")
        };
        let twice = refused(vec![parts[0].clone(), parts[0].clone()]);
        assert!(twice.contains("both hold shard 0"), "{twice}");
        let missing = refused(vec![parts[1].clone()]);
        assert!(missing.contains("missing: 0"), "{missing}");
        // Another id pattern reads other templates.
        let other = IngestOptions {
            id_patterns: vec!["^x[0-9]+$".into()],
            ..options.ingest.clone()
        };
        std::fs::create_dir(dir.path().join("odd")).unwrap();
        let odd = partials(&dir.path().join("odd"), 2, |u| u % 2, &other);
        let differ = refused(vec![parts[0].clone(), odd[1].clone()]);
        assert!(differ.contains("id-pattern: "), "{differ}");
        // Not a partial, and one cut short.
        let log = corpus().1[0].path.clone().unwrap();
        let not = refused(vec![log]);
        assert!(not.contains("is not a partial state"), "{not}");
        let bytes = std::fs::read(&parts[0]).unwrap();
        let cut = dir.path().join("cut");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let short = refused(vec![cut, parts[1].clone()]);
        assert!(short.contains("cut short or damaged"), "{short}");
    }

    #[test]
    fn a_shard_read_twice_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let options = options(usize::MAX);
        let shard = Shard { index: 1, count: 3 };
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write_partial(corpus().1.clone(), &options.ingest, shard, &a).unwrap();
        write_partial(corpus().1.clone(), &options.ingest, shard, &b).unwrap();
        assert!(std::fs::read(a).unwrap() == std::fs::read(b).unwrap());
    }
}
