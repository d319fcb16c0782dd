//! Benchmark: hot `gocred get` against the tools people use today, in one run, same machine.
//!
//!   cargo bench --bench credential_get          (GOCRED_BENCH_ROUNDS=N to change the 300 rounds)
//!
//! Contenders, each a fresh process per request with the request on stdin, as git runs them:
//!   git credential-store get          (plaintext file: the floor for a helper)
//!   gocred get, `env` source
//!   gocred get, `pat` source in the kernel user keyring (keyutils)
//!   secret-tool lookup                (libsecret's CLI against gnome-keyring)
//!   gocred get, `pat` source in gnome-keyring (Secret Service, private D-Bus)
//!   gocred get, `github-app` token cached in keyutils, the release binary (the hot `get` users
//!   run: static-pie from install/release.sh, or $GOCRED_BENCH_BINARY; skipped when not built)
//! Rounds are interleaved so machine noise hits every contender alike. Every answer is checked
//! (a contender that returns no token would otherwise look fast). Goals (reported, not asserted):
//! env/keyutils ≤ 1.5 × credential-store; Secret Service no slower than `secret-tool lookup`;
//! the release binary's cached-token `get` ≤ 1.0 × credential-store, as the median of the ratios
//! of back-to-back pairs (each pair saw the same machine state).

#![allow(clippy::print_stdout, clippy::print_stderr)]

// The integration tests' harness; a bench uses a small part of it.
#[path = "../tests/it/support/mod.rs"]
#[allow(unused)]
mod support;

mod common;

use common::{credential_store, paired_median_ratio, request, run_interleaved, Contender};
use support::{run_with_stdin, stderr_str, GithubApi, KeyringService, Sandbox, SecretService};

const TOKEN: &str = "bench_tok_0123456789abcdefghijklmnopqrstuvwxyz";

fn main() {
    let Some(rounds) = common::rounds(300) else {
        return;
    };
    let s = Sandbox::new();
    let ss = SecretService::start();
    let svc = KeyringService::new("gocred-bench");
    s.write_config(
        "[[rule]]\npattern = \"env.corp.test\"\nsource = \"env\"\nvariable = \"BENCH_TOKEN\"\n\
         [[rule]]\npattern = \"ku.corp.test\"\nsource = \"pat\"\n\
         [[rule]]\npattern = \"ss.corp.test\"\nsource = \"pat\"\n",
    );
    let gocred = |backend: &str| {
        let mut c = s.gocred();
        c.env("GOCRED_KEYRING", backend)
            .env("GOCRED_KEYRING_SERVICE", &svc)
            .env("BENCH_TOKEN", TOKEN);
        ss.apply(&mut c);
        c
    };
    for (pattern, backend) in [
        ("ku.corp.test", "keyutils"),
        ("ss.corp.test", "secret-service"),
    ] {
        let out = run_with_stdin(
            gocred(backend).args(["login", pattern]),
            format!("{TOKEN}\n").as_bytes(),
        );
        assert!(
            out.status.success(),
            "login {pattern}: {}",
            stderr_str(&out)
        );
    }
    ss.secret_tool_store(
        "bench",
        &[("service", "gocred-bench-st"), ("user", "alice")],
        TOKEN,
    );
    let mut env_get = gocred("auto");
    env_get.arg("get");
    let mut ku_get = gocred("keyutils");
    ku_get.arg("get");
    let mut ss_get = gocred("secret-service");
    ss_get.arg("get");
    let mut st = s.command("secret-tool");
    st.args(["lookup", "service", "gocred-bench-st", "user", "alice"]);
    ss.apply(&mut st);
    let req = |host: &str| Some(request(&s, host));

    // A minted github-app token in the cache, answered by the release binary.
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let release = common::release_binary();
    let mut hot = release.as_ref().map(|bin| {
        let out = run_with_stdin(
            gocred("keyutils").args([
                "login",
                "github.corp.test",
                "--source",
                "github-app",
                "--app-id",
                &api.app.id.to_string(),
                "--api-url",
                &api.url(),
            ]),
            api.app.private_key_pem.as_bytes(),
        );
        assert!(out.status.success(), "login: {}", stderr_str(&out));
        let r = Some(s.path("req-github"));
        std::fs::write(
            r.as_ref().unwrap(),
            "protocol=https\nhost=github.corp.test\npath=acme/lib.git\n\n",
        )
        .unwrap();
        let mut first = gocred("keyutils");
        first.arg("get");
        Contender::new("first get (mint)", first, r.clone(), "password=ghs_").once();
        let token = api.mints()[0].token.clone();
        let mut c = s.command(bin);
        c.env("GOCRED_KEYRING", "keyutils")
            .env("GOCRED_KEYRING_SERVICE", &svc)
            .arg("get");
        println!("release binary: {}", bin.display());
        Contender::new("gocred get (cached, release bin)", c, r, &token)
    });

    let mut cs = vec![
        credential_store(&s, "alice", TOKEN),
        Contender::new("gocred get (env)", env_get, req("env.corp.test"), TOKEN),
        Contender::new("gocred get (keyutils)", ku_get, req("ku.corp.test"), TOKEN),
        Contender::new("secret-tool lookup", st, None, TOKEN),
        Contender::new(
            "gocred get (secret-service)",
            ss_get,
            req("ss.corp.test"),
            TOKEN,
        ),
    ];
    cs.extend(hot.take());
    let med = run_interleaved(&mut cs, rounds);
    println!();
    println!(
        "gocred env      / credential-store : {:.2}x  (goal <= 1.5)",
        med[1] / med[0]
    );
    println!(
        "gocred keyutils / credential-store : {:.2}x  (goal <= 1.5)",
        med[2] / med[0]
    );
    println!(
        "gocred secret-service / secret-tool: {:.2}x  (goal <= 1.0)",
        med[4] / med[3]
    );
    match cs.get(5) {
        Some(hot) => {
            // Its own credential-store file holds the minted token: same answer size.
            println!(
                "gocred cached (release) / credential-store: {:.2}x median, {:.2}x paired median  (goal <= 1.0)",
                med[5] / med[0],
                paired_median_ratio(hot, &cs[0])
            );
            assert_eq!(
                api.mints().len(),
                1,
                "every timed get was served from the cache"
            );
            let _ = run_with_stdin(gocred("keyutils").args(["logout", "github.corp.test"]), b"");
        }
        None => println!("release binary not built: bash install/release.sh, then run again"),
    }
    let _ = run_with_stdin(gocred("keyutils").args(["logout", "ku.corp.test"]), b"");
    let _ = run_with_stdin(
        gocred("secret-service").args(["logout", "ss.corp.test"]),
        b"",
    );
}
