//! Secrets never leave ingest. In the free text grantgap keeps (messages,
//! response headers, object ids, bad-record details, quarantined records) every
//! secret is replaced by `<redacted:HASH>`, where HASH is a keyed SHA-256 of the
//! value: the same secret gets the same mark, so denials still group, but the
//! value cannot be read back. Set `GRANTGAP_REDACTION_KEY` to a private value so
//! marks cannot be matched against guesses elsewhere.
//!
//! A secret is found by its shape (bearer and basic credentials, JWTs, PEM private
//! keys, provider keys: AWS, Google, GitHub, Slack, Stripe; `password=`-style and
//! JSON `"password":"…"` values, plain or URL-encoded; long hex and long runs) or,
//! for random tokens that have no shape, by how often their characters switch
//! between cases and digits and how little of them spells words
//! (`looks_random`). Names that merely contain a
//! secret's key stay: `core/serviceaccounts/token:create` is a permission.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;
use std::thread::LocalKey;

use regex::{Captures, Regex, RegexSet};
use sha2::{Digest, Sha256};

/// One shape of secret.
struct Shape {
    /// The last capture group that takes part (or the whole match) is the secret.
    pattern: &'static str,
    /// Whether a path segment of this shape is a secret. Not the shapes object
    /// ids share (long hex, long runs), nor `key:value`, the shape of custom
    /// methods (`/v1/…/keys:create`).
    in_paths: bool,
    /// A check the secret must pass: `Bearer authentication` has a token's shape.
    plausible: fn(&str) -> bool,
}

/// Keys whose value is a secret, as a suffix of the key: `client_secret`,
/// `x-api-key`, `aws_secret_access_key`, `next_page_token`.
macro_rules! secret_key {
    () => {
        r"[0-9A-Za-z_-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|signature|sig|session[_-]?id|sessionid|credentials?|authorization|cookie)"
    };
}

/// The value after a `key=` or `key:` in text.
macro_rules! text_value {
    () => {
        r#"("[^"]*"|'[^']*'|[^\s&,;"'\\]+)"#
    };
}

const SHAPES: &[Shape] = &[
    // PEM private keys first: their base64 lines would otherwise be marked one
    // by one. The body ends at the END line, or at a quote where a JSON string
    // holds it.
    Shape {
        pattern: r#"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|["']|\z)"#,
        in_paths: false,
        plausible: any,
    },
    // JSON: `"password":"…"`; the key stays.
    Shape {
        pattern: concat!(
            r#"(?i)""#,
            secret_key!(),
            r#""\s*:\s*(?:"((?:[^"\\]|\\.)+)"|(-?[0-9A-Za-z_.+-]+))"#
        ),
        in_paths: false,
        plausible: any,
    },
    // JSON inside a JSON string (a quarantined record, a detail that quotes a
    // value): `\"password\":\"…\"`, whose own escapes are doubled.
    Shape {
        pattern: concat!(
            r#"(?i)\\""#,
            secret_key!(),
            r#"\\"\s*:\s*(?:\\"((?:[^"\\]|\\\\\\[\\"]|\\\\[^"\\]|\\[^"\\])+)\\"|(-?[0-9A-Za-z_.+-]+))"#
        ),
        in_paths: false,
        plausible: any,
    },
    // `password=…`, also URL-encoded (`token%3D…`).
    Shape {
        pattern: concat!(r"(?i)\b", secret_key!(), r"\s*(?:=|%3D)\s*", text_value!()),
        in_paths: true,
        plausible: any,
    },
    // `password: …` where `password` is a key: not part of a path or a name
    // (`serviceaccounts/token:create`, `system:serviceaccount:ns:token`).
    Shape {
        pattern: concat!(
            r"(?i)(?:^|[^0-9A-Za-z_/.:@-])",
            secret_key!(),
            r"\s*:\s*",
            text_value!()
        ),
        in_paths: false,
        plausible: any,
    },
    // A cookie header's whole value, in text or JSON (`"Cookie":"sid=…"`).
    Shape {
        pattern: r#"(?i)\b(?:set-)?cookie"?\s*[:=]\s*("[^"]*"|[^\r\n"]+)"#,
        in_paths: false,
        plausible: any,
    },
    Shape {
        pattern: r"(?i)\bbearer(?:\s+|%20|\+)([A-Za-z0-9._~+/=%-]{8,})",
        in_paths: true,
        plausible: credential_like,
    },
    Shape {
        pattern: r"(?i)\bbasic(?:\s+|%20|\+)([A-Za-z0-9+/=%]{8,})",
        in_paths: true,
        plausible: credential_like,
    },
    Shape {
        pattern: r"\b(eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)",
        in_paths: true,
        plausible: any,
    },
    Shape {
        pattern: r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b",
        in_paths: true,
        plausible: any,
    },
    // Google API keys.
    Shape {
        pattern: r"\b(AIza[0-9A-Za-z_-]{35})",
        in_paths: true,
        plausible: any,
    },
    // GitHub tokens.
    Shape {
        pattern: r"\b(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})",
        in_paths: true,
        plausible: any,
    },
    // Slack tokens.
    Shape {
        pattern: r"\b(xox[abposr]-[A-Za-z0-9-]{10,})",
        in_paths: true,
        plausible: any,
    },
    // Stripe secret and restricted keys.
    Shape {
        pattern: r"\b([sr]k_(?:live|test)_[A-Za-z0-9]{10,})",
        in_paths: true,
        plausible: any,
    },
    Shape {
        pattern: r"\b([A-Fa-f0-9]{32,})\b",
        in_paths: false,
        plausible: any,
    },
    Shape {
        pattern: r"\b([A-Za-z0-9+_-]{40,}={0,2})",
        in_paths: false,
        plausible: opaque,
    },
];

/// No check: the shape is enough.
fn any(_: &str) -> bool {
    true
}

/// Whether a long run is opaque rather than a name made of words
/// (`AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b`): a quarter of its
/// characters or more are in no word (see [`looks_random`]).
fn opaque(run: &str) -> bool {
    let alphanumeric = run.bytes().filter(u8::is_ascii_alphanumeric).count();
    unexplained_characters(run.as_bytes()) * 4 >= alphanumeric
}

/// Whether a bearer or basic credential is more than a word: it holds a digit,
/// a symbol, or a lower-case letter followed by an upper-case one.
fn credential_like(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().any(|b| !b.is_ascii_alphabetic())
        || bytes
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    SHAPES
        .iter()
        .map(|s| Regex::new(s.pattern).expect("secret pattern compiles"))
        .collect()
});

/// Every shape at once: text without a secret (nearly all of it) is read once,
/// not once per shape (a message: 330 ns, against 590 ns for one regex after
/// another; a UUID object id: 815 against 860 ns).
static ANY_SHAPE: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(SHAPES.iter().map(|s| s.pattern)).expect("secret patterns compile")
});

/// The shapes a path segment can hold a secret in, and each one's index in [`SHAPES`].
static PATH_SHAPES: LazyLock<(RegexSet, Vec<usize>)> = LazyLock::new(|| {
    let indexes: Vec<usize> = (0..SHAPES.len()).filter(|&i| SHAPES[i].in_paths).collect();
    let set =
        RegexSet::new(indexes.iter().map(|&i| SHAPES[i].pattern)).expect("secret patterns compile");
    (set, indexes)
});

/// How provider tokens start: a path segment without `=`, `%`, `+` or
/// whitespace is matched against the shapes only when it starts so.
const TOKEN_STARTS: &[&str] = &[
    "eyJ",
    "AKIA",
    "ASIA",
    "AIza",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
];

/// The first bytes of [`TOKEN_STARTS`]: most segments are passed over by one comparison.
const TOKEN_FIRST_BYTES: [char; 6] = ['e', 'A', 'g', 'x', 's', 'r'];

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
    for index in ANY_SHAPE.matches(text).iter() {
        let plausible = SHAPES[index].plausible;
        let replaced = PATTERNS[index].replace_all(&out, |c: &Captures| {
            let whole = c.get(0).expect("a match has group 0");
            let secret = secret_of(c);
            let text = whole.as_str();
            if !plausible(secret.as_str()) {
                return text.to_string();
            }
            let start = secret.start() - whole.start();
            let end = secret.end() - whole.start();
            format!(
                "{}{}{}",
                &text[..start],
                mark(secret.as_str()),
                &text[end..]
            )
        });
        if let Cow::Owned(replaced) = replaced {
            out = Cow::Owned(replaced);
        }
    }
    match redact_random_tokens(&out) {
        Some(replaced) => Cow::Owned(replaced),
        None => out,
    }
}

/// The secret of a match: its last capture group that takes part, or all of it.
fn secret_of<'t>(captures: &Captures<'t>) -> regex::Match<'t> {
    (0..captures.len())
        .rev()
        .find_map(|i| captures.get(i))
        .expect("a match has group 0")
}

/// Random tokens shorter than this are not told apart from names.
const SHORTEST_RANDOM_TOKEN: usize = 16;

/// Whether a byte belongs to a token: base64url, which base62 is part of.
fn in_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The runs of token bytes (at least [`SHORTEST_RANDOM_TOKEN`] long) in text,
/// as byte ranges.
fn token_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            let start = at + bytes[at..].iter().position(|&b| in_token(b))?;
            let len = bytes[start..].iter().take_while(|&&b| in_token(b)).count();
            at = start + len;
            if len >= SHORTEST_RANDOM_TOKEN {
                return Some((start, start + len));
            }
        }
        None
    })
}

/// The text with its random tokens replaced by their marks, `None` when it has none.
fn redact_random_tokens(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (start, end) in token_runs(text) {
        if !looks_random(&text[start..end]) {
            continue;
        }
        // Base64 padding goes with its token.
        let padded = end + text[end..].bytes().take_while(|&b| b == b'=').count();
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..start]);
        out.push_str(&mark(&text[start..end]));
        copied = padded;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// Whether a token (`[A-Za-z0-9_-]`, at least 16 long) is random rather than a
/// name. Random base62 switches between lower case, upper case and digits at
/// about 60% of its characters and rarely spells a word; names are words
/// (`ListFunctions20150331`: 20% switches, every word has a vowel). A token is
/// random when at least 35% of its characters switch class and at least 25% of
/// them are in no word: a letter word of one letter or without a vowel, a
/// single digit. Runs of hex (8 or more, letters and digits: the tail of
/// `AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b`) count as words. On generated tokens
/// this finds 95% of random base62 of 16 characters, 99% of 32, and none of the
/// names in the tests.
fn looks_random(token: &str) -> bool {
    let bytes = token.as_bytes();
    if bytes.len() < SHORTEST_RANDOM_TOKEN {
        return false;
    }
    // Per class (lower, upper, digit): how many; and how often the class switches.
    let mut counts = [0usize; 3];
    let mut switches = 0;
    let mut previous = None;
    for &b in bytes {
        let class = match b {
            b'a'..=b'z' => 0,
            b'A'..=b'Z' => 1,
            b'0'..=b'9' => 2,
            _ => continue,
        };
        counts[class] += 1;
        switches += usize::from(previous.is_some_and(|p| p != class));
        previous = Some(class);
    }
    let alphanumeric: usize = counts.iter().sum();
    counts[0] > 0
        && counts[1] > 0
        && switches * 20 >= (alphanumeric - 1) * 7
        && unexplained_characters(bytes) * 4 >= alphanumeric
}

/// The characters of a token in no word (see [`looks_random`]).
fn unexplained_characters(bytes: &[u8]) -> usize {
    let vowel = |b: u8| {
        matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    };
    let run = |from: usize, belongs: fn(&u8) -> bool| {
        bytes[from..].iter().take_while(|b| belongs(b)).count()
    };
    let hex_run = |from: usize| {
        let lower = run(from, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        let upper = run(from, |b| b.is_ascii_digit() || (b'A'..=b'F').contains(b));
        let len = lower.max(upper);
        let part = &bytes[from..from + len];
        let mixed = part.iter().any(u8::is_ascii_digit) && part.iter().any(u8::is_ascii_alphabetic);
        if len >= 8 && mixed {
            len
        } else {
            0
        }
    };
    let mut unexplained = 0;
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        if !b.is_ascii_alphanumeric() {
            at += 1;
            continue;
        }
        let hex = if b.is_ascii_hexdigit() {
            hex_run(at)
        } else {
            0
        };
        if hex > 0 {
            at += hex;
            continue;
        }
        if b.is_ascii_digit() {
            // A lone digit is in no word; a number (`20150331`) is one.
            let digits = run(at, u8::is_ascii_digit);
            unexplained += usize::from(digits == 1);
            at += digits;
            continue;
        }
        let len = if b.is_ascii_lowercase() {
            run(at, u8::is_ascii_lowercase)
        } else {
            // `Word`, or an acronym (`SSO`, the `DB` of `DBInstances`).
            let capitals = run(at, u8::is_ascii_uppercase);
            let lower = run(at + capitals, u8::is_ascii_lowercase);
            if lower > 0 {
                if capitals > 1 {
                    capitals - 1
                } else {
                    1 + lower
                }
            } else {
                capitals
            }
        };
        let word = &bytes[at..at + len];
        if len < 2 || !word.iter().any(|&b| vowel(b)) {
            unexplained += len;
        }
        at += len;
    }
    unexplained
}

/// Whether a path segment holds a secret: a random token, or one of the shapes
/// a path can hold (`Shape::in_paths`). Only segments with `=`, `%`, `+` or
/// whitespace, or that start like a provider's token, are matched against the
/// shapes: ordinary segments (`PutBucketLogging`, `rbac.authorization.k8s.io`)
/// never reach a regex.
pub fn is_secret_segment(segment: &str) -> bool {
    // Lower-case hex and dashes (UUIDs, digests: most long segments of a
    // gateway's paths) hold no upper case, which a random token needs, and
    // none of the marks or token starts below (a proptest checks).
    if segment
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))
    {
        return false;
    }
    holds_token_or_shape(segment)
}

/// [`is_secret_segment`] but for its shortcut.
fn holds_token_or_shape(segment: &str) -> bool {
    // One pass: the runs of token bytes, and what lies between them.
    let mut announced = false;
    let mut run_start = 0;
    // By character: a run ends before a non-ASCII character, never inside it.
    for (at, c) in segment.char_indices() {
        if c.is_ascii() && in_token(c as u8) {
            continue;
        }
        if looks_random(&segment[run_start..at]) {
            return true;
        }
        announced |= matches!(c, '=' | '%' | '+') || c.is_ascii_whitespace();
        run_start = at + c.len_utf8();
    }
    if looks_random(&segment[run_start..]) {
        return true;
    }
    announced |= segment.starts_with(TOKEN_FIRST_BYTES)
        && TOKEN_STARTS.iter().any(|start| segment.starts_with(start));
    if !announced {
        return false;
    }
    let (set, indexes) = &*PATH_SHAPES;
    set.matches(segment).iter().any(|i| {
        let index = indexes[i];
        PATTERNS[index]
            .captures_iter(segment)
            .any(|c| (SHAPES[index].plausible)(secret_of(&c).as_str()))
    })
}

/// Ids shorter than this are never secrets worth a pattern scan: the hot path of
/// allowed requests stays cheap.
const SHORTEST_SECRET_ID: usize = 24;

/// Whether no shape can match `id`, which is lower-case hex and dashes (a
/// UUID, a hex digest) with no run of 32 hex digits and under 40 long: every
/// secret key word and token prefix has a letter past `f`, the hex shape needs
/// 32 digits in a run and the opaque one 40 characters, and a random token
/// needs upper case. The scan of UUID objects was 8% of reading a gateway log.
fn plainly_hex(id: &str) -> bool {
    let mut run = 0;
    id.len() < 40
        && id.bytes().all(|b| {
            run = if b == b'-' { 0 } else { run + 1 };
            matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-') && run < 32
        })
}

/// Redacts an object id (from a path or the log), skipping the scan for short
/// ids and for ids no shape can match.
pub fn redact_object(id: String) -> String {
    match redacted_object(&id) {
        Some(redacted) => redacted,
        None => id,
    }
}

/// [`redact_object`] on a borrowed id.
pub fn redact_object_str(id: &str) -> Cow<'_, str> {
    match redacted_object(id) {
        Some(redacted) => Cow::Owned(redacted),
        None => Cow::Borrowed(id),
    }
}

/// Texts redacted on this thread, and what each became (`None`: itself).
/// Emptied when full.
type Redacted = hashbrown::HashMap<Box<str>, Option<Box<str>>>;

thread_local! {
    /// A log names the same objects again and again (100 files of the
    /// CloudTrail corpus: 8,245 resources in 68,909 records) and the patterns
    /// cost about a microsecond an id: 8% of reading CloudTrail.
    static REDACTED_OBJECTS: RefCell<Redacted> = Default::default();
    /// Denials repeat their messages (a job retrying what it may not do), and a
    /// CloudTrail denial's message, with its ARNs, cost the patterns about
    /// 10 µs: 3.7% of reading CloudTrail.
    static REDACTED_MESSAGES: RefCell<Redacted> = Default::default();
}

/// Texts each of those holds at most (a few MB of ARNs or messages).
const REDACTED_KEPT: usize = 1 << 14;

/// Texts longer than this are redacted each time, not kept.
const LONGEST_KEPT: usize = 4096;

/// [`redact`] of `text` as `memo` remembers it, or `None` where it has
/// nothing to redact.
fn remembered(memo: &'static LocalKey<RefCell<Redacted>>, text: &str) -> Option<String> {
    let redact_text = |text| match redact(text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(redacted) => Some(redacted),
    };
    if text.len() > LONGEST_KEPT {
        return redact_text(text);
    }
    memo.with_borrow_mut(|memo| {
        if let Some(done) = memo.get(text) {
            return done.as_deref().map(str::to_string);
        }
        let redacted = redact_text(text);
        if memo.len() >= REDACTED_KEPT {
            memo.clear();
        }
        memo.insert(text.into(), redacted.as_deref().map(Into::into));
        redacted
    })
}

/// The redacted form of an object id, or `None` where it has nothing to redact.
fn redacted_object(id: &str) -> Option<String> {
    if id.len() < SHORTEST_SECRET_ID || plainly_hex(id) {
        return None;
    }
    remembered(&REDACTED_OBJECTS, id)
}

/// [`redact_owned`] for the message or error code of a denial, remembered.
pub fn redact_message(text: String) -> String {
    remembered(&REDACTED_MESSAGES, &text).unwrap_or(text)
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
    const RANDOM: &str = "Xk9fQ2mZ7pLr4TbW8nVc";

    /// Each text, and the secret it holds that must not survive.
    fn secrets() -> Vec<(String, &'static str)> {
        let pem_body = "MIIEowIBAAKCAQEA7xQ2lm9PzXw";
        vec![
            (format!("Authorization: Bearer {JWT}"), JWT),
            (format!("token {JWT} expired"), JWT),
            (format!("Bearer%20{JWT}"), "c2lnbmF0dXJlLXZhbHVl"),
            ("Bearer%20abc123DEF456ghi789".into(), "abc123DEF456ghi789"),
            ("Basic dXNlcjpwYXNzd29yZA==".into(), "dXNlcjpwYXNzd29yZA"),
            (
                "invalid api_key=sk_live_51HxyzABCdef0123456789 in request".into(),
                "sk_live_51HxyzABCdef0123456789",
            ),
            ("password: hunter2-correct-horse".into(), "hunter2"),
            (
                "status \"password=hunter2-correct-horse\" is not an HTTP status code".into(),
                "hunter2",
            ),
            (
                "next=%2Fhome%26token%3Dabc123secretvalue".into(),
                "abc123secretvalue",
            ),
            ("password%3Dhunter2-correct".into(), "hunter2"),
            (
                "/containers/c/blob.txt;sig=Zm9vYmFyYmF6cXV4".into(),
                "Zm9vYmFyYmF6cXV4",
            ),
            (
                "key AKIAIOSFODNN7EXAMPLE is not allowed".into(),
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "session 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 gone"
                    .into(),
                "9f86d081884c7d65",
            ),
            (
                "Cookie: sid=s3cr3t-cookie-value; theme=dark".into(),
                "s3cr3t-cookie-value",
            ),
            (
                r#"{"headers":{"Set-Cookie":"sid=s3cr3t-cookie-value"}}"#.into(),
                "s3cr3t-cookie-value",
            ),
            (r#"{"password":"hunter2-correct-horse"}"#.into(), "hunter2"),
            (r#"{"x-api-key":"k3y-VALUE-0987"}"#.into(), "k3y-VALUE-0987"),
            (
                r#"{"client_secret": "s3cr3t-client-value", "user": "bob"}"#.into(),
                "s3cr3t-client-value",
            ),
            (r#"{"pin_password": 73194682}"#.into(), "73194682"),
            (
                r#"{"message":"{\"access_token\":\"tok-Value-998877\",\"user\":\"bob\"}"}"#.into(),
                "tok-Value-998877",
            ),
            (
                r#""{\"password\":\"hun\\\"ter2\"}" is not a list"#.into(),
                "ter2",
            ),
            (
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----"
                ),
                pem_body,
            ),
            (
                format!(
                    r#"{{"key":"-----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----"}}"#
                ),
                pem_body,
            ),
            (
                "key AIzaSyD3x9Kq-ZbW7m2PvT8nY4cR1fJ6hL0gUe5 denied".into(),
                "AIzaSyD3x9Kq-ZbW7m2PvT8nY4cR1fJ6hL0gUe5",
            ),
            (
                "[ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A".into(),
                "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A",
            ),
            (
                "gho_16C7e42F292c6912E7710c838347Ae178B4a".into(),
                "16C7e42F292c6912E7710c838347Ae178B4a",
            ),
            ("ghu_abcdefghijklmnop1234".into(), "abcdefghijklmnop1234"),
            ("ghs_abcdefghijklmnop1234".into(), "abcdefghijklmnop1234"),
            ("ghr_abcdefghijklmnop1234".into(), "abcdefghijklmnop1234"),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnop".into(),
                "abcdefghijklmnop",
            ),
            (
                "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx".into(),
                "abcdefghijklmnopqrstuvwx",
            ),
            ("xoxp-1234567890-abcdefghij".into(), "abcdefghij"),
            (
                "rk_live_abcdefghij0123456789".into(),
                "abcdefghij0123456789",
            ),
            (format!("/api/v1/password-reset/{RANDOM}"), RANDOM),
            (format!("reset code {RANDOM}== expired"), RANDOM),
        ]
    }

    #[test]
    fn a_segment_with_non_ascii_characters_is_cut_between_them() {
        // Found by fuzzing: a run used to end inside a two-byte character.
        assert!(!is_secret_segment("\u{650}o="));
        assert!(!is_secret_segment("caf\u{e9}=au+lait"));
    }

    #[test]
    fn every_kind_of_secret_is_replaced() {
        for (text, secret) in secrets() {
            let clean = redact(&text);
            assert!(clean.contains("<redacted:"), "{text} -> {clean}");
            assert!(!clean.contains(secret), "{text} -> {clean}");
        }
    }

    #[test]
    fn remembered_messages_are_redacted_as_the_first_time() {
        let clean = "User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject";
        let long = format!("{} {JWT}", "x".repeat(LONGEST_KEPT));
        let texts = secrets().into_iter().map(|(text, _)| text);
        let texts: Vec<String> = texts.chain([clean.to_string(), long]).collect();
        // Twice over: the second time from memory.
        for _ in 0..2 {
            for text in &texts {
                assert_eq!(redact_message(text.clone()), redact_owned(text.clone()));
            }
        }
    }

    #[test]
    fn marks_are_stable_and_keys_stay() {
        assert_eq!(redact(&format!("a {JWT}")), redact(&format!("a {JWT}")));
        assert_eq!(redact("password=x").as_ref(), redact("password=x").as_ref());
        assert!(redact(r#"{"password":"x1"}"#).starts_with(r#"{"password":"<redacted:"#));
        assert!(redact("token%3Dabc").starts_with("token%3D<redacted:"));
        let pem = redact("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----");
        assert!(
            pem.starts_with("-----BEGIN EC PRIVATE KEY-----<redacted:"),
            "{pem}"
        );
        assert!(pem.ends_with(">-----END EC PRIVATE KEY-----"), "{pem}");
    }

    #[test]
    fn legitimate_values_pass_unchanged() {
        for text in [
            "core/serviceaccounts/token:create",
            "authentication.k8s.io/tokenreviews:create",
            "core/pods/exec:create",
            "pods/exec",
            "rbac.authorization.k8s.io/clusterroles:bind",
            "nonresource:/healthz:get",
            "iam:PassRole",
            "s3:GetObject",
            "sts:GetSessionToken",
            "secretsmanager:GetSecretValue",
            "arn:aws:iam::123456789012:role/token-reader",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane",
            "iam.serviceAccountKeys.create",
            "iam.serviceAccounts.getAccessToken",
            "secretmanager.versions.access",
            "3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f",
            "3F2B8C1E-5D4A-4B7E-9C1D-2A3B4C5D6E7F",
            "WO12345",
            "M-1001",
            "ORD-2026-11-20-0001",
            "2026-11-20T01:02:03.500Z",
            "2026-11-20T01:02:03+01:00",
            "/api/v1/tokens/{id}",
            "/api/v1/maintenance/workorders/WO12345/attachments",
            "/2015-03-31/functions/ListFunctions20150331",
            "Forbidden: Insufficient permissions",
            "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: iam:GetRole",
            "Task is locked by workflow state APPROVAL",
            r#"secrets is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "secrets" in API group "" in the namespace "prod""#,
            "system:serviceaccount:kube-system:token-cleaner",
            r#"Bearer error="insufficient_scope", scope="maintenance.workorder.update""#,
            "Bearer authentication required",
            "Basic authentication is disabled for this API",
            "token_type=Bearer&expires_in=3600",
            "grant_type=client_credentials",
            r#"{"error":"forbidden","required_scope":"maintenance.workorder.update","token_id":"tok-1"}"#,
            "assign the API role Maintenance_API_Full_Access (it grants maintenance.workorder.update)",
            "PutBucketLogging GetBucketPolicyStatus DescribeDBInstances AmazonEC2FullAccess",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn random_tokens_are_told_from_names() {
        for token in [
            RANDOM,
            "7k9fQ2mZXpLr4TbW8nVc",
            "dXNlcjpwYXNzd29yZA",
            "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A",
            "Q2hhbmdlTWUtUGxlYXNl_x-9K",
        ] {
            assert!(looks_random(token), "{token}");
        }
        for name in [
            "ListFunctions20150331",
            "PutBucketLogging",
            "GetBucketPolicyStatus",
            "CreateDBClusterParameterGroup",
            "AmazonS3ReadOnlyAccess",
            "IAMRoleForEC2ToS3Access",
            "ExternalIdTokenV2Beta3",
            "AccessKeyId2026Q4Rotation",
            "Maintenance_API_Full_Access",
            "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b",
            "AC0123456789abcdef0123456789abcdef",
            "serviceAccountKeys",
            "inventoryAttributes",
            "XMLHttpRequestUpload",
            "3f2b8c1e-5d4a-4b7e-9c1d-2a3b4c5d6e7f",
        ] {
            assert!(!looks_random(name), "{name}");
        }
    }

    #[test]
    fn path_segments_holding_secrets_are_found() {
        for segment in [
            RANDOM,
            "sig=Zm9vYmFyYmF6cXV4",
            "token=ab12",
            &format!("Bearer%20{JWT}"),
            JWT,
            "dXNlcjpwYXNzd29yZA==",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-123456789012-abcdefghij",
        ] {
            assert!(is_secret_segment(segment), "{segment}");
        }
        for segment in [
            "workorders",
            "PutBucketLogging",
            "ListFunctions20150331",
            "serviceaccounts",
            "v1beta1",
            "core",
            "token:create",
            "keys:signJwt",
            "rbac.authorization.k8s.io",
            "9f86d081884c7d659a2feaa0c55ad015",
            "q%20a",
            "Bearer+authentication",
        ] {
            assert!(!is_secret_segment(segment), "{segment}");
        }
    }

    proptest::proptest! {
        #[test]
        fn lower_case_hex_segments_hold_no_secret(segment in "[0-9a-f-]{0,80}") {
            proptest::prop_assert!(!holds_token_or_shape(&segment));
        }

        #[test]
        fn ids_passed_as_plainly_hex_hold_nothing_to_redact(id in "([0-9a-f]{0,38}-?){1,3}") {
            if plainly_hex(&id) {
                proptest::prop_assert_eq!(redact(&id), Cow::Borrowed(id.as_str()));
            }
        }
    }

    #[test]
    fn object_ids_redact_alike_through_the_memo() {
        let secret = format!("arn:aws:s3:::bucket/{JWT}");
        let first = redact_object(secret.clone());
        assert_eq!(first, redact(&secret), "as the patterns redact it");
        assert_ne!(first, secret);
        assert_eq!(redact_object(secret.clone()), first);
        assert_eq!(redact_object_str(&secret), first);
        let clean = "arn:aws:s3:::bucket/reports/2026/11/summary.csv".to_string();
        assert_eq!(redact_object(clean.clone()), clean);
        assert!(matches!(redact_object_str(&clean), Cow::Borrowed(_)));
        // Past its size the memo starts over, and answers alike.
        for i in 0..REDACTED_KEPT + 10 {
            redact_object(format!("arn:aws:s3:::bucket/object-number-{i}"));
        }
        assert_eq!(redact_object(secret), first);
    }

    #[test]
    fn uuids_and_short_digests_are_plainly_hex_and_long_runs_are_not() {
        assert!(plainly_hex("3f2b8c1e-9a4d-4e2b-8f1a-2c3d4e5f6a7b"));
        assert!(plainly_hex("0123456789abcdef0123456789abcde"));
        assert!(
            !plainly_hex("0123456789abcdef0123456789abcdef"),
            "32 hex digits"
        );
        assert!(
            !plainly_hex("3F2B8C1E-9A4D-4E2B-8F1A-2C3D4E5F6A7B"),
            "upper case"
        );
        assert!(!plainly_hex(&"ab-".repeat(14)), "40 long");
    }
}
