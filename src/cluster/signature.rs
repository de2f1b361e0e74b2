//! Failure signatures: denials clustered by what failed and why, each with an id
//! that stays the same night after night.

use compact_str::CompactString;
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnose::Cause;
use crate::model::intern::Shared;
use crate::model::{Millis, UNKNOWN_TIME};

/// What makes two denials the same failure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignatureKey {
    pub method: String,
    pub template: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub cause: Cause,
    /// Sorted.
    pub missing: Vec<String>,
    pub message_template: Option<String>,
}

/// Version of the id's recipe; part of what is hashed, so a change of recipe
/// can never collide with ids of the old one.
const ID_RECIPE: &str = "grantgap-signature-v1";

impl SignatureKey {
    /// The first 12 hex digits of SHA-256 over the key's fields, separated by a
    /// control character that cannot occur in them. It depends on nothing but the
    /// key: not on the run, the input order or other data.
    pub fn id(&self) -> String {
        let fields = [
            ID_RECIPE,
            &self.method,
            &self.template,
            &self.status.to_string(),
            self.error_code.as_deref().unwrap_or(""),
            self.cause.name(),
            &self.missing.join(" "),
            self.message_template.as_deref().unwrap_or(""),
        ];
        let digest = Sha256::digest(fields.join("\u{1f}").as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// One signature with its counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Signature {
    pub id: String,
    pub method: String,
    pub endpoint: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub cause: Cause,
    pub missing: Vec<String>,
    pub message_template: Option<String>,
    pub count: u64,
    /// Principals affected, sorted (at most 20 listed; `principals_total` counts all).
    pub principals: Vec<String>,
    pub principals_total: usize,
    pub first_seen: String,
    pub last_seen: String,
    /// The earliest denied requests.
    pub requests: Vec<String>,
    /// Against `--baseline`: `new` or `persisting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'static str>,
}

/// Accumulates the denials of one signature, across partitions: it owns what it
/// keeps (shared principals, a few request ids), as each partition's groups are
/// gone before the signatures are finished.
#[derive(Debug, Default)]
pub struct SignatureAcc {
    pub count: u64,
    /// Principals as met, repeats included; sorted and deduplicated by `finish`.
    pub principals: Vec<Shared<str>>,
    pub first: Option<Millis>,
    /// `None` until something is added: never the epoch.
    pub last: Option<Millis>,
    /// The earliest requests: (time, id or `file:line`).
    pub requests: Vec<(Millis, CompactString)>,
}

const PRINCIPALS_LISTED: usize = 20;
const REQUESTS_LISTED: usize = 5;

impl SignatureAcc {
    pub fn add(
        &mut self,
        principal: &Shared<str>,
        count: u64,
        first: Millis,
        last: Millis,
        requests: impl IntoIterator<Item = (Millis, CompactString)>,
    ) {
        self.count += count;
        // One accumulator mostly sees one principal at a time.
        if self.principals.last() != Some(principal) {
            self.principals.push(principal.clone());
        }
        self.first = Some(self.first.map_or(first, |f| f.min(first)));
        self.last = Some(self.last.map_or(last, |l| l.max(last)));
        self.requests.extend(requests);
        self.requests.sort();
        self.requests.truncate(REQUESTS_LISTED);
    }

    /// Folds in what another worker accumulated for the same signature.
    pub fn merge(&mut self, other: SignatureAcc) {
        self.count += other.count;
        self.principals.extend(other.principals);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last); // `None` is the least.
        self.requests.extend(other.requests);
        self.requests.sort();
        self.requests.truncate(REQUESTS_LISTED);
    }

    pub fn finish(mut self, key: &SignatureKey, format: impl Fn(Millis) -> String) -> Signature {
        self.principals.sort_unstable();
        self.principals.dedup();
        Signature {
            id: key.id(),
            method: key.method.clone(),
            endpoint: key.template.clone(),
            status: key.status,
            error_code: key.error_code.clone(),
            cause: key.cause,
            missing: key.missing.clone(),
            message_template: key.message_template.clone(),
            count: self.count,
            principals_total: self.principals.len(),
            principals: self
                .principals
                .iter()
                .take(PRINCIPALS_LISTED)
                .map(|p| p.to_string())
                .collect(),
            first_seen: format(self.first.unwrap_or(UNKNOWN_TIME)),
            last_seen: format(self.last.unwrap_or(UNKNOWN_TIME)),
            requests: self
                .requests
                .into_iter()
                .map(|(_, id)| id.to_string())
                .collect(),
            baseline: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SignatureKey {
        SignatureKey {
            method: "PUT".into(),
            template: "/w/{id}".into(),
            status: 403,
            error_code: None,
            cause: Cause::MissingPermission,
            missing: vec!["w.update".into()],
            message_template: Some("Forbidden".into()),
        }
    }

    #[test]
    fn ids_are_short_stable_and_tell_keys_apart() {
        let id = key().id();
        assert_eq!(id.len(), 12);
        assert_eq!(id, key().id());
        // Pinned: an id must never change between versions without a new recipe.
        assert_eq!(
            id, "478dd62983ff",
            "the id recipe changed; bump ID_RECIPE instead"
        );
        let mut other = key();
        other.cause = Cause::StaleToken;
        assert_ne!(other.id(), id);
        let mut shifted = key();
        shifted.missing = vec![];
        shifted.message_template = Some("w.update Forbidden".into());
        assert_ne!(shifted.id(), id, "field boundaries are part of the key");
    }
}
