//! Fault injection in one place: what the real gocred binary does when the things it depends on
//! fail the way they fail in production — a token endpoint that errors, rate-limits, never
//! answers, answers garbage, trickles its body or echoes back the credential it was sent; a
//! keyring that is locked or disappears between two requests; a disk that fills up while the
//! netrc is written; gocred SIGKILLed while it writes. Every row asserts the same three things:
//! a clear error, within the documented bound (generous upper bounds: this proves a hang is
//! gone, it does not benchmark), and nothing lost — no credential printed, the user's netrc lines
//! kept byte for byte, no secret left readable in a stray file.
//!
//! Parts: the GitHub REST stand-in (`support::github_api`, which follows the published API) for
//! the minting flows, a raw TCP server in this file for what no HTTP library will do on purpose
//! (trickle, never answer, echo a credential in an error), gnome-keyring on a private D-Bus, a
//! tmpfs mounted by the test (root only), and the real kernel keyring.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/it/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]
#![allow(clippy::print_stderr)] // skip notices and the SIGKILL tally go to the test log

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    run_with_stdin, stderr_str, stdout_str, unique_name, Fault, GithubApi, KeyringService, Sandbox,
};

const HOST: &str = "github.corp.test";
/// The rule's `timeout_secs` in these tests: small, so the bounds below stay short.
const TIMEOUT_SECS: u64 = 2;
/// What "within its documented bound" means for one `get` with [`TIMEOUT_SECS`]: the deadline,
/// plus process start and the keyring, with a wide margin for a loaded CI machine.
const GET_BOUND: Duration = Duration::from_secs(12);

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 server for the faults an HTTP library will not produce on purpose.

#[derive(Clone)]
enum Raw {
    /// Headers at once, then the body one byte every `every`.
    Trickle { every: Duration },
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// `status` with a JSON `message` made from the request's credential by `echo`.
    Echo {
        status: u16,
        echo: fn(&str) -> String,
    },
}

struct RawServer {
    url: String,
    /// Credentials (`Authorization` without its scheme) the server was sent.
    seen: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    fn start(mode: Raw) -> RawServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        // Detached: each connection ends when the client hangs up (a write fails) or after
        // the mode's own bound; the listener goes with the test process.
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { return };
                let (mode, log) = (mode.clone(), log.clone());
                std::thread::spawn(move || serve(&mut s, &mode, &log));
            }
        });
        RawServer { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(s: &mut std::net::TcpStream, mode: &Raw, log: &Mutex<Vec<String>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let cred = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        })
        .map(|v| v.split_once(' ').map_or(v.clone(), |(_, c)| c.to_string()))
        .unwrap_or_default();
    log.lock().unwrap().push(cred.clone());
    match mode {
        Raw::Silent => std::thread::sleep(Duration::from_secs(60)),
        Raw::Trickle { every } => {
            let body = br#"{"id": 11, "token": "ghs_trickled0123456789abcdefghijklmnop", "expires_at": "2099-01-01T00:00:00Z"}"#;
            let h = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            if s.write_all(h.as_bytes()).is_err() {
                return;
            }
            for byte in body {
                if s.write_all(&[*byte]).and_then(|_| s.flush()).is_err() {
                    return;
                }
                std::thread::sleep(*every);
            }
        }
        Raw::Echo { status, echo } => {
            let body = serde_json::json!({ "message": echo(&cred) }).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 {status} Nope\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    }
}

/// Every form of `secret` a careless server could echo, for the leak checks.
fn forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_string(),
        e.encode(secret),
        e.encode(format!("x-access-token:{secret}")),
    ]
}

/// No secret in stderr, nor in stdout unless the command succeeded (a successful `get` prints
/// its credential: that is the protocol answer).
fn assert_no_leak(out: &Output, secrets: &[String], what: &str) {
    let all = if out.status.success() {
        stderr_str(out)
    } else {
        format!("{}{}", stdout_str(out), stderr_str(out))
    };
    for s in secrets {
        for f in forms(s) {
            assert!(
                f.len() < 4 || !all.contains(&f),
                "{what}: a secret (or its encoding) was printed:\n{all}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A github-app rule with its key in the kernel keyring.

struct App {
    s: Sandbox,
    api: GithubApi,
    service: KeyringService,
}

impl App {
    fn new() -> App {
        let api = GithubApi::start();
        api.install(
            11,
            "acme",
            true,
            &["lib"],
            &[("contents", "read"), ("metadata", "read")],
        );
        let a = App {
            s: Sandbox::new(),
            api,
            service: KeyringService::new("gocred-faults"),
        };
        let out = a.gocred(
            &[
                "login",
                HOST,
                "--source",
                "github-app",
                "--app-id",
                &a.api.app.id.to_string(),
                "--api-url",
                &a.api.url(),
            ],
            a.api.app.private_key_pem.as_bytes(),
        );
        assert!(out.status.success(), "login: {}", stderr_str(&out));
        a.point_at(&a.api.url());
        a
    }

    /// The rule, with its API at `api_url` (the stand-in, or a [`RawServer`]).
    fn point_at(&self, api_url: &str) {
        self.s.write_config(&format!(
            "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"{api_url}\"\ntimeout_secs = {TIMEOUT_SECS}\n",
            self.api.app.id,
        ));
    }

    fn gocred(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.s.gocred();
        self.service.apply(&mut c);
        c.args(args);
        run_with_stdin(&mut c, stdin)
    }

    /// `gocred get` for `acme/lib`, and how long it took.
    fn get(&self) -> (Output, Duration) {
        let start = Instant::now();
        let out = self.gocred(
            &["get"],
            format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n").as_bytes(),
        );
        (out, start.elapsed())
    }

    /// Every token the stand-in minted, and the App's key: nothing of it may be printed.
    fn secrets(&self) -> Vec<String> {
        let mut v: Vec<String> = self.api.mints().into_iter().map(|m| m.token).collect();
        v.extend(self.api.echoed());
        v.push("ghs_trickled0123456789abcdefghijklmnop".into());
        v
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.point_at(&self.api.url());
        let _ = self.gocred(&["logout", HOST], b"");
    }
}

enum Expect {
    /// `get` fails, its error names this, stdout is empty.
    Fails(&'static str),
    /// `get` succeeds after at least this long (a `Retry-After` waited out).
    SucceedsAfter(Duration),
}

#[test]
fn token_endpoint_faults() {
    let trickle = RawServer::start(Raw::Trickle {
        every: Duration::from_secs(1),
    });
    let silent = RawServer::start(Raw::Silent);
    type Row = (&'static str, Option<Fault>, Option<String>, Expect);
    let table: Vec<Row> = vec![
        (
            "500",
            Some(Fault::Status(500, "Internal error")),
            None,
            Expect::Fails("HTTP 500"),
        ),
        (
            "429 with a short Retry-After: waited out, then served",
            Some(Fault::RateLimited {
                status: 429,
                retry_after: 1,
            }),
            None,
            Expect::SucceedsAfter(Duration::from_secs(1)),
        ),
        (
            "429 with a Retry-After beyond the deadline: not waited for",
            Some(Fault::RateLimited {
                status: 429,
                retry_after: 120,
            }),
            None,
            Expect::Fails("HTTP 429"),
        ),
        (
            "a slow answer (longer than timeout_secs)",
            Some(Fault::Slow(Duration::from_secs(TIMEOUT_SECS + 4))),
            None,
            Expect::Fails("timed out"),
        ),
        (
            "headers and no answer at all",
            None,
            Some(silent.url.clone()),
            Expect::Fails("timed out"),
        ),
        (
            "garbage instead of JSON",
            Some(Fault::Garbage),
            None,
            Expect::Fails("unexpected answer"),
        ),
        (
            "a body trickled at one byte per second",
            None,
            Some(trickle.url.clone()),
            Expect::Fails("timed out"),
        ),
    ];
    for (what, fault, api_url, expect) in table {
        let app = App::new();
        if let Some(f) = fault {
            app.api.push_fault(f);
        }
        if let Some(u) = &api_url {
            app.point_at(u);
        }
        let (out, took) = app.get();
        assert!(took < GET_BOUND, "{what}: get took {took:?}");
        assert_no_leak(&out, &app.secrets(), what);
        match expect {
            Expect::Fails(needle) => {
                assert!(!out.status.success(), "{what}: get succeeded");
                assert_eq!(stdout_str(&out), "", "{what}: stdout must stay empty");
                let err = stderr_str(&out);
                assert!(
                    err.contains(needle) && err.contains("gocred"),
                    "{what}: the error does not say `{needle}`:\n{err}"
                );
            }
            Expect::SucceedsAfter(min) => {
                assert!(out.status.success(), "{what}: {}", stderr_str(&out));
                assert!(took >= min, "{what}: Retry-After not honoured ({took:?})");
                let minted = app.api.mints();
                assert_eq!(minted.len(), 1, "{what}");
                assert!(stdout_str(&out).contains(&minted[0].token), "{what}");
            }
        }
        // Nothing half-done is cached: once the fault is gone, the next get mints normally.
        app.point_at(&app.api.url());
        let (again, _) = app.get();
        assert!(
            again.status.success(),
            "{what}: a later get fails: {}",
            stderr_str(&again)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Redaction of what a server echoes (the request's own secrets, in any encoding).

#[test]
fn a_server_echoing_the_jwt_or_the_token_at_revocation_shows_neither() {
    let app = App::new();
    // The installation lookup echoes the App JWT it was sent.
    app.api.push_fault(Fault::Echo(500));
    let (out, _) = app.get();
    assert!(!out.status.success());
    let jwt = app.api.echoed();
    assert_eq!(jwt.len(), 1, "the fault was hit");
    assert_no_leak(&out, &jwt, "JWT echoed in a 500");
    assert!(
        stderr_str(&out).contains("[redacted]"),
        "{}",
        stderr_str(&out)
    );
    // Mint a token, then the revocation at logout echoes it: `token:ghs_…,ghs_…`, base64, %XX.
    let (ok, _) = app.get();
    assert!(ok.status.success(), "{}", stderr_str(&ok));
    app.api.push_fault(Fault::Echo(500));
    let out = app.gocred(&["logout", HOST], b"");
    let echoed = app.api.echoed();
    assert_eq!(echoed.len(), 2, "the revocation was made and echoed");
    assert!(echoed[1].starts_with("ghs_"), "the token was echoed");
    assert_no_leak(&out, &echoed, "installation token echoed at revocation");
    assert!(
        stderr_str(&out).contains("HTTP 500"),
        "{}",
        stderr_str(&out)
    );
}

/// Short Actions request token echoed in a 401, identity tokens joined by `:` and `,`.
#[test]
fn oidc_secrets_echoed_in_refusals_are_redacted() {
    const REQUEST_TOKEN: &str = "Ab9-q7x";
    let sandbox = Sandbox::new();
    let run = |config: String, env: &[(&str, &str)]| {
        sandbox.write_config(&config);
        let mut c = sandbox.gocred();
        c.envs(env.iter().copied()).arg("get");
        run_with_stdin(
            &mut c,
            format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n").as_bytes(),
        )
    };
    let rule = |sts: &str, extra: &str| {
        format!(
            "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-oidc\"\nsts_url = \"{sts}\"\napi_url = \"{sts}\"\nscope = \"acme/lib\"\nidentity = \"ci\"\naudience = \"aud\"\n{extra}"
        )
    };
    // 1. The Actions token endpoint says 401 and quotes the (short) request token.
    let actions = RawServer::start(Raw::Echo {
        status: 401,
        echo: |c| format!("request token {c} is not valid for this run (token={c})"),
    });
    let endpoint = format!("{}/token?api-version=2.0", actions.url);
    let out = run(
        rule("http://127.0.0.1:9", ""),
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", endpoint.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
        ],
    );
    assert_eq!(actions.seen(), [REQUEST_TOKEN], "the endpoint was asked");
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    assert!(stderr_str(&out).contains("401"), "{}", stderr_str(&out));
    assert_no_leak(
        &out,
        &[REQUEST_TOKEN.into()],
        "Actions request token in a 401",
    );
    // 2. The exchange refuses the identity token and quotes it joined with `:` and `,`.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvbGliIn0.c2lnbmF0dXJl";
    let sts = RawServer::start(Raw::Echo {
        status: 403,
        echo: |c| format!("subject mismatch for {c}:{c},{c}"),
    });
    let out = run(
        rule(&sts.url, "id_token_variable = \"CORP_ID_TOKEN\"\n"),
        &[("CORP_ID_TOKEN", jwt)],
    );
    assert_eq!(sts.seen(), [jwt], "the exchange was asked");
    assert!(!out.status.success());
    assert!(stderr_str(&out).contains("403"), "{}", stderr_str(&out));
    assert_no_leak(&out, &[jwt.into()], "identity token in a 403");
    for part in jwt.split('.') {
        assert!(!stderr_str(&out).contains(part), "{}", stderr_str(&out));
    }
}

// ---------------------------------------------------------------------------------------------
// The keyring: locked, or gone, between two requests.

fn pat_world(ss: &support::SecretService) -> (Sandbox, String, Vec<(String, String)>) {
    let s = Sandbox::new();
    let service = unique_name("gocred-faults-ss");
    let mut env = ss.env();
    env.push(("GOCRED_KEYRING".into(), "secret-service".into()));
    env.push(("GOCRED_KEYRING_SERVICE".into(), service.clone()));
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\nusername = \"alice\"\n",
    );
    (s, service, env)
}

fn pat_get(s: &Sandbox, env: &[(String, String)]) -> (Output, Duration) {
    let mut c = s.gocred();
    c.envs(env.iter().map(|(k, v)| (k, v))).arg("get");
    let start = Instant::now();
    let out = run_with_stdin(&mut c, b"protocol=https\nhost=git.corp.test\n\n");
    (out, start.elapsed())
}

const PAT: &str = "glpat-faults-keyring-0123456789";

fn pat_login(s: &Sandbox, env: &[(String, String)]) {
    let mut c = s.gocred();
    c.envs(env.iter().map(|(k, v)| (k, v)))
        .args(["login", "git.corp.test", "--username", "alice"]);
    let out = run_with_stdin(&mut c, format!("{PAT}\n").as_bytes());
    assert!(out.status.success(), "login: {}", stderr_str(&out));
}

#[test]
fn keyring_locked_between_two_requests() {
    let ss = support::SecretService::start();
    let (s, _service, env) = pat_world(&ss);
    pat_login(&s, &env);
    let (first, _) = pat_get(&s, &env);
    assert!(first.status.success(), "{}", stderr_str(&first));
    assert!(stdout_str(&first).contains(PAT));
    ss.lock();
    let (out, took) = pat_get(&s, &env);
    assert!(took < GET_BOUND, "get took {took:?} on a locked keyring");
    assert!(!out.status.success(), "a locked keyring gave a credential");
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("locked"),
        "unclear error: {}",
        stderr_str(&out)
    );
    assert_no_leak(&out, &[PAT.into()], "locked keyring");
    // Nothing was lost: the item is still there (secret-tool sees it once it can search).
    let mut c = s.gocred();
    c.envs(env.iter().map(|(k, v)| (k, v)))
        .args(["logout", "git.corp.test"]);
    let _ = c.output();
}

#[test]
fn keyring_gone_between_two_requests() {
    let ss = support::SecretService::start();
    let (s, _service, env) = pat_world(&ss);
    pat_login(&s, &env);
    let (first, _) = pat_get(&s, &env);
    assert!(first.status.success(), "{}", stderr_str(&first));
    // The keyring daemon dies (crash, session ended); its entries go with its process.
    for pgid in ss.process_groups() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
    }
    let (out, took) = pat_get(&s, &env);
    assert!(took < GET_BOUND, "get took {took:?} with the keyring gone");
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("keyring"),
        "unclear error: {}",
        stderr_str(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// The netrc: disk full, SIGKILL mid-write.

const ORIGINAL: &[u8] =
    b"machine other.example login me password mine\r\n# my own note\nmacdef init\ncd /\n\n";
const CI_TOKEN: &str = "ci-faults-token-0123456789abcdef";

fn ci_cmd(s: &Sandbox, home: &Path) -> Command {
    let mut c = s.gocred();
    c.env("HOME", home)
        .env("GOPRIVATE", "git.corp.test")
        .env("CORP_TOKEN", CI_TOKEN)
        .current_dir(home);
    c
}

fn ci_world() -> Sandbox {
    let s = Sandbox::new();
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\nusername = \"ci-bot\"\n",
    );
    s
}

fn write_original(home: &Path) {
    std::fs::write(home.join(".netrc"), ORIGINAL).unwrap();
    std::fs::set_permissions(home.join(".netrc"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Files under `dir` (recursively: HOME, the cache, the lease directory) other than the netrc
/// itself that hold the token, with their modes.
fn stray_secrets(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut v = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return v;
    };
    for e in entries.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            v.extend(stray_secrets(&p));
            continue;
        }
        if p.file_name().is_some_and(|n| n == ".netrc") || !ft.is_file() {
            continue;
        }
        let text = std::fs::read(&p).unwrap_or_default();
        if text
            .windows(CI_TOKEN.len())
            .any(|w| w == CI_TOKEN.as_bytes())
        {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            v.push((p, mode));
        }
    }
    v
}

struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_while_writing_the_netrc_loses_nothing() {
    if !support::is_root() {
        support::skipped("mounting a tmpfs needs root");
        return;
    }
    let s = ci_world();
    let home = s.root().join("fullhome");
    std::fs::create_dir(&home).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
        .arg(&home)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        support::skipped("cannot mount a tmpfs here (no CAP_SYS_ADMIN?)");
        return;
    }
    let _guard = Tmpfs(home.clone());
    write_original(&home);
    // Fill every remaining block: the new netrc cannot be written.
    let mut filler = std::fs::File::create(home.join("filler")).unwrap();
    let chunk = [0u8; 1024];
    while filler
        .write_all(&chunk)
        .and_then(|_| filler.sync_all())
        .is_ok()
    {}
    drop(filler);
    let start = Instant::now();
    let out = ci_cmd(&s, &home).args(["ci", "netrc"]).output().unwrap();
    let took = start.elapsed();
    assert!(took < GET_BOUND, "ci netrc took {took:?}");
    assert!(
        !out.status.success(),
        "ci netrc claimed success on a full disk"
    );
    let err = stderr_str(&out);
    assert!(
        err.to_lowercase().contains("no space"),
        "the error does not say the disk is full:\n{err}"
    );
    assert_no_leak(&out, &[CI_TOKEN.into()], "disk full");
    assert_eq!(
        std::fs::read(home.join(".netrc")).unwrap(),
        ORIGINAL,
        "the user's netrc changed"
    );
    assert_eq!(
        stray_secrets(s.root()),
        [],
        "a partial copy of the token was left"
    );
    // Space again: the same command now works, and wipe restores the file byte for byte.
    std::fs::remove_file(home.join("filler")).unwrap();
    let ok = ci_cmd(&s, &home).args(["ci", "netrc"]).output().unwrap();
    assert!(ok.status.success(), "{}", stderr_str(&ok));
    let wipe = ci_cmd(&s, &home).args(["ci", "wipe"]).output().unwrap();
    assert!(wipe.status.success(), "{}", stderr_str(&wipe));
    assert_eq!(std::fs::read(home.join(".netrc")).unwrap(), ORIGINAL);
}

#[test]
fn sigkill_mid_write_leaves_the_old_or_the_new_netrc() {
    let s = ci_world();
    let home = s.home.clone();
    write_original(&home);
    // The complete new file, for comparison.
    let ok = ci_cmd(&s, &home).args(["ci", "netrc"]).output().unwrap();
    assert!(ok.status.success(), "{}", stderr_str(&ok));
    let full = std::fs::read(home.join(".netrc")).unwrap();
    assert!(full.ends_with(ORIGINAL) && full.len() > ORIGINAL.len());
    let wipe = ci_cmd(&s, &home).args(["ci", "wipe"]).output().unwrap();
    assert!(wipe.status.success(), "{}", stderr_str(&wipe));
    assert_eq!(std::fs::read(home.join(".netrc")).unwrap(), ORIGINAL);
    let block_of = |b: &[u8]| b[..b.len() - ORIGINAL.len()].to_vec();
    // How long a whole run takes, so the kills below land all over it.
    let start = Instant::now();
    let ok = ci_cmd(&s, &home).args(["ci", "netrc"]).output().unwrap();
    let life = start.elapsed();
    assert!(ok.status.success(), "{}", stderr_str(&ok));
    let wipe = ci_cmd(&s, &home).args(["ci", "wipe"]).output().unwrap();
    assert!(wipe.status.success(), "{}", stderr_str(&wipe));
    let (mut old, mut new) = (0, 0);
    const KILLS: u32 = 40;
    for i in 0..KILLS {
        let mut child = ci_cmd(&s, &home)
            .args(["ci", "netrc"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // From the start of the run to a little past its usual end.
        std::thread::sleep(life * (i + 1) * 5 / (4 * KILLS));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(home.join(".netrc")).unwrap();
        if now == ORIGINAL {
            old += 1;
        } else {
            assert!(
                now.ends_with(ORIGINAL) && now.len() > ORIGINAL.len(),
                "kill {i}: the user's lines did not survive:\n{}",
                String::from_utf8_lossy(&now)
            );
            // Same shape as a complete block (the lease id in its marker lines differs).
            let (a, b) = (block_of(&now), block_of(&full));
            assert_eq!(
                a.iter().filter(|c| **c == b'\n').count(),
                b.iter().filter(|c| **c == b'\n').count(),
                "kill {i}: a partial block:\n{}",
                String::from_utf8_lossy(&now)
            );
            assert!(
                String::from_utf8_lossy(&a).contains(CI_TOKEN),
                "kill {i}: a block without its entry"
            );
            new += 1;
        }
        for (p, mode) in stray_secrets(s.root()) {
            assert_eq!(
                mode & 0o077,
                0,
                "kill {i}: {} holds the token and is readable by others",
                p.display()
            );
        }
        let mode = std::fs::metadata(home.join(".netrc"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "kill {i}: the netrc's mode changed");
        // The next command cleans up what the killed one left (lease, block).
        let wipe = ci_cmd(&s, &home).args(["ci", "wipe"]).output().unwrap();
        assert!(wipe.status.success(), "kill {i}: {}", stderr_str(&wipe));
        assert_eq!(
            std::fs::read(home.join(".netrc")).unwrap(),
            ORIGINAL,
            "kill {i}: wipe did not restore the file"
        );
    }
    eprintln!(
        "SIGKILL mid-write ({life:?} a run): {old} runs left the old file, {new} the new one"
    );
    assert!(
        stray_secrets(s.root()).is_empty(),
        "stray files hold the token after the final wipe: {:?}",
        stray_secrets(s.root())
    );
}

/// Resumes a stopped process group however the test ends, so the keyring can be shut down.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", "--", &format!("-{}", self.0)])
            .status();
    }
}

#[test]
fn keyring_that_stops_answering_between_two_requests() {
    let ss = support::SecretService::start();
    let (s, _service, env) = pat_world(&ss);
    pat_login(&s, &env);
    let (first, _) = pat_get(&s, &env);
    assert!(first.status.success(), "{}", stderr_str(&first));
    // The daemon is still there (its socket accepts) but never answers: swapped out, stuck.
    let keyring = ss.process_groups()[0];
    let _resume = Resume(keyring);
    let stopped = Command::new("kill")
        .args(["-STOP", "--", &format!("-{keyring}")])
        .status()
        .unwrap();
    assert!(stopped.success());
    let (out, took) = pat_get(&s, &env);
    assert!(took < GET_BOUND, "get took {took:?} with a stuck keyring");
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("keyring"),
        "unclear error: {}",
        stderr_str(&out)
    );
}

#[test]
fn keyring_that_dies_while_a_request_waits_on_it() {
    let ss = support::SecretService::start();
    let (s, _service, env) = pat_world(&ss);
    pat_login(&s, &env);
    let (first, _) = pat_get(&s, &env);
    assert!(first.status.success(), "{}", stderr_str(&first));
    // Frozen first, so the next get's request is sent and waiting when the daemon is killed.
    let keyring = ss.process_groups()[0];
    let _resume = Resume(keyring);
    let stopped = Command::new("kill")
        .args(["-STOP", "--", &format!("-{keyring}")])
        .status()
        .unwrap();
    assert!(stopped.success());
    let (out, took) = std::thread::scope(|scope| {
        let get = scope.spawn(|| pat_get(&s, &env));
        std::thread::sleep(Duration::from_millis(1500));
        let killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{keyring}")])
            .status()
            .unwrap();
        assert!(killed.success());
        get.join().unwrap()
    });
    assert!(took < GET_BOUND, "get took {took:?} with the keyring dying");
    assert!(!out.status.success(), "a dead keyring gave a credential");
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("keyring"),
        "unclear error: {}",
        stderr_str(&out)
    );
    assert_no_leak(&out, &[PAT.into()], "keyring died mid-request");
}
