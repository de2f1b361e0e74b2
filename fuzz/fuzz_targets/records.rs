//! Field extraction: any JSON document through every log format (auto-detected
//! and forced), the small tables and the Kubernetes RBAC objects; a record a
//! format reads from its text gives the event its tree gives.
#![no_main]

use grantgap::internals::ingest::fields::FieldMap;
use grantgap::internals::ingest::formats::{self, InputFormat};
use grantgap::internals::ingest::{rbac, tables};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let map = FieldMap::default();
    let formats = InputFormat::choices().map(|(name, _)| InputFormat::named(name).unwrap());
    let text = std::str::from_utf8(data).ok();
    for format in formats {
        if let Some(from_text) = text.and_then(|t| formats::event_from_text(t, format)) {
            let from_tree = formats::event_from_record(&record, &map, format);
            assert_eq!(Some(from_text), from_tree.ok(), "read from text and from its tree");
        }
        if let Ok(event) = formats::event_from_record(&record, &map, format) {
            assert!(
                !event.principal.is_empty(),
                "an event always has a principal"
            );
        }
        let _ = formats::sampled_path(&record, &map, format);
    }
    let _ = tables::token_from_record(&record, &map);
    let _ = tables::binding_from_record(&record, &map);
    let _ = tables::role_from_record(&record, &map);
    let _ = tables::policy_from_record(&record, &map);
    let _ = rbac::object_from_record(&record);
});
