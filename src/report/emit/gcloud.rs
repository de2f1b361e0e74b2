//! `--emit gcloud`: `gcloud` commands per principal and project. The existing
//! roles the report names (`grant_roles`, from `--iam` dumps) are bound in
//! each project the principal was denied in; what no existing role grants
//! goes into a custom role of that project, created and then bound.

use std::collections::{BTreeMap, BTreeSet};

use super::{option, script_commands, shown, subject_risk, Emit, Grant, Script};

/// Predefined roles that hand over the project or its IAM.
const RISKY_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/iam.securityAdmin",
    "roles/iam.roleAdmin",
    "roles/iam.organizationRoleAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountUser",
    "roles/iam.workloadIdentityUser",
    "roles/resourcemanager.projectIamAdmin",
    "roles/resourcemanager.folderAdmin",
    "roles/resourcemanager.organizationAdmin",
];

/// Whether the permission has the shape of a GCP IAM permission
/// (`service.resource.verb`; it may still be invalid).
pub(super) fn gcp_shaped(permission: &str) -> bool {
    permission.matches('.').count() >= 2
        && !permission.contains([':', '/'])
        && permission.starts_with(|c: char| c.is_ascii_lowercase())
}

/// `service.resource.verb` in IAM's characters.
fn is_permission(permission: &str) -> bool {
    gcp_shaped(permission)
        && permission.len() <= 256
        && permission
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        && !permission.split('.').any(str::is_empty)
}

/// How granting this permission reaches past it, if it does.
fn escalation(permission: &str) -> Option<&'static str> {
    const ACT_AS: &[&str] = &[
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccounts.getOpenIdToken",
        "iam.serviceAccounts.implicitDelegation",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccountKeys.create",
    ];
    if permission.ends_with(".setIamPolicy") {
        Some("lets the holder grant itself anything on the resource")
    } else if permission.starts_with("iam.roles.")
        && !permission.ends_with(".get")
        && !permission.ends_with(".list")
    {
        Some("lets the holder rewrite roles")
    } else if ACT_AS.contains(&permission) {
        Some("lets the holder act as a service account")
    } else {
        None
    }
}

/// The IAM member a logged principal is (`serviceAccount:EMAIL`, `user:EMAIL`,
/// or as the log wrote it when it already names its type), if it is one.
fn member(principal: &str) -> Option<String> {
    let email = |e: &str| {
        let (local, domain) = e.split_once('@')?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && e.len() <= 254
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b));
        ok.then_some(())
    };
    for kind in ["serviceAccount", "user", "group"] {
        if let Some(e) = principal
            .strip_prefix(kind)
            .and_then(|p| p.strip_prefix(':'))
        {
            return email(e).map(|_| principal.to_string());
        }
    }
    email(principal)?;
    Some(if principal.ends_with(".gserviceaccount.com") {
        format!("serviceAccount:{principal}")
    } else {
        format!("user:{principal}")
    })
}

/// A project id (`my-project-1`, or legacy `example.com:my-project`).
fn project(id: &str) -> bool {
    let name = id.rsplit_once(':').map_or(id, |(domain, name)| {
        if domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b))
        {
            name
        } else {
            ""
        }
    });
    (6..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A role name: `roles/ID`, `projects/P/roles/ID`, `organizations/N/roles/ID`.
fn role(name: &str) -> bool {
    let id_ok = |id: &str| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    match name.split('/').collect::<Vec<_>>()[..] {
        ["roles", id] => id_ok(id),
        ["projects", p, "roles", id] => project(p) && id_ok(id),
        ["organizations", n, "roles", id] => {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && id_ok(id)
        }
        _ => false,
    }
}

/// The custom role's id for a principal: its member name in role-id
/// characters, numbered when two principals would share one.
fn custom_role_id(member: &str, taken: &mut BTreeSet<String>) -> String {
    let base: String = member
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    let base = format!("grantgap.{base}");
    let mut id = base.clone();
    let mut n = 1;
    while !taken.insert(id.clone()) {
        n += 1;
        id = format!("{base}_{n}");
    }
    id
}

pub(super) fn render(
    grants: &[Grant<'_>],
    allow_risky: bool,
    warnings: &mut BTreeSet<String>,
) -> String {
    // (project, member) -> role -> risk note; and -> permissions for the custom role.
    let mut bind: BTreeMap<(&str, String), BTreeMap<&str, Option<String>>> = BTreeMap::new();
    let mut create: BTreeMap<(&str, String), BTreeMap<&str, Option<String>>> = BTreeMap::new();
    for grant in grants.iter().filter(|g| gcp_shaped(g.permission)) {
        let what = format!("{} for {}", shown(grant.permission), shown(grant.principal));
        let Some(member) = member(grant.principal) else {
            warnings.insert(format!(
                "skipped {what}: the principal is not an email address or IAM member (user:, serviceAccount:, group:); grant it by hand"
            ));
            continue;
        };
        if !is_permission(grant.permission) {
            warnings.insert(format!("skipped {what}: it is not a GCP IAM permission"));
            continue;
        }
        let projects: Vec<&str> = grant
            .orgs
            .iter()
            .map(String::as_str)
            .filter(|p| project(p))
            .collect();
        if projects.is_empty() {
            warnings.insert(format!(
                "skipped {what}: the log names no project it was denied in; bind it in the right one by hand"
            ));
            continue;
        }
        let refuse = |subject: &str, why: &str, warnings: &mut BTreeSet<String>| {
            let (note, refusal) = subject_risk(subject, grant, why);
            if allow_risky {
                Some(Some(note))
            } else {
                warnings.insert(refusal);
                None
            }
        };
        if grant.roles.is_empty() {
            let risk = match escalation(grant.permission) {
                Some(why) => match refuse(grant.permission, why, warnings) {
                    Some(note) => note,
                    None => continue,
                },
                None => None,
            };
            for p in &projects {
                let entry = create.entry((p, member.clone())).or_default();
                let mark = entry.entry(grant.permission).or_default();
                if risk.is_some() {
                    mark.clone_from(&risk);
                }
            }
            continue;
        }
        for name in grant.roles {
            if !role(name) {
                warnings.insert(format!(
                    "skipped role {} for {what}: it is not a GCP role name",
                    shown(name)
                ));
                continue;
            }
            let why = if RISKY_ROLES.contains(&name.as_str()) {
                Some("hands over the project or its IAM")
            } else {
                escalation(grant.permission)
            };
            let risk = match why {
                Some(why) => match refuse(name, why, warnings) {
                    Some(note) => note,
                    None => continue,
                },
                None => None,
            };
            for p in &projects {
                let entry = bind.entry((p, member.clone())).or_default();
                let mark = entry.entry(name.as_str()).or_default();
                if risk.is_some() {
                    mark.clone_from(&risk);
                }
            }
        }
    }

    let mut script = Script::new(Emit::Gcloud);
    let mut commands = 0;
    let mut taken: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let targets: BTreeSet<&(&str, String)> = bind.keys().chain(create.keys()).collect();
    for key @ (project, member) in targets {
        script.comment(&format!("{} in project {}", shown(member), shown(project)));
        let binding = |role: &str, risk: Option<&str>, script: &mut Script| {
            let words = vec![
                "gcloud".into(),
                "projects".into(),
                "add-iam-policy-binding".into(),
                project.to_string(),
                format!("--member={member}"),
                format!("--role={role}"),
                "--condition=None".into(),
            ];
            script
                .command(&words, risk)
                .expect("checked names hold no NUL");
        };
        for (role, risk) in bind.get(key).into_iter().flatten() {
            binding(role, risk.as_deref(), &mut script);
            commands += 1;
        }
        if let Some(permissions) = create.get(key) {
            let id = custom_role_id(member, taken.entry(project).or_default());
            let risk = permissions.values().flatten().next().cloned();
            let list: Vec<&str> = permissions.keys().copied().collect();
            script.comment(
                "no existing role grants these: a custom role (if it exists, `gcloud iam roles update` with the same flags)",
            );
            let words = vec![
                "gcloud".into(),
                "iam".into(),
                "roles".into(),
                "create".into(),
                id.clone(),
                format!("--project={project}"),
                format!("--title=grantgap {member}"),
                format!("--permissions={}", list.join(",")),
                "--stage=GA".into(),
            ];
            script
                .command(&words, risk.as_deref())
                .expect("checked names hold no NUL");
            binding(
                &format!("projects/{project}/roles/{id}"),
                risk.as_deref(),
                &mut script,
            );
            commands += 2;
        }
    }
    script.finish(commands)
}

pub(super) fn check(grants: &[&Grant<'_>], allow_risky: bool, text: &str) -> Result<(), String> {
    let own = |member: &str, project: &str| -> Vec<&&Grant<'_>> {
        grants
            .iter()
            .filter(|g| self::member(g.principal).as_deref() == Some(member))
            .filter(|g| g.orgs.iter().any(|o| o == project))
            .collect()
    };
    let mut created: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (marked, words) in script_commands(text)? {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        match w[..] {
            ["gcloud", "iam", "roles", "create", id, ..] if w.len() == 9 => {
                let project = option(&words, "--project").ok_or("no project")?;
                let title = option(&words, "--title").ok_or("no title")?;
                let member = title.strip_prefix("grantgap ").ok_or("title")?;
                let permissions = option(&words, "--permissions").ok_or("no permissions")?;
                let own = own(member, project);
                let mut risky = false;
                for p in permissions.split(',') {
                    if !own.iter().any(|g| g.permission == p && g.roles.is_empty())
                        || !is_permission(p)
                    {
                        return Err(format!("{p:?} is no grant of {member:?} in {project:?}"));
                    }
                    risky |= escalation(p).is_some();
                }
                if (risky && !allow_risky)
                    || risky != marked
                    || option(&words, "--stage") != Some("GA")
                {
                    return Err(format!("{words:?}: risky {risky}, marked {marked}"));
                }
                let role = format!("projects/{project}/roles/{id}");
                if created.insert(role, (member.to_string(), risky)).is_some() {
                    return Err(format!("role {id:?} created twice"));
                }
            }
            ["gcloud", "projects", "add-iam-policy-binding", project, ..] if w.len() == 7 => {
                let member = option(&words, "--member").ok_or("no member")?;
                let role = option(&words, "--role").ok_or("no role")?;
                if option(&words, "--condition") != Some("None") {
                    return Err(format!("condition in {words:?}"));
                }
                let risky = match created.get(role) {
                    Some((creator, risky)) if creator == member => *risky,
                    Some(_) => return Err(format!("{role:?} bound to another member")),
                    None => {
                        let granting: Vec<_> = own(member, project)
                            .into_iter()
                            .filter(|g| g.roles.iter().any(|r| r == role))
                            // A grant refused as risky justifies no command.
                            .filter(|g| allow_risky || escalation(g.permission).is_none())
                            .collect();
                        if granting.is_empty() || !self::role(role) {
                            return Err(format!(
                                "{role:?} for {member:?} in {project:?}: no grant names it"
                            ));
                        }
                        RISKY_ROLES.contains(&role)
                            || granting.iter().any(|g| escalation(g.permission).is_some())
                    }
                };
                if (risky && !allow_risky) || risky != marked {
                    return Err(format!("{words:?}: risky {risky}, marked {marked}"));
                }
            }
            _ => return Err(format!("unexpected command {words:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::emit::{check_round_trip, grant, render, Emitted, Options};

    const CI: &str = "ci@build-prod.iam.gserviceaccount.com";

    #[test]
    fn existing_roles_are_bound_per_project_and_a_custom_role_holds_the_rest() {
        let projects = ["build-prod".to_string(), "build-staging".to_string()];
        let invoker = ["roles/run.invoker".to_string()];
        let grants = [
            Grant {
                roles: &invoker,
                ..grant(CI, "run.routes.invoke", &projects)
            },
            grant(CI, "storage.objects.delete", &projects[..1]),
            grant(
                "user:ann@example.com",
                "bigquery.tables.get",
                &projects[..1],
            ),
            grant("(caller not in log)", "storage.objects.get", &projects),
            grant(CI, "storage.objects.get", &[]),
        ];
        let options = Options::default();
        let emitted = render(&grants, Emit::Gcloud, &options);
        let text = &emitted.text;
        for project in ["build-prod", "build-staging"] {
            assert!(text.contains(&format!("\ngcloud projects add-iam-policy-binding {project} '--member=serviceAccount:{CI}' '--role=roles/run.invoker' '--condition=None'\n")), "{text}");
        }
        assert!(text.contains("\ngcloud iam roles create grantgap.serviceAccount_ci_build_prod_iam_gserviceaccount '--project=build-prod' '--title=grantgap serviceAccount:ci@build-prod.iam.gserviceaccount.com' '--permissions=storage.objects.delete' '--stage=GA'\n"), "{text}");
        assert!(text.contains("'--member=user:ann@example.com' '--role=projects/build-prod/roles/grantgap.user_ann_example_com'"), "{text}");
        assert_eq!(emitted.warnings.len(), 2, "{:?}", emitted.warnings);
        check_round_trip(&grants, Emit::Gcloud, &options, &emitted).unwrap();
        for tampered in [
            text.replace("--member=user:ann", "--member=user:eve"),
            text.replace("roles/run.invoker", "roles/owner"),
            text.replace("'--condition=None'\n", "'--condition=None' && curl x\n"),
            text.replace(
                "--permissions=storage.objects.delete",
                "--permissions=storage.objects.delete,storage.buckets.setIamPolicy",
            ),
        ] {
            assert_ne!(&tampered, text);
            let tampered = Emitted {
                text: tampered,
                ..Default::default()
            };
            assert!(check_round_trip(&grants, Emit::Gcloud, &options, &tampered).is_err());
        }
    }

    #[test]
    fn risky_roles_and_members() {
        let projects = ["build-prod".to_string()];
        let owner = ["roles/owner".to_string()];
        let grants = [
            Grant {
                roles: &owner,
                ..grant(CI, "compute.instances.create", &projects)
            },
            grant(CI, "iam.serviceAccounts.actAs", &projects),
            grant("allUsers", "storage.objects.get", &projects),
        ];
        let refused = render(&grants, Emit::Gcloud, &Options::default());
        assert!(
            refused.text.ends_with("# nothing to grant\n"),
            "{}",
            refused.text
        );
        assert_eq!(refused.warnings.len(), 3, "{:?}", refused.warnings);
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::Gcloud, &options);
        assert_eq!(
            allowed
                .text
                .matches("# risky, emitted because of --allow-risky")
                .count(),
            3,
            "{}",
            allowed.text
        );
        check_round_trip(&grants, Emit::Gcloud, &options, &allowed).unwrap();
    }
}
