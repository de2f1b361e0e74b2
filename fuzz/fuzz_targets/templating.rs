//! Path templating: all three entry points agree (the memoised one over the
//! whole sample, twice), a template keeps the path's
//! segments, and learning from any set of paths terminates.
#![no_main]

use grantgap::internals::ingest::template::{PrefixMemo, Templater};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut templater = Templater::default();
    // A line that starts with `!` is the path of a denied request.
    let sample: Vec<(&str, bool)> = text
        .lines()
        .map(|line| match line.strip_prefix('!') {
            Some(path) => (path, true),
            None => (line, false),
        })
        .collect();
    templater.learn(sample.iter().copied(), 3);
    let mut memo = PrefixMemo::default();
    for (path, _) in sample.iter().chain(&sample) {
        let (template, last_id) = templater.template(path);
        let mut into = String::new();
        let borrowed = templater.template_into(path, &mut into);
        assert_eq!(template, into);
        assert_eq!(last_id.as_deref(), borrowed);
        let mut memoised = String::new();
        let memoised_id = templater.template_into_with(path, &mut memoised, &mut memo);
        assert_eq!(template, memoised, "{path:?}");
        assert_eq!(borrowed, memoised_id, "{path:?}");
        let bare = path.split(['?', '#']).next().unwrap_or_default();
        assert_eq!(
            template.split('/').count(),
            bare.split('/').count(),
            "{path:?}"
        );
    }
});
