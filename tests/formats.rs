//! End-to-end: real log formats read natively from fixtures written for these tests.

use std::process::Command;

use serde_json::Value;

fn report(fixture: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args([
            "report",
            "--format",
            "json",
            &format!("tests/fixtures/{fixture}"),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (principal, cause, permission, count) of every finding.
fn findings(report: &Value) -> Vec<(String, String, Option<String>, u64)> {
    let mut out = Vec::new();
    for p in report["principals"].as_array().unwrap() {
        for f in p["findings"].as_array().unwrap() {
            out.push((
                p["principal"].as_str().unwrap().to_string(),
                f["cause"].as_str().unwrap().to_string(),
                f["permission"].as_str().map(str::to_string),
                f["count"].as_u64().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

fn row(
    principal: &str,
    cause: &str,
    permission: Option<&str>,
) -> (String, String, Option<String>, u64) {
    (
        principal.into(),
        cause.into(),
        permission.map(str::to_string),
        1,
    )
}

#[test]
fn kubernetes_audit_events() {
    let r = report("k8s_audit.jsonl");
    let sa = "system:serviceaccount:ci:deployer";
    assert_eq!(
        findings(&r),
        vec![
            row(
                sa,
                "missing_permission",
                Some("apps/deployments/scale:update")
            ),
            row(sa, "missing_permission", Some("core/secrets:list")),
        ]
    );
    // Stages before ResponseComplete are folded into their request, and a request
    // seen only as RequestReceived is no denial.
    assert_eq!(r["requests"]["total"], 3);
    assert_eq!(
        r["records"]["events"]["skipped_by_reason"]["audit stage folded"],
        2
    );
}

#[test]
fn cloudtrail_records_file_gzipped() {
    let r = report("cloudtrail.json.gz");
    let role = "arn:aws:iam::111122223333:role/etl-reader";
    let user = "arn:aws:iam::111122223333:user/builder";
    assert_eq!(
        findings(&r),
        vec![
            row(role, "explicit_deny", None),
            row(role, "missing_permission", Some("s3:GetObject")),
            row(user, "missing_permission", Some("ec2:RunInstances")),
        ]
    );
    assert_eq!(r["requests"]["other"], 1, "throttling is not a denial");
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        !text.contains("QkFTRTY0RU5DT0RFRE1FU1NBR0U"),
        "the encoded authorization message stays out"
    );
}

#[test]
fn gcp_audit_logs() {
    let r = report("gcp_audit.jsonl");
    assert_eq!(
        findings(&r),
        vec![
            row(
                "deployer@shop-prod.iam.gserviceaccount.com",
                "missing_permission",
                Some("run.services.update")
            ),
            row(
                "vm-sa@shop-prod.iam.gserviceaccount.com",
                "scope_not_requested",
                None
            ),
        ]
    );
}
