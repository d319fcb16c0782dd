//! `gocred doctor` against real parts: nginx + `git http-backend` over HTTPS behind a CONNECT
//! proxy and a test CA, a static GOPROXY, real git, real Go, real keyrings (kernel keyutils and
//! gnome-keyring on a private D-Bus).
//!
//! Each test starts from a working setup (the fetch succeeds), breaks one link the way people
//! break it, and then does what a user does: run `gocred doctor`, check that the *first* broken
//! link is the expected one, run the fix it prints, and repeat until doctor says the fetch should
//! work (at most a few rounds). Then `go mod download` must succeed with exactly that
//! environment. Fixes that set variables (`export …`) are applied by running them in a shell and
//! keeping that shell's environment for the next round, as a user's shell would. A fix that asks
//! for a token (`gocred login …`) gets it on stdin, as a user would paste it.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    run_with_stdin, stderr_str, stdout_str, unique_name, GitServer, KeyringService, Sandbox,
    SecretService,
};
use serde_json::Value;

const USER: &str = "alice";
const TOKEN: &str = "glpat-doctor-0123456789abcdef";
const STALE: &str = "glpat-stale-token-do-not-use-42";
const PROXY_USER: &str = "proxyuser";
const PROXY_PW: &str = "proxy-pw-7f3a9c";

const RULE: &str =
    "[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\nusername = \"alice\"\n";

type Env = Vec<(String, String)>;

struct World {
    s: Sandbox,
    server: GitServer,
    ss: Option<SecretService>,
    env: Env,
    module: &'static str,
    /// Removes the kernel-keyring entries of this world's service when it is dropped.
    _keys: KeyringService,
}

impl World {
    /// A working setup for `git.corp.test/<ns>/lib`: GOPRIVATE in Go's env file, a `pat` rule
    /// with the token in the kernel keyring, gocred as git's helper for the host, and (for the
    /// `team` namespace, whose go-get page needs auth) `GOAUTH="git $HOME"`.
    fn new(ns: &str) -> World {
        Self::with_keyring(ns, "keyutils")
    }

    fn with_keyring(ns: &str, backend: &str) -> World {
        let s = Sandbox::new();
        let server = GitServer::start(&[(USER, TOKEN), (PROXY_USER, PROXY_PW)]);
        let ss = (backend == "secret-service").then(SecretService::start);
        let service = KeyringService::new("gocred-doctor");
        let mut env = s.envs();
        env.extend(server.env());
        env.push(("GOCRED_KEYRING".into(), backend.into()));
        env.push(("GOCRED_KEYRING_SERVICE".into(), service.to_string()));
        if let Some(ss) = &ss {
            env.extend(ss.env());
        }
        let module = if ns == "team" {
            "git.corp.test/team/lib"
        } else {
            "git.corp.test/lax/lib"
        };
        // Fixes name `gocred` as a user has it installed (install.sh puts both names on PATH).
        std::os::unix::fs::symlink(support::gocred_bin(), s.bin_dir().join("gocred")).unwrap();
        let w = World {
            s,
            server,
            ss,
            env,
            module,
            _keys: service,
        };
        w.s.consumer(&[(module, "v1.0.0")]);
        w.ok(
            w.go(&w.env, &["env", "-w", "GOPRIVATE=git.corp.test"]),
            "go env -w GOPRIVATE",
        );
        if ns == "team" {
            let goauth = format!("GOAUTH=git {}", w.s.home.display());
            w.ok(w.go(&w.env, &["env", "-w", &goauth]), "go env -w GOAUTH");
        }
        w.login(&w.env.clone(), TOKEN);
        // The username lives in the rule (nginx checks it; real forges accept any with a token).
        w.s.write_config(RULE);
        w.s.git_config("credential.https://git.corp.test.helper", "gocred");
        w
    }

    fn cmd(&self, env: &Env, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = self.s.command(program);
        c.env_clear().envs(env.iter().cloned());
        c
    }

    fn go(&self, env: &Env, args: &[&str]) -> Output {
        let mut c = self.cmd(env, support::go_bin_dir().join("go"));
        c.args(args).current_dir(self.s.path("consumer"));
        c.output().expect("running go")
    }

    fn login(&self, env: &Env, token: &str) {
        let mut c = self.cmd(env, support::gocred_bin());
        c.args(["login", "git.corp.test", "--username", USER]);
        self.ok(
            run_with_stdin(&mut c, format!("{token}\n").as_bytes()),
            "gocred login",
        );
    }

    fn ok(&self, out: Output, what: &str) -> Output {
        assert!(
            out.status.success(),
            "{what} failed:\n{}\n{}",
            stdout_str(&out),
            stderr_str(&out)
        );
        out
    }

    /// `go mod download MODULE@v1.0.0` with `env`, in a fresh module cache.
    fn download(&self, env: &Env) -> Output {
        let cache = self.s.root().join(unique_name("modcache"));
        let mut env = env.clone();
        env.retain(|(k, _)| k != "GOMODCACHE");
        env.push(("GOMODCACHE".into(), cache.display().to_string()));
        let v = format!("{}@v1.0.0", self.module);
        self.go(&env, &["mod", "download", "-modcacherw", &v])
    }

    fn assert_downloads(&self, env: &Env) {
        let out = self.download(env);
        assert!(
            out.status.success(),
            "go mod download failed:\n{}",
            stderr_str(&out)
        );
    }

    fn assert_download_fails(&self, env: &Env) {
        let out = self.download(env);
        assert!(
            !out.status.success(),
            "go mod download succeeded although the setup is broken"
        );
    }

    /// Runs `gocred doctor --json MODULE` with `env`.
    fn doctor(&self, env: &Env) -> Doctor {
        let mut c = self.cmd(env, support::gocred_bin());
        c.args(["doctor", "--json", self.module]);
        let started = Instant::now();
        let out = c.output().expect("running gocred doctor");
        let elapsed = started.elapsed();
        let text = stdout_str(&out);
        let checks: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "doctor --json printed no JSON ({e}):\n{text}\n{}",
                stderr_str(&out)
            )
        });
        let d = Doctor {
            out,
            checks,
            elapsed,
        };
        d.assert_no_secret();
        if std::env::var_os("GOCRED_TEST_SHOW").is_some() {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "--- gocred doctor ({elapsed:?}, exit {}) ---\n{}",
                d.exit(),
                d.text()
            );
        }
        d
    }

    /// The user's loop: doctor, apply the first fix, again, until doctor is happy. Asserts the
    /// first broken link of the first round; returns the environment the fixes left.
    fn heal(&self, first: &str, stdin_token: &str) -> (Env, Doctor) {
        let mut env = self.env.clone();
        let d0 = self.doctor(&env);
        assert_eq!(
            d0.exit(),
            1,
            "doctor should report a broken link:\n{}",
            d0.text()
        );
        assert_eq!(
            d0.first_failure()["id"],
            first,
            "first broken link:\n{}",
            d0.text()
        );
        let mut d = d0.clone_report();
        for round in 0..5 {
            if d.exit() == 0 {
                return (env, d0);
            }
            let f = d.first_failure();
            let fix = f["fix"]
                .as_str()
                .unwrap_or_else(|| panic!("round {round}: {} has no fix:\n{}", f["id"], d.text()))
                .to_string();
            env = self.apply(&env, &fix, stdin_token);
            d = self.doctor(&env);
        }
        panic!(
            "doctor still reports broken links after 5 fixes:\n{}",
            d.text()
        );
    }

    /// Runs `fix` in a shell with `env` and returns the shell's environment afterwards.
    fn apply(&self, env: &Env, fix: &str, stdin: &str) -> Env {
        let dump = self.s.root().join(unique_name("env"));
        let script = format!(
            "set -e\n{fix}\nenv -0 > {}\n",
            support::sh_quote(&dump.display().to_string())
        );
        let mut c = self.cmd(env, "/bin/sh");
        c.args(["-c", &script]);
        let out = run_with_stdin(&mut c, format!("{stdin}\n").as_bytes());
        assert!(
            out.status.success(),
            "the fix failed: {fix}\n{}\n{}",
            stdout_str(&out),
            stderr_str(&out)
        );
        let raw = std::fs::read(&dump).expect("env dump");
        raw.split(|b| *b == 0)
            .filter_map(|kv| {
                std::str::from_utf8(kv)
                    .ok()?
                    .split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .filter(|(k, _)| !matches!(k.as_str(), "PWD" | "OLDPWD" | "SHLVL" | "_"))
            .collect()
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.into(), v.into()));
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "GOCRED_KEYRING");
        env.push(("GOCRED_KEYRING".into(), "keyutils".into()));
        let mut c = self.cmd(&env, support::gocred_bin());
        c.args(["logout", "git.corp.test"]);
        let _ = c.output();
    }
}

struct Doctor {
    out: Output,
    checks: Value,
    elapsed: Duration,
}

impl Doctor {
    fn exit(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    fn all(&self) -> &Vec<Value> {
        self.checks.as_array().expect("a JSON array")
    }

    fn first_failure(&self) -> &Value {
        self.all()
            .iter()
            .find(|c| c["status"] == "fail")
            .unwrap_or_else(|| panic!("no failure:\n{}", self.text()))
    }

    fn status(&self, id: &str) -> Vec<&str> {
        self.all()
            .iter()
            .filter(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap())
            .collect()
    }

    fn find(&self, id: &str, status: &str) -> &Value {
        self.all()
            .iter()
            .find(|c| c["id"] == id && c["status"] == status)
            .unwrap_or_else(|| panic!("no {status} {id}:\n{}", self.text()))
    }

    fn text(&self) -> String {
        self.all()
            .iter()
            .map(|c| {
                format!(
                    "{:<5} {:<16} {}{}\n",
                    c["status"].as_str().unwrap(),
                    c["id"].as_str().unwrap(),
                    c["message"].as_str().unwrap(),
                    c["fix"]
                        .as_str()
                        .map(|f| format!("\n                       fix: {f}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    fn clone_report(&self) -> Doctor {
        Doctor {
            out: self.out.clone(),
            checks: self.checks.clone(),
            elapsed: self.elapsed,
        }
    }

    fn assert_no_secret(&self) {
        let all = format!("{}{}", stdout_str(&self.out), stderr_str(&self.out));
        for s in [TOKEN, STALE, PROXY_PW] {
            assert!(
                !all.contains(s),
                "a secret leaked into doctor's output:\n{all}"
            );
        }
        use base64::Engine;
        for (u, p) in [(USER, TOKEN), (USER, STALE), (PROXY_USER, PROXY_PW)] {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            assert!(
                !all.contains(&b),
                "a Basic credential leaked into doctor's output"
            );
        }
    }
}

#[test]
fn healthy_setup_passes() {
    let w = World::new("team");
    w.assert_downloads(&w.env);
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 0, "{}\n{}", d.text(), stderr_str(&d.out));
    for id in [
        "go.goprivate",
        "net.dns",
        "net.tcp",
        "net.tls",
        "goget.page",
        "goget.auth",
        "goget.reporoot",
        "cred.rule",
        "cred.secret",
        "cred.probe",
        "git.helpers",
    ] {
        assert_eq!(
            d.status(id).first().copied(),
            Some("ok"),
            "{id}:\n{}",
            d.text()
        );
    }
}

fn home_file(w: &World, rel: &str) -> PathBuf {
    w.s.home.join(rel)
}

fn write_private(p: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn goprivate_missing_the_module() {
    let w = World::new("lax");
    w.ok(w.go(&w.env, &["env", "-u", "GOPRIVATE"]), "go env -u");
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("go.goprivate", TOKEN);
    assert!(
        d.first_failure()["fix"]
            .as_str()
            .unwrap()
            .starts_with("go env -w GOPRIVATE=git.corp.test"),
        "{}",
        d.text()
    );
    w.assert_downloads(&env);
}

#[test]
fn gonosumdb_narrower_than_goprivate() {
    let mut w = World::new("lax");
    w.set("GOSUMDB", "sum.golang.org");
    w.ok(
        w.go(&w.env, &["env", "-w", "GONOSUMDB=git.corp.test/other"]),
        "go env -w",
    );
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("go.gonosumdb", TOKEN);
    assert!(
        d.first_failure()["message"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{}",
        d.text()
    );
    w.assert_downloads(&env);
}

#[test]
fn goprivate_hiding_a_private_goproxy() {
    // Only the proxy is open to this developer: no GOAUTH for the go-get page, proxy
    // credentials in ~/.netrc (Go's default GOAUTH=netrc sends them).
    let mut w = World::new("team");
    w.server.publish_to_goproxy("team", "lib", "v1.0.0");
    w.ok(w.go(&w.env, &["env", "-u", "GOAUTH"]), "go env -u GOAUTH");
    w.set("GOPROXY", "https://proxy.corp.test");
    write_private(
        &home_file(&w, ".netrc"),
        &format!("machine proxy.corp.test login {PROXY_USER} password {PROXY_PW}\n"),
        0o600,
    );
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("go.gonoproxy", TOKEN);
    assert_eq!(
        d.first_failure()["fix"],
        "go env -w GONOPROXY=none",
        "{}",
        d.text()
    );
    let after = w.doctor(&env);
    assert_eq!(after.find("goproxy.module", "ok")["status"], "ok");
    w.assert_downloads(&env);
    assert!(w
        .server
        .access_entries()
        .iter()
        .any(|e| e.host == "proxy.corp.test"
            && e.status == 200
            && e.user.as_deref() == Some(PROXY_USER)));
}

#[test]
fn dns_name_that_does_not_resolve() {
    // The corporate resolver is only reachable through the proxy; NO_PROXY sends Go around it.
    let mut w = World::new("lax");
    w.set("NO_PROXY", "localhost,corp.test");
    w.set("no_proxy", "localhost,corp.test");
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("net.dns", TOKEN);
    let f = d.first_failure();
    assert!(
        f["message"].as_str().unwrap().contains("does not resolve"),
        "{}",
        d.text()
    );
    assert_eq!(f["fix"], "export NO_PROXY=localhost no_proxy=localhost");
    w.assert_downloads(&env);
}

#[test]
fn tls_with_an_unknown_ca() {
    // Go and git both trust only the system CAs; the bundle with the corporate CA is already on
    // the machine (CURL_CA_BUNDLE), and doctor names it.
    let mut w = World::new("lax");
    let system = "/etc/ssl/certs/ca-certificates.crt";
    w.set("SSL_CERT_FILE", system);
    w.set("GIT_SSL_CAINFO", system);
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("net.tls", TOKEN);
    let f = d.first_failure();
    assert!(
        f["message"].as_str().unwrap().contains("unknown authority"),
        "{}",
        d.text()
    );
    let bundle = w.server.ca_bundle().display().to_string();
    assert_eq!(f["fix"], format!("export SSL_CERT_FILE={bundle}"));
    let git = d
        .all()
        .iter()
        .find(|c| {
            c["id"] == "net.tls"
                && c["status"] == "fail"
                && c["message"].as_str().unwrap().contains("for git")
        })
        .expect("git's TLS failure");
    assert_eq!(git["fix"], format!("export GIT_SSL_CAINFO={bundle}"));
    w.assert_downloads(&env);
}

#[test]
fn server_down() {
    let w = World::new("lax");
    for pgid in w.server.process_groups().into_iter().take(1) {
        // nginx (the first group): this test started it.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .status();
    }
    assert!(support::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || !support::group_alive(w.server.process_groups()[0])
    ));
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 1);
    let f = d.first_failure();
    assert_eq!(f["id"], "net.tcp", "{}", d.text());
    assert!(
        f["message"].as_str().unwrap().contains("502")
            && f["message"].as_str().unwrap().contains("down"),
        "{}",
        d.text()
    );
    assert!(
        f["fix"].is_null(),
        "nothing to run for a server that is down"
    );
    assert_eq!(d.status("goget.page"), ["skip"]);
    assert_eq!(d.status("cred.probe"), ["skip"]);
}

#[test]
fn go_get_page_needs_auth_and_goauth_is_unset() {
    let w = World::new("team");
    w.ok(w.go(&w.env, &["env", "-u", "GOAUTH"]), "go env -u GOAUTH");
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("goget.auth", TOKEN);
    assert_eq!(
        d.first_failure()["fix"],
        format!(
            "go env -w GOAUTH='{} goauth;netrc'",
            support::gocred_bin().display()
        )
    );
    w.assert_downloads(&env);
}

#[test]
fn wrong_token() {
    // (No `go mod download` first: git would report the 401 and gocred would drop the token,
    // which e2e_go.rs shows; here doctor must find it while it is still there.)
    let w = World::new("lax");
    w.login(&w.env, STALE);
    let (env, d) = w.heal("cred.probe", TOKEN);
    assert_eq!(
        d.first_failure()["fix"],
        "gocred login git.corp.test --username alice"
    );
    assert!(d.first_failure()["message"]
        .as_str()
        .unwrap()
        .contains("401"));
    w.assert_downloads(&env);
}

#[test]
fn expired_token_from_a_command() {
    let w = World::new("lax");
    let script = home_file(&w, "bin/get-token");
    let json = home_file(&w, "token.json");
    write_private(
        &script,
        &format!("#!/bin/sh\nexec cat {}\n", json.display()),
        0o700,
    );
    write_private(&json, &format!("{{\"token\":\"{TOKEN}\",\"expires_at\":\"2020-01-01T00:00:00Z\",\"username\":\"{USER}\"}}"), 0o600);
    w.s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"command\"\ncommand = [\"{}\"]\n",
        script.display()
    ));
    w.assert_download_fails(&w.env);
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 1);
    let f = d.first_failure();
    assert_eq!(f["id"], "cred.expiry", "{}", d.text());
    assert!(
        f["message"].as_str().unwrap().contains("expired")
            && f["message"].as_str().unwrap().contains("get-token"),
        "{}",
        d.text()
    );
    // What the message asks for: renew what the command reads (here: its cache file).
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let later = later
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    write_private(
        &json,
        &format!("{{\"token\":\"{TOKEN}\",\"expires_at\":\"{later}\",\"username\":\"{USER}\"}}"),
        0o600,
    );
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 0, "{}", d.text());
    assert_eq!(d.status("cred.expiry"), ["ok"]);
    w.assert_downloads(&w.env);
}

#[test]
fn keyring_locked() {
    let w = World::with_keyring("lax", "secret-service");
    w.ss.as_ref().unwrap().lock();
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("cred.keyring", TOKEN);
    let f = d.first_failure();
    assert!(
        f["message"].as_str().unwrap().contains("locked"),
        "{}",
        d.text()
    );
    assert_eq!(
        f["fix"],
        "export GOCRED_KEYRING=keyutils && gocred login git.corp.test --username alice"
    );
    w.assert_downloads(&env);
}

#[test]
fn keyring_absent() {
    let mut w = World::new("lax");
    w.set("GOCRED_KEYRING", "secret-service");
    w.set(
        "DBUS_SESSION_BUS_ADDRESS",
        &format!("unix:path={}/no-bus", w.s.root().display()),
    );
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("cred.keyring", TOKEN);
    assert!(
        d.first_failure()["message"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{}",
        d.text()
    );
    w.assert_downloads(&env);
}

#[test]
fn store_helper_ahead_of_gocred_with_a_stale_token() {
    let w = World::new("lax");
    // `store` first in config order (as a global `credential.helper = store` usually is).
    w.ok(
        w.cmd(&w.env, "git")
            .args([
                "config",
                "--global",
                "--remove-section",
                "credential.https://git.corp.test",
            ])
            .output()
            .unwrap(),
        "remove",
    );
    w.s.git_config("credential.helper", "store");
    w.s.git_config("credential.https://git.corp.test.helper", "gocred");
    let creds = home_file(&w, ".git-credentials");
    let stale = format!("https://{USER}:{STALE}@git.corp.test\n");
    write_private(&creds, &stale, 0o600);
    w.assert_download_fails(&w.env);
    write_private(&creds, &stale, 0o600); // git's 401 made `store` erase it: put it back
    let (env, d) = w.heal("git.helpers", TOKEN);
    let f = d.first_failure();
    assert!(
        f["message"].as_str().unwrap().contains("store")
            && f["message"].as_str().unwrap().contains("401"),
        "{}",
        d.text()
    );
    w.assert_downloads(&env);
    // The stale entry is still there: the reset keeps `store` out of git.corp.test.
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), stale);
}

#[test]
fn insteadof_sends_the_host_to_ssh_without_a_key() {
    let mut w = World::new("lax");
    let ssh_config = home_file(&w, ".ssh/config");
    write_private(&ssh_config, &format!(
        "Host git.corp.test\n  HostName 127.0.0.1\n  Port 9\n  IdentityFile {0}/.ssh/id_ed25519\n  UserKnownHostsFile {0}/.ssh/known_hosts\n  BatchMode yes\n",
        w.s.home.display()
    ), 0o600);
    w.set(
        "GIT_SSH_COMMAND",
        &format!("ssh -F {}", ssh_config.display()),
    );
    w.s.git_config(
        "url.ssh://git@git.corp.test/.insteadOf",
        "https://git.corp.test/",
    );
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("git.insteadof", TOKEN);
    let f = d.first_failure();
    assert!(
        f["message"].as_str().unwrap().contains("no SSH key"),
        "{}",
        d.text()
    );
    assert_eq!(f["fix"], "git config --global --fixed-value --unset url.ssh://git@git.corp.test/.insteadof https://git.corp.test/");
    w.assert_downloads(&env);
}

#[test]
fn world_readable_netrc_with_a_stale_entry() {
    let w = World::new("team");
    w.ok(w.go(&w.env, &["env", "-u", "GOAUTH"]), "go env -u GOAUTH"); // Go reads ~/.netrc
    let netrc = home_file(&w, ".netrc");
    write_private(
        &netrc,
        &format!("machine git.corp.test login {USER} password {STALE}\n"),
        0o644,
    );
    w.assert_download_fails(&w.env);
    let (env, d) = w.heal("goget.auth", TOKEN);
    assert_eq!(
        d.find("netrc.shadow", "fail")["fix"],
        format!("sed -i.bak 1d {}", netrc.display())
    );
    assert_eq!(
        d.find("netrc.perms", "fail")["fix"],
        format!("chmod 600 {}", netrc.display())
    );
    w.assert_downloads(&env);
}

#[test]
fn json_shape_exit_codes_and_text() {
    let w = World::new("lax");
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 0, "{}", d.text());
    let ids: Vec<&str> = d.all().iter().map(|c| c["id"].as_str().unwrap()).collect();
    for c in d.all() {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["fix", "id", "message", "status"], "{c}");
        assert!(["ok", "warn", "fail", "skip"].contains(&c["status"].as_str().unwrap()));
        assert!(c["fix"].is_null() || c["fix"].is_string());
    }
    // The order a fetch needs: Go's settings, the network, the page, credentials, git.
    let pos = |id: &str| {
        ids.iter()
            .position(|i| *i == id)
            .unwrap_or_else(|| panic!("{id} missing: {ids:?}"))
    };
    assert!(pos("go.goprivate") < pos("net.dns") && pos("net.tls") < pos("goget.page"));
    assert!(pos("goget.reporoot") < pos("cred.rule") && pos("cred.probe") < pos("git.helpers"));
    assert!(pos("git.helpers") < pos("netrc.shadow") && pos("netrc.perms") < pos("ssh.key"));
    // Text output: one line per link, a summary, exit 1 and the first fix when broken.
    let mut c = w.cmd(&w.env, support::gocred_bin());
    let text = stdout_str(
        &w.ok(
            c.args(["doctor", "git.corp.test/lax/lib@v1.0.0"])
                .output()
                .unwrap(),
            "doctor",
        ),
    );
    assert!(text.contains("No broken link"), "{text}");
    let mut broken = w.env.clone();
    broken.retain(|(k, _)| k != "GOPRIVATE");
    w.ok(w.go(&w.env, &["env", "-u", "GOPRIVATE"]), "go env -u");
    let mut c = w.cmd(&broken, support::gocred_bin());
    let out = c
        .args(["doctor", "https://git.corp.test/lax/lib.git"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_str(&out);
    assert!(
        text.contains("FAIL  go.goprivate")
            && text.contains("Start with go.goprivate:\n    go env -w GOPRIVATE=git.corp.test"),
        "{text}"
    );
    assert!(
        stderr_str(&out).contains("go.goprivate is broken"),
        "{}",
        stderr_str(&out)
    );
    // Usage errors exit 2.
    let mut c = w.cmd(&w.env, support::gocred_bin());
    assert_eq!(
        c.args(["doctor", "ftp://x/y"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn an_unreachable_host_costs_at_most_its_timeout() {
    // A proxy that accepts connections and never answers: the CONNECT must give up on its own
    // deadline, once for Go and git together (they share the route), and the checks after it
    // skip the host.
    let mut w = World::new("lax");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    for k in ["HTTPS_PROXY", "https_proxy"] {
        w.set(k, &url);
    }
    let d = w.doctor(&w.env);
    drop(silent);
    assert_eq!(d.exit(), 1);
    let f = d.first_failure();
    assert_eq!(f["id"], "net.tcp", "{}", d.text());
    assert!(
        f["message"].as_str().unwrap().contains("did not answer")
            || f["message"].as_str().unwrap().contains("timed out"),
        "{}",
        d.text()
    );
    assert_eq!(d.status("cred.probe"), ["skip"]);
    // A sanity bound only (timing goals are in benches/doctor.rs): one 3 s timeout + the rest.
    assert!(d.elapsed < Duration::from_secs(30), "took {:?}", d.elapsed);
}

#[test]
fn ssh_rule_with_no_key() {
    let mut w = World::new("lax");
    let sshd = support::SshServer::start();
    let ssh_dir = home_file(&w, ".ssh");
    let config = ssh_dir.join("config");
    write_private(&config, &format!(
        "Host git.corp.test\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {1}/id_ed25519\n  UserKnownHostsFile {1}/known_hosts\n  BatchMode yes\n",
        sshd.port(), ssh_dir.display()
    ), 0o600);
    w.set("GIT_SSH_COMMAND", &format!("ssh -F {}", config.display()));
    // The rule says ssh and git sends the host there, as `gocred init` sets it up.
    w.s.write_config("[[rule]]\npattern = \"git.corp.test\"\ntransport = \"ssh\"\n");
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let base = format!(
        "ssh://{}@git.corp.test{}/",
        user.trim(),
        w.server.repos_dir().display()
    );
    w.s.git_config(&format!("url.{base}.insteadOf"), "https://git.corp.test/");
    w.assert_download_fails(&w.env);

    let d = w.doctor(&w.env);
    let f = d.first_failure();
    assert_eq!(f["id"], "ssh.key", "{}", d.text());
    assert_eq!(d.status("git.insteadof"), ["ok"], "{}", d.text());
    assert_eq!(
        d.status("cred.probe"),
        ["skip"],
        "https credentials are not used"
    );
    let env = w.apply(&w.env, f["fix"].as_str().unwrap(), "");
    // "add the .pub to your account": the server side of the fix.
    sshd.authorize(&ssh_dir.join("id_ed25519.pub"));

    let d = w.doctor(&env);
    let f = d.first_failure();
    assert_eq!(f["id"], "ssh.knownhost", "{}", d.text());
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ssh-keyscan -p {} 127.0.0.1 >> ", sshd.port())),
        "{}",
        d.text()
    );
    let env = w.apply(&env, f["fix"].as_str().unwrap(), "");

    let d = w.doctor(&env);
    assert_eq!(d.exit(), 0, "{}\n{}", d.text(), sshd.log());
    assert_eq!(d.status("ssh.probe"), ["ok"]);
    w.assert_downloads(&env);
}

#[test]
fn secrets_in_configuration_are_never_echoed() {
    // People paste tokens into git config and proxy URLs; doctor reads all of them and must show
    // none (every doctor run in this file also greps its output for the tokens).
    use base64::Engine;
    let mut w = World::new("lax");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    w.s.git_config(
        "http.https://git.corp.test/.extraHeader",
        &format!("Authorization: Basic {basic}"),
    );
    w.s.git_config(
        "credential.helper",
        &support::inline_credential_helper(USER, STALE),
    );
    w.s.git_config(
        &format!("url.https://{USER}:{TOKEN}@git.corp.test/.insteadOf"),
        "https://git.corp.test/",
    );
    let proxy = w.server.proxy_url().replace("http://", "");
    w.set(
        "https_proxy",
        &format!("http://{PROXY_USER}:{PROXY_PW}@{proxy}"),
    );
    w.set(
        "GOPROXY",
        &format!("https://{PROXY_USER}:{PROXY_PW}@proxy.corp.test,direct"),
    );
    let d = w.doctor(&w.env);
    let insteadof = d.find("git.insteadof", "warn");
    assert!(
        insteadof["message"]
            .as_str()
            .unwrap()
            .contains("credential in plain text"),
        "{}",
        d.text()
    );
    assert!(insteadof["fix"].is_null());
    assert!(d.all().iter().any(|c| c["id"] == "go.goproxy"
        && c["status"] == "warn"
        && c["message"]
            .as_str()
            .unwrap()
            .contains("https://***@proxy.corp.test")));
}

#[test]
fn credentials_a_server_reflects_are_never_printed() {
    // go-get pages that hand back credentials: gocred's own token (which doctor sent nowhere on
    // this page, but read from the keyring) in the repository URL's query, someone else's
    // `user:token@` with a `/` in the token (which a URL parser does not even read as user
    // info), and a scheme-less `user:token@` in a tag's prefix. None may appear in doctor's text
    // or JSON output.
    const SLASHED: &str = "ghp_reflected/slash0123456789";
    const BARE: &str = "reflected-bare-0123456789";
    let w = World::new("lax");
    let page = w.server.root().join("www/_goget/lax/lib.html");
    let publish = |content: &str| {
        let html = format!(
            "<!DOCTYPE html>\n<html><head>\n<meta name=\"go-import\" content=\"{content}\">\n\
             </head><body>go get</body></html>\n"
        );
        let tmp = page.with_extension("html.tmp");
        std::fs::write(&tmp, html).unwrap();
        std::fs::rename(&tmp, &page).unwrap();
    };
    let run = |json: bool| {
        let mut c = w.cmd(&w.env, support::gocred_bin());
        c.arg("doctor");
        if json {
            c.arg("--json");
        }
        let out = c.arg(w.module).output().unwrap();
        format!("{}{}", stdout_str(&out), stderr_str(&out))
    };
    publish(&format!(
        "git.corp.test/lax/lib git https://bob:{SLASHED}@git.corp.test/lax/lib.git?access_token={TOKEN}"
    ));
    let first = format!("{}{}", run(true), run(false));
    assert!(
        first.contains("https://***@git.corp.test/lax/lib.git"),
        "the repository URL is not reported:\n{first}"
    );
    publish(&format!(
        "bob:{BARE}@git.corp.test/lax/lib git https://git.corp.test/lax/lib.git"
    ));
    let second = format!("{}{}", run(true), run(false));
    assert!(
        second.contains("***@git.corp.test/lax/lib"),
        "the tag's prefix is not reported:\n{second}"
    );
    for out in [&first, &second] {
        for leak in [TOKEN, SLASHED, "reflected/slash", BARE] {
            assert!(!out.contains(leak), "{leak} printed:\n{out}");
        }
    }
}

/// Issue 11's one freshness rule: a token with 61–300 s left (inside the default
/// `[cache] margin_secs` of 300 s, outside the old 60 s rule of goauth and doctor) is refused
/// by `get`, `goauth`, `token` and `ci`, and doctor fails on it; with the margin lowered below
/// what is left, every one of them hands it out, and doctor passes.
#[test]
fn one_margin_for_get_goauth_token_ci_and_doctor() {
    let w = World::new("lax");
    let script = home_file(&w, "bin/get-token");
    write_private(
        &script,
        &format!(
            "#!/bin/sh\nexp=$(( $(date +%s) + 200 ))\n\
             echo \"{{\\\"token\\\":\\\"{TOKEN}\\\",\\\"expires_at\\\":$exp,\\\"username\\\":\\\"{USER}\\\"}}\"\n"
        ),
        0o700,
    );
    let rule = format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"command\"\ncommand = [\"{}\"]\n",
        script.display()
    );
    let run = |args: &[&str], stdin: &[u8]| {
        let mut c = w.cmd(&w.env, support::gocred_bin());
        c.args(args);
        run_with_stdin(&mut c, stdin)
    };
    let get = || run(&["get"], b"protocol=https\nhost=git.corp.test\n\n");
    let goauth = || run(&["goauth"], b"");
    let token = || run(&["token", "git.corp.test/lax/lib"], b"");
    let ci = || run(&["ci", "netrc"], b"");

    w.s.write_config(&rule);
    for (what, out) in [
        ("get", get()),
        ("goauth", goauth()),
        ("token", token()),
        ("ci netrc", ci()),
    ] {
        let err = stderr_str(&out);
        assert!(
            !stdout_str(&out).contains(TOKEN),
            "{what} handed out a token inside the margin"
        );
        assert!(
            err.contains("expires within 300 s"),
            "{what} does not say why: {err}"
        );
    }
    assert!(
        !w.s.path(".netrc").exists()
            || !std::fs::read_to_string(w.s.path(".netrc"))
                .unwrap()
                .contains(TOKEN)
    );
    let d = w.doctor(&w.env);
    assert_eq!(d.exit(), 1, "{}", d.text());
    assert_eq!(d.status("cred.expiry"), ["fail"], "{}", d.text());
    assert!(d.text().contains("300 s margin"), "{}", d.text());

    // The same token under a 100 s margin: handed out by every command, and doctor agrees.
    w.s.write_config(&format!("[cache]\nmargin_secs = 100\n\n{rule}"));
    assert!(stdout_str(&get()).contains(&format!("password={TOKEN}")));
    assert!(!goauth().stdout.is_empty());
    assert_eq!(stdout_str(&token()), format!("{TOKEN}\n"));
    let out = ci();
    assert!(out.status.success(), "{}", stderr_str(&out));
    let out = run(&["ci", "wipe"], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    let d = w.doctor(&w.env);
    assert_ne!(d.status("cred.expiry"), ["fail"], "{}", d.text());
}
