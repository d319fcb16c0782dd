//! GOAUTH conformance: the real `gocred goauth` binary, judged by Go's own parser.
//!
//! Every answer is fed to `parseUserAuth` + `storeCredential`/`loadCredential` copied verbatim
//! from GOROOT (support::GoUserAuth): Go must accept it whole, cache exactly the expected
//! prefixes, and attach the expected header to each request URL — and nothing to the URLs that
//! must get nothing. Hostile stdin and hostile URLs must give no output, a clear error and a
//! non-zero exit, with no secret on stderr (Go logs it with `-x`).

mod support;

use std::process::Output;

use support::{run_with_stdin, stderr_str, GoParse, GoUserAuth, Sandbox};

const CONFIG: &str = r#"
[[rule]]
pattern = "h1.corp.test"
source = "env"
variable = "TOK_A"
username = "alice"

[[rule]]
pattern = "h2.corp.test:8443"
source = "env"
variable = "TOK_B"
auth = "bearer"

[[rule]]
pattern = "gl.corp.test/group/*"
source = "env"
variable = "TOK_C"
username = "carol"

[[rule]]
pattern = "gl.corp.test"
source = "env"
variable = "TOK_D"
username = "dave"

[[rule]]
pattern = "*.wild.test"
source = "env"
variable = "TOK_E"
username = "eve"

[[rule]]
pattern = "v.corp.test/lib-*"
source = "env"
variable = "TOK_F"
username = "frank"
"#;

const TOKENS: &[(&str, &str)] = &[
    ("TOK_A", "tokA-111"),
    ("TOK_B", "tokB-222"),
    ("TOK_C", "tokC-333"),
    ("TOK_D", "tokD-444"),
    ("TOK_E", "tokE-555"),
    ("TOK_F", "tokF-666"),
];

const CHALLENGE: &[u8] =
    b"HTTP/1.1 401 Unauthorized\nContent-Length: 0\nWww-Authenticate: Basic realm=\"x\"\n\n";

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write_config(CONFIG);
    s
}

fn goauth(s: &Sandbox, url: Option<&str>, stdin: &[u8]) -> Output {
    let mut c = s.gocred();
    c.arg("goauth").args(url).envs(TOKENS.iter().copied());
    run_with_stdin(&mut c, stdin)
}

/// What Go should attach: `Basic user:token`, `Bearer token`, or nothing.
#[derive(Debug, Clone, Copy)]
enum Want {
    Basic(&'static str, &'static str),
    Bearer(&'static str),
    Nothing,
}

fn check(go: &GoParse, url: &str, want: Want) {
    let token = |var: &str| TOKENS.iter().find(|(k, _)| *k == var).unwrap().1;
    match want {
        Want::Basic(user, var) => assert_eq!(
            go.basic.get(url).map(String::as_str),
            Some(format!("{user}:{}", token(var)).as_str()),
            "{url}: {go:?}"
        ),
        Want::Bearer(var) => assert_eq!(
            go.authorization_for(url),
            Some(format!("Bearer {}", token(var)).as_str()),
            "{url}: {go:?}"
        ),
        Want::Nothing => assert_eq!(go.lookups.get(url), None, "{url}: {go:?}"),
    }
}

/// Runs `goauth`, requires success, feeds stdout to Go, checks every (url, want).
fn conforms(s: &Sandbox, url: Option<&str>, wants: &[(&str, Want)]) -> GoParse {
    let out = goauth(s, url, if url.is_some() { CHALLENGE } else { b"" });
    assert!(out.status.success(), "{url:?}: {}", stderr_str(&out));
    let urls: Vec<&str> = wants.iter().map(|(u, _)| *u).collect();
    let go = GoUserAuth::get().check(&out.stdout, &urls);
    assert_eq!(
        go.error,
        None,
        "Go rejected {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (u, w) in wants {
        check(&go, u, *w);
    }
    let err = stderr_str(&out);
    for (_, tok) in TOKENS {
        assert!(!err.contains(tok), "secret on stderr: {err}");
    }
    go
}

#[test]
fn first_call_answer_is_parsed_by_go() {
    use Want::*;
    let s = sandbox();
    let go = conforms(
        &s,
        None,
        &[
            (
                "https://h1.corp.test/team/lib?go-get=1",
                Basic("alice", "TOK_A"),
            ),
            ("https://h1.corp.test/", Basic("alice", "TOK_A")),
            (
                "https://h1.corp.test/github.com/!azure/x/@v/list",
                Basic("alice", "TOK_A"),
            ),
            // Go matches byte for byte: these are other "hosts" to it, and get nothing.
            ("https://H1.corp.test/x", Nothing),
            ("https://h1.corp.test:443/x", Nothing),
            ("https://h1.corp.test.evil.test/x", Nothing),
            ("https://evilh1.corp.test/x", Nothing),
            ("https://h2.corp.test:8443/a/b?go-get=1", Bearer("TOK_B")),
            ("https://h2.corp.test/a", Nothing),
            (
                "https://gl.corp.test/group/sub/proj?go-get=1",
                Basic("carol", "TOK_C"),
            ),
            (
                "https://gl.corp.test/group?go-get=1",
                Basic("dave", "TOK_D"),
            ),
            (
                "https://gl.corp.test/other/proj?go-get=1",
                Basic("dave", "TOK_D"),
            ),
            ("https://x.wild.test/a?go-get=1", Nothing),
            ("https://v.corp.test/lib-a?go-get=1", Nothing),
        ],
    );
    let keys: Vec<&str> = go.creds.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "gl.corp.test",
            "gl.corp.test/group",
            "h1.corp.test",
            "h2.corp.test:8443"
        ]
    );
}

#[test]
fn retry_answers_are_parsed_by_go() {
    use Want::*;
    let s = sandbox();
    // Wildcard host: the whole host, from now on.
    conforms(
        &s,
        Some("https://x.wild.test/m/n?go-get=1"),
        &[
            ("https://x.wild.test/m/n?go-get=1", Basic("eve", "TOK_E")),
            ("https://x.wild.test/other", Basic("eve", "TOK_E")),
            ("https://y.wild.test/other", Nothing),
            ("https://a.b.wild.test/x", Nothing),
        ],
    );
    // Complex glob: that URL only.
    let go = conforms(
        &s,
        Some("https://v.corp.test/lib-a?go-get=1"),
        &[
            (
                "https://v.corp.test/lib-a?go-get=1",
                Basic("frank", "TOK_F"),
            ),
            ("https://v.corp.test/lib-b?go-get=1", Nothing),
            ("https://v.corp.test/lib-a", Nothing),
        ],
    );
    assert_eq!(
        go.creds.keys().collect::<Vec<_>>(),
        ["v.corp.test/lib-a?go-get=1"]
    );
    // Owner prefix, first rule for the host: the owner prefix.
    conforms(
        &s,
        Some("https://gl.corp.test/group/sub/proj?go-get=1"),
        &[
            (
                "https://gl.corp.test/group/sub/proj?go-get=1",
                Basic("carol", "TOK_C"),
            ),
            (
                "https://gl.corp.test/group/x/y/@v/list",
                Basic("carol", "TOK_C"),
            ),
            ("https://gl.corp.test/other/proj?go-get=1", Nothing),
        ],
    );
    // Host rule behind an owner rule: only the URL, never the owner's subtree.
    conforms(
        &s,
        Some("https://gl.corp.test/other/proj?go-get=1"),
        &[
            (
                "https://gl.corp.test/other/proj?go-get=1",
                Basic("dave", "TOK_D"),
            ),
            ("https://gl.corp.test/group/sub/proj?go-get=1", Nothing),
            ("https://gl.corp.test/third/x?go-get=1", Nothing),
        ],
    );
    // A proxy file on a host with a port, Bearer.
    conforms(
        &s,
        Some("https://h2.corp.test:8443/git.corp.test/team/lib/@v/v1.0.0.zip"),
        &[
            (
                "https://h2.corp.test:8443/git.corp.test/team/lib/@v/v1.0.0.zip",
                Bearer("TOK_B"),
            ),
            (
                "https://h2.corp.test/git.corp.test/team/lib/@v/v1.0.0.zip",
                Nothing,
            ),
        ],
    );
}

#[test]
fn a_missing_secret_skips_one_host_and_go_still_takes_the_rest() {
    let s = sandbox();
    let mut c = s.gocred();
    c.arg("goauth")
        .envs(TOKENS.iter().copied().filter(|(k, _)| *k != "TOK_A"));
    let out = run_with_stdin(&mut c, b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains("skipping https://h1.corp.test/") && err.contains("$TOK_A is not set"),
        "{err}"
    );
    let go = GoUserAuth::get().check(
        &out.stdout,
        &["https://h1.corp.test/x", "https://h2.corp.test:8443/x"],
    );
    assert_eq!(go.error, None);
    check(&go, "https://h1.corp.test/x", Want::Nothing);
    check(&go, "https://h2.corp.test:8443/x", Want::Bearer("TOK_B"));
}

/// The oracle can say no: output shapes gocred never writes are rejected by Go, and a prefix
/// that is not written the way Go writes request URLs is accepted but never used.
#[test]
fn gos_parser_rejects_what_gocred_never_writes() {
    let go = GoUserAuth::get();
    for bad in [
        &b"https://a.test/\n\nAuthorization: Basic eA==\n"[..],
        b"https://a.test/\n\nAuthorization:Basic eA==\n\n",
        b"https://a.test/\r\n\r\nAuthorization: Basic eA==\r\n\r\n",
        b"https://a.test/\n\nAuthorization: Basic e\rA==\n\n",
        b"https://a.test/\n\nAuth orization: x\n\n",
        b"https://a.test/\nAuthorization: Basic eA==\n\n",
        b"a.test\n\nAuthorization: Basic eA==\n\n",
    ] {
        let r = go.check(bad, &[]);
        assert!(
            r.error.is_some(),
            "Go accepted {:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let r = go.check(
        b"https://A.test/\nhttps://b.test:443/\nhttp://c.test/\n\nAuthorization: Basic eA==\n\n",
        &["https://a.test/x", "https://b.test/x", "https://c.test/x"],
    );
    assert_eq!(r.error, None);
    assert!(r.lookups.is_empty(), "{r:?}");
}

fn refused(s: &Sandbox, url: &str, stdin: &[u8], needle: &str) {
    let out = goauth(s, Some(url), stdin);
    let err = stderr_str(&out);
    assert_eq!(out.status.code(), Some(1), "{url:?}: {err}");
    assert!(out.stdout.is_empty(), "output for a refused request: {err}");
    assert!(
        err.contains("gocred: goauth: refused:") && err.contains(needle),
        "{needle:?}: {err}"
    );
    for (_, tok) in TOKENS {
        assert!(!err.contains(tok), "{err}");
    }
}

#[test]
fn hostile_stdin_gets_no_output_and_a_clear_error() {
    let s = sandbox();
    let url = "https://h1.corp.test/team/lib?go-get=1";
    let st = "HTTP/1.1 401 Unauthorized\n";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("{st}X-Big: {}\n\n", "a".repeat(9000)).into_bytes(),
            "longer than 8192 bytes",
        ),
        (
            format!("{st}{}\n", "X-Many: 1\n".repeat(300)).into_bytes(),
            "more than 256 header lines",
        ),
        (
            format!(
                "{st}{}\n",
                "Set-Cookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".repeat(2000)
            )
            .into_bytes(),
            "larger than 65536 bytes",
        ),
        (vec![b'A'; 10 * 1024 * 1024], "larger than 65536 bytes"),
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "carriage return",
        ),
        (
            format!("{st}X: a\rAuthorization: Basic eA==\n\n").into_bytes(),
            "carriage return",
        ),
        (
            format!("{st}X: a\n\nhttps://evil.test/\n\nAuthorization: Basic eA==\n\n").into_bytes(),
            "data after the blank line",
        ),
        (format!("{st}X: a\0b\n\n").into_bytes(), "NUL"),
        ([st.as_bytes(), b"X: \xff\xfe\x00\x01\n\n"].concat(), "NUL"),
        (
            [st.as_bytes(), b"X: \xff\xfe\x80\n\n"].concat(),
            "not UTF-8",
        ),
        (
            format!("{st}X: \u{1b}]0;pwned\u{7}\n\n").into_bytes(),
            "control character",
        ),
        (b"HTTP/1.1 200 OK\n\n".to_vec(), "not a 4xx"),
        (
            b"https://evil.test/\n\nAuthorization: Basic eA==\n\n".to_vec(),
            "not an HTTP status line",
        ),
        (
            b"HTTP/1.1 401 \x1b[2Jgotcha\n\n".to_vec(),
            "control character",
        ),
        (
            format!("{st}Www-Authenticate: Basic\n").into_bytes(),
            "truncated",
        ),
    ];
    for (stdin, needle) in &cases {
        refused(&s, url, stdin, needle);
    }
}

#[test]
fn hostile_urls_get_no_output_and_a_clear_error() {
    let s = sandbox();
    for (url, needle) in [
        ("https://h1.corp.test/x\nhttps://evil.test/", "control"),
        ("https://h1.corp.test/x\r\n", "control"),
        ("http://h1.corp.test/x", "not an https:// URL"),
        ("https://H1.corp.test/x", "is not written `h1.corp.test`"),
        (
            "https://h1.corp.test:443/x",
            "is not written `h1.corp.test`",
        ),
        ("https://alice:tokA-111@h1.corp.test/x", "user information"),
        ("https://h1.corp.test/a/../b", "'..'"),
        ("https://h1.corp.test/%2e%2e/x", "percent-encoded"),
        ("https://h1.corp.test./x", "trailing dot"),
    ] {
        refused(&s, url, CHALLENGE, needle);
    }
    // Not covered by any rule: no output, the reason, exit 1 (Go shows it with -x).
    let out = goauth(&s, Some("https://other.test/x?go-get=1"), CHALLENGE);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr_str(&out).contains("no rule covers https://other.test/x"),
        "{}",
        stderr_str(&out)
    );
}
