//! The CSV report: one row per finding, lists joined with `; `.

use std::io::{self, Write};

use super::Report;

const HEADER: &[&str] = &[
    "principal",
    "cause",
    "permission",
    "count",
    "first_seen",
    "last_seen",
    "endpoints",
    "required_by",
    "grant_roles",
    "requests",
    "note",
];

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for p in &report.principals {
        for f in &p.findings {
            let required_by = f.required_by.map(|s| {
                serde_json::to_value(s).map(|v| v.as_str().unwrap_or_default().to_string())
            });
            w.write_record([
                p.principal.as_str(),
                f.cause.name(),
                f.permission.as_deref().unwrap_or(""),
                &f.count.to_string(),
                &f.first_seen,
                &f.last_seen,
                &f.endpoints.join("; "),
                &required_by
                    .transpose()
                    .map_err(io::Error::other)?
                    .unwrap_or_default(),
                &p.fix.grant_roles.join("; "),
                &f.evidence.requests.join("; "),
                f.note.as_deref().unwrap_or(""),
            ])?;
        }
    }
    w.flush()
}
