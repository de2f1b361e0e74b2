//! `--config FILE`: a nightly job's options in one TOML file.
//!
//! Each key is a long option of the subcommand (`role-snapshots` or
//! `role_snapshots`) with its value: text or a number, `true` for a flag, an
//! array for an option given several times, a table for `--map`
//! (`map = { status = "status_code" }`), and `inputs` for the inputs:
//!
//! ```toml
//! inputs = ["/var/log/gateway/"]
//! roles = "/etc/grantgap/roles.jsonl"
//! baseline = "/srv/reports/yesterday.json"
//! format = "json"
//! output = "/srv/reports/today.json"
//! ```
//!
//! The command line wins: its options override the file's, inputs named on it
//! replace the file's, and its repeated options add to the file's lists.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The arguments with the config file's options in front of the command
/// line's own; the arguments unchanged when they name no config (or do not
/// parse: clap then says why).
pub fn expand(args: Vec<OsString>, command: clap::Command) -> Result<Vec<OsString>> {
    let Ok(matches) = command.clone().try_get_matches_from(&args) else {
        return Ok(args);
    };
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(args);
    };
    let config = sub
        .try_get_one::<std::path::PathBuf>("config")
        .ok()
        .flatten();
    let Some(config) = config else {
        return Ok(args);
    };
    let has_inputs = sub
        .try_get_many::<String>("inputs")
        .ok()
        .flatten()
        .is_some_and(|mut inputs| inputs.next().is_some());
    let subcommand = command
        .find_subcommand(name)
        .expect("clap matched this subcommand");
    let (options, inputs) = from_file(config, subcommand)?;
    // Program and subcommand, the file's options, the command line's, then
    // the file's inputs unless the command line named some.
    let mut expanded: Vec<OsString> = args[..2].to_vec();
    expanded.extend(options.into_iter().map(OsString::from));
    expanded.extend(args[2..].iter().cloned());
    if !has_inputs {
        expanded.push("--".into());
        expanded.extend(inputs.into_iter().map(OsString::from));
    }
    Ok(expanded)
}

/// The options and inputs a config file gives `subcommand`.
fn from_file(path: &Path, subcommand: &clap::Command) -> Result<(Vec<String>, Vec<String>)> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config {}", path.display()))?;
    let table: toml::Table = source.parse().with_context(|| {
        format!(
            "the config {} is not TOML: write `option = value` lines (see grantgap {} --help)",
            path.display(),
            subcommand.get_name()
        )
    })?;
    let mut options = Vec::new();
    let mut inputs = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let in_file = || format!("{key} in the config {}", path.display());
        if long == "inputs" {
            inputs = texts(&value).with_context(in_file)?;
            continue;
        }
        let known = subcommand
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config");
        let Some(arg) = known else {
            let valid: Vec<&str> = subcommand
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| !["config", "help"].contains(l))
                .collect();
            bail!(
                "{}: grantgap {} has no option --{long}; the keys are inputs, {}",
                in_file(),
                subcommand.get_name(),
                valid.join(", ")
            );
        };
        if !arg.get_action().takes_values() {
            match value {
                toml::Value::Boolean(true) => options.push(format!("--{long}")),
                toml::Value::Boolean(false) => {}
                _ => bail!("{}: --{long} is a flag: write true or false", in_file()),
            }
            continue;
        }
        let values = match &value {
            toml::Value::Table(pairs) => {
                let pairs: Result<Vec<String>> = pairs
                    .iter()
                    .map(|(k, v)| Ok(format!("{k}={}", text(v)?)))
                    .collect();
                vec![pairs.with_context(in_file)?.join(",")]
            }
            other => texts(other).with_context(in_file)?,
        };
        options.extend(values.into_iter().map(|v| format!("--{long}={v}")));
    }
    Ok((options, inputs))
}

/// A value or an array of values, as text.
fn texts(value: &toml::Value) -> Result<Vec<String>> {
    match value {
        toml::Value::Array(items) => items.iter().map(text).collect(),
        one => Ok(vec![text(one)?]),
    }
}

fn text(value: &toml::Value) -> Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(t) => t.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            bail!("give text, a number or a list of them")
        }
    })
}
