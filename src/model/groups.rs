//! The groups ingest folds the events into, which every later stage reads:
//! denial groups (key, counts, samples, objects), allowed-request groups, and
//! where a record sat in the input.

use compact_str::CompactString;
use smallvec::SmallVec;

use super::intern::Shared;
use super::time::{Millis, UNKNOWN_TIME};

/// Where a record sits: the input file, the unit of that file a worker read, and
/// the line within the unit. Lines become absolute once all units are counted.
///
/// 16 bytes, not 24: every sample kept as evidence holds one, millions at 10 GB,
/// and no run reads four billion files or units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    file: u32,
    unit: u32,
    pub line: u64,
}

impl Position {
    pub fn new(file: usize, unit: usize, line: u64) -> Self {
        let narrow = |n: usize| u32::try_from(n).expect("fewer than 2^32 files and units");
        Position {
            file: narrow(file),
            unit: narrow(unit),
            line,
        }
    }

    /// The index of the input file.
    pub fn file(self) -> usize {
        self.file as usize
    }

    /// The index of the unit within its file.
    pub fn unit(self) -> usize {
        self.unit as usize
    }
}

/// Denied requests that share everything a diagnosis looks at. The object is
/// not part of it: a group lists its objects (`DenialGroup::objects`) and is
/// split only by what the input says of them (`ObjectFacts`). A group per
/// object would cost a whole key, diagnosis and finding entry per denied object,
/// and logs where every denial names its own object are common.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
///
/// Its strings are shared (`Interner`): a million keys hold a few thousand
/// distinct values.
pub struct DenialKey {
    pub principal: Shared<str>,
    pub token_id: Option<Shared<str>>,
    /// When the token or session was issued, as the log itself says.
    pub token_issued_at: Option<Millis>,
    pub scopes: Option<Shared<[String]>>,
    pub method: Shared<str>,
    pub template: Shared<str>,
    pub objects: ObjectFacts,
    pub org: Option<Shared<str>>,
    pub fields: Shared<[String]>,
    pub status: u16,
    pub error_code: Option<Shared<str>>,
    pub message: Option<Shared<str>>,
    pub headers: Shared<[(String, String)]>,
    /// Which interval of the principal's snapshot timeline the requests fall in
    /// (cut at each snapshot and at the end of its propagation window). Groups
    /// never straddle a cut, so one as-of lookup per group is exact.
    pub segment: u32,
    /// Whether the requests came after their token's `expires_at`.
    pub after_token_expiry: bool,
}

/// What the whole input says of a denial group's objects: the same for every
/// object of the group. Known only once every event is read, so ingest sets it
/// last, as the groups are taken back (`Aggregates::take_denials`); until then
/// it is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectFacts {
    /// The requests name an object (in the log, or as the path's last id).
    pub named: bool,
    /// Someone was allowed on the object.
    pub allowed_for_anyone: bool,
    /// The object was answered 404 to someone.
    pub answered_not_found: bool,
    /// The group's own principal was allowed on the object.
    pub allowed_for_principal: bool,
}

impl ObjectFacts {
    /// The four facts as the low four bits of a number.
    pub(crate) fn bits(self) -> u8 {
        u8::from(self.named)
            | u8::from(self.allowed_for_anyone) << 1
            | u8::from(self.answered_not_found) << 2
            | u8::from(self.allowed_for_principal) << 3
    }

    /// The facts [`ObjectFacts::bits`] gave `bits`.
    pub(crate) fn from_bits(bits: u8) -> Self {
        ObjectFacts {
            named: bits & 1 != 0,
            allowed_for_anyone: bits & 2 != 0,
            answered_not_found: bits & 4 != 0,
            allowed_for_principal: bits & 8 != 0,
        }
    }
}

/// The denials of one group on one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeniedObject {
    pub id: CompactString,
    pub count: u64,
    pub first_ts: Millis,
    pub last_ts: Millis,
}

/// One denied request kept as evidence.
///
/// Its request id, like a denied object's id, is a [`CompactString`]: held in
/// place up to 24 bytes, as most ids are. Millions of them outlive reading, and
/// as separate heap blocks they were scattered among the blocks that reading
/// frees, which kept the allocator's pages resident long after.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sample {
    pub ts: Millis,
    pub request_id: Option<CompactString>,
    pub position: Position,
}

/// Counts, time span, counts per minute, the earliest samples and the objects
/// of a denial group.
#[derive(Debug, Clone, PartialEq)]
pub struct DenialGroup {
    pub count: u64,
    pub first_ts: Millis,
    pub last_ts: Millis,
    /// Denials per UTC minute (minutes since the epoch), for spike detection.
    pub per_minute: MinuteCounts,
    pub samples: Vec<Sample>,
    /// The objects denied, by id; empty where the requests name none.
    pub objects: Vec<DeniedObject>,
}

impl DenialGroup {
    pub(crate) fn first(sample: Sample, sample_limit: usize) -> Self {
        let ts = sample.ts;
        let mut samples = vec![sample];
        samples.truncate(sample_limit);
        DenialGroup {
            count: 1,
            first_ts: ts,
            last_ts: ts,
            per_minute: MinuteCounts(vec![(ts.div_euclid(MINUTE), 1)]),
            samples,
            objects: Vec::new(),
        }
    }

    /// Counts one more denied request.
    pub(crate) fn add(&mut self, sample: Sample, sample_limit: usize) {
        self.count += 1;
        self.per_minute.add(sample.ts.div_euclid(MINUTE), 1);
        self.first_ts = self.first_ts.min(sample.ts);
        self.last_ts = self.last_ts.max(sample.ts);
        keep_samples(&mut self.samples, vec![sample], sample_limit);
    }

    /// Gives back room that merging left unused: groups are kept to the end.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.per_minute.0.shrink_to_fit();
        self.samples.shrink_to_fit();
        self.objects.shrink_to_fit();
    }

    /// Folds in the denials of another group (another worker's, another object's).
    pub(crate) fn merge(&mut self, other: DenialGroup, sample_limit: usize) {
        self.count += other.count;
        self.first_ts = self.first_ts.min(other.first_ts);
        self.last_ts = self.last_ts.max(other.last_ts);
        self.per_minute.merge(other.per_minute);
        keep_samples(&mut self.samples, other.samples, sample_limit);
        self.objects.extend(other.objects);
    }
}

/// One minute, in milliseconds: the resolution of [`DenialGroup::per_minute`].
pub const MINUTE: Millis = 60_000;

/// Counts per minute, sorted by minute. A sorted vector, not a map: most groups
/// span a minute or two, and a map's first node costs about 200 bytes where
/// one entry here costs 16 (there is a group per denied object, so millions).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteCounts(Vec<(i64, u64)>);

impl MinuteCounts {
    /// Adds `n` to `minute`; events mostly come in time order, so this appends.
    pub fn add(&mut self, minute: i64, n: u64) {
        match self.0.last_mut() {
            Some(last) if last.0 == minute => last.1 += n,
            Some(last) if last.0 < minute => self.0.push((minute, n)),
            None => self.0.push((minute, n)),
            Some(_) => match self.0.binary_search_by_key(&minute, |(m, _)| *m) {
                Ok(i) => self.0[i].1 += n,
                Err(i) => self.0.insert(i, (minute, n)),
            },
        }
    }

    /// (minute, count), minutes ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, u64)> + '_ {
        self.0.iter().copied()
    }

    /// The minutes of known time (the unknown time sorts first).
    pub fn timed(&self) -> impl DoubleEndedIterator<Item = (i64, u64)> + '_ {
        let unknown = UNKNOWN_TIME.div_euclid(MINUTE);
        self.iter().filter(move |(m, _)| *m != unknown)
    }

    /// The counts of `pairs` (minute, count), in any order, repeats summed.
    pub fn from_pairs(mut pairs: Vec<(i64, u64)>) -> Self {
        pairs.sort_unstable_by_key(|(minute, _)| *minute);
        let mut counts: Vec<(i64, u64)> = Vec::with_capacity(pairs.len());
        for (minute, n) in pairs {
            match counts.last_mut() {
                Some(last) if last.0 == minute => last.1 += n,
                _ => counts.push((minute, n)),
            }
        }
        counts.shrink_to_fit();
        MinuteCounts(counts)
    }

    /// Folds in another's counts: one pass over both sorted lists.
    pub fn merge(&mut self, other: MinuteCounts) {
        let (mine, theirs) = (std::mem::take(&mut self.0), other.0);
        let mut merged = Vec::with_capacity(mine.len() + theirs.len());
        let (mut a, mut b) = (mine.into_iter().peekable(), theirs.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let (minute, n) = a.next().expect("peeked");
                    (minute, n + b.next().expect("peeked").1)
                }
                (Some(x), Some(y)) if x.0 < y.0 => a.next().expect("peeked"),
                (Some(_), Some(_)) | (None, Some(_)) => b.next().expect("peeked"),
                (Some(_), None) => a.next().expect("peeked"),
                (None, None) => break,
            };
            merged.push(next);
        }
        self.0 = merged;
    }
}

/// Allowed requests of one principal on one endpoint, in one data scope, with
/// one set of body fields.
///
/// Packed into one run of bytes: each part as its length (2 bytes, or
/// [`LONG`] and 8 bytes) and its bytes, in the order principal, method,
/// template, org ([`NO_ORG`] when absent), then the fields. Every allowed
/// request looks its key up, and the lookup is most of what recording one
/// costs: one contiguous hash and one compare, where five separate strings
/// cost five hashes and five compares at five addresses. The key built from a
/// line ([`SuccessKey::pack`]) is looked up as bytes, without allocating.
///
/// A key of up to [`INLINE_KEY`] bytes is held in the map's slot itself, not
/// behind a pointer: the compare of a found key then reads the line the slot
/// lookup brought into cache, not a second one elsewhere (the generated log's
/// keys are 43-81 bytes, half of CloudTrail's up to 99; 2 GB generated and
/// wide, 6 alternating runs: CPU -5% and -4%). A longer key spills to the heap
/// as a boxed one would, its slot then 104 bytes unused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SuccessKey(SmallVec<[u8; INLINE_KEY]>);

/// The longest key held inline (see [`SuccessKey`]).
const INLINE_KEY: usize = 104;

/// The length marking an absent org.
const NO_ORG: u16 = u16::MAX;
/// The length marking a part of 64 KiB or more, whose length follows in 8 bytes.
const LONG: u16 = u16::MAX - 1;

impl SuccessKey {
    pub fn new<F: AsRef<str>>(
        principal: &str,
        method: &str,
        template: &str,
        org: Option<&str>,
        fields: &[F],
    ) -> Self {
        let mut bytes = Vec::new();
        Self::pack(&mut bytes, principal, method, template, org, fields);
        SuccessKey(bytes.into())
    }

    /// Appends the packed form of a key to `out`: what the map is looked up by.
    pub(crate) fn pack<F: AsRef<str>>(
        out: &mut Vec<u8>,
        principal: &str,
        method: &str,
        template: &str,
        org: Option<&str>,
        fields: &[F],
    ) {
        fn part(out: &mut Vec<u8>, text: &str) {
            match u16::try_from(text.len()) {
                Ok(len) if len < LONG => out.extend_from_slice(&len.to_le_bytes()),
                _ => {
                    out.extend_from_slice(&LONG.to_le_bytes());
                    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
                }
            }
            out.extend_from_slice(text.as_bytes());
        }
        part(out, principal);
        part(out, method);
        part(out, template);
        match org {
            Some(org) => part(out, org),
            None => out.extend_from_slice(&NO_ORG.to_le_bytes()),
        }
        for field in fields {
            part(out, field.as_ref());
        }
    }

    /// The key of a packed form made by [`SuccessKey::pack`].
    pub(crate) fn from_packed(bytes: &[u8]) -> Self {
        SuccessKey(bytes.into())
    }

    /// The parts in order; an absent org is `None`.
    fn parts(&self) -> impl Iterator<Item = Option<&str>> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (len, mut after) = rest.split_first_chunk::<2>()?;
            let len = match u16::from_le_bytes(*len) {
                NO_ORG => {
                    rest = after;
                    return Some(None);
                }
                LONG => {
                    let (len, beyond) = after.split_first_chunk::<8>()?;
                    after = beyond;
                    u64::from_le_bytes(*len) as usize
                }
                len => usize::from(len),
            };
            let (text, after) = after.split_at(len);
            rest = after;
            // Packed from `&str`s only, and split at their boundaries.
            Some(Some(std::str::from_utf8(text).expect("packed from text")))
        })
    }

    fn part(&self, index: usize) -> Option<&str> {
        self.parts().nth(index).flatten()
    }

    pub fn principal(&self) -> &str {
        self.part(0).unwrap_or_default()
    }

    pub fn method(&self) -> &str {
        self.part(1).unwrap_or_default()
    }

    pub fn template(&self) -> &str {
        self.part(2).unwrap_or_default()
    }

    pub fn org(&self) -> Option<&str> {
        self.part(3)
    }

    /// The body fields, sorted and distinct.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts().skip(4).flatten()
    }

    /// The parts as a tuple, for ordering and printing.
    fn unpacked(&self) -> (&str, &str, &str, Option<&str>, Vec<&str>) {
        let fields = self.fields().collect();
        (
            self.principal(),
            self.method(),
            self.template(),
            self.org(),
            fields,
        )
    }
}

impl std::borrow::Borrow<[u8]> for SuccessKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

/// Ordered by principal, method, template, org, then fields, as the parts read.
impl Ord for SuccessKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unpacked().cmp(&other.unpacked())
    }
}

impl PartialOrd for SuccessKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for SuccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (principal, method, template, org, fields) = self.unpacked();
        f.debug_struct("SuccessKey")
            .field("principal", &principal)
            .field("method", &method)
            .field("template", &template)
            .field("org", &org)
            .field("fields", &fields)
            .finish()
    }
}

/// The allowed requests of a run, by group: what peers and a principal's own
/// successes are read from.
pub type Successes = hashbrown::HashMap<SuccessKey, SuccessGroup>;

/// One object of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub template: String,
    pub object: String,
}

/// Count and time span of allowed requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuccessGroup {
    pub count: u64,
    pub first_ts: Millis,
    pub last_ts: Millis,
}

/// Keeps the `cap` earliest samples of both lists; without a cap, all of them,
/// unsorted (sorting every insert would be quadratic in a group's size).
pub(crate) fn keep_samples(kept: &mut Vec<Sample>, more: Vec<Sample>, cap: usize) {
    if cap == usize::MAX {
        kept.extend(more);
    } else {
        keep_smallest(kept, more, cap);
    }
}

/// Keeps the `cap` smallest items of both lists, sorted: the same result whatever
/// order lists arrive in.
pub(crate) fn keep_smallest<T: Ord>(kept: &mut Vec<T>, more: Vec<T>, cap: usize) {
    kept.extend(more);
    kept.sort();
    kept.truncate(cap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashMap;

    #[test]
    fn a_part_of_any_length_is_read_back_whole() {
        // Around the two-byte length's limit, where the length takes 8 more bytes.
        for len in [0, 1, 65_533, 65_534, 65_535, 65_536, 200_000] {
            let long = "p".repeat(len);
            let key = SuccessKey::new(&long, "GET", &long, Some(&long), &[&long, "x"]);
            assert_eq!(
                (key.principal(), key.method(), key.template(), key.org()),
                (&long[..], "GET", &long[..], Some(&long[..])),
                "{len}"
            );
            assert_eq!(key.fields().collect::<Vec<_>>(), [&long[..], "x"], "{len}");
        }
        // A part whose bytes look like the markers is still text of its length.
        let key = SuccessKey::new::<&str>("\u{fffe}", "\u{ffff}", "", None, &[]);
        assert_eq!((key.principal(), key.method()), ("\u{fffe}", "\u{ffff}"));
    }

    #[test]
    fn a_success_key_gives_back_its_parts_and_sorts_by_them() {
        let key = SuccessKey::new("svc-a", "PATCH", "/wo/{id}", Some(""), &["cost", "note"]);
        assert_eq!(
            (key.principal(), key.method(), key.template(), key.org()),
            ("svc-a", "PATCH", "/wo/{id}", Some(""))
        );
        assert_eq!(key.fields().collect::<Vec<_>>(), ["cost", "note"]);
        let no_org = SuccessKey::new::<&str>("svc-a", "PATCH", "/wo/{id}", None, &[]);
        assert_eq!((no_org.org(), no_org.fields().count()), (None, 0));
        // An empty org is not an absent one, and parts never run into each other.
        assert_ne!(
            key,
            SuccessKey::new("svc-a", "PATCH", "/wo/{id}", None, &["cost", "note"])
        );
        assert_ne!(
            SuccessKey::new::<&str>("ab", "c", "/t", None, &[]),
            SuccessKey::new::<&str>("a", "bc", "/t", None, &[])
        );
        // Ordered by the parts, as the fields of a struct would be.
        let mut keys = [
            SuccessKey::new::<&str>("b", "GET", "/t", None, &[]),
            SuccessKey::new("a", "GET", "/t", Some("eu"), &["x"]),
            SuccessKey::new::<&str>("a", "GET", "/t", Some("eu"), &[]),
            SuccessKey::new::<&str>("a", "GET", "/t", None, &[]),
            SuccessKey::new::<&str>("a", "DELETE", "/zz", None, &[]),
        ];
        keys.sort();
        let order: Vec<_> = keys
            .iter()
            .map(|k| (k.method(), k.org(), k.fields().count()))
            .collect();
        assert_eq!(
            order,
            [
                ("DELETE", None, 0),
                ("GET", None, 0),
                ("GET", Some("eu"), 0),
                ("GET", Some("eu"), 1),
                ("GET", None, 0)
            ]
        );
        // A packed line finds the stored key without allocating one.
        let mut map = HashMap::new();
        map.insert(key.clone(), 7);
        let mut packed = Vec::new();
        SuccessKey::pack(
            &mut packed,
            "svc-a",
            "PATCH",
            "/wo/{id}",
            Some(""),
            &["cost", "note"],
        );
        assert_eq!(map.get(packed.as_slice()), Some(&7));
    }
}
