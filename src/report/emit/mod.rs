//! Native fixes: the grants a report proposes, written in the platform's own
//! language. Only findings a grant fixes (`missing_permission`, `field_level`)
//! are emitted, each with exactly the permissions found missing.
//!
//! Principals, permissions, namespaces and object ids come from logs an
//! attacker can write to, and the output is applied by someone who can grant
//! anything. So every object is built as data and serialised (no log text is
//! spliced into YAML or JSON), every name is checked against what the platform
//! accepts, object names are injective, and grants that reach anonymous or
//! system principals or let a principal escalate are refused unless
//! `--allow-risky`. Whatever is left out is a warning, never silence.
//!
//! The cloud command scripts (`aws-cli`, `gcloud`, `az`) bind the existing
//! policies and roles the report names (`--iam` dumps), and create what no
//! existing one grants where the platform can take it as data. Every value is
//! checked against the platform's own syntax and quoted as one shell word, so
//! a script never runs more than its commands.
//!
//! Each platform is one file with its writer and its round-trip check
//! ([`check_round_trip`], for the tests and the fuzz target): `k8s.rs`,
//! `iam.rs`, `aws_cli.rs`, `gcloud.rs`, `az.rs`; this file chooses the grants
//! and holds what they share.

mod aws_cli;
mod az;
mod gcloud;
mod iam;
mod k8s;

use crate::choice::Choice;
use std::collections::BTreeSet;

use super::{text, Report};
use crate::diagnose::Cause;

pub use k8s::object_name;

/// The fix formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    K8sRbac,
    IamPolicy,
    AwsCli,
    Gcloud,
    Az,
}

impl Choice for Emit {
    const ALL: &'static [Self] = &[
        Emit::K8sRbac,
        Emit::IamPolicy,
        Emit::AwsCli,
        Emit::Gcloud,
        Emit::Az,
    ];

    fn name(self) -> &'static str {
        match self {
            Emit::K8sRbac => "k8s-rbac",
            Emit::IamPolicy => "iam-policy",
            Emit::AwsCli => "aws-cli",
            Emit::Gcloud => "gcloud",
            Emit::Az => "az",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Emit::K8sRbac => {
                "Kubernetes Role/ClusterRole and binding YAML, per principal and namespace"
            }
            Emit::IamPolicy => {
                "AWS IAM policy JSON per principal: the missing actions on the resources seen"
            }
            Emit::AwsCli => {
                "aws iam commands: attach the existing policies that grant, put an inline policy for the rest"
            }
            Emit::Gcloud => {
                "gcloud commands: bind the existing roles that grant in each project, a custom role for the rest"
            }
            Emit::Az => {
                "az role assignment commands: the existing role definitions that grant, at the narrowest scope denied"
            }
        }
    }
}

/// What to emit besides the format.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only principals matching these globs; every principal when empty.
    pub principals: Vec<glob::Pattern>,
    /// Also emit grants to anonymous or system principals and grants that
    /// escalate, each annotated as risky.
    pub allow_risky: bool,
}

impl Options {
    /// Whether fixes for this principal are emitted.
    fn chooses(&self, principal: &str) -> bool {
        self.principals.is_empty() || self.principals.iter().any(|p| p.matches(principal))
    }
}

/// One finding a grant fixes: who is missing which permission, in which
/// namespaces (orgs) and on which objects, and which existing roles grant it.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub principal: &'a str,
    pub permission: &'a str,
    pub orgs: &'a [String],
    pub objects: &'a [String],
    /// Existing roles (policies, role definitions) that grant the permission;
    /// empty when a new one is needed.
    pub roles: &'a [String],
}

/// The fix as written, and what was left out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emitted {
    /// The YAML stream or the JSON document.
    pub text: String,
    /// What was skipped or refused and why, one line each with every value
    /// JSON-escaped, sorted.
    pub warnings: Vec<String>,
    /// Grants were asked for, but none is of this platform: the logs are of
    /// another (what the command line reports as an error).
    pub wrong_platform: bool,
}

/// How a platform's permissions look, and where they come from.
fn platform(emit: Emit) -> (fn(&str) -> bool, &'static str, &'static str) {
    match emit {
        Emit::K8sRbac => (
            k8s::k8s_shaped,
            "Kubernetes RBAC permissions (group/resource:verb)",
            "Kubernetes audit logs",
        ),
        Emit::IamPolicy | Emit::AwsCli => (
            iam::iam_shaped,
            "IAM actions (service:Action)",
            "CloudTrail logs",
        ),
        Emit::Gcloud => (
            gcloud::gcp_shaped,
            "GCP IAM permissions (service.resource.verb)",
            "GCP audit logs",
        ),
        Emit::Az => (
            az::azure_shaped,
            "Azure actions (Microsoft.Provider/type/action)",
            "Azure Activity or resource logs",
        ),
    }
}

/// The fixes of a report in `emit`'s format, with what was left out (for
/// stderr), or why none can be written: grants are missing but none is of
/// the platform asked for (RBAC asked of a gateway's or a cloud's logs).
pub fn emit(report: &Report, emit: Emit, options: &Options) -> Result<Emitted, String> {
    let grants: Vec<Grant<'_>> = grantable(report).collect();
    let emitted = render(&grants, emit, options);
    if emitted.wrong_platform {
        let (_, kind, source) = platform(emit);
        return Err(format!(
            "--emit {}: none of the {} missing permissions is one of the {kind}: these are not {source}; read the fixes in the report (--format table or json)",
            emit.name(),
            grants.len()
        ));
    }
    Ok(emitted)
}

/// Every finding of a report that a grant fixes: its permission is in the
/// principal's fix (a permission granted after its last denial is not).
fn grantable(report: &Report) -> impl Iterator<Item = Grant<'_>> {
    report.principals.iter().flat_map(|p| {
        p.findings
            .iter()
            .filter(|f| matches!(f.cause, Cause::MissingPermission | Cause::FieldLevel))
            .filter(|f| {
                !f.grant_roles.is_empty()
                    || f.permission
                        .as_ref()
                        .is_some_and(|perm| p.fix.no_role_grants.contains(perm))
            })
            .filter_map(move |f| {
                Some(Grant {
                    principal: p.principal.as_str(),
                    permission: f.permission.as_deref()?,
                    orgs: f.evidence.orgs.as_slice(),
                    objects: f.evidence.objects.as_slice(),
                    roles: f.grant_roles.as_slice(),
                })
            })
    })
}

/// The fix for these grants, and what was left out: the whole of [`emit`] but
/// the report, so it can be checked (see [`check_round_trip`]) on any input.
pub fn render(grants: &[Grant<'_>], emit: Emit, options: &Options) -> Emitted {
    let mut warnings = BTreeSet::new();
    for wanted in &options.principals {
        if !grants.iter().any(|g| wanted.matches(g.principal)) {
            warnings.insert(format!(
                "no fix for --principal {}: it has no missing_permission or field_level finding; check the name against the report",
                shown(wanted.as_str())
            ));
        }
    }
    let mut chosen: Vec<Grant<'_>> = grants
        .iter()
        .filter(|g| options.chooses(g.principal))
        .copied()
        .collect();
    // A permission redacted at ingest names the mark, not the permission: no
    // platform can grant it.
    chosen.retain(|g| {
        let redacted = g.permission.contains(REDACTED);
        if redacted {
            warnings.insert(format!(
                "skipped {} for {}: {REDACTED_WHY}",
                shown(g.permission),
                shown(g.principal)
            ));
        }
        !redacted
    });
    // Permissions of another platform (a gateway's, another cloud's) are
    // left out, and said so: an empty fix must not look like "nothing missing".
    let (shaped, kind, source) = platform(emit);
    let foreign: Vec<&str> = chosen
        .iter()
        .map(|g| g.permission)
        .filter(|p| !shaped(p))
        .collect();
    if let Some(first) = foreign.first() {
        warnings.insert(format!(
            "left out {} missing permission(s) that are not {kind}, such as {}: --emit {} writes fixes for {source}; the report lists them",
            foreign.len(),
            shown(first),
            emit.name()
        ));
    }
    let wrong_platform = !chosen.is_empty() && foreign.len() == chosen.len();
    let text = match emit {
        Emit::K8sRbac => k8s::render(&chosen, options.allow_risky, &mut warnings),
        Emit::IamPolicy => iam::render(&chosen, options.allow_risky, &mut warnings),
        Emit::AwsCli => aws_cli::render(&chosen, options.allow_risky, &mut warnings),
        Emit::Gcloud => gcloud::render(&chosen, options.allow_risky, &mut warnings),
        Emit::Az => az::render(&chosen, options.allow_risky, &mut warnings),
    };
    Emitted {
        text,
        warnings: warnings.into_iter().collect(),
        wrong_platform,
    }
}

/// A value as warnings and comments show it: JSON-quoted, with what JSON
/// leaves raw but a terminal or a YAML 1.1 reader would act on (DEL, C1
/// controls, line separators, bidi controls) escaped too, so it is one inert
/// line. Cut after 200 characters: a warning names the value, it does not
/// have to hold all of it.
fn shown(value: &str) -> String {
    const SHOWN_CHARS: usize = 200;
    let cut: String = value.chars().take(SHOWN_CHARS).collect();
    let quoted = serde_json::to_string(&cut).expect("a string serialises");
    let quoted = text::terminal(&quoted).into_owned();
    if cut.len() < value.len() {
        format!("{quoted}... ({} bytes)", value.len())
    } else {
        quoted
    }
}

/// The comment a risky grant carries when --allow-risky lets it through, and
/// the warning that refuses it otherwise; `None` when the grant is not risky.
fn risk_notes(
    grant: &Grant<'_>,
    principal_risk: Option<&str>,
    escalation: Option<&str>,
) -> Option<(String, String)> {
    let (value, subject, why) = match (principal_risk, escalation) {
        (Some(why), _) => (grant.principal, "the principal", why),
        (None, Some(why)) => (grant.permission, "it", why),
        (None, None) => return None,
    };
    Some((
        format!("{} {why}", shown(value)),
        format!(
            "refused {} for {}: {subject} {why}; if that is intended, review it and pass --allow-risky",
            shown(grant.permission),
            shown(grant.principal)
        ),
    ))
}

/// The comment a risky existing role or new grant (`subject`) carries when
/// --allow-risky lets it through, and the warning that refuses it otherwise.
fn subject_risk(subject: &str, grant: &Grant<'_>, why: &str) -> (String, String) {
    (
        format!("{} {why}", shown(subject)),
        format!(
            "refused {} for {} ({}): it {why}; if that is intended, review it and pass --allow-risky",
            shown(subject),
            shown(grant.principal),
            shown(grant.permission)
        ),
    )
}

/// Redaction replaces secrets with this; a grant built on one would name the mark, not the value.
const REDACTED: &str = "<redacted:";

const REDACTED_WHY: &str =
    "it was redacted at ingest as a likely secret; if it is not one, grant it by hand";

/// Whether a name is shown as it is: no controls, bidi controls, line
/// separators or invisible characters (what [`text::terminal`] escapes).
fn printable(name: &str) -> bool {
    matches!(text::terminal(name), std::borrow::Cow::Borrowed(_))
}

/// A POSIX shell script under construction: comments, and commands whose
/// every word is quoted as one shell word (shlex), so no value can end a
/// command, start another or expand.
struct Script {
    text: String,
}

/// The line before a command that --allow-risky let through.
const RISKY_MARK: &str = "# risky, emitted because of --allow-risky: ";

impl Script {
    fn new(emit: Emit) -> Self {
        let text = format!(
            "#!/bin/sh\n# grantgap --emit {}: review each command before running it.\nset -eu\n",
            emit.name()
        );
        Script { text }
    }

    /// A comment line; the text is inert because values in it went through [`shown`].
    fn comment(&mut self, text: &str) {
        debug_assert!(!text.contains(['\n', '\r']));
        self.text.push_str("# ");
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// One command; `risk` (from [`risk_notes`]) marks it. Fails only on a
    /// NUL, which no shell word can hold.
    fn command(&mut self, words: &[String], risk: Option<&str>) -> Result<(), String> {
        let line = shlex::try_join(words.iter().map(String::as_str))
            .map_err(|e| format!("it cannot be one shell word ({e})"))?;
        if let Some(why) = risk {
            self.text.push_str(RISKY_MARK);
            self.text.push_str(why);
            self.text.push('\n');
        }
        self.text.push_str(&line);
        self.text.push('\n');
        Ok(())
    }

    fn finish(mut self, commands: usize) -> String {
        if commands == 0 {
            self.comment("nothing to grant");
        }
        self.text
    }
}

/// The commands of a script as words, each with whether it is marked risky;
/// what [`Script`] writes and nothing else (a line that is not a comment, the
/// header or a command that splits back into words is an error).
fn script_commands(script: &str) -> Result<Vec<(bool, Vec<String>)>, String> {
    let mut commands = Vec::new();
    let mut marked = false;
    for line in script.lines() {
        if line.starts_with(RISKY_MARK) {
            marked = true;
        } else if line.starts_with('#') || line == "set -eu" {
            if marked {
                return Err(format!("risk mark before {line:?}"));
            }
        } else {
            let words = shlex::split(line).ok_or_else(|| format!("unquoted line {line:?}"))?;
            if words.is_empty() {
                return Err(format!("empty command {line:?}"));
            }
            commands.push((std::mem::take(&mut marked), words));
        }
    }
    if !script.starts_with("#!/bin/sh\n") {
        return Err("no #!/bin/sh line".into());
    }
    Ok(commands)
}

/// The value of `--name=value` among a command's words.
fn option<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    words
        .iter()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

/// Checks what [`render`] promises, for the fuzz target and the tests: the text
/// parses back into exactly the objects the grants call for and nothing else.
/// RBAC: only the four RBAC kinds, names Kubernetes accepts and never two
/// objects of one kind and name; each binding has one subject that is a chosen
/// principal's exact parts (a Group only for a group) and refers to a role
/// emitted beside it, whose rules are that principal's permissions in that
/// namespace. IAM: a policy per chosen principal whose actions and resources
/// are its own. Risky grants only with `allow_risky`, and every warning is one
/// line of visible text. Returns what broke.
pub fn check_round_trip(
    grants: &[Grant<'_>],
    emit: Emit,
    options: &Options,
    emitted: &Emitted,
) -> Result<(), String> {
    if let Some(bad) = emitted.warnings.iter().find(|w| !printable(w)) {
        return Err(format!("warning with hidden characters: {bad:?}"));
    }
    let chosen: Vec<&Grant<'_>> = grants
        .iter()
        .filter(|g| options.chooses(g.principal))
        .collect();
    match emit {
        Emit::K8sRbac => k8s::check(&chosen, options.allow_risky, &emitted.text),
        Emit::IamPolicy => iam::check(&chosen, options.allow_risky, &emitted.text),
        Emit::AwsCli => aws_cli::check(&chosen, options.allow_risky, &emitted.text),
        Emit::Gcloud => gcloud::check(&chosen, options.allow_risky, &emitted.text),
        Emit::Az => az::check(&chosen, options.allow_risky, &emitted.text),
    }
}

/// A grant of `permission` to `principal` in `orgs`, on no objects.
#[cfg(test)]
fn grant<'a>(principal: &'a str, permission: &'a str, orgs: &'a [String]) -> Grant<'a> {
    Grant {
        principal,
        permission,
        orgs,
        objects: &[],
        roles: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::k8s::{RbacObject, Subject};
    use super::*;
    use serde::Deserialize;

    #[test]
    fn one_principal_only() {
        let grants = [
            grant("a", "core/pods:list", &[]),
            grant("b", "core/pods:list", &[]),
        ];
        let options = Options {
            principals: vec![
                glob::Pattern::new("b").unwrap(),
                glob::Pattern::new("c").unwrap(),
            ],
            ..Options::default()
        };
        let emitted = render(&grants, Emit::K8sRbac, &options);
        assert!(
            emitted.text.contains("name: grantgap-b\n") && !emitted.text.contains("grantgap-a")
        );
        assert_eq!(emitted.warnings.len(), 1);
        assert!(emitted.warnings[0].starts_with("no fix for --principal \"c\""));
        check_round_trip(&grants, Emit::K8sRbac, &options, &emitted).unwrap();
    }

    /// Text that ends a scalar, a line or a document, or means something to a YAML reader.
    const NASTY: &[&str] = &[
        "bob\"\n  - kind: Group\n    apiGroup: rbac.authorization.k8s.io\n    name: \"system:authenticated",
        "prod\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding",
        "eve\" # not a comment",
        "'single'",
        "---",
        "...",
        "&anchor x",
        "*alias",
        "!!python/object:os.system",
        "!tag",
        "{a: b}",
        "[a, b]",
        "# comment",
        "key: value",
        "- item",
        "? complex",
        "|",
        ">",
        "%YAML 1.1",
        "@at",
        "`tick`",
        "line\u{2028}separator",
        "para\u{2029}graph",
        "next\u{85}line",
        "nul\0byte",
        "esc\u{1b}[31mred",
        "bidi\u{202e}txt",
        "zero\u{200b}width",
        "tab\there",
        "cr\rlf",
        " padded ",
        "",
        "~",
        "null",
        "true",
        "yes",
        "on",
        "n",
        "0x1f",
        "0o17",
        "017",
        "1e3",
        "1_000",
        ".inf",
        "<<",
        "=",
        "<redacted:abcd1234>",
        "prod",
        "system:serviceaccount:ci:deployer",
        "system:serviceaccount:ci:de\nployer",
        "system:serviceaccount:ci\n---:deployer",
        "system:serviceaccounts:ci",
        "system:unauthenticated",
        "arn:aws:iam::111122223333:role/etl-reader",
        "arn:aws:iam::111122223333:user/bob;id",
        "arn:aws:iam::111122223333:policy/UserAdmin",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::111122223333:policy/$(id)",
        "ci@build-prod.iam.gserviceaccount.com",
        "user:ann@example.com'",
        "build-prod",
        "roles/run.invoker",
        "roles/owner",
        "roles/x`id`",
        "storage.objects.get",
        "iam.serviceAccounts.actAs",
        "storage.objects.get;x",
        "0b1f3c2a-9d4e-4f6a-8b7c-112233445566",
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
        "/subscriptions/s1/resourceGroups/rg;reboot",
        "Storage Blob Data Reader",
        "Owner",
        "ClusterRole/secret-reader",
        "Role/prod/pod-reader",
        "ClusterRole/cluster-admin",
        "Role/kube-system/x",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Authorization/roleAssignments/write",
        "arn:aws:s3:::bucket/*",
        "arn:aws:s3:::bucket/\nkey",
        "*",
        "*:*",
        "s3:GetObject",
        "s3:GetObject\n",
        "core/pods:list",
        "core/pods\n:list",
        "core/po\"ds:list",
        "apps/deployments/scale:update",
        "nonresource:/healthz:get",
        "nonresource:/a b:get",
        "nonresource:*:get",
        "core/secrets:get",
        "yes/pods:list",
        "core/pods:yes",
    ];

    #[test]
    fn nasty_text_parses_back_into_exactly_the_intended_objects() {
        let long = "x".repeat(5000);
        let mut nasty: Vec<&str> = NASTY.to_vec();
        nasty.push(&long);
        let lists: Vec<Vec<String>> = nasty
            .iter()
            .map(|n| vec![n.to_string(), "prod".into()])
            .chain([Vec::new()])
            .collect();
        let mut grants = Vec::new();
        for (i, principal) in nasty.iter().enumerate() {
            for (j, permission) in nasty.iter().enumerate() {
                let list = &lists[(i + j) % lists.len()];
                grants.push(Grant {
                    principal,
                    permission,
                    orgs: list,
                    objects: list,
                    // A third names existing roles; the rest need new ones.
                    roles: if (i + j) % 3 == 0 {
                        &lists[(i * 7 + j) % lists.len()]
                    } else {
                        &[]
                    },
                });
            }
        }
        for &emit in Emit::ALL {
            for allow_risky in [false, true] {
                let options = Options {
                    allow_risky,
                    ..Options::default()
                };
                let emitted = render(&grants, emit, &options);
                if let Err(broke) = check_round_trip(&grants, emit, &options, &emitted) {
                    panic!(
                        "{emit:?} allow_risky={allow_risky}: {broke}\n{}",
                        emitted.text
                    );
                }
                assert!(!emitted.warnings.is_empty());
            }
        }
        // The injection attempts are left out with a warning, not bound as written.
        let emitted = render(&grants, Emit::K8sRbac, &Options::default());
        let subjects: Vec<Subject> = serde_yaml_ng::Deserializer::from_str(&emitted.text)
            .flat_map(|d| {
                RbacObject::deserialize(d)
                    .unwrap()
                    .subjects
                    .unwrap_or_default()
            })
            .collect();
        assert!(subjects.iter().all(|s| s.kind != "Group"), "{subjects:?}");
        assert!(
            emitted
                .warnings
                .iter()
                .any(|w| w.starts_with("skipped principal \"bob\\\"\\n  - kind: Group")),
            "{:#?}",
            emitted.warnings
        );
        assert!(
            emitted.text.contains("name: eve\" # not a comment")
                || emitted.text.contains("name: 'eve\" # not a comment'"),
            "{}",
            emitted.text
        );
    }

    #[test]
    fn the_check_catches_what_an_injection_would_do() {
        let prod = ["prod".to_string()];
        let grants = [grant("bob", "core/pods:list", &prod)];
        let options = Options::default();
        let emitted = render(&grants, Emit::K8sRbac, &options);
        check_round_trip(&grants, Emit::K8sRbac, &options, &emitted).unwrap();
        let tampered = [
            emitted.text.replace("kind: User", "kind: Group"),
            emitted.text.replace("name: bob", "name: bob\n- kind: Group\n  name: system:authenticated"),
            emitted.text.replace("- list", "- list\n  - watch"),
            format!("{}---\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata:\n  name: x\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects: []\n", emitted.text),
            emitted.text.replace("namespace: prod", "namespace: kube-system"),
        ];
        for text in tampered {
            assert_ne!(text, emitted.text);
            let tampered = Emitted {
                wrong_platform: false,
                text,
                warnings: Vec::new(),
            };
            assert!(
                check_round_trip(&grants, Emit::K8sRbac, &options, &tampered).is_err(),
                "{}",
                tampered.text
            );
        }
        // Nothing to emit is a stream of comments only.
        let empty = render(&[], Emit::K8sRbac, &options);
        check_round_trip(&[], Emit::K8sRbac, &options, &empty).unwrap();
    }

    #[test]
    fn warnings_are_one_inert_line() {
        let warning = shown("a\"\n\u{2028}\u{85}\u{202e}\u{7f}");
        assert_eq!(warning, "\"a\\\"\\n\\u{2028}\\u{85}\\u{202e}\\x7f\"");
        assert!(shown(&"x".repeat(500)).ends_with("... (500 bytes)"));
    }
}
