//! What a record means: the log formats, the canonical fields, endpoint
//! templates, redaction of secrets, and the small tables (tokens, role
//! snapshots, roles, policies, Kubernetes RBAC).

pub mod fields;
pub mod formats;
pub mod rbac;
pub mod redact;
pub mod tables;
pub mod template;
