//! Benchmark: hot `gocred get` serving a cached minted token (github-app source, token in the
//! kernel user keyring) against `git credential-store get`, in one run, same machine.
//!
//!   cargo bench --bench mint_get          (GOCRED_BENCH_ROUNDS=N to change the 300 rounds)
//!
//! The token is minted once from the GitHub API stand-in before timing starts; every timed
//! `get` must then answer from the cache (the bench fails if the stand-in sees another mint).
//! Each request is a fresh process with the request on stdin, as git runs helpers. Rounds are
//! interleaved so machine noise hits both alike. Goal (reported, not asserted): ≤ 1.5 ×
//! credential-store.

#![allow(clippy::print_stdout, clippy::print_stderr)]

// The integration tests' harness; a bench uses a small part of it.
#[path = "../tests/it/support/mod.rs"]
#[allow(unused)]
mod support;

mod common;

use common::{credential_store, request, run_interleaved, Contender};
use support::{run_with_stdin, stderr_str, GithubApi, KeyringService, Sandbox};

fn main() {
    let Some(rounds) = common::rounds(300) else {
        return;
    };
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-bench-mint");
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
    let mut get = gocred();
    get.arg("get");
    let req = Some(request(&s, "github.corp.test"));
    // The one mint, before timing starts.
    let mut first = gocred();
    first.arg("get");
    Contender::new("first get", first, req.clone(), "password=ghs_").once();
    let token = api.mints()[0].token.clone();
    let mut cs = [
        credential_store(&s, "x-access-token", &token),
        Contender::new(
            "gocred get (github-app, cached, keyutils)",
            get,
            req,
            &token,
        ),
    ];
    let med = run_interleaved(&mut cs, rounds);
    assert_eq!(
        api.mints().len(),
        1,
        "every timed get was served from the cache"
    );
    println!();
    println!(
        "gocred cached minted / credential-store : {:.2}x  (goal <= 1.5)",
        med[1] / med[0]
    );
    let _ = run_with_stdin(gocred().args(["logout", "github.corp.test/acme/*"]), b"");
}
