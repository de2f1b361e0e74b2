//! After clustering: denials over time, the buckets that stand out (spikes), and
//! what explains each.
//!
//! **Detection.** Denials are counted per bucket (default 5 minutes, empty buckets
//! included). A bucket is a spike when its count is at least `min_denials` and
//! exceeds the median of the previous `window` buckets by at least `threshold`
//! times their scaled median absolute deviation (MAD × 1.4826, the standard
//! deviation of normal data; floored at 1 so a flat history still needs a real
//! jump). Median and MAD ignore the outliers they are meant to find, where a mean
//! and standard deviation would be dragged up by the spike itself. Adjacent spike
//! buckets form one spike.
//!
//! **Explanation.** For each spike: the signatures and principals whose denials
//! make it, and what changed for those principals in the `lookback` before it
//! until its end: role bindings removed or added between two snapshots, a held
//! role whose definition lost or gained permissions, and tokens that expired
//! (only where the spike holds requests made with expired tokens). Changes of the
//! principals with most denials in the spike come first.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cluster::Clustered;
use crate::correlate::Reference;
use crate::diagnose::{Cause, Diagnosed};
use crate::model::intern::Shared;
use crate::model::time::EVENT_TIME_RANGE;
use crate::model::{format_millis, Millis, MinuteCounts, Token, MINUTE};

/// What spikes are found in and explained by: what the stages before made.
pub struct Evidence<'a> {
    /// The tokens read, for the expiries that explain a spike.
    pub tokens: &'a [Token],
    /// The snapshot histories and role graph, for the changes that explain one.
    pub reference: &'a Reference<'a>,
    pub clustered: &'a Clustered,
    /// The visible denials over time.
    pub times: &'a DenialTimes,
}

/// How spikes are found and explained.
#[derive(Debug, Clone, Copy)]
pub struct SpikeOptions {
    /// Bucket width; a whole number of minutes.
    pub bucket: Millis,
    /// Previous buckets the baseline is taken over.
    pub window: usize,
    /// How many scaled MADs above the median make a spike.
    pub threshold: f64,
    /// Fewest denials in a spike bucket.
    pub min_denials: u64,
    /// How long before a spike a change may explain it.
    pub lookback: Millis,
}

impl Default for SpikeOptions {
    fn default() -> Self {
        SpikeOptions {
            bucket: 5 * MINUTE,
            window: 12,
            threshold: 5.0,
            min_denials: 10,
            lookback: 30 * MINUTE,
        }
    }
}

/// Denials per bucket and the spikes among them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SpikeReport {
    pub bucket_seconds: i64,
    pub method: String,
    pub series: Vec<Bucket>,
    /// Denials per bucket of each cause, aligned with `series`.
    pub by_cause: BTreeMap<String, Vec<u64>>,
    /// The most frequent signatures' denials per bucket, aligned with `series`.
    pub top_signatures: Vec<SignatureSeries>,
    pub spikes: Vec<Spike>,
}

/// One signature's denials over time.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignatureSeries {
    pub id: String,
    /// `cause METHOD /endpoint`.
    pub label: String,
    pub denials: Vec<u64>,
}

/// Signatures given their own series in [`SpikeReport::top_signatures`].
const TOP_SIGNATURES: usize = 5;

/// Denials in one bucket.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Bucket {
    pub start: String,
    pub denials: u64,
}

/// One spike and what explains it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Spike {
    pub start: String,
    pub end: String,
    pub denials: u64,
    /// The highest bucket's baseline (median of the buckets before) and score (in scaled MADs).
    pub baseline: f64,
    pub score: f64,
    pub signatures: Vec<Contribution>,
    pub principals: Vec<Contribution>,
    /// Changes just before or during the spike, latest first.
    pub changes: Vec<Change>,
}

/// Denials a signature or principal contributed to a spike.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Contribution {
    pub name: String,
    pub denials: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Something that changed before a spike.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Change {
    pub at: String,
    /// `binding_removed`, `binding_added`, `role_changed` or `tokens_expired`.
    pub kind: &'static str,
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub detail: String,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Baseline and score of each bucket against the `window` buckets before it.
fn scores(series: &[u64], window: usize) -> Vec<Option<(f64, f64)>> {
    (0..series.len())
        .map(|i| {
            let history = &series[i.saturating_sub(window)..i];
            if history.len() < 3 {
                return None;
            }
            let mut values: Vec<f64> = history.iter().map(|&x| x as f64).collect();
            let m = median(&mut values);
            let mut deviations: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
            let scale = (median(&mut deviations) * 1.4826).max(1.0);
            Some((m, (series[i] as f64 - m) / scale))
        })
        .collect()
}

/// Denials over time, gathered a partition of principals at a time
/// ([`DenialTimes::add`]) for the timeline and the spikes: the visible
/// (unsuppressed) denials per minute of each signature and of each principal,
/// and when each principal sent expired tokens. It grows with the period, the
/// signatures and the principals, not with the denial groups, which are gone
/// by the time the spikes are looked for.
#[derive(Debug, Default)]
pub struct DenialTimes {
    /// Per signature number.
    by_signature: HashMap<u32, MinuteCounts>,
    /// Per principal: a principal's groups are all in one partition.
    by_principal: Vec<(Shared<str>, MinuteCounts)>,
    /// (principal, first, last) of every group diagnosed `token_expired`,
    /// suppressed or not.
    expired_tokens_sent: Vec<(Shared<str>, Millis, Millis)>,
}

impl DenialTimes {
    /// Adds one partition's diagnoses, with each one's signature number and
    /// whether a suppression hid it. Denials of unknown time have no place on
    /// the timeline.
    pub fn add(&mut self, diagnosed: &Diagnosed, signature_of: &[u32], hidden: &[bool]) {
        let mut by_signature: Vec<(u32, i64, u64)> = Vec::new();
        let mut principal_minutes: Vec<(i64, u64)> = Vec::new();
        for (i, d) in diagnosed.diagnoses.iter().enumerate() {
            let (key, group) = (d.denial.key, d.denial.group);
            if d.cause == Cause::TokenExpired {
                self.expired_tokens_sent.push((
                    key.principal.clone(),
                    group.first_ts,
                    group.last_ts,
                ));
            }
            if !hidden[i] {
                for (minute, n) in group.per_minute.timed() {
                    by_signature.push((signature_of[i], minute, n));
                    principal_minutes.push((minute, n));
                }
            }
            // Diagnoses come in key order, so each principal's are together.
            let next = diagnosed
                .diagnoses
                .get(i + 1)
                .map(|d| &d.denial.key.principal);
            if next != Some(&key.principal) && !principal_minutes.is_empty() {
                let counts = MinuteCounts::from_pairs(std::mem::take(&mut principal_minutes));
                self.by_principal.push((key.principal.clone(), counts));
            }
        }
        by_signature.sort_unstable_by_key(|(n, _, _)| *n);
        for run in by_signature.chunk_by(|a, b| a.0 == b.0) {
            let counts = MinuteCounts::from_pairs(run.iter().map(|(_, m, n)| (*m, *n)).collect());
            self.by_signature.entry(run[0].0).or_default().merge(counts);
        }
    }
}

/// Most buckets a series is cut into. Events span at most 130 years
/// ([`EVENT_TIME_RANGE`]): at 5 minutes a bucket that is 14 million buckets,
/// and each is counted, scored and written; one denial dated 9999 beside one
/// of today once asked for 8.4 GB.
pub const MAX_BUCKETS: i64 = 1_000_000;

// A report's timeline, at a day per bucket, always fits.
const _: () =
    assert!((EVENT_TIME_RANGE.end - EVENT_TIME_RANGE.start) / (1440 * MINUTE) < MAX_BUCKETS);

/// Finds the spikes among the visible (unsuppressed) denials and explains
/// them; fails if the denials span more than [`MAX_BUCKETS`] buckets.
pub fn find(evidence: &Evidence, options: SpikeOptions) -> anyhow::Result<SpikeReport> {
    let clustered = evidence.clustered;
    let times = evidence.times;
    let bucket_of = |minute: i64| (minute * MINUTE).div_euclid(options.bucket);
    // Per bucket: total, per signature (with a label), per cause. Per principal
    // only in the spikes, below: a map of a thousand principals per bucket was
    // most of this function's time, and only the spikes' few buckets read it.
    // Per signature by bucket, not by bucket by signature: a signature's id is
    // then looked up once, not once per bucket (its string compares were half
    // of this function's 80 ms on a 2 GB log).
    let mut totals: BTreeMap<i64, u64> = BTreeMap::new();
    let mut per_signature: BTreeMap<&str, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut by_cause: BTreeMap<&str, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut labels: BTreeMap<&str, String> = BTreeMap::new();
    for (&number, counts) in &times.by_signature {
        let id = &*clustered.signature_ids[number as usize];
        let key = &clustered.signature_keys[number as usize];
        labels
            .entry(id)
            .or_insert_with(|| format!("{} {} {}", key.cause.name(), key.method, key.template));
        let signature = per_signature.entry(id).or_default();
        let cause = by_cause.entry(key.cause.name()).or_default();
        // Denials of unknown time have no place on a timeline.
        for (b, n) in per_bucket(counts.timed(), bucket_of) {
            *totals.entry(b).or_default() += n;
            *signature.entry(b).or_default() += n;
            *cause.entry(b).or_default() += n;
        }
    }
    let (Some(&first), Some(&last)) = (totals.keys().next(), totals.keys().next_back()) else {
        return Ok(SpikeReport {
            bucket_seconds: options.bucket / 1000,
            method: METHOD.into(),
            series: vec![],
            by_cause: BTreeMap::new(),
            top_signatures: vec![],
            spikes: vec![],
        });
    };
    if last - first >= MAX_BUCKETS {
        anyhow::bail!(
            "the denials span {} to {}: {} buckets of {} s, more than {MAX_BUCKETS}; give a wider --bucket",
            format_millis(first * options.bucket),
            format_millis((last + 1) * options.bucket),
            last - first + 1,
            options.bucket / 1000
        );
    }
    let buckets: Vec<i64> = (first..=last).collect();
    let series: Vec<u64> = buckets
        .iter()
        .map(|b| totals.get(b).copied().unwrap_or(0))
        .collect();
    let scored = scores(&series, options.window);
    let is_spike: Vec<bool> = series
        .iter()
        .zip(&scored)
        .map(|(&x, s)| x >= options.min_denials && s.is_some_and(|(_, z)| z >= options.threshold))
        .collect();
    let by_principal = principals_by_bucket(times, bucket_of, |b| is_spike[(b - first) as usize]);

    let mut spikes = Vec::new();
    let mut i = 0;
    while i < buckets.len() {
        if !is_spike[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < buckets.len() && is_spike[i] {
            i += 1;
        }
        let range = start..i;
        let peak = range
            .clone()
            .max_by_key(|&j| (series[j], std::cmp::Reverse(j)))
            .expect("non-empty");
        let (baseline, score) = scored[peak].expect("spike buckets are scored");
        let spike_buckets = buckets[start]..=buckets[i - 1];
        // The names with denials in the spike, the most first.
        let ranked = |mut list: Vec<(String, u64)>| {
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            list
        };
        let mut principals: BTreeMap<String, u64> = BTreeMap::new();
        for (_, names) in by_principal.range(spike_buckets.clone()) {
            for (name, n) in names {
                *principals.entry(name.to_string()).or_default() += n;
            }
        }
        let principals = ranked(principals.into_iter().collect());
        let signatures = ranked(
            per_signature
                .iter()
                .filter_map(|(id, counts)| {
                    let mut in_spike = counts.range(spike_buckets.clone()).peekable();
                    in_spike.peek()?;
                    Some((id.to_string(), in_spike.map(|(_, n)| n).sum()))
                })
                .collect(),
        );
        let from = buckets[start] * options.bucket;
        let to = (buckets[i - 1] + 1) * options.bucket;
        let names: BTreeMap<&str, u64> = principals.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        spikes.push(Spike {
            start: format_millis(from),
            end: format_millis(to),
            denials: series[range.clone()].iter().sum(),
            baseline,
            score: (score * 10.0).round() / 10.0,
            signatures: signatures
                .into_iter()
                .map(|(id, denials)| Contribution {
                    detail: labels.get(id.as_str()).cloned(),
                    name: id,
                    denials,
                })
                .collect(),
            changes: changes(evidence, &names, from - options.lookback, to),
            principals: principals
                .into_iter()
                .map(|(name, denials)| Contribution {
                    name,
                    denials,
                    detail: None,
                })
                .collect(),
        });
    }
    let aligned = |counts: &BTreeMap<i64, u64>| -> Vec<u64> {
        buckets
            .iter()
            .map(|b| counts.get(b).copied().unwrap_or(0))
            .collect()
    };
    let mut ranked: Vec<(&str, u64)> = per_signature
        .iter()
        .map(|(id, counts)| (*id, counts.values().sum()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let top_signatures = ranked
        .iter()
        .take(TOP_SIGNATURES)
        .map(|(id, _)| SignatureSeries {
            id: id.to_string(),
            label: labels.get(id).cloned().unwrap_or_default(),
            denials: aligned(&per_signature[id]),
        })
        .collect();
    Ok(SpikeReport {
        bucket_seconds: options.bucket / 1000,
        method: METHOD.into(),
        by_cause: by_cause
            .iter()
            .map(|(cause, counts)| (cause.to_string(), aligned(counts)))
            .collect(),
        top_signatures,
        series: buckets
            .iter()
            .zip(&series)
            .map(|(b, &denials)| Bucket {
                start: format_millis(b * options.bucket),
                denials,
            })
            .collect(),
        spikes,
    })
}

/// Counts per minute, in minute order, summed per bucket: a bucket's minutes
/// are consecutive, so the maps above are entered once per bucket, not once per
/// minute (on a 2 GB log of 5 days, 60 minutes to a bucket, this function took
/// 0.1 s, most of it in those maps).
fn per_bucket(
    minutes: impl Iterator<Item = (i64, u64)>,
    bucket_of: impl Fn(i64) -> i64,
) -> impl Iterator<Item = (i64, u64)> {
    let mut minutes = minutes
        .map(move |(minute, n)| (bucket_of(minute), n))
        .peekable();
    std::iter::from_fn(move || {
        let (bucket, mut n) = minutes.next()?;
        while let Some((_, more)) = minutes.next_if(|(b, _)| *b == bucket) {
            n += more;
        }
        Some((bucket, n))
    })
}

/// Denials per bucket and principal, in the buckets `wanted` says yes to
/// (visible denials of known time only).
fn principals_by_bucket(
    times: &DenialTimes,
    bucket_of: impl Fn(i64) -> i64,
    wanted: impl Fn(i64) -> bool,
) -> BTreeMap<i64, BTreeMap<&str, u64>> {
    let mut by_principal: BTreeMap<i64, BTreeMap<&str, u64>> = BTreeMap::new();
    for (principal, counts) in &times.by_principal {
        for (b, n) in per_bucket(counts.timed(), &bucket_of) {
            if wanted(b) {
                *by_principal
                    .entry(b)
                    .or_default()
                    .entry(&**principal)
                    .or_default() += n;
            }
        }
    }
    by_principal
}

/// The denials over time that a report charts: the default spike rules, with
/// the narrowest bucket (5 minutes, 15 minutes, 1 hour, 6 hours, a day) that
/// keeps the series within [`REPORT_BUCKETS`] buckets.
pub fn timeline(evidence: &Evidence) -> SpikeReport {
    let minutes = evidence.times.by_signature.values().flat_map(|counts| {
        let mut timed = counts.timed();
        let first = timed.next();
        first.into_iter().chain(timed.next_back())
    });
    let (first, last) = minutes.fold((i64::MAX, i64::MIN), |(a, b), (m, _)| (a.min(m), b.max(m)));
    let span = (last.saturating_sub(first)).max(0) * MINUTE;
    let bucket = [5, 15, 60, 360, 1440]
        .into_iter()
        .map(|m| m * MINUTE)
        .find(|b| span / b < REPORT_BUCKETS)
        .unwrap_or(1440 * MINUTE);
    let options = SpikeOptions {
        bucket,
        ..SpikeOptions::default()
    };
    find(evidence, options).expect("the event time range holds fewer day buckets than MAX_BUCKETS")
}

/// Most buckets a report's timeline is cut into (unless a day per bucket needs more).
pub const REPORT_BUCKETS: i64 = 300;

const METHOD: &str =
    "rolling median and MAD over the previous buckets (see grantgap spikes --help)";

/// Binding changes and token expiries of `principals` (with their denials in the
/// spike) within `[from, to)`: those of the principals that make most of the
/// spike first, then latest first.
fn changes(
    evidence: &Evidence,
    principals: &BTreeMap<&str, u64>,
    from: Millis,
    to: Millis,
) -> Vec<Change> {
    let history = &evidence.reference.history;
    // Who sent expired tokens during the spike, and the tokens' expiries, each
    // found in one pass: asked per principal, the scans over every diagnosis
    // and every token were most of a 2 GB report's time.
    let used_expired: std::collections::HashSet<&str> = evidence
        .times
        .expired_tokens_sent
        .iter()
        .filter(|(_, first, last)| *first < to && *last >= from)
        .map(|(principal, _, _)| &**principal)
        .collect();
    let mut expiries: BTreeMap<&str, Vec<Millis>> = BTreeMap::new();
    for t in evidence.tokens {
        let principal = t.principal.as_str();
        if let Some(at) = t.expires_at.filter(|at| (from..to).contains(at)) {
            if used_expired.contains(principal) && principals.contains_key(principal) {
                expiries.entry(principal).or_default().push(at);
            }
        }
    }
    let mut out = Vec::new();
    for principal in principals.keys() {
        let snapshots = history.snapshots(principal);
        for pair in snapshots.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            if after.at < from || after.at >= to {
                continue;
            }
            for role in before
                .roles
                .keys()
                .filter(|r| !after.roles.contains_key(*r))
            {
                out.push(Change {
                    at: format_millis(after.at),
                    kind: "binding_removed",
                    principal: principal.to_string(),
                    role: Some(role.clone()),
                    detail: format!(
                        "{principal} lost role {role}: held in the snapshot of {}, gone in the snapshot of {}",
                        format_millis(before.at),
                        format_millis(after.at)
                    ),
                });
            }
            let graph = &evidence.reference.graph;
            for role in after.roles.keys().filter(|r| before.roles.contains_key(*r)) {
                let then = graph.grants_at([role.as_str()], before.at).api;
                let now = graph.grants_at([role.as_str()], after.at).api;
                let lost: Vec<&str> = then.difference(&now).map(String::as_str).collect();
                let gained: Vec<&str> = now.difference(&then).map(String::as_str).collect();
                let mut what = Vec::new();
                if !lost.is_empty() {
                    what.push(format!("lost {}", lost.join(", ")));
                }
                if !gained.is_empty() {
                    what.push(format!("gained {}", gained.join(", ")));
                }
                if what.is_empty() {
                    continue;
                }
                out.push(Change {
                    at: format_millis(after.at),
                    kind: "role_changed",
                    principal: principal.to_string(),
                    role: Some(role.clone()),
                    detail: format!(
                        "role {role}, held by {principal}, {} in its definition of {}",
                        what.join(" and "),
                        format_millis(after.at)
                    ),
                });
            }
            for role in after
                .roles
                .keys()
                .filter(|r| !before.roles.contains_key(*r))
            {
                out.push(Change {
                    at: format_millis(after.at),
                    kind: "binding_added",
                    principal: principal.to_string(),
                    role: Some(role.clone()),
                    detail: format!(
                        "{principal} gained role {role} in the snapshot of {}",
                        format_millis(after.at)
                    ),
                });
            }
        }
        // Tokens expire all the time (hourly refresh is routine); an expiry explains
        // a spike only where the spike holds requests made with expired tokens.
        let expired = expiries.get(principal).map_or(&[][..], Vec::as_slice);
        if let Some(&latest) = expired.iter().max() {
            out.push(Change {
                at: format_millis(latest),
                kind: "tokens_expired",
                principal: principal.to_string(),
                role: None,
                detail: format!(
                    "{} token(s) of {principal} expired, the last at {}",
                    expired.len(),
                    format_millis(latest)
                ),
            });
        }
    }
    let weight = |c: &Change| principals.get(c.principal.as_str()).copied().unwrap_or(0);
    // Of one principal's changes, its grants' come before its expiries: an
    // expiry explains only the requests sent with the expired token.
    let expiry = |c: &Change| c.kind == "tokens_expired";
    out.sort_by(|a, b| {
        weight(b)
            .cmp(&weight(a))
            .then_with(|| expiry(a).cmp(&expiry(b)))
            .then_with(|| b.at.cmp(&a.at))
            .then_with(|| a.principal.cmp(&b.principal))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_over_a_noisy_baseline_scores_high_and_noise_does_not() {
        let series = [3, 5, 4, 6, 3, 5, 4, 40, 5, 4];
        let scored = scores(&series, 12);
        let z = |i: usize| scored[i].unwrap().1;
        assert!(z(7) > 10.0, "{}", z(7));
        assert!(z(3) < 5.0 && z(8) < 5.0);
        assert!(scored[1].is_none(), "too little history to judge");
    }

    proptest::proptest! {
        #[test]
        fn per_bucket_sums_as_a_map_of_buckets_does(
            steps in proptest::collection::vec((0i64..90, 1u64..5), 0..40),
            start in -10_000i64..10_000,
            width in 1i64..20,
        ) {
            // Minutes in order, as `MinuteCounts` gives them.
            let minutes: Vec<(i64, u64)> = steps
                .iter()
                .scan(start, |minute, &(step, n)| {
                    *minute += step + 1;
                    Some((*minute, n))
                })
                .collect();
            let bucket_of = |minute: i64| minute.div_euclid(width);
            let mut expected: BTreeMap<i64, u64> = BTreeMap::new();
            for &(minute, n) in &minutes {
                *expected.entry(bucket_of(minute)).or_default() += n;
            }
            let got: Vec<(i64, u64)> = per_bucket(minutes.into_iter(), bucket_of).collect();
            proptest::prop_assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_spike_itself_does_not_raise_its_baseline() {
        // A mean-based baseline over these buckets would be pulled up by the first spike.
        let series = [2, 2, 2, 2, 2, 50, 50, 2];
        let scored = scores(&series, 12);
        assert!(
            scored[6].unwrap().1 > 5.0,
            "the second spike bucket still stands out"
        );
    }
}
