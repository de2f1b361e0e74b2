//! The Spark driver (`spark/grantgap_spark.py`) on `local[2]`: partials in
//! tasks, the merge on the driver, the same report as `grantgap report`.
//!
//! `.ci/run` installs pyspark into a venv and sets `GRANTGAP_SPARK_SUBMIT` to
//! its `spark-submit`. Outside CI, without it, the test says so and passes; in
//! CI (`CI` set) a missing Spark fails it.

mod common;

use std::process::Command;

use common::stdout_of;

#[test]
fn the_spark_driver_merges_its_tasks_partials_into_the_report_of_all_the_logs() {
    let Some(spark_submit) = std::env::var_os("GRANTGAP_SPARK_SUBMIT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "GRANTGAP_SPARK_SUBMIT is not set: .ci/run installs pyspark and sets it"
        );
        eprintln!("skipped: set GRANTGAP_SPARK_SUBMIT to a spark-submit (pip install pyspark)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    common::generate(
        &corpus,
        &[
            "--events",
            "30000",
            "--principals",
            "50",
            "--seed",
            "12",
            "--files",
            "3",
            "--compress",
            "gz",
        ],
    );
    let logs = corpus.join("logs");
    let whole = stdout_of(&["report", logs.to_str().unwrap(), "--format", "json"]);
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/spark/grantgap_spark.py");
    let binary = env!("CARGO_BIN_EXE_grantgap");
    // Handed back to the driver, and through a shared folder.
    for shared in [None, Some(dir.path().join("partials"))] {
        let out = dir.path().join("report.json");
        let mut command = Command::new(&spark_submit);
        command.args(["--master", "local[2]", "--conf", "spark.ui.enabled=false"]);
        command.args([driver, "--grantgap", binary]);
        command.args(["--shards", "5", "--report", "--format json", "-o"]);
        command.arg(&out).arg(&logs);
        if let Some(folder) = &shared {
            command.arg("--partials").arg(folder);
        }
        let run = command.output().expect("spark-submit runs");
        assert!(
            run.status.success(),
            "the Spark driver failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let merged = std::fs::read_to_string(&out).unwrap();
        assert!(
            merged == whole,
            "the Spark report differs (partials in {shared:?})"
        );
        if let Some(folder) = shared {
            let parts = std::fs::read_dir(folder).unwrap().count();
            assert_eq!(parts, 5, "one partial per shard");
        }
    }
}
