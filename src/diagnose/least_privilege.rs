//! Least privilege: per principal, the permissions its roles granted during the
//! logs' period that no successful request needed.
//!
//! A successful request used the permissions its endpoint's policy-catalog rule
//! requires (`all_of`, one granted choice of `any_of`, and the rules of the body
//! fields it touched). Requests to endpoints no rule covers could have used any
//! grant, so while a principal has such requests its list is marked incomplete:
//! "unused" then means "not shown used", never a proof. A cloud action's name
//! is a permission it used, with or without a rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use super::policy::PolicyCatalog;
use crate::correlate::history::GrantHistory;
use crate::correlate::roles::grants_permission;
use crate::model::{Millis, Policy, SuccessGroup, SuccessKey, ACTION_METHOD, UNKNOWN_TIME};

/// One principal's grants against its use of them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrincipalGrants {
    pub principal: String,
    /// API permissions granted by any snapshot in effect during the period, sorted.
    pub granted: Vec<String>,
    /// Granted permissions that successful requests needed, with how many needed each.
    pub used: BTreeMap<String, u64>,
    /// Granted permissions no successful request needed: candidates to revoke.
    pub unused: Vec<String>,
    /// Successful requests of the principal.
    pub requests: u64,
    /// Successful requests to endpoints no policy rule covers: they may have used any grant.
    pub requests_without_rule: u64,
    /// Whether every successful request's needs were known (`unused` is then exact).
    pub complete: bool,
}

/// The grants of every principal with snapshots, against its successful requests.
pub fn unused_grants(
    successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
    history: &GrantHistory,
    catalog: &PolicyCatalog,
    period: Option<(Millis, Millis)>,
) -> Vec<PrincipalGrants> {
    let mut by_principal: BTreeMap<&str, Vec<(&SuccessKey, u64)>> = BTreeMap::new();
    // The catalog is searched once per endpoint, not once per success group:
    // there are hundreds of endpoints and hundreds of thousands of groups.
    let mut rules: HashMap<(&str, &str), Option<&Policy>> = HashMap::new();
    for (key, group) in successes {
        by_principal
            .entry(key.principal())
            .or_default()
            .push((key, group.count));
        rules
            .entry((key.method(), key.template()))
            .or_insert_with(|| catalog.find(key.method(), key.template()));
    }
    // Principals are independent: in parallel, collected in name order.
    history
        .principals()
        .into_par_iter()
        .filter_map(|principal| {
            let granted = granted_in_period(history, principal, period);
            if granted.is_empty() {
                return None;
            }
            // Each granted permission as a set of one, made once: the shape
            // `grants_permission` matches against (wildcards included).
            let singles: Vec<(&String, BTreeSet<String>)> = granted
                .iter()
                .map(|p| (p, BTreeSet::from([p.clone()])))
                .collect();
            let mut used: BTreeMap<String, u64> = BTreeMap::new();
            let (mut requests, mut without_rule) = (0, 0);
            for (key, count) in by_principal.get(principal).into_iter().flatten() {
                requests += count;
                let Some(policy) = rules[&(key.method(), key.template())] else {
                    without_rule += count;
                    // A cloud action names a permission it needs (`s3:GetObject`,
                    // `Microsoft.Storage/storageAccounts/read`); what else it
                    // needs (iam:PassRole) is unknown, so the list stays unproven.
                    if key.method() == ACTION_METHOD {
                        for (permission, one) in &singles {
                            if grants_permission(one, key.template()) {
                                *used.entry((*permission).clone()).or_default() += count;
                            }
                        }
                    }
                    continue;
                };
                let mut needed: Vec<&str> = policy.all_of.iter().map(String::as_str).collect();
                needed.extend(
                    key.fields()
                        .filter_map(|f| policy.fields.get(f).map(String::as_str)),
                );
                let choices = policy.any_of.iter().map(String::as_str);
                for (permission, one) in &singles {
                    let needs = needed.iter().any(|n| grants_permission(one, n))
                        || choices.clone().any(|c| grants_permission(one, c));
                    if needs {
                        *used.entry((*permission).clone()).or_default() += count;
                    }
                }
            }
            let unused = granted
                .iter()
                .filter(|p| !used.contains_key(*p))
                .cloned()
                .collect();
            Some(PrincipalGrants {
                principal: principal.to_string(),
                granted: granted.into_iter().collect(),
                used,
                unused,
                requests,
                requests_without_rule: without_rule,
                complete: without_rule == 0,
            })
        })
        .collect()
}

/// What the snapshots in effect at some time in `[from, to]` granted (all of
/// them when the period is unknown).
fn granted_in_period(
    history: &GrantHistory,
    principal: &str,
    period: Option<(Millis, Millis)>,
) -> BTreeSet<String> {
    let snapshots = history.snapshots(principal);
    let mut granted = BTreeSet::new();
    for (i, snapshot) in snapshots.iter().enumerate() {
        let until = snapshots.get(i + 1).map_or(Millis::MAX, |next| next.at);
        let in_effect = period.is_none_or(|(from, to)| snapshot.at <= to && until > from);
        if in_effect {
            granted.extend(snapshot.grants.api.iter().cloned());
        }
    }
    granted
}

/// The first and last timed request among the successes.
pub fn period(
    successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
) -> Option<(Millis, Millis)> {
    let timed = successes.values().filter(|g| g.first_ts != UNKNOWN_TIME);
    let from = timed.clone().map(|g| g.first_ts).min()?;
    let to = timed.map(|g| g.last_ts).max()?;
    Some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::roles::RoleGraph;
    use crate::model::{RoleBinding, RoleDef};

    fn role(name: &str, permissions: &[&str]) -> RoleDef {
        RoleDef {
            role: name.into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            inherits: vec![],
            plane: "api".into(),
            defined_at: None,
            denies: Vec::new(),
        }
    }

    fn binding(at: Millis, principal: &str, role: &str) -> RoleBinding {
        RoleBinding {
            snapshot_at: at,
            principal: principal.into(),
            role: role.into(),
            data_scope: None,
        }
    }

    fn rule(method: &str, path: &str, all_of: &[&str], any_of: &[&str]) -> Policy {
        Policy {
            method: method.into(),
            path: path.into(),
            all_of: all_of.iter().map(|p| p.to_string()).collect(),
            any_of: any_of.iter().map(|p| p.to_string()).collect(),
            fields: [("cost".to_string(), "wo.cost".to_string())].into(),
            data_scoped: false,
        }
    }

    fn success(principal: &str, method: &str, template: &str, fields: &[&str]) -> SuccessKey {
        SuccessKey::new(principal, method, template, None, fields)
    }

    #[test]
    fn grants_no_successful_request_needed_are_unused() {
        let roles = [
            role("reader", &["wo.read", "wo.export"]),
            role("writer", &["wo.write", "wo.cost", "admin.*"]),
            role("later", &["wo.purge"]),
        ];
        let graph = RoleGraph::new(&roles);
        let bindings = [
            binding(0, "svc-a", "reader"),
            binding(0, "svc-a", "writer"),
            // Bound only after the period: not granted in it.
            binding(10_000, "svc-a", "later"),
            binding(0, "svc-b", "reader"),
        ];
        let history = GrantHistory::new(&bindings, &graph);
        let catalog = PolicyCatalog::new(vec![
            rule("GET", "/wo/{id}", &["wo.read"], &[]),
            rule("PATCH", "/wo/{id}", &[], &["wo.write", "wo.admin"]),
            rule("DELETE", "/wo/{id}", &["admin.delete"], &[]),
        ]);
        let mut successes = hashbrown::HashMap::new();
        let group = |count| SuccessGroup {
            count,
            first_ts: 100,
            last_ts: 5_000,
        };
        successes.insert(success("svc-a", "GET", "/wo/{id}", &[]), group(5));
        successes.insert(success("svc-a", "PATCH", "/wo/{id}", &["cost"]), group(2));
        successes.insert(success("svc-a", "DELETE", "/wo/{id}", &[]), group(1));
        successes.insert(success("svc-b", "GET", "/wo/{id}", &[]), group(3));
        successes.insert(success("svc-b", "GET", "/unruled", &[]), group(4));

        let found = unused_grants(&successes, &history, &catalog, period(&successes));
        let a = &found[0];
        assert_eq!(a.principal, "svc-a");
        assert_eq!(
            a.granted,
            ["admin.*", "wo.cost", "wo.export", "wo.read", "wo.write"]
        );
        assert_eq!(a.unused, ["wo.export"]);
        assert_eq!(a.used["wo.read"], 5);
        assert_eq!(a.used["wo.write"], 2, "one granted choice of any_of");
        assert_eq!(a.used["wo.cost"], 2, "the field's rule");
        assert_eq!(
            a.used["admin.*"], 1,
            "a wildcard grant covers what it matches"
        );
        assert!(a.complete);
        let b = &found[1];
        assert_eq!(b.unused, ["wo.export"]);
        assert_eq!((b.requests, b.requests_without_rule), (7, 4));
        assert!(!b.complete, "an unruled request may have used any grant");
    }
}
