//! `--export DIR`: the report's tables as Parquet (or CSV) files for a data lake.
//!
//! Without partitioning each table is `DIR/<table>.parquet`. With
//! `--partition-by-date`, tables that have a `date` column (denials, diagnoses,
//! signatures: the UTC day first seen) are cut Hive-style into
//! `DIR/<table>/date=YYYY-MM-DD/part-0.parquet`, so a nightly run adds its days
//! and a re-run replaces them. Every file is written whole or not at all.
//! Parquet keeps the text as it was logged; CSV, which people open in
//! spreadsheets, has its text cells made inert with [`text::csv_cell`].

use crate::choice::Choice;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::{ChunkCompareEq, CsvWriter, DataFrame, DataType, ParquetWriter, SerWriter};

use super::frames::{Frames, EXPORTED};
use super::text;

/// File format of the exported tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Parquet,
    Csv,
}

impl Choice for ExportFormat {
    const ALL: &'static [Self] = &[ExportFormat::Parquet, ExportFormat::Csv];

    fn name(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
        }
    }

    fn about(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "Columnar, typed: for DuckDB, polars, Spark",
            ExportFormat::Csv => "One file per table, for spreadsheets and shell tools",
        }
    }
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Hive's name for the partition of rows whose key is null.
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Writes the exported tables under `dir`; returns the files written.
pub fn write(
    frames: &Frames,
    dir: &Path,
    format: ExportFormat,
    partition_by_date: bool,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for name in EXPORTED {
        let df = frames
            .get(name)
            .with_context(|| format!("the {name} table is missing"))?;
        let ext = format.extension();
        if partition_by_date && df.get_column_index("date").is_some() {
            for (day, mut part) in by_date(df)? {
                let path = dir
                    .join(name)
                    .join(format!("date={day}"))
                    .join(format!("part-0.{ext}"));
                write_table(&mut part, &path, format)?;
                written.push(path);
            }
        } else {
            let path = dir.join(format!("{name}.{ext}"));
            write_table(&mut df.clone(), &path, format)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The rows of each day, by the `date` column, days in order.
fn by_date(df: &DataFrame) -> Result<Vec<(String, DataFrame)>> {
    let days = df.column("date")?.cast(&DataType::String)?;
    let days = days.str()?;
    let mut distinct: Vec<Option<&str>> = days.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
        .into_iter()
        .map(|day| {
            let mask = match day {
                Some(d) => days.equal(d),
                None => days.is_null(),
            };
            let rows = df.filter(&mask)?;
            Ok((day.unwrap_or(NULL_PARTITION).to_string(), rows))
        })
        .collect()
}

fn write_table(df: &mut DataFrame, path: &Path, format: ExportFormat) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::output::write_atomically(path, |out| {
        match format {
            ExportFormat::Parquet => ParquetWriter::new(out).finish(df).map(|_| ()),
            ExportFormat::Csv => text::frame(df, text::csv_cell)
                .and_then(|mut cells| CsvWriter::new(out).finish(&mut cells)),
        }
        .map_err(io::Error::other)
    })
}
