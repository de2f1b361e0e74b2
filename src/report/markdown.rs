//! The Markdown report: a summary, then a section per principal with a table of
//! findings and the fix.

use std::io::{self, Write};

use super::{level_name, Report};

/// Keeps a cell on one line and its pipes from ending the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let r = &report.requests;
    writeln!(out, "# grantgap report")?;
    writeln!(out)?;
    writeln!(
        out,
        "{} requests: {} allowed, {} denied (403), {} other. {} principals with denials.",
        r.total,
        r.allowed,
        r.denied,
        r.other,
        report.principals.len()
    )?;
    for warning in &report.warnings {
        writeln!(out, "\n> warning: {}", cell(warning))?;
    }
    for p in &report.principals {
        writeln!(out, "\n## {}\n", cell(&p.principal))?;
        writeln!(
            out,
            "{} denied, {} to {}.",
            p.denied, p.first_seen, p.last_seen
        )?;
        if !p.roles_held.is_empty() {
            writeln!(out, "Roles held: {}.", cell(&p.roles_held.join(", ")))?;
        }
        writeln!(
            out,
            "\n| cause | permission | count | confidence | first seen | last seen | endpoints | fix |"
        )?;
        writeln!(out, "| --- | --- | ---: | --- | --- | --- | --- | --- |")?;
        for f in &p.findings {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                f.cause.name(),
                cell(f.permission.as_deref().unwrap_or("-")),
                f.count,
                level_name(f.confidence.level),
                f.first_seen,
                f.last_seen,
                cell(&f.endpoints.join(", ")),
                cell(&f.fix)
            )?;
        }
        writeln!(out)?;
        for f in p.findings.iter().filter_map(|f| f.note.as_deref()) {
            writeln!(out, "- Note: {}", cell(f))?;
        }
        if !p.fix.grant_roles.is_empty() {
            writeln!(
                out,
                "- **Fix:** grant role {}.",
                cell(&p.fix.grant_roles.join(" + "))
            )?;
        }
        if !p.fix.no_role_grants.is_empty() {
            writeln!(
                out,
                "- **Fix:** no existing role grants {}: create one.",
                cell(&p.fix.no_role_grants.join(", "))
            )?;
        }
        for hint in &p.fix.hints {
            writeln!(out, "- Hint: {}", cell(hint))?;
        }
    }
    writeln!(out, "\n## Failure signatures\n")?;
    writeln!(out, "{}.\n", cell(&super::summary_line(report)))?;
    writeln!(
        out,
        "| id | denials | cause | endpoint | missing | message | baseline |"
    )?;
    writeln!(out, "| --- | ---: | --- | --- | --- | --- | --- |")?;
    for s in &report.signatures {
        writeln!(
            out,
            "| `{}` | {} | {} | {} {} | {} | {} | {} |",
            s.id,
            s.count,
            s.cause.name(),
            s.method,
            cell(&s.endpoint),
            cell(&s.missing.join(", ")),
            cell(s.message_template.as_deref().unwrap_or("-")),
            s.baseline.unwrap_or("-")
        )?;
    }
    Ok(())
}
