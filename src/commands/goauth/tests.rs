//! In-process tests of `gocred goauth` with `env` sources (no keyring, no process).

use super::*;

struct Run {
    result: Result<()>,
    out: String,
    err: String,
}

fn goauth(config: &str, env: &[(&str, &str)], url: Option<&str>, stdin: Option<&[u8]>) -> Run {
    let (_d, s) = Settings::for_test(config, env);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = GoauthArgs {
        url: url.map(str::to_string),
    };
    let result = run(args, stdin, &mut out, &mut err, || Ok(s));
    Run {
        result,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn env_rule(pattern: &str, var: &str, extra: &str) -> String {
    format!(
        "[[rule]]\npattern = \"{pattern}\"\nsource = \"env\"\nvariable = \"{var}\"\nusername = \"u\"\n{extra}"
    )
}

/// `Authorization: Basic base64("u:" + token)`.
fn basic(token: &str) -> String {
    let value = crate::secret::basic_auth("u", &crate::secret::secret(token.into()));
    format!(
        "Authorization: {}",
        secrecy::ExposeSecret::expose_secret(&value)
    )
}

const CHALLENGE: &[u8] = b"HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm=\"x\"\n\n";

#[test]
fn first_call_answers_every_concrete_host() {
    let config = env_rule("git.corp.test", "A", "")
        + &env_rule("proxy.corp.test:8443", "B", "auth = \"bearer\"\n");
    let r = goauth(&config, &[("A", "tokA"), ("B", "tokB")], None, None);
    r.result.unwrap();
    assert_eq!(
        r.out,
        format!(
            "https://git.corp.test/\n\n{}\n\nhttps://proxy.corp.test:8443/\n\nAuthorization: Bearer tokB\n\n",
            basic("tokA")
        )
    );
}

#[test]
fn a_failing_source_skips_only_its_host() {
    let config = env_rule("a.corp.test", "MISSING", "")
        + &env_rule("b.corp.test", "B", "")
        + &env_rule("c.corp.test", "BAD", "");
    let r = goauth(&config, &[("B", "tokB"), ("BAD", "x\ry")], None, None);
    r.result.unwrap();
    assert_eq!(
        r.out,
        format!("https://b.corp.test/\n\n{}\n\n", basic("tokB"))
    );
    assert!(
        r.err.contains("skipping https://a.corp.test/") && r.err.contains("$MISSING is not set"),
        "{}",
        r.err
    );
    assert!(r.err.contains("skipping https://c.corp.test/"), "{}", r.err);
    assert!(
        !r.err.contains("tokB") && !r.err.contains("x\ry"),
        "{}",
        r.err
    );
    // Nothing servable at all: no output, an error.
    let r = goauth(&env_rule("a.corp.test", "MISSING", ""), &[], None, None);
    assert!(r.result.is_err());
    assert_eq!(r.out, "");
}

#[test]
fn owner_prefixes_follow_first_match() {
    let config = env_rule("h.test/acme/*", "A", "") + &env_rule("h.test", "B", "");
    let r = goauth(&config, &[("A", "a"), ("B", "b")], None, None);
    assert_eq!(
        r.out,
        format!(
            "https://h.test/acme/\n\n{}\n\nhttps://h.test/\n\n{}\n\n",
            basic("a"),
            basic("b")
        )
    );
    // The owner's source fails: the host-wide prefix would give Go B's token for acme.
    let r = goauth(&config, &[("B", "b")], None, None);
    assert_eq!(r.out, "");
    assert!(
        r.err
            .contains("with https://h.test/acme/@v/list, where `get` picks the rule at line 1"),
        "{}",
        r.err
    );
    // Host rule first: it wins everything; the owner rule is not answered.
    let config = env_rule("h.test", "B", "") + &env_rule("h.test/acme/*", "A", "");
    let r = goauth(&config, &[("A", "a"), ("B", "b")], None, None);
    assert_eq!(r.out, format!("https://h.test/\n\n{}\n\n", basic("b")));
}

#[test]
fn wildcards_and_globs_wait_for_the_retry() {
    let config = env_rule("*.corp.test", "W", "") + &env_rule("h.test/lib-*", "G", "");
    let r = goauth(&config, &[("W", "w"), ("G", "g")], None, None);
    r.result.unwrap();
    assert_eq!(r.out, "");
    assert!(
        r.err.contains("wildcard host") && r.err.contains("path glob"),
        "{}",
        r.err
    );

    let url = "https://proxy.corp.test/git.corp.test/team/lib/@v/list";
    let r = goauth(
        &config,
        &[("W", "w"), ("G", "g")],
        Some(url),
        Some(CHALLENGE),
    );
    r.result.unwrap();
    assert_eq!(
        r.out,
        format!("https://proxy.corp.test/\n\n{}\n\n", basic("w"))
    );

    let url = "https://h.test/lib-x?go-get=1";
    let r = goauth(
        &config,
        &[("W", "w"), ("G", "g")],
        Some(url),
        Some(CHALLENGE),
    );
    assert_eq!(r.out, format!("{url}\n\n{}\n\n", basic("g")));
    let r = goauth(
        &config,
        &[("W", "w"), ("G", "g")],
        Some("https://h.test/other?go-get=1"),
        Some(CHALLENGE),
    );
    assert!(r
        .result
        .unwrap_err()
        .to_string()
        .contains("no rule covers https://h.test/other"));
    assert_eq!(r.out, "");
}

#[test]
fn retry_prefixes() {
    let config = env_rule("h.test/team/lib", "L", "") + &env_rule("h.test/acme/*", "A", "");
    let env = [("L", "l"), ("A", "a")];
    // The query sticks to the last element: the exact URL answers it, the prefix what is under.
    let r = goauth(
        &config,
        &env,
        Some("https://h.test/team/lib?go-get=1"),
        Some(CHALLENGE),
    );
    assert_eq!(
        r.out,
        format!(
            "https://h.test/team/lib/\nhttps://h.test/team/lib?go-get=1\n\
             https://h.test/team/lib.git/\nhttps://h.test/team/lib.git?go-get=1\n\n{}\n\n",
            basic("l")
        )
    );
    let r = goauth(
        &config,
        &env,
        Some("https://h.test/acme/x/y?go-get=1"),
        None,
    );
    assert_eq!(r.out, format!("https://h.test/acme/\n\n{}\n\n", basic("a")));
    // A path-scoped rule never answers the host root.
    let r = goauth(&config, &env, Some("https://h.test/"), None);
    assert!(r.result.is_err() && r.out.is_empty());
}

#[test]
fn hostile_retry_input_answers_nothing_and_reads_no_settings() {
    for (url, stdin) in [
        (
            "https://git.corp.test/team/lib?go-get=1",
            &b"HTTP/1.1 401 x\n\nhttps://evil.test/\n\nAuthorization: Basic eA==\n\n"[..],
        ),
        (
            "https://git.corp.test/team/lib?go-get=1",
            &b"HTTP/1.1 401 x\r\n\r\n"[..],
        ),
        (
            "https://git.corp.test/team/lib?go-get=1",
            &b"HTTP/1.1 401 x\nX: \0\n\n"[..],
        ),
        ("https://git.corp.test/x\nhttps://evil.test/", CHALLENGE),
        ("https://user:pw@git.corp.test/x", CHALLENGE),
        ("http://git.corp.test/x", CHALLENGE),
    ] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = GoauthArgs {
            url: Some(url.into()),
        };
        let r = run(
            args,
            Some(stdin),
            &mut out,
            &mut err,
            || -> Result<Settings> { panic!("settings loaded for a refused request") },
        );
        let e = r.unwrap_err().to_string();
        assert!(e.starts_with("goauth: refused:"), "{e}");
        assert!(!e.contains("pw@"), "{e}");
        assert!(out.is_empty());
    }
}

#[test]
fn goinsecure_hosts_get_nothing() {
    let config = env_rule("git.corp.test", "A", "") + &env_rule("proxy.corp.test", "B", "");
    let env = [
        ("A", "a"),
        ("B", "b"),
        ("GOINSECURE", "git.corp.test/legacy"),
    ];
    let r = goauth(&config, &env, None, None);
    assert_eq!(
        r.out,
        format!("https://proxy.corp.test/\n\n{}\n\n", basic("b"))
    );
    assert!(
        r.err.contains("GOINSECURE pattern `git.corp.test/legacy`"),
        "{}",
        r.err
    );
    let r = goauth(
        &config,
        &env,
        Some("https://git.corp.test/team/lib?go-get=1"),
        Some(CHALLENGE),
    );
    assert!(r.result.unwrap_err().to_string().contains("GOINSECURE"));
    assert_eq!(r.out, "");
}

#[test]
fn ssh_rules_and_bad_usernames_are_skipped() {
    let config = "[[rule]]\npattern = \"ssh.test\"\ntransport = \"ssh\"\n".to_string()
        + &env_rule("ssh.test", "S", "")
        + "[[rule]]\npattern = \"colon.test\"\nsource = \"env\"\nvariable = \"C\"\nusername = \"a:b\"\n"
        + &env_rule("ok.test", "O", "");
    let r = goauth(&config, &[("S", "s"), ("C", "c"), ("O", "o")], None, None);
    r.result.unwrap();
    assert_eq!(r.out, format!("https://ok.test/\n\n{}\n\n", basic("o")));
    assert!(
        r.err.contains("uses ssh") && r.err.contains("where `get` picks the rule at line 1"),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("skipping https://colon.test/") && r.err.contains("without ':'"),
        "{}",
        r.err
    );
}
