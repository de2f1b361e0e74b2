//! grantgap reads API audit logs and explains, per service account, why requests
//! were denied with 403 and what to grant, refresh or fix.
//!
//! The pipeline is the architecture; each stage is a module with one input and
//! one output:
//!
//! | stage | in | out |
//! | --- | --- | --- |
//! | [`ingest`] | input files | [`ingest::Ingested`]: event aggregates and the small tables |
//! | [`correlate`] | `Ingested` | [`correlate::Correlation`]: each denial group with its snapshot and token |
//! | [`diagnose`] | `Correlation` | [`diagnose::Diagnosed`]: one cause, missing permissions and evidence per group |
//! | [`cluster`] | `Diagnosed` | [`cluster::Clustered`]: findings per principal with the fix, signatures |
//! | [`report`] | `Clustered` | [`report::Report`], written as table, JSON, CSV, Markdown or HTML; its tables ([`report::frames`]) for `--export` and `grantgap query` |
//!
//! Spike detection ([`cluster::spikes`]) reads the same outputs over time.
//!
//! Beside the pipeline: [`generate`] writes synthetic logs with known answers,
//! and [`evaluate`] scores the pipeline's diagnoses against them. Shared by the
//! stages: [`model`] (the records), [`intern`] (one copy of strings that repeat
//! across a million groups) and [`output`] (writing files safely).

pub mod cluster;
pub mod correlate;
pub mod diagnose;
pub mod evaluate;
pub mod generate;
pub mod ingest;
pub mod intern;
pub mod model;
pub mod output;
pub mod report;

use anyhow::Result;

use crate::cluster::suppress::Suppressions;
use crate::cluster::Clustered;
use crate::diagnose::policy::PolicyCatalog;
use crate::diagnose::{DiagnoseOptions, Diagnosed};
use crate::ingest::input::InputFile;
use crate::ingest::{IngestOptions, Ingested};

/// How to run the pipeline.
#[derive(Debug, Default)]
pub struct Options {
    pub ingest: IngestOptions,
    pub diagnose: DiagnoseOptions,
    pub suppressions: Suppressions,
}

/// Runs ingest, correlate, diagnose and cluster over the inputs, and hands the
/// stages' outputs to `finish` (they borrow from one another, so they live here).
pub fn run_pipeline<T>(
    files: Vec<InputFile>,
    options: &Options,
    finish: impl FnOnce(&Ingested, &Diagnosed, Clustered) -> Result<T>,
) -> Result<T> {
    let mut clock = StageClock::start();
    let ingested = ingest::ingest(files, &options.ingest)?;
    clock.lap("ingest");
    let correlation = correlate::correlate(&ingested)?;
    clock.lap("correlate");
    let catalog = PolicyCatalog::new(ingested.policies.clone());
    let diagnosed = diagnose::diagnose(&correlation, &catalog, &ingested.events, options.diagnose);
    clock.lap("diagnose");
    let locate = |position| ingested.locate(position);
    let clustered = cluster::cluster(&diagnosed, &locate, &options.suppressions);
    clock.lap("cluster");
    let result = finish(&ingested, &diagnosed, clustered);
    clock.lap("report");
    result
}

/// Time spent per stage, printed to stderr when `GRANTGAP_TIMINGS` is set: where
/// a run's time goes, without a profiler.
pub(crate) struct StageClock {
    last: Option<std::time::Instant>,
}

impl StageClock {
    pub(crate) fn start() -> Self {
        StageClock {
            last: std::env::var_os("GRANTGAP_TIMINGS").map(|_| std::time::Instant::now()),
        }
    }

    pub(crate) fn lap(&mut self, stage: &str) {
        if let Some(last) = self.last {
            eprintln!(
                "grantgap: {stage}: {:.2} s, {}",
                last.elapsed().as_secs_f64(),
                memory_in_use()
            );
            self.last = Some(std::time::Instant::now());
        }
    }
}

/// The process's resident and peak resident memory, as Linux reports them
/// (empty elsewhere): which stage holds the memory, without a heap profiler.
fn memory_in_use() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

/// Runs the whole pipeline and returns the report with its tables (for
/// `--export` and `grantgap query`).
pub fn analyse_with_frames(
    files: Vec<InputFile>,
    options: &Options,
) -> Result<(report::Report, report::frames::Frames)> {
    run_pipeline(files, options, |ingested, diagnosed, clustered| {
        let denials = report::frames::denials(diagnosed, &clustered)?;
        let report = report::Report::new(ingested, diagnosed, clustered);
        let frames = report::frames::Frames::new(ingested, denials, &report)?;
        Ok((report, frames))
    })
}

/// Runs the whole pipeline over the inputs and returns the report.
pub fn analyse(files: Vec<InputFile>, options: &Options) -> Result<report::Report> {
    run_pipeline(files, options, |ingested, diagnosed, clustered| {
        Ok(report::Report::new(ingested, diagnosed, clustered))
    })
}
