//! Path templating: `/workorders/WO12345` becomes `/workorders/{id}`, so requests
//! to different objects of one endpoint fall into one group.

use std::sync::LazyLock;

use regex::Regex;

/// A segment that names one object rather than an endpoint: numbers, UUIDs, long
/// hex, dates, e-mail addresses, and mixed ids such as `WO12345` or `M-1001`.
static ID_SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(?:
            \d+                                   # 12345
          | [0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}   # uuid
          | [0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]* | [0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*  # hex with letters and digits
          | \d{4}-\d{2}-\d{2}(?:[T\ ][0-9:.]+Z?)?  # dates
          | [^@/\s]+@[^@/\s]+                     # e-mail
          | [A-Za-z_]*[A-Za-z][A-Za-z_]*[-_.]?\d[\w.-]*  # WO12345, M-1001, OP-2345, SO_77
        )$",
    )
    .expect("id pattern compiles")
});

/// Segments that look like ids but name an API version: `v1`, `v2.1`, `v2beta1`.
static VERSION_SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[vV]\d+(?:(?:alpha|beta)\d+)?(?:\.\d+)*$").expect("version pattern compiles")
});

/// Whether a path segment is an object id rather than part of the endpoint.
pub fn is_id_segment(segment: &str) -> bool {
    !segment.is_empty() && !VERSION_SEGMENT.is_match(segment) && ID_SEGMENT.is_match(segment)
}

/// The endpoint template of a path, and the last id it held (the object the
/// request was about, when the log does not name one).
pub fn template(path: &str) -> (String, Option<String>) {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = String::with_capacity(path.len());
    let mut last_id = None;
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_id_segment(segment) {
            out.push_str("{id}");
            last_id = Some(segment);
        } else {
            out.push_str(segment);
        }
    }
    (out, last_id.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_every_kind_become_placeholders() {
        let cases = [
            (
                "/api/v1/maintenance/workorders/WO12345",
                "/api/v1/maintenance/workorders/{id}",
                Some("WO12345"),
            ),
            (
                "/api/v1/resources/machines/M-1001/assign",
                "/api/v1/resources/machines/{id}/assign",
                Some("M-1001"),
            ),
            (
                "/api/v1/projects/4711/tasks/T-88",
                "/api/v1/projects/{id}/tasks/{id}",
                Some("T-88"),
            ),
            (
                "/orders/3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f",
                "/orders/{id}",
                Some("3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f"),
            ),
            ("/blobs/deadbeef42", "/blobs/{id}", Some("deadbeef42")),
            ("/reports/2026-11-22", "/reports/{id}", Some("2026-11-22")),
            (
                "/users/jane.doe@example.com/roles",
                "/users/{id}/roles",
                Some("jane.doe@example.com"),
            ),
            (
                "/fscmRestApi/resources/custom/inventoryAttributes",
                "/fscmRestApi/resources/custom/inventoryAttributes",
                None,
            ),
        ];
        for (path, want, id) in cases {
            assert_eq!(
                template(path),
                (want.to_string(), id.map(str::to_string)),
                "{path}"
            );
        }
    }

    #[test]
    fn words_and_versions_stay() {
        for segment in [
            "v1",
            "v2.1",
            "v2beta2",
            "shifts",
            "SHIFT-A",
            "inventoryAttributes",
            "assign",
            "face",
        ] {
            assert!(!is_id_segment(segment), "{segment}");
        }
    }

    #[test]
    fn query_strings_are_dropped() {
        // Query strings carry API keys; they never reach a template.
        assert_eq!(template("/items/42?api_key=secret").0, "/items/{id}");
    }
}
