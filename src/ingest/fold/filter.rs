//! Which denials a run reports (`--principal`, `--since`, `--until`). Allowed
//! requests are all kept whatever the filter: other principals' successes, at
//! any time, are what an endpoint's requirement is inferred from.

use glob::Pattern;

use crate::model::{Event, Millis, UNKNOWN_TIME};

/// The denials to report; the default keeps all of them.
#[derive(Debug, Clone, Default)]
pub struct DenialFilter {
    /// Principals to report, as globs (`svc-*`); every principal when empty.
    pub principals: Vec<Pattern>,
    /// Denials from this instant on.
    pub since: Option<Millis>,
    /// Denials before this instant.
    pub until: Option<Millis>,
}

impl DenialFilter {
    /// Whether the denial `event` is reported. With a time window, a denial
    /// of unknown time is not: nothing says it falls inside.
    pub fn keeps(&self, event: &Event) -> bool {
        let principal = self.principals.is_empty()
            || self.principals.iter().any(|p| p.matches(&event.principal));
        let known = event.ts != UNKNOWN_TIME;
        let after = self.since.is_none_or(|since| known && event.ts >= since);
        let before = self.until.is_none_or(|until| known && event.ts < until);
        principal && after && before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(principal: &str, ts: Millis) -> Event {
        Event {
            principal: principal.into(),
            ts,
            status: 403,
            ..Event::default()
        }
    }

    #[test]
    fn principals_match_as_globs_and_the_window_is_half_open() {
        let filter = DenialFilter {
            principals: vec![Pattern::new("svc-*").unwrap()],
            since: Some(100),
            until: Some(200),
        };
        assert!(filter.keeps(&denial("svc-a", 100)));
        assert!(!filter.keeps(&denial("svc-a", 200)));
        assert!(!filter.keeps(&denial("svc-a", 99)));
        assert!(!filter.keeps(&denial("batch", 150)));
        assert!(!filter.keeps(&denial("svc-a", UNKNOWN_TIME)));
        let everyone = DenialFilter::default();
        assert!(everyone.keeps(&denial("anyone", UNKNOWN_TIME)));
    }
}
