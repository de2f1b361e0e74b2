//! Records and documents of any size, and timestamps of any year, never blow a
//! run up: what is too long is skipped and counted (and quarantined by its first
//! bytes), what is out of range is skipped with the range in its reason.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::grantgap;

const DENIAL: &str = r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/api/orders/1","status":403}"#;

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The JSON report of `args`; the inputs here are mostly bad records on
/// purpose, so any share may be skipped.
fn report_of(args: &[&str]) -> Value {
    let mut all = vec!["report"];
    all.extend(args);
    all.extend(["--format", "json", "--max-skipped", "0"]);
    let out = grantgap(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn skipped(report: &Value, reason: &str) -> u64 {
    report["records"]["events"]["skipped_by_reason"][reason]
        .as_u64()
        .unwrap_or(0)
}

/// `bytes` zstd-compressed, written out a piece at a time (never held whole).
fn zstd_of(path: &Path, pieces: impl Iterator<Item = Vec<u8>>) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = zstd::Encoder::new(file, 3).unwrap();
    for piece in pieces {
        encoder.write_all(&piece).unwrap();
    }
    encoder.finish().unwrap();
}

#[test]
fn a_huge_line_is_skipped_as_too_long_not_held() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB in one line (about 2 KB as zstd), between two good denials.
    let log = dir.path().join("events.jsonl.zst");
    let chunk = vec![b'a'; 1 << 20];
    let pieces = std::iter::once(format!("{DENIAL}\n{{\"ts\":\"").into_bytes())
        .chain(std::iter::repeat_n(chunk, 64))
        .chain(std::iter::once(format!("\"}}\n{DENIAL}\n").into_bytes()));
    zstd_of(&log, pieces);
    let quarantine = dir.path().join("q.jsonl");
    let report = report_of(&[s(&log), "--quarantine", s(&quarantine)]);
    assert_eq!(report["requests"]["denied"], 2);
    assert_eq!(skipped(&report, "too long"), 1);
    let kept = std::fs::read_to_string(&quarantine).unwrap();
    let line: Value = serde_json::from_str(kept.lines().next().unwrap()).unwrap();
    assert_eq!(line["reason"], "too long");
    assert!(line["at"].as_str().unwrap().ends_with(":2"), "{line}");
    assert!(
        line["record"].as_str().unwrap().len() < 4096,
        "first bytes only"
    );

    // The limit is the user's to set.
    let plain = dir.path().join("plain.jsonl");
    let long = format!("{{\"ts\":\"{}\"}}", "b".repeat(5000));
    std::fs::write(&plain, format!("{DENIAL}\n{long}\n{DENIAL}\n")).unwrap();
    let report = report_of(&[s(&plain), "--max-record-size", "4KiB"]);
    assert_eq!(
        (
            report["requests"]["denied"].as_u64(),
            skipped(&report, "too long")
        ),
        (Some(2), 1)
    );
    let report = report_of(&[s(&plain), "--max-record-size", "8KiB"]);
    assert_eq!(skipped(&report, "too long"), 0);
}

#[test]
fn a_huge_line_on_stdin_is_skipped_too() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args([
            "report",
            "-",
            "--format",
            "json",
            "--max-record-size",
            "1MiB",
            "--max-skipped",
            "0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(format!("{DENIAL}\n").as_bytes()).unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..32 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(format!("\n{DENIAL}\n").as_bytes()).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"]["denied"], 2);
    assert_eq!(skipped(&report, "too long"), 1);
}

#[test]
fn a_huge_document_is_skipped_as_too_long() {
    let dir = tempfile::tempdir().unwrap();
    // `[` and 64 MiB of spaces: a JSON array that never ends.
    let array = dir.path().join("array.json.zst");
    let spaces = vec![b' '; 1 << 20];
    zstd_of(
        &array,
        std::iter::once(b"[".to_vec()).chain(std::iter::repeat_n(spaces, 64)),
    );
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, format!("{DENIAL}\n")).unwrap();
    let report = report_of(&[s(&array), s(&good), "--max-document-size", "16MiB"]);
    assert_eq!(report["requests"]["denied"], 1);
    assert_eq!(skipped(&report, "too long"), 1);
    let bad = &report["bad_records"][0];
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("--max-document-size"),
        "{bad}"
    );

    // A YAML stream alike.
    let yaml = dir.path().join("rbac.yaml");
    std::fs::write(
        &yaml,
        format!("kind: List\nitems:\n{}", "  - {}\n".repeat(10_000)),
    )
    .unwrap();
    let out = grantgap(&[
        "report",
        s(&good),
        "--rbac",
        s(&yaml),
        "--max-document-size",
        "16KiB",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["records"]["rbac"]["skipped_by_reason"]["too long"], 1,
        "{report}"
    );
}

#[test]
fn a_huge_parquet_stream_is_refused_before_it_fills_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // `PAR1` and 256 MiB of zeros, as zstd: a Parquet file that is not one.
    let parquet = dir.path().join("events.parquet.zst");
    let zeros = vec![0u8; 1 << 20];
    zstd_of(
        &parquet,
        std::iter::once(b"PAR1".to_vec()).chain(std::iter::repeat_n(zeros, 256)),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["report", s(&parquet), "--max-document-size", "8MiB"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-document-size"), "{stderr}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "nothing left");
}

#[test]
fn a_huge_csv_row_is_skipped_as_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("events.csv");
    let header = "ts,principal,method,path,status\n";
    let row = "2026-11-20T00:00:01Z,svc-a,GET,/api/orders/1,403\n";
    let long = format!(
        "2026-11-20T00:00:02Z,\"{}\",GET,/x,403\n",
        "c".repeat(3 << 20)
    );
    std::fs::write(&csv, format!("{header}{row}{row}{long}{row}")).unwrap();
    let report = report_of(&[s(&csv), "--max-record-size", "1MiB"]);
    assert_eq!(report["requests"]["denied"], 2);
    assert_eq!(skipped(&report, "too long"), 1);
}

#[test]
fn timestamps_outside_the_range_are_skipped_with_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let at = |ts: &str| DENIAL.replace("2026-11-20T00:00:01Z", ts);
    let lines = [
        at("0000-01-01T00:00:00Z"),
        at("9999-12-31T23:59:59Z"),
        at("0000-01-01T00:00:00+01:00"),
        at("9999-12-31T23:00:00-05:00"),
        at("1969-12-31T23:59:59Z"),
        at("2100-01-01T00:00:00Z"),
        DENIAL.to_string(),
        at("2026-11-20T00:05:00Z"),
    ];
    std::fs::write(&log, lines.join("\n")).unwrap();
    let start = Instant::now();
    let out = grantgap(&["report", s(&log), "--format", "json", "--max-skipped", "0"]);
    assert!(out.status.success());
    assert!(
        out.stdout.len() < 1 << 20,
        "{} bytes of report",
        out.stdout.len()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"]["denied"], 2);
    assert_eq!(skipped(&report, "timestamp out of range"), 6);
    let detail = report["bad_records"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("1970-01-01 .. 2099-12-31"), "{detail}");
    let principal = &report["principals"][0];
    assert_eq!(
        principal["last_seen"], "2026-11-20T00:05:00Z",
        "{principal}"
    );

    let spikes = grantgap(&["spikes", s(&log), "--format", "json", "--max-skipped", "0"]);
    assert!(spikes.status.success());
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_timeline_over_too_many_buckets_is_refused_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let at = |ts: &str| DENIAL.replace("2026-11-20T00:00:01Z", ts);
    let lines = [at("1970-01-02T00:00:00Z"), at("2099-12-30T00:00:00Z")];
    std::fs::write(&log, lines.join("\n")).unwrap();
    let start = Instant::now();
    let out = grantgap(&["spikes", s(&log), "--bucket", "1m"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("give a wider --bucket"), "{stderr}");
    // A day per bucket fits; so does the report's own timeline.
    let out = grantgap(&["spikes", s(&log), "--bucket", "1d", "--format", "json"]);
    assert!(out.status.success());
    let report = report_of(&[s(&log)]);
    assert_eq!(report["requests"]["denied"], 2);
    assert!(report["timeline"]["series"].as_array().unwrap().len() > 40_000);
    assert!(start.elapsed() < Duration::from_secs(60));
}
