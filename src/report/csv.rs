//! The CSV report: one row per finding, lists joined with `; `.

use std::io::{self, Write};

use super::{level_name, Report};

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
    "grant_roles",
    "requests",
    "note",
];

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for p in &report.principals {
        for f in &p.findings {
            w.write_record([
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
                &p.fix.grant_roles.join("; "),
                &f.evidence.requests.join("; "),
                f.note.as_deref().unwrap_or(""),
            ])?;
        }
    }
    w.flush()
}
