//! A stand-in for GitHub's REST API, version 2022-11-28, for the GitHub App endpoints gocred
//! calls. GitHub cannot run here, so this follows the published API and checks what GitHub
//! checks (docs/protocols/github-api.md):
//!
//! * `Authorization: Bearer <JWT>`: RS256 signature against the App's public key, `iat` not in
//!   the future (60 s skew allowed), `exp` in the future and at most 10 minutes after `iat`,
//!   `iss` = the App ID (string or number) or the client ID; else 401.
//! * `Accept: application/vnd.github+json` (else 415) and `X-GitHub-Api-Version: 2022-11-28`
//!   (else 400).
//! * `GET /app`, `GET /repos/{o}/{r}/installation`, `GET /orgs/{o}/installation`,
//!   `GET /users/{u}/installation`: 404 unless the App is installed there.
//! * `POST /app/installations/{id}/access_tokens`: 404 for another App's installation; 422 when
//!   `repositories` or `permissions` exceed the installation's; 201 `installation-token`.
//! * `DELETE /installation/token` with the installation token itself: 204, or 401.
//!
//! Test controls: faults for the next API requests (any status, 429 + `retry-after`, a slow
//! answer, a garbage body, an error that echoes the
//! request's credential back in several encodings), the token lifetime, GitHub's long stateless token format, and the
//! record of mints, revocations and token checks. `GET /__validate` is the `auth_request`
//! target for nginx (see `GitServer::start_with_token_check`): it accepts git's Basic
//! credentials only when they carry a live token of an installation on the repository's owner.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{require_tool, run_ok};

/// A fault injected into the next API request.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16, &'static str),
    RateLimited {
        status: u16,
        retry_after: u64,
    },
    Slow(Duration),
    Garbage,
    /// An error answer whose `message` quotes the request's `Authorization` credential raw and
    /// glued to words (`token:…`, `…,…`), base64 and percent-encoded, as a careless server
    /// would. What was echoed is kept ([`GithubApi::echoed`]).
    Echo(u16),
}

#[derive(Debug, Clone)]
pub struct Installation {
    pub id: u64,
    pub account: String,
    pub organization: bool,
    /// Repositories the installation can reach.
    pub repositories: Vec<String>,
    pub permissions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Minted {
    pub installation: u64,
    pub token: String,
    pub expires_at: u64,
    pub repositories: Vec<String>,
    pub permissions: BTreeMap<String, String>,
    pub revoked: bool,
}

#[derive(Default)]
struct State {
    installations: Vec<Installation>,
    tokens: Vec<Minted>,
    faults: VecDeque<Fault>,
    lifetime: u64,
    stateless: bool,
    requests: Vec<String>,
    /// API requests received (counted on arrival, before any fault delays them).
    started: usize,
    /// (user, token was known, token had expired, answer)
    validations: Vec<(String, bool, bool, u16)>,
    seq: u64,
    echoed: Vec<String>,
}

/// The App the stand-in knows (one, like a real App's own view of the API).
pub struct App {
    pub id: u64,
    pub client_id: String,
    /// PKCS#1 PEM, as GitHub hands it out.
    pub private_key_pem: String,
    public_key_pem: String,
}

pub struct GithubApi {
    pub app: Arc<App>,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    port: u16,
}

impl GithubApi {
    pub fn start() -> GithubApi {
        let app = Arc::new(make_app());
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("binding the GitHub stand-in"));
        let port = server.server_addr().to_ip().expect("ip listener").port();
        let state = Arc::new(Mutex::new(State {
            lifetime: 3600,
            ..State::default()
        }));
        let workers = (0..8)
            .map(|_| {
                let (server, state, app) = (server.clone(), state.clone(), app.clone());
                std::thread::spawn(move || {
                    while let Ok(req) = server.recv() {
                        handle(req, &state, &app);
                    }
                })
            })
            .collect();
        GithubApi {
            app,
            state,
            server,
            workers,
            port,
        }
    }

    /// `http://127.0.0.1:<port>`, the rule's `api_url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Installs the App on `account` with access to `repos` and `permissions`.
    pub fn install(
        &self,
        id: u64,
        account: &str,
        organization: bool,
        repos: &[&str],
        permissions: &[(&str, &str)],
    ) {
        self.lock().installations.push(Installation {
            id,
            account: account.into(),
            organization,
            repositories: repos.iter().map(|r| r.to_string()).collect(),
            permissions: permissions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }

    /// Seconds a new token lives (GitHub: 3600).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().lifetime = secs;
    }

    /// GitHub's stateless installation tokens: ~520 characters with dots.
    pub fn set_stateless_tokens(&self, on: bool) {
        self.lock().stateless = on;
    }

    /// Credentials the [`Fault::Echo`] answers quoted back.
    pub fn echoed(&self) -> Vec<String> {
        self.lock().echoed.clone()
    }

    pub fn push_fault(&self, f: Fault) {
        self.lock().faults.push_back(f);
    }

    pub fn mints(&self) -> Vec<Minted> {
        self.lock().tokens.clone()
    }

    pub fn revoked(&self) -> Vec<Minted> {
        self.lock()
            .tokens
            .iter()
            .filter(|t| t.revoked)
            .cloned()
            .collect()
    }

    /// API requests received so far, including ones still being answered.
    pub fn started(&self) -> usize {
        self.lock().started
    }

    /// `METHOD path -> status` of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Token checks from nginx: (user, token known, token expired, answer).
    pub fn validations(&self) -> Vec<(String, bool, bool, u16)> {
        self.lock().validations.clone()
    }

    /// The stand-in's clock (Unix seconds).
    pub fn now_secs() -> u64 {
        now()
    }
}

impl Drop for GithubApi {
    fn drop(&mut self) {
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn make_app() -> App {
    let dir = super::temp_dir("gocred-ghapp-");
    let key = dir.path().join("app.pem");
    let openssl = require_tool("openssl");
    run_ok(
        std::process::Command::new(&openssl)
            .args(["genrsa", "-traditional", "-out"])
            .arg(&key)
            .arg("2048"),
    );
    let public = run_ok(
        std::process::Command::new(&openssl)
            .args(["rsa", "-pubout", "-in"])
            .arg(&key),
    );
    App {
        id: 424242,
        client_id: "Iv23liGocredTest".into(),
        private_key_pem: std::fs::read_to_string(&key).expect("reading app.pem"),
        public_key_pem: String::from_utf8(public.stdout).expect("PEM"),
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

type Reply = (u16, Vec<(&'static str, String)>, String);

fn json(status: u16, v: serde_json::Value) -> Reply {
    (
        status,
        vec![("Content-Type", "application/json; charset=utf-8".into())],
        v.to_string(),
    )
}

fn message(status: u16, m: &str) -> Reply {
    json(
        status,
        serde_json::json!({ "message": m, "documentation_url": "https://docs.github.com/rest", "status": status.to_string() }),
    )
}

fn header(req: &tiny_http::Request, name: &str) -> Option<String> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

fn handle(mut req: tiny_http::Request, state: &Mutex<State>, app: &App) {
    let method = req.method().as_str().to_string();
    let url = req.url().to_string();
    let mut body = String::new();
    let _ = req.as_reader().take(1 << 20).read_to_string(&mut body);
    let lock = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let (status, headers, text) = if url.starts_with("/__validate") {
        validate(&req, &mut lock())
    } else {
        let fault = {
            let mut st = lock();
            st.started += 1;
            st.faults.pop_front()
        };
        match fault {
            Some(Fault::Status(s, m)) => message(s, m),
            Some(Fault::RateLimited {
                status,
                retry_after,
            }) => {
                let (s, mut h, b) = message(status, "API rate limit exceeded");
                h.push(("Retry-After", retry_after.to_string()));
                (s, h, b)
            }
            Some(Fault::Slow(d)) => {
                std::thread::sleep(d);
                api(&req, &method, &url, &body, &mut lock(), app)
            }
            Some(Fault::Garbage) => (
                200,
                vec![("Content-Type", "application/json".into())],
                "<html>ghs_notjson".into(),
            ),
            Some(Fault::Echo(status)) => {
                let cred = header(&req, "Authorization")
                    .map(|a| a.split_once(' ').map_or(a.clone(), |(_, c)| c.to_string()))
                    .unwrap_or_default();
                lock().echoed.push(cred.clone());
                message(status, &echo_text(&cred))
            }
            None => api(&req, &method, &url, &body, &mut lock(), app),
        }
    };
    lock().requests.push(format!("{method} {url} -> {status}"));
    let mut resp = tiny_http::Response::from_string(text).with_status_code(status);
    for (k, v) in headers {
        resp.add_header(tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("header"));
    }
    let _ = req.respond(resp);
}

/// `cred` as a careless server quotes it back: glued to words, base64, percent-encoded.
fn echo_text(cred: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cred);
    let pct: String = cred
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("bad credentials token:{cred},{cred} (sent {b64}; as a query: t={pct})")
}

/// Checks the App JWT as GitHub does. `Err` is the 401 reply.
fn check_jwt(req: &tiny_http::Request, app: &App) -> Result<(), Reply> {
    let bad = |m: &str| Err(message(401, m));
    let Some(auth) = header(req, "Authorization") else {
        return bad("Requires authentication");
    };
    let Some(jwt) = auth.strip_prefix("Bearer ") else {
        return bad("A JSON web token could not be decoded");
    };
    let key =
        jsonwebtoken::DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes()).expect("public key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false; // checked below with GitHub's own bounds
    v.required_spec_claims = ["iat", "exp", "iss"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v) else {
        return bad("A JSON web token could not be decoded");
    };
    let c = data.claims;
    let (Some(iat), Some(exp)) = (c["iat"].as_u64(), c["exp"].as_u64()) else {
        return bad("'Issued at' and 'Expiration time' must be integers");
    };
    let now = now();
    if iat > now + 60 {
        return bad(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past.",
        );
    }
    if exp <= now {
        return bad("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.");
    }
    if exp > iat + 600 || exp > now + 600 {
        return bad("'Expiration time' claim ('exp') is too far in the future");
    }
    let iss = match &c["iss"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return bad("'Issuer' claim ('iss') must be a String or Integer"),
    };
    if iss != app.id.to_string() && iss != app.client_id {
        return bad("A JSON web token could not be decoded");
    }
    Ok(())
}

fn api(
    req: &tiny_http::Request,
    method: &str,
    url: &str,
    body: &str,
    st: &mut State,
    app: &App,
) -> Reply {
    if header(req, "Accept").as_deref() != Some("application/vnd.github+json") {
        return message(415, "Unsupported 'Accept' header");
    }
    if header(req, "X-GitHub-Api-Version").as_deref() != Some("2022-11-28") {
        return message(400, "API version is not supported.");
    }
    let path: Vec<&str> = url
        .split('?')
        .next()
        .unwrap_or("")
        .trim_matches('/')
        .split('/')
        .collect();
    if let (["installation", "token"], "DELETE") = (path.as_slice(), method) {
        let token = header(req, "Authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string));
        let now = now();
        return match st
            .tokens
            .iter_mut()
            .find(|t| Some(&t.token) == token.as_ref() && !t.revoked && t.expires_at > now)
        {
            Some(t) => {
                t.revoked = true;
                (204, vec![], String::new())
            }
            None => message(401, "Bad credentials"),
        };
    }
    if let Err(r) = check_jwt(req, app) {
        return r;
    }
    let inst_json = |i: &Installation| {
        serde_json::json!({
            "id": i.id, "app_id": app.id, "client_id": app.client_id,
            "account": { "login": i.account, "type": if i.organization { "Organization" } else { "User" } },
            "repository_selection": "selected", "permissions": i.permissions,
            "access_tokens_url": format!("/app/installations/{}/access_tokens", i.id),
        })
    };
    match (method, path.as_slice()) {
        ("GET", ["app"]) => json(
            200,
            serde_json::json!({ "id": app.id, "client_id": app.client_id, "slug": "gocred-test", "name": "gocred test" }),
        ),
        ("GET", ["repos", owner, repo, "installation"]) => {
            match st.installations.iter().find(|i| {
                i.account.eq_ignore_ascii_case(owner) && i.repositories.iter().any(|r| r == repo)
            }) {
                Some(i) => json(200, inst_json(i)),
                None => message(404, "Not Found"),
            }
        }
        ("GET", [kind @ ("orgs" | "users"), owner, "installation"]) => {
            match st.installations.iter().find(|i| {
                i.account.eq_ignore_ascii_case(owner) && (*kind == "users" || i.organization)
            }) {
                Some(i) => json(200, inst_json(i)),
                None => message(404, "Not Found"),
            }
        }
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            let Some(inst) = st
                .installations
                .iter()
                .find(|i| i.id.to_string() == *id)
                .cloned()
            else {
                return message(404, "Not Found");
            };
            let req_body: serde_json::Value = if body.trim().is_empty() {
                serde_json::json!({})
            } else {
                match serde_json::from_str(body) {
                    Ok(v) => v,
                    Err(_) => return message(400, "Problems parsing JSON"),
                }
            };
            let repos: Vec<String> = req_body["repositories"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if repos.iter().any(|r| !inst.repositories.contains(r)) {
                return message(422, "There is at least one repository that does not exist or is not accessible to the parent installation.");
            }
            let level = |l: &str| ["read", "write", "admin"].iter().position(|x| *x == l);
            let mut perms = BTreeMap::new();
            if let Some(p) = req_body["permissions"].as_object() {
                for (k, v) in p {
                    let granted = inst.permissions.get(k).and_then(|g| level(g));
                    let asked = v.as_str().and_then(level);
                    if asked.is_none() || granted.is_none() || asked > granted {
                        return message(
                            422,
                            "The permissions requested are not granted to this installation.",
                        );
                    }
                    perms.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                }
            } else {
                perms = inst.permissions.clone();
            }
            st.seq += 1;
            let token = make_token(st.seq, st.stateless);
            let expires_at = now() + st.lifetime;
            st.tokens.push(Minted {
                installation: inst.id,
                token: token.clone(),
                expires_at,
                repositories: repos.clone(),
                permissions: perms.clone(),
                revoked: false,
            });
            let mut out = serde_json::json!({ "token": token, "expires_at": rfc3339(expires_at), "permissions": perms, "repository_selection": if repos.is_empty() { "all" } else { "selected" } });
            if !repos.is_empty() {
                out["repositories"] = serde_json::json!(repos.iter().map(|r| serde_json::json!({ "name": r, "full_name": format!("{}/{r}", inst.account) })).collect::<Vec<_>>());
            }
            json(201, out)
        }
        _ => message(404, "Not Found"),
    }
}

fn make_token(seq: u64, stateless: bool) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut x = u64::from(nanos)
        ^ (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        ^ u64::from(std::process::id());
    let mut word = |n: usize| -> String {
        const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ABC[(x % ABC.len() as u64) as usize] as char
            })
            .collect()
    };
    let token = if stateless {
        format!("ghs_{}.{}.{}", word(120), word(300), word(90))
    } else {
        format!("ghs_{}", word(36))
    };
    super::canary::credential("x-access-token", &token);
    token
}

/// nginx `auth_request`: 200 when git's Basic credentials carry a live token of an installation
/// on the repository's owner (and, for a down-scoped token, one of its repositories).
fn validate(req: &tiny_http::Request, st: &mut State) -> Reply {
    let deny = (
        401,
        vec![(
            "WWW-Authenticate",
            "Basic realm=\"git.corp.test\"".to_string(),
        )],
        String::new(),
    );
    let uri = header(req, "X-Original-URI").unwrap_or_default();
    let mut parts = uri.trim_start_matches('/').split('/');
    let (owner, repo) = (
        parts.next().unwrap_or("").to_string(),
        parts
            .next()
            .unwrap_or("")
            .trim_end_matches(".git")
            .to_string(),
    );
    let Some((user, token)) = header(req, "Authorization")
        .and_then(|a| a.strip_prefix("Basic ").and_then(b64))
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        })
    else {
        return deny;
    };
    let now = now();
    let found = st.tokens.iter().find(|t| t.token == token).cloned();
    let expired = found.as_ref().is_some_and(|t| t.expires_at <= now);
    let ok = user == "x-access-token"
        && found.as_ref().is_some_and(|t| {
            !t.revoked
                && t.expires_at > now
                && st.installations.iter().any(|i| {
                    i.id == t.installation && i.account == owner && i.repositories.contains(&repo)
                })
                && (t.repositories.is_empty() || t.repositories.contains(&repo))
        });
    let status = if ok { 200 } else { 401 };
    st.validations
        .push((user, found.is_some(), expired, status));
    if ok {
        (200, vec![], String::new())
    } else {
        deny
    }
}

fn b64(s: &str) -> Option<String> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim().bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | u32::from(val(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).ok()
}
