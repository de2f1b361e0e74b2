//! The HTML report: one self-contained page for the people who sign off access.
//!
//! No network and no external assets: the styles, the table-sorting script and
//! the charts (SVG drawn here) are all inline, so the file can be mailed,
//! archived with an audit and opened years later. maud escapes every value, so a
//! principal named `<script>` is text, not code. Tables sort on a click and the
//! page prints without the controls.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{joined_once, level_name, principals_with_denials, summary_line, Report};
use crate::diagnose::least_privilege::PrincipalGrants;
use crate::diagnose::Cause;
use crate::spikes::{Spike, SpikeReport};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(page(report).into_string().as_bytes())?;
    writeln!(out)
}

fn page(report: &Report) -> Markup {
    let r = &report.requests;
    let grants: BTreeMap<&str, &PrincipalGrants> = report
        .least_privilege
        .iter()
        .map(|g| (g.principal.as_str(), g))
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "grantgap report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "grantgap report: why service accounts got 403 Forbidden" }
                section id="summary" {
                    h2 { "Summary" }
                    p {
                        (r.total) " requests: " (r.allowed) " allowed, " strong { (r.denied) " denied (403)" }
                        ", " (r.other) " other. " (principals_with_denials(report)) ". "
                        (summary_line(report)) "."
                    }
                    @for warning in &report.warnings { p.warning { "Warning: " (warning) } }
                    (records_table(report))
                }
                section id="charts" {
                    h2 { "Denials by account" }
                    (accounts_chart(report))
                    h2 { "Denials over time" }
                    (timeline_charts(&report.timeline))
                }
                section id="accounts" {
                    h2 { "Accounts" }
                    table.sortable {
                        thead { tr {
                            th { "Principal" } th.num { "Denied" } th { "Causes" }
                            th { "Missing permissions" } th { "Fix" } th.num { "Unused grants" }
                        } }
                        tbody {
                            @for p in &report.principals {
                                tr {
                                    td { a href={ "#" (section_id(&p.principal)) } { (p.principal) } }
                                    td.num { (p.denied) }
                                    td { (joined_once(p.findings.iter().map(|f| f.cause.name()))) }
                                    td.wrap { (breakable(&joined_once(p.findings.iter().filter_map(|f| f.permission.as_deref())))) }
                                    td { (fix_text(p)) }
                                    td.num { (grants.get(p.principal.as_str()).map_or(0, |g| g.unused.len())) }
                                }
                            }
                        }
                    }
                    @for p in &report.principals {
                        (account_section(p, grants.get(p.principal.as_str()).copied()))
                    }
                    @if report.principals_not_shown > 0 {
                        p { (report.principals_not_shown) " more principals with denials not shown (--top)." }
                    }
                    @if let Some(b) = &report.baseline {
                        @if !b.principal_permissions.resolved.is_empty() {
                            h3 { "Resolved since the baseline" }
                            ul {
                                @for pair in &b.principal_permissions.resolved {
                                    li { (pair.principal) ": " code { (pair.permission) } " is no longer denied." }
                                }
                            }
                        }
                    }
                }
                section id="signatures" {
                    h2 { "Failure signatures" }
                    p { "Each signature's id is the same every night for the same failure." }
                    table.sortable {
                        thead { tr {
                            th { "Id" } th { "Cause" } th { "Endpoint" } th.num { "Status" } th { "Missing" }
                            th.num { "Denials" } th.num { "Principals" } th { "First seen" } th { "Last seen" } th { "Message" }
                        } }
                        tbody {
                            @for s in &report.signatures {
                                tr {
                                    td { code { (s.id) } @if let Some(b) = s.baseline { " " span.badge { (b) } } }
                                    td { (s.cause.name()) }
                                    td.wrap { (s.method) " " (breakable(&s.endpoint)) }
                                    td.num { (s.status) }
                                    td.wrap { (breakable(&s.missing.join(", "))) }
                                    td.num { (s.count) }
                                    td.num { (s.principals_total) }
                                    td { (time_cell(&s.first_seen)) }
                                    td { (time_cell(&s.last_seen)) }
                                    td.wrap { (s.message_template.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                (spikes_section(&report.timeline))
                (least_privilege_section(report))
                script { (PreEscaped(SORT_SCRIPT)) }
            }
        }
    }
}

fn records_table(report: &Report) -> Markup {
    html! {
        table {
            thead { tr { th { "Input" } th.num { "Read" } th.num { "Used" } th.num { "Skipped" } th { "Skipped by reason" } } }
            tbody {
                @for (table, c) in &report.records {
                    tr {
                        td { (table) } td.num { (c.read) } td.num { (c.used) } td.num { (c.skipped) }
                        td { (joined_once(c.skipped_by_reason.iter().map(|(k, n)| format!("{k}: {n}")))) }
                    }
                }
            }
        }
        @if !report.bad_records.is_empty() {
            details {
                summary { "First records that could not be used" }
                ul { @for b in &report.bad_records { li { code { (b.at) } ": " (b.reason) ": " (b.detail) } } }
            }
        }
    }
}

fn account_section(
    p: &crate::cluster::PrincipalFindings,
    grants: Option<&PrincipalGrants>,
) -> Markup {
    html! {
        article.account id=(section_id(&p.principal)) {
            h3 { (p.principal) }
            p {
                (p.denied) " denied, " (p.first_seen) " to " (p.last_seen) "."
                @if !p.roles_held.is_empty() { " Roles held: " (p.roles_held.join(", ")) "." }
            }
            table.sortable {
                thead { tr {
                    th { "Cause" } th { "Missing permission" } th.num { "Count" } th { "Confidence" }
                    th { "Endpoints" } th { "First seen" } th { "Last seen" } th { "Fix" }
                } }
                tbody {
                    @for f in &p.findings {
                        tr {
                            td {
                                span.cause style={ "border-color:" (cause_colour(f.cause)) } { (f.cause.name()) }
                                @if f.baseline == Some("new") { " " span.badge { "new" } }
                            }
                            td.wrap { (breakable(f.permission.as_deref().unwrap_or("-"))) }
                            td.num { (f.count) }
                            td { (level_name(f.confidence.level)) }
                            td.wrap { (breakable(&f.endpoints.join(", "))) }
                            td { (time_cell(&f.first_seen)) }
                            td { (time_cell(&f.last_seen)) }
                            td.wrap { (f.fix) @if let Some(note) = &f.note { br; small { "Note: " (note) } } }
                        }
                    }
                }
            }
            p.fix { strong { "Fix: " } (fix_text(p)) }
            @for hint in &p.fix.hints { p { "Hint: " (hint) } }
            @if let Some(g) = grants {
                @if !g.unused.is_empty() {
                    p {
                        "Granted but unused in this period" @if !g.complete { " (not proven: " (g.requests_without_rule) " requests hit endpoints no policy rule covers)" } ": "
                        (g.unused.join(", "))
                    }
                }
            }
        }
    }
}

/// A timestamp that may break between its date and its time.
fn time_cell(text: &str) -> Markup {
    match text.split_once('T') {
        Some((date, time)) => html! { (date) "T" wbr; (time) },
        None => html! { (text) },
    }
}

fn fix_text(p: &crate::cluster::PrincipalFindings) -> String {
    let mut parts = Vec::new();
    if !p.fix.grant_roles.is_empty() {
        parts.push(format!("grant role {}", p.fix.grant_roles.join(" + ")));
    }
    if !p.fix.no_role_grants.is_empty() {
        parts.push(format!(
            "no existing role grants {}: create one",
            p.fix.no_role_grants.join(", ")
        ));
    }
    if parts.is_empty() {
        parts.push("no grant: see the findings".to_string());
    }
    parts.join("; ")
}

fn spikes_section(timeline: &SpikeReport) -> Markup {
    html! {
        section id="spikes" {
            h2 { "Spikes" }
            @if timeline.spikes.is_empty() {
                p { "No spike: no bucket stands out from the ones before it." }
            }
            @for s in &timeline.spikes {
                article.spike {
                    h3 { (s.start) " to " (s.end) ": " (s.denials) " denials" }
                    p { "Baseline " (format!("{:.1}", s.baseline)) " per bucket; " (format!("{:.1}", s.score)) " scaled MADs above it." }
                    ul {
                        @for c in s.signatures.iter().take(3) {
                            li { "signature " code { (c.name) } " " (c.denials) @if let Some(d) = &c.detail { " (" (d) ")" } }
                        }
                        @for c in s.changes.iter().take(5) { li { "changed " (c.at) ": " (c.detail) } }
                    }
                }
            }
        }
    }
}

fn least_privilege_section(report: &Report) -> Markup {
    html! {
        section id="least-privilege" {
            h2 { "Least privilege: granted but unused" }
            p {
                "Permissions the roles granted during the period that no successful request needed "
                "(by the policy catalog's rules). Where requests hit endpoints no rule covers, the list is "
                "not proven: those requests may have used any grant."
            }
            @if report.least_privilege.is_empty() {
                p { "No role snapshots: nothing is known to be granted." }
            } @else {
                table.sortable {
                    thead { tr {
                        th { "Principal" } th.num { "Granted" } th.num { "Used" } th.num { "Unused" }
                        th { "Unused permissions" } th.num { "Requests" } th.num { "Without rule" } th { "Proven" }
                    } }
                    tbody {
                        @for g in &report.least_privilege {
                            tr {
                                td { (g.principal) } td.num { (g.granted.len()) } td.num { (g.used.len()) }
                                td.num { (g.unused.len()) } td.wrap { (breakable(&g.unused.join(", "))) } td.num { (g.requests) }
                                td.num { (g.requests_without_rule) } td { @if g.complete { "yes" } @else { "no" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Chart geometry, in SVG user units.
const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 230.0;
const BAR_HEIGHT: f64 = 16.0;
const CHART_HEIGHT: f64 = 200.0;
/// Accounts drawn in the bar chart.
const ACCOUNTS_CHARTED: usize = 20;

/// Horizontal bars: the most denied accounts, each split by cause.
fn accounts_chart(report: &Report) -> Markup {
    let shown: Vec<_> = report.principals.iter().take(ACCOUNTS_CHARTED).collect();
    if shown.is_empty() {
        return html! { p { "No denials." } };
    }
    let max = shown.iter().map(|p| p.denied).max().unwrap_or(1).max(1) as f64;
    let scale = (WIDTH - LABEL_WIDTH - 60.0) / max;
    let height = shown.len() as f64 * (BAR_HEIGHT + 4.0) + 4.0;
    let causes: Vec<Cause> = Cause::ALL
        .into_iter()
        .filter(|c| {
            shown
                .iter()
                .any(|p| p.findings.iter().any(|f| f.cause == *c))
        })
        .collect();
    html! {
        figure {
            svg.chart id="accounts-chart" viewBox={ "0 0 " (WIDTH) " " (num(height)) } role="img"
                aria-label="Denials per account, split by cause" {
                @for (i, p) in shown.iter().enumerate() {
                    @let y = 4.0 + i as f64 * (BAR_HEIGHT + 4.0);
                    text x=(num(LABEL_WIDTH - 6.0)) y=(num(y + BAR_HEIGHT - 4.0)) text-anchor="end" { (p.principal) }
                    @let segments = stacked(by_cause(p).into_iter().map(|(c, n)| (c, n as f64 * scale)), LABEL_WIDTH);
                    @for (cause, x, w) in &segments {
                        rect x=(num(*x)) y=(num(y)) width=(num(*w)) height=(BAR_HEIGHT) fill=(cause_colour(*cause)) {
                            title { (p.principal) ": " (cause.name()) }
                        }
                    }
                    @let end = segments.last().map_or(LABEL_WIDTH, |(_, x, w)| x + w);
                    text x=(num(end + 4.0)) y=(num(y + BAR_HEIGHT - 4.0)) { (p.denied) }
                }
            }
            figcaption { (legend(causes.iter().map(|c| (c.name().to_string(), cause_colour(*c).to_string())))) }
        }
    }
}

/// Lays lengths end to end from `start`: (item, offset, length).
fn stacked<T>(lengths: impl Iterator<Item = (T, f64)>, start: f64) -> Vec<(T, f64, f64)> {
    let mut at = start;
    lengths
        .map(|(item, length)| {
            let segment = (item, at, length);
            at += length;
            segment
        })
        .collect()
}

/// A principal's denials per cause, in the order of [`Cause::ALL`].
fn by_cause(p: &crate::cluster::PrincipalFindings) -> Vec<(Cause, u64)> {
    Cause::ALL
        .into_iter()
        .filter_map(|c| {
            let n: u64 = p
                .findings
                .iter()
                .filter(|f| f.cause == c)
                .map(|f| f.count)
                .sum();
            (n > 0).then_some((c, n))
        })
        .collect()
}

/// Two charts over the same buckets: stacked bars by cause, and lines for the
/// top signatures; spikes shaded on both.
fn timeline_charts(timeline: &SpikeReport) -> Markup {
    if timeline.series.is_empty() {
        return html! { p { "No timed denials." } };
    }
    let by_cause: Vec<(String, String, &Vec<u64>)> = Cause::ALL
        .into_iter()
        .filter_map(|c| {
            let series = timeline.by_cause.get(c.name())?;
            Some((c.name().to_string(), cause_colour(c).to_string(), series))
        })
        .collect();
    let by_signature: Vec<(String, String, &Vec<u64>)> = timeline
        .top_signatures
        .iter()
        .zip(SIGNATURE_COLOURS.iter().cycle())
        .map(|(s, colour)| {
            (
                format!("{} {}", s.id, s.label),
                colour.to_string(),
                &s.denials,
            )
        })
        .collect();
    html! {
        p {
            (timeline.series.len()) " buckets of " (bucket_text(timeline.bucket_seconds)) ", "
            (timeline.series[0].start) " to " (timeline.series[timeline.series.len() - 1].start)
            "; spikes shaded."
        }
        figure {
            (time_chart("timeline-by-cause", "Denials per bucket by cause", timeline, &by_cause, true))
            figcaption { (legend(by_cause.iter().map(|(n, c, _)| (n.clone(), c.clone())))) (spike_legend()) }
        }
        figure {
            (time_chart("timeline-by-signature", "Denials per bucket of the top signatures", timeline, &by_signature, false))
            figcaption { (legend(by_signature.iter().map(|(n, c, _)| (n.clone(), c.clone())))) (spike_legend()) }
        }
    }
}

fn time_chart(
    id: &str,
    label: &str,
    timeline: &SpikeReport,
    series: &[(String, String, &Vec<u64>)],
    stack: bool,
) -> Markup {
    let buckets = timeline.series.len();
    let left = 58.0;
    let plot_width = WIDTH - left - 10.0;
    let step = plot_width / buckets as f64;
    let top = 14.0;
    let bottom = CHART_HEIGHT - 36.0;
    let max = if stack {
        (0..buckets)
            .map(|i| series.iter().map(|(_, _, s)| s[i]).sum::<u64>())
            .max()
    } else {
        series.iter().flat_map(|(_, _, s)| s.iter().copied()).max()
    }
    .unwrap_or(1)
    .max(1) as f64;
    let y_of = |v: f64| bottom - (bottom - top) * v / max;
    let index_of: BTreeMap<&str, usize> = timeline
        .series
        .iter()
        .enumerate()
        .map(|(i, b)| (b.start.as_str(), i))
        .collect();
    html! {
        svg.chart id=(id) viewBox={ "0 0 " (WIDTH) " " (CHART_HEIGHT) } role="img" aria-label=(label) {
            @for s in &timeline.spikes {
                @if let Some(&i) = index_of.get(s.start.as_str()) {
                    @let width = (buckets_covered(s, timeline) as f64 * step).max(2.0);
                    rect.spike x=(num(left + i as f64 * step)) y=(top) width=(num(width)) height=(num(bottom - top)) {
                        title { "spike " (s.start) " to " (s.end) ": " (s.denials) " denials" }
                    }
                }
            }
            line.axis x1=(left) y1=(bottom) x2=(num(left + plot_width)) y2=(bottom) {}
            line.axis x1=(left) y1=(top) x2=(left) y2=(bottom) {}
            text x=(num(left - 4.0)) y=(num(top + 4.0)) text-anchor="end" { (max) }
            text x=(num(left - 4.0)) y=(num(bottom)) text-anchor="end" { "0" }
            text.axis-label x="12" y=(num((top + bottom) / 2.0)) text-anchor="middle" transform={ "rotate(-90 12 " (num((top + bottom) / 2.0)) ")" } {
                "denials per " (bucket_text(timeline.bucket_seconds))
            }
            text.axis-label x=(num(left + plot_width / 2.0)) y=(num(bottom + 28.0)) text-anchor="middle" { "bucket start (UTC)" }
            text x=(left) y=(num(bottom + 16.0)) { (timeline.series[0].start) }
            text x=(num(left + plot_width / 2.0)) y=(num(bottom + 16.0)) text-anchor="middle" { (timeline.series[buckets / 2].start) }
            text x=(num(left + plot_width)) y=(num(bottom + 16.0)) text-anchor="end" { (timeline.series[buckets - 1].start) }
            @if stack {
                @for i in 0..buckets {
                    @let heights = series.iter().filter(|(_, _, s)| s[i] > 0).map(|(name, colour, s)| ((name, colour, s[i]), (bottom - top) * s[i] as f64 / max));
                    @for ((name, colour, n), y, h) in stacked(heights, 0.0) {
                        rect x=(num(left + i as f64 * step)) y=(num(bottom - y - h)) width=(num(step.max(1.0))) height=(num(h)) fill=(colour) {
                            title { (timeline.series[i].start) ": " (n) " " (name) }
                        }
                    }
                }
            } @else {
                @for (name, colour, s) in series {
                    polyline fill="none" stroke=(colour) stroke-width="1.5" stroke-dasharray="5 3" points=(points(s, left, step, &y_of)) {
                        title { (name) }
                    }
                }
            }
            // A mark above each spike, drawn last so the bars never hide it.
            @for s in &timeline.spikes {
                @if let Some(&i) = index_of.get(s.start.as_str()) {
                    rect.spike-mark x=(num(left + i as f64 * step)) y=(num(top - 8.0))
                        width=(num((buckets_covered(s, timeline) as f64 * step).max(4.0))) height="5" {
                        title { "spike " (s.start) " to " (s.end) ": " (s.denials) " denials" }
                    }
                }
            }
        }
    }
}

/// How many of the timeline's buckets a spike covers.
fn buckets_covered(spike: &Spike, timeline: &SpikeReport) -> usize {
    timeline
        .series
        .iter()
        .filter(|b| b.start >= spike.start && b.start < spike.end)
        .count()
}

fn points(series: &[u64], left: f64, step: f64, y_of: &dyn Fn(f64) -> f64) -> String {
    series
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            format!(
                "{},{}",
                num(left + (i as f64 + 0.5) * step),
                num(y_of(v as f64))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn legend(items: impl Iterator<Item = (String, String)>) -> Markup {
    html! {
        ul.legend {
            @for (name, colour) in items {
                li { span.swatch style={ "background:" (colour) } {} (name) }
            }
        }
    }
}

/// What the spike marks mean.
fn spike_legend() -> Markup {
    html! {
        ul.legend.spikes {
            li { span.swatch.spike-mark {} "spike: a bucket far above the ones before it (the mark on top; its buckets shaded)" }
        }
    }
}

fn bucket_text(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s % 3600 == 0 => format!("{} hour(s)", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

/// A colour per cause, the same in every report.
fn cause_colour(cause: Cause) -> &'static str {
    const PALETTE: [&str; 13] = [
        "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#1f77b4", "#17becf", "#bcbd22",
        "#7f7f7f", "#2ca02c", "#393b79", "#ad494a", "#637939",
    ];
    let i = Cause::ALL.iter().position(|c| *c == cause).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// The top signatures' lines: dark shades no cause uses, drawn dashed, so a
/// signature is never read as a cause.
const SIGNATURE_COLOURS: [&str; 5] = ["#000000", "#6a3d9a", "#b15928", "#01665e", "#8e0152"];

/// `text` with a line-break opportunity after each `.`, `/`, `_` and `:`, so a
/// permission or a path breaks between its parts, never inside a word.
fn breakable(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split_inclusive(['.', '/', '_', ':']).enumerate() {
            @if i > 0 { wbr; }
            (part)
        }
    }
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// The id of a principal's section: `p-` and the name, with letters, digits
/// and `-` kept, `_` doubled and any other character as `_` and its code point
/// in hex and `_` (`svc.a` is `p-svc_2e_a`, `svc_a` is `p-svc__a`). Reversible,
/// so two principals never share an id, and the same from one night to the next.
fn section_id(principal: &str) -> String {
    let mut id = String::from("p-");
    for c in principal.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || c == '-' => id.push(c),
            '_' => id.push_str("__"),
            c => {
                let _ = write!(id, "_{:x}_", u32::from(c));
            }
        }
    }
    id
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; } h3 { margin-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; width: 100%; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
td.wrap { overflow-wrap: break-word; }
table { font-size: 13px; }
th { background: #f3f3f3; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \2195"; color: #999; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.warning { color: #a40; }
.cause { border-left: 4px solid; padding-left: 4px; }
.badge { background: #fde2e1; border-radius: 3px; padding: 0 4px; font-size: .85em; }
svg.chart { width: 100%; height: auto; font-size: 11px; }
svg .axis { stroke: #666; }
svg rect.spike { fill: #fff3bf; }
svg rect.spike-mark, span.swatch.spike-mark { fill: #222; background: #222; }
svg text.axis-label { font-size: 11px; fill: #555; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3em 1.2em; font-size: .9em; }
.swatch { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: -1px; }
figure { margin: .5em 0 1.2em; }
article.account, article.spike { margin-bottom: 1.2em; }
@media print {
  body { max-width: none; font-size: 10pt; margin: 0; }
  table.sortable th::after { content: ""; }
  tr, figure, article { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  details > *:not(summary) { display: block; }
}
"#;

/// Sorts a table by the clicked column: numbers as numbers, the rest as text;
/// a second click reverses.
const SORT_SCRIPT: &str = r#"
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var descending = th.dataset.order !== "desc";
    th.parentNode.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = descending ? "desc" : "asc";
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (row) { return row.cells[column].textContent.trim(); };
    var numeric = rows.every(function (row) { return key(row) === "" || !isNaN(Number(key(row))); });
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_break_between_their_parts() {
        assert_eq!(
            breakable("project.tasks.status.update").into_string(),
            "project.<wbr>tasks.<wbr>status.<wbr>update"
        );
        assert_eq!(breakable("<b>").into_string(), "&lt;b&gt;");
    }

    #[test]
    fn names_are_escaped_and_section_ids_are_distinct() {
        assert_eq!(
            section_id("system:serviceaccount:ci/<x>"),
            "p-system_3a_serviceaccount_3a_ci_2f__3c_x_3e_"
        );
        let ids: std::collections::BTreeSet<String> = [
            "svc.a", "svc_a", "svc__a", "svc_2e_a", "svc-a", "svc a", "Svc.a", "svc.é",
        ]
        .into_iter()
        .map(section_id)
        .collect();
        assert_eq!(ids.len(), 8, "{ids:?}");
        let markup = html! { td { ("<script>alert(1)</script>") } }.into_string();
        assert_eq!(markup, "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>");
        assert_eq!(bucket_text(300), "5 minutes");
        assert_eq!(bucket_text(3600), "1 hour(s)");
        assert_eq!(joined_once(["a", "b", "a"].into_iter()), "a, b");
    }
}
