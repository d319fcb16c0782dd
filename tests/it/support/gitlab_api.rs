//! A stand-in for GitLab's REST API v4 token endpoints (GitLab cannot run here). It follows the
//! published API and checks what GitLab checks:
//!
//! * `POST /projects/:id/access_tokens` (201; `expires_at` required and a date after today),
//!   `POST /projects/:id/access_tokens/:token_id/rotate` (200; the old token is revoked; 400
//!   for a revoked one), `DELETE /projects/:id/access_tokens/:token_id` (204): `PRIVATE-TOKEN`
//!   must be the manager's token (else 401); `:id` is the number or the URL-encoded path.
//! * `DELETE /personal_access_tokens/self` (204): revokes the token that authenticates the
//!   request (`PRIVATE-TOKEN` or `Authorization: Bearer`), which may be of any scope since
//!   GitLab 15.4; 401 when it is unknown, revoked or expired. [`GitlabApi::set_before_15_4`]
//!   plays an older GitLab, which answers 403 unless the token has `api` scope.
//!
//! Test controls: the record of calls and of every token. `GET /__validate` is the
//! `auth_request` target for nginx (`GitServer::start_with_token_check`): it accepts git's
//! Basic credentials (any non-blank username, as GitLab) only with a live token it created.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// The manager's personal access token (`api` scope) the stand-in accepts.
pub const MANAGER: &str = "glpat-manager-0123456789";

#[derive(Debug, Clone)]
pub struct GlToken {
    pub token: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD`; the token stops working when that day begins (UTC).
    pub expires_at: String,
    pub revoked: bool,
}

#[derive(Default)]
struct State {
    tokens: BTreeMap<u64, GlToken>,
    calls: Vec<String>,
    next: u64,
    before_15_4: bool,
}

pub struct GitlabApi {
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl GitlabApi {
    /// Token ids start at 101.
    pub fn start() -> GitlabApi {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("binding"));
        let state = Arc::new(Mutex::new(State {
            next: 100,
            ..State::default()
        }));
        let (s2, st2) = (server.clone(), state.clone());
        let worker = std::thread::spawn(move || {
            while let Ok(mut req) = s2.recv() {
                let mut body = String::new();
                let _ = req.as_reader().take(1 << 20).read_to_string(&mut body);
                let (status, text) = {
                    let mut st = st2.lock().unwrap_or_else(|e| e.into_inner());
                    handle(&req, &body, &mut st)
                };
                let mut resp = tiny_http::Response::from_string(text).with_status_code(status);
                let ctype = if status == 401 && req.url().starts_with("/__validate") {
                    ("WWW-Authenticate", "Basic realm=\"GitLab\"")
                } else {
                    ("Content-Type", "application/json")
                };
                resp.add_header(tiny_http::Header::from_bytes(ctype.0, ctype.1).unwrap());
                let _ = req.respond(resp);
            }
        });
        GitlabApi {
            server,
            state,
            worker: Some(worker),
        }
    }

    pub fn port(&self) -> u16 {
        self.server
            .server_addr()
            .to_ip()
            .expect("ip listener")
            .port()
    }

    /// `http://127.0.0.1:<port>/api/v4`, the rule's `api_url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v4", self.port())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `METHOD url` of every API call, in order (token checks from nginx not included).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn token(&self, id: u64) -> Option<GlToken> {
        self.lock().tokens.get(&id).cloned()
    }

    pub fn tokens(&self) -> BTreeMap<u64, GlToken> {
        self.lock().tokens.clone()
    }

    /// Plays GitLab 15.0–15.3: only a token with `api` scope may revoke itself.
    pub fn set_before_15_4(&self, on: bool) {
        self.lock().before_15_4 = on;
    }
}

impl Drop for GitlabApi {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn header(req: &tiny_http::Request, name: &str) -> Option<String> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

fn live(t: &GlToken) -> bool {
    !t.revoked && t.expires_at > today()
}

fn unauthorized() -> (u16, String) {
    (401, r#"{"message":"401 Unauthorized"}"#.into())
}

fn handle(req: &tiny_http::Request, body: &str, st: &mut State) -> (u16, String) {
    let url = req.url().to_string();
    if url.starts_with("/__validate") {
        return validate(req, st);
    }
    let method = req.method().as_str().to_string();
    st.calls.push(format!("{method} {url}"));
    let auth = header(req, "PRIVATE-TOKEN").or_else(|| {
        header(req, "Authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
    });
    let path: Vec<&str> = url.trim_start_matches("/api/v4/").split('/').collect();
    if path == ["personal_access_tokens", "self"] && method == "DELETE" {
        let before = st.before_15_4;
        let Some(t) = st
            .tokens
            .values_mut()
            .find(|t| auth.as_deref() == Some(t.token.as_str()) && live(t))
        else {
            return unauthorized();
        };
        if before && !t.scopes.iter().any(|s| s == "api") {
            return (
                403,
                r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}"#.into(),
            );
        }
        t.revoked = true;
        return (204, String::new());
    }
    if auth.as_deref() != Some(MANAGER) {
        return unauthorized();
    }
    let project_ok = matches!(path.get(1), Some(&"grp%2Fproj") | Some(&"42"));
    if path.first() != Some(&"projects") || !project_ok || path.get(2) != Some(&"access_tokens") {
        return (404, r#"{"message":"404 Project Not Found"}"#.into());
    }
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let expires = json["expires_at"].as_str().unwrap_or("").to_string();
    let issue = |st: &mut State, name: &str, scopes: Vec<String>| {
        st.next += 1;
        let id = st.next;
        let token = format!("glpat-minted{id}-{}", "x".repeat(12));
        super::canary::secret(&token);
        st.tokens.insert(
            id,
            GlToken {
                token: token.clone(),
                name: name.to_string(),
                scopes: scopes.clone(),
                expires_at: expires.clone(),
                revoked: false,
            },
        );
        serde_json::json!({ "id": id, "name": name, "revoked": false, "active": true, "scopes": scopes, "access_level": 20, "expires_at": expires, "token": token }).to_string()
    };
    match (method.as_str(), &path[3..]) {
        ("POST", []) => {
            if expires.len() != 10 || expires <= today() {
                return (
                    400,
                    r#"{"message":{"expires_at":["must be in the future"]}}"#.into(),
                );
            }
            let (Some(name), Some(scopes)) = (json["name"].as_str(), json["scopes"].as_array())
            else {
                return (
                    400,
                    r#"{"error":"name is missing, scopes is missing"}"#.into(),
                );
            };
            let scopes = scopes
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            (201, issue(st, name, scopes))
        }
        ("POST", [id, "rotate"]) => {
            let old = id
                .parse::<u64>()
                .ok()
                .and_then(|i| st.tokens.get(&i))
                .cloned();
            match old {
                Some(t) if !t.revoked => {
                    if let Some(o) = id.parse::<u64>().ok().and_then(|i| st.tokens.get_mut(&i)) {
                        o.revoked = true;
                    }
                    (200, issue(st, &t.name, t.scopes))
                }
                Some(_) => (
                    400,
                    r#"{"message":"400 Bad request - Token already revoked"}"#.into(),
                ),
                None => (404, r#"{"message":"404 Not Found"}"#.into()),
            }
        }
        ("DELETE", [id]) => match id.parse::<u64>().ok().and_then(|i| st.tokens.get_mut(&i)) {
            Some(t) => {
                t.revoked = true;
                (204, String::new())
            }
            None => (404, r#"{"message":"404 Not Found"}"#.into()),
        },
        _ => (404, r#"{"message":"404 Not Found"}"#.into()),
    }
}

/// nginx `auth_request`: 200 for Basic credentials with a non-blank username and a live token.
fn validate(req: &tiny_http::Request, st: &State) -> (u16, String) {
    use base64::Engine as _;
    let creds = header(req, "Authorization")
        .and_then(|a| a.strip_prefix("Basic ").map(str::to_string))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let ok = creds
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(u, p)| {
            !u.trim().is_empty() && st.tokens.values().any(|t| t.token == p && live(t))
        });
    if ok {
        (200, String::new())
    } else {
        (401, String::new())
    }
}
