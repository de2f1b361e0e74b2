//! What denial responses say in words: a table of patterns over the error code,
//! the message and the kept response headers. A new vendor phrasing is one more
//! row in `RULES`, with its test below.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::DenialKey;

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
    /// The response names a permission or scope the request needed.
    Requires(String),
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
    /// The first capture group is the permission.
    Requires,
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

/// Everything the response of a denial group says about it, sorted.
pub fn signals(key: &DenialKey) -> Vec<Signal> {
    let headers: Vec<String> = key
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let mut found = Vec::new();
    for (part, regex, emits) in COMPILED.iter() {
        let texts: Vec<&str> = match part {
            Part::ErrorCode => key.error_code.as_deref().into_iter().collect(),
            Part::Message => key.message.as_deref().into_iter().collect(),
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
                Emits::Requires => Signal::Requires(captures[1].to_string()),
            });
        }
    }
    found.sort();
    found.dedup();
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
        assert_eq!(of_message(cloudtrail), vec![Signal::ExplicitDeny]);
        assert_eq!(
            of_message("Denied by an explicit deny in the REST resource security policy"),
            vec![Signal::ExplicitDeny]
        );
        assert_eq!(of_code("EXPLICIT_DENY"), vec![Signal::ExplicitDeny]);
        assert!(of_message("no identity-based policy allows the action").is_empty());
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
