//! The command line: options shared by subcommands, and one file per subcommand.

pub mod completions;
pub mod config;
pub mod eval;
pub mod generate;
pub mod man;
pub mod merge;
pub mod partial;
pub mod policies;
pub mod query;
pub mod report;
pub mod signatures;
pub mod spikes;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::choice::Choice;
use crate::cluster::suppress::Suppressions;
use crate::diagnose::DiagnoseOptions;
use crate::ingest::{self, FieldMap, IngestOptions, InputFile, InputFormat, SizeLimits};
use crate::model::{Millis, Table};

/// Where the inputs are and how to read them.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Event logs: files, folders (read as bundles), globs, or - for stdin.
    #[arg(required_unless_present = "config", value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Read options from a TOML file (keys are the long options, `inputs` the inputs);
    /// the command line overrides it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Issued tokens (token_id, principal, scopes, issued_at, expires_at).
    #[arg(long, value_name = "F")]
    pub tokens: Vec<String>,
    /// Role snapshots (snapshot_at, principal, role, data_scope).
    #[arg(long, value_name = "F")]
    pub role_snapshots: Vec<String>,
    /// Role definitions (role, permissions, inherits, plane).
    #[arg(long, value_name = "F")]
    pub roles: Vec<String>,
    /// IAM state as the platform exports it: a Kubernetes RBAC dump (kubectl get
    /// roles,rolebindings,clusterroles,clusterrolebindings -A -o json) or AWS
    /// `aws iam get-account-authorization-details`. A time in the file name
    /// (2026-11-20T08-00-00Z) dates the dump; several dumps form a history.
    #[arg(long, visible_alias = "iam", value_name = "F")]
    pub rbac: Vec<String>,
    /// When an IAM export was taken, where neither its data nor its name says:
    /// FILE=TIME (repeat per file).
    #[arg(long, value_name = "FILE=TIME", value_parser = file_instant)]
    pub snapshot_at: Vec<(std::path::PathBuf, Millis)>,
    /// Endpoint policies (method, path, all_of, any_of, fields, data_scoped).
    #[arg(long, value_name = "F")]
    pub policies: Vec<String>,
    /// Field mapping, canonical=source pairs: `status=status_code,principal=user,status=response.status`.
    #[arg(long, value_name = "PAIRS", value_parser = FieldMap::parse_pairs)]
    pub map: Option<FieldMap>,
    /// The events' log format.
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = input_format())]
    pub input_format: InputFormat,
    /// Field mapping from a JSON object file: {"status": "response.status"}.
    #[arg(long, value_name = "FILE")]
    pub map_file: Option<PathBuf>,
    /// Stop with exit code 4, before any output, if any input record cannot be used.
    #[arg(long)]
    pub strict: bool,
    /// Stop with exit code 5, before the report, if more than this share of events is skipped
    /// (0.05, or 5%; 0 allows any share); a run that uses no event at all always stops.
    /// A few bad lines in a real log pass (2 of 438 in one export); a feed grantgap cannot read does not.
    #[arg(long, value_name = "SHARE", default_value = "5%", value_parser = share)]
    pub max_skipped: f64,
    /// Write every skipped input record to this file (JSON Lines: where, why, the record redacted).
    #[arg(long, value_name = "FILE")]
    pub quarantine: Option<PathBuf>,
    /// Never draw progress bars (they are drawn only on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Read files with read(2), not a memory map: for logs truncated while read (logrotate copytruncate end a mapped read with SIGBUS).
    #[arg(long)]
    pub no_mmap: bool,
    /// How long after a grant a denial counts as permission-sync delay (e.g. 10m, 90s).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub propagation_window: std::time::Duration,
    /// A regular expression for path segments that are ids, beyond the built-in ones (repeatable).
    #[arg(long, value_name = "REGEX", value_parser = id_pattern)]
    pub id_pattern: Vec<String>,
    /// Distinct segments after one path prefix from which that position is learned as {id} (0: never).
    #[arg(long, value_name = "N", default_value_t = crate::ingest::DEFAULT_LEARN_MIN_VALUES)]
    pub learn_templates: usize,
    /// Fewest succeeding peers from which a required permission is inferred.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub min_peers: usize,
    /// Longest record (a JSON line, a CSV row) read; longer ones are skipped as "too long" (e.g. 16MiB).
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = byte_size)]
    pub max_record_size: u64,
    /// Report only the denials of principals matching this glob (`svc-*`; repeat for more).
    /// Allowed requests of every principal still count as peers' evidence.
    #[arg(long, value_name = "GLOB", value_parser = principal_glob)]
    pub principal: Vec<glob::Pattern>,
    /// Report only denials at or after this time (RFC 3339, or a day: 2026-11-20 is its midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = instant)]
    pub since: Option<Millis>,
    /// Report only denials before this time (as --since).
    #[arg(long, value_name = "TIME", value_parser = instant)]
    pub until: Option<Millis>,
    /// Largest file read whole (a JSON array, a YAML stream, a compressed Parquet file); larger ones are skipped.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = byte_size)]
    pub max_document_size: u64,
}

/// `--input-format`'s values, with their help, from the formats ingest reads.
fn input_format() -> impl clap::builder::TypedValueParser<Value = InputFormat> {
    let choices = InputFormat::choices().map(|(name, about)| PossibleValue::new(name).help(about));
    PossibleValuesParser::new(choices.collect::<Vec<_>>())
        .map(|name| InputFormat::named(&name).expect("a name from the list"))
}

/// The list formats of `signatures`, `spikes` and `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for a terminal.
    Table,
    /// Everything, for machines.
    Json,
}

/// A value parser for the values of a `Choice`, each with its help.
pub fn choice<T: Choice>() -> impl TypedValueParser<Value = T> {
    let values = T::ALL
        .iter()
        .map(|v| PossibleValue::new(v.name()).help(v.about()));
    PossibleValuesParser::new(values.collect::<Vec<_>>()).map(|name| {
        *T::ALL
            .iter()
            .find(|v| v.name() == name)
            .expect("clap accepts only the names listed")
    })
}

/// Loads the suppressions file, if any, judged on `today` (default: the UTC date).
pub fn suppressions(
    path: Option<&std::path::Path>,
    today: Option<NaiveDate>,
) -> Result<Suppressions> {
    let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    path.map_or(Ok(Suppressions::default()), |p| {
        Suppressions::load(p, today)
    })
}

/// A duration in milliseconds, the unit of every time grantgap keeps.
pub fn millis(duration: std::time::Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// A share written as a fraction (`0.05`) or a percentage (`5%`), from 0 to 1.
fn share(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.parse::<f64>(),
    };
    match value {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err("give a share from 0 to 1, or a percentage (for example 0.05 or 5%)".into()),
    }
}

/// `--max-skipped`: 0 turns the share off; a run that used no event still fails.
fn max_share(share: f64) -> f64 {
    if share == 0.0 {
        1.0
    } else {
        share
    }
}

/// `--principal`: a glob, refused at once if it is not one.
fn principal_glob(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("{e}: give a name or a glob such as svc-*"))
}

/// `--since`, `--until`: RFC 3339, epoch seconds or milliseconds, or a day (its midnight UTC).
fn instant(text: &str) -> Result<Millis, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    crate::model::time::parse(text).map_err(|e| {
        format!("{e}: give a time such as 2026-11-20T06:00:00Z or a day such as 2026-11-20")
    })
}

/// `--snapshot-at FILE=TIME`.
fn file_instant(text: &str) -> Result<(std::path::PathBuf, Millis), String> {
    let (file, time) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not FILE=TIME: write iam.json=2026-11-20T08:00:00Z"))?;
    Ok((std::path::PathBuf::from(file), instant(time)?))
}

/// `--id-pattern`: a regular expression, refused at once if it does not compile.
fn id_pattern(pattern: &str) -> Result<String> {
    crate::ingest::Templater::with_patterns(&[pattern.to_string()])?;
    Ok(pattern.to_string())
}

/// A size such as `16MiB`, `500MB` or `1048576` (bytes).
fn byte_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text
        .parse()
        .map_err(|e| format!("{e}: write a size such as 16MiB, 500MB or 1048576"))?;
    if size.as_u64() == 0 {
        return Err("a size of 0 would skip every record: give a positive size".into());
    }
    Ok(size.as_u64())
}

impl InputArgs {
    /// Resolves every named input into files, each with its table.
    pub fn files(&self) -> Result<Vec<InputFile>> {
        if self.inputs.is_empty() {
            anyhow::bail!(
                "no input: name the logs on the command line or as `inputs` in the config"
            );
        }
        let mut files = Vec::new();
        for arg in &self.inputs {
            files.extend(ingest::resolve(arg, None)?);
        }
        let flagged = [
            (&self.tokens, Table::Tokens),
            (&self.role_snapshots, Table::RoleSnapshots),
            (&self.roles, Table::Roles),
            (&self.policies, Table::Policies),
            (&self.rbac, Table::Rbac),
        ];
        for (args, table) in flagged {
            for arg in args {
                files.extend(ingest::resolve(arg, Some(table))?);
            }
        }
        crate::output::protect_inputs(files.iter().filter_map(|f| f.path.as_deref()));
        check_output(self.quarantine.as_deref())?;
        // The same inputs in any order are the same run: file order decides
        // nothing, and a file named twice is read once.
        files.sort();
        files.dedup_by(|a, b| {
            let same = a.path.is_some() && a.path == b.path && a.table == b.table;
            b.explicit |= same && a.explicit;
            same
        });
        Ok(files)
    }

    /// How to run the pipeline, with these suppressions.
    pub fn pipeline(&self, suppressions: Suppressions) -> Result<crate::pipeline::Options> {
        Ok(crate::pipeline::Options {
            ingest: self.options()?,
            diagnose: self.diagnose_options(),
            suppressions,
            ..crate::pipeline::Options::default()
        })
    }

    /// How to judge the denials.
    fn diagnose_options(&self) -> DiagnoseOptions {
        DiagnoseOptions {
            min_peers: self.min_peers,
        }
    }

    /// How to read the inputs.
    fn options(&self) -> Result<IngestOptions> {
        let mut field_map = FieldMap::default();
        if let Some(path) = &self.map_file {
            field_map.extend(FieldMap::from_json_file(path)?);
        }
        if let Some(pairs) = &self.map {
            field_map.extend(pairs.clone());
        }
        Ok(IngestOptions {
            field_map,
            progress: !self.no_progress,
            propagation_window: millis(self.propagation_window),
            id_patterns: self.id_pattern.clone(),
            learn_min_values: self.learn_templates,
            input_format: self.input_format,
            denials: crate::ingest::DenialFilter {
                principals: self.principal.clone(),
                since: self.since,
                until: self.until,
            },
            strict: self.strict,
            max_skipped: Some(max_share(self.max_skipped)),
            quarantine: self.quarantine.clone(),
            snapshot_at: self.snapshot_at.clone(),
            mmap: !self.no_mmap,
            limits: SizeLimits {
                record: usize::try_from(self.max_record_size).unwrap_or(usize::MAX),
                document: self.max_document_size,
            },
            ..IngestOptions::default()
        })
    }
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing new against a baseline (or no baseline).
    Done,
    /// Done, and the baseline comparison found new denials.
    NewDenials,
}

/// Prints the first bad records and the counts per reason to stderr.
pub fn print_skipped(report: &crate::report::Report) {
    use crate::report::text::terminal;
    for bad in report.bad_records.iter().take(BAD_RECORDS_SHOWN) {
        eprintln!(
            "{}: {}: {}",
            terminal(&bad.at),
            bad.reason,
            terminal(&bad.detail)
        );
    }
    for (table, counts) in &report.records {
        for (reason, n) in &counts.skipped_by_reason {
            eprintln!("grantgap: skipped {n} {table} records: {reason}");
        }
    }
}

/// Bad records shown on stderr before the counts per reason.
const BAD_RECORDS_SHOWN: usize = 20;

/// Refuses an output file that would destroy an input (checked before the run
/// reads anything, and again when written).
pub fn check_output(path: Option<&Path>) -> Result<()> {
    stdout_or(path).map_or(Ok(()), crate::output::check_file)
}

/// The output file named, `None` for standard output (no file, or `-o -`).
fn stdout_or(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| p.as_os_str() != "-")
}

/// Writes output to a file whole or not at all (see `crate::output`), or
/// to stdout when no file is named.
pub fn write_output(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let Some(path) = stdout_or(path) else {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        write(&mut out).context("cannot write to standard output")?;
        out.flush().context("cannot write to standard output")?;
        return Ok(());
    };
    crate::output::write_atomically(path, write)
}

/// What ended a run that failed: `main` gives each its exit code.
pub enum Failure {
    /// `--strict` met an input record it could not use.
    StrictInput,
    /// No event could be used, or more than `--max-skipped` were skipped.
    UnusableInput,
    /// An output would have replaced an input.
    RefusedOutput,
    /// Anything else: an unreadable input, an unwritable output.
    Error,
}

/// The kind of `error`.
pub fn failure(error: &anyhow::Error) -> Failure {
    if error
        .downcast_ref::<crate::ingest::StrictFailure>()
        .is_some()
    {
        Failure::StrictInput
    } else if error
        .downcast_ref::<crate::ingest::UnusableInput>()
        .is_some()
    {
        Failure::UnusableInput
    } else if error
        .downcast_ref::<crate::output::RefusedOutput>()
        .is_some()
    {
        Failure::RefusedOutput
    } else {
        Failure::Error
    }
}

pub use crate::output::remove_partial_outputs;
