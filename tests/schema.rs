//! The JSON report's schema: `docs/report.schema.json` is exactly what the
//! report's types describe, and the reports of every scenario (and of the real
//! formats, a baseline comparison and suppressions) validate against it.

mod common;

use common::stdout_of;

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");

fn generated() -> String {
    let schema = schemars::schema_for!(grantgap::Report);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

#[test]
fn the_committed_schema_is_the_one_the_report_types_describe() {
    if std::env::var_os("GRANTGAP_WRITE_SCHEMA").is_some() {
        std::fs::write(SCHEMA, generated()).unwrap();
    }
    let committed = std::fs::read_to_string(SCHEMA).unwrap();
    assert!(
        committed == generated(),
        "docs/report.schema.json differs from the report's types. If the change is meant, \
         write it with `GRANTGAP_WRITE_SCHEMA=1 cargo test --test schema` and bump \
         report::SCHEMA_VERSION when old readers would break"
    );
}

#[test]
fn every_report_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("previous.json");
    std::fs::write(
        &previous,
        stdout_of(&["report", "sample_logs/project", "--format", "json"]),
    )
    .unwrap();
    let suppressions = dir.path().join("suppressions.json");
    std::fs::write(
        &suppressions,
        r#"[{"principal": "svc-project-sync", "cause": "workflow_state", "reason": "known lock", "expires": "2099-01-01"},
            {"cause": "token_expired", "reason": "old", "expires": "2020-01-01"}]"#,
    )
    .unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec!["report", "sample_logs/maintenance"],
        vec!["report", "sample_logs/project"],
        vec!["report", "sample_logs/resources"],
        vec!["report", "sample_logs/inventory"],
        vec![
            "report",
            "tests/fixtures/k8s_audit.jsonl",
            "--rbac",
            "tests/fixtures/rbac.json",
        ],
        vec![
            "report",
            "tests/fixtures/cloudtrail.json.gz",
            "tests/fixtures/gcp_audit.jsonl",
        ],
        vec![
            "report",
            "sample_logs/project",
            "--baseline",
            previous.to_str().unwrap(),
            "--suppressions",
            suppressions.to_str().unwrap(),
            "--today",
            "2026-11-20",
        ],
        // The filters' counts of what they left out.
        vec![
            "report",
            "sample_logs/maintenance",
            "--principal",
            "svc-maint-a*",
            "--top",
            "0",
        ],
    ];
    let mut sections_seen = std::collections::BTreeSet::new();
    for mut args in runs {
        args.extend(["--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&stdout_of(&args)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
        assert_eq!(report["schema_version"], grantgap::SCHEMA_VERSION);
        sections_seen.extend(report.as_object().unwrap().keys().cloned());
    }
    // The runs exercise every top-level section, the optional baseline included.
    let declared: std::collections::BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(sections_seen, declared);

    // And the validator does reject what breaks the schema.
    let mut broken: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "report",
        "sample_logs/maintenance",
        "--format",
        "json",
    ]))
    .unwrap();
    broken["principals"][0]["denied"] = serde_json::json!("many");
    assert!(!validator.is_valid(&broken));
}
