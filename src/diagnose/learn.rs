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
//! A body field gets a field rule the same way: what every principal that
//! succeeded touching it held beyond what all the endpoint's principals held,
//! with the field as one more word for the name (`owner`:
//! `prices.owner.update`); a field with several candidates gets none, and the
//! evidence lists it. Candidates that name nothing of the endpoint or field are
//! permissions those principals co-hold by chance, and are left out.
//!
//! Not learned: data scoping, which successes alone cannot show; endpoints
//! (and fields) with fewer succeeding principals than `min_peers`, or with a
//! peer whose grants are unknown, get no rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::required::{closest_to_endpoint, named_like};
use crate::correlate::history::GrantHistory;
use crate::correlate::roles::grants_permission;
use crate::model::{DenialGroup, DenialKey, Millis, SuccessGroup, SuccessKey};

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
    /// Body field → the permission touching it requires.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
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
    /// Denied requests on the endpoint whose principal lacked the rule's
    /// permission then: the denials the rule explains.
    pub denials_explained: u64,
    /// Denied requests whose principal held it then: something else (the
    /// object, the token, the timing) decided them.
    pub denials_held: u64,
    /// Fields whose principals held several permissions beyond the
    /// endpoint's that fit equally: field → the candidates, for the operator.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub open_fields: BTreeMap<String, Vec<String>>,
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

/// Learns a rule per endpoint that principals succeed on, sorted by method and
/// path, each with the denials there it explains.
pub fn learn(
    successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
    denials: &[(DenialKey, DenialGroup)],
    history: &GrantHistory,
    min_peers: usize,
) -> (Vec<LearnedRule>, Unlearned) {
    // (method, template) -> (principal, first denial, denied requests).
    type Denied<'a> = BTreeMap<(&'a str, &'a str), Vec<(&'a str, Millis, u64)>>;
    let mut denied = Denied::new();
    for (key, group) in denials {
        denied
            .entry((&key.method, &key.template))
            .or_default()
            .push((&key.principal, group.first_ts, group.count));
    }
    let mut endpoints: BTreeMap<(&str, &str), Peers<'_>> = BTreeMap::new();
    let mut by_field: BTreeMap<(&str, &str, &str), Peers<'_>> = BTreeMap::new();
    for (key, group) in successes {
        let (method, template) = (key.method(), key.template());
        add_success(endpoints.entry((method, template)).or_default(), key, group);
        for field in key.fields() {
            add_success(
                by_field.entry((method, template, field)).or_default(),
                key,
                group,
            );
        }
    }
    let mut rules = Vec::new();
    let mut unlearned = Unlearned::default();
    for ((method, template), peers) in endpoints {
        if peers.len() < min_peers.max(1) {
            unlearned.too_few_peers += 1;
            continue;
        }
        let Some(shared) = shared_by(&peers, history) else {
            unlearned.unknown_grants += 1;
            continue;
        };
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
        let (mut fields, mut open_fields) = (BTreeMap::new(), BTreeMap::new());
        let touched = by_field
            .range((method, template, "")..)
            .take_while(|((m, t, _), _)| (*m, *t) == (method, template));
        for ((_, _, field), field_peers) in touched {
            if field_peers.len() < min_peers.max(1) {
                continue;
            }
            let Some(held) = shared_by(field_peers, history) else {
                continue;
            };
            // What those touching the field co-hold by chance names nothing of
            // it: only candidates named like the endpoint and field count.
            let named = format!("{template}/{field}");
            let beyond: BTreeSet<String> = held
                .difference(&shared)
                .filter(|p| named_like(p, method, &named))
                .cloned()
                .collect();
            let mut candidates: Vec<String> = closest_to_endpoint(beyond, method, &named)
                .into_iter()
                .collect();
            match candidates.len() {
                0 => {}
                1 => {
                    fields.insert(field.to_string(), candidates.remove(0));
                }
                _ => {
                    open_fields.insert(field.to_string(), candidates);
                }
            }
        }
        let required = if all_of.is_empty() {
            vec![any_of.join("|")]
        } else {
            all_of.clone()
        };
        let (mut denials_explained, mut denials_held) = (0, 0);
        for (principal, at, count) in denied.get(&(method, template)).into_iter().flatten() {
            let Some(then) = history.as_of(principal, *at) else {
                continue;
            };
            if required
                .iter()
                .all(|p| grants_permission(&then.grants.api, p))
            {
                denials_held += count;
            } else {
                denials_explained += count;
            }
        }
        rules.push(LearnedRule {
            method: method.to_string(),
            path: template.to_string(),
            learned: Evidence {
                denials_explained,
                denials_held,
                peers: peers.len(),
                successes: peers.values().map(|(_, n)| n).sum(),
                by_name: shared.len() > 1,
                ambiguous,
                shared: shared.into_iter().collect(),
                open_fields,
            },
            all_of,
            any_of,
            fields,
        });
    }
    (rules, unlearned)
}

/// Per principal: its last success on an endpoint (or with a field), and how many.
type Peers<'a> = BTreeMap<&'a str, (Millis, u64)>;

fn add_success<'a>(peers: &mut Peers<'a>, key: &'a SuccessKey, group: &SuccessGroup) {
    let peer = peers.entry(key.principal()).or_insert((group.last_ts, 0));
    peer.0 = peer.0.max(group.last_ts);
    peer.1 += group.count;
}

/// Every permission all `peers` held at their last success; `None` when one's
/// grants then are unknown.
fn shared_by(peers: &Peers<'_>, history: &GrantHistory) -> Option<BTreeSet<String>> {
    let mut shared: Option<BTreeSet<&String>> = None;
    for (peer, (at, _)) in peers {
        let held: BTreeSet<&String> = history.as_of(peer, *at)?.grants.api.iter().collect();
        shared = Some(match shared {
            None => held,
            Some(s) => s.intersection(&held).copied().collect(),
        });
    }
    Some(shared.unwrap_or_default().into_iter().cloned().collect())
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
            ("lacks", &["reports"]),
            ("holds", &["orders-rw"]),
        ]);
        let history = GrantHistory::new(&bindings, &graph);
        let on = |m, t| [("a", m, t), ("b", m, t), ("c", m, t)];
        // Denied: one lacking the permission (twice), one holding it.
        let denials: Vec<(DenialKey, DenialGroup)> = [("lacks", 2), ("holds", 1)]
            .into_iter()
            .map(|(who, count)| {
                let key = DenialKey {
                    principal: who.into(),
                    method: "GET".into(),
                    template: "/orders/{id}".into(),
                    status: 403,
                    ..DenialKey::default()
                };
                let mut group = DenialGroup::first(crate::model::Sample::default(), 1);
                group.count = count;
                (key, group)
            })
            .collect();
        let (rules, unlearned) = learn(
            &successes(&on("GET", "/orders/{id}")),
            &denials,
            &history,
            3,
        );
        assert_eq!(unlearned, Unlearned::default());
        let evidence = &rules[0].learned;
        assert_eq!((evidence.denials_explained, evidence.denials_held), (2, 1));
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
    fn a_field_gets_the_permission_those_touching_it_hold_beyond_the_endpoints() {
        let graph = RoleGraph::new(&[
            RoleDef::api("writer".into(), vec!["orders.write".into()], vec![]),
            RoleDef::api(
                "admin".into(),
                vec![
                    "orders.write".into(),
                    "orders.owner.update".into(),
                    "orders.price.update".into(),
                ],
                vec![],
            ),
        ]);
        let bind = |who: &str, role: &str| RoleBinding {
            snapshot_at: 0,
            principal: who.into(),
            role: role.into(),
            data_scope: None,
        };
        let bindings = [
            bind("a", "admin"),
            bind("b", "admin"),
            bind("c", "admin"),
            bind("d", "writer"),
        ];
        let history = GrantHistory::new(&bindings, &graph);
        let touching = |who: &str, fields: &[&str]| {
            let group = SuccessGroup {
                count: 1,
                first_ts: 10,
                last_ts: 20,
            };
            (
                SuccessKey::new(who, "PATCH", "/orders/{id}", None, fields),
                group,
            )
        };
        let on: hashbrown::HashMap<_, _> = [
            // Administrators set the owner, and now and then an `x` only they touch.
            touching("a", &["note", "owner", "x"]),
            touching("b", &["owner", "x"]),
            touching("c", &["owner", "x"]),
            touching("d", &["note"]),
            // Two who touched the price are too few to learn from.
            touching("a", &["price"]),
            touching("b", &["price"]),
        ]
        .into_iter()
        .collect();
        let (rules, _) = learn(&on, &[], &history, 3);
        assert_eq!(rules[0].all_of, ["orders.write"]);
        assert_eq!(
            rules[0].fields,
            BTreeMap::from([("owner".to_string(), "orders.owner.update".to_string())])
        );
        // `x` names neither: both permissions only administrators hold stay open.
        assert_eq!(
            rules[0].learned.open_fields,
            BTreeMap::from([(
                "x".to_string(),
                vec![
                    "orders.owner.update".to_string(),
                    "orders.price.update".to_string()
                ]
            )])
        );
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
        let (rules, _) = learn(&on, &[], &history, 3);
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
        let (rules, unlearned) = learn(&on, &[], &history, 3);
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
