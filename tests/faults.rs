//! End-to-end: a run killed or interrupted midway leaves earlier outputs intact
//! and no half-written files; a full disk ends with a clear message and exit 1.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::grantgap;

/// A corpus big enough that reading it takes a while.
fn corpus(dir: &Path) -> String {
    let out = dir.join("corpus");
    let run = grantgap(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--events",
        "300000",
        "--principals",
        "50",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out.join("logs").display().to_string()
}

/// Starts a report into `target`, sends `signal` after a moment, and returns the exit code and stderr.
fn interrupted(logs: &str, target: &Path, signal: &str) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args([
            "report",
            logs,
            "--format",
            "json",
            "-o",
            target.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_killed_or_interrupted_run_leaves_the_previous_report_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let logs = corpus(dir.path());
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let target = reports.join("report.json");
    let first = grantgap(&[
        "report",
        "sample_logs/maintenance",
        "--format",
        "json",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert!(first.status.success());
    let previous = std::fs::read(&target).unwrap();

    let (code, _) = interrupted(&logs, &target, "-KILL");
    assert_eq!(code, None, "killed by the signal");
    assert_eq!(std::fs::read(&target).unwrap(), previous);

    let (code, stderr) = interrupted(&logs, &target, "-INT");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(std::fs::read(&target).unwrap(), previous);

    let (code, _) = interrupted(&logs, &target, "-TERM");
    assert_eq!(code, Some(143));
    assert_eq!(std::fs::read(&target).unwrap(), previous);
    let left: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("report.json")],
        "no temporary files"
    );
}

#[test]
fn a_full_disk_ends_with_a_clear_message_and_exit_code_1() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["report", "sample_logs/maintenance", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write to standard output")
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
}
