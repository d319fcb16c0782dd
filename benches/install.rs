//! Benchmark: installing gocred without Rust — the README's one-liner (`curl … | sh`: download
//! install.sh, SHA256SUMS and the archive over HTTPS, verify, unpack, install) into a fresh
//! prefix, against a release served by nginx on loopback.
//!
//!   cargo bench --bench install         (GOCRED_BENCH_ROUNDS=N to change the 10 rounds)
//!
//! Under `cargo bench` the packaged gocred is the release build (GOCRED_RELEASE_BINARY to
//! package another). The comparison, `cargo install` from the checkout, takes minutes and is
//! timed once by hand (README, "Install"). Goal (reported, not asserted): a few seconds at most.
#![allow(clippy::print_stdout, clippy::print_stderr)]

// The integration tests' harness; a bench uses a small part of it.
#[path = "../tests/it/support/mod.rs"]
#[allow(unused)]
mod support;

mod common;

use std::time::Instant;

use support::release::{archive_name, publish, release_dist, tool_dir, BASE_TOOLS};
use support::{assert_success, GitServer, Sandbox};

fn main() {
    let Some(rounds) = common::rounds(10) else {
        return;
    };
    let s = Sandbox::new();
    let server = GitServer::start(&[]);
    let base = publish(&server);
    let mut names = BASE_TOOLS.to_vec();
    names.push("curl");
    let tools = tool_dir(&s.root().join("tools"), &names);
    let size = std::fs::metadata(release_dist().join(archive_name()))
        .map(|m| m.len())
        .unwrap_or(0);
    let script =
        format!("curl -fsSL {base}/install.sh | sh -s -- --base-url {base} --prefix \"$1\"");
    let mut times = Vec::new();
    for n in 0..rounds {
        let prefix = s.root().join(format!("prefix-{n}"));
        let mut c = s.command("sh");
        server.apply(&mut c);
        c.env("PATH", tools.display().to_string())
            .args(["-c", &script, "sh"])
            .arg(&prefix);
        let start = Instant::now();
        let out = c.output().unwrap();
        times.push(start.elapsed());
        assert_success(&out, "the install one-liner");
        assert!(prefix.join("bin/gocred").is_file());
    }
    let (median, mean, p90) = common::stats(&times);
    println!(
        "install one-liner ({} rounds, archive {:.1} MB): median {median:.0} ms, mean {mean:.0} ms, p90 {p90:.0} ms",
        rounds,
        size as f64 / 1e6
    );
}
