//! Azure Activity Log and Azure resource logs (Storage), in each shape they
//! are exported:
//! - diagnostic settings to a storage account (one record per line) or to an
//!   Event Hub (`{"records": [...]}`): `time`, `operationName`,
//!   `identity.authorization`, `identity.claims`, `properties.statusCode`;
//! - the Log Analytics `AzureActivity` table (`az monitor log-analytics
//!   query`, a portal CSV): `TimeGenerated`, `Caller`, `OperationNameValue`,
//!   `ActivitySubstatusValue`, JSON text in `Authorization_d`, `Claims_d`,
//!   `Properties_d`;
//! - `az monitor activity-log list` and the REST API: `eventTimestamp`,
//!   `caller`, `operationName.value`, `subStatus.value`, `authorization`;
//! - Storage resource logs (`StorageRead`/`Write`/`Delete`): `statusCode`
//!   403 with `statusText`, `identity.authorization[]`, `identity.requester`.
//!
//! A 403 is a Forbidden status or substatus, or the error codes
//! `AuthorizationFailed`, `DenyAssignmentAuthorizationFailed` and
//! `RequestDisallowedByPolicy`. The principal is the user's UPN where the
//! record has one, else the object id (service principals and managed
//! identities, which role assignments name by it). The permission is
//! `authorization.action` (the operation's own casing, where `operationName`
//! may be upper-cased), the object its `scope`, the data scope the resource
//! group (lower-cased: Azure ids are case-insensitive). The start of a long
//! operation and the Policy category's own records (the request's record
//! carries the denial) are neither allowed nor denied.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::{at, first_text, text_at, utc_timestamp, Envelope, LogFormat, UNKNOWN_CALLER};
use crate::ingest::record::fields::{self, FieldMap, Skip};
use crate::model::{Event, Millis, ACTION_METHOD, NOT_A_RESPONSE};

pub struct AzureMonitor;

/// The object id claim of an Azure AD token.
const OBJECT_ID_CLAIM: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const UPN_CLAIMS: &[&str] = &[
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "unique_name",
];

/// Error codes of an Activity Log denial.
const DENIAL_CODES: &[&str] = &[
    "AuthorizationFailed",
    "DenyAssignmentAuthorizationFailed",
    "RequestDisallowedByPolicy",
    "LinkedAuthorizationFailed",
];

impl LogFormat for AzureMonitor {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn about(&self) -> &'static str {
        "Azure Activity Log (diagnostic settings, Event Hub, Log Analytics AzureActivity, az monitor activity-log list) and Storage resource logs"
    }

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope::list("records"))
    }

    fn markers(&self) -> &'static [&'static str] {
        &["operationName", "OperationNameValue"]
    }

    fn detect(&self, record: &Value) -> bool {
        let has = |k: &str| record.get(k).is_some();
        // Resource logs' common schema; the SDK's event; the Log Analytics table.
        (has("operationName")
            && (has("time") || has("eventTimestamp"))
            && (has("category") || has("resourceId")))
            || (has("OperationNameValue") && (has("Caller") || has("ActivityStatusValue")))
    }

    fn event(&self, record: &Value, _map: &FieldMap) -> Result<Event, Skip> {
        let view = Shape::of(record);
        let operation = view
            .text(&["operationName.value", "operationName", "OperationNameValue"])
            .ok_or_else(|| Skip::new("missing field", "no operationName"))?;
        let authorization = view.json(&[
            "authorization",
            "Authorization_d",
            "Authorization",
            "identity.authorization",
        ]);
        let claims = view.json(&["claims", "Claims_d", "Claims", "identity.claims"]);
        let properties = view.json(&["properties", "Properties_d", "Properties"]);
        let storage = record.get("statusText").is_some()
            || record
                .get("category")
                .and_then(Value::as_str)
                .is_some_and(|c| c.starts_with("Storage"));
        let ts = match view.text(&["TimeGenerated [UTC]"]) {
            Some(display) => portal_time(&display)?,
            None => utc_timestamp(
                record,
                &["time", "eventTimestamp", "TimeGenerated", "p_event_time"],
            )?,
        };
        let event = if storage {
            storage_event(record, &operation, ts)
        } else {
            activity_event(
                record,
                &view,
                &operation,
                authorization.as_ref(),
                claims.as_ref(),
                properties.as_ref(),
                ts,
            )
        };
        Ok(event)
    }
}

/// A record's fields, whichever export wrote them.
struct Shape<'a>(&'a Value);

impl<'a> Shape<'a> {
    fn of(record: &'a Value) -> Self {
        Shape(record)
    }

    fn text(&self, paths: &[&str]) -> Option<String> {
        paths.iter().find_map(|p| match self.0.get(*p) {
            Some(v) => fields::text(v),
            None => text_at(self.0, p),
        })
    }

    /// An object, given as one or as JSON text (Log Analytics, CSV).
    fn json(&self, paths: &[&str]) -> Option<Value> {
        paths.iter().find_map(|p| {
            let value = self.0.get(*p).or_else(|| at(self.0, p))?;
            match value {
                Value::Object(_) => Some(value.clone()),
                Value::String(text) => serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_object),
                _ => None,
            }
        })
    }
}

/// The portal's CSV time, `3/13/2025, 8:12:30.095 AM` (UTC, as the column's
/// `[UTC]` says).
fn portal_time(display: &str) -> Result<Millis, Skip> {
    NaiveDateTime::parse_from_str(display.trim(), "%m/%d/%Y, %I:%M:%S%.f %p")
        .or_else(|_| NaiveDateTime::parse_from_str(display.trim(), "%m/%d/%Y, %I:%M:%S %p"))
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| {
            Skip::new(
                "bad timestamp",
                format!("{display:?} is not the portal's M/D/YYYY, h:mm:ss.fff AM time"),
            )
        })
}

/// `{"error": {"code": …, "message": …}}`, as `statusMessage` holds it (JSON text).
fn status_error(properties: Option<&Value>) -> (Option<String>, Option<String>) {
    let Some(status) = properties.and_then(|p| p.get("statusMessage")) else {
        return (None, None);
    };
    let parsed = match status {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        other => Some(other.clone()),
    };
    match parsed {
        Some(body) => {
            let error = body.get("error").unwrap_or(&body);
            (text_at(error, "code"), text_at(error, "message"))
        }
        None => (None, status.as_str().map(str::to_string)),
    }
}

/// The user's UPN, else the object id.
fn activity_principal(
    view: &Shape,
    claims: Option<&Value>,
    authorization: Option<&Value>,
) -> String {
    let claim = |names: &[&str]| {
        claims.and_then(|c| names.iter().find_map(|n| c.get(*n).and_then(fields::text)))
    };
    let caller = view.text(&["caller", "Caller"]);
    claim(UPN_CLAIMS)
        .or_else(|| caller.clone().filter(|c| c.contains('@')))
        .or_else(|| claim(&[OBJECT_ID_CLAIM, "oid"]))
        .or(caller)
        .or_else(|| authorization.and_then(|a| text_at(a, "evidence.principalId")))
        .unwrap_or_else(|| UNKNOWN_CALLER.to_string())
}

/// `/subscriptions/S/resourceGroups/G`, lower-cased, of a resource id; the
/// subscription alone for a subscription-level one.
fn resource_group(resource_id: &str) -> Option<String> {
    let lower = resource_id.to_ascii_lowercase();
    let parts: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["subscriptions", sub, "resourcegroups", group, ..] => {
            Some(format!("/subscriptions/{sub}/resourcegroups/{group}"))
        }
        ["subscriptions", sub, ..] => Some(format!("/subscriptions/{sub}")),
        _ => None,
    }
}

fn activity_event(
    record: &Value,
    view: &Shape,
    operation: &str,
    authorization: Option<&Value>,
    claims: Option<&Value>,
    properties: Option<&Value>,
    ts: Millis,
) -> Event {
    let action = authorization
        .and_then(|a| text_at(a, "action"))
        .unwrap_or_else(|| operation.to_string());
    let (code, message) = status_error(properties);
    let status_code = properties.and_then(|p| text_at(p, "statusCode"));
    let status_text = view
        .text(&["status.value", "ActivityStatusValue", "resultType"])
        .unwrap_or_default();
    let sub_status = view
        .text(&[
            "subStatus.value",
            "ActivitySubstatusValue",
            "resultSignature",
        ])
        .unwrap_or_default();
    let category = view
        .text(&["category.value", "CategoryValue", "category"])
        .unwrap_or_default();
    let forbidden = status_code.as_deref() == Some("Forbidden")
        || sub_status.contains("Forbidden")
        || code.as_deref().is_some_and(|c| DENIAL_CODES.contains(&c));
    let status = if category.eq_ignore_ascii_case("Policy")
        || status_text.starts_with("Start")
        || status_text == "Accepted"
    {
        // The policy engine's own record, or the start of an operation whose
        // end is another record: not the answer to a request.
        NOT_A_RESPONSE
    } else if forbidden {
        403
    } else if ["Succeeded", "Success"].contains(&status_text.as_str()) {
        200
    } else if status_text.is_empty() {
        NOT_A_RESPONSE
    } else {
        // Failed for another reason (conflict, not found, quota).
        400
    };
    let scope = authorization
        .and_then(|a| text_at(a, "scope"))
        .or_else(|| view.text(&["resourceId", "_ResourceId", "ResourceId"]));
    let mut headers = BTreeMap::new();
    if status == 403 {
        headers.insert("x-required-permission".to_string(), action.clone());
    }
    Event {
        ts,
        principal: activity_principal(view, claims, authorization),
        token_id: None,
        token_issued_at: None,
        scopes: None,
        method: ACTION_METHOD.into(),
        path: action,
        status,
        error_code: code,
        message,
        headers,
        org: scope.as_deref().and_then(resource_group),
        object_id: scope,
        fields: Vec::new(),
        request_id: first_text(record, &["correlationId", "CorrelationId", "eventDataId"]),
    }
}

/// The data action of a Storage operation, where the record names none (a
/// request by account key or SAS is not authorized by RBAC).
fn storage_action(service: &str, operation: &str) -> Option<String> {
    let (prefix, object) = match service {
        "blob" => ("blobServices/containers", "blobs"),
        "queue" => ("queueServices/queues", "messages"),
        "file" => ("fileServices/fileshares", "files"),
        "table" => ("tableServices/tables", "entities"),
        _ => return None,
    };
    let verb = if operation.starts_with("Get")
        || operation.starts_with("List")
        || operation.starts_with("Peek")
    {
        "read"
    } else if operation.starts_with("Delete") {
        "delete"
    } else if operation.starts_with("Put")
        || operation.starts_with("Set")
        || operation.starts_with("Create")
        || operation.starts_with("Append")
        || operation.starts_with("Copy")
        || operation.starts_with("Update")
    {
        "write"
    } else {
        return None;
    };
    Some(format!(
        "Microsoft.Storage/storageAccounts/{prefix}/{object}/{verb}"
    ))
}

/// The expiry of a SAS (`se=`) in a request URI, as milliseconds.
fn sas_expiry(uri: &str) -> Option<Millis> {
    let query = uri.split_once('?')?.1;
    let value = query.split('&').find_map(|pair| pair.strip_prefix("se="))?;
    let decoded = value.replace("%3A", ":").replace("%3a", ":");
    fields::timestamp(&Value::String(decoded)).ok()
}

fn storage_event(record: &Value, operation: &str, ts: Millis) -> Event {
    let code = record.get("statusCode").and_then(|c| match c {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let status = code
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(NOT_A_RESPONSE);
    let status_text = text_at(record, "statusText");
    let identity_type = text_at(record, "identity.type");
    let denied_check = at(record, "identity.authorization")
        .and_then(Value::as_array)
        .and_then(|checks| {
            checks
                .iter()
                .find(|c| text_at(c, "result").as_deref() == Some("Denied"))
                .or_else(|| checks.first())
        });
    let account = text_at(record, "properties.accountName");
    let service = text_at(record, "properties.serviceType").unwrap_or_else(|| "blob".into());
    let action = denied_check
        .and_then(|c| text_at(c, "action"))
        .or_else(|| storage_action(&service, operation));
    let principal = first_text(
        record,
        &["identity.requester.upn", "identity.requester.objectId"],
    )
    .or_else(|| denied_check.and_then(|c| first_text(c, &["principals.0.id"])))
    .or_else(|| {
        // A shared key or SAS: the credential is the principal.
        let kind = identity_type.clone()?;
        let key = text_at(record, "identity.tokenHash")
            .and_then(|h| h.split('(').next().map(str::to_string))
            .unwrap_or_default();
        Some(format!(
            "{kind}:{}/{key}",
            account.clone().unwrap_or_default()
        ))
    })
    .unwrap_or_else(|| UNKNOWN_CALLER.to_string());
    let uri = text_at(record, "uri").unwrap_or_default();
    let authentication_failed = status_text.as_deref() == Some("AuthenticationFailed");
    let mut headers = BTreeMap::new();
    let mut message = None;
    if status == 403 {
        if authentication_failed {
            // The credential was refused, not the permission: no grant helps.
            message = Some(match sas_expiry(&uri).filter(|expiry| *expiry < ts) {
                Some(expiry) => format!(
                    "authentication failed: the SAS token expired at {}",
                    crate::model::format_millis(expiry)
                ),
                None => "authentication failed: the SAS signature or account key was not accepted; check the SAS's se= time, the key's rotation and the signature".to_string(),
            });
        } else if let Some(action) = &action {
            headers.insert("x-required-permission".to_string(), action.clone());
        }
        if let Some(deny) = denied_check.and_then(|c| text_at(c, "denyAssignmentId")) {
            headers.insert(
                crate::model::DENIED_BY_HEADER.to_string(),
                format!("deny_assignment {deny}"),
            );
        }
    }
    let resource = text_at(record, "resourceId");
    Event {
        ts,
        principal,
        token_id: None,
        token_issued_at: None,
        scopes: None,
        method: ACTION_METHOD.into(),
        path: action.unwrap_or_else(|| format!("storage:{operation}")),
        status,
        error_code: status_text,
        message,
        headers,
        org: resource.as_deref().and_then(resource_group),
        object_id: text_at(record, "properties.objectKey").or(resource),
        fields: Vec::new(),
        request_id: text_at(record, "correlationId"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn portal_times_are_utc() {
        assert_eq!(
            portal_time("3/13/2025, 8:12:30.095 AM"),
            Ok(1_741_853_550_095)
        );
        assert_eq!(portal_time("12/1/2025, 1:02:03 PM"), Ok(1_764_594_123_000));
        assert!(portal_time("yesterday").is_err());
    }

    #[test]
    fn resource_groups_are_the_data_scope() {
        assert_eq!(
            resource_group("/SUBSCRIPTIONS/AB/RESOURCEGROUPS/RG-X/PROVIDERS/Microsoft.Compute/x")
                .as_deref(),
            Some("/subscriptions/ab/resourcegroups/rg-x")
        );
        assert_eq!(
            resource_group("/subscriptions/ab").as_deref(),
            Some("/subscriptions/ab")
        );
        assert_eq!(resource_group("storage"), None);
    }

    #[test]
    fn an_activity_denial_names_action_scope_and_principal() {
        let record = json!({"time": "2025-03-11T08:07:02Z", "category": "Administrative",
            "operationName": "MICROSOFT.KEYVAULT/VAULTS/WRITE", "resultType": "Failure", "resultSignature": "Failed.Forbidden",
            "identity": {"authorization": {"action": "Microsoft.KeyVault/vaults/write",
                "scope": "/subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv1"},
                "claims": {"appid": "app-1", OBJECT_ID_CLAIM: "oid-1"}},
            "properties": {"statusCode": "Forbidden", "statusMessage": "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"The client 'oid-1' with object id 'oid-1' does not have authorization to perform action 'Microsoft.KeyVault/vaults/write'\"}}"}});
        assert!(AzureMonitor.detect(&record));
        let e = AzureMonitor.event(&record, &FieldMap::default()).unwrap();
        assert_eq!((e.status, e.principal.as_str()), (403, "oid-1"));
        assert_eq!(e.path, "Microsoft.KeyVault/vaults/write");
        assert_eq!(
            e.headers["x-required-permission"],
            "Microsoft.KeyVault/vaults/write"
        );
        assert_eq!(e.error_code.as_deref(), Some("AuthorizationFailed"));
        assert_eq!(
            e.org.as_deref(),
            Some("/subscriptions/s1/resourcegroups/rg-a")
        );
    }

    #[test]
    fn starts_and_policy_records_are_not_answers() {
        let start = json!({"eventTimestamp": "2025-03-11T08:07:02Z", "category": {"value": "Administrative"},
            "operationName": {"value": "Microsoft.Web/sites/config/write"}, "status": {"value": "Started"},
            "caller": "a@b.example"});
        let e = AzureMonitor.event(&start, &FieldMap::default()).unwrap();
        assert_eq!(
            (e.status, e.principal.as_str()),
            (NOT_A_RESPONSE, "a@b.example")
        );
    }

    #[test]
    fn storage_denials_by_role_and_by_expired_sas() {
        let oauth = json!({"time": "2025-03-15T06:00:05Z", "category": "StorageWrite", "operationName": "PutBlob",
            "statusCode": 403, "statusText": "AuthorizationPermissionMismatch",
            "identity": {"type": "OAuth", "authorization": [{"action": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
                "principals": [{"id": "oid-2", "type": "ServicePrincipal"}], "result": "Denied"}],
                "requester": {"objectId": "oid-2"}},
            "properties": {"accountName": "st1", "serviceType": "blob", "objectKey": "/st1/c/x.parquet"}});
        let e = AzureMonitor.event(&oauth, &FieldMap::default()).unwrap();
        assert_eq!((e.status, e.principal.as_str()), (403, "oid-2"));
        assert_eq!(
            e.headers["x-required-permission"],
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
        );
        let sas = json!({"time": "2025-03-15T11:30:55Z", "category": "StorageRead", "operationName": "GetBlob",
            "statusCode": 403, "statusText": "AuthenticationFailed",
            "identity": {"type": "SAS", "tokenHash": "key1(AB),SasSignature(CD)"},
            "properties": {"accountName": "st1", "serviceType": "blob"},
            "uri": "https://st1.blob.core.windows.net/c/x.csv?sv=2022-11-02&se=2025-03-01T00%3A00%3A00Z&sp=r&sig=XXXX"});
        let e = AzureMonitor.event(&sas, &FieldMap::default()).unwrap();
        assert_eq!(e.principal, "SAS:st1/key1");
        assert!(
            e.headers.is_empty(),
            "an expired credential requires no grant"
        );
        assert!(e.message.unwrap().contains("expired at 2025-03-01"));
        assert_eq!(
            storage_action("blob", "ListBlobs").as_deref(),
            Some("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read")
        );
    }
}
