//! End to end: what a nightly job and a person at a terminal see. The diff
//! against a baseline is marked in every format, a role granted after the
//! denials is never proposed again, filters narrow the report, the table has
//! one line per finding, and completions, man pages and a config file work.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{grantgap, stdout_of};

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON output")
}

/// The baseline: yesterday's report of the project scenario.
fn yesterday(dir: &Path) -> String {
    let path = dir.join("yesterday.json").display().to_string();
    let out = grantgap(&[
        "report",
        "--format",
        "json",
        "-o",
        &path,
        "sample_logs/project",
    ]);
    assert!(out.status.success());
    path
}

fn findings(report: &Value) -> Vec<&Value> {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .collect()
}

#[test]
fn the_diff_against_the_baseline_is_marked_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = yesterday(dir.path());
    // Tonight: the project's denials again, and the maintenance ones for the first time.
    let tonight = ["sample_logs/project", "sample_logs/maintenance"];
    let run = |extra: &[&str]| {
        let mut args = vec!["report", "--baseline", &baseline];
        args.extend_from_slice(extra);
        args.extend_from_slice(&tonight);
        grantgap(&args)
    };

    let out = run(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let report = json(&String::from_utf8(out.stdout).unwrap());
    for p in report["principals"].as_array().unwrap() {
        let expected = if p["principal"] == "svc-project-sync" {
            "persisting"
        } else {
            "new"
        };
        for f in p["findings"].as_array().unwrap() {
            if f["permission"].is_string() {
                assert_eq!(
                    f["baseline"], expected,
                    "{} {}",
                    p["principal"], f["permission"]
                );
            }
        }
    }

    let table = String::from_utf8(run(&[]).stdout).unwrap();
    let lines_with = |needle: &str| table.lines().filter(|l| l.contains(needle)).count();
    assert!(lines_with("NEW") >= 2, "{table}");
    assert!(
        table
            .lines()
            .filter(|l| l.contains("NEW"))
            .all(|l| !l.contains("project.")),
        "only tonight's new findings are marked: {table}"
    );

    let markdown = String::from_utf8(run(&["--format", "markdown"]).stdout).unwrap();
    assert!(markdown.contains("| **NEW** "), "{markdown}");
    let html = String::from_utf8(run(&["--format", "html"]).stdout).unwrap();
    assert!(html.contains(r#"<span class="badge">new</span>"#));

    // --only-new: what to alert on, and nothing else.
    let only = json(&String::from_utf8(run(&["--only-new", "--format", "json"]).stdout).unwrap());
    let principals: Vec<&str> = only["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["principal"].as_str().unwrap())
        .collect();
    assert!(!principals.is_empty() && !principals.contains(&"svc-project-sync"));
    assert!(findings(&only).iter().all(|f| f["baseline"] == "new"));
    assert!(only["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["baseline"] == "new"));

    // A night where the project's denials are gone: they are listed as resolved.
    let resolved = grantgap(&["report", "--baseline", &baseline, "sample_logs/maintenance"]);
    let resolved = String::from_utf8(resolved.stdout).unwrap();
    let at = resolved
        .find("RESOLVED since the baseline")
        .expect("a resolved section");
    assert!(resolved[at..].contains("svc-project-sync"), "{resolved}");

    // signatures --baseline: marked, and exit 3 on a new one.
    let sigs = grantgap(&[
        "signatures",
        "--baseline",
        &baseline,
        "sample_logs/project",
        "sample_logs/maintenance",
    ]);
    assert_eq!(sigs.status.code(), Some(3));
    let sigs = String::from_utf8(sigs.stdout).unwrap();
    assert!(sigs.lines().any(|l| l.starts_with("NEW")), "{sigs}");
    let same = grantgap(&["signatures", "--baseline", &baseline, "sample_logs/project"]);
    assert_eq!(same.status.code(), Some(0));

    // JSON Lines: one finding per line, each with its principal.
    let report = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "sample_logs/maintenance",
    ]));
    let lines = stdout_of(&["report", "--format", "jsonl", "sample_logs/maintenance"]);
    let lines: Vec<Value> = lines.lines().map(json).collect();
    assert_eq!(lines.len(), findings(&report).len());
    assert!(lines
        .iter()
        .all(|l| l["principal"].is_string() && l["cause"].is_string()));
}

#[test]
fn a_role_granted_after_the_denials_is_not_proposed_again() {
    let table = stdout_of(&["report", "sample_logs/resources"]);
    // svc-shift-handover was denied OperatorAssignment until Resource Assignment
    // API was granted at 2026-11-18T09:00:00Z.
    let finding = table
        .lines()
        .find(|l| l.contains("missing_permission") && l.contains("OperatorAssignment"))
        .expect("the finding");
    assert!(
        finding.contains("none left: Resource Assignment API was granted at 2026-11-18T09:00:00Z, after these denials"),
        "{finding}"
    );
    let fix = table
        .lines()
        .find(|l| l.contains("fix: grant role"))
        .expect("a fix");
    assert!(!fix.contains("Resource Assignment API"), "{fix}");
    assert!(fix.contains("Calibration Tech"), "{fix}");
    assert!(
        table.contains("hint: already held: Resource Assignment API"),
        "{table}"
    );
    for format in ["markdown", "html"] {
        let text = stdout_of(&["report", "--format", format, "sample_logs/resources"]);
        assert!(
            text.contains("none left: Resource Assignment API was granted"),
            "{format}"
        );
    }
}

#[test]
fn filters_narrow_the_report_and_say_what_they_left_out() {
    let all = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "sample_logs/maintenance",
    ]));
    let denied = all["requests"]["denied"].as_u64().unwrap();

    let costs = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "--principal",
        "svc-maint-c*",
        "sample_logs/maintenance",
    ]));
    let names: Vec<&str> = costs["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["principal"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svc-maint-costs"]);
    let kept = costs["requests"]["denied"].as_u64().unwrap();
    assert_eq!(
        kept + costs["requests"]["denied_filtered_out"].as_u64().unwrap(),
        denied
    );
    // The other principal's successes still count: the same diagnosis as unfiltered.
    let unfiltered = all["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "svc-maint-costs")
        .unwrap();
    assert_eq!(costs["principals"][0]["findings"], unfiltered["findings"]);

    let window = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "--since",
        "2026-11-18",
        "--until",
        "2026-11-19T00:00:00Z",
        "sample_logs/maintenance",
    ]));
    for p in window["principals"].as_array().unwrap() {
        let first = p["first_seen"].as_str().unwrap();
        let last = p["last_seen"].as_str().unwrap();
        assert!(
            first >= "2026-11-18" && last < "2026-11-19",
            "{first} .. {last}"
        );
    }
    assert!(window["requests"]["denied"].as_u64().unwrap() < denied);

    let big = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "--min-count",
        "100",
        "sample_logs/maintenance",
    ]));
    assert!(!findings(&big).is_empty());
    assert!(findings(&big)
        .iter()
        .all(|f| f["count"].as_u64().unwrap() >= 100));

    let bad = grantgap(&["report", "--since", "yesterday", "sample_logs/maintenance"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2026-11-20"));
}

#[test]
fn the_table_has_one_line_per_finding_and_the_top_accounts_first() {
    let report = json(&stdout_of(&[
        "report",
        "--format",
        "json",
        "sample_logs/maintenance",
    ]));
    let table = stdout_of(&["report", "sample_logs/maintenance"]);
    for f in findings(&report) {
        let permission = f["permission"].as_str().unwrap_or("-");
        let cause = f["cause"].as_str().unwrap();
        let lines = table
            .lines()
            .filter(|l| l.contains(cause) && l.contains(permission))
            .count();
        assert_eq!(lines, 1, "{cause} {permission} once:\n{table}");
    }
    assert!(table
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("most denied: svc-maint-automation 127"));

    let top = stdout_of(&["report", "--top", "1", "sample_logs/maintenance"]);
    assert!(top.contains("svc-maint-automation") && !top.contains("svc-maint-costs  "));
    assert!(
        top.contains("1 more principals with denials not shown (--top)"),
        "{top}"
    );
    assert!(top.starts_with("4062 requests") && top.contains("2 principals with denials"));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("grantgap") && bash.contains("--baseline") && bash.contains("report"));
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH grantgap"),
        "{}",
        &page[..200.min(page.len())]
    );
    let dir = tempfile::tempdir().unwrap();
    let out = grantgap(&["man", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let report = std::fs::read_to_string(dir.path().join("grantgap-report.1")).unwrap();
    assert!(
        report.contains("only\\-new") || report.contains("only-new"),
        "{report}"
    );
    assert!(grantgap(&["completions", "tcsh"]).status.code() == Some(2));
}

#[test]
fn a_config_file_holds_a_nightly_job_and_the_command_line_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nightly.toml");
    std::fs::write(
        &config,
        "inputs = [\"sample_logs/maintenance\"]\nformat = \"json\"\nmin_count = 30\nno-progress = true\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let report = json(&stdout_of(&["report", "--config", config]));
    assert!(findings(&report)
        .iter()
        .all(|f| f["count"].as_u64().unwrap() >= 30));
    assert_eq!(report["requests"]["total"], 4062);

    // The command line wins: its format, and its inputs instead of the file's.
    let table = stdout_of(&[
        "report",
        "--config",
        config,
        "--format",
        "table",
        "sample_logs/project",
    ]);
    assert!(table.starts_with("2474 requests"), "{table}");

    std::fs::write(
        dir.path().join("bad.toml"),
        "inputs = [\"x\"]\nfromat = \"json\"\n",
    )
    .unwrap();
    let bad = grantgap(&[
        "report",
        "--config",
        dir.path().join("bad.toml").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("no option --fromat") && message.contains("format"),
        "{message}"
    );
}

#[test]
fn a_named_input_that_yields_no_event_fails_the_run_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("gateway.jsonl");
    std::fs::copy("tests/fixtures/k8s_audit.jsonl", &good).unwrap();
    let empty = dir.path().join("other-gateway.jsonl");
    std::fs::write(&empty, "").unwrap();
    let unreadable_format = dir.path().join("azure.jsonl");
    std::fs::write(&unreadable_format, "{\"operationName\": \"x\"}\n").unwrap();

    let out = grantgap(&[
        "report",
        good.to_str().unwrap(),
        empty.to_str().unwrap(),
        unreadable_format.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("other-gateway.jsonl (empty)"), "{stderr}");
    assert!(
        stderr.contains("azure.jsonl (1 records skipped)"),
        "{stderr}"
    );
    assert!(!stderr.contains("gateway.jsonl (") || stderr.contains("other-gateway.jsonl ("));

    // Found in a folder, the same files are named in a warning; the run goes on.
    let out = grantgap(&["report", "--max-skipped", "0", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("other-gateway.jsonl yielded no event"),
        "{table}"
    );
}

#[test]
fn a_fix_for_another_platform_is_an_error_not_an_empty_file() {
    // Gateway permissions cannot be written as Kubernetes RBAC.
    let out = grantgap(&["report", "--emit", "k8s-rbac", "sample_logs/maintenance"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--emit k8s-rbac: none of the 2 missing permissions is one of the Kubernetes RBAC permissions"),
        "{stderr}"
    );
    // Kubernetes permissions are not IAM actions.
    let out = grantgap(&[
        "report",
        "--emit",
        "iam-policy",
        "tests/fixtures/k8s_audit.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CloudTrail logs"));
    // A Kubernetes log emits its RBAC as before.
    let yaml = stdout_of(&[
        "report",
        "--emit",
        "k8s-rbac",
        "tests/fixtures/k8s_audit.jsonl",
    ]);
    assert!(
        yaml.contains("kind: Role") || yaml.contains("kind: ClusterRole"),
        "{yaml}"
    );
}
