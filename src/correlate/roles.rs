//! The role graph: what a set of roles grants once inheritance is expanded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Millis, RoleDef};

/// Whether `grants` satisfy a required permission. A permission written `a|b` is
/// satisfied by either; a granted permission holding `*` is a pattern in which
/// `*` stands for any text (`core/*:get`, `s3:*`, `nonresource:/healthz*:get`).
/// AWS and Azure actions are matched as those clouds match them: without
/// regard to case, and `?` (AWS) for one character.
pub fn grants_permission(grants: &BTreeSet<String>, permission: &str) -> bool {
    permission
        .split('|')
        .any(|wanted| grants.contains(wanted) || grants.iter().any(|g| covers_one(g, wanted)))
}

/// Whether one grant (a permission or a `*` pattern) covers a permission
/// written `a|b`.
fn pattern_covers(pattern: &str, permission: &str) -> bool {
    permission
        .split('|')
        .any(|wanted| pattern == wanted || covers_one(pattern, wanted))
}

/// Whether a grant other than the permission itself covers it: a pattern, or
/// a cloud action written in other case.
fn covers_one(grant: &str, wanted: &str) -> bool {
    if cloud_action(wanted) {
        let (grant, wanted) = (grant.to_ascii_lowercase(), wanted.to_ascii_lowercase());
        grant == wanted || (grant.contains(['*', '?']) && wildcard_match(&grant, &wanted))
    } else {
        grant.contains('*') && wildcard_match(grant, wanted)
    }
}

/// An AWS action (`s3:GetObject`: a lower-case service, then a name) or an
/// Azure one (`Microsoft.Storage/storageAccounts/read`): both clouds ignore
/// case in policies.
fn cloud_action(permission: &str) -> bool {
    let azure = permission
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("microsoft."));
    let aws = permission.split_once(':').is_some_and(|(service, action)| {
        !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && action.starts_with(|c: char| c.is_ascii_uppercase())
            && !action.contains(['/', ':'])
    });
    azure || aws
}

/// Glob matching with `*` (any text) and `?` (one character, as only AWS
/// and Azure patterns use it: see [`covers_one`]).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.contains('?') {
        return glob_match(pattern.as_bytes(), text.as_bytes());
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// `*` and `?` matching, iteratively with one backtrack point (the last `*`).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Role definitions by name, with inheritance, and their versions over time.
#[derive(Debug, Default)]
pub struct RoleGraph {
    /// Each role's definitions, oldest first; an undated one comes first.
    roles: HashMap<String, Vec<RoleDef>>,
}

/// What a set of roles grants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    /// Permissions checked on API calls.
    pub api: BTreeSet<String>,
    /// Permissions granted only in another plane (an application/UI role), with
    /// the held roles that grant them. They explain "the UI works, the API does not".
    pub other_planes: BTreeMap<String, BTreeSet<String>>,
    /// Held roles that no role definition describes.
    pub undefined: BTreeSet<String>,
    /// Permission patterns a held role explicitly denies, with those held roles.
    pub denies: BTreeMap<String, BTreeSet<String>>,
}

impl Grants {
    /// The held roles whose explicit denies refuse `permission` (any one of
    /// an `a|b` choice), sorted.
    pub fn denying(&self, permission: &str) -> BTreeSet<&str> {
        self.denies
            .iter()
            .filter(|(pattern, _)| pattern_covers(pattern, permission))
            .flat_map(|(_, roles)| roles.iter().map(String::as_str))
            .collect()
    }
}

impl RoleGraph {
    /// Indexes role definitions. Two rows of one role with the same date (or none)
    /// are one definition; dated rows are versions, each in force from its date.
    pub fn new(defs: &[RoleDef]) -> Self {
        let mut roles: HashMap<String, Vec<RoleDef>> = HashMap::new();
        for def in defs {
            let versions = roles.entry(def.role.clone()).or_default();
            match versions.iter_mut().find(|v| v.defined_at == def.defined_at) {
                Some(existing) => {
                    existing.permissions.extend(def.permissions.iter().cloned());
                    existing.inherits.extend(def.inherits.iter().cloned());
                    existing.denies.extend(def.denies.iter().cloned());
                }
                None => versions.push(def.clone()),
            }
        }
        for versions in roles.values_mut() {
            versions.sort_by_key(|v| v.defined_at);
        }
        RoleGraph { roles }
    }

    /// The definition of a role in force at `at`: the latest dated at or before
    /// it, else the undated one, else the earliest.
    fn at(&self, role: &str, at: Millis) -> Option<&RoleDef> {
        let versions = self.roles.get(role)?;
        versions
            .iter()
            .rev()
            .find(|v| v.defined_at.is_none_or(|d| d <= at))
            .or_else(|| versions.first())
    }

    /// The instants at which some role's definition changes, sorted.
    pub fn change_instants(&self) -> Vec<Millis> {
        let mut instants: Vec<Millis> = self
            .roles
            .values()
            .flatten()
            .filter_map(|v| v.defined_at)
            .collect();
        instants.sort_unstable();
        instants.dedup();
        instants
    }

    /// Whether any role is defined at all (without definitions, nothing is known
    /// about what a binding grants).
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The names of every defined role.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// The names of the roles whose permissions apply to API calls (as defined now).
    pub fn api_roles(&self) -> impl Iterator<Item = &str> {
        self.roles
            .values()
            .filter_map(|versions| versions.last())
            .filter(|r| r.grants_api())
            .map(|r| r.role.as_str())
    }

    /// Whether a role is only another name for one role (an Azure
    /// definition's GUID): a fix names the role itself.
    pub fn is_alias(&self, role: &str) -> bool {
        self.roles
            .get(role)
            .and_then(|versions| versions.last())
            .is_some_and(|r| {
                r.permissions.is_empty() && r.denies.is_empty() && r.inherits.len() == 1
            })
    }

    /// Everything the held roles grant by their latest definitions.
    pub fn grants<'a>(&self, held: impl IntoIterator<Item = &'a str>) -> Grants {
        self.grants_at(held, Millis::MAX)
    }

    /// Everything the held roles grant at `at`, inherited roles included. A cycle
    /// in the graph is walked once, never looped.
    pub fn grants_at<'a>(&self, held: impl IntoIterator<Item = &'a str>, at: Millis) -> Grants {
        let mut grants = Grants::default();
        for root in held {
            let mut seen = BTreeSet::new();
            let mut stack = vec![root];
            while let Some(name) = stack.pop() {
                if !seen.insert(name) {
                    continue;
                }
                let Some(def) = self.at(name, at) else {
                    grants.undefined.insert(name.to_string());
                    continue;
                };
                for perm in &def.permissions {
                    if def.grants_api() {
                        grants.api.insert(perm.clone());
                    } else {
                        grants
                            .other_planes
                            .entry(perm.clone())
                            .or_default()
                            .insert(root.to_string());
                    }
                }
                for denied in &def.denies {
                    grants
                        .denies
                        .entry(denied.clone())
                        .or_default()
                        .insert(root.to_string());
                }
                stack.extend(def.inherits.iter().map(String::as_str));
            }
        }
        grants
            .other_planes
            .retain(|perm, _| !grants.api.contains(perm));
        grants
    }

    /// Every inheritance cycle, each as the roles on it starting from the smallest
    /// name, so the same graph always reports the same cycles.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut found = BTreeSet::new();
        let mut names: Vec<&String> = self.roles.keys().collect();
        names.sort();
        for start in names {
            let mut path = vec![start.as_str()];
            self.find_cycles(start, &mut path, &mut found);
        }
        found.into_iter().collect()
    }

    fn find_cycles<'a>(
        &'a self,
        start: &str,
        path: &mut Vec<&'a str>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        let current = *path.last().expect("path starts non-empty");
        let Some(def) = self.at(current, Millis::MAX) else {
            return;
        };
        for next in &def.inherits {
            if next == start {
                // Only record the cycle from its smallest member, to report it once.
                if path.iter().all(|r| *r >= start) {
                    found.insert(path.iter().map(|r| r.to_string()).collect());
                }
            } else if !path.contains(&next.as_str()) && next.as_str() > start {
                path.push(next);
                self.find_cycles(start, path, found);
                path.pop();
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An undated role definition.
    pub(crate) fn role(name: &str, perms: &[&str], inherits: &[&str], plane: &str) -> RoleDef {
        RoleDef {
            role: name.into(),
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            inherits: inherits.iter().map(|p| p.to_string()).collect(),
            plane: plane.into(),
            defined_at: None,
            denies: Vec::new(),
        }
    }

    #[test]
    fn cloud_actions_match_as_the_clouds_match_them() {
        let grants = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        // AWS and Azure ignore case; AWS patterns have `?`.
        assert!(grants_permission(
            &grants(&["s3:getobject"]),
            "s3:GetObject"
        ));
        assert!(grants_permission(&grants(&["S3:Get*"]), "s3:GetObject"));
        assert!(grants_permission(
            &grants(&["dynamodb:?etItem"]),
            "dynamodb:GetItem"
        ));
        assert!(!grants_permission(
            &grants(&["dynamodb:?etItem"]),
            "dynamodb:PutItems"
        ));
        assert!(grants_permission(
            &grants(&["microsoft.storage/*/read"]),
            "Microsoft.Storage/storageAccounts/read"
        ));
        // Other permissions keep their case, and `?` is a character there.
        assert!(!grants_permission(&grants(&["orders.Read"]), "orders.read"));
        assert!(!grants_permission(
            &grants(&["core/pods:GET"]),
            "core/pods:get"
        ));
        assert!(!grants_permission(&grants(&["a?c"]), "abc"));
        assert!(glob_match(b"a*b?d*", b"axxbcdyy"));
        assert!(!glob_match(b"a*b?d", b"abd"));
    }

    #[test]
    fn explicit_denies_are_kept_with_the_roles_that_hold_them() {
        let mut admin = RoleDef::api("Admin".into(), vec!["*".into()], vec![]);
        admin.denies = vec!["iam:*".into()];
        let graph = RoleGraph::new(&[
            admin,
            RoleDef::api("Ops".into(), vec![], vec!["Admin".into()]),
        ]);
        let grants = graph.grants(["Ops"]);
        assert_eq!(grants.denying("iam:CreateUser"), BTreeSet::from(["Ops"]));
        assert!(grants.denying("s3:GetObject").is_empty());
    }

    #[test]
    fn inheritance_is_expanded_and_planes_kept_apart() {
        let graph = RoleGraph::new(&[
            role(
                "Project Manager",
                &["tasks.status.update"],
                &["Project Contributor"],
                "api",
            ),
            role("Project Contributor", &["tasks.write"], &[], "api"),
            role(
                "Maintenance Manager",
                &["workorder.update"],
                &[],
                "application",
            ),
        ]);
        let grants = graph.grants(["Project Manager", "Maintenance Manager", "Ghost"]);
        assert_eq!(
            grants.api,
            BTreeSet::from(["tasks.status.update".into(), "tasks.write".into()])
        );
        assert_eq!(
            grants.other_planes["workorder.update"],
            BTreeSet::from(["Maintenance Manager".to_string()])
        );
        assert_eq!(grants.undefined, BTreeSet::from(["Ghost".to_string()]));
    }

    #[test]
    fn wildcard_grants_match_permissions() {
        let grants: BTreeSet<String> = ["core/*:get", "s3:*", "nonresource:/healthz*:get", "exact"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for yes in [
            "core/pods:get",
            "s3:GetObject",
            "nonresource:/healthz/ready:get",
            "exact",
            "nope|exact",
        ] {
            assert!(grants_permission(&grants, yes), "{yes}");
        }
        for no in [
            "apps/deployments:get",
            "core/pods:list",
            "ec2:RunInstances",
            "nonresource:/metrics:get",
            "exac",
        ] {
            assert!(!grants_permission(&grants, no), "{no}");
        }
    }

    #[test]
    fn dated_definitions_apply_from_their_date() {
        let mut v1 = role("Reader", &["read", "export"], &[], "api");
        v1.defined_at = Some(100);
        let mut v2 = role("Reader", &["read"], &[], "api");
        v2.defined_at = Some(200);
        let graph = RoleGraph::new(&[v2, v1]);
        assert!(graph.grants_at(["Reader"], 150).api.contains("export"));
        assert!(!graph.grants_at(["Reader"], 250).api.contains("export"));
        assert!(
            graph.grants_at(["Reader"], 50).api.contains("export"),
            "before the first date, the earliest"
        );
        assert_eq!(graph.change_instants(), vec![100, 200]);
    }

    #[test]
    fn cycles_are_reported_not_looped() {
        let graph = RoleGraph::new(&[
            role("A", &["a"], &["B"], "api"),
            role("B", &["b"], &["C"], "api"),
            role("C", &["c"], &["A"], "api"),
            role("D", &["d"], &["D"], "api"),
        ]);
        assert_eq!(graph.grants(["B"]).api.len(), 3);
        assert_eq!(
            graph.cycles(),
            vec![
                vec!["A".to_string(), "B".into(), "C".into()],
                vec!["D".to_string()]
            ]
        );
    }
}
