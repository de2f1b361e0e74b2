//! Field extraction: any JSON document through every log format (auto-detected
//! and forced), the small tables and the Kubernetes RBAC objects; a record a
//! format reads from its text gives the event its tree gives, and read in a
//! file of records in one pass, that event or, allowed, the parts counted of it.
#![no_main]

use grantgap::internals::ingest::fields::FieldMap;
use grantgap::internals::ingest::formats::{self, EnvelopeRecord, InputFormat};
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
    if let Some(text) = text {
        let file = format!(r#"{{"Records":[{text}]}}"#);
        if let Some(read) = formats::envelope_records(file.as_bytes(), InputFormat::Auto) {
            let alone = formats::event_from_text(text, InputFormat::Auto);
            let alone = alone.expect("a record read in a file reads alone");
            match read.as_slice() {
                [EnvelopeRecord::Event(event)] => assert_eq!(**event, alone),
                [EnvelopeRecord::Allowed(allowed)] => {
                    assert!(alone.is_success() && alone.message.is_none(), "{alone:?}");
                    assert_eq!(
                        (allowed.ts, &*allowed.principal, allowed.action.as_str()),
                        (alone.ts, alone.principal.as_str(), alone.path.as_str())
                    );
                    assert_eq!(allowed.org.as_deref(), alone.org.as_deref());
                    assert_eq!(allowed.object, alone.object_id);
                }
                other => panic!("one record in, {} out", other.len()),
            }
        }
    }
    let _ = tables::token_from_record(&record, &map);
    let _ = tables::binding_from_record(&record, &map);
    let _ = tables::role_from_record(&record, &map);
    let _ = tables::policy_from_record(&record, &map);
    let _ = rbac::object_from_record(&record);
});
