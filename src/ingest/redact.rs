//! Secrets never leave ingest: bearer tokens, JWTs, AWS access key ids,
//! `password=`/`api_key=`-style values and long opaque strings are replaced in
//! the free text grantgap keeps (messages, response headers, object ids) by
//! `<redacted:HASH>`, where HASH is a keyed SHA-256 of the value: the same secret
//! gets the same mark, so denials still group, but the value cannot be read back.
//! Set `GRANTGAP_REDACTION_KEY` to a private value so marks cannot be matched
//! against guesses elsewhere.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use sha2::{Digest, Sha256};

/// Patterns of secrets; the last capture group (or the whole match) is the secret.
static SECRETS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // key=value and key: value pairs whose key names a secret; the key stays.
        r#"(?i)\b(?:password|passwd|pwd|secret|client_secret|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|session[_-]?id|sessionid|sig|signature|x-amz-security-token)\s*[=:]\s*("[^"]*"|'[^']*'|[^\s&,;"']+)"#,
        // A cookie header's whole value, in text or JSON (`"Cookie":"sid=…"`).
        r#"(?i)\b(?:set-)?cookie"?\s*[:=]\s*("[^"]*"|[^\r\n"]+)"#,
        r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{8,})",
        r"(?i)\bbasic\s+([A-Za-z0-9+/=]{8,})",
        r"\b(eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)",
        r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b",
        r"\b([A-Fa-f0-9]{32,})\b",
        r"\b([A-Za-z0-9+_-]{40,}={0,2})",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("secret pattern compiles"))
    .collect()
});

static KEY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    std::env::var("GRANTGAP_REDACTION_KEY")
        .map(String::into_bytes)
        .unwrap_or_else(|_| b"grantgap-default-redaction-key".to_vec())
});

/// The mark that replaces a secret.
fn mark(secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(&*KEY);
    hasher.update([0u8]);
    hasher.update(secret.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("<redacted:{hex}>")
}

/// The text with every secret replaced by its mark.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for pattern in SECRETS.iter() {
        if !pattern.is_match(&out) {
            continue;
        }
        let replaced = pattern
            .replace_all(&out, |c: &Captures| {
                let whole = c.get(0).expect("a match has group 0");
                let secret = c.get(c.len() - 1).unwrap_or(whole);
                let start = secret.start() - whole.start();
                let end = secret.end() - whole.start();
                let text = whole.as_str();
                format!(
                    "{}{}{}",
                    &text[..start],
                    mark(secret.as_str()),
                    &text[end..]
                )
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// Ids shorter than this are never secrets worth a pattern scan: the hot path of
/// allowed requests stays cheap.
const SHORTEST_SECRET_ID: usize = 24;

/// Redacts an object id (from a path or the log), skipping the scan for short ids.
pub fn redact_object(id: String) -> String {
    if id.len() < SHORTEST_SECRET_ID {
        id
    } else {
        redact_owned(id)
    }
}

/// [`redact_object`] on a borrowed id.
pub fn redact_object_str(id: &str) -> Cow<'_, str> {
    if id.len() < SHORTEST_SECRET_ID {
        Cow::Borrowed(id)
    } else {
        redact(id)
    }
}

/// Redacts an owned string, reusing it when nothing is secret.
pub fn redact_owned(text: String) -> String {
    match redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXZhbHVl";

    #[test]
    fn every_kind_of_secret_is_replaced_and_marked_alike() {
        let cases = [
            format!("Authorization: Bearer {JWT}"),
            format!("token {JWT} expired"),
            "invalid api_key=sk_live_51HxyzABCdef0123456789 in request".to_string(),
            "password: hunter2-correct-horse".to_string(),
            "key AKIAIOSFODNN7EXAMPLE is not allowed".to_string(),
            "session 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 gone"
                .to_string(),
            "Basic dXNlcjpwYXNzd29yZA==".to_string(),
            "Cookie: sid=s3cr3t-cookie-value; theme=dark".to_string(),
            r#"{"headers":{"Set-Cookie":"sid=s3cr3t-cookie-value"}}"#.to_string(),
        ];
        for case in &cases {
            let clean = redact(case);
            assert!(clean.contains("<redacted:"), "{case} -> {clean}");
            for secret in [
                JWT,
                "sk_live_51HxyzABCdef0123456789",
                "hunter2",
                "AKIAIOSFODNN7EXAMPLE",
                "9f86d081884c7d65",
                "dXNlcjpwYXNzd29yZA",
                "s3cr3t-cookie-value",
            ] {
                assert!(!clean.contains(secret), "{case} -> {clean}");
            }
        }
        assert_eq!(
            redact(&format!("a {JWT}")),
            redact(&format!("a {JWT}")),
            "stable marks"
        );
        assert_eq!(redact("password=x").as_ref(), redact("password=x").as_ref());
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "Forbidden: Insufficient permissions",
            "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: iam:GetRole",
            "/api/v1/maintenance/workorders/WO12345/attachments",
            "3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f",
            "Task is locked by workflow state APPROVAL",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
