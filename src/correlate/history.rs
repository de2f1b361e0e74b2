//! Each principal's role snapshots in time order, with what each grants: to judge
//! a request by the snapshot in effect, and to find when a permission was granted.

use std::collections::{BTreeMap, HashMap};

use super::roles::{Grants, RoleGraph};
use crate::model::{Millis, RoleBinding};

/// Roles held, each with the data scope of its binding (`None`: unrestricted).
pub type HeldRoles = BTreeMap<String, Option<Vec<String>>>;

/// One snapshot of one principal.
#[derive(Debug)]
pub struct Snapshot {
    pub at: Millis,
    pub roles: HeldRoles,
    /// What the roles grant, data scopes aside.
    pub grants: Grants,
}

impl Snapshot {
    /// What the roles grant in one data scope: bindings limited to other scopes do not count.
    pub fn grants_in(&self, graph: &RoleGraph, org: &str) -> Grants {
        let roles = self
            .roles
            .iter()
            .filter(|(_, scope)| scope.as_ref().is_none_or(|s| s.iter().any(|o| o == org)))
            .map(|(role, _)| role.as_str());
        graph.grants_at(roles, self.at)
    }
}

/// When a permission became granted, as far as the snapshots show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantStart {
    /// The first snapshot of the unbroken run that grants it.
    pub at: Millis,
    /// Whether an earlier snapshot lacked it, i.e. the grant itself was seen
    /// (otherwise it was granted at `at` or any time before).
    pub observed: bool,
}

/// Snapshots per principal.
#[derive(Debug, Default)]
pub struct GrantHistory {
    by_principal: HashMap<String, Vec<Snapshot>>,
}

impl GrantHistory {
    pub fn new(bindings: &[RoleBinding], graph: &RoleGraph) -> Self {
        let mut held: HashMap<&str, BTreeMap<Millis, HeldRoles>> = HashMap::new();
        for b in bindings {
            let roles = held
                .entry(&b.principal)
                .or_default()
                .entry(b.snapshot_at)
                .or_default();
            if !b.role.is_empty() {
                roles.insert(b.role.clone(), b.data_scope.clone());
            }
        }
        let by_principal = held
            .into_iter()
            .map(|(principal, snapshots)| {
                let snapshots = snapshots
                    .into_iter()
                    .map(|(at, roles)| {
                        let grants = graph.grants_at(roles.keys().map(String::as_str), at);
                        Snapshot { at, roles, grants }
                    })
                    .collect();
                (principal.to_string(), snapshots)
            })
            .collect();
        GrantHistory { by_principal }
    }

    pub fn is_empty(&self) -> bool {
        self.by_principal.is_empty()
    }

    /// Every principal with a snapshot, sorted.
    pub fn principals(&self) -> Vec<&str> {
        let mut principals: Vec<&str> = self.by_principal.keys().map(String::as_str).collect();
        principals.sort_unstable();
        principals
    }

    /// All of a principal's snapshots, oldest first.
    pub fn snapshots(&self, principal: &str) -> &[Snapshot] {
        self.by_principal.get(principal).map_or(&[], Vec::as_slice)
    }

    /// The principal's snapshot taken exactly at `at`.
    pub fn at(&self, principal: &str, at: Millis) -> Option<&Snapshot> {
        let snapshots = self.by_principal.get(principal)?;
        let i = snapshots.binary_search_by_key(&at, |s| s.at).ok()?;
        Some(&snapshots[i])
    }

    /// The principal's latest snapshot at or before `ts`.
    pub fn as_of(&self, principal: &str, ts: Millis) -> Option<&Snapshot> {
        let snapshots = self.by_principal.get(principal)?;
        let n = snapshots.partition_point(|s| s.at <= ts);
        n.checked_sub(1).map(|i| &snapshots[i])
    }

    /// When `permission` started being granted, looking back from the snapshot at
    /// `at` (which must grant it) through the snapshots that all grant it.
    pub fn granted_since(
        &self,
        principal: &str,
        at: Millis,
        permission: &str,
    ) -> Option<GrantStart> {
        let snapshots = self.by_principal.get(principal)?;
        let end = snapshots.binary_search_by_key(&at, |s| s.at).ok()?;
        let grants = |s: &Snapshot| super::roles::grants_permission(&s.grants.api, permission);
        if !grants(&snapshots[end]) {
            return None;
        }
        let mut start = end;
        while start > 0 && grants(&snapshots[start - 1]) {
            start -= 1;
        }
        Some(GrantStart {
            at: snapshots[start].at,
            observed: start > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleDef;

    fn binding(at: Millis, role: &str, scope: Option<&[&str]>) -> RoleBinding {
        RoleBinding {
            snapshot_at: at,
            principal: "svc".into(),
            role: role.into(),
            data_scope: scope.map(|s| s.iter().map(|o| o.to_string()).collect()),
        }
    }

    fn graph() -> RoleGraph {
        RoleGraph::new(&[
            RoleDef {
                role: "Reader".into(),
                permissions: vec!["read".into()],
                inherits: vec![],
                plane: "api".into(),
                defined_at: None,
                denies: Vec::new(),
            },
            RoleDef {
                role: "Writer".into(),
                permissions: vec!["write".into()],
                inherits: vec![],
                plane: "api".into(),
                defined_at: None,
                denies: Vec::new(),
            },
        ])
    }

    #[test]
    fn grant_start_is_the_first_snapshot_of_the_unbroken_run() {
        let history = GrantHistory::new(
            &[
                binding(10, "Reader", None),
                binding(20, "Writer", None),
                binding(30, "Writer", None),
                binding(40, "", None),
            ],
            &graph(),
        );
        assert_eq!(
            history.granted_since("svc", 30, "write"),
            Some(GrantStart {
                at: 20,
                observed: true
            })
        );
        assert_eq!(
            history.granted_since("svc", 10, "read"),
            Some(GrantStart {
                at: 10,
                observed: false
            })
        );
        assert_eq!(history.granted_since("svc", 10, "write"), None);
        assert!(
            history.at("svc", 40).unwrap().roles.is_empty(),
            "an empty role records holding nothing"
        );
        assert_eq!(history.as_of("svc", 35).unwrap().at, 30);
        assert!(history.as_of("svc", 5).is_none());
    }

    #[test]
    fn data_scoped_bindings_grant_only_in_their_scope() {
        let history = GrantHistory::new(&[binding(10, "Writer", Some(&["M1"]))], &graph());
        let snapshot = history.at("svc", 10).unwrap();
        assert!(snapshot.grants_in(&graph(), "M1").api.contains("write"));
        assert!(!snapshot.grants_in(&graph(), "M2").api.contains("write"));
        assert!(
            snapshot.grants.api.contains("write"),
            "unscoped view still shows the grant"
        );
    }
}
