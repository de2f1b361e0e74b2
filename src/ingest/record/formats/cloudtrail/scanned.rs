//! A CloudTrail file's records read by the JSON scanner ([`Cursor`]) into the
//! struct serde_json reads them into ([`Trail`]).
//!
//! Why: serde_json took 0.84-0.86 s to read a 1 GB corpus's records into the
//! struct, and 0.54-0.57 s to skip them: most of the difference is its
//! visitors' calls for each key and value, and finding each string's end
//! eight bytes at a time where the scanner masks 64.
//!
//! Exact or nothing. A value is read here only in its common shapes (a string
//! without escapes, null, an object of the struct's keys, a list of
//! resources); any other value is handed to serde_json as its own text, which
//! it reads as it would in place. The file is declined (serde_json then reads
//! it whole) where this reader could differ: a key with an escape, a key
//! repeated in an object serde_json reads into a derived struct (an error
//! there), anything nested deeper than the scanner goes, anything that is not
//! JSON. A property test holds the two readers together.

use serde::Deserialize;
use serde_json::Value;

use super::record::{
    Attributes, Identity, Issuer, Key, Parameters, Resource, SessionContext, Trail,
};
use crate::ingest::record::formats::lenient::{List, Nested, Text};
use crate::ingest::record::scan::Cursor;

/// How reading a file's records ended.
#[derive(Debug, PartialEq)]
pub(super) enum Scan {
    /// Every record was handed over.
    Read,
    /// The callback stopped at a record.
    Stopped,
    /// The file is not read here: serde_json must read it.
    Declined,
}

/// Reads `{"Records": [...]}` (that key alone, whitespace allowed), handing
/// each record to `each` in order until it returns `false`.
pub(super) fn records<'a>(text: &'a str, each: impl FnMut(Trail<'a>) -> bool) -> Scan {
    read_file(&mut Cursor::new(text), each).unwrap_or(Scan::Declined)
}

fn read_file<'a>(c: &mut Cursor<'a>, mut each: impl FnMut(Trail<'a>) -> bool) -> Option<Scan> {
    c.space();
    expect(c, b'{')?;
    c.space();
    (c.string()? == "Records").then_some(())?;
    c.space();
    expect(c, b':')?;
    c.space();
    let mut stopped = false;
    let listed = list(c, |c| {
        stopped = !each(trail(c)?);
        (!stopped).then_some(())
    });
    if stopped {
        return Some(Scan::Stopped);
    }
    listed?;
    c.space();
    expect(c, b'}')?;
    c.at_end().then_some(Scan::Read)
}

/// Containers nested deeper than the struct's own levels are skipped with
/// this depth: the scanner declines at 64, long before serde_json (128).
const DEPTH: u32 = 8;

fn expect(c: &mut Cursor, byte: u8) -> Option<()> {
    c.eat(byte).then_some(())
}

fn skip(c: &mut Cursor) -> Option<()> {
    c.skip(DEPTH).then_some(())
}

/// An object's entries, `read` reading each key's value.
fn object<'a>(
    c: &mut Cursor<'a>,
    mut read: impl FnMut(&mut Cursor<'a>, &'a str) -> Option<()>,
) -> Option<()> {
    expect(c, b'{')?;
    c.space();
    if c.eat(b'}') {
        return Some(());
    }
    loop {
        // A key with an escape declines.
        let key = c.string()?;
        c.space();
        expect(c, b':')?;
        c.space();
        read(c, key)?;
        c.space();
        if c.eat(b'}') {
            return Some(());
        }
        expect(c, b',')?;
        c.space();
    }
}

/// A list's items, `read` reading each.
fn list<'a>(c: &mut Cursor<'a>, mut read: impl FnMut(&mut Cursor<'a>) -> Option<()>) -> Option<()> {
    expect(c, b'[')?;
    c.space();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        read(c)?;
        c.space();
        if c.eat(b']') {
            return Some(());
        }
        expect(c, b',')?;
        c.space();
    }
}

/// A value read by serde_json from its own text, as it reads it in place.
fn by_serde<'a, T: Deserialize<'a>>(c: &mut Cursor<'a>) -> Option<T> {
    let start = c.position();
    skip(c)?;
    serde_json::from_str(c.since(start)).ok()
}

/// A string without escapes read by `plain`, null as `null`; anything else by serde_json.
fn scalar<'a, T: Deserialize<'a>>(
    c: &mut Cursor<'a>,
    plain: impl FnOnce(&'a str) -> T,
    null: T,
) -> Option<T> {
    match c.peek() {
        Some(b'"') => {
            let start = c.position();
            if c.string_with_escapes()? {
                let quoted = c.since(start);
                Some(plain(&quoted[1..quoted.len() - 1]))
            } else {
                serde_json::from_str(c.since(start)).ok()
            }
        }
        Some(b'n') => skip(c).map(|()| null),
        _ => by_serde(c),
    }
}

fn text<'a>(c: &mut Cursor<'a>) -> Option<Text<'a>> {
    scalar(c, Text::of_plain, Text(None))
}

fn value<'a>(c: &mut Cursor<'a>) -> Option<Value> {
    scalar(c, |s| Value::String(s.to_string()), Value::Null)
}

/// An object read by `read`; anything else by serde_json.
fn nested<'a, T: Deserialize<'a>>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<Nested<T>> {
    if c.peek() == Some(b'{') {
        read(c).map(|t| Nested(Some(t)))
    } else {
        by_serde(c)
    }
}

/// The fields of a derived struct already read: serde_json fails a struct
/// with a key repeated, so the file is declined.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// `None` if the field numbered `field` was read before.
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }

    /// Reads the text of the field numbered `field` into `into`.
    fn text<'a>(&mut self, c: &mut Cursor<'a>, field: u32, into: &mut Text<'a>) -> Option<()> {
        self.first(field)?;
        *into = text(c)?;
        Some(())
    }
}

/// One record. A repeated key replaces the value before it, as [`Trail`]'s
/// visitor does.
fn trail<'a>(c: &mut Cursor<'a>) -> Option<Trail<'a>> {
    let mut t = Trail::default();
    object(c, |c, key| {
        match Key::of(key) {
            Key::EventName => t.event_name = Some(text(c)?),
            Key::EventSource => t.event_source = Some(text(c)?),
            Key::EventType => {
                skip(c)?;
                t.event_type = true;
            }
            Key::AwsRegion => t.aws_region = Some(text(c)?),
            Key::UserIdentity => t.user_identity = Some(nested(c, identity)?),
            Key::ErrorCode => t.error_code = text(c)?,
            Key::ErrorMessage => t.error_message = text(c)?,
            Key::VpcEndpointId => t.vpc_endpoint_id = text(c)?,
            Key::EventTime => t.event_time = value(c)?,
            Key::PEventTime => t.p_event_time = value(c)?,
            Key::Arn => t.arn = text(c)?,
            Key::RecipientAccountId => t.recipient_account_id = text(c)?,
            Key::EventId => t.event_id = text(c)?,
            Key::Resources => t.resources = resources(c)?,
            Key::RequestParameters => t.request_parameters = nested(c, parameters)?,
            Key::Foreign => {
                skip(c)?;
                t.foreign_key = true;
            }
            Key::Other => skip(c)?,
        }
        Some(())
    })?;
    Some(t)
}

fn identity<'a>(c: &mut Cursor<'a>) -> Option<Identity<'a>> {
    let mut id = Identity::default();
    let mut seen = Seen::default();
    object(c, |c, key| match key {
        "type" => seen.text(c, 0, &mut id.kind),
        "arn" => seen.text(c, 1, &mut id.arn),
        "principalId" => seen.text(c, 2, &mut id.principal_id),
        "invokedBy" => seen.text(c, 3, &mut id.invoked_by),
        "userName" => seen.text(c, 4, &mut id.user_name),
        "accessKeyId" => seen.text(c, 5, &mut id.access_key_id),
        "accountId" => seen.text(c, 6, &mut id.account_id),
        "sessionContext" => {
            seen.first(7)?;
            id.session_context = nested(c, session_context)?;
            Some(())
        }
        _ => skip(c),
    })?;
    Some(id)
}

fn session_context<'a>(c: &mut Cursor<'a>) -> Option<SessionContext<'a>> {
    let mut session = SessionContext::default();
    let mut seen = Seen::default();
    object(c, |c, key| {
        match key {
            "sessionIssuer" => {
                seen.first(0)?;
                session.session_issuer = nested(c, issuer)?;
            }
            "attributes" => {
                seen.first(1)?;
                session.attributes = nested(c, attributes)?;
            }
            _ => skip(c)?,
        }
        Some(())
    })?;
    Some(session)
}

fn issuer<'a>(c: &mut Cursor<'a>) -> Option<Issuer<'a>> {
    let mut issuer = Issuer::default();
    let mut seen = Seen::default();
    object(c, |c, key| match key {
        "arn" => seen.text(c, 0, &mut issuer.arn),
        _ => skip(c),
    })?;
    Some(issuer)
}

fn attributes(c: &mut Cursor) -> Option<Attributes> {
    let mut attributes = Attributes::default();
    let mut seen = Seen::default();
    object(c, |c, key| match key {
        "creationDate" => {
            seen.first(0)?;
            attributes.creation_date = value(c)?;
            Some(())
        }
        _ => skip(c),
    })?;
    Some(attributes)
}

/// `resources`: a list's objects read here, anything else by serde_json.
fn resources<'a>(c: &mut Cursor<'a>) -> Option<List<Nested<Resource<'a>>>> {
    if c.peek() != Some(b'[') {
        return by_serde(c);
    }
    let mut items = Vec::new();
    list(c, |c| {
        items.push(nested(c, resource)?);
        Some(())
    })?;
    Some(List(items))
}

fn resource<'a>(c: &mut Cursor<'a>) -> Option<Resource<'a>> {
    let mut resource = Resource::default();
    let mut seen = Seen::default();
    object(c, |c, key| match key {
        "ARN" => seen.text(c, 0, &mut resource.upper_arn),
        "arn" => seen.text(c, 1, &mut resource.arn),
        _ => skip(c),
    })?;
    Some(resource)
}

fn parameters<'a>(c: &mut Cursor<'a>) -> Option<Parameters<'a>> {
    let mut p = Parameters::default();
    let mut seen = Seen::default();
    object(c, |c, key| match key {
        "bucketName" => seen.text(c, 0, &mut p.bucket_name),
        "key" => seen.text(c, 1, &mut p.key),
        "instanceId" => seen.text(c, 2, &mut p.instance_id),
        "functionName" => seen.text(c, 3, &mut p.function_name),
        "roleName" => seen.text(c, 4, &mut p.role_name),
        "userName" => seen.text(c, 5, &mut p.user_name),
        "policyArn" => seen.text(c, 6, &mut p.policy_arn),
        "keyId" => seen.text(c, 7, &mut p.key_id),
        "tableName" => seen.text(c, 8, &mut p.table_name),
        "topicArn" => seen.text(c, 9, &mut p.topic_arn),
        "secretId" => seen.text(c, 10, &mut p.secret_id),
        "queueUrl" => seen.text(c, 11, &mut p.queue_url),
        // EC2's, rarer and deeper: serde_json reads it.
        "instancesSet" => {
            seen.first(12)?;
            p.instances_set = by_serde(c)?;
            Some(())
        }
        _ => skip(c),
    })?;
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(file: &str) -> (Scan, Vec<Trail<'_>>) {
        let mut trails = Vec::new();
        let read = records(file, |trail| {
            trails.push(trail);
            true
        });
        (read, trails)
    }

    #[test]
    fn reads_the_keys_of_a_record_escapes_and_all() {
        let file = r#" { "Records" : [ {"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"},"attributes":{"creationDate":"2026-11-20T07:00:00Z"}}},"eventTime":"2026-11-20T08:00:00Z","eventSource":"iam.amazonaws.com","eventName":"PutRolePolicy","requestParameters":{"roleName":"R","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"\u002a\"}]}"},"errorCode":"AccessDenied","errorMessage":"User: x is not authorized to perform: \"iam:PutRolePolicy\"","resources":[{"ARN":" arn:aws:iam::1:role/R "},"x"],"recipientAccountId":123} , {"eventName":"GetObject"} ] } "#;
        let (read, trails) = scanned(file);
        assert_eq!(read, Scan::Read);
        assert_eq!(trails.len(), 2);
        let t = &trails[0];
        let identity = t.identity().unwrap();
        assert_eq!(identity.kind.as_deref(), Some("AssumedRole"));
        let session = identity.session_context.as_ref().unwrap();
        let issuer = session.session_issuer.as_ref().unwrap();
        assert_eq!(issuer.arn.as_deref(), Some("arn:aws:iam::1:role/R"));
        let creation = &session.attributes.as_ref().unwrap().creation_date;
        assert_eq!(creation, &Value::from("2026-11-20T07:00:00Z"));
        assert_eq!(t.event_time, Value::from("2026-11-20T08:00:00Z"));
        let parameters = t.request_parameters.as_ref().unwrap();
        assert_eq!(parameters.role_name.as_deref(), Some("R"));
        assert_eq!(
            t.error_message.as_deref(),
            Some(r#"User: x is not authorized to perform: "iam:PutRolePolicy""#)
        );
        assert_eq!(t.recipient_account_id.as_deref(), Some("123"));
        let resources = &t.resources.0;
        assert_eq!(
            resources[0].as_ref().unwrap().upper_arn.as_deref(),
            Some("arn:aws:iam::1:role/R")
        );
        assert!(resources[1].as_ref().is_none());
        assert_eq!(
            trails[1].event_name.as_ref().and_then(Text::as_deref),
            Some("GetObject")
        );
    }

    #[test]
    fn declines_what_serde_json_could_read_otherwise_and_stops_when_asked() {
        for file in [
            // A key repeated in a derived struct (serde_json fails it), a key
            // with an escape, another key beside `Records`, a string cut short.
            r#"{"Records":[{"userIdentity":{"arn":"a","arn":"b"}}]}"#,
            r#"{"Records":[{"event\u004eame":"X"}]}"#,
            r#"{"Records":[{}],"x":1}"#,
            r#"{"Records":[{"a":"\u12"}]}"#,
            r#"{"Records":[{"a":"x"}]"#,
            r#"{"Records":{}}"#,
        ] {
            assert_eq!(scanned(file).0, Scan::Declined, "{file}");
        }
        // A repeated key of the record itself: the last one counts.
        let (read, trails) = scanned(r#"{"Records":[{"eventName":"A","eventName":"B"}]}"#);
        assert_eq!(read, Scan::Read);
        assert_eq!(
            trails[0].event_name.as_ref().and_then(Text::as_deref),
            Some("B")
        );
        let stopped = records(r#"{"Records":[{},{}]}"#, |_| false);
        assert_eq!(stopped, Scan::Stopped);
    }
}
