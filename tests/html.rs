//! The HTML report in a real browser: each sample scenario's page renders in
//! headless Chromium with its accounts, missing permissions and charts, and a
//! screenshot is saved to `target/report-screenshots/<scenario>.png` for a
//! person to look at (and the printed PDF beside it).
//!
//! `.ci/run` installs Debian's `chromium`. Outside CI, without a browser, the
//! test says so and passes; in CI (`CI` set) a missing browser fails it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::grantgap;

/// (scenario, text the rendered page must show).
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "maintenance",
        &[
            "svc-maint-automation",
            "maintenance.workorder.update",
            "svc-maint-costs",
            "maintenance.workorder.cost.update",
            "Maintenance_API_Full_Access",
        ],
    ),
    (
        "project",
        &[
            "svc-project-sync",
            "project.tasks.assignments.manage",
            "scope_not_requested",
            "stale_token",
        ],
    ),
    (
        "resources",
        &[
            "svc-shift-handover",
            "OperatorAssignment",
            "object_acl",
            "gateway_policy",
        ],
    ),
    (
        "inventory",
        &[
            "svc-wms-integration",
            "data_scope",
            "svc-wms-legacy",
            "CUSTOM_REST_ACCESS_PRIV",
        ],
    ),
];

fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GRANTGAP_CHROMIUM") {
        return Some(path.into());
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn headless(browser: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("the browser starts")
}

#[test]
fn each_scenarios_html_report_renders_in_chromium() {
    let Some(browser) = browser() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no chromium on PATH: .ci/run installs Debian's chromium (or set GRANTGAP_CHROMIUM)"
        );
        eprintln!("skipped: no chromium on PATH (install it, or set GRANTGAP_CHROMIUM)");
        return;
    };
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (scenario, expected) in EXPECTED {
        let page = shots.join(format!("{scenario}.html"));
        let out = grantgap(&[
            "report",
            &format!("sample_logs/{scenario}"),
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://") && !html.contains(" src="),
            "{scenario}: the page must load nothing from outside"
        );

        let url = format!("file://{}", page.display());
        let dom = headless(&browser, &["--dump-dom", &url]);
        let dom = String::from_utf8_lossy(&dom.stdout);
        // `<wbr>` (a line-break opportunity) is not text.
        let text_of_dom = dom.replace("<wbr>", "");
        for text in *expected {
            assert!(
                text_of_dom.contains(text),
                "{scenario}: the rendered page lacks {text:?}"
            );
        }
        for chart in [
            "accounts-chart",
            "timeline-by-cause",
            "timeline-by-signature",
        ] {
            assert!(
                dom.contains(&format!("id=\"{chart}\"")),
                "{scenario}: no {chart}"
            );
        }
        assert!(
            dom.matches("<rect").count() > 5,
            "{scenario}: the charts have no bars"
        );
        assert!(
            dom.contains("<polyline"),
            "{scenario}: the signature chart has no lines"
        );
        // The charts explain themselves: axes named, spike marks in the legend.
        for text in [
            "bucket start (UTC)",
            "denials per ",
            "spike: a bucket far above the ones before it",
        ] {
            assert!(dom.contains(text), "{scenario}: the charts lack {text:?}");
        }
        // Identifiers break between their parts (<wbr>), never inside a word.
        assert!(dom.contains("<wbr>") && !html.contains("overflow-wrap: anywhere"));

        let shot = shots.join(format!("{scenario}.png"));
        let _ = std::fs::remove_file(&shot);
        let taken = headless(
            &browser,
            &[
                "--window-size=1280,2400",
                &format!("--screenshot={}", shot.display()),
                &url,
            ],
        );
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 20_000,
            "{scenario}: screenshot {} is {size} bytes: {}",
            shot.display(),
            String::from_utf8_lossy(&taken.stderr)
        );

        // It prints: the print stylesheet gives a multi-page PDF.
        let pdf = shots.join(format!("{scenario}.pdf"));
        let _ = std::fs::remove_file(&pdf);
        headless(
            &browser,
            &[&format!("--print-to-pdf={}", pdf.display()), &url],
        );
        let printed = std::fs::read(&pdf).unwrap_or_default();
        assert!(printed.starts_with(b"%PDF"), "{scenario}: no PDF printed");
        let pages = printed
            .windows(10)
            .filter(|w| w == b"/Type /Pag" || w == b"/Type/Page")
            .count();
        assert!(pages >= 2, "{scenario}: {pages} pages");
    }
}

#[test]
fn tables_sort_on_a_click_in_chromium() {
    let Some(browser) = browser() else {
        assert!(std::env::var_os("CI").is_none(), "no chromium on PATH");
        eprintln!("skipped: no chromium on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("maintenance.html");
    let out = grantgap(&[
        "report",
        "sample_logs/maintenance",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    // Click "Denied" in the accounts table twice (descending, then ascending)
    // and write down the first row after each click.
    let clicks = r##"<script>
      var th = document.querySelector("#accounts table th.num");
      var first = function () { return document.querySelector("#accounts table tbody tr td").textContent; };
      th.click(); document.body.dataset.afterOne = first();
      th.click(); document.body.dataset.afterTwo = first();
    </script>"##;
    let html = std::fs::read_to_string(&page)
        .unwrap()
        .replace("</body>", &format!("{clicks}</body>"));
    std::fs::write(&page, html).unwrap();
    let dom = headless(
        &browser,
        &["--dump-dom", &format!("file://{}", page.display())],
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(r#"data-after-one="svc-maint-automation""#),
        "{dom}"
    );
    assert!(dom.contains(r#"data-after-two="svc-maint-costs""#), "{dom}");
}
