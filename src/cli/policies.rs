//! `grantgap policies learn`: a policy catalog learned from the logs.
//!
//! Usage: grantgap policies learn <INPUT>... [input options as for report] [-o FILE]
//!
//! Writes one rule per endpoint that principals succeed on, as JSON Lines in
//! the catalog's own format, each with the evidence it rests on (`learned`:
//! peers, successes, the permissions they all held, whether the endpoint's
//! name chose among them, whether the choice is left open as `any_of`, and
//! the denials there it explains or leaves to another cause). Review
//! and edit it, then pass it back with `--policies`. It needs what the
//! succeeding principals held: role snapshots with roles, or `--iam` dumps.
//! See src/diagnose/learn.rs for the method and its limits.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::{InputArgs, Outcome};

#[derive(Debug, Args)]
pub struct PoliciesArgs {
    #[command(subcommand)]
    pub command: PoliciesCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Learns what each endpoint requires from who succeeds on it.
    Learn(LearnArgs),
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the rules to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: PoliciesArgs) -> Result<Outcome> {
    let PoliciesCommand::Learn(args) = args.command;
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let options = args.input.pipeline(Default::default())?;
    let Some((rules, unlearned)) = crate::pipeline::learn_policies(files, &options)? else {
        bail!(
            "no role snapshots or IAM dumps were read: learning needs what the succeeding principals held; add --role-snapshots with --roles, or --iam"
        );
    };
    super::write_output(args.output.as_deref(), |out| {
        for rule in &rules {
            serde_json::to_writer(&mut *out, rule)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    let ambiguous = rules.iter().filter(|r| r.learned.ambiguous).count();
    let by_name = rules
        .iter()
        .filter(|r| r.learned.by_name && !r.learned.ambiguous)
        .count();
    let fields: usize = rules.iter().map(|r| r.fields.len()).sum();
    let open_fields: usize = rules.iter().map(|r| r.learned.open_fields.len()).sum();
    eprintln!(
        "learned {} rules ({by_name} chosen by the endpoint's name among shared permissions, {ambiguous} left open as any_of) and {fields} field rules ({open_fields} fields left open in learned.open_fields); no rule for {} endpoints with fewer than {} succeeding principals, {} with a principal whose grants are unknown, {} whose principals share nothing",
        rules.len(),
        unlearned.too_few_peers,
        args.input.min_peers,
        unlearned.unknown_grants,
        unlearned.nothing_shared
    );
    Ok(Outcome::Done)
}
