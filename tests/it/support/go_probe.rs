//! Go's own functions as test oracles: a tiny `main` written here plus declarations copied
//! verbatim from the installed GOROOT at test time, built once. Go's source is never committed;
//! a Go release that renames or reshapes a function makes the extraction fail loudly.
//!
//! Used by `go_netrc` (`parseNetrc`), `go_userauth` (`parseUserAuth` and friends) and
//! tests/it/scope_vs_go.rs (`module.MatchPrefixPatterns`). A binary is cached under the cargo
//! target dir by a hash of its program text and GOROOT, so parallel test binaries share one
//! build (each builds in its own temp dir and renames into place).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// From the line starting with `start` to the next line that is exactly `}`, verbatim
/// (a one-line declaration ends on its own line). `file` names the source in panics.
pub fn extract(source: &str, start: &str, file: &str) -> String {
    let mut lines = source.lines();
    let first = lines
        .by_ref()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` in {file}: Go's source changed"));
    let mut out = format!("{first}\n");
    if first.ends_with('}') {
        return out;
    }
    for line in lines {
        out.push_str(line);
        out.push('\n');
        if line == "}" {
            return out;
        }
    }
    panic!("`{start}` in {file} has no closing brace at column 0");
}

/// `$(go env GOROOT)`.
pub fn goroot() -> PathBuf {
    super::go_bin_dir()
        .parent()
        .expect("GOROOT/bin has a parent")
        .to_path_buf()
}

/// Builds `main` followed by each `(file under GOROOT, declaration start)` and returns the
/// binary. Go runs hermetically: local toolchain, no proxy, no GOFLAGS or env file, a private
/// HOME, the test run's shared build cache.
pub fn build(name: &str, main: &str, pieces: &[(&str, &str)]) -> PathBuf {
    let root = goroot();
    let mut program = main.to_string();
    for (file, start) in pieces {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("reading {}: {e}; run install/test-deps.sh", path.display())
        });
        program.push_str(&extract(&text, start, file));
        program.push('\n');
    }
    let mut h = DefaultHasher::new();
    (&program, &root).hash(&mut h);
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocred-go-probes");
    super::mkdir(&cache);
    let bin = cache.join(format!("{name}-{:016x}", h.finish()));
    if bin.is_file() {
        return bin;
    }
    let work = tempfile::Builder::new()
        .prefix(&format!("{name}-build-"))
        .tempdir_in(&cache)
        .expect("temp dir for a Go build");
    let home = work.path().join("home");
    super::mkdir(&home);
    super::write_file(&work.path().join("main.go"), &program);
    let built = work.path().join(name);
    let out = Command::new(super::go_bin_dir().join("go"))
        .args(["build", "-o"])
        .arg(&built)
        .arg("main.go")
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOENV", "off")
        .env("GOCACHE", super::sandbox::shared_gocache())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running go build: {e}; run install/test-deps.sh"));
    super::assert_success(&out, &format!("go build of the {name} oracle"));
    // Atomic: a parallel build of the same program renames an identical file over it.
    std::fs::rename(&built, &bin)
        .unwrap_or_else(|e| panic!("moving {} into place: {e}", built.display()));
    bin
}

/// Runs a built oracle with `stdin`, requiring success.
pub fn run(bin: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = super::run_with_stdin_unchecked(Command::new(bin).args(args), stdin);
    assert!(
        out.status.success(),
        "the oracle {} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
