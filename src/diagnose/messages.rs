//! What denial responses say in words: a table of patterns over the error code,
//! the message and the kept response headers. A new vendor phrasing is one more
//! row in `RULES`, with its test below.

use std::sync::LazyLock;

use regex::Regex;

use super::guardrail::{DeniedBy, PolicyKind};
use crate::model::{DenialKey, DENIED_BY_HEADER};

/// What a response says about its own denial.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// A policy explicitly denies: more grants change nothing.
    ExplicitDeny,
    /// The object's state (locked, archived, closed, in workflow) forbids the change.
    WorkflowState,
    /// The gateway rejected the request before the service saw it.
    GatewayPolicy,
    /// The response hints that the object does not exist.
    NotFound,
    /// The response says the token's scopes are insufficient (not the roles).
    ScopeInsufficient,
    /// The response says the credential (token, signature, key) has expired.
    CredentialExpired,
    /// The service refused the credential itself, not the permission (Azure
    /// Storage answers a bad SAS or key with 403 AuthenticationFailed).
    AuthenticationFailed,
    /// The request carried no credential: it ran as the platform's anonymous
    /// identity (`model::ANONYMOUS_CODE`).
    Anonymous,
    /// The response names a permission or scope the request needed.
    Requires(String),
    /// The response names the policy that denied: the principal's own, or a
    /// guardrail around it.
    DeniedBy(DeniedBy),
}

/// Which part of the response a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    ErrorCode,
    Message,
    /// `name: value` of each kept header.
    Header,
}

#[derive(Debug, Clone, Copy)]
enum Emits {
    ExplicitDeny,
    WorkflowState,
    GatewayPolicy,
    NotFound,
    ScopeInsufficient,
    CredentialExpired,
    AuthenticationFailed,
    Anonymous,
    /// The first capture group is the permission.
    Requires,
    /// A policy of this kind; the first capture group that matched names it.
    DeniedBy(PolicyKind),
}

/// The patterns, in no particular order: every matching rule contributes.
const RULES: &[(&str, Part, &str, Emits)] = &[
    (
        "explicit deny in message",
        Part::Message,
        r"(?i)\bexplicit(?:ly)?[\s_-]+den(?:y|ied)\b",
        Emits::ExplicitDeny,
    ),
    (
        "explicit deny code",
        Part::ErrorCode,
        r"(?i)^(?:explicit_?deny|denied_by_policy)$",
        Emits::ExplicitDeny,
    ),
    // The policy that denied, as AWS's messages name it ("… with an explicit deny
    // in a service control policy: arn:…", "… because no permissions boundary
    // allows …"), GCP's and Azure's codes and messages. Either form of a
    // guardrail is a guardrail: explicit or implicit, no grant lifts it.
    (
        "service control policy",
        Part::Message,
        r"(?i)\b(?:explicit deny in an? |no )service control polic(?:y|ies)\b(?:[^\n]*?(arn:aws[\w-]*:organizations::\d*:policy/[\w/-]+))?",
        Emits::DeniedBy(PolicyKind::ServiceControlPolicy),
    ),
    (
        "resource control policy",
        Part::Message,
        r"(?i)\b(?:explicit deny in an? |no )resource control polic(?:y|ies)\b(?:[^\n]*?(arn:aws[\w-]*:organizations::\d*:policy/[\w/-]+))?",
        Emits::DeniedBy(PolicyKind::ResourceControlPolicy),
    ),
    (
        "permissions boundary",
        Part::Message,
        r"(?i)\b(?:explicit deny in an? |no )permissions boundar(?:y|ies)\b(?:[^\n]*?(arn:aws[\w-]*:iam::\d*:policy/[\w+=,.@/-]+))?",
        Emits::DeniedBy(PolicyKind::PermissionsBoundary),
    ),
    (
        "session policy",
        Part::Message,
        r"(?i)\b(?:explicit deny in an? |no )sessions? polic(?:y|ies)\b",
        Emits::DeniedBy(PolicyKind::SessionPolicy),
    ),
    (
        "VPC endpoint policy",
        Part::Message,
        r"(?i)\b(?:explicit deny in an? |no |due to an? |by an? )VPC endpoint polic(?:y|ies)\b(?:[^\n]*?\b(vpce-[0-9a-f]+))?",
        Emits::DeniedBy(PolicyKind::VpcEndpointPolicy),
    ),
    (
        "VPC endpoint code",
        Part::ErrorCode,
        r"^VpceAccessDenied$",
        Emits::DeniedBy(PolicyKind::VpcEndpointPolicy),
    ),
    (
        "explicit deny in an identity policy",
        Part::Message,
        r"(?i)\bexplicit deny in an? identity-based policy\b(?:[^\n]*?(arn:aws[\w-]*:iam::[\w-]*:policy/[\w+=,.@/-]+))?",
        Emits::DeniedBy(PolicyKind::IdentityPolicy),
    ),
    (
        "explicit deny in a resource policy",
        Part::Message,
        r"(?i)\bexplicit deny in an? resource-based policy\b",
        Emits::DeniedBy(PolicyKind::ResourcePolicy),
    ),
    (
        "policy named in message",
        Part::Message,
        r#"(?i)\bpolicy\s+['"`]([^'"`\n]+)['"`]"#,
        Emits::DeniedBy(PolicyKind::Policy),
    ),
    (
        "VPC Service Controls message",
        Part::Message,
        r"(?i)\bvpcServiceControlsUniqueIdentifier\b|\bVPC Service Controls\b",
        Emits::DeniedBy(PolicyKind::VpcServiceControls),
    ),
    (
        "VPC Service Controls code",
        Part::ErrorCode,
        r"^(?:VPC_SERVICE_CONTROLS|[A-Z_]*(?:SERVICE_PERIMETER|ACCESS_LEVEL)[A-Z_]*)$",
        Emits::DeniedBy(PolicyKind::VpcServiceControls),
    ),
    (
        "organization policy constraint",
        Part::Message,
        r"(?i)\b(constraints/[A-Za-z][\w.]*)\b[^\n]*?\bviolated\b|\borganization polic(?:y|ies)? constraint\b(?:\s+(constraints/[A-Za-z][\w.]*))?",
        Emits::DeniedBy(PolicyKind::OrganizationPolicy),
    ),
    (
        "IAM deny policy",
        Part::Message,
        r"(?i)\b(?:IAM )?deny polic(?:y|ies)\b",
        Emits::DeniedBy(PolicyKind::IamDenyPolicy),
    ),
    (
        "Azure Policy code",
        Part::ErrorCode,
        r"^RequestDisallowedByPolicy$",
        Emits::DeniedBy(PolicyKind::AzurePolicy),
    ),
    (
        "Azure Policy message",
        Part::Message,
        r#"(?i)\bdisallowed by policy\b(?:[^\n]*?\\?"policyAssignment\\?"\s*:\s*\{[^}]*?\\?"name\\?"\s*:\s*\\?"([^"\\]+))?"#,
        Emits::DeniedBy(PolicyKind::AzurePolicy),
    ),
    (
        "Azure deny assignment",
        Part::Message,
        r"(?i)\bdeny assignment\b(?:[^\n]*?\bname\s+'([^'\n]+)')?",
        Emits::DeniedBy(PolicyKind::DenyAssignment),
    ),
    (
        "workflow state code",
        Part::ErrorCode,
        r"(?i)^(?:workflow\w*|\w*_locked|locked\w*|\w*archived\w*|\w*_closed|invalid_state|\w*_state)$",
        Emits::WorkflowState,
    ),
    (
        "workflow state message",
        Part::Message,
        r"(?i)\b(?:is|was|are) (?:locked|archived|closed|frozen)\b|\bworkflow state\b|\bin (?:an? )?(?:approval|closed|locked|archived) state\b",
        Emits::WorkflowState,
    ),
    (
        "gateway code",
        Part::ErrorCode,
        r"(?i)^(?:apigw|gw|gateway)[_-]\w+$",
        Emits::GatewayPolicy,
    ),
    (
        "gateway message",
        Part::Message,
        r"(?i)\b(?:api[ -]?gateway|gateway polic(?:y|ies)|blocked by (?:the )?gateway|endpoint (?:is )?not published)\b",
        Emits::GatewayPolicy,
    ),
    (
        "gateway header",
        Part::Header,
        r"(?i)^x-(?:api-?)?gateway-(?:error|reason)\s*:",
        Emits::GatewayPolicy,
    ),
    (
        "not found message",
        Part::Message,
        r"(?i)\b(?:does not exist|do(?:es)? not exist|no such (?:object|resource|record)|unknown (?:id|object))\b",
        Emits::NotFound,
    ),
    (
        "insufficient scopes",
        Part::Message,
        r"(?i)\binsufficient (?:authentication )?scopes?\b|\bACCESS_TOKEN_SCOPE_INSUFFICIENT\b",
        Emits::ScopeInsufficient,
    ),
    (
        "insufficient scopes code",
        Part::ErrorCode,
        r"(?i)^(?:access_token_scope_insufficient|insufficient_scope)$",
        Emits::ScopeInsufficient,
    ),
    (
        "expired credential message",
        Part::Message,
        r"(?i)\b(?:token|signature|credential|SAS|key)s?\b[^.\n]{0,40}?\b(?:has |have |had )?expired\b|\bexpired (?:access )?(?:token|signature|credential)s?\b",
        Emits::CredentialExpired,
    ),
    (
        "expired credential code",
        Part::ErrorCode,
        r"(?i)^(?:ExpiredAuthenticationToken|ExpiredToken(?:Exception)?|token_expired|invalid_token_expired)$",
        Emits::CredentialExpired,
    ),
    (
        "authentication failure code",
        Part::ErrorCode,
        r"^(?:AuthenticationFailed|InvalidAuthenticationInfo|NoAuthenticationInformation)$",
        Emits::AuthenticationFailed,
    ),
    (
        // model::ANONYMOUS_CODE, which a format sets (tested below).
        "anonymous request code",
        Part::ErrorCode,
        r"^Anonymous$",
        Emits::Anonymous,
    ),
    (
        "permission named in message",
        Part::Message,
        r#"(?i)\b(?:requires?|missing|needs?|lacks?)\s+(?:the\s+)?(?:scope|permission|privilege)s?\s*[:=]?\s*['"`]?([A-Za-z][\w.:/-]*[\w])"#,
        Emits::Requires,
    ),
];

static COMPILED: LazyLock<Vec<(Part, Regex, Emits)>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|(name, part, pattern, emits)| {
            let regex = Regex::new(pattern)
                .unwrap_or_else(|e| panic!("message rule {name:?} does not compile: {e}"));
            (*part, regex, *emits)
        })
        .collect()
});

/// The parts of a denial group's key its response is: all [`signals_of`] reads.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Response<'a> {
    error_code: Option<&'a str>,
    message: Option<&'a str>,
    headers: &'a [(String, String)],
}

impl<'a> Response<'a> {
    pub fn of(key: &'a DenialKey) -> Self {
        Response {
            error_code: key.error_code.as_deref(),
            message: key.message.as_deref(),
            headers: &key.headers,
        }
    }
}

/// Everything the response of a denial group says about it, sorted.
pub fn signals(key: &DenialKey) -> Vec<Signal> {
    signals_of(Response::of(key))
}

/// Everything a response says about its denials, sorted.
pub fn signals_of(response: Response) -> Vec<Signal> {
    let headers: Vec<String> = response
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let mut found = Vec::new();
    for (part, regex, emits) in COMPILED.iter() {
        let texts: Vec<&str> = match part {
            Part::ErrorCode => response.error_code.into_iter().collect(),
            Part::Message => response.message.into_iter().collect(),
            Part::Header => headers.iter().map(String::as_str).collect(),
        };
        for text in texts {
            let Some(captures) = regex.captures(text) else {
                continue;
            };
            found.push(match emits {
                Emits::ExplicitDeny => Signal::ExplicitDeny,
                Emits::WorkflowState => Signal::WorkflowState,
                Emits::GatewayPolicy => Signal::GatewayPolicy,
                Emits::NotFound => Signal::NotFound,
                Emits::ScopeInsufficient => Signal::ScopeInsufficient,
                Emits::CredentialExpired => Signal::CredentialExpired,
                Emits::AuthenticationFailed => Signal::AuthenticationFailed,
                Emits::Anonymous => Signal::Anonymous,
                Emits::Requires => Signal::Requires(captures[1].to_string()),
                Emits::DeniedBy(kind) => Signal::DeniedBy(DeniedBy {
                    kind: *kind,
                    // The first group that matched names it (a pattern with
                    // alternatives has one group per alternative).
                    name: captures
                        .iter()
                        .skip(1)
                        .flatten()
                        .next()
                        .map(|m| m.as_str().to_string()),
                }),
            });
        }
    }
    // A format that read the policy from the record's structure says so in
    // one header: `x-denied-by: KIND[ NAME]`.
    found.extend(
        response
            .headers
            .iter()
            .filter(|(name, _)| name == DENIED_BY_HEADER)
            .filter_map(|(_, value)| {
                let (kind, name) = value.split_once(' ').unwrap_or((value, ""));
                Some(Signal::DeniedBy(DeniedBy {
                    kind: PolicyKind::named(kind)?,
                    name: (!name.is_empty()).then(|| name.to_string()),
                }))
            }),
    );
    found.sort();
    found.dedup();
    // A policy named by one rule and left unnamed by another is one policy.
    let named: Vec<PolicyKind> = found
        .iter()
        .filter_map(|s| match s {
            Signal::DeniedBy(DeniedBy {
                kind,
                name: Some(_),
            }) => Some(*kind),
            _ => None,
        })
        .collect();
    found.retain(
        |s| !matches!(s, Signal::DeniedBy(DeniedBy { kind, name: None }) if named.contains(kind)),
    );
    found
}

/// Whether the signal came from an error code (stronger than free text).
pub fn from_error_code(key: &DenialKey, wanted: &Signal) -> bool {
    let Some(code) = key.error_code.as_deref() else {
        return false;
    };
    COMPILED.iter().any(|(part, regex, emits)| {
        *part == Part::ErrorCode
            && regex.is_match(code)
            && matches!(
                (emits, wanted),
                (Emits::ExplicitDeny, Signal::ExplicitDeny)
                    | (Emits::WorkflowState, Signal::WorkflowState)
                    | (Emits::GatewayPolicy, Signal::GatewayPolicy)
                    | (Emits::CredentialExpired, Signal::CredentialExpired)
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::intern::Shared;

    fn key(code: Option<&str>, message: Option<&str>, headers: &[(&str, &str)]) -> DenialKey {
        DenialKey {
            principal: "svc".into(),
            token_id: None,
            token_issued_at: None,
            scopes: None,
            method: "PUT".into(),
            template: "/x".into(),
            objects: Default::default(),
            org: None,
            fields: Shared::default(),
            status: 403,
            error_code: code.map(Shared::from),
            message: message.map(Shared::from),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            segment: 0,
            after_token_expiry: false,
        }
    }

    fn of_message(message: &str) -> Vec<Signal> {
        signals(&key(None, Some(message), &[]))
    }

    fn of_code(code: &str) -> Vec<Signal> {
        signals(&key(Some(code), None, &[]))
    }

    #[test]
    fn explicit_deny() {
        let cloudtrail = "User: arn:aws:iam::1:user/x is not authorized to perform: s3:GetObject with an explicit deny in an identity-based policy";
        assert_eq!(
            of_message(cloudtrail),
            vec![
                Signal::ExplicitDeny,
                denied_by(PolicyKind::IdentityPolicy, None)
            ]
        );
        assert_eq!(
            of_message("Denied by an explicit deny in the REST resource security policy"),
            vec![Signal::ExplicitDeny]
        );
        assert_eq!(of_code("EXPLICIT_DENY"), vec![Signal::ExplicitDeny]);
        assert!(of_message("no identity-based policy allows the action").is_empty());
    }

    fn denied_by(kind: PolicyKind, name: Option<&str>) -> Signal {
        Signal::DeniedBy(DeniedBy {
            kind,
            name: name.map(str::to_string),
        })
    }

    /// The policy a message names, if any.
    fn policy_in(message: &str) -> Vec<Signal> {
        of_message(message)
            .into_iter()
            .filter(|s| matches!(s, Signal::DeniedBy(_)))
            .collect()
    }

    #[test]
    fn guardrails_are_named_with_their_policy_where_the_message_gives_it() {
        let scp = "User: arn:aws:sts::111122223333:assumed-role/Dev/s is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:111122223333:instance/* with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-deny1";
        assert_eq!(
            policy_in(scp),
            vec![denied_by(
                PolicyKind::ServiceControlPolicy,
                Some("arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-deny1")
            )]
        );
        assert_eq!(
            policy_in("… is not authorized to perform: s3:GetObject because no service control policy allows the s3:GetObject action"),
            vec![denied_by(PolicyKind::ServiceControlPolicy, None)]
        );
        assert_eq!(
            policy_in("… because no permissions boundary allows the iam:CreateUser action"),
            vec![denied_by(PolicyKind::PermissionsBoundary, None)]
        );
        assert_eq!(
            policy_in("… with an explicit deny in a session policy"),
            vec![denied_by(PolicyKind::SessionPolicy, None)]
        );
        assert_eq!(
            policy_in("… with an explicit deny in a resource control policy"),
            vec![denied_by(PolicyKind::ResourceControlPolicy, None)]
        );
        assert_eq!(
            policy_in("The request was denied due to a VPC endpoint policy"),
            vec![denied_by(PolicyKind::VpcEndpointPolicy, None)]
        );
        assert_eq!(
            of_code("VpceAccessDenied"),
            vec![denied_by(PolicyKind::VpcEndpointPolicy, None)]
        );
        assert_eq!(
            policy_in("Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier: XyZ123"),
            vec![denied_by(PolicyKind::VpcServiceControls, None)]
        );
        assert_eq!(
            of_code("RESOURCES_NOT_IN_SAME_SERVICE_PERIMETER"),
            vec![denied_by(PolicyKind::VpcServiceControls, None)]
        );
        assert_eq!(
            policy_in("Constraint constraints/iam.disableServiceAccountKeyCreation violated for projects/p1"),
            vec![denied_by(
                PolicyKind::OrganizationPolicy,
                Some("constraints/iam.disableServiceAccountKeyCreation")
            )]
        );
        assert_eq!(
            of_code("RequestDisallowedByPolicy"),
            vec![denied_by(PolicyKind::AzurePolicy, None)]
        );
        let azure = r#"Resource 'vm1' was disallowed by policy. Policy identifiers: '[{"policyAssignment":{"name":"Allowed locations","id":"/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a1"},"policyDefinition":{"name":"Allowed locations"}}]'."#;
        assert_eq!(
            policy_in(azure),
            vec![denied_by(
                PolicyKind::AzurePolicy,
                Some("Allowed locations")
            )]
        );
        let deny = "The client 'c' with object id 'o' has permission to perform action 'Microsoft.Storage/storageAccounts/delete' on scope 's'; however, the access is denied because of the deny assignment with name 'System deny assignment created by managed application' and Id 'd1' at scope 's'.";
        assert_eq!(
            policy_in(deny),
            vec![denied_by(
                PolicyKind::DenyAssignment,
                Some("System deny assignment created by managed application")
            )]
        );
        assert_eq!(
            policy_in("Forbidden: denied by policy 'finance-readonly'"),
            vec![denied_by(PolicyKind::Policy, Some("finance-readonly"))]
        );
        assert!(
            policy_in("… because no identity-based policy allows the s3:GetObject action")
                .is_empty()
        );
    }

    #[test]
    fn formats_name_the_policy_in_a_header() {
        let signals = signals(&key(
            None,
            None,
            &[(
                "x-denied-by",
                "vpc_service_controls accessPolicies/1/servicePerimeters/prod",
            )],
        ));
        assert_eq!(
            signals,
            vec![denied_by(
                PolicyKind::VpcServiceControls,
                Some("accessPolicies/1/servicePerimeters/prod")
            )]
        );
    }

    #[test]
    fn expired_credentials() {
        assert_eq!(
            of_message("authentication failed: the SAS token expired at 2025-03-01T00:00:00Z"),
            vec![Signal::CredentialExpired]
        );
        assert_eq!(of_code("ExpiredToken"), vec![Signal::CredentialExpired]);
        assert_eq!(
            of_code("AuthenticationFailed"),
            vec![Signal::AuthenticationFailed]
        );
        assert!(of_message("Insufficient permissions").is_empty());
    }

    #[test]
    fn an_anonymous_request_is_told_by_its_code() {
        assert_eq!(
            of_code(crate::model::ANONYMOUS_CODE),
            vec![Signal::Anonymous]
        );
        assert!(of_code("AnonymousAccessAllowed").is_empty());
    }

    #[test]
    fn workflow_state() {
        assert_eq!(
            of_message("Task is locked by workflow state APPROVAL"),
            vec![Signal::WorkflowState]
        );
        assert_eq!(
            of_message("Work order WO1 is closed"),
            vec![Signal::WorkflowState]
        );
        assert_eq!(
            of_message("Project is archived"),
            vec![Signal::WorkflowState]
        );
        assert_eq!(of_code("WORKFLOW_LOCKED"), vec![Signal::WorkflowState]);
        assert_eq!(of_code("OBJECT_ARCHIVED"), vec![Signal::WorkflowState]);
        assert!(of_message("Forbidden: Insufficient permissions").is_empty());
    }

    #[test]
    fn gateway_policy() {
        assert_eq!(of_code("APIGW_POLICY_DENIED"), vec![Signal::GatewayPolicy]);
        assert_eq!(
            of_message("Blocked by API gateway policy: endpoint not published"),
            vec![Signal::GatewayPolicy]
        );
        assert_eq!(
            signals(&key(None, None, &[("x-gateway-error", "no-route")])),
            vec![Signal::GatewayPolicy]
        );
        assert!(of_code("INSUFFICIENT_PROJECT_PERMISSIONS").is_empty());
    }

    #[test]
    fn not_found_hints() {
        assert_eq!(
            of_message("Machine M-9999 does not exist"),
            vec![Signal::NotFound]
        );
        assert_eq!(of_message("No such resource"), vec![Signal::NotFound]);
    }

    #[test]
    fn insufficient_scopes() {
        assert_eq!(
            of_message("Request had insufficient authentication scopes."),
            vec![Signal::ScopeInsufficient]
        );
        assert_eq!(
            of_code("ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
            vec![Signal::ScopeInsufficient]
        );
        assert!(of_message("Insufficient permissions").is_empty());
    }

    #[test]
    fn permissions_named_in_messages() {
        assert_eq!(
            of_message("Missing scope: project.tasks.write"),
            vec![Signal::Requires("project.tasks.write".into())]
        );
        assert_eq!(
            of_message("This operation requires permission 'maintenance.workorder.update'."),
            vec![Signal::Requires("maintenance.workorder.update".into())]
        );
        assert_eq!(
            of_message("lacks privilege CUSTOM_REST_ACCESS_PRIV"),
            vec![Signal::Requires("CUSTOM_REST_ACCESS_PRIV".into())]
        );
        assert!(of_message("Insufficient permissions for resource assignment").is_empty());
    }

    #[test]
    fn error_codes_are_told_from_free_text() {
        let k = key(Some("WORKFLOW_LOCKED"), Some("Task is locked"), &[]);
        assert!(from_error_code(&k, &Signal::WorkflowState));
        let k = key(None, Some("Task is locked"), &[]);
        assert!(!from_error_code(&k, &Signal::WorkflowState));
    }
}
