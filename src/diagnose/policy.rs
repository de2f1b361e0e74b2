//! The policy catalog: which permissions an endpoint requires.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::Policy;

/// Endpoint rules, matched against a request's method and path template.
#[derive(Debug, Default)]
pub struct PolicyCatalog {
    policies: Vec<Policy>,
    /// The rule found for each method and template asked: endpoints are few,
    /// denial groups a million, and each search tries every rule.
    found: RwLock<FoundRules>,
}

/// The index of the rule found, by method, then template.
type FoundRules = HashMap<Box<str>, HashMap<Box<str>, Option<usize>>>;

/// How specific a rule is. A request matched by several rules takes the most
/// specific: an exact method over `*`, then more literal segments, then fewer
/// remainder wildcards, then more segments.
type Specificity = (bool, usize, std::cmp::Reverse<usize>, usize);

impl PolicyCatalog {
    pub fn new(policies: Vec<Policy>) -> Self {
        PolicyCatalog {
            policies,
            found: RwLock::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The rule for a request, if any matches. Ties keep the rule listed first.
    pub fn find(&self, method: &str, template: &str) -> Option<&Policy> {
        let known = self.found.read().expect("no search panics");
        if let Some(found) = known.get(method).and_then(|by| by.get(template)) {
            return found.map(|i| &self.policies[i]);
        }
        drop(known);
        let found = self.search(method, template);
        self.found
            .write()
            .expect("no search panics")
            .entry(method.into())
            .or_default()
            .insert(template.into(), found);
        found.map(|i| &self.policies[i])
    }

    /// The index of the most specific rule for a request.
    fn search(&self, method: &str, template: &str) -> Option<usize> {
        let mut best: Option<(Specificity, usize)> = None;
        for (i, policy) in self.policies.iter().enumerate() {
            if policy.method != "*" && policy.method != method {
                continue;
            }
            let Some((literals, remainders, segments)) = match_path(&policy.path, template) else {
                continue;
            };
            let rank = (
                policy.method != "*",
                literals,
                std::cmp::Reverse(remainders),
                segments,
            );
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

/// Matches a pattern against a path template. Pattern segments: a literal; `{name}`
/// or `*` for one segment; `**` for any number (zero or more). A `*` that ends the
/// pattern also takes the rest of the path (`/workorders/*` covers
/// `/workorders/{id}/notes`), as gateway consoles write it.
/// Returns (literal segments, remainder wildcards, segments) when it matches.
fn match_path(pattern: &str, path: &str) -> Option<(usize, usize, usize)> {
    let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    fn go(
        pat: &[&str],
        segs: &[&str],
        literals: usize,
        remainders: usize,
    ) -> Option<(usize, usize)> {
        match pat.split_first() {
            None => segs.is_empty().then_some((literals, remainders)),
            Some((&"**", rest)) => {
                (0..=segs.len()).find_map(|skip| go(rest, &segs[skip..], literals, remainders + 1))
            }
            Some((&"*", [])) => (!segs.is_empty()).then_some((literals, remainders + 1)),
            Some((p, rest)) => {
                let (s, tail) = segs.split_first()?;
                let one_segment = *p == "*" || (p.starts_with('{') && p.ends_with('}'));
                if one_segment {
                    go(rest, tail, literals, remainders)
                } else if p == s {
                    go(rest, tail, literals + 1, remainders)
                } else {
                    None
                }
            }
        }
    }
    go(&pat, &segs, 0, 0).map(|(l, r)| (l, r, pat.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: &str, path: &str, perm: &str) -> Policy {
        Policy {
            method: method.into(),
            path: path.into(),
            all_of: vec![perm.into()],
            any_of: vec![],
            fields: Default::default(),
            data_scoped: false,
        }
    }

    #[test]
    fn patterns_match_templates() {
        assert!(match_path("/w/{id}", "/w/{id}").is_some());
        assert!(match_path("/w/*", "/w/{id}/notes").is_some());
        assert!(match_path("/w/*", "/w").is_none());
        assert!(match_path("/a/**/z", "/a/z").is_some());
        assert!(match_path("/a/**/z", "/a/b/c/z").is_some());
        assert!(match_path("/w/{id}", "/w/{id}/notes").is_none());
        assert!(match_path("/w/list", "/w/{id}").is_none());
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let catalog = PolicyCatalog::new(vec![
            rule("*", "/api/**", "api.any"),
            rule("PUT", "/api/w/*", "w.write"),
            rule("PUT", "/api/w/{id}", "w.update"),
            rule("*", "/api/w/{id}", "w.any"),
        ]);
        assert_eq!(
            catalog.find("PUT", "/api/w/{id}").unwrap().all_of,
            vec!["w.update"]
        );
        assert_eq!(
            catalog.find("GET", "/api/w/{id}").unwrap().all_of,
            vec!["w.any"]
        );
        assert_eq!(
            catalog.find("PUT", "/api/w/{id}/notes").unwrap().all_of,
            vec!["w.write"]
        );
        assert_eq!(
            catalog.find("GET", "/api/other").unwrap().all_of,
            vec!["api.any"]
        );
        assert!(catalog.find("GET", "/elsewhere").is_none());
    }
}
