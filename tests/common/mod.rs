//! What the end-to-end tests share: running the binary from the crate root.

use std::process::{Command, Output};

/// Runs `grantgap` with these arguments in the crate root (where `sample_logs/` is).
pub fn grantgap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("grantgap runs")
}

/// Runs `grantgap` and returns its stdout, failing the test on a non-zero exit.
#[allow(dead_code)] // not every test file needs it
pub fn stdout_of(args: &[&str]) -> String {
    let out = grantgap(args);
    assert!(
        out.status.success(),
        "grantgap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Generates logs with known answers into `out` (`grantgap generate --out OUT ARGS`).
#[allow(dead_code)] // not every test file needs it
pub fn generate(out: &std::path::Path, args: &[&str]) {
    let mut all = vec!["generate", "--out", out.to_str().expect("a UTF-8 path")];
    all.extend(args);
    stdout_of(&all);
}

/// One principal's entry of a JSON report, failing the test when it is absent.
#[allow(dead_code)] // not every test file needs it
pub fn principal<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == name)
        .unwrap_or_else(|| panic!("no {name} in the report: {report:#}"))
}
