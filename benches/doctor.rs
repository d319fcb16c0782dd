//! Benchmark: how long `gocred doctor` takes, against loopback servers.
//!
//!   cargo bench --bench doctor          (GOCRED_BENCH_ROUNDS=N to change the 10 rounds)
//!
//! Two cases, each a fresh `gocred doctor --json` process:
//!   healthy      the `team` module (go-get page behind auth, GOAUTH=git, token in the kernel
//!                keyring): every check runs, every network phase succeeds through the CONNECT
//!                proxy, `go env`, `git config`, `git credential fill` all run.
//!   unreachable  HTTPS_PROXY points at a socket that accepts and never answers: the cost of a
//!                dead host, which must be its timeout (3 s, once for Go and git together).
//! Goals (reported, not asserted): healthy ≤ 2 s median; unreachable ≤ 3 s + 1 s.

#![allow(clippy::print_stdout, clippy::print_stderr)]

// The integration tests' harness; a bench uses a small part of it.
#[path = "../tests/it/support/mod.rs"]
#[allow(unused)]
mod support;

mod common;

use std::time::{Duration, Instant};

use support::{run_with_stdin, stderr_str, GitServer, KeyringService, Sandbox};

const TOKEN: &str = "bench-doctor-token-0123456789";

fn run(s: &Sandbox, env: &[(String, String)], rounds: usize, want_exit: i32) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let mut c = s.gocred();
            c.env_clear().envs(env.iter().cloned());
            c.args(["doctor", "--json", "git.corp.test/team/lib"]);
            let start = Instant::now();
            let out = c.output().unwrap();
            let took = start.elapsed();
            assert_eq!(out.status.code(), Some(want_exit), "{}", stderr_str(&out));
            took
        })
        .collect()
}

fn main() {
    let Some(rounds) = common::rounds(10) else {
        return;
    };
    let s = Sandbox::new();
    let server = GitServer::start(&[("alice", TOKEN)]);
    let svc = KeyringService::new("gocred-bench-doctor");
    let mut env = s.envs();
    env.extend(server.env());
    env.push(("GOCRED_KEYRING".into(), "keyutils".into()));
    env.push(("GOCRED_KEYRING_SERVICE".into(), svc.to_string()));
    let go = |args: &[&str]| {
        let mut c = s.go();
        c.env_clear().envs(env.iter().cloned()).args(args);
        assert!(c.output().unwrap().status.success());
    };
    go(&["env", "-w", "GOPRIVATE=git.corp.test"]);
    go(&["env", "-w", &format!("GOAUTH=git {}", s.home.display())]);
    let mut login = s.gocred();
    login.env_clear().envs(env.iter().cloned());
    login.args(["login", "git.corp.test", "--username", "alice"]);
    assert!(run_with_stdin(&mut login, format!("{TOKEN}\n").as_bytes())
        .status
        .success());
    s.git_config("credential.https://git.corp.test.helper", "gocred");

    let healthy = run(&s, &env, rounds, 0);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", silent.local_addr().unwrap());
    let mut env_dead = env.clone();
    env_dead.retain(|(k, _)| k != "HTTPS_PROXY" && k != "https_proxy");
    env_dead.push(("HTTPS_PROXY".into(), dead.clone()));
    env_dead.push(("https_proxy".into(), dead));
    let unreachable = run(&s, &env_dead, rounds.min(3), 1);

    let (hm, _, hp) = common::stats(&healthy);
    let (um, _, up) = common::stats(&unreachable);
    println!(
        "gocred doctor, {} rounds (healthy) / {} (unreachable)",
        healthy.len(),
        unreachable.len()
    );
    println!("  healthy      median {hm:7.1} ms   p90 {hp:7.1} ms   goal ≤ 2000 ms median");
    println!("  unreachable  median {um:7.1} ms   p90 {up:7.1} ms   goal ≤ 4000 ms (one 3 s timeout + 1 s)");

    let mut c = s.gocred();
    c.env_clear()
        .envs(env.iter().cloned())
        .args(["logout", "git.corp.test"]);
    let _ = c.output();
    drop(silent);
}
