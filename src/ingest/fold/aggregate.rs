//! What ingest keeps of the events: per-group aggregates, never the events
//! themselves. Every piece merges exactly and in any order, so partial results of
//! disjoint inputs (two threads, two files, two machines) combine into the result
//! of reading everything at once.

use std::collections::BTreeMap;

// hashbrown with foldhash: several times faster than SipHash on these short
// string keys. Nothing depends on the maps' iteration order.
use hashbrown::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use compact_str::CompactString;
use rayon::prelude::*;

use super::by_object::{ByObject, ObjectDenials};
use crate::ingest::fold::seen::{SeenBatch, SeenObjects};
use crate::ingest::fold::spill::{self, MergedDenials, ReadGroup, Run};
use crate::ingest::record::redact::{redact, redact_message, redact_object, redact_owned};
use crate::model::groups::keep_smallest;
use crate::model::intern::{Interner, Shared};
use crate::model::{
    DenialGroup, DenialKey, DeniedObject, Event, Millis, ObjectFacts, ObjectKey, Position, Sample,
    SuccessGroup, SuccessKey,
};

/// Denied requests kept as evidence per group; the earliest by time, then id.
pub const SAMPLES_PER_GROUP: usize = 5;
/// Bad records kept with their position for the report; the rest are counted.
pub const BAD_RECORDS_KEPT: usize = 20;

/// What ingest derives for one event beyond its own fields.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The endpoint template of the path.
    pub template: String,
    /// The last id in the path, the object when the log names none.
    pub path_object: Option<String>,
    pub segment: u32,
    pub after_token_expiry: bool,
}

/// Records read, used and skipped (by reason) for one table. `read = used + skipped`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    pub read: u64,
    pub used: u64,
    pub skipped: BTreeMap<String, u64>,
}

impl TableStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn merge(&mut self, other: TableStats) {
        self.read += other.read;
        self.used += other.used;
        for (kind, n) in other.skipped {
            *self.skipped.entry(kind).or_default() += n;
        }
    }
}

/// A skipped record as `--quarantine` writes it: where, why, and the record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quarantined {
    pub position: Position,
    pub kind: String,
    pub detail: String,
    pub raw: Option<String>,
}

/// One used event as `grantgap query` sees it. Only fields that hold no secret
/// are kept: no headers, no message, the path without its query string, redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub position: Position,
    pub ts: Millis,
    pub principal: String,
    pub token_id: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub method: String,
    pub path: String,
    pub endpoint: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub object_id: Option<String>,
    pub org: Option<String>,
    pub request_id: Option<String>,
}

/// A skipped record kept for the report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadRecord {
    pub position: Position,
    pub kind: String,
    pub detail: String,
}

/// Everything ingest keeps of the events.
#[derive(Debug)]
pub struct Aggregates {
    /// Denied requests kept per group: [`SAMPLES_PER_GROUP`], or all of them
    /// where every request id must be accounted for (`grantgap eval`).
    pub sample_limit: usize,
    /// The denials while ingest reads: per group without its object facts, per
    /// object. Keys are boxed so the table's slots stay small.
    pub(super) by_object: HashMap<Box<DenialKey>, ByObject>,
    /// Groups written out to disk while reading ([`Aggregates::spill_if_full`]).
    pub(super) runs: Vec<Run>,
    /// The distinct messages of the denials: signatures are made from templates
    /// mined from all of them before any group is clustered.
    pub messages: HashSet<Shared<str>>,
    /// Denied requests (403) read.
    pub denied: u64,
    /// Denials the filter left out (`--principal`, `--since`, `--until`).
    pub filtered_denials: u64,
    /// The shared strings of the keys this worker made; emptied by a merge,
    /// after which no key is made.
    pub(super) interner: Interner,
    pub successes: HashMap<SuccessKey, SuccessGroup>,
    /// Requests neither allowed nor denied with 403, by status.
    pub other_statuses: BTreeMap<u16, u64>,
    /// 404 answers per object: a 403 on an object that exists nowhere is a masked 404.
    pub not_found: HashMap<ObjectKey, u64>,
    /// Objects that were ever answered successfully.
    /// Shared by every worker of one run (see [`SeenObjects`]). Read until the
    /// last partition of denial groups is resolved: bounded filters, 2 x 32 MiB
    /// at most.
    pub seen: Arc<SeenObjects>,
    /// This worker's allowed objects not yet in `seen` ([`Aggregates::flush_seen`]).
    pub seen_pending: SeenBatch,
    /// The chance that an object never allowed looked allowed, as the filters
    /// stood when reading ended ([`Aggregates::take_denials`]).
    pub seen_false_positive_rate: f64,
    pub stats: TableStats,
    /// The first bad records by position.
    pub bad: Vec<BadRecord>,
    /// Events used and skipped per input file (by index), to name a file that
    /// yielded none.
    pub per_file: BTreeMap<usize, (u64, u64)>,
    /// Lines each unit of each file held, to turn unit lines into file lines.
    pub unit_lines: BTreeMap<(usize, usize), u64>,
    /// Every skipped record, when `--quarantine` asks for them (else `None`).
    pub quarantine: Option<Vec<Quarantined>>,
    /// Every used event, when `grantgap query` asks for them (else `None`).
    pub rows: Option<Vec<EventRow>>,
}

impl Default for Aggregates {
    fn default() -> Self {
        Aggregates::new(SAMPLES_PER_GROUP, Arc::new(SeenObjects::default()))
    }
}

impl Aggregates {
    /// Empty aggregates that keep `sample_limit` denied requests per group and
    /// record allowed objects in `seen`.
    pub fn new(sample_limit: usize, seen: Arc<SeenObjects>) -> Self {
        Aggregates {
            sample_limit,
            by_object: HashMap::new(),
            runs: Vec::new(),
            messages: HashSet::new(),
            denied: 0,
            filtered_denials: 0,
            interner: Interner::default(),
            successes: HashMap::new(),
            other_statuses: BTreeMap::new(),
            not_found: HashMap::new(),
            seen,
            seen_pending: SeenBatch::default(),
            seen_false_positive_rate: 0.0,
            stats: TableStats::default(),
            bad: Vec::new(),
            per_file: BTreeMap::new(),
            unit_lines: BTreeMap::new(),
            quarantine: None,
            rows: None,
        }
    }

    /// Counts one event into its group.
    /// Counts a denial the filter leaves out of the report: a used record.
    pub fn add_filtered_denial(&mut self) {
        self.stats.read += 1;
        self.stats.used += 1;
        self.filtered_denials += 1;
    }

    pub fn add_event(&mut self, mut event: Event, derived: Derived, position: Position) {
        self.stats.read += 1;
        self.stats.used += 1;
        let Derived {
            template,
            path_object,
            segment,
            after_token_expiry,
        } = derived;
        // Object ids are redacted alike for allowed and denied requests, so both
        // sides of an object check see the same value.
        let object_id = event.object_id.take().or(path_object).map(redact_object);
        if let Some(rows) = &mut self.rows {
            let path = event.path.split(['?', '#']).next().unwrap_or_default();
            rows.push(EventRow {
                position,
                ts: event.ts,
                principal: event.principal.clone(),
                token_id: event.token_id.clone(),
                scopes: event.scopes.clone(),
                method: event.method.clone(),
                path: redact(path).into_owned(),
                endpoint: template.clone(),
                status: event.status,
                error_code: event.error_code.as_deref().map(|c| redact(c).into_owned()),
                object_id: object_id.clone(),
                org: event.org.clone(),
                request_id: event.request_id.clone(),
            });
        }
        if event.is_denial() {
            let sample = Sample {
                ts: event.ts,
                request_id: event.request_id.as_deref().map(CompactString::new),
                position,
            };
            let interner = &mut self.interner;
            let key = DenialKey {
                principal: interner.string(event.principal),
                token_id: event.token_id.map(|t| interner.string(t)),
                token_issued_at: event.token_issued_at,
                scopes: event.scopes.map(|s| interner.list(s)),
                method: interner.string(event.method),
                template: interner.string(template),
                objects: ObjectFacts::default(),
                org: event.org.map(|o| interner.string(o)),
                fields: interner.list(event.fields),
                status: event.status,
                error_code: event.error_code.map(|c| interner.string(redact_message(c))),
                message: event.message.map(|m| interner.string(redact_message(m))),
                headers: interner.pairs(
                    event
                        .headers
                        .into_iter()
                        .map(|(n, v)| (n, redact_owned(v)))
                        .collect::<Vec<_>>(),
                ),
                segment,
                after_token_expiry,
            };
            // Secrets never pass ingest: everything free-form that is kept is
            // redacted, the object id above among them.
            let limit = self.sample_limit;
            let object = object_id.as_deref().map(CompactString::new);
            let denial = ObjectDenials::Once(sample);
            self.denied += 1;
            if let Some(objects) = self.by_object.get_mut(&key) {
                objects.add(object, denial, limit);
            } else {
                if let Some(message) = &key.message {
                    self.messages
                        .get_or_insert_with(&**message, |_| message.clone());
                }
                let mut objects = ByObject::new();
                objects.add(object, denial, limit);
                self.by_object.insert(Box::new(key), objects);
            }
        } else if event.is_success() {
            if let Some(object) = &object_id {
                self.seen_pending
                    .insert(&self.seen, &event.principal, &template, object);
            }
            let key = SuccessKey::new(
                &event.principal,
                &event.method,
                &template,
                event.org.as_deref(),
                &event.fields,
            );
            let group = self.successes.entry(key).or_insert(SuccessGroup {
                count: 0,
                first_ts: event.ts,
                last_ts: event.ts,
            });
            group.count += 1;
            group.first_ts = group.first_ts.min(event.ts);
            group.last_ts = group.last_ts.max(event.ts);
        } else {
            if let (404, Some(object)) = (event.status, object_id) {
                *self
                    .not_found
                    .entry(ObjectKey { template, object })
                    .or_default() += 1;
            }
            *self.other_statuses.entry(event.status).or_default() += 1;
        }
    }

    /// Counts one record that could not be used, and quarantines it when asked.
    pub fn add_skip(&mut self, position: Position, skip: crate::ingest::record::fields::Skip) {
        if let (Some(quarantine), false) = (
            &mut self.quarantine,
            skip.kind == crate::ingest::record::fields::FOLDED,
        ) {
            quarantine.push(Quarantined {
                position,
                kind: skip.kind.to_string(),
                detail: skip.detail.clone(),
                raw: skip.raw,
            });
        }
        self.add_bad(position, skip.kind, skip.detail);
    }

    /// Counts one record that could not be used. The detail of a kept record is
    /// redacted here, so no output that lists bad records (stderr, JSON, HTML,
    /// `--strict`) shows a secret the record held.
    pub fn add_bad(&mut self, position: Position, kind: &str, detail: String) {
        self.stats.read += 1;
        *self.stats.skipped.entry(kind.to_string()).or_default() += 1;
        // Folded audit stages are never listed: counting them is all they cost.
        if kind == crate::ingest::record::fields::FOLDED {
            return;
        }
        // `bad` is sorted: a record after the last one kept would be dropped, so
        // it is dropped before its detail is scanned (a file of bad lines costs
        // one comparison a line).
        let after_kept = |last: &BadRecord| (position, kind) > (last.position, last.kind.as_str());
        if self.bad.len() >= BAD_RECORDS_KEPT && self.bad.last().is_some_and(after_kept) {
            return;
        }
        let bad = BadRecord {
            position,
            kind: kind.to_string(),
            detail: redact_owned(detail),
        };
        keep_smallest(&mut self.bad, vec![bad], BAD_RECORDS_KEPT);
    }

    /// Puts the allowed objects still pending into [`Aggregates::seen`]: call
    /// when a worker has read its lines (merging and taking the denials call it
    /// too).
    pub fn flush_seen(&mut self) {
        self.seen_pending.flush(&self.seen);
    }

    /// Combines two partial results, before [`Aggregates::take_denials`].
    /// Commutative and associative.
    pub fn merge(mut self, mut other: Aggregates) -> Aggregates {
        self.flush_seen();
        other.flush_seen();
        if self.by_object.len() + self.successes.len()
            < other.by_object.len() + other.successes.len()
        {
            std::mem::swap(&mut self, &mut other);
        }
        self.sample_limit = self.sample_limit.max(other.sample_limit);
        let limit = self.sample_limit;
        self.runs.extend(other.runs);
        self.messages.extend(other.messages);
        self.denied += other.denied;
        self.filtered_denials += other.filtered_denials;
        // Merged results read nothing more: their keys are all made.
        self.interner = Interner::default();
        // The two largest maps merge side by side: the last merge of a run
        // happens after the workers are done, with both cores free.
        let (by_object, successes) = (&mut self.by_object, &mut self.successes);
        rayon::join(
            || {
                merge_counts(by_object, other.by_object, |mine, theirs| {
                    for (object, denials) in theirs.into_vec() {
                        mine.add(object, denials, limit);
                    }
                })
            },
            || {
                merge_counts(successes, other.successes, |mine, theirs| {
                    mine.count += theirs.count;
                    mine.first_ts = mine.first_ts.min(theirs.first_ts);
                    mine.last_ts = mine.last_ts.max(theirs.last_ts);
                })
            },
        );
        for (status, n) in other.other_statuses {
            *self.other_statuses.entry(status).or_default() += n;
        }
        merge_counts(&mut self.not_found, other.not_found, |mine, theirs| {
            *mine += theirs
        });
        if !Arc::ptr_eq(&self.seen, &other.seen) {
            self.seen.merge(&other.seen);
        }
        self.stats.merge(other.stats);
        keep_smallest(&mut self.bad, other.bad, BAD_RECORDS_KEPT);
        self.unit_lines.extend(other.unit_lines);
        for (file, (used, skipped)) in other.per_file {
            let mine = self.per_file.entry(file).or_default();
            mine.0 += used;
            mine.1 += skipped;
        }
        match (&mut self.quarantine, other.quarantine) {
            (Some(mine), Some(theirs)) => mine.extend(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
        match (&mut self.rows, other.rows) {
            (Some(mine), Some(theirs)) => mine.extend(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
        self
    }

    /// Adds denial groups already on disk, in key order (a partial state's).
    pub(crate) fn add_run(&mut self, run: Run) {
        self.runs.push(run);
    }

    /// Numbers the inputs `renumber[n]` where they were `n`: a partial
    /// state's, merged with partials of more inputs. Its groups are on disk
    /// (`add_run`), renumbered as they are read back.
    pub(crate) fn renumber_files(&mut self, renumber: &[usize]) {
        assert!(
            self.by_object.is_empty(),
            "a partial state's groups are on disk"
        );
        let at = |p: Position| Position::new(renumber[p.file()], p.unit(), p.line);
        self.per_file = std::mem::take(&mut self.per_file)
            .into_iter()
            .map(|(file, counts)| (renumber[file], counts))
            .collect();
        self.unit_lines = std::mem::take(&mut self.unit_lines)
            .into_iter()
            .map(|((file, unit), lines)| ((renumber[file], unit), lines))
            .collect();
        for bad in &mut self.bad {
            bad.position = at(bad.position);
        }
        self.bad.sort();
        self.runs = std::mem::take(&mut self.runs)
            .into_iter()
            .map(|run| run.renumbered(renumber))
            .collect();
    }

    /// Filters of allowed objects of `bits` bits, folded from larger ones:
    /// partials of inputs of other sizes made filters of other sizes.
    pub(crate) fn fold_seen_to(&mut self, bits: usize) {
        self.flush_seen();
        if self.seen.bits() != bits {
            self.seen = Arc::new(self.seen.folded_to(bits));
        }
    }

    /// Writes the denial groups out as a run (`crate::ingest::fold::spill`) once there are
    /// `limit` or more, and starts again with none: call between units of input.
    pub fn spill_if_full(&mut self, limit: usize) -> anyhow::Result<()> {
        if self.by_object.len() >= limit {
            let groups = std::mem::take(&mut self.by_object).into_iter().collect();
            self.runs.push(spill::write_run(groups)?);
        }
        Ok(())
    }

    /// The denial groups read, in memory and written out, merged in key order;
    /// call once reading is done. Their objects are resolved as they are taken
    /// (`MergedDenials::partitions`).
    ///
    /// Once some groups are on disk, those still in memory follow them: the
    /// stages after ingest then hold no more than a partition of them at once.
    /// A small input's groups stay in memory.
    pub fn take_denials(&mut self) -> anyhow::Result<MergedDenials> {
        self.flush_seen();
        self.seen_false_positive_rate = self.seen.false_positive_rate();
        let mut memory: Vec<ReadGroup> = std::mem::take(&mut self.by_object).into_iter().collect();
        let mut runs = std::mem::take(&mut self.runs);
        if !runs.is_empty() && !memory.is_empty() {
            runs.push(spill::write_run(std::mem::take(&mut memory))?);
        }
        MergedDenials::new(memory, runs, self.sample_limit)
    }

    /// Every denial group at once, resolved and in key order: for tests and
    /// benchmarks of one stage (a run takes them a partition at a time).
    pub fn denial_groups(&mut self) -> anyhow::Result<Vec<(DenialKey, DenialGroup)>> {
        let merged = self.take_denials()?;
        let mut partitions = merged.partitions(self, usize::MAX);
        Ok(partitions.next_partition()?.unwrap_or_default())
    }

    /// A copy of every denial group, resolved and in key order, leaving the
    /// aggregates as they are: for tests of ingest, which never spill.
    #[cfg(test)]
    pub(crate) fn denial_groups_copy(&self) -> Vec<(DenialKey, DenialGroup)> {
        assert!(self.runs.is_empty(), "a test of ingest spilled groups");
        let read = self.by_object.iter().map(|(k, o)| (k.clone(), o.clone()));
        let mut groups = self.resolve(read.collect());
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }

    /// Groups as read made into denial groups: each group's objects split by
    /// what the whole input says of them, one group per kind of object
    /// ([`ObjectFacts`]). The facts are found in parallel first; then the groups
    /// are rebuilt in parallel a slice at a time, each freed as its parts are
    /// made, into a list sized beforehand.
    pub(super) fn resolve(&self, read: Vec<ReadGroup>) -> Vec<(DenialKey, DenialGroup)> {
        let limit = self.sample_limit;
        let facts: Vec<ObjectFacts> = read
            .par_iter()
            .flat_map_iter(|(key, objects)| objects.ids().map(|id| self.facts(key, id)))
            .collect();
        // Where each group's facts start, and how many groups it becomes.
        let mut starts = Vec::with_capacity(read.len());
        let mut parts_total = 0;
        let mut start = 0;
        for (_, objects) in &read {
            let mine = &facts[start..start + objects.len()];
            // The four facts are four bits: a group has at most 16 kinds of object.
            let kinds = mine.iter().fold(0u16, |seen, f| seen | 1 << f.bits());
            parts_total += kinds.count_ones() as usize;
            starts.push(start);
            start += objects.len();
        }
        // Order is of no matter: the caller sorts the groups.
        let resolved = std::sync::Mutex::new(Vec::with_capacity(parts_total));
        read.into_par_iter()
            .zip(starts)
            .chunks(1 << 12)
            .for_each(|slice| {
                let mut made = Vec::with_capacity(slice.len());
                for ((key, objects), start) in slice {
                    let facts = &facts[start..start + objects.len()];
                    split_by_facts(*key, objects, facts, limit, &mut made);
                }
                resolved.lock().expect("no worker panics").append(&mut made);
            });
        resolved.into_inner().expect("no worker panics")
    }

    /// What the allowed requests and 404s say of one object of a group.
    fn facts(&self, key: &DenialKey, object: Option<&str>) -> ObjectFacts {
        let Some(object) = object else {
            return ObjectFacts::default();
        };
        let not_found = ObjectKey {
            template: key.template.to_string(),
            object: object.to_string(),
        };
        ObjectFacts {
            named: true,
            allowed_for_anyone: self.seen.by_anyone(&key.template, object),
            answered_not_found: self.not_found.get(&not_found).is_some_and(|n| *n > 0),
            allowed_for_principal: self
                .seen
                .by_principal(&key.principal, &key.template, object),
        }
    }
}

/// One group as read, split into a group per kind of object (`facts` gives each
/// object's, in the order of [`ByObject::into_vec`]), appended to `out`.
fn split_by_facts(
    key: DenialKey,
    objects: ByObject,
    facts: &[ObjectFacts],
    limit: usize,
    out: &mut Vec<(DenialKey, DenialGroup)>,
) {
    let mut parts: BTreeMap<ObjectFacts, DenialGroup> = BTreeMap::new();
    for ((object, denials), &facts) in objects.into_vec().into_iter().zip(facts) {
        let mut group = denials.into_group(limit);
        if let Some(id) = object {
            group.objects.push(DeniedObject {
                id,
                count: group.count,
                first_ts: group.first_ts,
                last_ts: group.last_ts,
            });
        }
        match parts.get_mut(&facts) {
            Some(part) => part.merge(group, limit),
            None => {
                parts.insert(facts, group);
            }
        }
    }
    for (facts, mut group) in parts {
        group.objects.sort_unstable();
        group.shrink_to_fit();
        let key = DenialKey {
            objects: facts,
            ..key.clone()
        };
        out.push((key, group));
    }
}

fn merge_counts<K: Hash + Eq, V>(
    mine: &mut HashMap<K, V>,
    theirs: HashMap<K, V>,
    combine: impl Fn(&mut V, V),
) {
    for (key, value) in theirs {
        match mine.get_mut(&key) {
            Some(existing) => combine(existing, value),
            None => {
                mine.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MinuteCounts, MINUTE};

    #[test]
    fn minute_counts_stay_sorted_whatever_the_order() {
        let mut counts = MinuteCounts::default();
        for minute in [
            5,
            5,
            7,
            3,
            6,
            3,
            crate::model::UNKNOWN_TIME.div_euclid(MINUTE),
        ] {
            counts.add(minute, 1);
        }
        let mut other = MinuteCounts::default();
        other.add(4, 2);
        other.add(7, 1);
        counts.merge(other);
        let timed: Vec<(i64, u64)> = counts.timed().collect();
        assert_eq!(timed, [(3, 2), (4, 2), (5, 2), (6, 1), (7, 2)]);
        assert_eq!(
            counts.iter().count(),
            6,
            "the unknown minute is kept, first"
        );
    }

    fn event(principal: &str, status: u16, ts: Millis) -> Event {
        Event {
            ts,
            principal: principal.into(),
            method: "PUT".into(),
            path: "/x/1".into(),
            status,
            request_id: Some(format!("r{ts}")),
            ..Default::default()
        }
    }

    fn aggregate(events: &[(&str, u16, Millis)], file: usize) -> Aggregates {
        let mut agg = Aggregates::default();
        for (i, (p, s, ts)) in events.iter().enumerate() {
            let pos = Position::new(file, 0, i as u64 + 1);
            let derived = Derived {
                template: "/x/{id}".into(),
                ..Default::default()
            };
            agg.add_event(event(p, *s, *ts), derived, pos);
        }
        agg
    }

    fn summary(mut agg: Aggregates) -> Vec<(String, u64, Millis, Millis, Vec<Sample>)> {
        let mut rows: Vec<_> = agg
            .denial_groups()
            .unwrap()
            .iter()
            .map(|(k, g)| {
                (
                    k.principal.to_string(),
                    g.count,
                    g.first_ts,
                    g.last_ts,
                    g.samples.clone(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    #[test]
    fn merging_partials_equals_aggregating_everything_in_any_order() {
        let a = [("svc-a", 403, 10), ("svc-a", 403, 5), ("svc-b", 200, 7)];
        let b = [("svc-a", 403, 1), ("svc-b", 403, 9), ("svc-a", 500, 3)];
        let all: Vec<_> = a.iter().chain(b.iter()).cloned().collect();
        let ab = aggregate(&a, 0).merge(aggregate(&b, 0));
        let ba = aggregate(&b, 0).merge(aggregate(&a, 0));
        let whole = aggregate(&all, 0);
        assert_eq!(ab.stats, ba.stats);
        assert_eq!(ab.successes, ba.successes);
        assert_eq!(ab.other_statuses, whole.other_statuses);
        assert_eq!((ab.denied, whole.denied), (4, 4));
        let ab = summary(ab);
        assert_eq!(ab, summary(ba));
        let counts: Vec<_> = summary(whole)
            .into_iter()
            .map(|r| (r.0, r.1, r.2, r.3))
            .collect();
        let merged: Vec<_> = ab.into_iter().map(|r| (r.0, r.1, r.2, r.3)).collect();
        assert_eq!(counts, merged);
        assert_eq!(merged[0], ("svc-a".to_string(), 3, 1, 10));
    }

    /// Counts a request of `principal` on `object` of `/x/{id}`, at the next line.
    fn add_on_object(
        agg: &mut Aggregates,
        (principal, status, ts): (&str, u16, Millis),
        object: &str,
    ) {
        let position = Position::new(0, 0, agg.stats.read + 1);
        let derived = Derived {
            template: "/x/{id}".into(),
            path_object: Some(object.into()),
            ..Default::default()
        };
        agg.add_event(event(principal, status, ts), derived, position);
    }

    #[test]
    fn a_group_lists_its_objects_and_splits_only_by_what_is_known_of_them() {
        let mut agg = Aggregates::default();
        let add = |agg: &mut Aggregates, principal, status, ts, object| {
            add_on_object(agg, (principal, status, ts), object)
        };
        // svc-a is denied on four objects: it was allowed on o1, someone else on
        // o2, o3 was answered 404, and nobody ever reached o4.
        add(&mut agg, "svc-a", 200, 1, "o1");
        add(&mut agg, "svc-b", 200, 2, "o2");
        add(&mut agg, "svc-b", 404, 3, "o3");
        for (ts, object) in [(10, "o1"), (11, "o2"), (12, "o2"), (13, "o3"), (14, "o4")] {
            add(&mut agg, "svc-a", 403, ts, object);
        }
        let denials = agg.denial_groups().unwrap();
        let mut groups: Vec<_> = denials.iter().map(|(k, g)| (k, g)).collect();
        groups.sort_by_key(|(k, _)| k.objects);
        type Seen<'a> = (ObjectFacts, u64, Vec<(&'a str, u64)>);
        let seen: Vec<Seen> = groups
            .iter()
            .map(|(k, g)| {
                let objects = g.objects.iter().map(|o| (o.id.as_str(), o.count)).collect();
                (k.objects, g.count, objects)
            })
            .collect();
        let facts = |anyone, not_found, principal| ObjectFacts {
            named: true,
            allowed_for_anyone: anyone,
            answered_not_found: not_found,
            allowed_for_principal: principal,
        };
        assert_eq!(
            seen,
            vec![
                (facts(false, false, false), 1, vec![("o4", 1)]),
                (facts(false, true, false), 1, vec![("o3", 1)]),
                (facts(true, false, false), 2, vec![("o2", 2)]),
                (facts(true, false, true), 1, vec![("o1", 1)]),
            ]
        );
        let o2 = groups[2].1;
        assert_eq!((o2.first_ts, o2.last_ts), (11, 12));
        assert_eq!(o2.samples.len(), 2);
    }

    #[test]
    fn objects_with_the_same_facts_share_one_group() {
        let mut agg = Aggregates::default();
        for (ts, object) in ["o2", "o1", "o3", "o1"].into_iter().enumerate() {
            add_on_object(&mut agg, ("svc-a", 403, ts as Millis), object);
        }
        let denials = agg.denial_groups().unwrap();
        assert_eq!(denials.len(), 1);
        let group = &denials[0].1;
        let objects: Vec<_> = group
            .objects
            .iter()
            .map(|o| (o.id.as_str(), o.count, o.first_ts, o.last_ts))
            .collect();
        assert_eq!(objects, [("o1", 2, 1, 3), ("o2", 1, 0, 0), ("o3", 1, 2, 2)]);
        assert_eq!((group.count, group.first_ts, group.last_ts), (4, 0, 3));
        let minutes: u64 = group.per_minute.iter().map(|(_, n)| n).sum();
        assert_eq!(minutes, 4);
    }

    #[test]
    fn a_group_with_many_objects_counts_each_one() {
        // Past ByObject::FEW objects the list becomes a map; counts carry over.
        let mut agg = Aggregates::default();
        for round in 0..3 {
            for object in 0..40 {
                let request = ("svc-a", 403, round * 100 + object);
                add_on_object(&mut agg, request, &format!("o{object:02}"));
            }
        }
        let mut agg = agg.merge(aggregate(&[("svc-a", 403, 1_000)], 1));
        let denials = agg.denial_groups().unwrap();
        let objects: Vec<(CompactString, u64)> = denials
            .iter()
            .flat_map(|(_, g)| g.objects.iter().map(|o| (o.id.clone(), o.count)))
            .collect();
        assert_eq!(objects.len(), 40);
        assert!(objects.iter().all(|(_, n)| *n == 3), "{objects:?}");
        let total: u64 = denials.iter().map(|(_, g)| g.count).sum();
        assert_eq!(
            total, 121,
            "40 objects three times, and one request naming none"
        );
    }

    #[test]
    fn the_end_of_reading_keeps_the_filters_false_positive_rate() {
        let mut agg = Aggregates::default();
        for i in 0..1_000u64 {
            let derived = Derived {
                template: "/x/{id}".into(),
                path_object: Some(format!("M-{i}")),
                ..Default::default()
            };
            let position = Position::new(0, 0, i + 1);
            agg.add_event(event("svc-a", 200, i as Millis), derived, position);
        }
        assert_eq!(
            agg.seen_false_positive_rate, 0.0,
            "not read before reading ends"
        );
        agg.denial_groups().unwrap();
        let rate = agg.seen_false_positive_rate;
        assert!(rate > 0.0 && rate < 1e-9, "{rate}");
    }

    #[test]
    fn samples_and_bad_records_are_capped_to_the_smallest() {
        let events: Vec<_> = (0..20).rev().map(|t| ("svc-a", 403, t)).collect();
        let mut agg = aggregate(&events, 0);
        let denials = agg.denial_groups().unwrap();
        let samples = &denials[0].1.samples;
        let times: Vec<_> = samples.iter().map(|s| s.ts).collect();
        assert_eq!(times, vec![0, 1, 2, 3, 4]);

        let mut bad = Aggregates::default();
        for line in (1..=30).rev() {
            bad.add_bad(Position::new(0, 0, line), "malformed JSON", String::new());
        }
        assert_eq!(bad.bad.len(), BAD_RECORDS_KEPT);
        assert_eq!(bad.bad[0].position.line, 1);
        assert_eq!(bad.stats.read, 30);
        assert_eq!(bad.stats.skipped["malformed JSON"], 30);
    }
}
