//! A policy catalog learned from the logs, for an operator to review.
//!
//! For each endpoint, the permissions held by every principal that succeeded on
//! it, each as of its last success there (the snapshot in effect then): a
//! success shows the requirement was within what that principal held. Roles
//! bundle permissions, so peers share more than the endpoint needs; of what
//! they share, the permissions whose names share most with the endpoint's path
//! and method are kept (the same rule the diagnosis uses). A rule is
//! ambiguous when several shared permissions fit equally or none fits: the
//! operator chooses among the candidates written beside it.
//!
//! Not learned: choices (`any_of`), field rules and data scoping, which
//! successes alone cannot show; endpoints with fewer succeeding principals than
//! `min_peers`, or with a peer whose grants are unknown, get no rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::required::closest_to_endpoint;
use crate::correlate::history::GrantHistory;
use crate::model::{Millis, SuccessGroup, SuccessKey};

/// One learned rule, in the policy catalog's own shape (`--policies` reads it
/// back; `learned` is evidence for the reviewer and is ignored there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnedRule {
    pub method: String,
    pub path: String,
    /// The permission chosen; empty when the choice is ambiguous.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub all_of: Vec<String>,
    /// When ambiguous, the candidates: one of them is required.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
    pub learned: Evidence,
}

/// What a learned rule rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Principals that succeeded on the endpoint.
    pub peers: usize,
    /// Their successful requests.
    pub successes: u64,
    /// Every permission all of them held: `all_of` is chosen from these.
    pub shared: Vec<String>,
    /// Whether the peers shared more than `all_of` and the endpoint's name
    /// chose: a guess for the operator to confirm, never proof.
    pub by_name: bool,
    /// Whether the choice is the operator's: several candidates fit the
    /// endpoint's name equally, or none does (they are then `any_of`, which
    /// requires one of them and so never asks for a grant too many).
    pub ambiguous: bool,
}

/// Why an endpoint got no rule, with how many.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Unlearned {
    /// Fewer succeeding principals than `min_peers`.
    pub too_few_peers: usize,
    /// A succeeding principal whose grants at its success are unknown.
    pub unknown_grants: usize,
    /// The succeeding principals share no permission.
    pub nothing_shared: usize,
}

/// Learns a rule per endpoint that principals succeed on, sorted by method and path.
pub fn learn(
    successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
    history: &GrantHistory,
    min_peers: usize,
) -> (Vec<LearnedRule>, Unlearned) {
    /// Per principal: its last success on the endpoint, and how many.
    type Peers<'a> = BTreeMap<&'a str, (Millis, u64)>;
    let mut endpoints: BTreeMap<(&str, &str), Peers<'_>> = BTreeMap::new();
    for (key, group) in successes {
        let peer = endpoints
            .entry((key.method(), key.template()))
            .or_default()
            .entry(key.principal())
            .or_insert((group.last_ts, 0));
        peer.0 = peer.0.max(group.last_ts);
        peer.1 += group.count;
    }
    let mut rules = Vec::new();
    let mut unlearned = Unlearned::default();
    for ((method, template), peers) in endpoints {
        if peers.len() < min_peers.max(1) {
            unlearned.too_few_peers += 1;
            continue;
        }
        let mut shared: Option<BTreeSet<&String>> = None;
        let mut known = true;
        for (peer, (at, _)) in &peers {
            let Some(snapshot) = history.as_of(peer, *at) else {
                known = false;
                break;
            };
            let held: BTreeSet<&String> = snapshot.grants.api.iter().collect();
            shared = Some(match shared {
                None => held,
                Some(s) => s.intersection(&held).copied().collect(),
            });
        }
        if !known {
            unlearned.unknown_grants += 1;
            continue;
        }
        let shared: BTreeSet<String> = shared.unwrap_or_default().into_iter().cloned().collect();
        if shared.is_empty() {
            unlearned.nothing_shared += 1;
            continue;
        }
        let chosen: Vec<String> = closest_to_endpoint(shared.clone(), method, template)
            .into_iter()
            .collect();
        let ambiguous = chosen.len() > 1;
        let (all_of, any_of) = if ambiguous {
            (Vec::new(), chosen)
        } else {
            (chosen, Vec::new())
        };
        rules.push(LearnedRule {
            method: method.to_string(),
            path: template.to_string(),
            learned: Evidence {
                peers: peers.len(),
                successes: peers.values().map(|(_, n)| n).sum(),
                by_name: shared.len() > 1,
                ambiguous,
                shared: shared.into_iter().collect(),
            },
            all_of,
            any_of,
        });
    }
    (rules, unlearned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::roles::RoleGraph;
    use crate::model::{RoleBinding, RoleDef};

    fn world(peers: &[(&str, &[&str])]) -> (RoleGraph, Vec<RoleBinding>) {
        let mut roles = vec![
            RoleDef::api(
                "orders-rw".into(),
                vec![
                    "orders.read".into(),
                    "orders.write".into(),
                    "orders.delete".into(),
                    "orders.remove".into(),
                ],
                vec![],
            ),
            RoleDef::api("reports".into(), vec!["reports.read".into()], vec![]),
            RoleDef::api("misc".into(), vec!["audit.read".into()], vec![]),
        ];
        roles.push(RoleDef::api("empty".into(), vec![], vec![]));
        let bindings = peers
            .iter()
            .flat_map(|(who, held)| {
                held.iter().map(move |r| RoleBinding {
                    snapshot_at: 0,
                    principal: (*who).into(),
                    role: (*r).into(),
                    data_scope: None,
                })
            })
            .collect();
        (RoleGraph::new(&roles), bindings)
    }

    fn successes(on: &[(&str, &str, &str)]) -> hashbrown::HashMap<SuccessKey, SuccessGroup> {
        on.iter()
            .map(|(who, method, template)| {
                let group = SuccessGroup {
                    count: 2,
                    first_ts: 10,
                    last_ts: 20,
                };
                (
                    SuccessKey::new(who, method, template, None, &[] as &[&str]),
                    group,
                )
            })
            .collect()
    }

    #[test]
    fn the_shared_permission_named_like_the_endpoint_is_learned() {
        // Every peer holds the orders role; some hold unrelated roles too.
        let (graph, bindings) = world(&[
            ("a", &["orders-rw", "reports"]),
            ("b", &["orders-rw"]),
            ("c", &["orders-rw", "misc"]),
        ]);
        let history = GrantHistory::new(&bindings, &graph);
        let on = |m, t| [("a", m, t), ("b", m, t), ("c", m, t)];
        let (rules, unlearned) = learn(&successes(&on("GET", "/orders/{id}")), &history, 3);
        assert_eq!(unlearned, Unlearned::default());
        assert_eq!(rules[0].all_of, ["orders.read"]);
        assert!(rules[0].learned.by_name && !rules[0].learned.ambiguous);
        assert_eq!(
            rules[0].learned.shared,
            [
                "orders.delete",
                "orders.read",
                "orders.remove",
                "orders.write"
            ]
        );
        assert_eq!(rules[0].learned.successes, 6);
    }

    #[test]
    fn a_tie_is_left_open_and_thin_evidence_gets_no_rule() {
        let (graph, bindings) = world(&[
            ("a", &["orders-rw"]),
            ("b", &["orders-rw"]),
            ("c", &["orders-rw"]),
            ("d", &["reports"]),
        ]);
        let history = GrantHistory::new(&bindings, &graph);
        let mut on = successes(&[
            ("a", "DELETE", "/orders/{id}"),
            ("b", "DELETE", "/orders/{id}"),
            ("c", "DELETE", "/orders/{id}"),
        ]);
        // `delete` and `remove` both name DELETE: one of them, the operator says which.
        let (rules, _) = learn(&on, &history, 3);
        assert!(rules[0].all_of.is_empty() && rules[0].learned.ambiguous);
        assert_eq!(rules[0].any_of, ["orders.delete", "orders.remove"]);
        // Two peers are too few; a peer without a snapshot leaves it unknown.
        on.extend(successes(&[("a", "GET", "/few"), ("b", "GET", "/few")]));
        on.extend(successes(&[
            ("a", "GET", "/x"),
            ("b", "GET", "/x"),
            ("nobody", "GET", "/x"),
        ]));
        on.extend(successes(&[
            ("a", "GET", "/r"),
            ("b", "GET", "/r"),
            ("d", "GET", "/r"),
        ]));
        let (rules, unlearned) = learn(&on, &history, 3);
        assert_eq!(rules.len(), 1);
        assert_eq!(
            unlearned,
            Unlearned {
                too_few_peers: 1,
                unknown_grants: 1,
                nothing_shared: 1
            }
        );
    }
}
