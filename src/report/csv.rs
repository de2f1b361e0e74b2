//! The CSV report: one row per finding with every field the JSON report gives
//! it (evidence included) and its principal's fix; lists joined with `; `.
//! Every cell passes [`csv_cell`], so none is a formula to a spreadsheet.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::text::csv_cell;
use super::{level_name, Report};
use crate::cluster::Timestamp;

const HEADER: &[&str] = &[
    "principal",
    "cause",
    "permission",
    "count",
    "first_seen",
    "last_seen",
    "endpoints",
    "required_by",
    "confidence",
    "confidence_rule",
    "fix",
    "note",
    "baseline",
    "requests",
    "snapshots",
    "tokens",
    "token_issued_at",
    "token_expires_at",
    "granted_at",
    "peers",
    "objects",
    "objects_total",
    "orgs",
    "fields",
    "later_succeeded",
    "denied_by",
    "roles_held",
    "grant_roles",
    "grant_roles_exact",
    "no_role_grants",
    "hints",
    "unused_grants",
];

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let unused: BTreeMap<&str, String> = report
        .least_privilege
        .iter()
        .map(|g| (g.principal.as_str(), g.unused.join("; ")))
        .collect();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for p in &report.principals {
        for f in &p.findings {
            let e = &f.evidence;
            let optional = |v: Option<String>| v.unwrap_or_default();
            let row = [
                p.principal.as_str(),
                f.cause.name(),
                f.permission.as_deref().unwrap_or(""),
                &f.count.to_string(),
                &f.first_seen,
                &f.last_seen,
                &f.endpoints.join("; "),
                f.required_by.map_or("", |s| s.name()),
                level_name(f.confidence.level),
                f.confidence.rule,
                &f.fix,
                f.note.as_deref().unwrap_or(""),
                f.baseline.unwrap_or(""),
                &e.requests.join("; "),
                &joined(&e.snapshots),
                &e.tokens.join("; "),
                &joined(&e.token_issued_at),
                &joined(&e.token_expires_at),
                &joined(&e.granted_at),
                &optional(e.peers.map(|n| n.to_string())),
                &e.objects.join("; "),
                &e.objects_total.to_string(),
                &e.orgs.join("; "),
                &e.fields.join("; "),
                &optional(e.later_succeeded.map(|b| b.to_string())),
                &e.denied_by
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                &p.roles_held.join("; "),
                &p.fix.grant_roles.join("; "),
                &p.fix.grant_roles_exact.to_string(),
                &p.fix.no_role_grants.join("; "),
                &p.fix.hints.join("; "),
                unused.get(p.principal.as_str()).map_or("", String::as_str),
            ];
            w.write_record(row.map(csv_cell).iter().map(|cell| cell.as_bytes()))?;
        }
    }
    w.flush()
}

/// The instants as one cell, `; ` between them.
fn joined(instants: &[Timestamp]) -> String {
    let text: Vec<String> = instants.iter().map(Timestamp::to_string).collect();
    text.join("; ")
}

#[cfg(test)]
mod tests {
    use super::HEADER;

    /// Every field the JSON report gives a finding (and its evidence) has a
    /// column, so the formats carry the same facts; checked against the schema.
    #[test]
    fn every_finding_field_has_a_column() {
        let schema = serde_json::to_value(schemars::schema_for!(crate::cluster::Finding)).unwrap();
        let evidence = &schema["$defs"]["FindingEvidence"]["properties"];
        let fields = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .chain(evidence.as_object().unwrap().keys())
            .filter(|k| !["evidence", "confidence"].contains(&k.as_str()))
            .cloned()
            .collect::<Vec<_>>();
        assert!(fields.len() > 15, "{fields:?}");
        for field in fields {
            assert!(
                HEADER.contains(&field.as_str()),
                "no CSV column for {field}"
            );
        }
        let fix = serde_json::to_value(schemars::schema_for!(crate::cluster::Fix)).unwrap();
        for field in fix["properties"].as_object().unwrap().keys() {
            assert!(
                HEADER.contains(&field.as_str()),
                "no CSV column for fix.{field}"
            );
        }
    }
}
