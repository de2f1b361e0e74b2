//! The pipeline driver: ingest once, then correlate, diagnose and cluster a
//! partition of principals at a time, then the conclusions drawn over all of
//! them (the timeline and its spikes, least privilege, warnings).
//!
//! Correlate, diagnose and cluster take the denial groups a partition of
//! principals at a time, as ingest hands them back from disk: every finding is
//! about one principal, so a partition's groups, correlations and diagnoses are
//! dropped once it is clustered, and only the signatures span partitions.
//! The next partition is merged from disk while one is at work, so two are
//! held at most: memory does not grow with the denial groups.

use anyhow::Result;

use crate::clock::StageClock;
use crate::cluster::suppress::Suppressions;
use crate::cluster::Clusterer;
use crate::correlate::Reference;
use crate::diagnose::policy::PolicyCatalog;
use crate::diagnose::{least_privilege, DiagnoseOptions};
use crate::ingest::{self, IngestOptions, Ingested, InputFile};
use crate::model::{DenialGroup, DenialKey};
use crate::report::{self, Analysis, Partition};
use crate::spikes::{self, DenialTimes, Evidence};
use crate::{correlate, diagnose};

/// Where a run's events come from.
#[derive(Debug)]
pub enum Input {
    /// The logs, read here.
    Logs(Vec<InputFile>),
    /// Partial states made from them (`grantgap partial`), merged here:
    /// with a window, those of the runs whose newest event is within it.
    Partials {
        paths: Vec<std::path::PathBuf>,
        window: Option<crate::model::Millis>,
    },
}

impl From<Vec<InputFile>> for Input {
    fn from(files: Vec<InputFile>) -> Self {
        Input::Logs(files)
    }
}

impl Input {
    fn ingest(self, options: &IngestOptions) -> Result<Ingested> {
        match self {
            Input::Logs(files) => ingest::ingest(files, options),
            Input::Partials { paths, window } => ingest::partial::merge(&paths, options, window),
        }
    }
}

/// How to run the pipeline.
#[derive(Debug)]
pub struct Options {
    pub ingest: IngestOptions,
    pub diagnose: DiagnoseOptions,
    pub suppressions: Suppressions,
    /// Denial groups correlated, diagnosed and clustered together: about this
    /// many (whole principals) at a time. The report is the same whatever it is.
    pub groups_per_partition: usize,
}

/// A denial group with its correlation and diagnosis takes about 600 bytes and
/// lives only until its partition is clustered: with 65,536 groups at a time a
/// run holds about 40 MB of them, not 400 MB at 10 GB (680,000 groups). Fewer
/// at a time would save little and add the joins' fixed cost per partition.
const GROUPS_PER_PARTITION: usize = 1 << 16;

impl Default for Options {
    fn default() -> Self {
        Options {
            ingest: IngestOptions::default(),
            diagnose: DiagnoseOptions::default(),
            suppressions: Suppressions::default(),
            groups_per_partition: GROUPS_PER_PARTITION,
        }
    }
}

/// Reads the inputs and learns a policy catalog from who succeeds on each
/// endpoint (see [`diagnose::learn`]); `None` when no role snapshot or IAM
/// export said what any principal held.
pub fn learn_policies(
    files: Vec<InputFile>,
    options: &Options,
) -> Result<
    Option<(
        Vec<diagnose::learn::LearnedRule>,
        diagnose::learn::Unlearned,
    )>,
> {
    let mut ingested = ingest::ingest(files, &options.ingest)?;
    let denials = ingested.events.denial_groups()?;
    let reference = Reference::new(&ingested)?;
    if reference.history.principals().is_empty() {
        return Ok(None);
    }
    Ok(Some(diagnose::learn::learn(
        &ingested.events.successes,
        &denials,
        &reference.history,
        options.diagnose.min_peers,
    )))
}

/// Runs ingest, then correlate, diagnose and cluster a partition of principals
/// at a time, handing each partition to `each_partition`, and the result with
/// what it made of each partition to `finish` (which borrows from what ingest
/// made, so both live here).
pub fn run_pipeline<P, T>(
    input: impl Into<Input>,
    options: &Options,
    mut each_partition: impl FnMut(&Partition) -> Result<P>,
    finish: impl FnOnce(&Ingested, Analysis, Vec<P>) -> Result<T>,
) -> Result<T> {
    let mut clock = StageClock::start();
    let mut ingested = input.into().ingest(&options.ingest)?;
    let denials = ingested.events.take_denials()?;
    clock.lap("ingest");
    purge_freed_memory_at_once();
    let (runs, bytes) = denials.written();
    clock.note(&format!(
        "denial groups written to disk: {runs} runs, {} MB",
        bytes >> 20
    ));
    let reference = Reference::new(&ingested)?;
    let catalog = PolicyCatalog::new(ingested.policies.clone());
    let locate = |position| ingested.locate(position);
    let messages = ingested.events.messages.iter().map(|m| &**m);
    let mut clusterer = Clusterer::new(messages, &options.suppressions);
    let mut times = DenialTimes::default();
    let mut made = Vec::new();
    clock.split("correlate");
    std::thread::scope(|scope| -> Result<()> {
        let mut partitions = denials
            .partitions(&ingested.events, options.groups_per_partition)
            .merged_ahead(scope);
        // Made while the first partition is merged.
        let successes = diagnose::SuccessIndex::new(&ingested.events.successes);
        clock.split("diagnose");
        // At least one partition, empty when nothing was denied, so what each
        // partition makes (an exported table) always has one part.
        while let Some(groups) = match partitions.next_partition()? {
            None if made.is_empty() => Some(Vec::new()),
            next => next,
        } {
            clock.split("resolve objects");
            let groups: Vec<(&DenialKey, &DenialGroup)> =
                groups.iter().map(|(k, g)| (k, g)).collect();
            let correlation = correlate::correlate(&reference, &groups)?;
            clock.split("correlate");
            let diagnosed =
                diagnose::diagnose(&correlation, &catalog, &successes, options.diagnose);
            clock.split("diagnose");
            clusterer.add(&diagnosed, &locate);
            let (signature_of, hidden) = clusterer.partition_signatures();
            times.add(&diagnosed, signature_of, hidden);
            clock.split("cluster");
            made.push(each_partition(&Partition {
                diagnosed: &diagnosed,
                signature_ids: signature_of
                    .iter()
                    .map(|&n| clusterer.signature_id(n))
                    .collect(),
                hidden,
            })?);
            clock.split("cluster");
        }
        Ok(())
    })?;
    let clustered = clusterer.finish();
    clock.split("cluster");
    clock.print_splits();
    let timeline = spikes::timeline(&Evidence {
        tokens: &ingested.tokens,
        reference: &reference,
        clustered: &clustered,
        times: &times,
    });
    let successes = &ingested.events.successes;
    let least_privilege = least_privilege::unused_grants(
        successes,
        &reference.history,
        &catalog,
        least_privilege::period(successes),
    );
    let mut warnings = reference.warnings();
    warnings.extend(ingested.warnings());
    let analysis = Analysis {
        reference,
        times,
        clustered,
        timeline,
        least_privilege,
        warnings,
    };
    let result = finish(&ingested, analysis, made);
    clock.lap("report");
    result
}

/// Runs the whole pipeline and returns the report with its tables (for
/// `--export` and `grantgap query`).
pub fn analyse_with_frames(
    input: impl Into<Input>,
    options: &Options,
) -> Result<(report::Report, report::frames::Frames)> {
    run_pipeline(
        input,
        options,
        report::frames::denials,
        |ingested, analysis, denials| {
            let denials = report::frames::stacked(denials)?;
            let report = report::Report::new(ingested, analysis);
            let frames = report::frames::Frames::new(ingested, denials, &report)?;
            Ok((report, frames))
        },
    )
}

/// Runs the whole pipeline over the inputs and returns the report.
pub fn analyse(input: impl Into<Input>, options: &Options) -> Result<report::Report> {
    run_pipeline(
        input,
        options,
        |_| Ok(()),
        |ingested, analysis, _| Ok(report::Report::new(ingested, analysis)),
    )
}

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v2): the option between
/// `eager_commit_delay` (14) and `use_numa_nodes` (16), which libmimalloc-sys
/// names; it does not name this one.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// From here on, freed memory goes back to the system at once, not 10 ms
/// later, unless the operator set `MIMALLOC_PURGE_DELAY`. The denial groups
/// are correlated, diagnosed and clustered a partition at a time, each
/// partition allocating and freeing its own (polars its join tables): with the
/// delay, the pages they leave stay resident into the next one (peak 281-283
/// against 321-323 MB at 2 GB). Not while reading: there, purging at once cost
/// 13% of a 1 GB CloudTrail run (12.8 against 11.2 s), its records' JSON
/// trees being freed and their pages faulted in again.
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a number mimalloc reads when it next purges; any value is valid.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::DataFrame;

    use super::*;
    use crate::cluster::suppress::Suppression;
    use crate::generate::{self, GenerateOptions};

    /// The report (as JSON) and the exported denials table of the log in `dir`,
    /// with `groups_per_partition`, workers writing out their groups once they
    /// hold `spill_after` (and reading 64 KiB at a time, so they do it often).
    fn outputs(
        dir: &std::path::Path,
        groups_per_partition: usize,
        spill_after: usize,
    ) -> (String, DataFrame) {
        // A suppression, so suppressed denials and their tallies cross partitions too.
        let hide = Suppression {
            signature: None,
            principal: None,
            cause: Some("token_expired".into()),
            permission: None,
            endpoint: None,
            reason: "refresh is being fixed".into(),
            expires: None,
        };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let options = Options {
            suppressions: Suppressions::new(vec![hide], today).unwrap(),
            groups_per_partition,
            ingest: IngestOptions {
                spill_after,
                range_bytes: 1 << 16,
                ..IngestOptions::default()
            },
            ..Options::default()
        };
        let files =
            ingest::source::input::resolve(dir.join("logs").to_str().unwrap(), None).unwrap();
        let (report, mut frames) = analyse_with_frames(files, &options).unwrap();
        let at = frames
            .tables
            .iter()
            .position(|(name, _)| *name == "denials");
        let (_, denials) = frames.tables.swap_remove(at.unwrap());
        (serde_json::to_string_pretty(&report).unwrap(), denials)
    }

    #[test]
    fn the_report_is_the_same_whatever_the_partitions_and_spills() {
        let dir = tempfile::tempdir().unwrap();
        let log = GenerateOptions {
            principals: 40,
            seed: 5,
            ..GenerateOptions::new(dir.path().to_path_buf(), 30_000)
        };
        generate::generate(&log, |_| {}).unwrap();
        let (whole, whole_denials) = outputs(dir.path(), usize::MAX, usize::MAX);
        let report: serde_json::Value = serde_json::from_str(&whole).unwrap();
        assert!(report["principals"].as_array().unwrap().len() > 20);
        assert!(report["suppressed"]["denials"].as_u64().unwrap() > 0);
        assert!(whole_denials.height() > 1000);
        for (size, spill_after) in [(1, usize::MAX), (37, 1), (1000, 50), (usize::MAX, 400)] {
            let (partitioned, denials) = outputs(dir.path(), size, spill_after);
            let case = format!("{size} groups per partition, spilled after {spill_after}");
            assert!(partitioned == whole, "{case}");
            assert!(denials.equals_missing(&whole_denials), "{case}");
        }
    }

    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_documents() {
        use libmimalloc_sys::{
            mi_option_eager_commit_delay, mi_option_get, mi_option_use_numa_nodes,
        };
        // SAFETY: reading mimalloc's options.
        let (before, after) = unsafe {
            (
                mi_option_get(mi_option_eager_commit_delay),
                mi_option_get(mi_option_use_numa_nodes),
            )
        };
        // Its neighbours hold their documented defaults, as does the option itself
        // (10 ms) unless the environment sets it or a pipeline test ran first.
        assert_eq!((before, after), (1, 0));
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert!(matches!(
                unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) },
                10 | 0
            ));
            purge_freed_memory_at_once();
            assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 0);
        }
    }
}
