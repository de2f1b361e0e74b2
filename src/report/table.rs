//! The terminal report: a summary line, then per principal its findings in
//! aligned columns and the fix. Every text is shown through [`terminal`], so a
//! name from the logs can neither add a line nor send a terminal escape.

use std::io::{self, Write};

use super::text::terminal;
use super::{level_name, principals_with_denials, Report};
use crate::cluster::signature::Signature;
use crate::spikes::SpikeReport;

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
    if r.denied_filtered_out > 0 {
        writeln!(
            out,
            "{} more denials left out by --principal, --since or --until",
            r.denied_filtered_out
        )?;
    }
    if let Some(top) = top_accounts(report) {
        writeln!(out, "most denied: {top}")?;
    }
    for warning in &report.warnings {
        writeln!(out, "warning: {}", terminal(warning))?;
    }
    let marked = report.baseline.is_some();
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
        // One line per finding: what was denied, how often, and what to do.
        let rows: Vec<[String; 7]> = p
            .findings
            .iter()
            .map(|f| {
                // A fix that defers to the note is the note.
                let fix = match &f.note {
                    Some(note) if f.fix.starts_with("see the note") => note.clone(),
                    Some(note) => format!("{} (note: {note})", f.fix),
                    None => f.fix.clone(),
                };
                [
                    f.baseline.map_or("", marker).to_string(),
                    f.cause.name().to_string(),
                    terminal(f.permission.as_deref().unwrap_or("-")).into_owned(),
                    f.count.to_string(),
                    level_name(f.confidence.level).to_string(),
                    terminal(&f.endpoints.join(", ")).into_owned(),
                    terminal(&fix).into_owned(),
                ]
            })
            .collect();
        let header = [
            "",
            "CAUSE",
            "PERMISSION",
            "COUNT",
            "CONFIDENCE",
            "ENDPOINTS",
            "FIX",
        ]
        .map(String::from);
        let width = |i: usize| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..6).map(width).collect();
        for row in [&header].into_iter().chain(&rows) {
            let mark = if marked {
                format!("{:<w$}  ", row[0], w = widths[0].max(3))
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {mark}{:<w1$}  {:<w2$}  {:>w3$}  {:<w4$}  {:<w5$}  {}",
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4],
                w5 = widths[5]
            )?;
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
    if report.principals_not_shown > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{} more principals with denials not shown (--top)",
            report.principals_not_shown
        )?;
    }
    if let Some(b) = &report.baseline {
        if !b.principal_permissions.resolved.is_empty() {
            writeln!(out)?;
            writeln!(out, "RESOLVED since the baseline (no longer denied):")?;
            for pair in &b.principal_permissions.resolved {
                writeln!(
                    out,
                    "  {}  {}",
                    terminal(&pair.principal),
                    terminal(&pair.permission)
                )?;
            }
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

/// How a table marks a finding or signature against the baseline.
fn marker(baseline: &str) -> &'static str {
    match baseline {
        "new" => "NEW",
        _ => "",
    }
}

/// The most denied principals, most first: `svc-a 1234 (3 findings), …`.
fn top_accounts(report: &Report) -> Option<String> {
    const SHOWN: usize = 5;
    let top: Vec<String> = report
        .principals
        .iter()
        .take(SHOWN)
        .map(|p| {
            let findings = match p.findings.len() {
                1 => "1 finding".to_string(),
                n => format!("{n} findings"),
            };
            format!("{} {} ({findings})", terminal(&p.principal), p.denied)
        })
        .collect();
    (!top.is_empty()).then(|| top.join(", "))
}

/// `grantgap signatures`: each signature on two lines, most frequent first.
pub fn write_signatures(signatures: &[Signature], out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<3}  {:<12}  {:>7}  {:>10}  {:<20}  ENDPOINT / MESSAGE",
        "", "ID", "DENIALS", "PRINCIPALS", "CAUSE"
    )?;
    for s in signatures {
        writeln!(
            out,
            "{:<3}  {:<12}  {:>7}  {:>10}  {:<20}  {} {}  [{}]",
            s.baseline.map_or("", marker),
            s.id,
            s.count,
            s.principals_total,
            s.cause.name(),
            terminal(&s.method),
            terminal(&s.endpoint),
            terminal(&s.missing.join(" "))
        )?;
        writeln!(
            out,
            "{:<3}  {:<12}  {} .. {}  {}  e.g. {}",
            "",
            "",
            s.first_seen,
            s.last_seen,
            terminal(s.message_template.as_deref().unwrap_or("-")),
            terminal(&s.requests.join(", "))
        )?;
    }
    Ok(())
}

/// `grantgap spikes`: the series as a sparkline, then each spike with its
/// signatures, principals and the changes before it.
pub fn write_spikes(found: &SpikeReport, out: &mut dyn Write) -> io::Result<()> {
    let series: Vec<u64> = found.series.iter().map(|b| b.denials).collect();
    let (from, to) = match (found.series.first(), found.series.last()) {
        (Some(a), Some(b)) => (a.start.as_str(), b.start.as_str()),
        _ => ("-", "-"),
    };
    writeln!(
        out,
        "denials per {}s bucket, {from} .. {to}",
        found.bucket_seconds
    )?;
    writeln!(out, "{}", sparkline(&series, 100))?;
    writeln!(out, "{} spike(s)", found.spikes.len())?;
    for s in &found.spikes {
        writeln!(out)?;
        writeln!(
            out,
            "spike {} .. {}: {} denials (baseline {:.1} per bucket, {:.1} MADs above)",
            s.start, s.end, s.denials, s.baseline, s.score
        )?;
        for c in s.signatures.iter().take(5) {
            writeln!(
                out,
                "  signature {} {:>6}  {}",
                terminal(&c.name),
                c.denials,
                terminal(c.detail.as_deref().unwrap_or(""))
            )?;
        }
        for c in s.principals.iter().take(5) {
            writeln!(
                out,
                "  principal {:<30} {:>6}",
                terminal(&c.name),
                c.denials
            )?;
        }
        for c in &s.changes {
            writeln!(out, "  changed {}: {}", c.at, terminal(&c.detail))?;
        }
    }
    Ok(())
}

/// The series as a one-line chart, at most `width` characters (each the peak of the buckets it covers).
pub fn sparkline(series: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if series.is_empty() || width == 0 {
        return String::new();
    }
    let per = series.len().div_ceil(width);
    let peaks: Vec<u64> = series
        .chunks(per)
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    let max = peaks.iter().copied().max().unwrap_or(0).max(1);
    peaks
        .iter()
        .map(|&x| {
            if x == 0 {
                ' '
            } else {
                BARS[((x * 7) / max) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 8, 4], 10), " ▁█▄");
        assert_eq!(sparkline(&[1, 8, 1, 1], 2).chars().count(), 2);
    }
}
