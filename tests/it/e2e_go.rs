//! End to end with real parts: nginx + fcgiwrap + `git http-backend` over HTTPS (test CA, Basic
//! auth), real git, real Go, and the token in a real keyring (gnome-keyring on a private D-Bus,
//! and the kernel user keyring). `credential.https://git.corp.test.helper = gocred` is the only
//! credential configuration: no netrc, no GOAUTH.

use std::process::{Command, Output};

use crate::support;
use crate::support::{
    assert_success, run_with_stdin, stderr_str, stdout_str, GitServer, KeyringService, Sandbox,
    SecretService,
};

const USER: &str = "alice";
const TOKEN: &str = "glpat-e2e-0123456789";

/// A sandbox whose every command reaches the git server and the keyring under test.
struct World {
    s: Sandbox,
    server: GitServer,
    _ss: Option<SecretService>,
    _service: KeyringService,
}

impl World {
    fn new(backend: &'static str) -> World {
        let mut s = Sandbox::new();
        let server = GitServer::start(&[(USER, TOKEN)]);
        let ss = (backend == "secret-service").then(SecretService::start);
        let service = KeyringService::new("gocred-e2e");
        s.set_env("GOPRIVATE", "git.corp.test");
        s.set_env("GOCRED_KEYRING", backend);
        s.set_env("GOCRED_KEYRING_SERVICE", service.to_string());
        let ss_env = ss.as_ref().map(SecretService::env).unwrap_or_default();
        for (k, v) in server.env().into_iter().chain(ss_env) {
            s.set_env(k, v);
        }
        // Scoped to the private host only, as `init` will do.
        s.git_config("credential.https://git.corp.test.helper", "gocred");
        s.consumer_main("git.corp.test/lax/lib", "v1.0.0");
        World {
            s,
            server,
            _ss: ss,
            _service: service,
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

    fn users_seen_by_git_endpoint(&self) -> Vec<String> {
        self.server
            .git_fetches()
            .into_iter()
            .filter_map(|e| e.user)
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.gocred(&["logout", "git.corp.test"], b"");
    }
}

fn download_build_vendor(backend: &'static str) {
    let w = World::new(backend);
    let out = w.gocred(
        &["login", "git.corp.test", "--username", USER],
        format!("{TOKEN}\n").as_bytes(),
    );
    assert_success(&out, "login");
    assert!(stderr_str(&out).contains(if backend == "keyutils" {
        "keyutils"
    } else {
        "secret-service"
    }));

    assert_success(
        &w.go(&["mod", "download", "git.corp.test/lax/lib@v1.0.0"]),
        "go mod download",
    );
    assert_success(&w.go(&["build", "-o", "consumer", "."]), "go build");
    let run = Command::new(w.s.path("consumer/consumer"))
        .output()
        .unwrap();
    assert_eq!(stdout_str(&run), "hello from lax\n");
    assert_success(&w.go(&["mod", "vendor"]), "go mod vendor");
    let vendored =
        std::fs::read_to_string(w.s.path("consumer/vendor/git.corp.test/lax/lib/lib.go")).unwrap();
    assert!(vendored.contains("hello from lax"));
    // The server saw the keyring's credential, under the stored username.
    let users = w.users_seen_by_git_endpoint();
    assert!(
        !users.is_empty() && users.iter().all(|u| u == USER),
        "{users:?}"
    );
}

#[test]
fn go_mod_download_build_vendor_with_secret_service() {
    download_build_vendor("secret-service");
}

#[test]
fn go_mod_download_build_vendor_with_keyutils() {
    download_build_vendor("keyutils");
}

#[test]
fn without_a_rule_go_fails_with_gocreds_hint() {
    let w = World::new("keyutils");
    let out = w.go(&["mod", "download", "git.corp.test/lax/lib@v1.0.0"]);
    assert!(!out.status.success(), "downloaded without any credential");
    let err = stderr_str(&out);
    assert!(
        err.contains("gocred: no credential rule for git.corp.test"),
        "{err}"
    );
    assert!(err.contains("gocred login git.corp.test"), "{err}");
    assert!(
        err.contains("terminal prompts disabled") || err.contains("could not read Username"),
        "{err}"
    );
}

#[test]
fn wrong_token_reaches_erase_and_is_dropped() {
    let w = World::new("keyutils");
    assert_success(
        &w.gocred(
            &["login", "git.corp.test", "--username", USER],
            b"not-the-token\n",
        ),
        "login",
    );
    let out = w.go(&["mod", "download", "git.corp.test/lax/lib@v1.0.0"]);
    assert!(!out.status.success(), "wrong token accepted");
    let err = stderr_str(&out);
    // git ran `gocred erase` after the 401 and gocred dropped exactly that token.
    assert!(
        err.contains("rejected the token for `git.corp.test`; dropped it"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-token"),
        "token in go's output: {err}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout_str(
        &w.gocred(&["explain", "--json", "git.corp.test/lax/lib"], b""),
    ))
    .unwrap();
    assert!(
        v["credential"]
            .as_str()
            .unwrap()
            .contains("no token stored"),
        "{v}"
    );
    // The right token then works, with no other change.
    assert_success(
        &w.gocred(
            &["login", "git.corp.test", "--username", USER],
            format!("{TOKEN}\n").as_bytes(),
        ),
        "login",
    );
    assert_success(
        &w.go(&["mod", "download", "git.corp.test/lax/lib@v1.0.0"]),
        "go mod download after re-login",
    );
}

#[test]
fn git_clone_stores_a_prompted_credential_for_a_pat_rule() {
    // A pat rule with no token yet: another helper (here an inline one standing in for a
    // prompt) supplies the credential, git confirms it with `store`, gocred remembers it.
    let w = World::new("keyutils");
    w.s.write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\n");
    let mut c = w.s.git();
    c.args([
        "-c",
        &format!(
            "credential.helper={}",
            support::inline_credential_helper(USER, TOKEN)
        ),
        "clone",
        "-q",
        "https://git.corp.test/lax/lib.git",
    ])
    .arg(w.s.path("clone1"));
    assert_success(&c.output().unwrap(), "git clone with the stand-in prompt");
    // Now gocred alone answers.
    assert_success(
        &w.go(&["mod", "download", "git.corp.test/lax/lib@v1.0.0"]),
        "go mod download from the stored token",
    );
}
