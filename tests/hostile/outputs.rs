//! Outputs never destroy inputs or special files; inputs that are not regular
//! files are read exactly once; links never make a file count twice; a failed
//! or stopped run writes nothing; bad arguments exit with 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::grantgap;

/// A small log: denials of two principals and successes of peers.
fn events() -> String {
    let mut text = String::new();
    for i in 0..40 {
        let (principal, status) = match i % 4 {
            0 => ("svc-a", 403),
            1 => ("svc-b", 403),
            _ => ("svc-peer", 200),
        };
        text.push_str(&format!(
            r#"{{"ts":"2026-11-20T00:{:02}:00Z","principal":"{principal}","method":"GET","path":"/api/orders/{i}","status":{status}}}"#,
            i % 60
        ));
        text.push('\n');
    }
    text
}

fn log_in(dir: &Path) -> PathBuf {
    let path = dir.join("events.jsonl");
    std::fs::write(&path, events()).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Event files a JSON report counted as unreadable.
fn unreadable(report: &Value) -> u64 {
    report["records"]["events"]["skipped_by_reason"]["unreadable file"]
        .as_u64()
        .unwrap_or(0)
}

/// Denied requests counted by a JSON report of `inputs`.
fn denied(inputs: &[&str]) -> u64 {
    let mut args = vec!["report"];
    args.extend(inputs);
    args.extend(["--format", "json"]);
    json_of(&grantgap(&args))["requests"]["denied"]
        .as_u64()
        .unwrap()
}

#[test]
fn outputs_never_overwrite_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let before = std::fs::read(&log).unwrap();
    let hard_link = dir.path().join("same-file.json");
    std::fs::hard_link(&log, &hard_link).unwrap();
    let symlink = dir.path().join("link.json");
    std::os::unix::fs::symlink(&log, &symlink).unwrap();
    for output in [&log, &hard_link, &symlink] {
        for flag in ["-o", "--quarantine"] {
            let out = grantgap(&["report", s(&log), flag, s(output)]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {output:?}: {stderr}");
            assert!(stderr.contains("is an input of this run"), "{stderr}");
            assert_eq!(std::fs::read(&log).unwrap(), before, "{flag} {output:?}");
        }
    }
    // The export replaces its folder whole: one holding an input is refused.
    let out = grantgap(&["report", s(&log), "--export", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds an input"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn special_files_and_links_are_written_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let out = grantgap(&["report", s(&log), "--format", "json", "-o", "/dev/null"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device(), "/dev/null is still a device");
    // /dev/full says so, and stays a device.
    let out = grantgap(&["report", s(&log), "-o", "/dev/full"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    // A link stays a link, and the file it names gets the report.
    let target = dir.path().join("report.json");
    let link = dir.path().join("latest.json");
    std::os::unix::fs::symlink("report.json", &link).unwrap();
    let out = grantgap(&["report", s(&log), "--format", "json", "-o", s(&link)]);
    assert!(out.status.success());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let report: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(report["requests"]["denied"], 20);
}

#[test]
fn pipes_and_fifos_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let expected = denied(&[s(&log)]);
    assert_eq!(expected, 20);

    // Process substitution: /dev/fd/N, a pipe that can be read only once.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} report <(cat {}) --format json",
            env!("CARGO_BIN_EXE_grantgap"),
            s(&log)
        ))
        .output()
        .unwrap();
    assert_eq!(json_of(&out)["requests"]["denied"], expected);

    // A named FIFO, fed by another process.
    let fifo = dir.path().join("feed.jsonl");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let (fifo, text) = (fifo.clone(), events());
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            pipe.write_all(text.as_bytes()).unwrap();
        })
    };
    let child = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["report", s(&fifo), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_at_most(child, Duration::from_secs(60));
    writer.join().unwrap();
    assert_eq!(json_of(&out)["requests"]["denied"], expected);
}

/// The output of a child, killing it (and failing) if it runs past `limit`.
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn devices_are_refused_as_inputs() {
    let start = Instant::now();
    let out = grantgap(&["report", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a device or socket"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn links_in_a_folder_never_count_a_file_twice_or_loop() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    log_in(&logs);
    let expected = denied(&[s(&logs)]);
    // A link back up the tree, two links to the folder (2^depth paths once),
    // a second link to the same file, and a loop of two links.
    std::os::unix::fs::symlink(".", logs.join("again")).unwrap();
    std::os::unix::fs::symlink(".", logs.join("again2")).unwrap();
    std::os::unix::fs::symlink("events.jsonl", logs.join("copy.jsonl")).unwrap();
    std::os::unix::fs::symlink("b.jsonl", logs.join("a.jsonl")).unwrap();
    std::os::unix::fs::symlink("a.jsonl", logs.join("b.jsonl")).unwrap();
    let start = Instant::now();
    let out = grantgap(&["report", s(&logs), "--format", "json"]);
    assert!(start.elapsed() < Duration::from_secs(30));
    let report = json_of(&out);
    assert_eq!(report["requests"]["denied"], expected);
    // The two looping links are named as unreadable, not silently dropped.
    assert_eq!(unreadable(&report), 2);
}

#[test]
fn an_unreadable_subfolder_is_counted_and_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let closed = logs.join("closed");
    std::fs::create_dir_all(&closed).unwrap();
    log_in(&logs);
    log_in(&closed);
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any folder: without the capabilities that let it, root is
    // held to the permissions like anyone (CI runs as root).
    // SAFETY: geteuid has no preconditions.
    let mut run = if unsafe { libc::geteuid() } == 0 {
        let mut setpriv = Command::new("setpriv");
        setpriv
            .args([
                "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
            ])
            .arg(env!("CARGO_BIN_EXE_grantgap"));
        setpriv
    } else {
        Command::new(env!("CARGO_BIN_EXE_grantgap"))
    };
    let out = run
        .args(["report", s(&logs), "--format", "json"])
        .output()
        .unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = json_of(&out);
    assert_eq!(report["requests"]["denied"], 20);
    assert_eq!(unreadable(&report), 1);
}

#[test]
fn a_failed_run_writes_nothing_and_an_export_switches_whole() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = log_in(&logs);
    let export = dir.path().join("lake");
    let first = grantgap(&[
        "report",
        s(&log),
        "--export",
        s(&export),
        "--export-format",
        "csv",
    ]);
    assert!(first.status.success());
    let snapshot = |d: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap_or_default();
                (p, bytes)
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&export);
    assert_eq!(before.len(), 5, "one file per table");

    // A bad baseline stops the run before the export is touched.
    let bad = dir.path().join("previous.json");
    std::fs::write(&bad, "not json").unwrap();
    std::fs::write(
        &log,
        events().replace("svc-a", "svc-z") + &events().replace("svc-b", "svc-y"),
    )
    .unwrap();
    let out = grantgap(&[
        "report",
        s(&log),
        "--export",
        s(&export),
        "--export-format",
        "csv",
        "--baseline",
        s(&bad),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(snapshot(&export), before);

    // A run killed outright leaves a staging folder; the next run removes it
    // and switches the folder in one step.
    std::fs::create_dir(dir.path().join(".lake.grantgap-killed")).unwrap();
    let out = grantgap(&[
        "report",
        s(&log),
        "--export",
        s(&export),
        "--export-format",
        "csv",
    ]);
    assert!(out.status.success());
    let after = snapshot(&export);
    assert_eq!(after.len(), before.len());
    assert_ne!(after, before);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("grantgap")),
        "no staging folder left: {names:?}"
    );

    // --strict with bad input stops before the quarantine is written.
    std::fs::write(&log, format!("{}{{broken\n", events())).unwrap();
    let quarantine = dir.path().join("bad.jsonl");
    let out = grantgap(&[
        "report",
        s(&log),
        "--strict",
        "--quarantine",
        s(&quarantine),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!quarantine.exists());
}

#[test]
fn an_interrupt_stops_the_run_even_when_stderr_is_closed() {
    // Reading stdin that never ends keeps the run going until the signal.
    let mut child = Command::new(env!("CARGO_BIN_EXE_grantgap"))
        .args(["report", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(events().as_bytes()).unwrap();
    drop(child.stderr.take()); // The reader of stderr is gone.
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("SIGTERM did not stop the run");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(143));
}

#[test]
fn bad_arguments_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let cases: [&[&str]; 6] = [
        &["report", s(&log), "--map", "foo=bar"],
        &["report", s(&log), "--id-pattern", "("],
        &["report", s(&log), "--max-record-size", "lots"],
        &["spikes", s(&log), "--bucket", "90s"],
        &["spikes", s(&log), "--threshold", "NaN"],
        &["spikes", s(&log), "--threshold", "-1"],
    ];
    for args in cases {
        let out = grantgap(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} says why");
    }
}
