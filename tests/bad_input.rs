//! End-to-end: every kind of bad input is counted per file and reason, located,
//! quarantined when asked, never fatal without --strict (tested in report.rs), and
//! read = used + skipped.

mod common;

use std::io::Write;
use std::path::Path;

use common::grantgap;
use serde_json::Value;

const GOOD: &str = r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/w/1","status":403,"message":"Forbidden"}"#;
const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// A folder with one file per kind of bad input, each beside good records.
fn bad_inputs(dir: &Path) -> u64 {
    let lines = |bad: &str| format!("{GOOD}\n{bad}\n{GOOD}\n");
    write(
        dir,
        "malformed.jsonl",
        lines(&format!("{{not json Authorization: Bearer {JWT}")).as_bytes(),
    );
    let mut invalid_utf8 = format!("{GOOD}\n").into_bytes();
    invalid_utf8
        .extend_from_slice(b"{\"ts\":\"2026-11-20T00:00:02Z\",\"principal\":\"svc-\xff\xfe\"}\n");
    write(dir, "utf8.jsonl", &invalid_utf8);
    write(
        dir,
        "timestamps.jsonl",
        lines(
            r#"{"ts":"yesterday","principal":"svc-a","method":"GET","path":"/w/1","status":403}"#,
        )
        .as_bytes(),
    );
    write(
        dir,
        "missing.jsonl",
        lines(r#"{"ts":"2026-11-20T00:00:03Z","method":"GET","path":"/w/1","status":403}"#)
            .as_bytes(),
    );
    write(dir, "types.jsonl", lines(r#"{"ts":"2026-11-20T00:00:04Z","principal":"svc-a","method":"GET","path":"/w/1","status":{"code":403}}"#).as_bytes());
    write(dir, "unknown_fields.jsonl", lines(r#"{"ts":"2026-11-20T00:00:05Z","principal":"svc-a","method":"GET","path":"/w/1","status":403,"shiny":[1,2]}"#).as_bytes());
    write(dir, "empty.jsonl", b"");
    write(dir, "ragged.csv", b"ts,principal,method,path,status\n2026-11-20T00:00:06Z,svc-c,GET,/x,403\n2026-11-20T00:00:07Z,svc-c\n");
    // A gzip stream cut short: what decompresses before the cut is read, the rest is counted.
    let whole = gzip(&lines(GOOD).repeat(200));
    write(dir, "truncated.jsonl.gz", &whole[..whole.len() / 2]);
    // A Parquet file whose columns are not events: each row is missing its fields.
    let mut frame = polars::df!("colour" => ["red", "blue"], "size" => [1i64, 2]).unwrap();
    let parquet = std::fs::File::create(dir.join("unexpected.parquet")).unwrap();
    polars::prelude::ParquetWriter::new(parquet)
        .finish(&mut frame)
        .unwrap();
    // One 100 MB line that never closes.
    let mut huge = format!("{GOOD}\n{{\"message\":\"").into_bytes();
    huge.extend(b"lorem ipsum ".iter().cycle().take(100 * 1024 * 1024));
    huge.extend_from_slice(b"\n");
    write(dir, "huge.jsonl", &huge);
    // Malformed JSON, invalid UTF-8, bad timestamp, missing field, wrong type,
    // ragged row, huge line, two Parquet rows; the truncated stream adds one.
    9
}

fn run(dir: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let folder = dir.join("logs");
    let mut args = vec!["report", folder.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = grantgap(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_bad_record_is_counted_located_and_quarantined_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let bad_lines = bad_inputs(&dir.path().join("logs"));
    let quarantine = dir.path().join("quarantine.jsonl");
    let (code, report, stderr) = run(dir.path(), &["--quarantine", quarantine.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");

    let events = &report["records"]["events"];
    let (read, used, skipped) = (
        events["read"].as_u64().unwrap(),
        events["used"].as_u64().unwrap(),
        events["skipped"].as_u64().unwrap(),
    );
    assert_eq!(read, used + skipped, "{events}");
    let by_reason = events["skipped_by_reason"].as_object().unwrap();
    assert_eq!(
        by_reason.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        skipped
    );
    for reason in [
        "malformed JSON",
        "bad timestamp",
        "missing field",
        "bad status",
        "ragged CSV row",
        "unreadable input",
    ] {
        assert!(
            by_reason.contains_key(reason),
            "{reason} not counted: {events}"
        );
    }
    assert_eq!(skipped, bad_lines + 1, "{events}");

    let text = std::fs::read_to_string(&quarantine).unwrap();
    let quarantined: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(quarantined.len() as u64, skipped);
    let at = |q: &Value| {
        q["at"]
            .as_str()
            .unwrap()
            .rsplit(['/', '\\'])
            .next()
            .unwrap()
            .to_string()
    };
    let places: Vec<String> = quarantined.iter().map(at).collect();
    for place in [
        "malformed.jsonl:2",
        "utf8.jsonl:2",
        "timestamps.jsonl:2",
        "missing.jsonl:2",
        "types.jsonl:2",
        "ragged.csv:3",
        "huge.jsonl:2",
    ] {
        assert!(
            places.contains(&place.to_string()),
            "{place} not in {places:?}"
        );
    }
    assert!(
        places.iter().any(|p| p.starts_with("truncated.jsonl.gz:")),
        "{places:?}"
    );
    for row in ["unexpected.parquet:1", "unexpected.parquet:2"] {
        assert!(places.contains(&row.to_string()), "{row} not in {places:?}");
    }
    // The records themselves are kept, secrets are not; a line past
    // --max-record-size by its first bytes only (it is never held whole).
    let huge = quarantined
        .iter()
        .find(|q| at(q) == "huge.jsonl:2")
        .unwrap();
    assert_eq!(huge["reason"], "too long");
    let kept = huge["record"].as_str().unwrap();
    assert!(kept.starts_with("{\"message\":\"lorem ipsum"), "{kept}");
    assert!(kept.len() < 2048);
    assert!(
        !text.contains(JWT) && text.contains("Authorization: <redacted:"),
        "a token reached the quarantine"
    );
    assert!(!stderr.contains(JWT));
}
