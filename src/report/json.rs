//! The JSON report: the [`Report`] as it is, pretty-printed; or its findings
//! as JSON Lines, one finding with its principal per line.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use super::Report;
use crate::cluster::Finding;

/// Through a buffer of its own: serde writes a few bytes at a time, and each
/// write through `dyn Write` is a call (writing the 2 GB corpus's report took
/// a quarter less time without them).
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut out, report)?;
    writeln!(out)?;
    out.flush()
}

/// A finding as a line of `--format jsonl`: the finding's fields (as the JSON
/// report gives them) beside its principal.
#[derive(Serialize)]
struct FindingLine<'a> {
    principal: &'a str,
    #[serde(flatten)]
    finding: &'a Finding,
}

/// One line per finding, principals most denied first: what a SIEM ingests.
pub fn write_lines(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    for p in &report.principals {
        for finding in &p.findings {
            let line = FindingLine {
                principal: &p.principal,
                finding,
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        }
    }
    out.flush()
}
