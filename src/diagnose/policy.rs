//! The policy catalog: which permissions an endpoint requires.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::Policy;

/// Endpoint rules, matched against a request's method and path template.
#[derive(Debug, Default)]
pub struct PolicyCatalog {
    policies: Vec<Policy>,
    /// Each policy's path, parsed.
    patterns: Vec<Pattern>,
    /// The rules that name a method, by method. An exact method beats `*`, so
    /// these are searched first.
    by_method: HashMap<String, RuleIndex>,
    /// The rules for any method (`*`).
    any_method: RuleIndex,
    /// The rule found for each method and template asked: endpoints are few,
    /// denial groups a million.
    found: RwLock<FoundRules>,
}

/// The index of the rule found, by method, then template.
type FoundRules = HashMap<Box<str>, HashMap<Box<str>, Option<usize>>>;

/// How specific a rule's path is: (literal segments, remainder wildcards,
/// segments). A request matched by several rules takes the most specific: an
/// exact method over `*`, then more literal segments, then fewer remainder
/// wildcards, then more segments.
type PathRank = (usize, Reverse<usize>, usize);

impl PolicyCatalog {
    pub fn new(policies: Vec<Policy>) -> Self {
        let patterns: Vec<Pattern> = policies.iter().map(|p| Pattern::parse(&p.path)).collect();
        let mut by_method: HashMap<String, RuleIndex> = HashMap::new();
        let mut any_method = RuleIndex::default();
        for (i, (policy, pattern)) in policies.iter().zip(&patterns).enumerate() {
            let index = if policy.method == "*" {
                &mut any_method
            } else {
                by_method.entry(policy.method.clone()).or_default()
            };
            index.insert(i, pattern.anchor());
        }
        PolicyCatalog {
            policies,
            patterns,
            by_method,
            any_method,
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
        let path = segments(template);
        self.by_method
            .get(method)
            .and_then(|rules| rules.best(&self.patterns, &path))
            .or_else(|| self.any_method.best(&self.patterns, &path))
    }
}

/// A path's segments; a trailing `/` is not one.
fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').collect()
}

/// A rule's path pattern. Segments: a literal; `{name}` or `*` for one segment;
/// `**` for any number (zero or more). A `*` that ends the pattern also takes the
/// rest of the path (`/workorders/*` covers `/workorders/{id}/notes`), as gateway
/// consoles write it.
#[derive(Debug)]
struct Pattern {
    /// A final `*` is written here as one segment, then any number.
    segments: Vec<Segment>,
    /// The same for every path it matches: each literal matches one segment.
    rank: PathRank,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    /// `{name}`, or a `*` before the end.
    One,
    /// `**`: zero or more segments.
    Any,
}

impl Pattern {
    fn parse(pattern: &str) -> Pattern {
        let written = segments(pattern);
        let mut parsed = Vec::with_capacity(written.len() + 1);
        let (mut literals, mut remainders) = (0, 0);
        for (i, &segment) in written.iter().enumerate() {
            if segment == "**" {
                remainders += 1;
                parsed.push(Segment::Any);
            } else if segment == "*" && i + 1 == written.len() {
                remainders += 1;
                parsed.extend([Segment::One, Segment::Any]);
            } else if segment == "*" || (segment.starts_with('{') && segment.ends_with('}')) {
                parsed.push(Segment::One);
            } else {
                literals += 1;
                parsed.push(Segment::Literal(segment.into()));
            }
        }
        Pattern {
            segments: parsed,
            rank: (literals, Reverse(remainders), written.len()),
        }
    }

    /// Whether the pattern matches a path's segments. Two pointers that back up
    /// only to the last `**` passed (what lies between two `**` may as well match
    /// at its first place, which leaves the most path to the rest): at worst
    /// pattern × path steps. Trying every split of every `**` took over 100 s for
    /// `/**/**/**/**/**/**/**/**/zzz` against a path of 100 segments; this takes
    /// 11 µs in a debug build.
    fn matches(&self, path: &[&str]) -> bool {
        let pattern = &self.segments;
        let (mut p, mut s) = (0, 0);
        // The pattern after the last `**` passed, and the path segment it resumes
        // at when that `**` takes one segment more.
        let mut backtrack: Option<(usize, usize)> = None;
        while s < path.len() {
            match pattern.get(p) {
                Some(Segment::Any) => {
                    p += 1;
                    backtrack = Some((p, s + 1));
                }
                Some(Segment::One) => (p, s) = (p + 1, s + 1),
                Some(Segment::Literal(literal)) if **literal == *path[s] => (p, s) = (p + 1, s + 1),
                _ => match backtrack {
                    Some((after, resume)) => {
                        (p, s) = (after, resume);
                        backtrack = Some((after, resume + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|segment| *segment == Segment::Any)
    }

    /// The literal segment to file the rule under: one a path must have, at a
    /// known place if there is one.
    fn anchor(&self) -> Anchor<'_> {
        // Every pattern starts with an empty literal (the leading `/`): useless.
        fn literal(segment: &Segment) -> Option<&str> {
            match segment {
                Segment::Literal(l) if !l.is_empty() => Some(l),
                _ => None,
            }
        }
        let first_any = self.segments.iter().position(|s| *s == Segment::Any);
        let prefix = &self.segments[..first_any.unwrap_or(self.segments.len())];
        // The deepest: leading literals (`api`, `v1`) are shared by most rules.
        let mut deepest_first = prefix.iter().enumerate().rev();
        if let Some((at, l)) = deepest_first.find_map(|(i, s)| Some((i, literal(s)?))) {
            return Anchor::FromStart(at, l);
        }
        let Some(first_any) = first_any else {
            return Anchor::Nowhere;
        };
        let last_any = self
            .segments
            .iter()
            .rposition(|s| *s == Segment::Any)
            .unwrap_or(first_any);
        let suffix = &self.segments[last_any + 1..];
        if let Some((at, l)) = suffix
            .iter()
            .enumerate()
            .find_map(|(i, s)| Some((i, literal(s)?)))
        {
            return Anchor::FromEnd(suffix.len() - 1 - at, l);
        }
        match self.segments[first_any..last_any].iter().find_map(literal) {
            Some(l) => Anchor::Anywhere(l),
            None => Anchor::Nowhere,
        }
    }
}

/// Where a path matched by a rule has one of the rule's literal segments.
#[derive(Debug, PartialEq, Eq)]
enum Anchor<'p> {
    /// At this position from the start (before any `**`).
    FromStart(usize, &'p str),
    /// At this position from the end (after the last `**`).
    FromEnd(usize, &'p str),
    /// Somewhere (between two `**`).
    Anywhere(&'p str),
    /// The rule has no literal but empty ones (`/**`, `/{a}/*`).
    Nowhere,
}

/// Rules filed by a literal segment every path they match has, so a search
/// tries the few rules that can match, not all of them: for 100,000 `**` rules
/// and 2,000 endpoints, trying them all took 64 s (160 s in a debug build,
/// where this index takes 0.2 s to build and 9 ms to search).
#[derive(Debug, Default)]
struct RuleIndex {
    /// By position from the start, then the literal there.
    from_start: Vec<HashMap<Box<str>, Vec<usize>>>,
    /// By position from the end, then the literal there.
    from_end: Vec<HashMap<Box<str>, Vec<usize>>>,
    anywhere: HashMap<Box<str>, Vec<usize>>,
    /// Tried for every path.
    nowhere: Vec<usize>,
}

impl RuleIndex {
    fn insert(&mut self, rule: usize, anchor: Anchor) {
        fn at(
            positions: &mut Vec<HashMap<Box<str>, Vec<usize>>>,
            position: usize,
        ) -> &mut HashMap<Box<str>, Vec<usize>> {
            if positions.len() <= position {
                positions.resize_with(position + 1, HashMap::new);
            }
            &mut positions[position]
        }
        let rules = match anchor {
            Anchor::FromStart(position, l) => at(&mut self.from_start, position)
                .entry(l.into())
                .or_default(),
            Anchor::FromEnd(position, l) => at(&mut self.from_end, position)
                .entry(l.into())
                .or_default(),
            Anchor::Anywhere(l) => self.anywhere.entry(l.into()).or_default(),
            Anchor::Nowhere => &mut self.nowhere,
        };
        rules.push(rule);
    }

    /// The most specific of these rules that matches the path; ties keep the
    /// rule listed first.
    fn best(&self, patterns: &[Pattern], path: &[&str]) -> Option<usize> {
        let from_start = self
            .from_start
            .iter()
            .zip(path)
            .filter_map(|(rules, s)| rules.get(*s));
        let from_end = self
            .from_end
            .iter()
            .zip(path.iter().rev())
            .filter_map(|(rules, s)| rules.get(*s));
        let mut distinct = path.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let anywhere = distinct.into_iter().filter_map(|s| self.anywhere.get(s));
        from_start
            .chain(from_end)
            .chain(anywhere)
            .flatten()
            .chain(&self.nowhere)
            .copied()
            .filter(|&rule| patterns[rule].matches(path))
            .max_by_key(|&rule| (patterns[rule].rank, Reverse(rule)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (literals, remainders, segments) when the pattern matches the path.
    fn match_path(pattern: &str, path: &str) -> Option<(usize, usize, usize)> {
        let pattern = Pattern::parse(pattern);
        let (literals, Reverse(remainders), length) = pattern.rank;
        (pattern.matches(&segments(path))).then_some((literals, remainders, length))
    }

    /// The matcher this module had before: tries every split of every `**`,
    /// exponential in their number. The oracle for [`match_path`].
    fn backtracking_match_path(pattern: &str, path: &str) -> Option<(usize, usize, usize)> {
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
                Some((&"**", rest)) => (0..=segs.len())
                    .find_map(|skip| go(rest, &segs[skip..], literals, remainders + 1)),
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

    /// How the search this module had before ranked a rule: an exact method, then the path.
    type Specificity = (bool, usize, Reverse<usize>, usize);

    /// The search this module had before: every rule, in order, by the oracle.
    fn every_rule_search(policies: &[Policy], method: &str, template: &str) -> Option<usize> {
        let mut best: Option<(Specificity, usize)> = None;
        for (i, policy) in policies.iter().enumerate() {
            if policy.method != "*" && policy.method != method {
                continue;
            }
            let Some((literals, remainders, segments)) =
                backtracking_match_path(&policy.path, template)
            else {
                continue;
            };
            let rank = (
                policy.method != "*",
                literals,
                Reverse(remainders),
                segments,
            );
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// A path or pattern of these segments, with or without leading and trailing `/`.
    fn path_of(segments: &'static [&'static str], most: usize) -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(proptest::sample::select(segments), 0..most),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(segments, leading, trailing)| {
                let lead = if leading { "/" } else { "" };
                let trail = if trailing { "/" } else { "" };
                format!("{lead}{}{trail}", segments.join("/"))
            })
    }

    const PATTERN_SEGMENTS: &[&str] = &["a", "b", "", "*", "**", "{id}", "{", "***"];
    const PATH_SEGMENTS: &[&str] = &["a", "b", "", "{id}", "*", "**"];

    proptest! {
        #[test]
        fn matching_agrees_with_trying_every_split(
            pattern in path_of(PATTERN_SEGMENTS, 7),
            path in path_of(PATH_SEGMENTS, 9),
        ) {
            prop_assert_eq!(match_path(&pattern, &path), backtracking_match_path(&pattern, &path));
        }

        #[test]
        fn the_index_finds_what_trying_every_rule_finds(
            rules in proptest::collection::vec(
                (proptest::sample::select(&["GET", "PUT", "*"][..]), path_of(PATTERN_SEGMENTS, 6)),
                0..12,
            ),
            method in proptest::sample::select(&["GET", "PUT", "DELETE"][..]),
            path in path_of(PATH_SEGMENTS, 7),
        ) {
            let policies: Vec<Policy> = rules.iter().map(|(m, p)| rule(m, p, "perm")).collect();
            let catalog = PolicyCatalog::new(policies.clone());
            prop_assert_eq!(catalog.search(method, &path), every_rule_search(&policies, method, &path));
        }
    }

    #[test]
    fn many_double_stars_against_a_long_path() {
        let pattern = "/**/**/**/**/**/**/**/**/zzz";
        let long = "/s".repeat(100);
        assert_eq!(match_path(pattern, &long), None);
        assert_eq!(
            match_path(pattern, &format!("{long}/zzz")),
            Some((2, 8, 10))
        );
    }

    #[test]
    fn rules_are_filed_by_a_literal_a_match_must_have() {
        let filed =
            |pattern: &str, anchor: Anchor| assert_eq!(Pattern::parse(pattern).anchor(), anchor);
        filed("/api/v1/w/{id}", Anchor::FromStart(3, "w"));
        filed("/api/w/*", Anchor::FromStart(2, "w"));
        filed("/**/x/{id}", Anchor::FromEnd(1, "x"));
        filed("/**/x/**", Anchor::Anywhere("x"));
        filed("/{a}/**", Anchor::Nowhere);
    }

    #[test]
    fn a_search_tries_only_the_rules_filed_under_the_path() {
        let policies: Vec<Policy> = (0..1000)
            .map(|i| rule("GET", &format!("/api/r{i}/**"), &format!("r{i}")))
            .chain([
                rule("*", "/**/r7/{id}", "suffix"),
                rule("GET", "/**", "any"),
            ])
            .collect();
        let catalog = PolicyCatalog::new(policies);
        let index = &catalog.by_method["GET"];
        assert_eq!(index.from_start[2].len(), 1000);
        assert_eq!(index.nowhere, vec![1001]);
        assert_eq!(catalog.find("GET", "/api/r7/x").unwrap().all_of, vec!["r7"]);
        assert_eq!(
            catalog.find("PUT", "/api/r7/x").unwrap().all_of,
            vec!["suffix"]
        );
        assert_eq!(
            catalog.find("GET", "/elsewhere").unwrap().all_of,
            vec!["any"]
        );
    }

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
