//! `grantgap partial` and `grantgap merge`: shards of the logs read apart and
//! merged make the report of all of them, byte for byte.

mod common;

use std::path::Path;

use common::{grantgap, stdout_of};

/// Writes shard `index` of `count` of `inputs` into `out`.
fn partial(inputs: &[&str], index: usize, count: usize, out: &Path) {
    let (index, count) = (index.to_string(), count.to_string());
    let mut args = vec!["partial"];
    args.extend(inputs);
    args.extend(["--shard-index", &index, "--shard-count", &count]);
    args.extend(["-o", out.to_str().unwrap()]);
    let run = grantgap(&args);
    assert!(
        run.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains(&format!("shard {index} of {count}")),
        "{said}"
    );
}

fn merge(parts: &[&Path], more: &[&str]) -> std::process::Output {
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(more);
    grantgap(&args)
}

#[test]
fn shards_merged_in_any_order_and_grouping_make_the_report_of_all_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    common::generate(
        &corpus,
        &[
            "--events",
            "20000",
            "--principals",
            "40",
            "--seed",
            "4",
            "--files",
            "3",
        ],
    );
    let logs = corpus.join("logs");
    let logs = logs.to_str().unwrap();
    let whole = stdout_of(&["report", logs, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&whole).unwrap();
    assert!(report["principals"].as_array().unwrap().len() > 20);

    let parts: Vec<_> = (0..4)
        .map(|i| dir.path().join(format!("part-{i}")))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        partial(&[logs], i, 4, part);
    }
    // In reverse order.
    let reversed: Vec<&Path> = parts.iter().rev().map(|p| p.as_path()).collect();
    let merged = merge(&reversed, &["--format", "json"]);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(String::from_utf8(merged.stdout).unwrap() == whole);

    // Two merged first, into a partial, then the rest.
    let pair = dir.path().join("pair");
    let run = merge(
        &[&parts[2], &parts[0]],
        &["--partial", pair.to_str().unwrap()],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let merged = merge(&[&parts[3], &pair, &parts[1]], &["--format", "json"]);
    assert!(String::from_utf8(merged.stdout).unwrap() == whole);

    // Shard 1 missing: refused, and the message says which and what to do.
    let run = merge(&[&parts[0], &parts[2], &parts[3]], &["--format", "json"]);
    assert_eq!(run.status.code(), Some(1));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("3 of 4 shards") && said.contains("(missing: 1)"),
        "{said}"
    );
    // --partial writes a partial: report options say nothing there.
    let run = merge(
        &[&parts[0]],
        &["--partial", "/tmp/never", "--format", "json"],
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot be used with"));
    // A shard merged twice would count its denials twice: refused.
    let run = merge(&[&parts[0], &pair, &parts[2]], &[]);
    assert_eq!(run.status.code(), Some(1));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("both hold shard"), "{said}");
}

#[test]
fn a_bundle_with_its_tables_merges_to_its_report_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "sample_logs/maintenance";
    let parts: Vec<_> = (0..3).map(|i| dir.path().join(format!("p{i}"))).collect();
    for (i, part) in parts.iter().enumerate() {
        partial(&[bundle], i, 3, part);
    }
    let parts: Vec<&Path> = parts.iter().map(|p| p.as_path()).collect();
    for format in ["json", "table", "markdown", "csv"] {
        let whole = stdout_of(&["report", bundle, "--format", format]);
        let merged = merge(&parts, &["--format", format]);
        assert!(
            merged.status.success(),
            "{}",
            String::from_utf8_lossy(&merged.stderr)
        );
        assert_eq!(String::from_utf8(merged.stdout).unwrap(), whole, "{format}");
    }
}

#[test]
fn partials_read_with_other_options_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "sample_logs/maintenance";
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    partial(&[bundle], 0, 2, &a);
    let run = grantgap(&[
        "partial",
        bundle,
        "--propagation-window",
        "30m",
        "--shard-index",
        "1",
        "--shard-count",
        "2",
        "-o",
        b.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run = merge(&[&a, &b], &[]);
    assert_eq!(run.status.code(), Some(1));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("propagation-window-ms: 600000 against 1800000"),
        "{said}"
    );
    // A shard index past the count says what to give.
    let run = grantgap(&[
        "partial",
        bundle,
        "--shard-index",
        "2",
        "--shard-count",
        "2",
        "-o",
        "/tmp/never",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("an index below it"));
}

#[test]
fn nightly_partials_merge_into_the_report_of_the_month_and_a_window_keeps_the_last_nights() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("month");
    common::generate(
        &corpus,
        &[
            "--events",
            "30000",
            "--principals",
            "40",
            "--seed",
            "6",
            "--days",
            "30",
            "--files",
            "30",
        ],
    );
    let logs = corpus.join("logs");
    let table = |name: &str| logs.join(name).to_str().unwrap().to_string();
    let tables = [
        "--tokens".to_string(),
        table("tokens.jsonl"),
        "--role-snapshots".into(),
        table("role_snapshots.jsonl"),
        "--roles".into(),
        table("roles.jsonl"),
        "--policies".into(),
        table("policies.jsonl"),
    ];
    let mut nights: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .filter(|p| p.contains("/events"))
        .collect();
    nights.sort();
    assert_eq!(nights.len(), 30);
    // One partial a night, in the layout the README gives.
    let state = dir.path().join("state");
    let mut parts = Vec::new();
    for (day, night) in nights.iter().enumerate() {
        let folder = state.join(format!("date=2026-11-{:02}", day + 1));
        std::fs::create_dir_all(&folder).unwrap();
        let part = folder.join("part-0");
        let mut args = vec!["partial", night.as_str()];
        args.extend(tables.iter().map(String::as_str));
        args.extend(["-o", part.to_str().unwrap()]);
        stdout_of(&args);
        parts.push(part);
    }
    let report_of = |nights: &[String]| {
        let mut args = vec!["report"];
        args.extend(nights.iter().map(String::as_str));
        args.extend(tables.iter().map(String::as_str));
        args.extend(["--format", "json"]);
        stdout_of(&args)
    };
    let month = report_of(&nights);
    let all: Vec<&Path> = parts.iter().map(|p| p.as_path()).collect();
    let merged = merge(&all, &["--window", "30d", "--format", "json"]);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(String::from_utf8(merged.stdout).unwrap() == month);

    // The last week: the nights whose newest event is within 7 days of the newest.
    let merged = merge(&all, &["--window", "7d", "--format", "json"]);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let said = String::from_utf8_lossy(&merged.stderr);
    let left_out: usize = said
        .split("left out ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of partials left out: {said}"));
    assert!((21..=23).contains(&left_out), "{said}");
    let week = report_of(&nights[left_out..]);
    assert!(String::from_utf8(merged.stdout).unwrap() == week);
    // The same window kept as one partial, for tomorrow's merge.
    let kept = dir.path().join("week");
    let run = merge(
        &all,
        &["--window", "7d", "--partial", kept.to_str().unwrap()],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let merged = merge(&[&kept], &["--format", "json"]);
    assert!(String::from_utf8(merged.stdout).unwrap() == week);

    // A night merged twice would count its events twice: refused.
    let run = merge(&[&parts[3], &parts[3]], &[]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("both hold shard 0"));
}
