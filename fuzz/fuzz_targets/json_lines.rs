//! The JSON decoder (lines, arrays, envelopes, pretty-printed documents) and the
//! YAML decoder: any bytes give records or reasons, never a panic or a hang.
#![no_main]

use grantgap::internals::ingest::decode::{JsonSource, RecordSource, YamlSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut source) = JsonSource::new(data) {
        let mut last = 0;
        while let Some((line, _)) = source.next_record() {
            assert!(line >= last, "line numbers never go back");
            last = line;
        }
    }
    if let Ok(mut source) = YamlSource::new(data) {
        while source.next_record().is_some() {}
    }
});
