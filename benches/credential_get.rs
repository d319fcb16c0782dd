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
//! Rounds are interleaved so machine noise hits every contender alike. Every answer is checked
//! (a contender that returns no token would otherwise look fast). Goals (reported, not asserted):
//! env/keyutils ≤ 1.5 × credential-store; Secret Service no slower than `secret-tool lookup`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{run_with_stdin, stderr_str, unique_name, Sandbox, SecretService};

const TOKEN: &str = "bench_tok_0123456789abcdefghijklmnopqrstuvwxyz";

struct Contender {
    name: &'static str,
    cmd: Command,
    stdin: Option<std::path::PathBuf>,
    times: Vec<Duration>,
}

impl Contender {
    fn once(&mut self) -> Duration {
        if let Some(p) = &self.stdin {
            self.cmd.stdin(Stdio::from(File::open(p).unwrap()));
        } else {
            self.cmd.stdin(Stdio::null());
        }
        let start = Instant::now();
        let out = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let took = start.elapsed();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(TOKEN),
            "{} did not return the token: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

fn stats(t: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = t.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = ms[ms.len() / 2];
    let p90 = ms[ms.len() * 9 / 10];
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    (median, mean, p90)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes benches with --list
    }
    let rounds: usize = std::env::var("GOCRED_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let s = Sandbox::new();
    let ss = SecretService::start();
    let svc = unique_name("gocred-bench");
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
    let store_file = s.path("git-credentials");
    std::fs::write(
        &store_file,
        format!("https://alice:{TOKEN}@store.corp.test\n"),
    )
    .unwrap();

    let req = |host: &str| {
        let p = s.path(&format!("req-{host}"));
        std::fs::write(&p, format!("protocol=https\nhost={host}\n\n")).unwrap();
        Some(p)
    };
    let mut store = s.git();
    store
        .args(["credential-store", "--file"])
        .arg(&store_file)
        .arg("get");
    let mut env_get = gocred("auto");
    env_get.arg("get");
    let mut ku_get = gocred("keyutils");
    ku_get.arg("get");
    let mut ss_get = gocred("secret-service");
    ss_get.arg("get");
    let mut st = s.command("secret-tool");
    st.args(["lookup", "service", "gocred-bench-st", "user", "alice"]);
    ss.apply(&mut st);

    let mut cs = [
        Contender {
            name: "git credential-store get",
            cmd: store,
            stdin: req("store.corp.test"),
            times: vec![],
        },
        Contender {
            name: "gocred get (env)",
            cmd: env_get,
            stdin: req("env.corp.test"),
            times: vec![],
        },
        Contender {
            name: "gocred get (keyutils)",
            cmd: ku_get,
            stdin: req("ku.corp.test"),
            times: vec![],
        },
        Contender {
            name: "secret-tool lookup",
            cmd: st,
            stdin: None,
            times: vec![],
        },
        Contender {
            name: "gocred get (secret-service)",
            cmd: ss_get,
            stdin: req("ss.corp.test"),
            times: vec![],
        },
    ];
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
    println!("{rounds} rounds, interleaved; wall time per request (ms)");
    println!(
        "{:<30} {:>8} {:>8} {:>8}",
        "contender", "median", "mean", "p90"
    );
    let med: Vec<f64> = cs
        .iter()
        .map(|c| {
            let (m, mean, p90) = stats(&c.times);
            println!("{:<30} {:>8.3} {:>8.3} {:>8.3}", c.name, m, mean, p90);
            m
        })
        .collect();
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
    let _ = run_with_stdin(gocred("keyutils").args(["logout", "ku.corp.test"]), b"");
    let _ = run_with_stdin(
        gocred("secret-service").args(["logout", "ss.corp.test"]),
        b"",
    );
}
