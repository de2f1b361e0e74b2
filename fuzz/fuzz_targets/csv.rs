//! The CSV decoder: ragged rows, quotes, invalid UTF-8.
#![no_main]

use grantgap::internals::ingest::decode::{CsvSource, RecordSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut source) = CsvSource::new(data) {
        let mut last = 0;
        while let Some((row, _)) = source.next_record() {
            assert!(
                row >= last,
                "row numbers never go back (CR-separated rows share a line)"
            );
            last = row;
        }
    }
});
