//! Complexity: sizes a log or a policy catalog can reach that once made a run
//! take minutes: every denied principal weighed against every peer of its
//! endpoint, policy patterns that backtrack, and every rule tried for every
//! endpoint. Each test runs the binary at the size that was slow and checks
//! its conclusions; how fast it is, benches/hot_paths.rs measures.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::stdout_of;

/// 2026-11-16T00:00:00Z.
const T0: i64 = 1_794_787_200_000;

/// Writes one JSON document a line.
/// A role `Reader` (m.read) held by `svc` from `T0`.
fn one_reader(dir: &Path) {
    write_lines(
        dir,
        "roles.jsonl",
        [r#"{"role": "Reader", "permissions": ["m.read"]}"#.into()],
    );
    write_lines(
        dir,
        "role_snapshots.jsonl",
        [format!(
            r#"{{"snapshot_at": {T0}, "principal": "svc", "role": "Reader"}}"#
        )],
    );
}

fn write_lines(dir: &Path, name: &str, lines: impl IntoIterator<Item = String>) {
    let text: String = lines.into_iter().map(|line| line + "\n").collect();
    std::fs::write(dir.join(name), text).unwrap();
}

/// `grantgap report DIR --format json`, parsed.
fn report(dir: &Path) -> Value {
    let out = dir.join("report.json");
    stdout_of(&[
        "report",
        dir.to_str().unwrap(),
        "--learn-templates",
        "0",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// Each finding's (cause, permission, required_by) by endpoint, for one principal.
fn findings_by_endpoint(
    report: &Value,
    principal: &str,
) -> BTreeMap<String, (String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let account = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == principal)
        .unwrap_or_else(|| panic!("{principal} has no finding"));
    let mut by_endpoint = BTreeMap::new();
    for finding in account["findings"].as_array().unwrap() {
        for endpoint in finding["endpoints"].as_array().unwrap() {
            let conclusion = (
                text(&finding["cause"]),
                text(&finding["permission"]),
                text(&finding["required_by"]),
            );
            by_endpoint.insert(text(endpoint), conclusion);
        }
    }
    by_endpoint
}

/// 25,000 principals denied and 25,000 succeeding on one endpoint: each denied
/// one lacks what all 25,000 peers hold. One blocked peer without a snapshot, on
/// a second endpoint, leaves nothing to infer there. (Was 67 s.)
#[test]
fn twenty_five_thousand_peers_on_one_endpoint() {
    const EACH: usize = 25_000;
    let dir = tempfile::tempdir().unwrap();
    write_lines(
        dir.path(),
        "roles.jsonl",
        [
            r#"{"role": "Reader", "permissions": ["m.read"]}"#.to_string(),
            r#"{"role": "Calibrator", "permissions": ["m.read", "m.calibrate"]}"#.to_string(),
            r#"{"role": "Extra0", "permissions": ["x0"]}"#.to_string(),
            r#"{"role": "Extra1", "permissions": ["x1"]}"#.to_string(),
        ],
    );
    let snapshot = |principal: &str, role: &str| {
        format!(r#"{{"snapshot_at": {T0}, "principal": "{principal}", "role": "{role}"}}"#)
    };
    let request = |ts: usize, principal: &str, path: &str, status: u16| {
        let ts = T0 + 1_000 + ts as i64;
        format!(
            r#"{{"ts": {ts}, "principal": "{principal}", "method": "POST", "path": "{path}", "status": {status}}}"#
        )
    };
    let mut snapshots = Vec::new();
    let mut events = Vec::new();
    for i in 0..EACH {
        snapshots.push(snapshot(&format!("d{i}"), "Reader"));
        snapshots.push(snapshot(&format!("a{i}"), "Calibrator"));
        snapshots.push(snapshot(&format!("a{i}"), &format!("Extra{}", i % 2)));
        events.push(request(2 * i, &format!("d{i}"), "/api/calibrate", 403));
        events.push(request(2 * i + 1, &format!("a{i}"), "/api/calibrate", 200));
    }
    for i in 0..3 {
        events.push(request(2 * EACH + i, &format!("a{i}"), "/api/zero", 200));
    }
    events.push(request(2 * EACH + 3, "unknown-peer", "/api/zero", 200));
    events.push(request(2 * EACH + 4, "d0", "/api/zero", 403));
    write_lines(dir.path(), "role_snapshots.jsonl", snapshots);
    write_lines(dir.path(), "events.jsonl", events);

    let report = report(dir.path());
    let principals = report["principals"].as_array().unwrap();
    assert_eq!(principals.len(), EACH);
    for account in principals {
        let finding = account["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["endpoints"][0] == "POST /api/calibrate")
            .unwrap();
        assert_eq!(
            (
                &finding["cause"],
                &finding["permission"],
                &finding["required_by"],
                &finding["evidence"]["peers"],
            ),
            (
                &Value::from("missing_permission"),
                &Value::from("m.calibrate"),
                &Value::from("peers"),
                &Value::from(EACH),
            ),
            "{}",
            account["principal"]
        );
    }
    assert_eq!(
        findings_by_endpoint(&report, "d0")["POST /api/zero"],
        ("unknown".into(), "-".into(), "-".into())
    );
}

/// `/**/**/**/**/**/**/**/**/zzz` against paths of 100 segments, one that ends
/// in `zzz` and one that does not. (Was over 100 s.)
#[test]
fn eight_double_stars_against_a_hundred_segments() {
    let dir = tempfile::tempdir().unwrap();
    write_lines(
        dir.path(),
        "policies.jsonl",
        [
            r#"{"method": "*", "path": "/**/**/**/**/**/**/**/**/zzz", "all_of": ["z.read"]}"#
                .into(),
        ],
    );
    one_reader(dir.path());
    let long = "/s".repeat(100);
    let ends_in_zzz = format!("{}/zzz", "/s".repeat(99));
    write_lines(
        dir.path(),
        "events.jsonl",
        [&long, &ends_in_zzz].into_iter().enumerate().map(|(i, path)| {
            let ts = T0 + 1_000 + i as i64;
            format!(r#"{{"ts": {ts}, "principal": "svc", "method": "GET", "path": "{path}", "status": 403}}"#)
        }),
    );

    let report = report(dir.path());
    let found = findings_by_endpoint(&report, "svc");
    assert_eq!(
        found[&format!("GET {ends_in_zzz}")],
        (
            "missing_permission".into(),
            "z.read".into(),
            "policy_catalog".into()
        )
    );
    assert_eq!(found[&format!("GET {long}")].0, "unknown");
}

/// `n` in the letters a-z: a path segment without digits, so no id.
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            out.reverse();
            return String::from_utf8(out).unwrap();
        }
    }
}

/// 100,000 `**` rules, and denials on 2,000 endpoints they cover: each takes
/// its most specific rule, the first listed of equals. (Was 64 s.)
#[test]
fn a_hundred_thousand_rules_for_two_thousand_endpoints() {
    const RULES: usize = 100_000;
    const ENDPOINTS: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let rule = |method: &str, path: &str, permission: &str| {
        format!(r#"{{"method": "{method}", "path": "{path}", "all_of": ["{permission}"]}}"#)
    };
    let mut policies = vec![rule("*", "/api/**", "api.any")];
    policies.extend((0..RULES).map(|i| {
        rule(
            "GET",
            &format!("/api/r{}/**", letters(i)),
            &format!("r{i}.read"),
        )
    }));
    // As specific as rule r50 and listed after it: never chosen.
    policies.push(rule(
        "GET",
        &format!("/api/r{}/**", letters(50)),
        "r50.again",
    ));
    policies.push(rule("*", "/**/items/{id}", "items.read"));
    write_lines(dir.path(), "policies.jsonl", policies);
    one_reader(dir.path());
    let mut expected: BTreeMap<String, String> = (0..ENDPOINTS)
        .map(|j| {
            let i = j * (RULES / ENDPOINTS);
            (
                format!("GET /api/r{}/items", letters(i)),
                format!("r{i}.read"),
            )
        })
        .collect();
    expected.insert("GET /api/elsewhere".into(), "api.any".into());
    expected.insert("DELETE /api/ra/items".into(), "api.any".into());
    expected.insert("GET /api/ra/items/{id}".into(), "r0.read".into());
    expected.insert("GET /v2/items/{id}".into(), "items.read".into());
    write_lines(
        dir.path(),
        "events.jsonl",
        expected.keys().enumerate().map(|(n, endpoint)| {
            let (method, path) = endpoint.split_once(' ').unwrap();
            let path = path.replace("{id}", "17");
            let ts = T0 + 1_000 + n as i64;
            format!(r#"{{"ts": {ts}, "principal": "svc", "method": "{method}", "path": "{path}", "status": 403}}"#)
        }),
    );

    let report = report(dir.path());
    let found: BTreeMap<String, String> = findings_by_endpoint(&report, "svc")
        .into_iter()
        .map(|(endpoint, (cause, permission, required_by))| {
            assert_eq!(
                (cause.as_str(), required_by.as_str()),
                ("missing_permission", "policy_catalog")
            );
            (endpoint, permission)
        })
        .collect();
    assert_eq!(found, expected);
}
