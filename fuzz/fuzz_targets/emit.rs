//! Native fixes: whatever the principals, permissions, namespaces, object ids
//! and existing roles, the emitted RBAC YAML, IAM JSON and aws/gcloud/az
//! scripts parse back into exactly the objects and commands the grants call for (`report::emit::check_round_trip` says what that means).
#![no_main]

use grantgap::internals::report::emit::{self, Emit, Emitted, Grant, Options};
use libfuzzer_sys::fuzz_target;

/// Separators that keep every other byte, newlines and NULs included, inside a value.
const GRANT: char = '\u{1e}';
const FIELD: char = '\u{1f}';
const ITEM: char = '\u{1d}';

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // principal FIELD permission FIELD orgs FIELD objects FIELD roles, lists split by ITEM.
    let rows: Vec<(&str, &str, Vec<String>, Vec<String>, Vec<String>)> = text
        .split(GRANT)
        .map(|row| {
            let mut fields = row.splitn(5, FIELD);
            let mut next = || fields.next().unwrap_or_default();
            let (principal, permission) = (next(), next());
            let list = |field: &str| -> Vec<String> {
                field
                    .split(ITEM)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            };
            let (orgs, objects) = (list(next()), list(next()));
            (principal, permission, orgs, objects, list(next()))
        })
        .collect();
    let grants: Vec<Grant<'_>> = rows
        .iter()
        .map(|(principal, permission, orgs, objects, roles)| Grant {
            principal,
            permission,
            orgs,
            objects,
            roles,
        })
        .collect();
    const EMITS: [Emit; 5] = [
        Emit::K8sRbac,
        Emit::IamPolicy,
        Emit::AwsCli,
        Emit::Gcloud,
        Emit::Az,
    ];
    let emit = EMITS[usize::from(flags >> 4) % EMITS.len()];
    let options = Options {
        allow_risky: flags & 1 != 0,
        // Narrowed to the first principal, and to one no grant has.
        principals: match flags & 12 {
            4 => grants
                .iter()
                .take(1)
                .map(|g| glob::Pattern::new(&glob::Pattern::escape(g.principal)).unwrap())
                .collect(),
            8 => vec![glob::Pattern::new("nobody at all").unwrap()],
            _ => Vec::new(),
        },
    };
    let emitted: Emitted = emit::render(&grants, emit, &options);
    if let Err(broke) = emit::check_round_trip(&grants, emit, &options, &emitted) {
        panic!("{broke}\n--- emitted:\n{}", emitted.text);
    }
    assert_eq!(
        emitted,
        emit::render(&grants, emit, &options),
        "deterministic"
    );
});
