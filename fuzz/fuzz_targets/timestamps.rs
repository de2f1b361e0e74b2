//! Timestamps, statuses and lists as logs write them; a parsed timestamp prints
//! and parses back to itself.
#![no_main]

use grantgap::internals::ingest::fields;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ms) = fields::timestamp_text(text) {
        let printed = fields::format_millis(ms);
        assert_eq!(
            fields::timestamp_text(&printed).ok(),
            Some(ms),
            "{text:?} -> {printed}"
        );
    }
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
