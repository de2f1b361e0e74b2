//! Where an event sits in time relative to the small tables: which interval of
//! its principal's snapshot timeline, and whether its token had expired. Both go
//! into the denial group key, so that everything in one group was judged by the
//! same snapshot and the same token state.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Millis, RoleBinding, RoleDef, Token};

/// Adds a snapshot at every instant a role definition changes: a copy of each
/// principal's latest bindings before it. Everything downstream (the timeline
/// cuts, the as-of join, the grant history) then sees the change as it sees a
/// binding change.
pub fn with_role_changes(mut bindings: Vec<RoleBinding>, roles: &[RoleDef]) -> Vec<RoleBinding> {
    let mut changes: Vec<Millis> = roles.iter().filter_map(|r| r.defined_at).collect();
    changes.sort_unstable();
    changes.dedup();
    if changes.is_empty() {
        return bindings;
    }
    let mut by_principal: BTreeMap<&str, BTreeMap<Millis, Vec<&RoleBinding>>> = BTreeMap::new();
    for b in &bindings {
        by_principal
            .entry(&b.principal)
            .or_default()
            .entry(b.snapshot_at)
            .or_default()
            .push(b);
    }
    let mut added = Vec::new();
    for snapshots in by_principal.values() {
        for &at in &changes {
            if snapshots.contains_key(&at) {
                continue;
            }
            if let Some((_, latest)) = snapshots.range(..at).next_back() {
                added.extend(latest.iter().map(|b| RoleBinding {
                    snapshot_at: at,
                    ..(*b).clone()
                }));
            }
        }
    }
    bindings.extend(added);
    bindings
}

/// Snapshot cuts per principal and token expiry per token id.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Sorted instants where a principal's judgement may change: each snapshot,
    /// and the end of each snapshot's propagation window.
    cuts: HashMap<String, Vec<Millis>>,
    expiry: HashMap<String, Millis>,
}

impl Timeline {
    pub fn new(bindings: &[RoleBinding], tokens: &[Token], propagation_window: Millis) -> Self {
        let mut cuts: HashMap<String, Vec<Millis>> = HashMap::new();
        for b in bindings {
            let instants = cuts.entry(b.principal.clone()).or_default();
            instants.push(b.snapshot_at);
            instants.push(b.snapshot_at + propagation_window);
        }
        for instants in cuts.values_mut() {
            instants.sort_unstable();
            instants.dedup();
        }
        // A token id issued twice is judged by its latest issue, as in correlation.
        let mut latest: HashMap<&str, &Token> = HashMap::new();
        for t in tokens {
            let entry = latest.entry(&t.token_id).or_insert(t);
            if entry.issued_at < t.issued_at {
                *entry = t;
            }
        }
        let expiry = latest
            .into_iter()
            .filter_map(|(id, t)| Some((id.to_string(), t.expires_at?)))
            .collect();
        Timeline { cuts, expiry }
    }

    /// The interval of the principal's timeline that `ts` falls in.
    pub fn segment(&self, principal: &str, ts: Millis) -> u32 {
        self.cuts
            .get(principal)
            .map_or(0, |cuts| cuts.partition_point(|t| *t <= ts) as u32)
    }

    /// Whether the token had expired at `ts`.
    pub fn after_expiry(&self, token_id: Option<&str>, ts: Millis) -> bool {
        token_id
            .and_then(|id| self.expiry.get(id))
            .is_some_and(|expires| ts > *expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cut_at_snapshots_and_window_ends() {
        let binding = |at| RoleBinding {
            snapshot_at: at,
            principal: "svc".into(),
            role: "R".into(),
            data_scope: None,
        };
        let t = Timeline::new(&[binding(100), binding(1000)], &[], 50);
        let segments: Vec<u32> = [0, 100, 149, 150, 999, 1000, 1050]
            .iter()
            .map(|ts| t.segment("svc", *ts))
            .collect();
        assert_eq!(segments, vec![0, 1, 1, 2, 2, 3, 4]);
        assert_eq!(t.segment("other", 500), 0);
    }

    #[test]
    fn role_changes_become_snapshots_of_every_holder() {
        let binding = |at, role: &str| RoleBinding {
            snapshot_at: at,
            principal: "svc".into(),
            role: role.into(),
            data_scope: None,
        };
        let role = |at| RoleDef {
            role: "R".into(),
            permissions: vec![],
            inherits: vec![],
            plane: "api".into(),
            defined_at: at,
            denies: Vec::new(),
        };
        let out = with_role_changes(
            vec![binding(100, "R"), binding(100, "S")],
            &[role(None), role(Some(150)), role(Some(50))],
        );
        let at_150: Vec<&str> = out
            .iter()
            .filter(|b| b.snapshot_at == 150)
            .map(|b| b.role.as_str())
            .collect();
        assert_eq!(at_150, vec!["R", "S"]);
        assert!(
            out.iter().all(|b| b.snapshot_at != 50),
            "no snapshot before the first one is invented"
        );
    }

    #[test]
    fn expiry_uses_the_latest_issue_of_a_token() {
        let token = |issued, expires| Token {
            token_id: "t".into(),
            principal: "svc".into(),
            scopes: vec![],
            issued_at: issued,
            expires_at: Some(expires),
        };
        let t = Timeline::new(&[], &[token(0, 10), token(20, 30)], 0);
        assert!(!t.after_expiry(Some("t"), 25));
        assert!(t.after_expiry(Some("t"), 31));
        assert!(!t.after_expiry(None, 31));
        assert!(!t.after_expiry(Some("unknown"), 31));
    }
}
