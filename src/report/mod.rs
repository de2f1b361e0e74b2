//! Stage 5, report: findings in, the report out, in the format asked for.
//!
//! Every format is written from the one [`Report`], so they carry the same facts.
//! Nothing here depends on the clock or on hash order: the same inputs give
//! byte-identical reports.

mod analysis;
pub mod baseline;
mod csv;
pub mod emit;
pub mod export;
pub mod frames;
mod html;
mod json;
mod markdown;
mod table;
pub mod text;

pub use self::analysis::{Analysis, Partition};
pub use self::table::{write_signatures, write_spikes};

use crate::choice::Choice;
use std::collections::BTreeMap;
use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use self::baseline::BaselineDiff;
use crate::cluster::signature::Signature;
use crate::cluster::{PrincipalFindings, Suppressed};
use crate::diagnose::least_privilege::PrincipalGrants;
use crate::diagnose::Level;
use crate::ingest::Ingested;
use crate::spikes::SpikeReport;

/// Version of the report's JSON shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A grantgap report, as `--format json` writes it. `schema_version` changes
/// with any change that would break a reader of the previous version.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "grantgap report")]
pub struct Report {
    pub schema_version: u32,
    /// Records read, used and skipped, per table.
    pub records: BTreeMap<&'static str, RecordCounts>,
    /// The first records that could not be used.
    pub bad_records: Vec<BadRecordRow>,
    pub requests: RequestCounts,
    /// Principals with denials, most denied first.
    pub principals: Vec<PrincipalFindings>,
    /// Principals with denials left out by `--top`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub principals_not_shown: u64,
    /// Failure signatures, most frequent first.
    pub signatures: Vec<Signature>,
    /// Denials over time by cause and by top signature, and the spikes.
    pub timeline: SpikeReport,
    /// Per principal with role snapshots: granted permissions no successful request needed.
    pub least_privilege: Vec<PrincipalGrants>,
    /// What suppressions hid.
    pub suppressed: Suppressed,
    /// Against `--baseline`: what is new, persisting, resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineDiff>,
    /// Endpoint templates learned from the data (a prefix followed by many values).
    pub learned_templates: Vec<String>,
    /// Problems in the inputs that do not stop the report (role cycles, …).
    pub warnings: Vec<String>,
}

/// Records of one table. `read = used + skipped`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordCounts {
    pub read: u64,
    pub used: u64,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
}

/// A record that could not be used, and why.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BadRecordRow {
    /// `file:line`.
    pub at: String,
    pub reason: String,
    pub detail: String,
}

/// What the used events were.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestCounts {
    pub total: u64,
    pub allowed: u64,
    pub denied: u64,
    /// Neither allowed nor 403 (404, 401, 5xx…).
    pub other: u64,
    /// Denials left out by `--principal`, `--since` or `--until` (not in `denied`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub denied_filtered_out: u64,
}

impl Report {
    /// Assembles the report from the pipeline's outputs.
    pub fn new(ingested: &Ingested, analysis: Analysis) -> Self {
        let records = ingested
            .stats
            .iter()
            .map(|(table, s)| {
                let counts = RecordCounts {
                    read: s.read,
                    used: s.used,
                    skipped: s.skipped_total(),
                    skipped_by_reason: s.skipped.clone(),
                };
                (table.name(), counts)
            })
            .collect();
        let bad_records = ingested
            .bad_records
            .iter()
            .map(|b| BadRecordRow {
                at: ingested.locate(b.position),
                reason: b.kind.clone(),
                detail: b.detail.clone(),
            })
            .collect();
        let events = &ingested.events;
        let allowed = events.successes.values().map(|s| s.count).sum();
        let denied = events.denied;
        let other = events.other_statuses.values().sum();
        let filtered = events.filtered_denials;
        let clustered = analysis.clustered;
        Report {
            schema_version: SCHEMA_VERSION,
            timeline: analysis.timeline,
            least_privilege: analysis.least_privilege,
            records,
            bad_records,
            requests: RequestCounts {
                total: allowed + denied + other + filtered,
                allowed,
                denied,
                other,
                denied_filtered_out: filtered,
            },
            principals: clustered.principals,
            principals_not_shown: 0,
            signatures: clustered.signatures,
            suppressed: clustered.suppressed,
            baseline: None,
            learned_templates: ingested.learned_templates.clone(),
            warnings: analysis.warnings,
        }
    }
}

/// One line on signatures, the baseline comparison and suppressions, for the
/// human-readable formats.
pub fn summary_line(report: &Report) -> String {
    let mut parts = vec![format!("{} failure signatures", report.signatures.len())];
    if let Some(b) = &report.baseline {
        parts.push(format!(
            "against the baseline: {} new, {} persisting, {} resolved; (principal, permission) pairs: {} new, {} resolved",
            b.signatures.new.len(),
            b.signatures.persisting.len(),
            b.signatures.resolved.len(),
            b.principal_permissions.new.len(),
            b.principal_permissions.resolved.len()
        ));
    }
    if report.suppressed.denials > 0 || !report.suppressed.expired.is_empty() {
        parts.push(format!(
            "{} denials hidden by suppressions ({} expired suppressions hide nothing)",
            report.suppressed.denials,
            report.suppressed.expired.len()
        ));
    }
    parts.join("; ")
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Keeps the findings of at least `min` denials, the signatures too, and the
/// principals left with a finding.
pub fn keep_min_count(report: &mut Report, min: u64) {
    for p in &mut report.principals {
        p.findings.retain(|f| f.count >= min);
    }
    report.principals.retain(|p| !p.findings.is_empty());
    report.signatures.retain(|s| s.count >= min);
}

/// Keeps the `top` most denied principals (the list is sorted so), counting
/// the rest in [`Report::principals_not_shown`].
pub fn keep_top(report: &mut Report, top: usize) {
    let more = report.principals.len().saturating_sub(top);
    report.principals.truncate(top);
    report.principals_not_shown += more as u64;
}

/// The items joined by `, `, each once, in first-seen order (a principal's
/// causes or missing permissions across its findings).
pub(crate) fn joined_once<T: AsRef<str>>(items: impl Iterator<Item = T>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        let item = item.as_ref();
        if !seen.iter().any(|s| s == item) {
            seen.push(item.to_string());
        }
    }
    seen.join(", ")
}

/// "1 principal with denials", "2 principals with denials": the summary's count.
fn principals_with_denials(report: &Report) -> String {
    match report.principals.len() as u64 + report.principals_not_shown {
        1 => "1 principal with denials".to_string(),
        n => format!("{n} principals with denials"),
    }
}

/// `high`, `medium` or `low`.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::High => "high",
        Level::Medium => "medium",
        Level::Low => "low",
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
    Markdown,
    Html,
}

impl Choice for Format {
    const ALL: &'static [Self] = &[
        Format::Table,
        Format::Json,
        Format::Jsonl,
        Format::Csv,
        Format::Markdown,
        Format::Html,
    ];

    fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Format::Table => "Aligned columns for a terminal",
            Format::Json => "The full report, for machines (schema_version 1)",
            Format::Jsonl => "One finding per line with its principal, for SIEMs and log pipelines",
            Format::Csv => "One row per finding",
            Format::Markdown => "Sections per principal, for tickets and wikis",
            Format::Html => "One self-contained page with charts and sortable tables, for people who sign off access",
        }
    }
}

/// Writes the report in `format`.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::write(report, out),
        Format::Json => json::write(report, out),
        Format::Jsonl => json::write_lines(report, out),
        Format::Csv => csv::write(report, out),
        Format::Markdown => markdown::write(report, out),
        Format::Html => html::write(report, out),
    }
}
