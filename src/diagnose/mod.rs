//! Stage 3, diagnose: [`Correlation`] in, one [`Diagnosis`] per denial group out.
//!
//! Each group gets one cause of the taxonomy, the missing permissions where that
//! applies, a confidence with the rule that set it, and its evidence. The order
//! in which causes are tried, and why, is `docs/diagnosis.md`; [`judge`] follows
//! it step by step.

pub mod guardrail;
pub mod learn;
pub mod least_privilege;
pub mod messages;
pub mod policy;
pub mod required;

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::model::intern::{Interner, Shared};

use schemars::JsonSchema;
use serde::Serialize;

use self::guardrail::DeniedBy;
use self::messages::{Response, Signal};
use self::policy::PolicyCatalog;
pub use self::required::RequirementSource;
use self::required::{EndpointPeers, PeerRule, Requirement};
use crate::correlate::history::Snapshot;
use crate::correlate::{CorrelatedDenial, Correlation};
use crate::model::{
    DenialKey, Millis, SuccessGroup, SuccessKey, Successes, ACTION_METHOD, DENIAL_REASON_HEADER,
    UNTOLD_LAYER,
};

/// Why a request was denied: the taxonomy of the brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    MissingPermission,
    ScopeNotRequested,
    StaleToken,
    PropagationDelay,
    TokenExpired,
    ObjectAcl,
    DataScope,
    FieldLevel,
    ExplicitDeny,
    /// A control outside the principal's grants (an organization policy, a
    /// boundary, a network perimeter) refused it.
    Guardrail,
    WorkflowState,
    GatewayPolicy,
    MaskedNotFound,
    Unknown,
}

impl Cause {
    /// Every cause, in the order of the taxonomy.
    pub const ALL: [Cause; 14] = [
        Cause::MissingPermission,
        Cause::ScopeNotRequested,
        Cause::StaleToken,
        Cause::PropagationDelay,
        Cause::TokenExpired,
        Cause::ObjectAcl,
        Cause::DataScope,
        Cause::FieldLevel,
        Cause::ExplicitDeny,
        Cause::Guardrail,
        Cause::WorkflowState,
        Cause::GatewayPolicy,
        Cause::MaskedNotFound,
        Cause::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::MissingPermission => "missing_permission",
            Cause::ScopeNotRequested => "scope_not_requested",
            Cause::StaleToken => "stale_token",
            Cause::PropagationDelay => "propagation_delay",
            Cause::TokenExpired => "token_expired",
            Cause::ObjectAcl => "object_acl",
            Cause::DataScope => "data_scope",
            Cause::FieldLevel => "field_level",
            Cause::ExplicitDeny => "explicit_deny",
            Cause::Guardrail => "guardrail",
            Cause::WorkflowState => "workflow_state",
            Cause::GatewayPolicy => "gateway_policy",
            Cause::MaskedNotFound => "masked_not_found",
            Cause::Unknown => "unknown",
        }
    }
}

/// How sure a diagnosis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

/// A confidence level and the rule of `docs/diagnosis.md` that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct Confidence {
    pub level: Level,
    pub rule: &'static str,
}

/// What a diagnosis rests on, beyond the requests themselves and what
/// correlation found for them (the snapshot, the token: [`CorrelatedDenial`]).
/// There is one per denial group, so it holds only what diagnosis adds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// When the permission was granted (stale token, propagation delay).
    pub granted_at: Option<Millis>,
    /// Principals succeeding on the endpoint that the requirement was inferred from.
    pub peers: Option<u32>,
    /// The fields where this denial differs from successes (the data scope is
    /// the key's org, the objects the group's own, [`DenialGroup::objects`]).
    ///
    /// [`DenialGroup::objects`]: crate::model::DenialGroup::objects
    pub fields: Shared<[String]>,
    /// Whether the principal succeeded on the endpoint after these denials.
    pub later_succeeded: Option<bool>,
    /// Missing permissions that a held role grants only outside the API, with
    /// those roles. Boxed: there is an evidence per denial group, and nearly
    /// all have none (8 bytes where an empty map takes 24).
    #[allow(clippy::box_collection)]
    pub other_plane: Option<Box<BTreeMap<String, BTreeSet<String>>>>,
    /// The policies the response says denied (empty for nearly every group).
    pub denied_by: Box<[DeniedBy]>,
}

/// The diagnosis of one denial group.
#[derive(Debug)]
pub struct Diagnosis<'a> {
    pub denial: &'a CorrelatedDenial<'a>,
    pub cause: Cause,
    pub confidence: Confidence,
    /// Every permission the request needed; a choice is written `a|b`.
    ///
    /// This list, `missing` and `note` repeat across a million groups with a
    /// few thousand distinct values: they are shared ([`Interner`]).
    pub required: Shared<[String]>,
    pub source: Option<RequirementSource>,
    /// What to grant (roles' permissions, the token's scopes, the data scope's
    /// permissions), depending on the cause; empty where no grant helps.
    pub missing: Shared<[String]>,
    pub evidence: Evidence,
    /// What would decide an `unknown`, or a remark on the evidence.
    pub note: Option<Shared<str>>,
}

impl<'a> Diagnosis<'a> {
    /// A diagnosis without requirement or note; [`judge`] adds those.
    fn new(
        denial: &'a CorrelatedDenial<'a>,
        cause: Cause,
        confidence: Confidence,
        missing: Vec<String>,
        evidence: Evidence,
    ) -> Self {
        Diagnosis {
            denial,
            cause,
            confidence,
            required: Shared::default(),
            source: None,
            missing: missing.into(),
            evidence,
            note: None,
        }
    }

    /// The same diagnosis holding `interner`'s copies of its lists and note.
    fn shared(mut self, interner: &mut Interner) -> Self {
        self.required = interner.list(self.required);
        self.missing = interner.list(self.missing);
        self.note = self.note.map(|note| interner.string(note));
        self
    }
}

/// Settings of the diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct DiagnoseOptions {
    /// Below this many succeeding peers nothing is inferred from them.
    pub min_peers: usize,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions { min_peers: 3 }
    }
}

/// The diagnoses, with the correlation they were made from.
#[derive(Debug)]
pub struct Diagnosed<'a> {
    pub diagnoses: Vec<Diagnosis<'a>>,
    pub correlation: &'a Correlation<'a>,
}

/// A principal's successes on one endpoint, by org and fields.
type OwnSuccesses<'a> =
    HashMap<(&'a str, &'a str, &'a str), Vec<(&'a SuccessKey, &'a SuccessGroup)>>;

/// What diagnosis reads of the allowed requests: each principal's own
/// successes per endpoint, and who else succeeded there. Made once for a
/// run and read by every partition (made for each, it was a serial pass
/// over all allowed requests per partition).
pub struct SuccessIndex<'a> {
    own: OwnSuccesses<'a>,
    peers: EndpointPeers<'a>,
}

impl<'a> SuccessIndex<'a> {
    pub fn new(successes: &'a Successes) -> Self {
        let mut own: OwnSuccesses = HashMap::new();
        for (k, g) in successes {
            own.entry((k.principal(), k.method(), k.template()))
                .or_default()
                .push((k, g));
        }
        SuccessIndex {
            own,
            peers: EndpointPeers::new(successes),
        }
    }
}

/// Everything [`judge`] consults beyond the denial group itself.
struct Context<'a> {
    correlation: &'a Correlation<'a>,
    /// The signals of each distinct response.
    signals: HashMap<Response<'a>, Vec<Signal>>,
    catalog: &'a PolicyCatalog,
    peers: &'a EndpointPeers<'a>,
    own: &'a OwnSuccesses<'a>,
    options: DiagnoseOptions,
}

impl<'a> Context<'a> {
    /// The principal's successes on the denial's endpoint.
    fn own_successes(
        &self,
        denial: &CorrelatedDenial<'a>,
    ) -> &[(&'a SuccessKey, &'a SuccessGroup)] {
        let k = denial.key;
        self.own
            .get(&(&*k.principal, &*k.method, &*k.template))
            .map_or(&[], Vec::as_slice)
    }
}

/// Diagnoses every denial group.
pub fn diagnose<'a>(
    correlation: &'a Correlation<'a>,
    catalog: &'a PolicyCatalog,
    successes: &'a SuccessIndex<'a>,
    options: DiagnoseOptions,
) -> Diagnosed<'a> {
    // Groups share few responses (65 among 2,000 denials of the generated
    // corpus): the patterns read each once, where reading them for every
    // group was 4% of a 2 GB run.
    let responses: HashSet<Response> = correlation
        .denials
        .iter()
        .map(|d| Response::of(d.key))
        .collect();
    let signals = responses
        .into_par_iter()
        .map(|response| (response, messages::signals_of(response)))
        .collect();
    let context = Context {
        correlation,
        signals,
        catalog,
        peers: &successes.peers,
        own: &successes.own,
        options,
    };
    // Groups are judged independently; collect keeps their order.
    let diagnoses = correlation
        .denials
        .par_iter()
        .map_init(Interner::default, |interner, d| {
            judge(d, &context).shared(interner)
        })
        .collect();
    Diagnosed {
        diagnoses,
        correlation,
    }
}

const fn rule(level: Level, rule: &'static str) -> Confidence {
    Confidence { level, rule }
}

/// Whether `grants` satisfies a permission written `a|b`.
fn granted(grants: &BTreeSet<String>, permission: &str) -> bool {
    crate::correlate::roles::grants_permission(grants, permission)
}

/// One denial group's cause, in the order of `docs/diagnosis.md`.
fn judge<'a>(denial: &'a CorrelatedDenial<'a>, cx: &Context) -> Diagnosis<'a> {
    let key = denial.key;
    let signals = &cx.signals[&Response::of(key)];
    let snapshot = cx.correlation.snapshot(denial);
    let mut evidence = Evidence::default();
    let has = |s: &Signal| signals.contains(s);
    let level_of = |s: &Signal| {
        if messages::from_error_code(key, s) {
            Level::High
        } else {
            Level::Medium
        }
    };

    // 1-3. The response says why, and no grant would change it.
    evidence.denied_by = signals
        .iter()
        .filter_map(|s| match s {
            Signal::DeniedBy(policy) => Some(policy.clone()),
            _ => None,
        })
        .collect();
    if evidence.denied_by.iter().any(|p| p.kind.is_guardrail()) {
        let c = rule(
            Level::High,
            "the response names a guardrail outside the principal's grants",
        );
        let mut diagnosis = Diagnosis::new(denial, Cause::Guardrail, c, vec![], evidence);
        diagnosis.note = denied_by(key).map(|layer| format!("denied by: {layer}").into());
        return diagnosis;
    }
    if has(&Signal::ExplicitDeny) || !evidence.denied_by.is_empty() {
        let mut c = rule(
            level_of(&Signal::ExplicitDeny),
            "the response reports an explicit deny",
        );
        // The held policies whose Deny statements refuse it name the deny the
        // message leaves unnamed.
        if let Some(snapshot) = snapshot {
            let denying: BTreeSet<String> = required::required_by_headers(
                key.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            )
            .iter()
            .flat_map(|p| snapshot.grants.denying(p))
            .map(str::to_string)
            .collect();
            if !denying.is_empty() {
                let mut named: Vec<DeniedBy> = evidence
                    .denied_by
                    .iter()
                    .filter(|p| p.name.is_some())
                    .cloned()
                    .collect();
                named.extend(denying.into_iter().map(|role| DeniedBy {
                    kind: guardrail::PolicyKind::IdentityPolicy,
                    name: Some(role),
                }));
                evidence.denied_by = named.into();
                c = rule(
                    Level::High,
                    "the response reports an explicit deny, and a policy the principal holds denies it",
                );
            }
        }
        let mut diagnosis = Diagnosis::new(denial, Cause::ExplicitDeny, c, vec![], evidence);
        diagnosis.note = denied_by(key).map(|layer| format!("denied by: {layer}").into());
        return diagnosis;
    }
    if has(&Signal::WorkflowState) {
        let c = rule(
            level_of(&Signal::WorkflowState),
            "the response reports the object's state",
        );
        return Diagnosis::new(denial, Cause::WorkflowState, c, vec![], evidence);
    }
    if has(&Signal::GatewayPolicy) {
        let c = rule(
            level_of(&Signal::GatewayPolicy),
            "the gateway's error code or header rejected the request",
        );
        return Diagnosis::new(denial, Cause::GatewayPolicy, c, vec![], evidence);
    }
    // 4. An expired token is refused whatever it carries.
    if key.after_token_expiry {
        let c = rule(Level::High, "the request came after the token's expires_at");
        return Diagnosis::new(denial, Cause::TokenExpired, c, vec![], evidence);
    }
    if has(&Signal::CredentialExpired) {
        let c = rule(
            level_of(&Signal::CredentialExpired),
            "the response says the credential expired",
        );
        return Diagnosis::new(denial, Cause::TokenExpired, c, vec![], evidence);
    }
    if has(&Signal::AuthenticationFailed) {
        let c = rule(
            Level::Low,
            "the service refused the credential, not a permission",
        );
        let mut diagnosis = Diagnosis::new(denial, Cause::Unknown, c, vec![], evidence);
        diagnosis.note = Some(
            "authentication failed: the service refused the credential itself (a SAS or key that expired, was revoked or is malformed), so no grant is proposed; its expiry and key rotation decide"
                .into(),
        );
        return diagnosis;
    }
    if has(&Signal::Anonymous) {
        let c = rule(Level::High, "the request carried no credential");
        let mut diagnosis = Diagnosis::new(denial, Cause::Unknown, c, vec![], evidence);
        diagnosis.note = Some(
            "the request carried no credential and ran as the anonymous identity: have the caller send its own credential; no grant is proposed, as a grant to the anonymous identity opens the endpoint to everyone"
                .into(),
        );
        return diagnosis;
    }
    // 5. An object nobody can reach that 404s elsewhere does not exist.
    // Every object of a group shares these facts (ingest splits groups by them).
    let objects = key.objects;
    if objects.named {
        let seen = objects.allowed_for_anyone;
        if !seen && objects.answered_not_found {
            let c = rule(
                Level::High,
                "never allowed for anyone, answered 404 elsewhere",
            );
            return Diagnosis::new(denial, Cause::MaskedNotFound, c, vec![], evidence);
        }
        if !seen && has(&Signal::NotFound) {
            let c = rule(
                Level::Medium,
                "never allowed for anyone, and the message says it does not exist",
            );
            return Diagnosis::new(denial, Cause::MaskedNotFound, c, vec![], evidence);
        }
    }

    // 5b. Without the principal's roles, a response that blames the token's scopes decides.
    if snapshot.is_none() && has(&Signal::ScopeInsufficient) {
        let c = rule(
            Level::Medium,
            "the response says the token's scopes are insufficient; roles unknown",
        );
        let missing = required::required_by_headers(
            key.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        );
        return Diagnosis::new(
            denial,
            Cause::ScopeNotRequested,
            c,
            missing.into_iter().collect(),
            evidence,
        );
    }

    // 6. What was required, and what the roles in effect granted.
    let own_grants = snapshot.map(|s| &s.grants.api);
    let requirement = required::requirement(
        key,
        signals,
        cx.catalog,
        cx.peers,
        cx.correlation.history,
        own_grants,
        PeerRule {
            min_peers: cx.options.min_peers,
        },
    );
    evidence.peers =
        (requirement.peers > 0).then(|| u32::try_from(requirement.peers).unwrap_or(u32::MAX));
    let mut diagnosis = match (&requirement.source, snapshot) {
        (Some(_), Some(snapshot)) => judge_grants(denial, &requirement, snapshot, evidence, cx),
        (Some(_), None) => judge_token_only(denial, &requirement, evidence, cx),
        (None, _) => judge_behaviour(denial, evidence, None, cx),
    };
    let unexplained = (requirement.source, diagnosis.cause) == (None, Cause::Unknown);
    if let Some((n, candidates)) = own_grants
        .filter(|_| unexplained)
        .and_then(|own| required::few_peers_candidates(key, cx.peers, cx.correlation.history, own))
    {
        let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
        diagnosis.note = Some(
            format!(
                "{} (of what the {n} succeeding there held, it lacks {}: a candidate for that rule to confirm, not a conclusion)",
                diagnosis.note.as_deref().unwrap_or_default(),
                candidates.join(", ")
            )
            .into(),
        );
    }
    diagnosis.required = requirement.permissions.iter().cloned().collect();
    diagnosis.source = requirement.source;
    if let Some(layer) = denied_by(key) {
        diagnosis
            .note
            .get_or_insert_with(|| format!("denied by: {layer}").into());
    }
    diagnosis
}

/// The policy layer the response says denied (`x-denial-reason`, e.g. CloudTrail's
/// "no identity-based policy allows").
fn denied_by(key: &DenialKey) -> Option<&str> {
    key.headers
        .iter()
        .find(|(name, _)| name == DENIAL_REASON_HEADER)
        .map(|(_, v)| v.as_str())
}

/// Steps 6a-6c: the requirement is known and so are the roles in effect.
fn judge_grants<'a>(
    denial: &'a CorrelatedDenial<'a>,
    requirement: &Requirement,
    snapshot: &Snapshot,
    mut evidence: Evidence,
    cx: &Context,
) -> Diagnosis<'a> {
    let key = denial.key;
    let source_level = match requirement.source {
        Some(RequirementSource::PolicyCatalog) => Level::High,
        Some(RequirementSource::Response) => Level::High,
        // One permission changed between its own success and the denial: the
        // strongest evidence the data give, short of the catalog or the response.
        Some(RequirementSource::OwnTransition) if !requirement.by_name => Level::Medium,
        _ => Level::Low,
    };
    let missing: Vec<String> = requirement
        .permissions
        .iter()
        .filter(|p| !granted(&snapshot.grants.api, p))
        .cloned()
        .collect();

    // 6. A held role's explicit deny refuses it, whatever grants it.
    let denying: BTreeSet<String> = requirement
        .permissions
        .iter()
        .flat_map(|p| snapshot.grants.denying(p))
        .map(str::to_string)
        .collect();
    if !denying.is_empty() {
        evidence.denied_by = denying
            .into_iter()
            .map(|role| DeniedBy {
                kind: guardrail::PolicyKind::IdentityPolicy,
                name: Some(role),
            })
            .collect();
        let c = rule(
            Level::High,
            "a policy the principal holds explicitly denies it",
        );
        return Diagnosis::new(denial, Cause::ExplicitDeny, c, vec![], evidence);
    }

    // 6a. The roles lack something: a field rule, or the permission itself.
    if !missing.is_empty() {
        for perm in &missing {
            if let Some(roles) = snapshot.grants.other_planes.get(perm) {
                evidence
                    .other_plane
                    .get_or_insert_default()
                    .insert(perm.clone(), roles.clone());
            }
        }
        if missing.iter().all(|p| requirement.by_fields.contains(p)) {
            evidence.fields = key.fields.clone();
            let c = if requirement.source == Some(RequirementSource::Peers) {
                rule(
                    source_level,
                    "every peer that succeeds touching these fields holds a permission the roles lack",
                )
            } else {
                rule(
                    Level::High,
                    "a field rule of the policy requires a permission the roles lack",
                )
            };
            return Diagnosis::new(denial, Cause::FieldLevel, c, missing, evidence);
        }
        // A held role the inputs never define may grant it: say so, and do
        // not claim more than the defined roles show.
        if !snapshot.grants.undefined.is_empty() {
            let c = rule(
                source_level.min(Level::Medium),
                "the defined roles in effect do not grant it; some held roles are not defined in the inputs",
            );
            let undefined: Vec<&str> = snapshot
                .grants
                .undefined
                .iter()
                .map(String::as_str)
                .collect();
            let mut diagnosis =
                Diagnosis::new(denial, Cause::MissingPermission, c, missing, evidence);
            diagnosis.note = Some(
                format!(
                    "held but not defined in the inputs, so their permissions are unknown: {}; give their definitions to confirm",
                    undefined.join(", ")
                )
                .into(),
            );
            return diagnosis;
        }
        let c = rule(
            source_level,
            match requirement.source {
                Some(RequirementSource::PolicyCatalog) => {
                    "the policy requires it; the roles in effect do not grant it"
                }
                Some(RequirementSource::Response) => {
                    "the response names it; the roles in effect do not grant it"
                }
                Some(RequirementSource::OwnTransition) => {
                    "its own success on the endpoint held it; the roles in effect at the denial do not grant it"
                }
                _ if requirement.by_name => {
                    "the few succeeding peers hold it, the one lacking permission named like the endpoint; the roles in effect do not grant it"
                }
                _ => "every succeeding peer holds it; the roles in effect do not grant it",
            },
        );
        // A grant after these denials fixes them already; whether the same
        // requests then succeeded says the grant sufficed.
        evidence.later_succeeded = Some(later_succeeded(denial, cx));
        return Diagnosis::new(denial, Cause::MissingPermission, c, missing, evidence);
    }

    // 6b. The roles grant it, but not in this data scope.
    if let (Some(org), true) = (&key.org, requirement.policy.is_some_and(|p| p.data_scoped)) {
        let in_org = snapshot.grants_in(cx.correlation.graph, org);
        let missing_here: Vec<String> = requirement
            .permissions
            .iter()
            .filter(|p| !granted(&in_org.api, p))
            .cloned()
            .collect();
        if !missing_here.is_empty() {
            // The fix is data access for the org, not a permission: the finding lists orgs.
            let c = rule(
                Level::High,
                "the bindings that grant it are limited to other data scopes",
            );
            return Diagnosis::new(denial, Cause::DataScope, c, vec![], evidence);
        }
    }

    // 6c. The roles grant everything: timing and the token.
    let starts: Vec<(&String, Millis)> = requirement
        .permissions
        .iter()
        .filter_map(|p| {
            let start = cx
                .correlation
                .history
                .granted_since(&key.principal, snapshot.at, p)?;
            start.observed.then_some((p, start.at))
        })
        .collect();
    let grant_start = starts.iter().map(|(_, at)| *at).max();
    evidence.granted_at = grant_start;
    let window = cx.correlation.propagation_window;
    let recent: Vec<String> = requirement.narrowed(
        starts
            .iter()
            .filter(|(_, at)| denial.group.first_ts.saturating_sub(*at) <= window)
            .map(|(p, _)| (*p).clone()),
        key,
    );
    if !recent.is_empty() {
        evidence.later_succeeded = Some(later_succeeded(denial, cx));
        let c = rule(
            Level::High,
            "the grant landed within the propagation window before the request",
        );
        return Diagnosis::new(denial, Cause::PropagationDelay, c, recent, evidence);
    }
    if let Some(diagnosis) = judge_token(denial, requirement, grant_start, evidence.clone()) {
        // A requirement inferred from peers holds what they co-hold too: a
        // scope the token lacks for one of those is weaker evidence than a
        // field, object or data scope that sets these requests apart.
        if requirement.source == Some(RequirementSource::Peers)
            && diagnosis.cause == Cause::ScopeNotRequested
        {
            let mut behaviour = judge_behaviour(denial, evidence, Some(requirement), cx);
            if matches!(
                behaviour.cause,
                Cause::FieldLevel | Cause::ObjectAcl | Cause::DataScope
            ) {
                behaviour.note.get_or_insert_with(|| {
                    "runner-up: scope_not_requested (the token lacks a scope of a permission every succeeding peer holds, which the peers may hold for other endpoints)".into()
                });
                return behaviour;
            }
        }
        return diagnosis;
    }

    // 6d. Roles and token grant everything: the object, the scope, the fields.
    judge_behaviour(denial, evidence, Some(requirement), cx)
}

/// The token lacks a scope the roles grant: issued before the grant, or never asked for.
fn judge_token<'a>(
    denial: &'a CorrelatedDenial<'a>,
    requirement: &Requirement,
    grant_start: Option<Millis>,
    evidence: Evidence,
) -> Option<Diagnosis<'a>> {
    let issued_at = denial.token_issued_at();
    let issued_before_grant = matches!((issued_at, grant_start), (Some(i), Some(g)) if i < g);
    match denial.scopes {
        Some(scopes) => {
            let scopes: BTreeSet<String> = scopes.iter().cloned().collect();
            // Of a requirement peers co-hold, the permissions named like the
            // endpoint are the ones whose scope the request needed.
            let lacking: Vec<String> = requirement
                .narrowed(requirement.permissions.iter().cloned(), denial.key)
                .into_iter()
                .filter(|p| !granted(&scopes, p))
                .collect();
            if lacking.is_empty() {
                return None;
            }
            Some(if issued_before_grant {
                let c = rule(
                    Level::High,
                    "the token lacks the scope and was issued before the grant",
                );
                Diagnosis::new(denial, Cause::StaleToken, c, lacking, evidence)
            } else if issued_at.is_some() {
                let c = rule(
                    Level::High,
                    "the token lacks the scope though issued after the grant",
                );
                Diagnosis::new(denial, Cause::ScopeNotRequested, c, lacking, evidence)
            } else {
                let c = rule(
                    Level::Medium,
                    "the token lacks the scope; its issue time is unknown",
                );
                Diagnosis::new(denial, Cause::ScopeNotRequested, c, lacking, evidence)
            })
        }
        // A cloud evaluates the policies in force on every request: a session
        // begun before a grant gets it once it propagates (AWS: "Permissions
        // assigned to temporary security credentials are evaluated each time
        // they are used"). Only a token that carries its grants goes stale.
        None if issued_before_grant && &*denial.key.method != ACTION_METHOD => {
            let c = rule(
                Level::Medium,
                "the token was issued before the grant; its scopes are unknown",
            );
            let missing = requirement.permissions.iter().cloned().collect();
            Some(Diagnosis::new(
                denial,
                Cause::StaleToken,
                c,
                missing,
                evidence,
            ))
        }
        None => None,
    }
}

/// No role snapshot for the principal: only the token can be judged.
fn judge_token_only<'a>(
    denial: &'a CorrelatedDenial<'a>,
    requirement: &Requirement,
    evidence: Evidence,
    cx: &Context,
) -> Diagnosis<'a> {
    if let Some(mut diagnosis) = judge_token(denial, requirement, None, evidence.clone()) {
        diagnosis.confidence = rule(
            Level::Medium,
            "the token lacks the scope; the principal's roles are unknown",
        );
        return diagnosis;
    }
    // The service's own denial names the permission it checked: what the log
    // itself proves, even without the principal's roles.
    if requirement.source == Some(RequirementSource::Response) {
        let missing: Vec<String> = requirement.permissions.iter().cloned().collect();
        if denied_by(denial.key) == Some(UNTOLD_LAYER) {
            // The record names the action refused, not the policy that refused it.
            let c = rule(
                Level::Low,
                "the action was refused, but the response names no policy; the roles are unknown",
            );
            let mut diagnosis = Diagnosis::new(
                denial,
                Cause::MissingPermission,
                c,
                missing.clone(),
                evidence,
            );
            diagnosis.note = Some(format!(
                "the response does not say which policy refused {}: an identity policy without it is the usual cause, but an explicit deny, a resource policy (bucket, key), an SCP or a VPC endpoint policy answer the same; the principal's IAM export (--iam) decides the identity policies",
                missing.join(", ")
            ).into());
            return diagnosis;
        }
        let c = rule(
            Level::Medium,
            "the denial response names the permission it checked; the roles are unknown",
        );
        return Diagnosis::new(denial, Cause::MissingPermission, c, missing, evidence);
    }
    let mut diagnosis = judge_behaviour(denial, evidence, Some(requirement), cx);
    if diagnosis.cause == Cause::Unknown {
        diagnosis.note = Some(format!(
            "no role snapshot of {} precedes these requests, so what it held is unknown: add --role-snapshots",
            denial.key.principal
        )
        .into());
    }
    diagnosis
}

/// Step 7: what the principal's own successes on the endpoint show.
fn judge_behaviour<'a>(
    denial: &'a CorrelatedDenial<'a>,
    mut evidence: Evidence,
    requirement: Option<&Requirement>,
    cx: &Context,
) -> Diagnosis<'a> {
    let key = denial.key;
    let known = requirement.is_some();
    let level = if known { Level::High } else { Level::Medium };
    let own = cx.own_successes(denial);

    // The features that may set these requests apart from the principal's
    // successes on the endpoint: fields no success touched, an object never
    // allowed, a data scope never allowed. The one that separates decides,
    // not the order of the checks: an object never allowed while the request
    // also touches a field no success touched is a field rule's denial (the
    // same fields never succeeded anywhere), with the object as the runner-up.
    let differing: Vec<String> = if key.fields.is_empty() || own.is_empty() {
        Vec::new()
    } else {
        let touched_when_allowed: BTreeSet<&str> =
            own.iter().flat_map(|(k, _)| k.fields()).collect();
        key.fields
            .iter()
            .filter(|f| !touched_when_allowed.contains(f.as_str()))
            .cloned()
            .collect()
    };
    let object_never_allowed = key.objects.named
        && !key.objects.allowed_for_principal
        && own.iter().any(|(k, _)| k.org() == key.org.as_deref());
    if object_never_allowed && differing.is_empty() {
        let c = rule(
            level,
            "allowed on other objects of the endpoint with the same fields, never on this one",
        );
        return Diagnosis::new(denial, Cause::ObjectAcl, c, vec![], evidence);
    }
    if let Some(org) = &key.org {
        let other_orgs = own
            .iter()
            .any(|(k, _)| k.org().is_some_and(|o| o != &**org));
        let this_org = own.iter().any(|(k, _)| k.org() == Some(&**org));
        if other_orgs && !this_org {
            let c = rule(
                Level::Medium,
                "allowed on the endpoint in other data scopes, never in this one",
            );
            return Diagnosis::new(denial, Cause::DataScope, c, vec![], evidence);
        }
    }
    if !differing.is_empty() {
        evidence.fields = differing.into();
        let c = rule(
            Level::Medium,
            "allowed on the endpoint except when these fields are touched",
        );
        let fields = evidence.fields.join(", ");
        let mut diagnosis = Diagnosis::new(denial, Cause::FieldLevel, c, vec![], evidence);
        let mut notes = Vec::new();
        if requirement.is_none_or(|r| r.source != Some(RequirementSource::PolicyCatalog)) {
            notes.push(format!(
                "which permission {fields} needs is unknown: no policy field rule names one, and the principals that succeed touching it do not show one (fewer than {} with known roles, or holding nothing this one lacks); a field rule in the catalog (--policies) decides",
                cx.options.min_peers
            ));
        }
        if object_never_allowed {
            notes.push("runner-up: object_acl (this object was never allowed for the account either); the fields decide, as no success touched them".into());
        }
        diagnosis.note = (!notes.is_empty()).then(|| notes.join("; ").into());
        return diagnosis;
    }
    let note = if known && &*key.method == ACTION_METHOD {
        "the policies in force at the request grant every required permission, and the cloud evaluates them on each request (a session's age does not matter): what refused it lies outside the IAM dumps: a permissions boundary, session policy, SCP/RCP or resource policy (AWS), a deny policy or organization policy (GCP), a deny assignment or Azure Policy (Azure); the service's error message names it where it says".to_string()
    } else if &*key.template == crate::model::UNNAMED_ENDPOINT {
        "the record names neither the resource nor the path (an audit policy below Metadata, or a trimmed export), so no permission can be told from it; records logged at level Metadata name both".to_string()
    } else if known {
        "the roles in effect and the token grant every required permission, and no object, data scope or field sets these requests apart"
            .to_string()
    } else {
        format!(
            "no policy rule matches {} {}, the response names no permission, and fewer than {} peers succeed on it: add a rule to the policy catalog (--policies)",
            key.method, key.template, cx.options.min_peers
        )
    };
    let mut diagnosis = Diagnosis::new(
        denial,
        Cause::Unknown,
        rule(Level::Low, "not enough evidence"),
        vec![],
        evidence,
    );
    diagnosis.note = Some(note.into());
    diagnosis
}

/// Whether the principal succeeded on the same endpoint after the group's last denial.
fn later_succeeded(denial: &CorrelatedDenial, cx: &Context) -> bool {
    cx.own_successes(denial)
        .iter()
        .any(|(_, g)| g.last_ts > denial.group.last_ts)
}

#[cfg(test)]
mod tests {
    //! Each cause, positive and negative, on small worlds written as JSON lines and
    //! run through ingest and correlation as the binary would.

    use super::*;
    use crate::ingest::{ingest, IngestOptions, Ingested, InputFile};
    use crate::model::Table;
    use serde_json::{json, Value};

    const HOUR: i64 = 3_600_000;
    /// 2026-11-16T00:00:00Z.
    const T0: i64 = 1_794_787_200_000;
    /// A later snapshot instant.
    const T1: i64 = T0 + 24 * HOUR;

    /// A small world: roles, policies, and the principal `svc` holding Reader at T0.
    struct World {
        events: Vec<Value>,
        snapshots: Vec<Value>,
        tokens: Vec<Value>,
        policies: Vec<Value>,
    }

    fn world() -> World {
        World {
            events: vec![],
            snapshots: vec![json!({"snapshot_at": T0, "principal": "svc", "role": "Reader"})],
            tokens: vec![],
            policies: vec![
                json!({"method": "GET", "path": "/w/{id}", "all_of": ["w.read"]}),
                json!({"method": "PUT", "path": "/w/{id}", "all_of": ["w.update"], "fields": {"cost": "w.cost"}}),
                json!({"method": "POST", "path": "/o/{id}", "all_of": ["w.update"], "data_scoped": true}),
            ],
        }
    }

    fn event(ts: i64, principal: &str, method: &str, path: &str, status: u16) -> Value {
        json!({"ts": ts, "principal": principal, "method": method, "path": path, "status": status})
    }

    fn denial(ts: i64) -> Value {
        event(ts, "svc", "PUT", "/w/W1", 403)
    }

    fn with(mut value: Value, extra: Value) -> Value {
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        value
    }

    fn roles() -> Vec<Value> {
        vec![
            json!({"role": "Reader", "permissions": ["w.read"]}),
            json!({"role": "Writer", "permissions": ["w.read", "w.update"]}),
            json!({"role": "Costs", "permissions": ["w.cost"], "inherits": ["Writer"]}),
            json!({"role": "UI Editor", "permissions": ["w.update"], "plane": "application"}),
            json!({"role": "Calibrator", "permissions": ["m.calibrate", "w.read"]}),
        ]
    }

    fn run(world: &World) -> Ingested {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, table: Table, rows: &[Value]| {
            let path = dir.path().join(name);
            let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
            std::fs::write(&path, text).unwrap();
            InputFile {
                path: Some(path),
                table,
                explicit: true,
                stream: false,
            }
        };
        let files = vec![
            write("events.jsonl", Table::Events, &world.events),
            write(
                "role_snapshots.jsonl",
                Table::RoleSnapshots,
                &world.snapshots,
            ),
            write("tokens.jsonl", Table::Tokens, &world.tokens),
            write("roles.jsonl", Table::Roles, &roles()),
            write("policies.jsonl", Table::Policies, &world.policies),
        ];
        ingest(files, &IngestOptions::default()).unwrap()
    }

    /// What `read` takes from each diagnosis of `svc`'s denial groups, sorted.
    fn read_diagnoses<T: Ord>(world: &World, read: impl Fn(&Diagnosis) -> T) -> Vec<T> {
        let mut ingested = run(world);
        let denials = ingested.events.denial_groups().unwrap();
        let groups: Vec<_> = denials.iter().map(|(k, g)| (k, g)).collect();
        let reference = crate::correlate::Reference::new(&ingested).unwrap();
        let correlation = crate::correlate::correlate(&reference, &groups).unwrap();
        let catalog = PolicyCatalog::new(ingested.policies.clone());
        let successes = SuccessIndex::new(&ingested.events.successes);
        let diagnosed = diagnose(
            &correlation,
            &catalog,
            &successes,
            DiagnoseOptions::default(),
        );
        let mut out: Vec<T> = diagnosed
            .diagnoses
            .iter()
            .filter(|d| &*d.denial.key.principal == "svc")
            .map(read)
            .collect();
        out.sort();
        out
    }

    /// (cause, missing) of the denial groups of `svc`, by path.
    fn diagnoses(world: &World) -> Vec<(String, Cause, Vec<String>)> {
        read_diagnoses(world, |d| {
            (
                d.denial.key.template.to_string(),
                d.cause,
                d.missing.to_vec(),
            )
        })
    }

    fn cause_of(world: &World) -> Cause {
        let all = diagnoses(world);
        assert_eq!(all.len(), 1, "one denial group expected: {all:?}");
        all[0].1
    }

    #[test]
    fn missing_permission() {
        let mut w = world();
        w.events.push(denial(T0 + HOUR));
        assert_eq!(
            diagnoses(&w),
            vec![(
                "/w/{id}".into(),
                Cause::MissingPermission,
                vec!["w.update".into()]
            )]
        );
        w.snapshots
            .push(json!({"snapshot_at": T0, "principal": "svc", "role": "Writer"}));
        assert_ne!(cause_of(&w), Cause::MissingPermission);
    }

    #[test]
    fn missing_permission_held_only_in_the_application_plane() {
        let mut w = world();
        w.snapshots
            .push(json!({"snapshot_at": T0, "principal": "svc", "role": "UI Editor"}));
        w.events.push(denial(T0 + HOUR));
        let mut ingested = run(&w);
        let denials = ingested.events.denial_groups().unwrap();
        let groups: Vec<_> = denials.iter().map(|(k, g)| (k, g)).collect();
        let reference = crate::correlate::Reference::new(&ingested).unwrap();
        let correlation = crate::correlate::correlate(&reference, &groups).unwrap();
        let catalog = PolicyCatalog::new(ingested.policies.clone());
        let successes = SuccessIndex::new(&ingested.events.successes);
        let diagnosed = diagnose(
            &correlation,
            &catalog,
            &successes,
            DiagnoseOptions::default(),
        );
        let d = &diagnosed.diagnoses[0];
        assert_eq!(d.cause, Cause::MissingPermission);
        assert_eq!(
            d.evidence.other_plane.as_ref().unwrap()["w.update"],
            BTreeSet::from(["UI Editor".to_string()])
        );
    }

    #[test]
    fn field_level() {
        let mut w = world();
        w.snapshots[0]["role"] = json!("Writer");
        w.events.push(with(
            denial(T0 + HOUR),
            json!({"fields": ["cost", "status"]}),
        ));
        assert_eq!(
            diagnoses(&w),
            vec![("/w/{id}".into(), Cause::FieldLevel, vec!["w.cost".into()])]
        );
        let mut w = world();
        w.snapshots[0]["role"] = json!("Writer");
        w.events
            .push(with(denial(T0 + HOUR), json!({"fields": ["status"]})));
        assert_ne!(cause_of(&w), Cause::FieldLevel);
    }

    #[test]
    fn field_level_from_behaviour() {
        // No rule: the principal's own successes on the same object show the field is the difference.
        let touching = |fields: Value| {
            let mut w = world();
            w.policies.clear();
            w.events.push(with(
                event(T0 + HOUR, "svc", "PUT", "/w/W1", 200),
                json!({"fields": ["status"]}),
            ));
            w.events
                .push(with(denial(T0 + 2 * HOUR), json!({ "fields": fields })));
            cause_of(&w)
        };
        assert_eq!(touching(json!(["status", "cost"])), Cause::FieldLevel);
        assert_ne!(touching(json!(["status"])), Cause::FieldLevel);
    }

    #[test]
    fn data_scope() {
        let mut w = world();
        w.snapshots = vec![
            json!({"snapshot_at": T0, "principal": "svc", "role": "Writer", "data_scope": ["M1"]}),
        ];
        w.events.push(with(
            event(T0 + HOUR, "svc", "POST", "/o/X1", 403),
            json!({"org": "M2"}),
        ));
        assert_eq!(cause_of(&w), Cause::DataScope);
        w.events[0]["org"] = json!("M1");
        assert_ne!(cause_of(&w), Cause::DataScope);
    }

    #[test]
    fn propagation_delay() {
        let mut w = world();
        w.snapshots
            .push(json!({"snapshot_at": T1, "principal": "svc", "role": "Writer"}));
        w.events.push(denial(T1 + 5 * 60_000));
        w.events.push(event(T1 + HOUR, "svc", "PUT", "/w/W1", 200));
        assert_eq!(cause_of(&w), Cause::PropagationDelay);
        w.events[0]["ts"] = json!(T1 + 20 * 60_000);
        assert_ne!(cause_of(&w), Cause::PropagationDelay);
    }

    fn token(id: &str, issued: i64, scopes: &str) -> Value {
        json!({"token_id": id, "principal": "svc", "scopes": scopes, "issued_at": issued, "expires_at": issued + 2 * HOUR})
    }

    #[test]
    fn stale_token() {
        let mut w = world();
        w.snapshots
            .push(json!({"snapshot_at": T1, "principal": "svc", "role": "Writer"}));
        w.tokens.push(token("old", T1 - 30 * 60_000, "w.read"));
        w.events
            .push(with(denial(T1 + 20 * 60_000), json!({"token_id": "old"})));
        assert_eq!(
            diagnoses(&w),
            vec![("/w/{id}".into(), Cause::StaleToken, vec!["w.update".into()])]
        );
        w.tokens[0] = token("old", T1 + 15 * 60_000, "w.read");
        assert_ne!(cause_of(&w), Cause::StaleToken);
    }

    #[test]
    fn scope_not_requested() {
        let mut w = world();
        w.snapshots
            .push(json!({"snapshot_at": T1, "principal": "svc", "role": "Writer"}));
        w.tokens.push(token("new", T1 + 15 * 60_000, "w.read"));
        w.events
            .push(with(denial(T1 + 20 * 60_000), json!({"token_id": "new"})));
        assert_eq!(cause_of(&w), Cause::ScopeNotRequested);
        w.tokens[0] = token("new", T1 + 15 * 60_000, "w.read w.update");
        assert_ne!(cause_of(&w), Cause::ScopeNotRequested);
    }

    #[test]
    fn inline_scopes_count_as_the_token() {
        let mut w = world();
        w.snapshots[0]["role"] = json!("Writer");
        w.events
            .push(with(denial(T0 + HOUR), json!({"scopes": "w.read"})));
        assert_eq!(cause_of(&w), Cause::ScopeNotRequested);
    }

    #[test]
    fn token_expired() {
        let mut w = world();
        w.tokens.push(token("t", T0, "w.read"));
        w.events
            .push(with(denial(T0 + 3 * HOUR), json!({"token_id": "t"})));
        assert_eq!(cause_of(&w), Cause::TokenExpired);
        w.events[0]["ts"] = json!(T0 + HOUR);
        assert_ne!(cause_of(&w), Cause::TokenExpired);
    }

    #[test]
    fn object_acl() {
        let mut w = world();
        w.snapshots[0]["role"] = json!("Writer");
        w.events.push(event(T0 + HOUR, "svc", "PUT", "/w/W2", 200));
        w.events.push(denial(T0 + 2 * HOUR));
        assert_eq!(cause_of(&w), Cause::ObjectAcl);
        w.events.remove(0);
        assert_ne!(cause_of(&w), Cause::ObjectAcl);
    }

    #[test]
    fn the_feature_that_separates_decides_between_object_and_field() {
        // Without a rule: the account updates W2 and W3 touching `status`; the
        // denial is on W1, never allowed to it.
        let denied_touching = |fields: Value| {
            let mut w = world();
            w.policies.clear();
            for (hour, object) in [(1, "W2"), (2, "W3")] {
                w.events.push(with(
                    event(T0 + hour * HOUR, "svc", "PUT", &format!("/w/{object}"), 200),
                    json!({"fields": ["status"]}),
                ));
            }
            w.events
                .push(with(denial(T0 + 3 * HOUR), json!({ "fields": fields })));
            let read = read_diagnoses(&w, |d| (d.cause, d.note.as_deref().map(str::to_string)));
            assert_eq!(read.len(), 1, "{read:?}");
            read[0].clone()
        };
        // The same fields succeed elsewhere: the object is the difference.
        assert_eq!(denied_touching(json!(["status"])).0, Cause::ObjectAcl);
        // A field no success touched: the field rule is, the object the runner-up.
        let (cause, note) = denied_touching(json!(["cost"]));
        assert_eq!(cause, Cause::FieldLevel);
        let note = note.unwrap();
        assert!(note.contains("runner-up: object_acl"), "{note}");
        assert!(
            note.starts_with("which permission cost needs is unknown"),
            "{note}"
        );
    }

    #[test]
    fn explicit_deny() {
        let mut w = world();
        w.events.push(with(
            denial(T0 + HOUR),
            json!({"message": "blocked with an explicit deny in an identity-based policy"}),
        ));
        assert_eq!(cause_of(&w), Cause::ExplicitDeny);
        w.events[0]["message"] = json!("Forbidden");
        assert_ne!(cause_of(&w), Cause::ExplicitDeny);
    }

    #[test]
    fn guardrails_come_before_everything_a_grant_could_fix() {
        let mut w = world();
        w.events.push(with(
            denial(T0 + HOUR),
            json!({"message": "blocked with an explicit deny in a service control policy"}),
        ));
        assert_eq!(cause_of(&w), Cause::Guardrail);
        w.events[0]["message"] = json!("… because no permissions boundary allows the x action");
        assert_eq!(cause_of(&w), Cause::Guardrail);
        w.events[0]["message"] = json!("… because no identity-based policy allows the x action");
        assert_ne!(cause_of(&w), Cause::Guardrail);
    }

    #[test]
    fn workflow_state() {
        let mut w = world();
        w.events.push(with(
            denial(T0 + HOUR),
            json!({"error_code": "WORKFLOW_LOCKED"}),
        ));
        assert_eq!(cause_of(&w), Cause::WorkflowState);
        w.events[0]["error_code"] = json!("INSUFFICIENT_PERMISSIONS");
        assert_ne!(cause_of(&w), Cause::WorkflowState);
    }

    #[test]
    fn gateway_policy() {
        let mut w = world();
        w.events.push(with(
            denial(T0 + HOUR),
            json!({"error_code": "APIGW_NO_ROUTE"}),
        ));
        assert_eq!(cause_of(&w), Cause::GatewayPolicy);
        w.events[0]["error_code"] = json!("FORBIDDEN");
        assert_ne!(cause_of(&w), Cause::GatewayPolicy);
    }

    #[test]
    fn masked_not_found() {
        let mut w = world();
        w.events
            .push(event(T0 + HOUR, "other", "GET", "/w/W1", 404));
        w.events.push(denial(T0 + 2 * HOUR));
        assert_eq!(cause_of(&w), Cause::MaskedNotFound);
        w.events
            .push(event(T0 + 3 * HOUR, "other", "GET", "/w/W1", 200));
        assert_ne!(cause_of(&w), Cause::MaskedNotFound);
    }

    fn calibration_world(peers: usize) -> World {
        let mut w = world();
        for i in 0..peers {
            let peer = format!("tech{i}");
            w.snapshots
                .push(json!({"snapshot_at": T0, "principal": peer, "role": "Calibrator"}));
            w.events
                .push(event(T0 + HOUR, &peer, "POST", "/m/M1/calibrate", 200));
        }
        w.events
            .push(event(T0 + 2 * HOUR, "svc", "POST", "/m/M1/calibrate", 403));
        w
    }

    #[test]
    fn peers_infer_the_requirement() {
        let got = diagnoses(&calibration_world(3));
        assert_eq!(
            got,
            vec![(
                "/m/{id}/calibrate".into(),
                Cause::MissingPermission,
                vec!["m.calibrate".into()]
            )]
        );
        // Fewer than --min-peers: the one lacking permission named like the
        // endpoint, at low confidence; nothing when no name fits.
        assert_eq!(diagnoses(&calibration_world(2)), got);
        let level = read_diagnoses(&calibration_world(2), |d| d.confidence.level);
        assert_eq!(level, vec![Level::Low]);
        let mut unnamed = calibration_world(2);
        for e in &mut unnamed.events {
            e["path"] = json!("/x/M1/adjust");
        }
        assert_eq!(cause_of(&unnamed), Cause::Unknown);
    }

    #[test]
    fn unknown() {
        let mut w = world();
        w.events
            .push(event(T0 + HOUR, "svc", "DELETE", "/z/1", 403));
        assert_eq!(cause_of(&w), Cause::Unknown);
        w.policies
            .push(json!({"method": "DELETE", "path": "/z/{id}", "all_of": ["z.delete"]}));
        assert_ne!(cause_of(&w), Cause::Unknown);
    }
}
