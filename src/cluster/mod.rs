//! Stage 4, cluster: diagnoses in, findings per principal out. Denial groups with
//! the same cause and missing permission are folded together, and the fix for
//! each principal is searched in the role graph.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::correlate::roles::RoleGraph;
use crate::diagnose::{Cause, Diagnosed, RequirementSource};
use crate::ingest::aggregate::Position;
use crate::ingest::fields::format_millis;
use crate::model::Millis;

/// Request ids (or `file:line`) kept per finding as evidence.
const EVIDENCE_PER_FINDING: usize = 5;

/// Everything found for one principal.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct Finding {
    pub cause: Cause,
    /// The missing permission (`a|b`: any one of them); none when unknown.
    pub permission: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// `METHOD /path/{id}` of every endpoint denied.
    pub endpoints: Vec<String>,
    pub required_by: Option<RequirementSource>,
    pub evidence: Evidence,
    pub note: Option<String>,
}

/// What the finding rests on.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// The earliest denied requests: their ids, else `file:line`.
    pub requests: Vec<String>,
    /// Snapshot instants in effect at these denials.
    pub snapshots: Vec<String>,
}

/// What to change for a principal.
#[derive(Debug, Default, Serialize)]
pub struct Fix {
    /// Existing API roles that together grant every missing permission, fewest and
    /// least over-granting first.
    pub grant_roles: Vec<String>,
    /// Missing permissions that no existing role grants.
    pub no_role_grants: Vec<String>,
    /// Remarks: a held role that grants a permission only in another plane.
    pub hints: Vec<String>,
}

#[derive(Default)]
struct FindingAcc {
    count: u64,
    first: Millis,
    last: Millis,
    endpoints: BTreeSet<String>,
    sources: BTreeSet<RequirementSource>,
    samples: Vec<(Millis, String)>,
    snapshots: BTreeSet<Millis>,
    notes: BTreeSet<String>,
}

#[derive(Default)]
struct PrincipalAcc {
    denied: u64,
    first: Option<Millis>,
    last: Millis,
    latest_snapshot: Option<(Millis, Vec<String>)>,
    findings: BTreeMap<(Cause, Option<String>), FindingAcc>,
    other_plane: BTreeMap<String, BTreeSet<String>>,
}

/// Folds diagnoses into findings per principal, busiest principal first.
pub fn cluster(
    diagnosed: &Diagnosed,
    locate: &dyn Fn(Position) -> String,
) -> Vec<PrincipalFindings> {
    let mut principals: BTreeMap<&str, PrincipalAcc> = BTreeMap::new();
    for d in &diagnosed.diagnoses {
        let key = d.denial.key;
        let group = d.denial.group;
        let acc = principals.entry(key.principal.as_str()).or_default();
        acc.denied += group.count;
        acc.first = Some(acc.first.map_or(group.first_ts, |f| f.min(group.first_ts)));
        acc.last = acc.last.max(group.last_ts);
        if let Some(at) = d.denial.snapshot_at {
            if acc.latest_snapshot.as_ref().is_none_or(|(t, _)| *t < at) {
                acc.latest_snapshot = Some((at, d.denial.roles.keys().cloned().collect()));
            }
        }
        let permissions: Vec<Option<String>> = if d.missing.is_empty() {
            vec![None]
        } else {
            d.missing.iter().cloned().map(Some).collect()
        };
        for permission in permissions {
            if let Some(perm) = &permission {
                if let Some(roles) = d.denial.grants.other_planes.get(perm) {
                    acc.other_plane
                        .entry(perm.clone())
                        .or_default()
                        .extend(roles.iter().cloned());
                }
            }
            let f = acc
                .findings
                .entry((d.cause, permission))
                .or_insert_with(|| FindingAcc {
                    first: group.first_ts,
                    last: group.last_ts,
                    ..Default::default()
                });
            f.count += group.count;
            f.first = f.first.min(group.first_ts);
            f.last = f.last.max(group.last_ts);
            f.endpoints
                .insert(format!("{} {}", key.method, key.template));
            f.sources.extend(d.source);
            f.snapshots.extend(d.denial.snapshot_at);
            f.notes.extend(d.note.clone());
            for s in &group.samples {
                let id = s.request_id.clone().unwrap_or_else(|| locate(s.position));
                f.samples.push((s.ts, id));
            }
            f.samples.sort();
            f.samples.truncate(EVIDENCE_PER_FINDING);
        }
    }

    let mut out: Vec<PrincipalFindings> = principals
        .into_iter()
        .map(|(principal, acc)| finish_principal(principal, acc, diagnosed.graph))
        .collect();
    out.sort_by(|a, b| {
        b.denied
            .cmp(&a.denied)
            .then_with(|| a.principal.cmp(&b.principal))
    });
    out
}

fn finish_principal(principal: &str, acc: PrincipalAcc, graph: &RoleGraph) -> PrincipalFindings {
    let missing: BTreeSet<String> = acc
        .findings
        .keys()
        .filter(|(cause, _)| *cause == Cause::MissingPermission)
        .filter_map(|(_, perm)| perm.clone())
        .collect();
    let (grant_roles, no_role_grants) = covering_roles(&missing, graph);
    let hints = acc
        .other_plane
        .iter()
        .map(|(perm, roles)| {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            format!(
                "holds {} which grants {perm} only outside the API (an application role): assign an API role that grants it",
                roles.join(", ")
            )
        })
        .collect();
    let mut findings: Vec<Finding> = acc
        .findings
        .into_iter()
        .map(|((cause, permission), f)| Finding {
            cause,
            permission,
            count: f.count,
            first_seen: format_millis(f.first),
            last_seen: format_millis(f.last),
            endpoints: f.endpoints.into_iter().collect(),
            required_by: f.sources.into_iter().next(),
            evidence: Evidence {
                requests: f.samples.into_iter().map(|(_, id)| id).collect(),
                snapshots: f.snapshots.into_iter().map(format_millis).collect(),
            },
            note: (!f.notes.is_empty()).then(|| f.notes.into_iter().collect::<Vec<_>>().join("; ")),
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
        first_seen: format_millis(acc.first.unwrap_or_default()),
        last_seen: format_millis(acc.last),
        roles_held: acc
            .latest_snapshot
            .map(|(_, roles)| roles)
            .unwrap_or_default(),
        findings,
        fix: Fix {
            grant_roles,
            no_role_grants,
            hints,
        },
    }
}

/// The existing API roles that together grant `needed`: greedy set cover, taking
/// at each step the role that covers most of what is left, then the one that
/// grants least beyond what is needed, then by name. Greedy is within a factor
/// ln(n)+1 of the fewest roles. Returns the roles and what no role grants.
fn covering_roles(needed: &BTreeSet<String>, graph: &RoleGraph) -> (Vec<String>, Vec<String>) {
    let satisfied =
        |perm: &str, grants: &BTreeSet<String>| perm.split('|').any(|p| grants.contains(p));
    let mut candidates: Vec<(String, BTreeSet<String>)> = graph
        .api_roles()
        .map(|role| (role.to_string(), graph.grants([role]).api))
        .collect();
    candidates.sort();
    let mut left: BTreeSet<&String> = needed.iter().collect();
    let mut chosen = Vec::new();
    while !left.is_empty() {
        let best = candidates
            .iter()
            .map(|(role, grants)| {
                let covers = left.iter().filter(|p| satisfied(p, grants)).count();
                let excess = grants.len().saturating_sub(covers);
                (
                    covers,
                    std::cmp::Reverse(excess),
                    std::cmp::Reverse(role),
                    grants,
                )
            })
            .filter(|(covers, ..)| *covers > 0)
            .max();
        let Some((_, _, std::cmp::Reverse(role), grants)) = best else {
            break;
        };
        left.retain(|p| !satisfied(p, grants));
        chosen.push(role.clone());
    }
    (chosen, left.into_iter().cloned().collect())
}
