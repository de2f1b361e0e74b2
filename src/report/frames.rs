//! The report as tables (polars DataFrames): what `--export` writes for a data
//! lake and what `grantgap query` runs SQL over.
//!
//! | table | one row per |
//! | --- | --- |
//! | `events` | used event (only when asked: it grows with the input) |
//! | `denials` | diagnosed denial group: requests alike in everything a diagnosis reads |
//! | `diagnoses` | finding: a principal's denials with one cause and missing permission |
//! | `principals` | principal with denials: the per-principal summary |
//! | `signatures` | failure signature |
//! | `grants` | (principal, permission) granted during the period, used or not |
//! | `tokens`, `role_snapshots` | row of those inputs |
//! | `roles` | (role, permission) of a role definition |
//!
//! Times are `Datetime[ms]` in UTC; lists are strings (scopes joined by spaces
//! as OAuth writes them, other lists by `, `), so every table also fits a CSV.

use anyhow::{Context, Result};
use polars::prelude::{Column, DataFrame, DataType, IntoColumn, NamedFrom, Series, TimeUnit};

use super::{joined_once, Partition, Report};
use crate::diagnose::Diagnosis;
use crate::ingest::{EventRow, Ingested};
use crate::model::{DenialGroup, DenialKey, DeniedObject, Millis, UNKNOWN_TIME};

/// Named tables, in the order of the module's list.
pub struct Frames {
    pub tables: Vec<(&'static str, DataFrame)>,
}

impl Frames {
    /// The table called `name`.
    pub fn get(&self, name: &str) -> Option<&DataFrame> {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, df)| df)
    }
}

/// Tables written by `--export`: the findings, not the inputs.
pub const EXPORTED: [&str; 5] = ["denials", "diagnoses", "principals", "signatures", "grants"];

/// One partition's denial groups as diagnosed, one row per group and object (a
/// group whose requests name no object has one row, with no `object_id`), with
/// each group's signature and suppression; [`stacked`] puts the partitions'
/// rows together.
pub fn denials(partition: &Partition) -> Result<DataFrame> {
    let diagnosed = partition.diagnosed;
    let rows: Vec<(usize, Option<&DeniedObject>)> = diagnosed
        .diagnoses
        .iter()
        .enumerate()
        .flat_map(|(i, x)| {
            let objects = &x.denial.group.objects;
            let none = objects.is_empty().then_some((i, None));
            objects.iter().map(move |o| (i, Some(o))).chain(none)
        })
        .collect();
    let d = |i: usize| &diagnosed.diagnoses[i];
    let each = |f: &dyn Fn(&Diagnosis) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|(i, _)| f(d(*i))).collect()
    };
    let key = |f: fn(&DenialKey) -> Option<String>| each(&|x| f(x.denial.key));
    // Counts and time span are the object's where there is one, else the group's.
    let tally = |f: fn(&DeniedObject) -> i64, g: fn(&DenialGroup) -> i64| -> Vec<i64> {
        rows.iter()
            .map(|(i, o)| o.map_or_else(|| g(d(*i).denial.group), f))
            .collect()
    };
    let columns = vec![
        text(
            "signature",
            rows.iter()
                .map(|(i, _)| Some(partition.signature_ids[*i].to_string()))
                .collect(),
        ),
        text("principal", key(|k| Some(k.principal.to_string()))),
        text("method", key(|k| Some(k.method.to_string()))),
        text("endpoint", key(|k| Some(k.template.to_string()))),
        text("org", key(|k| k.org.as_deref().map(str::to_string))),
        text(
            "object_id",
            rows.iter()
                .map(|(_, o)| o.map(|o| o.id.to_string()))
                .collect(),
        ),
        text(
            "token_id",
            key(|k| k.token_id.as_deref().map(str::to_string)),
        ),
        text("scopes", each(&|x| x.denial.scopes.map(|s| s.join(" ")))),
        text("fields", key(|k| Some(k.fields.join(", ")))),
        int(
            "status",
            rows.iter()
                .map(|(i, _)| i64::from(d(*i).denial.key.status))
                .collect(),
        ),
        text(
            "error_code",
            key(|k| k.error_code.as_deref().map(str::to_string)),
        ),
        text("message", key(|k| k.message.as_deref().map(str::to_string))),
        flag(
            "after_token_expiry",
            rows.iter()
                .map(|(i, _)| d(*i).denial.key.after_token_expiry)
                .collect(),
        ),
        int("count", tally(|o| o.count as i64, |g| g.count as i64)),
        time(
            "first_seen",
            tally(|o| o.first_ts, |g| g.first_ts)
                .into_iter()
                .map(known)
                .collect(),
        )?,
        time(
            "last_seen",
            tally(|o| o.last_ts, |g| g.last_ts)
                .into_iter()
                .map(known)
                .collect(),
        )?,
        text("cause", each(&|x| Some(x.cause.name().to_string()))),
        text("required", each(&|x| Some(x.required.join(", ")))),
        text("missing", each(&|x| Some(x.missing.join(", ")))),
        text(
            "required_by",
            each(&|x| x.source.map(|s| s.name().to_string())),
        ),
        text(
            "confidence",
            each(&|x| Some(super::level_name(x.confidence.level).to_string())),
        ),
        time(
            "snapshot_at",
            rows.iter().map(|(i, _)| d(*i).denial.snapshot_at).collect(),
        )?,
        flag(
            "suppressed",
            rows.iter().map(|(i, _)| partition.hidden[*i]).collect(),
        ),
        text("note", each(&|x| x.note.as_deref().map(str::to_string))),
    ];
    let mut df = frame(rows.len(), columns)?;
    with_date(&mut df, "first_seen")?;
    Ok(df)
}

/// The partitions' [`denials`] tables as one, in partition order.
pub fn stacked(partitions: Vec<DataFrame>) -> Result<DataFrame> {
    let mut parts = partitions.into_iter();
    let mut all = parts.next().context("a run has at least one partition")?;
    for part in parts {
        all.vstack_mut_owned(part)?;
    }
    all.rechunk_mut();
    Ok(all)
}

impl Frames {
    /// Every table of a run: `denials` from [`denials`], the rest from the report
    /// and the inputs; `events` when ingest kept them.
    pub fn new(ingested: &Ingested, denials: DataFrame, report: &Report) -> Result<Self> {
        let mut tables = Vec::new();
        if let Some(rows) = &ingested.events.rows {
            tables.push(("events", events(rows)?));
        }
        tables.push(("denials", denials));
        tables.push(("diagnoses", diagnoses(report)?));
        tables.push(("principals", principals(report)?));
        tables.push(("signatures", signatures(report)?));
        tables.push(("grants", grants(report)?));
        tables.push(("tokens", tokens(ingested)?));
        tables.push(("role_snapshots", role_snapshots(ingested)?));
        tables.push(("roles", roles(ingested)?));
        Ok(Frames { tables })
    }
}

fn events(rows: &[EventRow]) -> Result<DataFrame> {
    let col = |f: fn(&EventRow) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    };
    frame(
        rows.len(),
        vec![
            time("ts", rows.iter().map(|r| known(r.ts)).collect())?,
            text("principal", col(|r| Some(r.principal.clone()))),
            text("token_id", col(|r| r.token_id.clone())),
            text("scopes", col(|r| r.scopes.as_ref().map(|s| s.join(" ")))),
            text("method", col(|r| Some(r.method.clone()))),
            text("path", col(|r| Some(r.path.clone()))),
            text("endpoint", col(|r| Some(r.endpoint.clone()))),
            int("status", rows.iter().map(|r| i64::from(r.status)).collect()),
            text("error_code", col(|r| r.error_code.clone())),
            text("object_id", col(|r| r.object_id.clone())),
            text("org", col(|r| r.org.clone())),
            text("request_id", col(|r| r.request_id.clone())),
        ],
    )
}

fn diagnoses(report: &Report) -> Result<DataFrame> {
    let rows: Vec<_> = report
        .principals
        .iter()
        .flat_map(|p| p.findings.iter().map(move |f| (p, f)))
        .collect();
    let col = |f: &dyn Fn(
        &(&crate::cluster::PrincipalFindings, &crate::cluster::Finding),
    ) -> Option<String>| { rows.iter().map(f).collect::<Vec<_>>() };
    let mut df = frame(
        rows.len(),
        vec![
            text("principal", col(&|(p, _)| Some(p.principal.clone()))),
            text("cause", col(&|(_, f)| Some(f.cause.name().to_string()))),
            text("permission", col(&|(_, f)| f.permission.clone())),
            int("count", rows.iter().map(|(_, f)| f.count as i64).collect()),
            time(
                "first_seen",
                rows.iter().map(|(_, f)| parse(&f.first_seen)).collect(),
            )?,
            time(
                "last_seen",
                rows.iter().map(|(_, f)| parse(&f.last_seen)).collect(),
            )?,
            text("endpoints", col(&|(_, f)| Some(f.endpoints.join(", ")))),
            text(
                "required_by",
                col(&|(_, f)| f.required_by.map(|s| s.name().to_string())),
            ),
            text(
                "confidence",
                col(&|(_, f)| Some(super::level_name(f.confidence.level).to_string())),
            ),
            text(
                "confidence_rule",
                col(&|(_, f)| Some(f.confidence.rule.to_string())),
            ),
            text("fix", col(&|(_, f)| Some(f.fix.clone()))),
            text("note", col(&|(_, f)| f.note.clone())),
            text(
                "objects",
                col(&|(_, f)| Some(f.evidence.objects.join(", "))),
            ),
            text("orgs", col(&|(_, f)| Some(f.evidence.orgs.join(", ")))),
            text(
                "denied_by",
                col(&|(_, f)| {
                    let named: Vec<String> = f
                        .evidence
                        .denied_by
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    Some(named.join(", "))
                }),
            ),
            text(
                "requests",
                col(&|(_, f)| Some(f.evidence.requests.join(", "))),
            ),
        ],
    )?;
    with_date(&mut df, "first_seen")?;
    Ok(df)
}

fn principals(report: &Report) -> Result<DataFrame> {
    let p = &report.principals;
    let unused = |name: &str| {
        report
            .least_privilege
            .iter()
            .find(|g| g.principal == name)
            .map(|g| g.unused.join(", "))
    };
    frame(
        p.len(),
        vec![
            text(
                "principal",
                p.iter().map(|x| Some(x.principal.clone())).collect(),
            ),
            int("denied", p.iter().map(|x| x.denied as i64).collect()),
            time(
                "first_seen",
                p.iter().map(|x| parse(&x.first_seen)).collect(),
            )?,
            time("last_seen", p.iter().map(|x| parse(&x.last_seen)).collect())?,
            text(
                "roles_held",
                p.iter().map(|x| Some(x.roles_held.join(", "))).collect(),
            ),
            int(
                "findings",
                p.iter().map(|x| x.findings.len() as i64).collect(),
            ),
            text(
                "missing",
                p.iter()
                    .map(|x| {
                        Some(joined_once(
                            x.findings.iter().filter_map(|f| f.permission.as_deref()),
                        ))
                    })
                    .collect(),
            ),
            text(
                "grant_roles",
                p.iter()
                    .map(|x| Some(x.fix.grant_roles.join(", ")))
                    .collect(),
            ),
            text(
                "no_role_grants",
                p.iter()
                    .map(|x| Some(x.fix.no_role_grants.join(", ")))
                    .collect(),
            ),
            text(
                "unused_grants",
                p.iter().map(|x| unused(&x.principal)).collect(),
            ),
        ],
    )
}

fn signatures(report: &Report) -> Result<DataFrame> {
    let s = &report.signatures;
    let mut df = frame(
        s.len(),
        vec![
            text("id", s.iter().map(|x| Some(x.id.clone())).collect()),
            text(
                "cause",
                s.iter().map(|x| Some(x.cause.name().to_string())).collect(),
            ),
            text("method", s.iter().map(|x| Some(x.method.clone())).collect()),
            text(
                "endpoint",
                s.iter().map(|x| Some(x.endpoint.clone())).collect(),
            ),
            int("status", s.iter().map(|x| i64::from(x.status)).collect()),
            text(
                "error_code",
                s.iter().map(|x| x.error_code.clone()).collect(),
            ),
            text(
                "missing",
                s.iter().map(|x| Some(x.missing.join(", "))).collect(),
            ),
            text(
                "message_template",
                s.iter().map(|x| x.message_template.clone()).collect(),
            ),
            int("count", s.iter().map(|x| x.count as i64).collect()),
            int(
                "principals",
                s.iter().map(|x| x.principals_total as i64).collect(),
            ),
            time(
                "first_seen",
                s.iter().map(|x| parse(&x.first_seen)).collect(),
            )?,
            time("last_seen", s.iter().map(|x| parse(&x.last_seen)).collect())?,
            text(
                "baseline",
                s.iter().map(|x| x.baseline.map(str::to_string)).collect(),
            ),
        ],
    )?;
    with_date(&mut df, "first_seen")?;
    Ok(df)
}

fn grants(report: &Report) -> Result<DataFrame> {
    let rows: Vec<(&str, &str, u64, bool)> = report
        .least_privilege
        .iter()
        .flat_map(|g| {
            g.granted.iter().map(move |p| {
                let uses = g.used.get(p).copied().unwrap_or(0);
                (g.principal.as_str(), p.as_str(), uses, g.complete)
            })
        })
        .collect();
    frame(
        rows.len(),
        vec![
            text(
                "principal",
                rows.iter().map(|r| Some(r.0.to_string())).collect(),
            ),
            text(
                "permission",
                rows.iter().map(|r| Some(r.1.to_string())).collect(),
            ),
            int("requests", rows.iter().map(|r| r.2 as i64).collect()),
            flag("used", rows.iter().map(|r| r.2 > 0).collect()),
            flag("proven", rows.iter().map(|r| r.3).collect()),
        ],
    )
}

fn tokens(ingested: &Ingested) -> Result<DataFrame> {
    let t = &ingested.tokens;
    frame(
        t.len(),
        vec![
            text(
                "token_id",
                t.iter().map(|x| Some(x.token_id.clone())).collect(),
            ),
            text(
                "principal",
                t.iter().map(|x| Some(x.principal.clone())).collect(),
            ),
            text(
                "scopes",
                t.iter().map(|x| Some(x.scopes.join(" "))).collect(),
            ),
            time("issued_at", t.iter().map(|x| known(x.issued_at)).collect())?,
            time(
                "expires_at",
                t.iter().map(|x| x.expires_at.and_then(known)).collect(),
            )?,
        ],
    )
}

fn role_snapshots(ingested: &Ingested) -> Result<DataFrame> {
    let b = &ingested.bindings;
    frame(
        b.len(),
        vec![
            time(
                "snapshot_at",
                b.iter().map(|x| known(x.snapshot_at)).collect(),
            )?,
            text(
                "principal",
                b.iter().map(|x| Some(x.principal.clone())).collect(),
            ),
            text("role", b.iter().map(|x| Some(x.role.clone())).collect()),
            text(
                "data_scope",
                b.iter()
                    .map(|x| x.data_scope.as_ref().map(|s| s.join(", ")))
                    .collect(),
            ),
        ],
    )
}

fn roles(ingested: &Ingested) -> Result<DataFrame> {
    // A role without permissions of its own (it only inherits) still gets a row.
    let rows: Vec<(&crate::model::RoleDef, Option<&str>)> = ingested
        .roles
        .iter()
        .flat_map(|r| {
            let own: Vec<Option<&str>> = if r.permissions.is_empty() {
                vec![None]
            } else {
                r.permissions.iter().map(|p| Some(p.as_str())).collect()
            };
            own.into_iter().map(move |p| (r, p))
        })
        .collect();
    frame(
        rows.len(),
        vec![
            text(
                "role",
                rows.iter().map(|(r, _)| Some(r.role.clone())).collect(),
            ),
            text(
                "permission",
                rows.iter().map(|(_, p)| p.map(str::to_string)).collect(),
            ),
            text(
                "inherits",
                rows.iter()
                    .map(|(r, _)| Some(r.inherits.join(", ")))
                    .collect(),
            ),
            text(
                "plane",
                rows.iter().map(|(r, _)| Some(r.plane.clone())).collect(),
            ),
            time(
                "defined_at",
                rows.iter().map(|(r, _)| r.defined_at).collect(),
            )?,
        ],
    )
}

fn frame(height: usize, columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new(height, columns).context("cannot build a table of the report")
}

fn text(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name.into(), values)
}

fn int(name: &str, values: Vec<i64>) -> Column {
    Column::new(name.into(), values)
}

fn flag(name: &str, values: Vec<bool>) -> Column {
    Column::new(name.into(), values)
}

/// Milliseconds since the epoch as a UTC `Datetime[ms]` column.
fn time(name: &str, values: Vec<Option<Millis>>) -> Result<Column> {
    let series = Series::new(name.into(), values)
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        .context("cannot build a time column")?;
    Ok(series.into_column())
}

/// Adds a `date` column (the UTC day of `from`), the key `--partition-by-date` cuts by.
fn with_date(df: &mut DataFrame, from: &str) -> Result<()> {
    let date = df
        .column(from)?
        .cast(&DataType::Date)
        .context("cannot derive the date column")?
        .with_name("date".into());
    df.with_column(date)?;
    Ok(())
}

fn known(ms: Millis) -> Option<Millis> {
    (ms != UNKNOWN_TIME).then_some(ms)
}

fn parse(text: &str) -> Option<Millis> {
    crate::model::time::parse(text).ok()
}
