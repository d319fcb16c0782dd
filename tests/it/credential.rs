//! `gocred get|store|erase` driven as a real process, alone and through real `git credential`.
//! Hostile inputs: one test per row of the table in docs/protocols/git-credential.md ("What gocred
//! accepts"); each asserts that nothing reaches stdout (git's channel) and that stderr says why.
//!
//! It runs on macOS and Windows too (no servers, no shell): the few tests that need Unix file
//! modes or a shell script are Unix only.

use std::process::Output;

use crate::support;
use crate::support::{run_with_stdin, stderr_str, stdout_str, KeyringService, Sandbox};

const TOKEN: &str = "tok_0123456789abcdef";

/// A sandbox with one `env` rule for git.corp.test and the token in CORP_TOKEN.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write_config(
        r#"
[[rule]]
pattern = "git.corp.test"
source = "env"
variable = "CORP_TOKEN"
username = "ci-bot"
"#,
    );
    s
}

fn get(s: &Sandbox, input: &[u8]) -> Output {
    let mut cmd = s.gocred();
    cmd.arg("get")
        .env("CORP_TOKEN", TOKEN)
        .env("GOPRIVATE", "git.corp.test,*.private.test");
    run_with_stdin(&mut cmd, input)
}

fn assert_refused(out: &Output, needle: &str, what: &str) {
    assert_eq!(
        stdout_str(out),
        "",
        "{what}: something reached git's stdout"
    );
    assert!(
        !out.status.success(),
        "{what}: exit status should say it was refused"
    );
    let err = stderr_str(out);
    assert!(
        err.contains(needle),
        "{what}: stderr lacks {needle:?}: {err}"
    );
    assert!(!err.contains(TOKEN), "{what}: the token leaked into stderr");
}

#[test]
fn answers_a_covered_host() {
    let s = sandbox();
    let out = get(&s, b"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.corp.test\nwwwauth[]=Basic realm=\"x\"\n\n");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(
        stdout_str(&out),
        format!("username=ci-bot\npassword={TOKEN}\n")
    );
    // Case and the default port are normalised (hostile input 7).
    for host in ["GIT.Corp.Test", "git.corp.test:443"] {
        let out = get(&s, format!("protocol=https\nhost={host}\n\n").as_bytes());
        assert_eq!(
            stdout_str(&out),
            format!("username=ci-bot\npassword={TOKEN}\n"),
            "{host}"
        );
    }
}

#[test]
fn uncovered_hosts_get_nothing() {
    let s = sandbox();
    for host in [
        "git.corp.test:8443",
        "git.corp.test.evil.com",
        "evilgit.corp.test",
        "corp.test",
        "xn--gt-corp-test.com",
        "a.private.test",
    ] {
        let out = get(&s, format!("protocol=https\nhost={host}\n\n").as_bytes());
        assert!(out.status.success(), "{host}: not ours is not an error");
        assert_eq!(stdout_str(&out), "", "{host}");
    }
}

#[test]
fn private_host_without_rule_hints_what_to_run() {
    let s = sandbox();
    let out = get(&s, b"protocol=https\nhost=a.private.test\n\n");
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("gocred login a.private.test"), "{err}");
    // A public host: silence, git goes on to its next helper.
    let out = get(&s, b"protocol=https\nhost=github.com\n\n");
    assert_eq!(
        (stdout_str(&out), stderr_str(&out)),
        (String::new(), String::new())
    );
}

#[test]
fn duplicate_keys_are_refused() {
    // Hostile input 1.
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=git.corp.test\nhost=evil.example\n\n",
    );
    assert_refused(&out, "`host` appears more than once", "duplicate host");
}

#[test]
fn carriage_return_injection_is_refused() {
    // Hostile input 2 (CVE-2025-23040 shape) and CRLF framing.
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=git.corp.test\nusername=\rprotocol=https\rhost=github.com\r\n\n",
    );
    assert_refused(&out, "carriage return", "CR in username");
    let out = get(&sandbox(), b"protocol=https\r\nhost=git.corp.test\r\n\r\n");
    assert_refused(&out, "carriage return", "CRLF");
}

#[test]
fn lf_split_username_cannot_add_a_host() {
    // Hostile input 3 (Git LFS CVE-2024-53263 shape): the injected lines become duplicates.
    let out = get(
        &sandbox(),
        b"protocol=http\nhost=localhost:13337\nusername=\nhost=git.corp.test\nprotocol=https\n\n",
    );
    assert_refused(&out, "appears more than once", "LF split");
}

#[test]
fn nul_is_refused() {
    // Hostile input 4.
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=git.corp.test\x00.evil.example\n\n",
    );
    assert_refused(&out, "NUL", "NUL in host");
}

#[test]
fn missing_or_empty_host_and_protocol_are_refused() {
    // Hostile input 5 (CVE-2020-11008 shapes).
    for (input, needle) in [
        (&b"protocol=https\nhost=\n\n"[..], "no host"),
        (b"protocol=https\n\n", "no host"),
        (b"host=git.corp.test\n\n", "no protocol"),
        (b"\n", "no protocol"),
    ] {
        assert_refused(
            &get(&sandbox(), input),
            needle,
            &String::from_utf8_lossy(input),
        );
    }
}

#[test]
fn plain_http_needs_an_explicit_opt_in() {
    // Hostile input 6.
    let out = get(&sandbox(), b"protocol=http\nhost=git.corp.test\n\n");
    assert_refused(&out, "not https", "http");
    let s = Sandbox::new();
    s.write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\nallow_http = true\n");
    let out = get(&s, b"protocol=http\nhost=git.corp.test\n\n");
    assert!(
        stdout_str(&out).contains(TOKEN),
        "opted in: {}",
        stderr_str(&out)
    );
}

#[test]
fn look_alike_hosts_are_refused() {
    // Hostile input 7: malformed or confusable forms are refused outright.
    for host in [
        "git.corp.test:",
        "git.corp.test.",
        "gіt.corp.test",
        "ｇｉｔ.corp.test",
        "git.corp.test:0",
        "git.corp.test:99999",
    ] {
        let out = get(
            &sandbox(),
            format!("protocol=https\nhost={host}\n\n").as_bytes(),
        );
        assert_refused(&out, "host:", host);
    }
}

#[test]
fn escape_sequences_in_host_are_refused_and_not_echoed() {
    // Hostile input 8.
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=victim.example.com\x1b[2K\x1b[1Agit.corp.test\n\n",
    );
    assert_refused(&out, "control character", "ANSI");
    assert!(
        !stderr_str(&out).contains('\u{1b}'),
        "ESC echoed to the terminal"
    );
}

#[test]
fn long_header_is_not_split() {
    // Hostile input 9 (t/lib-credential.sh "not confused by long header").
    let input = format!(
        "protocol=https\nhost=badguy.example.com\nwwwauth[]=basic realm={}host=git.corp.test\n\n",
        "a".repeat(1000)
    );
    let out = get(&sandbox(), input.as_bytes());
    assert!(out.status.success());
    assert_eq!(
        stdout_str(&out),
        "",
        "answered for the host hidden in a header"
    );
}

#[test]
fn url_reset_is_refused() {
    // Hostile input 10, both orders.
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=git.corp.test\nurl=https://evil.example/\n\n",
    );
    assert_refused(&out, "url=", "url after fields");
    let out = get(
        &sandbox(),
        b"url=https://evil.example/\nprotocol=https\nhost=git.corp.test\n\n",
    );
    assert_refused(&out, "url=", "url before fields");
}

#[test]
fn oversized_and_invalid_utf8_input_is_refused() {
    // Hostile input 11.
    let long = format!(
        "protocol=https\nhost=git.corp.test\nx={}\n\n",
        "a".repeat(70_000)
    );
    assert_refused(
        &get(&sandbox(), long.as_bytes()),
        "longer than",
        "70 000-byte line",
    );
    let mut huge = b"protocol=https\nhost=git.corp.test\n".to_vec();
    while huge.len() < 10 * 1024 * 1024 {
        huge.extend_from_slice(format!("wwwauth[]={}\n", "b".repeat(1000)).as_bytes());
    }
    assert_refused(
        &get(&sandbox(), &huge),
        "larger than",
        "10 MB without a blank line",
    );
    let out = get(
        &sandbox(),
        b"protocol=https\nhost=git.corp.test\nusername=\xff\xfe\n\n",
    );
    assert_refused(&out, "not valid UTF-8", "invalid UTF-8 username");
}

#[test]
fn path_traversal_is_refused() {
    // Hostile input 12.
    for path in [
        "org/repo/../../other/secret.git",
        "org%2frepo",
        "org/./repo",
        "org//repo",
        "org%2E%2E/x",
    ] {
        let out = get(
            &sandbox(),
            format!("protocol=https\nhost=git.corp.test\npath={path}\n\n").as_bytes(),
        );
        assert_refused(&out, "path:", path);
    }
}

#[test]
fn caller_supplied_credential_and_foreign_state_are_ignored() {
    // Hostile inputs 13 and 14: input data, not instructions.
    let out = get(
        &sandbox(),
        b"capability[]=authtype\nauthtype=Bearer\ncredential=attacker\nstate[]=otherhelper:x\nprotocol=https\nhost=git.corp.test\n\n",
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(
        stdout_str(&out),
        format!("username=ci-bot\npassword={TOKEN}\n")
    );
}

#[test]
fn token_that_would_break_framing_is_never_printed() {
    let s = sandbox();
    let mut cmd = s.gocred();
    cmd.arg("get").env("CORP_TOKEN", "abc\nhost=evil.example");
    let out = run_with_stdin(&mut cmd, b"protocol=https\nhost=git.corp.test\n\n");
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("$CORP_TOKEN is unusable"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn missing_variable_says_what_to_do() {
    let s = sandbox();
    let mut cmd = s.gocred();
    cmd.arg("get");
    let out = run_with_stdin(&mut cmd, b"protocol=https\nhost=git.corp.test\n\n");
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(
        err.contains("$CORP_TOKEN is not set") && err.contains("hint: export CORP_TOKEN"),
        "{err}"
    );
}

#[test]
fn broken_config_is_a_clear_error() {
    let s = Sandbox::new();
    s.write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvarible = \"X\"\n");
    let out = get(&s, b"protocol=https\nhost=git.corp.test\n\n");
    assert_refused(&out, "line 4", "unknown key");
    assert!(stderr_str(&out).contains("varible"));
    s.write_config("[[rule]\npattern = ");
    assert_refused(
        &get(&s, b"protocol=https\nhost=git.corp.test\n\n"),
        "config",
        "syntax error",
    );
    // A config others can write could add a command rule: refused (Unix: Windows has no mode
    // bits to check, see docs/trust.md).
    #[cfg(unix)]
    config_writable_by_others_is_refused(&s);
}

#[cfg(unix)]
fn config_writable_by_others_is_refused(s: &Sandbox) {
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&s.config_path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_refused(
        &get(s, b"protocol=https\nhost=git.corp.test\n\n"),
        "writable by group or others",
        "0666 config",
    );
}

#[test]
fn unknown_operations_are_ignored_silently() {
    let s = sandbox();
    for op in ["capability", "frobnicate"] {
        let mut cmd = s.gocred();
        cmd.arg(op);
        let out = run_with_stdin(&mut cmd, b"protocol=https\nhost=git.corp.test\n\n");
        assert!(out.status.success(), "{op}: {}", stderr_str(&out));
        assert_eq!(stdout_str(&out), "", "{op}");
    }
}

#[test]
fn several_owners_without_path_answer_nothing_and_say_why() {
    let s = Sandbox::new();
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test/acme/*\"\nsource = \"env\"\nvariable = \"A\"\n\
         [[rule]]\npattern = \"git.corp.test/other/*\"\nsource = \"env\"\nvariable = \"B\"\n",
    );
    let run = |input: &[u8]| {
        let mut cmd = s.gocred();
        cmd.arg("get").env("A", "token-a").env("B", "token-b");
        run_with_stdin(&mut cmd, input)
    };
    let out = run(b"protocol=https\nhost=git.corp.test\n\n");
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("useHttpPath true"),
        "{}",
        stderr_str(&out)
    );
    let out = run(b"protocol=https\nhost=git.corp.test\npath=other/lib.git\n\n");
    assert_eq!(
        stdout_str(&out),
        "username=x-access-token\npassword=token-b\n"
    );
    let out = run(b"protocol=https\nhost=git.corp.test\npath=acme/lib.git\n\n");
    assert_eq!(
        stdout_str(&out),
        "username=x-access-token\npassword=token-a\n"
    );
}

#[test]
#[cfg(unix)]
fn command_source_success_failure_and_timeout() {
    let s = Sandbox::new();
    let script = s.path("token.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$MODE\" in\n ok) echo \"tok-for-$GOCRED_HOST\" ;;\n json) echo '{\"token\":\"jtok\",\"expires_at\":\"2099-01-01T00:00:00Z\",\"username\":\"bot\"}' ;;\n fail) echo 'secret-ish output'; echo 'oops secret' >&2; exit 3 ;;\n slow) sleep 30 ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"command\"\ncommand = [\"{}\"]\ntimeout_secs = 1\n",
        script.display()
    ));
    let run = |mode: &str| {
        let mut cmd = s.gocred();
        cmd.arg("get").env("MODE", mode);
        run_with_stdin(&mut cmd, b"protocol=https\nhost=git.corp.test\n\n")
    };
    assert_eq!(
        stdout_str(&run("ok")),
        "username=x-access-token\npassword=tok-for-git.corp.test\n"
    );
    assert_eq!(
        stdout_str(&run("json")),
        "username=bot\npassword=jtok\npassword_expiry_utc=4070908800\n"
    );
    let out = run("fail");
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(
        err.contains("token.sh") && err.contains("exit status 3"),
        "{err}"
    );
    assert!(
        !err.contains("secret-ish") && !err.contains("oops"),
        "command output leaked: {err}"
    );
    let started = std::time::Instant::now();
    let out = run("slow");
    assert!(
        stderr_str(&out).contains("did not finish within 1 s"),
        "{}",
        stderr_str(&out)
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the command was not killed"
    );
}

// ---- through real git ----

fn git_fill(s: &Sandbox, helper: &str, url: &str) -> Output {
    let mut cmd = s.git();
    cmd.args([
        "-c",
        &format!("credential.helper={helper}"),
        "credential",
        "fill",
    ])
    .env("CORP_TOKEN", TOKEN)
    .env("GOPRIVATE", "git.corp.test");
    run_with_stdin(&mut cmd, format!("url={url}\n\n").as_bytes())
}

#[test]
fn real_git_uses_gocred_by_name_and_by_absolute_path() {
    let s = sandbox();
    let abs = support::gocred_bin().display().to_string();
    for helper in ["gocred", abs.as_str()] {
        let out = git_fill(&s, helper, "https://git.corp.test/team/lib.git");
        assert!(out.status.success(), "{helper}: {}", stderr_str(&out));
        let o = stdout_str(&out);
        assert!(
            o.contains("username=ci-bot\n") && o.contains(&format!("password={TOKEN}\n")),
            "{helper}: {o}"
        );
    }
}

#[test]
fn real_git_hostile_urls_get_no_credential() {
    let s = sandbox();
    for url in [
        "https://one.example.com?%0ahost=git.corp.test/",
        "https://example%0d.com/",
        "https:///path",
        "https://@/x",
        "https://exa%1bmple.com/x",
        "https://git.corp.test@evil.example/",
        "https://git.corp.test%2f@evil.example/",
    ] {
        let out = git_fill(&s, "gocred", url);
        assert!(
            !stdout_str(&out).contains(TOKEN),
            "{url}: token released: {}",
            stdout_str(&out)
        );
    }
}

#[test]
fn keyring_secret_is_never_taken_from_argv() {
    // `login` has no flag for the secret: passing one is a usage error, and nothing is stored.
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-argv");
    let mut cmd = s.gocred();
    cmd.args(["login", "git.corp.test", "--token", "abc"])
        .env("GOCRED_KEYRING_SERVICE", &svc);
    let out = run_with_stdin(&mut cmd, b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_str(&out));
    assert!(!s.config_path.exists());
}

/// `ci exec` needs Unix sockets, signals and process groups: on Windows it says so, runs
/// nothing and writes nothing.
#[test]
#[cfg(windows)]
fn ci_exec_is_refused_on_windows() {
    let s = sandbox();
    let mut cmd = s.gocred();
    cmd.args(["ci", "exec", "--"])
        .arg(support::gocred_bin())
        .arg("--version")
        .env("GOPRIVATE", "git.corp.test")
        .env("CORP_TOKEN", TOKEN);
    let out = run_with_stdin(&mut cmd, b"");
    assert!(!out.status.success());
    // CMD (`gocred --version`) would have printed its version.
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(err.contains("not available on Windows"), "{err}");
    assert!(err.contains("gocred ci netrc"), "{err}");
    assert!(!s.home.join(".netrc").exists() && !s.home.join("_netrc").exists());
}
