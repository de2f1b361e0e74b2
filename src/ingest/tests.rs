//! Ingest end to end: ranges, encodings and the fast path give what reading
//! every record whole gives.

use super::*;
use crate::ingest::source::input;
use crate::ingest::source::units::{plain_csv_ranges, Part};
use crate::model::Table;
use std::fs::File;
use std::io::Write;
use std::path::Path;

const EVENTS: &str = r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"PUT","path":"/w/WO1","status":403,"request_id":"r1"}
{"ts":"2026-11-20T00:00:02Z","principal":"svc-a","method":"GET","path":"/w/WO2","status":200}
{not json

{"ts":"2026-11-20T00:00:03Z","principal":"svc-b","method":"PUT","path":"/w/WO3","status":403}
{"ts":"yesterday","principal":"svc-b","method":"PUT","path":"/w/WO3","status":403}
{"ts":"2026-11-20T00:00:04Z","principal":"svc-a","method":"PUT","path":"/w/WO1","status":403,"request_id":"r0"}
{"ts":"2026-11-20T00:00:05Z","method":"PUT","path":"/w/WO1","status":403}
{"ts":"2026-11-20T00:00:06Z","principal":"svc-c","method":"DELETE","path":"/w/WO9","status":404}
"#;

fn events_file(dir: &Path, name: &str, bytes: &[u8]) -> InputFile {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    InputFile {
        path: Some(path),
        table: Table::Events,
        explicit: true,
        stream: false,
    }
}

/// What a report depends on, in a comparable order.
/// Denial groups (name, count, first, last, samples), event stats, bad lines (line, reason).
type Essence = (
    Vec<(String, u64, Millis, Millis, Vec<String>)>,
    TableStats,
    Vec<(String, String)>,
);

fn essence(ingested: &Ingested) -> Essence {
    let mut groups: Vec<_> = ingested
        .events
        .denial_groups_copy()
        .iter()
        .map(|(k, g)| {
            let ids = g
                .samples
                .iter()
                .map(|s| format!("{:?}@{}", s.request_id, ingested.locate(s.position)))
                .collect();
            (
                format!("{} {} {}", k.principal, k.method, k.template),
                g.count,
                g.first_ts,
                g.last_ts,
                ids,
            )
        })
        .collect();
    groups.sort();
    let bad = ingested
        .bad_records
        .iter()
        .map(|b| {
            (
                ingested
                    .locate(b.position)
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_string(),
                b.kind.clone(),
            )
        })
        .collect();
    (groups, ingested.events.stats.clone(), bad)
}

#[test]
fn row_ranges_of_one_parquet_file_give_what_the_whole_file_gives() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let n = 40;
    let ts: Vec<String> = (0..n)
        .map(|i| format!("2026-11-20T00:00:{:02}Z", i % 60))
        .collect();
    let principal: Vec<String> = (0..n).map(|i| format!("svc-{}", i % 3)).collect();
    let path_column: Vec<String> = (0..n).map(|i| format!("/w/WO{}", i % 7)).collect();
    let status: Vec<i64> = (0..n).map(|i| if i % 4 == 0 { 403 } else { 200 }).collect();
    let request_id: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let mut df = df!(
        "ts" => ts,
        "principal" => principal,
        "method" => vec!["PUT"; n],
        "path" => path_column,
        "status" => status,
        "request_id" => request_id,
    )
    .unwrap();
    ParquetWriter::new(File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let file = || InputFile {
        path: Some(path.clone()),
        table: Table::Events,
        explicit: true,
        stream: false,
    };
    let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    for range_bytes in [1, size / 7, size / 2] {
        let options = IngestOptions {
            range_bytes,
            ..Default::default()
        };
        let units = event_units([(0, &file())].into_iter(), range_bytes);
        assert!(units.len() > 1, "range_bytes {range_bytes}: {units:?}");
        let cut = ingest(vec![file()], &options).unwrap();
        assert_eq!(essence(&cut), essence(&whole), "range_bytes {range_bytes}");
    }
    let (groups, stats, _) = essence(&whole);
    assert_eq!((stats.read, stats.used), (40, 40));
    // Rows keep their numbers in the file, whichever unit read them.
    let samples: Vec<&String> = groups.iter().flat_map(|g| &g.4).collect();
    assert!(
        samples
            .iter()
            .any(|s| s.starts_with("Some(\"r36\")@") && s.ends_with("events.parquet:37")),
        "{samples:?}"
    );
}

#[test]
fn ranges_of_one_file_give_what_the_whole_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let whole = ingest(
        vec![events_file(dir.path(), "a.jsonl", EVENTS.as_bytes())],
        &IngestOptions::default(),
    )
    .unwrap();
    for range_bytes in [1, 7, 50, 120, 400] {
        // Mapped into memory, or read with `read` (`--no-mmap`).
        for mmap in [true, false] {
            let options = IngestOptions {
                range_bytes,
                mmap,
                ..Default::default()
            };
            let cut = ingest(
                vec![events_file(dir.path(), "a.jsonl", EVENTS.as_bytes())],
                &options,
            )
            .unwrap();
            assert_eq!(
                essence(&cut),
                essence(&whole),
                "range_bytes {range_bytes}, mmap {mmap}"
            );
        }
    }
    let (groups, stats, bad) = essence(&whole);
    assert_eq!(groups[0].1, 2, "{groups:?}");
    assert_eq!((stats.read, stats.used, stats.skipped_total()), (8, 5, 3));
    let lines: Vec<&str> = bad.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        lines,
        vec!["3", "6", "8"],
        "blank lines still count as lines"
    );
}

const EVENTS_CSV: &str = "ts,principal,method,path,status,request_id,message
2026-11-20T00:00:01Z,svc-a,PUT,/w/WO1,403,r1,\"Forbidden, by policy\"
2026-11-20T00:00:02Z,svc-a,GET,/w/WO2,200,,
2026-11-20T00:00:03Z,svc-b,PUT,/w/WO3,403,,\"a \"\"quoted\"\" word\"
2026-11-20T00:00:03Z,svc-b,PUT
yesterday,svc-b,PUT,/w/WO3,403,,

2026-11-20T00:00:04Z,svc-a,PUT,/w/WO1,403,r0,
2026-11-20T00:00:06Z,svc-c,DELETE,/w/WO9,403,,";

#[test]
fn line_ranges_of_one_csv_file_give_what_the_whole_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let file = || events_file(dir.path(), "a.csv", EVENTS_CSV.as_bytes());
    let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
    for range_bytes in [1, 7, 50, 120, 400] {
        let ranges = plain_csv_ranges(&file(), range_bytes).unwrap().unwrap();
        let lines: u64 = ranges
            .iter()
            .map(|p| match p {
                Part::Lines { lines, .. } => *lines,
                _ => unreachable!("CSV is cut into line ranges"),
            })
            .sum();
        assert_eq!(lines, 9, "range_bytes {range_bytes}: {ranges:?}");
        for mmap in [true, false] {
            let options = IngestOptions {
                range_bytes,
                mmap,
                ..Default::default()
            };
            let cut = ingest(vec![file()], &options).unwrap();
            assert_eq!(
                essence(&cut),
                essence(&whole),
                "range_bytes {range_bytes}, mmap {mmap}"
            );
        }
    }
    let (groups, stats, bad) = essence(&whole);
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert_eq!((stats.read, stats.used), (7, 5));
    let lines: Vec<&str> = bad.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(lines, vec!["5", "6"], "{bad:?}");
}

/// A quoted cell holding a newline, and CRLF line ends (which the CSV
/// reader numbers its own way), keep a CSV file whole.
#[test]
fn csv_files_a_line_range_would_misread_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        EVENTS_CSV.replace("Forbidden, by policy", "Forbidden,\nby policy"),
        EVENTS_CSV.replace('\n', "\r\n"),
    ];
    for text in texts {
        let file = || events_file(dir.path(), "a.csv", text.as_bytes());
        assert!(plain_csv_ranges(&file(), 7).unwrap().is_none());
        let whole = ingest(vec![file()], &IngestOptions::default()).unwrap();
        let options = IngestOptions {
            range_bytes: 7,
            ..Default::default()
        };
        let cut = ingest(vec![file()], &options).unwrap();
        assert_eq!(essence(&cut), essence(&whole));
    }
}

#[test]
fn every_encoding_and_compression_reads_the_same() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let good: String = EVENTS
        .lines()
        .filter(|l| l.contains("\"ts\":\"2026"))
        .map(|l| format!("{l}\n"))
        .collect();
    let reference = essence(
        &ingest(
            vec![events_file(dir.path(), "ref.jsonl", good.as_bytes())],
            &IngestOptions::default(),
        )
        .unwrap(),
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(good.as_bytes()).unwrap();
    let zst = zstd::encode_all(good.as_bytes(), 3).unwrap();

    let records: Vec<serde_json::Value> = good
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let column = |name: &str| -> Vec<Option<String>> {
        records
            .iter()
            .map(|r| {
                r.get(name)
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            })
            .collect()
    };
    let names = ["ts", "principal", "method", "path", "status", "request_id"];
    let mut csv = names.join(",") + "\n";
    for i in 0..records.len() {
        let row: Vec<String> = names
            .iter()
            .map(|n| column(n)[i].clone().unwrap_or_default())
            .collect();
        csv += &(row.join(",") + "\n");
    }
    let mut df = DataFrame::new_infer_height(
        names
            .iter()
            .map(|n| Column::new((*n).into(), column(n)))
            .collect(),
    )
    .unwrap();
    let parquet_path = dir.path().join("e.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet_path).unwrap())
        .finish(&mut df)
        .unwrap();
    let parquet = std::fs::read(&parquet_path).unwrap();

    for (name, bytes) in [
        ("e.jsonl.gz", gz.finish().unwrap()),
        ("e.jsonl.zst", zst),
        ("e.csv", csv.into_bytes()),
        ("e2.parquet", parquet),
        ("no-extension", good.clone().into_bytes()),
    ] {
        let ingested = ingest(
            vec![events_file(dir.path(), name, &bytes)],
            &IngestOptions::default(),
        )
        .unwrap();
        let (groups, stats, _) = essence(&ingested);
        let strip = |g: &Vec<(String, u64, Millis, Millis, Vec<String>)>| -> Vec<(String, u64, Millis, Millis)> {
            g.iter().map(|(a, b, c, d, _)| (a.clone(), *b, *c, *d)).collect()
        };
        assert_eq!(strip(&groups), strip(&reference.0), "{name}");
        assert_eq!(stats, reference.1, "{name}");
    }
}

/// The fast path against the full path, through the whole of ingest.
mod fast_path {
    use super::*;
    use crate::ingest::record::fields::FieldMap;
    use crate::ingest::record::formats::{self, InputFormat};
    use crate::ingest::source::decode::SizeLimits;

    /// Everything ingest keeps of the events, in a comparable form.
    fn everything(ingested: &Ingested) -> String {
        let events = &ingested.events;
        let denials = events.denial_groups_copy();
        let successes: BTreeMap<_, _> = events.successes.iter().collect();
        // What was read of objects (allowed, answered 404) is in the denials'
        // object facts.
        format!(
            "{denials:?}\n{successes:?}\n{:?}\n{:?}\n{:?}",
            events.other_statuses, events.stats, ingested.bad_records
        )
    }

    fn both_ways(files: impl Fn() -> Vec<InputFile>) -> (String, String) {
        // The sample templates are learned from, read both ways too.
        let sample = |flat| {
            let (map, format) = (FieldMap::default(), InputFormat::Auto);
            template::sample_paths(&files(), &map, format, SizeLimits::default(), flat).unwrap()
        };
        assert_eq!(sample(Some(fold::fast::sampled_path)), sample(None));
        let fast = ingest(files(), &IngestOptions::default()).unwrap();
        let full = ingest(
            files(),
            &IngestOptions {
                fast_path: false,
                ..IngestOptions::default()
            },
        )
        .unwrap();
        (everything(&fast), everything(&full))
    }

    #[test]
    fn the_fast_path_keeps_exactly_what_the_full_path_keeps() {
        for scenario in ["maintenance", "project", "resources", "inventory"] {
            let folder = format!("{}/sample_logs/{scenario}", env!("CARGO_MANIFEST_DIR"));
            let (fast, full) = both_ways(|| input::resolve(&folder, None).unwrap());
            assert_eq!(fast, full, "{scenario}");
        }
    }

    #[test]
    fn lines_the_fast_path_cannot_read_exactly_take_the_full_path() {
        let lines = [
            r#"{"ts":"2026-11-20T00:00:01Z","principal":"svc-a","method":"GET","path":"/w/1?k=v","status":200,"fields":[" b","a","b",""]}"#,
            r#"{"ts":1763596802,"principal":"svc-a","method":"get","path":"/w/2","status":"200"}"#,
            r#"{"ts":"2026-11-20T00:00:03Z","principal":" svc-\u0061 ","method":"GET","path":"/w/3","status":201,"org":" "}"#,
            r#"{"ts":"2026-11-20T00:00:04Z","principal":"svc-a","method":"GET","path":"/w/4","status":200,"scopes":{"a":1}}"#,
            r#"{"ts":"2026-11-20T00:00:05Z","principal":"svc-a","method":"GET","path":"/w/5","status":200,"scopes":"[not json"}"#,
            r#"{"ts":"2026-11-20T00:00:06Z","principal":"svc-a","method":"GET","path":"/w/6","status":200,"status":403}"#,
            r#"{"ts":"2026-11-20T00:00:07Z","principal":"svc-a","method":"GET","path":"/w/7","status":200,"object_id":42}"#,
            r#"{"ts":"2026-11-20 00:00:08Z","principal":"svc-a","method":"GET","path":"/w/8","status":200,"fields":"x y"}"#,
            r#"{"ts":"2026-11-20T00:00:09","principal":"svc-a","method":"GET","path":"/w/9","status":200}"#,
            r#"{"ts":"2026-11-20T00:00:10Z","principal":"","method":"GET","path":"/w/10","status":200}"#,
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","user":{"username":"u"},"requestURI":"/api/v1/pods","responseStatus":{"code":200},"stageTimestamp":"2026-11-20T00:00:11Z"}"#,
            r#"{"ts":"2026-11-20T00:00:12Z","principal":"svc-a","method":"GET","path":"/w/12","status":200,"scopes":"a b","org":"EU","object_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"ts":"2026-11-20T00:00:13Z","principal":"svc-a","method":"GET","path":"/w/13","status":404}"#,
            r#"{"ts":"2026-11-20T00:00:14Z","principal":"svc-a","method":"GET","path":"/w/14","status":99}"#,
            // What the scanner declines: escapes and nesting in ignored fields, numbers
            // serde reads otherwise, and lines serde_json rejects.
            r#"{"ts":"2026-11-20T00:00:16Z","principal":"svc-a","method":"GET","path":"/w/16","status":200,"ua":"a\"b","geo":{"c":[1,{"d":"\u00e9"}]}}"#,
            r#"{"ts":"2026-11-20T00:00:17Z","principal":"svc-a","method":"GET","path":"/w/17","status":2e2}"#,
            r#"{"ts":"2026-11-20T00:00:18Z","principal":"svc-a","method":"GET","path":"/w/18","status":200.0}"#,
            r#"{"ts":"2026-11-20T00:00:19Z","principal":"svc-a","method":"GET","path":"/w/19","status":200,"latency":01}"#,
            r#"{"ts":"2026-11-20T00:00:20Z","principal":"svc-a","method":"GET","path":"/w/20","status":200,"geo":{"a":1,}}"#,
            r#"{"ts":"2026-11-20T00:00:21Z","principal":"svc-a","method":"GET","path":"/w/21","status":200} {"x":1}"#,
            r#"{"ts":"2026-11-20T00:00:22Z","principal":"svc-a","method":"GET","path":"/w/22","status":200,"fields":["a","b\u0063"],"x":null,"y":[true,false,-0.5e-3]}"#,
        ];
        let mut text = (lines.join("\n") + "\n").into_bytes();
        // Invalid UTF-8 in a field the fast path ignores (found by fuzzing).
        text.extend(b"{\"ts\":\"2026-11-20T00:00:23Z\",\"principal\":\"svc-a\",\"method\":\"GET\",\"path\":\"/w/23\",\"status\":200,\"ua\":\"a\tb\"}\n");
        text.extend(b"{\"ts\":\"2026-11-20T00:00:15Z\",\"principal\":\"svc-a\",\"method\":\"GET\",\"path\":\"/w/15\",\"status\":200,\"request_id\":\"\xff\xfe\"}\n");
        // Denials and other responses the fast path reads into events, or declines.
        let others = [
            r#"{"ts":"2026-11-20T00:00:25Z","principal":" svc-b ","method":"post","path":"/w/25?token=x#f","status":403,"token_id":"tok-1","request_id":"r-25","error_code":" INSUFFICIENT_SCOPE ","message":"Forbidden","scopes":"a.read, b.write a.read","fields":["z"," y"],"org":"EU","object_id":" o-1 ","headers":{"WWW-Authenticate":"Bearer error=insufficient_scope","Authorization":"Bearer x"}}"#,
            r#"{"ts":"2026-11-20T00:00:26Z","principal":"svc-b","method":"GET","path":"/w/26","status":403,"scopes":[" a ","b","a",""],"headers":[{"name":"X-Required-Scope","value":"w.read"}],"message":null,"token_id":null}"#,
            r#"{"ts":"2026-11-20T00:00:27Z","principal":"svc-b","method":"GET","path":"/w/27","status":403,"request_id":27,"scopes":[]}"#,
            r#"{"ts":"2026-11-20T00:00:28Z","principal":"svc-b","method":"GET","path":"/w/28","status":403,"headers":"plain","error_code":true}"#,
            r#"{"ts":"2026-11-20T00:00:29Z","principal":"svc-b","method":"GET","path":"/w/29","status":500,"message":"{x","timestamp":1,"id":"i"}"#,
            r#"{"ts":"2026-11-20T00:00:30Z","principal":"svc-a","method":"GET","path":"/w/30","status":200,"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"GetObject","eventSource":"s3.amazonaws.com","eventTime":"2026-11-20T00:00:30Z","awsRegion":"eu-west-1"}}"#,
            r#"{"ts":"2026-11-20T00:00:31Z","principal":"svc-c","method":"DELETE","path":"/w/31/x","status":403,"scopes":null,"headers":null,"fields":null}"#,
            r#"{"ts":"2026-11-20T00:00:32Z","principal":"svc-c","method":"GET","path":"/w/32","status":403,"scopes":"[bad"}"#,
            r#"{"ts":"2026-11-20T00:00:33Z","principal":"","method":"GET","path":"/w/33","status":401}"#,
            r#"{"ts":"1900-01-01T00:00:00Z","principal":"svc-c","method":"GET","path":"/w/34","status":403}"#,
            r#"{"ts":"2026-11-20T00:00:35Z","principal":"svc-c","method":"GET","path":"/w/35","status":403,"headers":7,"category":"kube-audit-admin"}"#,
            r#"{"ts":"2026-11-20T00:00:36Z","principal":"svc-c","method":"GET","path":"/w/36","status":403,"scopes":{"a":1}}"#,
        ];
        text.extend((others.join("\n") + "\n").into_bytes());
        // Numbers past f64's range, which serde_json fails to build: lines 36 and 37.
        text.extend(br#"{"ts":"2026-11-20T00:00:37Z","principal":"svc-a","method":"GET","path":"/w/37","status":200,"latency":1e999}
{"ts":"2026-11-20T00:00:38Z","principal":"svc-c","method":"GET","path":"/w/38","status":403,"bytes":[-2.5E+400]}
"#);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, text).unwrap();
        let files = || {
            vec![InputFile {
                path: Some(path.clone()),
                table: Table::Events,
                explicit: true,
                stream: false,
            }]
        };
        let (fast, full) = both_ways(files);
        assert_eq!(fast, full);
        assert!(
            full.contains("bad list") && full.contains("bad timestamp"),
            "{full}"
        );
        assert!(
            full.contains("line: 23"),
            "the invalid UTF-8 line is skipped: {full}"
        );
        assert!(
            full.contains("GetObject"),
            "the wrapped record is read: {full}"
        );
        assert!(
            full.contains("w.read") && full.contains("b.write"),
            "{full}"
        );
        for line in [18, 19, 22, 36, 37] {
            assert!(
                full.contains(&format!("line: {line}")),
                "line {line} is malformed: {full}"
            );
        }
    }

    #[test]
    fn cloudtrail_files_read_alike_from_text_and_from_trees() {
        let identity = |role: &str| {
            format!(
                r#"{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/{role}/s","sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111122223333:role/{role}"}}}}}}"#
            )
        };
        let records = [
            format!(r#"{{"eventTime":"2026-11-20T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","userIdentity":{},"requestParameters":{{"bucketName":"b","key":"k"}},"recipientAccountId":"111122223333"}}"#, identity("Reader")),
            format!(r#"{{"eventTime":"2026-11-20T08:00:01Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"eu-west-1","userIdentity":{},"errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{{"bucketName":"b","key":"k\u00e9"}},"recipientAccountId":"111122223333"}}"#, identity("Writer")),
            // Records the tree reads: a bad timestamp (skipped, and quarantined
            // whole), another format's record, a repeated nested key.
            format!(r#"{{"eventTime":"soon","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{}}}"#, identity("Reader")),
            r#"{"ts":"2026-11-20T08:00:02Z","principal":"svc","method":"GET","path":"/a","status":403}"#.to_string(),
            r#"{"eventTime":"2026-11-20T08:00:03Z","eventName":"ListBuckets","awsRegion":"eu-west-1","userIdentity":{"arn":"arn:aws:iam::1:user/a","arn":"arn:aws:iam::1:user/b"},"errorCode":"AccessDenied"}"#.to_string(),
            "[1]".to_string(),
            format!(r#"{{"eventName":"x","awsRegion":"r","deep":{}1{}}}"#, "[".repeat(130), "]".repeat(130)),
        ];
        let dir = tempfile::tempdir().unwrap();
        let line = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        std::fs::write(dir.path().join("trail.json"), line + "\n").unwrap();
        let pretty = format!("{{\n  \"Records\": [\n{}\n  ]\n}}\n", records.join(",\n"));
        std::fs::write(dir.path().join("pretty.json"), pretty).unwrap();
        // Records that all read from their text: the file is read in one pass.
        let good = format!(r#"{{"Records":[{}]}}"#, records[..2].join(","));
        std::fs::write(dir.path().join("good.json"), good + "\n").unwrap();
        // Allowed records of every shape read in one pass: counted without
        // their event, as the tree's events are.
        let allowed = [
            r#"{"eventTime":"2026-11-20T08:01:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"eu-west-1","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"},"resources":[{"ARN":"arn:aws:kms:eu-west-1:1:key/k1"}],"recipientAccountId":"1"}"#,
            r#"{"eventTime":"2026-11-20T08:01:01Z","eventSource":"ec2.amazonaws.com","eventName":"StopInstances","awsRegion":"eu-west-1","userIdentity":{"type":"AWSAccount","principalId":"AROAEXAMPLE:job"},"requestParameters":{"instancesSet":{"items":[{"instanceId":"i-1"}]}},"recipientAccountId":"1"}"#,
            r#"{"eventTime":"2026-11-20T08:01:02Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"},"errorMessage":"User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/named","requestParameters":{"bucketName":"b","key":"k"}}"#,
            r#"{"eventTime":"2026-11-20T08:01:03Z","eventSource":"lambda.amazonaws.com","eventName":"ListFunctions20150331","awsRegion":"eu-west-1","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Lister/s"},"errorCode":"ThrottlingException","recipientAccountId":"1"}"#,
            r#"{"eventTime":"2026-11-20T08:01:04Z","eventSource":"lambda.amazonaws.com","eventName":"ListFunctions20150331","awsRegion":"eu-west-1","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Lister/s2"},"recipientAccountId":" 1 ","errorCode":""}"#,
            r#"{"eventTime":"2026-11-20T08:01:05Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"},"requestParameters":{"bucketName":"b","key":"AKIAIOSFODNN7EXAMPLE/wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}"#,
        ];
        let allowed = format!(r#"{{"Records":[{},{}]}}"#, records[0], allowed.join(","));
        let in_one_pass = formats::envelope_records(allowed.as_bytes(), InputFormat::Auto);
        assert_eq!(in_one_pass.map(|records| records.len()), Some(7));
        std::fs::write(dir.path().join("allowed.json"), allowed + "\n").unwrap();
        let folder = dir.path().display().to_string();
        let files = || input::resolve(&folder, None).unwrap();
        let (fast, full) = both_ways(files);
        assert_eq!(fast, full);
        for reason in ["bad timestamp", "not a JSON object", "recursion limit"] {
            assert!(full.contains(reason), "{reason}: {full}");
        }
        assert!(fast.contains("role/Writer"), "{fast}");
        for counted in ["lambda:ListFunctions", "AROAEXAMPLE", "kms:Decrypt"] {
            assert!(fast.contains(counted), "{counted}: {fast}");
        }
    }

    #[test]
    fn generated_logs_read_alike_both_ways() {
        use crate::generate::{self, GenerateOptions};
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            principals: 40,
            seed: 3,
            ..GenerateOptions::new(dir.path().to_path_buf(), 20_000)
        };
        generate::generate(&options, |_| {}).unwrap();
        let logs = dir.path().join("logs").display().to_string();
        let (fast, full) = both_ways(|| input::resolve(&logs, None).unwrap());
        assert_eq!(fast, full);
    }

    /// The sample read a batch of lines at a time ends at the same event as
    /// one read record by record: inside a line of two records, with
    /// malformed, too long and blank lines, and a second file, on the way.
    #[test]
    fn the_sample_ends_at_the_same_event_read_either_way() {
        let limits = SizeLimits {
            record: 200,
            ..SizeLimits::default()
        };
        let line = |path: &str| {
            format!(
                r#"{{"ts":"2026-11-20T00:00:01Z","principal":"p","method":"GET","path":"{path}","status":200}}"#
            )
        };
        // 199,999 events, each a line, then a line of two records: the first
        // is the sample's last event.
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..199_999 {
            match i % 5_000 {
                17 => text.push_str("{not json\n"),
                33 => text.push_str(&format!("{}\n", line(&"/x".repeat(100)))),
                _ => {
                    let path = format!("/a/{i}");
                    text.push_str(&(line(&path) + "\n"));
                    expected.push((path, false));
                }
            }
            if i % 7_000 == 5 {
                text.push_str("\n  \n");
            }
        }
        text.push_str(&format!("{}{}\n", line("/pair/1"), line("/pair/2")));
        expected.push(("/pair/1".to_string(), false));
        text.push_str(&(line("/after/1") + "\n"));
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            events_file(dir.path(), "a.jsonl", text.as_bytes()),
            events_file(dir.path(), "b.jsonl", (line("/b/1") + "\n").as_bytes()),
        ];
        let sample = |flat| {
            let (map, format) = (FieldMap::default(), InputFormat::Auto);
            template::sample_paths(&files, &map, format, limits, flat).unwrap()
        };
        let flat = sample(Some(fold::fast::sampled_path));
        assert_eq!(flat.len(), expected.len());
        assert!(
            flat == expected,
            "the sample's paths differ from the lines'"
        );
        assert!(sample(None) == expected, "the decoded sample differs");

        // 1,000 events without a path: nothing after them is sampled.
        let pathless = r#"{"ts":"2026-11-20T00:00:01Z","principal":"p","status":200}"#;
        let text = format!(
            "{}{}\n",
            format!("{pathless}\n").repeat(1_000),
            line("/late")
        );
        let files = vec![events_file(dir.path(), "a.jsonl", text.as_bytes())];
        let sample = |flat| {
            let (map, format) = (FieldMap::default(), InputFormat::Auto);
            template::sample_paths(&files, &map, format, limits, flat).unwrap()
        };
        assert_eq!(sample(Some(fold::fast::sampled_path)), vec![]);
        assert_eq!(sample(None), vec![]);
    }
}
