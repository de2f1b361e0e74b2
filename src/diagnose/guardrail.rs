//! The policies a denial names: the principal's own (an identity or resource
//! policy with an explicit deny) and guardrails, controls set above or around
//! the principal (an organization's service control policy, a permissions
//! boundary, a network perimeter) that no grant to the principal can lift.

use schemars::JsonSchema;
use serde::Serialize;

/// The kind of policy a response says denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// A policy named without its kind (`denied by policy 'X'`).
    Policy,
    /// An identity-based policy of the principal (AWS).
    IdentityPolicy,
    /// The resource's own policy (a bucket policy, a key policy).
    ResourcePolicy,
    /// AWS Organizations service control policy.
    ServiceControlPolicy,
    /// AWS Organizations resource control policy.
    ResourceControlPolicy,
    /// The principal's IAM permissions boundary.
    PermissionsBoundary,
    /// The policy passed when the session was assumed or federated.
    SessionPolicy,
    /// The policy of the VPC endpoint the request went through.
    VpcEndpointPolicy,
    /// A GCP VPC Service Controls perimeter.
    VpcServiceControls,
    /// A GCP organization policy constraint.
    OrganizationPolicy,
    /// A GCP IAM deny policy (set on an organization, folder or project).
    IamDenyPolicy,
    /// An Azure Policy assignment with a deny effect.
    AzurePolicy,
    /// An Azure deny assignment (blueprints, managed applications).
    DenyAssignment,
}

impl PolicyKind {
    const ALL: [PolicyKind; 13] = [
        PolicyKind::Policy,
        PolicyKind::IdentityPolicy,
        PolicyKind::ResourcePolicy,
        PolicyKind::ServiceControlPolicy,
        PolicyKind::ResourceControlPolicy,
        PolicyKind::PermissionsBoundary,
        PolicyKind::SessionPolicy,
        PolicyKind::VpcEndpointPolicy,
        PolicyKind::VpcServiceControls,
        PolicyKind::OrganizationPolicy,
        PolicyKind::IamDenyPolicy,
        PolicyKind::AzurePolicy,
        PolicyKind::DenyAssignment,
    ];

    /// The name in reports and in the `x-denied-by` header formats write.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Policy => "policy",
            PolicyKind::IdentityPolicy => "identity_policy",
            PolicyKind::ResourcePolicy => "resource_policy",
            PolicyKind::ServiceControlPolicy => "service_control_policy",
            PolicyKind::ResourceControlPolicy => "resource_control_policy",
            PolicyKind::PermissionsBoundary => "permissions_boundary",
            PolicyKind::SessionPolicy => "session_policy",
            PolicyKind::VpcEndpointPolicy => "vpc_endpoint_policy",
            PolicyKind::VpcServiceControls => "vpc_service_controls",
            PolicyKind::OrganizationPolicy => "organization_policy",
            PolicyKind::IamDenyPolicy => "iam_deny_policy",
            PolicyKind::AzurePolicy => "azure_policy",
            PolicyKind::DenyAssignment => "deny_assignment",
        }
    }

    /// The kind called `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind in words.
    pub fn about(self) -> &'static str {
        match self {
            PolicyKind::Policy => "policy",
            PolicyKind::IdentityPolicy => "identity-based policy",
            PolicyKind::ResourcePolicy => "resource-based policy",
            PolicyKind::ServiceControlPolicy => "service control policy",
            PolicyKind::ResourceControlPolicy => "resource control policy",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::SessionPolicy => "session policy",
            PolicyKind::VpcEndpointPolicy => "VPC endpoint policy",
            PolicyKind::VpcServiceControls => "VPC Service Controls perimeter",
            PolicyKind::OrganizationPolicy => "organization policy",
            PolicyKind::IamDenyPolicy => "IAM deny policy",
            PolicyKind::AzurePolicy => "Azure Policy assignment",
            PolicyKind::DenyAssignment => "Azure deny assignment",
        }
    }

    /// Whether the control sits outside the principal's own grants: then no
    /// grant to the principal changes the answer.
    pub fn is_guardrail(self) -> bool {
        !matches!(
            self,
            PolicyKind::Policy | PolicyKind::IdentityPolicy | PolicyKind::ResourcePolicy
        )
    }

    /// Who can change it, and how, for a guardrail's fix.
    pub fn remedy(self) -> &'static str {
        match self {
            PolicyKind::ServiceControlPolicy | PolicyKind::ResourceControlPolicy => {
                "the AWS Organizations administrators must exempt the account or change the policy"
            }
            PolicyKind::PermissionsBoundary => {
                "widen the principal's permissions boundary (whoever sets boundaries decides)"
            }
            PolicyKind::SessionPolicy => {
                "the session policy passed at AssumeRole/federation must allow it: change the caller's session policy"
            }
            PolicyKind::VpcEndpointPolicy => {
                "the VPC endpoint's policy must allow the action on the resource: change the endpoint policy, not the principal"
            }
            PolicyKind::VpcServiceControls => {
                "an ingress/egress rule or access level of the service perimeter must admit the request (the perimeter's administrators decide)"
            }
            PolicyKind::OrganizationPolicy => {
                "the organization policy constraint forbids it: an exception is set on the constraint, not on IAM"
            }
            PolicyKind::IamDenyPolicy => {
                "an IAM deny policy on the organization, folder or project denies it: add an exception principal or change the deny rule"
            }
            PolicyKind::AzurePolicy => {
                "an Azure Policy assignment denies it: request an exemption or change the assignment"
            }
            PolicyKind::DenyAssignment => {
                "a deny assignment blocks it (set by a blueprint or managed application): remove or exclude the principal there"
            }
            PolicyKind::Policy | PolicyKind::IdentityPolicy | PolicyKind::ResourcePolicy => {
                "remove the explicit deny or add an exception for this account"
            }
        }
    }
}

/// A policy a response says denied, with its name where the record gives one;
/// written in words (`service control policy arn:…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
pub struct DeniedBy {
    pub kind: PolicyKind,
    pub name: Option<String>,
}

impl std::fmt::Display for DeniedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.about())?;
        match &self.name {
            Some(name) => write!(f, " {name}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name_and_only_outside_controls_are_guardrails() {
        for kind in PolicyKind::ALL {
            assert_eq!(PolicyKind::named(kind.name()), Some(kind));
        }
        assert!(PolicyKind::ServiceControlPolicy.is_guardrail());
        assert!(PolicyKind::VpcServiceControls.is_guardrail());
        assert!(!PolicyKind::IdentityPolicy.is_guardrail());
        assert_eq!(PolicyKind::named("nonsense"), None);
    }
}
