//! `github-app` source against the GitHub REST API stand-in (tests/it/support/github_api.rs), with
//! the real gocred binary and the real kernel keyring: minting, caching, owners from the path,
//! one mint for 64 parallel cold `get`s, erase/store, errors, revocation at logout.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support;
use crate::support::{
    run_with_stdin, stderr_str, stdout_str, Fault, GithubApi, KeyringService, Sandbox,
};

const HOST: &str = "github.corp.test";

struct World {
    s: Sandbox,
    api: GithubApi,
    service: KeyringService,
}

impl World {
    /// The App installed on `acme` (org, repos lib + tool) and `other` (user, repo lib).
    fn new(rule_extra: &str) -> World {
        let api = GithubApi::start();
        api.install(
            11,
            "acme",
            true,
            &["lib", "tool"],
            &[("contents", "read"), ("metadata", "read")],
        );
        api.install(22, "other", false, &["lib"], &[("contents", "write")]);
        let w = World {
            s: Sandbox::new(),
            api,
            service: KeyringService::new("gocred-mint"),
        };
        w.config(rule_extra);
        w
    }

    fn config(&self, rule_extra: &str) {
        self.s.write_config(&format!(
            "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"{}\"\n{rule_extra}",
            self.api.app.id,
            self.api.url()
        ));
    }

    fn cmd(&self) -> Command {
        let mut c = self.s.gocred();
        self.service.apply(&mut c);
        c
    }

    fn gocred(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        run_with_stdin(&mut c, stdin)
    }

    fn login(&self) {
        // Through `login`, which checks the key and writes the rule; then restore our config.
        let out = self.gocred(
            &[
                "login",
                HOST,
                "--source",
                "github-app",
                "--app-id",
                &self.api.app.id.to_string(),
                "--api-url",
                &self.api.url(),
            ],
            self.api.app.private_key_pem.as_bytes(),
        );
        assert!(out.status.success(), "login: {}", stderr_str(&out));
        assert!(
            stderr_str(&out).contains("useHttpPath"),
            "several owners: tell about useHttpPath"
        );
    }

    fn get(&self, path: Option<&str>) -> Output {
        let path = path.map(|p| format!("path={p}\n")).unwrap_or_default();
        self.gocred(
            &["get"],
            format!("protocol=https\nhost={HOST}\n{path}\n").as_bytes(),
        )
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.gocred(&["logout", HOST], b"");
    }
}

fn field(out: &str, key: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn mints_once_and_reuses_until_near_expiry() {
    let w = World::new("");
    w.login();
    let out = w.gocred(
        &["get"],
        format!("capability[]=authtype\nprotocol=https\nhost={HOST}\npath=acme/lib.git\n\n")
            .as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    let text = stdout_str(&out);
    let mints = w.api.mints();
    assert_eq!(mints.len(), 1);
    assert_eq!(mints[0].installation, 11);
    assert_eq!(
        mints[0].permissions.get("contents").map(String::as_str),
        Some("read"),
        "default down-scope"
    );
    assert_eq!(field(&text, "username").as_deref(), Some("x-access-token"));
    assert_eq!(
        field(&text, "password").as_deref(),
        Some(mints[0].token.as_str())
    );
    assert_eq!(
        field(&text, "password_expiry_utc"),
        Some(mints[0].expires_at.to_string())
    );
    assert!(
        text.starts_with("capability[]=authtype\nephemeral=1\n"),
        "{text}"
    );
    // Hot: served from the keyring, no API call.
    let before = w.api.requests().len();
    let again = stdout_str(&w.get(Some("acme/tool.git")));
    assert_eq!(
        field(&again, "password").as_deref(),
        Some(mints[0].token.as_str())
    );
    assert_eq!(w.api.requests().len(), before);
    // The token sits in the kernel keyring with a timeout, not in a file.
    let cache_dir = w.s.path(".cache/gocred");
    let files = support::files_under(&cache_dir);
    assert!(
        files.iter().all(|f| !std::fs::read_to_string(f)
            .unwrap_or_default()
            .contains(&mints[0].token)),
        "{files:?}"
    );
}

#[test]
fn owners_resolve_from_the_path_to_their_installations() {
    let w = World::new("");
    w.login();
    let a = stdout_str(&w.get(Some("acme/lib.git")));
    let o = stdout_str(&w.get(Some("other/lib")));
    let mints = w.api.mints();
    assert_eq!(
        mints.iter().map(|m| m.installation).collect::<Vec<_>>(),
        vec![11, 22]
    );
    assert_ne!(field(&a, "password"), field(&o, "password"));
    // Installations are remembered: the second mint for acme asks no installation lookup.
    let lookups = |w: &World| {
        w.api
            .requests()
            .iter()
            .filter(|r| r.contains("/installation "))
            .count()
    };
    assert_eq!(lookups(&w), 2);
    // No path and several owners: nothing on stdout, and the reason on stderr.
    let out = w.get(None);
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("useHttpPath"),
        "{}",
        stderr_str(&out)
    );
    // An owner without the App: clear error, nothing on stdout.
    let out = w.get(Some("stranger/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("not installed on `stranger`"),
        "{}",
        stderr_str(&out)
    );
    // A path that is not OWNER/REPO is refused before any request.
    let out = w.get(Some("acme%2flib"));
    assert_eq!(stdout_str(&out), "");
}

#[test]
fn a_pattern_naming_one_owner_needs_no_path() {
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let w = World {
        s: Sandbox::new(),
        api,
        service: KeyringService::new("gocred-mint"),
    };
    w.s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}/acme/*\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"{}\"\nrepositories = [\"lib\"]\n",
        w.api.app.id,
        w.api.url()
    ));
    // The key was stored for the pattern given at login; store it under this one too.
    let out = w.gocred(
        &[
            "login",
            &format!("{HOST}/acme/*"),
            "--source",
            "github-app",
            "--app-id",
            &w.api.app.id.to_string(),
            "--api-url",
            &w.api.url(),
            "--repository",
            "lib",
        ],
        w.api.app.private_key_pem.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    let out = w.get(None);
    assert!(out.status.success(), "{}", stderr_str(&out));
    let m = w.api.mints();
    assert_eq!(
        (m.len(), m[0].repositories.clone()),
        (1, vec!["lib".to_string()])
    );
    assert!(w
        .api
        .requests()
        .iter()
        .any(|r| r.starts_with("GET /orgs/acme/installation")));
    let _ = w.gocred(&["logout", &format!("{HOST}/acme/*")], b"");
}

#[test]
fn sixty_four_parallel_cold_gets_mint_once() {
    let w = World::new("");
    w.login();
    let input = format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n");
    let outs = support::run_parallel(
        64,
        || {
            let mut c = w.cmd();
            c.arg("get");
            c
        },
        input.as_bytes(),
    );
    let mints = w.api.mints();
    assert_eq!(
        mints.len(),
        1,
        "exactly one mint; requests: {:?}",
        w.api.requests()
    );
    for o in &outs {
        assert!(o.status.success(), "{}", stderr_str(o));
        assert_eq!(
            field(&stdout_str(o), "password").as_deref(),
            Some(mints[0].token.as_str())
        );
    }
}

#[test]
fn erase_drops_the_minted_token_and_store_is_ignored() {
    let w = World::new("");
    w.login();
    let first = field(&stdout_str(&w.get(Some("acme/lib.git"))), "password").unwrap();
    let req = |pw: &str| {
        format!("protocol=https\nhost={HOST}\npath=acme/lib.git\nusername=x-access-token\npassword={pw}\n\n")
    };
    // store of our own minted token: nothing happens, nothing is written.
    let out = w.gocred(&["store"], req(&first).as_bytes());
    assert!(
        out.status.success() && stderr_str(&out).is_empty(),
        "{}",
        stderr_str(&out)
    );
    // erase of a different password keeps ours.
    assert!(w
        .gocred(&["erase"], req("ghs_somethingelse").as_bytes())
        .status
        .success());
    assert_eq!(
        field(&stdout_str(&w.get(Some("acme/lib.git"))), "password").as_deref(),
        Some(first.as_str())
    );
    // erase of ours drops it; the next get mints anew.
    let out = w.gocred(&["erase"], req(&first).as_bytes());
    assert!(
        stderr_str(&out).contains("next request mints a new one"),
        "{}",
        stderr_str(&out)
    );
    let second = field(&stdout_str(&w.get(Some("acme/lib.git"))), "password").unwrap();
    assert_ne!(first, second);
    assert_eq!(w.api.mints().len(), 2);
}

#[test]
fn long_stateless_tokens_are_accepted() {
    let w = World::new("");
    w.api.set_stateless_tokens(true);
    w.login();
    let pw = field(&stdout_str(&w.get(Some("acme/lib.git"))), "password").unwrap();
    assert!(
        pw.len() > 500 && pw.matches('.').count() == 2,
        "{}",
        pw.len()
    );
}

#[test]
fn a_token_inside_the_margin_is_never_handed_out() {
    let w = World::new("");
    w.api.set_token_lifetime(120); // the default margin is 300 s
    w.login();
    let out = w.get(Some("acme/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(!out.status.success());
    assert!(stderr_str(&out).contains("margin"), "{}", stderr_str(&out));
}

/// Every API failure: nothing on stdout, a message that says what happened, no body echoed.
#[test]
fn api_failures_are_clear_and_leak_nothing() {
    let w = World::new("");
    w.login();
    w.config("timeout_secs = 2\n");
    let cases: Vec<(Vec<Fault>, &str)> = vec![
        (vec![Fault::Status(500, "ghs_leaky internal")], "HTTP 500"),
        (vec![Fault::Status(502, "bad gateway")], "HTTP 502"),
        (vec![Fault::Garbage], "unexpected answer"),
        (vec![Fault::Slow(Duration::from_secs(4))], "timed out"),
        (
            vec![Fault::RateLimited {
                status: 429,
                retry_after: 3600,
            }],
            "retry in 3600 s",
        ),
        (
            vec![Fault::RateLimited {
                status: 403,
                retry_after: 3600,
            }],
            "rate limit",
        ),
        (
            vec![Fault::Status(401, "Bad credentials")],
            "refused the App's JWT",
        ),
    ];
    for (faults, needle) in cases {
        for f in faults {
            w.api.push_fault(f);
        }
        let out = w.get(Some("acme/lib.git"));
        let err = stderr_str(&out);
        assert_eq!(stdout_str(&out), "", "{needle}");
        assert!(!out.status.success(), "{needle}");
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(!err.contains("ghs_"), "{err}");
    }
    assert!(w.api.mints().is_empty());
    // An API that does not listen at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    w.s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"http://127.0.0.1:{closed}\"\n",
        w.api.app.id
    ));
    let out = w.get(Some("acme/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("cannot connect"),
        "{}",
        stderr_str(&out)
    );
    w.config("timeout_secs = 2\n");
    // 429 with a short Retry-After is waited out and the mint succeeds.
    w.api.push_fault(Fault::RateLimited {
        status: 429,
        retry_after: 1,
    });
    let out = w.get(Some("acme/lib.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(w.api.mints().len(), 1);
}

#[test]
fn the_stand_in_refuses_what_github_refuses() {
    // Wrong App ID: the JWT's `iss` names no App.
    let w = World::new("");
    w.login();
    w.s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\napp_id = 999\napi_url = \"{}\"\n",
        w.api.url()
    ));
    let out = w.get(Some("acme/lib.git"));
    assert!(
        stderr_str(&out).contains("refused the App's JWT"),
        "{}",
        stderr_str(&out)
    );
    // A repository the installation cannot reach: 422.
    w.config("repositories = [\"secret-repo\"]\n");
    let out = w.get(Some("acme/lib.git"));
    assert!(
        stderr_str(&out).contains("HTTP 422"),
        "{}",
        stderr_str(&out)
    );
    // More permission than the installation has: 422.
    w.config("permissions = { contents = \"write\" }\n");
    let out = w.get(Some("acme/lib.git"));
    assert!(
        stderr_str(&out).contains("not granted"),
        "{}",
        stderr_str(&out)
    );
    assert!(w.api.mints().is_empty());
    // The client ID works as issuer too.
    w.s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\nclient_id = \"{}\"\napi_url = \"{}\"\n",
        w.api.app.client_id,
        w.api.url()
    ));
    assert!(w.get(Some("acme/lib.git")).status.success());
}

#[test]
fn login_refuses_a_bad_key_and_logout_revokes() {
    let w = World::new("");
    let out = w.gocred(
        &[
            "login",
            HOST,
            "--source",
            "github-app",
            "--app-id",
            "1",
            "--api-url",
            &w.api.url(),
        ],
        b"-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr_str(&out));
    assert!(!stderr_str(&out).contains("not a key"));
    w.login();
    w.config("");
    let explain = w.gocred(&["explain", &format!("{HOST}/acme/lib")], b"");
    assert!(
        stdout_str(&explain).contains("App private key present"),
        "{}",
        stdout_str(&explain)
    );
    let a = field(&stdout_str(&w.get(Some("acme/lib.git"))), "password").unwrap();
    let _ = w.get(Some("other/lib.git"));
    let out = w.gocred(&["logout", HOST], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("revoked 2 token(s)"),
        "{}",
        stderr_str(&out)
    );
    let revoked = w.api.revoked();
    assert_eq!(revoked.len(), 2);
    assert!(revoked.iter().any(|t| t.token == a));
    assert!(
        w.api
            .requests()
            .iter()
            .filter(|r| r.starts_with("DELETE /installation/token -> 204"))
            .count()
            == 2
    );
}

#[test]
fn a_minting_process_killed_mid_mint_does_not_wedge_the_next() {
    let w = World::new("");
    w.login();
    w.api.push_fault(Fault::Slow(Duration::from_secs(8)));
    let mut c = w.cmd();
    c.arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut victim = c.spawn().unwrap();
    victim
        .stdin
        .take()
        .unwrap()
        .write_all(format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n").as_bytes())
        .unwrap();
    // It holds the scope's lock while its first API request hangs; kill it there.
    assert!(support::wait_until(
        Duration::from_secs(20),
        Duration::from_millis(10),
        || w.api.started() >= 1
    ));
    victim.kill().unwrap();
    let dead = victim.wait_with_output().unwrap();
    assert_eq!(stdout_str(&dead), "");
    // The kernel released its flock: the next get mints at once.
    let out = w.get(Some("acme/lib.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(w.api.mints().len(), 1);
}

#[test]
fn the_cache_works_in_the_secret_service_too() {
    let ss = support::SecretService::start();
    let w = World::new("");
    let run = |args: &[&str], stdin: &[u8]| {
        let mut c = w.s.gocred();
        c.args(args)
            .env("GOCRED_KEYRING", "secret-service")
            .env("GOCRED_KEYRING_SERVICE", &w.service);
        ss.apply(&mut c);
        run_with_stdin(&mut c, stdin)
    };
    let out = run(
        &[
            "login",
            HOST,
            "--source",
            "github-app",
            "--app-id",
            &w.api.app.id.to_string(),
            "--api-url",
            &w.api.url(),
        ],
        w.api.app.private_key_pem.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("secret-service"),
        "{}",
        stderr_str(&out)
    );
    let req = format!("protocol=https\nhost={HOST}\npath=other/lib.git\n\n");
    let a = run(&["get"], req.as_bytes());
    let b = run(&["get"], req.as_bytes());
    assert!(a.status.success(), "{}", stderr_str(&a));
    assert_eq!(
        field(&stdout_str(&a), "password"),
        field(&stdout_str(&b), "password")
    );
    assert_eq!(w.api.mints().len(), 1);
    let out = run(&["logout", HOST], b"");
    assert!(
        stderr_str(&out).contains("revoked 1 token(s)"),
        "{}",
        stderr_str(&out)
    );
}
