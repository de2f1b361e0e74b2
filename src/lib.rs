//! grantgap reads API audit logs and explains, per service account, why requests
//! were denied with 403 and what to grant, refresh or fix.
//!
//! The pipeline is the architecture; each stage is a module with one input and
//! one output (`docs/architecture.md` follows a record from bytes to a finding):
//!
//! | stage | in | out |
//! | --- | --- | --- |
//! | `ingest` | input files | `Ingested`: event aggregates (the denial groups partly on disk) and the small tables |
//! | `correlate` | a partition of the denial groups | `Correlation`: each denial group with its snapshot and token |
//! | `diagnose` | `Correlation` | `Diagnosed`: one cause, missing permissions and evidence per group |
//! | `cluster` | `Diagnosed`, a partition at a time | `Clustered`: findings per principal with the fix, signatures |
//! | `spikes` | `Clustered` and the denials over time | `SpikeReport`: the timeline, its spikes and what explains them |
//! | `report` | `Analysis`: all of the above | `Report`, written as table, JSON, CSV, Markdown or HTML; its tables for `--export` and `grantgap query` |
//!
//! `pipeline` drives them: ingest once, then correlate, diagnose and cluster a
//! partition of principals at a time, so memory does not grow with the denial
//! groups. Shared by the stages: `model` (the records, time, and the groups
//! that flow between stages), `output` (writing files safely), `clock`
//! (time per stage) and `choice` (values picked by name). Beside the pipeline: `generate` writes synthetic logs with
//! known answers, and `evaluate` scores diagnoses against them.
//!
//! The public surface is [`cli`] (the subcommands, for `main.rs`), [`Report`]
//! (the JSON report's shape) and [`internals`] (the parts benches and fuzz
//! targets drive directly).

mod choice;
pub mod cli;
mod clock;
mod cluster;
mod correlate;
mod diagnose;
mod evaluate;
mod generate;
mod ingest;
mod model;
mod output;
mod pipeline;
mod report;
mod spikes;

pub use crate::report::{Report, SCHEMA_VERSION};

/// What benches and fuzz targets drive directly: the hot paths and the parsers
/// of untrusted input, by the stage they belong to. Not a stable interface.
pub mod internals {
    /// Reading: decoders, formats, fields, templates, redaction, the fast path.
    pub mod ingest {
        pub use crate::ingest::fold::{aggregate, fast, seen};
        pub use crate::ingest::record::{fields, formats, rbac, redact, tables, template};
        pub use crate::ingest::source::{decode, gunzip, input};
        pub use crate::ingest::{ingest, IngestOptions};
    }
    pub mod correlate {
        pub use crate::correlate::{correlate, Reference};
    }
    pub mod diagnose {
        pub use crate::diagnose::{diagnose, messages, policy, DiagnoseOptions, SuccessIndex};
    }
    pub mod cluster {
        pub use crate::cluster::messages;
    }
    pub mod generate {
        pub use crate::generate::{generate, jsonl, traffic, world, GenerateOptions};
    }
    pub mod model {
        pub use crate::model::{time, DenialKey, Policy, Position};
    }
    pub mod report {
        pub use crate::report::emit;
    }
}
