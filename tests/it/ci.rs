//! `gocred ci netrc|wipe|exec` with real parts: the real gocred binary, real Go and git reading
//! the netrc it writes from nginx + `git http-backend` over HTTPS (tests/it/support), Go's own
//! `parseNetrc` (copied from GOROOT at test time) as the judge of every file, and a local
//! stand-in for the GitHub Actions OIDC endpoint, the octo-sts exchange and GitHub's token
//! revocation (`support::token_service`, which checks what the real services check).
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;
use crate::support::token_service::{AUDIENCE, IDENTITY, SCOPE};
use crate::support::{assert_success, stderr_str, stdout_str, GitServer, Sandbox, TokenService};
use gocred::netrc::{block, curl, go};

const ORIGINAL: &[u8] =
    b"machine other.example login me password mine\r\n# my own note\nmacdef init\ncd /\n\n";

/// One CI job: a sandbox whose every command gets GOPRIVATE and the job's variables.
struct Job {
    s: Sandbox,
}

impl Job {
    fn new() -> Job {
        let mut s = Sandbox::new();
        s.set_env("GOPRIVATE", "git.corp.test");
        Job { s }
    }

    /// An `env` rule: the token CI injects.
    fn env_rule(mut self, token: &str) -> Job {
        self.s.write_config(
            "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\nusername = \"ci-bot\"\n",
        );
        self.s.set_env("CORP_TOKEN", token);
        self
    }

    /// A `github-oidc` rule against the stand-in, as on GitHub Actions.
    fn oidc_rule(mut self, sts: &TokenService) -> Job {
        self.s.write_config(&format!(
            "[[rule]]\npattern = \"git.corp.test\"\nsource = \"github-oidc\"\nsts_url = \"{b}\"\napi_url = \"{b}\"\nscope = \"{SCOPE}\"\nidentity = \"{IDENTITY}\"\naudience = \"{AUDIENCE}\"\n",
            b = sts.base
        ));
        for (k, v) in sts.actions_env() {
            self.s.set_env(k, v);
        }
        self.s.set_env("GITHUB_ACTIONS", "true");
        self.s.set_env("GITHUB_RUN_ID", "4242");
        self.s.set_env("GITHUB_JOB", "build");
        self
    }

    fn with(mut self, k: &str, v: &str) -> Job {
        self.s.set_env(k, v);
        self
    }

    fn gocred(&self, args: &[&str]) -> Output {
        self.s
            .command(support::gocred_bin())
            .args(args)
            .output()
            .unwrap()
    }

    fn netrc(&self) -> PathBuf {
        self.s.path(".netrc")
    }

    fn read_netrc(&self) -> Vec<u8> {
        std::fs::read(self.netrc()).unwrap_or_default()
    }

    fn lease_dir(&self) -> PathBuf {
        self.s.root().join("run/gocred/ci")
    }

    fn leases(&self) -> Vec<String> {
        std::fs::read_dir(self.lease_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().into_string().unwrap())
                    .filter(|n| n.contains(".lease"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn write_original(&self) {
        std::fs::write(self.netrc(), ORIGINAL).unwrap();
        std::fs::set_permissions(self.netrc(), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

fn failed_with(out: &Output, needle: &str) -> String {
    let err = stderr_str(out);
    assert_eq!(out.status.code(), Some(1), "{}\n{err}", stdout_str(out));
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    err
}

/// Go (the real parser) and our model agree, and Go's first entry for `host` is returned.
fn go_reads(file: &[u8], host: &str) -> Option<(String, String)> {
    let theirs = support::go_netrc::go_parse_many(&[file.to_vec()]).remove(0);
    let ours: Vec<_> = go::parse(file)
        .into_iter()
        .map(|e| (e.machine, e.login, e.password))
        .collect();
    assert_eq!(ours, theirs, "our Go model disagrees with Go");
    theirs
        .into_iter()
        .find(|(m, _, _)| m == host.as_bytes())
        .map(|(_, l, p)| (String::from_utf8(l).unwrap(), String::from_utf8(p).unwrap()))
}

fn consumer(job: &Job) -> PathBuf {
    let dir = job.s.path("consumer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        "module example.test/consumer\n\ngo 1.22\n\nrequire git.corp.test/team/lib v1.0.0\n",
    )
    .unwrap();
    dir
}

fn go_download(job: &Job, server: &GitServer, modcache: &Path) -> Output {
    let mut c = job.s.command(support::go_bin_dir().join("go"));
    c.args(["mod", "download", "git.corp.test/team/lib@v1.0.0"])
        .current_dir(consumer(job))
        .env("GOMODCACHE", modcache);
    server.apply(&mut c);
    c.output().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Real Go and real git read what gocred wrote; the wipe gives the user's file back.

#[test]
fn go_and_git_read_the_netrc_and_wipe_restores_it_byte_for_byte() {
    const TOKEN: &str = "ghs_e2eStandInToken0123456789abcdefABCDEF";
    let sts = TokenService::start();
    sts.expect_tokens(&[TOKEN]);
    let server = GitServer::start(&[("x-access-token", TOKEN)]);
    let job = Job::new().oidc_rule(&sts);
    job.write_original();

    // No credential yet: Go cannot even read the go-get page of the `team` namespace.
    let before = go_download(&job, &server, &job.s.root().join("modcache0"));
    assert!(!before.status.success(), "downloaded without credentials");

    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    assert_eq!(sts.minted(), vec![TOKEN.to_string()]);
    // Masks for the token and for the Basic header value, on the step's stdout.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
    assert_eq!(
        stdout_str(&out),
        format!("::add-mask::{TOKEN}\n::add-mask::{basic}\n")
    );
    for jwt in sts.jwts() {
        assert!(!stderr_str(&out).contains(&jwt) && !stdout_str(&out).contains(&jwt));
    }

    let written = job.read_netrc();
    assert!(
        written.ends_with(ORIGINAL),
        "the user's bytes follow the block"
    );
    assert_eq!(
        go_reads(&written, "git.corp.test"),
        Some(("x-access-token".into(), TOKEN.into()))
    );
    assert_eq!(
        go_reads(&written, "other.example"),
        Some(("me".into(), "mine".into()))
    );
    assert_eq!(
        curl::lookup(&written, "git.corp.test"),
        curl::Lookup::Match {
            login: Some(b"x-access-token".to_vec()),
            password: Some(TOKEN.as_bytes().to_vec())
        }
    );
    let md = std::fs::metadata(job.netrc()).unwrap();
    assert_eq!(md.mode() & 0o777, 0o600);

    // The lease: 0600 in a 0700 directory outside HOME, holding the token until it is revoked.
    let leases = job.leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    let lease_path = job.lease_dir().join(&leases[0]);
    assert_eq!(
        std::fs::metadata(&lease_path).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(job.lease_dir()).unwrap().mode() & 0o777,
        0o700
    );
    assert!(!lease_path.starts_with(&job.s.home));

    // Real Go (go-get page, through Go's netrc reader) and real git (libcurl) with only the netrc.
    let got = go_download(&job, &server, &job.s.root().join("modcache1"));
    assert_success(&got, "go mod download with the netrc");
    let users: Vec<_> = server
        .access_entries()
        .into_iter()
        .filter(|e| e.status == 200)
        .map(|e| (e.user_agent.starts_with("git/"), e.user))
        .collect();
    assert!(
        users
            .iter()
            .any(|(git, u)| *git && u.as_deref() == Some("x-access-token")),
        "{users:?}"
    );
    assert!(
        users
            .iter()
            .any(|(git, u)| !*git && u.as_deref() == Some("x-access-token")),
        "{users:?}"
    );

    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "ci wipe");
    assert!(
        stderr_str(&out).contains("1 token(s) revoked"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(sts.revoked(), vec![TOKEN.to_string()]);
    assert_eq!(job.read_netrc(), ORIGINAL, "byte for byte");
    assert_eq!(
        std::fs::metadata(job.netrc()).unwrap().mode() & 0o777,
        0o644,
        "mode restored"
    );
    assert!(job.leases().is_empty(), "lease erased");
    assert!(!lease_path.exists());

    let after = go_download(&job, &server, &job.s.root().join("modcache2"));
    assert!(!after.status.success(), "still downloads after the wipe");
    assert!(stderr_str(&after).contains("401"), "{}", stderr_str(&after));

    // Idempotent.
    let again = job.gocred(&["ci", "wipe"]);
    assert_success(&again, "second ci wipe");
    assert!(stderr_str(&again).contains("nothing to wipe"));
    assert_eq!(job.read_netrc(), ORIGINAL);
}

#[test]
fn ci_exec_runs_go_with_an_env_token_and_passes_the_status_through() {
    const TOKEN: &str = "glpat-ci-exec-0123456789";
    let server = GitServer::start(&[("ci-bot", TOKEN)]);
    let job = Job::new().env_rule(TOKEN);
    job.write_original();
    let mut c = job.s.command(support::gocred_bin());
    c.args([
        "ci",
        "exec",
        "--netrc",
        "--",
        "go",
        "mod",
        "download",
        "git.corp.test/team/lib@v1.0.0",
    ])
    .current_dir(consumer(&job));
    server.apply(&mut c);
    assert_success(&c.output().unwrap(), "ci exec -- go mod download");
    assert_eq!(job.read_netrc(), ORIGINAL);
    assert!(job.leases().is_empty());

    let out = job.gocred(&[
        "ci",
        "exec",
        "--netrc",
        "--",
        "sh",
        "-c",
        "grep -q 'password glpat-ci-exec' \"$HOME/.netrc\" && exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr_str(&out));
    assert_eq!(job.read_netrc(), ORIGINAL);
    let out = job.gocred(&["ci", "exec", "--", "/nonexistent/cmd"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(job.read_netrc(), ORIGINAL);
}

#[test]
fn no_file_mode_serves_git_from_memory() {
    const TOKEN: &str = "ghs_noFileStandInToken0123456789abcdefAB";
    let sts = TokenService::start();
    sts.expect_tokens(&[TOKEN]);
    let server = GitServer::start(&[("x-access-token", TOKEN)]);
    let job = Job::new().oidc_rule(&sts);
    let report = job.s.root().join("report");
    let script = format!(
        "test ! -e \"$HOME/.netrc\" || exit 10; \
         git ls-remote https://git.corp.test/team/lib.git >/dev/null || exit 11; \
         go mod download git.corp.test/lax/lib@v1.0.0 || exit 12; \
         test ! -e \"$HOME/.netrc\" || exit 13; \
         printf '%s\\n' \"$GOAUTH\" \"$GIT_CONFIG_COUNT\" \"$GIT_CONFIG_VALUE_3\" > {}",
        report.display()
    );
    let mut c = job.s.command(support::gocred_bin());
    c.args(["ci", "exec", "--no-file", "--", "sh", "-c", &script]);
    server.apply(&mut c);
    let out = c.output().unwrap();
    assert_success(&out, "ci exec --no-file");
    assert!(!job.netrc().exists(), "no netrc was written");
    let report = std::fs::read_to_string(report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    let gocred = support::gocred_bin();
    assert_eq!(lines[0], format!("{} goauth;netrc", gocred.display()));
    assert_eq!(lines[1], "4", "appended after the sandbox's two entries");
    assert_eq!(lines[2], format!("{} ci helper", gocred.display()));
    assert_eq!(
        sts.minted(),
        vec![TOKEN.to_string()],
        "one mint for the whole command"
    );
    assert_eq!(sts.revoked(), vec![TOKEN.to_string()]);
    assert!(job.leases().is_empty());
    assert!(server
        .access_entries()
        .iter()
        .any(|e| e.status == 200 && e.user.as_deref() == Some("x-access-token")));
}

#[test]
fn masks_come_from_ci_commands_only_never_from_get() {
    let job = Job::new()
        .env_rule("tok-mask-1")
        .with("GITHUB_ACTIONS", "true");
    let mut get = job.s.command(support::gocred_bin());
    get.arg("get");
    let out = support::run_with_stdin(&mut get, b"protocol=https\nhost=git.corp.test\n\n");
    assert_success(&out, "get");
    assert!(
        stdout_str(&out).contains("password=tok-mask-1\n"),
        "{}",
        stdout_str(&out)
    );
    assert!(
        !stdout_str(&out).contains("::add-mask::"),
        "get's stdout is git's"
    );
    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    assert!(
        stdout_str(&out).starts_with("::add-mask::tok-mask-1\n"),
        "{}",
        stdout_str(&out)
    );
    assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
    let quiet = Job::new().env_rule("tok-mask-2");
    let out = quiet.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    assert_eq!(stdout_str(&out), "", "no masks outside GitHub Actions");
    assert_success(&quiet.gocred(&["ci", "wipe"]), "wipe");
    assert!(
        !quiet.netrc().exists(),
        "a file gocred created is removed again"
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 32 netrc/wipe pairs while another process appends the user's own entries.

#[test]
fn thirty_two_parallel_pairs_and_a_user_appending() {
    const PAIRS: usize = 32;
    let job = Arc::new(Job::new().env_rule("unused"));
    job.write_original();
    let stop = job.s.root().join("stop-appending");
    // The user's editor, holding the documented lock for each append.
    let appender_script = format!(
        "i=0; while [ ! -e '{stop}' ] || [ $i -lt 20 ]; do \
           flock \"$HOME/.netrc.gocred.lock\" sh -c \"printf 'machine user-%d.example login u%d password p%d\\n' $i $i $i >> \\\"\\$HOME/.netrc\\\"\"; \
           echo $i; i=$((i+1)); done",
        stop = stop.display()
    );
    let mut appender = job
        .s
        .command("sh")
        .args(["-c", &appender_script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let appended = Arc::new(AtomicUsize::new(0));
    let reader = {
        let appended = appended.clone();
        let stdout = appender.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let n: usize = line.unwrap().trim().parse().unwrap();
                appended.store(n + 1, Ordering::SeqCst);
            }
        })
    };
    // Snapshots after every step: (appends known complete before the read, the bytes).
    let snapshots = Arc::new(Mutex::new(Vec::<(usize, Vec<u8>)>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let pairs: Vec<_> = (0..PAIRS)
        .map(|i| {
            let (job, snapshots, appended, failures) = (
                job.clone(),
                snapshots.clone(),
                appended.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let lease = format!("pair-{i}");
                let token = format!("tok-pair-{i}");
                for args in [
                    vec!["ci", "netrc", "--lease", &lease],
                    vec!["ci", "wipe", "--lease", &lease],
                ] {
                    let out = job
                        .s
                        .command(support::gocred_bin())
                        .args(&args)
                        .env("CORP_TOKEN", &token)
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{args:?}: {}", stderr_str(&out)));
                    }
                    let known = appended.load(Ordering::SeqCst);
                    let bytes = std::fs::read(job.netrc()).unwrap();
                    snapshots.lock().unwrap().push((known, bytes));
                }
            })
        })
        .collect();
    for p in pairs {
        p.join().unwrap();
    }
    std::fs::write(&stop, b"").unwrap();
    assert!(appender.wait().unwrap().success());
    reader.join().unwrap();
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );

    let total = appended.load(Ordering::SeqCst);
    let snapshots = snapshots.lock().unwrap().clone();
    assert_eq!(snapshots.len(), 2 * PAIRS);
    let files: Vec<Vec<u8>> = snapshots.iter().map(|(_, b)| b.clone()).collect();
    let parsed = support::go_netrc::go_parse_many(&files);
    for ((known, bytes), theirs) in snapshots.iter().zip(parsed) {
        let show = String::from_utf8_lossy(bytes);
        let ours: Vec<_> = go::parse(bytes)
            .into_iter()
            .map(|e| (e.machine, e.login, e.password))
            .collect();
        assert_eq!(ours, theirs, "Go and our model disagree on:\n{show}");
        let users: Vec<String> = theirs
            .iter()
            .filter(|(m, _, _)| m.starts_with(b"user-"))
            .map(|(m, _, _)| String::from_utf8_lossy(m).into_owned())
            .collect();
        let want: Vec<String> = (0..users.len())
            .map(|n| format!("user-{n}.example"))
            .collect();
        assert_eq!(users, want, "user entries in order, none lost:\n{show}");
        assert!(
            users.len() >= *known,
            "an append that had finished is missing:\n{show}"
        );
        let ids = block::ids(bytes);
        let ours_n = theirs
            .iter()
            .filter(|(m, _, _)| m == b"git.corp.test")
            .count();
        assert_eq!(ours_n, ids.len(), "one entry per block:\n{show}");
        assert_eq!(
            theirs
                .iter()
                .filter(|(m, _, _)| m == b"other.example")
                .count(),
            1
        );
        assert_eq!(
            curl::lookup(bytes, "other.example"),
            curl::Lookup::Match {
                login: Some(b"me".to_vec()),
                password: Some(b"mine".to_vec())
            }
        );
        match ids.first() {
            Some(first) => assert_eq!(
                curl::lookup(bytes, "git.corp.test"),
                curl::Lookup::Match {
                    login: Some(b"ci-bot".to_vec()),
                    password: Some(format!("tok-{}", first.as_str()).into_bytes())
                },
                "{show}"
            ),
            None => assert_eq!(curl::lookup(bytes, "git.corp.test"), curl::Lookup::NoMatch),
        }
    }
    let mut want = ORIGINAL.to_vec();
    for n in 0..total {
        want.extend(format!("machine user-{n}.example login u{n} password p{n}\n").bytes());
    }
    assert_eq!(
        String::from_utf8_lossy(&job.read_netrc()),
        String::from_utf8_lossy(&want)
    );
    let mode = std::fs::metadata(job.netrc()).unwrap().mode() & 0o777;
    assert_eq!(
        mode, 0o644,
        "the user's mode is restored by whichever wipe comes last"
    );
    assert!(job.leases().is_empty(), "{:?}", job.leases());
}

// ---------------------------------------------------------------------------------------------
// Faults: however `ci exec` ends, the block is gone and the token revoked.

fn oidc_job() -> (TokenService, Job) {
    let sts = TokenService::start();
    let job = Job::new().oidc_rule(&sts);
    job.write_original();
    (sts, job)
}

fn spawn_exec(job: &Job, cmd: &[&str], extra: &[(&str, &str)]) -> Child {
    // gocred keeps a signal its parent ignored ignored (nohup, a background job): env gives it
    // the dispositions a user's shell has, whatever the test run inherited. env execs gocred,
    // so the child's pid is gocred's.
    let mut c = job.s.command("env");
    c.arg("--default-signal=HUP,INT,QUIT,TERM")
        .arg(support::gocred_bin())
        .args(["ci", "exec", "--netrc", "--"])
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn wait_for_block(job: &Job, child: &mut Child) {
    let up = support::wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
        String::from_utf8_lossy(&job.read_netrc()).contains("# >>> gocred ci ")
            || child.try_wait().unwrap().is_some()
    });
    assert!(
        up && child.try_wait().unwrap().is_none(),
        "ci exec did not set up"
    );
}

fn kill(sig: &str, pid: u32) {
    support::run_ok(Command::new("kill").args([sig, &pid.to_string()]));
}

fn assert_wiped(sts: &TokenService, job: &Job) {
    let minted = sts.minted();
    assert_eq!(minted.len(), 1, "{minted:?}");
    assert_eq!(
        sts.revoked(),
        minted,
        "the stand-in recorded the revocation"
    );
    assert_eq!(job.read_netrc(), ORIGINAL);
    assert!(job.leases().is_empty(), "{:?}", job.leases());
}

#[test]
fn exec_wipes_when_the_command_is_killed() {
    let (sts, job) = oidc_job();
    let out = job.gocred(&["ci", "exec", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr_str(&out));
    assert_wiped(&sts, &job);
}

#[test]
fn exec_forwards_sigint_sigterm_sighup_and_wipes() {
    for (sig, n) in [("-INT", 2), ("-TERM", 15), ("-HUP", 1)] {
        let (sts, job) = oidc_job();
        let mut child = spawn_exec(&job, &["sleep", "600"], &[]);
        wait_for_block(&job, &mut child);
        kill(sig, child.id());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(128 + n),
            "{sig}: {}",
            stderr_str(&out)
        );
        assert_wiped(&sts, &job);
    }
}

#[test]
fn signals_ignored_by_the_parent_stay_ignored_for_the_command() {
    // nohup, or `&` in a script: SIGINT/SIGHUP ignored. gocred must not undo that for CMD.
    let job = Job::new().env_rule("tok-ign");
    let sigign = |trap: &str| {
        let script = format!(
            "{trap} exec '{}' ci exec -- grep SigIgn /proc/self/status",
            support::gocred_bin().display()
        );
        // From the defaults, whatever this test run inherited (nohup ignores SIGHUP).
        let out = job
            .s
            .command("env")
            .args(["--default-signal=HUP,INT", "sh", "-c", &script])
            .output()
            .unwrap();
        assert_success(&out, "ci exec");
        let hex = stdout_str(&out)
            .trim()
            .trim_start_matches("SigIgn:")
            .trim()
            .to_string();
        u64::from_str_radix(&hex, 16).unwrap()
    };
    let (int, hup) = (1u64 << (2 - 1), 1u64 << (1 - 1));
    assert_eq!(sigign("trap '' INT HUP;") & (int | hup), int | hup);
    assert_eq!(sigign("") & (int | hup), 0);
}

#[test]
fn exec_wipes_after_a_panic() {
    let (sts, job) = oidc_job();
    let pidfile = job.s.root().join("cmd.pid");
    let cmd = format!("echo $$ > {}; exec sleep 600", pidfile.display());
    let mut child = spawn_exec(
        &job,
        &["sh", "-c", &cmd],
        &[("GOCRED_TEST_FAULT", "panic-in-exec")],
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(101), "{err}");
    assert!(err.contains("injected panic"), "{err}");
    assert_wiped(&sts, &job);
    // The command was stopped (and reaped) before gocred exited.
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "the command outlived gocred"
        );
    }
}

#[test]
fn sigkill_leaves_a_lease_that_the_next_command_cleans_up() {
    for next in ["wipe", "netrc", "exec"] {
        let (sts, job) = oidc_job();
        let pidfile = job.s.root().join("cmd.pid");
        let cmd = format!("echo $$ > {}; exec sleep 600", pidfile.display());
        let mut child = spawn_exec(&job, &["sh", "-c", &cmd], &[]);
        wait_for_block(&job, &mut child);
        assert!(support::wait_until(
            Duration::from_secs(30),
            Duration::from_millis(20),
            || { std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n')) }
        ));
        kill("-KILL", child.id());
        child.wait().unwrap();
        let orphan: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        kill("-KILL", orphan);
        assert_eq!(
            block::ids(&job.read_netrc()).len(),
            1,
            "SIGKILL cannot wipe"
        );
        assert!(sts.revoked().is_empty());

        let out = match next {
            "wipe" => job.gocred(&["ci", "wipe"]),
            "netrc" => job.gocred(&["ci", "netrc", "--lease", "after"]),
            _ => job.gocred(&["ci", "exec", "--", "true"]),
        };
        assert_success(&out, next);
        let first = sts.minted()[0].clone();
        assert!(
            sts.revoked().contains(&first),
            "{next}: stale token not revoked"
        );
        let ids = block::ids(&job.read_netrc());
        if next == "netrc" {
            assert_eq!(ids, vec![block::BlockId::parse("after").unwrap()]);
            assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
        }
        assert_eq!(job.read_netrc(), ORIGINAL, "{next}");
        assert_eq!(sts.revoked(), sts.minted(), "{next}");
        assert!(job.leases().is_empty(), "{next}: {:?}", job.leases());
    }
}

// ---------------------------------------------------------------------------------------------
// Attacks: refused with a clear error, nothing written.

/// Every path under `dir` with its kind, mode and content (or link target).
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let what = if md.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", md.mode())
            } else if md.is_file() {
                format!("file {:o} {:?}", md.mode(), std::fs::read(&p).unwrap())
            } else {
                format!("other {:o}", md.mode())
            };
            out.insert(p, what);
        }
    }
    out
}

fn refused(job: &Job, needle: &str) -> String {
    let home_before = tree(&job.s.home);
    let root_before = tree(job.s.root());
    for args in [
        vec!["ci", "netrc"],
        vec!["ci", "exec", "--netrc", "--", "touch", "ran"],
    ] {
        let mut child = job
            .s
            .command(support::gocred_bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let done = support::wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            child.try_wait().unwrap().is_some()
        });
        if !done {
            let _ = child.kill();
            panic!("{args:?} hung (reading a FIFO?)");
        }
        let out = child.wait_with_output().unwrap();
        failed_with(&out, needle);
        assert_eq!(stdout_str(&out), "", "nothing on stdout");
    }
    assert_eq!(tree(&job.s.home), home_before, "HOME changed");
    assert_eq!(tree(job.s.root()), root_before, "something was written");
    stderr_str(&job.gocred(&["ci", "netrc"]))
}

#[test]
fn a_symlinked_netrc_is_refused() {
    let job = Job::new().env_rule("tok-attack");
    std::fs::write(
        job.s.root().join("victim"),
        b"machine x login y password z\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(job.s.root().join("victim"), job.netrc()).unwrap();
    let err = refused(&job, "is a symbolic link");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("tok-attack"));
}

#[test]
fn a_hard_linked_netrc_is_refused() {
    let job = Job::new().env_rule("tok-attack");
    std::fs::write(job.netrc(), ORIGINAL).unwrap();
    std::fs::hard_link(job.netrc(), job.s.root().join("other-name")).unwrap();
    refused(&job, "hard links");
}

#[test]
fn a_netrc_owned_by_someone_else_is_refused() {
    assert_eq!(
        gocred::fsutil::euid(),
        0,
        "this test chowns a file to nobody and must run as root (as the test machine does)"
    );
    let job = Job::new().env_rule("tok-attack");
    std::fs::write(job.netrc(), ORIGINAL).unwrap();
    std::os::unix::fs::chown(job.netrc(), Some(65534), Some(65534)).unwrap();
    refused(&job, "owned by uid 65534");
}

#[test]
fn netrc_pointing_at_stdout_or_a_fifo_is_refused() {
    let job = Job::new()
        .env_rule("tok-attack")
        .with("NETRC", "/dev/stdout");
    refused(&job, "/dev/stdout");
    let fifo = Job::new().env_rule("tok-attack");
    let path = fifo.s.root().join("fifo");
    support::run_ok(Command::new("mkfifo").arg(&path));
    let fifo = fifo.with("NETRC", path.to_str().unwrap());
    refused(&fifo, "a FIFO, not a regular file");
}

#[test]
fn an_open_home_is_refused() {
    for mode in [0o777, 0o775] {
        let job = Job::new().env_rule("tok-attack");
        std::fs::set_permissions(&job.s.home, std::fs::Permissions::from_mode(mode)).unwrap();
        refused(&job, "writable by group or others");
    }
}

// ---------------------------------------------------------------------------------------------
// The user's file, concurrent runs, leftovers.

#[test]
fn user_edits_around_the_block_survive_the_wipe() {
    let job = Job::new().env_rule("tok-edits");
    job.write_original();
    assert_success(&job.gocred(&["ci", "netrc"]), "netrc");
    let mut edited = b"machine top.example login t password tt\n".to_vec();
    edited.extend(job.read_netrc());
    edited.extend(b"machine end.example login e password ee\n");
    std::fs::write(job.netrc(), &edited).unwrap();
    assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
    let mut want = b"machine top.example login t password tt\n".to_vec();
    want.extend(ORIGINAL);
    want.extend(b"machine end.example login e password ee\n");
    assert_eq!(job.read_netrc(), want);
}

#[test]
fn two_runs_stack_and_one_wipe_removes_both() {
    let job = Job::new().env_rule("tok-stack");
    let netrc2 = job.s.root().join("go-netrc");
    let job = job.with("NETRC", netrc2.to_str().unwrap());
    job.write_original();
    assert_success(&job.gocred(&["ci", "netrc"]), "first");
    assert_success(&job.gocred(&["ci", "netrc"]), "second");
    assert_eq!(block::ids(&job.read_netrc()).len(), 2);
    // Go honours NETRC: the same entries went there too.
    let go_file = std::fs::read(&netrc2).unwrap();
    assert_eq!(block::ids(&go_file).len(), 2);
    assert_eq!(
        go_reads(&go_file, "git.corp.test"),
        Some(("ci-bot".into(), "tok-stack".into()))
    );
    assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
    assert_eq!(job.read_netrc(), ORIGINAL);
    let mode = std::fs::metadata(job.netrc()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o644, "mode restored");
    assert!(
        !netrc2.exists(),
        "the file gocred created for NETRC is gone"
    );
}

#[test]
fn a_lease_left_by_an_ended_job_is_cleaned_up_but_a_running_jobs_is_not() {
    let job = Job::new().env_rule("tok-jobs");
    job.write_original();
    // Stand-ins for GitHub's per-job runner process: a shell named `Runner.Worker`.
    let worker = job.s.root().join("Runner.Worker");
    std::fs::copy("/bin/sh", &worker).unwrap();
    let gocred = support::gocred_bin();
    let script = |lease: &str, then: &str| {
        format!(
            "'{}' ci netrc --lease {lease} && echo ready; {then}",
            gocred.display()
        )
    };
    // One job still runs (its worker waits on stdin), one has ended.
    let mut running = job
        .s
        .command(&worker)
        .args(["-c", &script("running", "read _")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(running.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    assert_success(
        &job.s
            .command(&worker)
            .args(["-c", &script("ended", "true")])
            .output()
            .unwrap(),
        "ended job",
    );
    assert_eq!(block::ids(&job.read_netrc()).len(), 2);

    let out = job.gocred(&["ci", "netrc", "--lease", "next"]);
    assert_success(&out, "next job");
    assert!(
        stderr_str(&out).contains("cleaning up lease ended"),
        "{}",
        stderr_str(&out)
    );
    let ids: Vec<String> = block::ids(&job.read_netrc())
        .iter()
        .map(|i| i.as_str().to_string())
        .collect();
    assert_eq!(ids, ["next", "running"], "the running job's block stays");

    drop(running.stdin.take());
    running.wait().unwrap(); // the job ends
    assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
    assert_eq!(job.read_netrc(), ORIGINAL);
    assert!(job.leases().is_empty());
}

#[test]
fn a_block_whose_lease_was_lost_is_removed_with_a_warning() {
    let job = Job::new().env_rule("tok-orphan");
    job.write_original();
    assert_success(&job.gocred(&["ci", "netrc"]), "netrc");
    std::fs::remove_dir_all(job.lease_dir()).unwrap();
    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "wipe");
    assert!(
        stderr_str(&out).contains("its lease is gone"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(job.read_netrc(), ORIGINAL);
}

// ---------------------------------------------------------------------------------------------
// OIDC: GitLab id_tokens, refusals, a revocation that fails.

#[test]
fn gitlab_id_token_variable_is_exchanged() {
    let sts = TokenService::start();
    let job = Job::new();
    job.s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"github-oidc\"\nsts_url = \"{b}\"\napi_url = \"{b}\"\nscope = \"{SCOPE}\"\nidentity = \"{IDENTITY}\"\naudience = \"{AUDIENCE}\"\nid_token_variable = \"GOCRED_ID_TOKEN\"\n",
        b = sts.base
    ));
    let job = job
        .with("GOCRED_ID_TOKEN", &sts.gitlab_jwt(AUDIENCE))
        .with("GITLAB_CI", "true")
        .with("CI_JOB_ID", "77");
    assert_success(&job.gocred(&["ci", "netrc"]), "netrc");
    let minted = sts.minted();
    assert_eq!(minted.len(), 1);
    assert_eq!(
        go_reads(&job.read_netrc(), "git.corp.test"),
        Some(("x-access-token".into(), minted[0].clone()))
    );
    assert_success(&job.gocred(&["ci", "wipe"]), "wipe");
    assert_eq!(sts.revoked(), minted);

    // A JWT for another audience is refused by the exchange; nothing is written or left.
    let job = job.with("GOCRED_ID_TOKEN", &sts.gitlab_jwt("someone-else.example"));
    let err = failed_with(&job.gocred(&["ci", "netrc"]), "answered 401");
    assert!(err.contains("invalid identity token"), "{err}");
    for jwt in sts.jwts() {
        assert!(!err.contains(&jwt), "JWT in the error");
    }
    assert!(!job.netrc().exists());
    assert!(job.leases().is_empty());
    assert_eq!(sts.minted().len(), 1);
}

#[test]
fn oidc_refusals_are_clear() {
    let sts = TokenService::start();
    // No `id-token: write`: no request URL.
    let mut job = Job::new().oidc_rule(&sts);
    job.s.unset_env("ACTIONS_ID_TOKEN_REQUEST_URL");
    job.s.unset_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let err = failed_with(
        &job.gocred(&["ci", "netrc"]),
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    );
    assert!(err.contains("id-token: write"), "{err}");
    assert!(job.leases().is_empty());

    // A trust policy that does not exist.
    let job = Job::new().oidc_rule(&sts);
    let cfg = std::fs::read_to_string(&job.s.config_path)
        .unwrap()
        .replace(IDENTITY, "nope");
    job.s.write_config(&cfg);
    let err = failed_with(&job.gocred(&["ci", "netrc"]), "answered 404");
    assert!(err.contains(".github/chainguard/nope.sts.yaml"), "{err}");
    assert!(!job.netrc().exists());

    // Plain http to a non-loopback exchange is refused before anything is sent.
    let job = Job::new().oidc_rule(&sts);
    let cfg = std::fs::read_to_string(&job.s.config_path)
        .unwrap()
        .replace(&sts.base, "http://octo-sts.example");
    job.s.write_config(&cfg);
    failed_with(&job.gocred(&["ci", "netrc"]), "only https://");
    assert!(sts.minted().is_empty());
}

#[test]
fn a_failed_revocation_still_removes_the_block_and_is_retried() {
    let (sts, job) = oidc_job();
    assert_success(&job.gocred(&["ci", "netrc"]), "netrc");
    let token = sts.minted()[0].clone();
    sts.fail_revocations(true);
    let out = job.gocred(&["ci", "wipe"]);
    let err = failed_with(
        &out,
        "could not revoke the token for git.corp.test (rule `git.corp.test`",
    );
    assert!(err.contains("answered 500"), "{err}");
    assert!(
        !err.contains(&token) && !stdout_str(&out).contains(&token),
        "token in output"
    );
    assert_eq!(job.read_netrc(), ORIGINAL, "block removed anyway");
    assert_eq!(job.leases().len(), 1, "kept to retry");
    sts.fail_revocations(false);
    assert_success(&job.gocred(&["ci", "wipe"]), "retry");
    assert_eq!(sts.revoked(), vec![token]);
    assert!(job.leases().is_empty());
}
