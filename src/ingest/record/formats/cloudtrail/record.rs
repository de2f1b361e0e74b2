//! The keys of a CloudTrail record the format reads, in a struct read from
//! the record's text or from its tree alike (see [`super::super::lenient`]).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::super::lenient::{First, List, Nested, Str, Text};

/// One CloudTrail record.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Trail<'a> {
    /// Present (`Some`, null or not) or absent, as format detection asks.
    pub event_name: Option<Text<'a>>,
    pub event_source: Option<Text<'a>>,
    pub event_type: bool,
    pub aws_region: Option<Text<'a>>,
    pub user_identity: Option<Nested<Identity<'a>>>,
    pub error_code: Text<'a>,
    pub error_message: Text<'a>,
    pub vpc_endpoint_id: Text<'a>,
    pub event_time: Value,
    /// A Panther export's event time.
    pub p_event_time: Value,
    /// A CloudTrail Lake row's `userIdentity.arn` column.
    pub arn: Text<'a>,
    pub recipient_account_id: Text<'a>,
    pub event_id: Text<'a>,
    pub resources: List<Nested<Resource<'a>>>,
    pub request_parameters: Nested<Parameters<'a>>,
    /// A key that an exporter's wrapper or another format is recognised by:
    /// read from text, such a record is left to the tree, which knows.
    pub foreign_key: bool,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct Identity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(rename = "principalId", borrow)]
    pub principal_id: Text<'a>,
    #[serde(rename = "invokedBy", borrow)]
    pub invoked_by: Text<'a>,
    #[serde(rename = "userName", borrow)]
    pub user_name: Text<'a>,
    #[serde(rename = "accessKeyId", borrow)]
    pub access_key_id: Text<'a>,
    #[serde(rename = "accountId", borrow)]
    pub account_id: Text<'a>,
    #[serde(rename = "sessionContext", borrow)]
    pub session_context: Nested<SessionContext<'a>>,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    pub session_issuer: Nested<Issuer<'a>>,
    pub attributes: Nested<Attributes>,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct Issuer<'a> {
    #[serde(borrow)]
    pub arn: Text<'a>,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct Attributes {
    #[serde(rename = "creationDate")]
    pub creation_date: Value,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct Resource<'a> {
    #[serde(rename = "ARN", borrow)]
    pub upper_arn: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
}

/// The request parameters resources are built from.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Parameters<'a> {
    #[serde(borrow)]
    pub bucket_name: Text<'a>,
    #[serde(borrow)]
    pub key: Text<'a>,
    #[serde(borrow)]
    pub instance_id: Text<'a>,
    #[serde(borrow)]
    pub instances_set: Nested<InstancesSet<'a>>,
    #[serde(borrow)]
    pub function_name: Text<'a>,
    #[serde(borrow)]
    pub role_name: Text<'a>,
    #[serde(borrow)]
    pub user_name: Text<'a>,
    #[serde(borrow)]
    pub policy_arn: Text<'a>,
    #[serde(borrow)]
    pub key_id: Text<'a>,
    #[serde(borrow)]
    pub table_name: Text<'a>,
    #[serde(borrow)]
    pub topic_arn: Text<'a>,
    #[serde(borrow)]
    pub secret_id: Text<'a>,
    #[serde(borrow)]
    pub queue_url: Text<'a>,
}

/// `instancesSet.items[0].instanceId`, as EC2 logs the instances of a request.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct InstancesSet<'a> {
    #[serde(borrow)]
    pub items: First<Nested<Instance<'a>>>,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(super) struct Instance<'a> {
    #[serde(rename = "instanceId", borrow)]
    pub instance_id: Str<'a>,
}

impl<'a> Trail<'a> {
    /// Whether the record is CloudTrail's, as [`super::CloudTrail`] detects it from a tree.
    pub fn detected(&self) -> bool {
        self.event_name.is_some()
            && (self.event_source.is_some()
                || self.event_type
                || self.aws_region.is_some()
                || self.user_identity.is_some())
    }

    /// The user identity, when the record has one that is an object.
    pub fn identity(&self) -> Option<&Identity<'a>> {
        self.user_identity.as_ref().and_then(Nested::as_ref)
    }
}

/// A top-level key of a record.
pub(super) enum Key {
    EventName,
    EventSource,
    EventType,
    AwsRegion,
    UserIdentity,
    ErrorCode,
    ErrorMessage,
    VpcEndpointId,
    EventTime,
    PEventTime,
    Arn,
    RecipientAccountId,
    EventId,
    Resources,
    RequestParameters,
    /// One an exporter's wrapper or another format is recognised by.
    Foreign,
    Other,
}

impl Key {
    /// The key named `key`; read from text or from a tree alike.
    pub fn of(key: &str) -> Key {
        match key {
            "eventName" => Key::EventName,
            "eventSource" => Key::EventSource,
            "eventType" => Key::EventType,
            "awsRegion" => Key::AwsRegion,
            "userIdentity" => Key::UserIdentity,
            "errorCode" => Key::ErrorCode,
            "errorMessage" => Key::ErrorMessage,
            "vpcEndpointId" => Key::VpcEndpointId,
            "eventTime" => Key::EventTime,
            "p_event_time" => Key::PEventTime,
            "arn" => Key::Arn,
            "recipientAccountId" => Key::RecipientAccountId,
            "eventID" => Key::EventId,
            "resources" => Key::Resources,
            "requestParameters" => Key::RequestParameters,
            other if super::super::is_foreign_to(&super::CloudTrail, other) => Key::Foreign,
            _ => Key::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(Key::of(key))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Trail<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TrailVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TrailVisitor<'a> {
            type Value = Trail<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CloudTrail record")
            }
            // A repeated key replaces the value before it, as in a tree.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Trail<'a>, A::Error> {
                let mut t = Trail::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::EventName => t.event_name = Some(map.next_value()?),
                        Key::EventSource => t.event_source = Some(map.next_value()?),
                        Key::EventType => {
                            map.next_value::<IgnoredAny>()?;
                            t.event_type = true;
                        }
                        Key::AwsRegion => t.aws_region = Some(map.next_value()?),
                        Key::UserIdentity => t.user_identity = Some(map.next_value()?),
                        Key::ErrorCode => t.error_code = map.next_value()?,
                        Key::ErrorMessage => t.error_message = map.next_value()?,
                        Key::VpcEndpointId => t.vpc_endpoint_id = map.next_value()?,
                        Key::EventTime => t.event_time = map.next_value()?,
                        Key::PEventTime => t.p_event_time = map.next_value()?,
                        Key::Arn => t.arn = map.next_value()?,
                        Key::RecipientAccountId => t.recipient_account_id = map.next_value()?,
                        Key::EventId => t.event_id = map.next_value()?,
                        Key::Resources => t.resources = map.next_value()?,
                        Key::RequestParameters => t.request_parameters = map.next_value()?,
                        Key::Foreign => {
                            map.next_value::<IgnoredAny>()?;
                            t.foreign_key = true;
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(t)
            }
        }
        deserializer.deserialize_map(TrailVisitor(PhantomData))
    }
}
