//! Criterion benchmarks of the hot paths, on generated events:
//! line splitting, decoding JSON, field extraction, path templating, the fast
//! path for allowed requests, and diagnosing the denial groups of a corpus;
//! and on the inputs that once took minutes: many peers on one endpoint,
//! policy patterns that backtrack, and many policy rules.
//!
//! Run: cargo bench --bench hot_paths   (a release build; see benches/README.md)
//! One group: cargo bench --bench hot_paths -- peers   (or ingest, diagnose, policy)

use std::io::{BufRead, Cursor};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use grantgap::internals::correlate;
use grantgap::internals::diagnose::policy::PolicyCatalog;
use grantgap::internals::diagnose::{self, DiagnoseOptions, SuccessIndex};
use grantgap::internals::generate::traffic::{Mix, Traffic};
use grantgap::internals::generate::world::World;
use grantgap::internals::generate::{self, GenerateOptions};
use grantgap::internals::ingest::aggregate::Aggregates;
use grantgap::internals::ingest::decode::{JsonSource, RecordSource};
use grantgap::internals::ingest::fast::{FastPath, FastRead};
use grantgap::internals::ingest::fields::FieldMap;
use grantgap::internals::ingest::formats::{self, InputFormat};
use grantgap::internals::ingest::template::Templater;
use grantgap::internals::ingest::{self as ingest_stage, input, IngestOptions};
use grantgap::internals::model::Policy;

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
                .filter(|line| matches!(fast.read(&mut agg, line), FastRead::Counted))
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
    // The generated paths hold numeric ids; gateways' often look like `WO12345`.
    let mixed: Vec<String> = (0..paths.len())
        .map(|i| format!("/api/v1/maintenance/workorders/WO{i}/tasks/T-{}", i % 97))
        .collect();
    group.bench_function("template paths with mixed ids (WO12345, T-88)", |b| {
        b.iter(|| {
            mixed
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
                    &SuccessIndex::new(&ingested.events.successes),
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

/// 25,000 denied principals and 25,000 that succeed, on one endpoint, one
/// request each: every denial's requirement is inferred from all the others
/// (67 s when each denial walked every peer).
fn peers_of_one_endpoint(c: &mut Criterion) {
    const EACH: usize = 25_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = |name: &str, rows: Vec<String>| {
        std::fs::write(dir.path().join(name), rows.concat()).expect("writes")
    };
    lines(
        "roles.jsonl",
        vec![
            r#"{"role":"Reader","permissions":["m.read"]}"#.to_string() + "\n",
            r#"{"role":"Calibrator","permissions":["m.read","m.calibrate"]}"#.to_string() + "\n",
        ],
    );
    let role_of = |i: usize| {
        if i < EACH {
            ("d", "Reader")
        } else {
            ("a", "Calibrator")
        }
    };
    lines(
        "role_snapshots.jsonl",
        (0..2 * EACH)
            .map(|i| {
                let (prefix, role) = role_of(i);
                format!(r#"{{"snapshot_at":{START},"principal":"{prefix}{i}","role":"{role}"}}"#)
                    + "\n"
            })
            .collect(),
    );
    lines(
        "events.jsonl",
        (0..2 * EACH)
            .map(|i| {
                let (prefix, _) = role_of(i);
                let status = if i < EACH { 403 } else { 200 };
                let ts = START + 1_000 + i as i64;
                format!(r#"{{"ts":{ts},"principal":"{prefix}{i}","method":"POST","path":"/api/v1/machines/calibrate","status":{status}}}"#) + "\n"
            })
            .collect(),
    );
    let files = input::resolve(dir.path().to_str().expect("UTF-8 path"), None).expect("resolves");
    let mut ingested = ingest_stage::ingest(files, &IngestOptions::default()).expect("ingests");
    let denials = ingested.events.denial_groups().expect("reads the groups");
    let groups: Vec<_> = denials.iter().map(|(k, g)| (k, g)).collect();
    let reference = correlate::Reference::new(&ingested).expect("reads the tables");
    let correlation = correlate::correlate(&reference, &groups).expect("correlates");
    let catalog = PolicyCatalog::new(vec![]);
    let mut group = c.benchmark_group("peers");
    group.throughput(Throughput::Elements(correlation.denials.len() as u64));
    group.sample_size(10);
    group.bench_function("25k denied, 25k peers on one endpoint", |b| {
        b.iter(|| {
            diagnose::diagnose(
                &correlation,
                &catalog,
                &SuccessIndex::new(&ingested.events.successes),
                DiagnoseOptions::default(),
            )
            .diagnoses
            .len()
        })
    });
    group.finish();
}

fn rule(method: &str, path: String, permission: String) -> Policy {
    Policy {
        method: method.into(),
        path,
        all_of: vec![permission],
        any_of: vec![],
        fields: Default::default(),
        data_scoped: false,
    }
}

/// `n` in the letters a-z: a path segment without digits, so no id.
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            out.reverse();
            return String::from_utf8(out).expect("ASCII");
        }
    }
}

/// One pattern of eight `**` against a path of 100 segments (over 100 s when
/// every split of every `**` was tried); 100,000 `**` rules for 2,000
/// endpoints (64 s when every search tried every rule).
fn policy_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    let stars = rule("*", "/**/**/**/**/**/**/**/**/zzz".into(), "z.read".into());
    let long = "/s".repeat(100);
    // A new catalog each time: a catalog remembers what it found.
    group.bench_function("8 double stars against 100 segments", |b| {
        b.iter(|| {
            PolicyCatalog::new(vec![stars.clone()])
                .find("GET", &long)
                .is_some()
        })
    });

    let rules: Vec<Policy> = (0..100_000)
        .map(|i| {
            rule(
                "GET",
                format!("/api/r{}/**", letters(i)),
                format!("r{i}.read"),
            )
        })
        .collect();
    let endpoints: Vec<String> = (0..2_000)
        .map(|j| format!("/api/r{}/items", letters(j * 50)))
        .collect();
    group.sample_size(10);
    group.bench_function("index 100k rules", |b| {
        b.iter_batched(|| rules.clone(), PolicyCatalog::new, BatchSize::LargeInput)
    });
    group.throughput(Throughput::Elements(endpoints.len() as u64));
    group.bench_function("find 2,000 endpoints among 100k rules", |b| {
        b.iter_batched_ref(
            || PolicyCatalog::new(rules.clone()),
            |catalog| {
                endpoints
                    .iter()
                    .filter(|e| catalog.find("GET", e).is_some())
                    .count()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    ingest_paths,
    diagnose_groups,
    peers_of_one_endpoint,
    policy_rules
);
criterion_main!(benches);
