//! The test tree itself: every `.rs` file under `tests/` is part of this crate. With
//! `autotests = false` cargo compiles only `tests/it/main.rs` and the modules it declares, so a
//! file that nothing declares would never run, silently. This test reads the `mod name;`
//! declarations from `main.rs` down and fails naming every file it did not reach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support;

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The names of the out-of-line modules `source` declares: `mod x;`, `pub mod x;`,
/// `pub(crate) mod x;` at the start of a line (inline `mod x { … }` blocks have no file).
fn declared_modules(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim_start)
        .filter_map(|line| {
            let rest = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            let name = rest.strip_prefix("mod ")?.strip_suffix(';')?.trim();
            let ident = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            ident.then(|| name.to_string())
        })
        .collect()
}

/// The files of the module tree rooted at `root` (a crate root, so its modules sit beside it).
fn module_tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut reached = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(file) = todo.pop() {
        let source =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // `main.rs` and `mod.rs` own their directory; `a/b.rs` owns `a/b/`.
        let name = file.file_name().unwrap().to_str().unwrap();
        let dir = if file == root || name == "mod.rs" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for m in declared_modules(&source) {
            let flat = dir.join(format!("{m}.rs"));
            let nested = dir.join(&m).join("mod.rs");
            let child = match (flat.is_file(), nested.is_file()) {
                (true, false) => flat,
                (false, true) => nested,
                (true, true) => panic!("both {} and {} exist", flat.display(), nested.display()),
                (false, false) => panic!("`mod {m};` in {}: no file for it", file.display()),
            };
            todo.push(child.clone());
            reached.insert(child);
        }
        reached.insert(file);
    }
    reached
}

#[test]
fn every_rust_file_under_tests_is_a_module_of_the_test_crate() {
    let all: BTreeSet<PathBuf> = support::files_under(&tests_dir())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    assert!(all.len() > 20, "found only {all:?} under tests/");
    let reached = module_tree(&tests_dir().join("it/main.rs"));
    let stray: Vec<String> = all
        .difference(&reached)
        .map(|p| p.strip_prefix(tests_dir()).unwrap().display().to_string())
        .collect();
    assert!(
        stray.is_empty(),
        "files under tests/ that no `mod` declaration reaches, so cargo never builds them \
         (autotests = false): {stray:?}; move each into tests/it/ and declare it in \
         tests/it/main.rs (`mod name;`)"
    );
}

#[test]
fn module_declarations_are_read_as_rustc_reads_them() {
    let src =
        "mod a;\npub mod b;\n    pub(crate) mod c;\nmod inline {\n// mod not_this;\nmod d { }\n";
    assert_eq!(declared_modules(src), ["a", "b", "c"]);
}
