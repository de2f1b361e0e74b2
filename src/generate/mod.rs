//! `grantgap generate`: audit logs at any scale with known answers.
//!
//! A [`world::World`] (services, roles, principals, grants, tokens) is built
//! from the seed; [`traffic::Traffic`] turns it into requests, block by block.
//! Blocks are made in parallel and written in order, each compressed on its own
//! (gzip members and zstd frames concatenate into one valid stream), so output of
//! any size streams through a few blocks of memory and the same arguments always
//! give the same bytes.
//!
//! Layout of `--out DIR`: `DIR/logs/` is a bundle grantgap reads as it is (events
//! plus tokens, role_snapshots, roles, policies); `DIR/truth.jsonl` has, for every
//! denied request id, the true cause and what to grant; `DIR/fixes.jsonl`, per
//! principal, the existing roles that grant it.

pub mod aws;
pub mod traffic;
pub mod world;

use crate::choice::Choice;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::DateTime;
use polars::prelude::*;
use rayon::prelude::*;

use crate::diagnose::Cause;
use crate::model::Millis;
use traffic::{Mix, Row, Traffic};
use world::World;

/// Events per block: the unit of parallel work and of memory.
const BLOCK: u64 = 20_000;

/// Whose logs to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Gateway,
    Aws,
}

impl Choice for Platform {
    const ALL: &'static [Self] = &[Platform::Gateway, Platform::Aws];

    fn name(self) -> &'static str {
        match self {
            Platform::Gateway => "gateway",
            Platform::Aws => "aws",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Platform::Gateway => "an API gateway's logs with tokens, role snapshots, roles and policies",
            Platform::Aws => {
                "CloudTrail files with the IAM authorization-details history (fixes.jsonl: the policies to attach)"
            }
        }
    }
}

/// The format of the generated event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    Jsonl,
    Csv,
    Parquet,
}

impl Choice for EventFormat {
    const ALL: &'static [Self] = &[EventFormat::Jsonl, EventFormat::Csv, EventFormat::Parquet];

    fn name(self) -> &'static str {
        match self {
            EventFormat::Jsonl => "jsonl",
            EventFormat::Csv => "csv",
            EventFormat::Parquet => "parquet",
        }
    }

    fn about(self) -> &'static str {
        match self {
            EventFormat::Jsonl => "JSON Lines, one event per line",
            EventFormat::Csv => "CSV with a header row",
            EventFormat::Parquet => "Parquet",
        }
    }
}

/// Compression of the generated event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gz,
    Zst,
}

impl Choice for Compression {
    const ALL: &'static [Self] = &[Compression::Gz, Compression::Zst];

    fn name(self) -> &'static str {
        match self {
            Compression::Gz => "gz",
            Compression::Zst => "zst",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Compression::Gz => "gzip",
            Compression::Zst => "zstd",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    pub events: u64,
    pub principals: usize,
    pub seed: u64,
    pub days: u32,
    pub format: EventFormat,
    pub compress: Option<Compression>,
    pub files: usize,
    pub mix: Mix,
    /// How long a grant takes to reach the services.
    pub propagation: Millis,
    /// The first instant of the period.
    pub start: Millis,
}

impl GenerateOptions {
    /// `events` events over one day from 2026-11-02, 200 principals, seed 1, as
    /// one plain JSON Lines file with the default mix: change what differs.
    pub fn new(out: PathBuf, events: u64) -> Self {
        GenerateOptions {
            out,
            events,
            principals: 200,
            seed: 1,
            days: 1,
            format: EventFormat::Jsonl,
            compress: None,
            files: 1,
            mix: Mix::default(),
            propagation: 10 * 60 * 1000,
            start: 1_793_577_600_000, // 2026-11-02T00:00:00Z
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub events: u64,
    pub bytes: u64,
    /// True causes of the denials written.
    pub denials: BTreeMap<Cause, u64>,
    pub event_files: Vec<PathBuf>,
    pub truth: PathBuf,
}

/// Checks the options and makes `OUT/logs`, which must not hold files yet.
fn empty_logs(options: &GenerateOptions) -> Result<PathBuf> {
    if options.events == 0 || options.principals < 3 || options.days == 0 || options.files == 0 {
        bail!("--events, --days and --files must be at least 1, and --principals at least 3");
    }
    let logs = options.out.join("logs");
    if logs.exists() && std::fs::read_dir(&logs)?.next().is_some() {
        bail!(
            "{} already holds files: remove it or choose another --out, so that no old file mixes into the corpus",
            logs.display()
        );
    }
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    Ok(logs)
}

/// Writes a CloudTrail corpus (see [`aws`]); `--format`, `--files` and the
/// cause mix do not apply: the causes follow from the world.
pub fn generate_aws(options: &GenerateOptions, progress: impl Fn(u64)) -> Result<Summary> {
    empty_logs(options)?;
    aws::generate(
        &aws::AwsOptions {
            out: &options.out,
            events: options.events,
            principals: options.principals,
            seed: options.seed,
            days: options.days,
            start: options.start,
            propagation: options.propagation,
        },
        progress,
    )
}

/// Writes the corpus; `progress` is told of every block's events.
pub fn generate(options: &GenerateOptions, progress: impl Fn(u64) + Sync) -> Result<Summary> {
    let logs = empty_logs(options)?;
    let world = World::new(
        options.seed,
        options.principals,
        options.start,
        options.days,
        options.propagation,
    );
    write_tables(&world, &logs)?;

    let traffic = Traffic {
        world: &world,
        mix: &options.mix,
        seed: options.seed,
        total: options.events,
    };
    let truth_path = options.out.join("truth.jsonl");
    let mut truth = BufWriter::new(create(&truth_path)?);
    let mut summary = Summary {
        truth: truth_path.clone(),
        ..Summary::default()
    };
    // Per principal, the permissions its role gaps and field rules denied.
    let mut denied: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let files = options.files as u64;
    for f in 0..files {
        let (lo, hi) = (options.events * f / files, options.events * (f + 1) / files);
        let path = logs.join(event_file_name(options, f as usize));
        let mut sink = EventSink::create(&path, options)?;
        let blocks: Vec<(u64, u64)> = (lo..hi)
            .step_by(BLOCK as usize)
            .map(|b| (b, (b + BLOCK).min(hi)))
            .collect();
        // A few blocks per thread at a time: parallel, and memory stays flat.
        for window in blocks.chunks(rayon::current_num_threads() * 2) {
            let rendered: Vec<Result<Rendered>> = window
                .par_iter()
                .map(|&(first, end)| {
                    let rows = traffic.block(first, end);
                    let rendered = Rendered::new(&world, &rows, options, first == lo);
                    progress(end - first);
                    rendered
                })
                .collect();
            for block in rendered {
                let block = block?;
                sink.write(&block)?;
                truth.write_all(&block.truth)?;
                for (who, permissions) in &block.to_grant {
                    denied
                        .entry(*who)
                        .or_default()
                        .extend(permissions.iter().cloned());
                }
                summary.events += block.events;
                for (cause, n) in block.denials {
                    *summary.denials.entry(cause).or_default() += n;
                }
            }
        }
        summary.bytes += sink.finish()?;
        summary.event_files.push(path);
    }
    truth
        .flush()
        .with_context(|| format!("cannot write {}", truth_path.display()))?;
    write_fixes(&world, &denied, &options.out.join("fixes.jsonl"))?;
    Ok(summary)
}

/// `fixes.jsonl`: per principal, the existing API roles that grant what its
/// denials needed and it still lacks at the end: per service, the lowest level
/// granting all of it (each level includes the one below, so that is the
/// fewest roles with the least excess). `grantgap eval --fixes` scores the
/// roles a report proposes against it.
fn write_fixes(
    world: &World,
    denied: &BTreeMap<usize, BTreeSet<String>>,
    path: &Path,
) -> Result<()> {
    let mut out = BufWriter::new(create(path)?);
    for (&who, permissions) in denied {
        let held = world.principals[who].held(Millis::MAX - 1);
        let mut roles = BTreeSet::new();
        for permission in permissions.difference(&held) {
            let granting = (0..world::SERVICES.len())
                .flat_map(|service| (0..3u8).map(move |level| (service, level)))
                .find(|&(service, level)| {
                    world::role_permissions(service, level).contains(permission)
                });
            if let Some((service, level)) = granting {
                roles.insert((service, level));
            }
        }
        // Of one service's roles, the highest level holds the others.
        let mut by_service: BTreeMap<usize, u8> = BTreeMap::new();
        for (service, level) in roles {
            let top = by_service.entry(service).or_default();
            *top = (*top).max(level);
        }
        if by_service.is_empty() {
            continue;
        }
        let mut grant_roles: Vec<String> = by_service
            .into_iter()
            .map(|(service, level)| world::role_name(service, level))
            .collect();
        grant_roles.sort();
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"principal": world.principals[who].name, "grant_roles": grant_roles}),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

fn event_file_name(options: &GenerateOptions, file: usize) -> String {
    let stem = if options.files == 1 {
        "events".to_string()
    } else {
        format!("events-{:04}", file + 1)
    };
    let ext = match options.format {
        EventFormat::Jsonl => "jsonl",
        EventFormat::Csv => "csv",
        EventFormat::Parquet => "parquet",
    };
    let compressed = match (options.format, options.compress) {
        (EventFormat::Parquet, _) | (_, None) => "",
        (_, Some(Compression::Gz)) => ".gz",
        (_, Some(Compression::Zst)) => ".zst",
    };
    format!("{stem}.{ext}{compressed}")
}

fn create(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// `2026-11-02T03:04:05.678Z`.
fn timestamp(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn request_id(index: u64) -> String {
    format!("req-{index:010}")
}

/// One block, ready to append: event bytes (or a table for Parquet) and truth lines.
struct Rendered {
    bytes: Vec<u8>,
    table: Option<DataFrame>,
    truth: Vec<u8>,
    events: u64,
    denials: BTreeMap<Cause, u64>,
    /// (principal, permissions) of the denials a role would fix.
    to_grant: Vec<(usize, Vec<String>)>,
}

impl Rendered {
    fn new(
        world: &World,
        rows: &[Row],
        options: &GenerateOptions,
        first: bool,
    ) -> Result<Rendered> {
        let mut truth = Vec::new();
        let mut denials = BTreeMap::new();
        let mut to_grant = Vec::new();
        for row in rows {
            if let Some((cause, missing)) = &row.truth {
                *denials.entry(*cause).or_default() += 1;
                if matches!(cause, Cause::MissingPermission | Cause::FieldLevel) {
                    to_grant.push((row.principal, missing.clone()));
                }
                serde_json::to_writer(
                    &mut truth,
                    &serde_json::json!({
                        "request_id": request_id(row.request_id),
                        "principal": world.principals[row.principal].name,
                        "cause": cause.name(),
                        "missing": missing,
                    }),
                )?;
                truth.push(b'\n');
            }
        }
        let (bytes, table) = match options.format {
            EventFormat::Jsonl => (compress(jsonl(world, rows)?, options.compress)?, None),
            EventFormat::Csv => (compress(csv(world, rows, first)?, options.compress)?, None),
            EventFormat::Parquet => (Vec::new(), Some(frame(world, rows)?)),
        };
        Ok(Rendered {
            bytes,
            table,
            truth,
            events: rows.len() as u64,
            denials,
            to_grant,
        })
    }
}

/// The rows as JSON Lines, the default event format.
pub fn jsonl(world: &World, rows: &[Row]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rows.len() * 220);
    for row in rows {
        write!(
            out,
            r#"{{"ts":"{}","request_id":"{}","principal":"{}","token_id":"{}","method":"{}","path":"{}","status":{}"#,
            timestamp(row.ts),
            request_id(row.request_id),
            world.principals[row.principal].name,
            row.token_id,
            row.method,
            row.path,
            row.status
        )?;
        if let Some(org) = row.org {
            write!(out, r#","org":"{org}""#)?;
        }
        if !row.fields.is_empty() {
            write!(out, r#","fields":{}"#, serde_json::to_string(&row.fields)?)?;
        }
        if let Some(code) = row.error_code {
            write!(out, r#","error_code":"{code}""#)?;
        }
        if let Some(message) = &row.message {
            write!(out, r#","message":{}"#, serde_json::to_string(message)?)?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(out)
}

const CSV_HEADER: [&str; 11] = [
    "ts",
    "request_id",
    "principal",
    "token_id",
    "method",
    "path",
    "status",
    "org",
    "fields",
    "error_code",
    "message",
];

fn csv(world: &World, rows: &[Row], header: bool) -> Result<Vec<u8>> {
    let mut writer = ::csv::Writer::from_writer(Vec::with_capacity(rows.len() * 180));
    if header {
        writer.write_record(CSV_HEADER)?;
    }
    for row in rows {
        writer.write_record([
            timestamp(row.ts).as_str(),
            &request_id(row.request_id),
            &world.principals[row.principal].name,
            &row.token_id,
            row.method,
            &row.path,
            &row.status.to_string(),
            row.org.unwrap_or(""),
            &row.fields.join(" "),
            row.error_code.unwrap_or(""),
            row.message.as_deref().unwrap_or(""),
        ])?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn frame(world: &World, rows: &[Row]) -> Result<DataFrame> {
    let strings = |f: &dyn Fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let optional =
        |f: &dyn Fn(&Row) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
    let columns = vec![
        Column::new("ts".into(), strings(&|r| timestamp(r.ts))),
        Column::new("request_id".into(), strings(&|r| request_id(r.request_id))),
        Column::new(
            "principal".into(),
            strings(&|r| world.principals[r.principal].name.clone()),
        ),
        Column::new("token_id".into(), strings(&|r| r.token_id.clone())),
        Column::new("method".into(), strings(&|r| r.method.to_string())),
        Column::new("path".into(), strings(&|r| r.path.clone())),
        Column::new(
            "status".into(),
            rows.iter().map(|r| r.status as i32).collect::<Vec<i32>>(),
        ),
        Column::new("org".into(), optional(&|r| r.org.map(str::to_string))),
        Column::new(
            "fields".into(),
            optional(&|r| (!r.fields.is_empty()).then(|| r.fields.join(" "))),
        ),
        Column::new(
            "error_code".into(),
            optional(&|r| r.error_code.map(str::to_string)),
        ),
        Column::new("message".into(), optional(&|r| r.message.clone())),
    ];
    DataFrame::new_infer_height(columns)
        .map_err(|e| anyhow::anyhow!("cannot build a Parquet block: {e}"))
}

/// Compresses one block on its own: a gzip member or a zstd frame.
fn compress(bytes: Vec<u8>, compression: Option<Compression>) -> Result<Vec<u8>> {
    Ok(match compression {
        None => bytes,
        Some(Compression::Gz) => {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(bytes.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&bytes)?;
            gz.finish()?
        }
        Some(Compression::Zst) => zstd::encode_all(bytes.as_slice(), 3)?,
    })
}

/// Where event blocks go.
enum EventSink {
    Bytes(BufWriter<File>, u64),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
}

impl EventSink {
    fn create(path: &Path, options: &GenerateOptions) -> Result<EventSink> {
        let file = create(path)?;
        Ok(match options.format {
            EventFormat::Parquet => {
                let codec = match options.compress {
                    None => ParquetCompression::Uncompressed,
                    Some(Compression::Gz) => ParquetCompression::Gzip(None),
                    Some(Compression::Zst) => ParquetCompression::Zstd(None),
                };
                let schema = frame_schema();
                let writer = ParquetWriter::new(file)
                    .with_compression(codec)
                    .batched(&schema)
                    .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", path.display()))?;
                EventSink::Parquet(Box::new(writer))
            }
            _ => EventSink::Bytes(BufWriter::with_capacity(1 << 20, file), 0),
        })
    }

    fn write(&mut self, block: &Rendered) -> Result<()> {
        match (self, &block.table) {
            (EventSink::Parquet(writer), Some(df)) => writer
                .write_batch(df)
                .map_err(|e| anyhow::anyhow!("cannot write a Parquet block: {e}")),
            (EventSink::Bytes(out, n), _) => {
                out.write_all(&block.bytes)?;
                *n += block.bytes.len() as u64;
                Ok(())
            }
            (EventSink::Parquet(_), None) => bail!("a Parquet sink was given text"),
        }
    }

    /// Flushes, and returns the bytes written.
    fn finish(self) -> Result<u64> {
        match self {
            EventSink::Bytes(mut out, n) => {
                out.flush()?;
                Ok(n)
            }
            EventSink::Parquet(writer) => writer
                .finish()
                .map_err(|e| anyhow::anyhow!("cannot finish a Parquet file: {e}")),
        }
    }
}

fn frame_schema() -> Schema {
    let nullable_string = |name: &str| Field::new(name.into(), DataType::String);
    let mut fields: Vec<Field> = CSV_HEADER.iter().map(|n| nullable_string(n)).collect();
    fields[6] = Field::new("status".into(), DataType::Int32);
    Schema::from_iter(fields)
}

/// Tokens, role snapshots, roles and policies, as JSON Lines.
fn write_tables(world: &World, dir: &Path) -> Result<()> {
    let write = |name: &str, rows: &mut dyn Iterator<Item = serde_json::Value>| -> Result<()> {
        let path = dir.join(name);
        let mut out = BufWriter::new(create(&path)?);
        for row in rows {
            serde_json::to_writer(&mut out, &row)?;
            out.write_all(b"\n")?;
        }
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write("roles.jsonl", &mut world.roles().into_iter())?;
    write("policies.jsonl", &mut world.policies().into_iter())?;
    let mut snapshots = world.snapshot_times().into_iter().flat_map(|(at, who)| {
        let principals: Vec<usize> = match who {
            Some(p) => vec![p],
            None => (0..world.principals.len()).collect(),
        };
        principals
            .into_iter()
            .flat_map(move |p| snapshot_rows(world, p, at))
    });
    write("role_snapshots.jsonl", &mut snapshots)?;
    let hours = world.token_hours();
    let mut tokens = (0..world.principals.len()).flat_map(|p| {
        hours.clone().map(move |h| {
            let token = world.token(p, h);
            serde_json::json!({
                "token_id": token.id,
                "principal": world.principals[p].name,
                "scopes": token.scopes.into_iter().collect::<Vec<_>>().join(" "),
                "issued_at": timestamp(token.issued_at),
                "expires_at": timestamp(token.expires_at),
            })
        })
    });
    write("tokens.jsonl", &mut tokens)
}

/// The bindings of principal `p` in effect at `at`; an empty role when none.
fn snapshot_rows(world: &World, p: usize, at: Millis) -> Vec<serde_json::Value> {
    let principal = &world.principals[p];
    let mut rows: Vec<serde_json::Value> = principal
        .bindings
        .iter()
        .filter(|b| b.from <= at && at < b.until)
        .map(|b| {
            let mut row = serde_json::json!({
                "snapshot_at": timestamp(at),
                "principal": principal.name,
                "role": b.role(),
            });
            if let Some(org) = b.org {
                row["data_scope"] = serde_json::json!([world::ORGS[org]]);
            }
            row
        })
        .collect();
    if rows.is_empty() {
        rows.push(serde_json::json!({"snapshot_at": timestamp(at), "principal": principal.name, "role": ""}));
    }
    rows
}
