//! `grantgap generate --platform aws`: a CloudTrail corpus with the IAM
//! authorization-details history beside it, and its truth.
//!
//! One account. Customer-managed policies grant a service's reads, its writes,
//! or both; bundles grant unrelated services together (what real job
//! policies do); AWS-managed policies grant by wildcard (`s3:Get*`), and an
//! administrator holds `*`. Users hold policies directly and through groups;
//! roles are used through sessions (assumed-role ARNs, session names, issuer
//! with its path). Each principal has a job, a set of policies it should hold,
//! and calls the actions they grant.
//!
//! Denials come from the world, not from a dice roll per request: a principal
//! short of one policy of its job is refused that policy's actions
//! (`missing_permission`) until a dump attaches it, after which requests within
//! the propagation delay are still refused (`propagation_delay`); a policy
//! taken away refuses from then on; a held Deny statement refuses whatever
//! allows (`explicit_deny`); a service control policy refuses everyone
//! (`guardrail`). A client that keeps using a session past its expiry gets
//! `ExpiredToken`, which AWS answers with HTTP 400 like throttling and missing
//! keys: errors, not refusals, and not in the truth.
//!
//! Dumps (`logs/iam-TIME.json`, as `aws iam get-account-authorization-details`
//! writes them) are taken at the start and at every hour a policy is attached
//! or detached, so the history holds every change at its instant.
//! `truth.jsonl` holds each denied request's cause and permission; `fixes.jsonl`
//! each principal's least-excess set of existing policies for what is still
//! missing at the end (fewest policies, then fewest actions granted beyond the
//! need, a wildcard counting as every action of the catalog it matches).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::Summary;
use crate::diagnose::Cause;
use crate::model::{format_millis, Millis};

const ACCOUNT: &str = "210987654321";
const HOUR: Millis = 3_600_000;
/// How long a session's credentials last (the AssumeRole default).
const SESSION: Millis = HOUR;
/// Records per `{"Records": [...]}` file, as S3 delivery cuts them.
const RECORDS_PER_FILE: usize = 5_000;
/// What a wildcard pattern weighs against listed actions when choosing the
/// least-excess fix (the same rule as grantgap's).
const WILDCARD_WEIGHT: usize = 10;
/// The action a service control policy denies in the account.
const SCP_DENIED: &str = "ssm:DeleteParameter";
const SCP_ARN: &str =
    "arn:aws:organizations::999900001111:policy/o-gen0example/service_control_policy/p-nodelete";

/// A service: its event source prefix, reads and writes. Lambda's event
/// names carry API versions, as CloudTrail writes them.
struct Service {
    name: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
}

const SERVICES: &[Service] = &[
    Service {
        name: "s3",
        reads: &["GetObject", "GetObjectTagging", "GetBucketLocation"],
        writes: &["PutObject", "DeleteObject", "PutObjectTagging"],
    },
    Service {
        name: "dynamodb",
        reads: &["GetItem", "Query", "Scan", "DescribeTable"],
        writes: &["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"],
    },
    Service {
        name: "sqs",
        reads: &["ReceiveMessage", "GetQueueAttributes", "GetQueueUrl"],
        writes: &["SendMessage", "DeleteMessage", "PurgeQueue"],
    },
    Service {
        name: "lambda",
        reads: &["GetFunction", "ListFunctions", "GetFunctionConfiguration"],
        writes: &[
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
            "DeleteFunction",
        ],
    },
    Service {
        name: "ec2",
        reads: &["DescribeInstances", "DescribeVolumes", "DescribeSnapshots"],
        writes: &["StartInstances", "StopInstances", "CreateTags"],
    },
    Service {
        name: "kms",
        reads: &["DescribeKey", "Decrypt"],
        writes: &["Encrypt", "GenerateDataKey"],
    },
    Service {
        name: "secretsmanager",
        reads: &["GetSecretValue", "DescribeSecret"],
        writes: &["PutSecretValue", "UpdateSecret"],
    },
    Service {
        name: "ssm",
        reads: &["GetParameter", "GetParameters", "DescribeParameters"],
        writes: &["PutParameter", "DeleteParameter"],
    },
    Service {
        name: "sns",
        reads: &["GetTopicAttributes", "ListTopics"],
        writes: &["Publish", "CreateTopic"],
    },
    Service {
        name: "logs",
        reads: &["DescribeLogGroups", "GetLogEvents", "FilterLogEvents"],
        writes: &["PutLogEvents", "CreateLogStream", "CreateLogGroup"],
    },
];

/// Every action of the catalog, `service:Action`.
fn catalog() -> Vec<String> {
    SERVICES
        .iter()
        .flat_map(|s| {
            s.reads
                .iter()
                .chain(s.writes)
                .map(move |a| format!("{}:{a}", s.name))
        })
        .collect()
}

/// IAM's pattern match: `*` any run, `?` one character, case-insensitive.
fn matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// A managed policy: its ARN, Allow patterns and Deny patterns.
#[derive(Debug, Clone)]
struct Policy {
    arn: String,
    name: String,
    path: &'static str,
    allow: Vec<String>,
    deny: Vec<String>,
    /// An inline policy of one principal: not in the account's managed
    /// policies, and no fix for anyone else.
    inline: bool,
}

impl Policy {
    fn customer(name: &str, path: &'static str, allow: Vec<String>) -> Policy {
        Policy {
            arn: format!("arn:aws:iam::{ACCOUNT}:policy{path}{name}"),
            name: name.into(),
            path,
            allow,
            deny: Vec::new(),
            inline: false,
        }
    }

    fn allows(&self, action: &str) -> bool {
        self.allow.iter().any(|p| matches(p, action))
    }

    fn denies(&self, action: &str) -> bool {
        self.deny.iter().any(|p| matches(p, action))
    }

    /// A whole service or everything: never a fix (as grantgap rules).
    fn broad_pattern(pattern: &str) -> bool {
        pattern.starts_with('*') || pattern.ends_with(":*")
    }

    /// The catalog's actions this policy's fix-worthy patterns grant.
    fn grants_in(&self, catalog: &[String]) -> BTreeSet<String> {
        catalog
            .iter()
            .filter(|a| {
                self.allow
                    .iter()
                    .filter(|p| !Policy::broad_pattern(p))
                    .any(|p| matches(p, a))
            })
            .cloned()
            .collect()
    }

    fn document(&self) -> Value {
        let mut statements =
            vec![json!({"Sid": "Allow", "Effect": "Allow", "Action": self.allow, "Resource": "*"})];
        if !self.deny.is_empty() {
            statements.push(
                json!({"Sid": "Deny", "Effect": "Deny", "Action": self.deny, "Resource": "*"}),
            );
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Role,
}

/// A principal: how CloudTrail and IAM name it, its job and its group.
#[derive(Debug, Clone)]
struct Principal {
    kind: Kind,
    name: String,
    path: &'static str,
    /// Policies (indexes) its job needs.
    job: Vec<usize>,
    /// The group it holds its job through (users), if any.
    group: Option<usize>,
    /// Extra policies held beyond the job (bundles of unrelated services).
    extra: Vec<usize>,
    /// Traffic weight.
    weight: f64,
    /// Keeps using a session past its expiry now and then.
    lazy_refresh: bool,
    /// A job policy it holds as an inline copy instead of attached.
    inline: Option<usize>,
    /// A narrow inline policy of its own (one or two actions of another service).
    adhoc: Option<usize>,
}

impl Principal {
    fn arn(&self) -> String {
        match self.kind {
            Kind::User => format!("arn:aws:iam::{ACCOUNT}:user{}{}", self.path, self.name),
            Kind::Role => format!("arn:aws:iam::{ACCOUNT}:role{}{}", self.path, self.name),
        }
    }
}

/// A change to who holds what, at an hour.
#[derive(Debug, Clone)]
struct Change {
    at: Millis,
    principal: usize,
    policy: usize,
    attach: bool,
}

struct AwsWorld {
    policies: Vec<Policy>,
    principals: Vec<Principal>,
    /// Groups: name and the policies attached to it.
    groups: Vec<(String, Vec<usize>)>,
    /// Per principal, the policies held directly at the start (beyond its group's).
    initial: Vec<BTreeSet<usize>>,
    changes: Vec<Change>,
    catalog: Vec<String>,
}

impl AwsWorld {
    fn new(seed: u64, principals: usize, start: Millis, days: u32) -> AwsWorld {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA11CE);
        let catalog = catalog();
        let mut policies = Vec::new();
        let mut service_policy = BTreeMap::new();
        for s in SERVICES {
            let actions = |list: &[&str]| {
                list.iter()
                    .map(|a| format!("{}:{a}", s.name))
                    .collect::<Vec<_>>()
            };
            let cap = {
                let mut c = s.name.to_string();
                c[..1].make_ascii_uppercase();
                c
            };
            let read = policies.len();
            policies.push(Policy::customer(
                &format!("{cap}Read"),
                "/",
                actions(s.reads),
            ));
            let write = policies.len();
            policies.push(Policy::customer(
                &format!("{cap}Write"),
                "/app/",
                actions(s.writes),
            ));
            let mut all = actions(s.reads);
            all.extend(actions(s.writes));
            let full = policies.len();
            policies.push(Policy::customer(&format!("{cap}Full"), "/", all));
            service_policy.insert(s.name, (read, write, full));
        }
        // AWS-managed read-only policies, by wildcard, as AWS writes them.
        for (name, patterns) in [
            ("AmazonS3ReadOnlyAccess", vec!["s3:Get*", "s3:List*"]),
            (
                "AmazonDynamoDBReadOnlyAccess",
                vec![
                    "dynamodb:Describe*",
                    "dynamodb:Get*",
                    "dynamodb:List*",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                ],
            ),
            ("AmazonEC2ReadOnlyAccess", vec!["ec2:Describe*"]),
            ("AdministratorAccess", vec!["*"]),
        ] {
            policies.push(Policy {
                arn: format!("arn:aws:iam::aws:policy/{name}"),
                name: name.into(),
                path: "/",
                allow: patterns.into_iter().map(String::from).collect(),
                deny: Vec::new(),
                inline: false,
            });
        }
        // Bundles: reads of two services and writes of a third, held by teams
        // for convenience (co-held permissions unrelated to any one call).
        let bundle_start = policies.len();
        for b in 0..8 {
            let pick: Vec<&Service> = SERVICES.choose_multiple(&mut rng, 3).collect();
            let mut allow: Vec<String> = pick[..2]
                .iter()
                .flat_map(|s| s.reads.iter().map(move |a| format!("{}:{a}", s.name)))
                .collect();
            allow.extend(
                pick[2]
                    .writes
                    .iter()
                    .map(|a| format!("{}:{a}", pick[2].name)),
            );
            policies.push(Policy::customer(
                &format!("TeamBundle{b}"),
                "/teams/",
                allow,
            ));
        }
        let bundles: Vec<usize> = (bundle_start..policies.len()).collect();
        let deny = policies.len();
        policies.push(Policy {
            deny: vec![
                "s3:DeleteObject".into(),
                "dynamodb:DeleteItem".into(),
                "ec2:StopInstances".into(),
            ],
            ..Policy::customer(
                "DenyDestructive",
                "/guard/",
                vec!["ec2:DescribeInstances".into()],
            )
        });

        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let mut list = Vec::new();
        let mut initial = Vec::new();
        let mut changes = Vec::new();
        let hours = i64::from(days) * 24;
        let name_parts = [
            "etl", "billing", "search", "ingest", "reports", "deploy", "backup", "audit", "sync",
            "ml",
        ];
        for i in 0..principals {
            let kind = if rng.random_bool(0.6) {
                Kind::Role
            } else {
                Kind::User
            };
            let base = name_parts[i % name_parts.len()];
            // Odd but valid IAM names: dots, plus, at, equals.
            let name = match i % 7 {
                0 => format!("{base}.worker-{i}"),
                1 => format!("{base}+svc{i}"),
                2 => format!("{base}@prod{i}"),
                3 => format!("{base}={i}"),
                _ => format!("{base}-{i}"),
            };
            let sso = kind == Kind::Role && i % 11 == 5;
            let name = if sso {
                format!("AWSReservedSSO_{base}-access_{:016x}", i * 0x9e37_79b9)
            } else {
                name
            };
            let path = match (kind, i % 3) {
                _ if sso => "/aws-reserved/sso.amazonaws.com/",
                (Kind::Role, 0) => "/service-role/",
                (Kind::Role, 1) => "/app/teams/",
                (Kind::User, 0) => "/ci/",
                _ => "/",
            };
            // A job: one to three services, reads, writes or both.
            let mut job = Vec::new();
            let services = rng.random_range(1..=3);
            for s in SERVICES.choose_multiple(&mut rng, services) {
                let (read, write, full) = service_policy[s.name];
                job.push(match rng.random_range(0..3) {
                    0 => read,
                    1 => write,
                    _ => full,
                });
            }
            job.sort_unstable();
            job.dedup();
            let mut extra = Vec::new();
            if rng.random_bool(0.4) {
                extra.push(*bundles.choose(&mut rng).expect("bundles exist"));
            }
            // Some hold an AWS-managed read-only policy too, or the guard.
            if rng.random_bool(0.2) {
                extra.push(bundle_start - 4 + rng.random_range(0..3));
            }
            if rng.random_bool(0.15) {
                extra.push(deny);
            }
            let mut held: BTreeSet<usize> = job.iter().chain(&extra).copied().collect();
            // Users hold their job through a group of its own; some roles
            // through nothing but direct attachment.
            let group = (kind == Kind::User && rng.random_bool(0.5)).then(|| {
                groups.push((format!("{base}-team-{i}"), job.clone()));
                groups.len() - 1
            });
            if group.is_some() {
                for p in &job {
                    held.remove(p);
                }
            }
            // Some hold a job policy as an inline copy, not attached.
            let inline = (group.is_none() && rng.random_bool(0.2)).then(|| {
                let copy = *job.choose(&mut rng).expect("a job has a policy");
                held.remove(&copy);
                copy
            });
            // Some hold a narrow inline policy of their own, and use it.
            let adhoc = rng.random_bool(0.15).then(|| {
                let service = SERVICES.choose(&mut rng).expect("services");
                let actions = service.reads.iter().chain(service.writes);
                let allow = actions
                    .collect::<Vec<_>>()
                    .choose_multiple(&mut rng, 2)
                    .map(|a| format!("{}:{a}", service.name))
                    .collect();
                policies.push(Policy {
                    inline: true,
                    ..Policy::customer(&format!("adhoc-{i}"), "/", allow)
                });
                extra.push(policies.len() - 1);
                policies.len() - 1
            });
            // The gap: some lack one attached policy of their job.
            let attached: Vec<usize> = job.iter().copied().filter(|&p| Some(p) != inline).collect();
            if group.is_none() && !attached.is_empty() && rng.random_bool(0.15) {
                let missing = *attached.choose(&mut rng).expect("not empty");
                held.remove(&missing);
                // Half get it later, at an hour inside the period.
                if rng.random_bool(0.5) && hours > 2 {
                    let at = start + rng.random_range(1..hours) * HOUR;
                    changes.push(Change {
                        at,
                        principal: i,
                        policy: missing,
                        attach: true,
                    });
                }
            } else if group.is_none() && !attached.is_empty() && rng.random_bool(0.08) && hours > 2
            {
                // A policy taken away during the period.
                let lost = *attached.choose(&mut rng).expect("not empty");
                let at = start + rng.random_range(1..hours) * HOUR;
                changes.push(Change {
                    at,
                    principal: i,
                    policy: lost,
                    attach: false,
                });
            }
            list.push(Principal {
                kind,
                name,
                path,
                job,
                group,
                extra,
                weight: 1.0 / (1.0 + i as f64).powf(0.8),
                lazy_refresh: kind == Kind::Role && rng.random_bool(0.1),
                inline,
                adhoc,
            });
            initial.push(held);
        }
        // One administrator: holds everything by `*`.
        let admin = policies
            .iter()
            .position(|p| p.name == "AdministratorAccess")
            .expect("defined");
        list.push(Principal {
            kind: Kind::Role,
            name: "OrganizationAccountAccessRole".into(),
            path: "/",
            job: vec![service_policy["ec2"].2],
            group: None,
            extra: vec![admin],
            weight: 0.05,
            lazy_refresh: false,
            inline: None,
            adhoc: None,
        });
        initial.push(BTreeSet::from([admin]));
        changes.sort_by_key(|c| (c.at, c.principal, c.policy));
        AwsWorld {
            policies,
            principals: list,
            groups,
            initial,
            changes,
            catalog,
        }
    }

    /// The policies a principal holds after every change up to `at` (all
    /// changes when `at` is `Millis::MAX`), its group's included.
    fn held(&self, principal: usize, at: Millis) -> BTreeSet<usize> {
        let mut held = self.initial[principal].clone();
        if let Some(g) = self.principals[principal].group {
            held.extend(&self.groups[g].1);
        }
        held.extend(self.principals[principal].inline);
        held.extend(self.principals[principal].adhoc);
        for c in self
            .changes
            .iter()
            .filter(|c| c.principal == principal && c.at <= at)
        {
            if c.attach {
                held.insert(c.policy);
            } else {
                held.remove(&c.policy);
            }
        }
        held
    }

    /// Authorization details as IAM exports them, as of `at`.
    fn dump(&self, at: Millis) -> Value {
        let attached = |set: &mut dyn Iterator<Item = usize>| -> Vec<Value> {
            set.map(
                |p| json!({"PolicyName": self.policies[p].name, "PolicyArn": self.policies[p].arn}),
            )
            .collect()
        };
        let created = format_millis(at - 400 * 24 * HOUR);
        let mut users = Vec::new();
        let mut roles = Vec::new();
        for (i, p) in self.principals.iter().enumerate() {
            let mut direct = self.initial[i].clone();
            for c in self
                .changes
                .iter()
                .filter(|c| c.principal == i && c.at <= at)
            {
                if c.attach {
                    direct.insert(c.policy);
                } else {
                    direct.remove(&c.policy);
                }
            }
            let id = format!("{:017}", i * 7919 + 13);
            let inline: Vec<Value> = p
                .inline
                .map(|k| (format!("{}-inline", self.policies[k].name), k))
                .into_iter()
                .chain(p.adhoc.map(|k| (self.policies[k].name.clone(), k)))
                .map(|(name, k)| json!({"PolicyName": name, "PolicyDocument": self.policies[k].document()}))
                .collect();
            match p.kind {
                Kind::User => users.push(json!({
                    "Path": p.path, "UserName": p.name, "UserId": format!("AIDA{id}"), "Arn": p.arn(),
                    "CreateDate": created, "UserPolicyList": inline,
                    "GroupList": p.group.map(|g| vec![self.groups[g].0.clone()]).unwrap_or_default(),
                    "AttachedManagedPolicies": attached(&mut direct.into_iter()), "Tags": []})),
                Kind::Role => roles.push(json!({
                    "Path": p.path, "RoleName": p.name, "RoleId": format!("AROA{id}"), "Arn": p.arn(),
                    "CreateDate": created,
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "InstanceProfileList": [], "RolePolicyList": inline,
                    "AttachedManagedPolicies": attached(&mut direct.into_iter()), "Tags": [], "RoleLastUsed": {}})),
            }
        }
        let groups: Vec<Value> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (name, policies))| json!({"Path": "/", "GroupName": name, "GroupId": format!("AGPA{:017}", i),
                "Arn": format!("arn:aws:iam::{ACCOUNT}:group/{name}"), "CreateDate": created,
                "GroupPolicyList": [], "AttachedManagedPolicies": attached(&mut policies.iter().copied())}))
            .collect();
        let policies: Vec<Value> = self
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.inline)
            .map(|(i, p)| {
                // An older, broader version that is no longer the default.
                let mut versions = vec![json!({"Document": p.document(), "VersionId": "v2", "IsDefaultVersion": true, "CreateDate": created})];
                if i % 5 == 0 {
                    versions.push(json!({"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                        "VersionId": "v1", "IsDefaultVersion": false, "CreateDate": created}));
                }
                json!({"PolicyName": p.name, "PolicyId": format!("ANPA{:017}", i), "Arn": p.arn, "Path": p.path,
                    "DefaultVersionId": "v2", "AttachmentCount": 1, "PermissionsBoundaryUsageCount": 0,
                    "IsAttachable": true, "CreateDate": created, "UpdateDate": created, "PolicyVersionList": versions})
            })
            .collect();
        json!({"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies, "IsTruncated": false})
    }

    /// The least-excess existing policies granting every action of `needed`:
    /// fewest policies, then least granted beyond the need (each action one,
    /// each wildcard pattern WILDCARD_WEIGHT: it grants what no catalog
    /// lists), then ARNs.
    fn least_cover(&self, needed: &BTreeSet<String>) -> Vec<String> {
        let grants: Vec<(usize, BTreeSet<String>)> = self
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.inline)
            .map(|(i, p)| (i, p.grants_in(&self.catalog)))
            .filter(|(_, g)| needed.iter().any(|a| g.contains(a)))
            .collect();
        let weight = |k: usize| -> BTreeSet<&String> {
            self.policies[grants[k].0]
                .allow
                .iter()
                .filter(|p| !Policy::broad_pattern(p))
                .collect()
        };
        let mut best: Option<(usize, usize, Vec<String>)> = None;
        let n = grants.len();
        for size in 1..=3.min(n) {
            let mut pick: Vec<usize> = (0..size).collect();
            loop {
                let union: BTreeSet<&String> = pick.iter().flat_map(|&k| &grants[k].1).collect();
                if needed.iter().all(|a| union.contains(a)) {
                    let mut arns: Vec<String> = pick
                        .iter()
                        .map(|&k| self.policies[grants[k].0].arn.clone())
                        .collect();
                    arns.sort();
                    let strings: BTreeSet<&String> = pick.iter().flat_map(|&k| weight(k)).collect();
                    let excess: usize = strings
                        .iter()
                        .map(|s| {
                            if s.contains(['*', '?']) {
                                WILDCARD_WEIGHT
                            } else {
                                1
                            }
                        })
                        .sum();
                    let candidate = (size, excess, arns);
                    if best.as_ref().is_none_or(|b| candidate < *b) {
                        best = Some(candidate);
                    }
                }
                // Next combination.
                let mut k = size;
                while k > 0 && pick[k - 1] == n - size + k - 1 {
                    k -= 1;
                }
                if k == 0 {
                    break;
                }
                pick[k - 1] += 1;
                for j in k..size {
                    pick[j] = pick[j - 1] + 1;
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map(|b| b.2).unwrap_or_default()
    }
}

/// The event name CloudTrail writes for an action: Lambda's carry API versions.
fn event_name(service: &str, action: &str) -> String {
    match (service, action) {
        ("lambda", "ListFunctions") => "ListFunctions20150331".into(),
        ("lambda", _) => format!("{action}20150331v2"),
        _ => action.into(),
    }
}

/// The error code a service answers a refusal with.
fn denial_code(service: &str) -> &'static str {
    match service {
        "s3" | "sqs" => "AccessDenied",
        "ec2" => "Client.UnauthorizedOperation",
        "sns" => "AuthorizationError",
        _ => "AccessDeniedException",
    }
}

/// The resource a call names, as request parameters and a resource ARN.
fn resource(rng: &mut ChaCha8Rng, service: &str, principal: usize) -> (Value, Option<String>) {
    let n = rng.random_range(0..6);
    match service {
        "s3" => {
            let bucket = format!("data-{principal}-eu");
            let key = format!("exports/2026-11-0{n}/part,{n}.csv");
            (
                json!({"bucketName": bucket, "key": key}),
                Some(format!("arn:aws:s3:::{bucket}/{key}")),
            )
        }
        "dynamodb" => {
            let table = format!("orders_{n}");
            (
                json!({"tableName": table}),
                Some(format!(
                    "arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
                )),
            )
        }
        "lambda" => {
            let function = format!("fn-{principal}-{n}");
            (
                json!({"functionName": function}),
                Some(format!(
                    "arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
                )),
            )
        }
        "ec2" => (
            json!({"instancesSet": {"items": [{"instanceId": format!("i-0{principal:07x}{n:08x}")}]}}),
            None,
        ),
        _ => (json!({}), None),
    }
}

pub struct AwsOptions<'a> {
    pub out: &'a Path,
    pub events: u64,
    pub principals: usize,
    pub seed: u64,
    pub days: u32,
    pub start: Millis,
    pub propagation: Millis,
}

/// Writes the corpus: logs/ (CloudTrail files and IAM dumps), truth.jsonl, fixes.jsonl.
pub fn generate(options: &AwsOptions<'_>, progress: impl Fn(u64)) -> Result<Summary> {
    let logs = options.out.join("logs");
    let world = AwsWorld::new(
        options.seed,
        options.principals,
        options.start,
        options.days,
    );
    let mut instants: BTreeSet<Millis> = world.changes.iter().map(|c| c.at).collect();
    instants.insert(options.start - HOUR);
    for at in &instants {
        let name = format_millis(*at).replace(':', "-");
        let path = logs.join(format!("iam-{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&world.dump(*at))?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }

    let span = i64::from(options.days) * 24 * HOUR;
    let weights: Vec<f64> = world.principals.iter().map(|p| p.weight).collect();
    let total_weight: f64 = weights.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let truth_path = options.out.join("truth.jsonl");
    let mut truth = BufWriter::new(std::fs::File::create(&truth_path)?);
    let mut summary = Summary {
        truth: truth_path.clone(),
        events: 0,
        bytes: 0,
        denials: BTreeMap::new(),
        event_files: Vec::new(),
    };
    // Per principal: (action, last denied at) of missing_permission denials.
    let mut denied: BTreeMap<usize, BTreeMap<String, Millis>> = BTreeMap::new();
    let mut records = Vec::with_capacity(RECORDS_PER_FILE);
    let mut file_index = 0;
    for i in 0..options.events {
        let at = options.start + (i as i64 * span) / options.events as i64;
        let mut pick = rng.random_range(0.0..total_weight);
        let who = weights
            .iter()
            .position(|w| {
                pick -= w;
                pick < 0.0
            })
            .unwrap_or(weights.len() - 1);
        let principal = &world.principals[who];
        // What its job (and its extra policies) grant, concretely.
        // Once a missing policy is attached, the job that needed it is rerun.
        let rerun = world
            .changes
            .iter()
            .find(|c| {
                c.principal == who
                    && c.attach
                    && (0..2 * options.propagation).contains(&(at - c.at))
            })
            .filter(|_| rng.random_bool(0.8));
        let policy = if let Some(change) = rerun {
            change.policy
        } else if rng.random_bool(0.85) || principal.extra.is_empty() {
            *principal.job.choose(&mut rng).expect("a job")
        } else {
            *principal.extra.choose(&mut rng).expect("extras")
        };
        let actions = world.policies[policy].grants_in(&world.catalog);
        let actions: Vec<&String> = actions.iter().collect();
        // The administrator's `*` names no action: it calls its job's.
        let action = match actions.choose(&mut rng) {
            Some(a) => (*a).clone(),
            None => {
                let job = world.policies[principal.job[0]].grants_in(&world.catalog);
                job.into_iter().next().expect("a job grants an action")
            }
        };
        let (service, name) = action.split_once(':').expect("service:Action");
        let held_now = world.held(who, at);
        let held_synced = world.held(who, at - options.propagation);
        let allowed =
            |held: &BTreeSet<usize>| held.iter().any(|&p| world.policies[p].allows(&action));
        let deny_held = held_now
            .iter()
            .find(|&&p| world.policies[p].denies(&action));
        // A role's client refreshes its session hourly; a lazy one now and
        // then keeps the expired one.
        let session_start = at - at.rem_euclid(SESSION);
        let expired = principal.lazy_refresh && rng.random_bool(0.05);
        let issued = if expired {
            session_start - SESSION
        } else {
            session_start
        };
        let session = format!("botocore-session-{}", issued / 1000);
        // Messages name the caller: a role's session, not the role.
        let caller = match principal.kind {
            Kind::User => principal.arn(),
            Kind::Role => format!(
                "arn:aws:sts::{ACCOUNT}:assumed-role/{}/{session}",
                principal.name
            ),
        };
        // Errors that are no refusal: an expired session (HTTP 400, the
        // credential, not a permission), throttling, a missing key.
        let error = if expired {
            Some((
                "ExpiredToken",
                "The security token included in the request is expired",
            ))
        } else if rng.random_bool(0.004) {
            Some(("ThrottlingException", "Rate exceeded"))
        } else if name == "GetObject" && rng.random_bool(0.01) {
            Some(("NoSuchKey", "The specified key does not exist."))
        } else {
            None
        };
        let (cause, message) = if error.is_some() {
            (None, String::new())
        } else if action == SCP_DENIED {
            (
                Some(Cause::Guardrail),
                format!("User: {caller} is not authorized to perform: {action} with an explicit deny in a service control policy: {SCP_ARN}"),
            )
        } else if let Some(&p) = deny_held {
            (
                Some(Cause::ExplicitDeny),
                format!("User: {caller} is not authorized to perform: {action} with an explicit deny in an identity-based policy: {}", world.policies[p].arn),
            )
        } else if allowed(&held_synced) {
            (None, String::new())
        } else {
            let cause = if allowed(&held_now) {
                Cause::PropagationDelay
            } else {
                Cause::MissingPermission
            };
            if cause == Cause::MissingPermission {
                denied.entry(who).or_default().insert(action.clone(), at);
            }
            (
                Some(cause),
                format!("User: {caller} is not authorized to perform: {action} because no identity-based policy allows the {action} action"),
            )
        };
        let event_id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.random::<u32>(),
            (i >> 48) & 0xffff,
            (i >> 36) & 0xfff,
            (i >> 24) & 0xfff,
            i & 0xffff_ffff_ffff
        );
        let (parameters, arn) = resource(&mut rng, service, who);
        let identity = match principal.kind {
            Kind::User => {
                json!({"type": "IAMUser", "principalId": format!("AIDA{:017}", who * 7919 + 13),
                "arn": principal.arn(), "accountId": ACCOUNT, "accessKeyId": format!("AKIA{:016}", who), "userName": principal.name})
            }
            Kind::Role => {
                json!({"type": "AssumedRole", "principalId": format!("AROA{:017}:{session}", who * 7919 + 13),
                    "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/{session}", principal.name),
                    "accountId": ACCOUNT, "accessKeyId": format!("ASIA{:016}", who),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{:017}", who * 7919 + 13),
                        "arn": principal.arn(), "accountId": ACCOUNT, "userName": principal.name},
                        "attributes": {"creationDate": format_millis(issued), "mfaAuthenticated": "false"}}})
            }
        };
        let mut record = json!({"eventVersion": "1.09", "userIdentity": identity, "eventTime": format_millis(at),
            "eventSource": format!("{service}.amazonaws.com"), "eventName": event_name(service, name),
            "awsRegion": "us-east-1", "sourceIPAddress": format!("10.{}.{}.{}", who % 250, i % 250, (i / 250) % 250),
            "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5", "requestParameters": parameters,
            "responseElements": null, "requestID": format!("REQ{i:013}"), "eventID": event_id,
            "readOnly": SERVICES.iter().any(|s| s.name == service && s.reads.contains(&name)),
            "eventType": "AwsApiCall", "managementEvent": service != "s3", "recipientAccountId": ACCOUNT,
            "eventCategory": if service == "s3" { "Data" } else { "Management" }});
        if let Some(arn) = arn {
            record["resources"] = json!([{"accountId": ACCOUNT, "ARN": arn}]);
        }
        if let Some((code, message)) = error {
            record["errorCode"] = code.into();
            record["errorMessage"] = message.into();
        }
        if let Some(cause) = cause {
            record["errorCode"] = denial_code(service).into();
            // S3 logs every refusal as a bare "Access Denied": the dumps decide.
            record["errorMessage"] = if service == "s3" {
                "Access Denied".into()
            } else {
                message.into()
            };
            let missing: Vec<&str> = match cause {
                Cause::MissingPermission | Cause::PropagationDelay => vec![&action],
                _ => Vec::new(),
            };
            serde_json::to_writer(
                &mut truth,
                &json!({"request_id": event_id, "principal": principal.arn(), "cause": cause.name(), "missing": missing}),
            )?;
            truth.write_all(b"\n")?;
            *summary.denials.entry(cause).or_default() += 1;
        }
        records.push(record);
        summary.events += 1;
        if records.len() == RECORDS_PER_FILE || i + 1 == options.events {
            let path = logs.join(format!(
                "{ACCOUNT}_CloudTrail_us-east-1_{file_index:05}.json.gz"
            ));
            write_records(&path, &records)?;
            summary.bytes += std::fs::metadata(&path)?.len();
            summary.event_files.push(path);
            progress(records.len() as u64);
            records.clear();
            file_index += 1;
        }
    }
    truth.flush()?;

    // What each principal still lacks at the end, and the policies that grant it.
    let fixes_path = options.out.join("fixes.jsonl");
    let mut fixes = BufWriter::new(std::fs::File::create(&fixes_path)?);
    for (who, actions) in &denied {
        let held = world.held(*who, Millis::MAX);
        let needed: BTreeSet<String> = actions
            .keys()
            .filter(|a| !held.iter().any(|&p| world.policies[p].allows(a)))
            .cloned()
            .collect();
        if needed.is_empty() {
            continue;
        }
        serde_json::to_writer(
            &mut fixes,
            &json!({"principal": world.principals[*who].arn(), "grant_roles": world.least_cover(&needed)}),
        )?;
        fixes.write_all(b"\n")?;
    }
    fixes.flush()?;
    Ok(summary)
}

fn write_records(path: &Path, records: &[Value]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    serde_json::to_writer(&mut gz, &json!({"Records": records}))?;
    gz.finish()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_patterns() {
        assert!(matches("s3:Get*", "s3:GetObject"));
        assert!(matches("*", "kms:Decrypt"));
        assert!(matches("dynamodb:?etItem", "dynamodb:GetItem"));
        assert!(!matches("s3:Get*", "s3:PutObject"));
    }

    #[test]
    fn the_least_cover_prefers_the_narrow_policy() {
        let world = AwsWorld::new(1, 20, 0, 1);
        let cover = world.least_cover(&BTreeSet::from(["s3:GetObject".to_string()]));
        assert_eq!(cover, [format!("arn:aws:iam::{ACCOUNT}:policy/S3Read")]);
        let both = world.least_cover(&BTreeSet::from([
            "s3:GetObject".to_string(),
            "s3:PutObject".to_string(),
        ]));
        assert_eq!(both, [format!("arn:aws:iam::{ACCOUNT}:policy/S3Full")]);
    }
}
