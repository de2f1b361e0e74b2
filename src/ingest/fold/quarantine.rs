//! `--quarantine FILE`: every record ingest skipped, so that nothing is lost.
//!
//! One JSON object per line, in input order: `at` (file:line, or the file when it
//! could not be read at all), `reason` and `detail` (as counted in the report),
//! and `record`, the record as read, with secrets redacted like everything else
//! grantgap writes. A record no reader could cut out (a broken compressed stream)
//! has no `record`. The file is written whole or not at all (a temporary file
//! renamed into place), and only when asked: it can hold every bad line of a log.

use std::path::Path;

use anyhow::{Context, Result};

use crate::ingest::fold::aggregate::Quarantined;
use crate::ingest::record::redact::redact;

/// Writes the located records to `path`.
pub fn write(path: &Path, records: impl Iterator<Item = (String, Quarantined)>) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        for (at, q) in records {
            let mut line = serde_json::json!({
                "at": at,
                "reason": q.kind,
                "detail": redact(&q.detail),
            });
            if let Some(raw) = &q.raw {
                line["record"] = serde_json::Value::String(redact(raw).into_owned());
            }
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
    .context("cannot write the quarantine file")
}
