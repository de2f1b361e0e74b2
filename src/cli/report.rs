//! `grantgap report`: why each principal was denied, and what to change.
//!
//! Usage: grantgap report <INPUT>... [--tokens F] [--role-snapshots F] [--roles F]
//!        [--principal GLOB]... [--since TIME] [--until TIME]
//!        [--policies F] [--map PAIRS] [--propagation-window 10m] [--min-peers 3]
//!        [--baseline PREVIOUS.json [--only-new]] [--suppressions F] [--today YYYY-MM-DD]
//!        [--top N] [--format table|json|jsonl|csv|markdown|html | --emit k8s-rbac|iam-policy
//!        [--allow-risky]] [--min-count N] [-o FILE]
//!        [--export DIR [--export-format parquet|csv] [--partition-by-date]]
//!
//! A folder is read as a bundle: `tokens.*`, `role_snapshots.*`, `roles.*` and
//! `policies.*` are those tables, every other log file is events. With
//! `--baseline`, the run ends with exit code 3 when a signature or a (principal,
//! missing permission) is new.

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use crate::cluster::suppress::Suppressions;
use crate::pipeline::{Input, Options};
use crate::report::emit::Emit;
use crate::report::export::ExportFormat;
use crate::report::{self, Format};

use super::{choice, suppressions, InputArgs, Outcome};

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: ReportOutput,
}

/// What to write and where: shared with `grantgap merge`.
#[derive(Debug, Args)]
pub struct ReportOutput {
    /// Output format.
    #[arg(long, default_value = "table", value_parser = choice::<Format>())]
    pub format: Format,
    /// Write the report to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A previous JSON report: mark signatures and (principal, permission) new, persisting or resolved.
    #[arg(long, value_name = "PREVIOUS.json")]
    pub baseline: Option<PathBuf>,
    /// Show only what is new against --baseline: findings and signatures a nightly job alerts on.
    #[arg(long, requires = "baseline")]
    pub only_new: bool,
    /// Show only findings and signatures of at least N denials.
    #[arg(long, value_name = "N")]
    pub min_count: Option<u64>,
    /// Show only the N most denied principals (the rest are counted).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Expected denials to hide: a JSON array of {signature | principal, cause, permission, endpoint; reason; expires}.
    #[arg(long, value_name = "F")]
    pub suppressions: Option<PathBuf>,
    /// Instead of the report, write the fixes natively: Kubernetes RBAC YAML or IAM policy JSON.
    #[arg(long, value_name = "FIX", conflicts_with = "format", value_parser = choice::<Emit>())]
    pub emit: Option<Emit>,
    /// Also emit what --emit refuses, each marked risky: grants to anonymous or system principals,
    /// and grants that escalate (secrets, pods/exec, bind, escalate, impersonate, wildcards, iam:PassRole, ...).
    #[arg(long, requires = "emit")]
    pub allow_risky: bool,
    /// The day suppression expiry is judged on (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<NaiveDate>,
    /// Also write the denials, diagnoses, principals, signatures and grants as tables into DIR.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// File format of --export.
    #[arg(long, default_value = "parquet", requires = "export", value_parser = choice::<ExportFormat>())]
    pub export_format: ExportFormat,
    /// Cut exported tables by the day first seen: `DIR/<table>/date=YYYY-MM-DD/part-0.parquet`.
    #[arg(long, requires = "export")]
    pub partition_by_date: bool,
}

pub fn run(args: ReportArgs) -> Result<Outcome> {
    let files = args.input.files()?;
    let checked = args.output.check()?;
    let options = args.input.pipeline(checked.suppressions)?;
    let principals = args.input.principal.clone();
    args.output
        .write(files.into(), &options, checked.previous, principals)
}

/// What is read before any log: a failed run has written nothing.
pub struct Checked {
    pub previous: Option<report::baseline::Previous>,
    pub suppressions: Suppressions,
}

impl ReportOutput {
    /// Checks the outputs and reads the baseline and the suppressions.
    pub fn check(&self) -> Result<Checked> {
        super::check_output(self.output.as_deref())?;
        if let Some(dir) = &self.export {
            crate::output::check_dir(dir)?;
        }
        let previous = (self.baseline.as_deref())
            .map(report::baseline::Previous::load)
            .transpose()?;
        Ok(Checked {
            previous,
            suppressions: suppressions(self.suppressions.as_deref(), self.today)?,
        })
    }

    /// Runs the pipeline over `input` and writes what was asked; `principals`
    /// are those `--principal` named, for `--emit` to say which got no fix.
    pub fn write(
        &self,
        input: Input,
        options: &Options,
        previous: Option<report::baseline::Previous>,
        principals: Vec<glob::Pattern>,
    ) -> Result<Outcome> {
        let mut report = match &self.export {
            None => crate::pipeline::analyse(input, options)?,
            Some(dir) => {
                let (report, frames) = crate::pipeline::analyse_with_frames(input, options)?;
                crate::output::replace_dir_atomically(dir, |staging| {
                    report::export::write(
                        &frames,
                        staging,
                        self.export_format,
                        self.partition_by_date,
                    )
                    .map(|_| ())
                })?;
                report
            }
        };
        if let Some(previous) = &previous {
            report::baseline::apply(&mut report, previous)?;
            if self.only_new {
                report::baseline::keep_only_new(&mut report);
            }
        }
        if let Some(min) = self.min_count {
            report::keep_min_count(&mut report, min);
        }
        if let Some(top) = self.top {
            report::keep_top(&mut report, top);
        }
        super::print_skipped(&report);
        let emit_options = report::emit::Options {
            principals,
            allow_risky: self.allow_risky,
        };
        // Rendered before anything is written: a fix that cannot be made stops the run.
        let emitted = self
            .emit
            .map(|emit| report::emit::emit(&report, emit, &emit_options))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        super::write_output(self.output.as_deref(), |out| match &emitted {
            Some(emitted) => out.write_all(emitted.text.as_bytes()),
            None => report::write(&report, self.format, out),
        })?;
        let left_out = emitted.map(|e| e.warnings).unwrap_or_default();
        // Refused and skipped grants change what the fix does: said on stderr, not only in a YAML comment.
        for warning in &left_out {
            eprintln!("grantgap: --emit: {warning}");
        }
        let new = report.baseline.as_ref().is_some_and(|b| b.has_new());
        Ok(if new {
            Outcome::NewDenials
        } else {
            Outcome::Done
        })
    }
}
