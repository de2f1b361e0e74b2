//! The Markdown report: a summary, then a section per principal with a table of
//! findings and the fix. Every text is written through [`markdown`] (escaped), so
//! a name from the logs shows as itself, never as HTML, a link or a table cell.

use std::io::{self, Write};

use super::text::markdown;
use super::{level_name, principals_with_denials, Report};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let r = &report.requests;
    writeln!(out, "# grantgap report")?;
    writeln!(out)?;
    writeln!(
        out,
        "{} requests: {} allowed, {} denied (403), {} other. {}.",
        r.total,
        r.allowed,
        r.denied,
        r.other,
        principals_with_denials(report)
    )?;
    if r.denied_filtered_out > 0 {
        writeln!(
            out,
            "{} more denials were left out by `--principal`, `--since` or `--until`.",
            r.denied_filtered_out
        )?;
    }
    for warning in &report.warnings {
        writeln!(out, "\n> warning: {}", markdown(warning))?;
    }
    for p in &report.principals {
        writeln!(out, "\n## {}\n", markdown(&p.principal))?;
        writeln!(
            out,
            "{} denied, {} to {}.",
            p.denied, p.first_seen, p.last_seen
        )?;
        if !p.roles_held.is_empty() {
            writeln!(out, "Roles held: {}.", markdown(&p.roles_held.join(", ")))?;
        }
        writeln!(
            out,
            "\n| cause | permission | count | confidence | first seen | last seen | endpoints | fix |"
        )?;
        writeln!(out, "| --- | --- | ---: | --- | --- | --- | --- | --- |")?;
        for f in &p.findings {
            let new = if f.baseline == Some("new") {
                "**NEW** "
            } else {
                ""
            };
            writeln!(
                out,
                "| {new}{} | {} | {} | {} | {} | {} | {} | {} |",
                f.cause.name(),
                markdown(f.permission.as_deref().unwrap_or("-")),
                f.count,
                level_name(f.confidence.level),
                f.first_seen,
                f.last_seen,
                markdown(&f.endpoints.join(", ")),
                markdown(&f.fix)
            )?;
        }
        writeln!(out)?;
        for f in p.findings.iter().filter_map(|f| f.note.as_deref()) {
            writeln!(out, "- Note: {}", markdown(f))?;
        }
        if !p.fix.grant_roles.is_empty() {
            writeln!(
                out,
                "- **Fix:** grant role {}.",
                markdown(&p.fix.grant_roles.join(" + "))
            )?;
        }
        if !p.fix.no_role_grants.is_empty() {
            writeln!(
                out,
                "- **Fix:** no existing role grants {}: create one.",
                markdown(&p.fix.no_role_grants.join(", "))
            )?;
        }
        for hint in &p.fix.hints {
            writeln!(out, "- Hint: {}", markdown(hint))?;
        }
        let grants = report
            .least_privilege
            .iter()
            .find(|g| g.principal == p.principal);
        if let Some(g) = grants.filter(|g| !g.unused.is_empty()) {
            writeln!(
                out,
                "- Granted but unused{}: {}.",
                if g.complete { "" } else { " (not proven)" },
                markdown(&g.unused.join(", "))
            )?;
        }
    }
    if report.principals_not_shown > 0 {
        writeln!(
            out,
            "\n{} more principals with denials not shown (`--top`).",
            report.principals_not_shown
        )?;
    }
    if let Some(b) = report
        .baseline
        .as_ref()
        .filter(|b| !b.principal_permissions.resolved.is_empty())
    {
        writeln!(out, "\n## Resolved since the baseline\n")?;
        for pair in &b.principal_permissions.resolved {
            writeln!(
                out,
                "- {}: {} is no longer denied.",
                markdown(&pair.principal),
                markdown(&pair.permission)
            )?;
        }
    }
    writeln!(out, "\n## Failure signatures\n")?;
    writeln!(out, "{}.\n", markdown(&super::summary_line(report)))?;
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
            markdown(&s.method),
            markdown(&s.endpoint),
            markdown(&s.missing.join(", ")),
            markdown(s.message_template.as_deref().unwrap_or("-")),
            s.baseline.unwrap_or("-")
        )?;
    }
    writeln!(out, "\n## Spikes\n")?;
    if report.timeline.spikes.is_empty() {
        writeln!(out, "None.")?;
    }
    for spike in &report.timeline.spikes {
        let changes: Vec<&str> = spike.changes.iter().map(|c| c.detail.as_str()).collect();
        writeln!(
            out,
            "- {} to {}: {} denials (baseline {:.1} per bucket). {}",
            spike.start,
            spike.end,
            spike.denials,
            spike.baseline,
            markdown(&changes.join("; "))
        )?;
    }
    writeln!(out, "\n## Least privilege: granted but unused\n")?;
    writeln!(
        out,
        "Permissions granted during the period that no successful request needed, by the policy catalog; \
         not proven where requests hit endpoints no rule covers.\n"
    )?;
    writeln!(
        out,
        "| principal | granted | unused | requests without rule | proven |"
    )?;
    writeln!(out, "| --- | ---: | --- | ---: | --- |")?;
    for g in &report.least_privilege {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            markdown(&g.principal),
            g.granted.len(),
            markdown(&g.unused.join(", ")),
            g.requests_without_rule,
            if g.complete { "yes" } else { "no" }
        )?;
    }
    Ok(())
}
