//! Which objects were ever answered successfully: by anyone, and by each principal.
//!
//! Exact sets would grow with every object a log touches, so these are Bloom
//! filters, sized before reading from the input's size, and shared by all workers
//! (bits set atomically): one copy in memory, and since setting bits commutes the
//! result never depends on which worker read what. Filters of the same size and
//! seed also merge exactly (a bitwise or). A false positive only ever makes an
//! object look allowed, so it can hide an `object_acl` or `masked_not_found`
//! diagnosis but never invent one.
//!
//! The filters are blocked: all the bits of one object lie in one 64-byte block,
//! one cache line. Every allowed request tests both filters, and the filters are
//! tens of MB: a classic filter (fastbloom's, used before) reads seven random
//! lines per filter, each a cache and TLB miss, which made the filters the
//! largest cost of reading a line (12% of the 2 GB profile). A block costs a
//! little more room for the same false positives (0.77% against 0.65% at the
//! 10.5 bits per object a full filter holds); no maintained crate offers a
//! blocked filter with atomic inserts, hence this one.

use std::hash::{BuildHasher, Hash};
use std::io::{self, Read, Write};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use foldhash::fast::FixedState;

/// The smallest filter: 2^24 bits (2 MiB), under 1% false positives up to 1.6 million objects.
const MIN_BITS: usize = 1 << 24;
/// The largest: 2^28 bits (32 MiB) per filter, under 1% false positives up to
/// about 27 million objects. A bound, so that memory stays flat as input grows:
/// the filters were sized by the input alone up to 2^30 bits, and at 10 GB held
/// 256 MiB for 16 million (principal, object) pairs (false positives 1e-7).
/// Past the bound the rate rises; ingest measures it
/// ([`SeenObjects::false_positive_rate`]) and the report warns above 1%.
const MAX_BITS: usize = 1 << 28;
/// Bits per expected object: with 7 bits set per object, under 1% false positives.
const BITS_PER_OBJECT: usize = 10;
/// Bits set per object, each chosen by 9 bits of its hash (a block has 512).
const HASHES: usize = 7;
/// A fixed seed: the same object hashes alike in every worker and every run.
const HASH_SEED: u64 = 0x6772_616e_7467_6170;

/// Objects are hashed once with foldhash (SipHash cost more than the rest of
/// recording an allowed request).
fn hash(value: &impl Hash) -> u64 {
    FixedState::with_seed(HASH_SEED).hash_one(value)
}

/// 512 bits on one cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Block([AtomicU64; 8]);

impl Block {
    const BITS: usize = 512;
}

/// A Bloom filter whose bits for one item lie in one [`Block`].
#[derive(Debug)]
struct BlockedFilter {
    /// Anonymous memory, zeroed by the system as its pages are first touched.
    /// (Allocated zeroed by the global allocator instead, the filters were
    /// written whole: mimalloc clears an aligned allocation itself, and a
    /// partial of 1,000 lines peaked at 146 MB.)
    map: memmap2::MmapMut,
}

/// How a filter's memory is paged.
#[derive(Debug, Clone, Copy)]
enum Pages {
    /// Huge pages where the system gives them: a filter sized for its input
    /// fills throughout, and each insert misses the TLB less (with 4 KiB
    /// pages reading the 2 GB corpus took 3% longer).
    Huge,
    /// The system's small pages: a partial's oversized filters
    /// ([`SeenObjects::largest`]) cost memory only for the pages its objects
    /// touch.
    Small,
}

impl BlockedFilter {
    /// A filter of `bits` bits (a multiple of 512).
    fn with_bits(bits: usize, pages: Pages) -> Self {
        let len = bits / Block::BITS;
        assert!(len > 0, "a filter has blocks");
        let map = memmap2::MmapMut::map_anon(len * std::mem::size_of::<Block>())
            .unwrap_or_else(|e| panic!("cannot map {} MiB for a filter: {e}", bits >> 23));
        // Advice only: where the system declines it, the filter works alike.
        #[cfg(target_os = "linux")]
        let _ = map.advise(match pages {
            Pages::Huge => memmap2::Advice::HugePage,
            Pages::Small => memmap2::Advice::NoHugePage,
        });
        #[cfg(not(target_os = "linux"))]
        let _ = pages;
        BlockedFilter { map }
    }

    fn blocks(&self) -> &[Block] {
        let len = self.map.len() / std::mem::size_of::<Block>();
        // SAFETY: the map holds `len` blocks' bytes, page-aligned (a block
        // needs 64), zero or written only through these atomics; zero bytes
        // are eight `AtomicU64`s of 0, and atomics may be written through a
        // shared reference. The map lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<Block>(), len) }
    }

    fn num_bits(&self) -> usize {
        self.blocks().len() * Block::BITS
    }

    /// The block of a hash: from its high bits, as a multiply-shift range
    /// reduction gives them.
    fn block(&self, hash: u64) -> &Block {
        let index = (u128::from(hash) * self.blocks().len() as u128) >> 64;
        &self.blocks()[index as usize]
    }

    /// The block of a hash and, per word of the block, the bits to set.
    fn locate(&self, hash: u64) -> (&Block, [u64; 8]) {
        // The bits within the block from a second mix of the hash, so they do
        // not follow the block: 9 bits each choose one of the 512.
        let mut probes = (hash ^ hash >> 29).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        probes ^= probes >> 32;
        let mut masks = [0u64; 8];
        for _ in 0..HASHES {
            let bit = (probes & 511) as usize;
            masks[bit / 64] |= 1 << (bit % 64);
            probes >>= 9;
        }
        (self.block(hash), masks)
    }

    fn contains(&self, hash: u64) -> bool {
        let (block, masks) = self.locate(hash);
        block
            .0
            .iter()
            .zip(masks)
            .all(|(word, mask)| word.load(Relaxed) & mask == mask)
    }

    fn insert(&self, hash: u64) {
        let (block, masks) = self.locate(hash);
        for (word, mask) in block.0.iter().zip(masks) {
            if mask != 0 {
                word.fetch_or(mask, Relaxed);
            }
        }
    }

    /// The chance that an object never inserted tests present: per block, the
    /// share of its bits set to the power of the bits an object sets, averaged
    /// over blocks (a query lands on each alike). Blocks fill unevenly, so this
    /// is read off the blocks, not from a count of objects.
    fn false_positive_rate(&self) -> f64 {
        let per_block = |block: &Block| {
            let set: u32 = block.0.iter().map(|w| w.load(Relaxed).count_ones()).sum();
            (f64::from(set) / Block::BITS as f64).powi(HASHES as i32)
        };
        let sum: f64 = self.blocks().iter().map(per_block).sum();
        sum / self.blocks().len() as f64
    }

    /// Adds the bits of a filter of the same size.
    fn union(&self, other: &BlockedFilter) {
        assert_eq!(self.num_bits(), other.num_bits(), "filters of one size");
        for (mine, theirs) in self.blocks().iter().zip(other.blocks().iter()) {
            for (word, bits) in mine.0.iter().zip(&theirs.0) {
                // Most words of a partial's large filters are zero: those pages stay unwritten.
                let bits = bits.load(Relaxed);
                if bits != 0 {
                    word.fetch_or(bits, Relaxed);
                }
            }
        }
    }
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
/// Each insert touches a random block of each filter (tens of MB): a
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
        // First one load per block and nothing else, so that the batch's cache
        // misses overlap: the tests below compute each block's bits between
        // its loads and branch on them, and left alone waited for each miss
        // in turn (2 GB generated corpus: 9% less CPU with this loop).
        let mut touched = 0;
        for h in &self.pending {
            touched ^= seen.by_anyone.block(h.anyone).0[0].load(Relaxed);
            touched ^= seen.by_principal.block(h.principal).0[0].load(Relaxed);
        }
        std::hint::black_box(touched);
        self.present.clear();
        self.present.extend(self.pending.iter().map(|h| {
            (
                seen.by_anyone.contains(h.anyone),
                seen.by_principal.contains(h.principal),
            )
        }));
        for (h, &(anyone, principal)) in self.pending.iter().zip(&self.present) {
            if !anyone {
                seen.by_anyone.insert(h.anyone);
            }
            if !principal {
                seen.by_principal.insert(h.principal);
            }
        }
        self.pending.clear();
    }
}

/// Objects with a successful response.
#[derive(Debug)]
pub struct SeenObjects {
    by_anyone: BlockedFilter,
    by_principal: BlockedFilter,
}

impl Default for SeenObjects {
    fn default() -> Self {
        SeenObjects::for_objects(0)
    }
}

impl SeenObjects {
    /// Filters for about `objects` distinct objects (per principal) at under 1%
    /// false positives, within `MIN_BITS` and `MAX_BITS`.
    pub fn for_objects(objects: u64) -> Self {
        Self::with_bits(Self::bits_for(objects), Pages::Huge)
    }

    /// The bits of the largest filters.
    pub const LARGEST_BITS: usize = MAX_BITS;

    /// The largest filters: what a partial state keeps, so that a merge of
    /// any inputs can fold them to the size a run over those inputs would
    /// choose ([`SeenObjects::folded_to`]).
    pub fn largest() -> Self {
        Self::with_bits(MAX_BITS, Pages::Small)
    }

    fn with_bits(bits: usize, pages: Pages) -> Self {
        SeenObjects {
            by_anyone: BlockedFilter::with_bits(bits, pages),
            by_principal: BlockedFilter::with_bits(bits, pages),
        }
    }

    /// The bits of each filter for about `objects` objects.
    pub fn bits_for(objects: u64) -> usize {
        let wanted = usize::try_from(objects)
            .unwrap_or(usize::MAX)
            .saturating_mul(BITS_PER_OBJECT);
        wanted
            .checked_next_power_of_two()
            .unwrap_or(MAX_BITS)
            .clamp(MIN_BITS, MAX_BITS)
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
        if !self.by_anyone.contains(hashes.anyone) {
            self.by_anyone.insert(hashes.anyone);
        }
        self.by_principal.insert(hashes.principal);
    }

    /// Whether anyone was ever allowed on the object (may err towards yes).
    pub fn by_anyone(&self, template: &str, object: &str) -> bool {
        self.by_anyone.contains(hash(&(template, object)))
    }

    /// Whether `principal` was ever allowed on the object (may err towards yes).
    pub fn by_principal(&self, principal: &str, template: &str, object: &str) -> bool {
        self.by_principal
            .contains(hash(&(principal, template, object)))
    }

    /// The larger of the two filters' false-positive rates, as they stand.
    pub fn false_positive_rate(&self) -> f64 {
        let anyone = self.by_anyone.false_positive_rate();
        anyone.max(self.by_principal.false_positive_rate())
    }

    /// Adds what another filter of the same size saw.
    pub fn merge(&self, other: &SeenObjects) {
        self.by_anyone.union(&other.by_anyone);
        self.by_principal.union(&other.by_principal);
    }

    /// These filters at `bits` bits, no more than theirs: every object in
    /// them tests present in the result, as if inserted into filters of that
    /// size. A block is chosen by the top bits of the hash, and the bits within
    /// it by others, so block `i` of a filter `2^k` times larger lands on block
    /// `i >> k`, its bits where they were.
    pub(crate) fn folded_to(&self, bits: usize) -> SeenObjects {
        assert!(bits <= self.bits() && bits.is_power_of_two() && bits >= Block::BITS);
        let fold = |filter: &BlockedFilter| {
            let small = BlockedFilter::with_bits(bits, Pages::Huge);
            let shift = (filter.blocks().len() / small.blocks().len()).trailing_zeros();
            for (i, block) in filter.blocks().iter().enumerate() {
                for (word, bits) in small.blocks()[i >> shift].0.iter().zip(&block.0) {
                    let bits = bits.load(Relaxed);
                    if bits != 0 {
                        word.fetch_or(bits, Relaxed);
                    }
                }
            }
            small
        };
        SeenObjects {
            by_anyone: fold(&self.by_anyone),
            by_principal: fold(&self.by_principal),
        }
    }

    /// Writes both filters for a partial state: the bits of one, then each
    /// filter's words (little-endian), zstd-compressed behind their length.
    /// A filter is mostly zeros until it fills: 2 MiB of bits with a few
    /// thousand objects compress to a few KB.
    pub(crate) fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&(self.bits() as u64).to_le_bytes())?;
        for filter in [&self.by_anyone, &self.by_principal] {
            let mut words = Vec::with_capacity(filter.num_bits() / 8);
            for block in filter.blocks().iter() {
                for word in &block.0 {
                    words.extend_from_slice(&word.load(Relaxed).to_le_bytes());
                }
            }
            let packed = zstd::bulk::compress(&words, 1)?;
            out.write_all(&(packed.len() as u64).to_le_bytes())?;
            out.write_all(&packed)?;
        }
        Ok(())
    }

    /// Reads back what [`SeenObjects::write_to`] wrote.
    pub(crate) fn read_from(input: &mut impl Read) -> io::Result<Self> {
        let mut word = [0u8; 8];
        input.read_exact(&mut word)?;
        let bits = u64::from_le_bytes(word);
        let bits = usize::try_from(bits)
            .ok()
            .filter(|b| b.is_power_of_two() && (MIN_BITS..=MAX_BITS).contains(b))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a filter of {bits} bits"),
                )
            })?;
        let mut read_filter = || -> io::Result<BlockedFilter> {
            input.read_exact(&mut word)?;
            let len = u64::from_le_bytes(word);
            let mut packed = Vec::new();
            input.take(len).read_to_end(&mut packed)?;
            let words = zstd::bulk::decompress(&packed, bits / 8)?;
            if words.len() != bits / 8 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a filter shorter than its size",
                ));
            }
            let filter = BlockedFilter::with_bits(bits, Pages::Small);
            let mut chunks = words.chunks_exact(8);
            for block in filter.blocks().iter() {
                for (slot, bytes) in block.0.iter().zip(&mut chunks) {
                    let value = u64::from_le_bytes(bytes.try_into().expect("chunks of 8"));
                    // Zero words are left untouched: their pages are never written.
                    if value != 0 {
                        slot.store(value, Relaxed);
                    }
                }
            }
            Ok(filter)
        };
        // One after the other: each holds its words unpacked (32 MiB) while
        // it fills its filter.
        Ok(SeenObjects {
            by_anyone: read_filter()?,
            by_principal: read_filter()?,
        })
    }
}

/// Past this false-positive rate of the filters, the report says so: the rate ingest's filters are sized to stay under.
const OBJECT_FILTER_WARN_RATE: f64 = 0.01;

/// A warning when the filters of allowed objects held more objects than they
/// were sized for ([`SeenObjects`]): some denied objects then look
/// allowed, which hides object-ACL and masked-404 causes, never invents them.
pub fn overfull_warning(rate: f64) -> Option<String> {
    (rate > OBJECT_FILTER_WARN_RATE).then(|| {
        format!(
            "the filters of objects ever allowed are overfull: about {:.1}% of objects never \
             allowed look allowed, so some object_acl and masked_not_found denials are \
             reported under another cause; run the report on a shorter period (fewer \
             distinct objects) to remove this",
            rate * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overfull_object_filters_are_reported_with_their_rate() {
        assert_eq!(overfull_warning(0.0), None);
        assert_eq!(overfull_warning(0.009), None);
        let warning = overfull_warning(0.042).expect("over 1%");
        assert!(warning.contains("about 4.2%"), "{warning}");
    }

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
    fn a_folded_filter_is_the_filter_of_that_size() {
        let (large, small) = (SeenObjects::for_objects(7_000_000), SeenObjects::default());
        assert!(large.bits() > small.bits());
        for i in 0..20_000 {
            let (principal, object) = (format!("svc-{}", i % 13), format!("M-{i}"));
            large.insert(&principal, "/m/{id}", &object);
            small.insert(&principal, "/m/{id}", &object);
        }
        let folded = large.folded_to(small.bits());
        for filter in [
            (&folded.by_anyone, &small.by_anyone),
            (&folded.by_principal, &small.by_principal),
        ] {
            let words = |f: &BlockedFilter| -> Vec<u64> {
                f.blocks()
                    .iter()
                    .flat_map(|b| b.0.iter().map(|w| w.load(Relaxed)))
                    .collect()
            };
            assert!(words(filter.0) == words(filter.1));
        }
    }

    #[test]
    fn filters_read_back_as_written() {
        let a = SeenObjects::for_objects(3_000_000);
        for i in 0..5_000 {
            a.insert(&format!("svc-{}", i % 7), "/m/{id}", &format!("M-{i}"));
        }
        let mut bytes = Vec::new();
        a.write_to(&mut bytes).unwrap();
        // Sparse filters compress: 2 x 4 MiB of bits here.
        assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
        let b = SeenObjects::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(b.bits(), a.bits());
        assert!(b.by_principal("svc-3", "/m/{id}", "M-3"));
        assert!(!b.by_anyone("/m/{id}", "M-5000"));
        assert_eq!(b.false_positive_rate(), a.false_positive_rate());
        let cut = &bytes[..bytes.len() - 1];
        assert!(SeenObjects::read_from(&mut &cut[..]).is_err());
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

    /// The rate read off the blocks against the rate measured on objects never
    /// inserted, for a filter holding what it was sized for and one overfull.
    #[test]
    fn the_false_positive_rate_is_read_off_the_filter() {
        for objects in [1_600_000u32, 4_000_000] {
            let seen = SeenObjects::for_objects(1_600_000);
            let mut batch = SeenBatch::default();
            for i in 0..objects {
                batch.insert(&seen, "p", "/t/{id}", &i.to_string());
            }
            batch.flush(&seen);
            let measured = (10_000_000..10_100_000u32)
                .filter(|i| seen.by_principal("p", "/t/{id}", &i.to_string()))
                .count() as f64
                / 100_000.0;
            let estimated = seen.false_positive_rate();
            assert!(
                (measured / estimated - 1.0).abs() < 0.2,
                "{objects}: measured {measured}, estimated {estimated}"
            );
            assert_eq!(estimated > 0.01, objects > 1_600_000, "{estimated}");
        }
        assert_eq!(SeenObjects::default().false_positive_rate(), 0.0);
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
