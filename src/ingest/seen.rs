//! Which objects were ever answered successfully: by anyone, and by each principal.
//!
//! Exact sets would grow with every object a log touches, so these are Bloom
//! filters, sized before reading from the input's size, and shared by all workers
//! (bits set atomically): one copy in memory, and since setting bits commutes the
//! result never depends on which worker read what. Filters of the same size and
//! seed also merge exactly (a bitwise or). A false positive only ever makes an
//! object look allowed, so it can hide an `object_acl` or `masked_not_found`
//! diagnosis but never invent one.

use std::hash::{BuildHasher, Hash};

use fastbloom::AtomicBloomFilter;
use foldhash::fast::FixedState;

/// The smallest filter: 2^24 bits (2 MiB), under 1% false positives up to 1.7 million objects.
const MIN_BITS: usize = 1 << 24;
/// The largest: 2^30 bits (128 MiB) per filter, for about 110 million objects.
const MAX_BITS: usize = 1 << 30;
/// Bits per expected object: with 7 hashes, under 1% false positives.
const BITS_PER_OBJECT: usize = 10;
const HASHES: u32 = 7;
/// Fixed seeds: the same object hashes alike in every worker and every run.
const SEED: u128 = 0x6772_616e_7467_6170_5f73_6565_6e5f_7631;
const HASH_SEED: u64 = 0x6772_616e_7467_6170;

/// Objects are hashed once with foldhash (the filters' own SipHash cost more
/// than the rest of recording an allowed request).
fn hash(value: &impl Hash) -> u64 {
    FixedState::with_seed(HASH_SEED).hash_one(value)
}

/// The two filters' hashes of one allowed object.
#[derive(Debug, Clone, Copy)]
struct Hashes {
    anyone: u64,
    principal: u64,
}

impl Hashes {
    fn of(principal: &str, template: &str, object: &str) -> Self {
        Hashes {
            anyone: hash(&(template, object)),
            principal: hash(&(principal, template, object)),
        }
    }
}

/// Inserts gathered by one worker and applied a batch at a time.
///
/// Each insert touches a random cache line of each filter (tens of MB): a
/// cache and TLB miss, and setting bits atomically is a locked instruction,
/// which waits for that miss before anything after it proceeds. So a batch
/// first only reads: plain loads, whose misses the processor overlaps, that
/// also tell which objects are in already (allowed requests repeat objects).
/// Then it sets the bits of the rest, in lines now cached. Call
/// [`SeenBatch::flush`] before the filters are read.
#[derive(Debug, Clone, Default)]
pub struct SeenBatch {
    pending: Vec<Hashes>,
    present: Vec<(bool, bool)>,
}

impl SeenBatch {
    /// Inserts per batch: their cache lines fit in L2.
    const SIZE: usize = 256;

    /// Records, now or with the batch, that `principal` was allowed on `object`.
    pub fn insert(&mut self, seen: &SeenObjects, principal: &str, template: &str, object: &str) {
        self.pending.push(Hashes::of(principal, template, object));
        if self.pending.len() >= Self::SIZE {
            self.flush(seen);
        }
    }

    /// Applies every pending insert.
    pub fn flush(&mut self, seen: &SeenObjects) {
        self.present.clear();
        self.present.extend(self.pending.iter().map(|h| {
            (
                seen.by_anyone.contains_hash(h.anyone),
                seen.by_principal.contains_hash(h.principal),
            )
        }));
        for (h, &(anyone, principal)) in self.pending.iter().zip(&self.present) {
            if !anyone {
                seen.by_anyone.insert_hash(h.anyone);
            }
            if !principal {
                seen.by_principal.insert_hash(h.principal);
            }
        }
        self.pending.clear();
    }
}

/// Objects with a successful response.
#[derive(Debug)]
pub struct SeenObjects {
    by_anyone: AtomicBloomFilter,
    by_principal: AtomicBloomFilter,
}

impl Default for SeenObjects {
    fn default() -> Self {
        SeenObjects::for_objects(0)
    }
}

impl SeenObjects {
    /// Filters for about `objects` distinct objects (per principal) at under 1%
    /// false positives, within [`MIN_BITS`] and [`MAX_BITS`].
    pub fn for_objects(objects: u64) -> Self {
        let wanted = usize::try_from(objects)
            .unwrap_or(usize::MAX)
            .saturating_mul(BITS_PER_OBJECT);
        let bits = wanted
            .checked_next_power_of_two()
            .unwrap_or(MAX_BITS)
            .clamp(MIN_BITS, MAX_BITS);
        let filter = || {
            AtomicBloomFilter::with_num_bits(bits)
                .seed(&SEED)
                .hashes(HASHES)
        };
        SeenObjects {
            by_anyone: filter(),
            by_principal: filter(),
        }
    }

    /// The size of each filter, in bits.
    pub fn bits(&self) -> usize {
        self.by_anyone.num_bits()
    }

    /// Records that `principal` was allowed on `object` of endpoint `template`.
    pub fn insert(&self, principal: &str, template: &str, object: &str) {
        self.insert_hashes(Hashes::of(principal, template, object));
    }

    fn insert_hashes(&self, hashes: Hashes) {
        // Objects recur across principals: testing first spares most atomic writes.
        if !self.by_anyone.contains_hash(hashes.anyone) {
            self.by_anyone.insert_hash(hashes.anyone);
        }
        self.by_principal.insert_hash(hashes.principal);
    }

    /// Whether anyone was ever allowed on the object (may err towards yes).
    pub fn by_anyone(&self, template: &str, object: &str) -> bool {
        self.by_anyone.contains_hash(hash(&(template, object)))
    }

    /// Whether `principal` was ever allowed on the object (may err towards yes).
    pub fn by_principal(&self, principal: &str, template: &str, object: &str) -> bool {
        self.by_principal
            .contains_hash(hash(&(principal, template, object)))
    }

    /// Adds what another filter of the same size saw.
    pub fn merge(&self, other: &SeenObjects) {
        self.by_anyone.union(&other.by_anyone);
        self.by_principal.union(&other.by_principal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_filters_know_what_either_saw() {
        let a = SeenObjects::default();
        let b = SeenObjects::default();
        a.insert("svc-a", "/m/{id}", "M-1");
        b.insert("svc-b", "/m/{id}", "M-2");
        a.merge(&b);
        assert!(a.by_anyone("/m/{id}", "M-1") && a.by_anyone("/m/{id}", "M-2"));
        assert!(a.by_principal("svc-b", "/m/{id}", "M-2"));
        assert!(!a.by_principal("svc-a", "/m/{id}", "M-2"));
        assert!(!a.by_anyone("/m/{id}", "M-3"));
    }

    #[test]
    fn a_batch_is_applied_when_full_and_when_flushed() {
        let seen = SeenObjects::default();
        let mut batch = SeenBatch::default();
        for i in 0..SeenBatch::SIZE {
            batch.insert(&seen, "p", "/t/{id}", &i.to_string());
        }
        assert!(
            seen.by_principal("p", "/t/{id}", "0"),
            "a full batch is applied"
        );
        batch.insert(&seen, "q", "/t/{id}", "last");
        assert!(!seen.by_anyone("/t/{id}", "last"));
        batch.flush(&seen);
        assert!(seen.by_anyone("/t/{id}", "last") && seen.by_principal("q", "/t/{id}", "last"));
    }

    #[test]
    fn filters_grow_with_the_input_within_bounds() {
        assert_eq!(SeenObjects::for_objects(0).bits(), MIN_BITS);
        assert_eq!(SeenObjects::for_objects(10_000_000).bits(), 1 << 27);
        assert_eq!(SeenObjects::for_objects(u64::MAX).bits(), MAX_BITS);
    }

    #[test]
    fn a_filter_holding_what_it_was_sized_for_stays_under_one_percent_false_positives() {
        // 1.6 million objects: 16 million bits wanted, 2^24 given (10.5 bits each).
        let seen = SeenObjects::for_objects(1_600_000);
        for i in 0..1_600_000u32 {
            seen.insert("p", "/t/{id}", &i.to_string());
        }
        let false_positives = (10_000_000..10_100_000u32)
            .filter(|i| seen.by_principal("p", "/t/{id}", &i.to_string()))
            .count();
        assert!(false_positives < 1_000, "{false_positives} in 100,000");
    }
}
