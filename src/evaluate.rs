//! `grantgap eval`: grantgap's diagnoses scored against a truth file.
//!
//! Two measures. Per cause, over denied requests: precision (of the requests
//! diagnosed with the cause, how many truly have it) and recall (of the requests
//! that truly have it, how many were diagnosed with it). Over (principal,
//! permission to grant) pairs: whether the report asks for exactly the grants the
//! truth needs. A request grantgap never counted as a denial counts against
//! recall; a denial the truth does not know counts against precision.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::diagnose::{Cause, Diagnosed};
use crate::model::intern::Shared;

/// One line of the truth file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TruthRow {
    pub request_id: String,
    pub principal: String,
    pub cause: String,
    #[serde(default)]
    pub missing: Vec<String>,
}

/// Reads a truth file (JSON Lines, as `grantgap generate` writes it).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the truth file {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: TruthRow = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: not a truth record (request_id, principal, cause, missing)",
                path.display(),
                n + 1
            )
        })?;
        if !Cause::ALL.iter().any(|c| c.name() == row.cause) {
            bail!(
                "{}:{}: unknown cause {:?}",
                path.display(),
                n + 1,
                row.cause
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

/// One line of a fixes file: the existing roles (policies) a principal needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FixRow {
    pub principal: String,
    pub grant_roles: Vec<String>,
}

/// Reads a fixes file (JSON Lines, as `grantgap generate --platform aws` writes it).
pub fn read_fixes(path: &Path) -> Result<Vec<FixRow>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the fixes file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "{}:{}: not a fix record (principal, grant_roles)",
                    path.display(),
                    n + 1
                )
            })
        })
        .collect()
}

/// Over principals: of those proposed roles, how many got exactly the true
/// set (precision), and of those needing roles, how many got them (recall).
pub fn score_fixes<'a>(
    truth: &[FixRow],
    proposed: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Score {
    let wanted: BTreeMap<&str, BTreeSet<&str>> = truth
        .iter()
        .map(|r| {
            let roles = r.grant_roles.iter().map(String::as_str).collect();
            (r.principal.as_str(), roles)
        })
        .collect();
    let (mut predicted, mut correct) = (0, 0);
    for (principal, roles) in proposed {
        if roles.is_empty() {
            continue;
        }
        predicted += 1;
        let roles: BTreeSet<&str> = roles.iter().map(String::as_str).collect();
        if wanted.get(principal) == Some(&roles) {
            correct += 1;
        }
    }
    Score::new(wanted.len() as u64, predicted, correct)
}

/// Precision and recall of one class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    /// How many the truth holds.
    pub truth: u64,
    /// How many grantgap reported.
    pub predicted: u64,
    /// How many of those agree.
    pub correct: u64,
    pub precision: f64,
    pub recall: f64,
}

impl Score {
    fn new(truth: u64, predicted: u64, correct: u64) -> Score {
        let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        Score {
            truth,
            predicted,
            correct,
            precision: ratio(correct, predicted),
            recall: ratio(correct, truth),
        }
    }
}

/// The (principal, permission) pairs one side holds and the other does not,
/// counted by the cause that asked for them, with the first few of each cause:
/// where the pairs go wrong says what to look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GrantMisses {
    /// In the truth, not proposed: by the truth's cause.
    pub not_proposed: Vec<MissedGrants>,
    /// Proposed, not in the truth: by the diagnosed cause.
    pub not_needed: Vec<MissedGrants>,
}

/// The missed pairs of one cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MissedGrants {
    pub cause: String,
    pub count: u64,
    /// The first pairs, `principal permission`, sorted.
    pub examples: Vec<String>,
}

impl GrantMisses {
    const EXAMPLES: usize = 3;

    fn between(
        truth: &BTreeMap<(&str, &str), &str>,
        predicted: &BTreeMap<(&str, &str), &str>,
    ) -> Self {
        let missing_from = |one: &BTreeMap<(&str, &str), &str>,
                            other: &BTreeMap<(&str, &str), &str>| {
            let mut by_cause: BTreeMap<&str, MissedGrants> = BTreeMap::new();
            for ((principal, permission), cause) in one {
                if other.contains_key(&(*principal, *permission)) {
                    continue;
                }
                let missed = by_cause.entry(cause).or_insert_with(|| MissedGrants {
                    cause: cause.to_string(),
                    ..Default::default()
                });
                missed.count += 1;
                if missed.examples.len() < Self::EXAMPLES {
                    missed.examples.push(format!("{principal} {permission}"));
                }
            }
            let mut missed: Vec<MissedGrants> = by_cause.into_values().collect();
            missed.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
            missed
        };
        GrantMisses {
            not_proposed: missing_from(truth, predicted),
            not_needed: missing_from(predicted, truth),
        }
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Per cause, over denied requests.
    pub causes: BTreeMap<String, Score>,
    /// Over (principal, permission to grant) pairs.
    pub grants: Score,
    /// The (principal, grant) pairs wrong either way, by cause.
    pub grant_misses: GrantMisses,
    /// Denied requests in the truth that grantgap did not count as denials.
    pub unseen: u64,
    /// Denials grantgap counted that the truth does not hold.
    pub unexpected: u64,
    /// Which wrong answers occurred, most frequent first: (truth, predicted, count).
    pub confusions: Vec<(String, String, u64)>,
    /// Over principals, the existing roles proposed (`eval --fixes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixes: Option<Score>,
    /// The tables left out of the run (`eval --withhold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
}

/// What one partition's diagnoses say of each request and principal: a request's
/// cause by its id, and the (principal, permission) pairs to grant. Owned, as
/// the partition's diagnoses are dropped once it is clustered.
#[derive(Debug, Default)]
pub struct Predictions {
    causes: Vec<(CompactString, Cause)>,
    grants: Vec<(Shared<str>, String, Cause)>,
}

impl Predictions {
    /// The predictions of one partition (diagnoses made with every request id kept).
    pub fn of(diagnosed: &Diagnosed) -> Self {
        let mut out = Predictions::default();
        for d in &diagnosed.diagnoses {
            for sample in &d.denial.group.samples {
                if let Some(id) = &sample.request_id {
                    out.causes.push((id.clone(), d.cause));
                }
            }
            for perm in d.missing.iter() {
                out.grants
                    .push((d.denial.key.principal.clone(), perm.clone(), d.cause));
            }
        }
        out
    }
}

/// Scores every partition's predictions against the truth.
pub fn evaluate(truth: &[TruthRow], partitions: &[Predictions]) -> Evaluation {
    let mut predicted: HashMap<&str, Cause> = HashMap::new();
    // Each pair with the cause of the first diagnosis (or truth row) that asks for it.
    let mut predicted_grants: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for p in partitions {
        for (id, cause) in &p.causes {
            predicted.insert(id.as_str(), *cause);
        }
        for (principal, perm, cause) in &p.grants {
            predicted_grants
                .entry((principal, perm.as_str()))
                .or_insert(cause.name());
        }
    }
    let mut true_grants: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for r in truth {
        for m in &r.missing {
            true_grants
                .entry((r.principal.as_str(), m.as_str()))
                .or_insert(r.cause.as_str());
        }
    }
    let grant_misses = GrantMisses::between(&true_grants, &predicted_grants);

    let mut counts: BTreeMap<&str, (u64, u64, u64)> =
        Cause::ALL.iter().map(|c| (c.name(), (0, 0, 0))).collect();
    let mut confusions: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut unseen = 0;
    let known: HashSet<&str> = truth.iter().map(|r| r.request_id.as_str()).collect();
    for row in truth {
        let entry = counts.entry(row.cause.as_str()).or_default();
        entry.0 += 1;
        match predicted.get(row.request_id.as_str()) {
            Some(cause) => {
                counts.entry(cause.name()).or_default().1 += 1;
                if cause.name() == row.cause {
                    counts.entry(cause.name()).or_default().2 += 1;
                } else {
                    *confusions
                        .entry((row.cause.clone(), cause.name().to_string()))
                        .or_default() += 1;
                }
            }
            None => {
                unseen += 1;
                *confusions
                    .entry((row.cause.clone(), "(not a denial)".into()))
                    .or_default() += 1;
            }
        }
    }
    let mut unexpected = 0;
    for (id, cause) in &predicted {
        if !known.contains(id) {
            unexpected += 1;
            counts.entry(cause.name()).or_default().1 += 1;
            *confusions
                .entry(("(not in truth)".into(), cause.name().to_string()))
                .or_default() += 1;
        }
    }
    let mut confusions: Vec<(String, String, u64)> = confusions
        .into_iter()
        .map(|((t, p), n)| (t, p, n))
        .collect();
    confusions.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    Evaluation {
        causes: counts
            .into_iter()
            .map(|(c, (t, p, ok))| (c.to_string(), Score::new(t, p, ok)))
            .collect(),
        grants: Score::new(
            true_grants.len() as u64,
            predicted_grants.len() as u64,
            true_grants
                .keys()
                .filter(|k| predicted_grants.contains_key(*k))
                .count() as u64,
        ),
        grant_misses,
        unseen,
        unexpected,
        confusions,
        fixes: None,
        withheld: Vec::new(),
    }
}

impl Evaluation {
    /// Whether every cause present in the truth and the grants reach `floor`.
    pub fn meets(&self, floor: f64) -> bool {
        self.causes
            .values()
            .filter(|s| s.truth > 0 || s.predicted > 0)
            .chain(std::iter::once(&self.grants))
            .chain(self.fixes.as_ref())
            .all(|s| s.precision >= floor && s.recall >= floor)
    }

    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        if !self.withheld.is_empty() {
            out.push_str(&format!("without: {}\n", self.withheld.join(", ")));
        }
        out += &format!(
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "CAUSE", "TRUTH", "DIAGNOSED", "CORRECT", "PRECISION", "RECALL"
        );
        let line = |name: &str, s: &Score| {
            format!(
                "{:<22} {:>9} {:>9} {:>9} {:>8.2}% {:>8.2}%\n",
                name,
                s.truth,
                s.predicted,
                s.correct,
                s.precision * 100.0,
                s.recall * 100.0
            )
        };
        for (cause, score) in &self.causes {
            out.push_str(&line(cause, score));
        }
        out.push_str(&line("(principal, grant)", &self.grants));
        if let Some(fixes) = &self.fixes {
            out.push_str(&line("(principal, roles)", fixes));
        }
        out.push_str(&format!(
            "denials in the truth not counted: {}; denials counted not in the truth: {}\n",
            self.unseen, self.unexpected
        ));
        for (truth, predicted, n) in self.confusions.iter().take(10) {
            out.push_str(&format!("  {n:>7} {truth} diagnosed as {predicted}\n"));
        }
        let misses = [
            (
                "grants needed for",
                "not proposed",
                &self.grant_misses.not_proposed,
            ),
            (
                "grants proposed for",
                "not needed",
                &self.grant_misses.not_needed,
            ),
        ];
        for (what, side, missed) in misses {
            for m in missed {
                out.push_str(&format!(
                    "  {:>7} {what} {} {side}, e.g. {}\n",
                    m.count,
                    m.cause,
                    m.examples.join("; ")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_wrong_answers_on_both_sides() {
        let s = Score::new(10, 8, 6);
        assert_eq!((s.precision, s.recall), (0.75, 0.6));
        let empty = Score::new(0, 0, 0);
        assert_eq!((empty.precision, empty.recall), (1.0, 1.0));
    }
}
