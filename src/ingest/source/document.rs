//! JSON documents read with the lists an envelope may hold (a CloudTrail
//! file's `Records`) kept as the text of their items: a format that reads its
//! records from text then reads each without a tree
//! ([`formats::event_from_text`]), and any other record becomes a tree.
//!
//! Why: a 1 GB CloudTrail corpus spent half its time building
//! `serde_json::Value` trees of records and dropping them.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::ingest::record::fields::Skip;
use crate::ingest::record::formats;

/// A record as a source hands it over.
#[derive(Debug)]
pub enum Record {
    Tree(Value),
    /// An item of an envelope's list, as its text.
    Text(Box<RawValue>),
}

impl Record {
    /// The record as a tree. The text of an item is valid JSON, but may nest
    /// deeper than a tree is built (128): then it is malformed.
    pub fn into_tree(self) -> Result<Value, Skip> {
        match self {
            Record::Tree(value) => Ok(value),
            Record::Text(text) => serde_json::from_str(text.get()).map_err(|e| {
                Skip::new("malformed JSON", e.to_string()).with_raw(text.get().to_string())
            }),
        }
    }
}

/// One JSON value of a line or a file.
pub(super) enum Document<'a> {
    /// An object; an array under a key an envelope's list may have is kept as
    /// its items' text.
    Object {
        fields: Map<String, Value>,
        lists: Vec<(String, Vec<&'a RawValue>)>,
    },
    Other(Value),
}

impl Document<'_> {
    /// The records of the document: an envelope's items, else the document.
    /// An error where a list kept as text nests deeper than a tree is built.
    pub(super) fn records(self) -> Result<Vec<Record>, serde_json::Error> {
        let (mut fields, lists) = match self {
            Document::Other(value) => return Ok(vec![Record::Tree(value)]),
            Document::Object { fields, lists } if lists.is_empty() => {
                return Ok(vec![Record::Tree(Value::Object(fields))])
            }
            Document::Object { fields, lists } => (fields, lists),
        };
        // An envelope is told by the keys and the kind of the list, not by its items.
        for (key, _) in &lists {
            fields.insert(key.clone(), Value::Array(Vec::new()));
        }
        let mut document = Value::Object(fields);
        match formats::envelope_of(&document) {
            Some(envelope) => {
                let items = lists
                    .into_iter()
                    .find(|(key, _)| key == envelope.list)
                    .map(|(_, items)| items)
                    .unwrap_or_default();
                items
                    .into_iter()
                    .map(|item| match envelope.item {
                        None => Ok(Record::Text(item.to_owned())),
                        Some(make) => Ok(Record::Tree(make(serde_json::from_str(item.get())?))),
                    })
                    .collect()
            }
            None => {
                for (key, items) in lists {
                    let items = items
                        .into_iter()
                        .map(|item| serde_json::from_str(item.get()));
                    document[key] = Value::Array(items.collect::<Result<_, _>>()?);
                }
                Ok(vec![Record::Tree(document)])
            }
        }
    }
}

/// Visitor methods for scalars, read as the `Value` they are, wrapped by `$wrap`.
macro_rules! scalars_as_values {
    ($wrap:expr) => {
        fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(b)))
        }
        fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::Number(n.into())))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::Number(n.into())))
        }
        fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
            Ok($wrap(
                Number::from_f64(n).map_or(Value::Null, Value::Number),
            ))
        }
        fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(s.to_string())))
        }
        fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(s)))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
    };
}

impl<'de> Deserialize<'de> for Document<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;
        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            // A repeated key replaces the value before it, as in a tree.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Map::new();
                let mut lists: Vec<(String, Vec<&'de RawValue>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !formats::is_envelope_list(&key) {
                        fields.insert(key, map.next_value()?);
                        continue;
                    }
                    lists.retain(|(k, _)| *k != key);
                    fields.remove(&key);
                    match map.next_value::<ListOrValue>()? {
                        ListOrValue::List(items) => lists.push((key, items)),
                        ListOrValue::Value(value) => {
                            fields.insert(key, value);
                        }
                    }
                }
                Ok(Document::Object { fields, lists })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Document::Other)
            }
            scalars_as_values!(Document::Other);
        }
        deserializer.deserialize_any(DocumentVisitor)
    }
}

/// The value under a key an envelope's list may have: a list, kept as its
/// items' text, or any other value.
enum ListOrValue<'a> {
    List(Vec<&'a RawValue>),
    Value(Value),
}

impl<'de> Deserialize<'de> for ListOrValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ListOrValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ListOrValue::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(ListOrValue::Value)
            }
            scalars_as_values!(ListOrValue::Value);
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Record> {
        serde_json::from_str::<Document>(text)
            .unwrap()
            .records()
            .unwrap()
    }

    #[test]
    fn documents_give_the_records_their_trees_give() {
        for text in [
            r#"{"Records":[{"eventName":"a"},{"eventName":"b","x":[1,{"y":null}]}]}"#,
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"verb":"get"}]}"#,
            r#"{"items":[{"verb":"get"}],"kind":"Status"}"#,
            r#"{"Records":"not a list","a":1}"#,
            r#"{"Records":[1],"Records":[{"a":1}],"b":[2]}"#,
            r#"{"events":[{"message":"m","timestamp":1}],"Records":[{"c":3}]}"#,
            r#"{"QueryResultRows":[[{"eventName":"GetObject"},{"eventTime":"2026-11-20T00:00:00Z"}]]}"#,
            r#"{"ts":1,"principal":"p","events":{"a":1}}"#,
            r#"[{"a":1}]"#,
            r#""text""#,
        ] {
            let from_tree = formats::unwrap_envelope(serde_json::from_str(text).unwrap());
            let read: Vec<Value> = records(text)
                .into_iter()
                .map(|r| r.into_tree().unwrap())
                .collect();
            assert_eq!(read, from_tree, "{text}");
        }
    }

    #[test]
    fn an_envelope_keeps_its_items_as_text() {
        let read = records(r#"{"Records":[ {"eventName":"a"} ,{"b":[1]}]}"#);
        let texts: Vec<&str> = read
            .iter()
            .map(|r| match r {
                Record::Text(text) => text.get(),
                Record::Tree(tree) => panic!("a tree: {tree}"),
            })
            .collect();
        assert_eq!(texts, [r#"{"eventName":"a"}"#, r#"{"b":[1]}"#]);
    }

    #[test]
    fn an_item_nested_deeper_than_a_tree_is_malformed() {
        let deep = format!(
            r#"{{"Records":[{{"a":{}1{}}},{{"b":2}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let read = records(&deep);
        assert_eq!(read.len(), 2);
        let mut trees = read.into_iter().map(Record::into_tree);
        let skip = trees.next().unwrap().unwrap_err();
        assert!(format!("{skip:?}").contains("recursion limit"), "{skip:?}");
        assert!(trees.next().unwrap().is_ok(), "the next item is read");
    }
}
