//! The canonical model: the five input tables every log format is mapped onto.
//!
//! Field-by-field documentation with examples lives in `docs/input-formats.md`;
//! keep the two in step.

use std::collections::BTreeMap;

pub mod groups;
pub mod intern;
pub mod time;

pub use self::groups::{
    DenialGroup, DenialKey, DeniedObject, MinuteCounts, ObjectFacts, ObjectKey, Position, Sample,
    SuccessGroup, SuccessKey, Successes, MINUTE,
};
pub use self::time::{format_millis, Millis, UNKNOWN_TIME};

/// The five tables grantgap reads. Only `Events` is mandatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Events,
    Tokens,
    RoleSnapshots,
    Roles,
    Policies,
    /// Kubernetes RBAC objects: roles and bindings in one file.
    Rbac,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Events,
        Table::Tokens,
        Table::RoleSnapshots,
        Table::Roles,
        Table::Policies,
        Table::Rbac,
    ];

    /// The name used in bundle file names (`tokens.jsonl`) and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Tokens => "tokens",
            Table::RoleSnapshots => "role_snapshots",
            Table::Roles => "roles",
            Table::Policies => "policies",
            Table::Rbac => "rbac",
        }
    }
}

/// The method of a request to a named cloud action (`s3:GetObject`,
/// `storage.objects.get`, `Microsoft.Compute/virtualMachines/write`): its path
/// is the action's name, already an endpoint, and is never templated.
pub const ACTION_METHOD: &str = "CALL";

/// The status of a record that answers no request (the start of a long
/// operation, a policy engine's own record, a dry run): neither allowed nor
/// denied, counted apart.
pub const NOT_A_RESPONSE: u16 = 0;

/// The endpoint of a record that names neither a resource nor a path (an
/// audit policy below `Metadata`, a trimmed export): no permission can be told
/// from it.
pub const UNNAMED_ENDPOINT: &str = "(resource not in log)";

/// The error code a format gives a request that carried no credential and ran
/// as the platform's anonymous identity (Kubernetes `system:anonymous`): a
/// grant to that identity would open the endpoint to everyone.
pub const ANONYMOUS_CODE: &str = "Anonymous";

/// What marks a role as a policy embedded in one holder (an AWS inline
/// policy, `HOLDER-ARN#inline/NAME`): it grants what it holds, and is no fix
/// for anyone, as nothing else can be given it.
pub const INLINE_POLICY_MARK: &str = "#inline/";

/// The response header in which a format says which policy layer refused
/// (CloudTrail's "no identity-based policy allows"), or [`UNTOLD_LAYER`].
pub const DENIAL_REASON_HEADER: &str = "x-denial-reason";

/// The denial reason of a refusal whose response names no policy layer (S3's
/// bare "Access Denied"): an identity policy, an explicit deny, a resource
/// policy or a guardrail may each have refused.
pub const UNTOLD_LAYER: &str = "no policy named (a bare Access Denied)";

/// The response header in which a format names the policy that denied, read
/// from the record's structure: `KIND[ NAME]`, KIND one of the diagnosis's
/// policy kinds (`vpc_service_controls accessPolicies/1/servicePerimeters/p`).
pub const DENIED_BY_HEADER: &str = "x-denied-by";

/// One API request as the gateway or service logged it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub ts: Millis,
    pub principal: String,
    pub token_id: Option<String>,
    /// When the token (or session) was issued, when the log carries it (CloudTrail's
    /// `sessionContext.attributes.creationDate`).
    pub token_issued_at: Option<Millis>,
    /// Scopes logged inline with the request, when the log carries them.
    pub scopes: Option<Vec<String>>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub message: Option<String>,
    /// Response headers that explain a denial (`www-authenticate`, `x-required-scope`,
    /// vendor error codes). Names are lower-case. Everything else is dropped at ingest,
    /// because request headers carry credentials.
    pub headers: BTreeMap<String, String>,
    pub object_id: Option<String>,
    /// Data scope of the request: org, site, plant, namespace.
    pub org: Option<String>,
    /// Names of the request-body fields the request touched, sorted and de-duplicated.
    pub fields: Vec<String>,
    pub request_id: Option<String>,
}

impl Event {
    /// A 403 is what grantgap explains; everything else is context.
    pub fn is_denial(&self) -> bool {
        self.status == 403
    }

    /// 2xx and 3xx: the request was allowed.
    pub fn is_success(&self) -> bool {
        (200..400).contains(&self.status)
    }
}

/// One issued access token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub token_id: String,
    pub principal: String,
    pub scopes: Vec<String>,
    pub issued_at: Millis,
    pub expires_at: Option<Millis>,
}

/// One role binding seen in a snapshot taken at `snapshot_at`.
///
/// A snapshot is the complete set of a principal's bindings at that instant. A row
/// with an empty `role` records that the principal held no role then (so a
/// revocation of the last role is visible).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleBinding {
    pub snapshot_at: Millis,
    pub principal: String,
    pub role: String,
    pub data_scope: Option<Vec<String>>,
}

impl RoleBinding {
    /// A binding of an undated dump (in effect from the start of the logs).
    pub fn undated(principal: String, role: String, data_scope: Option<Vec<String>>) -> Self {
        RoleBinding {
            snapshot_at: 0,
            principal,
            role,
            data_scope,
        }
    }
}

/// One role definition: what it grants directly and which roles it inherits.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDef {
    pub role: String,
    pub permissions: Vec<String>,
    pub inherits: Vec<String>,
    /// The plane the role's permissions apply to: `api` (the default) or another,
    /// such as `application` for UI roles that do not reach the API.
    pub plane: String,
    /// From when this definition applies (`snapshot_at` in the roles table); `None`:
    /// always, until a dated definition of the same role replaces it.
    pub defined_at: Option<Millis>,
    /// Permissions this role explicitly denies, whatever any role grants (an
    /// AWS policy's Deny statements).
    pub denies: Vec<String>,
}

impl RoleDef {
    /// An API role, undated, as the platforms' IAM exports define them.
    pub fn api(role: String, permissions: Vec<String>, inherits: Vec<String>) -> Self {
        RoleDef {
            role,
            permissions,
            inherits,
            plane: "api".into(),
            defined_at: None,
            denies: Vec::new(),
        }
    }

    /// Whether this role's permissions are checked on API calls.
    pub fn grants_api(&self) -> bool {
        self.plane == "api"
    }
}

/// One endpoint rule of the policy catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// HTTP method, upper case, or `*` for any.
    pub method: String,
    /// Path pattern: literal segments, `{param}` for one segment, `*` for one
    /// segment, and a trailing `**` (or `/*` at the end) for any remainder.
    pub path: String,
    /// Every one of these is required.
    pub all_of: Vec<String>,
    /// At least one of these is required (empty: no such requirement).
    pub any_of: Vec<String>,
    /// Extra permission required when the request touches a field.
    pub fields: BTreeMap<String, String>,
    /// Whether a binding's data scope must cover the request's `org`.
    pub data_scoped: bool,
}
