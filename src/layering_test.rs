//! The module graph points one way, in the flow's order (docs/architecture.md):
//! commands → settings → rules → sources → store → codecs. A module may use its own layer and
//! any layer to its right, never one to its left. This test reads every `src/**/*.rs`, collects
//! its `crate::X` references (outside comments) and fails on any that points left, naming the
//! file and line. A new top-level module must be given a layer here.

use std::path::{Path, PathBuf};

/// Left to right; each top-level module of `src/` in exactly one layer.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "commands",
        &[
            "main",
            "lib",
            "cli",
            "commands",
            "doctor",
            "agent",
            "fuzzing",
            "layering_test",
        ],
    ),
    ("settings", &["settings", "goproxy", "goenv"]),
    ("rules", &["rules", "ssh"]),
    ("sources", &["sources"]),
    ("store", &["store"]),
    (
        "codecs",
        &[
            "config",
            "protocol",
            "netrc",
            "goauth",
            "scope",
            "fsutil",
            "proc",
            "http",
            "secret",
            "error",
            "env",
            "state",
            "trace",
            "gitconfig",
            "agent_socket",
        ],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::` (`crate::a::b`,
/// `crate::{a, b::c}`).
fn references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `gocred::crate::` are not ours
        }
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim())
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let head: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                found.push(head);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_to_its_left() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.iter().next().unwrap().to_str().unwrap();
        let top = top.strip_suffix(".rs").unwrap_or(top);
        let Some(mine) = layer_of(top) else {
            bad.push(format!(
                "src/{}: module `{top}` has no layer in src/layering_test.rs",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for name in references(code) {
                match layer_of(&name) {
                    Some(theirs) if theirs < mine => bad.push(format!(
                        "src/{}:{}: `{top}` ({}) uses `crate::{name}` ({}), a layer to its left",
                        rel.display(),
                        n + 1,
                        LAYERS[mine].0,
                        LAYERS[theirs].0
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(bad.is_empty(), "\n{}\n", bad.join("\n"));
}

#[test]
fn references_are_read_from_paths_and_groups() {
    assert_eq!(references("use crate::rules::Rule;"), ["rules"]);
    assert_eq!(
        references("use crate::{settings::Env, store};"),
        ["settings", "store"]
    );
    assert_eq!(
        references("x = crate::state::now_secs() + $crate::y"),
        ["state"]
    );
}
