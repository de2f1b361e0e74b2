//! AWS CloudTrail records (one per line, or a file's `Records` array).
//!
//! The principal is the role of an assumed-role session (`sessionIssuer.arn`,
//! else the role in the session's ARN), else the identity's ARN. The endpoint
//! is the IAM action: the service prefix of `eventSource` and the `eventName`
//! without an API-version suffix (`lambda:ListFunctions` for
//! `ListFunctions20150331`); it is what a denial required, unless the message
//! names another. The resource is the record's `resources[]` or is built from
//! its request parameters (bucket and key, instance, function, role…), so a
//! fix names it rather than `*`. Only
//! access-denied error codes are denials; other errors (throttling, validation)
//! are counted apart. The error message keeps the policy layer that denied
//! ("no identity-based policy allows", "an explicit deny in a service control
//! policy") and loses the encoded authorization failure message.

mod record;
mod scanned;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use memchr::memmem;
use regex::Regex;
use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::lenient::Text;
use super::{utc_time, AllowedAction, Envelope, EnvelopeRecord, LogFormat};
use crate::ingest::record::fields::{self, FieldMap, Skip};
use crate::model::{
    Event, Millis, ACTION_METHOD, DENIAL_REASON_HEADER, DENIED_BY_HEADER, UNKNOWN_TIME,
    UNTOLD_LAYER,
};
use record::{Identity, Trail};
use scanned::Scan;

pub struct CloudTrail;

/// Whether an error code is an access denial.
fn is_denial(code: &str) -> bool {
    let code = code.strip_prefix("Client.").unwrap_or(code);
    code.contains("AccessDenied")
        || code == "UnauthorizedOperation"
        || code == "UnauthorizedAccess"
        || code == "Forbidden"
        // SNS names its denials so.
        || code == "AuthorizationError"
}

/// "… is not authorized to perform: ACTION [on resource: RESOURCE]".
static NOT_AUTHORIZED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"not authorized to perform:?\s+([\w.-]+:[\w*.-]+)(?:\s+on resource:?\s+(\S+?))?(?:\s+because|\s+with|$|\.\s)")
        .expect("CloudTrail message pattern compiles")
});

/// The encoded authorization failure message: opaque, long, and not for reports.
static ENCODED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s*Encoded authorization failure message:\s*\S+").expect("pattern compiles")
});

/// The policy layer that denied, as CloudTrail's message names it.
static LAYER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(no (?:identity-based polic(?:y|ies)|resource-based polic(?:y|ies)|sessions? polic(?:y|ies)|permissions boundar(?:y|ies)|service control polic(?:y|ies)|VPC endpoint polic(?:y|ies)|resource control polic(?:y|ies)) allows|(?:with )?an explicit deny in (?:an? )?(?:identity-based policy|resource-based policy|sessions? policy|permissions boundary|service control policy|VPC endpoint policy|resource control policy)|denied due to a VPC endpoint policy)",
    )
    .expect("layer pattern compiles")
});

/// "no identity-based policy allows", "an explicit deny in a service control policy", …
fn policy_layer(message: &str) -> Option<String> {
    LAYER
        .find(message)
        .map(|m| m.as_str().trim_start_matches("with ").to_string())
}

/// An API-version suffix of an event name: Lambda's `ListFunctions20150331`,
/// `GetFunction20150331v2`, CloudFront's `GetDistribution2020_05_31`.
static VERSION_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\w*?[A-Za-z])(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")
        .expect("version suffix pattern compiles")
});

/// The IAM action of an event: the service prefix and the event name without
/// its API-version suffix.
fn action(service: &str, event_name: &str) -> String {
    // Both suffixes end in a digit: the names that do not (nearly all) are not
    // searched (the search was 4% of reading CloudTrail).
    let name = if event_name.chars().next_back().is_some_and(char::is_numeric) {
        unversioned(event_name)
    } else {
        event_name
    };
    // Events whose name is not their action's.
    let name = match (service, name) {
        ("lambda", "Invoke") => "InvokeFunction",
        ("s3", "ListBuckets") => "ListAllMyBuckets",
        ("s3", "ListObjects" | "ListObjectsV2" | "HeadBucket") => "ListBucket",
        ("s3", "HeadObject") => "GetObject",
        _ => name,
    };
    format!("{service}:{name}")
}

/// An event name without its API-version suffix ([`VERSION_SUFFIX`]).
fn unversioned(event_name: &str) -> &str {
    thread_local! {
        /// The length of each name without its suffix: a log names few
        /// actions, and each search runs a regex with captures.
        static UNVERSIONED: RefCell<HashMap<Box<str>, usize>> = Default::default();
    }
    /// Names each thread keeps (a few hundred KB at most).
    const KEPT: usize = 4096;
    let search = |name: &str| {
        VERSION_SUFFIX
            .captures(name)
            .and_then(|c| c.get(1))
            .map_or(name.len(), |m| m.len())
    };
    let len = UNVERSIONED.with_borrow_mut(|memo| match memo.get(event_name) {
        Some(&len) => len,
        None => {
            let len = search(event_name);
            if memo.len() < KEPT {
                memo.insert(event_name.into(), len);
            }
            len
        }
    });
    &event_name[..len]
}

/// The IAM service prefix of an `eventSource` (`s3.amazonaws.com` → `s3`),
/// where the two differ.
fn service_prefix(event_source: &str) -> &str {
    let host = event_source.split('.').next().unwrap_or(event_source);
    match host {
        "monitoring" => "cloudwatch",
        "email" => "ses",
        "tagging" => "tag",
        other => other,
    }
}

/// The role ARN of an assumed-role session ARN
/// (`arn:aws:sts::1:assumed-role/R/s` → `arn:aws:iam::1:role/R`; a role path
/// is not in the session ARN, so it is not in the result either).
fn role_of_session(arn: &str) -> Option<String> {
    let (head, rest) = split_at_assumed_role(arn)?;
    let (partition_sts, account) = head.rsplit_once("::")?;
    let partition = partition_sts.strip_suffix(":sts")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!("{partition}:iam::{account}:role/{role}"))
}

/// `arn` around its first `:assumed-role/`: `str::split_once` set up a
/// searcher for the pattern on each call, 1% of reading CloudTrail.
fn split_at_assumed_role(arn: &str) -> Option<(&str, &str)> {
    const MARK: &str = ":assumed-role/";
    static FINDER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(MARK));
    let at = FINDER.find(arn.as_bytes())?;
    Some((&arn[..at], &arn[at + MARK.len()..]))
}

/// The name of a role session (`…:assumed-role/ROLE/SESSION`, or the part of
/// `AROA…:SESSION` after the colon): the principal is the role, and the
/// session, which names the person or job behind it, is the token evidence.
fn session(identity: Option<&Identity>) -> Option<String> {
    let identity = identity?;
    let from_arn = identity.arn.as_deref().and_then(|arn| {
        let (_, rest) = split_at_assumed_role(arn)?;
        let (_, name) = rest.split_once('/')?;
        Some(name.to_string())
    });
    from_arn
        .or_else(|| {
            let id = identity.principal_id.as_deref()?;
            let (role, name) = id.split_once(':')?;
            role.starts_with("AROA").then(|| name.to_string())
        })
        .filter(|name| !name.is_empty())
}

/// The role of a session ARN, or the ARN itself.
fn role_or_arn(arn: Cow<'_, str>) -> Cow<'_, str> {
    match role_of_session(&arn) {
        Some(role) => Cow::Owned(role),
        None => arn,
    }
}

/// Who made the request: the role of an assumed-role session, else the
/// identity's ARN, else its ids. Borrowed from the record where it is written there.
fn principal<'a>(trail: &Trail<'a>) -> Cow<'a, str> {
    let identity = trail.identity();
    let arn = identity.and_then(|i| i.arn.cow());
    let principal_id = identity.and_then(|i| i.principal_id.cow());
    let identity_type = identity.and_then(|i| i.kind.as_deref());
    let by_type = match identity_type.unwrap_or_default() {
        "AssumedRole" | "FederatedUser" => identity
            .and_then(|i| {
                i.session_context
                    .as_ref()?
                    .session_issuer
                    .as_ref()?
                    .arn
                    .cow()
            })
            .or_else(|| arn.map(role_or_arn)),
        "AWSService" => identity.and_then(|i| i.invoked_by.cow()).or(principal_id),
        _ => arn
            .map(role_or_arn)
            .or_else(|| {
                // A role session named only by its ids (`AROA…:session`, as VPC
                // endpoint events log it): the role's unique id.
                principal_id.map(|id| match id.split_once(':') {
                    Some((role, _)) if role.starts_with("AROA") => Cow::Owned(role.to_string()),
                    _ => id,
                })
            })
            .or_else(|| identity.and_then(|i| i.user_name.cow())),
    };
    // A CloudTrail Lake row names a selected `userIdentity.arn` column `arn`.
    let by_type = by_type.or_else(|| {
        let arn = trail.arn.cow().filter(|_| trail.user_identity.is_none())?;
        Some(role_or_arn(arn))
    });
    // Some records (service events, trimmed exports) name no identity.
    by_type.unwrap_or_else(|| {
        Cow::Owned(identity_type.map_or_else(|| "(identity not in log)".into(), str::to_string))
    })
}

/// How a request parameter's value becomes its resource's ARN.
type ArnOf<'a> = &'a dyn Fn(&str) -> String;

/// The ARN of the resource a record names: its `resources[]`, else built from
/// the request parameters of the common services. `None` where the record
/// names none (the policy then applies to `*`).
fn resource_arn(trail: &Trail) -> Option<String> {
    if let Some(arn) = trail.resources.0.iter().find_map(|r| {
        let r = r.as_ref()?;
        r.upper_arn.owned().or_else(|| r.arn.owned())
    }) {
        return Some(arn);
    }
    let params = trail.request_parameters.as_ref()?;
    let identity = trail.identity();
    let partition = identity
        .and_then(|i| i.arn.as_deref())
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    let region = trail
        .aws_region
        .as_ref()
        .and_then(Text::as_deref)
        .unwrap_or_default();
    let account = trail
        .recipient_account_id
        .as_deref()
        .or_else(|| identity.and_then(|i| i.account_id.as_deref()))
        .unwrap_or_default();
    let arn_or = |value: &str, build: &dyn Fn(&str) -> String| {
        if value.starts_with("arn:") {
            value.to_string()
        } else {
            build(value)
        }
    };
    if let Some(bucket) = params.bucket_name.as_deref() {
        return Some(match params.key.as_deref() {
            Some(key) => format!("arn:{partition}:s3:::{bucket}/{key}"),
            None => format!("arn:{partition}:s3:::{bucket}"),
        });
    }
    let instance = params.instance_id.as_deref().or_else(|| {
        let items = params.instances_set.as_ref()?;
        items.items.0.as_ref()?.as_ref()?.instance_id.0.as_deref()
    });
    if let Some(id) = instance {
        return Some(format!(
            "arn:{partition}:ec2:{region}:{account}:instance/{id}"
        ));
    }
    let built: [(&Text, ArnOf); 7] = [
        (&params.function_name, &|n| {
            format!("arn:{partition}:lambda:{region}:{account}:function:{n}")
        }),
        (&params.role_name, &|n| {
            format!("arn:{partition}:iam::{account}:role/{n}")
        }),
        (&params.user_name, &|n| {
            format!("arn:{partition}:iam::{account}:user/{n}")
        }),
        (&params.policy_arn, &|n| n.to_string()),
        (&params.key_id, &|n| {
            // An alias is not the key's resource.
            if n.starts_with("alias/") {
                String::new()
            } else {
                format!("arn:{partition}:kms:{region}:{account}:key/{n}")
            }
        }),
        (&params.table_name, &|n| {
            format!("arn:{partition}:dynamodb:{region}:{account}:table/{n}")
        }),
        (&params.topic_arn, &|n| n.to_string()),
    ];
    for (param, build) in built {
        if let Some(value) = param.as_deref() {
            let arn = arn_or(value, build);
            // `keyId` may be an alias or a bare name: only an ARN is a resource.
            return arn.starts_with("arn:").then_some(arn);
        }
    }
    if let Some(secret) = params
        .secret_id
        .as_deref()
        .filter(|s| s.starts_with("arn:"))
    {
        return Some(secret.to_string());
    }
    // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    let queue = params.queue_url.as_deref()?;
    let mut parts = queue.rsplit('/');
    let (name, queue_account) = (parts.next()?, parts.next()?);
    Some(format!(
        "arn:{partition}:sqs:{region}:{queue_account}:{name}"
    ))
}

/// The IAM action a record names.
fn endpoint(trail: &Trail) -> Result<String, Skip> {
    // Trimmed exports may drop eventSource; the action then has no service prefix.
    let source = trail
        .event_source
        .as_ref()
        .and_then(Text::as_deref)
        .unwrap_or("aws");
    let name = trail
        .event_name
        .as_ref()
        .and_then(Text::as_deref)
        .ok_or_else(|| Skip::new("missing field", "no eventName"))?;
    Ok(action(service_prefix(source), name))
}

/// When the request was made.
fn event_ts(trail: &Trail) -> Result<Millis, Skip> {
    let time = [&trail.event_time, &trail.p_event_time]
        .into_iter()
        .find(|v| !v.is_null());
    utc_time(time)
}

/// The canonical event of a record.
fn event(trail: &Trail) -> Result<Event, Skip> {
    let endpoint = endpoint(trail)?;
    let code = trail.error_code.as_deref();
    let status = match code {
        None => 200,
        Some(c) if is_denial(c) => 403,
        Some(_) => 400,
    };
    let message = trail
        .error_message
        .as_deref()
        .map(|m| ENCODED.replace_all(m, "").trim().to_string());
    let named = message.as_deref().and_then(|m| NOT_AUTHORIZED.captures(m));
    let required = named
        .as_ref()
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| endpoint.clone());
    let named_resource = named
        .as_ref()
        .and_then(|c| c.get(2))
        .map(|r| {
            r.as_str()
                .trim_end_matches(['.', ','])
                .trim_matches('"')
                .to_string()
        })
        .filter(|r| r != "*");
    let mut headers = BTreeMap::new();
    if status == 403 {
        headers.insert("x-required-permission".to_string(), required);
        let layer = message.as_deref().and_then(policy_layer);
        let untold = layer.is_none() && named.is_none() && code != Some("VpceAccessDenied");
        if let Some(layer) = layer.or_else(|| untold.then(|| UNTOLD_LAYER.to_string())) {
            headers.insert(DENIAL_REASON_HEADER.to_string(), layer);
        }
        // The endpoint whose policy denied, when the record names it.
        let by_endpoint = code == Some("VpceAccessDenied")
            || message
                .as_deref()
                .is_some_and(|m| m.contains("VPC endpoint policy"));
        if let Some(id) = trail.vpc_endpoint_id.as_deref().filter(|_| by_endpoint) {
            headers.insert(
                DENIED_BY_HEADER.to_string(),
                format!("vpc_endpoint_policy {id}"),
            );
        }
    }
    let identity = trail.identity();
    let creation = identity
        .and_then(|i| i.session_context.as_ref()?.attributes.as_ref())
        .map(|a| &a.creation_date)
        .filter(|v| !v.is_null());
    Ok(Event {
        ts: event_ts(trail)?,
        principal: principal(trail).into_owned(),
        token_id: session(identity).or_else(|| identity.and_then(|i| i.access_key_id.owned())),
        token_issued_at: utc_time(creation).ok().filter(|t| *t != UNKNOWN_TIME),
        scopes: None,
        method: ACTION_METHOD.into(),
        path: endpoint,
        status,
        error_code: code.map(str::to_string),
        message: message.filter(|m| !m.is_empty()),
        headers,
        object_id: named_resource.or_else(|| resource_arn(trail)),
        org: trail.recipient_account_id.owned(),
        fields: Vec::new(),
        request_id: trail.event_id.owned(),
    })
}

impl LogFormat for CloudTrail {
    fn name(&self) -> &'static str {
        "cloudtrail"
    }

    fn about(&self) -> &'static str {
        "AWS CloudTrail records: S3 {\"Records\": [...]} files, one per line, EventBridge events, LookupEvents and CloudWatch Logs exports"
    }

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope::list("Records"))
    }

    fn markers(&self) -> &'static [&'static str] {
        &["eventName"]
    }

    fn detect(&self, record: &Value) -> bool {
        record.get("eventName").is_some()
            && ["eventSource", "eventType", "awsRegion", "userIdentity"]
                .iter()
                .any(|k| record.get(k).is_some())
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        // Every shape reads into the struct: a failure is a bug, said as such.
        let trail = Trail::deserialize(record).map_err(|e| {
            Skip::new(
                "malformed record",
                format!("cannot read as CloudTrail: {e}"),
            )
        })?;
        event(&trail)
    }

    fn event_from_text(&self, text: &str, detect: bool) -> Option<Event> {
        // A repeated key of a nested object, which a tree keeps the last of,
        // fails here: the tree reads it.
        let trail: Trail = serde_json::from_str(text).ok()?;
        event_of_parsed(&trail, detect)
    }
}

/// The event of a record parsed from its text: `None` where another format's
/// key is in it, or (`detect`) it is not told as CloudTrail's.
fn event_of_parsed(trail: &Trail, detect: bool) -> Option<Event> {
    if trail.foreign_key || (detect && !trail.detected()) {
        return None;
    }
    event(trail).ok()
}

/// The records of a CloudTrail file on one line, `{"Records": [...]}`, read
/// in one pass: what reading each record's text alone
/// ([`CloudTrail::event_from_text`]) gives, without first cutting the list
/// into its records' texts, a pass over every byte that was 16% of reading a
/// 1 GB CloudTrail corpus. `None` unless the document has `Records` alone and
/// every record reads so (it is CloudTrail's, in time, parsed without error):
/// the file is then read as before, record by record, and says what is wrong
/// with which record. The scanner reads the records ([`scanned`]) unless it
/// declines the file, which serde_json then reads.
///
/// Never inlined: inlined into the reader's loop, where generated lines never
/// reach it, it made the fast path there 1-3% slower (the loop's layout).
#[inline(never)]
pub(super) fn records_of_file<'a>(line: &'a [u8]) -> Option<Vec<EnvelopeRecord<'a>>> {
    if !starts_a_file(line) {
        return None;
    }
    // Checked whole, then parsed as text: parsed as bytes, serde_json checks
    // each string it borrows with `str::from_utf8`, 7% of the run.
    let text = simdutf8::basic::from_utf8(line).ok()?;
    let mut records = Vec::new();
    let read = |trail: Trail<'a>| record_in_file(&trail).map(|r| records.push(r)).is_some();
    match scanned::records(text, read) {
        Scan::Read => Some(records),
        Scan::Stopped => None,
        Scan::Declined => serde_json::from_str::<File>(text).ok().map(|file| file.0),
    }
}

/// Whether a line opens with `{"Records"`, whitespace allowed.
fn starts_a_file(line: &[u8]) -> bool {
    let skip_space = |at: usize| {
        at + line[at.min(line.len())..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count()
    };
    let at = skip_space(0);
    if line.get(at) != Some(&b'{') {
        return false;
    }
    let at = skip_space(at + 1);
    line.get(at..)
        .is_some_and(|rest| rest.starts_with(br#""Records""#))
}

/// A record of a file as [`super::event_from_text`] reads it alone when the
/// format is detected, but an allowed request only as much as is counted of
/// it: `None` sends the file to be read record by record.
fn record_in_file<'a>(trail: &Trail<'a>) -> Option<EnvelopeRecord<'a>> {
    // With neither an error code nor a message, the event is a 200 whose
    // object is the resource the record names ([`event`]).
    let allowed = trail.error_code.as_deref().is_none() && trail.error_message.as_deref().is_none();
    if !allowed {
        let event = event_of_parsed(trail, true)?;
        fields::event_time_in_range(event.ts).ok()?;
        return Some(EnvelopeRecord::Event(Box::new(event)));
    }
    if trail.foreign_key || !trail.detected() {
        return None;
    }
    let action = endpoint(trail).ok()?;
    let ts = event_ts(trail).ok()?;
    fields::event_time_in_range(ts).ok()?;
    Some(EnvelopeRecord::Allowed(AllowedAction {
        ts,
        principal: principal(trail),
        action,
        org: trail.recipient_account_id.cow(),
        object: resource_arn(trail),
    }))
}

/// A whole file's records: `Records` and no other key (serde_json fails a map
/// whose visitor leaves entries unread).
struct File<'a>(Vec<EnvelopeRecord<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for File<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FileVisitor<'a> {
            type Value = File<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CloudTrail file")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<File<'a>, A::Error> {
                if map.next_key::<&str>()? != Some("Records") {
                    return Err(A::Error::custom("not a CloudTrail file"));
                }
                Ok(File(map.next_value::<Records>()?.0))
            }
        }
        deserializer.deserialize_map(FileVisitor(PhantomData))
    }
}

/// The records of a file's `Records`; fails at the first record
/// [`record_in_file`] does not read.
struct Records<'a>(Vec<EnvelopeRecord<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Records<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for RecordsVisitor<'a> {
            type Value = Records<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of CloudTrail records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records<'a>, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(trail) = seq.next_element::<Trail<'a>>()? {
                    let record = record_in_file(&trail)
                        .ok_or_else(|| A::Error::custom("read record by record"))?;
                    records.push(record);
                }
                Ok(Records(records))
            }
        }
        deserializer.deserialize_seq(RecordsVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(code: Option<&str>, message: Option<&str>, identity: Value) -> Value {
        json!({"eventTime": "2025-01-20T15:59:33Z", "eventSource": "organizations.amazonaws.com",
               "eventName": "LeaveOrganization", "errorCode": code, "errorMessage": message,
               "userIdentity": identity, "recipientAccountId": "111122223333", "eventID": "e1"})
    }

    fn assumed_role() -> Value {
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/SampleRole/Session",
               "accessKeyId": "ASIAEXAMPLE", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/SampleRole"}}})
    }

    /// The event read from a record's text, and from its tree.
    fn both_ways(text: &str) -> (Option<Event>, Option<Event>) {
        let tree: Value = serde_json::from_str(text).unwrap();
        let from_text = CloudTrail.event_from_text(text, true);
        let from_tree = CloudTrail
            .detect(&tree)
            .then(|| CloudTrail.event(&tree, &FieldMap::default()).ok())
            .flatten();
        (from_text, from_tree)
    }

    #[test]
    fn records_read_from_text_read_as_from_their_tree() {
        let identity = r#""userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s","principalId":"AROAX:s","accessKeyId":"ASIA","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"},"attributes":{"creationDate":"2026-11-20T07:00:00Z","mfaAuthenticated":"false"}}}"#;
        let records = [
            format!(r#"{{"eventTime":"2026-11-20T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1",{identity},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/R/s is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:GetObject action","requestParameters":{{"bucketName":"b","key":"k"}},"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"}}],"recipientAccountId":"111122223333","eventID":"e1"}}"#),
            // Numbers and booleans where text is read, blanks, nulls and lists where
            // objects are, escapes, and a repeated key (the last one counts).
            r#"{"eventTime":1763625600,"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventType":"AwsApiCall","userIdentity":{"type":"IAMUser","arn":" arn:aws:iam::1:user/u ","accountId":1},"errorCode":"Client.UnauthorizedOperation","errorMessage":"You are not authorized.\nEncoded authorization failure message: AbC","requestParameters":{"instancesSet":{"items":[{"instanceId":" i-1 "},{"instanceId":"i-2"}]}},"recipientAccountId":42,"eventID":true,"eventID":"e2"}"#.to_string(),
            r#"{"eventTime":"2026-11-20T08:00:00","eventSource":"ec2.amazonaws.com","eventName":"StopInstances","userIdentity":null,"requestParameters":{"instancesSet":{"items":{"0":{"instanceId":"i-3"}}}},"arn":"arn:aws:sts::1:assumed-role/Lake/x"}"#.to_string(),
            r#"{"eventTime":"2026-11-20T08:00:00Z","eventName":"Invoke","awsRegion":"us-east-1","userIdentity":"someone","resources":{"ARN":"x"},"requestParameters":[1,2]}"#.to_string(),
            r#"{"p_event_time":"2026-11-20 08:00:00.000 UTC","eventSource":"sqs.amazonaws.com","eventName":"SendMessage","userIdentity":{"type":"AWSAccount","principalId":"AROAEXAMPLE:job"},"requestParameters":{"queueUrl":"https://sqs.eu-west-1.amazonaws.com/444455556666/jobs"},"awsRegion":"eu-west-1"}"#.to_string(),
            r#"{"eventTime":"2026-11-20T08:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"},"requestParameters":{"keyId":"alias/app","functionName":"f"},"errorCode":"VpceAccessDenied","vpcEndpointId":"vpce-1","eventTime":null}"#.to_string(),
            // A message without an error code: allowed, the object the message names.
            r#"{"eventTime":"2026-11-20T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"},"errorMessage":"User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/named","requestParameters":{"bucketName":"b","key":"k"}}"#.to_string(),
            r#"{"eventTime":"2026-11-20T08:00:00Z","eventSource":"lambda.amazonaws.com","eventName":"GetFunction20150331v2","userIdentity":{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/f","sessionContext":{"sessionIssuer":{"arn":""},"attributes":{"creationDate":[]}}},"requestParameters":{"functionName":"arn:aws:lambda:eu-west-1:1:function:g"}}"#.to_string(),
        ];
        for text in &records {
            let (from_text, from_tree) = both_ways(text);
            assert!(from_text.is_some(), "{text}");
            assert_eq!(from_text, from_tree, "{text}");
        }
        // The same records as one file, read in one pass.
        assert_eq!(
            allowed_in_a_file_as_alone(&records),
            Some(4),
            "the records with neither an error code nor a message"
        );
    }

    /// The records as one file read in one pass, each checked against what it
    /// gives read alone: its event, or, allowed, all that ingest counts of
    /// that event. The number read as allowed; `None` where the file is not
    /// read in one pass.
    fn allowed_in_a_file_as_alone(records: &[String]) -> Option<usize> {
        let file = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        let read = records_of_file(file.as_bytes())?;
        assert_eq!(read.len(), records.len());
        let mut allowed = 0;
        for (record, text) in read.into_iter().zip(records) {
            let event = CloudTrail.event_from_text(text, true);
            let event = event.expect("a record read in a file reads alone");
            match record {
                EnvelopeRecord::Event(read) => assert_eq!(*read, event),
                EnvelopeRecord::Allowed(read) => {
                    allowed += 1;
                    assert!(event.is_success() && event.message.is_none(), "{event:?}");
                    assert_eq!(event.method, ACTION_METHOD);
                    assert_eq!(
                        (read.ts, &*read.principal, read.action),
                        (event.ts, event.principal.as_str(), event.path)
                    );
                    assert_eq!(read.org.as_deref(), event.org.as_deref());
                    assert_eq!(read.object, event.object_id);
                }
            }
        }
        Some(allowed)
    }

    #[test]
    fn a_file_is_read_in_one_pass_only_where_each_record_reads_alone() {
        let good = r#"{"eventTime":"2026-11-20T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1"}"#;
        let read = |file: &str| records_of_file(file.as_bytes()).map(|records| records.len());
        assert_eq!(
            read(&format!(" {{ \"Records\" : [{good},{good}] }}")),
            Some(2)
        );
        assert_eq!(read(r#"{"Records":[]}"#), Some(0));
        let not_utf8 = format!(r#"{{"Records":[{good}]}}"#).replace("GetObject", "Get\u{1}");
        let mut not_utf8 = not_utf8.into_bytes();
        let at = not_utf8.iter().position(|&b| b == 1).unwrap();
        not_utf8[at] = 0xff;
        assert!(records_of_file(&not_utf8).is_none());
        for file in [
            format!(r#"{{"Records":[{good}],"kind":"x"}}"#),
            format!(r#"{{"kind":"x","Records":[{good}]}}"#),
            format!(r#"{{"Records":[{good}],"Records":[{good}]}}"#),
            // Not CloudTrail's (twice), not detected, another format's key, out
            // of time, a repeated nested key (a tree keeps the last).
            format!(r#"{{"Records":[{good},{{"ts":1,"principal":"p"}}]}}"#),
            format!(
                r#"{{"Records":[{good},{{"eventName":"GetObject","eventTime":"2026-11-20T08:00:00Z"}}]}}"#
            ),
            format!(
                r#"{{"Records":[{good},{{"eventName":"GetObject","awsRegion":"r","verb":"get"}}]}}"#
            ),
            format!(
                r#"{{"Records":[{good},{{"eventTime":"1900-01-01T00:00:00Z","eventName":"X","awsRegion":"r"}}]}}"#
            ),
            format!(
                r#"{{"Records":[{good},{{"eventName":"X","awsRegion":"r","userIdentity":{{"arn":"a","arn":"b"}}}}]}}"#
            ),
            format!(r#"{{"Records":{good}}}"#),
            format!(r#"{{"Records":[{good}]}} x"#),
            format!(r#"[{{"Records":[{good}]}}]"#),
        ] {
            assert_eq!(read(&file), None, "{file}");
        }
    }

    mod text_against_tree {
        use super::*;
        use proptest::prelude::*;

        /// Keys the reader reads, at any level, and some it does not.
        const KEYS: &[&str] = &[
            "eventName",
            "eventSource",
            "eventType",
            "awsRegion",
            "userIdentity",
            "type",
            "arn",
            "principalId",
            "invokedBy",
            "userName",
            "accessKeyId",
            "accountId",
            "sessionContext",
            "sessionIssuer",
            "attributes",
            "creationDate",
            "errorCode",
            "errorMessage",
            "vpcEndpointId",
            "eventTime",
            "p_event_time",
            "recipientAccountId",
            "eventID",
            "resources",
            "ARN",
            "requestParameters",
            "bucketName",
            "key",
            "instanceId",
            "instancesSet",
            "items",
            "0",
            "functionName",
            "keyId",
            "queueUrl",
            "topicArn",
            "secretId",
            "verb",
            "message",
            "other",
        ];

        fn leaf() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("null".to_string()),
                Just("false".to_string()),
                Just("12".to_string()),
                Just("-1.5e3".to_string()),
                Just(r#""""#.to_string()),
                Just(r#"" AssumedRole ""#.to_string()),
                Just(r#""AWSService""#.to_string()),
                Just(r#""arn:aws:sts::1:assumed-role/R/s""#.to_string()),
                Just(r#""AROAX:job""#.to_string()),
                Just(r#""2026-11-20T08:00:00Z""#.to_string()),
                Just(r#""AccessDenied""#.to_string()),
                Just(r#""Client.UnauthorizedOperation""#.to_string()),
                Just(r#""not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b\u00e9 because x""#.to_string()),
                "\"[a-z:/. -]{0,12}\"",
            ]
        }

        fn value() -> impl Strategy<Value = String> {
            leaf().prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(
                        |kv| {
                            let pairs: Vec<String> =
                                kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                            format!("{{{}}}", pairs.join(","))
                        }
                    ),
                ]
            })
        }

        /// Bytes put into a file: escapes (good and bad), structure, a
        /// control byte, a number serde_json cannot hold, repeated keys.
        const EDITS: &[&str] = &[
            "\\",
            "\"",
            ",",
            "}",
            "]",
            "{",
            " ",
            "\u{1}",
            r"\u12",
            r"\ud800",
            r"\n",
            "1e999",
            r#""arn":1,"#,
            r#""type":"x","#,
            r#""eventName":"X","#,
            r#""k\u0065y":"v","#,
        ];

        /// The records serde_json reads from a file of `Records` alone.
        fn trails_by_serde(file: &str) -> Option<Vec<Trail<'_>>> {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct OnlyRecords<'a> {
                #[serde(rename = "Records", borrow)]
                records: Vec<Trail<'a>>,
            }
            serde_json::from_str::<OnlyRecords>(file)
                .ok()
                .map(|f| f.records)
        }

        fn trails_by_scan(file: &str) -> Option<Vec<Trail<'_>>> {
            let mut trails = Vec::new();
            let read = scanned::records(file, |trail| {
                trails.push(trail);
                true
            });
            (read == Scan::Read).then_some(trails)
        }

        proptest! {
            #[test]
            fn any_record_the_text_reader_reads_reads_so_from_its_tree(
                name in leaf(),
                fields in prop::collection::vec((prop::sample::select(KEYS), value()), 0..8),
            ) {
                let mut pairs = vec![format!("\"eventName\":{name}"), r#""awsRegion":"eu-west-1""#.to_string()];
                pairs.extend(fields.iter().map(|(k, v)| format!("\"{k}\":{v}")));
                let text = format!("{{{}}}", pairs.join(","));
                let (from_text, from_tree) = both_ways(&text);
                if from_text.is_some() {
                    prop_assert_eq!(from_text, from_tree, "{}", text);
                }
                allowed_in_a_file_as_alone(&[text]);
            }

            /// Files of records of any keys and values, some with a piece put
            /// in: what the scanner reads, serde_json reads alike, and a file
            /// serde_json reads as it was made the scanner reads too.
            #[test]
            fn the_scanner_reads_a_file_as_serde_json_does(
                records in prop::collection::vec(
                    prop::collection::vec((prop::sample::select(KEYS), value()), 0..8), 0..3),
                edit in prop::option::of((any::<prop::sample::Index>(), prop::sample::select(EDITS))),
            ) {
                let records: Vec<String> = records.iter().map(|fields| {
                    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", pairs.join(","))
                }).collect();
                let mut file = format!(r#"{{"Records":[{}]}}"#, records.join(","));
                if let Some((at, piece)) = edit {
                    let at = at.index(file.len() + 1);
                    prop_assume!(file.is_char_boundary(at));
                    file.insert_str(at, piece);
                }
                let by_serde = trails_by_serde(&file);
                match trails_by_scan(&file) {
                    Some(by_scan) => prop_assert_eq!(Some(by_scan), by_serde, "{}", file),
                    None => prop_assert!(edit.is_some() || by_serde.is_none(), "declined: {}", file),
                }
            }

            /// A record of CloudTrail's shape, each key it is read by absent or
            /// of any shape, gives read in a file in one pass what it gives alone.
            #[test]
            fn a_record_read_in_a_file_gives_what_it_gives_alone(
                parts in prop::collection::vec(prop::option::of(leaf()), 10),
            ) {
                let keys = [
                    "type", "arn", "principalId", "sessionIssuerArn", "errorCode",
                    "errorMessage", "recipientAccountId", "bucketName", "ARN", "eventTime",
                ];
                let part = |key: &str| {
                    let at = keys.iter().position(|k| *k == key).expect("a key of the record");
                    parts[at].as_ref().map(|value| format!("\"{key}\":{value},"))
                        .unwrap_or_default()
                };
                let issuer = part("sessionIssuerArn").replace("sessionIssuerArn", "arn");
                let text = format!(
                    r#"{{{}"eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{{{}{}{}"sessionContext":{{"sessionIssuer":{{{}"x":1}}}}}},{}{}{}"requestParameters":{{{}"key":"k"}},"resources":[{{{}"type":"t"}}]}}"#,
                    part("eventTime"), part("type"), part("arn"), part("principalId"), issuer,
                    part("errorCode"), part("errorMessage"), part("recipientAccountId"),
                    part("bucketName"), part("ARN"),
                );
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{}", text);
                allowed_in_a_file_as_alone(&[text]);
            }
        }
    }

    proptest::proptest! {
        /// Names that do not end in a digit are not searched for a version
        /// suffix: they never have one.
        #[test]
        fn only_names_ending_in_a_digit_lose_a_version_suffix(
            stem in "[A-Za-z_]{0,10}",
            suffix in proptest::prop_oneof![
                "", "[0-9]{8}", "[0-9]{8}v[0-9]{1,2}", "[0-9]{4}_[0-9]{2}_[0-9]{2}",
                "٣{8}", "[0-9v_٣]{1,12}", "[0-9]{8}[A-Za-z]",
            ],
        ) {
            let name = format!("{stem}{suffix}");
            let by_pattern = format!("s3:{}", unversioned(&name));
            proptest::prop_assume!(!matches!(unversioned(&name), "ListBuckets" | "ListObjects" | "ListObjectsV2" | "HeadBucket" | "HeadObject"));
            proptest::prop_assert_eq!(action("s3", &name), by_pattern);
        }
    }

    #[test]
    fn records_another_reader_may_claim_are_left_to_the_tree() {
        for text in [
            // Not detected as CloudTrail.
            r#"{"eventName":"GetObject","ts":1}"#,
            // A Kubernetes audit event's keys, and an exporter's wrappers.
            r#"{"eventName":"x","awsRegion":"r","verb":"get","user":{}}"#,
            r#"{"eventName":"x","awsRegion":"r","CloudTrailEvent":"{}"}"#,
            r#"{"eventName":"x","awsRegion":"r","detail-type":"t","detail":{"eventName":"y"}}"#,
            // A nested object repeats a key: a tree keeps the last.
            r#"{"eventName":"x","awsRegion":"r","userIdentity":{"arn":"a","arn":"b"}}"#,
            // No event: the tree says why.
            r#"{"eventName":null,"awsRegion":"r"}"#,
            r#"{"eventName":"x","awsRegion":"r","eventTime":"yesterday"}"#,
        ] {
            assert_eq!(CloudTrail.event_from_text(text, true), None, "{text}");
        }
    }

    #[test]
    fn assumed_roles_are_attributed_to_the_role_and_the_action_is_named() {
        let msg = "User: arn:aws:sts::111122223333:assumed-role/SampleRole/Session is not authorized to perform: organizations:LeaveOrganization on resource: * because no identity-based policy allows the organizations:LeaveOrganization action";
        let e = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some(msg), assumed_role()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(e.principal, "arn:aws:iam::111122223333:role/SampleRole");
        assert_eq!(
            (e.status, e.path.as_str()),
            (403, "organizations:LeaveOrganization")
        );
        assert_eq!(
            e.headers["x-required-permission"],
            "organizations:LeaveOrganization"
        );
        assert_eq!(e.object_id, None, "a * resource is no object");
    }

    #[test]
    fn resources_arns_and_bare_denials() {
        let msg = "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: iam:GetRole on resource: arn:aws:iam::123456789012:role/FooBar";
        let user = json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/tester"});
        let e = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some(msg), user.clone()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(e.headers["x-required-permission"], "iam:GetRole");
        assert_eq!(
            e.object_id.as_deref(),
            Some("arn:aws:iam::123456789012:role/FooBar")
        );
        let bare = CloudTrail
            .event(
                &record(Some("AccessDenied"), Some("Access Denied"), user.clone()),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(
            bare.headers["x-required-permission"],
            "organizations:LeaveOrganization"
        );
        let ec2 = CloudTrail
            .event(
                &record(Some("Client.UnauthorizedOperation"), None, user),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(ec2.status, 403);
    }

    #[test]
    fn endpoints_are_iam_actions_without_api_versions() {
        assert_eq!(
            action("lambda", "ListFunctions20150331"),
            "lambda:ListFunctions"
        );
        assert_eq!(
            action("lambda", "GetFunction20150331v2"),
            "lambda:GetFunction"
        );
        assert_eq!(
            action("cloudfront", "GetDistribution2020_05_31"),
            "cloudfront:GetDistribution"
        );
        assert_eq!(action("s3", "GetObject"), "s3:GetObject");
        assert_eq!(action("lambda", "Invoke"), "lambda:InvokeFunction");
        assert_eq!(action("s3", "ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(action("ec2", "DescribeInstances"), "ec2:DescribeInstances");
        assert_eq!(service_prefix("monitoring.amazonaws.com"), "cloudwatch");
        assert_eq!(service_prefix("s3.amazonaws.com"), "s3");
    }

    #[test]
    fn a_session_without_its_issuer_is_its_role() {
        assert_eq!(
            role_of_session(
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_abc/jane@example.com"
            )
            .as_deref(),
            Some("arn:aws:iam::111122223333:role/AWSReservedSSO_Dev_abc")
        );
        assert_eq!(
            role_of_session("arn:aws-us-gov:sts::111122223333:assumed-role/R/s").as_deref(),
            Some("arn:aws-us-gov:iam::111122223333:role/R")
        );
        assert_eq!(role_of_session("arn:aws:iam::1:user/u"), None);
        let bare = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Deployer/ci-42"});
        let e = CloudTrail
            .event(&record(None, None, bare), &FieldMap::default())
            .unwrap();
        assert_eq!(e.principal, "arn:aws:iam::111122223333:role/Deployer");
        assert_eq!(e.token_id.as_deref(), Some("ci-42"), "the session is kept");
        let ids_only = json!({"type": "AWSAccount", "principalId": "AROAEXAMPLEID:job-7", "accountId": "111122223333"});
        let e = CloudTrail
            .event(&record(None, None, ids_only), &FieldMap::default())
            .unwrap();
        assert_eq!(e.principal, "AROAEXAMPLEID");
    }

    #[test]
    fn resources_come_from_the_record() {
        let with = |extra: Value| {
            let mut r = record(
                Some("AccessDenied"),
                Some("Access Denied"),
                json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u"}),
            );
            r["awsRegion"] = json!("eu-west-1");
            for (k, v) in extra.as_object().unwrap() {
                r[k] = v.clone();
            }
            CloudTrail
                .event(&r, &FieldMap::default())
                .unwrap()
                .object_id
        };
        assert_eq!(
            with(json!({"requestParameters": {"bucketName": "logs", "key": "a/b.txt"}})).as_deref(),
            Some("arn:aws:s3:::logs/a/b.txt")
        );
        assert_eq!(
            with(json!({"requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0abc"}]}}})).as_deref(),
            Some("arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc")
        );
        assert_eq!(
            with(
                json!({"resources": [{"ARN": "arn:aws:s3:::b/k", "type": "AWS::S3::Object"}],
                        "requestParameters": {"bucketName": "b"}})
            )
            .as_deref(),
            Some("arn:aws:s3:::b/k")
        );
        assert_eq!(
            with(json!({"requestParameters": {"queueUrl": "https://sqs.eu-west-1.amazonaws.com/444455556666/jobs"}})).as_deref(),
            Some("arn:aws:sqs:eu-west-1:444455556666:jobs")
        );
        assert_eq!(
            with(json!({"requestParameters": {"keyId": "alias/app"}})),
            None
        );
        assert_eq!(with(json!({})), None);
    }

    #[test]
    fn the_policy_layer_is_named() {
        assert_eq!(
            policy_layer("… on resource: * because no identity-based policy allows the x action")
                .as_deref(),
            Some("no identity-based policy allows")
        );
        assert_eq!(
            policy_layer("… with an explicit deny in a service control policy").as_deref(),
            Some("an explicit deny in a service control policy")
        );
        assert_eq!(
            policy_layer("The request was denied due to a VPC endpoint policy").as_deref(),
            Some("denied due to a VPC endpoint policy")
        );
        assert_eq!(policy_layer("Access Denied"), None);
    }

    #[test]
    fn other_errors_are_not_denials_and_encoded_messages_are_dropped() {
        let user = json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/u"});
        for code in [
            "ThrottlingException",
            "ValidationException",
            "EntityTemporarilyUnmodifiable",
        ] {
            assert_eq!(
                CloudTrail
                    .event(
                        &record(Some(code), None, user.clone()),
                        &FieldMap::default()
                    )
                    .unwrap()
                    .status,
                400
            );
        }
        assert_eq!(
            CloudTrail
                .event(&record(None, None, user.clone()), &FieldMap::default())
                .unwrap()
                .status,
            200
        );
        let msg = "You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf0123456789xyz";
        let e = CloudTrail
            .event(
                &record(Some("Client.UnauthorizedOperation"), Some(msg), user),
                &FieldMap::default(),
            )
            .unwrap();
        assert_eq!(
            e.message.as_deref(),
            Some("You are not authorized to perform this operation.")
        );
    }
}
