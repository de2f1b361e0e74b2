//! Which permissions a denied request needed, from the strongest source that
//! knows: the policy catalog, then the response itself, then the peers that
//! succeed on the same endpoint.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, OnceLock};

use regex::Regex;
use schemars::JsonSchema;
use serde::Serialize;

use super::messages::Signal;
use super::policy::PolicyCatalog;
use crate::correlate::history::GrantHistory;
use crate::ingest::is_version_segment;
use crate::model::{DenialKey, Millis, Policy, SuccessGroup, SuccessKey};

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
    /// The principal's own success there held it, and its grants at the
    /// denial did not (a grant came between, or was taken away).
    OwnTransition,
}

impl RequirementSource {
    pub fn name(self) -> &'static str {
        match self {
            RequirementSource::PolicyCatalog => "policy_catalog",
            RequirementSource::Response => "response",
            RequirementSource::Peers => "peers",
            RequirementSource::OwnTransition => "own_transition",
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
    /// Whether the names chose among permissions the data could not
    /// separate: the principal's own transition changed several, or fewer
    /// than `--min-peers` peers succeed.
    pub by_name: bool,
}

impl Requirement<'_> {
    /// Of `permissions` (a part of this requirement that a grant, a token or
    /// timing concerns), the ones to name: all of them when the catalog or the
    /// response said so; when peers did, they co-hold what other endpoints
    /// need, so the names closest to the endpoint (all when none is close).
    pub fn narrowed(
        &self,
        permissions: impl Iterator<Item = String>,
        key: &DenialKey,
    ) -> Vec<String> {
        let permissions: BTreeSet<String> = permissions.collect();
        if self.source == Some(RequirementSource::Peers) {
            closest_to_endpoint(permissions, &key.method, &key.template)
                .into_iter()
                .collect()
        } else {
            permissions.into_iter().collect()
        }
    }
}

/// Successful principals per endpoint, with the time of their last success.
///
/// What they held then is tallied per endpoint on the first denial that asks,
/// from the [`GrantHistory`] that denial passes: one `EndpointPeers` serves one
/// history.
#[derive(Debug, Default)]
pub struct EndpointPeers<'a> {
    by_endpoint: HashMap<(&'a str, &'a str), Peers<'a>>,
    /// The same, per body field the successes touched: (method, template, field).
    by_field: HashMap<(&'a str, &'a str, &'a str), Peers<'a>>,
}

/// The principals that succeeded on one endpoint.
#[derive(Debug, Default)]
struct Peers<'a> {
    last_success: HashMap<&'a str, Millis>,
    held: OnceLock<HeldByPeers>,
}

/// What the peers of one endpoint held at their last success, counted once: what
/// every peer but the denied principal holds is then a subtraction per
/// permission. Copying, sorting and intersecting every peer's grants for each
/// denied principal was quadratic: for 25,000 denied and 25,000 succeeding
/// principals on one endpoint, 67 s (over 10 minutes in a debug build, where
/// counting takes 0.3 s).
#[derive(Debug)]
struct HeldByPeers {
    /// Peers whose grants are unknown (no snapshot at or before that success).
    unknown: usize,
    /// The permissions held by every known peer but at most one, with how many
    /// hold each: no other can be held by every peer but one principal.
    widely_held: Vec<(String, usize)>,
}

impl<'a> EndpointPeers<'a> {
    pub fn new(successes: &'a hashbrown::HashMap<SuccessKey, SuccessGroup>) -> Self {
        let mut by_endpoint: HashMap<(&str, &str), Peers> = HashMap::new();
        let mut by_field: HashMap<(&str, &str, &str), Peers> = HashMap::new();
        for (key, group) in successes {
            let (method, template) = (key.method(), key.template());
            by_endpoint
                .entry((method, template))
                .or_default()
                .succeeded(key.principal(), group.last_ts);
            for field in key.fields() {
                by_field
                    .entry((method, template, field))
                    .or_default()
                    .succeeded(key.principal(), group.last_ts);
            }
        }
        EndpointPeers {
            by_endpoint,
            by_field,
        }
    }
}

impl<'a> Peers<'a> {
    fn succeeded(&mut self, principal: &'a str, at: Millis) {
        let last = self.last_success.entry(principal).or_insert(at);
        *last = (*last).max(at);
    }

    /// What every peer but `principal` held at its last success, with how many
    /// they are (the caller weighs how few); `None` when there is none or some
    /// peer's grants are unknown: no safe inference then. When `principal`
    /// itself succeeded, what it did not hold then is not required either.
    fn shared_by_others(
        &self,
        principal: &str,
        history: &GrantHistory,
    ) -> Option<(BTreeSet<String>, usize)> {
        let held = self
            .held
            .get_or_init(|| HeldByPeers::new(&self.last_success, history));
        // The principal's own success does not count as a peer; it only bounds
        // the requirement by what it held then (peers that are all
        // administrators hold more than the endpoint needs).
        // `Some(None)`: it succeeded, holding what is unknown.
        let as_peer: Option<Option<&BTreeSet<String>>> = self
            .last_success
            .get(principal)
            .map(|at| history.as_of(principal, *at).map(|s| &s.grants.api));
        let others = self.last_success.len() - usize::from(as_peer.is_some());
        let unknown_others = held.unknown - usize::from(as_peer == Some(None));
        if others == 0 || unknown_others > 0 {
            return None;
        }
        let held_as_peer =
            |permission: &str| as_peer.flatten().is_some_and(|g| g.contains(permission));
        let shared = held
            .widely_held
            .iter()
            .filter(|(permission, holders)| {
                holders - usize::from(held_as_peer(permission)) == others
                    && as_peer.flatten().is_none_or(|own| own.contains(permission))
            })
            .map(|(permission, _)| permission.clone())
            .collect();
        Some((shared, others))
    }
}

impl HeldByPeers {
    fn new(last_success: &HashMap<&str, Millis>, history: &GrantHistory) -> Self {
        let mut unknown = 0;
        let mut holders: HashMap<&str, usize> = HashMap::new();
        for (peer, at) in last_success {
            match history.as_of(peer, *at) {
                Some(snapshot) => {
                    for permission in &snapshot.grants.api {
                        *holders.entry(permission).or_default() += 1;
                    }
                }
                None => unknown += 1,
            }
        }
        let widely_held = holders
            .into_iter()
            .filter(|(_, n)| n + 1 >= last_success.len())
            .map(|(permission, n)| (permission.to_string(), n))
            .collect();
        HeldByPeers {
            unknown,
            widely_held,
        }
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
            by_name: false,
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

/// The permissions every peer held when it last succeeded and this principal
/// lacks; all of them when it lacks none (then the roles suffice as far as the
/// peers show, and timing, the token or the request decides).
fn inferred_from_peers<'p>(
    key: &DenialKey,
    peers: &EndpointPeers,
    history: &GrantHistory,
    own_grants: Option<&BTreeSet<String>>,
    rule: PeerRule,
) -> Requirement<'p> {
    let Some(endpoint) = peers.by_endpoint.get(&(&*key.method, &*key.template)) else {
        return Requirement::default();
    };
    let Some((shared, others)) = endpoint.shared_by_others(&key.principal, history) else {
        return own_transition(key, peers, endpoint, history, own_grants);
    };
    let few = others < rule.min_peers;
    if few {
        let transition = own_transition(key, peers, endpoint, history, own_grants);
        if transition.source.is_some() {
            return transition;
        }
    }
    // What every peer held and this principal lacks is what it is asked to
    // gain. When it lacks none of it, the roles suffice as far as the peers
    // show: the requirement is all of it, and timing or the token decides.
    let lacks =
        |permission: &String| own_grants.is_none_or(|own| !own.contains(permission.as_str()));
    let lacking: BTreeSet<String> = shared.iter().filter(|p| lacks(p)).cloned().collect();
    let lacking = unrelated_dropped(lacking, &shared, &lacks, &key.method, &key.template);
    let by_fields = own_grants
        .map(|_| by_fields(key, peers, history, rule, &shared, &lacks))
        .unwrap_or_default();
    let mut permissions = if few {
        // Too few peers to show what the endpoint needs from what they
        // co-hold: only a lacking permission the name singles out.
        only_one_named(lacking, &key.method, &key.template, None)
            .into_iter()
            .collect()
    } else if lacking.is_empty() && own_grants.is_some() {
        // What it lacks of the shared set, if anything, is unrelated to the endpoint.
        shared.iter().filter(|p| !lacks(p)).cloned().collect()
    } else {
        closest_to_endpoint(lacking, &key.method, &key.template)
    };
    if permissions.is_empty() {
        return Requirement::default();
    }
    permissions.extend(by_fields.iter().cloned());
    Requirement {
        permissions,
        by_fields,
        source: Some(RequirementSource::Peers),
        peers: others,
        by_name: few,
        ..Default::default()
    }
}

/// Of the permissions fewer than `--min-peers` peers hold and the principal
/// lacks, the one whose name fits the endpoint (and names `field`, when one
/// is given) better than every other; none when names tie or fit nothing.
/// Few peers are often administrators, holding far more than the endpoint
/// needs: their holdings alone prove nothing, their one fitting name may.
fn only_one_named(
    lacking: BTreeSet<String>,
    method: &str,
    template: &str,
    field: Option<&str>,
) -> Option<String> {
    let mut closest = closest_to_endpoint(lacking, method, template).into_iter();
    let (Some(one), None) = (closest.next(), closest.next()) else {
        return None;
    };
    let names_field = field.is_none_or(|field| {
        one.split(['.', ':', '/', '_'])
            .any(|part| part.eq_ignore_ascii_case(field))
    });
    (named_like(&one, method, template) && names_field).then_some(one)
}

/// When too few peers succeed to infer from: the principal's own success on
/// the endpoint, holding what it lacked at the denial. The requirement was
/// within what it held then and not within what it held at the denial, so one
/// of the permissions that changed between is required: the one named like
/// the endpoint, or a choice (`a|b`) when names do not decide.
///
/// Only for the same request: an object the denials name must have been
/// allowed for the principal, and every field they touch touched by one of
/// its successes. A success on another object proves nothing about this
/// one, whose own ACL may refuse it whatever the roles.
fn own_transition<'p>(
    key: &DenialKey,
    peers: &EndpointPeers,
    endpoint: &Peers,
    history: &GrantHistory,
    own_grants: Option<&BTreeSet<String>>,
) -> Requirement<'p> {
    let (Some(own), Some(at)) = (own_grants, endpoint.last_success.get(&*key.principal)) else {
        return Requirement::default();
    };
    let same_object = !key.objects.named || key.objects.allowed_for_principal;
    let same_fields = key.fields.iter().all(|field| {
        peers
            .by_field
            .get(&(&*key.method, &*key.template, field.as_str()))
            .is_some_and(|p| p.last_success.contains_key(&*key.principal))
    });
    if !same_object || !same_fields {
        return Requirement::default();
    }
    let Some(then) = history.as_of(&key.principal, *at) else {
        return Requirement::default();
    };
    let changed: BTreeSet<String> = then
        .grants
        .api
        .iter()
        .filter(|p| !own.contains(*p))
        .cloned()
        .collect();
    if changed.is_empty() {
        return Requirement::default();
    }
    let several = changed.len() > 1;
    let closest = closest_to_endpoint(changed, &key.method, &key.template);
    let choice = closest.into_iter().collect::<Vec<_>>().join("|");
    Requirement {
        permissions: BTreeSet::from([choice]),
        source: Some(RequirementSource::OwnTransition),
        by_name: several,
        ..Default::default()
    }
}

/// For each body field the request touched, what every other peer that
/// succeeded touching it held beyond what all the endpoint's peers hold, and
/// this principal lacks: a field rule's permission, as the peers show it. Of
/// several, the name breaks the tie, with the field as one more word
/// (`PATCH /prices/{id}` touching `owner`: `prices.owner.update`).
fn by_fields(
    key: &DenialKey,
    peers: &EndpointPeers,
    history: &GrantHistory,
    rule: PeerRule,
    endpoint_shared: &BTreeSet<String>,
    lacks: &impl Fn(&String) -> bool,
) -> BTreeSet<String> {
    let mut required = BTreeSet::new();
    for field in key.fields.iter() {
        let Some(field_peers) = peers
            .by_field
            .get(&(&*key.method, &*key.template, field.as_str()))
        else {
            continue;
        };
        let Some((shared, others)) = field_peers.shared_by_others(&key.principal, history) else {
            continue;
        };
        let lacking: BTreeSet<String> = shared
            .iter()
            .filter(|p| !endpoint_shared.contains(*p) && lacks(p))
            .cloned()
            .collect();
        let named = format!("{}/{field}", key.template);
        let lacking = unrelated_dropped(lacking, &shared, &lacks, &key.method, &named);
        if others < rule.min_peers {
            required.extend(only_one_named(lacking, &key.method, &named, Some(field)));
        } else {
            required.extend(closest_to_endpoint(lacking, &key.method, &named));
        }
    }
    required
}

/// When fewer than `min_peers` principals succeed on the endpoint: how many
/// do, and what they all hold and this principal lacks (closest by name). A
/// candidate for a catalog rule to show the operator, never a conclusion.
pub fn few_peers_candidates(
    key: &DenialKey,
    peers: &EndpointPeers,
    history: &GrantHistory,
    own_grants: &BTreeSet<String>,
) -> Option<(usize, BTreeSet<String>)> {
    let found = inferred_from_peers(
        key,
        peers,
        history,
        Some(own_grants),
        PeerRule { min_peers: 1 },
    );
    let lacking: BTreeSet<String> = found
        .permissions
        .into_iter()
        .filter(|p| !own_grants.contains(p))
        .collect();
    (!lacking.is_empty()).then_some((found.peers, lacking))
}

/// Of several permissions peers co-hold, those whose names share most with
/// the endpoint (`DELETE /orders/{id}` and `orders.delete` share `orders` and
/// the verb); all of them when none shares anything. Peers that hold a role
/// hold every permission it bundles, so the data alone cannot separate them:
/// the name breaks the tie, and the finding stays low confidence (peers).
pub(super) fn closest_to_endpoint(
    candidates: BTreeSet<String>,
    method: &str,
    template: &str,
) -> BTreeSet<String> {
    if candidates.len() < 2 {
        return candidates;
    }
    let name = EndpointName::new(method, template);
    let best = candidates.iter().map(|p| name.fit(p)).max().unwrap_or(0);
    if best == 0 {
        return candidates;
    }
    candidates
        .into_iter()
        .filter(|p| name.fit(p) == best)
        .collect()
}

/// Whether `permission` shares a word or verb with the method and endpoint.
pub(super) fn named_like(permission: &str, method: &str, template: &str) -> bool {
    EndpointName::new(method, template).fit(permission) > 0
}

/// The words of a method and endpoint that a permission's name may share.
struct EndpointName {
    /// The verbs the method names first (`delete` for DELETE)…
    verbs: &'static [&'static str],
    /// …and the ones it also covers (`write` for DELETE).
    also: &'static [&'static str],
    words: BTreeSet<String>,
}

impl EndpointName {
    fn new(method: &str, template: &str) -> Self {
        let (verbs, also): (&[&str], &[&str]) = match method {
            "GET" | "HEAD" | "LIST" | "WATCH" => (&["read", "get", "list", "view"], &[]),
            "POST" | "CREATE" => (&["create", "write", "add"], &[]),
            "PUT" | "PATCH" | "UPDATE" => (&["update", "write", "edit"], &[]),
            "DELETE" => (&["delete", "remove"], &["write"]),
            _ => (&[], &[]),
        };
        let words = template
            .split(['/', '-', '_', '.'])
            .filter(|w| !w.is_empty() && !w.starts_with('{') && !is_version_segment(w))
            .map(str::to_ascii_lowercase)
            .collect();
        EndpointName { verbs, also, words }
    }

    /// How well `permission` names the endpoint; 0 when it shares nothing.
    fn fit(&self, permission: &str) -> usize {
        let parts: Vec<String> = permission
            .split(['.', ':', '/', '_'])
            .map(str::to_ascii_lowercase)
            .collect();
        let is_word = |p: &str| self.words.contains(p);
        let is_verb = |p: &str| self.verbs.contains(&p) || self.also.contains(&p);
        // Each word of the endpoint counts once: `orders.orders.delete` names
        // the endpoint `/orders/returns/{id}` less than `orders.returns.delete`.
        let nouns = parts
            .iter()
            .filter(|p| is_word(p))
            .collect::<BTreeSet<_>>()
            .len();
        let last = parts.last().map(String::as_str).unwrap_or_default();
        let verb = if self.verbs.contains(&last) {
            2
        } else {
            usize::from(self.also.contains(&last))
        };
        // Extra parts (`owner`, `price` in `orders.owner.update`) name more than the endpoint does.
        let named = parts.iter().filter(|p| is_word(p) || is_verb(p)).count();
        (nouns * 4 + verb).saturating_sub(parts.len() - named)
    }
}

/// Of what the principal lacks, the permissions that may be the endpoint's:
/// none when the principal holds a shared permission named like the endpoint
/// and nothing it lacks is (peers that also co-hold unrelated roles, as
/// `catalog.prices.read` beside `projects.tasks.write` for `PATCH
/// /projects/tasks/{id}`): the roles then suffice as far as the peers show.
/// Unchanged when names say nothing either way (permissions named unlike
/// their endpoints).
fn unrelated_dropped(
    lacking: BTreeSet<String>,
    shared: &BTreeSet<String>,
    lacks: &impl Fn(&String) -> bool,
    method: &str,
    template: &str,
) -> BTreeSet<String> {
    let name = EndpointName::new(method, template);
    let named = |p: &String| name.fit(p) > 0;
    let holds_named = shared.iter().any(|p| !lacks(p) && named(p));
    if holds_named && !lacking.iter().any(named) {
        BTreeSet::new()
    } else {
        lacking
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
    use crate::model::{ObjectFacts, RoleBinding, RoleDef};
    use std::collections::BTreeMap;

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

    /// `principal` holds `role` from the start.
    fn bind(principal: &str, role: &str) -> RoleBinding {
        RoleBinding {
            snapshot_at: 0,
            principal: principal.into(),
            role: role.into(),
            data_scope: None,
        }
    }

    fn role(name: &str, permissions: &[&str]) -> RoleDef {
        let permissions = permissions.iter().map(|p| p.to_string()).collect();
        RoleDef::api(name.into(), permissions, vec![])
    }

    /// What `svc`'s denial of `POST /assign` at `denied_at` (on `objects`) is
    /// found to need.
    fn svc_needs(
        successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
        history: &GrantHistory,
        (denied_at, objects): (Millis, ObjectFacts),
        min_peers: usize,
    ) -> (BTreeSet<String>, Option<RequirementSource>, usize, bool) {
        let peers = EndpointPeers::new(successes);
        let own = history.as_of("svc", denied_at).map(|s| &s.grants.api);
        let catalog = PolicyCatalog::default();
        let rule = PeerRule { min_peers };
        let key = DenialKey {
            objects,
            ..denial()
        };
        let got = requirement(&key, &[], &catalog, &peers, history, own, rule);
        (got.permissions, got.source, got.peers, got.by_name)
    }

    /// What `svc`, denied at `denied_at` and succeeding itself at
    /// `succeeded_at` (no other peer), is found to need given its bindings.
    fn from_own_success(
        bindings: &[(Millis, &str)],
        (denied_at, objects): (Millis, ObjectFacts),
        succeeded_at: Millis,
    ) -> (BTreeSet<String>, Option<RequirementSource>, usize, bool) {
        let roles = [
            role("Reader", &["read"]),
            role("Assigner", &["assign", "read"]),
            role("Bundle", &["ledger.close", "ledger.export", "read"]),
        ];
        let graph = RoleGraph::new(&roles);
        let bindings: Vec<RoleBinding> = bindings
            .iter()
            .map(|(at, role)| RoleBinding {
                snapshot_at: *at,
                ..bind("svc", role)
            })
            .collect();
        let history = GrantHistory::new(&bindings, &graph);
        let mut successes = hashbrown::HashMap::new();
        let (key, mut group) = success("svc");
        (group.first_ts, group.last_ts) = (succeeded_at, succeeded_at);
        successes.insert(key, group);
        svc_needs(&successes, &history, (denied_at, objects), 3)
    }

    #[test]
    fn its_own_success_after_a_grant_names_what_the_grant_added() {
        let granted = [(0, "Reader"), (60, "Reader"), (60, "Assigner")];
        let assign = BTreeSet::from(["assign".to_string()]);
        assert_eq!(
            from_own_success(&granted, (10, ObjectFacts::default()), 80),
            (
                assign.clone(),
                Some(RequirementSource::OwnTransition),
                0,
                false
            )
        );
        // Taken away: it succeeded holding it, then was denied without it.
        let revoked = [(0, "Assigner"), (60, "Reader")];
        assert_eq!(
            from_own_success(&revoked, (80, ObjectFacts::default()), 10).0,
            assign
        );
    }

    #[test]
    fn a_success_on_another_object_is_no_transition() {
        let granted = [(0, "Reader"), (60, "Reader"), (60, "Assigner")];
        let on = |allowed_for_principal| ObjectFacts {
            named: true,
            allowed_for_principal,
            ..ObjectFacts::default()
        };
        // Its object's own ACL may refuse it whatever the roles.
        assert_eq!(
            from_own_success(&granted, (10, on(false)), 80),
            (BTreeSet::new(), None, 0, false)
        );
        let (permissions, source, ..) = from_own_success(&granted, (10, on(true)), 80);
        assert_eq!(
            (permissions.len(), source),
            (1, Some(RequirementSource::OwnTransition))
        );
    }

    #[test]
    fn an_own_success_with_the_same_grants_names_nothing() {
        assert_eq!(
            from_own_success(&[(0, "Reader")], (10, ObjectFacts::default()), 80),
            (BTreeSet::new(), None, 0, false)
        );
    }

    #[test]
    fn a_grant_of_several_unnamed_permissions_leaves_a_choice() {
        let granted = [(0, "Reader"), (60, "Reader"), (60, "Bundle")];
        let choice = BTreeSet::from(["ledger.close|ledger.export".to_string()]);
        // The data cannot tell which: the names chose nothing, confidence stays low.
        assert_eq!(
            from_own_success(&granted, (10, ObjectFacts::default()), 80),
            (choice, Some(RequirementSource::OwnTransition), 0, true)
        );
    }

    #[test]
    fn peers_infer_what_they_all_hold_and_we_lack() {
        let roles = [
            role("Assigner", &["assign", "read"]),
            role("Reader", &["read"]),
            role("Extra", &["extra"]),
        ];
        let graph = RoleGraph::new(&roles);
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
        let assign = BTreeSet::from(["assign".to_string()]);
        assert_eq!(
            svc_needs(&successes, &history, (100, ObjectFacts::default()), 3),
            (assign.clone(), Some(RequirementSource::Peers), 3, false)
        );
        // Fewer than --min-peers: only what the name singles out, by name.
        assert_eq!(
            svc_needs(&successes, &history, (100, ObjectFacts::default()), 4),
            (assign, Some(RequirementSource::Peers), 3, true)
        );
    }

    #[test]
    fn peers_touching_a_field_show_what_the_field_needs() {
        let role = |name: &str, permissions: &[&str]| {
            RoleDef::api(
                name.into(),
                permissions.iter().map(|p| p.to_string()).collect(),
                vec![],
            )
        };
        let graph = RoleGraph::new(&[
            role("Writer", &["prices.write"]),
            role(
                "Admin",
                &["prices.write", "prices.owner.update", "prices.price.update"],
            ),
        ]);
        let history = GrantHistory::new(
            &[
                bind("a", "Admin"),
                bind("b", "Admin"),
                bind("c", "Admin"),
                bind("d", "Writer"),
                bind("svc", "Writer"),
            ],
            &graph,
        );
        let touching = |who: &str, field: &str| {
            (
                SuccessKey::new(who, "PATCH", "/prices/{id}", None, &[field]),
                SuccessGroup {
                    count: 1,
                    first_ts: 50,
                    last_ts: 50,
                },
            )
        };
        let denied = DenialKey {
            principal: "svc".into(),
            method: "PATCH".into(),
            template: "/prices/{id}".into(),
            status: 403,
            fields: vec!["owner".into()].into(),
            ..DenialKey::default()
        };
        let own = history.as_of("svc", 100).map(|s| s.grants.api.clone());
        let catalog = PolicyCatalog::default();
        let rule = PeerRule { min_peers: 3 };
        let infer = |successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>| {
            let peers = EndpointPeers::new(successes);
            let got = requirement(&denied, &[], &catalog, &peers, &history, own.as_ref(), rule);
            (got.permissions, got.by_fields)
        };
        // Admins edit the owner; everyone edits the note. Of what the admins
        // hold beyond the endpoint's peers, the field's name picks the owner's.
        let mut successes: hashbrown::HashMap<_, _> = [
            touching("a", "owner"),
            touching("b", "owner"),
            touching("c", "owner"),
            touching("d", "note"),
        ]
        .into_iter()
        .collect();
        let owner = BTreeSet::from(["prices.owner.update".to_string()]);
        assert_eq!(
            infer(&successes),
            (
                BTreeSet::from(["prices.owner.update".into(), "prices.write".into()]),
                owner.clone()
            )
        );
        // Two principals touching the field are fewer than --min-peers: only
        // a permission that names the field, and no other does, is its need.
        successes.remove(&touching("c", "owner").0);
        successes.insert(touching("c", "note").0, touching("c", "note").1);
        assert_eq!(infer(&successes).1, owner);
        // A field no permission names: its need stays unknown.
        let denied = DenialKey {
            fields: vec!["colour".into()].into(),
            ..denied
        };
        successes.insert(touching("a", "colour").0, touching("a", "colour").1);
        let peers = EndpointPeers::new(&successes);
        let got = requirement(&denied, &[], &catalog, &peers, &history, own.as_ref(), rule);
        assert!(got.by_fields.is_empty());
    }

    #[test]
    fn co_held_permissions_unlike_the_endpoint_are_not_asked_for() {
        let shared: BTreeSet<String> = [
            "catalog.prices.read",
            "projects.tasks.read",
            "projects.tasks.write",
            "vendors.read",
        ]
        .map(str::to_string)
        .into();
        let holds = |held: &'static [&'static str]| move |p: &String| !held.contains(&p.as_str());
        let lacking = |lacks: &dyn Fn(&String) -> bool| -> BTreeSet<String> {
            shared.iter().filter(|p| lacks(p)).cloned().collect()
        };
        // Holds what names the endpoint, lacks only what does not: nothing to ask.
        let lacks = holds(&["projects.tasks.read", "projects.tasks.write"]);
        let dropped = unrelated_dropped(
            lacking(&lacks),
            &shared,
            &lacks,
            "PATCH",
            "/v1/projects/tasks/{id}",
        );
        assert!(dropped.is_empty(), "{dropped:?}");
        // Lacks what names the endpoint: kept, the unrelated one too (the name narrows later).
        let lacks = holds(&["projects.tasks.read"]);
        assert_eq!(
            unrelated_dropped(
                lacking(&lacks),
                &shared,
                &lacks,
                "PATCH",
                "/v1/projects/tasks/{id}"
            )
            .len(),
            3
        );
        // Holds nothing named like the endpoint: the names say nothing, all stay.
        let lacks = holds(&["catalog.prices.read"]);
        assert_eq!(
            unrelated_dropped(lacking(&lacks), &shared, &lacks, "GET", "/x/{id}").len(),
            3
        );
        // `vendors` is a word, `v1` a version.
        let lacks = holds(&["catalog.prices.read", "projects.tasks.write"]);
        assert_eq!(
            unrelated_dropped(lacking(&lacks), &shared, &lacks, "GET", "/v1/vendors"),
            BTreeSet::from([
                "projects.tasks.read".to_string(),
                "vendors.read".to_string()
            ])
        );
    }

    #[test]
    fn a_peer_inferred_part_is_narrowed_by_name_a_stated_one_is_not() {
        let key = DenialKey {
            method: "GET".into(),
            template: "/hr/absences/{id}".into(),
            ..DenialKey::default()
        };
        let co_held = || {
            ["hr.absences.read", "hr.employees.read"]
                .map(str::to_string)
                .into_iter()
        };
        let peers = Requirement {
            source: Some(RequirementSource::Peers),
            ..Default::default()
        };
        assert_eq!(peers.narrowed(co_held(), &key), ["hr.absences.read"]);
        let stated = Requirement {
            source: Some(RequirementSource::PolicyCatalog),
            ..Default::default()
        };
        assert_eq!(stated.narrowed(co_held(), &key).len(), 2);
    }

    /// What inference gave before peers were tallied: every peer but the
    /// principal, intersected one by one. The oracle for [`inferred_from_peers`].
    fn intersecting_every_peer(
        successes: &hashbrown::HashMap<SuccessKey, SuccessGroup>,
        key: &DenialKey,
        history: &GrantHistory,
        own_grants: Option<&BTreeSet<String>>,
        rule: PeerRule,
    ) -> (BTreeSet<String>, Option<RequirementSource>, usize) {
        let mut others: BTreeMap<&str, Millis> = BTreeMap::new();
        for (k, g) in successes {
            if (k.method(), k.template()) == (&*key.method, &*key.template)
                && k.principal() != &*key.principal
            {
                let last = others.entry(k.principal()).or_insert(g.last_ts);
                *last = (*last).max(g.last_ts);
            }
        }
        let held: Vec<&BTreeSet<String>> = others
            .iter()
            .filter_map(|(p, ts)| history.as_of(p, *ts).map(|s| &s.grants.api))
            .collect();
        if held.len() < rule.min_peers.max(1) || held.len() < others.len() {
            return (BTreeSet::new(), None, 0);
        }
        let mut common: BTreeSet<String> = held[0].clone();
        for grants in &held[1..] {
            common.retain(|p| grants.contains(p));
        }
        // Its own success bounds the requirement by what it held then.
        let own_last = successes
            .iter()
            .filter(|(k, _)| {
                (k.principal(), k.method(), k.template())
                    == (&*key.principal, &*key.method, &*key.template)
            })
            .map(|(_, g)| g.last_ts)
            .max();
        if let Some(then) = own_last.and_then(|at| history.as_of(&key.principal, at)) {
            common.retain(|p| then.grants.api.contains(p));
        }
        // What the principal lacks of it; all of it when it lacks nothing.
        if let Some(own) = own_grants {
            let lacking: BTreeSet<String> = common
                .iter()
                .filter(|p| !own.contains(*p))
                .cloned()
                .collect();
            if !lacking.is_empty() {
                common = lacking;
            }
        }
        if common.is_empty() {
            return (BTreeSet::new(), None, 0);
        }
        (common, Some(RequirementSource::Peers), held.len())
    }

    #[test]
    fn the_name_breaks_a_tie_between_co_held_permissions() {
        let co_held: BTreeSet<String> = [
            "orders.orders.delete",
            "orders.orders.owner.update",
            "orders.returns.delete",
        ]
        .map(str::to_string)
        .into();
        assert_eq!(
            closest_to_endpoint(co_held.clone(), "DELETE", "/api/v1/orders/orders/{id}"),
            BTreeSet::from(["orders.orders.delete".to_string()])
        );
        // A word of the endpoint named twice counts once; the method's own verb beats one it covers.
        let same_words: BTreeSet<String> = [
            "orders.orders.delete",
            "orders.returns.delete",
            "orders.returns.write",
        ]
        .map(str::to_string)
        .into();
        assert_eq!(
            closest_to_endpoint(same_words, "DELETE", "/api/v1/orders/returns/{id}"),
            BTreeSet::from(["orders.returns.delete".to_string()])
        );
        // Nothing in common with the endpoint: the data cannot tell, all stay.
        assert_eq!(
            closest_to_endpoint(co_held.clone(), "GET", "/x/{id}"),
            co_held
        );
        let one = BTreeSet::from(["a.b".to_string()]);
        assert_eq!(closest_to_endpoint(one.clone(), "GET", "/a/b"), one);
    }

    proptest::proptest! {
        #[test]
        fn tallied_peers_infer_what_intersecting_every_peer_infers(
            roles in proptest::collection::vec(proptest::collection::btree_set(0..5u8, 0..4), 4),
            bindings in proptest::collection::vec((0..5usize, 0..3i64, proptest::option::of(0..4usize)), 0..12),
            succeeded in proptest::collection::vec((0..5usize, 0..2usize, proptest::option::of(0..2u8), 0..30i64), 0..12),
            min_peers in 0..4usize,
        ) {
            let roles: Vec<RoleDef> = roles
                .iter()
                .enumerate()
                .map(|(i, permissions)| RoleDef {
                    role: format!("R{i}"),
                    permissions: permissions.iter().map(|p| format!("q{p}")).collect(),
                    inherits: vec![],
                    plane: "api".into(),
                    defined_at: None,
                    denies: vec![],
                })
                .collect();
            let graph = RoleGraph::new(&roles);
            let bindings: Vec<RoleBinding> = bindings
                .iter()
                .map(|(principal, at, role)| RoleBinding {
                    snapshot_at: at * 10,
                    principal: format!("p{principal}"),
                    role: role.map(|r| format!("R{r}")).unwrap_or_default(),
                    data_scope: None,
                })
                .collect();
            let history = GrantHistory::new(&bindings, &graph);
            let successes: hashbrown::HashMap<_, _> = succeeded
                .iter()
                .map(|(principal, endpoint, org, last_ts)| {
                    let org = org.map(|o| format!("org{o}"));
                    let key = SuccessKey::new::<&str>(
                        &format!("p{principal}"),
                        "POST",
                        &format!("/e{endpoint}"),
                        org.as_deref(),
                        &[],
                    );
                    (key, SuccessGroup { count: 1, first_ts: 0, last_ts: *last_ts })
                })
                .collect();
            let peers = EndpointPeers::new(&successes);
            let catalog = PolicyCatalog::default();
            let rule = PeerRule { min_peers };
            // p5 never succeeds; /e2 has no peers.
            for (principal, endpoint) in (0..6).flat_map(|p| (0..3).map(move |e| (p, e))) {
                let key = DenialKey {
                    principal: format!("p{principal}").into(),
                    method: "POST".into(),
                    template: format!("/e{endpoint}").into(),
                    status: 403,
                    ..DenialKey::default()
                };
                let own = history.as_of(&key.principal, 100).map(|s| &s.grants.api);
                let got = requirement(&key, &[], &catalog, &peers, &history, own, rule);
                let want = intersecting_every_peer(&successes, &key, &history, own, rule);
                // Its own transition speaks only where the peers cannot.
                if got.source == Some(RequirementSource::OwnTransition) {
                    proptest::prop_assert_eq!(want, (BTreeSet::new(), None, 0));
                } else {
                    proptest::prop_assert_eq!((got.permissions, got.source, got.peers), want);
                }
            }
        }
    }
}
