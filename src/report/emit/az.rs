//! `--emit az`: `az role assignment create` commands. The existing role
//! definitions the report names (`grant_roles`, from `--iam` dumps) are
//! assigned at the narrowest scope that covers the denials: the deepest
//! management scope (subscription, resource group, resource) every denied
//! request's `authorization.scope` lies under. What no existing definition
//! grants is left out with a warning: whether an action is a control-plane
//! action or a data action decides where a custom definition lists it, and
//! the log does not say.

use std::collections::{BTreeMap, BTreeSet};

use super::{option, script_commands, shown, subject_risk, Emit, Grant, Script};

/// Built-in roles that hand over the scope or its access control.
const RISKY_ROLES: &[&str] = &[
    "Owner",
    "Contributor",
    "User Access Administrator",
    "Role Based Access Control Administrator",
];

/// Whether the permission has the shape of an Azure action.
pub(super) fn azure_shaped(permission: &str) -> bool {
    permission
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("microsoft."))
        && permission.contains('/')
}

/// How granting this action reaches past it, if it does.
fn escalation(permission: &str) -> Option<&'static str> {
    let lower = permission.to_ascii_lowercase();
    (lower.starts_with("microsoft.authorization/")
        && (lower.ends_with("/write") || lower.contains("elevateaccess") || lower.contains('*')))
    .then_some("changes who may do what")
}

/// The assignee flag a logged principal takes: an object id, or a UPN.
fn assignee(principal: &str) -> Option<String> {
    let guid = principal.len() == 36
        && principal.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if guid {
        return Some(format!("--assignee-object-id={principal}"));
    }
    let (local, domain) = principal.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && principal.len() <= 256
        && principal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-@#".contains(&b))
        && principal.matches('@').count() == 1;
    ok.then(|| format!("--assignee={principal}"))
}

/// A role definition's name as `az` takes it: a built-in or custom name, or its id.
fn role(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name.trim() == name
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" ._()/&-".contains(&b))
}

/// One segment of a resource id.
fn segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 260
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._()-".contains(&b))
}

/// The deepest scope every one of these resource ids lies under, if they
/// share a subscription: `/subscriptions/S`, `…/resourceGroups/G`, or a
/// resource (`…/providers/NS/TYPE/NAME[/TYPE/NAME]…`).
fn narrowest_scope(ids: &[&str]) -> Option<String> {
    let split: Vec<Vec<&str>> = ids
        .iter()
        .map(|id| id.trim_end_matches('/').split('/').skip(1).collect())
        .collect();
    let first = split.first()?;
    let mut common = first.len();
    for other in &split[1..] {
        common = common.min(
            first
                .iter()
                .zip(other)
                .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
                .count(),
        );
    }
    let path = &first[..common];
    if path.len() < 2
        || !path[0].eq_ignore_ascii_case("subscriptions")
        || !path.iter().all(|s| segment(s))
    {
        return None;
    }
    let providers = path
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"));
    let valid = |len: usize| match len {
        2 => true,
        4 => path[2].eq_ignore_ascii_case("resourceGroups"),
        _ => providers.is_some_and(|p| (p == 2 || p == 4) && len >= p + 4 && (len - p) % 2 == 0),
    };
    let len = (2..=path.len()).rev().find(|&l| valid(l))?;
    Some(format!("/{}", path[..len].join("/")))
}

pub(super) fn render(
    grants: &[Grant<'_>],
    allow_risky: bool,
    warnings: &mut BTreeSet<String>,
) -> String {
    /// The resource ids denied, and the risk note.
    type Denied<'a> = (Vec<&'a str>, Option<String>);
    let mut assign: BTreeMap<(String, &str), Denied<'_>> = BTreeMap::new();
    for grant in grants.iter().filter(|g| azure_shaped(g.permission)) {
        let what = format!("{} for {}", shown(grant.permission), shown(grant.principal));
        let Some(assignee) = assignee(grant.principal) else {
            warnings.insert(format!(
                "skipped {what}: the principal is neither an object id nor a UPN; assign it by hand"
            ));
            continue;
        };
        if grant.roles.is_empty() {
            warnings.insert(format!(
                "left out {what}: no role definition in the --iam dumps grants it; create a custom role definition with it (az role definition create, under Actions or DataActions as the action is) and assign it"
            ));
            continue;
        }
        let ids: Vec<&str> = grant
            .objects
            .iter()
            .map(String::as_str)
            .filter(|o| {
                o.get(..15)
                    .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
            })
            .collect();
        if ids.is_empty() {
            warnings.insert(format!(
                "skipped {what}: the log names no scope it was denied at; assign it at the right one by hand"
            ));
            continue;
        }
        for name in grant.roles {
            if !role(name) {
                warnings.insert(format!(
                    "skipped role {} for {what}: it is not a role definition name",
                    shown(name)
                ));
                continue;
            }
            let why = if RISKY_ROLES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                Some("hands over the scope or its access control")
            } else {
                escalation(grant.permission)
            };
            let risk = match why {
                Some(why) => {
                    let (note, refusal) = subject_risk(name, grant, why);
                    if !allow_risky {
                        warnings.insert(refusal);
                        continue;
                    }
                    Some(note)
                }
                None => None,
            };
            let entry = assign.entry((assignee.clone(), name.as_str())).or_default();
            entry.0.extend(&ids);
            if risk.is_some() {
                entry.1 = risk;
            }
        }
    }
    let mut script = Script::new(Emit::Az);
    let mut commands = 0;
    for ((assignee, name), (ids, risk)) in &assign {
        let Some(scope) = narrowest_scope(ids) else {
            warnings.insert(format!(
                "skipped role {} for {}: its denials share no subscription, or a scope segment is not a resource name; assign it by hand",
                shown(name),
                shown(assignee)
            ));
            continue;
        };
        let principal = assignee
            .split_once('=')
            .map_or(assignee.as_str(), |(_, p)| p);
        script.comment(&format!("{} at {}", shown(principal), shown(&scope)));
        let words = vec![
            "az".into(),
            "role".into(),
            "assignment".into(),
            "create".into(),
            assignee.clone(),
            format!("--role={name}"),
            format!("--scope={scope}"),
        ];
        script
            .command(&words, risk.as_deref())
            .expect("checked names hold no NUL");
        commands += 1;
    }
    script.finish(commands)
}

pub(super) fn check(grants: &[&Grant<'_>], allow_risky: bool, text: &str) -> Result<(), String> {
    for (marked, words) in script_commands(text)? {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let ["az", "role", "assignment", "create", who, _, _] = w[..] else {
            return Err(format!("unexpected command {words:?}"));
        };
        let role = option(&words, "--role").ok_or("no role")?;
        let scope = option(&words, "--scope").ok_or("no scope")?;
        let granting: Vec<&&Grant<'_>> = grants
            .iter()
            .filter(|g| assignee(g.principal).as_deref() == Some(who))
            .filter(|g| g.roles.iter().any(|r| r == role))
            // A grant refused as risky justifies no command.
            .filter(|g| allow_risky || escalation(g.permission).is_none())
            .collect();
        let ids: Vec<&str> = granting
            .iter()
            .flat_map(|g| g.objects.iter().map(String::as_str))
            .filter(|o| {
                o.get(..15)
                    .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
            })
            .collect();
        if granting.is_empty()
            || narrowest_scope(&ids).as_deref() != Some(scope)
            || !self::role(role)
        {
            return Err(format!(
                "{role:?} for {who:?} at {scope:?}: no grant names it"
            ));
        }
        let risky = RISKY_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role))
            || granting.iter().any(|g| escalation(g.permission).is_some());
        if (risky && !allow_risky) || risky != marked {
            return Err(format!("{words:?}: risky {risky}, marked {marked}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::emit::{check_round_trip, grant, render, Emitted, Options};

    const APP: &str = "0b1f3c2a-9d4e-4f6a-8b7c-112233445566";
    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";

    #[test]
    fn the_narrowest_scope_that_covers_the_denials() {
        let rg = format!("{SUB}/resourceGroups/rg-data");
        let a = format!("{rg}/providers/Microsoft.Storage/storageAccounts/acct1");
        let b = format!("{rg}/providers/Microsoft.Storage/storageAccounts/acct2");
        let blob = format!("{a}/blobServices/default");
        assert_eq!(narrowest_scope(&[&a]).as_deref(), Some(a.as_str()));
        assert_eq!(narrowest_scope(&[&a, &blob]).as_deref(), Some(a.as_str()));
        assert_eq!(narrowest_scope(&[&a, &b]).as_deref(), Some(rg.as_str()));
        let other_rg = format!("{SUB}/resourceGroups/rg-web");
        assert_eq!(narrowest_scope(&[&a, &other_rg]).as_deref(), Some(SUB));
        assert_eq!(narrowest_scope(&[&a, "/subscriptions/other"]), None);
        assert_eq!(
            narrowest_scope(&[&format!("{SUB}/resourceGroups/rg;rm -rf")]),
            None
        );
    }

    #[test]
    fn existing_definitions_are_assigned_and_risky_ones_refused() {
        let rg = format!("{SUB}/resourceGroups/rg-data");
        let objects = [
            format!("{rg}/providers/Microsoft.Storage/storageAccounts/acct1"),
            format!("{rg}/providers/Microsoft.Storage/storageAccounts/acct2"),
        ];
        let reader = ["Storage Account Contributor".to_string()];
        let owner = ["Owner".to_string()];
        let grants = [
            Grant {
                roles: &reader,
                objects: &objects,
                ..grant(
                    APP,
                    "Microsoft.Storage/storageAccounts/listKeys/action",
                    &[],
                )
            },
            Grant {
                roles: &owner,
                objects: &objects,
                ..grant(
                    "ann@contoso.com",
                    "Microsoft.Authorization/roleAssignments/write",
                    &[],
                )
            },
            Grant {
                objects: &objects,
                ..grant(APP, "Microsoft.Compute/virtualMachines/start/action", &[])
            },
        ];
        let options = Options::default();
        let emitted = render(&grants, Emit::Az, &options);
        let text = &emitted.text;
        assert!(text.contains(&format!("\naz role assignment create '--assignee-object-id={APP}' '--role=Storage Account Contributor' '--scope={rg}'\n")), "{text}");
        assert!(!text.contains("Owner"), "{text}");
        assert_eq!(emitted.warnings.len(), 2, "{:?}", emitted.warnings);
        check_round_trip(&grants, Emit::Az, &options, &emitted).unwrap();
        for tampered in [text.replace("--scope=/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data", &format!("--scope={SUB}")), text.replace("Storage Account Contributor", "Owner")] {
            assert_ne!(&tampered, text);
            let tampered = Emitted { text: tampered, ..Default::default() };
            assert!(check_round_trip(&grants, Emit::Az, &options, &tampered).is_err());
        }
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::Az, &options);
        assert!(
            allowed
                .text
                .contains("# risky, emitted because of --allow-risky: \"Owner\" hands over"),
            "{}",
            allowed.text
        );
        check_round_trip(&grants, Emit::Az, &options, &allowed).unwrap();
    }
}
