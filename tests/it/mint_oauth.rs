//! `oauth` source against a real authorization server (`oidc-provider` on loopback): device flow
//! at login, refresh-token rotation at `get`, one refresh for 64 parallel cold `get`s with no
//! `invalid_grant`, denial, revocation at logout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support;
use crate::support::{
    run_with_stdin, stderr_str, stdout_str, KeyringService, OauthServer, Sandbox, OAUTH_CLIENT_ID,
};

const HOST: &str = "oauth.corp.test";

struct World {
    s: Sandbox,
    server: OauthServer,
    service: KeyringService,
}

impl World {
    fn new() -> World {
        Self::with(&[])
    }

    fn with(extra: &[(&str, &str)]) -> World {
        World {
            s: Sandbox::new(),
            server: OauthServer::start_with(3600, extra),
            service: KeyringService::new("gocred-oauth"),
        }
    }

    fn cmd(&self) -> std::process::Command {
        let mut c = self.s.gocred();
        self.service.apply(&mut c);
        c
    }

    fn gocred(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        run_with_stdin(&mut c, stdin)
    }

    fn start_login(&self) -> (Child, mpsc::Receiver<String>) {
        let mut c = self.cmd();
        c.args([
            "login",
            HOST,
            "--source",
            "oauth",
            "--provider",
            "generic",
            "--client-id",
            OAUTH_CLIENT_ID,
            "--device-url",
            &self.server.device_url(),
            "--token-url",
            &self.server.token_url(),
            "--revoke-url",
            &self.server.revoke_url(),
            "--scope",
            "openid",
            "--scope",
            "offline_access",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn login");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        (child, rx)
    }

    /// Runs the device flow; the "person" approves or denies. Returns login's exit and stderr.
    fn login(&self, approve: bool) -> (bool, String) {
        let (mut child, rx) = self.start_login();
        let (mut uri, mut code, mut seen) = (None, None, String::new());
        while uri.is_none() || code.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("login printed no code: {seen}"));
            seen.push_str(&line);
            seen.push('\n');
            if let Some(u) = line.strip_prefix("gocred: to sign in, open ") {
                uri = Some(u.to_string());
            }
            if let Some(c) = line.strip_prefix("gocred: and enter the code: ") {
                code = Some(c.to_string());
            }
        }
        let title =
            self.server
                .act_on_code(uri.as_deref().unwrap(), code.as_deref().unwrap(), approve);
        let status = child.wait().unwrap();
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&l);
            seen.push('\n');
        }
        seen.push_str(&format!("[browser ended on: {title}]\n"));
        (status.success(), seen)
    }

    fn get(&self) -> Output {
        self.gocred(
            &["get"],
            format!("protocol=https\nhost={HOST}\n\n").as_bytes(),
        )
    }

    fn erase(&self, pw: &str) {
        let out = self.gocred(
            &["erase"],
            format!("protocol=https\nhost={HOST}\nusername=oauth2\npassword={pw}\n\n").as_bytes(),
        );
        assert!(out.status.success(), "{}", stderr_str(&out));
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.gocred(&["logout", HOST], b"");
    }
}

fn password(out: &Output) -> String {
    stdout_str(out)
        .lines()
        .find_map(|l| l.strip_prefix("password=").map(str::to_string))
        .unwrap_or_else(|| panic!("no password: {}", stderr_str(out)))
}

#[test]
fn device_flow_then_rotating_refreshes() {
    let w = World::new();
    let (ok, log) = w.login(true);
    assert!(ok, "{log}\n{}", w.server.log());
    assert!(log.contains("signed in"), "{log}");
    assert_eq!(w.server.stats().device_code, 1);
    // The access token from login is cached: no refresh yet.
    let first = w.get();
    let t1 = password(&first);
    assert!(stdout_str(&first).contains("username=oauth2\n"));
    assert!(stdout_str(&first).contains("password_expiry_utc="));
    assert_eq!(w.server.stats().refresh_token, 0);
    assert_eq!(password(&w.get()), t1);
    // git rejects it: dropped; the next get refreshes (and stores the rotated refresh token).
    w.erase(&t1);
    let t2 = password(&w.get());
    assert_ne!(t1, t2);
    // A second refresh works only if the rotated refresh token was kept.
    w.erase(&t2);
    let t3 = password(&w.get());
    assert_ne!(t2, t3);
    let st = w.server.stats();
    assert_eq!(st.refresh_token, 2);
    assert!(st.errors.is_empty(), "{:?}", st.errors);
}

#[test]
fn sixty_four_parallel_cold_gets_refresh_once() {
    let w = World::new();
    let (ok, log) = w.login(true);
    assert!(ok, "{log}");
    let cached = password(&w.get());
    w.erase(&cached);
    let input = format!("protocol=https\nhost={HOST}\n\n");
    let outs = support::run_parallel(
        64,
        || {
            let mut c = w.cmd();
            c.arg("get");
            c
        },
        input.as_bytes(),
    );
    let st = w.server.stats();
    assert_eq!(st.refresh_token, 1, "exactly one refresh");
    assert!(st.errors.is_empty(), "no invalid_grant: {:?}", st.errors);
    let first = password(&outs[0]);
    assert_ne!(first, cached);
    for o in &outs {
        assert!(o.status.success(), "{}", stderr_str(o));
        assert_eq!(password(o), first);
    }
}

#[test]
fn a_denied_sign_in_stores_nothing() {
    let w = World::new();
    let (ok, log) = w.login(false);
    assert!(!ok, "{log}");
    assert!(log.contains("denied"), "{log}");
    assert!(
        !w.s.config_path.exists()
            || !std::fs::read_to_string(&w.s.config_path)
                .unwrap()
                .contains(HOST)
    );
}

#[test]
fn logout_revokes_and_a_dead_refresh_token_says_login_again() {
    let w = World::new();
    let (ok, log) = w.login(true);
    assert!(ok, "{log}");
    let t1 = password(&w.get());
    let out = w.gocred(&["logout", HOST], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("revoked 2 token(s)"),
        "{}",
        stderr_str(&out)
    );
    assert!(w.server.stats().revoked >= 1, "{:?}", w.server.stats());
    let _ = t1;
    // After logout there is no rule: get answers nothing.
    assert_eq!(stdout_str(&w.get()), "");

    // A refresh token the server no longer accepts: a clear "sign in again", nothing on stdout.
    let (ok, log) = w.login(true);
    assert!(ok, "{log}");
    let t = password(&w.get());
    // Spend the stored (single-use) refresh token behind gocred's back.
    let desc = format!("{}:oauth:{HOST}", w.service);
    let id = support::keyctl(&["search", "@u", "user", &desc]);
    let id = stdout_str(&id).trim().to_string();
    let root = stdout_str(&support::keyctl(&["pipe", &id]));
    let root: serde_json::Value = serde_json::from_str(&root).expect("root JSON");
    let rt = root["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(w.server.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", OAUTH_CLIENT_ID),
        ])
        .send()
        .unwrap();
    assert!(r.status().is_success());
    w.erase(&t);
    let out = w.get();
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(
        err.contains("no longer accepts the refresh token") && err.contains("gocred login"),
        "{err}"
    );
    assert!(!err.contains(&rt));
}

#[test]
fn slow_down_adds_five_seconds_to_the_interval() {
    let w = World::with(&[("SLOW_DOWN_ONCE", "1")]);
    let (ok, log) = w.login(true);
    assert!(ok, "{log}");
    let st = w.server.stats();
    assert_eq!(st.device_code, 1);
    // RFC 8628 §3.5: after slow_down the client waits interval + 5 s before the next poll.
    let gap = st.polls[1] - st.polls[0];
    assert!(gap >= 5_900, "polled again after {gap} ms");
}

#[test]
fn a_verification_uri_on_another_host_is_never_shown() {
    let w = World::with(&[("EVIL_VERIFICATION_URI", "https://evil.example/device")]);
    let (mut child, rx) = w.start_login();
    let status = child.wait().unwrap();
    let log: Vec<String> = rx.iter().collect();
    let log = log.join("\n");
    assert!(!status.success());
    assert!(log.contains("not on the server's own host"), "{log}");
    assert!(!log.contains("evil.example"), "{log}");
}
