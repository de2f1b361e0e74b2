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

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{first_text, text_at, utc_timestamp, Envelope, LogFormat};
use crate::ingest::record::fields::{FieldMap, Skip};
use crate::model::{
    Event, ACTION_METHOD, DENIAL_REASON_HEADER, DENIED_BY_HEADER, UNKNOWN_TIME, UNTOLD_LAYER,
};

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
    let name = VERSION_SUFFIX
        .captures(event_name)
        .map_or(event_name, |c| c.get(1).map_or(event_name, |m| m.as_str()));
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
    let (head, rest) = arn.split_once(":assumed-role/")?;
    let (partition_sts, account) = head.rsplit_once("::")?;
    let partition = partition_sts.strip_suffix(":sts")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!("{partition}:iam::{account}:role/{role}"))
}

/// The name of a role session (`…:assumed-role/ROLE/SESSION`, or the part of
/// `AROA…:SESSION` after the colon): the principal is the role, and the
/// session, which names the person or job behind it, is the token evidence.
fn session(record: &Value) -> Option<String> {
    let from_arn = text_at(record, "userIdentity.arn").and_then(|arn| {
        let (_, rest) = arn.split_once(":assumed-role/")?;
        let (_, name) = rest.split_once('/')?;
        Some(name.to_string())
    });
    from_arn
        .or_else(|| {
            let id = text_at(record, "userIdentity.principalId")?;
            let (role, name) = id.split_once(':')?;
            role.starts_with("AROA").then(|| name.to_string())
        })
        .filter(|name| !name.is_empty())
}

/// Who made the request: the role of an assumed-role session, else the
/// identity's ARN, else its ids.
fn principal(record: &Value) -> String {
    let identity_type = text_at(record, "userIdentity.type").unwrap_or_default();
    let by_type = match identity_type.as_str() {
        "AssumedRole" | "FederatedUser" => {
            first_text(record, &["userIdentity.sessionContext.sessionIssuer.arn"]).or_else(|| {
                let arn = text_at(record, "userIdentity.arn")?;
                Some(role_of_session(&arn).unwrap_or(arn))
            })
        }
        "AWSService" => first_text(
            record,
            &["userIdentity.invokedBy", "userIdentity.principalId"],
        ),
        _ => text_at(record, "userIdentity.arn")
            .map(|arn| role_of_session(&arn).unwrap_or(arn))
            .or_else(|| {
                // A role session named only by its ids (`AROA…:session`, as VPC
                // endpoint events log it): the role's unique id.
                let id = text_at(record, "userIdentity.principalId")?;
                Some(match id.split_once(':') {
                    Some((role, _)) if role.starts_with("AROA") => role.to_string(),
                    _ => id,
                })
            })
            .or_else(|| text_at(record, "userIdentity.userName")),
    };
    // A CloudTrail Lake row names a selected `userIdentity.arn` column `arn`.
    let by_type = by_type.or_else(|| {
        let arn = record
            .get("userIdentity")
            .is_none()
            .then(|| text_at(record, "arn"))??;
        Some(role_of_session(&arn).unwrap_or(arn))
    });
    // Some records (service events, trimmed exports) name no identity.
    by_type.unwrap_or_else(|| {
        first_text(record, &["userIdentity.type"]).unwrap_or_else(|| "(identity not in log)".into())
    })
}

/// How a request parameter's value becomes its resource's ARN.
type ArnOf<'a> = &'a dyn Fn(&str) -> String;

/// The ARN of the resource a record names: its `resources[]`, else built from
/// the request parameters of the common services. `None` where the record
/// names none (the policy then applies to `*`).
fn resource_arn(record: &Value) -> Option<String> {
    if let Some(arn) = record
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|r| first_text(r, &["ARN", "arn"]))
    {
        return Some(arn);
    }
    let params = record.get("requestParameters").filter(|p| p.is_object())?;
    let param = |name: &str| text_at(params, name);
    let partition = text_at(record, "userIdentity.arn")
        .and_then(|a| a.split(':').nth(1).map(str::to_string))
        .filter(|p| p.starts_with("aws"))
        .unwrap_or_else(|| "aws".into());
    let region = text_at(record, "awsRegion").unwrap_or_default();
    let account =
        first_text(record, &["recipientAccountId", "userIdentity.accountId"]).unwrap_or_default();
    let arn_or = |value: String, build: &dyn Fn(&str) -> String| {
        if value.starts_with("arn:") {
            value
        } else {
            build(&value)
        }
    };
    if let Some(bucket) = param("bucketName") {
        return Some(match param("key") {
            Some(key) => format!("arn:{partition}:s3:::{bucket}/{key}"),
            None => format!("arn:{partition}:s3:::{bucket}"),
        });
    }
    let instance = param("instanceId").or_else(|| {
        params
            .pointer("/instancesSet/items/0/instanceId")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if let Some(id) = instance {
        return Some(format!(
            "arn:{partition}:ec2:{region}:{account}:instance/{id}"
        ));
    }
    let built: [(&str, ArnOf); 7] = [
        ("functionName", &|n| {
            format!("arn:{partition}:lambda:{region}:{account}:function:{n}")
        }),
        ("roleName", &|n| {
            format!("arn:{partition}:iam::{account}:role/{n}")
        }),
        ("userName", &|n| {
            format!("arn:{partition}:iam::{account}:user/{n}")
        }),
        ("policyArn", &|n| n.to_string()),
        ("keyId", &|n| {
            // An alias is not the key's resource.
            if n.starts_with("alias/") {
                String::new()
            } else {
                format!("arn:{partition}:kms:{region}:{account}:key/{n}")
            }
        }),
        ("tableName", &|n| {
            format!("arn:{partition}:dynamodb:{region}:{account}:table/{n}")
        }),
        ("topicArn", &|n| n.to_string()),
    ];
    for (name, build) in built {
        if let Some(value) = param(name) {
            let arn = arn_or(value, build);
            // `keyId` may be an alias or a bare name: only an ARN is a resource.
            return arn.starts_with("arn:").then_some(arn);
        }
    }
    if let Some(secret) = param("secretId").filter(|s| s.starts_with("arn:")) {
        return Some(secret);
    }
    // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    let queue = param("queueUrl")?;
    let mut parts = queue.rsplit('/');
    let (name, queue_account) = (parts.next()?, parts.next()?);
    Some(format!(
        "arn:{partition}:sqs:{region}:{queue_account}:{name}"
    ))
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
        // Trimmed exports may drop eventSource; the action then has no service prefix.
        let source = text_at(record, "eventSource").unwrap_or_else(|| "aws".into());
        let name = text_at(record, "eventName")
            .ok_or_else(|| Skip::new("missing field", "no eventName"))?;
        let endpoint = action(service_prefix(&source), &name);
        let code = text_at(record, "errorCode");
        let status = match code.as_deref() {
            None => 200,
            Some(c) if is_denial(c) => 403,
            Some(_) => 400,
        };
        let message =
            text_at(record, "errorMessage").map(|m| ENCODED.replace_all(&m, "").trim().to_string());
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
            let untold =
                layer.is_none() && named.is_none() && code.as_deref() != Some("VpceAccessDenied");
            if let Some(layer) = layer.or_else(|| untold.then(|| UNTOLD_LAYER.to_string())) {
                headers.insert(DENIAL_REASON_HEADER.to_string(), layer);
            }
            // The endpoint whose policy denied, when the record names it.
            let by_endpoint = code.as_deref() == Some("VpceAccessDenied")
                || message
                    .as_deref()
                    .is_some_and(|m| m.contains("VPC endpoint policy"));
            if let Some(id) = text_at(record, "vpcEndpointId").filter(|_| by_endpoint) {
                headers.insert(
                    DENIED_BY_HEADER.to_string(),
                    format!("vpc_endpoint_policy {id}"),
                );
            }
        }
        Ok(Event {
            ts: utc_timestamp(record, &["eventTime", "p_event_time"])?,
            principal: principal(record),
            token_id: session(record).or_else(|| text_at(record, "userIdentity.accessKeyId")),
            token_issued_at: utc_timestamp(
                record,
                &["userIdentity.sessionContext.attributes.creationDate"],
            )
            .ok()
            .filter(|t| *t != UNKNOWN_TIME),
            scopes: None,
            method: ACTION_METHOD.into(),
            path: endpoint,
            status,
            error_code: code,
            message: message.filter(|m| !m.is_empty()),
            headers,
            object_id: named_resource.or_else(|| resource_arn(record)),
            org: text_at(record, "recipientAccountId"),
            fields: Vec::new(),
            request_id: text_at(record, "eventID"),
        })
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
