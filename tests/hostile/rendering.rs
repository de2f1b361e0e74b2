//! Rendering: text from the logs (principals, methods, paths, messages, object
//! ids, permissions, role names) shows as text in every output for people:
//! no spreadsheet formula in CSV, no terminal escape or extra line in a table,
//! no HTML or link in Markdown, no HTML section reached by another account's link.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::common::stdout_of;

/// What an attacker writes into the fields of a log, and a role name an
/// administrator copied from one.
struct Texts {
    principal: &'static str,
    method: &'static str,
    path: &'static str,
    message: &'static str,
    object_id: &'static str,
    permission: &'static str,
    role: &'static str,
}

const HOSTILE: Texts = Texts {
    principal: "=HYPERLINK(\"http://x\",\"click\")\nsvc-forged  99 denied\r\x1b[2J\x1b]8;;http://evil\x07ok\x1b]8;;\x07\u{85}\u{202e}<script>alert(1)</script>![i](javascript:alert(1))*_`|#~",
    method: "get<img src=x onerror=alert(1)>",
    path: "/api/<svg onload=alert(1)>/orders\n-1+1",
    message: "-cmd|' /C calc'!A0 \x1b[31mred\n[click](javascript:alert(1))",
    object_id: "@SUM(1+1)*cmd|' /C calc'!A0",
    permission: "+orders.write",
    role: "=cmd|' /C calc'!A0\n<img src=x onerror=alert(1)>",
};

const CLEAN: Texts = Texts {
    principal: "svc-orders",
    method: "POST",
    path: "/api/orders",
    message: "Forbidden",
    object_id: "o-1",
    permission: "orders.write",
    role: "orders-writer",
};

/// A bundle in `dir`: a steady account denied once per 5-minute bucket for an
/// hour; `svc.a` and `svc_a`, denied once each; and `t.principal`, whose role
/// granting `t.permission` is removed at 00:50 and which is denied 12 times at
/// 01:00 (a spike), on `t.method t.path`, with `t.message` and `t.object_id`.
fn bundle(dir: &Path, t: &Texts) {
    let at = |minute: u32, second: u32| {
        format!(
            "2026-11-16T{:02}:{:02}:{second:02}Z",
            minute / 60,
            minute % 60
        )
    };
    let health = |ts: String, principal: &str, status: u16| {
        json!({"ts": ts, "principal": principal, "method": "GET", "path": "/api/health",
               "status": status})
    };
    let mut events = Vec::new();
    for bucket in 0..12 {
        events.push(health(at(bucket * 5, 0), "svc-steady", 403));
        events.push(health(at(bucket * 5, 1), t.principal, 200));
    }
    events.push(health(at(10, 0), "svc.a", 403));
    events.push(health(at(10, 1), "svc_a", 403));
    for second in 0..12 {
        events.push(json!({
            "ts": at(60, second), "principal": t.principal, "method": t.method, "path": t.path,
            "status": 403, "message": t.message, "object_id": t.object_id,
            "headers": {"x-required-scope": t.permission},
        }));
    }
    let snapshots = [
        json!({"principal": t.principal, "role": t.role, "snapshot_at": at(0, 0)}),
        json!({"principal": t.principal, "role": "api-reader", "snapshot_at": at(0, 0)}),
        json!({"principal": t.principal, "role": "api-reader", "snapshot_at": at(50, 0)}),
    ];
    let roles = [
        json!({"role": t.role, "permissions": [t.permission]}),
        json!({"role": "api-reader", "permissions": ["health.read"]}),
    ];
    let lines =
        |rows: &[serde_json::Value]| rows.iter().map(|r| format!("{r}\n")).collect::<String>();
    std::fs::write(dir.join("events.jsonl"), lines(&events)).unwrap();
    std::fs::write(dir.join("role_snapshots.jsonl"), lines(&snapshots)).unwrap();
    std::fs::write(dir.join("roles.jsonl"), lines(&roles)).unwrap();
}

/// The hostile and the clean bundle, in their own folders.
fn bundles() -> (tempfile::TempDir, tempfile::TempDir) {
    let (hostile, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    bundle(hostile.path(), &HOSTILE);
    bundle(clean.path(), &CLEAN);
    (hostile, clean)
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

/// The rows of a CSV text, after checking that no cell starts a formula.
fn cells_without_formulas(text: &str, what: &str) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{what}: a cell starts a formula: {cell:?}"
        );
    }
    rows
}

#[test]
fn csv_cells_cannot_start_formulas() {
    let (hostile, _) = bundles();
    let report = stdout_of(&["report", path(&hostile), "--format", "csv"]);
    let rows = cells_without_formulas(&report, "report --format csv");
    let column = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let row = rows
        .iter()
        .find(|r| r[column("principal")] == format!("'{}", HOSTILE.principal))
        .unwrap_or_else(|| panic!("the principal is kept whole behind a quote:\n{report}"));
    assert_eq!(
        row[column("permission")],
        format!("'{}", HOSTILE.permission)
    );
    assert_eq!(row[column("grant_roles")], format!("'{}", HOSTILE.role));
    assert_eq!(row[column("objects")], format!("'{}", HOSTILE.object_id));
    assert_eq!(row[column("count")], "12", "numbers are untouched");

    let lake = tempfile::tempdir().unwrap();
    stdout_of(&[
        "report",
        path(&hostile),
        "--export",
        path(&lake),
        "--export-format",
        "csv",
    ]);
    let mut tables = BTreeMap::new();
    for file in std::fs::read_dir(lake.path()).unwrap() {
        let file = file.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let rows = cells_without_formulas(&text, &name);
        tables.insert(name, rows);
    }
    let denials = &tables["denials"];
    let column = |name: &str| denials[0].iter().position(|h| h == name).unwrap();
    let hostile_rows: Vec<_> = denials
        .iter()
        .filter(|r| r[column("principal")] == format!("'{}", HOSTILE.principal))
        .collect();
    assert!(!hostile_rows.is_empty(), "{denials:?}");
    for row in hostile_rows {
        assert_eq!(row[column("object_id")], format!("'{}", HOSTILE.object_id));
        assert_eq!(row[column("count")], "12", "numbers are untouched");
        assert_eq!(row[column("status")], "403", "numbers are untouched");
    }
}

/// No byte a terminal acts on (other than the line ends), no C1 or bidi
/// control, and as many lines as the same run with clean names.
fn assert_plain_lines(text: &str, clean: &str, what: &str) {
    let acted_on = |c: char| {
        (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    assert!(
        !text.contains(acted_on),
        "{what} writes a control character:\n{text:?}"
    );
    assert_eq!(
        text.lines().count(),
        clean.lines().count(),
        "{what}: names from the logs add lines:\n{text}\n--- with clean names:\n{clean}"
    );
}

#[test]
fn terminal_output_has_no_control_characters() {
    let (hostile, clean) = bundles();
    let shown_principal = "click\")\\nsvc-forged  99 denied\\r\\x1b[2J\\x1b]8;;http://evil\\x07ok";
    let sql = "SELECT principal, method, endpoint, message, object_id FROM denials ORDER BY count, principal";
    let runs: [(&str, Vec<&str>, &str); 4] = [
        ("report", vec!["report"], shown_principal),
        (
            "signatures",
            vec!["signatures"],
            "GET<IMG SRC=X ONERROR=ALERT(1)>",
        ),
        ("spikes", vec!["spikes"], shown_principal),
        ("query", vec!["query", sql], shown_principal),
    ];
    for (what, args, shown) in runs {
        let run = |dir: &tempfile::TempDir| {
            let mut all = args.clone();
            all.push(path(dir));
            stdout_of(&all)
        };
        let text = run(&hostile);
        assert_plain_lines(&text, &run(&clean), what);
        assert!(
            text.contains(shown),
            "{what} shows {shown:?} escaped:\n{text}"
        );
    }
    // The role name reaches the table report (its fix) and the spike (its removal).
    let escaped_role = "=cmd|' /C calc'!A0\\n<img src=x onerror=alert(1)>";
    for command in ["report", "spikes"] {
        let text = stdout_of(&[command, path(&hostile)]);
        assert!(text.contains(escaped_role), "{command}:\n{text}");
    }
}

#[test]
fn markdown_cannot_inject_html() {
    let (hostile, clean) = bundles();
    let text = stdout_of(&["report", path(&hostile), "--format", "markdown"]);
    assert_plain_lines(
        &text,
        &stdout_of(&["report", path(&clean), "--format", "markdown"]),
        "markdown",
    );
    // No tag, autolink or raw HTML of any kind: grantgap's Markdown uses no `<`.
    assert!(!text.contains('<'), "{text}");
    // No link or image forms: every bracket and parenthesis of a log's text is escaped.
    for shape in ["](", "![", "[x]", "[i]", "[click]"] {
        assert!(!text.contains(shape), "{shape} in:\n{text}");
    }
    for (i, _) in text.match_indices("javascript:") {
        assert!(
            text[..i].ends_with("\\("),
            "an unescaped javascript: link:\n{text}"
        );
    }
    // The principal's heading and the signatures' method column, escaped.
    assert!(
        text.contains(
            "## =HYPERLINK\\(\"http://x\",\"click\"\\)\\\\nsvc-forged  99 denied\\\\r\\\\x1b\\[2J"
        ),
        "{text}"
    );
    assert!(
        text.contains("| GET&lt;IMG SRC=X ONERROR=ALERT\\(1\\)&gt; /api/&lt;svg onload=alert\\(1\\)&gt;/orders\\\\n-1+1 |"),
        "{text}"
    );
    assert!(text.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;\\!\\[i\\]\\(javascript:alert\\(1\\)\\)\\*\\_\\`\\|\\#\\~"), "{text}");
}

#[test]
fn html_ids_are_unique_and_links_resolve() {
    let (hostile, _) = bundles();
    let page = stdout_of(&["report", path(&hostile), "--format", "html"]);
    let values = |attribute: &str| -> Vec<&str> {
        page.split(attribute)
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect()
    };
    let ids = values(" id=\"");
    let mut seen = BTreeMap::new();
    for id in &ids {
        *seen.entry(*id).or_insert(0) += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "duplicate ids: {seen:?}");
    let targets = values(" href=\"#");
    assert_eq!(targets.len(), 4, "a link per account: {targets:?}");
    for target in targets {
        assert_eq!(seen.get(target), Some(&1), "#{target} has no section");
        // The link's text and the heading of the section it reaches are the same account.
        let link = format!("href=\"#{target}\">");
        let name = &page[page.find(&link).unwrap() + link.len()..];
        let name = &name[..name.find("</a>").unwrap()];
        let section = format!("id=\"{target}\"><h3>{name}</h3>");
        assert!(page.contains(&section), "#{target} is not {name}'s section");
    }
    // The principal's `</script>` is text: the page's one script is the sorting one.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert_eq!(page.matches("</script>").count(), 1, "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}
