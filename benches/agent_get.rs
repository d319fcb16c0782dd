//! Benchmark: a far side's hot `gocred get` through `gocred agent` against a local hot `gocred
//! get`, in one run, same machine, same GitHub App rule (stand-in API, App key in the kernel
//! user keyring).
//!
//!   cargo bench --bench agent_get          (GOCRED_BENCH_ROUNDS=N to change the 300 rounds)
//!
//! Local: the token cached in the keyring. Far side: a sandbox with nothing but `GOCRED_AGENT`,
//! asking the agent, which holds its session token in memory. Both are minted once before timing
//! starts; the bench fails if the stand-in sees another mint. Each request is a fresh process with
//! the request on stdin, as git runs helpers; rounds are interleaved so machine noise hits all
//! alike. Goal (reported, not asserted): far side ≤ 1.5 × local.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/it/support/mod.rs"]
#[allow(unused)]
mod support;

mod common;

use std::io::BufRead;
use std::process::Stdio;

use common::{credential_store, run_interleaved, Contender};
use support::{run_with_stdin, stderr_str, GithubApi, KeyringService, Sandbox};

fn main() {
    let Some(rounds) = common::rounds(300) else {
        return;
    };
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-bench-agent");
    let gocred = || {
        let mut c = s.gocred();
        c.env("GOCRED_KEYRING", "keyutils")
            .env("GOCRED_KEYRING_SERVICE", &svc);
        c
    };
    let out = run_with_stdin(
        gocred().args([
            "login",
            "github.corp.test/acme/*",
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
    let req = s.path("req");
    std::fs::write(
        &req,
        "protocol=https\nhost=github.corp.test\npath=acme/lib.git\n\n",
    )
    .unwrap();

    let mut agent = gocred()
        .args(["agent", "--allow", "github.corp.test/acme/*"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(agent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sock = line
        .strip_prefix("GOCRED_AGENT=")
        .and_then(|l| l.strip_suffix("; export GOCRED_AGENT;\n"))
        .expect("the agent prints its socket")
        .to_string();
    let far = Sandbox::new();
    let far_get = || {
        let mut c = far.gocred();
        c.env("GOCRED_AGENT", &sock).arg("get");
        c
    };
    let local_get = || {
        let mut c = gocred();
        c.arg("get");
        c
    };
    // The two mints (local cache, agent session), before timing starts.
    Contender::new(
        "first local",
        local_get(),
        Some(req.clone()),
        "password=ghs_",
    )
    .once();
    Contender::new("first far", far_get(), Some(req.clone()), "password=ghs_").once();
    let mints = api.mints();
    assert_eq!(mints.len(), 2, "{mints:?}");
    let (local_tok, far_tok) = (mints[0].token.clone(), mints[1].token.clone());
    let mut cs = [
        credential_store(&s, "x-access-token", &local_tok),
        Contender::new(
            "gocred get (local, cached, keyutils)",
            local_get(),
            Some(req.clone()),
            &local_tok,
        ),
        Contender::new(
            "gocred get (far side, through the agent)",
            far_get(),
            Some(req.clone()),
            &far_tok,
        ),
    ];
    let med = run_interleaved(&mut cs, rounds);
    assert_eq!(api.mints().len(), 2, "every timed get was served hot");
    println!();
    println!(
        "far side via agent / local hot get : {:.2}x  (goal <= 1.5)",
        med[2] / med[1]
    );
    println!(
        "far side via agent / credential-store: {:.2}x",
        med[2] / med[0]
    );
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = run_with_stdin(gocred().args(["logout", "github.corp.test/acme/*"]), b"");
}
