//! How exporters wrap the records of any format: the lists a download or an
//! API response puts them in, and the rows that carry a record inside another
//! (as a JSON string or a nested object). Unwrapped before a format is
//! recognised, so every format reads them alike.

use serde_json::{Map, Value};

use super::Envelope;

/// Lists of records that exporters write, besides each format's own.
pub(super) static ENVELOPES: &[Envelope] = &[
    // `aws cloudtrail lookup-events`: rows with the record in `CloudTrailEvent`.
    Envelope::list("Events"),
    // A CloudWatch Logs subscription payload (DATA_MESSAGE), as Lambda,
    // Kinesis and Firehose deliver it once decompressed.
    Envelope::list("logEvents"),
    // `aws logs filter-log-events` and `get-log-events`.
    Envelope::list("events"),
    // `aws cloudtrail get-query-results` (CloudTrail Lake): each row a list of
    // one-column objects.
    Envelope {
        list: "QueryResultRows",
        kind_suffix: None,
        item: Some(columns_to_record),
    },
];

/// A CloudTrail Lake row, `[{"eventName": "…"}, {"eventTime": "…"}]`, as one
/// record; a column holding JSON text (a nested column) is read as JSON.
fn columns_to_record(row: Value) -> Value {
    let Value::Array(columns) = row else {
        return row;
    };
    let mut record = Map::new();
    for column in columns {
        if let Value::Object(pairs) = column {
            for (name, value) in pairs {
                record.insert(name, json_text(value));
            }
        }
    }
    Value::Object(record)
}

/// A string that holds a JSON object, read as one; anything else as it is.
fn json_text(value: Value) -> Value {
    match &value {
        Value::String(text) if text.trim_start().starts_with('{') => {
            serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .unwrap_or(value)
        }
        _ => value,
    }
}

/// The keys [`inner_record`] recognises a wrapper by: a record without any of
/// them carries none.
pub(super) const WRAPPER_KEYS: &[&str] = &["CloudTrailEvent", "message", "category", "detail-type"];

/// Whether a top-level key and its value (`string`, where it is a string)
/// may make a row one [`inner_record`] unwraps. Asked of every key of a line
/// the fast path reads, which must not read a wrapper as a record of its own.
#[inline]
pub fn may_wrap(key: &str, string: Option<&str>) -> bool {
    // Each wrapper's key holds a string.
    let Some(string) = string else {
        return false;
    };
    match key {
        "CloudTrailEvent" | "detail-type" => true,
        "message" => string.trim_start().starts_with('{'),
        "category" => string.starts_with("kube-audit"),
        _ => false,
    }
}

/// The record an exported row carries, if it carries one:
/// - a LookupEvents row's `CloudTrailEvent` (a JSON string);
/// - a CloudWatch Logs event's `message` (a JSON string), with its `timestamp`;
/// - an EventBridge event's `detail` (`AWS API Call via CloudTrail`);
/// - an AKS resource log's `properties.log` (categories `kube-audit` and
///   `kube-audit-admin`: a Kubernetes audit event as a JSON string).
pub(super) fn inner_record(row: &Value) -> Option<Value> {
    let object = row.as_object()?;
    if let Some(Value::String(text)) = object.get("CloudTrailEvent") {
        return parsed_object(text);
    }
    if let (Some(Value::String(text)), Some(_)) = (object.get("message"), object.get("timestamp")) {
        let from_cloudwatch = ["id", "eventId", "ingestionTime", "logStreamName"]
            .iter()
            .any(|k| object.contains_key(*k));
        if from_cloudwatch && text.trim_start().starts_with('{') {
            return parsed_object(text);
        }
    }
    let category = object.get("category").and_then(Value::as_str);
    if category.is_some_and(|c| c.starts_with("kube-audit")) {
        if let Some(Value::String(text)) = object.get("properties").and_then(|p| p.get("log")) {
            return parsed_object(text);
        }
    }
    if let (Some(Value::String(_)), Some(detail)) =
        (object.get("detail-type"), object.get("detail"))
    {
        if detail.get("eventName").is_some() {
            return Some(detail.clone());
        }
    }
    None
}

fn parsed_object(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_carrying_records_are_unwrapped() {
        let lookup = json!({"EventId": "e1", "EventName": "GetObject",
            "CloudTrailEvent": "{\"eventName\":\"GetObject\",\"eventSource\":\"s3.amazonaws.com\"}"});
        assert_eq!(
            inner_record(&lookup).unwrap()["eventSource"],
            "s3.amazonaws.com"
        );
        let cloudwatch = json!({"id": "1", "timestamp": 1700000000000u64,
            "message": "{\"kind\":\"Event\",\"verb\":\"get\"}"});
        assert_eq!(inner_record(&cloudwatch).unwrap()["verb"], "get");
        let bridge = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
            "detail": {"eventName": "PutObject"}});
        assert_eq!(inner_record(&bridge).unwrap()["eventName"], "PutObject");
        let plain = json!({"ts": 1, "message": "{not a wrapper}", "timestamp": 2});
        assert_eq!(inner_record(&plain), None, "a gateway's own message field");
        let aks = json!({"category": "kube-audit", "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
            "properties": {"log": "{\"kind\":\"Event\",\"verb\":\"create\"}", "pod": "kube-apiserver-1"}});
        assert_eq!(inner_record(&aks).unwrap()["verb"], "create");
        let other_bridge = json!({"detail-type": "GuardDuty Finding", "detail": {"id": "x"}});
        assert_eq!(inner_record(&other_bridge), None);
        // Every row unwrapped has a key the fast path declines it by.
        for row in [lookup, cloudwatch, bridge, aks] {
            let object = row.as_object().unwrap();
            assert!(object.iter().any(|(k, v)| may_wrap(k, v.as_str())), "{row}");
        }
    }

    #[test]
    fn lake_rows_become_records() {
        let row = json!([{"eventName": "GetObject"}, {"userIdentity": "{\"arn\":\"arn:aws:iam::1:user/u\"}"}, {"errorCode": null}]);
        let record = columns_to_record(row);
        assert_eq!(record["eventName"], "GetObject");
        assert_eq!(record["userIdentity"]["arn"], "arn:aws:iam::1:user/u");
    }
}
