//! What gocred trusts on the file system and how it runs programs, attacked with the real binary
//! (and real git): the config file (FIFO race, shared sticky directories, open parents, relative
//! paths), `command` programs (who can change them, how they are found, what `timeout_secs`
//! bounds), the `ci exec --no-file` lease directory, and the directories above a netrc file.
//!
//! Attacks that need a second user run the attacker's part as a throw-away uid through `setpriv`
//! (no account needed); the victim is the test process (root on the test machine). They are
//! skipped, with a message, when the tests do not run as root.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{stderr_str, stdout_str, Sandbox};

/// The attacker: a uid no account uses.
const ATTACKER: u32 = 61_042;

const GET: &[u8] = b"protocol=https\nhost=git.corp.test\n\n";

fn root_or_skip(test: &str) -> bool {
    let root = support::is_root();
    if !root {
        support::skipped(&format!(
            "{test}: needs root to act as a second user (setpriv --reuid)"
        ));
    }
    root
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", p.display()));
}

/// A place both users reach: `<tmp>/gocred-trust-*/` (0755, ours) holding `tmp/` (1777, like
/// `/tmp`).
struct Shared {
    _dir: tempfile::TempDir,
    open: PathBuf,
}

fn shared() -> Shared {
    let dir = tempfile::Builder::new()
        .prefix("gocred-trust-")
        .tempdir()
        .unwrap();
    chmod(dir.path(), 0o755);
    let open = dir.path().join("tmp");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o1777);
    Shared { _dir: dir, open }
}

/// `sh -c script sh args…` as the attacker, in its own process group (see [`kill_group`]).
fn as_attacker(script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={ATTACKER}"))
        .arg(format!("--regid={ATTACKER}"))
        .args(["--clear-groups", "/bin/sh", "-c", script, "sh"])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(Stdio::null())
        .process_group(0);
    c
}

fn attacker_ok(script: &str, args: &[&str]) {
    let out = as_attacker(script, args).output().unwrap();
    assert!(
        out.status.success(),
        "attacker step failed: {}",
        stderr_str(&out)
    );
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("/bin/kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// Runs `cmd` with `stdin`, killing it (and failing the test) if it takes over `limit`.
fn run_bounded(cmd: &mut Command, stdin: &[u8], limit: Duration) -> (Output, Duration) {
    use std::io::Write;
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let done = support::wait_until(limit, Duration::from_millis(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !done {
        kill_group(&mut child);
        panic!("{:?} still ran after {limit:?}", cmd.get_program());
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

fn get(s: &Sandbox, config: &Path) -> Output {
    run_bounded(
        s.gocred().arg("get").env("GOCRED_CONFIG", config),
        GET,
        Duration::from_secs(30),
    )
    .0
}

/// A `command` rule whose program leaves `mark` behind when it runs.
fn marking_rule(mark: &Path) -> String {
    format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"command\"\ncommand = [\"/bin/sh\", \"-c\", \"touch {}; echo attacker-token-123\"]\n",
        mark.display()
    )
}

fn refused_without_running(out: &Output, mark: &Path, needle: &str) -> String {
    let err = stderr_str(out);
    assert!(!mark.exists(), "the attacker's command ran: {err}");
    assert_eq!(stdout_str(out), "", "no credential: {err}");
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    err
}

// ---------------------------------------------------------------------------------------------
// The config file.

#[test]
fn a_fifo_race_in_a_shared_dir_never_runs_the_attackers_rules() {
    if !root_or_skip("a_fifo_race_in_a_shared_dir_never_runs_the_attackers_rules") {
        return;
    }
    let s = Sandbox::new();
    let sh = shared();
    let cfg = sh.open.join("gocred.toml");
    let mark = s.root().join("pwned");
    // Feed rules through a FIFO, then swap a root-owned file in before closing it: a check by
    // path after the read would see that file.
    let script = "mkfifo \"$1\" && exec 3>\"$1\" && printf '%s' \"$2\" >&3 && rm \"$1\" && ln -s /etc/passwd \"$1\" && exec 3>&-";
    let mut attacker = as_attacker(script, &[cfg.to_str().unwrap(), &marking_rule(&mark)])
        .spawn()
        .unwrap();
    assert!(support::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || std::fs::symlink_metadata(&cfg).is_ok()
    ));
    let (out, took) = run_bounded(
        s.gocred().arg("get").env("GOCRED_CONFIG", &cfg),
        GET,
        Duration::from_secs(30),
    );
    kill_group(&mut attacker);
    let err = refused_without_running(&out, &mark, "a FIFO, not a regular file");
    assert!(err.contains(cfg.to_str().unwrap()), "{err}");
    assert!(
        took < Duration::from_secs(10),
        "waited on the FIFO: {took:?}"
    );
}

#[test]
fn a_config_someone_else_creates_later_in_a_sticky_dir_is_refused() {
    if !root_or_skip("a_config_someone_else_creates_later_in_a_sticky_dir_is_refused") {
        return;
    }
    let s = Sandbox::new();
    let sh = shared();
    let cfg = sh.open.join("later.toml");
    let mark = s.root().join("pwned");
    let out = get(&s, &cfg);
    assert!(out.status.success(), "no file yet: {}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "");
    attacker_ok(
        "printf '%s' \"$2\" > \"$1\" && chmod 644 \"$1\"",
        &[cfg.to_str().unwrap(), &marking_rule(&mark)],
    );
    let out = get(&s, &cfg);
    refused_without_running(&out, &mark, &format!("owned by uid {ATTACKER}"));
    // A FIFO there is refused at once as well, never waited on.
    std::fs::remove_file(&cfg).unwrap();
    attacker_ok("mkfifo -m 644 \"$1\"", &[cfg.to_str().unwrap()]);
    let out = get(&s, &cfg);
    refused_without_running(&out, &mark, "a FIFO");
}

#[test]
fn a_config_below_a_directory_others_can_write_is_refused() {
    let s = Sandbox::new();
    let mark = s.root().join("pwned");
    let open = s.root().join("open");
    let cfg = open.join("cfg/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, marking_rule(&mark)).unwrap();
    chmod(&cfg, 0o600);
    // Not the file's own directory: one above it. Whoever can write there can rename `cfg`
    // away and put their own in its place.
    chmod(&open, 0o777);
    let err = refused_without_running(&get(&s, &cfg), &mark, "writable by group or others");
    assert!(
        err.contains(open.to_str().unwrap()),
        "names the directory: {err}"
    );
    // The same file through a symbolic link into that directory.
    let link = s.root().join("link.toml");
    std::os::unix::fs::symlink(&cfg, &link).unwrap();
    refused_without_running(&get(&s, &link), &mark, "writable by group or others");
    chmod(&open, 0o755);
    // Once nobody else can change the way to it, the same file is used.
    let out = get(&s, &cfg);
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(mark.exists());
}

#[test]
fn a_relative_gocred_config_is_refused_even_when_git_runs_us_in_a_clone() {
    let s = Sandbox::new();
    let mark = s.root().join("pwned");
    let repo = s.path("clone");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    support::run_ok(s.git().args(["init", "-q"]).current_dir(&repo));
    // What a cloned repository could carry.
    std::fs::write(repo.join(".gocred.toml"), marking_rule(&mark)).unwrap();
    chmod(&repo.join(".gocred.toml"), 0o644);
    // git runs the helper at the top of the work tree, wherever it was started.
    let (out, _) = run_bounded(
        s.git()
            .args([
                "-c",
                "credential.helper=",
                "-c",
                "credential.helper=gocred",
                "credential",
                "fill",
            ])
            .env("GOCRED_CONFIG", ".gocred.toml")
            .current_dir(repo.join("sub")),
        GET,
        Duration::from_secs(30),
    );
    let err = stderr_str(&out);
    assert!(!mark.exists(), "the repository's command ran: {err}");
    assert!(!stdout_str(&out).contains("attacker-token"), "{err}");
    assert!(err.contains("refusing a relative config path"), "{err}");
    let (out, _) = run_bounded(
        s.gocred()
            .arg("get")
            .env("GOCRED_CONFIG", ".gocred.toml")
            .current_dir(&repo),
        GET,
        Duration::from_secs(30),
    );
    refused_without_running(&out, &mark, "set GOCRED_CONFIG to an absolute path");
}

// ---------------------------------------------------------------------------------------------
// `command` programs.

fn command_config(s: &Sandbox, argv: &[&str], timeout: u64) {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"command\"\ncommand = [{}]\ntimeout_secs = {timeout}\n",
        argv.join(", ")
    ));
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        let state = st
            .rsplit_once(')')
            .and_then(|(_, r)| r.trim_start().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    })
}

fn read_pid(p: &Path) -> u32 {
    assert!(support::wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || std::fs::read_to_string(p).is_ok_and(|t| t.ends_with('\n'))
    ));
    std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
}

#[test]
fn timeout_secs_covers_output_held_open_by_a_background_child() {
    let s = Sandbox::new();
    let pidfile = s.root().join("bg.pid");
    let script = format!(
        "echo TOKEN-from-cmd; sleep 20 & echo $! > {}",
        pidfile.display()
    );
    command_config(&s, &["/bin/sh", "-c", &script], 2);
    let (out, took) = run_bounded(s.gocred().arg("get"), GET, Duration::from_secs(60));
    let err = stderr_str(&out);
    assert!(took < Duration::from_secs(15), "held for {took:?}: {err}");
    assert_eq!(
        stdout_str(&out),
        "",
        "the output never reached its end: no credential"
    );
    assert!(
        err.contains("kept its output open within 2 s and was killed"),
        "{err}"
    );
    assert!(!err.contains("TOKEN-from-cmd"), "{err}");
    let pid = read_pid(&pidfile);
    assert!(
        support::wait_until(
            Duration::from_secs(5),
            Duration::from_millis(20),
            || !alive(pid)
        ),
        "the background child {pid} outlived the deadline"
    );
}

#[test]
fn timeout_secs_holds_against_a_helper_that_daemonises() {
    let s = Sandbox::new();
    let pidfile = s.root().join("daemon.pid");
    // A new session: out of reach of the group kill, still holding the pipes.
    let script = format!(
        "echo TOKEN-from-cmd; setsid sleep 20 & echo $! > {}",
        pidfile.display()
    );
    command_config(&s, &["/bin/sh", "-c", &script], 2);
    let (out, took) = run_bounded(s.gocred().arg("get"), GET, Duration::from_secs(60));
    let pid = read_pid(&pidfile);
    let _ = Command::new("/bin/kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(took < Duration::from_secs(15), "held for {took:?}");
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("kept its output open"),
        "{}",
        stderr_str(&out)
    );
}

fn write_program(path: &Path, mark: &Path, mode: u32) {
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\ntouch {}\necho tok-from-program\n",
            mark.display()
        ),
    )
    .unwrap();
    chmod(path, mode);
}

#[test]
fn a_command_program_others_can_change_is_refused() {
    let s = Sandbox::new();
    let mark = s.root().join("ran");
    let dir = s.root().join("tools");
    std::fs::create_dir(&dir).unwrap();
    let prog = dir.join("tok");
    let prog_s = prog.to_str().unwrap();
    // The file itself writable by others.
    write_program(&prog, &mark, 0o777);
    command_config(&s, &[prog_s], 5);
    let err = refused_without_running(
        &get(&s, &s.config_path),
        &mark,
        "writable by group or others (mode 777)",
    );
    assert!(
        err.contains(&format!("refusing to run `{prog_s}`")),
        "{err}"
    );
    // Its directory writable by group.
    chmod(&prog, 0o755);
    chmod(&dir, 0o775);
    let err = refused_without_running(&get(&s, &s.config_path), &mark, "(a directory) is writable");
    assert!(err.contains(dir.to_str().unwrap()), "{err}");
    // Found on PATH by name: the same checks, on what PATH gives.
    command_config(&s, &["tok"], 5);
    let mut c = s.gocred();
    let path = format!("{}:/usr/bin:/bin", dir.display());
    c.arg("get").env("PATH", &path);
    let (out, _) = run_bounded(&mut c, GET, Duration::from_secs(30));
    refused_without_running(&out, &mark, "(a directory) is writable");
    // Relative: resolved nowhere (git's current directory is a work tree).
    chmod(&dir, 0o755);
    command_config(&s, &["./tok"], 5);
    let mut c = s.gocred();
    c.arg("get").current_dir(&dir);
    let (out, _) = run_bounded(&mut c, GET, Duration::from_secs(30));
    refused_without_running(&out, &mark, "is a relative path");
    // A relative PATH entry is not searched either.
    command_config(&s, &["tok"], 5);
    let mut c = s.gocred();
    c.arg("get")
        .env("PATH", "tools:/usr/bin:/bin")
        .current_dir(s.root());
    let (out, _) = run_bounded(&mut c, GET, Duration::from_secs(30));
    refused_without_running(&out, &mark, "is not on PATH");
    // Fixed: found on PATH, run by its absolute path.
    let mut c = s.gocred();
    c.arg("get").env("PATH", &path);
    let (out, _) = run_bounded(&mut c, GET, Duration::from_secs(30));
    assert_eq!(
        stdout_str(&out),
        "username=x-access-token\npassword=tok-from-program\n",
        "{}",
        stderr_str(&out)
    );
    assert!(mark.exists());
}

#[test]
fn a_command_program_another_user_owns_is_refused() {
    if !root_or_skip("a_command_program_another_user_owns_is_refused") {
        return;
    }
    let s = Sandbox::new();
    let sh = shared();
    let mark = s.root().join("ran");
    let prog = sh.open.join("helper");
    attacker_ok(
        "printf '#!/bin/sh\\ntouch %s\\necho attacker-token\\n' \"$2\" > \"$1\" && chmod 755 \"$1\"",
        &[prog.to_str().unwrap(), mark.to_str().unwrap()],
    );
    command_config(&s, &[prog.to_str().unwrap()], 5);
    refused_without_running(
        &get(&s, &s.config_path),
        &mark,
        &format!("is owned by uid {ATTACKER}, not by you (uid 0) or root"),
    );
}

// ---------------------------------------------------------------------------------------------
// The `ci exec --no-file` lease directory.

fn ci_exec(s: &Sandbox, env: &[(&str, &str)], remove: &[&str], mark: &Path) -> Output {
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\n",
    );
    let mut c = s.gocred();
    c.args(["ci", "exec", "--no-file", "--", "touch"])
        .arg(mark)
        .env("GOPRIVATE", "git.corp.test")
        .env("CORP_TOKEN", "tok-lease-test")
        .envs(env.iter().copied());
    for k in remove {
        c.env_remove(k);
    }
    run_bounded(&mut c, b"", Duration::from_secs(60)).0
}

#[test]
fn a_lease_dir_under_another_users_directory_is_refused() {
    if !root_or_skip("a_lease_dir_under_another_users_directory_is_refused") {
        return;
    }
    let s = Sandbox::new();
    let mark = s.root().join("ran");
    // XDG_RUNTIME_DIR=/tmp: the attacker made /tmp/gocred first.
    let sh = shared();
    let planted = sh.open.join("gocred");
    attacker_ok("mkdir -m 777 \"$1\"", &[planted.to_str().unwrap()]);
    let out = ci_exec(
        &s,
        &[("XDG_RUNTIME_DIR", sh.open.to_str().unwrap())],
        &[],
        &mark,
    );
    let err = refused_without_running(&out, &mark, &format!("owned by uid {ATTACKER}"));
    assert!(err.contains("refusing to keep CI leases"), "{err}");
    assert_eq!(
        std::fs::read_dir(&planted).unwrap().count(),
        0,
        "nothing was created in the attacker's directory"
    );
    // HOME=/tmp and no XDG variables: the attacker made /tmp/.cache first.
    let sh = shared();
    attacker_ok("mkdir \"$1\"", &[sh.open.join(".cache").to_str().unwrap()]);
    let out = ci_exec(
        &s,
        &[("HOME", sh.open.to_str().unwrap())],
        &["XDG_RUNTIME_DIR", "XDG_CACHE_HOME"],
        &mark,
    );
    refused_without_running(&out, &mark, &format!("owned by uid {ATTACKER}"));
}

#[test]
fn a_fresh_lease_dir_in_a_shared_sticky_dir_is_private_and_ours() {
    let s = Sandbox::new();
    let mark = s.root().join("ran");
    let sh = shared();
    let out = ci_exec(
        &s,
        &[("XDG_RUNTIME_DIR", sh.open.to_str().unwrap())],
        &[],
        &mark,
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(mark.exists());
    for d in [sh.open.join("gocred"), sh.open.join("gocred/ci")] {
        let md = std::fs::symlink_metadata(&d).unwrap();
        assert!(md.is_dir(), "{}", d.display());
        assert_eq!(md.mode() & 0o7777, 0o700, "{}", d.display());
        assert_eq!(md.uid(), gocred::fsutil::euid(), "{}", d.display());
    }
    // A group-writable parent of XDG_RUNTIME_DIR is refused like any other way in.
    let open = s.root().join("open");
    let run = open.join("run");
    std::fs::create_dir_all(&run).unwrap();
    chmod(&open, 0o770);
    std::fs::remove_file(&mark).unwrap();
    let out = ci_exec(
        &s,
        &[("XDG_RUNTIME_DIR", run.to_str().unwrap())],
        &[],
        &mark,
    );
    refused_without_running(&out, &mark, "writable by group or others");
}

// ---------------------------------------------------------------------------------------------
// The directories above a netrc file `ci netrc` writes.

#[test]
fn ci_netrc_checks_every_directory_above_home() {
    let s = Sandbox::new();
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\n",
    );
    let run = |s: &Sandbox| {
        let mut c = s.gocred();
        c.args(["ci", "netrc"])
            .env("GOPRIVATE", "git.corp.test")
            .env("CORP_TOKEN", "tok-netrc-chain");
        run_bounded(&mut c, b"", Duration::from_secs(60)).0
    };
    // HOME itself is 0755; the sandbox root above it is opened to everyone.
    chmod(s.root(), 0o777);
    let out = run(&s);
    chmod(s.root(), 0o700);
    let err = stderr_str(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("writable by group or others"), "{err}");
    assert!(
        err.contains(s.root().to_str().unwrap()),
        "names the directory: {err}"
    );
    assert!(!s.path(".netrc").exists(), "nothing written");
}
