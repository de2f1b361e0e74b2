//! End-to-end: real log formats read natively from fixtures written for these tests.

use serde_json::Value;

mod common;
use common::stdout_of as run;

fn report(fixture: &str) -> Value {
    let path = format!("tests/fixtures/{fixture}");
    serde_json::from_str(&run(&["report", "--format", "json", &path])).unwrap()
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
fn kubernetes_requests_that_name_no_grant() {
    let r = report("k8s_unauthenticated.jsonl");
    assert_eq!(r["requests"]["denied"], 3);
    let notes: Vec<(String, String)> = r["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .map(|f| {
            assert_eq!(f["cause"], "unknown", "{f}");
            assert!(f["permission"].is_null(), "{f}");
            let endpoint = f["endpoints"][0].as_str().unwrap().to_string();
            (endpoint, f["note"].as_str().unwrap().to_string())
        })
        .collect();
    // No credential: granting the anonymous identity would open the API to all.
    let anonymous: Vec<_> = notes
        .iter()
        .filter(|(_, n)| n.contains("no credential"))
        .collect();
    assert_eq!(anonymous.len(), 1, "{notes:?}");
    // A record without objectRef or requestURI says what is missing.
    assert!(
        notes.iter().any(|(e, n)| e == "WATCH (resource not in log)"
            && n.contains("names neither the resource nor the path")),
        "{notes:?}"
    );
    // And nothing is proposed to grant.
    for p in r["principals"].as_array().unwrap() {
        assert_eq!(p["fix"]["grant_roles"], serde_json::json!([]), "{p}");
    }
}

#[test]
fn cloudtrail_records_file_gzipped() {
    let r = report("cloudtrail.json.gz");
    let role = "arn:aws:iam::111122223333:role/etl-reader";
    let user = "arn:aws:iam::111122223333:user/builder";
    assert_eq!(
        findings(&r),
        vec![
            row(role, "guardrail", None),
            row(role, "missing_permission", Some("s3:GetObject")),
            row(user, "missing_permission", Some("ec2:RunInstances")),
        ]
    );
    assert_eq!(r["requests"]["other"], 1, "throttling is not a denial");
    let guardrail = r["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .find(|f| f["cause"] == "guardrail")
        .unwrap();
    assert_eq!(
        guardrail["evidence"]["denied_by"],
        serde_json::json!([{"kind": "service_control_policy", "name": null}]),
        "an SCP's explicit deny is lifted by no grant"
    );
    let notes: Vec<&str> = r["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .filter_map(|f| f["note"].as_str())
        .collect();
    assert!(
        notes.contains(&"denied by: an explicit deny in a service control policy"),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"denied by: no identity-based policy allows"),
        "{notes:?}"
    );
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
                // Cloud Storage's methods are named as their permissions.
                Some("storage.objects.get")
            ),
        ]
    );
}

#[test]
fn kubernetes_rbac_dump_gives_roles_bindings_and_the_fix() {
    // The same dump as JSON (a List) and as a YAML stream.
    for dump in ["tests/fixtures/rbac.json", "tests/fixtures/rbac.yaml"] {
        let json = run(&[
            "report",
            "--format",
            "json",
            "tests/fixtures/k8s_audit.jsonl",
            "--rbac",
            dump,
        ]);
        let r: Value = serde_json::from_str(&json).unwrap();
        let p = &r["principals"][0];
        assert_eq!(
            p["principal"], "system:serviceaccount:ci:deployer",
            "{dump}"
        );
        assert_eq!(
            p["roles_held"],
            serde_json::json!(["Role/prod/pod-reader"]),
            "{dump}"
        );
        assert!(p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["confidence"]["level"] == "high"));
        // Secrets come with the aggregated view role or the narrow role it aggregates; the
        // narrow one grants less. Only the wildcard apps-admin role (`apps/*:*`) grants
        // deployment scaling, and a whole API group is no fix: a new, narrow role is.
        assert_eq!(
            p["fix"]["grant_roles"],
            serde_json::json!(["ClusterRole/secret-reader"]),
            "{dump}"
        );
        assert_eq!(
            p["fix"]["no_role_grants"],
            serde_json::json!(["apps/deployments/scale:update"]),
            "{dump}"
        );
    }
}

#[test]
fn fixes_are_emitted_natively() {
    use serde::Deserialize;
    let documents = |yaml: &str| -> Vec<Value> {
        serde_yaml_ng::Deserializer::from_str(yaml)
            .map(|d| Value::deserialize(d).unwrap())
            .filter(|d| !d.is_null())
            .collect()
    };
    let args = [
        "report",
        "--emit",
        "k8s-rbac",
        "tests/fixtures/k8s_audit.jsonl",
    ];
    let yaml = run(&args);
    let emitted = documents(&yaml);
    let kinds: Vec<&str> = emitted
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Role", "RoleBinding"], "{yaml}");
    let (role, binding) = (&emitted[0], &emitted[1]);
    assert_eq!(role["metadata"]["namespace"], "prod");
    let name = role["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("grantgap-system-serviceaccount-ci-deployer-"),
        "{name}"
    );
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"]}])
    );
    assert_eq!(binding["roleRef"]["name"], name);
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}])
    );
    // Reading every Secret is an escalation: refused and said, unless allowed.
    assert!(yaml.contains("# refused \"core/secrets:list\""), "{yaml}");
    let allowed = run(&[&args[..], &["--allow-risky"]].concat());
    let rules = &documents(&allowed)[0]["rules"];
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"] == serde_json::json!(["secrets"])
                && r["verbs"] == serde_json::json!(["list"])),
        "{allowed}"
    );
    assert!(
        allowed.contains("# risky, emitted because of --allow-risky"),
        "{allowed}"
    );
    let iam: Value = serde_json::from_str(&run(&[
        "report",
        "--emit",
        "iam-policy",
        "tests/fixtures/cloudtrail.json.gz",
    ]))
    .unwrap();
    let statement = &iam["arn:aws:iam::111122223333:role/etl-reader"]["Statement"][0];
    assert_eq!(statement["Action"], serde_json::json!(["s3:GetObject"]));
    assert_eq!(
        statement["Resource"],
        serde_json::json!(["arn:aws:s3:::exports/2026/11/20.csv"])
    );
}

#[test]
fn audit_records_without_a_timestamp_are_still_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("trimmed.jsonl");
    std::fs::write(
        &events,
        r#"{"kind": "Event", "objectRef": {"name": "csr-1", "resource": "certificatesigningrequests", "apiGroup": "certificates.k8s.io"}, "responseStatus": {"code": 403}, "user": {"username": "mallory"}, "verb": "create"}"#,
    )
    .unwrap();
    let r: Value = serde_json::from_str(&run(&[
        "report",
        "--format",
        "json",
        events.to_str().unwrap(),
    ]))
    .unwrap();
    let f = &r["principals"][0]["findings"][0];
    assert_eq!(
        (
            f["cause"].as_str(),
            f["permission"].as_str(),
            f["first_seen"].as_str()
        ),
        (
            Some("missing_permission"),
            Some("certificates.k8s.io/certificatesigningrequests:create"),
            Some("unknown")
        )
    );
    // Unknown stays unknown: never the epoch.
    assert_eq!(f["last_seen"], "unknown");
    assert_eq!(r["principals"][0]["last_seen"], "unknown");
    assert!(!r.to_string().contains("1970-01-01"), "{r}");
}

#[test]
fn the_session_creation_date_is_the_token_issue_time() {
    let r = report("cloudtrail.json.gz");
    let role = r["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "arn:aws:iam::111122223333:role/etl-reader")
        .unwrap();
    let f = role["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "missing_permission")
        .unwrap();
    assert_eq!(
        f["evidence"]["token_issued_at"],
        serde_json::json!(["2026-11-20T01:50:00Z"])
    );
}

#[test]
fn kubernetes_event_lists_older_messages_and_non_resource_urls() {
    let r = report("k8s_eventlist.json");
    let sa = "system:serviceaccount:monitoring:scraper";
    assert_eq!(
        findings(&r),
        vec![
            row(sa, "missing_permission", Some("core/nodes:list")),
            row(sa, "missing_permission", Some("core/pods:list")),
            row(sa, "missing_permission", Some("nonresource:/metrics:get")),
        ]
    );
    let pods = r["principals"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["permission"] == "core/pods:list")
        .unwrap();
    assert_eq!(
        pods["evidence"]["orgs"],
        serde_json::json!(["default"]),
        "the namespace of the older message"
    );
}

#[test]
fn cloudtrail_one_event_per_line_with_bare_and_layered_denials() {
    let r = report("cloudtrail_lines.jsonl");
    let user = "arn:aws:iam::111122223333:user/uploader";
    assert_eq!(
        findings(&r),
        vec![
            row(user, "guardrail", None),
            row(user, "missing_permission", Some("s3:PutObject")),
            row(user, "missing_permission", Some("sts:AssumeRole")),
        ]
    );
    assert_eq!(
        r["requests"]["other"], 1,
        "EntityTemporarilyUnmodifiable is no denial"
    );
    let notes: Vec<&str> = r["principals"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["note"].as_str())
        .collect();
    assert!(
        notes.contains(&"denied by: no resource-based policy allows"),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"denied by: denied due to a VPC endpoint policy"),
        "{notes:?}"
    );
}
