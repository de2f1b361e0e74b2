//! Which objects were ever answered successfully: by anyone, and by each principal.
//!
//! Exact sets would grow with every object a log touches, so these are Bloom
//! filters of fixed size. Filters with the same size and seed merge exactly (a
//! bitwise or), like every other aggregate. A false positive only ever makes an
//! object look allowed, so it can hide an `object_acl` or `masked_not_found`
//! diagnosis but never invent one.

use fastbloom::BloomFilter;

/// 2^24 bits (2 MiB) per filter: under 1% false positives up to about 1.7 million objects.
const BITS: usize = 1 << 24;
const HASHES: u32 = 7;
/// A fixed seed: the same object hashes alike in every worker and every run.
const SEED: u128 = 0x6772_616e_7467_6170_5f73_6565_6e5f_7631;

/// Objects with a successful response.
#[derive(Debug, Clone)]
pub struct SeenObjects {
    by_anyone: BloomFilter,
    by_principal: BloomFilter,
}

impl Default for SeenObjects {
    fn default() -> Self {
        let filter = || BloomFilter::with_num_bits(BITS).seed(&SEED).hashes(HASHES);
        SeenObjects {
            by_anyone: filter(),
            by_principal: filter(),
        }
    }
}

impl SeenObjects {
    /// Records that `principal` was allowed on `object` of endpoint `template`.
    pub fn insert(&mut self, principal: &str, template: &str, object: &str) {
        self.by_anyone.insert(&(template, object));
        self.by_principal.insert(&(principal, template, object));
    }

    /// Whether anyone was ever allowed on the object (may err towards yes).
    pub fn by_anyone(&self, template: &str, object: &str) -> bool {
        self.by_anyone.contains(&(template, object))
    }

    /// Whether `principal` was ever allowed on the object (may err towards yes).
    pub fn by_principal(&self, principal: &str, template: &str, object: &str) -> bool {
        self.by_principal.contains(&(principal, template, object))
    }

    /// Adds what another partial result saw.
    pub fn merge(&mut self, other: &SeenObjects) {
        self.by_anyone.union(&other.by_anyone);
        self.by_principal.union(&other.by_principal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_filters_know_what_either_saw() {
        let mut a = SeenObjects::default();
        let mut b = SeenObjects::default();
        a.insert("svc-a", "/m/{id}", "M-1");
        b.insert("svc-b", "/m/{id}", "M-2");
        a.merge(&b);
        assert!(a.by_anyone("/m/{id}", "M-1") && a.by_anyone("/m/{id}", "M-2"));
        assert!(a.by_principal("svc-b", "/m/{id}", "M-2"));
        assert!(!a.by_principal("svc-a", "/m/{id}", "M-2"));
        assert!(!a.by_anyone("/m/{id}", "M-3"));
    }
}
