//! End-to-end: the `grantgap` binary on the bundled scenarios and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;
use common::{grantgap, principal};

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

/// The finding of a principal with this cause and permission.
fn finding<'a>(report: &'a Value, name: &str, cause: &str, permission: Option<&str>) -> &'a Value {
    principal(report, name)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == cause && f["permission"].as_str() == permission)
        .unwrap_or_else(|| {
            panic!(
                "{name} has a {cause} finding for {permission:?}: {:#?}",
                findings(report, name)
            )
        })
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn missing_permission_names_the_api_role_not_the_application_role() {
    let report = json_report(&["sample_logs/maintenance"]);
    let f = finding(
        &report,
        "svc-maint-automation",
        "missing_permission",
        Some("maintenance.workorder.update"),
    );
    assert_eq!(
        (f["count"].as_u64(), f["required_by"].as_str()),
        (Some(120), Some("policy_catalog"))
    );
    assert_eq!(f["confidence"]["level"], "high");
    let automation = principal(&report, "svc-maint-automation");
    assert_eq!(
        strings(&automation["fix"]["grant_roles"]),
        vec!["Maintenance_API_Full_Access"]
    );
    let hint = automation["fix"]["hints"][0].as_str().unwrap();
    assert!(
        hint.contains("Maintenance Manager") && hint.contains("Maintenance_API_Full_Access"),
        "the hint names the application role and the API role to assign: {hint}"
    );
    let legacy = json_report(&["sample_logs/inventory"]);
    assert_eq!(
        finding(
            &legacy,
            "svc-wms-legacy",
            "missing_permission",
            Some("CUSTOM_REST_ACCESS_PRIV")
        )["count"],
        60
    );
    assert_eq!(
        strings(&principal(&legacy, "svc-wms-legacy")["fix"]["grant_roles"]),
        vec!["Custom Object REST Access"]
    );
}

#[test]
fn missing_permission_inferred_from_peers() {
    let report = json_report(&["sample_logs/resources"]);
    let f = finding(
        &report,
        "svc-shift-handover",
        "missing_permission",
        Some("MachineCalibration"),
    );
    assert_eq!(
        (f["count"].as_u64(), f["required_by"].as_str()),
        (Some(11), Some("peers"))
    );
    assert_eq!(
        (
            f["evidence"]["peers"].as_u64(),
            f["confidence"]["level"].as_str()
        ),
        (Some(3), Some("low"))
    );
    let fix = &principal(&report, "svc-shift-handover")["fix"];
    // Resource Assignment API, granted at 09:00 after the OperatorAssignment
    // denials, is held: only what is still missing is proposed.
    assert_eq!(strings(&fix["grant_roles"]), vec!["Calibration Tech"]);
    assert_eq!(fix["grant_roles_exact"], true);
}

#[test]
fn field_level_names_the_field_permission() {
    let report = json_report(&["sample_logs/maintenance"]);
    let f = finding(
        &report,
        "svc-maint-costs",
        "field_level",
        Some("maintenance.workorder.cost.update"),
    );
    assert_eq!(f["count"], 35);
    assert_eq!(strings(&f["evidence"]["fields"]), vec!["cost", "status"]);
    assert_eq!(
        strings(&principal(&report, "svc-maint-costs")["fix"]["grant_roles"]),
        vec!["Maintenance_API_Cost_Controller"]
    );
}

#[test]
fn project_separates_token_scopes_from_the_role_gap() {
    let report = json_report(&["sample_logs/project"]);
    let count = |cause, perm| {
        finding(&report, "svc-project-sync", cause, Some(perm))["count"]
            .as_u64()
            .unwrap()
    };
    // Before the grant at 2026-11-18T10:20Z: a role gap.
    assert_eq!(
        count("missing_permission", "project.tasks.status.update"),
        108
    );
    assert_eq!(
        count("missing_permission", "project.tasks.assignments.manage"),
        36
    );
    // After it: the token, not the role.
    assert_eq!(count("stale_token", "project.tasks.status.update"), 17);
    assert_eq!(count("stale_token", "project.tasks.assignments.manage"), 6);
    assert_eq!(
        count("scope_not_requested", "project.tasks.assignments.manage"),
        24
    );
    let f = finding(
        &report,
        "svc-project-sync",
        "missing_permission",
        Some("project.tasks.status.update"),
    );
    assert_eq!(f["required_by"], "response");
}

#[test]
fn stale_token_shows_issue_and_grant_times() {
    let report = json_report(&["sample_logs/project"]);
    let f = finding(
        &report,
        "svc-project-sync",
        "stale_token",
        Some("project.tasks.status.update"),
    );
    assert_eq!(
        strings(&f["evidence"]["token_issued_at"]),
        vec!["2026-11-18T10:00:00Z"]
    );
    assert_eq!(
        strings(&f["evidence"]["granted_at"]),
        vec!["2026-11-18T10:20:00Z"]
    );
    assert!(
        f["fix"].as_str().unwrap().starts_with("re-issue the token"),
        "{}",
        f["fix"]
    );
}

#[test]
fn scope_not_requested_tells_the_client_to_ask_for_the_scope() {
    let report = json_report(&["sample_logs/project"]);
    let f = finding(
        &report,
        "svc-project-sync",
        "scope_not_requested",
        Some("project.tasks.assignments.manage"),
    );
    assert!(
        f["fix"].as_str().unwrap().contains("token request"),
        "{}",
        f["fix"]
    );
    assert_eq!(f["confidence"]["level"], "high");
}

#[test]
fn propagation_delay_within_the_window_after_a_grant() {
    let report = json_report(&["sample_logs/resources"]);
    let f = finding(
        &report,
        "svc-shift-handover",
        "propagation_delay",
        Some("OperatorAssignment"),
    );
    assert_eq!(f["count"], 6);
    assert_eq!(
        strings(&f["evidence"]["granted_at"]),
        vec!["2026-11-18T09:00:00Z"]
    );
    assert_eq!(f["evidence"]["later_succeeded"], true);
    let project = json_report(&["sample_logs/project"]);
    assert_eq!(
        finding(
            &project,
            "svc-project-sync",
            "propagation_delay",
            Some("project.tasks.status.update")
        )["count"],
        8
    );
    // A window of one minute turns most of them into token problems.
    let narrow = json_report(&["sample_logs/project", "--propagation-window", "1m"]);
    let count = |cause| {
        principal(&narrow, "svc-project-sync")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["cause"] == cause)
            .map(|f| f["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(
        count("propagation_delay") < 12,
        "{}",
        count("propagation_delay")
    );
}

#[test]
fn token_expired_after_expires_at() {
    let report = json_report(&["sample_logs/project"]);
    let f = finding(&report, "svc-project-sync", "token_expired", None);
    assert_eq!(f["count"], 9);
    assert!(!f["evidence"]["token_expires_at"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn workflow_state_needs_no_grant() {
    let report = json_report(&["sample_logs/project"]);
    let f = finding(&report, "svc-project-sync", "workflow_state", None);
    assert_eq!(
        (f["count"].as_u64(), f["confidence"]["level"].as_str()),
        (Some(12), Some("high"))
    );
    assert!(f["fix"].as_str().unwrap().starts_with("no grant helps"));
}

#[test]
fn object_acl_finds_machine_m_1001() {
    let report = json_report(&["sample_logs/resources"]);
    let f = finding(&report, "svc-shift-handover", "object_acl", None);
    assert_eq!(f["count"], 38);
    assert_eq!(strings(&f["evidence"]["objects"]), vec!["M-1001"]);
    assert!(f["fix"].as_str().unwrap().contains("M-1001"));
    // Judged by today's roles nothing is missing; judged as of each request, it was.
    let before = finding(
        &report,
        "svc-shift-handover",
        "missing_permission",
        Some("OperatorAssignment"),
    );
    assert_eq!(before["count"], 170);
    assert!(strings(&before["evidence"]["snapshots"])
        .iter()
        .all(|s| *s < "2026-11-18T09:00:00Z"));
}

#[test]
fn data_scope_finds_the_missing_orgs() {
    let report = json_report(&["sample_logs/inventory"]);
    let f = finding(&report, "svc-wms-integration", "data_scope", None);
    assert_eq!(f["count"], 70);
    assert_eq!(strings(&f["evidence"]["orgs"]), vec!["M2", "M3"]);
    assert!(
        f["fix"].as_str().unwrap().contains("M2, M3"),
        "{}",
        f["fix"]
    );
}

#[test]
fn explicit_deny_is_not_fixed_by_a_grant() {
    let report = json_report(&["sample_logs/inventory"]);
    let f = finding(&report, "svc-wms-integration", "explicit_deny", None);
    assert_eq!(f["count"], 8);
    assert!(
        principal(&report, "svc-wms-integration")["fix"]["grant_roles"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn gateway_policy_names_the_endpoint() {
    let report = json_report(&["sample_logs/resources"]);
    let f = finding(&report, "svc-shift-handover", "gateway_policy", None);
    assert_eq!(f["count"], 14);
    assert!(f["fix"]
        .as_str()
        .unwrap()
        .contains("POST /api/v1/resources/machines/{id}/maintenance-lock"));
}

#[test]
fn masked_not_found_for_an_object_that_exists_nowhere() {
    let report = json_report(&["sample_logs/resources"]);
    let f = finding(&report, "svc-shift-handover", "masked_not_found", None);
    assert_eq!(f["count"], 9);
    assert_eq!(strings(&f["evidence"]["objects"]), vec!["M-9999"]);
}

#[test]
fn unknown_says_what_would_decide() {
    let report = json_report(&["sample_logs/maintenance"]);
    let f = finding(&report, "svc-maint-automation", "unknown", None);
    assert_eq!(f["count"], 7);
    assert!(
        f["note"].as_str().unwrap().contains("--policies"),
        "{}",
        f["note"]
    );
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
    assert_eq!(report["records"]["events"]["read"], 4062);
    assert_eq!(report["requests"]["denied"], 162);
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
        (Some(4066), Some(4062), Some(4))
    );
    assert_eq!(counts["skipped_by_reason"]["malformed JSON"], 2);
    assert_eq!(counts["skipped_by_reason"]["bad timestamp"], 1);
    assert_eq!(counts["skipped_by_reason"]["missing field"], 1);
    // The good lines still tell the whole story.
    let f = finding(
        &report,
        "svc-maint-automation",
        "missing_permission",
        Some("maintenance.workorder.update"),
    );
    assert_eq!(f["count"], 120);
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
    assert_eq!(report["requests"]["denied"], 162);
    // The map renames event fields only; the other tables keep their canonical names.
    let f = finding(
        &report,
        "svc-maint-automation",
        "missing_permission",
        Some("maintenance.workorder.update"),
    );
    assert_eq!(f["count"], 120);
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
        csv.contains("svc-project-sync,missing_permission,project.tasks.status.update,108,"),
        "{csv}"
    );
}

#[test]
fn secrets_in_the_log_never_reach_any_output() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMtYXV0b21hdGlvbiJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU";
    let secrets = [
        jwt,
        "AKIAIOSFODNN7EXAMPLE",
        "sk_live_51HxyzABCdef0123456789",
        "hunter2-correct-horse",
        "s3cr3t-cookie-value",
    ];
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let lines = [
        format!(
            r#"{{"ts": 1795000000, "principal": "svc", "method": "GET", "path": "/reset/{jwt}?api_key=sk_live_51HxyzABCdef0123456789", "status": 403, "message": "token {jwt} rejected for key AKIAIOSFODNN7EXAMPLE", "headers": {{"Authorization": "Bearer {jwt}", "Cookie": "sid=s3cr3t-cookie-value", "X-Error-Reason": "password=hunter2-correct-horse refused"}}}}"#
        ),
        format!(
            r#"{{"ts": 1795000001, "principal": "svc", "method": "GET", "path": "/reset/{jwt}", "status": 403, "message": "Bearer {jwt} expired"}}"#
        ),
        // Bad records, which --quarantine keeps.
        format!(r#"{{"broken": "Authorization: Bearer {jwt} password=hunter2-correct-horse"#),
        r#"{"ts": "never", "principal": "svc", "method": "GET", "path": "/x?api_key=sk_live_51HxyzABCdef0123456789", "status": 403, "headers": {"Cookie": "sid=s3cr3t-cookie-value"}, "message": "AKIAIOSFODNN7EXAMPLE"}"#.to_string(),
    ];
    std::fs::write(&events, lines.join("\n")).unwrap();
    let quarantine = dir.path().join("quarantine.jsonl");
    let out = grantgap(&[
        "report",
        events.to_str().unwrap(),
        "--max-skipped",
        "0",
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let kept = std::fs::read_to_string(&quarantine).unwrap();
    assert_eq!(kept.lines().count(), 2, "{kept}");
    for secret in secrets {
        assert!(
            !kept.contains(secret),
            "the quarantine leaks {secret}:\n{kept}"
        );
    }
    for format in ["table", "json", "csv", "markdown"] {
        let out = grantgap(&[
            "report",
            "--format",
            format,
            "--max-skipped",
            "0",
            events.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{format} output leaks {secret}:\n{text}"
            );
        }
    }
    for command in ["signatures", "spikes"] {
        let out = grantgap(&[command, "--format", "json", events.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        for secret in secrets {
            assert!(!text.contains(secret), "{command} leaks {secret}");
        }
    }
}

#[test]
fn strict_mode_stops_on_bad_input_with_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = temp_copy_with_bad_lines(dir.path());
    let out = grantgap(&[
        "report",
        "--strict",
        "--format",
        "json",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty(), "nothing is written");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--strict: 4 input records") && stderr.contains("events.jsonl:11"),
        "{stderr}"
    );
    // Clean input passes --strict.
    assert_eq!(
        grantgap(&["report", "--strict", "sample_logs/maintenance"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn an_unreadable_file_found_in_a_folder_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = temp_copy_with_bad_lines(dir.path());
    std::os::unix::fs::symlink(
        dir.path().join("nowhere.jsonl"),
        bundle.join("dangling.jsonl"),
    )
    .unwrap();
    let out = grantgap(&["report", "--format", "json", bundle.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["records"]["events"]["skipped_by_reason"]["unreadable file"],
        1
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dangling.jsonl: unreadable file"),
        "{stderr}"
    );
}

#[test]
fn file_order_and_thread_count_do_not_change_the_report() {
    let dir = "sample_logs/project";
    let files = [
        "events.csv",
        "tokens.csv",
        "roles.jsonl",
        "policies.jsonl",
        "role_snapshots.jsonl",
    ];
    let run = |order: &[&str], threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_grantgap"))
            .arg("report")
            .args(["--format", "json"])
            .args(order.iter().map(|f| format!("{dir}/{f}")))
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let forward = run(&files, "1");
    let mut reversed = files;
    reversed.reverse();
    assert_eq!(forward, run(&reversed, "2"));
    assert_eq!(forward, run(&files, "2"));
}

#[test]
fn dash_o_is_standard_output_and_conflicting_flags_are_refused() {
    let out = grantgap(&[
        "report",
        "sample_logs/maintenance",
        "--format",
        "json",
        "-o",
        "-",
    ]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert!(report["requests"]["denied"].as_u64().unwrap() > 0);
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR")).join("-").exists(),
        "no file named -"
    );
    let out = grantgap(&[
        "report",
        "sample_logs/maintenance",
        "--format",
        "json",
        "--emit",
        "k8s-rbac",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn help_lists_the_exit_codes() {
    for args in [&["--help"][..], &["report", "--help"]] {
        let out = grantgap(args);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Exit codes:") && help.contains("--strict met") && help.contains("143"),
            "{args:?}: {help}"
        );
    }
}

#[test]
fn query_tables_hold_rows_not_polars_metadata() {
    let out = grantgap(&[
        "query",
        "SELECT principal FROM principals ORDER BY principal",
        "sample_logs/maintenance",
    ]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("svc-"), "{table}");
    assert!(
        !table.contains("shape:") && !table.contains(" str "),
        "{table}"
    );
}

#[test]
fn output_files_honour_the_umask_and_keep_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (new, existing) = (dir.path().join("new.json"), dir.path().join("kept.json"));
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o604)).unwrap();
    for target in [&new, &existing] {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask 027 && exec \"$0\" report sample_logs/maintenance --format json -o {}",
                target.display()
            ))
            .arg(env!("CARGO_BIN_EXE_grantgap"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&new), 0o640, "0666 less the umask");
    assert_eq!(mode(&existing), 0o604, "a replaced file keeps its mode");
}

#[test]
fn the_summary_counts_one_principal_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    std::fs::write(
        &log,
        r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/w/1","status":403}"#,
    )
    .unwrap();
    for format in ["table", "markdown", "html"] {
        let out = grantgap(&["report", log.to_str().unwrap(), "--format", format]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("1 principal with denials") && !text.contains("1 principals"),
            "{format}: {text}"
        );
    }
}

#[test]
fn a_feed_that_yields_nothing_usable_exits_5_not_0() {
    let dir = tempfile::tempdir().unwrap();
    let (empty, foreign, mostly_bad) = (
        dir.path().join("empty.jsonl"),
        dir.path().join("activity.jsonl"),
        dir.path().join("mostly_bad.jsonl"),
    );
    std::fs::write(&empty, "").unwrap();
    // An Azure-like record: JSON, but no field grantgap reads as an event.
    std::fs::write(
        &foreign,
        r#"{"time":"2026-11-20T00:00:01Z","operationName":"MICROSOFT.STORAGE/READ","resultType":"Failure"}"#
            .to_string()
            + "\n",
    )
    .unwrap();
    let good = r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/w/1","status":403}"#;
    std::fs::write(&mostly_bad, format!("{good}\n{{broken\n{{broken\n")).unwrap();
    let report = dir.path().join("report.json");
    for (input, says) in [
        (&empty, "hold no events"),
        (&foreign, "no event could be used"),
        (&mostly_bad, "2 of 3 events skipped"),
    ] {
        let out = grantgap(&[
            "report",
            input.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{input:?}: {stderr}");
        assert!(stderr.contains(says), "{input:?}: {stderr}");
        assert!(!report.exists(), "no report is written");
    }
    // A few bad lines in a real log pass; --max-skipped 0 allows any share.
    let out = grantgap(&["report", mostly_bad.to_str().unwrap(), "--max-skipped", "0"]);
    assert!(out.status.success());
    let out = grantgap(&[
        "report",
        mostly_bad.to_str().unwrap(),
        "--max-skipped",
        "70%",
    ]);
    assert!(out.status.success());
    let out = grantgap(&["report", empty.to_str().unwrap(), "--max-skipped", "0"]);
    assert_eq!(out.status.code(), Some(5), "no event at all always fails");
}

#[test]
fn a_run_on_events_alone_says_what_was_absent_and_what_it_cannot_conclude() {
    let alone = grantgap(&[
        "report",
        "--format",
        "json",
        "sample_logs/maintenance/events.jsonl",
    ]);
    let report: Value = serde_json::from_slice(&alone.stdout).unwrap();
    let warnings = report["warnings"].to_string();
    for absent in [
        "a policy catalog",
        "role snapshots or IAM state",
        "tokens (--tokens)",
    ] {
        assert!(warnings.contains(absent), "{absent}: {warnings}");
    }
    assert!(warnings.contains("stale tokens, propagation delays and data scopes cannot be told"));
    // The whole bundle lacks only its tokens, and says only that.
    let bundle = grantgap(&["report", "--format", "json", "sample_logs/maintenance"]);
    let report: Value = serde_json::from_slice(&bundle.stdout).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("tokens (--tokens)") && !warnings.contains("policy catalog"),
        "{warnings}"
    );
}

/// Writes `lines` as JSON Lines.
fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// A bundle written by hand, with no policy catalog and names unlike the
/// generator's: what peers show, and what they co-hold by chance.
#[test]
fn without_a_catalog_peers_name_a_fields_permission_and_never_one_they_co_hold_by_chance() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, lines: &[Value]| write_lines(&dir.path().join(name), lines);
    write(
        "roles.jsonl",
        &[
            serde_json::json!({"role": "PO Editor", "permissions": ["erp:PurchaseOrder:Write"]}),
            serde_json::json!({"role": "PO Approver Admin", "permissions": ["erp:PurchaseOrder:SetApprover"], "inherits": ["PO Editor"]}),
            serde_json::json!({"role": "Invoice Viewer", "permissions": ["erp:Invoice:Read"]}),
            serde_json::json!({"role": "People Directory", "permissions": ["hr:Employee:Read"]}),
        ],
    );
    let mut bindings = Vec::new();
    let mut bind = |who: &str, roles: &[&str]| {
        for role in roles {
            bindings.push(serde_json::json!({"snapshot_at": "2026-03-01T00:00:00Z", "principal": who, "role": role}));
        }
    };
    // Administrators may set the approver; every invoice reader also happens
    // to hold the people directory, which the invoice endpoint never needs.
    for admin in ["ops-admin-1", "ops-admin-2", "ops-admin-3"] {
        bind(
            admin,
            &["PO Approver Admin", "Invoice Viewer", "People Directory"],
        );
    }
    bind("po-sync", &["PO Editor", "Invoice Viewer"]);
    write("role_snapshots.jsonl", &bindings);
    let mut events = Vec::new();
    let mut event = |minute: u32,
                     who: &str,
                     method: &str,
                     path: &str,
                     status: u16,
                     fields: &[&str]| {
        events.push(serde_json::json!({
            "ts": format!("2026-03-02T10:{minute:02}:00Z"), "request_id": format!("r{}", events.len()),
            "principal": who, "method": method, "path": path, "status": status, "fields": fields,
        }));
    };
    for (i, admin) in ["ops-admin-1", "ops-admin-2", "ops-admin-3"]
        .into_iter()
        .enumerate()
    {
        let po = format!("/erp/purchase-orders/PO-2026-00{i}1");
        event(1, admin, "PATCH", &po, 200, &["approver"]);
        event(2, admin, "PATCH", &po, 200, &["note"]);
        event(
            3,
            admin,
            "GET",
            &format!("/erp/invoices/INV-77{i}0"),
            200,
            &[],
        );
    }
    event(
        4,
        "po-sync",
        "PATCH",
        "/erp/purchase-orders/PO-2026-0091",
        200,
        &["note"],
    );
    event(
        5,
        "po-sync",
        "PATCH",
        "/erp/purchase-orders/PO-2026-0092",
        403,
        &["approver", "note"],
    );
    event(6, "po-sync", "GET", "/erp/invoices/INV-7701", 200, &[]);
    event(7, "po-sync", "GET", "/erp/invoices/INV-9999", 403, &[]);
    write("events.jsonl", &events);

    let report = json_report(&[dir.path().to_str().unwrap()]);
    let found = findings(&report, "po-sync");
    // The approver field: what every administrator setting it holds beyond the endpoint's peers.
    assert!(
        found.contains(&(
            "field_level".into(),
            Some("erp:PurchaseOrder:SetApprover".into()),
            1
        )),
        "{found:?}"
    );
    // The invoice: its roles suffice; the directory every peer holds is not asked for.
    assert!(found.contains(&("object_acl".into(), None, 1)), "{found:?}");
    assert!(
        found
            .iter()
            .all(|(_, p, _)| p.as_deref() != Some("hr:Employee:Read")),
        "{found:?}"
    );
    let fix = &principal(&report, "po-sync")["fix"];
    assert_eq!(strings(&fix["grant_roles"]), vec!["PO Approver Admin"]);
}

/// A bundle written by hand with no catalog and one other peer, an
/// administrator: the principal's own transition (denied, granted, then the same request
/// succeeding) names what the grant added, and period ids of a shape no
/// built-in pattern knows (`2026-03`) pool its denials with the peer's
/// successes.
#[test]
fn without_a_catalog_its_own_success_after_a_grant_names_what_the_grant_added() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, lines: &[Value]| write_lines(&dir.path().join(name), lines);
    write(
        "roles.jsonl",
        &[
            serde_json::json!({"role": "Ledger Clerk", "permissions": ["fin:Journal:Read"]}),
            serde_json::json!({"role": "Period Closer", "permissions": ["fin:Period:Close", "fin:Journal:Read"]}),
            serde_json::json!({"role": "Audit Pack", "permissions": ["fin:Audit:Export"]}),
        ],
    );
    let mut bindings = Vec::new();
    for at in ["2026-04-01T00:00:00Z", "2026-04-03T12:00:00Z"] {
        let closer = if at.starts_with("2026-04-01") {
            vec!["Ledger Clerk"]
        } else {
            vec!["Ledger Clerk", "Period Closer"]
        };
        for (who, roles) in [
            ("close-bot", closer),
            ("fin-admin", vec!["Period Closer", "Audit Pack"]),
            ("audit-bot", vec!["Ledger Clerk"]),
            ("recon-bot", vec!["Ledger Clerk"]),
        ] {
            for role in roles {
                bindings
                    .push(serde_json::json!({"snapshot_at": at, "principal": who, "role": role}));
            }
        }
    }
    write("role_snapshots.jsonl", &bindings);
    let event = |i: usize, ts: &str, who: &str, path: &str, status: u16| {
        serde_json::json!({"ts": ts, "request_id": format!("r{i}"), "principal": who,
            "method": "POST", "path": path, "status": status})
    };
    write(
        "events.jsonl",
        &[
            event(
                1,
                "2026-04-02T09:00:00Z",
                "fin-admin",
                "/fin/periods/2026-01/close",
                200,
            ),
            event(
                2,
                "2026-04-02T10:00:00Z",
                "close-bot",
                "/fin/periods/2026-03/close",
                403,
            ),
            event(
                3,
                "2026-04-02T11:00:00Z",
                "close-bot",
                "/fin/periods/2026-03/close",
                403,
            ),
            event(
                4,
                "2026-04-02T11:30:00Z",
                "fin-admin",
                "/fin/periods/2026-02/close",
                200,
            ),
            event(
                5,
                "2026-04-04T10:00:00Z",
                "close-bot",
                "/fin/periods/2026-03/close",
                200,
            ),
            // The administrator alone succeeds on these two.
            event(
                6,
                "2026-04-02T12:00:00Z",
                "fin-admin",
                "/fin/audit/export",
                200,
            ),
            event(
                7,
                "2026-04-02T12:05:00Z",
                "audit-bot",
                "/fin/audit/export",
                403,
            ),
            event(8, "2026-04-02T12:10:00Z", "fin-admin", "/gl/reconcile", 200),
            event(9, "2026-04-02T12:15:00Z", "recon-bot", "/gl/reconcile", 403),
        ],
    );

    let report = json_report(&[dir.path().to_str().unwrap()]);
    assert_eq!(
        strings(&report["learned_templates"]),
        vec!["/fin/periods/{id}"]
    );
    let found = findings(&report, "close-bot");
    assert_eq!(
        found,
        vec![(
            "missing_permission".into(),
            Some("fin:Period:Close".into()),
            2
        )]
    );
    let finding = &principal(&report, "close-bot")["findings"][0];
    assert_eq!(finding["required_by"], "own_transition");
    assert_eq!(finding["confidence"]["level"], "medium");
    assert_eq!(finding["endpoints"][0], "POST /fin/periods/{id}/close");
    let fix = finding["fix"].as_str().unwrap();
    assert!(
        fix.starts_with("none left: Period Closer was granted at 2026-04-03T12:00:00Z")
            && fix.ends_with("its requests to these endpoints succeeded after the last denial"),
        "{fix}"
    );
    // Nothing is left to grant, and the administrator's Audit Pack never is.
    assert!(strings(&principal(&report, "close-bot")["fix"]["grant_roles"]).is_empty());

    // One peer: of what it holds, the permission the endpoint's name singles
    // out, at low confidence; where no name fits, nothing is proposed.
    let audit = &principal(&report, "audit-bot")["findings"][0];
    assert_eq!(
        (
            &audit["cause"],
            &audit["permission"],
            &audit["confidence"]["level"]
        ),
        (
            &Value::from("missing_permission"),
            &Value::from("fin:Audit:Export"),
            &Value::from("low")
        )
    );
    assert_eq!(
        findings(&report, "recon-bot"),
        vec![("unknown".into(), None, 1)]
    );
    assert!(strings(&principal(&report, "recon-bot")["fix"]["grant_roles"]).is_empty());
}
