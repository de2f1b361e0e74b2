//! End-to-end: cloud audit logs in the shapes the clouds export them (CloudTrail
//! downloads, EventBridge, CloudWatch Logs, CloudTrail Lake; GCP's denial
//! forms and exports; the Azure Activity Log and Storage logs), with the
//! guardrails no grant lifts. Fixtures are written from the providers'
//! documented shapes with invented values.

use serde_json::Value;

mod common;
use common::{grantgap, stdout_of as run};

fn report(fixture: &str) -> Value {
    let path = format!("tests/fixtures/{fixture}");
    serde_json::from_str(&run(&["report", "--format", "json", &path])).unwrap()
}

/// (allowed, denied, other) requests.
fn counts(report: &Value) -> (u64, u64, u64) {
    let r = &report["requests"];
    let n = |k: &str| r[k].as_u64().unwrap();
    (n("allowed"), n("denied"), n("other"))
}

/// One finding, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    principal: String,
    cause: String,
    permission: Option<String>,
    endpoints: Vec<String>,
    objects: Vec<String>,
    denied_by: Vec<(String, Option<String>)>,
    fix: String,
}

fn seen(report: &Value) -> Vec<Seen> {
    let mut out = Vec::new();
    for p in report["principals"].as_array().unwrap() {
        for f in p["findings"].as_array().unwrap() {
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
            out.push(Seen {
                principal: p["principal"].as_str().unwrap().into(),
                cause: f["cause"].as_str().unwrap().into(),
                permission: f["permission"].as_str().map(str::to_string),
                endpoints: strings(&f["endpoints"]),
                objects: strings(&f["evidence"]["objects"]),
                denied_by: f["evidence"]["denied_by"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        (
                            d["kind"].as_str().unwrap().to_string(),
                            d["name"].as_str().map(str::to_string),
                        )
                    })
                    .collect(),
                fix: f["fix"].as_str().unwrap().into(),
            });
        }
    }
    out
}

/// The finding of `principal` whose endpoints include `endpoint`.
fn finding<'a>(all: &'a [Seen], principal: &str, endpoint: &str) -> &'a Seen {
    all.iter()
        .find(|s| s.principal == principal && s.endpoints.iter().any(|e| e == endpoint))
        .unwrap_or_else(|| panic!("no finding of {principal} on {endpoint} in {all:#?}"))
}

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const SSO: &str = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataReader_0a1b2c3d4e5f6789";
const DEPLOY: &str = "arn:aws:iam::111122223333:role/ci/deploy-pipeline";
const FN_ROLE: &str = "arn:aws:iam::111122223333:role/orders-fn-role";
const SCP_ARN: &str =
    "arn:aws:organizations::444455556666:policy/o-a1b2c3d4e5/service_control_policy/p-examp1e9";

/// Every finding either names a permission to grant or the policy that denied,
/// and no cloud action is templated.
fn every_finding_is_actionable(all: &[Seen]) {
    for s in all {
        assert!(
            s.permission.is_some()
                || !s.denied_by.is_empty()
                || s.cause == "token_expired"
                || s.cause == "scope_not_requested",
            "{s:?}"
        );
        assert!(s.endpoints.iter().all(|e| !e.contains("{id}")), "{s:?}");
    }
}

#[test]
fn cloudtrail_lookup_events_rows_carry_the_record_as_a_string() {
    for (fixture, expected) in [
        ("cloudtrail/lookup_events.json", (2, 2, 1)),
        ("cloudtrail/lookup_events_epoch.json", (1, 1, 0)),
    ] {
        let r = report(fixture);
        assert_eq!(counts(&r), expected, "{fixture}");
        let all = seen(&r);
        every_finding_is_actionable(&all);
        let create = finding(&all, ALICE, "CALL iam:CreateUser");
        assert_eq!(create.cause, "missing_permission");
        assert_eq!(create.permission.as_deref(), Some("iam:CreateUser"));
        assert_eq!(create.objects, ["arn:aws:iam::111122223333:user/tmp-admin"]);
    }
    let r = report("cloudtrail/lookup_events.json");
    let all = seen(&r);
    let stop = finding(&all, SSO, "CALL ec2:StopInstances");
    assert_eq!(stop.permission.as_deref(), Some("ec2:StopInstances"));
    // The principal is the role; the session behind it is kept as evidence.
    let tokens: Vec<&Value> = r["principals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["principal"] == SSO)
        .flat_map(|p| p["findings"].as_array().unwrap())
        .flat_map(|f| f["evidence"]["tokens"].as_array().unwrap())
        .collect();
    assert!(
        !tokens.is_empty() && tokens.iter().all(|t| t.as_str().unwrap().contains('@')),
        "{tokens:?}"
    );
}

#[test]
fn cloudtrail_eventbridge_events_and_a_guardrail_named_by_arn() {
    let r = report("cloudtrail/eventbridge.jsonl");
    assert_eq!(counts(&r), (3, 2, 0));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let scp = finding(&all, DEPLOY, "CALL s3:PutBucketPolicy");
    assert_eq!(scp.cause, "guardrail");
    assert_eq!(scp.permission, None, "no grant is proposed");
    assert_eq!(
        scp.denied_by,
        [(
            "service_control_policy".to_string(),
            Some(SCP_ARN.to_string())
        )]
    );
    assert!(
        scp.fix.starts_with("no grant to this account helps"),
        "{}",
        scp.fix
    );
    let deny = finding(&all, SSO, "CALL dynamodb:DeleteTable");
    assert_eq!(deny.cause, "explicit_deny");
    assert_eq!(deny.denied_by, [("identity_policy".to_string(), None)]);
}

#[test]
fn cloudtrail_through_cloudwatch_logs_in_each_export() {
    for fixture in [
        "cloudtrail/cloudwatch_subscription.json",
        "cloudtrail/cloudwatch_filter_log_events.json",
        "cloudtrail/cloudwatch_export.txt",
    ] {
        let r = report(fixture);
        assert_eq!(counts(&r), (2, 2, 0), "{fixture}");
        let all = seen(&r);
        let kms = finding(&all, FN_ROLE, "CALL kms:Decrypt");
        assert_eq!(kms.permission.as_deref(), Some("kms:Decrypt"), "{fixture}");
        let sqs = finding(&all, FN_ROLE, "CALL sqs:SendMessage");
        assert_eq!(
            sqs.objects,
            ["arn:aws:sqs:us-east-1:111122223333:orders-dlq"]
        );
    }
}

#[test]
fn cloudtrail_lake_query_results_and_csv_export() {
    for fixture in [
        "cloudtrail/lake_query_results.json",
        "cloudtrail/lake_export.csv",
    ] {
        let r = report(fixture);
        assert_eq!(counts(&r), (3, 2, 0), "{fixture}");
        let all = seen(&r);
        every_finding_is_actionable(&all);
        // No sessionIssuer in a Lake row: the role comes from the session ARN.
        let boundary = finding(
            &all,
            "arn:aws:iam::111122223333:role/AWSReservedSSO_DataReader_0a1b2c3d4e5f6789",
            "CALL iam:AttachRolePolicy",
        );
        assert_eq!(boundary.cause, "guardrail", "{fixture}");
        assert_eq!(
            boundary.denied_by,
            [("permissions_boundary".to_string(), None)]
        );
        let secret = finding(&all, ALICE, "CALL secretsmanager:GetSecretValue");
        assert_eq!(secret.cause, "missing_permission");
    }
}

#[test]
fn every_aws_guardrail_is_named_and_never_granted() {
    let r = report("cloudtrail/guardrails.jsonl");
    assert_eq!(counts(&r), (2, 10, 0));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let kinds: Vec<&str> = all
        .iter()
        .filter(|s| s.cause == "guardrail")
        .flat_map(|s| s.denied_by.iter().map(|(k, _)| k.as_str()))
        .collect();
    for kind in [
        "service_control_policy",
        "resource_control_policy",
        "permissions_boundary",
        "session_policy",
        "vpc_endpoint_policy",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    for s in all.iter().filter(|s| s.cause == "guardrail") {
        assert_eq!(s.permission, None, "{s:?}");
    }
    let vpce = finding(&all, FN_ROLE, "CALL s3:GetObject");
    assert!(vpce.denied_by.contains(&(
        "vpc_endpoint_policy".into(),
        Some("vpce-0a1b2c3d4e5f60001".into())
    )));
    let sns = finding(&all, ALICE, "CALL sns:CreateTopic");
    assert_eq!(
        (sns.cause.as_str(), sns.permission.as_deref()),
        ("missing_permission", Some("sns:CreateTopic")),
        "SNS's AuthorizationError is a denial"
    );

    // --emit writes no grant for a guardrail: only the two plain denials.
    let out = grantgap(&[
        "report",
        "tests/fixtures/cloudtrail/guardrails.jsonl",
        "--emit",
        "iam-policy",
    ]);
    let policy = String::from_utf8(out.stdout).unwrap();
    for action in [
        "ec2:RunInstances",
        "cloudtrail:StopLogging",
        "dynamodb:PutItem",
        "s3:DeleteObject",
        "s3:GetObject",
    ] {
        assert!(!policy.contains(action), "{action} granted:\n{policy}");
    }
    assert!(policy.contains("sns:CreateTopic"), "{policy}");
}

#[test]
fn cloudtrail_endpoints_are_actions_and_resources_are_arns() {
    let r = report("cloudtrail/versioned_names.jsonl");
    assert_eq!(counts(&r), (4, 3, 0));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    finding(&all, SSO, "CALL lambda:ListFunctions");
    finding(&all, SSO, "CALL cloudfront:CreateInvalidation");
    let update = finding(
        &all,
        "arn:aws:iam::111122223333:role/release-bot",
        "CALL lambda:UpdateFunctionConfiguration",
    );
    assert_eq!(
        update.objects,
        ["arn:aws:lambda:us-east-1:111122223333:function:orders-processor"]
    );
    // The emitted policy names the function, not `*`.
    let out = grantgap(&[
        "report",
        "tests/fixtures/cloudtrail/versioned_names.jsonl",
        "--emit",
        "iam-policy",
    ]);
    let policy = String::from_utf8(out.stdout).unwrap();
    assert!(
        policy.contains("arn:aws:lambda:us-east-1:111122223333:function:orders-processor"),
        "{policy}"
    );
}

#[test]
fn gcp_every_denial_form_names_its_permission() {
    let r = report("gcp/denial_forms.jsonl");
    assert_eq!(counts(&r), (3, 6, 0));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let by = |principal: &str| {
        all.iter()
            .find(|s| s.principal == principal)
            .unwrap_or_else(|| panic!("{principal} in {all:#?}"))
    };
    assert_eq!(
        by("ci-deployer@ledger-prod-4821.iam.gserviceaccount.com")
            .permission
            .as_deref(),
        Some("run.services.setIamPolicy")
    );
    assert_eq!(
        by("etl-runner@analytics-eu-3307.iam.gserviceaccount.com")
            .permission
            .as_deref(),
        Some("bigquery.tables.getData")
    );
    assert_eq!(
        by("report-bot@ledger-prod-4821.iam.gserviceaccount.com")
            .permission
            .as_deref(),
        Some("secretmanager.versions.access")
    );
    assert_eq!(
        by("610233984175-compute@developer.gserviceaccount.com").cause,
        "scope_not_requested"
    );
}

#[test]
fn gcp_guardrails_and_exports() {
    let r = report("gcp/guardrails.jsonl");
    assert_eq!(counts(&r), (1, 4, 1), "a dry run is not a denial");
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let perimeter = "accessPolicies/889104562311/servicePerimeters/ledger_prod_perimeter";
    let vpcsc = finding(
        &all,
        "dana.okafor@example-corp.com",
        "CALL google.cloud.bigquery.v2.JobService.InsertJob",
    );
    assert_eq!(vpcsc.cause, "guardrail");
    assert_eq!(
        vpcsc.denied_by,
        [(
            "vpc_service_controls".to_string(),
            Some(perimeter.to_string())
        )]
    );
    let org = finding(
        &all,
        "ci-deployer@ledger-prod-4821.iam.gserviceaccount.com",
        "CALL v1.compute.instances.insert",
    );
    assert_eq!(
        org.denied_by,
        [(
            "organization_policy".to_string(),
            Some("constraints/compute.vmExternalIpAccess".to_string())
        )]
    );
    for (fixture, expected) in [
        ("gcp/gcloud_read.json", (2, 2, 0)),
        ("gcp/bigquery_export.jsonl", (2, 2, 0)),
    ] {
        let r = report(fixture);
        assert_eq!(counts(&r), expected, "{fixture}");
        every_finding_is_actionable(&seen(&r));
    }
}

const SP_DEPLOY: &str = "0d4b6f81-9a2c-4e3b-8c5d-1f7e9a3b5c6d";
const MI_INGEST: &str = "e7a9c1b3-2d4f-4e6a-8b0c-9d1e3f5a7b9c";

#[test]
fn azure_activity_log_diagnostic_export() {
    let r = report("azure/activity_diagnostic.jsonl");
    // The Policy category's own record of the refused request is not counted twice.
    assert_eq!(counts(&r), (2, 6, 1));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let vault = finding(&all, SP_DEPLOY, "CALL Microsoft.KeyVault/vaults/write");
    assert_eq!(vault.cause, "missing_permission");
    assert_eq!(
        vault.permission.as_deref(),
        Some("Microsoft.KeyVault/vaults/write")
    );
    assert_eq!(
        vault.objects,
        ["/subscriptions/9c1d4e7a-2b3f-4a5c-8d6e-0f1a2b3c4d5e/resourceGroups/rg-pay-prod/providers/Microsoft.KeyVault/vaults/kv-payments-prod"]
    );
    let policy = finding(
        &all,
        "priya.natarajan@fabrikam-labs.example",
        "CALL Microsoft.Storage/storageAccounts/write",
    );
    assert_eq!(policy.cause, "guardrail");
    assert_eq!(
        policy.denied_by,
        [(
            "azure_policy".to_string(),
            Some("Deny public storage in sandbox".to_string())
        )]
    );
    let deny = finding(
        &all,
        "marco.ferri@fabrikam-labs.example",
        "CALL Microsoft.Compute/disks/delete",
    );
    assert_eq!(deny.cause, "guardrail");
    assert_eq!(deny.denied_by[0].0, "deny_assignment");
    finding(
        &all,
        MI_INGEST,
        "CALL Microsoft.Storage/storageAccounts/listKeys/action",
    );
}

#[test]
fn azure_activity_log_other_exports() {
    for (fixture, expected) in [
        ("azure/activity_eventhub.json", (1, 2, 2)),
        ("azure/activity_log_analytics.json", (2, 2, 1)),
        ("azure/activity_log_analytics.csv", (2, 2, 1)),
        ("azure/activity_cli.json", (2, 2, 1)),
    ] {
        let r = report(fixture);
        assert_eq!(counts(&r), expected, "{fixture}");
        every_finding_is_actionable(&seen(&r));
    }
    for fixture in [
        "azure/activity_log_analytics.json",
        "azure/activity_log_analytics.csv",
    ] {
        let all = seen(&report(fixture));
        let subnet = finding(
            &all,
            MI_INGEST,
            "CALL Microsoft.Network/virtualNetworks/subnets/write",
        );
        assert_eq!(
            subnet.permission.as_deref(),
            Some("Microsoft.Network/virtualNetworks/subnets/write"),
            "{fixture}"
        );
    }
    let all = seen(&report("azure/activity_cli.json"));
    let aks = finding(
        &all,
        SP_DEPLOY,
        "CALL Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
    );
    assert_eq!(aks.cause, "missing_permission");
    let sql = finding(
        &all,
        "marco.ferri@fabrikam-labs.example",
        "CALL Microsoft.Sql/servers/firewallRules/write",
    );
    assert_eq!(sql.cause, "guardrail");
}

#[test]
fn azure_storage_logs_tell_a_role_gap_from_an_expired_sas() {
    let r = report("azure/storage_resource_logs.jsonl");
    assert_eq!(counts(&r), (4, 3, 1));
    let all = seen(&r);
    every_finding_is_actionable(&all);
    let write = finding(
        &all,
        MI_INGEST,
        "CALL Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    );
    assert_eq!(write.cause, "missing_permission");
    let sas = all
        .iter()
        .find(|s| s.principal == "SAS:stdatashared01/key1")
        .unwrap();
    assert_eq!(sas.cause, "token_expired");
    assert_eq!(sas.permission, None, "an expired SAS needs no grant");
}

#[test]
fn logs_grantgap_does_not_read_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let okta = dir.path().join("okta.jsonl");
    std::fs::write(
        &okta,
        r#"{"eventType":"user.session.start","actor":{"id":"u1"},"outcome":{"result":"FAILURE"},"published":"2026-11-20T00:00:00Z"}
{"eventType":"user.session.start","actor":{"id":"u2"},"outcome":{"result":"SUCCESS"},"published":"2026-11-20T00:00:01Z"}
"#,
    )
    .unwrap();
    let out = grantgap(&["report", okta.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("2 unread format"), "{stderr}");
    assert!(stderr.contains("Okta System Log"), "{stderr}");

    // A forced format that does not fit says which one does.
    let out = grantgap(&[
        "report",
        "--input-format",
        "cloudtrail",
        "tests/fixtures/azure/activity_cli.json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--input-format azure"), "{stderr}");
}

#[test]
fn a_refused_credential_is_never_a_grant_even_with_peers() {
    // Peers read blobs; a request whose SAS the service refused (no `se=` to
    // date it) is not an object ACL nor a missing permission.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("storage.jsonl");
    let ok = |i: u32, who: &str| {
        format!(
            r#"{{"time":"2025-03-15T06:0{i}:00Z","category":"StorageRead","operationName":"GetBlob","statusCode":200,"statusText":"Success","identity":{{"type":"OAuth","requester":{{"objectId":"{who}"}}}},"properties":{{"accountName":"st1","serviceType":"blob","objectKey":"/st1/c/ok-{i}.csv"}}}}"#
        )
    };
    let refused = r#"{"time":"2025-03-15T07:00:00Z","category":"StorageRead","operationName":"GetBlob","statusCode":403,"statusText":"AuthenticationFailed","properties":{"accountName":"st1","serviceType":"blob","objectKey":"/st1/c/secret.csv"},"uri":"https://st1.blob.core.windows.net/c/secret.csv?sv=2021-12-02&sp=r&sig=REDACTED"}"#;
    let lines = [
        ok(1, "a"),
        ok(2, "b"),
        ok(3, "c"),
        ok(4, "d"),
        refused.to_string(),
    ];
    std::fs::write(&log, lines.join("\n")).unwrap();
    let r: Value =
        serde_json::from_str(&run(&["report", "--format", "json", log.to_str().unwrap()])).unwrap();
    let all = seen(&r);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].cause, "unknown", "{all:#?}");
    assert_eq!(all[0].permission, None);
}
