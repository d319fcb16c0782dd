//! A gocred release as a download site serves it: `install/release.sh` packages a binary (once
//! per test process) and [`publish`] puts the archive, `SHA256SUMS` and `install.sh` under
//! `https://releases.corp.test/v<version>/` of a [`GitServer`]. [`tool_dir`] builds a PATH of
//! exactly the tools a plain machine or CI image has (no cargo).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{GitServer, RELEASES_HOST};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository root (where install/ is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The archive `install.sh` picks on this machine: the Linux release is static (musl).
pub fn target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

pub fn archive_name() -> String {
    format!("gocred-{VERSION}-{}.tar.gz", target())
}

/// `install/release.sh --binary B --target <target()> --out DIR`, once per process. B is
/// `$GOCRED_RELEASE_BINARY` (e.g. a real musl release build), else this run's gocred with its
/// debug info stripped (a debug build packs to ~40 MB; stripped, ~8 MB). Returns DIR.
pub fn release_dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-install");
        let _ = std::fs::remove_dir_all(&work);
        super::mkdir(&work);
        let binary = match std::env::var_os("GOCRED_RELEASE_BINARY").filter(|v| !v.is_empty()) {
            Some(b) => PathBuf::from(b),
            None => {
                let stripped = work.join("gocred");
                super::run_ok(
                    Command::new(super::require_tool("strip"))
                        .arg("-o")
                        .arg(&stripped)
                        .arg(super::gocred_bin()),
                );
                stripped
            }
        };
        let dist = work.join("dist");
        let out = super::run_ok(
            Command::new("bash")
                .arg(repo().join("install/release.sh"))
                .arg("--binary")
                .arg(&binary)
                .args(["--target", &target(), "--out"])
                .arg(&dist)
                .env_remove("GOCRED_RELEASE_BINARY")
                .stdin(Stdio::null()),
        );
        assert!(super::stdout_str(&out).contains(&archive_name()), "{out:?}");
        dist
    })
}

/// Copies the release (archive, SHA256SUMS, install.sh) to `<releases dir>/v<VERSION>/`;
/// returns its base URL.
pub fn publish(server: &GitServer) -> String {
    let dir = server.releases_dir().join(format!("v{VERSION}"));
    super::mkdir(&dir);
    let dist = release_dist();
    for f in [archive_name().as_str(), "SHA256SUMS"] {
        std::fs::copy(dist.join(f), dir.join(f)).unwrap_or_else(|e| panic!("publishing {f}: {e}"));
    }
    std::fs::copy(repo().join("install/install.sh"), dir.join("install.sh"))
        .unwrap_or_else(|e| panic!("publishing install.sh: {e}"));
    format!("https://{RELEASES_HOST}/v{VERSION}")
}

/// What install.sh and the CI templates use, besides a downloader (curl or wget) and Go.
pub const BASE_TOOLS: &[&str] = &[
    "sh",
    "bash",
    "tar",
    "gzip",
    "sha256sum",
    "mkdir",
    "cp",
    "mv",
    "chmod",
    "ln",
    "rm",
    "mktemp",
    "awk",
    "sed",
    "grep",
    "cut",
    "uname",
    "dirname",
    "cat",
    "head",
    "tr",
    "touch",
    "realpath",
    "git",
];

/// A directory `at` of links to exactly `names` (found on the host; copies on Windows).
pub fn tool_dir(at: &Path, names: &[&str]) -> PathBuf {
    super::mkdir(at);
    for n in names {
        #[cfg(unix)]
        std::os::unix::fs::symlink(super::require_tool(n), at.join(n))
            .unwrap_or_else(|e| panic!("linking {n}: {e}"));
        #[cfg(windows)]
        std::fs::copy(super::require_tool(n), at.join(n))
            .unwrap_or_else(|e| panic!("copying {n}: {e}"));
    }
    at.to_path_buf()
}
