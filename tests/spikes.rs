//! End-to-end: a revocation at 02:00 makes a burst of 403s; `grantgap spikes`
//! finds it and names the revoked binding.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

/// 2026-11-20T00:00:00Z in epoch seconds.
const MIDNIGHT: i64 = 1_795_132_800;

/// What happens at 02:00.
#[derive(Clone, Copy)]
enum Revocation {
    /// The batch account's binding is gone from the snapshot taken at 02:00.
    Binding,
    /// The binding stays, but the role's definition dated 02:00 drops the permission.
    RoleDefinition,
}

/// Six hours of traffic from a batch account and a few noisy neighbours; access is
/// revoked at 02:00.
fn corpus(dir: &std::path::Path, revocation: Revocation) {
    let mut events = String::new();
    for minute in 0..360i64 {
        let ts = MIDNIGHT + minute * 60;
        for i in 0..4 {
            let status = if minute >= 120 { 403 } else { 200 };
            writeln!(
                events,
                r#"{{"ts": {}, "principal": "svc-nightly-export", "method": "GET", "path": "/api/v1/orders/{}", "status": {status}, "request_id": "exp-{minute}-{i}"}}"#,
                ts + i * 10,
                10_000 + minute * 4 + i
            )
            .unwrap();
        }
        // Background noise: a steady trickle of denials elsewhere.
        if minute % 7 == 0 {
            writeln!(
                events,
                r#"{{"ts": {ts}, "principal": "svc-noisy", "method": "DELETE", "path": "/api/v1/orders/{minute}", "status": 403}}"#
            )
            .unwrap();
        }
        writeln!(
            events,
            r#"{{"ts": {}, "principal": "svc-reports", "method": "GET", "path": "/api/v1/orders/{}", "status": 200}}"#,
            ts + 30,
            minute
        )
        .unwrap();
    }
    std::fs::write(dir.join("events.jsonl"), events).unwrap();
    let snapshot = |at: i64, role: &str| {
        format!(r#"{{"snapshot_at": {at}, "principal": "svc-nightly-export", "role": "{role}"}}"#)
    };
    let (at_two, roles) = match revocation {
        Revocation::Binding => ("", r#"{"role": "Order Reader", "permissions": ["orders.read"]}"#.to_string()),
        Revocation::RoleDefinition => (
            "Order Reader",
            format!(
                "{}\n{{\"role\": \"Order Reader\", \"permissions\": [\"orders.export\"], \"snapshot_at\": {}}}",
                r#"{"role": "Order Reader", "permissions": ["orders.read", "orders.export"]}"#,
                MIDNIGHT + 7200
            ),
        ),
    };
    let snapshots = [
        snapshot(MIDNIGHT - 3600, "Order Reader"),
        snapshot(MIDNIGHT + 3600, "Order Reader"),
        snapshot(MIDNIGHT + 7200, at_two),
        format!(
            r#"{{"snapshot_at": {}, "principal": "svc-reports", "role": "Order Reader"}}"#,
            MIDNIGHT - 3600
        ),
    ];
    std::fs::write(dir.join("role_snapshots.jsonl"), snapshots.join("\n")).unwrap();
    std::fs::write(dir.join("roles.jsonl"), roles).unwrap();
    std::fs::write(
        dir.join("policies.jsonl"),
        r#"{"method": "GET", "path": "/api/v1/orders/{id}", "all_of": ["orders.read"]}"#,
    )
    .unwrap();
}

fn spikes_json(dir: &std::path::Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["spikes", "--format", "json", "--bucket", "5m"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_role_definition_change_is_named_as_the_explanation() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), Revocation::RoleDefinition);
    let report = spikes_json(dir.path());
    let spikes = report["spikes"].as_array().unwrap();
    assert_eq!(spikes.len(), 1, "{spikes:#?}");
    assert_eq!(spikes[0]["start"], "2026-11-20T02:00:00Z");
    let change = &spikes[0]["changes"][0];
    assert_eq!(
        (change["kind"].as_str(), change["role"].as_str()),
        (Some("role_changed"), Some("Order Reader"))
    );
    assert!(
        change["detail"]
            .as_str()
            .unwrap()
            .contains("lost orders.read"),
        "{change}"
    );
}

#[test]
fn the_revocation_burst_is_found_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), Revocation::Binding);
    let report = spikes_json(dir.path());
    let spikes = report["spikes"].as_array().unwrap();
    assert_eq!(spikes.len(), 1, "one spike, not the noise: {spikes:#?}");
    let spike = &spikes[0];
    assert_eq!(spike["start"], "2026-11-20T02:00:00Z");
    assert_eq!(spike["principals"][0]["name"], "svc-nightly-export");
    let change = &spike["changes"][0];
    assert_eq!(
        (
            change["kind"].as_str(),
            change["principal"].as_str(),
            change["role"].as_str(),
            change["at"].as_str()
        ),
        (
            Some("binding_removed"),
            Some("svc-nightly-export"),
            Some("Order Reader"),
            Some("2026-11-20T02:00:00Z")
        )
    );
    assert!(spike["signatures"][0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("missing_permission GET /api/v1/orders/{id}"));

    let table = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["spikes"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("1 spike(s)") && text.contains("lost role Order Reader"),
        "{text}"
    );
    assert!(
        text.lines().nth(1).unwrap().contains('█'),
        "a sparkline: {text}"
    );
}
