//! End-to-end: the `grantgap` binary on the bundled scenarios and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn grantgap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("grantgap runs")
}

fn json_report(args: &[&str]) -> Value {
    let mut all = vec!["report", "--format", "json"];
    all.extend_from_slice(args);
    let out = grantgap(&all);
    assert!(
        out.status.success(),
        "grantgap {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the JSON report parses")
}

fn principal<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == name)
        .unwrap_or_else(|| panic!("{name} is in the report"))
}

/// (cause, permission, count) of every finding of a principal.
fn findings(report: &Value, name: &str) -> Vec<(String, Option<String>, u64)> {
    principal(report, name)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cause"].as_str().unwrap().to_string(),
                f["permission"].as_str().map(str::to_string),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn missing(perm: &str, count: u64) -> (String, Option<String>, u64) {
    ("missing_permission".into(), Some(perm.into()), count)
}

fn unknown(count: u64) -> (String, Option<String>, u64) {
    ("unknown".into(), None, count)
}

#[test]
fn maintenance_needs_an_api_role_not_the_application_role() {
    let report = json_report(&["sample_logs/maintenance"]);
    assert_eq!(
        findings(&report, "svc-maint-automation"),
        vec![missing("maintenance.workorder.update", 120)]
    );
    let automation = principal(&report, "svc-maint-automation");
    assert_eq!(
        automation["fix"]["grant_roles"],
        serde_json::json!(["Maintenance_API_Full_Access"])
    );
    let hints = automation["fix"]["hints"].as_array().unwrap();
    assert!(
        hints[0].as_str().unwrap().contains("Maintenance Manager"),
        "{hints:?}"
    );
    assert_eq!(
        findings(&report, "svc-maint-costs"),
        vec![missing("maintenance.workorder.cost.update", 35)]
    );
    assert_eq!(
        principal(&report, "svc-maint-costs")["fix"]["grant_roles"],
        serde_json::json!(["Maintenance_API_Cost_Controller"])
    );
    assert_eq!(
        report["principals"].as_array().unwrap().len(),
        2,
        "svc-maint-reporting is never denied"
    );
}

#[test]
fn project_scopes_come_from_the_response_headers() {
    let report = json_report(&["sample_logs/project"]);
    assert_eq!(
        findings(&report, "svc-project-sync"),
        vec![
            missing("project.tasks.status.update", 90),
            missing("project.tasks.assignments.manage", 40),
            unknown(12)
        ]
    );
    let sync = principal(&report, "svc-project-sync");
    assert_eq!(sync["findings"][0]["required_by"], "response");
    assert_eq!(
        sync["fix"]["grant_roles"],
        serde_json::json!(["Project Manager"])
    );
}

#[test]
fn resources_are_judged_by_the_snapshot_in_effect_not_todays() {
    let report = json_report(&["sample_logs/resources"]);
    // Before the grant at 2026-11-18T09:00Z OperatorAssignment was missing; after it,
    // only machine M-1001 is still denied, and the roles then in effect grant everything.
    let got = findings(&report, "svc-shift-handover");
    assert_eq!(got[0], missing("OperatorAssignment", 170));
    assert_eq!(got[1].0, "unknown");
    let snapshots =
        &principal(&report, "svc-shift-handover")["findings"][0]["evidence"]["snapshots"];
    assert!(
        snapshots
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_str().unwrap() < "2026-11-18T09:00:00Z"),
        "{snapshots}"
    );
}

#[test]
fn inventory_legacy_account_lacks_the_custom_rest_privilege() {
    let report = json_report(&["sample_logs/inventory"]);
    assert_eq!(
        findings(&report, "svc-wms-legacy"),
        vec![missing("CUSTOM_REST_ACCESS_PRIV", 60)]
    );
    assert_eq!(
        principal(&report, "svc-wms-legacy")["fix"]["grant_roles"],
        serde_json::json!(["Custom Object REST Access"])
    );
    // Cross-org denials: the roles grant everything; the data scope is the cause.
    assert_eq!(findings(&report, "svc-wms-integration"), vec![unknown(70)]);
}

#[test]
fn record_counts_add_up() {
    let report = json_report(&["sample_logs/maintenance"]);
    for (table, counts) in report["records"].as_object().unwrap() {
        let (read, used, skipped) = (
            counts["read"].as_u64(),
            counts["used"].as_u64(),
            counts["skipped"].as_u64(),
        );
        assert_eq!(read, Some(used.unwrap() + skipped.unwrap()), "{table}");
    }
    assert_eq!(report["records"]["events"]["read"], 4055);
    assert_eq!(report["requests"]["denied"], 155);
}

fn temp_copy_with_bad_lines(dir: &Path) -> PathBuf {
    let events = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_logs/maintenance/events.jsonl"),
    )
    .unwrap();
    let mut lines: Vec<String> = events.lines().map(str::to_string).collect();
    lines.insert(10, "{\"ts\": truncated".into());
    lines.insert(20, "not json at all".into());
    lines.insert(
        30,
        r#"{"ts":"sometime","principal":"svc-x","method":"GET","path":"/x","status":200}"#.into(),
    );
    lines.insert(
        40,
        r#"{"ts":"2026-11-17T00:00:00Z","method":"GET","path":"/x","status":200}"#.into(),
    );
    let bundle = dir.join("maintenance");
    std::fs::create_dir(&bundle).unwrap();
    for name in ["roles.jsonl", "policies.jsonl", "role_snapshots.jsonl"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("sample_logs/maintenance")
                .join(name),
            bundle.join(name),
        )
        .unwrap();
    }
    std::fs::write(bundle.join("events.jsonl"), lines.join("\n") + "\n").unwrap();
    bundle
}

#[test]
fn malformed_lines_are_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = temp_copy_with_bad_lines(dir.path());
    let out = grantgap(&["report", "--format", "json", bundle.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events = bundle.join("events.jsonl").display().to_string();
    for line in [11, 21, 31, 41] {
        assert!(
            stderr.contains(&format!("{events}:{line}: ")),
            "line {line} reported in:\n{stderr}"
        );
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let counts = &report["records"]["events"];
    assert_eq!(
        (
            counts["read"].as_u64(),
            counts["used"].as_u64(),
            counts["skipped"].as_u64()
        ),
        (Some(4059), Some(4055), Some(4))
    );
    assert_eq!(counts["skipped_by_reason"]["malformed JSON"], 2);
    assert_eq!(counts["skipped_by_reason"]["bad timestamp"], 1);
    assert_eq!(counts["skipped_by_reason"]["missing field"], 1);
    // The good lines still tell the whole story.
    assert_eq!(
        findings(&report, "svc-maint-automation"),
        vec![missing("maintenance.workorder.update", 120)]
    );
}

#[test]
fn a_missing_input_is_an_error_naming_it() {
    let out = grantgap(&["report", "sample_logs/nope.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sample_logs/nope.jsonl") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn stdin_flags_and_field_mapping_work_together() {
    // Rename the columns the way another gateway would, feed them on stdin.
    let events = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_logs/maintenance/events.jsonl"),
    )
    .unwrap();
    let renamed = events
        .replace("\"principal\":", "\"user\":")
        .replace("\"status\":", "\"status_code\":");
    let dir = "sample_logs/maintenance";
    let mut child = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args([
            "report",
            "-",
            "--format",
            "json",
            "--map",
            "principal=user,status=status_code",
        ])
        .args([
            "--roles",
            &format!("{dir}/roles.jsonl"),
            "--policies",
            &format!("{dir}/policies.jsonl"),
        ])
        .args(["--role-snapshots", &format!("{dir}/role_snapshots.jsonl")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), renamed.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"]["denied"], 155);
    // The map renames event fields only; the other tables keep their canonical names.
    assert_eq!(
        findings(&report, "svc-maint-automation"),
        vec![missing("maintenance.workorder.update", 120)]
    );
}

#[test]
fn every_format_is_written_and_reports_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["table", "json", "csv", "markdown"] {
        let a = dir.path().join(format!("a.{format}"));
        let b = dir.path().join(format!("b.{format}"));
        for path in [&a, &b] {
            let out = grantgap(&[
                "report",
                "sample_logs/project",
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = std::fs::read_to_string(&a).unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(&b).unwrap(),
            "{format} is deterministic"
        );
        assert!(
            text.contains("svc-project-sync") && text.contains("project.tasks.status.update"),
            "{format}:\n{text}"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    assert!(
        csv.starts_with("principal,cause,permission,count,"),
        "{csv}"
    );
    assert!(
        csv.contains("svc-project-sync,missing_permission,project.tasks.status.update,90,"),
        "{csv}"
    );
}
