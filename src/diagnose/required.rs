//! Which permissions a denied request needed, from the strongest source that
//! knows: the policy catalog, then the response itself, then the peers that
//! succeed on the same endpoint.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::Serialize;

use super::messages::Signal;
use super::policy::PolicyCatalog;
use crate::correlate::history::GrantHistory;
use crate::ingest::aggregate::{DenialKey, SuccessGroup, SuccessKey};
use crate::model::{Millis, Policy};

/// Where the required permissions were learned, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequirementSource {
    /// A rule of the policy catalog.
    PolicyCatalog,
    /// The denial response named it (a header, `WWW-Authenticate`, or the message).
    Response,
    /// Every principal that succeeds on the endpoint holds it.
    Peers,
}

impl RequirementSource {
    pub fn name(self) -> &'static str {
        match self {
            RequirementSource::PolicyCatalog => "policy_catalog",
            RequirementSource::Response => "response",
            RequirementSource::Peers => "peers",
        }
    }
}

/// The permissions a request needed.
#[derive(Debug, Clone, Default)]
pub struct Requirement<'p> {
    /// Every permission needed; a choice is written `a|b`.
    pub permissions: BTreeSet<String>,
    /// The subset required only because of body fields the request touched.
    pub by_fields: BTreeSet<String>,
    pub source: Option<RequirementSource>,
    /// The catalog rule, when one matched.
    pub policy: Option<&'p Policy>,
    /// Principals whose success it was inferred from.
    pub peers: usize,
}

/// Successful principals per endpoint, with the time of their last success.
#[derive(Debug, Default)]
pub struct EndpointPeers<'a> {
    by_endpoint: HashMap<(&'a str, &'a str), HashMap<&'a str, Millis>>,
}

impl<'a> EndpointPeers<'a> {
    pub fn new(successes: &'a hashbrown::HashMap<SuccessKey, SuccessGroup>) -> Self {
        let mut by_endpoint: HashMap<(&str, &str), HashMap<&str, Millis>> = HashMap::new();
        for (key, group) in successes {
            let last = by_endpoint
                .entry((key.method(), key.template()))
                .or_default()
                .entry(key.principal())
                .or_insert(group.last_ts);
            *last = (*last).max(group.last_ts);
        }
        EndpointPeers { by_endpoint }
    }

    /// The principals other than `principal` that succeeded on the endpoint, by name.
    fn others(&self, method: &str, template: &str, principal: &str) -> Vec<(&'a str, Millis)> {
        let mut peers: Vec<(&str, Millis)> = self
            .by_endpoint
            .get(&(method, template))
            .map(|m| {
                m.iter()
                    .filter(|(p, _)| **p != principal)
                    .map(|(p, t)| (*p, *t))
                    .collect()
            })
            .unwrap_or_default();
        peers.sort();
        peers
    }
}

/// How the peers' evidence is weighed.
#[derive(Debug, Clone, Copy)]
pub struct PeerRule {
    /// Below this many succeeding peers nothing is inferred.
    pub min_peers: usize,
}

/// Works out what a denial group needed.
pub fn requirement<'p>(
    key: &DenialKey,
    signals: &[Signal],
    catalog: &'p PolicyCatalog,
    peers: &EndpointPeers,
    history: &GrantHistory,
    own_grants: Option<&BTreeSet<String>>,
    rule: PeerRule,
) -> Requirement<'p> {
    if let Some(policy) = catalog.find(&key.method, &key.template) {
        let mut permissions: BTreeSet<String> = policy.all_of.iter().cloned().collect();
        if !policy.any_of.is_empty() {
            permissions.insert(policy.any_of.join("|"));
        }
        let by_fields: BTreeSet<String> = key
            .fields
            .iter()
            .filter_map(|f| policy.fields.get(f).cloned())
            .filter(|p| !permissions.contains(p))
            .collect();
        permissions.extend(by_fields.iter().cloned());
        return Requirement {
            permissions,
            by_fields,
            source: Some(RequirementSource::PolicyCatalog),
            policy: Some(policy),
            peers: 0,
        };
    }
    let mut named = required_by_headers(key.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    named.extend(signals.iter().filter_map(|s| match s {
        Signal::Requires(p) => Some(p.clone()),
        _ => None,
    }));
    if !named.is_empty() {
        return Requirement {
            permissions: named,
            source: Some(RequirementSource::Response),
            ..Default::default()
        };
    }
    inferred_from_peers(key, peers, history, own_grants, rule)
}

/// The permissions every peer held when it last succeeded and this principal lacks.
fn inferred_from_peers<'p>(
    key: &DenialKey,
    peers: &EndpointPeers,
    history: &GrantHistory,
    own_grants: Option<&BTreeSet<String>>,
    rule: PeerRule,
) -> Requirement<'p> {
    let others = peers.others(&key.method, &key.template, &key.principal);
    let held: Vec<&BTreeSet<String>> = others
        .iter()
        .filter_map(|(p, ts)| history.as_of(p, *ts).map(|s| &s.grants.api))
        .collect();
    if held.len() < rule.min_peers.max(1) || held.len() < others.len() {
        // Too few peers, or some peer's grants are unknown: no safe inference.
        return Requirement::default();
    }
    let mut common: BTreeSet<String> = held[0].clone();
    for grants in &held[1..] {
        common.retain(|p| grants.contains(p));
    }
    if let Some(own) = own_grants {
        common.retain(|p| !own.contains(p));
    }
    if common.is_empty() {
        return Requirement::default();
    }
    Requirement {
        permissions: common,
        source: Some(RequirementSource::Peers),
        peers: held.len(),
        ..Default::default()
    }
}

/// `scope="a b"` inside an RFC 6750 `WWW-Authenticate` challenge.
static CHALLENGE_SCOPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bscope\s*=\s*"([^"]*)""#).expect("scope pattern compiles"));

/// The permissions the response headers name: the scope of an `insufficient_scope`
/// challenge, and headers such as `x-required-scope` or `x-infor-required-scope`.
pub fn required_by_headers<'h>(
    headers: impl Iterator<Item = (&'h str, &'h str)>,
) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (name, value) in headers {
        let listed = if name == "www-authenticate" {
            if !value.to_ascii_lowercase().contains("insufficient_scope") {
                continue;
            }
            CHALLENGE_SCOPE.captures(value).map(|c| c[1].to_string())
        } else if name.contains("required-scope") || name.contains("required-permission") {
            Some(value.to_string())
        } else {
            None
        };
        for perm in listed.iter().flat_map(|l| l.split([' ', ','])) {
            if !perm.is_empty() {
                named.insert(perm.to_string());
            }
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::roles::RoleGraph;
    use crate::model::{RoleBinding, RoleDef};

    #[test]
    fn responses_name_required_permissions() {
        let got = required_by_headers(
            [
                (
                    "www-authenticate",
                    r#"Bearer realm="api", error="insufficient_scope", scope="a.read b.write""#,
                ),
                ("x-infor-required-scope", "project.tasks.assignments.manage"),
                ("x-infor-error-code", "INSUFFICIENT_PROJECT_PERMISSIONS"),
            ]
            .into_iter(),
        );
        let want: BTreeSet<String> = ["a.read", "b.write", "project.tasks.assignments.manage"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_invalid_token_challenge_names_nothing() {
        let got = required_by_headers(
            [(
                "www-authenticate",
                r#"Bearer error="invalid_token", scope="a""#,
            )]
            .into_iter(),
        );
        assert!(got.is_empty());
    }

    fn success(principal: &str) -> (SuccessKey, SuccessGroup) {
        (
            SuccessKey::new::<&str>(principal, "POST", "/assign", None, &[]),
            SuccessGroup {
                count: 1,
                first_ts: 50,
                last_ts: 50,
            },
        )
    }

    fn denial() -> DenialKey {
        DenialKey {
            principal: "svc".into(),
            method: "POST".into(),
            template: "/assign".into(),
            status: 403,
            ..DenialKey::default()
        }
    }

    #[test]
    fn peers_infer_what_they_all_hold_and_we_lack() {
        let roles = [
            RoleDef {
                role: "Assigner".into(),
                permissions: vec!["assign".into(), "read".into()],
                inherits: vec![],
                plane: "api".into(),
                defined_at: None,
            },
            RoleDef {
                role: "Reader".into(),
                permissions: vec!["read".into()],
                inherits: vec![],
                plane: "api".into(),
                defined_at: None,
            },
            RoleDef {
                role: "Extra".into(),
                permissions: vec!["extra".into()],
                inherits: vec![],
                plane: "api".into(),
                defined_at: None,
            },
        ];
        let graph = RoleGraph::new(&roles);
        let bind = |p: &str, r: &str| RoleBinding {
            snapshot_at: 0,
            principal: p.into(),
            role: r.into(),
            data_scope: None,
        };
        let history = GrantHistory::new(
            &[
                bind("p1", "Assigner"),
                bind("p1", "Extra"),
                bind("p2", "Assigner"),
                bind("p3", "Assigner"),
                bind("svc", "Reader"),
            ],
            &graph,
        );
        let successes: hashbrown::HashMap<_, _> =
            ["p1", "p2", "p3"].into_iter().map(success).collect();
        let peers = EndpointPeers::new(&successes);
        let own = history.as_of("svc", 100).map(|s| s.grants.api.clone());
        let catalog = PolicyCatalog::default();
        let got = requirement(
            &denial(),
            &[],
            &catalog,
            &peers,
            &history,
            own.as_ref(),
            PeerRule { min_peers: 3 },
        );
        assert_eq!(got.permissions, BTreeSet::from(["assign".to_string()]));
        assert_eq!((got.source, got.peers), (Some(RequirementSource::Peers), 3));

        let too_few = requirement(
            &denial(),
            &[],
            &catalog,
            &peers,
            &history,
            own.as_ref(),
            PeerRule { min_peers: 4 },
        );
        assert!(too_few.permissions.is_empty() && too_few.source.is_none());
    }
}
