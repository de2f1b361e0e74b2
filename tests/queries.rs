//! Every query in `queries/` runs, as its own header's example says, and
//! answers its question on the sample scenario it names.

mod common;

use std::path::Path;

use common::{grantgap, stdout_of};

/// The arguments of a query file's `-- Example: grantgap …` line.
fn example(sql: &str) -> Vec<String> {
    let line = sql
        .lines()
        .find_map(|l| l.strip_prefix("-- Example: grantgap "))
        .expect("every query has an example");
    line.split_whitespace().map(str::to_string).collect()
}

/// Runs a query's example with CSV output: (header, rows).
fn run(file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let sql = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    assert!(
        sql.starts_with("-- Question: "),
        "{file}: the header says which question it answers"
    );
    let mut args = example(&sql);
    args.extend(["--format".into(), "csv".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = stdout_of(&args);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Denied requests in the project scenario, as its JSON report counts them.
fn project_denials() -> u64 {
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "report",
        "sample_logs/project",
        "--format",
        "json",
    ]))
    .unwrap();
    report["requests"]["denied"].as_u64().unwrap()
}

fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[i].clone()).collect()
}

#[test]
fn every_query_file_is_tested_here() {
    let mut files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let tested = [
        "denials_per_endpoint.sql",
        "denials_per_hour.sql",
        "fix_plan.sql",
        "new_signatures_today.sql",
        "principals_denied_in_several_orgs.sql",
        "scope_coverage_per_client.sql",
        "tokens_used_after_expiry.sql",
        "top_principals.sql",
        "unused_grants.sql",
    ];
    assert_eq!(files, tested, "a query without a test below");
}

#[test]
fn top_principals() {
    let (h, rows) = run("queries/top_principals.sql");
    assert_eq!(
        column(&h, &rows, "principal"),
        ["svc-maint-automation", "svc-maint-costs"]
    );
    assert_eq!(column(&h, &rows, "denials"), ["127", "35"]);
    assert_eq!(column(&h, &rows, "causes"), ["2", "1"]);
}

#[test]
fn denials_per_endpoint() {
    let (h, rows) = run("queries/denials_per_endpoint.sql");
    let endpoints: Vec<String> = rows.iter().map(|r| format!("{} {}", r[0], r[1])).collect();
    assert_eq!(endpoints[0], "PATCH /api/v1/maintenance/workorders/{id}");
    assert!(endpoints.contains(&"POST /api/v1/maintenance/workorders/{id}/attachments".to_string()));
    let total: u64 = column(&h, &rows, "denials")
        .iter()
        .map(|d| d.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 162, "every denial of the scenario, once");
}

#[test]
fn tokens_used_after_expiry() {
    let (h, rows) = run("queries/tokens_used_after_expiry.sql");
    assert!(!rows.is_empty());
    assert!(column(&h, &rows, "principal")
        .iter()
        .all(|p| p == "svc-project-sync"));
    let denied: u64 = column(&h, &rows, "denied")
        .iter()
        .map(|d| d.parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        denied, 9,
        "the nine GETs that reuse the previous hour's token"
    );
}

#[test]
fn scope_coverage_per_client() {
    let (h, rows) = run("queries/scope_coverage_per_client.sql");
    let missing = column(&h, &rows, "missing_scope");
    assert!(
        missing
            .iter()
            .any(|m| m == "project.tasks.assignments.manage"),
        "{rows:?}"
    );
    let latest = column(&h, &rows, "latest_scopes");
    assert!(
        latest.iter().all(|s| s.contains("project.tasks.write")),
        "{rows:?}"
    );
}

#[test]
fn denials_per_hour() {
    let (h, rows) = run("queries/denials_per_hour.sql");
    let hours = column(&h, &rows, "hour");
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "hours in order");
    assert!(hours
        .iter()
        .all(|h| h.ends_with(":00") && h.starts_with("2026-11-")));
    let total: u64 = column(&h, &rows, "denials")
        .iter()
        .map(|d| d.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, project_denials());
}

#[test]
fn unused_grants() {
    let (h, rows) = run("queries/unused_grants.sql");
    let principals = column(&h, &rows, "principal");
    let permissions = column(&h, &rows, "permission");
    // svc-maint-reporting only reads: the write permissions it may hold are unused;
    // nothing an account used may be listed.
    assert!(!rows.is_empty());
    for (p, perm) in principals.iter().zip(&permissions) {
        assert!(
            !(p == "svc-maint-automation" && perm == "maintenance.workorder.read"),
            "svc-maint-automation reads work orders 1,500 times"
        );
    }
}

#[test]
fn principals_denied_in_several_orgs() {
    let (h, rows) = run("queries/principals_denied_in_several_orgs.sql");
    assert_eq!(column(&h, &rows, "principal"), ["svc-wms-integration"]);
    assert!(column(&h, &rows, "orgs")[0].parse::<u32>().unwrap() >= 2);
}

#[test]
fn new_signatures_today() {
    let (_, rows) = run("queries/new_signatures_today.sql");
    assert!(
        rows.is_empty(),
        "every maintenance failure started before its last day"
    );

    // The same scenario with one failure that starts on its last day.
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_logs/maintenance");
    for file in std::fs::read_dir(&scenario).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), dir.path().join(file.file_name())).unwrap();
    }
    let new_failure: String = (0..3)
        .map(|i| {
            format!(
                r#"{{"ts":"2026-11-19T12:0{i}:00Z","principal":"svc-maint-reporting","method":"DELETE","path":"/api/v1/maintenance/workorders/WO-10{i}","status":403,"message":"Forbidden"}}"#
            ) + "\n"
        })
        .collect();
    std::fs::write(dir.path().join("today.jsonl"), new_failure).unwrap();
    let text = stdout_of(&[
        "query",
        "queries/new_signatures_today.sql",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
    ]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(&rows[0][2], "DELETE");
    assert_eq!(&rows[0][3], "/api/v1/maintenance/workorders/{id}");
    assert_eq!(&rows[0][5], "3");
}

#[test]
fn fix_plan() {
    let (h, rows) = run("queries/fix_plan.sql");
    assert_eq!(column(&h, &rows, "principal"), ["svc-project-sync"]);
    // Project Manager was granted after the denials it would have prevented:
    // it is held, so it is not to be granted again.
    assert_eq!(column(&h, &rows, "grant_roles"), [""]);
    assert!(column(&h, &rows, "missing")[0].contains("project.tasks.status.update"));
}

#[test]
fn bad_sql_says_what_is_wrong() {
    let out = grantgap(&["query", "SELECT * FROM nowhere", "sample_logs/maintenance"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the query failed") && stderr.contains("denials"),
        "{stderr}"
    );
    let out = grantgap(&["query", "queries/missing.sql", "sample_logs/maintenance"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SQL file"));
}

#[test]
fn export_writes_parquet_partitioned_by_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    stdout_of(&[
        "report",
        "sample_logs/project",
        "--export",
        out.to_str().unwrap(),
        "--partition-by-date",
    ]);
    let days: Vec<String> = std::fs::read_dir(out.join("denials"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        days.iter().all(|d| d.starts_with("date=2026-11-")),
        "{days:?}"
    );
    assert!(days.len() >= 2);
    for table in ["principals.parquet", "grants.parquet"] {
        assert!(out.join(table).is_file(), "{table}");
    }
    // Read back with polars: the partitions hold every denial.
    use polars::prelude::*;
    let mut total = 0;
    for day in &days {
        let file =
            std::fs::File::open(out.join("denials").join(day).join("part-0.parquet")).unwrap();
        let df = ParquetReader::new(file).finish().unwrap();
        total += df.column("count").unwrap().i64().unwrap().sum().unwrap();
    }
    assert_eq!(total as u64, project_denials());

    let csv_dir = dir.path().join("csv");
    stdout_of(&[
        "report",
        "sample_logs/project",
        "--export",
        csv_dir.to_str().unwrap(),
        "--export-format",
        "csv",
    ]);
    let principals = std::fs::read_to_string(csv_dir.join("principals.csv")).unwrap();
    assert!(principals.starts_with("principal,denied,"), "{principals}");
    assert!(principals.contains("svc-project-sync"));
}

/// The denials table has a row per group and object, each with the object's own
/// count: the counts still add up to every denied request.
#[test]
fn the_denials_table_has_a_row_per_object() {
    let csv = |sql: &str, dir: &str| {
        let text = stdout_of(&["query", sql, dir, "--format", "csv"]);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let acl = csv(
        "SELECT object_id, SUM(count) AS n FROM denials WHERE cause = 'object_acl' GROUP BY object_id",
        "sample_logs/resources",
    );
    assert_eq!(acl, [["M-1001", "38"]]);
    let total = csv("SELECT SUM(count) AS n FROM denials", "sample_logs/project");
    assert_eq!(total, [[project_denials().to_string()]]);
}
