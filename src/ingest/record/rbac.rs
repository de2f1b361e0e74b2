//! Kubernetes RBAC dumps (`kubectl get roles,rolebindings,clusterroles,
//! clusterrolebindings -A -o json`, or any list of those objects) read as role
//! definitions and role bindings.
//!
//! A Role is named `Role/NAMESPACE/NAME`, a ClusterRole `ClusterRole/NAME`; each
//! rule grants `group/resource:verb` for every combination it lists (`core` for
//! the core group, `*` kept as a wildcard), or `nonresource:URL:verb`. An
//! aggregated ClusterRole inherits every ClusterRole its selectors match. A
//! RoleBinding binds in its namespace (the binding's data scope); a
//! ClusterRoleBinding everywhere. Service accounts are named as the API server
//! names them, `system:serviceaccount:NS:NAME`; groups `group:NAME`. A dump is the state at one
//! instant that it does not record: `--snapshot-at` or its file name dates it
//! (`tables::snapshot_instant`), else its bindings hold from the beginning of
//! the logs.

use serde_json::Value;

use crate::ingest::record::fields::{self, strings, Skip};
use crate::model::{RoleBinding, RoleDef};

/// What one object of an IAM state export contributes.
pub enum RbacObject {
    Role(RoleDef, Aggregation),
    Bindings(Vec<RoleBinding>),
    /// The roles and bindings of a cloud's export, and which platform's
    /// history they belong to.
    Cloud(Platform, Vec<RoleDef>, Vec<RoleBinding>),
}

/// The platform an export describes: each has its own history of dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Platform {
    Kubernetes,
    Aws,
    /// AWS Config items: each dated by its own capture time, a history already.
    AwsConfig,
    Gcp,
    Azure,
}

/// The label selectors of an aggregated ClusterRole, and its own labels.
#[derive(Debug, Default, Clone)]
pub struct Aggregation {
    pub labels: serde_json::Map<String, Value>,
    pub selectors: Vec<serde_json::Map<String, Value>>,
}

fn role_name(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match (kind, namespace) {
        ("Role", Some(ns)) => format!("Role/{ns}/{name}"),
        _ => format!("ClusterRole/{name}"),
    }
}

/// The permissions one policy rule grants.
fn rule_permissions(rule: &Value) -> Vec<String> {
    let verbs = strings(rule.get("verbs"));
    let mut out = Vec::new();
    for url in strings(rule.get("nonResourceURLs")) {
        out.extend(verbs.iter().map(|v| format!("nonresource:{url}:{v}")));
    }
    // The core group is the empty string, which `strings` would drop as blank.
    let groups: Vec<String> = rule
        .get("apiGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    for group in &groups {
        let group = if group.is_empty() {
            "core"
        } else {
            group.as_str()
        };
        for resource in strings(rule.get("resources")) {
            out.extend(verbs.iter().map(|v| format!("{group}/{resource}:{v}")));
        }
    }
    out
}

/// Reads one RBAC object, or an AWS authorization-details document; anything
/// else is skipped with a reason.
pub fn object_from_record(record: &Value) -> Result<RbacObject, Skip> {
    if super::aws_iam::is_config_items(record) {
        let (roles, bindings) = super::aws_iam::read_config(record)?;
        return Ok(RbacObject::Cloud(Platform::AwsConfig, roles, bindings));
    }
    if super::aws_iam::is_authorization_details(record) {
        let (roles, bindings) = super::aws_iam::read(record)?;
        return Ok(RbacObject::Cloud(Platform::Aws, roles, bindings));
    }
    match super::cloud_iam::read(record)? {
        Some(super::cloud_iam::CloudIam::Gcp(roles, bindings)) => {
            return Ok(RbacObject::Cloud(Platform::Gcp, roles, bindings))
        }
        Some(super::cloud_iam::CloudIam::Azure(roles, bindings)) => {
            return Ok(RbacObject::Cloud(Platform::Azure, roles, bindings))
        }
        None => {}
    }
    let kind = record
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = record
        .pointer("/metadata/name")
        .and_then(fields::text)
        .ok_or_else(|| Skip::new("missing field", "an RBAC object without metadata.name"))?;
    let namespace = record.pointer("/metadata/namespace").and_then(fields::text);
    match kind {
        "Role" | "ClusterRole" => {
            let mut permissions: Vec<String> = record
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(rule_permissions)
                .collect();
            permissions.sort();
            permissions.dedup();
            let aggregation = Aggregation {
                labels: record
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                selectors: record
                    .pointer("/aggregationRule/clusterRoleSelectors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("matchLabels").and_then(Value::as_object).cloned())
                    .collect(),
            };
            let role = RoleDef::api(
                role_name(kind, namespace.as_deref(), &name),
                permissions,
                Vec::new(),
            );
            Ok(RbacObject::Role(role, aggregation))
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let role_kind = record
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or("ClusterRole");
            let role_ref = record
                .pointer("/roleRef/name")
                .and_then(fields::text)
                .ok_or_else(|| Skip::new("missing field", "a binding without roleRef.name"))?;
            let role = role_name(role_kind, namespace.as_deref(), &role_ref);
            let scope = (kind == "RoleBinding").then(|| namespace.clone().into_iter().collect());
            let bindings = record
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|subject| {
                    let subject_name = subject.get("name").and_then(fields::text)?;
                    let principal = match subject.get("kind").and_then(Value::as_str) {
                        Some("ServiceAccount") => {
                            let ns = subject
                                .get("namespace")
                                .and_then(fields::text)
                                .or_else(|| namespace.clone())?;
                            format!("system:serviceaccount:{ns}:{subject_name}")
                        }
                        // Membership is not in the dump: a group stays a principal of its own.
                        Some("Group") => format!("group:{subject_name}"),
                        _ => subject_name,
                    };
                    Some(RoleBinding::undated(principal, role.clone(), scope.clone()))
                })
                .collect();
            Ok(RbacObject::Bindings(bindings))
        }
        other => Err(Skip::new(
            "not an RBAC object",
            format!("kind {other:?} is not Role, ClusterRole or a binding"),
        )),
    }
}

/// Follows aggregation: each aggregated ClusterRole inherits the ClusterRoles
/// whose labels match one of its selectors.
pub fn aggregate(roles: &mut [(RoleDef, Aggregation)]) {
    let labelled: Vec<(String, serde_json::Map<String, Value>)> = roles
        .iter()
        .map(|(r, a)| (r.role.clone(), a.labels.clone()))
        .collect();
    for (role, aggregation) in roles.iter_mut() {
        for selector in &aggregation.selectors {
            for (other, labels) in &labelled {
                if other != &role.role && selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                    role.inherits.push(other.clone());
                }
            }
        }
        role.inherits.sort();
        role.inherits.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_rules_become_permissions() {
        let role = json!({"kind": "Role", "metadata": {"name": "reader", "namespace": "prod"},
            "rules": [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments/scale"], "verbs": ["get", "list"]},
                      {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
        let RbacObject::Role(def, _) = object_from_record(&role).unwrap() else {
            panic!("a role")
        };
        assert_eq!(def.role, "Role/prod/reader");
        assert!(def.permissions.contains(&"core/pods:list".to_string()));
        assert!(def
            .permissions
            .contains(&"apps/deployments/scale:get".to_string()));
        assert!(def
            .permissions
            .contains(&"nonresource:/healthz:get".to_string()));
    }

    #[test]
    fn bindings_name_service_accounts_and_scope_to_the_namespace() {
        let binding = json!({"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "prod"},
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}, {"kind": "User", "name": "alice"}]});
        let RbacObject::Bindings(b) = object_from_record(&binding).unwrap() else {
            panic!("bindings")
        };
        assert_eq!(b[0].principal, "system:serviceaccount:ci:deployer");
        assert_eq!(
            (b[0].role.as_str(), b[0].data_scope.clone()),
            ("Role/prod/reader", Some(vec!["prod".to_string()]))
        );
        assert_eq!(b[1].principal, "alice");
        let cluster = json!({"kind": "ClusterRoleBinding", "metadata": {"name": "c"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "bob"}]});
        let RbacObject::Bindings(c) = object_from_record(&cluster).unwrap() else {
            panic!("bindings")
        };
        assert_eq!(
            (c[0].role.as_str(), c[0].data_scope.clone()),
            ("ClusterRole/view", None)
        );
    }

    #[test]
    fn aggregated_cluster_roles_inherit_matching_roles() {
        let view = json!({"kind": "ClusterRole", "metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]}, "rules": []});
        let extra = json!({"kind": "ClusterRole", "metadata": {"name": "crd-viewer", "labels": {"rbac.example.com/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]});
        let mut roles: Vec<(RoleDef, Aggregation)> = [view, extra]
            .iter()
            .map(|r| match object_from_record(r).unwrap() {
                RbacObject::Role(d, a) => (d, a),
                _ => panic!("roles"),
            })
            .collect();
        aggregate(&mut roles);
        assert_eq!(roles[0].0.inherits, vec!["ClusterRole/crd-viewer"]);
    }
}
