//! Secrets in audit logs: no output shows one, wherever in a record it hides
//! (a bad field's detail, a path segment, a JSON-quoted message, a quarantined
//! record), and legitimate values that look a little like one pass unchanged.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{grantgap, stdout_of};

/// A bearer token, as clients send it.
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXZhbHVl";
/// The parts of [`JWT`] none of which may show.
const JWT_PARTS: [&str; 3] = [
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJzdWIiOiJzdmMifQ",
    "c2lnbmF0dXJlLXZhbHVl",
];

/// The `n`th denial of `path`, with these extra fields.
fn denial(n: u32, path: &str, extra: Value) -> Value {
    let mut record = json!({
        "ts": format!("2026-11-20T01:{:02}:00Z", n % 60),
        "principal": "svc-redaction",
        "method": "GET",
        "path": path,
        "status": 403,
        "request_id": format!("req-{n}"),
    });
    record
        .as_object_mut()
        .expect("an object")
        .extend(extra.as_object().expect("an object").clone());
    record
}

/// Writes the records as `events.jsonl` in `dir`.
fn write_events(dir: &Path, records: &[Value]) -> PathBuf {
    let path = dir.join("events.jsonl");
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("writes the log");
    path
}

/// Every file under `dir` and its text (the export is CSV).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reads the folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).expect("reads the file");
            found.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    found
}

/// The logs here are mostly bad records on purpose: the run must not stop for it.
const ANY_SKIPPED: [&str; 2] = ["--max-skipped", "0"];

/// Every output grantgap writes of `log`, labelled: each report format with its
/// stderr, the CSV export, signatures, SQL over every table, and the quarantine.
fn every_output(log: &Path, scratch: &Path) -> Vec<(String, String)> {
    let log = log.to_str().expect("a UTF-8 path");
    let mut outputs = Vec::new();
    for format in ["table", "json", "csv", "markdown", "html"] {
        let run = grantgap(&[
            "report",
            log,
            ANY_SKIPPED[0],
            ANY_SKIPPED[1],
            "--format",
            format,
        ]);
        assert!(
            run.status.success(),
            "report --format {format} failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        outputs.push((
            format!("report --format {format}"),
            String::from_utf8_lossy(&run.stdout).into_owned(),
        ));
        outputs.push((
            format!("stderr of report --format {format}"),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        ));
    }
    let export = scratch.join("export");
    let export_arg = export.to_str().expect("a UTF-8 path");
    stdout_of(&[
        "report",
        log,
        ANY_SKIPPED[0],
        ANY_SKIPPED[1],
        "--export",
        export_arg,
        "--export-format",
        "csv",
    ]);
    let exported = files_under(&export);
    assert!(!exported.is_empty(), "the export wrote no file");
    outputs.extend(exported);
    for format in ["table", "json"] {
        outputs.push((
            format!("signatures --format {format}"),
            stdout_of(&[
                "signatures",
                log,
                ANY_SKIPPED[0],
                ANY_SKIPPED[1],
                "--format",
                format,
            ]),
        ));
    }
    for table in [
        "events",
        "denials",
        "diagnoses",
        "principals",
        "signatures",
        "grants",
    ] {
        outputs.push((
            format!("query {table}"),
            stdout_of(&[
                "query",
                &format!("SELECT * FROM {table}"),
                log,
                ANY_SKIPPED[0],
                ANY_SKIPPED[1],
                "--format",
                "csv",
            ]),
        ));
    }
    let quarantine = scratch.join("quarantine.jsonl");
    let quarantine_arg = quarantine.to_str().expect("a UTF-8 path");
    stdout_of(&[
        "report",
        log,
        ANY_SKIPPED[0],
        ANY_SKIPPED[1],
        "--quarantine",
        quarantine_arg,
    ]);
    outputs.push((
        "quarantine".to_string(),
        std::fs::read_to_string(&quarantine).expect("the quarantine is written"),
    ));
    outputs
}

/// Fails naming the output and the secret when any output holds any secret.
fn assert_no_secret(outputs: &[(String, String)], secrets: &[&str]) {
    for (label, text) in outputs {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{label} shows the secret {secret:?}:\n{text}"
            );
        }
    }
}

#[test]
fn secrets_in_bad_record_details_are_redacted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let github = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A";
    let mut records: Vec<Value> = (0..5)
        .map(|n| denial(n, "/api/v1/maintenance/workorders/WO12345", json!({})))
        .collect();
    let mut bad = |field: &str, value: Value| {
        let mut record = denial(9, "/api/v1/maintenance/workorders/WO1", json!({}));
        record[field] = value;
        records.push(record);
    };
    bad("ts", json!(format!("Bearer {JWT}")));
    bad("status", json!("password=hunter2-correct-horse"));
    bad("scopes", json!(format!("[{github}")));
    bad("ts", json!({"client_secret": "s3cr3t-client-value"}));
    let log = write_events(dir.path(), &records);

    let outputs = every_output(&log, dir.path());
    let (_, stderr) = outputs
        .iter()
        .find(|(label, _)| label == "stderr of report --format table")
        .expect("stderr is read");
    assert!(
        stderr.contains("bad timestamp") && stderr.contains("<redacted:"),
        "the bad records are listed, redacted: {stderr}"
    );
    let mut secrets = vec!["hunter2-correct-horse", github, "s3cr3t-client-value"];
    secrets.extend(JWT_PARTS);
    assert_no_secret(&outputs, &secrets);
}

#[test]
fn secrets_in_path_segments_are_redacted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let reset_token = "Xk9fQ2mZ7pLr4TbW8nVc";
    let signature = "Zm9vYmFyYmF6cXV4";
    let basic = "dXNlcjpwYXNzd29yZA";
    let paths = [
        format!("/api/v1/password-reset/{reset_token}/confirm"),
        format!("/api/v1/files/report.pdf;sig={signature}"),
        format!("/api/v1/auth/Bearer%20{JWT}"),
        format!("/api/v1/login/{basic}=="),
    ];
    let mut records = Vec::new();
    for (n, path) in paths.iter().enumerate() {
        for status in [403, 200] {
            let mut record = denial(n as u32, path, json!({}));
            record["status"] = json!(status);
            records.push(record);
        }
        // The same path in a record that is skipped, and so quarantined whole.
        let mut skipped = denial(n as u32, path, json!({}));
        skipped["status"] = json!("not a status");
        records.push(skipped);
    }
    let log = write_events(dir.path(), &records);

    let outputs = every_output(&log, dir.path());
    let (_, json) = outputs
        .iter()
        .find(|(label, _)| label == "report --format json")
        .expect("the JSON report is read");
    assert!(
        json.contains("/api/v1/password-reset/{secret}/confirm"),
        "the endpoint still groups: {json}"
    );
    let mut secrets = vec![reset_token, signature, basic];
    secrets.extend(JWT_PARTS);
    assert_no_secret(&outputs, &secrets);
}

#[test]
fn secrets_in_json_quoted_messages_and_quarantine_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let pem_body = "MIIEowIBAAKCAQEA7xQ2lm9PzXwRedactMe";
    let google = "AIzaSyD3x9Kq-ZbW7m2PvT8nY4cR1fJ6hL0gUe5";
    let slack = "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx";
    let stripe = "sk_live_51HxyzABCdef0123456789";
    let messages = [
        json!({"error": "denied", "password": "hunter2-correct-horse"}).to_string(),
        json!({"x-api-key": "k3y-VALUE-0987"}).to_string(),
        r#"{"client_secret": "s3cr3t-client-value", "user": "bob"}"#.to_string(),
        format!("key -----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY----- rejected"),
        format!("key {google} is restricted"),
        format!("token {slack} revoked"),
        format!("key {stripe} lacks the permission"),
        "callback token%3Durlencodedsecret1 denied".to_string(),
        "callback Bearer%20abc123DEF456ghi789 denied".to_string(),
    ];
    let mut records = Vec::new();
    for (n, message) in messages.iter().enumerate() {
        let extra = json!({
            "message": message,
            "headers": {"x-api-key": "k3y-VALUE-0987", "x-debug": message},
        });
        records.push(denial(
            n as u32,
            "/api/v1/maintenance/workorders/WO12345",
            extra.clone(),
        ));
        // Skipped, and so quarantined with its message and headers as read.
        let mut skipped = denial(n as u32, "/api/v1/maintenance/workorders/WO1", extra);
        skipped.as_object_mut().unwrap().remove("principal");
        records.push(skipped);
    }
    let log = write_events(dir.path(), &records);

    let outputs = every_output(&log, dir.path());
    let (_, quarantine) = outputs.last().expect("the quarantine is read");
    assert_eq!(
        quarantine.lines().count(),
        messages.len(),
        "every skipped record is quarantined"
    );
    assert_no_secret(
        &outputs,
        &[
            "hunter2-correct-horse",
            "k3y-VALUE-0987",
            "s3cr3t-client-value",
            pem_body,
            google,
            slack,
            stripe,
            "urlencodedsecret1",
            "abc123DEF456ghi789",
        ],
    );
}

#[test]
fn legitimate_permissions_are_not_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let forbidden = |n: u32, resource: &str, subresource: Option<&str>, group: &str| {
        let mut object = json!({"resource": resource, "namespace": "prod", "name": "deployer"});
        if let Some(sub) = subresource {
            object["subresource"] = json!(sub);
        }
        if !group.is_empty() {
            object["apiGroup"] = json!(group);
        }
        let shown = subresource.map_or(resource.to_string(), |s| format!("{resource}/{s}"));
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": format!("a-{n}"), "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/prod/serviceaccounts/deployer/token",
            "verb": "create", "user": {"username": "system:serviceaccount:ci:deployer"},
            "objectRef": object,
            "responseStatus": {"status": "Failure", "reason": "Forbidden", "code": 403,
                "message": format!("{shown} is forbidden: User \"system:serviceaccount:ci:deployer\" cannot create resource \"{shown}\" in API group \"{group}\" in the namespace \"prod\"")},
            "requestReceivedTimestamp": format!("2026-11-20T01:00:0{n}.000000Z"),
            "stageTimestamp": format!("2026-11-20T01:00:0{n}.002000Z"),
            "annotations": {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
        })
    };
    let records = [
        forbidden(1, "serviceaccounts", Some("token"), ""),
        forbidden(2, "serviceaccounts", Some("token"), ""),
        forbidden(3, "tokenreviews", None, "authentication.k8s.io"),
    ];
    let log = write_events(dir.path(), &records);
    let log = log.to_str().unwrap();

    let report = stdout_of(&["report", log, "--format", "json"]);
    for permission in [
        "core/serviceaccounts/token:create",
        "authentication.k8s.io/tokenreviews:create",
    ] {
        assert!(
            report.contains(permission),
            "{permission} is missing: {report}"
        );
    }
    assert!(
        !report.contains("<redacted:"),
        "nothing here is a secret: {report}"
    );
}
