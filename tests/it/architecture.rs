//! The architecture of `src/` (issue 12's "Done when"), checked by reading the source: the
//! store imports no other stage; `train` and `evaluate` do not import each other; `model`
//! imports nothing of store/train/ingest; `ingest` nothing of store/train/model; no source file
//! has more than 600 lines and no binary file (`src/bin/`) more than 200.
//!
//! An import is any path that names another top-level module of the crate in code (comments
//! are ignored): `crate::stage…`, `crate::{stage…, …}`, or a `super::` chain that climbs to the
//! crate root. The stage of a file is its first folder (or file stem) under `src/`.
//!
//! [`KNOWN`] lists accepted violations (none today); the test fails on any violation not listed
//! and on any listed one that no longer occurs, so the list stays honest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Accepted violations, each as the string [`violations`] reports (empty: the tree follows the
/// rules). Remove an entry when its violation is gone: the test fails until then.
const KNOWN: &[&str] = &[];

/// Stage → the top-level modules it must not import.
const RULES: &[(&str, &[&str])] = &[
    ("store", &["harmonize", "prep", "ingest", "train", "evaluate", "model", "run", "benchmark", "synth", "stats"]),
    ("train", &["evaluate"]),
    ("evaluate", &["train"]),
    ("model", &["store", "train", "ingest"]),
    ("ingest", &["store", "train", "model"]),
];

/// Longest source file (the style guide: split files past about 600 lines).
const MAX_LINES: usize = 600;
/// Longest binary file: binaries stay thin (issue 12).
const MAX_BIN_LINES: usize = 200;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of `text` without `//` line comments (doc comments included) and `/* */` blocks.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// Whether `text` has `word` at byte `i` as a whole path segment (not the tail of `foo_crate`).
fn starts_segment(text: &str, i: usize) -> bool {
    i == 0 || !text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}

/// The top-level crate modules that the code of a file at module path `module` (e.g.
/// `["store", "writer"]`) names.
fn referenced_modules(code: &str, module: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(off) = code[from..].find("crate::") {
        let i = from + off;
        from = i + "crate::".len();
        if !starts_segment(code, i) {
            continue;
        }
        let after = code[from..].trim_start();
        if let Some(group) = after.strip_prefix('{') {
            // Top-level items of the group: split at depth-0 commas.
            let (mut depth, mut item_start) = (0usize, true);
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start => {
                        item_start = false;
                        let id = ident_at(&group[k..]);
                        if !id.is_empty() {
                            found.insert(id.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let id = ident_at(after);
            if !id.is_empty() {
                found.insert(id.to_string());
            }
        }
    }
    // `super::` chains that reach the crate root.
    let mut from = 0;
    while let Some(off) = code[from..].find("super::") {
        let i = from + off;
        if !starts_segment(code, i) || code[..i].ends_with("::") {
            from = i + 1;
            continue;
        }
        let mut rest = &code[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r.trim_start();
        }
        from = i + 1;
        if ups == module.len() {
            let id = ident_at(rest);
            if !id.is_empty() {
                found.insert(id.to_string());
            }
        }
    }
    found
}

/// Module path of a file under `src/` (`store/writer.rs` → `["store", "writer"]`, `store/mod.rs`
/// → `["store"]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every violation in the tree, as the strings [`KNOWN`] uses, with the line counts separately.
fn violations() -> (BTreeSet<String>, Vec<String>) {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files under {}", files.len(), src.display());
    let (mut found, mut details) = (BTreeSet::new(), Vec::new());
    for path in files {
        let rel = path.strip_prefix(&src).unwrap();
        let shown = format!("src/{}", rel.to_string_lossy());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        let is_bin = rel.starts_with("bin");
        let limit = if is_bin { MAX_BIN_LINES } else { MAX_LINES };
        if lines > limit {
            found.insert(format!("{shown} has more than {limit} lines"));
            details.push(format!("{shown}: {lines} lines"));
        }
        if is_bin {
            continue;
        }
        let module = module_path(rel);
        let Some(stage) = module.first() else { continue };
        let Some((_, forbidden)) = RULES.iter().find(|(s, _)| s == stage) else { continue };
        for m in referenced_modules(&strip_comments(&text), &module) {
            if forbidden.contains(&m.as_str()) {
                found.insert(format!("{shown} imports crate::{m}"));
            }
        }
    }
    (found, details)
}

#[test]
fn stages_import_only_what_the_flow_allows_and_files_stay_small() {
    let (found, details) = violations();
    let known: BTreeSet<String> = KNOWN.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "architecture rules:\n  new violations: {new:#?}\n  listed in KNOWN but no longer occurring (remove them): {gone:#?}\n  line counts: {details:#?}"
    );
}

#[test]
fn the_import_scanner_finds_every_form_and_ignores_comments() {
    let m = |s: &str| -> Vec<String> { module_path(Path::new(s)) };
    assert_eq!(m("store/writer.rs"), ["store", "writer"]);
    assert_eq!(m("store/mod.rs"), ["store"]);
    let found = |code: &str, module: &str| -> Vec<String> {
        referenced_modules(&strip_comments(code), &m(module)).into_iter().collect()
    };
    assert_eq!(found("use crate::harmonize::Row;", "store/writer.rs"), ["harmonize"]);
    assert_eq!(found("use crate::{labels::X, prep::{a, b}, store};", "store/writer.rs"), ["labels", "prep", "store"]);
    assert_eq!(found("fn f() -> crate::evaluate::Report { todo() }", "train/fit.rs"), ["evaluate"]);
    // `super` of module ingest::sources::nih is ingest::sources; three steps reach the root.
    assert_eq!(found("use super::super::super::model::Vit;", "ingest/sources/nih.rs"), ["model"]);
    assert_eq!(found("use super::super::model::Vit;", "ingest/sources/nih.rs"), Vec::<String>::new(), "ingest::model");
    assert_eq!(found("use super::csv;", "ingest/sources/nih.rs"), Vec::<String>::new(), "a sibling");
    assert_eq!(found("use super::store;", "ingest/mod.rs"), ["store"], "ingest's super is the root");
    assert_eq!(found("use super::store;", "ingest/x.rs"), Vec::<String>::new(), "ingest::store");
    assert_eq!(found("use super::super::store;", "ingest/x.rs"), ["store"]);
    assert_eq!(found("/// see [`crate::train::fit`]\n// crate::model\n/* crate::store */ fn a() {}", "ingest/x.rs"), Vec::<String>::new());
    assert_eq!(found("my_crate::model::x()", "ingest/x.rs"), Vec::<String>::new());
}
