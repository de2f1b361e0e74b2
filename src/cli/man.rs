//! `grantgap man`: the manual pages, in roff.
//!
//! Usage: `grantgap man [DIR]`
//!
//! Without DIR, the page of `grantgap` (which lists the subcommands) on stdout:
//! `grantgap man | man -l -`. With DIR, `grantgap.1` and a page per subcommand
//! (`grantgap-report.1`, …) in it: `grantgap man /usr/local/share/man/man1`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page into this folder instead of the main page to stdout.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: ManArgs, command: clap::Command) -> Result<Outcome> {
    let Some(dir) = args.dir else {
        super::write_output(None, |out| clap_mangen::Man::new(command).render(out))?;
        return Ok(Outcome::Done);
    };
    let name = command.get_name().to_string();
    let mut pages = vec![(format!("{name}.1"), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = format!("{name}-{}", sub.get_name());
        pages.push((format!("{page}.1"), sub.clone().display_name(page)));
    }
    for (file, page) in pages {
        let path = dir.join(file);
        super::check_output(Some(&path))?;
        super::write_output(Some(&path), |out| clap_mangen::Man::new(page).render(out))?;
    }
    Ok(Outcome::Done)
}
