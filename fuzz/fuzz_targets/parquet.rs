//! The Parquet decoder on damaged files: an error, never a panic.
#![no_main]

use grantgap::ingest::decode::{ParquetSource, RecordSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut source) = ParquetSource::from_stream(data) {
        while source.next_record().is_some() {}
    }
});
