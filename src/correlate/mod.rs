//! Stage 2, correlate: denial groups in, [`Correlation`] out.
//!
//! Each denial group is joined, with polars, to the role snapshot in effect at its
//! time (as-of: the principal's latest snapshot at or before the requests) and to
//! its token; the roles held are then expanded through inheritance.
//!
//! The groups come a partition of principals at a time
//! ([`crate::ingest::fold::spill::DenialPartitions`]): what the later stages make of
//! a group is kept only until its partition is clustered, so a run holds one
//! partition's groups, correlations and diagnoses, not every group's. What all
//! partitions share is made once ([`Reference`]).

pub mod history;
pub mod roles;

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use polars::prelude::*;

use self::history::{GrantHistory, Snapshot};
use self::roles::RoleGraph;
use crate::ingest::Ingested;
use crate::model::{DenialGroup, DenialKey, Millis, RoleBinding, Token};

/// A denial group with what was in effect when it happened.
#[derive(Debug)]
pub struct CorrelatedDenial<'a> {
    pub key: &'a DenialKey,
    pub group: &'a DenialGroup,
    /// The instant of the role snapshot in effect, if any snapshot precedes the requests.
    pub snapshot_at: Option<Millis>,
    /// The token the requests carried, when the tokens table knows it.
    pub token: Option<&'a Token>,
    /// The scopes the requests carried: inline in the log, else the token's.
    pub scopes: Option<&'a [String]>,
}

impl CorrelatedDenial<'_> {
    /// When the requests' token was issued: as the tokens table says, else as
    /// the log does.
    pub fn token_issued_at(&self) -> Option<Millis> {
        self.token.map(|t| t.issued_at).or(self.key.token_issued_at)
    }

    /// When the requests' token expires, as the tokens table says.
    pub fn token_expires_at(&self) -> Option<Millis> {
        self.token.and_then(|t| t.expires_at)
    }
}

/// What every partition of denial groups is correlated against, made once per
/// run: the role graph, each principal's snapshot history, and the right-hand
/// sides of the two joins.
pub struct Reference<'a> {
    pub graph: RoleGraph,
    pub history: GrantHistory,
    /// The window ingest cut the denial groups at ([`Ingested::propagation_window`]).
    propagation_window: Millis,
    tokens: &'a [Token],
    /// (principal, snapshot_at), sorted by instant; none without snapshots.
    snapshots: Option<DataFrame>,
    /// (token_id, token_row): each token id's latest issue; none without tokens.
    token_rows: Option<DataFrame>,
}

impl<'a> Reference<'a> {
    /// Problems in the role definitions that do not stop the report.
    pub fn warnings(&self) -> Vec<String> {
        self.graph
            .cycles()
            .into_iter()
            .map(|cycle| {
                format!(
                    "role inheritance cycle: {} -> {}",
                    cycle.join(" -> "),
                    cycle[0]
                )
            })
            .collect()
    }

    /// The role graph, the histories and the join tables of the run's inputs.
    pub fn new(ingested: &'a Ingested) -> Result<Self> {
        let graph = RoleGraph::new(&ingested.roles);
        let history = GrantHistory::new(&ingested.bindings, &graph);
        Ok(Reference {
            graph,
            history,
            propagation_window: ingested.propagation_window,
            tokens: &ingested.tokens,
            snapshots: snapshot_instants(&ingested.bindings)?,
            token_rows: latest_tokens(&ingested.tokens)?,
        })
    }
}

/// Correlation's output for one partition of principals: each of their denial
/// groups in context, with the run's role graph and snapshot histories.
#[derive(Debug)]
pub struct Correlation<'a> {
    pub denials: Vec<CorrelatedDenial<'a>>,
    pub graph: &'a RoleGraph,
    pub history: &'a GrantHistory,
    /// How long after a grant a denial is taken for permission sync.
    pub propagation_window: Millis,
}

impl Correlation<'_> {
    /// The snapshot a denial was judged by.
    pub fn snapshot(&self, denial: &CorrelatedDenial) -> Option<&Snapshot> {
        self.history.at(&denial.key.principal, denial.snapshot_at?)
    }
}

/// Joins every denial group of `groups` (one partition of principals, in key
/// order) to its snapshot and token.
pub fn correlate<'a>(
    reference: &'a Reference<'a>,
    groups: &[(&'a DenialKey, &'a DenialGroup)],
) -> Result<Correlation<'a>> {
    let snapshot_of = as_of_snapshots(groups, reference.snapshots.as_ref())?;
    let token_of = token_rows(groups, reference.token_rows.as_ref())?;
    let denials = groups
        .iter()
        .enumerate()
        .map(|(i, (key, group))| {
            let token = token_of[i].map(|row| &reference.tokens[row]);
            CorrelatedDenial {
                key,
                group,
                snapshot_at: snapshot_of[i],
                token,
                scopes: key
                    .scopes
                    .as_deref()
                    .or_else(|| token.map(|t| t.scopes.as_slice())),
            }
        })
        .collect();
    Ok(Correlation {
        denials,
        graph: &reference.graph,
        history: &reference.history,
        propagation_window: reference.propagation_window,
    })
}

/// The instants of every principal's snapshots, sorted: the right-hand side of
/// [`as_of_snapshots`].
fn snapshot_instants(bindings: &[RoleBinding]) -> Result<Option<DataFrame>> {
    if bindings.is_empty() {
        return Ok(None);
    }
    let instants: BTreeSet<(&str, Millis)> = bindings
        .iter()
        .map(|b| (b.principal.as_str(), b.snapshot_at))
        .collect();
    let right = df!(
        "principal" => instants.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "snapshot_at" => instants.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
    )?
    .sort(["snapshot_at"], SortMultipleOptions::default())?;
    Ok(Some(right))
}

/// For each group, the instant of the principal's latest snapshot at or before
/// the group's first request: a polars as-of join by principal.
///
/// Ingest never lets a group straddle a snapshot instant, so the snapshot in
/// effect at the first request is the one in effect at every request.
fn as_of_snapshots(
    groups: &[(&DenialKey, &DenialGroup)],
    snapshots: Option<&DataFrame>,
) -> Result<Vec<Option<Millis>>> {
    let Some(right) = snapshots.filter(|_| !groups.is_empty()) else {
        return Ok(vec![None; groups.len()]);
    };
    let left = df!(
        "row" => (0..groups.len() as u32).collect::<Vec<_>>(),
        "principal" => groups.iter().map(|(k, _)| &*k.principal).collect::<Vec<_>>(),
        "ts" => groups.iter().map(|(_, g)| g.first_ts).collect::<Vec<_>>(),
    )?
    .sort(["ts"], SortMultipleOptions::default())?;
    let joined = left
        .join_asof_by(
            right,
            "ts",
            "snapshot_at",
            ["principal"],
            ["principal"],
            AsofStrategy::Backward,
            None,
            true,  // a snapshot taken at the very instant of the request is in effect
            false, // both sides are sorted just above; polars cannot check that per group
        )
        .map_err(|e| anyhow::anyhow!("as-of join of denials to role snapshots failed: {e}"))?;
    let rows = joined.column("row")?.u32()?;
    let at = joined.column("snapshot_at")?.i64()?;
    let mut out = vec![None; groups.len()];
    for (row, at) in rows.iter().zip(at.iter()) {
        out[row.expect("row index is never null") as usize] = at;
    }
    Ok(out)
}

/// Each token id's row in the tokens table, its latest issue where an id was
/// issued twice: the right-hand side of [`token_rows`].
fn latest_tokens(tokens: &[Token]) -> Result<Option<DataFrame>> {
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut latest: HashMap<&str, usize> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        let entry = latest.entry(t.token_id.as_str()).or_insert(i);
        if tokens[*entry].issued_at < t.issued_at {
            *entry = i;
        }
    }
    let mut unique: Vec<(&str, usize)> = latest.into_iter().collect();
    unique.sort();
    let right = df!(
        "token_id" => unique.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "token_row" => unique.iter().map(|(_, row)| *row as u32).collect::<Vec<_>>(),
    )?;
    Ok(Some(right))
}

/// For each group, the row of its token in the tokens table: a polars left join
/// on `token_id`.
fn token_rows(
    groups: &[(&DenialKey, &DenialGroup)],
    latest: Option<&DataFrame>,
) -> Result<Vec<Option<usize>>> {
    let Some(right) = latest.filter(|_| !groups.is_empty()) else {
        return Ok(vec![None; groups.len()]);
    };
    let left = df!(
        "row" => (0..groups.len() as u32).collect::<Vec<_>>(),
        "token_id" => groups.iter().map(|(k, _)| k.token_id.as_deref()).collect::<Vec<_>>(),
    )?;
    let joined = left
        .left_join(right, ["token_id"], ["token_id"])
        .map_err(|e| anyhow::anyhow!("join of denials to tokens failed: {e}"))?;
    let rows = joined.column("row")?.u32()?;
    let token_rows = joined.column("token_row")?.u32()?;
    let mut out = vec![None; groups.len()];
    for (row, token_row) in rows.iter().zip(token_rows.iter()) {
        out[row.expect("row index is never null") as usize] = token_row.map(|r| r as usize);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;

    fn key(principal: &str, n: usize) -> DenialKey {
        DenialKey {
            principal: principal.into(),
            method: "GET".into(),
            template: format!("/t/{n}").into(),
            status: 403,
            ..DenialKey::default()
        }
    }

    fn group(ts: Millis) -> DenialGroup {
        DenialGroup {
            count: 1,
            first_ts: ts,
            last_ts: ts,
            per_minute: Default::default(),
            samples: vec![],
            objects: vec![],
        }
    }

    proptest! {
        /// The polars as-of join finds, for every group, the principal's latest
        /// snapshot at or before its first request: what a scan of all snapshots finds.
        #[test]
        fn the_as_of_join_finds_the_latest_snapshot_at_or_before(
            denials in prop::collection::vec((0..4usize, -50..1_000i64), 1..60),
            snapshots in prop::collection::vec((0..5usize, 0..1_000i64), 0..40),
        ) {
            let principals = ["a", "b", "c", "d", "e"];
            let keys: Vec<DenialKey> = denials.iter().enumerate().map(|(i, (p, _))| key(principals[*p], i)).collect();
            let groups_owned: Vec<DenialGroup> = denials.iter().map(|(_, ts)| group(*ts)).collect();
            let groups: Vec<(&DenialKey, &DenialGroup)> = keys.iter().zip(&groups_owned).collect();
            let bindings: Vec<RoleBinding> = snapshots
                .iter()
                .map(|(p, at)| RoleBinding {
                    snapshot_at: *at,
                    principal: principals[*p].into(),
                    role: "r".into(),
                    data_scope: None,
                })
                .collect();
            let joined = as_of_snapshots(&groups, snapshot_instants(&bindings).unwrap().as_ref()).unwrap();
            for (i, (k, g)) in groups.iter().enumerate() {
                let expected = bindings
                    .iter()
                    .filter(|b| *b.principal == *k.principal && b.snapshot_at <= g.first_ts)
                    .map(|b| b.snapshot_at)
                    .max();
                prop_assert_eq!(joined[i], expected, "group {} of {}", i, k.principal);
            }
        }
    }
}
