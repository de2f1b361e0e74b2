//! The nightly diff: this report against a previous one. Each signature and each
//! (principal, missing permission) is new, persisting or resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Report, SCHEMA_VERSION};

/// The comparison with the previous report.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct BaselineDiff {
    pub signatures: Diff<String>,
    /// Signatures of the previous report that no longer occur, as it described them.
    pub resolved_signatures: Vec<Value>,
    pub principal_permissions: Diff<PrincipalPermission>,
}

/// What is new, what persists and what is gone.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Diff<T> {
    pub new: Vec<T>,
    pub persisting: Vec<T>,
    pub resolved: Vec<T>,
}

impl<T> Default for Diff<T> {
    fn default() -> Self {
        Diff {
            new: vec![],
            persisting: vec![],
            resolved: vec![],
        }
    }
}

impl<T: Ord + Clone> Diff<T> {
    fn of(now: &BTreeSet<T>, before: &BTreeSet<T>) -> Self {
        Diff {
            new: now.difference(before).cloned().collect(),
            persisting: now.intersection(before).cloned().collect(),
            resolved: before.difference(now).cloned().collect(),
        }
    }
}

/// A principal and a permission it was missing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct PrincipalPermission {
    pub principal: String,
    pub permission: String,
}

impl BaselineDiff {
    /// Whether anything is new: what a nightly job alerts on.
    pub fn has_new(&self) -> bool {
        !self.signatures.new.is_empty() || !self.principal_permissions.new.is_empty()
    }
}

fn pairs_of(principals: &[Value]) -> BTreeSet<PrincipalPermission> {
    principals
        .iter()
        .flat_map(|p| {
            let principal = p["principal"].as_str().unwrap_or_default().to_string();
            p["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |f| {
                    Some(PrincipalPermission {
                        principal: principal.clone(),
                        permission: f["permission"].as_str()?.to_string(),
                    })
                })
        })
        .collect()
}

/// A previous JSON report, read and checked before the run, so a bad
/// `--baseline` stops it before anything is written.
pub struct Previous(Value);

impl Previous {
    /// Reads a previous JSON report.
    pub fn load(previous: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(previous)
            .with_context(|| format!("cannot read the baseline {}", previous.display()))?;
        let before: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "the baseline {} is not JSON: give a report written with --format json",
                previous.display()
            )
        })?;
        if before["schema_version"].as_u64() != Some(u64::from(SCHEMA_VERSION)) {
            bail!(
                "the baseline {} is not a grantgap JSON report of schema_version {SCHEMA_VERSION}: give a report written with --format json",
                previous.display()
            );
        }
        Ok(Previous(before))
    }
}

/// Keeps only what `apply` marked new: the findings and signatures a nightly
/// job alerts on; principals left without a finding are dropped.
pub fn keep_only_new(report: &mut Report) {
    for p in &mut report.principals {
        p.findings.retain(|f| f.baseline == Some("new"));
    }
    report.principals.retain(|p| !p.findings.is_empty());
    report.signatures.retain(|s| s.baseline == Some("new"));
}

/// Compares with a previous report and marks each current signature and each
/// finding with a permission.
pub fn apply(report: &mut Report, previous: &Previous) -> Result<()> {
    let before = &previous.0;
    let before_signatures: BTreeMap<String, &Value> = before["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["id"].as_str()?.to_string(), s)))
        .collect();
    let ids_before: BTreeSet<String> = before_signatures.keys().cloned().collect();
    let ids_now: BTreeSet<String> = report.signatures.iter().map(|s| s.id.clone()).collect();
    let now_principals =
        serde_json::to_value(&report.principals).context("cannot compare the report")?;
    let pairs_now = pairs_of(
        now_principals
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    let pairs_before = pairs_of(
        before["principals"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );

    let signatures = Diff::of(&ids_now, &ids_before);
    for p in &mut report.principals {
        for f in &mut p.findings {
            f.baseline = f.permission.as_ref().map(|permission| {
                let pair = PrincipalPermission {
                    principal: p.principal.clone(),
                    permission: permission.clone(),
                };
                if pairs_before.contains(&pair) {
                    "persisting"
                } else {
                    "new"
                }
            });
        }
    }
    for s in &mut report.signatures {
        s.baseline = Some(if ids_before.contains(&s.id) {
            "persisting"
        } else {
            "new"
        });
    }
    let resolved_signatures = signatures
        .resolved
        .iter()
        .filter_map(|id| before_signatures.get(id).map(|v| (*v).clone()))
        .collect();
    report.baseline = Some(BaselineDiff {
        signatures,
        resolved_signatures,
        principal_permissions: Diff::of(&pairs_now, &pairs_before),
    });
    Ok(())
}
