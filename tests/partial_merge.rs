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
    stdout_of(&[
        "generate",
        "--out",
        corpus.to_str().unwrap(),
        "--events",
        "20000",
        "--principals",
        "40",
        "--seed",
        "4",
        "--files",
        "3",
    ]);
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
    assert!(said.contains("3 of 4 shards (missing: 1)"), "{said}");
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
