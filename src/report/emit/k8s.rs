//! `--emit k8s-rbac`: Roles and ClusterRoles with their bindings, as YAML.
//! An existing Role or ClusterRole the report names (`grant_roles`, from an
//! RBAC dump) is bound as it is; a new, narrow role is generated only for what
//! no existing one grants.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{printable, risk_notes, shown, subject_risk, Grant, REDACTED, REDACTED_WHY};

/// Whether a YAML 1.1 reader (kubectl's go-yaml) takes this scalar for a
/// boolean or a number where serde_yaml_ng, which follows the YAML 1.2 core
/// rules, writes it unquoted: `yes`, `on`, `n`, and numbers with `_` in them.
fn misread_by_yaml_1_1(value: &str) -> bool {
    const BOOLEANS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    BOOLEANS.contains(&value)
        || (value.contains('_')
            && matches!(
                serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&value.replace('_', "")),
                Ok(serde_yaml_ng::Value::Number(_))
            ))
}

const YAML_1_1_WHY: &str =
    "kubectl's YAML 1.1 reader would take it for a boolean or a number; grant it by hand";

/// A DNS-1123 label: what Kubernetes accepts as a namespace or a service
/// account name (at most 63 of `a-z`, `0-9` and `-`, a letter or digit at each end).
fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && is_label_text(s)
}

/// A DNS-1123 subdomain: what Kubernetes accepts as an object name (at most
/// 253 characters, dot-separated labels).
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label_text)
}

fn is_label_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

const DNS_LABEL_RULE: &str =
    "not a DNS-1123 label (at most 63 of a-z, 0-9 and '-', a letter or digit at each end)";

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const RBAC_VERSION: &str = "rbac.authorization.k8s.io/v1";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
const OBJECT_PREFIX: &str = "grantgap-";
/// Hex digits of the principal's SHA-256 that set apart names cleaning made alike.
const HASH_DIGITS: usize = 12;

/// A Role, ClusterRole, RoleBinding or ClusterRoleBinding, as `kubectl apply` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RbacObject {
    api_version: String,
    kind: String,
    metadata: Metadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<PolicyRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_ref: Option<RoleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) subjects: Option<Vec<Subject>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    resources: Vec<String>,
    #[serde(
        rename = "nonResourceURLs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    non_resource_urls: Vec<String>,
    verbs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleRef {
    api_group: String,
    kind: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Subject {
    pub(super) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) api_group: Option<String>,
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) namespace: Option<String>,
}

/// `group/resource[/sub]:verb` or `nonresource:URL:verb`, as (group, resource, verb) or a URL rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K8sPermission<'a> {
    Resource {
        group: &'a str,
        resource: &'a str,
        verb: &'a str,
    },
    NonResource {
        url: &'a str,
        verb: &'a str,
    },
}

/// The permission, if it has the shape of a Kubernetes one (it may still be invalid).
/// Whether a permission is written as Kubernetes RBAC's (`group/resource:verb`,
/// `nonresource:/path:verb`).
pub(super) fn k8s_shaped(permission: &str) -> bool {
    parse_k8s(permission).is_some()
}

fn parse_k8s(permission: &str) -> Option<K8sPermission<'_>> {
    if let Some(rest) = permission.strip_prefix("nonresource:") {
        let (url, verb) = rest.rsplit_once(':')?;
        return Some(K8sPermission::NonResource { url, verb });
    }
    let (target, verb) = permission.rsplit_once(':')?;
    let (group, resource) = target.split_once('/')?;
    Some(K8sPermission::Resource {
        group: if group == "core" { "" } else { group },
        resource,
        verb,
    })
}

/// Why RBAC cannot hold this permission as it is, if it cannot.
fn k8s_permission_problem(permission: K8sPermission<'_>) -> Option<&'static str> {
    let verb_ok = |verb: &str| {
        verb == "*" || (!verb.is_empty() && verb.bytes().all(|b| b.is_ascii_lowercase()))
    };
    let (verb, mut scalars) = match permission {
        K8sPermission::Resource {
            group,
            resource,
            verb,
        } => {
            if !(group.is_empty() || group == "*" || is_dns_subdomain(group)) {
                return Some("its API group is not a DNS-1123 subdomain");
            }
            let parts: Vec<&str> = resource.split('/').collect();
            if parts.len() > 2 || !parts.iter().all(|p| *p == "*" || is_dns_label(p)) {
                return Some(
                    "its resource is not RESOURCE or RESOURCE/SUBRESOURCE, each a DNS-1123 label",
                );
            }
            (verb, [vec![group, verb], parts].concat())
        }
        K8sPermission::NonResource { url, verb } => {
            let wildcard_at_end = url.find('*').is_none_or(|at| at == url.len() - 1);
            let url_ok = url == "*"
                || (url.starts_with('/')
                    && url.bytes().all(|b| b.is_ascii_graphic())
                    && wildcard_at_end);
            if !url_ok {
                return Some("its URL is not a path of visible ASCII (with '*' only at the end)");
            }
            (verb, vec![verb])
        }
    };
    if !verb_ok(verb) {
        return Some("its verb is not lowercase letters or '*'");
    }
    scalars.retain(|s| misread_by_yaml_1_1(s));
    (!scalars.is_empty()).then_some(YAML_1_1_WHY)
}

/// How a grant of this permission reaches past what it names, if it does:
/// the escalation paths the Kubernetes RBAC good practices list.
fn k8s_escalation(permission: K8sPermission<'_>) -> Option<&'static str> {
    let verb_risk = |verb: &str| match verb {
        "*" => Some("is every verb, bind, escalate and impersonate included"),
        "bind" => Some("binds any role, including roles with more than the holder has"),
        "escalate" => Some("adds to roles more than the holder has"),
        "impersonate" => Some("acts as any other user, group or service account"),
        _ => None,
    };
    match permission {
        K8sPermission::NonResource { url, verb } => {
            if url.contains('*') {
                Some("matches every non-resource URL under it")
            } else {
                verb_risk(verb)
            }
        }
        K8sPermission::Resource {
            group,
            resource,
            verb,
        } => {
            let resource_risk = match resource {
                _ if group == "*" => Some("is every API group"),
                _ if group == RBAC_GROUP => Some("changes RBAC itself"),
                _ if resource.split('/').any(|part| part == "*") => Some("is every resource"),
                "secrets" => Some("reads every Secret in scope, service account tokens included"),
                "pods/exec" | "pods/attach" => Some("runs commands in every pod in scope"),
                "serviceaccounts/token" => Some("mints tokens for every service account in scope"),
                "nodes/proxy" => Some("reaches every kubelet's API, exec into pods included"),
                "certificatesigningrequests/approval" => Some("approves certificates for any user"),
                _ => None,
            };
            resource_risk.or_else(|| verb_risk(verb))
        }
    }
}

/// Built-in ClusterRoles that hand over a namespace or the cluster.
const RISKY_ROLES: &[&str] = &["cluster-admin", "admin", "edit"];

/// An existing role a report names (`ClusterRole/NAME`, `Role/NAMESPACE/NAME`)
/// as (kind, namespace, name), if its parts are names Kubernetes accepts.
fn existing_role(role: &str) -> Option<(&'static str, Option<&str>, &str)> {
    let (kind, namespace, name) = match role.split('/').collect::<Vec<_>>()[..] {
        ["ClusterRole", name] => ("ClusterRole", None, name),
        ["Role", namespace, name] => ("Role", Some(namespace), name),
        _ => return None,
    };
    let valid = is_dns_subdomain(name)
        && !misread_by_yaml_1_1(name)
        && namespace.is_none_or(|ns| is_dns_label(ns) && !misread_by_yaml_1_1(ns));
    valid.then_some((kind, namespace, name))
}

/// Why binding this existing role reaches past the permission, if it does.
fn existing_role_risk(name: &str) -> Option<&'static str> {
    (RISKY_ROLES.contains(&name) || name.starts_with("system:"))
        .then_some("is a built-in role that hands over a namespace, the cluster or a system component's rights")
}

/// The name of the binding of `principal` to an existing role: one per pair.
fn existing_binding_name(principal: &str, role: &str) -> String {
    object_name(&format!("{principal} {role}"))
}

/// The groups Kubernetes itself puts principals in.
fn is_k8s_group(principal: &str) -> bool {
    let in_family = |family: &str| {
        principal == family
            || principal
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(':'))
    };
    matches!(
        principal,
        "system:authenticated"
            | "system:unauthenticated"
            | "system:masters"
            | "system:nodes"
            | "system:monitoring"
    ) || in_family("system:serviceaccounts")
        || in_family("system:bootstrappers")
}

/// Why a grant to this principal reaches more than one workload or person, if it does.
fn k8s_principal_risk(principal: &str) -> Option<&'static str> {
    match principal {
        "system:anonymous" => Some("is the user of every unauthenticated request"),
        "system:unauthenticated" => Some("is the group of every unauthenticated request"),
        "system:authenticated" => Some("is the group of every authenticated user"),
        "system:serviceaccounts" => Some("is the group of every service account"),
        p if p.starts_with("system:serviceaccounts:") => {
            Some("is the group of every service account in a namespace")
        }
        p if p.starts_with(SERVICE_ACCOUNT_PREFIX) => None,
        p if p.starts_with("system:") => {
            Some("is a Kubernetes system identity, which Kubernetes grants to itself")
        }
        _ => None,
    }
}

/// The subject a binding names for a principal, or why it cannot name it.
fn k8s_subject(principal: &str) -> Result<Subject, &'static str> {
    if let Some(rest) = principal.strip_prefix(SERVICE_ACCOUNT_PREFIX) {
        return match rest.split_once(':') {
            Some((namespace, name))
                if is_dns_label(namespace)
                    && is_dns_label(name)
                    && !misread_by_yaml_1_1(namespace)
                    && !misread_by_yaml_1_1(name) =>
            {
                Ok(Subject {
                    kind: "ServiceAccount".into(),
                    api_group: None,
                    name: name.into(),
                    namespace: Some(namespace.into()),
                })
            }
            _ => Err("a service account is system:serviceaccount:NAMESPACE:NAME, both DNS-1123 labels; grant it by hand"),
        };
    }
    if principal.is_empty() {
        return Err("it is empty");
    }
    if !printable(principal) {
        return Err("it holds control, bidi, line-separator or invisible characters, which no real user name has; grant it by hand if it is real");
    }
    if principal.trim() != principal {
        return Err("it starts or ends with white space; grant it by hand if it is real");
    }
    if misread_by_yaml_1_1(principal) {
        return Err(YAML_1_1_WHY);
    }
    Ok(Subject {
        kind: if is_k8s_group(principal) {
            "Group"
        } else {
            "User"
        }
        .into(),
        api_group: Some(RBAC_GROUP.into()),
        name: principal.into(),
        namespace: None,
    })
}

/// The principal a subject names (the inverse of [`k8s_subject`]).
fn subject_principal(subject: &Subject) -> String {
    match (&subject.kind[..], &subject.namespace) {
        ("ServiceAccount", Some(namespace)) => {
            format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{}", subject.name)
        }
        _ => subject.name.clone(),
    }
}

/// The name of the objects emitted for a principal: `grantgap-` and the
/// principal when that is a name Kubernetes accepts; otherwise the principal
/// cleaned (lower case, `a-z0-9.-`, cut to fit 253 characters) and the first
/// 12 hex digits of its SHA-256, so `ci-deployer` and `ci_deployer` get two
/// objects instead of one overwriting the other. A verbatim name never ends in
/// `-` and 12 hex digits (a principal that does is hashed too), so the two
/// forms never meet.
pub fn object_name(principal: &str) -> String {
    let verbatim = format!("{OBJECT_PREFIX}{principal}");
    if is_dns_subdomain(&verbatim) && !ends_with_hash(&verbatim) {
        return verbatim;
    }
    let lowered: String = principal
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.') => c,
            _ => '-',
        })
        .collect();
    let mut cleaned = lowered
        .split('.')
        .map(|label| label.trim_matches('-'))
        .filter(|label| !label.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    cleaned.truncate(253 - OBJECT_PREFIX.len() - 1 - HASH_DIGITS);
    let cleaned = cleaned.trim_end_matches(['-', '.']);
    let hash: String = Sha256::digest(principal.as_bytes())
        .iter()
        .take(HASH_DIGITS / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    if cleaned.is_empty() {
        format!("{OBJECT_PREFIX}{hash}")
    } else {
        format!("{OBJECT_PREFIX}{cleaned}-{hash}")
    }
}

fn ends_with_hash(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() > HASH_DIGITS
        && bytes[bytes.len() - HASH_DIGITS - 1] == b'-'
        && bytes[bytes.len() - HASH_DIGITS..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The rules one principal gets in one namespace (or cluster-wide).
#[derive(Default)]
struct K8sRules {
    /// (API group, resource) -> verbs.
    resources: BTreeMap<(String, String), BTreeSet<String>>,
    /// URL -> verbs.
    urls: BTreeMap<String, BTreeSet<String>>,
    /// Why the grants allowed by --allow-risky are risky, for the comment above them.
    risky: BTreeSet<String>,
}

pub(super) fn render(
    grants: &[Grant<'_>],
    allow_risky: bool,
    warnings: &mut BTreeSet<String>,
) -> String {
    // (principal, namespace or cluster-wide) -> rules
    let mut wanted: BTreeMap<(&str, Option<&str>), K8sRules> = BTreeMap::new();
    // (principal, binding namespace, role as the report names it) -> risk notes
    let mut existing: BTreeMap<(&str, Option<&str>, &str), BTreeSet<String>> = BTreeMap::new();
    for grant in grants {
        let (principal, permission) = (grant.principal, grant.permission);
        let what = format!("{} for {}", shown(permission), shown(principal));
        // Not Kubernetes: another emitter's, not a problem.
        let Some(parsed) = parse_k8s(permission) else {
            continue;
        };
        if principal.contains(REDACTED) {
            warnings.insert(format!(
                "skipped principal {}: {REDACTED_WHY}",
                shown(principal)
            ));
            continue;
        }
        if let Err(why) = k8s_subject(principal) {
            warnings.insert(format!("skipped principal {}: {why}", shown(principal)));
            continue;
        }
        if let Some(why) = k8s_permission_problem(parsed) {
            warnings.insert(format!("skipped {what}: {why}"));
            continue;
        }
        let risk = risk_notes(grant, k8s_principal_risk(principal), k8s_escalation(parsed));
        if let (Some((_, refusal)), false) = (&risk, allow_risky) {
            warnings.insert(refusal.clone());
            continue;
        }
        if !grant.roles.is_empty() {
            bind_existing(
                grant,
                risk.map(|(note, _)| note),
                allow_risky,
                &mut existing,
                warnings,
            );
            continue;
        }
        let mut scopes = Vec::new();
        match parsed {
            // URL rules exist only cluster-wide; no namespace means every namespace.
            K8sPermission::NonResource { .. } => scopes.push(None),
            _ if grant.orgs.is_empty() => scopes.push(None),
            _ => {
                for namespace in grant.orgs {
                    let problem = if namespace.contains(REDACTED) {
                        Some(REDACTED_WHY)
                    } else if !is_dns_label(namespace) {
                        Some(DNS_LABEL_RULE)
                    } else if misread_by_yaml_1_1(namespace) {
                        Some(YAML_1_1_WHY)
                    } else {
                        None
                    };
                    match problem {
                        Some(why) => {
                            warnings.insert(format!(
                                "skipped {what} in namespace {}: {why}",
                                shown(namespace)
                            ));
                        }
                        None => scopes.push(Some(namespace.as_str())),
                    }
                }
            }
        }
        for scope in scopes {
            let rules = wanted.entry((principal, scope)).or_default();
            rules
                .risky
                .extend(risk.as_ref().map(|(note, _)| note.clone()));
            match parsed {
                K8sPermission::Resource {
                    group,
                    resource,
                    verb,
                } => rules
                    .resources
                    .entry((group.into(), resource.into()))
                    .or_default()
                    .insert(verb.into()),
                K8sPermission::NonResource { url, verb } => rules
                    .urls
                    .entry(url.into())
                    .or_default()
                    .insert(verb.into()),
            };
        }
    }

    let mut out =
        String::from("# Generated by grantgap: grants exactly the permissions found missing.\n");
    for ((principal, namespace), rules) in wanted {
        let subject = k8s_subject(principal).expect("only bindable principals are wanted");
        let name = object_name(principal);
        let (kind, binding_kind) = match namespace {
            Some(_) => ("Role", "RoleBinding"),
            None => ("ClusterRole", "ClusterRoleBinding"),
        };
        let metadata = Metadata {
            name: name.clone(),
            namespace: namespace.map(String::from),
        };
        let resource_rules = rules
            .resources
            .into_iter()
            .map(|((group, resource), verbs)| PolicyRule {
                api_groups: vec![group],
                resources: vec![resource],
                non_resource_urls: Vec::new(),
                verbs: verbs.into_iter().collect(),
            });
        let url_rules = rules.urls.into_iter().map(|(url, verbs)| PolicyRule {
            api_groups: Vec::new(),
            resources: Vec::new(),
            non_resource_urls: vec![url],
            verbs: verbs.into_iter().collect(),
        });
        let role = RbacObject {
            api_version: RBAC_VERSION.into(),
            kind: kind.into(),
            metadata: metadata.clone(),
            rules: Some(resource_rules.chain(url_rules).collect()),
            role_ref: None,
            subjects: None,
        };
        let binding = RbacObject {
            api_version: RBAC_VERSION.into(),
            kind: binding_kind.into(),
            metadata,
            rules: None,
            role_ref: Some(RoleRef {
                api_group: RBAC_GROUP.into(),
                kind: kind.into(),
                name,
            }),
            subjects: Some(vec![subject]),
        };
        for object in [role, binding] {
            out.push_str("---\n");
            for risk in &rules.risky {
                out.push_str(&format!(
                    "# risky, emitted because of --allow-risky: {risk}\n"
                ));
            }
            out.push_str(&serde_yaml_ng::to_string(&object).expect("RBAC objects serialise"));
        }
    }
    for ((principal, namespace, role), risky) in existing {
        let (kind, _, name) = existing_role(role).expect("only valid roles are kept");
        let binding = RbacObject {
            api_version: RBAC_VERSION.into(),
            kind: if namespace.is_some() {
                "RoleBinding"
            } else {
                "ClusterRoleBinding"
            }
            .into(),
            metadata: Metadata {
                name: existing_binding_name(principal, role),
                namespace: namespace.map(String::from),
            },
            rules: None,
            role_ref: Some(RoleRef {
                api_group: RBAC_GROUP.into(),
                kind: kind.into(),
                name: name.into(),
            }),
            subjects: Some(vec![
                k8s_subject(principal).expect("only bindable principals")
            ]),
        };
        out.push_str("---\n");
        for risk in &risky {
            out.push_str(&format!(
                "# risky, emitted because of --allow-risky: {risk}\n"
            ));
        }
        out.push_str(&serde_yaml_ng::to_string(&binding).expect("RBAC objects serialise"));
    }
    if !warnings.is_empty() {
        out.push_str("# Not emitted (each also on stderr):\n");
        for warning in warnings.iter() {
            out.push_str(&format!("# {warning}\n"));
        }
    }
    out
}

/// Where a grant's existing roles are bound: a ClusterRole in each namespace
/// denied (cluster-wide when none), a Role in its own namespace.
fn bind_existing<'a>(
    grant: &Grant<'a>,
    risk: Option<String>,
    allow_risky: bool,
    existing: &mut BTreeMap<(&'a str, Option<&'a str>, &'a str), BTreeSet<String>>,
    warnings: &mut BTreeSet<String>,
) {
    for role in grant.roles {
        let Some((_, role_namespace, name)) = existing_role(role) else {
            warnings.insert(format!(
                "skipped role {} for {}: it is not ClusterRole/NAME or Role/NAMESPACE/NAME with names Kubernetes accepts",
                shown(role),
                shown(grant.principal)
            ));
            continue;
        };
        let mut risky: BTreeSet<String> = risk.iter().cloned().collect();
        if let Some(why) = existing_role_risk(name) {
            let (note, refusal) = subject_risk(role, grant, why);
            if !allow_risky {
                warnings.insert(refusal);
                continue;
            }
            risky.insert(note);
        }
        let namespaces: Vec<Option<&str>> = match role_namespace {
            Some(ns) => vec![Some(ns)],
            None if grant.orgs.is_empty() => vec![None],
            None => grant
                .orgs
                .iter()
                .filter(|ns| is_dns_label(ns) && !misread_by_yaml_1_1(ns))
                .map(|ns| Some(ns.as_str()))
                .collect(),
        };
        for namespace in namespaces {
            existing
                .entry((grant.principal, namespace, role.as_str()))
                .or_default()
                .extend(risky.iter().cloned());
        }
    }
}

pub(super) fn check(grants: &[&Grant<'_>], allow_risky: bool, yaml: &str) -> Result<(), String> {
    let mut objects = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value =
            serde_yaml_ng::Value::deserialize(document).map_err(|e| format!("not YAML: {e}"))?;
        // A stream of comments only (nothing to emit) reads as one empty document; kubectl skips it.
        if value.is_null() {
            continue;
        }
        let object: RbacObject =
            serde_yaml_ng::from_value(value).map_err(|e| format!("not an RBAC object: {e}"))?;
        objects.push(object);
    }
    let key = |kind: &str, metadata: &Metadata| {
        (
            kind.to_string(),
            metadata.namespace.clone(),
            metadata.name.clone(),
        )
    };
    let mut seen = BTreeSet::new();
    for object in &objects {
        let namespaced = match &object.kind[..] {
            "Role" | "RoleBinding" => true,
            "ClusterRole" | "ClusterRoleBinding" => false,
            other => return Err(format!("kind {other:?}")),
        };
        if object.api_version != RBAC_VERSION {
            return Err(format!("apiVersion {:?}", object.api_version));
        }
        if !is_dns_subdomain(&object.metadata.name)
            || namespaced != object.metadata.namespace.is_some()
            || !object
                .metadata
                .namespace
                .as_deref()
                .is_none_or(is_dns_label)
        {
            return Err(format!(
                "metadata {:?} of a {}",
                object.metadata, object.kind
            ));
        }
        if !seen.insert(key(&object.kind, &object.metadata)) {
            return Err(format!("two objects {} {:?}", object.kind, object.metadata));
        }
    }
    let roles: BTreeMap<_, &Vec<PolicyRule>> = objects
        .iter()
        .filter_map(|o| Some((key(&o.kind, &o.metadata), o.rules.as_ref()?)))
        .collect();
    let mut bound = BTreeSet::new();
    for binding in objects.iter().filter(|o| o.kind.ends_with("Binding")) {
        let (Some(role_ref), Some(subjects), None) =
            (&binding.role_ref, &binding.subjects, &binding.rules)
        else {
            return Err(format!(
                "binding {:?} without one roleRef and subjects",
                binding.metadata
            ));
        };
        let [subject] = &subjects[..] else {
            return Err(format!(
                "binding {:?} with {} subjects",
                binding.metadata,
                subjects.len()
            ));
        };
        let principal = subject_principal(subject);
        if !grants.iter().any(|g| g.principal == principal) {
            return Err(format!("subject {subject:?} is no chosen principal"));
        }
        if k8s_subject(&principal).as_ref() != Ok(subject) {
            return Err(format!(
                "subject {subject:?} is not how {principal:?} is bound"
            ));
        }
        if !allow_risky && k8s_principal_risk(&principal).is_some() {
            return Err(format!("risky principal {principal:?} bound"));
        }
        if let Some(role) = grants
            .iter()
            .filter(|g| g.principal == principal)
            .flat_map(|g| g.roles.iter())
            .find(|r| binding.metadata.name == existing_binding_name(&principal, r))
        {
            check_existing(grants, allow_risky, binding, role_ref, &principal, role)?;
            continue;
        }
        let role_kind = binding.kind.trim_end_matches("Binding");
        let role_key = (
            role_kind.to_string(),
            binding.metadata.namespace.clone(),
            role_ref.name.clone(),
        );
        if role_ref.api_group != RBAC_GROUP
            || role_ref.kind != role_kind
            || role_ref.name != binding.metadata.name
        {
            return Err(format!("roleRef {role_ref:?} of {:?}", binding.metadata));
        }
        if binding.metadata.name != object_name(&principal) {
            return Err(format!(
                "{:?} named otherwise than {principal:?}'s objects",
                binding.metadata
            ));
        }
        let Some(rules) = roles.get(&role_key) else {
            return Err(format!("roleRef {role_ref:?} names no role emitted"));
        };
        let namespace = binding.metadata.namespace.as_deref();
        // Compared parsed: `core/pods:list` and `/pods:list` are one permission.
        let granted = |permission: K8sPermission<'_>| {
            grants.iter().any(|g| {
                g.principal == principal
                    && parse_k8s(g.permission) == Some(permission)
                    && match (namespace, permission) {
                        (Some(ns), _) => g.orgs.iter().any(|o| o == ns),
                        (None, K8sPermission::NonResource { .. }) => true,
                        (None, K8sPermission::Resource { .. }) => g.orgs.is_empty(),
                    }
            })
        };
        for rule in rules.iter() {
            let verbs = rule.verbs.iter().map(String::as_str);
            let wanted: Vec<K8sPermission<'_>> = match (
                &rule.api_groups[..],
                &rule.resources[..],
                &rule.non_resource_urls[..],
            ) {
                ([group], [resource], []) => verbs
                    .map(|verb| K8sPermission::Resource {
                        group,
                        resource,
                        verb,
                    })
                    .collect(),
                ([], [], [url]) if namespace.is_none() => verbs
                    .map(|verb| K8sPermission::NonResource { url, verb })
                    .collect(),
                _ => return Err(format!("rule {rule:?}")),
            };
            for permission in wanted {
                if !granted(permission) {
                    return Err(format!(
                        "{permission:?} is no grant of {principal:?} in {namespace:?}"
                    ));
                }
                if !allow_risky && k8s_escalation(permission).is_some() {
                    return Err(format!("risky {permission:?} emitted"));
                }
            }
        }
        bound.insert(role_key);
    }
    match roles.keys().find(|role| !bound.contains(*role)) {
        Some(unbound) => Err(format!("role {unbound:?} without its binding")),
        None => Ok(()),
    }
}

/// A binding to an existing role: the role is one the principal's grants name,
/// bound where [`bind_existing`] binds it, risky only when allowed.
fn check_existing(
    grants: &[&Grant<'_>],
    allow_risky: bool,
    binding: &RbacObject,
    role_ref: &RoleRef,
    principal: &str,
    role: &str,
) -> Result<(), String> {
    let (kind, role_namespace, name) =
        existing_role(role).ok_or_else(|| format!("role {role:?} bound"))?;
    let namespace = binding.metadata.namespace.as_deref();
    let placed = match (role_namespace, namespace) {
        (Some(own), Some(ns)) => own == ns,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let expected_kind = if namespace.is_some() {
        "RoleBinding"
    } else {
        "ClusterRoleBinding"
    };
    if role_ref.api_group != RBAC_GROUP
        || role_ref.kind != kind
        || role_ref.name != name
        || !placed
        || binding.kind != expected_kind
    {
        return Err(format!(
            "binding {:?} to {role_ref:?} for {role:?}",
            binding.metadata
        ));
    }
    let justified = grants.iter().any(|g| {
        g.principal == principal
            && g.roles.iter().any(|r| r == role)
            && (allow_risky || parse_k8s(g.permission).is_some_and(|p| k8s_escalation(p).is_none()))
            && match (role_namespace, namespace) {
                (None, Some(ns)) => g.orgs.iter().any(|o| o == ns),
                (None, None) => g.orgs.is_empty(),
                (Some(_), _) => true,
            }
    });
    if !justified {
        return Err(format!(
            "{role:?} bound for {principal:?} in {namespace:?}: no grant names it there"
        ));
    }
    if !allow_risky
        && (existing_role_risk(name).is_some() || k8s_principal_risk(principal).is_some())
    {
        return Err(format!("risky {role:?} bound"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::emit::{check_round_trip, grant, render, Emit, Options};

    #[test]
    fn kubernetes_permissions_parse() {
        assert!(matches!(
            parse_k8s("apps/deployments/scale:update"),
            Some(K8sPermission::Resource {
                group: "apps",
                resource: "deployments/scale",
                verb: "update"
            })
        ));
        assert!(matches!(
            parse_k8s("core/secrets:list"),
            Some(K8sPermission::Resource { group: "", .. })
        ));
        assert!(matches!(
            parse_k8s("nonresource:/healthz:get"),
            Some(K8sPermission::NonResource {
                url: "/healthz",
                verb: "get"
            })
        ));
        assert!(parse_k8s("s3GetObject").is_none());
    }

    #[test]
    fn object_names_are_valid_and_injective() {
        assert_eq!(object_name("deployer"), "grantgap-deployer");
        let sa = object_name("system:serviceaccount:ci:deployer");
        assert!(
            sa.starts_with("grantgap-system-serviceaccount-ci-deployer-"),
            "{sa}"
        );
        let names: BTreeSet<String> = [
            "ci-deployer",
            "ci_deployer",
            "CI-Deployer",
            "ci.deployer",
            "ci..deployer",
            "",
            "@@@",
            "0123456789ab",
            // The hashed name of `ci_deployer`, as a principal of its own.
            &object_name("ci_deployer")["grantgap-".len()..],
            &"a".repeat(300),
            &format!("{}b", "a".repeat(300)),
        ]
        .iter()
        .map(|p| object_name(p))
        .collect();
        assert_eq!(names.len(), 11, "{names:?}");
        assert!(names.iter().all(|n| is_dns_subdomain(n)), "{names:?}");
    }

    #[test]
    fn principals_are_bound_as_what_they_are() {
        let kind = |p: &str| k8s_subject(p).map(|s| s.kind);
        assert_eq!(
            kind("system:serviceaccount:ci:deployer").as_deref(),
            Ok("ServiceAccount")
        );
        assert_eq!(kind("system:serviceaccounts:ci").as_deref(), Ok("Group"));
        assert_eq!(kind("system:authenticated").as_deref(), Ok("Group"));
        assert_eq!(kind("system:anonymous").as_deref(), Ok("User"));
        assert_eq!(kind("alice@example.com").as_deref(), Ok("User"));
        for bad in [
            "system:serviceaccount:ci",
            "system:serviceaccount:Ci:deployer",
            "system:serviceaccount:ci:deployer:x",
            "bob\n  - kind: Group",
            "bob\u{2028}",
            " bob",
            "yes",
            "1_000",
            "",
        ] {
            assert!(k8s_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn existing_roles_are_bound_before_new_ones_are_made() {
        let sa = "system:serviceaccount:ci:deployer";
        let (prod, none) = (["prod".to_string()], Vec::<String>::new());
        let reader = ["ClusterRole/secret-reader".to_string()];
        let admin = ["ClusterRole/cluster-admin".to_string()];
        let own = ["Role/prod/pod-reader".to_string()];
        let grants = [
            Grant {
                roles: &reader,
                ..grant(sa, "core/configmaps:get", &prod)
            },
            Grant {
                roles: &own,
                ..grant(sa, "core/pods:list", &prod)
            },
            Grant {
                roles: &admin,
                ..grant(sa, "core/nodes:list", &none)
            },
            grant(sa, "apps/deployments/scale:update", &prod),
        ];
        let options = Options::default();
        let emitted = render(&grants, Emit::K8sRbac, &options);
        let objects: Vec<RbacObject> = serde_yaml_ng::Deserializer::from_str(&emitted.text)
            .filter_map(|d| RbacObject::deserialize(d).ok())
            .collect();
        let refs: Vec<(&str, Option<&str>, &str)> = objects
            .iter()
            .filter_map(|o| {
                Some((
                    o.kind.as_str(),
                    o.metadata.namespace.as_deref(),
                    o.role_ref.as_ref()?.name.as_str(),
                ))
            })
            .collect();
        assert_eq!(
            refs,
            [
                (
                    "RoleBinding",
                    Some("prod"),
                    "grantgap-system-serviceaccount-ci-deployer-179592d3db90"
                ),
                ("RoleBinding", Some("prod"), "secret-reader"),
                ("RoleBinding", Some("prod"), "pod-reader"),
            ],
            "{}",
            emitted.text
        );
        assert!(emitted
            .warnings
            .iter()
            .any(|w| w.starts_with("refused \"ClusterRole/cluster-admin\"")));
        check_round_trip(&grants, Emit::K8sRbac, &options, &emitted).unwrap();
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::K8sRbac, &options);
        assert!(
            allowed.text.contains("kind: ClusterRoleBinding"),
            "{}",
            allowed.text
        );
        check_round_trip(&grants, Emit::K8sRbac, &options, &allowed).unwrap();
    }

    #[test]
    fn risky_grants_are_refused_and_allowed_only_when_asked() {
        let prod = ["prod".to_string()];
        let grants = [
            grant("system:serviceaccount:ci:deployer", "core/pods:list", &prod),
            grant(
                "system:serviceaccount:ci:deployer",
                "core/secrets:get",
                &prod,
            ),
            grant(
                "system:serviceaccount:ci:deployer",
                "core/pods/exec:create",
                &prod,
            ),
            grant(
                "system:serviceaccount:ci:deployer",
                "apps/deployments:*",
                &prod,
            ),
            grant(
                "system:serviceaccount:ci:deployer",
                "rbac.authorization.k8s.io/roles:get",
                &prod,
            ),
            grant("system:authenticated", "core/pods:list", &prod),
            grant("system:node:n1", "core/pods:list", &[]),
        ];
        let refused = render(&grants, Emit::K8sRbac, &Options::default());
        assert_eq!(refused.warnings.len(), 6, "{:#?}", refused.warnings);
        assert!(refused
            .warnings
            .iter()
            .all(|w| w.starts_with("refused ") && w.contains("--allow-risky")));
        let objects: Vec<RbacObject> = serde_yaml_ng::Deserializer::from_str(&refused.text)
            .map(|d| RbacObject::deserialize(d).unwrap())
            .collect();
        assert_eq!(objects.len(), 2, "{}", refused.text);
        assert_eq!(
            objects[0].rules.as_ref().unwrap()[0].resources,
            ["pods"],
            "{}",
            refused.text
        );
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::K8sRbac, &options);
        assert!(allowed.warnings.is_empty(), "{:?}", allowed.warnings);
        assert!(allowed.text.contains(
            "# risky, emitted because of --allow-risky: \"core/secrets:get\" reads every Secret"
        ));
        assert!(
            allowed.text.contains(
                "kind: Group\n  apiGroup: rbac.authorization.k8s.io\n  name: system:authenticated"
            ),
            "{}",
            allowed.text
        );
        for (emitted, options) in [(&refused, &Options::default()), (&allowed, &options)] {
            check_round_trip(&grants, Emit::K8sRbac, options, emitted).unwrap();
        }
    }
}
