//! Timestamps, statuses and lists as logs write them; a parsed timestamp prints
//! and parses back to itself.
#![no_main]

use grantgap::internals::ingest::fields;
use grantgap::internals::model::time;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ms) = time::parse(text) {
        let printed = time::format_millis(ms);
        assert_eq!(
            time::parse(&printed).ok(),
            Some(ms),
            "{text:?} -> {printed}"
        );
    }
    assert_eq!(time::parse(text).ok(), fields::timestamp_text(text).ok());
    let value = serde_json::Value::String(text.to_string());
    let _ = fields::timestamp(&value);
    let _ = fields::status(&value);
    let _ = fields::list(&value);
    if let Ok(number) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = fields::timestamp(&number);
        let _ = fields::status(&number);
        let _ = fields::list(&number);
    }
});
