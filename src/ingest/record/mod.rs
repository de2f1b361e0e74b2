//! What a record means: the log formats, the canonical fields, endpoint
//! templates, redaction of secrets, and the small tables (tokens, role
//! snapshots, roles, policies, and the IAM state platforms export: Kubernetes
//! RBAC, AWS authorization details, GCP IAM policies and roles, Azure role
//! assignments and definitions).

pub mod aws_iam;
pub mod cloud_iam;
pub mod fields;
pub mod formats;
pub mod rbac;
pub mod redact;
pub mod scan;
pub mod tables;
pub mod template;
