//! AWS IAM state as `aws iam get-account-authorization-details` exports it,
//! read as role definitions and bindings.
//!
//! Every managed policy (its default version) and every inline policy becomes
//! a role named by its ARN (`arn:aws:iam::aws:policy/ReadOnlyAccess`; an inline
//! one `USER-OR-ROLE-ARN#inline/NAME`) granting the actions of its Allow
//! statements. Users, roles and groups are bound to the policies attached to
//! them; a user also holds its groups' policies. A role is bound under its ARN
//! and, where it has a path, under the ARN without it, which is how CloudTrail
//! names a session whose issuer it does not log.
//!
//! Limits, on purpose: only statements that apply to every resource (`*`, or
//! no `Resource`) grant: a policy that allows an action on one queue does not
//! grant it on another, and reading it as granting would turn a real gap into
//! a transient one. `NotAction` statements grant nothing. A Deny statement on
//! every resource is kept as the policy's explicit deny, so a denial it
//! explains names the policy even when the message is a bare "Access Denied";
//! one scoped to some resources is not claimed. Unattached
//! managed policies are defined but held by nobody: they are the candidates a
//! fix can name.

use serde_json::Value;

use crate::ingest::record::fields::{self, Skip};
use crate::model::{Millis, RoleBinding, RoleDef, INLINE_POLICY_MARK};

/// Whether a record is an authorization-details document.
pub fn is_authorization_details(record: &Value) -> bool {
    ["UserDetailList", "RoleDetailList", "GroupDetailList"]
        .iter()
        .any(|k| record.get(*k).is_some_and(Value::is_array))
        || record
            .get("Policies")
            .and_then(Value::as_array)
            .is_some_and(|p| p.iter().any(|p| p.get("PolicyVersionList").is_some()))
}

/// A field as the IAM API spells it (`PolicyArn`) or as AWS Config does
/// (`policyArn`).
fn get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.get(key).or_else(|| {
        let mut camel = key.to_string();
        camel[..1].make_ascii_lowercase();
        value.get(camel.as_str())
    })
}

fn list<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    get(value, key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn text(value: &Value, key: &str) -> Option<String> {
    get(value, key).and_then(fields::text)
}

/// A policy document, as the CLI and boto3 write it (an object), as some
/// collectors keep it (JSON text) or as the API returns it (URL-encoded JSON
/// text).
fn document(value: &Value) -> Option<Value> {
    let parsed = |text: &str| {
        serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object)
    };
    match value {
        Value::Object(_) => Some(value.clone()),
        Value::String(text) => parsed(text).or_else(|| parsed(&percent_decode(text))),
        _ => None,
    }
}

/// `%7B%22Version%22…` → `{"Version"…` (`+` is a space, as form encoding writes it).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A string or a list of strings.
fn one_or_many(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(fields::text).collect(),
        Some(v) => fields::text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The actions a policy document allows on every resource.
fn allowed_actions(document: &Value) -> Vec<String> {
    actions_on_every_resource(document, "Allow")
}

/// The actions a policy document denies on every resource (a Deny scoped to
/// some resources is not claimed: whether it applies to a request is unknown).
fn denied_actions(document: &Value) -> Vec<String> {
    actions_on_every_resource(document, "Deny")
}

/// The actions of a document's `effect` statements that apply to every resource.
fn actions_on_every_resource(document: &Value, effect: &str) -> Vec<String> {
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut actions: Vec<String> = statements
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some(effect))
        // A conditional Deny may not apply to the request: never claimed.
        .filter(|s| effect != "Deny" || s.get("Condition").is_none())
        .filter(|s| {
            s.get("NotResource").is_none()
                && s.get("Resource")
                    .is_none_or(|r| one_or_many(Some(r)).iter().any(|r| r == "*"))
        })
        .flat_map(|s| one_or_many(s.get("Action")))
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

/// The default version's document of a managed policy.
fn default_document(policy: &Value) -> Option<Value> {
    let default = text(policy, "DefaultVersionId");
    list(policy, "PolicyVersionList")
        .find(|v| {
            get(v, "IsDefaultVersion").and_then(Value::as_bool) == Some(true)
                || (default.is_some() && text(v, "VersionId") == default)
        })
        .and_then(|v| get(v, "Document"))
        .and_then(document)
}

/// The ARN of a role without its path (`role/ci/deploy` → `role/deploy`), if it has one.
fn without_path(arn: &str) -> Option<String> {
    let (head, rest) = arn.split_once(":role/")?;
    let name = rest.rsplit('/').next()?;
    (name != rest).then(|| format!("{head}:role/{name}"))
}

/// A policy as a role: its Allow statements grant, its Deny statements deny.
fn policy_role(name: String, document: Option<Value>, defined_at: Option<Millis>) -> RoleDef {
    let mut def = RoleDef::api(
        name,
        document.as_ref().map(allowed_actions).unwrap_or_default(),
        Vec::new(),
    );
    def.denies = document.as_ref().map(denied_actions).unwrap_or_default();
    def.defined_at = defined_at;
    def
}

/// A principal's own policies: attached managed ones, and inline ones (each
/// defined into `roles`, as of `at` when known).
fn own_policies(
    holder: &Value,
    inline_key: &str,
    at: Option<Millis>,
    roles: &mut Vec<RoleDef>,
) -> Vec<String> {
    let arn = text(holder, "Arn").unwrap_or_default();
    let mut held: Vec<String> = list(holder, "AttachedManagedPolicies")
        .filter_map(|p| text(p, "PolicyArn"))
        .collect();
    for inline in list(holder, inline_key) {
        let name = text(inline, "PolicyName").unwrap_or_default();
        let role_name = format!("{arn}{INLINE_POLICY_MARK}{name}");
        let document = get(inline, "PolicyDocument").and_then(document);
        roles.push(policy_role(role_name.clone(), document, at));
        held.push(role_name);
    }
    held
}

/// The roles and bindings of one authorization-details document.
pub fn read(record: &Value) -> Result<(Vec<RoleDef>, Vec<RoleBinding>), Skip> {
    let mut roles = Vec::new();
    let mut bindings = Vec::new();
    for policy in list(record, "Policies") {
        let Some(arn) = text(policy, "Arn") else {
            continue;
        };
        roles.push(policy_role(arn, default_document(policy), None));
    }
    let mut groups = std::collections::HashMap::new();
    for group in list(record, "GroupDetailList") {
        let held = own_policies(group, "GroupPolicyList", None, &mut roles);
        if let Some(name) = text(group, "GroupName") {
            groups.insert(name, held);
        }
    }
    let mut bind = |principal: String, held: Vec<String>| {
        if held.is_empty() {
            // Holds nothing: still a principal of the snapshot.
            bindings.push(RoleBinding::undated(principal.clone(), String::new(), None));
        }
        for policy in held {
            bindings.push(RoleBinding::undated(principal.clone(), policy, None));
        }
    };
    for user in list(record, "UserDetailList") {
        let mut held = own_policies(user, "UserPolicyList", None, &mut roles);
        for group in one_or_many(user.get("GroupList")) {
            held.extend(groups.get(&group).into_iter().flatten().cloned());
        }
        if let Some(arn) = text(user, "Arn") {
            bind(arn, held);
        }
    }
    for r in list(record, "RoleDetailList") {
        let held = own_policies(r, "RolePolicyList", None, &mut roles);
        if let Some(arn) = text(r, "Arn") {
            if let Some(short) = without_path(&arn) {
                bind(short, held.clone());
            }
            bind(arn, held);
        }
    }
    if roles.is_empty() && bindings.is_empty() {
        return Err(Skip::new(
            "missing field",
            "an authorization-details document without users, roles, groups or policies",
        ));
    }
    Ok((roles, bindings))
}

/// Whether a record holds AWS Config configuration items: a history or
/// snapshot file delivered to S3, `get-resource-config-history` output, or a
/// change notification.
pub fn is_config_items(record: &Value) -> bool {
    record
        .get("configurationItems")
        .is_some_and(Value::is_array)
        || record
            .get("configurationItem")
            .is_some_and(Value::is_object)
}

/// The roles and bindings of AWS Config items for `AWS::IAM::*` resources.
///
/// Each item is the state of one resource at its capture time: a role's or
/// user's bindings are its snapshot then, a policy's or group's definition is
/// in force from then (a group is a role inheriting its policies, which users
/// hold by name). A deleted principal holds nothing from its deletion. Other
/// resource types are left out; a document AWS-managed policies are not
/// recorded in (Config does not record them) leaves them undefined.
pub fn read_config(record: &Value) -> Result<(Vec<RoleDef>, Vec<RoleBinding>), Skip> {
    let items: Vec<&Value> = match record.get("configurationItem") {
        Some(one) => vec![one],
        None => list(record, "configurationItems").collect(),
    };
    let mut roles = Vec::new();
    let mut bindings = Vec::new();
    for item in items {
        let Some(kind) = text(item, "resourceType").filter(|t| t.starts_with("AWS::IAM::")) else {
            continue;
        };
        let at = get(item, "configurationItemCaptureTime")
            .ok_or_else(|| {
                Skip::new(
                    "missing field",
                    "a configuration item without configurationItemCaptureTime",
                )
            })
            .and_then(fields::timestamp)?;
        // The API returns the configuration as JSON text; S3 files as an object.
        let configuration = match item.get("configuration") {
            Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
        let arn = text(item, "ARN").or_else(|| configuration.as_ref().and_then(|c| text(c, "Arn")));
        let deleted = text(item, "configurationItemStatus").is_some_and(|s| s.contains("Deleted"));
        let Some(arn) = arn else { continue };
        let account = arn.split(':').nth(4).unwrap_or_default().to_string();
        let group_role = |name: &str| format!("arn:aws:iam::{account}:group/{name}");
        let bind = |principal: &str, held: &[String], bindings: &mut Vec<RoleBinding>| {
            let at_snapshot = |role: String| RoleBinding {
                snapshot_at: at,
                principal: principal.to_string(),
                role,
                data_scope: None,
            };
            if held.is_empty() {
                bindings.push(at_snapshot(String::new()));
            }
            bindings.extend(held.iter().cloned().map(at_snapshot));
        };
        let config = match (&configuration, deleted) {
            (Some(c), false) => c,
            // Deleted (or not recorded): the principal holds nothing from now.
            _ => {
                if matches!(kind.as_str(), "AWS::IAM::Role" | "AWS::IAM::User") {
                    bind(&arn, &[], &mut bindings);
                }
                continue;
            }
        };
        match kind.as_str() {
            "AWS::IAM::Policy" => roles.push(policy_role(arn, default_document(config), Some(at))),
            "AWS::IAM::Group" => {
                let held = own_policies(config, "GroupPolicyList", Some(at), &mut roles);
                let name = text(config, "GroupName").unwrap_or_default();
                let mut def = RoleDef::api(group_role(&name), Vec::new(), held);
                def.defined_at = Some(at);
                roles.push(def);
            }
            "AWS::IAM::User" => {
                let mut held = own_policies(config, "UserPolicyList", Some(at), &mut roles);
                held.extend(
                    one_or_many(get(config, "GroupList"))
                        .iter()
                        .map(|g| group_role(g)),
                );
                bind(&arn, &held, &mut bindings);
            }
            "AWS::IAM::Role" => {
                let held = own_policies(config, "RolePolicyList", Some(at), &mut roles);
                if let Some(short) = without_path(&arn) {
                    bind(&short, &held, &mut bindings);
                }
                bind(&arn, &held, &mut bindings);
            }
            _ => {}
        }
    }
    Ok((roles, bindings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn details() -> Value {
        json!({
            "UserDetailList": [{"UserName": "alice", "Arn": "arn:aws:iam::1:user/alice", "GroupList": ["dev"],
                "AttachedManagedPolicies": [], "UserPolicyList": []}],
            "GroupDetailList": [{"GroupName": "dev", "Arn": "arn:aws:iam::1:group/dev",
                "AttachedManagedPolicies": [{"PolicyName": "Describe", "PolicyArn": "arn:aws:iam::1:policy/Describe"}],
                "GroupPolicyList": []}],
            "RoleDetailList": [{"RoleName": "deploy", "Arn": "arn:aws:iam::1:role/ci/deploy",
                "AttachedManagedPolicies": [],
                "RolePolicyList": [{"PolicyName": "queue", "PolicyDocument":
                    "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sqs%3ASendMessage%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"}]}],
            "Policies": [
                {"PolicyName": "Describe", "Arn": "arn:aws:iam::1:policy/Describe", "DefaultVersionId": "v2",
                 "PolicyVersionList": [
                    {"VersionId": "v2", "IsDefaultVersion": true, "Document": {"Statement": [
                        {"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::one/*"},
                        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}},
                    {"VersionId": "v1", "IsDefaultVersion": false, "Document": {"Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
                {"PolicyName": "Unused", "Arn": "arn:aws:iam::1:policy/Unused", "DefaultVersionId": "v1",
                 "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                    "Document": {"Statement": {"Effect": "Allow", "Action": "iam:CreateUser"}}}]}]
        })
    }

    #[test]
    fn policies_become_roles_and_principals_hold_them() {
        let record = details();
        assert!(is_authorization_details(&record));
        let (roles, bindings) = read(&record).unwrap();
        let grants = |name: &str| {
            roles
                .iter()
                .find(|r| r.role == name)
                .unwrap_or_else(|| panic!("{name}"))
                .permissions
                .clone()
        };
        assert_eq!(
            grants("arn:aws:iam::1:policy/Describe"),
            ["ec2:Describe*"],
            "the default version, Allow on * only"
        );
        assert_eq!(grants("arn:aws:iam::1:policy/Unused"), ["iam:CreateUser"]);
        let describe = roles
            .iter()
            .find(|r| r.role == "arn:aws:iam::1:policy/Describe")
            .unwrap();
        assert_eq!(
            describe.denies,
            ["iam:*"],
            "its Deny statement on every resource"
        );
        assert_eq!(
            grants("arn:aws:iam::1:role/ci/deploy#inline/queue"),
            ["sqs:SendMessage"],
            "a URL-encoded document"
        );
        let held = |principal: &str| -> Vec<&str> {
            bindings
                .iter()
                .filter(|b| b.principal == principal)
                .map(|b| b.role.as_str())
                .collect()
        };
        assert_eq!(
            held("arn:aws:iam::1:user/alice"),
            ["arn:aws:iam::1:policy/Describe"],
            "through the group"
        );
        assert_eq!(
            held("arn:aws:iam::1:role/ci/deploy"),
            ["arn:aws:iam::1:role/ci/deploy#inline/queue"]
        );
        assert_eq!(
            held("arn:aws:iam::1:role/deploy"),
            held("arn:aws:iam::1:role/ci/deploy"),
            "the pathless ARN"
        );
        assert!(bindings
            .iter()
            .all(|b| b.role != "arn:aws:iam::1:policy/Unused"));
    }

    #[test]
    fn config_items_are_a_history_per_resource() {
        let doc = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sqs%3ASendMessage%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let record = json!({"fileVersion": "1.0", "configurationItems": [
            {"configurationItemCaptureTime": "2026-11-20T08:00:00.000Z", "configurationItemStatus": "OK",
             "resourceType": "AWS::IAM::Role", "ARN": "arn:aws:iam::1:role/etl",
             "configuration": {"roleName": "etl", "arn": "arn:aws:iam::1:role/etl",
                "rolePolicyList": [{"policyName": "q", "policyDocument": doc}],
                "attachedManagedPolicies": [{"policyName": "P", "policyArn": "arn:aws:iam::1:policy/P"}]}},
            {"configurationItemCaptureTime": "2026-11-20T09:00:00.000Z", "configurationItemStatus": "OK",
             "resourceType": "AWS::IAM::Policy", "ARN": "arn:aws:iam::1:policy/P",
             "configuration": "{\"arn\": \"arn:aws:iam::1:policy/P\", \"defaultVersionId\": \"v1\", \"policyVersionList\": [{\"versionId\": \"v1\", \"isDefaultVersion\": true, \"document\": \"%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%7D%7D\"}]}"},
            {"configurationItemCaptureTime": "2026-11-20T10:00:00.000Z", "configurationItemStatus": "ResourceDeleted",
             "resourceType": "AWS::IAM::Role", "ARN": "arn:aws:iam::1:role/etl", "configuration": null},
            {"configurationItemCaptureTime": "2026-11-20T10:00:00.000Z", "resourceType": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}]});
        assert!(is_config_items(&record));
        let (roles, bindings) = read_config(&record).unwrap();
        let policy = roles
            .iter()
            .find(|r| r.role == "arn:aws:iam::1:policy/P")
            .unwrap();
        assert_eq!(
            (policy.permissions.as_slice(), policy.defined_at),
            (&["s3:GetObject".to_string()][..], Some(1_795_165_200_000))
        );
        let inline = roles
            .iter()
            .find(|r| r.role == "arn:aws:iam::1:role/etl#inline/q")
            .unwrap();
        assert_eq!(inline.permissions, ["sqs:SendMessage"]);
        let held: Vec<(i64, &str)> = bindings
            .iter()
            .map(|b| (b.snapshot_at, b.role.as_str()))
            .collect();
        assert_eq!(
            held,
            [
                (1_795_161_600_000, "arn:aws:iam::1:policy/P"),
                (1_795_161_600_000, "arn:aws:iam::1:role/etl#inline/q"),
                (1_795_168_800_000, ""),
            ]
        );
    }

    #[test]
    fn other_documents_are_not_authorization_details() {
        assert!(!is_authorization_details(
            &json!({"kind": "RoleList", "items": []})
        ));
        assert!(!is_authorization_details(
            &json!({"Policies": [{"name": "x"}]})
        ));
    }
}
