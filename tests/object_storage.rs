//! Logs read where they live: `s3://` from a local S3 server (moto), `az://`
//! from a local Azure Blob server (Azurite), give the reports the same files
//! give on disk, whole, by glob, as one object, and through partials.
//!
//! `.ci/run` installs moto and Azurite and sets `GRANTGAP_MOTO_SERVER`,
//! `GRANTGAP_AZURITE` and `GRANTGAP_STORE_PYTHON` (the venv's python, with
//! boto3 and azure-storage-blob). Outside CI, without them, the tests say so
//! and pass; in CI (`CI` set) a missing server fails them.

mod common;

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::stdout_of;

/// A server the test started, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server `command` makes for a free port, and waits until it listens.
fn serve(command: impl FnOnce(&str) -> Command) -> (Server, u16) {
    let port = free_port();
    let child = command(&port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut server = Server(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("the server exited before listening: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no server on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

/// The tool a test needs, from the environment; `None` (the test passes
/// with a note) outside CI.
fn tool(var: &str) -> Option<OsString> {
    let found = std::env::var_os(var);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{var} is not set: .ci/run installs it"
        );
        eprintln!("skipped: set {var} (see .ci/run)");
    }
    found
}

fn upload(python: &OsString, kind: &str, endpoint: &str, bucket: &str, folder: &Path) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upload_to_store.py"
    );
    let run = Command::new(python)
        .args([script, kind, endpoint, bucket, "corpus/"])
        .arg(folder)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A bundle of generated logs: one plain file past 32 MB (read as two ranges),
/// two gzip files, and the small tables.
fn corpus(dir: &Path) -> PathBuf {
    let out = dir.join("gen");
    let plain = dir.join("plain");
    common::generate(
        &plain,
        &["--events", "180000", "--principals", "60", "--seed", "21"],
    );
    let zipped = dir.join("zipped");
    common::generate(
        &zipped,
        &[
            "--events",
            "20000",
            "--principals",
            "60",
            "--seed",
            "22",
            "--files",
            "2",
            "--compress",
            "gz",
        ],
    );
    std::fs::rename(plain.join("logs"), &out).unwrap();
    for entry in std::fs::read_dir(zipped.join("logs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".gz") {
            std::fs::rename(&path, out.join(format!("more-{name}"))).unwrap();
        }
    }
    out
}

fn grantgap_with(env: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grantgap"));
    command.args(args).stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn json_of(env: &[(&str, String)], args: &[&str]) -> String {
    let run = grantgap_with(env, args);
    assert!(
        run.status.success(),
        "grantgap {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

/// Every way of naming the corpus in the store gives the report of the files.
fn same_reports(env: &[(&str, String)], root: &str, local: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let whole = stdout_of(&["report", local.to_str().unwrap(), "--format", "json"]);
    let prefix = format!("{root}/corpus/");
    assert!(json_of(env, &["report", &prefix, "--format", "json"]) == whole);
    // The prefix without its slash, and the tables named one by one.
    let events = format!("{root}/corpus/events.jsonl");
    let (tokens, snapshots, roles, policies) = (
        format!("{root}/corpus/tokens.jsonl"),
        format!("{root}/corpus/role_snapshots.jsonl"),
        format!("{root}/corpus/roles.jsonl"),
        format!("{root}/corpus/policies.jsonl"),
    );
    let glob = format!("{root}/corpus/more-*.gz");
    let by_name = [
        "report",
        &events,
        &glob,
        "--tokens",
        &tokens,
        "--role-snapshots",
        &snapshots,
        "--roles",
        &roles,
        "--policies",
        &policies,
        "--format",
        "json",
    ];
    assert!(json_of(env, &by_name) == whole);
    // Partials of the objects merge into the same report.
    let parts: Vec<String> = (0..3)
        .map(|i| {
            dir.path()
                .join(format!("p{i}"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let i = i.to_string();
        json_of(
            env,
            &[
                "partial",
                &prefix,
                "--shard-index",
                &i,
                "--shard-count",
                "3",
                "-o",
                part,
            ],
        );
    }
    let mut merge = vec!["merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--format", "json"]);
    assert!(json_of(env, &merge) == whole);
    // A prefix with nothing under it says so.
    let run = grantgap_with(env, &["report", &format!("{root}/nothing/")]);
    assert_eq!(run.status.code(), Some(1));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("nothing under"), "{said}");
}

#[test]
fn s3_objects_give_the_reports_their_files_give() {
    let (Some(moto), Some(python)) = (tool("GRANTGAP_MOTO_SERVER"), tool("GRANTGAP_STORE_PYTHON"))
    else {
        return;
    };
    let (_server, port) = serve(|port| {
        let mut command = Command::new(moto);
        command.args(["-H", "127.0.0.1", "-p", port]);
        command
    });
    let dir = tempfile::tempdir().unwrap();
    let local = corpus(dir.path());
    let endpoint = format!("http://127.0.0.1:{port}");
    upload(&python, "s3", &endpoint, "logs", &local);
    let env = [
        ("AWS_ENDPOINT", endpoint),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    same_reports(&env, "s3://logs", &local);
    // No server at the endpoint: the message names the URL and what to check.
    let mut wrong = env.clone();
    wrong[0].1 = format!("http://127.0.0.1:{}", free_port());
    let run = grantgap_with(&wrong, &["report", "s3://logs/corpus/"]);
    assert_eq!(run.status.code(), Some(1));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("cannot list s3://logs/corpus/"), "{said}");
}

#[test]
fn azure_blobs_give_the_reports_their_files_give() {
    let (Some(azurite), Some(python)) = (tool("GRANTGAP_AZURITE"), tool("GRANTGAP_STORE_PYTHON"))
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (_server, port) = serve(|port| {
        let mut command = Command::new(azurite);
        command.args(["--blobHost", "127.0.0.1", "--blobPort", port, "--location"]);
        command.arg(data.path());
        command.args(["--skipApiVersionCheck", "--disableTelemetry", "--silent"]);
        command
    });
    let dir = tempfile::tempdir().unwrap();
    let local = corpus(dir.path());
    let endpoint = format!("http://127.0.0.1:{port}/devstoreaccount1");
    upload(&python, "azure", &endpoint, "logs", &local);
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
    ];
    same_reports(&env, "az://logs", &local);
}
