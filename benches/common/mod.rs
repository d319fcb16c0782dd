//! What the benches share: the round count, timed contenders run as git runs a helper (a fresh
//! process, the request on stdin, the answer checked so a contender that returns nothing cannot
//! look fast), the `git credential-store` baseline, and the table of results.
// Each bench uses a subset.
#![allow(dead_code)]

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Sandbox;

/// `GOCRED_BENCH_ROUNDS`, else `default`; `None` when cargo only lists benches
/// (`cargo test --benches` runs them with `--list`).
pub fn rounds(default: usize) -> Option<usize> {
    if std::env::args().any(|a| a == "--list") {
        return None;
    }
    Some(
        std::env::var("GOCRED_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// (median, mean, p90) in milliseconds.
pub fn stats(t: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = t.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        ms[ms.len() / 2],
        ms.iter().sum::<f64>() / ms.len() as f64,
        ms[(ms.len() * 9 / 10).min(ms.len() - 1)],
    )
}

/// One timed command and its results.
pub struct Contender {
    pub name: &'static str,
    pub cmd: Command,
    /// The request file fed on stdin (`None`: /dev/null).
    pub stdin: Option<PathBuf>,
    /// What its stdout must contain.
    pub expect: String,
    pub times: Vec<Duration>,
}

impl Contender {
    pub fn new(name: &'static str, cmd: Command, stdin: Option<PathBuf>, expect: &str) -> Self {
        Contender {
            name,
            cmd,
            stdin,
            expect: expect.to_string(),
            times: Vec::new(),
        }
    }

    /// Runs once and returns how long it took; panics unless it answered `expect`.
    pub fn once(&mut self) -> Duration {
        match &self.stdin {
            Some(p) => self.cmd.stdin(Stdio::from(File::open(p).unwrap())),
            None => self.cmd.stdin(Stdio::null()),
        };
        let start = Instant::now();
        let out = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&self.expect),
            "{} did not return the token: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

/// A git credential request for `https://<host>` in a file (fed to each run).
pub fn request(s: &Sandbox, host: &str) -> PathBuf {
    let p = s.path(&format!("req-{host}"));
    std::fs::write(&p, format!("protocol=https\nhost={host}\n\n")).unwrap();
    p
}

/// The floor for a helper: `git credential-store get` over a plaintext file holding
/// `user:token` for `store.corp.test`.
pub fn credential_store(s: &Sandbox, user: &str, token: &str) -> Contender {
    let file = s.path("git-credentials");
    std::fs::write(&file, format!("https://{user}:{token}@store.corp.test\n")).unwrap();
    let mut cmd = s.git();
    cmd.args(["credential-store", "--file"])
        .arg(&file)
        .arg("get");
    Contender::new(
        "git credential-store get",
        cmd,
        Some(request(s, "store.corp.test")),
        token,
    )
}

/// Warms every contender up, then times `rounds` interleaved rounds (machine noise hits every
/// contender alike) and prints the table; returns the medians in order.
pub fn run_interleaved(cs: &mut [Contender], rounds: usize) -> Vec<f64> {
    for c in cs.iter_mut() {
        for _ in 0..10 {
            c.once(); // warm-up: page cache, D-Bus activation
        }
    }
    for _ in 0..rounds {
        for c in cs.iter_mut() {
            let t = c.once();
            c.times.push(t);
        }
    }
    let width = cs.iter().map(|c| c.name.len()).max().unwrap_or(0).max(30);
    println!("{rounds} rounds, interleaved; wall time per request (ms)");
    println!(
        "{:<width$} {:>8} {:>8} {:>8}",
        "contender", "median", "mean", "p90"
    );
    cs.iter()
        .map(|c| {
            let (m, mean, p90) = stats(&c.times);
            println!("{:<width$} {m:>8.3} {mean:>8.3} {p90:>8.3}", c.name);
            m
        })
        .collect()
}

/// The binary users run: `$GOCRED_BENCH_BINARY`, else the release build `install/release.sh`
/// makes for this machine (`target/<host>/release/gocred`: static-pie on Linux, see
/// install/build-env.sh). `None` when neither exists (build it with `bash install/release.sh`).
pub fn release_binary() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("GOCRED_BENCH_BINARY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(b));
    }
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    let host = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))?;
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    Some(dir.join(host).join("release/gocred")).filter(|p| p.is_file())
}

/// The median of `a[i] / b[i]` over rounds run back to back (each pair saw the same machine).
pub fn paired_median_ratio(a: &Contender, b: &Contender) -> f64 {
    let mut r: Vec<f64> = a
        .times
        .iter()
        .zip(&b.times)
        .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
        .collect();
    r.sort_by(|x, y| x.partial_cmp(y).unwrap());
    r[r.len() / 2]
}
