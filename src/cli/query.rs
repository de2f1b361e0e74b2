//! `grantgap query`: SQL over the report's tables.
//!
//! Usage: grantgap query <FILE.sql | "SQL"> <INPUT>... [input options as for report]
//!        [--format table|csv|parquet] [-o FILE]
//!
//! Tables: events, denials, diagnoses, principals, signatures, grants, tokens,
//! role_snapshots, roles (columns in queries/README.md). The SQL is polars SQL.
//! `events` holds every used event, so it is built only when the query names it.
//! Text in a table or CSV result is made inert for its reader (escaped for a
//! terminal, no formulas for a spreadsheet); Parquet keeps it as logged.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use polars::prelude::{CsvWriter, IntoLazy, ParquetWriter, SerWriter};
use polars::sql::{extract_table_identifiers, SQLContext};

use crate::report::text;

use super::{InputArgs, Outcome};

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A file of SQL (one statement), or the SQL itself.
    #[arg(value_name = "FILE.sql | SQL")]
    pub sql: String,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// Write the result to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How a result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns, every row.
    Table,
    Csv,
    Parquet,
}

pub fn run(args: QueryArgs) -> Result<Outcome> {
    let sql = read_sql(&args.sql)?;
    let named = extract_table_identifiers(&sql, false, true)
        .map_err(|e| anyhow::anyhow!("cannot parse the SQL: {e}"))?;
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let mut options = args.input.pipeline(Default::default())?;
    options.ingest.event_rows = named.iter().any(|t| t == "events");
    let (report, frames) = crate::pipeline::analyse_with_frames(files, &options)?;
    super::print_skipped(&report);

    let mut context = SQLContext::new();
    for (name, df) in &frames.tables {
        context.register(name, df.clone().lazy());
    }
    let result = context
        .execute(&sql)
        .and_then(|plan| plan.collect())
        .map_err(|e| {
            let known: Vec<&str> = frames.tables.iter().map(|(n, _)| *n).collect();
            anyhow::anyhow!("the query failed: {e} (tables: {})", known.join(", "))
        })?;
    let mut result = match args.format {
        QueryFormat::Table => text::frame(&result, text::terminal)?,
        QueryFormat::Csv => text::frame(&result, text::csv_cell)?,
        QueryFormat::Parquet => result,
    };
    if args.format == QueryFormat::Table {
        show_whole_tables();
    }
    super::write_output(args.output.as_deref(), |out| {
        match args.format {
            QueryFormat::Table => return writeln!(out, "{result}"),
            QueryFormat::Csv => CsvWriter::new(out).finish(&mut result),
            QueryFormat::Parquet => ParquetWriter::new(out).finish(&mut result).map(|_| ()),
        }
        .map_err(std::io::Error::other)
    })?;
    Ok(Outcome::Done)
}

/// The SQL: the file's text if `arg` names a file, else `arg` itself.
fn read_sql(arg: &str) -> Result<String> {
    let path = Path::new(arg);
    if path.is_file() {
        return std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the SQL file {}", path.display()));
    }
    if arg.ends_with(".sql") {
        bail!("no SQL file {arg}: give an existing .sql file, or the SQL text itself");
    }
    Ok(arg.to_string())
}

/// polars prints 8 rows and 8 columns by default; an analyst asked for all of
/// them (LIMIT trims). Settings the user made are kept.
fn show_whole_tables() {
    for (name, value) in [
        ("POLARS_FMT_MAX_ROWS", "-1"),
        ("POLARS_FMT_MAX_COLS", "-1"),
        ("POLARS_FMT_STR_LEN", "120"),
        ("POLARS_TABLE_WIDTH", "400"),
        // The rows are the answer: polars' `shape:` line and type row are not.
        ("POLARS_FMT_TABLE_HIDE_DATAFRAME_SHAPE_INFORMATION", "1"),
        ("POLARS_FMT_TABLE_HIDE_COLUMN_DATA_TYPES", "1"),
    ] {
        if std::env::var_os(name).is_none() {
            // Set while no other thread reads the environment: the pipeline is done.
            std::env::set_var(name, value);
        }
    }
}
