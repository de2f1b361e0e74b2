//! Stage 4, cluster: diagnoses in, findings per principal out. Denial groups with
//! the same cause and missing permission are folded together, with their
//! evidence, and the fix for each principal is searched in the role graph.

mod fix;
pub mod messages;
pub mod signature;

pub mod suppress;

use compact_str::CompactString;
use rayon::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use self::messages::MessageTemplates;
use self::signature::{Signature, SignatureAcc, SignatureKey};
use self::suppress::{Subject, Suppression, Suppressions};

use self::fix::cover::smallest_cover;
use self::fix::RoleGrants;
use crate::diagnose::guardrail::DeniedBy;
use crate::diagnose::{Cause, Confidence, Diagnosed, Diagnosis, RequirementSource};
use crate::model::{format_millis, Millis, Position, Sample, UNKNOWN_TIME};

/// Request ids (or `file:line`) kept per finding as evidence.
const REQUESTS_PER_FINDING: usize = 5;
/// Objects, scopes, fields or instants listed per finding; the count says how many in all.
const VALUES_PER_FINDING: usize = 20;

/// Everything found for one principal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PrincipalFindings {
    pub principal: String,
    /// Denied requests.
    pub denied: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Roles held in the latest snapshot in effect at a denial.
    pub roles_held: Vec<String>,
    pub findings: Vec<Finding>,
    pub fix: Fix,
}

/// Denials of one principal that share a cause and a missing permission.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Finding {
    pub cause: Cause,
    /// The missing permission or scope (`a|b`: any one of them); none where no
    /// grant helps or nothing is known.
    pub permission: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// `METHOD /path/{id}` of every endpoint denied.
    pub endpoints: Vec<String>,
    /// Where the required permissions came from.
    pub required_by: Option<RequirementSource>,
    /// The weakest confidence among the folded groups, with its rule.
    pub confidence: Confidence,
    pub evidence: FindingEvidence,
    /// What to do, in words.
    pub fix: String,
    /// The existing roles (IAM policies, cloud roles) of the principal's fix
    /// that grant this finding's permission; empty where none does, a new one
    /// is needed, or no grant helps. What `--emit` binds.
    pub grant_roles: Vec<String>,
    pub note: Option<String>,
    /// Against `--baseline`: `new` or `persisting`, by (principal, permission).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'static str>,
}

/// What a finding rests on. Lists are sorted and capped; `*_total` counts all.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct FindingEvidence {
    /// The earliest denied requests: their ids, else `file:line`.
    pub requests: Vec<String>,
    /// Snapshot instants in effect at these denials.
    #[schemars(with = "Vec<String>")]
    pub snapshots: Vec<Timestamp>,
    /// The tokens the denied requests carried (a role session's name, in
    /// CloudTrail), as the log names them.
    pub tokens: Vec<String>,
    #[schemars(with = "Vec<String>")]
    pub token_issued_at: Vec<Timestamp>,
    #[schemars(with = "Vec<String>")]
    pub token_expires_at: Vec<Timestamp>,
    /// When the permission was granted (stale token, propagation delay).
    #[schemars(with = "Vec<String>")]
    pub granted_at: Vec<Timestamp>,
    /// Succeeding principals the requirement was inferred from.
    pub peers: Option<usize>,
    pub objects: Vec<String>,
    pub objects_total: usize,
    pub orgs: Vec<String>,
    pub fields: Vec<String>,
    /// Whether the principal succeeded on the endpoint after the denials.
    pub later_succeeded: Option<bool>,
    /// The policies the responses name as the cause (explicit denies, guardrails).
    pub denied_by: Vec<DeniedBy>,
}

/// An instant in a finding's evidence, written as RFC 3339 text
/// ([`format_millis`]). Held as its milliseconds: a finding lists up to eighty
/// instants, and as text (about 56 bytes each with the string's header) they
/// were a fifth of what the findings of a 10 GB log held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub Millis);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_millis(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What to change for a principal.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Fix {
    /// Existing API roles that together grant every missing permission: the
    /// fewest, least over-granting first.
    pub grant_roles: Vec<String>,
    /// Whether `grant_roles` is proven smallest (else greedy, within ln(n)+1).
    pub grant_roles_exact: bool,
    /// Missing permissions that no existing role grants.
    pub no_role_grants: Vec<String>,
    /// Remarks: a held role that grants a permission only in another plane; a
    /// role granted after the denials it would have prevented.
    pub hints: Vec<String>,
}

#[derive(Default)]
struct FindingAcc<'a> {
    count: u64,
    first: Option<Millis>,
    /// `None` until a group is folded in: never the epoch, which a denial of
    /// unknown time (`UNKNOWN_TIME`, the smallest instant) would leave.
    last: Option<Millis>,
    /// (method, template): the finding's text is made once, at the end.
    endpoints: BTreeSet<(&'a str, &'a str)>,
    sources: BTreeSet<RequirementSource>,
    confidence: Option<Confidence>,
    samples: Vec<(Millis, CompactString)>,
    snapshots: BTreeSet<Millis>,
    issued: BTreeSet<Millis>,
    expires: BTreeSet<Millis>,
    granted: BTreeSet<Millis>,
    peers: Option<usize>,
    /// Every object, borrowed from the diagnoses, duplicates and all: sorted and
    /// deduplicated once at the end (a set of owned copies of a million object
    /// ids was the largest thing this stage kept).
    objects: Vec<&'a str>,
    orgs: BTreeSet<&'a str>,
    fields: BTreeSet<&'a str>,
    later_succeeded: Option<bool>,
    tokens: BTreeSet<&'a str>,
    denied_by: BTreeSet<&'a DeniedBy>,
    notes: BTreeSet<&'a str>,
}

#[derive(Default)]
struct PrincipalAcc<'a> {
    denied: u64,
    first: Option<Millis>,
    /// As [`FindingAcc::last`].
    last: Option<Millis>,
    latest_snapshot: Option<Millis>,
    findings: BTreeMap<(Cause, Option<String>), FindingAcc<'a>>,
    other_plane: BTreeMap<String, BTreeSet<String>>,
}

impl<'a> PrincipalAcc<'a> {
    /// Folds one of the principal's diagnoses in.
    fn add(&mut self, d: &'a Diagnosis, locate: &(dyn Fn(Position) -> String + Sync)) {
        let key = d.denial.key;
        let group = d.denial.group;
        self.denied += group.count;
        self.first = Some(self.first.map_or(group.first_ts, |f| f.min(group.first_ts)));
        self.last = Some(self.last.map_or(group.last_ts, |l| l.max(group.last_ts)));
        self.latest_snapshot = self.latest_snapshot.max(d.denial.snapshot_at);
        for (perm, roles) in d.evidence.other_plane.iter().flat_map(|m| m.iter()) {
            self.other_plane
                .entry(perm.clone())
                .or_default()
                .extend(roles.iter().cloned());
        }
        let permissions: Vec<Option<String>> = if d.missing.is_empty() {
            vec![None]
        } else {
            d.missing.iter().cloned().map(Some).collect()
        };
        for permission in permissions {
            let f = self.findings.entry((d.cause, permission)).or_default();
            f.count += group.count;
            f.first = Some(f.first.map_or(group.first_ts, |t| t.min(group.first_ts)));
            f.last = Some(f.last.map_or(group.last_ts, |l| l.max(group.last_ts)));
            f.endpoints.insert((&key.method, &key.template));
            f.sources.extend(d.source);
            f.confidence = Some(f.confidence.map_or(d.confidence, |c| c.min(d.confidence)));
            let e = &d.evidence;
            f.snapshots.extend(d.denial.snapshot_at);
            f.issued.extend(d.denial.token_issued_at());
            f.expires.extend(d.denial.token_expires_at());
            f.granted.extend(e.granted_at);
            f.peers = f.peers.max(e.peers.map(|n| n as usize));
            f.objects
                .extend(group.objects.iter().map(|o| o.id.as_str()));
            f.orgs.extend(key.org.as_deref());
            f.fields.extend(e.fields.iter().map(String::as_str));
            if let Some(later) = e.later_succeeded {
                f.later_succeeded = Some(f.later_succeeded.unwrap_or(false) || later);
            }
            f.tokens.extend(key.token_id.as_deref());
            f.denied_by.extend(e.denied_by.iter());
            f.notes.extend(d.note.as_deref());
            f.samples
                .extend(group.samples.iter().map(|s| (s.ts, request_ref(s, locate))));
            f.samples.sort();
            f.samples.truncate(REQUESTS_PER_FINDING);
        }
    }
}

/// How a finding or signature names a denied request.
fn request_ref(sample: &Sample, locate: &(dyn Fn(Position) -> String + Sync)) -> CompactString {
    match &sample.request_id {
        Some(id) => id.clone(),
        None => locate(sample.position).into(),
    }
}

/// Causes whose missing permissions a role grant fixes.
fn fixed_by_roles(cause: Cause) -> bool {
    matches!(cause, Cause::MissingPermission | Cause::FieldLevel)
}

/// The cluster stage's output.
#[derive(Debug)]
pub struct Clustered {
    /// Principals with denials, most denied first; suppressed denials left out.
    pub principals: Vec<PrincipalFindings>,
    /// Signatures, most frequent first; suppressed ones left out.
    pub signatures: Vec<Signature>,
    pub suppressed: Suppressed,
    /// Every distinct signature, suppressed ones included, by number (the
    /// numbers [`Clusterer::partition_signatures`] gives).
    pub signature_keys: Vec<SignatureKey>,
    /// Their ids, by number.
    pub signature_ids: Vec<Arc<str>>,
}

/// What suppressions hid, and which have expired (and so hide nothing).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Suppressed {
    /// Denied requests hidden.
    pub denials: u64,
    /// Each suppression that hid something, with what it hid.
    pub by_suppression: Vec<SuppressionUse>,
    pub expired: Vec<Suppression>,
}

/// One suppression that hid denials.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SuppressionUse {
    pub suppression: Suppression,
    pub denials: u64,
    pub signatures: Vec<String>,
}

/// The cluster stage, run a partition of principals at a time: each partition's
/// diagnoses are folded in ([`Clusterer::add`]) and may then be dropped, as
/// partitions hold disjoint principals and every principal's findings are
/// finished with its partition; only the signatures and the suppressions'
/// tallies span partitions, and they own what they keep. [`Clusterer::finish`]
/// gives the stage's output.
pub struct Clusterer<'m> {
    templates: MessageTemplates<'m>,
    suppressions: &'m Suppressions,
    /// The distinct signatures so far, numbered in the order first met.
    numbers: HashMap<SignatureKey, u32>,
    /// Their ids, by number.
    ids: Vec<Arc<str>>,
    signatures: HashMap<u32, SignatureAcc>,
    principals: Vec<PrincipalFindings>,
    uses: Vec<(Suppression, u64, BTreeSet<String>)>,
    /// The last partition's signature numbers and suppressions, per diagnosis.
    signature_of: Vec<u32>,
    hidden: Vec<bool>,
}

impl<'m> Clusterer<'m> {
    /// A clusterer for a run whose denials carry `messages` (all of them: a
    /// signature's message template is mined from every message first).
    pub fn new(
        messages: impl IntoIterator<Item = &'m str>,
        suppressions: &'m Suppressions,
    ) -> Self {
        Clusterer {
            templates: MessageTemplates::mine(messages),
            suppressions,
            numbers: HashMap::new(),
            ids: Vec::new(),
            signatures: HashMap::new(),
            principals: Vec::new(),
            uses: Vec::new(),
            signature_of: Vec::new(),
            hidden: Vec::new(),
        }
    }

    /// The last partition's diagnoses' signatures (numbers into
    /// [`Clustered::signature_ids`]) and whether a suppression hid each, in
    /// the order of its diagnoses.
    pub fn partition_signatures(&self) -> (&[u32], &[bool]) {
        (&self.signature_of, &self.hidden)
    }

    /// The id of signature number `n`.
    pub fn signature_id(&self, n: u32) -> &str {
        &self.ids[n as usize]
    }

    /// Each diagnosis's signature as a number, the new signatures numbered (and
    /// their ids made) as met.
    ///
    /// Distinct signatures are few (one per endpoint, cause, missing permissions
    /// and message), diagnoses up to one per denial group, so each signature's
    /// key is kept once. Keys are made in parallel a slice of diagnoses at a
    /// time, so no more than one slice's keys exist before duplicates are dropped.
    fn number(&mut self, diagnoses: &[Diagnosis]) -> Vec<u32> {
        let mut numbered = Vec::with_capacity(diagnoses.len());
        let mut new_keys = Vec::new();
        for slice in diagnoses.chunks(1 << 16) {
            let keys: Vec<SignatureKey> = slice
                .par_iter()
                .map(|d| {
                    let key = d.denial.key;
                    let mut missing = d.missing.to_vec();
                    missing.sort();
                    SignatureKey {
                        method: key.method.to_string(),
                        template: key.template.to_string(),
                        status: key.status,
                        error_code: key.error_code.as_deref().map(str::to_string),
                        cause: d.cause,
                        missing,
                        message_template: key
                            .message
                            .as_deref()
                            .map(|m| self.templates.template(m)),
                    }
                })
                .collect();
            for key in keys {
                let next = self.numbers.len() as u32;
                match self.numbers.entry(key) {
                    Entry::Occupied(known) => numbered.push(*known.get()),
                    Entry::Vacant(new) => {
                        new_keys.push(new.key().clone());
                        new.insert(next);
                        numbered.push(next);
                    }
                }
            }
        }
        // Each id is a SHA-256: made in parallel.
        self.ids
            .par_extend(new_keys.par_iter().map(|k| Arc::<str>::from(k.id())));
        numbered
    }

    /// Folds in the diagnoses of one partition of principals.
    pub fn add(&mut self, diagnosed: &Diagnosed, locate: &(dyn Fn(Position) -> String + Sync)) {
        let numbered = self.number(&diagnosed.diagnoses);
        let ids = &self.ids;
        let id_of = |i: usize| &ids[numbered[i] as usize];
        // The suppression hiding each diagnosis, if any: independent, so found
        // in parallel.
        let hidden_by: Vec<Option<&Suppression>> = if self.suppressions.hide_nothing() {
            vec![None; diagnosed.diagnoses.len()]
        } else {
            diagnosed
                .diagnoses
                .par_iter()
                .enumerate()
                .map(|(i, d)| {
                    let key = d.denial.key;
                    let endpoint = format!("{} {}", key.method, key.template);
                    let subject = Subject {
                        signature: id_of(i),
                        principal: &key.principal,
                        cause: d.cause,
                        missing: &d.missing,
                        endpoint: &endpoint,
                    };
                    self.suppressions.hiding(&subject)
                })
                .collect()
        };

        let mut visible_by_principal: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (d, hidden_by)) in diagnosed.diagnoses.iter().zip(&hidden_by).enumerate() {
            let Some(suppression) = hidden_by else {
                visible_by_principal
                    .entry(&*d.denial.key.principal)
                    .or_default()
                    .push(i);
                continue;
            };
            let id = id_of(i);
            let count = d.denial.group.count;
            match self.uses.iter_mut().find(|(s, _, _)| s == *suppression) {
                Some((_, n, ids)) => {
                    *n += count;
                    ids.insert(id.to_string());
                }
                None => self.uses.push((
                    (*suppression).clone(),
                    count,
                    BTreeSet::from([id.to_string()]),
                )),
            }
        }

        // Principals are independent: each folds its own diagnoses (and its share
        // of every signature) in parallel, and its fix is a role-cover search.
        // Every fold is order-free (sums, minima, sets, sorted and capped lists),
        // so the result does not depend on how the work was split.
        let correlation = diagnosed.correlation;
        // Every permission a finding or a hint of this partition can name.
        let permissions: BTreeSet<&str> = diagnosed
            .diagnoses
            .iter()
            .flat_map(|d| {
                let other_plane = d.evidence.other_plane.iter().flat_map(|m| m.keys());
                d.missing.iter().chain(other_plane)
            })
            .map(String::as_str)
            .collect();
        let role_grants = RoleGrants::of(correlation.graph, &permissions);
        //
        // Each worker folds its principals' shares of every signature into one map
        // (by signature number), and the workers' maps are merged: one entry per
        // signature per worker, not one per principal and signature.
        type Folded = (Vec<PrincipalFindings>, HashMap<u32, SignatureAcc>);
        let (principals, signatures): Folded = visible_by_principal
            .into_par_iter()
            .fold(
                Folded::default,
                |(mut out, mut signatures), (principal, indices)| {
                    let mut acc = PrincipalAcc::default();
                    for i in indices {
                        let d = &diagnosed.diagnoses[i];
                        let group = d.denial.group;
                        let requests = group.samples.iter().map(|s| (s.ts, request_ref(s, locate)));
                        signatures.entry(numbered[i]).or_default().add(
                            &d.denial.key.principal,
                            group.count,
                            group.first_ts,
                            group.last_ts,
                            requests,
                        );
                        acc.add(d, locate);
                    }
                    let roles_held = acc
                        .latest_snapshot
                        .and_then(|at| correlation.history.at(principal, at))
                        .map(|s| s.roles.keys().cloned().collect())
                        .unwrap_or_default();
                    out.push(finish_principal(
                        principal,
                        acc,
                        roles_held,
                        diagnosed,
                        &role_grants,
                    ));
                    (out, signatures)
                },
            )
            .reduce(
                Folded::default,
                |(mut out, mut mine), (their_out, theirs)| {
                    out.extend(their_out);
                    for (n, acc) in theirs {
                        mine.entry(n).or_default().merge(acc);
                    }
                    (out, mine)
                },
            );
        self.principals.extend(principals);
        for (n, acc) in signatures {
            self.signatures.entry(n).or_default().merge(acc);
        }
        self.hidden = hidden_by.iter().map(Option::is_some).collect();
        self.signature_of = numbered;
    }

    /// Findings per principal, most denied first, and the signatures, most
    /// frequent first.
    pub fn finish(self) -> Clustered {
        let mut principals = self.principals;
        principals.sort_by(|a, b| {
            b.denied
                .cmp(&a.denied)
                .then_with(|| a.principal.cmp(&b.principal))
        });
        let mut keys: Vec<(u32, SignatureKey)> =
            self.numbers.into_iter().map(|(k, n)| (n, k)).collect();
        keys.sort_unstable_by_key(|(n, _)| *n);
        let keys: Vec<SignatureKey> = keys.into_iter().map(|(_, k)| k).collect();
        let mut signatures: Vec<Signature> = self
            .signatures
            .into_iter()
            .map(|(n, acc)| acc.finish(&keys[n as usize], format_millis))
            .collect();
        signatures.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        let suppressed = Suppressed {
            denials: self.uses.iter().map(|(_, n, _)| n).sum(),
            by_suppression: self
                .uses
                .into_iter()
                .map(|(suppression, denials, ids)| SuppressionUse {
                    suppression,
                    denials,
                    signatures: ids.into_iter().collect(),
                })
                .collect(),
            expired: self.suppressions.expired.clone(),
        };
        Clustered {
            principals,
            signatures,
            suppressed,
            signature_keys: keys,
            signature_ids: self.ids,
        }
    }
}

fn capped<T>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    values.into_iter().take(VALUES_PER_FINDING).collect()
}

fn finish_principal(
    principal: &str,
    acc: PrincipalAcc,
    roles_held: Vec<String>,
    diagnosed: &Diagnosed,
    role_grants: &RoleGrants<'_>,
) -> PrincipalFindings {
    let missing: BTreeSet<String> = acc
        .findings
        .keys()
        .filter(|(cause, _)| fixed_by_roles(*cause))
        .filter_map(|(_, perm)| perm.clone())
        .collect();
    // A permission granted after its last denial needs no grant: say when it came.
    let last_denied = |perm: &str| {
        acc.findings
            .iter()
            .filter(|((cause, p), _)| fixed_by_roles(*cause) && p.as_deref() == Some(perm))
            .filter_map(|(_, f)| f.last)
            .max()
    };
    let granted_later: BTreeMap<String, fix::GrantedLater> = missing
        .iter()
        .filter_map(|perm| {
            let later =
                fix::granted_after(principal, perm, last_denied(perm)?, diagnosed, role_grants)?;
            Some((perm.clone(), later))
        })
        .collect();
    let to_grant: BTreeSet<String> = missing
        .into_iter()
        .filter(|perm| !granted_later.contains_key(perm))
        .collect();
    let cover = smallest_cover(&to_grant, &role_grants.candidates);
    let hints = acc
        .other_plane
        .iter()
        .map(|(perm, roles)| {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let api_roles = role_grants.granting(&cover.roles, perm);
            let assign = if api_roles.is_empty() {
                "no API role grants it: create one".to_string()
            } else {
                format!("assign the API role {}", api_roles.join(" or "))
            };
            format!(
                "{} grants {perm} only in the application plane, not to API calls: {assign}",
                roles.join(", ")
            )
        })
        .chain(fix::GrantedLater::hints(&granted_later))
        .collect();
    let mut findings: Vec<Finding> = acc
        .findings
        .into_iter()
        .map(|((cause, permission), mut f)| {
            f.objects.sort_unstable();
            f.objects.dedup();
            let evidence = FindingEvidence {
                requests: f
                    .samples
                    .into_iter()
                    .map(|(_, id)| id.to_string())
                    .collect(),
                snapshots: capped(f.snapshots.into_iter().map(Timestamp)),
                tokens: capped(f.tokens.into_iter().map(str::to_string)),
                token_issued_at: capped(f.issued.into_iter().map(Timestamp)),
                token_expires_at: capped(f.expires.into_iter().map(Timestamp)),
                granted_at: capped(f.granted.into_iter().map(Timestamp)),
                peers: f.peers,
                objects_total: f.objects.len(),
                objects: capped(f.objects.iter().map(|o| o.to_string())),
                orgs: capped(f.orgs.into_iter().map(str::to_string)),
                fields: capped(f.fields.into_iter().map(str::to_string)),
                later_succeeded: f.later_succeeded,
                denied_by: f.denied_by.into_iter().cloned().collect(),
            };
            // "METHOD /path" sorts as (method, path) does: a space sorts before
            // every printable character.
            let endpoints: Vec<String> = f
                .endpoints
                .into_iter()
                .map(|(method, template)| format!("{method} {template}"))
                .collect();
            let later = permission
                .as_ref()
                .filter(|_| fixed_by_roles(cause))
                .and_then(|p| granted_later.get(p));
            let grant_roles = match (&permission, later) {
                (Some(p), None) if fixed_by_roles(cause) => role_grants.granting(&cover.roles, p),
                _ => Vec::new(),
            };
            let fix = match later {
                Some(later) => later.advice(evidence.later_succeeded),
                None => fix::advice(
                    cause,
                    permission.as_deref(),
                    &endpoints,
                    &evidence,
                    &cover.roles,
                    role_grants,
                ),
            };
            Finding {
                cause,
                permission,
                count: f.count,
                first_seen: format_millis(f.first.unwrap_or(UNKNOWN_TIME)),
                last_seen: format_millis(f.last.unwrap_or(UNKNOWN_TIME)),
                endpoints,
                required_by: f.sources.into_iter().next(),
                confidence: f
                    .confidence
                    .expect("every finding folds at least one diagnosis"),
                evidence,
                fix,
                grant_roles,
                note: (!f.notes.is_empty())
                    .then(|| f.notes.into_iter().collect::<Vec<_>>().join("; ")),
                baseline: None,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.cause.cmp(&b.cause))
            .then_with(|| a.permission.cmp(&b.permission))
    });
    PrincipalFindings {
        principal: principal.to_string(),
        denied: acc.denied,
        first_seen: format_millis(acc.first.unwrap_or(UNKNOWN_TIME)),
        last_seen: format_millis(acc.last.unwrap_or(UNKNOWN_TIME)),
        roles_held,
        findings,
        fix: Fix {
            grant_roles: cover.roles,
            grant_roles_exact: cover.exact,
            no_role_grants: cover.uncoverable,
            hints,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evidence_instant_is_written_as_the_report_writes_every_time() {
        let ms = 1_793_750_400_123; // 2026-11-04T00:00:00.123Z
        let t = Timestamp(ms);
        assert_eq!(t.to_string(), format_millis(ms));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-04T00:00:00.123Z\""
        );
        let unknown = Timestamp(crate::model::UNKNOWN_TIME);
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"unknown\"");
    }
}
