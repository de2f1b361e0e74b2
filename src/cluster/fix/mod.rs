//! The fix of a finding, in words a platform admin can act on.

pub mod cover;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use super::{FindingEvidence, Timestamp};
use crate::correlate::roles::{grants_permission, RoleGraph};
use crate::diagnose::guardrail::DeniedBy;
use crate::diagnose::{Cause, Diagnosed};
use crate::model::{format_millis, Millis};

/// Which roles grant each permission the partition's findings name, and the
/// roles a fix may propose ([`cover::Candidates`]): made once per partition of
/// principals, not asked of the role graph again for every principal and
/// finding.
pub struct RoleGrants<'g> {
    graph: &'g RoleGraph,
    pub candidates: cover::Candidates,
    /// The roles that grant each permission made for to API calls.
    granted_by: HashMap<String, HashSet<String>>,
}

impl<'g> RoleGrants<'g> {
    /// For `permissions`; others are looked up in the graph when asked.
    pub fn of(graph: &'g RoleGraph, permissions: &BTreeSet<&str>) -> Self {
        let api: Vec<(&str, BTreeSet<String>)> = graph
            .names()
            .map(|role| (role, graph.grants([role]).api))
            .collect();
        let granted_by = permissions
            .par_iter()
            .map(|&permission| {
                let roles = api
                    .iter()
                    .filter(|(_, grants)| grants_permission(grants, permission))
                    .map(|(role, _)| role.to_string())
                    .collect();
                (permission.to_string(), roles)
            })
            .collect();
        RoleGrants {
            graph,
            candidates: cover::Candidates::of(graph, permissions),
            granted_by,
        }
    }

    /// The roles among `roles` that grant `permission` (any part of `a|b`).
    pub fn granting(&self, roles: &[String], permission: &str) -> Vec<String> {
        let made = self.granted_by.get(permission);
        let grants = |role: &String| match made {
            Some(by) => by.contains(role),
            None => grants_permission(&self.graph.grants([role.as_str()]).api, permission),
        };
        roles.iter().filter(|role| grants(role)).cloned().collect()
    }
}

/// How a platform names granting: a gateway's API role, an IAM policy, a
/// Kubernetes Role, a GCP role, an Azure role definition.
struct Terms {
    create: &'static str,
    and_grant: &'static str,
    assign: &'static str,
}

impl Terms {
    /// The terms of the platform a permission's shape names.
    fn of(permission: &str) -> Self {
        let (service, action) = permission.split_once(':').unwrap_or(("", permission));
        let iam = !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !action.contains('/')
            && action.starts_with(|c: char| c.is_ascii_uppercase() || c == '*');
        if iam {
            Terms {
                create: "create an IAM policy that allows",
                and_grant: "and attach it",
                assign: "attach the IAM policy",
            }
        } else if permission.matches('.').count() >= 2
            && !permission.contains([':', '/'])
            && permission.starts_with(|c: char| c.is_ascii_lowercase())
        {
            Terms {
                create: "grant a predefined or custom role that includes",
                and_grant: "(create a custom role only if none does)",
                assign: "grant the role",
            }
        } else if permission.starts_with("Microsoft.") {
            Terms {
                create: "create a custom role definition that allows",
                and_grant: "and assign it at the narrowest scope that covers the denials",
                assign: "assign the role",
            }
        } else if permission.starts_with("nonresource:")
            || permission
                .split_once('/')
                .is_some_and(|(_, rest)| rest.contains(':'))
        {
            Terms {
                create: "create a Role (or ClusterRole) that allows",
                and_grant: "and bind it",
                assign: "bind the role",
            }
        } else {
            Terms {
                create: "create an API role that grants",
                and_grant: "and assign it",
                assign: "assign the API role",
            }
        }
    }
}

/// Named policies, in words: `service control policy arn:…, permissions boundary`.
fn listed<'p>(policies: impl IntoIterator<Item = &'p DeniedBy>) -> String {
    let named: Vec<String> = policies.into_iter().map(DeniedBy::to_string).collect();
    named.join(", ")
}

fn list(values: &[String], total: usize) -> String {
    let shown = values.join(", ");
    if total > values.len() {
        format!("{shown} and {} more", total - values.len())
    } else {
        shown
    }
}

/// A missing permission that a role the principal holds at the end of the
/// input grants, granted after the last denial it would have prevented.
#[derive(Debug, Clone)]
pub struct GrantedLater {
    /// The held roles that grant it.
    pub roles: Vec<String>,
    /// The snapshot that first showed the grant.
    pub granted_at: Millis,
    pub last_denied: Millis,
}

impl GrantedLater {
    /// The finding's fix: nothing left to grant, and why; `later_succeeded`
    /// says whether the principal's requests to the endpoints then succeeded.
    pub fn advice(&self, later_succeeded: Option<bool>) -> String {
        let after = match later_succeeded {
            Some(true) => "; its requests to these endpoints succeeded after the last denial",
            Some(false) => "; no later request to these endpoints is in the log to confirm it",
            None => "",
        };
        format!(
            "none left: {} was granted at {}, after these denials (the last at {}){after}",
            self.roles.join(" and "),
            format_millis(self.granted_at),
            format_millis(self.last_denied)
        )
    }

    /// The principal's remarks: one per grant, naming the permissions it
    /// brought whose denials predate it.
    pub fn hints(later: &BTreeMap<String, GrantedLater>) -> Vec<String> {
        // (roles, granted at) -> (permissions, last denial).
        type Grants<'a> = BTreeMap<(&'a [String], Millis), (Vec<&'a str>, Millis)>;
        let mut by_grant = Grants::new();
        for (permission, l) in later {
            let (permissions, last) = by_grant
                .entry((&l.roles, l.granted_at))
                .or_insert((Vec::new(), l.last_denied));
            permissions.push(permission);
            *last = (*last).max(l.last_denied);
        }
        by_grant
            .into_iter()
            .map(|((roles, granted_at), (permissions, last))| {
                format!(
                    "already held: {} since {}, granting {}; the denials of {} predate it (the last at {})",
                    roles.join(", "),
                    format_millis(granted_at),
                    permissions.join(", "),
                    if permissions.len() == 1 { "it" } else { "them" },
                    format_millis(last)
                )
            })
            .collect()
    }
}

/// Whether the principal's latest snapshot grants `permission` through a
/// grant first seen after `last_denied`: then the denials predate the grant.
pub fn granted_after(
    principal: &str,
    permission: &str,
    last_denied: Millis,
    diagnosed: &Diagnosed,
    role_grants: &RoleGrants,
) -> Option<GrantedLater> {
    let history = diagnosed.correlation.history;
    let latest = history.snapshots(principal).last()?;
    let start = history.granted_since(principal, latest.at, permission)?;
    if !start.observed || start.at <= last_denied {
        return None;
    }
    let held: Vec<String> = latest.roles.keys().cloned().collect();
    let roles = role_grants.granting(&held, permission);
    // Granted some other way (a data scope, a plane): leave the finding as it is.
    (!roles.is_empty()).then_some(GrantedLater {
        roles,
        granted_at: start.at,
        last_denied,
    })
}

/// What to do about one finding.
pub fn advice(
    cause: Cause,
    permission: Option<&str>,
    endpoints: &[String],
    evidence: &FindingEvidence,
    cover: &[String],
    role_grants: &RoleGrants,
) -> String {
    let perm = permission.unwrap_or("the required permission");
    let roles = permission
        .map(|p| role_grants.granting(cover, p))
        .unwrap_or_default();
    let terms = Terms::of(perm);
    let grant_role = if roles.is_empty() {
        format!("{} {perm} {}", terms.create, terms.and_grant)
    } else {
        format!("{} {}", terms.assign, roles.join(" or "))
    };
    let first = |values: &[Timestamp]| {
        values
            .first()
            .map_or_else(|| "an unknown time".into(), Timestamp::to_string)
    };
    match cause {
        // "(it grants X)" only after a role's name, never after "create a role that grants X".
        Cause::MissingPermission if roles.is_empty() => grant_role,
        Cause::MissingPermission => format!("{grant_role} (it grants {perm})"),
        Cause::FieldLevel => {
            let fields = evidence.fields.join(", ");
            match permission {
                Some(_) => format!("{grant_role} to update the field(s) {fields}"),
                None => format!("the field(s) {fields} are never allowed for this account: find and grant the field permission"),
            }
        }
        Cause::ScopeNotRequested => match permission {
            Some(perm) => format!(
                "add the scope {perm} to the OAuth client's token request (the roles already grant it), then get a new token"
            ),
            None => "the token lacks an OAuth scope the call needs (the response says so): request that scope (a VM's or node pool's service account: widen its access scopes), then get a new token".into(),
        },
        Cause::StaleToken => format!(
            "re-issue the token: it was issued at {} before {perm} was granted at {}",
            first(&evidence.token_issued_at),
            first(&evidence.granted_at)
        ),
        Cause::PropagationDelay => {
            let later = match evidence.later_succeeded {
                Some(true) => "the same request succeeded later",
                _ => "no later success is in the log: check that the permission sync completed",
            };
            format!(
                "none: transient; the grant at {} had not synced yet ({later})",
                first(&evidence.granted_at)
            )
        }
        Cause::TokenExpired => {
            "refresh tokens before they expire: fix the client's token refresh (the requests came after expires_at)".into()
        }
        Cause::ObjectAcl => format!(
            "grant the account object-level access on {} (the role already allows the endpoint; the objects' own ACL does not list the account)",
            list(&evidence.objects, evidence.objects_total)
        ),
        Cause::DataScope => format!(
            "extend the account's data access (data access set / data scope of its role bindings) to {}",
            evidence.orgs.join(", ")
        ),
        Cause::ExplicitDeny => match evidence.denied_by.as_slice() {
            [] => format!(
                "remove the explicit deny that matches {}, or add an exception for this account; granting more will not help",
                endpoints.join(", ")
            ),
            named => format!(
                "remove the explicit deny in the {} that matches {}, or add an exception for this account; granting more will not help",
                listed(named),
                endpoints.join(", ")
            ),
        },
        Cause::Guardrail => {
            let guardrails: Vec<&DeniedBy> = evidence
                .denied_by
                .iter()
                .filter(|p| p.kind.is_guardrail())
                .collect();
            let mut remedies: Vec<&str> = guardrails.iter().map(|p| p.kind.remedy()).collect();
            remedies.dedup();
            format!(
                "no grant to this account helps: {} refused {}; {}",
                listed(guardrails),
                endpoints.join(", "),
                remedies.join("; ")
            )
        }
        Cause::WorkflowState => {
            "no grant helps: the object's state (locked, archived, closed, in workflow) forbids the change; move it on in its workflow or retry when it changes".into()
        }
        Cause::GatewayPolicy => format!(
            "add or publish the API gateway rule for {} (the gateway rejected the requests before the service)",
            endpoints.join(", ")
        ),
        Cause::MaskedNotFound => format!(
            "check the ids: {} exist nowhere (404 for others, never allowed for anyone); the 403 masks a not-found",
            list(&evidence.objects, evidence.objects_total)
        ),
        Cause::Unknown => "see the note: it says what data would decide".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::roles::tests::role;

    #[test]
    fn roles_grant_alike_whether_or_not_their_permission_was_made_for() {
        let graph = RoleGraph::new(&[
            role("S3Read", &["s3:Get*"], &[], "api"),
            role("Writer", &["x"], &[], "api"),
            role("Lead", &[], &["Writer"], "api"),
            role("UI", &["y"], &[], "application"),
        ]);
        let roles: Vec<String> = ["S3Read", "Writer", "Lead", "UI", "Undefined"]
            .map(String::from)
            .into();
        let asked = BTreeSet::from(["s3:GetObject", "x", "y"]);
        let made = RoleGrants::of(&graph, &asked);
        let unmade = RoleGrants::of(&graph, &BTreeSet::new());
        for permission in ["s3:GetObject", "S3:getobject", "x", "y|x", "y", "z"] {
            assert_eq!(
                made.granting(&roles, permission),
                unmade.granting(&roles, permission),
                "{permission}"
            );
        }
        assert_eq!(made.granting(&roles, "s3:GetObject"), ["S3Read"]);
        assert_eq!(made.granting(&roles, "x"), ["Writer", "Lead"]);
        assert!(
            made.granting(&roles, "y").is_empty(),
            "another plane's grant"
        );
    }
}
