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
        // Objects recur across principals: testing first spares most atomic writes.
        let anyone = hash(&(template, object));
        if !self.by_anyone.contains_hash(anyone) {
            self.by_anyone.insert_hash(anyone);
        }
        self.by_principal
            .insert_hash(hash(&(principal, template, object)));
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
