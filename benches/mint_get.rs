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

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{run_with_stdin, stderr_str, unique_name, GithubApi, Sandbox};

fn once(cmd: &mut Command, stdin: &std::path::Path, expect: &str) -> Duration {
    cmd.stdin(Stdio::from(File::open(stdin).unwrap()));
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(expect),
        "no token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn stats(t: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = t.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        ms[ms.len() / 2],
        ms.iter().sum::<f64>() / ms.len() as f64,
        ms[ms.len() * 9 / 10],
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes benches with --list
    }
    let rounds: usize = std::env::var("GOCRED_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let s = Sandbox::new();
    let svc = unique_name("gocred-bench-mint");
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
    let req = s.path("req-mint");
    std::fs::write(&req, "protocol=https\nhost=github.corp.test\n\n").unwrap();
    let mut get = gocred();
    get.arg("get");
    once(&mut get, &req, "password=ghs_"); // the one mint
    let token = api.mints()[0].token.clone();

    let store_file = s.path("git-credentials");
    std::fs::write(
        &store_file,
        format!("https://x-access-token:{token}@store.corp.test\n"),
    )
    .unwrap();
    let store_req = s.path("req-store");
    std::fs::write(&store_req, "protocol=https\nhost=store.corp.test\n\n").unwrap();
    let mut store = s.git();
    store
        .args(["credential-store", "--file"])
        .arg(&store_file)
        .arg("get");

    for _ in 0..10 {
        once(&mut store, &store_req, &token);
        once(&mut get, &req, &token);
    }
    let (mut t_store, mut t_get) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        t_store.push(once(&mut store, &store_req, &token));
        t_get.push(once(&mut get, &req, &token));
    }
    assert_eq!(
        api.mints().len(),
        1,
        "every timed get was served from the cache"
    );
    println!("{rounds} rounds, interleaved; wall time per request (ms)");
    println!(
        "{:<40} {:>8} {:>8} {:>8}",
        "contender", "median", "mean", "p90"
    );
    let (a, b) = (stats(&t_store), stats(&t_get));
    println!(
        "{:<40} {:>8.3} {:>8.3} {:>8.3}",
        "git credential-store get", a.0, a.1, a.2
    );
    println!(
        "{:<40} {:>8.3} {:>8.3} {:>8.3}",
        "gocred get (github-app, cached, keyutils)", b.0, b.1, b.2
    );
    println!();
    println!(
        "gocred cached minted / credential-store : {:.2}x  (goal <= 1.5)",
        b.0 / a.0
    );
    let _ = run_with_stdin(gocred().args(["logout", "github.corp.test/acme/*"]), b"");
}
