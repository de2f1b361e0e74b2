//! How records are folded: per-worker aggregates that merge exactly, the fast
//! path for allowed requests, the filters of allowed objects, the timeline of
//! role changes that cuts denial groups, and the runs of denial groups written
//! to disk and merged back.

pub mod aggregate;
pub mod by_object;
pub mod fast;
pub mod filter;
pub mod quarantine;
pub mod reader;
pub mod seen;
pub mod spill;
pub mod timeline;
