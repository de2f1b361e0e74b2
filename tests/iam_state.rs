//! End-to-end: the IAM state platforms export (AWS authorization details,
//! Kubernetes RBAC dumps), dated by their file names, as a history the
//! denials are judged against.

use serde_json::{json, Value};

mod common;
use common::{principal, stdout_of as run};

fn report(args: &[&str]) -> Value {
    let mut all = vec!["report", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run(&all)).unwrap()
}

#[test]
fn aws_authorization_details_over_time_decide_and_name_the_fix() {
    // A bundle: two dated `iam-*.json` dumps and a CloudTrail log.
    let r = report(&["tests/fixtures/aws_iam"]);

    // Alice was denied iam:CreateUser at 10:00; the noon dump attaches
    // UserAdmin to her group, and her 13:00 request succeeds.
    let alice = principal(&r, "arn:aws:iam::111122223333:user/alice");
    let f = &alice["findings"][0];
    assert_eq!(f["cause"], "missing_permission");
    assert_eq!(
        f["confidence"]["level"], "high",
        "judged against her policies"
    );
    assert!(
        f["fix"].as_str().unwrap().contains(
            "arn:aws:iam::111122223333:policy/UserAdmin was granted at 2026-11-20T12:00:00Z"
        ),
        "{f:#}"
    );
    assert_eq!(
        alice["roles_held"],
        json!(["arn:aws:iam::111122223333:policy/EC2Describe"]),
        "the snapshot in effect at the denial, through her group"
    );

    // Bob lacks iam:TagUser, which an existing, unattached customer-managed
    // policy grants: attach it, do not write a new one.
    let bob = principal(&r, "arn:aws:iam::111122223333:user/bob");
    let f = &bob["findings"][0];
    assert_eq!(f["permission"], "iam:TagUser");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("attach the IAM policy arn:aws:iam::111122223333:policy/UserAdmin"),
        "{f:#}"
    );
    assert_eq!(
        bob["fix"]["grant_roles"],
        json!(["arn:aws:iam::111122223333:policy/UserAdmin"])
    );

    // The pipeline role was refused iam:TagUser too, but a policy it holds
    // denies iam:* outright: attaching UserAdmin would change nothing.
    let deploy = principal(&r, "arn:aws:iam::111122223333:role/ci/deploy-pipeline");
    let f = &deploy["findings"][0];
    assert_eq!(f["cause"], "explicit_deny", "{f:#}");
    assert_eq!(f["confidence"]["level"], "high");
    assert_eq!(
        f["evidence"]["denied_by"],
        json!([{"kind": "identity_policy", "name": "arn:aws:iam::111122223333:policy/LambdaDeploy"}])
    );
    assert_eq!(deploy["fix"]["grant_roles"], json!([]));

    // A session logged without its issuer is the role without its path; it
    // holds the same policies. LambdaDeploy allows functions by prefix only,
    // so it does not grant lambda:DeleteFunction on everything.
    let session = principal(&r, "arn:aws:iam::111122223333:role/deploy-pipeline");
    assert!(session["roles_held"]
        .as_array()
        .unwrap()
        .contains(&json!("arn:aws:iam::111122223333:policy/LambdaDeploy")));
    let f = &session["findings"][0];
    assert_eq!(f["permission"], "lambda:DeleteFunction");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("create an IAM policy that allows lambda:DeleteFunction"),
        "{f:#}"
    );
}

#[test]
fn kubernetes_rbac_dumps_over_time_show_a_removed_binding() {
    let dir = tempfile::tempdir().unwrap();
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": "prod"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "ci-reads-pods", "namespace": "prod"},
        "roleRef": {"kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]});
    let other = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "ops-reads-pods", "namespace": "prod"},
        "roleRef": {"kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "ops", "namespace": "ci"}]});
    let list = |items: Vec<Value>| json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(
        dir.path().join("rbac-2026-11-20T00-00-00Z.json"),
        list(vec![role.clone(), binding, other.clone()]).to_string(),
    )
    .unwrap();
    // By noon the deployer's binding is gone.
    std::fs::write(
        dir.path().join("rbac-2026-11-20T12-00-00Z.json"),
        list(vec![role, other]).to_string(),
    )
    .unwrap();
    let event = |at: &str, code: u16| {
        json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "auditID": at, "verb": "list", "requestURI": "/api/v1/namespaces/prod/pods",
            "user": {"username": "system:serviceaccount:ci:deployer"},
            "objectRef": {"resource": "pods", "namespace": "prod", "apiVersion": "v1"},
            "responseStatus": {"code": code}, "stageTimestamp": at})
        .to_string()
    };
    let audit = [
        event("2026-11-20T10:00:00Z", 200),
        event("2026-11-20T13:00:00Z", 403),
    ];
    std::fs::write(dir.path().join("audit.jsonl"), audit.join("\n")).unwrap();

    let r = report(&[dir.path().to_str().unwrap()]);
    let deployer = principal(&r, "system:serviceaccount:ci:deployer");
    let f = &deployer["findings"][0];
    assert_eq!(f["cause"], "missing_permission", "{f:#}");
    assert_eq!(f["permission"], "core/pods:list");
    assert_eq!(f["confidence"]["level"], "high");
    assert_eq!(
        deployer["roles_held"],
        json!([]),
        "the noon dump holds nothing for it"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("bind the role Role/prod/pod-reader"),
        "an existing Role before a new one: {f:#}"
    );
}

#[test]
fn a_held_policy_the_dump_does_not_define_keeps_the_confidence_honest() {
    // `--filter Role` leaves the policies out: the role holds one whose
    // permissions the inputs never say.
    let dir = tempfile::tempdir().unwrap();
    let dump = json!({"RoleDetailList": [{"RoleName": "etl", "Arn": "arn:aws:iam::111122223333:role/etl",
        "RolePolicyList": [], "AttachedManagedPolicies": [
            {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}]}]});
    std::fs::write(dir.path().join("iam-2026-11-20.json"), dump.to_string()).unwrap();
    let denial = json!({"eventTime": "2026-11-20T10:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/etl/run-1",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/etl"}}},
        "requestParameters": {"bucketName": "lake", "key": "in/a.csv"},
        "errorCode": "AccessDenied", "errorMessage": "Access Denied", "eventID": "e-1"});
    std::fs::write(dir.path().join("trail.jsonl"), denial.to_string()).unwrap();
    let r = report(&[dir.path().to_str().unwrap()]);
    let f = &principal(&r, "arn:aws:iam::111122223333:role/etl")["findings"][0];
    assert_eq!(f["cause"], "missing_permission");
    assert_eq!(f["confidence"]["level"], "medium", "{f:#}");
    assert!(
        f["note"]
            .as_str()
            .unwrap()
            .contains("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
        "{f:#}"
    );
}

#[test]
fn gcp_policies_and_role_definitions() {
    let r = report(&[
        "tests/fixtures/gcp/gcloud_read.json",
        "--iam",
        "tests/fixtures/snapshots/gcp_get_iam_policy.json",
        "--iam",
        "tests/fixtures/snapshots/gcp_roles.json",
    ]);
    let ci = principal(&r, "ci-deployer@ledger-prod-4821.iam.gserviceaccount.com");
    assert_eq!(
        ci["roles_held"],
        json!([
            "projects/ledger-prod-4821/roles/ciDeployer",
            "roles/run.developer"
        ])
    );
    let f = &ci["findings"][0];
    assert_eq!(f["permission"], "artifactregistry.repositories.create");
    assert_eq!(
        f["confidence"]["level"], "high",
        "judged against the roles' permissions"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("grant a predefined or custom role"),
        "{f:#}"
    );
}

#[test]
fn azure_role_assignments_and_definitions() {
    let r = report(&[
        "tests/fixtures/azure/activity_cli.json",
        "--iam",
        "tests/fixtures/snapshots/azure_role_assignments.json",
        "--iam",
        "tests/fixtures/snapshots/azure_role_definitions.json",
    ]);
    let sp = principal(&r, "0d4b6f81-9a2c-4e3b-8c5d-1f7e9a3b5c6d");
    assert_eq!(sp["roles_held"], json!(["AKS Pay Operator"]));
    let f = &sp["findings"][0];
    assert_eq!(f["cause"], "missing_permission");
    assert_eq!(f["confidence"]["level"], "high");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("create a custom role definition"),
        "{f:#}"
    );
    // A guardrail stays a guardrail whatever the roles.
    let marco = principal(&r, "marco.ferri@fabrikam-labs.example");
    assert_eq!(marco["findings"][0]["cause"], "guardrail");
    assert_eq!(marco["roles_held"], json!(["Reader"]));
}

#[test]
fn aws_dumps_with_encoded_documents_and_a_dated_name() {
    let r = report(&[
        "tests/fixtures/cloudtrail/cloudwatch_subscription.json",
        "--iam",
        "tests/fixtures/snapshots/aws_authorization_details.json",
        "--iam",
        "tests/fixtures/snapshots/aws_authorization_details_2026-11-20T08-00-00Z.json",
    ]);
    let role = principal(&r, "arn:aws:iam::111122223333:role/orders-fn-role");
    assert_eq!(
        role["roles_held"],
        json!([
            "arn:aws:iam::111122223333:role/orders-fn-role#inline/orders-sqs-send",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        ])
    );
    // Its inline policy allows one queue, not the dead-letter queue denied.
    let sqs = role["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["permission"] == "sqs:SendMessage")
        .unwrap();
    assert_eq!(sqs["cause"], "missing_permission");
}

#[test]
fn aws_config_items_are_a_history_with_their_own_capture_times() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |at: &str, actions: &[&str]| {
        let document =
            json!({"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        json!({"configurationItemCaptureTime": at, "configurationItemStatus": "OK",
            "resourceType": "AWS::IAM::Policy", "ARN": "arn:aws:iam::111122223333:policy/etl-data",
            "configuration": {"policyName": "etl-data", "arn": "arn:aws:iam::111122223333:policy/etl-data",
                "defaultVersionId": "v1", "policyVersionList": [{"versionId": "v1", "isDefaultVersion": true,
                "document": document.to_string()}]}})
    };
    let history = json!({"fileVersion": "1.0", "configurationItems": [
        {"configurationItemCaptureTime": "2026-11-20T08:00:00.000Z", "configurationItemStatus": "OK",
         "resourceType": "AWS::IAM::Role", "ARN": "arn:aws:iam::111122223333:role/etl",
         "configuration": {"roleName": "etl", "arn": "arn:aws:iam::111122223333:role/etl", "rolePolicyList": [],
            "attachedManagedPolicies": [{"policyName": "etl-data", "policyArn": "arn:aws:iam::111122223333:policy/etl-data"}]}},
        policy("2026-11-20T08:00:00.000Z", &["s3:GetObject"]),
        // At 11:00 the policy gains s3:Put*: a wildcard, honoured as IAM does.
        policy("2026-11-20T11:00:00.000Z", &["s3:GetObject", "s3:Put*"])]});
    // The file name's own times must not override the items'.
    let file = dir
        .path()
        .join("111122223333_Config_us-east-1_ConfigHistory_AWS::IAM::Role_20261121T000000Z_1.json");
    std::fs::write(&file, history.to_string()).unwrap();
    let call = |at: &str, error: Option<&str>| {
        let mut r = json!({"eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "eventID": at,
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/etl/run",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/etl"}}},
            "requestParameters": {"bucketName": "lake", "key": "out/x.csv"}});
        if let Some(e) = error {
            r["errorCode"] = json!(e);
            r["errorMessage"] = json!("Access Denied");
        }
        r.to_string()
    };
    let trail = dir.path().join("trail.jsonl");
    std::fs::write(
        &trail,
        [
            call("2026-11-20T10:00:00Z", Some("AccessDenied")),
            call("2026-11-20T12:00:00Z", None),
        ]
        .join("\n"),
    )
    .unwrap();
    let r = report(&[trail.to_str().unwrap(), "--iam", file.to_str().unwrap()]);
    let etl = principal(&r, "arn:aws:iam::111122223333:role/etl");
    let f = &etl["findings"][0];
    assert_eq!(f["cause"], "missing_permission", "{f:#}");
    assert_eq!(f["permission"], "s3:PutObject");
    assert_eq!(f["confidence"]["level"], "high");
    assert!(
        f["fix"].as_str().unwrap().contains("2026-11-20T11:00:00Z"),
        "the policy's new version came after the denial: {f:#}"
    );
}

#[test]
fn gcp_and_azure_dumps_over_time_judge_each_denial_by_the_dump_then() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        std::fs::read_to_string("tests/fixtures/snapshots/gcp_get_iam_policy.json").unwrap();
    let mut later: Value = serde_json::from_str(&policy).unwrap();
    later["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "roles/artifactregistry.repoAdmin",
        "members": ["serviceAccount:ci-deployer@ledger-prod-4821.iam.gserviceaccount.com"]}));
    std::fs::write(
        dir.path().join("iam-gcp-2026-03-11T00-00-00Z.json"),
        &policy,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("iam-gcp-2026-03-11T12-00-00Z.json"),
        later.to_string(),
    )
    .unwrap();
    let mut roles: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/snapshots/gcp_roles.json").unwrap(),
    )
    .unwrap();
    roles.as_array_mut().unwrap().push(json!({"name": "roles/artifactregistry.repoAdmin",
        "includedPermissions": ["artifactregistry.repositories.create", "artifactregistry.repositories.get"]}));
    std::fs::write(dir.path().join("iam-gcp-roles.json"), roles.to_string()).unwrap();
    std::fs::copy(
        "tests/fixtures/gcp/gcloud_read.json",
        dir.path().join("audit.json"),
    )
    .unwrap();
    let r = report(&[dir.path().to_str().unwrap()]);
    let ci = principal(&r, "ci-deployer@ledger-prod-4821.iam.gserviceaccount.com");
    let f = &ci["findings"][0];
    // The noon dump grants it; the morning one, in effect at the denial, does not.
    assert_eq!(f["cause"], "missing_permission", "{f:#}");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("roles/artifactregistry.repoAdmin was granted at 2026-03-11T12:00:00Z"),
        "{f:#}"
    );

    // Azure: the service principal's assignment is gone by the time of its
    // denial, though the latest state would show it again.
    let dir = tempfile::tempdir().unwrap();
    let assignments =
        std::fs::read_to_string("tests/fixtures/snapshots/azure_role_assignments.json").unwrap();
    let all: Vec<Value> = serde_json::from_str(&assignments).unwrap();
    let without_sp: Vec<&Value> = all
        .iter()
        .filter(|a| a["principalId"] != "0d4b6f81-9a2c-4e3b-8c5d-1f7e9a3b5c6d")
        .collect();
    std::fs::write(
        dir.path().join("iam-az-2025-03-14T00-00-00Z.json"),
        &assignments,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("iam-az-2025-03-14T12-00-00Z.json"),
        serde_json::to_string(&without_sp).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("iam-az-2025-03-14T18-00-00Z.json"),
        &assignments,
    )
    .unwrap();
    std::fs::copy(
        "tests/fixtures/snapshots/azure_role_definitions.json",
        dir.path().join("iam-az-definitions.json"),
    )
    .unwrap();
    std::fs::copy(
        "tests/fixtures/azure/activity_cli.json",
        dir.path().join("activity.json"),
    )
    .unwrap();
    let r = report(&[dir.path().to_str().unwrap()]);
    let sp = principal(&r, "0d4b6f81-9a2c-4e3b-8c5d-1f7e9a3b5c6d");
    assert_eq!(
        sp["roles_held"],
        json!([]),
        "the 12:00 state, in effect at 16:20"
    );
}

#[test]
fn snapshot_at_dates_an_export_whose_name_does_not() {
    // The AWS history of tests/fixtures/aws_iam, renamed so that nothing dates
    // the dumps but --snapshot-at.
    let dir = tempfile::tempdir().unwrap();
    let morning = dir.path().join("morning.json");
    let noon = dir.path().join("noon.json");
    std::fs::copy(
        "tests/fixtures/aws_iam/iam-2026-11-20T00-00-00Z.json",
        &morning,
    )
    .unwrap();
    std::fs::copy(
        "tests/fixtures/aws_iam/iam-2026-11-20T12-00-00Z.json",
        &noon,
    )
    .unwrap();
    let at = |file: &std::path::Path, time: &str| format!("{}={time}", file.display());
    let r = report(&[
        "tests/fixtures/aws_iam/cloudtrail.jsonl",
        "--iam",
        morning.to_str().unwrap(),
        "--iam",
        noon.to_str().unwrap(),
        "--snapshot-at",
        &at(&morning, "2026-11-20T00:00:00Z"),
        "--snapshot-at",
        &at(&noon, "2026-11-20T12:00:00Z"),
    ]);
    let alice = principal(&r, "arn:aws:iam::111122223333:user/alice");
    assert!(
        alice["findings"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("was granted at 2026-11-20T12:00:00Z"),
        "{alice:#}"
    );
    // A malformed pair says what to write.
    let bad = common::grantgap(&["report", "x.jsonl", "--snapshot-at", "iam.json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("FILE=TIME"));
}

/// The script `--emit` writes, after `sh -n` has read it as valid shell.
fn script(args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let text = run(&all);
    let dir = std::env::temp_dir().join(format!("grantgap-emit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}.sh", args.last().unwrap()));
    std::fs::write(&file, &text).unwrap();
    let check = std::process::Command::new("sh")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "sh -n: {check:?}\n{text}");
    text
}

/// Each line that runs something, without the header.
fn commands(script: &str) -> Vec<&str> {
    script
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "set -eu")
        .collect()
}

#[test]
fn fixes_as_each_cloud_writes_them() {
    // AWS: bob's missing action is granted by an existing policy, attached;
    // the pipeline's is granted by none, so an inline policy on the function
    // it was denied on. Alice's came later and the pipeline's iam:TagUser is
    // denied outright: neither gets a command.
    let aws = script(&["tests/fixtures/aws_iam", "--emit", "aws-cli"]);
    assert_eq!(
        commands(&aws),
        [
            r#"aws iam put-role-policy '--role-name=deploy-pipeline' '--policy-name=grantgap-missing-permissions' '--policy-document={"Statement":[{"Action":["lambda:DeleteFunction"],"Effect":"Allow","Resource":["arn:aws:lambda:us-east-1:111122223333:function:orders-api"]}],"Version":"2012-10-17"}'"#,
            "aws iam attach-user-policy '--user-name=bob' '--policy-arn=arn:aws:iam::111122223333:policy/UserAdmin'",
        ],
        "{aws}"
    );

    // GCP: the existing role that grants the denied permission, bound in the
    // project of the denial; a custom role for what none grants.
    let gcp = script(&[
        "tests/fixtures/gcp/gcloud_read.json",
        "--iam",
        "tests/fixtures/snapshots/gcp_get_iam_policy.json",
        "--iam",
        "tests/fixtures/snapshots/gcp_roles.json",
        "--iam",
        "tests/fixtures/emit/gcp_roles_artifactregistry.json",
        "--emit",
        "gcloud",
    ]);
    let gcp_commands = commands(&gcp);
    assert!(gcp_commands.contains(&"gcloud projects add-iam-policy-binding ledger-prod-4821 '--member=serviceAccount:ci-deployer@ledger-prod-4821.iam.gserviceaccount.com' '--role=roles/artifactregistry.repoAdmin' '--condition=None'"), "{gcp}");
    assert!(
        gcp_commands
            .iter()
            .any(|c| c.starts_with("gcloud iam roles create ")
                && c.contains("'--permissions=cloudsql.instances.connect'")),
        "{gcp}"
    );

    // Azure: the existing definition, by its name, at the one cluster denied.
    let azure = script(&[
        "tests/fixtures/azure/activity_cli.json",
        "--iam",
        "tests/fixtures/snapshots/azure_role_assignments.json",
        "--iam",
        "tests/fixtures/snapshots/azure_role_definitions.json",
        "--iam",
        "tests/fixtures/emit/azure_aks_admin_definition.json",
        "--emit",
        "az",
    ]);
    assert_eq!(
        commands(&azure),
        ["az role assignment create '--assignee-object-id=0d4b6f81-9a2c-4e3b-8c5d-1f7e9a3b5c6d' '--role=Azure Kubernetes Service Cluster Admin Role' '--scope=/subscriptions/9c1d4e7a-2b3f-4a5c-8d6e-0f1a2b3c4d5e/resourceGroups/rg-pay-prod/providers/Microsoft.ContainerService/managedClusters/aks-pay-01'"],
        "{azure}"
    );

    // A guardrail is no grant: only the plain denials get commands.
    let guarded = script(&[
        "tests/fixtures/cloudtrail/guardrails.jsonl",
        "--emit",
        "aws-cli",
    ]);
    for action in ["ec2:RunInstances", "cloudtrail:StopLogging", "s3:GetObject"] {
        assert!(!guarded.contains(action), "{action}:\n{guarded}");
    }
    assert!(guarded.contains("sns:CreateTopic"), "{guarded}");
}

#[test]
fn a_cloud_session_is_judged_by_the_policies_in_force_at_each_request() {
    // Alice's group gets UserAdmin in the noon dump. Her console session
    // began at 08:00, before it. AWS evaluates a session's policies on every
    // request, so: 12:03 is propagation, and 15:00, with the grant in force,
    // is no stale session but something outside the dumps.
    let dir = tempfile::tempdir().unwrap();
    for dump in [
        "iam-2026-11-20T00-00-00Z.json",
        "iam-2026-11-20T12-00-00Z.json",
    ] {
        std::fs::copy(
            format!("tests/fixtures/aws_iam/{dump}"),
            dir.path().join(dump),
        )
        .unwrap();
    }
    let event = |at: &str, name: &str, error: Option<&str>| {
        let mut e = json!({"eventVersion": "1.09", "eventTime": at, "eventSource": "iam.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "eventID": format!("{at}-{name}"),
            "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001",
                "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333",
                "userName": "alice", "sessionContext": {"attributes": {
                    "creationDate": "2026-11-20T08:00:00Z", "mfaAuthenticated": "true"}}}});
        if let Some(code) = error {
            e["errorCode"] = code.into();
            e["errorMessage"] = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser".into();
        }
        e.to_string()
    };
    let trail = [
        event("2026-11-20T09:00:00Z", "TagUser", Some("AccessDenied")),
        event("2026-11-20T12:03:00Z", "CreateUser", Some("AccessDenied")),
        event("2026-11-20T15:00:00Z", "CreateUser", Some("AccessDenied")),
        event("2026-11-20T16:00:00Z", "TagUser", None),
    ];
    std::fs::write(dir.path().join("trail.jsonl"), trail.join("\n")).unwrap();
    let r = report(&[dir.path().to_str().unwrap()]);
    let alice = principal(&r, "arn:aws:iam::111122223333:user/alice");
    let causes: Vec<(&str, &str)> = alice["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cause"].as_str().unwrap(),
                f["first_seen"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        causes.contains(&("propagation_delay", "2026-11-20T12:03:00Z")),
        "{causes:?}"
    );
    assert!(
        !causes.iter().any(|(c, _)| *c == "stale_token"),
        "{causes:?}"
    );
    let later = alice["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["first_seen"] == "2026-11-20T15:00:00Z")
        .unwrap();
    assert_eq!(later["cause"], "unknown", "{later:#}");
    assert!(
        later["note"]
            .as_str()
            .unwrap()
            .contains("permissions boundary, session policy, SCP/RCP"),
        "{later:#}"
    );
    // Her 16:00 success used iam:TagUser; what she holds and never used is
    // listed, not proven (an action may need more than its own name).
    let grants = r["least_privilege"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["principal"] == "arn:aws:iam::111122223333:user/alice")
        .unwrap();
    assert_eq!(grants["used"], json!({"iam:TagUser": 1}), "{grants:#}");
    assert!(grants["unused"]
        .as_array()
        .unwrap()
        .contains(&json!("iam:CreateUser")));
    assert_eq!(grants["complete"], false);
}

#[test]
fn an_asset_inventory_table_is_a_history_dated_by_its_read_times() {
    // A BigQuery export partitioned by read time: two snapshots in one file.
    // The role arrives in the second, after the 09:00 denial and before the
    // 13:00 one, which is then no role gap.
    let dir = tempfile::tempdir().unwrap();
    let row = |read: &str, members: &[&str]| {
        json!({"name": "//cloudresourcemanager.googleapis.com/projects/ledger-prod-4821",
            "asset_type": "cloudresourcemanager.googleapis.com/Project", "readTime": read,
            "iam_policy": {"bindings": [
                {"role": "roles/storage.objectViewer", "members": members},
                {"role": "roles/viewer", "members": ["serviceAccount:etl@ledger-prod-4821.iam.gserviceaccount.com"]}]}})
        .to_string()
    };
    let etl = "serviceAccount:etl@ledger-prod-4821.iam.gserviceaccount.com";
    std::fs::write(
        dir.path().join("assets.jsonl"),
        [
            row("2026-11-20 08:00:00 UTC", &["user:ann@example.com"]),
            row("2026-11-20 12:00:00 UTC", &["user:ann@example.com", etl]),
        ]
        .join("\n"),
    )
    .unwrap();
    let roles = json!([{"name": "roles/storage.objectViewer", "includedPermissions": ["storage.objects.get", "storage.objects.list"]},
        {"name": "roles/viewer", "includedPermissions": ["resourcemanager.projects.get"]}]);
    std::fs::write(dir.path().join("roles.json"), roles.to_string()).unwrap();
    let denial = |at: &str| {
        json!({"insertId": at, "timestamp": at, "resource": {"type": "gcs_bucket", "labels": {"project_id": "ledger-prod-4821"}},
            "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "authenticationInfo": {"principalEmail": "etl@ledger-prod-4821.iam.gserviceaccount.com"},
                "serviceName": "storage.googleapis.com", "methodName": "storage.objects.get",
                "resourceName": "projects/_/buckets/ledger-exports/objects/q1.csv",
                "status": {"code": 7, "message": "PERMISSION_DENIED"},
                "authorizationInfo": [{"permission": "storage.objects.get", "granted": false}]}})
        .to_string()
    };
    let log = dir.path().join("audit.jsonl");
    std::fs::write(
        &log,
        [
            denial("2026-11-20T09:00:00Z"),
            denial("2026-11-20T13:00:00Z"),
        ]
        .join("\n"),
    )
    .unwrap();
    let r = report(&[
        log.to_str().unwrap(),
        "--iam",
        dir.path().join("assets.jsonl").to_str().unwrap(),
        "--iam",
        dir.path().join("roles.json").to_str().unwrap(),
    ]);
    let sa = principal(&r, "etl@ledger-prod-4821.iam.gserviceaccount.com");
    let causes: Vec<(&str, &str)> = sa["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["first_seen"].as_str().unwrap(),
                f["cause"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        causes.contains(&("2026-11-20T09:00:00Z", "missing_permission")),
        "{causes:?}"
    );
    assert!(
        causes
            .iter()
            .any(|(at, c)| *at == "2026-11-20T13:00:00Z" && *c != "missing_permission"),
        "judged by the 12:00 snapshot, which grants it: {causes:?}"
    );
}

#[test]
fn a_policy_detached_between_two_dumps_explains_the_spike() {
    let dir = tempfile::tempdir().unwrap();
    let acct = "111122223333";
    let dump = |attached: &[&str]| {
        let policies: Vec<Value> = [("S3Read", "s3:GetObject"), ("SqsSend", "sqs:SendMessage")]
            .iter()
            .map(|(name, action)| json!({"PolicyName": name, "Arn": format!("arn:aws:iam::{acct}:policy/{name}"),
                "DefaultVersionId": "v1", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                "Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}}]}))
            .collect();
        let attached: Vec<Value> = attached
            .iter()
            .map(|p| json!({"PolicyName": p, "PolicyArn": format!("arn:aws:iam::{acct}:policy/{p}")}))
            .collect();
        json!({"UserDetailList": [], "GroupDetailList": [], "Policies": policies, "RoleDetailList": [
            {"Path": "/", "RoleName": "etl", "Arn": format!("arn:aws:iam::{acct}:role/etl"), "RolePolicyList": [],
             "AttachedManagedPolicies": attached}]})
        .to_string()
    };
    std::fs::write(
        dir.path().join("iam-2026-11-20T00-00-00Z.json"),
        dump(&["S3Read", "SqsSend"]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("iam-2026-11-20T12-00-00Z.json"),
        dump(&["S3Read"]),
    )
    .unwrap();
    // Three sends a minute all day; from noon they are refused.
    let mut trail = String::new();
    for minute in 0..24 * 60 {
        for n in 0..3 {
            let at = format!(
                "2026-11-20T{:02}:{:02}:{:02}Z",
                minute / 60,
                minute % 60,
                n * 10
            );
            let mut e = json!({"eventTime": at, "eventSource": "sqs.amazonaws.com", "eventName": "SendMessage",
                "awsRegion": "us-east-1", "recipientAccountId": acct, "eventID": format!("{minute}-{n}"),
                "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{acct}:assumed-role/etl/run"),
                    "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{acct}:role/etl")}}}});
            if minute >= 12 * 60 {
                e["errorCode"] = "AccessDenied".into();
                e["errorMessage"] = format!("User: arn:aws:sts::{acct}:assumed-role/etl/run is not authorized to perform: sqs:SendMessage because no identity-based policy allows the sqs:SendMessage action").into();
            }
            trail.push_str(&e.to_string());
            trail.push('\n');
        }
        // Now and then another role is refused all day: the baseline.
        if minute % 37 == 0 {
            let at = format!("2026-11-20T{:02}:{:02}:30Z", minute / 60, minute % 60);
            let e = json!({"eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                "awsRegion": "us-east-1", "recipientAccountId": acct, "eventID": format!("web-{minute}"),
                "errorCode": "AccessDenied", "errorMessage": "Access Denied",
                "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{acct}:assumed-role/web/run")}});
            trail.push_str(&e.to_string());
            trail.push('\n');
        }
    }
    std::fs::write(dir.path().join("trail.jsonl"), trail).unwrap();
    let spikes: Value = serde_json::from_str(&run(&[
        "spikes",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ]))
    .unwrap();
    let spike = &spikes["spikes"][0];
    assert_eq!(spike["start"], "2026-11-20T12:00:00Z", "{spikes:#}");
    assert_eq!(spike["changes"][0]["kind"], "binding_removed", "{spike:#}");
    assert_eq!(
        spike["changes"][0]["role"],
        format!("arn:aws:iam::{acct}:policy/SqsSend")
    );
}
