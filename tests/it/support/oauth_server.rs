//! A real OAuth 2.0 authorization server on 127.0.0.1: the npm package `oidc-provider`, run by
//! node with `oauth_server.mjs` (device flow, rotating refresh tokens, revocation), plus a tiny
//! scripted browser that plays the person approving (or denying) a device code.
//!
//! `install/test-deps.sh` installs the pinned `oidc-provider` into
//! `$HOME/.cache/gocred-test/oidc` (override: `GOCRED_TEST_OIDC_DIR`), and a Node new enough for
//! it when the system's is not (Debian 12 ships 18; oidc-provider 9 needs 20.18): `install/test.sh`
//! exports that node as `GOCRED_TEST_NODE`, else `node` on PATH is used.

use std::ffi::OsString;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::proc::Daemon;
use super::{require_tool, temp_dir, wait_until};

pub const CLIENT_ID: &str = "gocred-test";

pub struct OauthServer {
    daemon: Daemon,
    port: u16,
    _dir: tempfile::TempDir,
}

/// What the server did (its `/__stats`).
#[derive(Debug, serde::Deserialize)]
pub struct OauthStats {
    pub device_code: u64,
    pub refresh_token: u64,
    pub errors: Vec<String>,
    /// Grants revoked (a refresh token or access token revoked, reuse detected, …).
    pub revoked: u64,
    /// Requests to the RFC 7009 endpoint.
    #[serde(default)]
    pub revocation_requests: u64,
    /// Arrival times (ms) of token-endpoint requests.
    pub polls: Vec<u64>,
}

fn oidc_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GOCRED_TEST_OIDC_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    PathBuf::from(home).join(".cache/gocred-test/oidc")
}

/// The node that runs the server: `$GOCRED_TEST_NODE`, else `node` on PATH.
fn node_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GOCRED_TEST_NODE").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "GOCRED_TEST_NODE={} is not a file; run install/test-deps.sh",
            p.display()
        );
        return p;
    }
    require_tool("node")
}

impl OauthServer {
    /// Starts the server; access tokens live `access_ttl` seconds.
    pub fn start(access_ttl: u64) -> OauthServer {
        Self::start_with(access_ttl, &[])
    }

    /// Like `start`, with extra environment for the hostile-server modes of `oauth_server.mjs`
    /// (`SLOW_DOWN_ONCE=1`, `EVIL_VERIFICATION_URI=…`).
    pub fn start_with(access_ttl: u64, extra: &[(&str, &str)]) -> OauthServer {
        let main = oidc_dir().join("node_modules/oidc-provider/lib/index.js");
        assert!(
            main.exists(),
            "oidc-provider not found at {}; run install/test-deps.sh",
            main.display()
        );
        let dir = temp_dir("gocred-oauth-");
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/oauth_server.mjs");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut env = vec![
                (
                    "PATH".to_string(),
                    std::env::var("PATH").unwrap_or_default(),
                ),
                ("HOME".to_string(), dir.path().display().to_string()),
                ("OIDC_PROVIDER_MAIN".to_string(), main.display().to_string()),
                ("PORT".to_string(), port.to_string()),
                ("ACCESS_TTL".to_string(), access_ttl.to_string()),
                ("NODE_ENV".to_string(), "test".to_string()),
            ];
            env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let argv: Vec<OsString> = vec![node_bin().into(), script.clone().into()];
            let daemon = Daemon::spawn(
                "oidc-provider",
                &argv,
                &env,
                None,
                &dir.path().join("node.log"),
                dir.path(),
            );
            let up = wait_until(Duration::from_secs(20), Duration::from_millis(20), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok() || !daemon.is_alive()
            });
            if up && daemon.is_alive() {
                return OauthServer {
                    daemon,
                    port,
                    _dir: dir,
                };
            }
            if !daemon.log_text().contains("EADDRINUSE") {
                panic!("oidc-provider did not start:\n{}", daemon.log_text());
            }
        }
        panic!("oidc-provider: no free port");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn device_url(&self) -> String {
        format!("{}/device/auth", self.url())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/token/revocation", self.url())
    }

    /// RFC 7662 introspection as the client `gocred-test`: whether the server still takes
    /// `token` (an access or refresh token).
    pub fn is_active(&self, token: &str) -> bool {
        let v: serde_json::Value = browser()
            .post(format!("{}/token/introspection", self.url()))
            .form(&[("token", token), ("client_id", CLIENT_ID)])
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .expect("introspection");
        v["active"]
            .as_bool()
            .expect("`active` in the introspection answer")
    }

    /// RFC 7009 revocation of `token` as the client `gocred-test` (what a revoking client sends).
    pub fn revoke_access_token(&self, token: &str) {
        browser()
            .post(self.revoke_url())
            .form(&[
                ("token", token),
                ("token_type_hint", "access_token"),
                ("client_id", CLIENT_ID),
            ])
            .send()
            .and_then(|r| r.error_for_status())
            .expect("revocation");
    }

    pub fn log(&self) -> String {
        self.daemon.log_text()
    }

    pub fn stats(&self) -> OauthStats {
        browser()
            .get(format!("{}/__stats", self.url()))
            .send()
            .and_then(|r| r.json())
            .expect("stats")
    }

    /// Plays the person: opens `verification_uri`, enters `user_code`, signs in as `alice`,
    /// and confirms (or, with `approve == false`, aborts). Returns the last page's title.
    pub fn act_on_code(&self, verification_uri: &str, user_code: &str, approve: bool) -> String {
        let client = browser();
        let mut url = reqwest::Url::parse(verification_uri).expect("verification uri");
        let mut page = client
            .get(url.clone())
            .send()
            .and_then(|r| r.text())
            .expect("device page");
        for _ in 0..10 {
            if page.contains("<title>Sign-in Success") || !page.contains("<form") {
                break;
            }
            let (action, mut fields) = first_form(&page);
            for (k, v) in fields.iter_mut() {
                match k.as_str() {
                    "user_code" if v.is_empty() => *v = user_code.to_string(),
                    "login" => *v = "alice".into(),
                    "password" => *v = "pw".into(),
                    _ => {}
                }
            }
            if !approve && fields.iter().any(|(k, _)| k == "confirm") {
                fields.push(("abort".into(), "yes".into()));
            }
            url = url.join(&action).expect("form action");
            let resp = client
                .post(url.clone())
                .form(&fields)
                .send()
                .expect("form post");
            url = resp.url().clone();
            page = resp.text().expect("page");
        }
        page.split("<title>")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap_or("")
            .to_string()
    }
}

fn browser() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("browser client")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// The first form's action and its named inputs (value or empty).
fn first_form(page: &str) -> (String, Vec<(String, String)>) {
    let start = page.find("<form").expect("a form");
    let form = &page[start
        ..page[start..]
            .find("</form>")
            .map_or(page.len(), |e| start + e)];
    let head = &form[..form.find('>').unwrap_or(form.len())];
    let action = attr(head, "action").unwrap_or_default();
    let mut fields = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    (action, fields)
}
