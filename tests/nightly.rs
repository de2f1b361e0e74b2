//! End-to-end: signatures, the nightly baseline diff with its exit codes, and
//! suppressions.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::grantgap;

fn json(out: &Output) -> Value {
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "grantgap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn ids(signatures: &Value) -> Vec<String> {
    let mut ids: Vec<String> = signatures
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn write_report(dir: &Path, name: &str, inputs: &[&str]) -> String {
    let path = dir.join(name).display().to_string();
    let mut args = vec!["report", "--format", "json", "-o", &path];
    args.extend_from_slice(inputs);
    let out = grantgap(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn signature_ids_are_stable_and_unmoved_by_unrelated_data() {
    let first = json(&grantgap(&[
        "signatures",
        "--format",
        "json",
        "sample_logs/project",
    ]));
    let again = json(&grantgap(&[
        "signatures",
        "--format",
        "json",
        "sample_logs/project",
    ]));
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(first.as_array().unwrap().len(), 9, "{first:#}");
    // More data about other accounts and endpoints leaves every existing id alone.
    let more = json(&grantgap(&[
        "signatures",
        "--format",
        "json",
        "sample_logs/project",
        "sample_logs/maintenance/events.jsonl",
    ]));
    let combined = ids(&more);
    for id in ids(&first) {
        assert!(combined.contains(&id), "{id} survives unrelated data");
    }
    let sig = &first.as_array().unwrap()[0];
    assert_eq!(sig["count"], 108);
    assert_eq!(sig["principals"], serde_json::json!(["svc-project-sync"]));
    assert_eq!(sig["requests"].as_array().unwrap().len(), 5);
}

#[test]
fn message_templates_join_messages_that_differ_in_values() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let lines: Vec<String> = ["OP-2345", "OP-9", "OP-77"]
        .iter()
        .enumerate()
        .map(|(i, op)| {
            format!(
                r#"{{"ts": {}, "principal": "svc", "method": "POST", "path": "/api/v1/resources/machines/M-1/assign", "status": 403, "message": "Operator {op} not available"}}"#,
                1_795_000_000 + i
            )
        })
        .collect();
    std::fs::write(&events, lines.join("\n")).unwrap();
    let sigs = json(&grantgap(&[
        "signatures",
        "--format",
        "json",
        events.to_str().unwrap(),
    ]));
    let sigs = sigs.as_array().unwrap();
    assert_eq!(sigs.len(), 1, "{sigs:#?}");
    assert_eq!(sigs[0]["message_template"], "Operator <*> not available");
    assert_eq!(sigs[0]["count"], 3);
}

#[test]
fn baseline_marks_new_persisting_resolved_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let yesterday = write_report(dir.path(), "yesterday.json", &["sample_logs/project"]);

    // The same data again: everything persists, nothing new, exit 0.
    let same = grantgap(&[
        "report",
        "--format",
        "json",
        "--baseline",
        &yesterday,
        "sample_logs/project",
    ]);
    assert_eq!(same.status.code(), Some(0));
    let same = json(&same);
    let diff = &same["baseline"];
    assert_eq!(diff["signatures"]["new"].as_array().unwrap().len(), 0);
    assert_eq!(
        diff["signatures"]["persisting"].as_array().unwrap().len(),
        9
    );
    assert!(same["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["baseline"] == "persisting"));

    // Another night: the maintenance failures are new, the project ones resolved; exit 3.
    let other = grantgap(&[
        "report",
        "--format",
        "json",
        "--baseline",
        &yesterday,
        "sample_logs/maintenance",
    ]);
    assert_eq!(other.status.code(), Some(3), "new denials exit with 3");
    let other = json(&other);
    let diff = &other["baseline"];
    // PUT and PATCH of the work-order update, the cost field, the attachments endpoint.
    assert_eq!(diff["signatures"]["new"].as_array().unwrap().len(), 4);
    assert_eq!(diff["signatures"]["resolved"].as_array().unwrap().len(), 9);
    assert_eq!(diff["resolved_signatures"].as_array().unwrap().len(), 9);
    let new_pairs = diff["principal_permissions"]["new"].as_array().unwrap();
    assert!(new_pairs
        .iter()
        .any(|p| p["principal"] == "svc-maint-automation"
            && p["permission"] == "maintenance.workorder.update"));
    let resolved_pairs = diff["principal_permissions"]["resolved"]
        .as_array()
        .unwrap();
    assert!(resolved_pairs
        .iter()
        .any(|p| p["principal"] == "svc-project-sync"));

    // A bad baseline is an error (exit 1) that says what to give.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let bad = grantgap(&[
        "report",
        "--baseline",
        junk.to_str().unwrap(),
        "sample_logs/project",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--format json"));
}

#[test]
fn suppressions_hide_expected_denials_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("suppressions.json");
    std::fs::write(
        &file,
        r#"[{"principal": "svc-project-sync", "cause": "workflow_state", "reason": "tasks in approval are expected", "expires": "2026-12-31"},
            {"cause": "token_expired", "reason": "client fix scheduled", "expires": "2026-11-01"}]"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let report = json(&grantgap(&[
        "report",
        "--format",
        "json",
        "--suppressions",
        file,
        "--today",
        "2026-11-22",
        "sample_logs/project",
    ]));
    assert_eq!(report["suppressed"]["denials"], 12);
    assert_eq!(
        report["suppressed"]["by_suppression"][0]["suppression"]["reason"],
        "tasks in approval are expected"
    );
    assert_eq!(report["suppressed"]["expired"].as_array().unwrap().len(), 1);
    let causes: Vec<&str> = report["principals"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert!(!causes.contains(&"workflow_state"), "hidden: {causes:?}");
    assert!(
        causes.contains(&"token_expired"),
        "the expired suppression shows it again: {causes:?}"
    );
    assert_eq!(report["principals"][0]["denied"], 224 - 12);

    // In January the first one has expired too.
    let later = json(&grantgap(&[
        "report",
        "--format",
        "json",
        "--suppressions",
        file,
        "--today",
        "2027-01-01",
        "sample_logs/project",
    ]));
    assert_eq!(later["suppressed"]["denials"], 0);
}

#[test]
fn endpoint_templates_are_learned_from_the_data() {
    // Project and task names are words, not ids: only their number gives them away.
    let dir = tempfile::tempdir().unwrap();
    let words =
        |prefix: &str| -> Vec<String> { ('a'..='z').map(|c| format!("{prefix}{c}{c}")).collect() };
    let mut lines = Vec::new();
    for (i, project) in words("proj").iter().enumerate() {
        for (j, task) in words("task").iter().enumerate() {
            let status = if (i + j) % 5 == 0 { 403 } else { 200 };
            lines.push(format!(
                r#"{{"ts": {}, "principal": "svc", "method": "PATCH", "path": "/api/v1/projects/{project}/tasks/{task}", "status": {status}}}"#,
                1_795_000_000 + i * 10 + j
            ));
        }
    }
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let report = json(&grantgap(&[
        "report",
        "--format",
        "json",
        events.to_str().unwrap(),
    ]));
    let endpoints: Vec<&str> = report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        vec!["/api/v1/projects/{id}/tasks/{id}"],
        "{report:#}"
    );
    assert_eq!(
        report["learned_templates"],
        serde_json::json!(["/api/v1/projects/{id}", "/api/v1/projects/{id}/tasks/{id}"])
    );
}
