//! `grantgap completions`: a completion script for a shell.
//!
//! Usage: grantgap completions bash|zsh|fish|elvish|powershell
//!
//! For example `grantgap completions bash > ~/.local/share/bash-completion/completions/grantgap`.

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

use super::Outcome;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// Writes the completion script for `command` (the whole command line) to stdout.
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<Outcome> {
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(Outcome::Done)
}
