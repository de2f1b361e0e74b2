//! GCP and Azure IAM state as their CLIs export it, read as role definitions
//! and bindings (AWS, whose export is one document, is `aws_iam.rs`).
//!
//! GCP: `gcloud projects|folders|organizations get-iam-policy --format=json`
//! (`bindings[]` of `role` and `members`), Cloud Asset Inventory IAM exports
//! (`iam_policy` per line) and `search-all-iam-policies` results, and role definitions from `gcloud
//! iam roles describe --format=json` (one role, or a list of them, with
//! `includedPermissions`). A member `serviceAccount:E` or `user:E` is the
//! principal `E`, as audit logs name the caller; `group:G` stays `group:G`. A
//! conditional binding holds the role only under its condition, which grantgap
//! cannot evaluate: it is held as `ROLE if TITLE`, a role with no definition,
//! so a diagnosis resting on it says its permissions are unknown.
//!
//! Azure: `az role assignment list --all` and `az role definition list`.
//! An assignment binds the user's UPN (`principalName` with an `@`), else the
//! object id, as the Activity Log names callers, to the role's name; its scope
//! is the data scope (the resource group, lower-cased as events write it;
//! subscription and management-group scopes are everywhere). A definition
//! grants its `actions` and `dataActions`; `notActions` subtract from
//! wildcards, which the role model cannot express, so a wildcard overlapping a
//! `notAction` is left out (the role then grants less than it does, never
//! more).

use serde_json::Value;

use crate::ingest::record::fields::{self, strings, Skip};
use crate::model::{RoleBinding, RoleDef};

/// What one record of a GCP or Azure IAM export holds, if it is one.
pub enum CloudIam {
    Gcp(Vec<RoleDef>, Vec<RoleBinding>),
    Azure(Vec<RoleDef>, Vec<RoleBinding>),
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(fields::text)
}

/// Reads a record of a GCP or Azure IAM export.
pub fn read(record: &Value) -> Result<Option<CloudIam>, Skip> {
    // A policy itself, a Cloud Asset Inventory export line (`iam_policy`), or
    // a `search-all-iam-policies` result (`policy`).
    let policy = ["iam_policy", "policy"]
        .iter()
        .find_map(|k| record.get(*k).filter(|p| p.get("bindings").is_some()))
        .unwrap_or(record);
    if let Some(bindings) = policy.get("bindings").and_then(Value::as_array) {
        if bindings.iter().all(|b| b.get("role").is_some()) {
            let mut bindings = gcp_bindings(bindings);
            // A Cloud Asset Inventory export to BigQuery dates each row with the
            // snapshot's read time: the data's own instant, as Config's is.
            if let Some(at) = ["readTime", "read_time"]
                .iter()
                .find_map(|k| record.get(*k))
            {
                let at = match at {
                    // BigQuery writes TIMESTAMP as `2026-11-20 08:00:00 UTC`.
                    Value::String(text) => match text.strip_suffix(" UTC") {
                        Some(utc) => fields::timestamp_text(&format!("{utc}Z"))?,
                        None => fields::timestamp_text(text)?,
                    },
                    other => fields::timestamp(other)?,
                };
                for b in &mut bindings {
                    b.snapshot_at = at;
                }
            }
            return Ok(Some(CloudIam::Gcp(Vec::new(), bindings)));
        }
    }
    let gcp_role =
        text(record, "name").filter(|n| n.starts_with("roles/") || n.contains("/roles/"));
    if let Some(name) = gcp_role {
        if record.get("includedPermissions").is_none() {
            return Err(Skip::new(
                "missing field",
                format!("the role {name} lists no includedPermissions (`gcloud iam roles list` leaves them out): export each role with `gcloud iam roles describe ROLE --format=json`"),
            ));
        }
        let def = RoleDef::api(name, strings(record.get("includedPermissions")), Vec::new());
        return Ok(Some(CloudIam::Gcp(vec![def], Vec::new())));
    }
    if record.get("roleDefinitionId").is_some() && record.get("principalId").is_some() {
        return Ok(Some(CloudIam::Azure(
            Vec::new(),
            azure_assignment(record).into_iter().collect(),
        )));
    }
    if record.get("roleName").is_some() && record.get("permissions").is_some() {
        return Ok(Some(CloudIam::Azure(azure_definition(record), Vec::new())));
    }
    Ok(None)
}

fn gcp_bindings(bindings: &[Value]) -> Vec<RoleBinding> {
    let mut out = Vec::new();
    for b in bindings {
        let Some(role) = text(b, "role") else {
            continue;
        };
        let role = match b
            .get("condition")
            .and_then(|c| text(c, "title").or_else(|| text(c, "expression")))
        {
            Some(condition) => format!("{role} if {condition}"),
            None => role,
        };
        for member in strings(b.get("members")) {
            let principal = match member.split_once(':') {
                Some(("serviceAccount" | "user", email)) => email.to_string(),
                Some(("deleted", _)) => continue,
                _ => member.clone(),
            };
            out.push(RoleBinding::undated(principal, role.clone(), None));
        }
    }
    out
}

/// The last segment of an id (`…/roleDefinitions/GUID` → `GUID`).
fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The data scope of an assignment scope: its resource group, lower-cased;
/// `None` (everywhere) for a subscription or management group.
fn azure_scope(scope: &str) -> Option<Vec<String>> {
    let lower = scope.to_ascii_lowercase();
    let parts: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["subscriptions", sub, "resourcegroups", group, ..] => {
            Some(vec![format!("/subscriptions/{sub}/resourcegroups/{group}")])
        }
        _ => None,
    }
}

fn azure_assignment(record: &Value) -> Option<RoleBinding> {
    let principal = text(record, "principalName")
        .filter(|n| n.contains('@'))
        .or_else(|| text(record, "principalId"))?;
    let role_id = text(record, "roleDefinitionId")?;
    let role =
        text(record, "roleDefinitionName").unwrap_or_else(|| last_segment(&role_id).to_string());
    let scope = text(record, "scope").unwrap_or_default();
    Some(RoleBinding::undated(principal, role, azure_scope(&scope)))
}

/// Patterns of `allowed` that no pattern of `excluded` can overlap.
fn without_excluded(allowed: Vec<String>, excluded: &[String]) -> Vec<String> {
    allowed
        .into_iter()
        .filter(|a| !a.contains('*') || excluded.is_empty())
        .collect()
}

fn azure_definition(record: &Value) -> Vec<RoleDef> {
    let Some(name) = text(record, "roleName") else {
        return Vec::new();
    };
    let mut permissions = Vec::new();
    for p in record
        .get("permissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let not_actions = strings(p.get("notActions"));
        let not_data = strings(p.get("notDataActions"));
        permissions.extend(without_excluded(strings(p.get("actions")), &not_actions));
        permissions.extend(without_excluded(strings(p.get("dataActions")), &not_data));
    }
    permissions.sort();
    permissions.dedup();
    let mut defs = vec![RoleDef::api(name.clone(), permissions, Vec::new())];
    // Assignments listed without names refer to the definition by its GUID.
    if let Some(guid) =
        text(record, "name").or_else(|| text(record, "id").map(|id| last_segment(&id).to_string()))
    {
        if guid != name {
            defs.push(RoleDef::api(guid, Vec::new(), vec![name]));
        }
    }
    defs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_asset_export_row_is_dated_by_its_read_time() {
        let row = json!({"name": "//cloudresourcemanager.googleapis.com/projects/p1",
            "asset_type": "cloudresourcemanager.googleapis.com/Project",
            "readTime": "2026-11-20 08:00:00 UTC",
            "iam_policy": {"bindings": [{"role": "roles/viewer", "members": ["user:a@example.com"]}]}});
        let Ok(Some(CloudIam::Gcp(_, bindings))) = read(&row) else {
            panic!("not read");
        };
        assert_eq!(
            bindings[0].snapshot_at,
            crate::model::time::parse("2026-11-20T08:00:00Z").unwrap()
        );
        let bad = json!({"readTime": "yesterday", "iam_policy": {"bindings": [{"role": "roles/viewer", "members": []}]}});
        assert!(read(&bad).is_err());
    }

    #[test]
    fn gcp_policies_and_roles() {
        let policy = json!({"bindings": [
            {"role": "roles/run.developer", "members": ["serviceAccount:ci@p.iam.gserviceaccount.com", "group:eng@x.com"]},
            {"role": "roles/storage.objectViewer", "members": ["user:a@x.com"], "condition": {"title": "exports-only", "expression": "…"}}],
            "etag": "e", "version": 3});
        let Ok(Some(CloudIam::Gcp(_, bindings))) = read(&policy) else {
            panic!()
        };
        let pairs: Vec<(&str, &str)> = bindings
            .iter()
            .map(|b| (b.principal.as_str(), b.role.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("ci@p.iam.gserviceaccount.com", "roles/run.developer"),
                ("group:eng@x.com", "roles/run.developer"),
                ("a@x.com", "roles/storage.objectViewer if exports-only"),
            ]
        );
        let described = json!({"name": "roles/run.developer", "includedPermissions": ["run.services.get", "run.services.update"]});
        let Ok(Some(CloudIam::Gcp(roles, _))) = read(&described) else {
            panic!()
        };
        assert_eq!(
            roles[0].permissions,
            ["run.services.get", "run.services.update"]
        );
    }

    #[test]
    fn azure_assignments_and_definitions() {
        let assignment = json!({"principalId": "oid-1", "principalName": "ci-app", "principalType": "ServicePrincipal",
            "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/g-1",
            "roleDefinitionName": "Reader", "scope": "/subscriptions/S/resourceGroups/RG-A"});
        let Ok(Some(CloudIam::Azure(_, b))) = read(&assignment) else {
            panic!()
        };
        assert_eq!(
            (b[0].principal.as_str(), b[0].role.as_str()),
            ("oid-1", "Reader")
        );
        assert_eq!(
            b[0].data_scope,
            Some(vec!["/subscriptions/s/resourcegroups/rg-a".to_string()])
        );
        let contributor = json!({"roleName": "Contributor", "name": "g-2", "permissions": [{"actions": ["*"],
            "notActions": ["Microsoft.Authorization/*/Write"], "dataActions": [], "notDataActions": []}]});
        let Ok(Some(CloudIam::Azure(defs, _))) = read(&contributor) else {
            panic!()
        };
        assert!(
            defs[0].permissions.is_empty(),
            "a wildcard a notAction cuts is left out"
        );
        assert_eq!(defs[1].inherits, ["Contributor"]);
        let custom = json!({"roleName": "Blob Writer", "permissions": [{"actions": [],
            "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"]}]});
        let Ok(Some(CloudIam::Azure(defs, _))) = read(&custom) else {
            panic!()
        };
        assert_eq!(
            defs[0].permissions,
            ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"]
        );
    }
}
