//! `login`, `logout`, `store`, `erase` against real keyrings: the kernel user keyring (keyutils)
//! and gnome-keyring's Secret Service on a private D-Bus. Every test files its entries under a
//! unique keyring service name so parallel tests and the developer's own entries never meet.

use std::process::{Command, Output};

use crate::support::{
    keyctl, run_with_stdin, stderr_str, stdout_str, unique_name, KeyringService, Sandbox,
    SecretService,
};

struct Setup {
    s: Sandbox,
    service: KeyringService,
    backend: &'static str,
    ss: Option<SecretService>,
}

impl Setup {
    fn keyutils() -> Setup {
        Setup {
            s: Sandbox::new(),
            service: KeyringService::new("gocred-test"),
            backend: "keyutils",
            ss: None,
        }
    }

    fn secret_service() -> Setup {
        Setup {
            s: Sandbox::new(),
            service: KeyringService::new("gocred-test"),
            backend: "secret-service",
            ss: Some(SecretService::start()),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.gocred();
        c.args(args)
            .env("GOCRED_KEYRING", self.backend)
            .env("GOCRED_KEYRING_SERVICE", &self.service)
            .env("GOPRIVATE", "git.corp.test");
        if let Some(ss) = &self.ss {
            ss.apply(&mut c);
        }
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_stdin(&mut self.cmd(args), stdin)
    }

    fn get(&self) -> Output {
        self.run(&["get"], b"protocol=https\nhost=git.corp.test\n\n")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.run(&["logout", "git.corp.test"], b"");
    }
}

fn login_get_logout(k: &Setup) {
    let out = k.run(
        &["login", "git.corp.test", "--username", "alice"],
        b"tok-login-1\n",
    );
    assert!(out.status.success(), "login: {}", stderr_str(&out));
    assert!(!stderr_str(&out).contains("tok-login-1"));
    let cfg = std::fs::read_to_string(&k.s.config_path).unwrap();
    assert!(
        cfg.contains("pattern = \"git.corp.test\"") && !cfg.contains("tok-login-1"),
        "{cfg}"
    );

    let out = k.get();
    assert!(out.status.success(), "get: {}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "username=alice\npassword=tok-login-1\n");

    let out = k.run(&["logout", "git.corp.test"], b"");
    assert!(out.status.success(), "logout: {}", stderr_str(&out));
    let cfg = std::fs::read_to_string(&k.s.config_path).unwrap();
    assert!(!cfg.contains("git.corp.test"), "{cfg}");
    assert_eq!(stdout_str(&k.get()), "", "after logout nothing is answered");
}

#[test]
fn keyutils_round_trip_in_the_user_keyring() {
    let k = Setup::keyutils();
    let out = k.run(&["login", "git.corp.test"], b"tok-ku\n");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("keyutils"),
        "{}",
        stderr_str(&out)
    );
    // The key is in @u, visible to every process of this user (not a per-process session ring).
    let desc = format!("{}:pat:git.corp.test", k.service);
    let found = keyctl(&["search", "@u", "user", &desc]);
    assert!(found.status.success(), "not in @u: {}", stderr_str(&found));
    let out = k.run(&["logout", "git.corp.test"], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        !keyctl(&["search", "@u", "user", &desc]).status.success(),
        "still in @u after logout"
    );
    login_get_logout(&k);
}

#[test]
fn secret_service_round_trip() {
    let k = Setup::secret_service();
    let out = k.run(&["login", "git.corp.test"], b"tok-ss\n");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("secret-service"),
        "{}",
        stderr_str(&out)
    );
    // It really is in gnome-keyring: secret-tool sees the item.
    let ss = k.ss.as_ref().unwrap();
    let item = ss.secret_tool_lookup(&[("service", &k.service), ("username", "pat:git.corp.test")]);
    assert!(
        item.is_some_and(|v| v.contains("tok-ss")),
        "not in the Secret Service"
    );
    let out = k.run(&["logout", "git.corp.test"], b"");
    assert!(out.status.success());
    assert!(ss
        .secret_tool_lookup(&[("service", &k.service), ("username", "pat:git.corp.test")])
        .is_none());
    login_get_logout(&k);
}

#[test]
fn locked_secret_service_is_an_error_not_a_fallback() {
    let k = Setup::secret_service();
    assert!(k
        .run(&["login", "git.corp.test"], b"tok-locked\n")
        .status
        .success());
    k.ss.as_ref().unwrap().lock();
    let out = k.get();
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(err.contains("locked"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn no_keyring_says_so_and_writes_no_plaintext() {
    let s = Sandbox::new();
    let mut c = s.gocred();
    c.args(["login", "git.corp.test"])
        .env("GOCRED_KEYRING", "secret-service")
        .env("GOCRED_KEYRING_SERVICE", unique_name("gocred-none"))
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", s.root().display()),
        );
    let out = run_with_stdin(&mut c, b"tok-nowhere\n");
    assert!(!out.status.success());
    let err = stderr_str(&out);
    assert!(
        err.contains("keyring") && err.contains("did not answer"),
        "{err}"
    );
    assert!(
        err.contains("GOCRED_KEYRING=keyutils"),
        "says what to do: {err}"
    );
    // Nothing anywhere in the sandbox holds the token; no rule was added either.
    let grep = Command::new("grep")
        .args(["-r", "-l", "tok-nowhere"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(stdout_str(&grep), "", "token written to disk");
    assert!(
        !s.config_path.exists()
            || !std::fs::read_to_string(&s.config_path)
                .unwrap()
                .contains("git.corp.test")
    );
}

#[test]
fn login_keeps_the_users_config_and_updates_in_place() {
    let k = Setup::keyutils();
    k.s.write_config("# my rules\n[[rule]]\npattern = \"other.test\" # keep me\nsource = \"env\"\nvariable = \"X\"\n");
    assert!(k.run(&["login", "git.corp.test"], b"t1\n").status.success());
    assert!(k
        .run(&["login", "git.corp.test", "--username", "bob"], b"t2\n")
        .status
        .success());
    let cfg = std::fs::read_to_string(&k.s.config_path).unwrap();
    assert!(
        cfg.starts_with("# my rules\n") && cfg.contains("# keep me"),
        "{cfg}"
    );
    assert_eq!(cfg.matches("git.corp.test").count(), 1, "{cfg}");
    assert_eq!(stdout_str(&k.get()), "username=bob\npassword=t2\n");
}

#[test]
fn login_rejects_bad_input_before_writing_anything() {
    let k = Setup::keyutils();
    for (args, stdin, needle) in [
        (
            vec!["login", "git.corp.test"],
            &b""[..],
            "no token on stdin",
        ),
        (
            vec!["login", "git.corp.test"],
            b"a\nb\n",
            "more than one line",
        ),
        (vec!["login", "git.corp.test"], b"has space\n", "unusable"),
        (vec!["login", "*corp.test"], b"t\n", "whole label"),
        (
            vec!["login", "git.corp.test", "--source", "env"],
            b"",
            "needs `variable`",
        ),
    ] {
        let out = k.run(&args, stdin);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr_str(&out).contains(needle),
            "{args:?}: {}",
            stderr_str(&out)
        );
        assert!(!k.s.config_path.exists(), "{args:?}: config written");
    }
}

#[test]
fn store_remembers_only_when_nothing_is_held() {
    let k = Setup::keyutils();
    k.s.write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\n");
    // git confirms a credential that came from elsewhere (a prompt): remembered.
    let out = k.run(
        &["store"],
        b"protocol=https\nhost=git.corp.test\nusername=carol\npassword=from-prompt\n\n",
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "", "store writes nothing to stdout");
    assert_eq!(
        stdout_str(&k.get()),
        "username=carol\npassword=from-prompt\n"
    );
    // A second, different confirmation does not replace what login/store put there.
    k.run(
        &["store"],
        b"protocol=https\nhost=git.corp.test\nusername=mallory\npassword=other\n\n",
    );
    assert_eq!(
        stdout_str(&k.get()),
        "username=carol\npassword=from-prompt\n"
    );
    // Expired credentials are never stored.
    let k2 = Setup::keyutils();
    k2.s.write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\n");
    k2.run(
        &["store"],
        b"protocol=https\nhost=git.corp.test\nusername=u\npassword=p\npassword_expiry_utc=5\n\n",
    );
    assert_eq!(stdout_str(&k2.get()), "");
}

#[test]
fn erase_drops_exactly_the_rejected_token() {
    let k = Setup::keyutils();
    assert!(k
        .run(&["login", "git.corp.test"], b"good-token\n")
        .status
        .success());
    // A different password was rejected: ours stays.
    k.run(
        &["erase"],
        b"protocol=https\nhost=git.corp.test\nusername=x\npassword=something-else\n\n",
    );
    assert!(stdout_str(&k.get()).contains("good-token"));
    // No password at all: never "erase all".
    k.run(&["erase"], b"protocol=https\nhost=git.corp.test\n\n");
    assert!(stdout_str(&k.get()).contains("good-token"));
    // Another host's rejection does not touch ours.
    k.run(
        &["erase"],
        b"protocol=https\nhost=other.test\npassword=good-token\n\n",
    );
    assert!(stdout_str(&k.get()).contains("good-token"));
    // Our token rejected: dropped, and the user is told what to run.
    let out = k.run(
        &["erase"],
        b"protocol=https\nhost=git.corp.test\nusername=x\npassword=good-token\n\n",
    );
    assert!(
        stderr_str(&out).contains("gocred login git.corp.test"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(stdout_str(&k.get()), "");
}

#[test]
fn explain_json_contract() {
    let k = Setup::keyutils();
    assert!(k
        .run(&["login", "git.corp.test"], b"tok-explain\n")
        .status
        .success());
    let out = k.run(&["explain", "--json", "git.corp.test/team/lib@v1.0.0"], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    let text = stdout_str(&out);
    assert!(!text.contains("tok-explain"), "explain printed the secret");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["target"], "git.corp.test/team/lib@v1.0.0");
    assert_eq!(v["private"], true);
    assert_eq!(v["goprivate_pattern"], "git.corp.test");
    assert_eq!(v["noproxy"], true);
    assert_eq!(v["nosumdb"], true);
    assert_eq!(v["rule"], "git.corp.test");
    assert_eq!(v["source"], "pat");
    assert_eq!(v["transport"], "https");
    assert!(v["credential"].as_str().unwrap().contains("present"), "{v}");

    let out = k.run(&["explain", "--json", "github.com/public/lib"], b"");
    let v: serde_json::Value = serde_json::from_str(&stdout_str(&out)).unwrap();
    assert_eq!(v["private"], false);
    assert!(v["goprivate_pattern"].is_null() && v["rule"].is_null() && v["source"].is_null());
    assert_eq!(v["transport"], "https");
}

#[test]
fn explain_reads_goprivate_from_gos_env_file() {
    let k = Setup::keyutils();
    std::fs::create_dir_all(k.s.path(".config/go")).unwrap();
    std::fs::write(
        k.s.path(".config/go/env"),
        "GOPRIVATE=*.vanity.test\nGONOSUMDB=none\n",
    )
    .unwrap();
    let mut c = k.s.gocred();
    c.args(["explain", "--json", "mods.vanity.test/x"]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout_str(&run_with_stdin(&mut c, b""))).unwrap();
    assert_eq!(v["private"], true);
    assert_eq!(v["goprivate_pattern"], "*.vanity.test");
    assert_eq!(
        v["noproxy"], true,
        "empty GONOPROXY falls back to GOPRIVATE"
    );
    assert_eq!(v["nosumdb"], false, "GONOSUMDB=none matches nothing");
}

#[test]
fn token_prints_only_the_token() {
    let k = Setup::keyutils();
    assert!(k
        .run(&["login", "git.corp.test"], b"tok-script\n")
        .status
        .success());
    let out = k.run(&["token", "git.corp.test/team/lib"], b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "tok-script\n");
    let out = k.run(&["token", "github.com/x/y"], b"");
    assert!(!out.status.success() && stdout_str(&out).is_empty());
}

/// What git confirmed for one host on a wildcard rule (or one repository on a path
/// rule) stays bound to it; another host under the same rule never gets it, and logout
/// removes every bound entry (checked in the kernel keyring itself).
#[test]
fn store_on_a_wildcard_or_path_rule_stays_bound_to_what_git_confirmed() {
    for backend in ["keyutils", "secret-service"] {
        let k = match backend {
            "keyutils" => Setup::keyutils(),
            _ => Setup::secret_service(),
        };
        k.s.write_config(
            "[[rule]]\npattern = \"*.corp.test\"\nsource = \"pat\"\n\n\
             [[rule]]\npattern = \"git.other.test/team/*\"\nsource = \"pat\"\n",
        );
        let get = |host: &str, path: Option<&str>| {
            let mut input = format!("protocol=https\nhost={host}\n");
            if let Some(p) = path {
                input.push_str(&format!("path={p}\n"));
            }
            input.push('\n');
            k.run(&["get"], input.as_bytes())
        };
        let out = k.run(
            &["store"],
            b"protocol=https\nhost=a.corp.test\nusername=carol\npassword=tok-for-a\n\n",
        );
        assert!(out.status.success(), "{backend}: {}", stderr_str(&out));
        assert_eq!(
            stdout_str(&get("a.corp.test", None)),
            "username=carol\npassword=tok-for-a\n",
            "{backend}"
        );
        let evil = get("evil.corp.test", None);
        assert_eq!(stdout_str(&evil), "", "{backend}: widened to another host");
        assert!(
            !stderr_str(&evil).contains("tok-for-a"),
            "{}",
            stderr_str(&evil)
        );
        // The port is part of the host it was confirmed for.
        assert_eq!(stdout_str(&get("a.corp.test:8443", None)), "", "{backend}");
        // A second host confirms its own credential: each keeps its own.
        k.run(
            &["store"],
            b"protocol=https\nhost=b.corp.test\nusername=bob\npassword=tok-for-b\n\n",
        );
        assert!(stdout_str(&get("b.corp.test", None)).contains("tok-for-b"));
        assert!(stdout_str(&get("a.corp.test", None)).contains("tok-for-a"));
        // A path rule with the path git sent (useHttpPath): bound to that repository.
        k.run(
            &["store"],
            b"protocol=https\nhost=git.other.test\npath=team/lib.git\nusername=u\npassword=tok-lib\n\n",
        );
        assert!(stdout_str(&get("git.other.test", Some("team/lib.git"))).contains("tok-lib"));
        assert_eq!(
            stdout_str(&get("git.other.test", Some("team/other.git"))),
            "",
            "{backend}: widened to another repository"
        );
        if backend == "keyutils" {
            let desc = format!("{}:pat:*.corp.test@a.corp.test", k.service);
            assert!(keyctl(&["search", "@u", "user", &desc]).status.success());
        }
        // logout deletes the bound entries too.
        for pattern in ["*.corp.test", "git.other.test/team/*"] {
            let out = k.run(&["logout", pattern], b"");
            assert!(out.status.success(), "{backend}: {}", stderr_str(&out));
        }
        if backend == "keyutils" {
            for rest in [
                "pat:*.corp.test@a.corp.test",
                "pat:*.corp.test@b.corp.test",
                "pat-bound:*.corp.test",
                "pat:git.other.test/team/*@git.other.test/team/lib.git",
            ] {
                let desc = format!("{}:{rest}", k.service);
                assert!(
                    !keyctl(&["search", "@u", "user", &desc]).status.success(),
                    "{desc} left in @u after logout"
                );
            }
        }
    }
}
