//! Message templates: error messages clustered into templates by a Drain-style
//! miner, so that "Operator OP-2345 not available" and "Operator OP-9 not
//! available" are one failure.
//!
//! Two steps, after Drain (He et al., 2017): first **masking** turns tokens that are
//! values (numbers, ids, UUIDs, e-mails, quoted strings) into `<*>`; then messages
//! of the same length and the same first tokens are merged when at least half of
//! their tokens agree, each disagreeing position becoming `<*>`. Messages are
//! mined in sorted order and each length independently (in parallel), so the
//! templates do not depend on input order or thread count.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use rayon::prelude::*;
use regex::Regex;

use crate::ingest::is_id_segment;

/// The placeholder for a value.
pub const WILDCARD: &str = "<*>";
/// Share of agreeing tokens at or above which a message joins a template.
const SIMILARITY: f64 = 0.5;
/// Tokens used to route a message to its candidates (Drain's tree depth minus
/// two). One, not Drain's two: audit messages often put a name second ("User x
/// cannot …").
const PREFIX_TOKENS: usize = 1;

/// Tokens that are values whatever their context.
static VALUE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)^(?:
            ["'`].*["'`]                       # quoted
          | -?\d+(?:[.,:]\d+)*%?                # numbers, times, versions
          | (?:\d{1,3}\.){3}\d{1,3}(?::\d+)?   # IPv4
          | [a-z][a-z0-9+.-]*://\S+           # URLs
          | (?:arn|urn):\S+                    # ARNs, URNs
        )$"#,
    )
    .expect("value pattern compiles")
});

/// Whether a token (without surrounding punctuation) is a value.
fn is_value(token: &str) -> bool {
    VALUE_TOKEN.is_match(token) || is_id_segment(token)
}

/// The message's tokens with values masked; punctuation around a value is kept.
pub fn mask(message: &str) -> Vec<String> {
    message
        .split_whitespace()
        .map(|token| {
            let core = token.trim_matches(|c: char| {
                matches!(c, ',' | ';' | ':' | '.' | '(' | ')' | '[' | ']' | '{' | '}')
            });
            if !core.is_empty() && is_value(core) {
                token.replacen(core, WILDCARD, 1)
            } else {
                token.to_string()
            }
        })
        .collect()
}

/// Mined templates: each distinct message's template. Messages are borrowed
/// and templates shared: messages that carry a value (an object id, say) are
/// as many as the denials.
#[derive(Debug, Default)]
pub struct MessageTemplates<'m> {
    of_message: HashMap<&'m str, Arc<str>>,
}

impl<'m> MessageTemplates<'m> {
    /// Mines the templates of a set of messages.
    pub fn mine(messages: impl IntoIterator<Item = &'m str>) -> Self {
        let distinct: BTreeSet<&str> = messages.into_iter().collect();
        // Masking keeps the number of tokens: messages are masked per length
        // class as it is mined, so only one class's tokens exist at a time.
        let mut by_length: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for message in distinct {
            let length = message.split_whitespace().count();
            by_length.entry(length).or_default().push(message);
        }
        let of_message = by_length
            .into_par_iter()
            .flat_map_iter(|(_, messages)| mine_same_length(messages))
            .collect();
        MessageTemplates { of_message }
    }

    /// The template of a message seen by [`MessageTemplates::mine`], else its masked form.
    pub fn template(&self, message: &str) -> String {
        match self.of_message.get(message) {
            Some(template) => template.to_string(),
            None => mask(message).join(" "),
        }
    }
}

/// One length class: route by prefix, then merge into the most similar template.
fn mine_same_length(messages: Vec<&str>) -> Vec<(&str, Arc<str>)> {
    let mut templates: Vec<Vec<String>> = Vec::new();
    let mut by_prefix: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    let mut assigned: Vec<(&str, usize)> = Vec::with_capacity(messages.len());
    for message in messages {
        let tokens = mask(message);
        // A prefix token that is a value routes with every other value.
        let prefix: Vec<String> = tokens.iter().take(PREFIX_TOKENS).cloned().collect();
        let candidates = by_prefix.entry(prefix).or_default();
        let best = candidates
            .iter()
            .map(|&i| (similarity(&templates[i], &tokens), i))
            .filter(|(s, _)| *s >= SIMILARITY)
            // Highest similarity; on a tie, the oldest template.
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let index = match best {
            Some((_, i)) => {
                for (slot, token) in templates[i].iter_mut().zip(&tokens) {
                    if slot != token {
                        *slot = WILDCARD.to_string();
                    }
                }
                i
            }
            None => {
                templates.push(tokens);
                candidates.push(templates.len() - 1);
                templates.len() - 1
            }
        };
        assigned.push((message, index));
    }
    let joined: Vec<Arc<str>> = templates.iter().map(|t| t.join(" ").into()).collect();
    assigned
        .into_iter()
        .map(|(message, i)| (message, joined[i].clone()))
        .collect()
}

/// Share of positions where the template and the tokens are the same word. As in
/// Drain, a wildcard agrees with nothing, so a template full of wildcards does not
/// swallow unrelated messages.
fn similarity(template: &[String], tokens: &[String]) -> f64 {
    if tokens.is_empty() {
        return 1.0;
    }
    let same = template
        .iter()
        .zip(tokens)
        .filter(|(t, k)| t == k && *t != WILDCARD)
        .count();
    same as f64 / tokens.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked() {
        assert_eq!(
            mask("Operator OP-2345 not available"),
            vec!["Operator", "<*>", "not", "available"]
        );
        assert_eq!(
            mask("Work order WO12345 is closed."),
            vec!["Work", "order", "<*>", "is", "closed."]
        );
        assert_eq!(
            mask("retry after 30s at 10.0.0.1:8080"),
            vec!["retry", "after", "30s", "at", "<*>"]
        );
        assert_eq!(
            mask("role 'Manager' lacks x"),
            vec!["role", "<*>", "lacks", "x"]
        );
    }

    #[test]
    fn messages_that_differ_in_values_share_a_template() {
        let mined = MessageTemplates::mine([
            "Operator OP-2345 not available",
            "Operator OP-9 not available",
            "Insufficient permissions for resource assignment",
        ]);
        assert_eq!(
            mined.template("Operator OP-9 not available"),
            "Operator <*> not available"
        );
        assert_eq!(
            mined.template("Operator OP-2345 not available"),
            "Operator <*> not available"
        );
        assert_eq!(
            mined.template("Insufficient permissions for resource assignment"),
            "Insufficient permissions for resource assignment"
        );
    }

    #[test]
    fn words_that_vary_become_wildcards_once_most_tokens_agree() {
        let mined = MessageTemplates::mine([
            "Task is locked by workflow state APPROVAL",
            "Task is locked by workflow state REVIEW",
            "Task is owned by another team entirely",
        ]);
        assert_eq!(
            mined.template("Task is locked by workflow state REVIEW"),
            "Task is locked by workflow state <*>"
        );
        assert_eq!(
            mined.template("Task is owned by another team entirely"),
            "Task is owned by another team entirely"
        );
    }

    #[test]
    fn templates_do_not_depend_on_input_order() {
        let messages = [
            "User alice cannot list pods",
            "User bob cannot list pods",
            "User carol cannot delete pods",
        ];
        let a = MessageTemplates::mine(messages);
        let b = MessageTemplates::mine(messages.iter().rev().copied());
        for m in messages {
            assert_eq!(a.template(m), b.template(m));
        }
        assert_eq!(
            a.template("User bob cannot list pods"),
            "User <*> cannot <*> pods"
        );
    }
}
