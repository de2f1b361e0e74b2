//! End-to-end: `grantgap generate` writes a corpus with known answers, and
//! `grantgap eval` scores the pipeline on it.

mod common;

use std::path::Path;

use common::{grantgap, stdout_of};
use serde_json::Value;

fn generate(out: &Path, extra: &[&str]) {
    generate_events(out, "40000", extra);
}

fn generate_events(out: &Path, events: &str, extra: &[&str]) {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "generate",
        "--out",
        out,
        "--events",
        events,
        "--principals",
        "60",
    ];
    args.extend_from_slice(extra);
    let run = grantgap(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `eval` with the truth and the fixes, failing below 99% on either.
fn eval(dir: &Path) -> Value {
    let truth = dir.join("truth.jsonl");
    let fixes = dir.join("fixes.jsonl");
    let logs = dir.join("logs");
    let out = stdout_of(&[
        "eval",
        "--truth",
        truth.to_str().unwrap(),
        "--fixes",
        fixes.to_str().unwrap(),
        logs.to_str().unwrap(),
        "--format",
        "json",
        "--require",
        "0.99",
    ]);
    serde_json::from_str(&out).unwrap()
}

fn bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

#[test]
fn every_cause_is_injected_and_diagnosed_with_high_precision_and_recall() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--seed", "11"]);
    let evaluation = eval(dir.path());
    // The existing roles proposed per principal are the generator's least ones.
    let fixes = &evaluation["fixes"];
    assert!(fixes["truth"].as_u64().unwrap() > 0, "{fixes}");
    assert_eq!(fixes["precision"].as_f64(), Some(1.0), "{fixes}");
    assert_eq!(fixes["recall"].as_f64(), Some(1.0), "{fixes}");
    for (cause, score) in evaluation["causes"].as_object().unwrap() {
        assert!(
            score["truth"].as_u64().unwrap() > 0,
            "{cause} never injected"
        );
        assert!(
            score["precision"].as_f64().unwrap() >= 0.99,
            "{cause}: {score}"
        );
        assert!(
            score["recall"].as_f64().unwrap() >= 0.99,
            "{cause}: {score}"
        );
    }
    assert_eq!(evaluation["causes"].as_object().unwrap().len(), 14);
    assert!(evaluation["grants"]["truth"].as_u64().unwrap() > 50);
    assert_eq!(evaluation["unseen"], 0);
}

#[test]
fn the_same_arguments_write_the_same_bytes_and_formats_agree_on_the_truth() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(
        a.path(),
        &["--seed", "3", "--files", "3", "--compress", "gz"],
    );
    generate(
        b.path(),
        &["--seed", "3", "--files", "3", "--compress", "gz"],
    );
    assert_eq!(bytes(a.path()), bytes(b.path()));
    generate(
        c.path(),
        &["--seed", "3", "--files", "3", "--format", "parquet"],
    );
    let truth = |d: &Path| std::fs::read(d.join("truth.jsonl")).unwrap();
    assert_eq!(truth(a.path()), truth(c.path()));
    let names: Vec<String> = bytes(c.path()).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"logs/events-0003.parquet".to_string()),
        "{names:?}"
    );
    // The Parquet corpus reads to the same diagnoses.
    assert_eq!(eval(a.path())["causes"], eval(c.path())["causes"]);
}

#[test]
fn a_corpus_is_never_written_over_another() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &[]);
    let again = grantgap(&[
        "generate",
        "--out",
        dir.path().to_str().unwrap(),
        "--events",
        "10",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds files"));
}

#[test]
fn bad_cause_weights_say_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = grantgap(&[
        "generate",
        "--out",
        dir.path().to_str().unwrap(),
        "--causes",
        "stale=3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown cause \"stale\"") && stderr.contains("stale_token"),
        "{stderr}"
    );
}

#[test]
fn the_generated_revocation_is_the_spike_at_two_and_its_first_explanation() {
    let dir = tempfile::tempdir().unwrap();
    // The revoked principal's share of traffic is drawn by the seed: with this
    // one it is busy enough for its denials to stand out.
    generate(dir.path(), &["--seed", "7"]);
    let logs = dir.path().join("logs");
    let out = stdout_of(&["spikes", logs.to_str().unwrap(), "--format", "json"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    // Routine noise may pass the threshold barely; the revocation stands far above it.
    let spike = report["spikes"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["score"].as_f64().unwrap())
        })
        .unwrap();
    // The revocation lands at 02:00; the spike starts with the revoked
    // principal's next requests, in one of the buckets that follow.
    let start = spike["start"].as_str().unwrap();
    assert!(
        ("2026-11-02T02:00:00Z"..="2026-11-02T02:30:00Z").contains(&start),
        "{spike}"
    );
    // Hourly token refreshes are routine: the removed binding is named first.
    let first = &spike["changes"][0];
    assert_eq!(first["kind"], "binding_removed", "{first}");
    assert!(
        first["principal"].as_str().unwrap().ends_with("-0002"),
        "{first}"
    );
}

/// A log past one 32 MiB range is cut into ranges, each mapped into memory;
/// `--no-mmap` reads the same bytes with `read`. Both give the same report.
#[test]
fn a_mapped_log_and_a_read_one_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    generate_events(dir.path(), "200000", &[]);
    let logs = dir.path().join("logs");
    let events = logs.join("events.jsonl");
    let size = std::fs::metadata(&events).unwrap().len();
    assert!(
        size > 32 << 20,
        "{size} bytes: too small to be cut into ranges"
    );
    let logs = logs.to_str().unwrap();
    let mapped = stdout_of(&["report", logs, "--format", "json"]);
    let read = stdout_of(&["report", logs, "--format", "json", "--no-mmap"]);
    assert_eq!(mapped, read);
    let report: Value = serde_json::from_str(&mapped).unwrap();
    assert_eq!(report["records"]["events"]["read"], 200000);
}

#[test]
fn without_the_policy_catalog_the_fields_and_objects_are_told_apart_by_evidence() {
    // The generator's bundle holds the answer key; users rarely have one.
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--seed", "11"]);
    let out = stdout_of(&[
        "eval",
        "--truth",
        dir.path().join("truth.jsonl").to_str().unwrap(),
        dir.path().join("logs").to_str().unwrap(),
        "--withhold",
        "policies",
        "--format",
        "json",
    ]);
    let evaluation: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(evaluation["withheld"], serde_json::json!(["policies"]));
    let score = |cause: &str, measure: &str| evaluation["causes"][cause][measure].as_f64().unwrap();
    // Decided by which feature separates denials from successes, not by the
    // order of the checks (which gave field_level a recall of 2%).
    assert!(score("field_level", "precision") >= 0.99, "{evaluation:#}");
    assert!(score("field_level", "recall") >= 0.75, "{evaluation:#}");
    assert!(score("object_acl", "recall") >= 0.95, "{evaluation:#}");
    // Peers show the roles suffice: timing and the token decide, as with the
    // catalog (these were all `unknown` while peers only named what was lacking).
    for cause in ["stale_token", "propagation_delay"] {
        assert!(
            score(cause, "precision") >= 0.99 && score(cause, "recall") >= 0.99,
            "{cause}: {evaluation:#}"
        );
    }
    assert!(
        score("scope_not_requested", "recall") >= 0.99,
        "{evaluation:#}"
    );
    assert!(
        score("scope_not_requested", "precision") >= 0.85,
        "{evaluation:#}"
    );
    // Co-held permissions: the endpoint's name breaks the tie, and what a
    // principal lacks that names nothing of the endpoint is not asked for
    // (41% of the proposed grants were right before, on the 300k corpus).
    // Recall stays lower: endpoints and fields that too few principals
    // succeed on show nothing, and nothing is proposed for them.
    let grants = |measure: &str| evaluation["grants"][measure].as_f64().unwrap();
    assert!(grants("precision") >= 0.99, "{evaluation:#}");
    assert!(grants("recall") >= 0.6, "{evaluation:#}");
    for cause in [
        "guardrail",
        "explicit_deny",
        "token_expired",
        "masked_not_found",
    ] {
        assert!(
            score(cause, "precision") >= 0.99 && score(cause, "recall") >= 0.99,
            "{cause}"
        );
    }
    // A table that is not there to withhold is an error that says which are.
    let bad = common::grantgap(&["eval", "--truth", "t", "x", "--withhold", "events"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("policies, role_snapshots, tokens, roles or iam"));
}

#[test]
fn the_aws_corpus_is_cloudtrail_with_an_iam_history_and_its_fixes_are_scored() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--platform", "aws", "--days", "2", "--seed", "5"];
    generate_events(dir.path(), "60000", &args);
    let logs = dir.path().join("logs");
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let dumps = names.iter().filter(|n| n.starts_with("iam-")).count();
    assert!(dumps >= 3, "a history of dumps: {names:?}");
    assert!(names
        .iter()
        .any(|n| n.ends_with("_CloudTrail_us-east-1_00000.json.gz")));

    let truth = dir.path().join("truth.jsonl");
    let fixes = dir.path().join("fixes.jsonl");
    let out = stdout_of(&[
        "eval",
        "--truth",
        truth.to_str().unwrap(),
        "--fixes",
        fixes.to_str().unwrap(),
        "--format",
        "json",
        "--require",
        "0.99",
        logs.to_str().unwrap(),
    ]);
    let scores: Value = serde_json::from_str(&out).unwrap();
    for cause in [
        "missing_permission",
        "explicit_deny",
        "guardrail",
        "propagation_delay",
    ] {
        let s = &scores["causes"][cause];
        assert!(
            s["truth"].as_u64().unwrap() > 0,
            "{cause} is in the corpus: {s}"
        );
        assert!(s["precision"].as_f64().unwrap() >= 0.99, "{cause}: {s}");
        assert!(s["recall"].as_f64().unwrap() >= 0.99, "{cause}: {s}");
    }
    let fixes = &scores["fixes"];
    assert!(fixes["truth"].as_u64().unwrap() >= 3, "{fixes}");
    assert!(fixes["precision"].as_f64().unwrap() >= 0.99, "{fixes}");
    assert!(fixes["recall"].as_f64().unwrap() >= 0.99, "{fixes}");

    // The same arguments write the same corpus.
    let again = tempfile::tempdir().unwrap();
    generate_events(again.path(), "60000", &args);
    assert_eq!(bytes(dir.path()), bytes(again.path()));
}

#[test]
fn a_learned_catalog_is_never_wrong_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    // Enough traffic for administrators' field edits to show.
    generate_events(dir.path(), "100000", &[]);
    let logs = dir.path().join("logs");
    // The bundle without its catalog, as users have it.
    let bundle = dir.path().join("without-catalog");
    std::fs::create_dir(&bundle).unwrap();
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if !name.to_string_lossy().starts_with("policies") {
            std::fs::copy(&path, bundle.join(name)).unwrap();
        }
    }
    let learned = dir.path().join("learned.jsonl");
    let run = grantgap(&[
        "policies",
        "learn",
        bundle.to_str().unwrap(),
        "-o",
        learned.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let truth: std::collections::BTreeMap<(String, String), Value> =
        std::fs::read_to_string(logs.join("policies.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|r| {
                (
                    (
                        r["method"].as_str().unwrap().to_string(),
                        r["path"].as_str().unwrap().to_string(),
                    ),
                    r,
                )
            })
            .collect();
    let (mut exact, mut open, mut fields) = (0, 0, 0);
    for line in std::fs::read_to_string(&learned).unwrap().lines() {
        let rule: Value = serde_json::from_str(line).unwrap();
        let key = (
            rule["method"].as_str().unwrap().to_string(),
            rule["path"].as_str().unwrap().to_string(),
        );
        // A learned field rule is the generator's, never another permission.
        for (field, permission) in rule["fields"].as_object().into_iter().flatten() {
            assert_eq!(&truth[&key]["fields"][field], permission, "{line}");
            fields += 1;
        }
        let wanted = &truth[&key]["all_of"];
        if rule["all_of"].is_array() {
            assert_eq!(&rule["all_of"], wanted, "{line}");
            exact += 1;
        } else {
            let candidates = rule["any_of"].as_array().unwrap();
            assert!(
                wanted
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| candidates.contains(p)),
                "{line}"
            );
            open += 1;
        }
    }
    assert!(exact > open && exact >= 20, "{exact} exact, {open} open");
    assert!(fields >= 1, "no field rule learned");

    // Passed back, it is a catalog the report uses.
    let report = stdout_of(&[
        "report",
        "--format",
        "json",
        bundle.to_str().unwrap(),
        "--policies",
        learned.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_str(&report).unwrap();
    assert!(
        report["records"]["policies"]["used"].as_u64().unwrap() >= 20,
        "{}",
        report["records"]
    );

    // Without what the principals held there is nothing to learn from.
    let events_only = dir.path().join("events-only");
    std::fs::create_dir(&events_only).unwrap();
    std::fs::copy(
        bundle.join("events.jsonl"),
        events_only.join("events.jsonl"),
    )
    .unwrap();
    let run = grantgap(&["policies", "learn", events_only.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr)
        .contains("add --role-snapshots with --roles, or --iam"));
}
