//! Proves the shared test harness (`tests/it/support`) works for real: git and go against the
//! HTTPS git server through the CONNECT proxy, the private Secret Service, kernel keyutils,
//! and that every server process is gone once its owner is dropped.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::process::Command;

use crate::support;
use crate::support::{
    assert_success, group_alive, inline_credential_helper, keyctl, run_ok, stderr_str, stdout_str,
    unique_name, GitServer, KeyringService, Sandbox, SecretService,
};

fn ls_remote(sb: &Sandbox, server: &GitServer, helper: &str, url: &str) -> std::process::Output {
    let mut cmd = sb.git();
    cmd.args([
        "-c",
        &format!("credential.helper={helper}"),
        "ls-remote",
        url,
    ]);
    server.apply(&mut cmd);
    cmd.output().expect("running git ls-remote")
}

#[test]
fn git_ls_remote_through_proxy_with_basic_auth() {
    let server = GitServer::start(&[("u", "p")]);
    let sb = Sandbox::new();
    let url = "https://git.corp.test/team/lib.git";

    let ok = ls_remote(&sb, &server, &inline_credential_helper("u", "p"), url);
    assert_success(&ok, "git ls-remote with the right password");
    let refs = stdout_str(&ok);
    assert!(refs.contains("refs/tags/v1.0.0"), "refs: {refs}");
    assert!(refs.contains("refs/heads/main"), "refs: {refs}");

    let bad = ls_remote(&sb, &server, &inline_credential_helper("u", "wrong"), url);
    assert!(!bad.status.success(), "wrong password accepted");
    assert!(
        stderr_str(&bad).contains("Authentication failed"),
        "stderr: {}",
        stderr_str(&bad)
    );

    let log = server.access_entries();
    assert!(
        log.iter().any(|e| e.status == 200
            && e.uri == "/team/lib.git/info/refs?service=git-upload-pack"
            && e.user.as_deref() == Some("u")
            && e.user_agent.starts_with("git/")
            && e.host == "git.corp.test"),
        "access log:\n{}",
        server.access_log()
    );
    assert!(
        log.iter().any(|e| e.status == 401 && e.user.is_none()),
        "git's first request should be a 401:\n{}",
        server.access_log()
    );
    assert!(
        server
            .proxy_log()
            .iter()
            .any(|l| l.starts_with("CONNECT git.corp.test:443 ") && l.ends_with("-> 200")),
        "proxy log: {:?}",
        server.proxy_log()
    );

    // set_users takes effect at once (nginx reads htpasswd per request).
    server.set_users(&[("v", "q")]);
    let old = ls_remote(&sb, &server, &inline_credential_helper("u", "p"), url);
    assert!(!old.status.success(), "removed user still accepted");
    let new = ls_remote(&sb, &server, &inline_credential_helper("v", "q"), url);
    assert_success(&new, "git ls-remote as the new user");
}

#[test]
fn proxy_refuses_other_targets() {
    use std::io::{Read, Write};
    let server = GitServer::start(&[]);
    let addr = server.proxy_url().trim_start_matches("http://").to_string();
    for target in ["example.com:443", "git.corp.test:80", "corp.test:443"] {
        let mut s = std::net::TcpStream::connect(&addr).expect("connecting to proxy");
        write!(s, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{target}: {reply:?}");
    }
}

/// A consumer module requiring `git.corp.test/<ns>/lib v1.0.0`.
fn consumer(sb: &Sandbox, ns: &str) -> std::path::PathBuf {
    let dir = sb.path(&format!("consumer-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        format!(
            "module example.com/consumer\n\ngo 1.21\n\nrequire git.corp.test/{ns}/lib v1.0.0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("main.go"),
        format!(
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"git.corp.test/{ns}/lib\"\n)\n\n\
             func main() {{ fmt.Println(lib.Hello()) }}\n"
        ),
    )
    .unwrap();
    dir
}

fn go_in(sb: &Sandbox, server: &GitServer, dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = sb.go();
    cmd.args(args)
        .current_dir(dir)
        .env("GOPRIVATE", "git.corp.test");
    server.apply(&mut cmd);
    cmd
}

#[test]
fn go_mod_download_open_go_get_page_and_git_helper() {
    let server = GitServer::start(&[("helperuser", "helperpw")]);
    let sb = Sandbox::new();
    sb.git_config(
        "credential.helper",
        &inline_credential_helper("helperuser", "helperpw"),
    );

    let lax = consumer(&sb, "lax");
    run_ok(&mut go_in(
        &sb,
        &server,
        &lax,
        &["mod", "download", "git.corp.test/lax/lib@v1.0.0"],
    ));
    run_ok(&mut go_in(
        &sb,
        &server,
        &lax,
        &["build", "-o", "consumer", "."],
    ));
    let out = run_ok(&mut sb.command(lax.join("consumer")));
    assert_eq!(stdout_str(&out), "hello from lax\n");

    let log = server.access_entries();
    assert!(
        log.iter()
            .any(|e| e.status == 200 && e.uri == "/lax/lib?go-get=1" && e.user.is_none()),
        "open go-get page:\n{}",
        server.access_log()
    );
    assert!(
        log.iter().any(|e| e.status == 200
            && e.uri.starts_with("/lax/lib.git/")
            && e.user.as_deref() == Some("helperuser")),
        "git with helper credentials:\n{}",
        server.access_log()
    );

    // team's go-get page needs auth and Go does not use git helpers for it (gotcha 1).
    let team = consumer(&sb, "team");
    let fail = go_in(
        &sb,
        &server,
        &team,
        &["mod", "download", "git.corp.test/team/lib@v1.0.0"],
    )
    .output()
    .unwrap();
    assert!(
        !fail.status.success(),
        "team go-get page without Go-side creds"
    );
    assert!(
        stderr_str(&fail).contains("401 Unauthorized"),
        "stderr: {}",
        stderr_str(&fail)
    );

    // GOAUTH="git $HOME" lets the same helper serve Go's own requests, checked with HEAD /.
    let mut cmd = go_in(
        &sb,
        &server,
        &team,
        &["mod", "download", "git.corp.test/team/lib@v1.0.0"],
    );
    cmd.env("GOAUTH", format!("git {}", sb.home.display()));
    run_ok(&mut cmd);
    let log = server.access_entries();
    assert!(
        log.iter().any(|e| e.status == 200
            && e.uri == "/team/lib?go-get=1"
            && e.user.as_deref() == Some("helperuser")),
        "team go-get page with GOAUTH=git:\n{}",
        server.access_log()
    );
}

#[test]
fn add_module_new_version_and_subpackage() {
    let server = GitServer::start(&[("u", "p")]);
    let sb = Sandbox::new();
    sb.git_config("credential.helper", &inline_credential_helper("u", "p"));
    server.add_module(
        "lax",
        "lib",
        "v1.1.0",
        &[
            (
                "lib.go",
                "package lib\n\nfunc Hello() string { return \"v1.1\" }\n",
            ),
            ("sub/sub.go", "package sub\n\nconst X = 1\n"),
        ],
    );
    let mut cmd = sb.git();
    cmd.args(["ls-remote", "--tags", "https://git.corp.test/lax/lib.git"]);
    server.apply(&mut cmd);
    let tags = stdout_str(&run_ok(&mut cmd));
    assert!(
        tags.contains("refs/tags/v1.0.0") && tags.contains("refs/tags/v1.1.0"),
        "{tags}"
    );

    let dir = sb.path("m");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/m\n\ngo 1.21\n").unwrap();
    let out = run_ok(&mut go_in(
        &sb,
        &server,
        &dir,
        &["list", "-m", "-versions", "git.corp.test/lax/lib"],
    ));
    assert_eq!(
        stdout_str(&out).trim(),
        "git.corp.test/lax/lib v1.0.0 v1.1.0"
    );
    // A package path below the module finds the module through its go-get page.
    run_ok(&mut go_in(
        &sb,
        &server,
        &dir,
        &["mod", "download", "-json", "git.corp.test/lax/lib@v1.1.0"],
    ));
    let out = run_ok(&mut go_in(
        &sb,
        &server,
        &dir,
        &["get", "git.corp.test/lax/lib/sub@v1.1.0"],
    ));
    drop(out);
    let go_mod = std::fs::read_to_string(dir.join("go.mod")).unwrap();
    assert!(go_mod.contains("git.corp.test/lax/lib v1.1.0"), "{go_mod}");
}

#[test]
fn secret_service_store_lookup_lock() {
    let ss = SecretService::start();
    let sb = Sandbox::new();
    let user = unique_name("alice");

    ss.secret_tool_store(
        "gocred smoke",
        &[("service", "gocred-test"), ("user", &user)],
        "s3cr3t",
    );

    let mut lookup = sb.command("secret-tool");
    lookup.args(["lookup", "service", "gocred-test", "user", &user]);
    ss.apply(&mut lookup);
    let out = lookup.output().unwrap();
    assert_success(&out, "secret-tool lookup");
    assert_eq!(stdout_str(&out), "s3cr3t");
    assert_eq!(
        ss.secret_tool_lookup(&[("service", "gocred-test"), ("user", &user)])
            .as_deref(),
        Some("s3cr3t")
    );
    assert_eq!(ss.locked(), Some(false));

    ss.lock();
    assert_eq!(ss.locked(), Some(true));
    let out = lookup.output().unwrap();
    assert!(
        !out.status.success() || out.stdout.is_empty(),
        "lookup in a locked collection returned {:?}",
        stdout_str(&out)
    );
    assert_eq!(
        ss.secret_tool_lookup(&[("service", "gocred-test"), ("user", &user)]),
        None
    );
}

#[test]
fn keyctl_user_keyring() {
    let svc = KeyringService::new("gocred-smoke");
    let desc = format!("{svc}:smoke");
    let out = keyctl(&["add", "user", &desc, "kernel-secret", "@u"]);
    assert_success(&out, "keyctl add");
    let id = stdout_str(&out).trim().to_string();
    let printed = keyctl(&["print", &id]);
    let found = keyctl(&["search", "@u", "user", &desc]);
    assert_success(&printed, "keyctl print");
    assert_eq!(stdout_str(&printed).trim(), "kernel-secret");
    assert_success(&found, "keyctl search");
    assert_eq!(stdout_str(&found).trim(), id);
    assert_eq!(svc.user_keys(), vec![(id, desc.clone())]);

    // The guard takes what was stored under its service out of the keyring.
    drop(svc);
    assert!(!keyctl(&["search", "@u", "user", &desc]).status.success());
}

#[test]
fn servers_run_side_by_side_and_leave_nothing_behind() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| GitServer::start(&[("a", "1")]));
        let b = s.spawn(|| GitServer::start(&[("b", "2")]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let ss = SecretService::start();
    assert_ne!(a.nginx_port(), b.nginx_port());
    let sb = Sandbox::new();
    for (server, user, pw) in [(&a, "a", "1"), (&b, "b", "2")] {
        let out = ls_remote(
            &sb,
            server,
            &inline_credential_helper(user, pw),
            "https://git.corp.test/lax/lib.git",
        );
        assert_success(&out, "ls-remote");
    }
    assert!(a.access_log().contains(" a \"git/"), "{}", a.access_log());
    assert!(!a.access_log().contains(" b \"git/"), "{}", a.access_log());

    let mut groups = a.process_groups();
    groups.extend(b.process_groups());
    groups.extend(ss.process_groups());
    assert!(groups.iter().all(|&g| group_alive(g)));
    drop((a, b, ss));
    let left: Vec<u32> = groups.into_iter().filter(|&g| group_alive(g)).collect();
    assert!(
        left.is_empty(),
        "process groups still alive after drop: {left:?}"
    );
}

/// The watchdogs kill the servers even when the test process dies without unwinding.
#[test]
fn servers_die_with_a_killed_test_process() {
    use std::io::BufRead;
    if std::env::var_os("GOCRED_SMOKE_CHILD").is_some() {
        return;
    }
    // The test's full name in this crate: `support_smoke::child_holds_servers`.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("{module}::child_holds_servers")])
        .args(["--ignored", "--nocapture"])
        .env("GOCRED_SMOKE_CHILD", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut groups: Vec<u32> = Vec::new();
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(list) = line.strip_prefix("DIRS ") {
            dirs = list.split(',').map(Into::into).collect();
        }
        if let Some(list) = line.strip_prefix("PGIDS ") {
            groups = list.split(',').map(|g| g.parse().unwrap()).collect();
            break;
        }
    }
    assert_eq!(groups.len(), 4, "child did not report its servers");
    assert!(
        dirs.len() == 2 && dirs.iter().all(|d| d.is_dir()),
        "{dirs:?}"
    );
    assert!(groups.iter().all(|&g| group_alive(g)));
    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop
    child.wait().unwrap();
    // Generous bounds: PID 1 here reaps orphans only every 1-2 s, slower under load.
    let gone = support::wait_until(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(20),
        || groups.iter().all(|&g| !group_alive(g)),
    );
    let left: Vec<u32> = groups.into_iter().filter(|&g| group_alive(g)).collect();
    assert!(
        gone,
        "process groups alive after the test process was killed: {left:?}"
    );
    if std::env::var_os("GOCRED_TEST_KEEP").is_none() {
        let removed = support::wait_until(
            std::time::Duration::from_secs(20),
            std::time::Duration::from_millis(20),
            || dirs.iter().all(|d| !d.exists()),
        );
        assert!(removed, "temp dirs left behind: {dirs:?}");
    }
}

#[test]
#[ignore = "helper process of servers_die_with_a_killed_test_process"]
fn child_holds_servers() {
    use std::io::Write;
    if std::env::var_os("GOCRED_SMOKE_CHILD").is_none() {
        return;
    }
    let server = GitServer::start(&[]);
    let ss = SecretService::start();
    let mut groups = server.process_groups();
    groups.extend(ss.process_groups());
    let list: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let mut out = std::io::stdout();
    let dirs = [server.root(), ss.root()].map(|d| d.display().to_string());
    writeln!(out, "DIRS {}", dirs.join(",")).unwrap();
    writeln!(out, "PGIDS {}", list.join(",")).unwrap();
    out.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn private_goproxy_with_netrc() {
    let server = GitServer::start(&[("netrcuser", "netrcpw")]);
    server.publish_to_goproxy("team", "lib", "v1.0.0");
    let sb = Sandbox::new();
    let dir = consumer(&sb, "team");
    let download = |netrc: bool| {
        if netrc {
            std::fs::write(
                sb.path(".netrc"),
                "machine proxy.corp.test login netrcuser password netrcpw\n",
            )
            .unwrap();
        }
        let mut cmd = sb.go();
        cmd.args(["mod", "download", "git.corp.test/team/lib@v1.0.0"])
            .current_dir(&dir)
            .env("GOPROXY", "https://proxy.corp.test")
            .env("GOPRIVATE", "")
            .env("GONOSUMDB", "git.corp.test");
        server.apply(&mut cmd);
        cmd.output().unwrap()
    };
    let fail = download(false);
    assert!(
        stderr_str(&fail).contains("401 Unauthorized"),
        "no credentials: {}",
        stderr_str(&fail)
    );
    assert_success(&download(true), "go mod download via the GOPROXY");
    let log = server.access_entries();
    assert!(
        log.iter().any(|e| e.host == "proxy.corp.test"
            && e.status == 200
            && e.uri == "/git.corp.test/team/lib/@v/v1.0.0.zip"
            && e.user.as_deref() == Some("netrcuser")),
        "{}",
        server.access_log()
    );
    assert!(
        !log.iter().any(|e| e.host == "git.corp.test"),
        "the proxy should have served everything:\n{}",
        server.access_log()
    );
}

/// The secret canary can fail: a registered secret (raw, percent-encoded, or as a Basic
/// `user:secret`) on stderr, or on stdout outside a protocol answer, panics; the answers
/// themselves pass. The real binary, given a secret in its environment, passes the canary.
#[test]
fn the_secret_canary_catches_every_form_and_allows_the_answer() {
    use base64::Engine as _;
    use std::os::unix::process::ExitStatusExt;
    use support::canary;
    let secret = "canary-s3cret/+value";
    canary::credential("alice", secret);
    let out = |stdout: &str, stderr: &str| std::process::Output {
        status: std::process::ExitStatus::from_raw(0),
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaks = [
        out("", &format!("error: {secret}")),
        out("", "error: canary-s3cret%2F%2Bvalue"),
        out(
            "",
            &format!("Basic {}", b64.encode(format!("alice:{secret}"))),
        ),
        out("", &b64.encode(format!("x-access-token:{secret}"))),
        out(&format!("username=alice\nnote={secret}\n"), ""),
        out(&format!("{{\"token\": \"{secret}\"}}\n"), ""),
    ];
    for (i, o) in leaks.iter().enumerate() {
        let caught = std::panic::catch_unwind(|| canary::check(o, "a leak")).is_err();
        assert!(caught, "leak {i} not caught");
    }
    for ok in [
        out(&format!("username=alice\npassword={secret}\n"), ""),
        out(&format!("{secret}\n"), ""),
        out(
            &format!(
                "https://h/\n\nAuthorization: Basic {}\n\n",
                b64.encode(format!("alice:{secret}"))
            ),
            "",
        ),
        out(
            &format!("::add-mask::{secret}\n"),
            "gocred: wrote the netrc",
        ),
    ] {
        canary::check(&ok, "an answer");
    }
    assert_eq!(
        canary::raw_stdout(&out(&format!("machine h password {secret}\n"), "")).len(),
        40
    );

    // The real binary: the secret comes in through the environment, is registered by the
    // runner, and `get` prints it only on its `password=` line.
    let s = Sandbox::new();
    s.write_config(
        "[[rule]]\npattern = \"git.corp.test\"\nsource = \"env\"\nvariable = \"CANARY_TOKEN\"\n",
    );
    let mut c = s.gocred();
    c.arg("get").env("CANARY_TOKEN", "canary-env-token-42");
    let o = support::run_with_stdin(&mut c, b"protocol=https\nhost=git.corp.test\n\n");
    assert_eq!(
        stdout_str(&o),
        "username=x-access-token\npassword=canary-env-token-42\n"
    );
    let fake = out("", "gocred: canary-env-token-42");
    assert!(
        std::panic::catch_unwind(|| canary::check(&fake, "x")).is_err(),
        "not registered"
    );
}
