//! End to end with real git and real Go: `go mod download` of private modules from two owners,
//! served by two installations of one GitHub App. nginx checks every git request's credentials
//! against the live installation tokens of the GitHub API stand-in (`auth_request`), so only a
//! token gocred minted, for the right owner, and not expired, opens a repository.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{assert_success, stderr_str, GitServer, GithubApi, KeyringService, Sandbox};

const LIFETIME: u64 = 8;
const MARGIN: u64 = 4;

fn go(s: &Sandbox, server: &GitServer, service: &str, args: &[&str]) -> Output {
    let mut c = s.go();
    c.args(args)
        .current_dir(s.path("consumer"))
        .env("GOPRIVATE", "git.corp.test")
        .env("GOCRED_KEYRING", "keyutils")
        .env("GOCRED_KEYRING_SERVICE", service);
    server.apply(&mut c);
    c.output().expect("run go")
}

#[test]
fn go_mod_download_from_two_owners_and_a_new_token_after_expiry() {
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib", "more"], &[("contents", "read")]);
    api.install(22, "other", false, &["tool"], &[("contents", "read")]);
    api.set_token_lifetime(LIFETIME);
    let server = GitServer::start_with_token_check(api.port());
    let lib = |who: &str| {
        format!("package {who}\n\nfunc Hello() string {{ return \"hello from {who}\" }}\n")
    };
    server.add_module("acme", "lib", "v1.0.0", &[("lib.go", &lib("lib"))]);
    server.add_module("acme", "more", "v1.0.0", &[("more.go", &lib("more"))]);
    server.add_module("other", "tool", "v1.0.0", &[("tool.go", &lib("tool"))]);

    let s = Sandbox::new();
    let service = KeyringService::new("gocred-e2e-mint");
    s.git_config("credential.https://git.corp.test.helper", "gocred");
    s.git_config("credential.https://git.corp.test.useHttpPath", "true");
    let mut login = s.gocred();
    login
        .args([
            "login",
            "git.corp.test",
            "--source",
            "github-app",
            "--app-id",
            &api.app.id.to_string(),
            "--api-url",
            &api.url(),
        ])
        .env("GOCRED_KEYRING", "keyutils")
        .env("GOCRED_KEYRING_SERVICE", &service);
    let out = support::run_with_stdin(&mut login, api.app.private_key_pem.as_bytes());
    assert_success(&out, "login");
    // Short-lived tokens for the test: 8 s, reused until 4 s before expiry.
    let cfg = std::fs::read_to_string(&s.config_path).unwrap();
    s.write_config(&format!("{cfg}\n[cache]\nmargin_secs = {MARGIN}\n"));

    s.consumer(&[]);

    // Two owners, two installations, one App.
    let out = go(
        &s,
        &server,
        &service,
        &[
            "mod",
            "download",
            "git.corp.test/acme/lib@v1.0.0",
            "git.corp.test/other/tool@v1.0.0",
        ],
    );
    assert_success(&out, "go mod download (two owners)");
    let first_phase = Instant::now();
    let mints = api.mints();
    let by = |id| mints.iter().filter(|m| m.installation == id).count();
    assert!(by(11) >= 1 && by(22) >= 1, "{mints:?}");
    let users: Vec<_> = server
        .git_fetches()
        .into_iter()
        .map(|e| (e.uri.split('/').nth(1).unwrap_or("").to_string(), e.user))
        .collect();
    assert!(
        users.iter().any(|(o, _)| o == "acme") && users.iter().any(|(o, _)| o == "other"),
        "{users:?}"
    );
    assert!(
        users
            .iter()
            .all(|(_, u)| u.as_deref() == Some("x-access-token")),
        "{users:?}"
    );

    // Wait until every token minted so far has expired at the server.
    let last_expiry = api.mints().iter().map(|m| m.expires_at).max().unwrap();
    while support::GithubApi::now_secs() <= last_expiry {
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            first_phase.elapsed() < Duration::from_secs(60),
            "clock did not move"
        );
    }
    let before = api.mints().len();
    let out = go(
        &s,
        &server,
        &service,
        &["mod", "download", "git.corp.test/acme/more@v1.0.0"],
    );
    assert_success(&out, "go mod download after expiry");
    let after = api.mints();
    assert!(after.len() > before, "a new token was minted after expiry");
    assert!(after[before..].iter().all(|m| m.installation == 11));
    // No request ever carried an expired token, and every accepted one carried a live one.
    let checks = api.validations();
    assert!(
        checks.iter().all(|(_, _, expired, _)| !expired),
        "an expired token was sent: {checks:?}"
    );
    assert!(checks.iter().any(|(_, _, _, status)| *status == 200));
    assert!(s
        .gomodcache()
        .join("git.corp.test/acme/more@v1.0.0/more.go")
        .exists());
}

#[test]
fn without_the_app_key_git_fails_cleanly() {
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let server = GitServer::start_with_token_check(api.port());
    server.add_module("acme", "lib", "v1.0.0", &[("lib.go", "package lib\n")]);
    let s = Sandbox::new();
    s.git_config("credential.https://git.corp.test.helper", "gocred");
    s.git_config("credential.https://git.corp.test.useHttpPath", "true");
    s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"{}\"\n",
        api.app.id,
        api.url()
    ));
    let mut c = s.git();
    c.args(["ls-remote", "https://git.corp.test/acme/lib.git"])
        .env("GOCRED_KEYRING", "keyutils")
        .env(
            "GOCRED_KEYRING_SERVICE",
            KeyringService::new("gocred-e2e-nokey"),
        );
    server.apply(&mut c);
    let out: Output = c.output().unwrap();
    assert!(!out.status.success());
    let err = stderr_str(&out);
    assert!(err.contains("no App private key in the keyring"), "{err}");
    assert!(api.mints().is_empty());
}
