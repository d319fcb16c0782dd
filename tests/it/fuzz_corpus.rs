//! Replays every committed fuzz seed (`fuzz/corpus/<target>/*`) through the same property
//! functions the cargo-fuzz targets run, so `cargo test` on the stable toolchain catches a
//! regression on any input the fuzzers were seeded with or found (crashing inputs are added to
//! the corpus when fixed). The fuzzing itself needs nightly: see docs/fuzzing.md.

use std::path::{Path, PathBuf};

use gocred::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn names_in(dir: &Path, strip: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|n| n.strip_suffix(strip).map(str::to_string).unwrap_or(n))
        .collect();
    v.sort();
    v
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_seed_corpus() {
    let mut targets: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    targets.sort();
    assert_eq!(names_in(&fuzz_dir().join("fuzz_targets"), ".rs"), targets);
    assert_eq!(names_in(&fuzz_dir().join("corpus"), ""), targets);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for t in &targets {
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "{t} not in fuzz/Cargo.toml"
        );
    }
}

#[test]
fn every_seed_passes_its_target_properties() {
    let mut failed = Vec::new();
    let mut seeds = 0;
    for (name, property) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let files = names_in(&dir, "");
        assert!(!files.is_empty(), "{name}: no seeds");
        for file in files {
            let data = std::fs::read(dir.join(&file)).unwrap();
            seeds += 1;
            if std::panic::catch_unwind(|| property(&data)).is_err() {
                failed.push(format!("{name}/{file}"));
            }
        }
    }
    assert!(failed.is_empty(), "properties failed on: {failed:?}");
    assert!(seeds >= 100, "only {seeds} seeds");
}
