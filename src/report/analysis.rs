//! What a report is made from: every stage's output, once the pipeline has
//! run ([`crate::pipeline`] builds these).

use crate::cluster::Clustered;
use crate::correlate::Reference;
use crate::diagnose::least_privilege::PrincipalGrants;
use crate::diagnose::Diagnosed;
use crate::ingest::Ingested;
use crate::spikes::{DenialTimes, Evidence, SpikeReport};

/// What the stages after ingest conclude, once every partition has been
/// clustered: all a report formats.
pub struct Analysis<'a> {
    /// The role graph and snapshot histories the denials were judged against.
    pub reference: Reference<'a>,
    /// The denials over time, for the timeline and the spikes.
    pub times: DenialTimes,
    pub clustered: Clustered,
    /// Denials over time at a report's resolution, with their spikes.
    pub timeline: SpikeReport,
    /// Per principal with role snapshots: granted permissions no successful request needed.
    pub least_privilege: Vec<PrincipalGrants>,
    /// Problems in the inputs that do not stop the report (role cycles, …).
    pub warnings: Vec<String>,
}

impl<'a> Analysis<'a> {
    /// What spikes are found in and explained by.
    pub fn evidence<'s>(&'s self, ingested: &'s Ingested) -> Evidence<'s> {
        Evidence {
            tokens: &ingested.tokens,
            reference: &self.reference,
            clustered: &self.clustered,
            times: &self.times,
        }
    }
}

/// One partition's diagnoses, with the signature and suppression of each: for
/// what wants every diagnosis (the exported denials table). Dropped once read.
pub struct Partition<'p> {
    pub diagnosed: &'p Diagnosed<'p>,
    /// The signature id of each diagnosis, in order.
    pub signature_ids: Vec<&'p str>,
    /// Whether a suppression hid each diagnosis, in order.
    pub hidden: &'p [bool],
}
