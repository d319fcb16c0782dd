//! `GOCRED_TRACE`: the decisions of a request, line by line, for a matched, an unmatched and a
//! minted request (GitHub App stand-in, real kernel keyring), never a secret (the support
//! runners' canary checks every output), to stderr or appended to a file.
#![cfg(unix)]

use std::process::{Command, Output};

use crate::support;
use crate::support::{run_with_stdin, stderr_str, stdout_str, GithubApi, KeyringService, Sandbox};
use sha2::Digest;

/// The trace lines of stderr without their `gocred trace: <time> ` head (checked here).
fn trace_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("gocred trace: "))
        .map(|rest| {
            let (time, what) = rest.split_once(' ').expect("time, then the line");
            // 2026-12-02T16:21:16.123456Z
            assert!(
                time.len() == 27
                    && time.ends_with('Z')
                    && time.as_bytes()[10] == b'T'
                    && time.as_bytes()[19] == b'.',
                "timestamp {time:?}"
            );
            what.to_string()
        })
        .collect()
}

/// `line` against `pattern`, where `{..}` stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("{..}");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn assert_trace(out: &Output, expected: &[String]) {
    let got = trace_lines(&stderr_str(out));
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            matches(e, g),
            "trace line {i}:\n  got  {g}\n  want {e}\nall:\n{got:#?}"
        );
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

/// What a secret looks like in a trace.
fn redacted(secret: &str) -> String {
    let d = sha2::Sha256::digest(secret.as_bytes());
    let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "<redacted, {} bytes, fingerprint sha256:{hex}>",
        secret.len()
    )
}

/// The settings lines of a sandbox whose go env file says GONOSUMDB=sum.corp.test.
fn settings_lines(s: &Sandbox, rules: usize) -> Vec<String> {
    let cfg = s.config_path.display();
    let goenv = s.path(".config/go/env").display().to_string();
    vec![
        format!(
            "settings: config {cfg} ({rules} rule{})",
            if rules == 1 { "" } else { "s" }
        ),
        "settings: GOPRIVATE=*.corp.test (from the environment)".into(),
        format!("settings: GONOPROXY unset (environment and go env file {goenv})"),
        format!("settings: GONOSUMDB=sum.corp.test (from the go env file {goenv})"),
        "settings: GOPROXY=off (from the environment)".into(),
        format!("settings: GOINSECURE unset (environment and go env file {goenv})"),
        format!("settings: GOAUTH unset (environment and go env file {goenv})"),
        "settings: keyring backend=auto service=gocred".into(),
    ]
}

fn sandbox(config: &str) -> Sandbox {
    let s = Sandbox::new();
    s.write_config(config);
    std::fs::create_dir_all(s.path(".config/go")).unwrap();
    std::fs::write(s.path(".config/go/env"), "GONOSUMDB=sum.corp.test\n").unwrap();
    s
}

fn traced(s: &Sandbox) -> Command {
    let mut c = s.gocred();
    c.env("GOCRED_TRACE", "1").env("GOPRIVATE", "*.corp.test");
    c
}

const TOKEN: &str = "trace_tok_0123456789abcdefghij";

const TWO_RULES: &str = "[[rule]]\npattern = \"other.corp.test\"\nsource = \"pat\"\n\
    [[rule]]\npattern = \"git.corp.test/acme\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\n";

#[test]
fn a_matched_request() {
    let s = sandbox(TWO_RULES);
    let out = run_with_stdin(
        traced(&s).env("CORP_TOKEN", TOKEN).arg("get"),
        b"protocol=https\nhost=git.corp.test\npath=acme/lib.git\nusername=alice\n\n",
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(stdout_str(&out).contains(&format!("password={TOKEN}\n")));
    let mut want = vec!["get: request protocol=https host=git.corp.test path=acme/lib.git".into()];
    want.extend(settings_lines(&s, 2));
    want.extend([
        "rule `other.corp.test` (line 1, pat): no match: host is not git.corp.test".into(),
        "rule `git.corp.test/acme` (line 4, env): matches (path acme/lib.git is under `acme`)"
            .into(),
        "route: rule `git.corp.test/acme` (line 4, env) serves git.corp.test".into(),
        format!(
            "get: rule `git.corp.test/acme` (line 4, env) answered username=(set) password={}, \
             does not expire",
            redacted(TOKEN)
        ),
    ]);
    assert_trace(&out, &want);
    assert!(
        !stderr_str(&out).contains("alice"),
        "no user name in a trace"
    );
}

#[test]
fn an_unmatched_request() {
    let s = sandbox(TWO_RULES);
    let out = run_with_stdin(
        traced(&s).env("CORP_TOKEN", TOKEN).arg("get"),
        b"protocol=https\nhost=git.corp.test\npath=other/lib.git\n\n",
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "");
    let mut want = vec!["get: request protocol=https host=git.corp.test path=other/lib.git".into()];
    want.extend(settings_lines(&s, 2));
    want.extend([
        "rule `other.corp.test` (line 1, pat): no match: host is not git.corp.test".into(),
        "rule `git.corp.test/acme` (line 4, env): no match: path other/lib.git is not under `acme`"
            .into(),
        "route: no rule covers git.corp.test; git.corp.test/other/lib is private per GOPRIVATE \
         pattern `*.corp.test`: no answer (git asks its next helper)"
            .into(),
    ]);
    assert_trace(&out, &want);
    // The user-facing hint is still there, once, outside the trace.
    let hints: Vec<String> = stderr_str(&out)
        .lines()
        .filter(|l| l.starts_with("gocred: "))
        .map(str::to_string)
        .collect();
    assert_eq!(hints.len(), 1, "{hints:?}");

    // Without a path, a path-scoped rule cannot be chosen, and the trace says why.
    let out = run_with_stdin(
        traced(&s).arg("get"),
        b"protocol=https\nhost=git.corp.test\n\n",
    );
    let got = trace_lines(&stderr_str(&out));
    assert!(
        got.contains(
            &"rule `git.corp.test/acme` (line 4, env): host matches, path glob `acme` needs a \
              path (git sends one with credential.useHttpPath)"
                .to_string()
        ),
        "{got:#?}"
    );
}

#[test]
fn a_minted_request_then_a_cache_hit() {
    const HOST: &str = "github.corp.test";
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let service = KeyringService::new("gocred-trace");
    let s = sandbox(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"github-app\"\napp_id = {}\napi_url = \"{}\"\n",
        api.app.id,
        api.url()
    ));
    let cmd = || {
        let mut c = traced(&s);
        c.env("GOCRED_KEYRING", "keyutils")
            .env("GOCRED_KEYRING_SERVICE", &service);
        c
    };
    let config = std::fs::read_to_string(&s.config_path).ok();
    let login = run_with_stdin(
        cmd().env_remove("GOCRED_TRACE").args([
            "login",
            HOST,
            "--source",
            "github-app",
            "--app-id",
            &api.app.id.to_string(),
            "--api-url",
            &api.url(),
        ]),
        api.app.private_key_pem.as_bytes(),
    );
    assert!(login.status.success(), "login: {}", stderr_str(&login));
    assert!(
        trace_lines(&stderr_str(&login)).is_empty(),
        "off unless GOCRED_TRACE is set"
    );
    if let Some(c) = config {
        s.write_config(&c);
    }
    let req = format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n");
    let out = run_with_stdin(cmd().arg("get"), req.as_bytes());
    assert!(out.status.success(), "{}", stderr_str(&out));
    let mints = api.mints();
    assert_eq!(mints.len(), 1);
    let minted = &mints[0];
    let mut head = vec![format!(
        "get: request protocol=https host={HOST} path=acme/lib.git"
    )];
    let mut settings = settings_lines(&s, 1);
    settings.pop();
    settings.push(format!(
        "settings: keyring backend=keyutils service={service}"
    ));
    head.extend(settings);
    head.extend([
        format!("rule `{HOST}` (line 1, github-app): matches (whole host)"),
        format!("route: rule `{HOST}` (line 1, github-app) serves {HOST}"),
    ]);
    let answered = format!(
        "get: rule `{HOST}` (line 1, github-app) answered username=(set) password={}, \
         expires {{..}}Z ({{..}} s left)",
        redacted(&minted.token)
    );
    let mut want = head.clone();
    want.extend([
        "token cache: no usable token for cache:github-app:{..}; minting".into(),
        "token cache: minted for cache:github-app:{..}, expires {..}Z ({..} s left)".into(),
        answered.clone(),
    ]);
    assert_trace(&out, &want);
    // The expiry is the one GitHub gave, as an absolute time and as seconds left.
    let got = trace_lines(&stderr_str(&out));
    let left: u64 = got[got.len() - 1]
        .rsplit_once(" (")
        .and_then(|(_, r)| r.strip_suffix(" s left)"))
        .and_then(|n| n.parse().ok())
        .expect("seconds left");
    let now = GithubApi::now_secs();
    assert!(left <= minted.expires_at - now + 1 && left + 60 >= minted.expires_at - now);

    // Hot: from the cache, no API call.
    let out = run_with_stdin(cmd().arg("get"), req.as_bytes());
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(api.mints().len(), 1);
    let mut want = head;
    want.extend([
        "token cache: hit for cache:github-app:{..}, expires {..}Z ({..} s left)".into(),
        answered,
    ]);
    assert_trace(&out, &want);
    let _ = run_with_stdin(cmd().env_remove("GOCRED_TRACE").args(["logout", HOST]), b"");
}

#[test]
fn to_a_file_appended_private_and_never_through_a_symlink() {
    let s = sandbox(TWO_RULES);
    let file = s.path("trace.log");
    let req = b"protocol=https\nhost=git.corp.test\npath=acme/lib.git\n\n";
    for _ in 0..2 {
        let out = run_with_stdin(
            traced(&s)
                .env("CORP_TOKEN", TOKEN)
                .env("GOCRED_TRACE", &file)
                .arg("get"),
            req,
        );
        assert!(out.status.success(), "{}", stderr_str(&out));
        assert_eq!(stderr_str(&out), "", "the trace goes to the file only");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    // The canary reads the file as it reads stderr.
    use std::os::unix::process::ExitStatusExt;
    support::canary::check(
        &Output {
            status: std::process::ExitStatus::from_raw(0),
            stdout: Vec::new(),
            stderr: text.clone().into_bytes(),
        },
        "the trace file",
    );
    let lines = trace_lines(&text);
    assert_eq!(lines.len(), 2 * 13, "{lines:#?}");
    assert_eq!(lines[0], lines[13], "appended, not replaced");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // A symlink is not followed: tracing stays off, with one warning; the target is untouched.
    let target = s.path("elsewhere");
    std::fs::write(&target, "keep\n").unwrap();
    let link = s.path("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run_with_stdin(
        traced(&s)
            .env("CORP_TOKEN", TOKEN)
            .env("GOCRED_TRACE", &link)
            .arg("get"),
        req,
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    let err = stderr_str(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("gocred: warning: cannot open GOCRED_TRACE file"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");

    // A relative path is refused the same way (as GIT_TRACE does).
    let out = run_with_stdin(
        traced(&s)
            .env("CORP_TOKEN", TOKEN)
            .env("GOCRED_TRACE", "trace.log")
            .arg("get"),
        req,
    );
    let err = stderr_str(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not an absolute path"), "{err}");
    assert!(
        stdout_str(&out).contains("password="),
        "the request is still answered"
    );
}
