//! Criterion benchmarks of the hot paths, on generated events:
//! line splitting, decoding JSON, field extraction, path templating, the fast
//! path for allowed requests, and diagnosing the denial groups of a corpus.
//!
//! Run: cargo bench --bench hot_paths   (a release build; see benches/README.md)

use std::io::{BufRead, Cursor};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use grantgap::correlate;
use grantgap::diagnose::policy::PolicyCatalog;
use grantgap::diagnose::{self, DiagnoseOptions};
use grantgap::generate::traffic::{Mix, Traffic};
use grantgap::generate::world::World;
use grantgap::generate::{self, GenerateOptions};
use grantgap::ingest::aggregate::Aggregates;
use grantgap::ingest::decode::{JsonSource, RecordSource};
use grantgap::ingest::fast::FastPath;
use grantgap::ingest::fields::FieldMap;
use grantgap::ingest::formats::{self, InputFormat};
use grantgap::ingest::input;
use grantgap::ingest::template::Templater;
use grantgap::ingest::{self as ingest_stage, IngestOptions};

const START: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z
const EVENTS: u64 = 20_000;

/// 20,000 generated events as JSON Lines.
fn lines() -> Vec<u8> {
    let world = World::new(1, 200, START, 1, 600_000);
    let mix = Mix::default();
    let traffic = Traffic {
        world: &world,
        mix: &mix,
        seed: 1,
        total: EVENTS,
    };
    generate::jsonl(&world, &traffic.block(0, EVENTS)).expect("renders")
}

fn ingest_paths(c: &mut Criterion) {
    let bytes = lines();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(bytes.len() as u64));

    group.bench_function("split lines", |b| {
        b.iter(|| {
            let mut reader = Cursor::new(&bytes);
            let mut line = Vec::with_capacity(512);
            let mut n = 0usize;
            while reader.read_until(b'\n', &mut line).expect("in memory") > 0 {
                n += 1;
                line.clear();
            }
            n
        })
    });

    group.bench_function("decode JSON lines", |b| {
        b.iter(|| {
            let mut source = JsonSource::new(Cursor::new(&bytes)).expect("opens");
            let mut n = 0usize;
            while let Some((_, record)) = source.next_record() {
                n += usize::from(record.is_ok());
            }
            n
        })
    });

    let templater = Templater::default();
    group.bench_function("count allowed requests (fast path)", |b| {
        b.iter(|| {
            let mut agg = Aggregates::default();
            let mut fast = FastPath::new(&templater);
            let counted = bytes
                .split(|b| *b == b'\n')
                .filter(|line| fast.count_success(&mut agg, line))
                .count();
            agg.flush_seen();
            counted
        })
    });

    let records: Vec<serde_json::Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("generated JSON"))
        .collect();
    let map = FieldMap::default();
    group.bench_function("extract fields", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| formats::event_from_record(r, &map, InputFormat::Auto).is_ok())
                .count()
        })
    });

    let paths: Vec<&str> = records.iter().filter_map(|r| r["path"].as_str()).collect();
    group.throughput(Throughput::Elements(paths.len() as u64));
    group.bench_function("template paths", |b| {
        b.iter(|| {
            paths
                .iter()
                .map(|p| templater.template(p).0.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn diagnose_groups(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = GenerateOptions {
        principals: 200,
        seed: 2,
        ..GenerateOptions::new(dir.path().to_path_buf(), 200_000)
    };
    generate::generate(&options, |_| {}).expect("generates");
    let files = input::resolve(dir.path().join("logs").to_str().expect("UTF-8 path"), None)
        .expect("resolves");
    let mut ingested = ingest_stage::ingest(files, &IngestOptions::default()).expect("ingests");
    let denials = ingested.events.denial_groups().expect("reads the groups");
    let groups: Vec<_> = denials.iter().map(|(k, g)| (k, g)).collect();
    let reference = correlate::Reference::new(&ingested).expect("reads the tables");
    let correlation = correlate::correlate(&reference, &groups).expect("correlates");
    let catalog = PolicyCatalog::new(ingested.policies.clone());
    let mut group = c.benchmark_group("diagnose");
    group.throughput(Throughput::Elements(correlation.denials.len() as u64));
    group.sample_size(20);
    group.bench_function("all groups of 200k events", |b| {
        b.iter_batched(
            || (),
            |_| {
                diagnose::diagnose(
                    &correlation,
                    &catalog,
                    &ingested.events,
                    DiagnoseOptions::default(),
                )
                .diagnoses
                .len()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ingest_paths, diagnose_groups);
criterion_main!(benches);
