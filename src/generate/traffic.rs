//! Requests over time: everyday traffic of each principal, and denials injected
//! per cause. A block of consecutive events depends only on the seed and the
//! block's first index, so blocks are made in parallel and in any order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::world::{
    Condition, Endpoint, Op, Outcome, Request, World, GUARDED_FIELDS, ORGS, PLAIN_FIELDS,
};
use crate::diagnose::Cause;
use crate::model::Millis;

/// Objects per resource in everyday traffic.
const OBJECTS: u64 = 20_000;
const FIRST_OBJECT: u64 = 100_000;
/// Ids of objects answered 404 in everyday traffic (one per request).
const GONE_OBJECTS: u64 = 700_000_000;
/// Ids of objects whose ACL leaves the requester out.
const RESTRICTED_OBJECTS: u64 = 800_000_000;
/// Ids of objects that do not exist, answered 403.
const MISSING_OBJECTS: u64 = 900_000_000;
/// Share of everyday requests answered 404 and 500.
const NOT_FOUND_RATE: f64 = 0.004;
const SERVER_ERROR_RATE: f64 = 0.002;
/// Tries to find a request that shows a cause before giving up on it.
const TRIES: usize = 12;

/// How often denials are injected, and which causes.
#[derive(Debug, Clone)]
pub struct Mix {
    /// Share of events that are injected denials.
    pub denial_rate: f64,
    /// Relative weight of each cause among injected denials.
    pub weights: Vec<(Cause, f64)>,
}

impl Default for Mix {
    fn default() -> Self {
        use Cause::*;
        Mix {
            denial_rate: 0.03,
            weights: vec![
                (MissingPermission, 30.0),
                (FieldLevel, 8.0),
                (DataScope, 8.0),
                (ScopeNotRequested, 8.0),
                (StaleToken, 6.0),
                (PropagationDelay, 4.0),
                (TokenExpired, 6.0),
                (ExplicitDeny, 4.0),
                (Guardrail, 3.0),
                (WorkflowState, 6.0),
                (GatewayPolicy, 5.0),
                (MaskedNotFound, 5.0),
                (ObjectAcl, 6.0),
                (Unknown, 4.0),
            ],
        }
    }
}

/// One logged request: the client's side and the server's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ts: Millis,
    pub request_id: u64,
    pub principal: usize,
    pub token_id: String,
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub org: Option<&'static str>,
    pub fields: Vec<&'static str>,
    pub error_code: Option<&'static str>,
    pub message: Option<String>,
    /// For a 403: the true cause and what to grant.
    pub truth: Option<(Cause, Vec<String>)>,
}

/// Requests planned for one slot: companions first, then the request itself.
enum Planned {
    /// Answered by [`World::outcome`].
    Asked(Request),
    /// Someone else's request for an object that does not exist: a 404.
    NotFound(Request),
}

/// Makes blocks of events.
pub struct Traffic<'a> {
    pub world: &'a World,
    pub mix: &'a Mix,
    pub seed: u64,
    /// Events in the whole corpus, which spreads them evenly over the period.
    pub total: u64,
}

impl Traffic<'_> {
    /// Events `first..end`, in time order.
    pub fn block(&self, first: u64, end: u64) -> Vec<Row> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(self.seed ^ mix64(first)));
        let mut rows = Vec::with_capacity((end - first) as usize);
        let mut index = first;
        while index < end {
            let room = end - index;
            let plan = if rng.random_bool(self.mix.denial_rate.clamp(0.0, 1.0)) {
                let cause = self.pick_cause(&mut rng);
                self.inject(&mut rng, cause, index)
                    .filter(|plan| plan.len() as u64 <= room)
            } else {
                None
            };
            let plan = plan.unwrap_or_else(|| vec![Planned::Asked(self.everyday(&mut rng, index))]);
            for planned in plan {
                rows.push(self.answer(&mut rng, planned, index));
                index += 1;
            }
        }
        rows
    }

    /// When event `index` happens: the period divided evenly.
    fn ts(&self, index: u64) -> Millis {
        let span = (self.world.end - self.world.start) as i128;
        self.world.start + (index as i128 * span / self.total.max(1) as i128) as Millis
    }

    fn pick_cause(&self, rng: &mut ChaCha8Rng) -> Cause {
        let total: f64 = self.mix.weights.iter().map(|(_, w)| w).sum();
        let mut x = rng.random::<f64>() * total;
        for (cause, w) in &self.mix.weights {
            if x < *w {
                return *cause;
            }
            x -= w;
        }
        self.mix
            .weights
            .last()
            .map(|(c, _)| *c)
            .unwrap_or(Cause::MissingPermission)
    }

    /// A request of principal `p`'s everyday work at `ts`.
    fn routine(&self, rng: &mut ChaCha8Rng, p: usize, ts: Millis) -> Request {
        let principal = &self.world.principals[p];
        let (service, level, scope) =
            principal.services[rng.random_range(0..principal.services.len())];
        let resource = rng.random_range(0..2);
        let x = rng.random::<f64>();
        let mut op = match level {
            0 if x < 0.3 => Op::List,
            0 => Op::Get,
            _ if x < 0.2 => Op::List,
            _ if x < 0.6 => Op::Get,
            _ if x < 0.75 => Op::Create,
            _ if level == 2 && x < 0.93 => Op::Delete,
            _ => Op::Update,
        };
        let endpoint = Endpoint {
            service,
            resource,
            op,
        };
        if endpoint.required().map(|r| r[0].clone()) == principal.unrequested {
            op = Op::Get;
        }
        let endpoint = Endpoint { op, ..endpoint };
        let org = endpoint
            .data_scoped()
            .then(|| scope.unwrap_or_else(|| rng.random_range(0..ORGS.len())));
        let request = Request {
            principal: p,
            ts,
            endpoint,
            object: op
                .has_object()
                .then(|| FIRST_OBJECT + rng.random_range(0..OBJECTS)),
            org,
            fields: if op == Op::Update {
                plain_fields(rng)
            } else {
                vec![]
            },
            token: principal.token_at(self.world.start, ts),
            condition: Condition::None,
        };
        self.maybe_guarded(rng, request)
    }

    /// Principals whose roles grant a guarded field's permission use it now
    /// and then, as administrators do: an update that touches the field and
    /// is allowed replaces an allowed one that does not.
    fn maybe_guarded(&self, rng: &mut ChaCha8Rng, request: Request) -> Request {
        if request.endpoint.op != Op::Update || !rng.random_bool(GUARDED_SHARE) {
            return request;
        }
        let mut guarded = request.clone();
        guarded
            .fields
            .push(GUARDED_FIELDS[rng.random_range(0..GUARDED_FIELDS.len())]);
        guarded.fields.sort_unstable();
        let allowed = |r: &Request| self.world.outcome(r) == Outcome::Allowed;
        if allowed(&guarded) && allowed(&request) {
            guarded
        } else {
            request
        }
    }

    fn everyday(&self, rng: &mut ChaCha8Rng, index: u64) -> Request {
        let p = self.world.pick_principal(rng);
        self.routine(rng, p, self.ts(index))
    }

    /// A routine request of `p` at `ts` that the server allows, if one is found.
    fn allowed(&self, rng: &mut ChaCha8Rng, p: usize, ts: Millis) -> Option<Request> {
        (0..TRIES)
            .map(|_| self.routine(rng, p, ts))
            .find(|r| self.world.outcome(r) == Outcome::Allowed)
    }

    /// Requests that end in a denial of `cause` at event `index`, if the world
    /// allows one now (a grant must be recent for a sync delay, say).
    fn inject(&self, rng: &mut ChaCha8Rng, cause: Cause, index: u64) -> Option<Vec<Planned>> {
        let world = self.world;
        let ts = self.ts(index);
        let shows = |r: &Request| matches!(world.outcome(r), Outcome::Denied { cause: c, .. } if c == cause);
        let single = |r: Request| shows(&r).then(|| vec![Planned::Asked(r)]);
        match cause {
            Cause::MissingPermission => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let mut r = self.routine(rng, p, ts);
                r.endpoint.service = rng.random_range(0..super::world::SERVICES.len());
                r.endpoint.op =
                    [Op::List, Op::Get, Op::Create, Op::Update, Op::Delete][rng.random_range(0..5)];
                self.reshape(rng, &mut r);
                single(r)
            }),
            Cause::FieldLevel => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                r.endpoint.op = Op::Update;
                self.reshape(rng, &mut r);
                let guarded = GUARDED_FIELDS[rng.random_range(0..GUARDED_FIELDS.len())];
                r.fields.push(guarded);
                r.fields.sort_unstable();
                single(r)
            }),
            Cause::DataScope => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                let org = r.org?;
                r.org = Some((org + rng.random_range(1..ORGS.len())) % ORGS.len());
                single(r)
            }),
            Cause::PropagationDelay => {
                let (slot, _) = world.grant_slot(ts)?;
                self.on_grant(rng, slot, ts).and_then(single)
            }
            Cause::StaleToken => {
                let (slot, _) = world.grant_slot(ts)?;
                let mut recent: Vec<usize> = (slot.saturating_sub(6)..=slot).collect();
                let n = recent.len();
                recent.rotate_left(rng.random_range(0..n));
                recent
                    .into_iter()
                    .filter_map(|s| self.on_grant(rng, s, ts))
                    .find_map(single)
            }
            Cause::ScopeNotRequested => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let perm = world.principals[p].unrequested.clone()?;
                let mut r = self.routine(rng, p, ts);
                let (service, resource, op) = endpoint_requiring(&perm)?;
                r.endpoint = Endpoint {
                    service,
                    resource,
                    op,
                };
                self.reshape(rng, &mut r);
                single(r)
            }),
            Cause::TokenExpired => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                r.token = (r.token - 2..r.token)
                    .rev()
                    .find(|h| *h >= -1 && world.token(p, *h).expires_at < ts)?;
                single(r)
            }),
            Cause::ExplicitDeny
            | Cause::Guardrail
            | Cause::WorkflowState
            | Cause::GatewayPolicy => {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                r.condition = match cause {
                    Cause::ExplicitDeny => Condition::ExplicitDeny,
                    Cause::Guardrail => Condition::Guardrail,
                    Cause::WorkflowState => Condition::WorkflowLocked,
                    _ => {
                        r.endpoint.op = Op::Lock;
                        r.object = Some(FIRST_OBJECT + rng.random_range(0..OBJECTS));
                        Condition::GatewayUnpublished
                    }
                };
                single(r)
            }
            Cause::MaskedNotFound => {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                r.endpoint.op = Op::Get;
                r.fields.clear();
                r.object = Some(MISSING_OBJECTS + index);
                let companion = rng.random_bool(0.5);
                r.condition = Condition::Missing { hinted: !companion };
                shows(&r).then_some(())?;
                if companion {
                    // Someone allowed to look gets the truth: 404.
                    let q = world.pick_principal(rng);
                    let other = Request {
                        principal: q,
                        token: world.principals[q].token_at(world.start, ts),
                        ..r.clone()
                    };
                    Some(vec![Planned::NotFound(other), Planned::Asked(r)])
                } else {
                    Some(vec![Planned::Asked(r)])
                }
            }
            Cause::ObjectAcl => (0..TRIES).find_map(|_| {
                let p = world.pick_principal(rng);
                let mut r = self.allowed(rng, p, ts)?;
                if !r.endpoint.op.has_object() {
                    r.endpoint.op = Op::Get;
                    r.object = Some(FIRST_OBJECT + rng.random_range(0..OBJECTS));
                    if world.outcome(&r) != Outcome::Allowed {
                        return None;
                    }
                }
                // The same work on another object went through just before.
                let before = r.clone();
                r.object = Some(RESTRICTED_OBJECTS + index + 1);
                r.condition = Condition::Restricted;
                shows(&r).then(|| vec![Planned::Asked(before), Planned::Asked(r)])
            }),
            Cause::Unknown => {
                let p = world.pick_principal(rng);
                let mut r = self.routine(rng, p, ts);
                r.endpoint.op = Op::Attach;
                r.fields.clear();
                r.object = Some(FIRST_OBJECT + rng.random_range(0..OBJECTS));
                single(r)
            }
        }
    }

    /// A read of what grant `slot` gave, by its grantee at `ts`.
    fn on_grant(&self, rng: &mut ChaCha8Rng, slot: usize, ts: Millis) -> Option<Request> {
        let (p, b) = self.world.grants.get(slot).copied().flatten()?;
        let binding = &self.world.principals[p].bindings[b];
        let endpoint = Endpoint {
            service: binding.service,
            resource: rng.random_range(0..2),
            op: Op::Get,
        };
        Some(Request {
            principal: p,
            ts,
            endpoint,
            object: Some(FIRST_OBJECT + rng.random_range(0..OBJECTS)),
            org: endpoint
                .data_scoped()
                .then(|| binding.org.unwrap_or(self.world.principals[p].home_org)),
            fields: vec![],
            token: self.world.principals[p].token_at(self.world.start, ts),
            condition: Condition::None,
        })
    }

    /// Makes object, org and fields fit the request's endpoint.
    fn reshape(&self, rng: &mut ChaCha8Rng, r: &mut Request) {
        let op = r.endpoint.op;
        r.object = op
            .has_object()
            .then(|| FIRST_OBJECT + rng.random_range(0..OBJECTS));
        let principal = &self.world.principals[r.principal];
        r.org = r.endpoint.data_scoped().then(|| {
            principal
                .services
                .iter()
                .find(|s| s.0 == r.endpoint.service)
                .and_then(|s| s.2)
                .unwrap_or(principal.home_org)
        });
        if op != Op::Update {
            r.fields.clear();
        } else if r.fields.is_empty() {
            r.fields = plain_fields(rng);
        }
    }

    /// The logged row of a planned request.
    fn answer(&self, rng: &mut ChaCha8Rng, planned: Planned, index: u64) -> Row {
        let world = self.world;
        let (request, outcome) = match planned {
            Planned::Asked(r) => {
                let outcome = world.outcome(&r);
                (r, Some(outcome))
            }
            Planned::NotFound(r) => (r, None),
        };
        let mut row = Row {
            ts: self.ts(index),
            request_id: index,
            principal: request.principal,
            token_id: World::token_id(request.principal, request.token),
            method: request.endpoint.op.method(),
            path: request.endpoint.path(request.object),
            status: 200,
            org: request.org.map(|o| ORGS[o]),
            fields: request.fields.clone(),
            error_code: None,
            message: None,
            truth: None,
        };
        match outcome {
            None => {
                row.status = 404;
                row.message = Some("Not found".into());
            }
            Some(Outcome::Allowed) => {
                let x = rng.random::<f64>();
                if x < NOT_FOUND_RATE && request.endpoint.op == Op::Get {
                    row.status = 404;
                    row.path = request.endpoint.path(Some(GONE_OBJECTS + index));
                    row.message = Some("Not found".into());
                } else if x < NOT_FOUND_RATE + SERVER_ERROR_RATE {
                    row.status = 500;
                    row.message = Some("Internal server error".into());
                } else {
                    row.status = match request.endpoint.op {
                        Op::Create => 201,
                        Op::Delete => 204,
                        _ => 200,
                    };
                }
            }
            Some(Outcome::Denied { cause, missing }) => {
                row.status = 403;
                let variant = match request.condition {
                    Condition::Missing { hinted } => !hinted,
                    _ => rng.random_bool(0.5),
                };
                let (code, message) = denial_text(cause, variant, request.object);
                row.error_code = code;
                row.message = Some(message);
                row.truth = Some((cause, missing));
            }
        }
        row
    }
}

/// Error code and message of a 403, as servers phrase each cause; two phrasings each.
fn denial_text(cause: Cause, variant: bool, object: Option<u64>) -> (Option<&'static str>, String) {
    let plain = if variant {
        "Forbidden"
    } else {
        "Insufficient permissions"
    };
    match (cause, variant) {
        (Cause::ExplicitDeny, true) => (Some("EXPLICIT_DENY"), "Forbidden".into()),
        (Cause::ExplicitDeny, false) => (
            None,
            "Denied by an explicit deny in policy 'IntegrationsNeverDelete'".into(),
        ),
        (Cause::Guardrail, true) => (Some("RequestDisallowedByPolicy"), "Forbidden".into()),
        (Cause::Guardrail, false) => (
            None,
            "Forbidden: refused by the organization policy constraint constraints/api.restrictPartnerAccess".into(),
        ),
        (Cause::WorkflowState, true) => (
            Some("WORKFLOW_LOCKED"),
            "Object is locked by workflow state APPROVAL".into(),
        ),
        (Cause::WorkflowState, false) => (None, "Record is archived and cannot be changed".into()),
        (Cause::GatewayPolicy, true) => (Some("APIGW_POLICY_DENIED"), "Forbidden".into()),
        (Cause::GatewayPolicy, false) => (
            None,
            "Blocked by API gateway policy: endpoint not published".into(),
        ),
        (Cause::MaskedNotFound, false) => (
            None,
            format!("Object {} does not exist", object.unwrap_or_default()),
        ),
        _ => (None, plain.into()),
    }
}

/// How often a routine update tries a guarded field.
const GUARDED_SHARE: f64 = 0.2;

/// One to two plain fields, sorted.
fn plain_fields(rng: &mut ChaCha8Rng) -> Vec<&'static str> {
    let first = rng.random_range(0..PLAIN_FIELDS.len());
    let mut fields = vec![PLAIN_FIELDS[first]];
    if rng.random_bool(0.4) {
        let second = PLAIN_FIELDS[(first + 1) % PLAIN_FIELDS.len()];
        fields.push(second);
    }
    fields.sort_unstable();
    fields
}

/// An endpoint whose rule requires `perm` (`svc.res.write` or `.delete`).
fn endpoint_requiring(perm: &str) -> Option<(usize, usize, Op)> {
    let mut parts = perm.split('.');
    let (service, resource, verb) = (parts.next()?, parts.next()?, parts.next()?);
    let s = super::world::SERVICES
        .iter()
        .position(|(name, _, _)| *name == service)?;
    let r = super::world::SERVICES[s]
        .1
        .iter()
        .position(|name| *name == resource)?;
    let op = match verb {
        "read" => Op::Get,
        "write" => Op::Update,
        "delete" => Op::Delete,
        _ => return None,
    };
    Some((s, r, op))
}

/// SplitMix64's finaliser: spreads block indices into unrelated seeds.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_depends_only_on_the_seed_and_where_it_starts() {
        let world = World::new(1, 40, 1_793_577_600_000, 1, 600_000);
        let mix = Mix::default();
        let traffic = Traffic {
            world: &world,
            mix: &mix,
            seed: 5,
            total: 10_000,
        };
        let block = traffic.block(2_000, 3_000);
        assert_eq!(block, traffic.block(2_000, 3_000));
        assert_eq!(block.len(), 1_000);
        assert!(block
            .windows(2)
            .all(|w| w[0].ts <= w[1].ts && w[0].request_id + 1 == w[1].request_id));
        assert_ne!(block, traffic.block(3_000, 4_000));
    }

    #[test]
    fn injected_denials_come_at_the_configured_rate_with_every_cause() {
        let world = World::new(2, 60, 1_793_577_600_000, 1, 600_000);
        let mix = Mix::default();
        let traffic = Traffic {
            world: &world,
            mix: &mix,
            seed: 1,
            total: 60_000,
        };
        let rows = traffic.block(0, 60_000);
        let denied: Vec<Cause> = rows
            .iter()
            .filter_map(|r| r.truth.as_ref().map(|t| t.0))
            .collect();
        let rate = denied.len() as f64 / rows.len() as f64;
        // 3% injected, plus the revoked role's routine traffic.
        assert!((0.025..0.08).contains(&rate), "{rate}");
        for cause in Cause::ALL {
            assert!(denied.contains(&cause), "{cause:?} never injected");
        }
        assert!(rows.iter().all(|r| (r.status == 403) == r.truth.is_some()));
    }
}
