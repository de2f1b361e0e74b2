//! The Parquet decoder on damaged files: an error, never a panic that ends the run.
//!
//! polars' decoder panics on some damaged metadata, and grantgap catches those
//! panics (`decode::without_panics`). libfuzzer-sys's panic hook aborts on every
//! panic, caught or not, so this target swaps it for a silent one: a panic that
//! escapes grantgap still reaches libfuzzer-sys's own catch and is a crash.
#![no_main]

use std::sync::Once;

use grantgap::internals::ingest::decode::{ParquetSource, RecordSource, SizeLimits};
use libfuzzer_sys::fuzz_target;

static QUIET_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Ok(mut source) = ParquetSource::from_stream(data, SizeLimits::default()) {
        while source.next_record().is_some() {}
    }
});
