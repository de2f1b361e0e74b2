//! The layering of the crate, checked from its source: each module may use only
//! the modules listed for it below (the stages in pipeline order, the shared
//! modules beneath them), the list has no cycle, and no module outside
//! `ingest` reaches into ingest's folders (`source`, `record`, `fold`): it uses
//! what `ingest/mod.rs` exports. A new import that breaks this fails here; if
//! it is right, change the table and say why in the commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `src/` and the modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("choice", &[]),
    ("clock", &[]),
    ("output", &[]),
    ("ingest", &["model", "clock", "output"]),
    ("correlate", &["model", "ingest"]),
    ("diagnose", &["model", "ingest", "correlate"]),
    ("cluster", &["model", "ingest", "correlate", "diagnose"]),
    (
        "spikes",
        &["model", "ingest", "correlate", "diagnose", "cluster"],
    ),
    (
        "report",
        &[
            "model",
            "choice",
            "output",
            "ingest",
            "correlate",
            "diagnose",
            "cluster",
            "spikes",
        ],
    ),
    (
        "pipeline",
        &[
            "model",
            "clock",
            "ingest",
            "correlate",
            "diagnose",
            "cluster",
            "spikes",
            "report",
        ],
    ),
    ("generate", &["model", "choice", "diagnose"]),
    ("evaluate", &["model", "diagnose"]),
    (
        "cli",
        &[
            "model", "choice", "output", "ingest", "diagnose", "cluster", "spikes", "report",
            "pipeline", "generate", "evaluate",
        ],
    ),
];

/// The `crate::NAME…` paths a source file names in code (comments and tests
/// left out: a doc link is no dependency, and tests may reach anywhere). A
/// group, `crate::{a, b::c}`, gives each of its paths.
fn crate_paths(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // The group's top-level parts, up to its closing brace.
            let (mut depth, mut part) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.push(std::mem::take(&mut part));
                        continue;
                    }
                    _ => {}
                }
                if !c.is_whitespace() {
                    part.push(c);
                }
            }
            paths.push(part);
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            paths.push(after[..end].to_string());
        }
        rest = after;
    }
    paths.retain(|p| !p.is_empty());
    paths
}

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn modules_use_only_the_modules_beneath_them() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" || rel.ends_with("tests.rs") {
            continue;
        }
        let Some(may_use) = allowed.get(top.as_str()) else {
            broken.push(format!(
                "{}: module `{top}` is not in the table",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for path in crate_paths(&text) {
            let used = path.split("::").next().unwrap_or_default();
            if used == top || used == "self" {
                continue;
            }
            if !may_use.contains(used) {
                broken.push(format!("{}: `{top}` uses `crate::{path}`", rel.display()));
            }
            let inside = ["ingest::source", "ingest::record", "ingest::fold"];
            if top != "ingest" && inside.iter().any(|i| path.starts_with(i)) {
                broken.push(format!(
                    "{}: `crate::{path}` is inside ingest: use what ingest/mod.rs exports",
                    rel.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_table_has_no_cycle() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Depth-first from every module; a module met again on the current path is a cycle.
    fn visit<'a>(
        module: &'a str,
        allowed: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        assert!(!path.contains(&module), "cycle: {path:?} -> {module}");
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in allowed.get(module).copied().unwrap_or_default() {
            visit(next, allowed, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in allowed.keys() {
        visit(module, &allowed, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_check_sees_imports() {
    let text = "use crate::model::Millis;\nuse crate::{\n    cluster,\n    report::{self, Report},\n};\n// crate::cli\nlet x = crate::ingest::source::input::resolve;\n#[cfg(test)]\nuse crate::pipeline;";
    assert_eq!(
        crate_paths(text),
        [
            "model::Millis",
            "cluster",
            "report::{self,Report}",
            "ingest::source::input::resolve"
        ]
    );
}
