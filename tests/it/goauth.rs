//! `gocred goauth` with real parts: nginx + `git http-backend` over HTTPS (test CA, Basic auth),
//! a private GOPROXY directory behind Basic and behind Bearer auth, real git, real Go
//! (`GOAUTH='<abs path>/gocred goauth'`), tokens from a real kernel keyring or the environment.
//! Every answer gocred gives here is also run through Go's own `parseUserAuth`
//! (support::GoUserAuth, built from GOROOT) — or consumed by `go` itself.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;
use crate::support::{
    assert_success, gocred_bin, run_with_stdin, stderr_str, stdout_str, GitServer, GoUserAuth,
    KeyringService, Sandbox, BEARER_PROXY_HOST,
};

const TOKEN: &str = "glpat-goauth-0123456789";
const PROXY_TOKEN: &str = "proxy-token-9876543210";

/// A sandbox whose every command reaches the git server (proxy, CA) and gets the variables
/// set with `w.s.set_env`.
struct World {
    s: Sandbox,
    server: GitServer,
    keyring_service: Option<KeyringService>,
}

impl World {
    fn new(users: &[(&str, &str)]) -> World {
        let mut s = Sandbox::new();
        let server = GitServer::start(users);
        for (k, v) in server.env() {
            s.set_env(k, v);
        }
        s.consumer_main("git.corp.test/team/lib", "v1.0.0");
        World {
            s,
            server,
            keyring_service: None,
        }
    }

    fn gocred(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_stdin(self.s.gocred().args(args), stdin)
    }

    fn go(&self, args: &[&str]) -> Output {
        let mut c = self.s.go();
        c.args(args).current_dir(self.s.path("consumer"));
        c.output().expect("run go")
    }

    fn build_and_run(&self) -> String {
        assert_success(&self.go(&["build", "-o", "consumer", "."]), "go build");
        let run = Command::new(self.s.path("consumer/consumer"))
            .output()
            .unwrap();
        stdout_str(&run)
    }

    /// Stores TOKEN for git.corp.test in the kernel user keyring (a service of its own).
    fn login_keyutils(&mut self, user: &str) {
        let service = KeyringService::new("gocred-goauth");
        for (k, v) in service.env() {
            self.s.set_env(k, v);
        }
        self.keyring_service = Some(service);
        let out = self.gocred(
            &["login", "git.corp.test", "--username", user],
            format!("{TOKEN}\n").as_bytes(),
        );
        assert_success(&out, "gocred login");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.keyring_service.is_some() {
            let _ = self.gocred(&["logout", "git.corp.test"], b"");
        }
    }
}

/// `GOAUTH` for gocred: Go splits the value on white space, so the path must hold none.
fn goauth_value() -> String {
    let bin = gocred_bin();
    let bin = bin.to_str().expect("utf-8 path");
    assert!(
        !bin.contains(char::is_whitespace) && bin.starts_with('/'),
        "{bin}"
    );
    format!("{bin} goauth")
}

/// A GOAUTH command that records each call (argv, stdin, stdout, status) and passes it through
/// to gocred unchanged: evidence of what Go sent and what it got back.
fn recorder(dir: &Path) -> PathBuf {
    let calls = dir.join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    let script = dir.join("record-goauth");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nf=$(mktemp '{calls}/call-XXXXXX')\ndate +%s%N > \"$f.t\"\n\
             printf '%s\\n' \"$@\" > \"$f.args\"\ncat > \"$f.in\"\n\
             '{bin}' \"$@\" < \"$f.in\" > \"$f.out\" 2> \"$f.err\"\nrc=$?\necho $rc > \"$f.rc\"\n\
             cat \"$f.out\"\ncat \"$f.err\" >&2\nexit $rc\n",
            calls = calls.display(),
            bin = gocred_bin().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

struct Call {
    args: Vec<String>,
    stdin: String,
    stdout: String,
    rc: i32,
}

/// The recorded calls, oldest first.
fn calls(dir: &Path) -> Vec<Call> {
    let calls = dir.join("calls");
    let mut v: Vec<(u128, Call)> = std::fs::read_dir(&calls)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none())
        .map(|p| {
            let read = |ext: &str| std::fs::read_to_string(p.with_extension(ext)).unwrap();
            let t: u128 = read("t").trim().parse().unwrap();
            let args = read("args").lines().map(str::to_string).collect();
            let call = Call {
                args,
                stdin: read("in"),
                stdout: read("out"),
                rc: read("rc").trim().parse().unwrap(),
            };
            (t, call)
        })
        .collect();
    v.sort_by_key(|(t, _)| *t);
    v.into_iter().map(|(_, c)| c).collect()
}

/// `Basic base64(user:token)` as Go's Request.BasicAuth reads it back: `user:token`.
fn assert_basic(parse: &support::GoParse, url: &str, user_token: &str) {
    assert_eq!(
        parse.basic.get(url).map(String::as_str),
        Some(user_token),
        "{parse:?}"
    );
}

#[test]
fn go_get_page_that_needs_auth_works_with_goauth_and_the_git_helper() {
    let mut w = World::new(&[("alice", TOKEN)]);
    w.s.set_env("GOPRIVATE", "git.corp.test");
    w.login_keyutils("alice");
    w.s.git_config("credential.https://git.corp.test.helper", "gocred");

    // Without GOAUTH: Go's own ?go-get=1 request is refused before git ever runs.
    let out = w.go(&["mod", "download", "git.corp.test/team/lib@v1.0.0"]);
    assert!(!out.status.success(), "downloaded without GOAUTH");
    let err = stderr_str(&out);
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(!w.server.access_log().contains("/info/refs"), "git ran");

    let before = w.server.access_entries().len();
    w.s.set_env("GOAUTH", goauth_value());
    assert_success(
        &w.go(&["mod", "download", "git.corp.test/team/lib@v1.0.0"]),
        "go mod download",
    );
    assert_eq!(w.build_and_run(), "hello from team\n");

    let seen = &w.server.access_entries()[before..];
    let goget: Vec<_> = seen.iter().filter(|e| e.uri.contains("go-get=1")).collect();
    assert!(!goget.is_empty(), "{seen:?}");
    // Answered by the first call: no 401 first, the keyring's token under alice.
    for e in &goget {
        assert_eq!((e.status, e.user.as_deref()), (200, Some("alice")), "{e:?}");
    }
    let refs: Vec<_> = seen
        .iter()
        .filter(|e| e.uri.contains("/info/refs") && e.status == 200)
        .collect();
    assert!(
        !refs.is_empty() && refs.iter().all(|e| e.user.as_deref() == Some("alice")),
        "{seen:?}"
    );
}

#[test]
fn wildcard_rule_is_answered_on_gos_retry_call() {
    let mut w = World::new(&[("wild", TOKEN)]);
    w.s.write_config(
        "[[rule]]\npattern = \"*.corp.test\"\nsource = \"env\"\nvariable = \"WILD_TOKEN\"\nusername = \"wild\"\n",
    );
    w.s.set_env("WILD_TOKEN", TOKEN);
    w.s.set_env("GOPRIVATE", "git.corp.test");
    w.s.git_config("credential.https://git.corp.test.helper", "gocred");
    let rec = recorder(w.s.root());
    w.s.set_env("GOAUTH", format!("{} goauth", rec.display()));

    assert_success(
        &w.go(&["mod", "download", "git.corp.test/team/lib@v1.0.0"]),
        "go mod download",
    );

    let goget: Vec<_> = w
        .server
        .access_entries()
        .into_iter()
        .filter(|e| e.uri == "/team/lib?go-get=1")
        .collect();
    assert_eq!(goget.len(), 2, "{goget:?}");
    assert_eq!((goget[0].status, goget[0].user.as_deref()), (401, None));
    assert_eq!(
        (goget[1].status, goget[1].user.as_deref()),
        (200, Some("wild"))
    );

    let calls = calls(w.s.root());
    assert_eq!(calls.len(), 2, "one first call, one retry");
    let (first, retry) = (&calls[0], &calls[1]);
    assert_eq!(
        (
            first.args.as_slice(),
            first.stdin.as_str(),
            first.stdout.as_str(),
            first.rc
        ),
        (&["goauth".to_string()][..], "", "", 0)
    );
    let url = "https://git.corp.test/team/lib?go-get=1";
    assert_eq!(retry.args, ["goauth", url]);
    assert!(
        retry.stdin.starts_with("HTTP/1.1 401 Unauthorized\n"),
        "{:?}",
        retry.stdin
    );
    assert!(
        retry
            .stdin
            .contains("Www-Authenticate: Basic realm=\"git.corp.test\"\n"),
        "{:?}",
        retry.stdin
    );
    assert!(retry.stdin.ends_with("\n\n"));
    assert_eq!(retry.rc, 0);
    assert!(
        retry
            .stdout
            .starts_with("https://git.corp.test/\n\nAuthorization: Basic "),
        "{:?}",
        retry.stdout
    );

    let go = GoUserAuth::get().check(
        retry.stdout.as_bytes(),
        &[
            url,
            "https://git.corp.test/other/x?go-get=1",
            "https://evil.corp.test/x",
            "https://git.corp.test.evil.test/x",
        ],
    );
    assert_eq!(go.error, None);
    assert_basic(&go, url, &format!("wild:{TOKEN}"));
    assert_basic(
        &go,
        "https://git.corp.test/other/x?go-get=1",
        &format!("wild:{TOKEN}"),
    );
    assert_eq!(go.lookups.len(), 2, "only git.corp.test: {go:?}");
}

/// Modules v1.0.0 and v1.1.0 on the GOPROXY directory.
fn publish_two_versions(server: &GitServer) {
    server.add_module(
        "team",
        "lib",
        "v1.1.0",
        &[(
            "lib.go",
            "package lib\n\nfunc Hello() string { return \"hello from team v1.1.0\" }\n",
        )],
    );
    server.publish_to_goproxy("team", "lib", "v1.0.0");
    server.publish_to_goproxy("team", "lib", "v1.1.0");
}

/// `go mod download`, `go get …@latest`, `go mod tidy` and a build, all through the proxy.
fn download_get_tidy(w: &World) {
    assert_success(&w.go(&["mod", "download"]), "go mod download");
    assert_success(
        &w.go(&["get", "git.corp.test/team/lib@latest"]),
        "go get @latest",
    );
    let gomod = std::fs::read_to_string(w.s.path("consumer/go.mod")).unwrap();
    assert!(gomod.contains("git.corp.test/team/lib v1.1.0"), "{gomod}");
    assert_success(&w.go(&["mod", "tidy"]), "go mod tidy");
    assert_eq!(w.build_and_run(), "hello from team v1.1.0\n");
}

#[test]
fn private_goproxy_with_basic_auth_and_only_goauth() {
    let mut w = World::new(&[("proxyuser", PROXY_TOKEN)]);
    publish_two_versions(&w.server);
    w.s.write_config(
        "[[rule]]\npattern = \"proxy.corp.test\"\nsource = \"env\"\nvariable = \"PROXY_TOKEN\"\nusername = \"proxyuser\"\n",
    );
    w.s.set_env("PROXY_TOKEN", PROXY_TOKEN);
    w.s.set_env("GOPROXY", "https://proxy.corp.test");
    w.s.set_env("GOPRIVATE", "git.corp.test");
    w.s.set_env("GONOSUMDB", "git.corp.test");
    w.s.set_env("GOAUTH", goauth_value());

    // The trap: GOPRIVATE implies GONOPROXY, the proxy is never asked. explain says so.
    let explain = |w: &World| -> serde_json::Value {
        let out = w.gocred(&["explain", "--json", "git.corp.test/team/lib"], b"");
        assert_success(&out, "explain");
        serde_json::from_str(&stdout_str(&out)).unwrap()
    };
    let v = explain(&w);
    assert_eq!(v["proxy_bypassed"], true, "{v}");
    assert!(
        v["notes"].to_string().contains("go env -w GONOPROXY=none"),
        "{v}"
    );
    let out = w.go(&["mod", "download", "-x"]);
    assert!(
        !out.status.success(),
        "fetched although GOPRIVATE bypasses the proxy"
    );
    let err = stderr_str(&out);
    assert!(
        err.contains("git.corp.test/team/lib?go-get=1: 401"),
        "{err}"
    );
    // `-x` shows why gocred's retry answered nothing: no rule names git.corp.test.
    assert!(
        err.contains("GOAUTH encountered errors for https://git.corp.test/team/lib?go-get=1")
            && err.contains("gocred: goauth: no rule covers https://git.corp.test/team/lib"),
        "{err}"
    );
    assert!(!err.contains(PROXY_TOKEN), "{err}");
    // Asked about the proxy itself, explain says GOAUTH is in place and names the trap.
    let out = w.gocred(&["explain", "--json", "proxy.corp.test"], b"");
    let v: serde_json::Value = serde_json::from_str(&stdout_str(&out)).unwrap();
    let notes = v["notes"].to_string();
    assert!(notes.contains("reaches it only through GOAUTH"), "{v}");
    assert!(!notes.contains("GOAUTH is `"), "GOAUTH is set: {v}");
    assert!(notes.contains("GONOPROXY is unset"), "{v}");
    assert!(w
        .server
        .access_entries()
        .iter()
        .all(|e| e.host == "git.corp.test"));

    w.s.set_env("GONOPROXY", "none");
    assert_eq!(explain(&w)["proxy_bypassed"], false);
    let before = w.server.access_entries().len();
    download_get_tidy(&w);

    let seen = &w.server.access_entries()[before..];
    assert!(
        seen.iter().all(|e| e.host == "proxy.corp.test"),
        "not only the proxy: {seen:?}"
    );
    // Every request carried the credential up front; the only misses are `@latest` probing
    // the parent paths (404, which Go retries through `gocred goauth URL`).
    for e in seen {
        assert_eq!(e.user.as_deref(), Some("proxyuser"), "{e:?}");
        assert!(
            e.status == 200 || (e.status == 404 && !e.uri.contains("/lib/")),
            "{e:?}"
        );
    }
    for suffix in [
        "/@v/list",
        "/@v/v1.0.0.info",
        "/@v/v1.0.0.mod",
        "/@v/v1.0.0.zip",
        "/@v/v1.1.0.zip",
    ] {
        assert!(
            seen.iter()
                .any(|e| e.uri == format!("/git.corp.test/team/lib{suffix}")),
            "{suffix}: {seen:?}"
        );
    }
}

#[test]
fn private_goproxy_with_bearer_auth() {
    let mut w = World::new(&[]);
    publish_two_versions(&w.server);
    let rule = |auth: &str| {
        format!("[[rule]]\npattern = \"{BEARER_PROXY_HOST}\"\nsource = \"env\"\nvariable = \"PROXY_TOKEN\"\nauth = \"{auth}\"\n")
    };
    let token = w.server.bearer_token().to_string();
    w.s.set_env("PROXY_TOKEN", &token);
    w.s.set_env("GOPROXY", format!("https://{BEARER_PROXY_HOST}"));
    w.s.set_env("GOPRIVATE", "git.corp.test");
    w.s.set_env("GONOPROXY", "none");
    w.s.set_env("GONOSUMDB", "git.corp.test");
    w.s.set_env("GOAUTH", goauth_value());

    // The server checks the scheme: the same token as Basic is refused.
    w.s.write_config(&rule("basic"));
    let out = w.go(&["mod", "download"]);
    assert!(!out.status.success());
    assert!(
        stderr_str(&out).contains("401 Unauthorized"),
        "{}",
        stderr_str(&out)
    );

    w.s.write_config(&rule("bearer"));
    let before = w.server.access_entries().len();
    download_get_tidy(&w);
    let seen = &w.server.access_entries()[before..];
    assert!(!seen.is_empty());
    for e in seen {
        assert_eq!(
            (e.host.as_str(), e.user.as_deref()),
            (BEARER_PROXY_HOST, Some("bearer-token")),
            "{e:?}"
        );
        assert!(
            e.status == 200 || (e.status == 404 && !e.uri.contains("/lib/")),
            "{e:?}"
        );
    }
    assert!(seen
        .iter()
        .any(|e| e.uri.ends_with("/lib/@v/v1.1.0.zip") && e.status == 200));

    let out = w.gocred(&["goauth"], b"");
    assert_success(&out, "goauth");
    let go = GoUserAuth::get().check(
        &out.stdout,
        &[&format!(
            "https://{BEARER_PROXY_HOST}/git.corp.test/team/lib/@v/list"
        )],
    );
    assert_eq!(go.error, None);
    assert_eq!(
        go.authorization_for(&format!(
            "https://{BEARER_PROXY_HOST}/git.corp.test/team/lib/@v/list"
        )),
        Some(format!("Bearer {token}").as_str())
    );
}
