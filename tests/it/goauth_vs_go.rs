//! GOAUTH conformance: the real `gocred goauth` binary, judged by Go's own parser.
//!
//! Every answer is fed to `parseUserAuth` + `storeCredential`/`loadCredential` copied verbatim
//! from GOROOT (support::GoUserAuth): Go must accept it whole, cache exactly the expected
//! prefixes, and attach the expected header to each request URL — and nothing to the URLs that
//! must get nothing. Hostile stdin and hostile URLs must give no output, a clear error and a
//! non-zero exit, with no secret on stderr (Go logs it with `-x`).

use std::process::Output;

use crate::support::{run_with_stdin, stderr_str, GoParse, GoUserAuth, Sandbox};

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

/// A path rule before its host's rule: `team/lib` first, the host second. Go's lookup for the
/// go-get page of `team/lib` cuts at the last `/` and must still land on `team/lib`'s token.
#[test]
fn a_nested_rule_keeps_its_go_get_page_and_git_url() {
    let s = Sandbox::new();
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test/team/lib\"\nsource = \"env\"\nvariable = \"TOK_A\"\n\
         username = \"alice\"\n\n[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\n\
         variable = \"TOK_D\"\nusername = \"dave\"\n",
    );
    let go = conforms(
        &s,
        None,
        &[
            (
                "https://git.corp.test/team/lib?go-get=1",
                Want::Basic("alice", "TOK_A"),
            ),
            (
                "https://git.corp.test/team/lib/sub?go-get=1",
                Want::Basic("alice", "TOK_A"),
            ),
            (
                "https://git.corp.test/team/lib/@v/list",
                Want::Basic("alice", "TOK_A"),
            ),
            (
                "https://git.corp.test/team/lib.git/info/refs?service=git-upload-pack",
                Want::Basic("alice", "TOK_A"),
            ),
            (
                "https://git.corp.test/team?go-get=1",
                Want::Basic("dave", "TOK_D"),
            ),
            (
                "https://git.corp.test/team/other?go-get=1",
                Want::Basic("dave", "TOK_D"),
            ),
            (
                "https://git.corp.test/team/libx?go-get=1",
                Want::Basic("dave", "TOK_D"),
            ),
        ],
    );
    assert!(
        go.creds.contains_key("git.corp.test/team/lib?go-get=1"),
        "{go:?}"
    );
}

/// A tiny deterministic generator (splitmix64): the same layouts on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const ELEMS: &[&str] = &["team", "lib", "acme", "sub", "git.corp.test"];

/// One generated rule and what it hands out.
struct GenRule {
    pattern: String,
    toml: String,
    /// `(username, token, bearer)`; `None`: ssh, or its variable is unset (the source fails).
    cred: Option<(String, String, bool)>,
    /// The environment variable that holds the token.
    var: String,
}

fn gen_rule(g: &mut Gen, i: usize) -> GenRule {
    let host = match g.below(20) {
        0..=9 => "git.corp.test",
        10..=12 => "proxy.corp.test",
        13..=14 => "h2.corp.test:8443",
        15..=17 => "*.corp.test",
        _ => "a.corp.test",
    };
    let e1 = g.pick(ELEMS);
    let e2 = g.pick(ELEMS);
    let e3 = g.pick(ELEMS);
    let path = match g.below(20) {
        0..=4 => String::new(),
        5..=8 => e1.to_string(),
        9..=11 => format!("{e1}/{e2}"),
        12 => format!("{e1}/{e2}/{e3}"),
        13..=15 => format!("{e1}/*"),
        16 => format!("*/{e1}"),
        17 => format!("{e1}/lib-*"),
        18 => format!("{e1}/*/{e2}"),
        _ => format!("{e1}.git"),
    };
    let pattern = match path.is_empty() {
        true => host.to_string(),
        false => format!("{host}/{path}"),
    };
    let user = format!("u{i}");
    let token = format!("gentoken-{i}-secret");
    let bearer = g.below(5) == 0;
    let auth = if bearer { "auth = \"bearer\"\n" } else { "" };
    match g.below(20) {
        0 => GenRule {
            toml: format!("[[rule]]\npattern = \"{pattern}\"\ntransport = \"ssh\"\n\n"),
            pattern,
            cred: None,
            var: String::new(),
        },
        1..=2 => GenRule {
            toml: format!(
                "[[rule]]\npattern = \"{pattern}\"\nsource = \"env\"\nvariable = \"UNSET_{i}\"\n\
                 username = \"{user}\"\n{auth}\n"
            ),
            pattern,
            cred: None,
            var: String::new(),
        },
        _ => GenRule {
            toml: format!(
                "[[rule]]\npattern = \"{pattern}\"\nsource = \"env\"\nvariable = \"GT_{i}\"\n\
                 username = \"{user}\"\n{auth}\n"
            ),
            pattern,
            cred: Some((user, token, bearer)),
            var: format!("GT_{i}"),
        },
    }
}

/// URLs Go requests around the rules: go-get pages of each module path and its parents, the
/// module's files on a proxy, the module's own repository URL, on every host the rules name
/// (wildcard hosts by two of their names) and one no rule names.
fn gen_urls(g: &mut Gen, rules: &[GenRule]) -> Vec<String> {
    let hosts = [
        "git.corp.test",
        "proxy.corp.test",
        "h2.corp.test:8443",
        "a.corp.test",
        "evil.corp.test",
        "other.test",
    ];
    let mut paths: Vec<String> = Vec::new();
    for r in rules {
        let lead: Vec<&str> = r
            .pattern
            .split('/')
            .skip(1)
            .take_while(|e| !e.contains(['*', '?', '[']))
            .collect();
        for l in 0..=lead.len() {
            paths.push(lead[..l].join("/"));
        }
    }
    for _ in 0..6 {
        let n = g.below(4);
        let elems: Vec<&str> = (0..n)
            .map(|_| g.pick(&[ELEMS, &["other", "lib-x", "lib.git"]].concat()))
            .collect();
        paths.push(elems.join("/"));
    }
    paths.sort();
    paths.dedup();
    let mut urls = Vec::new();
    for host in hosts {
        for p in &paths {
            let m = if p.is_empty() {
                host.to_string()
            } else {
                format!("{host}/{p}")
            };
            if !p.is_empty() {
                urls.push(format!("https://{m}?go-get=1"));
                urls.push(format!("https://{m}.git/info/refs?service=git-upload-pack"));
            }
            urls.push(format!("https://{m}/@v/list"));
            urls.push(format!("https://{m}/@latest"));
            if !host.contains(':') && !p.is_empty() {
                urls.push(format!("https://proxy.corp.test/{m}/@v/v1.0.0.zip"));
                urls.push(format!("https://h2.corp.test:8443/{m}/@v/v1.0.0.info"));
            }
        }
    }
    urls.sort();
    urls.dedup();
    urls
}

/// The credential `get` (first match, `Rules::select`) hands out for `url`, as Go would see
/// it: `Basic user:token` decoded, or `Bearer token`. `None`: no rule, or the rule has none.
fn first_match_cred(rules: &gocred::rules::Rules, gen: &[GenRule], url: &str) -> Option<String> {
    use gocred::protocol::{Origin, Scheme};
    let rest = url.strip_prefix("https://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let origin = Origin::parse(Scheme::Https, &rest[..end]).unwrap();
    let path = rest[end..].split('?').next().unwrap().trim_matches('/');
    let gocred::rules::Selection::Rule(rule) = rules.select(&origin, Some(path)) else {
        return None;
    };
    let i = rules
        .rules
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .unwrap();
    let (user, token, bearer) = gen[i].cred.as_ref()?;
    Some(match bearer {
        true => format!("Bearer {token}"),
        false => format!("Basic {user}:{token}"),
    })
}

fn go_cred(go: &GoParse, url: &str) -> Option<String> {
    let auth = go.authorization_for(url)?;
    Some(match auth.strip_prefix("Bearer ") {
        Some(_) => auth.to_string(),
        None => format!(
            "Basic {}",
            go.basic.get(url).expect("a Basic header decodes")
        ),
    })
}

/// Path and host rules in general: on generated layouts (nested paths, host-wide and wildcard hosts,
/// owner prefixes, glob elements, several owners per host, a proxy host, ssh rules and rules
/// whose source fails), Go's own lookup over `gocred goauth`'s answer attaches to every URL Go
/// requests either nothing or exactly the credential `get` would give — after the first call,
/// and again after a retry call for a URL that got nothing.
#[test]
fn generated_layouts_go_never_attaches_another_rules_token() {
    const LAYOUTS: usize = 300;
    let mut g = Gen(0x6f63_7265_6467_6f61);
    let (mut checked, mut credentialed, mut answered, mut retried) =
        (0usize, 0usize, 0usize, 0usize);
    let mut diffs: Vec<String> = Vec::new();
    let s = Sandbox::new();
    for layout in 0..LAYOUTS {
        let n = 2 + g.below(5);
        let mut gen: Vec<GenRule> = Vec::new();
        for i in 0..n {
            let r = gen_rule(&mut g, i);
            if gen.iter().all(|o| o.pattern != r.pattern) {
                gen.push(r);
            }
        }
        let toml: String = gen.iter().map(|r| r.toml.as_str()).collect();
        let file = gocred::config::parse(std::path::Path::new("c.toml"), &toml)
            .unwrap_or_else(|e| panic!("{toml}: {e}"));
        let rules = gocred::rules::Rules::compile(std::path::Path::new("c.toml"), &file, &toml)
            .unwrap_or_else(|e| panic!("{toml}: {e}"));
        s.write_config(&toml);
        let env: Vec<(String, String)> = gen
            .iter()
            .filter_map(|r| r.cred.as_ref().map(|(_, t, _)| (r.var.clone(), t.clone())))
            .collect();
        let run = |url: Option<&str>| {
            let mut c = s.gocred();
            c.arg("goauth")
                .args(url)
                .envs(env.iter().map(|(k, v)| (k, v)));
            run_with_stdin(&mut c, if url.is_some() { CHALLENGE } else { b"" })
        };
        let urls = gen_urls(&mut g, &gen);
        let url_refs: Vec<&str> = urls.iter().map(String::as_str).collect();
        let first = run(None);
        let mut output = first.stdout.clone();
        let go = GoUserAuth::get().check(&output, &url_refs);
        assert_eq!(go.error, None, "{toml}");
        let compare = |go: &GoParse, when: &str, diffs: &mut Vec<String>| {
            let mut missing = Vec::new();
            for u in &urls {
                let want = first_match_cred(&rules, &gen, u);
                match go_cred(go, u) {
                    None => {
                        if want.is_some() {
                            missing.push(u.clone());
                        }
                    }
                    Some(got) if Some(&got) == want.as_ref() => {}
                    Some(got) => diffs.push(format!(
                        "layout {layout} ({when}):\n{toml}URL {u}: Go sends {got}, get gives {want:?}"
                    )),
                }
            }
            missing
        };
        let missing = compare(&go, "first call", &mut diffs);
        checked += urls.len();
        credentialed += urls
            .iter()
            .filter(|u| first_match_cred(&rules, &gen, u).is_some())
            .count();
        answered += urls.len()
            - missing.len()
            - urls
                .iter()
                .filter(|u| first_match_cred(&rules, &gen, u).is_none())
                .count();
        // Go retries with the URL after a 4xx: the answer is added to its cache.
        for u in missing.iter().take(2) {
            let out = run(Some(u));
            assert!(out.status.success(), "{toml}{u}: {}", stderr_str(&out));
            output.extend_from_slice(&out.stdout);
            let go = GoUserAuth::get().check(&output, &url_refs);
            assert_eq!(go.error, None, "{toml}{u}");
            let still = compare(&go, &format!("after the retry for {u}"), &mut diffs);
            assert!(
                !still.contains(u),
                "{toml}the retry for {u} did not answer it"
            );
            retried += 1;
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(5)].join("\n\n")
    );
    // The answer is not trivially empty: most URLs with a credential get it up front.
    assert!(
        answered * 5 > credentialed * 2,
        "{answered} of {credentialed} answered up front"
    );
    assert!(retried > LAYOUTS / 2, "{retried} retries");
    assert!(
        checked > 10 * LAYOUTS,
        "{checked} URLs checked, {answered}/{credentialed} answered up front, {retried} retries"
    );
}
