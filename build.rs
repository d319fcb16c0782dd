//! Build-time facts for `gocred --version`: the commit and the target triple.
//!
//! The commit is `GOCRED_COMMIT` when set (release builds from a source tarball, which has no
//! `.git`), else `git rev-parse --short=12 HEAD` when this package is the top of a git checkout,
//! else `unknown`. Cargo re-runs this script when HEAD or the branch it points to moves, so the
//! commit never goes stale in an incremental build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GOCRED_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=GOCRED_BUILD_TARGET={target}");
    let commit = match std::env::var("GOCRED_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=GOCRED_BUILD_COMMIT={commit}");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The checkout's commit, only when the package itself is the checkout's top directory (a
/// tarball unpacked inside some other repository must not report that repository's commit).
fn git_commit() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let top = PathBuf::from(git(&dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    // HEAD, the ref it names, and packed-refs (where a ref lives after `git gc`); in a
    // worktree these are under the worktree's and the common git dir, which --git-path knows.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(r) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(r);
    }
    for name in watch {
        if let Some(p) = git(&dir, &["rev-parse", "--git-path", &name]) {
            let p = if Path::new(&p).is_absolute() {
                PathBuf::from(p)
            } else {
                dir.join(p)
            };
            // A missing file would make cargo re-run this script on every build.
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    git(&dir, &["rev-parse", "--short=12", "HEAD"])
}
