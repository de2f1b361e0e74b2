//! The fast path against the full path: a line the fast path counts must
//! leave exactly the aggregates the full path leaves, and a line it reads
//! into an event must give the event the full path reads.
#![no_main]

use std::sync::Arc;

use grantgap::internals::ingest::aggregate::{Aggregates, Derived};
use grantgap::internals::model::Position;
use grantgap::internals::ingest::fast::{FastPath, FastRead};
use grantgap::internals::ingest::fields::FieldMap;
use grantgap::internals::ingest::formats::{self, InputFormat};
use grantgap::internals::ingest::seen::SeenObjects;
use grantgap::internals::ingest::template::Templater;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let templater = Templater::default();
    let mut fast = Aggregates::new(1, Arc::new(SeenObjects::for_objects(0)));
    let mut path = FastPath::new(&templater);
    let read = path.read(&mut fast, data);
    if let FastRead::Event(event) = &read {
        let record: serde_json::Value =
            serde_json::from_slice(data).expect("a line the fast path reads is JSON");
        let full = formats::event_from_record(&record, &FieldMap::default(), InputFormat::Auto)
            .expect("a line the fast path reads is an event");
        assert_eq!(format!("{event:?}"), format!("{full:?}"));
    }
    if !matches!(read, FastRead::Counted) {
        return;
    }
    // Allowed objects reach the filters a batch at a time.
    fast.flush_seen();
    let mut full = Aggregates::new(1, Arc::new(SeenObjects::for_objects(0)));
    let record: serde_json::Value =
        serde_json::from_slice(data).expect("a line the fast path takes is JSON");
    let event = formats::event_from_record(&record, &FieldMap::default(), InputFormat::Auto)
        .expect("a line the fast path takes is an event");
    let (template, path_object) = templater.template(&event.path);
    let object = event.object_id.clone().or_else(|| path_object.clone());
    let derived = Derived {
        template: template.clone(),
        path_object,
        ..Derived::default()
    };
    full.add_event(event, derived, Position::new(0, 0, 1));
    full.flush_seen();
    assert_eq!(
        format!("{:?}", fast.successes),
        format!("{:?}", full.successes)
    );
    assert_eq!(format!("{:?}", fast.stats), format!("{:?}", full.stats));
    if let Some(object) = object {
        assert_eq!(
            fast.seen.by_anyone(&template, &object),
            full.seen.by_anyone(&template, &object)
        );
    }
});
