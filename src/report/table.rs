//! The terminal report: a summary line, then per principal its findings in
//! aligned columns and the fix. Every text is shown through [`terminal`], so a
//! name from the logs can neither add a line nor send a terminal escape.

use std::io::{self, Write};

use super::text::terminal;
use super::{level_name, principals_with_denials, Report};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let r = &report.requests;
    writeln!(
        out,
        "{} requests: {} allowed, {} denied (403), {} other; {}",
        r.total,
        r.allowed,
        r.denied,
        r.other,
        principals_with_denials(report)
    )?;
    for warning in &report.warnings {
        writeln!(out, "warning: {}", terminal(warning))?;
    }
    for p in &report.principals {
        writeln!(out)?;
        writeln!(
            out,
            "{}  {} denied  {} .. {}",
            terminal(&p.principal),
            p.denied,
            p.first_seen,
            p.last_seen
        )?;
        if !p.roles_held.is_empty() {
            writeln!(out, "  roles held: {}", terminal(&p.roles_held.join(", ")))?;
        }
        let rows: Vec<[String; 5]> = p
            .findings
            .iter()
            .map(|f| {
                [
                    f.cause.name().to_string(),
                    terminal(f.permission.as_deref().unwrap_or("-")).into_owned(),
                    f.count.to_string(),
                    level_name(f.confidence.level).to_string(),
                    terminal(&f.endpoints.join(", ")).into_owned(),
                ]
            })
            .collect();
        let header = ["CAUSE", "PERMISSION", "COUNT", "CONFIDENCE", "ENDPOINTS"].map(String::from);
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].len())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in [&header].into_iter().chain(&rows) {
            writeln!(
                out,
                "  {:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )?;
        }
        for f in &p.findings {
            let what = f
                .permission
                .as_deref()
                .map_or(String::new(), |perm| format!(" {}", terminal(perm)));
            writeln!(out, "  - {}{what}: {}", f.cause.name(), terminal(&f.fix))?;
            if let Some(note) = &f.note {
                writeln!(out, "    note: {}", terminal(note))?;
            }
        }
        if !p.fix.grant_roles.is_empty() {
            writeln!(
                out,
                "  fix: grant role {}",
                terminal(&p.fix.grant_roles.join(" + "))
            )?;
        }
        if !p.fix.no_role_grants.is_empty() {
            writeln!(
                out,
                "  fix: no existing role grants {}: create one",
                terminal(&p.fix.no_role_grants.join(", "))
            )?;
        }
        for hint in &p.fix.hints {
            writeln!(out, "  hint: {}", terminal(hint))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", super::summary_line(report))?;
    let skipped: u64 = report.records.values().map(|c| c.skipped).sum();
    if skipped > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{skipped} input records skipped (see stderr or --format json)"
        )?;
    }
    Ok(())
}
