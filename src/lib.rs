//! grantgap reads API audit logs and explains, per service account, why requests
//! were denied with 403 and what to grant, refresh or fix.
//!
//! The pipeline is the architecture; each stage is a module with one input and
//! one output:
//!
//! | stage | in | out |
//! | --- | --- | --- |
//! | [`ingest`] | input files | [`ingest::Ingested`]: event aggregates and the small tables |
//! | [`correlate`] | `Ingested` | [`correlate::Correlation`]: each denial group with its snapshot, roles and token |
//! | [`diagnose`] | `Correlation` | [`diagnose::Diagnosed`]: cause and missing permissions per group |
//! | [`cluster`] | `Diagnosed` | [`cluster::PrincipalFindings`] per principal, with the fix |
//! | [`report`] | findings | [`report::Report`], written as table, JSON, CSV or Markdown |

pub mod cluster;
pub mod correlate;
pub mod diagnose;
pub mod ingest;
pub mod model;
pub mod report;

use anyhow::Result;

use crate::diagnose::policy::PolicyCatalog;
use crate::diagnose::DiagnoseOptions;
use crate::ingest::input::InputFile;
use crate::ingest::IngestOptions;

/// Runs the whole pipeline over the inputs and returns the report.
pub fn analyse(
    files: Vec<InputFile>,
    ingest_options: &IngestOptions,
    diagnose_options: DiagnoseOptions,
) -> Result<report::Report> {
    let ingested = ingest::ingest(files, ingest_options)?;
    let correlation = correlate::correlate(&ingested)?;
    let catalog = PolicyCatalog::new(ingested.policies.clone());
    let diagnosed = diagnose::diagnose(&correlation, &catalog, &ingested.events, diagnose_options);
    let principals = cluster::cluster(&diagnosed, &|position| ingested.locate(position));
    Ok(report::Report::new(&ingested, &correlation, principals))
}
