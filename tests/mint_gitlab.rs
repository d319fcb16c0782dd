//! `gitlab` source: `CI_JOB_TOKEN` pass-through inside GitLab CI (only to the job's own GitLab),
//! and project access tokens created, rotated and revoked through the API.

mod support;

use std::collections::HashMap;
use std::process::Output;
use std::sync::{Arc, Mutex};

use support::{run_with_stdin, stderr_str, stdout_str, unique_name, Sandbox};

const HOST: &str = "gitlab.corp.test";

/// A stand-in for GitLab's REST API v4 project access token endpoints (GitLab cannot run here):
/// `POST /projects/:id/access_tokens` (201; `expires_at` required, a date after today),
/// `POST /projects/:id/access_tokens/:token_id/rotate` (200; the old token is revoked; 400 for
/// a revoked token), `DELETE /projects/:id/access_tokens/:token_id` (204). Every call needs
/// `PRIVATE-TOKEN` = the manager's token (else 401). `:id` is a number or the URL-encoded path.
struct GitlabApi {
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<GlState>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct GlState {
    /// token id -> (token, revoked, expires_at)
    tokens: HashMap<u64, (String, bool, String)>,
    calls: Vec<String>,
    next: u64,
}

const MANAGER: &str = "glpat-manager-0123456789";

impl GitlabApi {
    fn start() -> GitlabApi {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let state = Arc::new(Mutex::new(GlState {
            next: 100,
            ..Default::default()
        }));
        let (s2, st2) = (server.clone(), state.clone());
        let worker = std::thread::spawn(move || {
            while let Ok(mut req) = s2.recv() {
                let mut body = String::new();
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
                let (status, text) = gl_handle(&req, &body, &mut st2.lock().unwrap());
                let resp = tiny_http::Response::from_string(text)
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                let _ = req.respond(resp);
            }
        });
        GitlabApi {
            server,
            state,
            worker: Some(worker),
        }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/api/v4",
            self.server.server_addr().to_ip().unwrap().port()
        )
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

fn gl_handle(req: &tiny_http::Request, body: &str, st: &mut GlState) -> (u16, String) {
    let auth = req
        .headers()
        .iter()
        .find(|h| {
            h.field
                .as_str()
                .as_str()
                .eq_ignore_ascii_case("PRIVATE-TOKEN")
        })
        .map(|h| h.value.as_str().to_string());
    let call = format!("{} {}", req.method().as_str(), req.url());
    st.calls.push(call.clone());
    if auth.as_deref() != Some(MANAGER) {
        return (401, r#"{"message":"401 Unauthorized"}"#.into());
    }
    let path: Vec<&str> = req
        .url()
        .trim_start_matches("/api/v4/")
        .split('/')
        .collect();
    let project_ok = matches!(path.get(1), Some(&"grp%2Fproj") | Some(&"42"));
    if path.first() != Some(&"projects") || !project_ok || path.get(2) != Some(&"access_tokens") {
        return (404, r#"{"message":"404 Project Not Found"}"#.into());
    }
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let issue = |st: &mut GlState, expires: &str| {
        st.next += 1;
        let (id, token) = (
            st.next,
            format!("glpat-minted{}-{}", st.next, "x".repeat(12)),
        );
        st.tokens
            .insert(id, (token.clone(), false, expires.to_string()));
        serde_json::json!({ "id": id, "name": "gocred", "revoked": false, "active": true, "scopes": ["read_repository"], "access_level": 20, "expires_at": expires, "token": token }).to_string()
    };
    let expires = json["expires_at"].as_str().unwrap_or("").to_string();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    match (req.method().as_str(), &path[3..]) {
        ("POST", []) => {
            if expires.len() != 10 || expires <= today {
                return (
                    400,
                    r#"{"message":{"expires_at":["must be in the future"]}}"#.into(),
                );
            }
            (201, issue(st, &expires))
        }
        ("POST", [id, "rotate"]) => {
            match id.parse::<u64>().ok().and_then(|i| st.tokens.get_mut(&i)) {
                Some(t) if !t.1 => {
                    t.1 = true;
                    (200, issue(st, &expires))
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
                t.1 = true;
                (204, String::new())
            }
            None => (404, r#"{"message":"404 Not Found"}"#.into()),
        },
        _ => (404, r#"{"message":"404 Not Found"}"#.into()),
    }
}

fn gocred(s: &Sandbox, service: &str, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Output {
    let mut c = s.gocred();
    c.args(args)
        .env("GOCRED_KEYRING", "keyutils")
        .env("GOCRED_KEYRING_SERVICE", service);
    for (k, v) in env {
        c.env(k, v);
    }
    run_with_stdin(&mut c, stdin)
}

/// `gocred login HOST --source gitlab --project grp/proj` with `manager` as the token.
fn login(s: &Sandbox, service: &str, api: &GitlabApi, manager: &str) -> Output {
    gocred(
        s,
        service,
        &[],
        &[
            "login",
            HOST,
            "--source",
            "gitlab",
            "--project",
            "grp/proj",
            "--api-url",
            &api.url(),
        ],
        format!("{manager}\n").as_bytes(),
    )
}

fn get_req() -> Vec<u8> {
    format!("capability[]=authtype\nprotocol=https\nhost={HOST}\n\n").into_bytes()
}

#[test]
fn job_token_goes_only_to_the_jobs_own_gitlab() {
    let s = Sandbox::new();
    let svc = unique_name("gocred-gl");
    s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"gitlab\"\n"
    ));
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_JOB_TOKEN", "glcbt-64_jobtoken"),
        ("CI_SERVER_URL", "https://gitlab.corp.test"),
    ];
    let out = gocred(&s, &svc, &ci, &["get"], &get_req());
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "capability[]=authtype\nephemeral=1\nusername=gitlab-ci-token\npassword=glcbt-64_jobtoken\n");
    // Another GitLab (or another port): not sent.
    for url in [
        "https://gitlab.other.test",
        "https://gitlab.corp.test:8443",
        "not a url",
    ] {
        let env = [ci[0], ci[1], ("CI_SERVER_URL", url)];
        let out = gocred(&s, &svc, &env, &["get"], &get_req());
        assert_eq!(stdout_str(&out), "", "{url}");
        assert!(
            stderr_str(&out).contains("not sending it"),
            "{}",
            stderr_str(&out)
        );
    }
    // Outside CI: a clear error, nothing on stdout.
    let out = gocred(&s, &svc, &[], &["get"], &get_req());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("only inside a GitLab CI job"),
        "{}",
        stderr_str(&out)
    );
    // A rejected job token cannot be forgotten: say what to fix.
    let out = gocred(
        &s,
        &svc,
        &ci,
        &["erase"],
        format!(
            "protocol=https\nhost={HOST}\nusername=gitlab-ci-token\npassword=glcbt-64_jobtoken\n\n"
        )
        .as_bytes(),
    );
    assert!(
        stderr_str(&out).contains("allowlist"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn project_tokens_are_created_cached_rotated_and_revoked() {
    let api = GitlabApi::start();
    let s = Sandbox::new();
    let svc = unique_name("gocred-gl");
    let login = login(&s, &svc, &api, MANAGER);
    assert!(login.status.success(), "{}", stderr_str(&login));
    let first = gocred(&s, &svc, &[], &["get"], &get_req());
    assert!(first.status.success(), "{}", stderr_str(&first));
    let text = stdout_str(&first);
    assert!(
        text.contains("username=gitlab-access-token\npassword=glpat-minted101-"),
        "{text}"
    );
    assert!(text.contains("password_expiry_utc="));
    // Cached: the second get calls nothing.
    let calls = api.state.lock().unwrap().calls.len();
    assert_eq!(
        stdout_str(&gocred(&s, &svc, &[], &["get"], &get_req())),
        text
    );
    assert_eq!(api.state.lock().unwrap().calls.len(), calls);
    // Rejected by git: dropped; the next get rotates the old one (which revokes it).
    let pw = text
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .unwrap()
        .to_string();
    let erase =
        format!("protocol=https\nhost={HOST}\nusername=gitlab-access-token\npassword={pw}\n\n");
    assert!(gocred(&s, &svc, &[], &["erase"], erase.as_bytes())
        .status
        .success());
    let second = stdout_str(&gocred(&s, &svc, &[], &["get"], &get_req()));
    assert!(second.contains("password=glpat-minted102-"), "{second}");
    {
        let st = api.state.lock().unwrap();
        assert!(
            st.calls
                .iter()
                .any(|c| c == "POST /api/v4/projects/grp%2Fproj/access_tokens/101/rotate"),
            "{:?}",
            st.calls
        );
        assert!(st.tokens[&101].1, "the rotated token is revoked");
    }
    // Logout revokes the live one.
    let out = gocred(&s, &svc, &[], &["logout", HOST], b"");
    assert!(
        stderr_str(&out).contains("revoked 1 token(s)"),
        "{}",
        stderr_str(&out)
    );
    assert!(api.state.lock().unwrap().tokens[&102].1);
}

#[test]
fn a_refused_manager_token_says_what_to_do() {
    let api = GitlabApi::start();
    let s = Sandbox::new();
    let svc = unique_name("gocred-gl");
    let login = login(&s, &svc, &api, "glpat-wrong-token");
    assert!(login.status.success());
    let out = gocred(&s, &svc, &[], &["get"], &get_req());
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(
        err.contains("HTTP 401") && err.contains("gocred login"),
        "{err}"
    );
    assert!(!err.contains("glpat-wrong"));
    let _ = gocred(&s, &svc, &[], &["logout", HOST], b"");
}
