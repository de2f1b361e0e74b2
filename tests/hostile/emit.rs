//! `--emit` writes what someone with the right to grant anything will apply:
//! log text must not become YAML structure, two principals must not share an
//! object, and grants that reach everyone or escalate are refused unless
//! `--allow-risky`. Each test parses the output back as kubectl (or IAM) would
//! and checks the objects themselves.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{grantgap, stdout_of};

/// A Kubernetes audit event: `user` denied `group/resource[/sub]:verb` in `namespace`.
fn denied(user: &str, permission: &str, namespace: &str) -> Value {
    static AUDIT_ID: AtomicUsize = AtomicUsize::new(0);
    let (target, verb) = permission.rsplit_once(':').unwrap();
    let (group, resource) = target.split_once('/').unwrap();
    let mut object = json!({"namespace": namespace});
    match resource.split_once('/') {
        Some((resource, sub)) => {
            object["resource"] = resource.into();
            object["subresource"] = sub.into();
        }
        None => object["resource"] = resource.into(),
    }
    if group != "core" {
        object["apiGroup"] = group.into();
    }
    json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
        "auditID": format!("a-{}", AUDIT_ID.fetch_add(1, Ordering::Relaxed)),
        "verb": verb, "user": {"username": user}, "objectRef": object,
        "responseStatus": {"code": 403}, "stageTimestamp": "2026-11-20T01:00:00Z"})
}

/// A generic gateway event: `principal` denied, the response naming `scope` as required.
fn denied_scope(principal: &str, scope: &str) -> Value {
    json!({"ts": "2026-11-20T01:00:00Z", "principal": principal, "method": "GET",
        "path": "/api/v1/exports", "status": 403, "headers": {"x-required-scope": scope}})
}

/// Runs `grantgap report ARGS LOG` on these events; (stdout, stderr).
fn run(events: &[Value], args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    std::fs::write(&log, lines.join("\n")).unwrap();
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.push(log.to_str().unwrap());
    let out = grantgap(&all);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "grantgap {all:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// The objects of a YAML stream, as `kubectl apply` takes them (empty documents skipped).
fn objects(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

/// (kind, name, namespace) of every subject bound, sorted.
fn subjects(objects: &[Value]) -> Vec<(String, String, Option<String>)> {
    let mut found: Vec<_> = objects
        .iter()
        .filter_map(|o| o["subjects"].as_array())
        .flatten()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["name"].as_str().unwrap().to_string(),
                s["namespace"].as_str().map(String::from),
            )
        })
        .collect();
    found.sort();
    found
}

/// Every `group/resource:verb` (or `nonresource:URL:verb`) the roles grant, sorted.
fn granted(objects: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in objects
        .iter()
        .filter_map(|o| o["rules"].as_array())
        .flatten()
    {
        for verb in rule["verbs"].as_array().unwrap() {
            let verb = verb.as_str().unwrap();
            match rule["resources"].as_array() {
                Some(resources) => {
                    let group = rule["apiGroups"][0].as_str().unwrap();
                    let group = if group.is_empty() { "core" } else { group };
                    for resource in resources {
                        found.push(format!("{group}/{}:{verb}", resource.as_str().unwrap()));
                    }
                }
                None => {
                    for url in rule["nonResourceURLs"].as_array().unwrap() {
                        found.push(format!("nonresource:{}:{verb}", url.as_str().unwrap()));
                    }
                }
            }
        }
    }
    found.sort();
    found
}

fn kinds(objects: &[Value]) -> Vec<&str> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect()
}

fn owned(items: &[(&str, &str, Option<&str>)]) -> Vec<(String, String, Option<String>)> {
    items
        .iter()
        .map(|(kind, name, ns)| (kind.to_string(), name.to_string(), ns.map(String::from)))
        .collect()
}

/// The stderr lines that say `--emit` left something out.
fn left_out(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("grantgap: --emit: "))
        .collect()
}

#[test]
fn yaml_injection_in_username_and_namespace_cannot_add_subjects_or_documents() {
    let group_injection = "bob\"\n  - kind: Group\n    apiGroup: rbac.authorization.k8s.io\n    name: \"system:authenticated";
    let document_injection = "prod\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: pwn\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: User\n  name: alice";
    // Valid as a user name, and would break YAML assembled with format!.
    let quoted = "eve\" #: &x *y";
    let deployer = "system:serviceaccount:ci:deployer";
    let events = [
        denied(group_injection, "core/pods:list", "prod"),
        denied("alice", "core/pods:list", document_injection),
        denied(quoted, "core/pods:list", "prod"),
        denied(deployer, "core/pods:list", "prod"),
    ];
    let (yaml, stderr) = run(&events, &["--emit", "k8s-rbac"]);
    let objects = objects(&yaml);
    assert_eq!(
        kinds(&objects),
        ["Role", "RoleBinding", "Role", "RoleBinding"],
        "{yaml}"
    );
    assert_eq!(
        subjects(&objects),
        owned(&[
            ("ServiceAccount", "deployer", Some("ci")),
            ("User", quoted, None)
        ])
    );
    assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "prod"));
    assert!(objects
        .iter()
        .all(|o| o["metadata"]["name"] != "pwn" && o["roleRef"]["name"] != "cluster-admin"));
    assert_eq!(granted(&objects), ["core/pods:list", "core/pods:list"]);
    // Both attempts are named on stderr, escaped onto one line.
    let skipped = left_out(&stderr);
    assert_eq!(skipped.len(), 2, "{stderr}");
    assert!(skipped.iter().any(|l| l.starts_with(
        r#"skipped principal "bob\"\n  - kind: Group\n    apiGroup: rbac.authorization.k8s.io"#
    )));
    assert!(skipped.iter().any(|l| l
        .starts_with(r#"skipped "core/pods:list" for "alice" in namespace "prod\n---\n"#)
        && l.contains("DNS-1123 label")));
}

#[test]
fn colliding_principal_names_get_distinct_objects() {
    let principals = ["ci-deployer", "ci_deployer", "CI-Deployer", "ci.deployer"];
    let events: Vec<Value> = principals
        .iter()
        .map(|p| denied(p, "core/configmaps:get", "prod"))
        .collect();
    let (yaml, _) = run(&events, &["--emit", "k8s-rbac"]);
    let objects = objects(&yaml);
    assert_eq!(objects.len(), 8, "{yaml}");
    let mut names: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Role")
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{names:?}");
    // Each binding refers to its own role and binds its own principal, one each.
    let mut bound = Vec::new();
    for binding in objects.iter().filter(|o| o["kind"] == "RoleBinding") {
        let name = &binding["metadata"]["name"];
        assert_eq!(&binding["roleRef"]["name"], name);
        bound.push(binding["subjects"][0]["name"].as_str().unwrap());
        if binding["subjects"][0]["name"] == "ci-deployer" {
            assert_eq!(
                name, "grantgap-ci-deployer",
                "a valid name is kept as it is"
            );
        }
    }
    bound.sort();
    let mut want = principals.to_vec();
    want.sort();
    assert_eq!(bound, want);
}

#[test]
fn risky_grants_are_refused_unless_allowed() {
    let deployer = "system:serviceaccount:ci:deployer";
    let events = [
        denied(deployer, "core/configmaps:get", "prod"),
        denied(deployer, "core/secrets:get", "prod"),
        denied(deployer, "apps/deployments:*", "prod"),
        denied(deployer, "core/pods/exec:create", "prod"),
    ];
    let (yaml, stderr) = run(&events, &["--emit", "k8s-rbac"]);
    assert_eq!(granted(&objects(&yaml)), ["core/configmaps:get"], "{yaml}");
    let refused = left_out(&stderr);
    assert_eq!(refused.len(), 3, "{stderr}");
    for permission in [
        "core/secrets:get",
        "apps/deployments:*",
        "core/pods/exec:create",
    ] {
        assert!(
            refused
                .iter()
                .any(|l| l.starts_with(&format!("refused \"{permission}\""))
                    && l.ends_with("pass --allow-risky")),
            "{permission}: {stderr}"
        );
        assert!(
            yaml.contains(&format!("\n# refused \"{permission}\"")),
            "{yaml}"
        );
    }

    let (yaml, stderr) = run(&events, &["--emit", "k8s-rbac", "--allow-risky"]);
    assert_eq!(
        granted(&objects(&yaml)),
        [
            "apps/deployments:*",
            "core/configmaps:get",
            "core/pods/exec:create",
            "core/secrets:get"
        ]
    );
    assert!(left_out(&stderr).is_empty(), "{stderr}");
    assert!(yaml.contains(
        "# risky, emitted because of --allow-risky: \"core/secrets:get\" reads every Secret"
    ));

    // Finding 18: a response header is enough to ask for everything.
    let events = [denied_scope("svc-etl", "*:*")];
    let (json, stderr) = run(&events, &["--emit", "iam-policy"]);
    let policies: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(policies, json!({}));
    assert_eq!(
        left_out(&stderr),
        [
            r#"refused "*:*" for "svc-etl": it is every action of every service; if that is intended, review it and pass --allow-risky"#
        ]
    );
    let (json, _) = run(&events, &["--emit", "iam-policy", "--allow-risky"]);
    let policies: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        policies["svc-etl"]["Statement"],
        json!([{"Sid": "RiskyGrantAllowedByFlag1", "Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]}])
    );

    let out = grantgap(&["report", "--allow-risky", "tests/fixtures/k8s_audit.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "--allow-risky needs --emit");
}

#[test]
fn system_and_anonymous_principals_get_no_grant() {
    // An unauthenticated request is diagnosed as such: no permission is
    // proposed, so there is nothing to refuse or to allow.
    let unauthenticated: Vec<Value> = ["system:anonymous", "system:unauthenticated"]
        .iter()
        .map(|p| denied(p, "core/configmaps:get", "prod"))
        .collect();
    for flags in [
        &["--emit", "k8s-rbac"][..],
        &["--emit", "k8s-rbac", "--allow-risky"],
    ] {
        let (yaml, stderr) = run(&unauthenticated, flags);
        assert!(objects(&yaml).is_empty(), "{yaml}");
        assert!(left_out(&stderr).is_empty(), "{stderr}");
    }

    // Impersonating them, or naming a system identity, is refused by the emitter.
    let mut impersonated = denied("ops-admin", "core/configmaps:get", "prod");
    impersonated["impersonatedUser"] = json!({"username": "system:anonymous"});
    let principals = [
        "system:anonymous",
        "system:authenticated",
        "system:node:n1",
        "system:kube-scheduler",
        "system:serviceaccounts:ci",
    ];
    let events: Vec<Value> = principals[1..]
        .iter()
        .map(|p| denied(p, "core/configmaps:get", "prod"))
        .chain([impersonated])
        .collect();
    let (yaml, stderr) = run(&events, &["--emit", "k8s-rbac"]);
    assert!(objects(&yaml).is_empty(), "{yaml}");
    let refused = left_out(&stderr);
    assert_eq!(refused.len(), principals.len(), "{stderr}");
    for p in principals {
        assert!(
            refused.iter().any(|l| l.starts_with(&format!(
                "refused \"core/configmaps:get\" for \"{p}\": the principal "
            ))),
            "{p}: {stderr}"
        );
    }

    // Allowed, each is bound as what it is: groups as Group.
    let (yaml, _) = run(&events, &["--emit", "k8s-rbac", "--allow-risky"]);
    assert_eq!(
        subjects(&objects(&yaml)),
        owned(&[
            ("Group", "system:authenticated", None),
            ("Group", "system:serviceaccounts:ci", None),
            ("User", "system:anonymous", None),
            ("User", "system:kube-scheduler", None),
            ("User", "system:node:n1", None),
        ])
    );
    assert!(yaml.contains(
        "# risky, emitted because of --allow-risky: \"system:authenticated\" is the group of every authenticated user"
    ));

    let events = [
        denied_scope("anonymous", "s3:GetObject"),
        denied_scope("*", "s3:GetObject"),
    ];
    let (json, stderr) = run(&events, &["--emit", "iam-policy"]);
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), json!({}));
    assert_eq!(left_out(&stderr).len(), 2, "{stderr}");
}

#[test]
fn emit_for_one_principal() {
    let deployer = "system:serviceaccount:ci:deployer";
    let events = [
        denied(deployer, "core/configmaps:get", "prod"),
        denied(
            "system:serviceaccount:ci:builder",
            "core/configmaps:get",
            "prod",
        ),
    ];
    let (yaml, stderr) = run(
        &events,
        &[
            "--emit",
            "k8s-rbac",
            "--principal",
            deployer,
            "--principal",
            "deployer",
        ],
    );
    assert_eq!(
        subjects(&objects(&yaml)),
        owned(&[("ServiceAccount", "deployer", Some("ci"))])
    );
    assert_eq!(
        left_out(&stderr),
        [
            r#"no fix for --principal "deployer": it has no missing_permission or field_level finding; check the name against the report"#
        ]
    );

    // Without --emit, --principal narrows the report itself.
    let report: Value = serde_json::from_str(&stdout_of(&[
        "report",
        "--principal",
        "system:serviceaccount:*",
        "--format",
        "json",
        "tests/fixtures/k8s_audit.jsonl",
    ]))
    .unwrap();
    let principals: Vec<&str> = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["principal"].as_str().unwrap())
        .collect();
    assert!(!principals.is_empty());
    assert!(
        principals
            .iter()
            .all(|p| p.starts_with("system:serviceaccount:")),
        "{principals:?}"
    );
    let none: Value = serde_json::from_str(&stdout_of(&[
        "report",
        "--principal",
        "nobody*",
        "--format",
        "json",
        "tests/fixtures/k8s_audit.jsonl",
    ]))
    .unwrap();
    assert!(none["principals"].as_array().unwrap().is_empty());
    assert_eq!(
        none["requests"]["denied_filtered_out"],
        report["requests"]["denied"]
    );
    // The bundled fixture, narrowed to a principal it does not hold, emits nothing.
    let yaml = stdout_of(&[
        "report",
        "--emit",
        "k8s-rbac",
        "--principal",
        "bob",
        "tests/fixtures/k8s_audit.jsonl",
    ]);
    assert!(objects(&yaml).is_empty(), "{yaml}");
}

/// Every string in a value, keys included.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.as_str()).chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn redacted_values_are_never_emitted() {
    let deployer = "system:serviceaccount:ci:deployer";
    let events = [
        // An AWS access key id where the resource is: the permission is redacted at ingest.
        denied(deployer, "core/AKIAIOSFODNN7EXAMPLE:list", "prod"),
        // A user named like a redaction mark.
        denied("<redacted:0badc0de>", "core/configmaps:get", "prod"),
        denied(deployer, "core/configmaps:get", "prod"),
    ];
    let (yaml, stderr) = run(&events, &["--emit", "k8s-rbac"]);
    let objects = objects(&yaml);
    assert_eq!(granted(&objects), ["core/configmaps:get"], "{yaml}");
    assert!(objects
        .iter()
        .flat_map(strings)
        .all(|s| !s.contains("redacted") && !s.contains("AKIA")));
    let skipped = left_out(&stderr);
    assert_eq!(skipped.len(), 2, "{stderr}");
    assert!(skipped.iter().all(|l| l.contains("redacted at ingest")));

    let mut on_a_secret_object = denied_scope("svc-etl", "s3:GetObject");
    on_a_secret_object["object_id"] = "arn:aws:s3:::exports/AKIAIOSFODNN7EXAMPLE".into();
    let events = [
        // A JWT as the required scope.
        denied_scope(
            "svc-etl",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        ),
        on_a_secret_object,
        denied_scope("svc-etl", "s3:ListBucket"),
    ];
    let (json, stderr) = run(&events, &["--emit", "iam-policy"]);
    let policies: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        policies["svc-etl"]["Statement"],
        json!([{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["*"]}]),
        "never s3:GetObject on \"*\" in place of the object it was denied on"
    );
    assert!(strings(&policies).iter().all(|s| !s.contains("redacted")));
    assert!(
        left_out(&stderr)
            .iter()
            .filter(|l| l.contains("redacted at ingest"))
            .count()
            >= 2,
        "{stderr}"
    );
}
