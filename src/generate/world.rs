//! The generated organisation: services with endpoints and policy rules, roles,
//! principals with their bindings over time, grants every few minutes, a role
//! revoked at 02:00, and hourly tokens. [`World::outcome`] is the access-control
//! decision the generated servers make; its answer is what the truth file records.
//!
//! The decision is written from what the world *is* (which bindings exist, when a
//! grant lands, what the client asks for), never from what grantgap infers from
//! the log, so the evaluation measures grantgap and not a copy of it.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::diagnose::Cause;
use crate::model::Millis;

/// Services, each with two resources; the first flag marks data-scoped services,
/// whose requests carry an org and whose bindings may be limited to orgs.
pub const SERVICES: [(&str, [&str; 2], bool); 8] = [
    ("orders", ["orders", "returns"], false),
    ("billing", ["invoices", "payments"], false),
    ("inventory", ["items", "lots"], true),
    ("maintenance", ["workorders", "assets"], false),
    ("projects", ["tasks", "timesheets"], false),
    ("hr", ["employees", "absences"], true),
    ("shipping", ["shipments", "carriers"], true),
    ("catalog", ["products", "prices"], false),
];

/// Data scopes.
pub const ORGS: [&str; 3] = ["ORG-EU", "ORG-US", "ORG-APAC"];
/// Body fields guarded by a field rule of every update endpoint.
pub const GUARDED_FIELDS: [&str; 2] = ["price", "owner"];
/// Body fields any writer may touch.
pub const PLAIN_FIELDS: [&str; 3] = ["note", "quantity", "status"];

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
/// Clients refresh their token a minute before the hour it lives runs out.
pub const TOKEN_REFRESH: Millis = 59 * MINUTE;
pub const TOKEN_LIFETIME: Millis = HOUR;
/// A grant lands every ten minutes, one minute past the ten.
pub const GRANT_EVERY: Millis = 10 * MINUTE;
const GRANT_OFFSET: Millis = MINUTE;
/// Full snapshots of every principal's bindings.
pub const SNAPSHOT_EVERY: Millis = 6 * HOUR;
/// The burst: this principal loses its main role at 02:00 and gets it back at 10:00.
pub const BURST_PRINCIPAL: usize = 2;
const BURST_REVOKED: Millis = 2 * HOUR;
const BURST_RESTORED: Millis = 10 * HOUR;

/// What an endpoint does; each resource has all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    List,
    Get,
    Create,
    Update,
    Delete,
    /// `POST …/{id}/lock`: the gateway never published it.
    Lock,
    /// `POST …/{id}/attachments`: no policy rule, and nobody succeeds on it.
    Attach,
}

impl Op {
    pub fn method(self) -> &'static str {
        match self {
            Op::List | Op::Get => "GET",
            Op::Create | Op::Lock | Op::Attach => "POST",
            Op::Update => "PATCH",
            Op::Delete => "DELETE",
        }
    }

    /// Whether the path names one object.
    pub fn has_object(self) -> bool {
        !matches!(self, Op::List | Op::Create)
    }

    /// The level of role it needs: read 0, write 1, delete 2; `None` for no rule.
    fn level(self) -> Option<u8> {
        match self {
            Op::List | Op::Get => Some(0),
            Op::Create | Op::Update | Op::Lock => Some(1),
            Op::Delete => Some(2),
            Op::Attach => None,
        }
    }
}

/// One endpoint: a service, one of its resources, an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub service: usize,
    pub resource: usize,
    pub op: Op,
}

impl Endpoint {
    fn names(&self) -> (&'static str, &'static str) {
        let (service, resources, _) = SERVICES[self.service];
        (service, resources[self.resource])
    }

    pub fn data_scoped(&self) -> bool {
        SERVICES[self.service].2
    }

    /// The path with `{id}` where the object goes.
    pub fn template(&self) -> String {
        let (service, resource) = self.names();
        let base = format!("/api/v1/{service}/{resource}");
        match self.op {
            Op::List | Op::Create => base,
            Op::Get | Op::Update | Op::Delete => format!("{base}/{{id}}"),
            Op::Lock => format!("{base}/{{id}}/lock"),
            Op::Attach => format!("{base}/{{id}}/attachments"),
        }
    }

    /// The path of a request on `object`.
    pub fn path(&self, object: Option<u64>) -> String {
        match object {
            Some(id) => self.template().replace("{id}", &id.to_string()),
            None => self.template(),
        }
    }

    /// What the policy rule requires, before field rules; `None` without a rule.
    pub fn required(&self) -> Option<Vec<String>> {
        let level = self.op.level()?;
        Some(vec![permission(self.service, self.resource, level)])
    }
}

/// `inventory.items.read`, `.write` or `.delete`.
pub fn permission(service: usize, resource: usize, level: u8) -> String {
    let (name, resources, _) = SERVICES[service];
    let verb = ["read", "write", "delete"][level as usize];
    format!("{name}.{}.{verb}", resources[resource])
}

/// `catalog.prices.price.update`: what a guarded field needs.
pub fn field_permission(service: usize, resource: usize, field: &str) -> String {
    let (name, resources, _) = SERVICES[service];
    format!("{name}.{}.{field}.update", resources[resource])
}

/// Role names per service and level: API Reader, Writer, Admin.
pub fn role_name(service: usize, level: u8) -> String {
    let name = capitalise(SERVICES[service].0);
    let kind = ["Reader", "Writer", "Admin"][level as usize];
    format!("{name} API {kind}")
}

/// The application-plane role of a service: it grants in the UI, not to API calls.
pub fn ui_role_name(service: usize) -> String {
    format!("{} Manager", capitalise(SERVICES[service].0))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The API permissions a role of `level` grants on `service`, inheritance expanded.
pub fn role_permissions(service: usize, level: u8) -> BTreeSet<String> {
    let mut perms = BTreeSet::new();
    for resource in 0..2 {
        for l in 0..=level {
            perms.insert(permission(service, resource, l));
        }
        if level == 2 {
            for field in GUARDED_FIELDS {
                perms.insert(field_permission(service, resource, field));
            }
        }
    }
    perms
}

/// A role held over an interval: `[from, until)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub service: usize,
    pub level: u8,
    /// The application-plane role instead of an API role.
    pub ui: bool,
    /// The only org it grants in; `None` for all.
    pub org: Option<usize>,
    pub from: Millis,
    pub until: Millis,
}

impl Binding {
    pub fn role(&self) -> String {
        if self.ui {
            ui_role_name(self.service)
        } else {
            role_name(self.service, self.level)
        }
    }

    fn active(&self, t: Millis) -> bool {
        self.from <= t && t < self.until
    }

    fn grants(&self, perm: &str) -> bool {
        !self.ui && role_permissions(self.service, self.level).contains(perm)
    }
}

/// One service account.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub bindings: Vec<Binding>,
    /// The org its data-scoped work happens in.
    pub home_org: usize,
    /// A permission its roles grant that its client never asks a token for.
    pub unrequested: Option<String>,
    /// Where the token refresh falls in each hour.
    pub token_offset: Millis,
    /// The services of its everyday traffic (its bindings at the start).
    pub services: Vec<(usize, u8, Option<usize>)>,
}

impl Principal {
    /// API permissions held at `t`, in any org.
    pub fn held(&self, t: Millis) -> BTreeSet<String> {
        self.held_where(t, |_| true)
    }

    fn held_where(&self, t: Millis, keep: impl Fn(&Binding) -> bool) -> BTreeSet<String> {
        self.bindings
            .iter()
            .filter(|b| b.active(t) && !b.ui && keep(b))
            .flat_map(|b| role_permissions(b.service, b.level))
            .collect()
    }

    /// Since when `perm` has been held without a break at `t`; `None` if since
    /// before the first snapshot (nothing observed it arrive).
    fn held_since(&self, t: Millis, perm: &str, start: Millis) -> Option<Millis> {
        let covering = |x: Millis| {
            self.bindings
                .iter()
                .filter(move |b| b.grants(perm) && b.active(x))
                .map(|b| b.from)
                .min()
        };
        let mut at = t;
        loop {
            let from = covering(at)?;
            if from <= start {
                return None;
            }
            match covering(from - 1) {
                Some(_) => at = from - 1,
                None => return Some(from),
            }
        }
    }

    /// The token in use at `t`, by hour index (see [`World::token`]).
    pub fn token_at(&self, start: Millis, t: Millis) -> i64 {
        (t - start - self.token_offset)
            .div_euclid(TOKEN_REFRESH)
            .max(-1)
    }
}

/// A token as issued.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: String,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub scopes: BTreeSet<String>,
}

/// One request as the client sent it, before the server answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub principal: usize,
    pub ts: Millis,
    pub endpoint: Endpoint,
    pub object: Option<u64>,
    pub org: Option<usize>,
    pub fields: Vec<&'static str>,
    /// Hour index of the token sent.
    pub token: i64,
    /// What only the server knows about the request or its object.
    pub condition: Condition,
}

/// Server-side facts the log cannot show directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    #[default]
    None,
    ExplicitDeny,
    /// A control above the principal's grants (an organization's policy) refuses it.
    Guardrail,
    WorkflowLocked,
    GatewayUnpublished,
    /// The object does not exist; the server answers 403 rather than reveal it,
    /// and `hinted` says whether its message admits it.
    Missing {
        hinted: bool,
    },
    /// The object's own ACL leaves the principal out.
    Restricted,
}

/// What the server decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Allowed,
    Denied { cause: Cause, missing: Vec<String> },
}

/// Everything generated up front: small enough to hold, shared by all workers.
#[derive(Debug, Clone)]
pub struct World {
    pub start: Millis,
    pub end: Millis,
    pub principals: Vec<Principal>,
    /// Cumulative traffic weights (a long tail: Zipf, s = 1.1).
    weights: Vec<f64>,
    /// Per grant slot: the principal and the binding index granted, if any.
    pub grants: Vec<Option<(usize, usize)>>,
    /// How long a grant takes to reach the service (`--propagation`).
    pub propagation: Millis,
}

impl World {
    /// Builds the principals, their bindings and the grants from the seed.
    pub fn new(
        seed: u64,
        principals: usize,
        start: Millis,
        days: u32,
        propagation: Millis,
    ) -> World {
        let end = start + days as Millis * 24 * HOUR;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0fa1);
        let mut people: Vec<Principal> = (0..principals)
            .map(|i| new_principal(&mut rng, i, start))
            .collect();
        let mut grants = Vec::new();
        let slots = ((end - start - GRANT_OFFSET) / GRANT_EVERY).max(0);
        for slot in 0..slots {
            let at = start + GRANT_OFFSET + slot * GRANT_EVERY;
            let who = rng.random_range(0..principals);
            let p = &mut people[who];
            let free: Vec<usize> = (0..SERVICES.len())
                .filter(|s| !p.bindings.iter().any(|b| b.service == *s && !b.ui))
                .collect();
            if free.is_empty() || who == BURST_PRINCIPAL {
                grants.push(None);
                continue;
            }
            let service = free[rng.random_range(0..free.len())];
            let org = (SERVICES[service].2 && rng.random_bool(0.5)).then_some(p.home_org);
            p.bindings.push(Binding {
                service,
                level: rng.random_range(0..2),
                ui: false,
                org,
                from: at,
                until: Millis::MAX,
            });
            grants.push(Some((who, p.bindings.len() - 1)));
        }
        let mut total = 0.0;
        let weights = (0..principals)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(1.1);
                total
            })
            .collect();
        World {
            start,
            end,
            principals: people,
            weights,
            grants,
            propagation,
        }
    }

    /// A principal drawn by traffic weight.
    pub fn pick_principal(&self, rng: &mut impl Rng) -> usize {
        let total = *self.weights.last().expect("at least one principal");
        let x = rng.random::<f64>() * total;
        self.weights
            .partition_point(|w| *w <= x)
            .min(self.weights.len() - 1)
    }

    /// The grant slot in effect at `t` and its time.
    pub fn grant_slot(&self, t: Millis) -> Option<(usize, Millis)> {
        let slot = (t - self.start - GRANT_OFFSET).checked_div(GRANT_EVERY)?;
        (t >= self.start + GRANT_OFFSET && (slot as usize) < self.grants.len()).then(|| {
            (
                slot as usize,
                self.start + GRANT_OFFSET + slot * GRANT_EVERY,
            )
        })
    }

    /// Token `hour` of principal `p`: issued every [`TOKEN_REFRESH`], living an hour,
    /// with the scopes the client asks for that the roles grant at issue.
    pub fn token(&self, p: usize, hour: i64) -> Token {
        let principal = &self.principals[p];
        let issued_at = self.start + principal.token_offset + hour * TOKEN_REFRESH;
        let scopes = principal
            .held(issued_at)
            .into_iter()
            .filter(|s| principal.unrequested.as_ref() != Some(s))
            .collect();
        Token {
            id: Self::token_id(p, hour),
            issued_at,
            expires_at: issued_at + TOKEN_LIFETIME,
            scopes,
        }
    }

    /// The id of token `hour` of principal `p`.
    pub fn token_id(p: usize, hour: i64) -> String {
        format!("tok-{p:05}-{}", hour + 1)
    }

    /// Every token issued in the period, per principal in hour order.
    pub fn token_hours(&self) -> std::ops::RangeInclusive<i64> {
        -1..=((self.end - self.start) / TOKEN_REFRESH + 1)
    }

    /// Instants at which snapshots are taken: every [`SNAPSHOT_EVERY`] for everyone,
    /// and at each change for the principal it concerns.
    pub fn snapshot_times(&self) -> Vec<(Millis, Option<usize>)> {
        let mut times: Vec<(Millis, Option<usize>)> = (0..)
            .map(|k| self.start + k * SNAPSHOT_EVERY)
            .take_while(|t| *t < self.end)
            .map(|t| (t, None))
            .collect();
        for (i, p) in self.principals.iter().enumerate() {
            for b in &p.bindings {
                for t in [b.from, b.until] {
                    if t > self.start && t < self.end {
                        times.push((t, Some(i)));
                    }
                }
            }
        }
        times.sort();
        times.dedup();
        times
    }

    /// What the server answers. The order is the servers' own: the gateway and
    /// policies first, then the token, the object's existence, roles, data scope,
    /// the permission cache, the token's scopes, and the object's ACL.
    pub fn outcome(&self, r: &Request) -> Outcome {
        let denied = |cause, missing| Outcome::Denied { cause, missing };
        match r.condition {
            Condition::ExplicitDeny => return denied(Cause::ExplicitDeny, vec![]),
            Condition::Guardrail => return denied(Cause::Guardrail, vec![]),
            Condition::WorkflowLocked => return denied(Cause::WorkflowState, vec![]),
            Condition::GatewayUnpublished => return denied(Cause::GatewayPolicy, vec![]),
            _ => {}
        }
        let token = self.token(r.principal, r.token);
        if r.ts > token.expires_at {
            return denied(Cause::TokenExpired, vec![]);
        }
        if let Condition::Missing { .. } = r.condition {
            return denied(Cause::MaskedNotFound, vec![]);
        }
        let Some(mut required) = r.endpoint.required() else {
            // An undocumented check nobody passes: nothing in the log names it.
            return denied(Cause::Unknown, vec![]);
        };
        let by_fields: Vec<String> = if r.endpoint.op == Op::Update {
            r.fields
                .iter()
                .filter(|f| GUARDED_FIELDS.contains(f))
                .map(|f| field_permission(r.endpoint.service, r.endpoint.resource, f))
                .collect()
        } else {
            vec![]
        };
        required.extend(by_fields.iter().cloned());
        let p = &self.principals[r.principal];
        let held = p.held(r.ts);
        let lacking: Vec<String> = required
            .iter()
            .filter(|q| !held.contains(*q))
            .cloned()
            .collect();
        if !lacking.is_empty() {
            let cause = if lacking.iter().all(|q| by_fields.contains(q)) {
                Cause::FieldLevel
            } else {
                Cause::MissingPermission
            };
            return denied(cause, lacking);
        }
        if let (true, Some(org)) = (r.endpoint.data_scoped(), r.org) {
            let here = p.held_where(r.ts, |b| b.org.is_none_or(|o| o == org));
            if required.iter().any(|q| !here.contains(q)) {
                return denied(Cause::DataScope, vec![]);
            }
        }
        let since: Vec<(String, Millis)> = required
            .iter()
            .filter_map(|q| Some((q.clone(), p.held_since(r.ts, q, self.start)?)))
            .collect();
        let syncing: Vec<String> = since
            .iter()
            .filter(|(_, at)| r.ts - at <= self.propagation)
            .map(|(q, _)| q.clone())
            .collect();
        if !syncing.is_empty() {
            return denied(Cause::PropagationDelay, syncing);
        }
        let lacking: Vec<String> = required
            .iter()
            .filter(|q| !token.scopes.contains(*q))
            .cloned()
            .collect();
        if !lacking.is_empty() {
            let granted_at = since.iter().map(|(_, at)| *at).max();
            let cause = match granted_at {
                Some(g) if token.issued_at < g => Cause::StaleToken,
                _ => Cause::ScopeNotRequested,
            };
            return denied(cause, lacking);
        }
        if r.condition == Condition::Restricted {
            return denied(Cause::ObjectAcl, vec![]);
        }
        Outcome::Allowed
    }

    /// The rows of the policy catalog.
    pub fn policies(&self) -> Vec<serde_json::Value> {
        let mut rows = Vec::new();
        for service in 0..SERVICES.len() {
            for resource in 0..2 {
                for op in [
                    Op::List,
                    Op::Get,
                    Op::Create,
                    Op::Update,
                    Op::Delete,
                    Op::Lock,
                ] {
                    let e = Endpoint {
                        service,
                        resource,
                        op,
                    };
                    let mut row = serde_json::json!({
                        "method": op.method(),
                        "path": e.template(),
                        "all_of": e.required(),
                        "data_scoped": e.data_scoped(),
                    });
                    if op == Op::Update {
                        let fields: BTreeMap<&str, String> = GUARDED_FIELDS
                            .iter()
                            .map(|f| (*f, field_permission(service, resource, f)))
                            .collect();
                        row["fields"] = serde_json::json!(fields);
                    }
                    rows.push(row);
                }
            }
        }
        rows
    }

    /// The rows of the role catalog.
    pub fn roles(&self) -> Vec<serde_json::Value> {
        let mut rows = Vec::new();
        for service in 0..SERVICES.len() {
            for level in 0..3u8 {
                let own: BTreeSet<String> = if level == 0 {
                    role_permissions(service, 0)
                } else {
                    role_permissions(service, level)
                        .difference(&role_permissions(service, level - 1))
                        .cloned()
                        .collect()
                };
                let mut row =
                    serde_json::json!({"role": role_name(service, level), "permissions": own});
                if level > 0 {
                    row["inherits"] = serde_json::json!([role_name(service, level - 1)]);
                }
                rows.push(row);
            }
            rows.push(serde_json::json!({
                "role": ui_role_name(service),
                "plane": "application",
                "permissions": role_permissions(service, 2),
            }));
        }
        rows
    }
}

fn new_principal(rng: &mut ChaCha8Rng, i: usize, start: Millis) -> Principal {
    let primary = rng.random_range(0..SERVICES.len());
    let home_org = rng.random_range(0..ORGS.len());
    let mut services = vec![primary];
    for _ in 0..rng.random_range(0..3) {
        let s = rng.random_range(0..SERVICES.len());
        if !services.contains(&s) {
            services.push(s);
        }
    }
    let mut bindings = Vec::new();
    let mut everyday = Vec::new();
    for (k, &service) in services.iter().enumerate() {
        let level = match (k, rng.random::<f64>()) {
            _ if i == BURST_PRINCIPAL && k == 0 => 1,
            (0, x) if x < 0.30 => 0,
            (0, x) if x < 0.85 => 1,
            (0, _) => 2,
            (_, x) if x < 0.7 => 0,
            _ => 1,
        };
        let org = (SERVICES[service].2 && rng.random_bool(0.7)).then_some(home_org);
        everyday.push((service, level, org));
        let binding = Binding {
            service,
            level,
            ui: false,
            org,
            from: Millis::MIN,
            until: Millis::MAX,
        };
        if i == BURST_PRINCIPAL && k == 0 {
            bindings.push(Binding {
                until: start + BURST_REVOKED,
                ..binding.clone()
            });
            bindings.push(Binding {
                from: start + BURST_RESTORED,
                ..binding
            });
        } else {
            bindings.push(binding);
        }
    }
    // The seed thread's trap: a UI role that looks like it grants writes.
    if everyday[0].1 == 0 && rng.random_bool(0.4) {
        bindings.push(Binding {
            service: primary,
            level: 2,
            ui: true,
            org: None,
            from: Millis::MIN,
            until: Millis::MAX,
        });
    }
    // A write or delete permission of a held role that the client never asks
    // for: reads stay asked for, so everyday traffic still flows.
    let (service, level, _) = everyday[rng.random_range(0..everyday.len())];
    let unrequested = (level > 0 && rng.random_bool(0.25))
        .then(|| permission(service, rng.random_range(0..2), rng.random_range(1..=level)));
    Principal {
        name: format!("svc-{}-{i:04}", SERVICES[primary].0),
        bindings,
        home_org,
        unrequested,
        token_offset: rng.random_range(0..TOKEN_REFRESH),
        services: everyday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Millis = 1_793_577_600_000; // 2026-11-02T00:00:00Z

    fn world() -> World {
        World::new(9, 50, START, 1, 10 * MINUTE)
    }

    fn read(w: &World, p: usize, service: usize, ts: Millis) -> Request {
        let principal = &w.principals[p];
        let endpoint = Endpoint {
            service,
            resource: 0,
            op: Op::Get,
        };
        Request {
            principal: p,
            ts,
            endpoint,
            object: Some(100_001),
            org: endpoint.data_scoped().then_some(principal.home_org),
            fields: vec![],
            token: principal.token_at(START, ts),
            condition: Condition::None,
        }
    }

    fn cause(outcome: Outcome) -> Option<Cause> {
        match outcome {
            Outcome::Allowed => None,
            Outcome::Denied { cause, .. } => Some(cause),
        }
    }

    #[test]
    fn the_revoked_role_denies_from_two_until_ten_then_syncs_then_the_old_token_is_stale() {
        let w = world();
        let p = BURST_PRINCIPAL;
        let service = w.principals[p].services[0].0;
        let at = |h: Millis, m: Millis| {
            cause(w.outcome(&read(&w, p, service, START + h * HOUR + m * MINUTE)))
        };
        assert_eq!(at(1, 0), None);
        assert_eq!(at(3, 0), Some(Cause::MissingPermission));
        assert_eq!(at(10, 5), Some(Cause::PropagationDelay));
        // The token in use at 10:15 was issued before 10:00 (hourly refresh), unless
        // the refresh fell between 10:00 and 10:15.
        let token = w.token(
            p,
            w.principals[p].token_at(START, START + 10 * HOUR + 15 * MINUTE),
        );
        let expected = if token.issued_at < START + 10 * HOUR {
            Some(Cause::StaleToken)
        } else {
            None
        };
        assert_eq!(at(10, 15), expected);
        assert_eq!(at(12, 0), None);
    }

    #[test]
    fn every_grant_passes_through_sync_and_then_works_with_a_fresh_token() {
        let w = world();
        let mut checked = 0;
        for (slot, grant) in w.grants.iter().enumerate() {
            let Some((p, b)) = *grant else { continue };
            let at = START + GRANT_OFFSET + slot as Millis * GRANT_EVERY;
            let service = w.principals[p].bindings[b].service;
            let mut r = read(&w, p, service, at + MINUTE);
            r.org = w.principals[p].bindings[b].org.or(r.org);
            assert_eq!(cause(w.outcome(&r)), Some(Cause::PropagationDelay));
            let later = at + 2 * HOUR;
            let r = Request {
                ts: later,
                token: w.principals[p].token_at(START, later),
                ..r
            };
            if later < w.end {
                assert_eq!(cause(w.outcome(&r)), None, "slot {slot}");
            }
            checked += 1;
        }
        assert!(checked > 50, "grants happen all day: {checked}");
    }

    #[test]
    fn server_side_conditions_decide_before_roles() {
        let w = world();
        let service = w.principals[0].services[0].0;
        let mut r = read(&w, 0, service, START + HOUR);
        assert_eq!(cause(w.outcome(&r)), None);
        for (condition, expected) in [
            (Condition::ExplicitDeny, Cause::ExplicitDeny),
            (Condition::Guardrail, Cause::Guardrail),
            (Condition::WorkflowLocked, Cause::WorkflowState),
            (Condition::GatewayUnpublished, Cause::GatewayPolicy),
            (Condition::Missing { hinted: true }, Cause::MaskedNotFound),
            (Condition::Restricted, Cause::ObjectAcl),
        ] {
            r.condition = condition;
            assert_eq!(cause(w.outcome(&r)), Some(expected));
        }
        r.condition = Condition::None;
        r.token -= 2;
        assert_eq!(cause(w.outcome(&r)), Some(Cause::TokenExpired));
    }

    #[test]
    fn the_same_seed_builds_the_same_world() {
        let (a, b) = (world(), world());
        assert_eq!(a.grants, b.grants);
        assert_eq!(a.principals[7].bindings, b.principals[7].bindings);
        assert_ne!(World::new(10, 50, START, 1, 10 * MINUTE).grants, a.grants);
    }
}
