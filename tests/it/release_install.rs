//! The release path, as a user without Rust meets it: `install/release.sh` packages gocred,
//! nginx serves the archive, `SHA256SUMS` and `install.sh` over HTTPS (test CA) as
//! `releases.corp.test`, the installer runs in a sealed HOME whose PATH holds only the tools a
//! plain machine has (no cargo), and a real `go mod download` of a private module then goes
//! through the gocred it installed. A corrupted archive or a wrong checksum is refused and
//! nothing is installed. The same release feeds the GitHub Action's composite steps (run under
//! an emulated runner: GITHUB_ENV, GITHUB_PATH, RUNNER_*, the tool cache, the `always()` wipe)
//! and the GitLab template's before_script/after_script in an image with Go and no cargo.
//!
//! The archive holds this test run's gocred (debug build, stripped to keep the archive small)
//! under the name of the Linux release target, so no release build is needed; set
//! `GOCRED_RELEASE_BINARY` to package another binary (e.g. a real musl release build).
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;
use crate::support::release::{
    archive_name, publish, release_dist, repo, target, tool_dir, BASE_TOOLS, VERSION,
};
use crate::support::{
    assert_success, stderr_str, stdout_str, GitServer, Sandbox, GIT_HOST, RELEASES_HOST,
};

const USER: &str = "ci-bot";
const TOKEN: &str = "glpat-release-canary-0123456789";
const MODULE: &str = "git.corp.test/lax/lib@v1.0.0";

/// A sealed machine: the sandbox HOME, the git server (also serving the release), and a PATH
/// of `tools` + Go, without cargo.
struct Machine {
    s: Sandbox,
    server: GitServer,
    base_url: String,
    tools: PathBuf,
}

impl Machine {
    fn new(downloader: &str) -> Machine {
        let s = Sandbox::new();
        let server = GitServer::start(&[(USER, TOKEN)]);
        let base_url = publish(&server);
        let mut names = BASE_TOOLS.to_vec();
        names.push(downloader);
        let tools = tool_dir(&s.root().join("tools"), &names);
        s.consumer_main("git.corp.test/lax/lib", "v1.0.0");
        Machine {
            s,
            server,
            base_url,
            tools,
        }
    }

    /// PATH: `first` dirs, then the tools, then Go.
    fn path(&self, first: &[&Path]) -> String {
        let mut dirs: Vec<String> = first.iter().map(|p| p.display().to_string()).collect();
        dirs.push(self.tools.display().to_string());
        dirs.push(support::go_bin_dir().display().to_string());
        dirs.join(":")
    }

    /// A command in the sandbox with the server's env and the sealed PATH.
    fn cmd(&self, program: &str, first_on_path: &[&Path]) -> Command {
        let mut c = self.s.command(program);
        self.server.apply(&mut c);
        c.env("PATH", self.path(first_on_path));
        c
    }

    /// `curl -fsSL <base>/install.sh | sh -s -- ARGS` (the README's one-liner).
    fn one_liner(&self, args: &str) -> Output {
        let script = format!(
            "curl -fsSL {}/install.sh | sh -s -- --base-url {} {args}",
            self.base_url, self.base_url
        );
        self.cmd("sh", &[]).args(["-c", &script]).output().unwrap()
    }

    fn local_bin(&self) -> PathBuf {
        self.s.path(".local/bin")
    }

    fn release_requests(&self) -> usize {
        self.server
            .access_entries()
            .iter()
            .filter(|e| e.host == RELEASES_HOST)
            .count()
    }

    /// An `env` rule for git.corp.test, the token in `CORP_TOKEN`.
    fn env_rule_config(&self, at: &Path) {
        support::write_file(
            at,
            format!(
                "[[rule]]\npattern = \"{GIT_HOST}\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\nusername = \"{USER}\"\n"
            ),
        );
    }

    fn users_seen_by_git_endpoint(&self) -> Vec<String> {
        self.server
            .git_fetches()
            .into_iter()
            .filter_map(|e| e.user)
            .collect()
    }
}

fn assert_no_cargo(m: &Machine) {
    let out = m
        .cmd("sh", &[])
        .args(["-c", "command -v cargo rustc cc"])
        .output()
        .unwrap();
    assert!(
        !out.status.success() && stdout_str(&out).is_empty(),
        "the sealed PATH has a Rust toolchain: {}",
        stdout_str(&out)
    );
}

#[test]
fn one_liner_installs_without_rust_and_go_fetches_through_the_installed_gocred() {
    let m = Machine::new("curl");
    assert_no_cargo(&m);
    let out = m.one_liner("");
    assert_success(&out, "the install one-liner");
    let err = stderr_str(&out);
    let bin = m.local_bin();
    assert!(
        err.contains("verified sha256 "),
        "no verification line: {err}"
    );
    // Not on PATH (root's or anyone's): the exact line for this shell.
    assert!(
        err.contains(&format!("export PATH=\"{}:$PATH\"", bin.display())),
        "{err}"
    );
    assert!(stdout_str(&out).contains(&format!("installed: {}/gocred", bin.display())));
    assert_eq!(
        std::fs::read_link(bin.join("git-credential-gocred")).unwrap(),
        Path::new("gocred")
    );
    let share = m.s.path(".local/share");
    for f in [
        "man/man1/gocred.1",
        "man/man1/gocred-ci-netrc.1",
        "bash-completion/completions/gocred",
        "zsh/site-functions/_gocred",
        "fish/vendor_completions.d/gocred.fish",
    ] {
        assert!(share.join(f).is_file(), "{f} not installed");
    }
    let v = m.cmd("gocred", &[&bin]).arg("--version").output().unwrap();
    assert_success(&v, "installed gocred --version");
    assert!(stdout_str(&v).starts_with(&format!("gocred {VERSION}")));

    // git finds `git-credential-gocred` on PATH: the installed one, the only one there is.
    m.env_rule_config(&m.s.config_path);
    support::run_ok(
        m.cmd("git", &[&bin])
            .args(["config", "--global"])
            .arg(format!("credential.https://{GIT_HOST}.helper"))
            .arg("gocred"),
    );
    let which = m
        .cmd("sh", &[&bin])
        .args(["-c", "command -v git-credential-gocred"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_str(&which).trim(),
        bin.join("git-credential-gocred").display().to_string()
    );
    let go = m
        .cmd("go", &[&bin])
        .args(["mod", "download", MODULE])
        .current_dir(m.s.path("consumer"))
        .env("GOPRIVATE", GIT_HOST)
        .env("CORP_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_success(&go, "go mod download through the installed gocred");
    let users = m.users_seen_by_git_endpoint();
    assert!(
        !users.is_empty() && users.iter().all(|u| u == USER),
        "{users:?}"
    );
}

#[test]
fn wget_alone_installs_into_a_prefix_and_a_second_run_replaces_in_place() {
    let m = Machine::new("wget");
    // GNU wget takes its CA bundle from ~/.wgetrc (it ignores SSL_CERT_FILE).
    support::write_file(
        &m.s.path(".wgetrc"),
        format!("ca_certificate = {}\n", m.server.ca_bundle().display()),
    );
    let prefix = m.s.root().join("opt");
    let mut c = m.cmd("sh", &[]);
    c.arg(repo().join("install/install.sh"))
        .args(["--release", "--version", VERSION, "--base-url", &m.base_url])
        .arg("--prefix")
        .arg(&prefix);
    assert_success(&c.output().unwrap(), "install.sh with wget");
    let first = std::fs::metadata(prefix.join("bin/gocred")).unwrap();
    let again = m
        .cmd("sh", &[])
        .arg(repo().join("install/install.sh"))
        .args(["--release", "--base-url", &m.base_url])
        .arg(format!("--prefix={}", prefix.display()))
        .output()
        .unwrap();
    assert_success(&again, "second install.sh run");
    use std::os::unix::fs::MetadataExt;
    let second = std::fs::metadata(prefix.join("bin/gocred")).unwrap();
    // Renamed over, not written into: a gocred running during an upgrade keeps its file.
    assert_ne!(first.ino(), second.ino());
    assert_eq!(
        std::fs::read(prefix.join("bin/gocred")).unwrap(),
        std::fs::read(release_binary_in(&m)).unwrap()
    );
}

/// The binary inside the published archive, unpacked into a temp dir.
fn release_binary_in(m: &Machine) -> PathBuf {
    let dir = m.s.root().join("unpacked");
    support::mkdir(&dir);
    support::run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(release_dist().join(archive_name()))
            .arg("-C")
            .arg(&dir),
    );
    dir.join(format!("gocred-{VERSION}-{}/gocred", target()))
}

/// An older gocred already in the prefix: a refused download must leave it exactly as it was.
fn refused(m: &Machine, what: &str) -> String {
    let prefix = m.s.root().join("prefix");
    support::write_file(&prefix.join("bin/gocred"), "old gocred\n");
    let out = m
        .cmd("sh", &[])
        .arg(repo().join("install/install.sh"))
        .args(["--base-url", &m.base_url])
        .arg("--prefix")
        .arg(&prefix)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
    assert_eq!(
        std::fs::read_to_string(prefix.join("bin/gocred")).unwrap(),
        "old gocred\n",
        "{what}: the installed gocred changed"
    );
    let mut left: Vec<_> = support::files_under(&prefix);
    left.sort();
    assert_eq!(
        left,
        vec![prefix.join("bin/gocred")],
        "{what}: installed something"
    );
    stderr_str(&out)
}

#[test]
fn a_corrupted_archive_is_refused_and_nothing_is_installed() {
    let m = Machine::new("curl");
    let archive = m
        .server
        .releases_dir()
        .join(format!("v{VERSION}/{}", archive_name()));
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, bytes).unwrap();
    let err = refused(&m, "corrupted archive");
    assert!(
        err.contains(&format!("checksum mismatch for {}", archive_name()))
            && err.contains("nothing installed"),
        "{err}"
    );
}

#[test]
fn a_wrong_checksum_is_refused_and_nothing_is_installed() {
    let m = Machine::new("curl");
    let sums = m
        .server
        .releases_dir()
        .join(format!("v{VERSION}/SHA256SUMS"));
    let text = std::fs::read_to_string(&sums).unwrap();
    let wrong: String = text
        .lines()
        .map(|l| format!("{}{}\n", "0".repeat(64), &l[64..]))
        .collect();
    std::fs::write(&sums, wrong).unwrap();
    let err = refused(&m, "wrong checksum");
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn no_release_for_the_version_or_the_place_says_so_with_status_3() {
    let m = Machine::new("curl");
    for (args, says) in [
        (vec!["--version", "9.9.9"], "no gocred-9.9.9-"),
        (
            vec!["--base-url", &format!("https://{RELEASES_HOST}/nowhere")],
            "SHA256SUMS: 404",
        ),
    ] {
        let prefix = m.s.root().join("p3");
        let mut c = m.cmd("sh", &[]);
        c.arg(repo().join("install/install.sh"))
            .args(["--base-url", &m.base_url])
            .args(&args)
            .arg("--prefix")
            .arg(&prefix);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
        assert!(
            stderr_str(&out).contains(says),
            "{args:?}: {}",
            stderr_str(&out)
        );
        assert!(!prefix.exists(), "{args:?}: installed something");
    }
}

#[test]
fn from_a_checkout_without_rust_says_what_is_missing_and_how_to_get_a_release() {
    let m = Machine::new("curl");
    let out = m
        .cmd("sh", &[])
        .arg(repo().join("install/install.sh"))
        .arg("--prefix")
        .arg(m.s.root().join("p"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr_str(&out);
    assert!(
        err.contains("building needs Rust (cargo") && err.contains("a C compiler and linker"),
        "{err}"
    );
    assert!(err.contains("install.sh --release"), "{err}");
}

#[test]
fn init_without_go_says_what_is_missing_after_installing() {
    let m = Machine::new("curl");
    // No Go on this PATH: only the tools.
    let out = m
        .cmd("sh", &[])
        .env("PATH", m.tools.display().to_string())
        .arg(repo().join("install/install.sh"))
        .args(["--release", "--base-url", &m.base_url, "--init"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr_str(&out);
    assert!(
        err.contains("gocred is installed, but `gocred init` needs Go 1.24 or later"),
        "{err}"
    );
    assert!(m.local_bin().join("gocred").is_file());
}

// ---- GitHub Action: the composite steps under an emulated runner ----------------------------

/// One composite step of install/github/action.yml.
struct Step {
    name: String,
    cond: Option<String>,
    env: Vec<(String, String)>,
    run: String,
    working_directory: Option<String>,
}

fn yaml(path: &Path) -> serde_yaml_ng::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn action_steps() -> (BTreeMap<String, String>, Vec<Step>) {
    let doc = yaml(&repo().join("install/github/action.yml"));
    let defaults = doc["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = v["default"].as_str().unwrap_or("").to_string();
            (k.as_str().unwrap().to_string(), default)
        })
        .collect();
    assert_eq!(doc["runs"]["using"].as_str(), Some("composite"));
    let steps = doc["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["shell"].as_str(), Some("bash"), "{s:?}");
            Step {
                name: s["name"].as_str().unwrap().to_string(),
                cond: s["if"].as_str().map(str::to_string),
                env: s["env"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into()))
                            .collect()
                    })
                    .unwrap_or_default(),
                run: s["run"].as_str().unwrap().to_string(),
                working_directory: s["working-directory"].as_str().map(str::to_string),
            }
        })
        .collect();
    (defaults, steps)
}

/// `${{ … }}` as the runner expands it, for the expressions action.yml uses (any other one
/// fails the test, so the emulator cannot silently drift from the file).
fn expand(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("unclosed ${{") + i;
        let expr = rest[i + 3..end].trim();
        let value = match expr.strip_prefix("inputs.") {
            Some(name) => inputs
                .get(name)
                .unwrap_or_else(|| panic!("unknown input {name}"))
                .clone(),
            // A local action (uses: ./…) has neither.
            None if expr == "github.action_repository" || expr == "github.action_ref" => {
                String::new()
            }
            None => panic!("the emulator does not know ${{{{ {expr} }}}}"),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Whether a step runs: `if:` as the runner evaluates the conditions action.yml uses.
fn runs(cond: Option<&str>, failed: bool, inputs: &BTreeMap<String, String>) -> bool {
    let has_run = !inputs["run"].is_empty();
    match cond {
        None => !failed,
        Some("inputs.run != ''") => !failed && has_run,
        Some("inputs.run == ''") => !failed && !has_run,
        Some("always() && inputs.run != ''") => has_run,
        Some("always()") => true,
        Some(other) => panic!("the emulator does not know if: {other}"),
    }
}

struct StepRun {
    name: String,
    out: Output,
}

struct Runner<'a> {
    m: &'a Machine,
    temp: PathBuf,
    tool_cache: PathBuf,
    workspace: PathBuf,
}

impl Runner<'_> {
    /// Runs the action's steps as a job does, with `inputs` over the defaults. Steps that do
    /// not run are left out of the result.
    fn job(&self, given: &[(&str, &str)]) -> Vec<StepRun> {
        self.job_around(given, Vec::new(), Vec::new())
    }

    /// [`Runner::job`] between the workflow's own steps: `before` runs first, `later` after
    /// (each sees what the steps before it put in `GITHUB_ENV` and `GITHUB_PATH`).
    fn job_around(
        &self,
        given: &[(&str, &str)],
        before: Vec<Step>,
        later: Vec<Step>,
    ) -> Vec<StepRun> {
        let (mut inputs, action) = action_steps();
        let steps: Vec<Step> = before.into_iter().chain(action).chain(later).collect();
        for (k, v) in given {
            assert!(inputs.contains_key(*k), "no input {k}");
            inputs.insert(k.to_string(), v.to_string());
        }
        support::mkdir(&self.temp);
        let mut job_env: BTreeMap<String, String> = BTreeMap::new();
        let mut path_prepend: Vec<String> = Vec::new();
        let mut failed = false;
        let mut results = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            if !runs(step.cond.as_deref(), failed, &inputs) {
                continue;
            }
            let script = self.temp.join(format!("step-{n}.sh"));
            support::write_file(&script, expand(&step.run, &inputs));
            let env_file = self.temp.join(format!("env-{n}"));
            let path_file = self.temp.join(format!("path-{n}"));
            support::write_file(&env_file, "");
            support::write_file(&path_file, "");
            let mut first: Vec<PathBuf> = path_prepend.iter().rev().map(PathBuf::from).collect();
            first.dedup();
            let first_refs: Vec<&Path> = first.iter().map(PathBuf::as_path).collect();
            let mut c = self.m.cmd("bash", &first_refs);
            c.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script)
                .envs(self.runner_env())
                .envs(&job_env)
                .env("GITHUB_ENV", &env_file)
                .env("GITHUB_PATH", &path_file)
                .current_dir(match &step.working_directory {
                    Some(d) => self.workspace.join(expand(d, &inputs)),
                    None => self.workspace.clone(),
                });
            for (k, v) in &step.env {
                c.env(k, expand(v, &inputs));
            }
            let out = c.output().unwrap();
            failed |= !out.status.success();
            job_env.extend(parse_github_env(
                &std::fs::read_to_string(&env_file).unwrap(),
            ));
            path_prepend.extend(
                std::fs::read_to_string(&path_file)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
            results.push(StepRun {
                name: step.name.clone(),
                out,
            });
        }
        results
    }

    fn runner_env(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        vec![
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("CI".into(), "true".into()),
            ("GITHUB_RUN_ID".into(), "777".into()),
            ("GITHUB_JOB".into(), "build".into()),
            ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
            ("GITHUB_REPOSITORY".into(), "acme/app".into()),
            ("GITHUB_WORKSPACE".into(), s(&self.workspace)),
            (
                "GITHUB_ACTION_PATH".into(),
                s(&repo().join("install/github")),
            ),
            ("RUNNER_TEMP".into(), s(&self.temp)),
            ("RUNNER_TOOL_CACHE".into(), s(&self.tool_cache)),
            ("RUNNER_OS".into(), "Linux".into()),
            (
                "RUNNER_ARCH".into(),
                match std::env::consts::ARCH {
                    "aarch64" => "ARM64",
                    _ => "X64",
                }
                .into(),
            ),
            ("CORP_TOKEN".into(), TOKEN.into()),
        ]
    }
}

/// `NAME=value` lines and `NAME<<DELIM` … `DELIM` blocks.
fn parse_github_env(text: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let body: Vec<&str> = lines.by_ref().take_while(|x| *x != delim).collect();
            v.push((k.to_string(), body.join("\n")));
        } else if let Some((k, val)) = l.split_once('=') {
            v.push((k.to_string(), val.to_string()));
        }
    }
    v
}

fn step<'a>(runs: &'a [StepRun], name_starts: &str) -> &'a StepRun {
    runs.iter()
        .find(|r| r.name.starts_with(name_starts))
        .unwrap_or_else(|| {
            panic!(
                "step {name_starts} did not run; ran: {:?}",
                runs.iter().map(|r| &r.name).collect::<Vec<_>>()
            )
        })
}

fn runner<'a>(m: &'a Machine, job: &str) -> Runner<'a> {
    let workspace = m.s.path("ws");
    support::mkdir(&workspace);
    Runner {
        m,
        temp: m.s.root().join(format!("runner-temp-{job}")),
        tool_cache: m.s.root().join("toolcache"),
        workspace,
    }
}

#[test]
fn github_action_installs_the_release_into_the_tool_cache_runs_the_job_and_wipes() {
    let m = Machine::new("curl");
    assert_no_cargo(&m);
    let r = runner(&m, "1");
    m.env_rule_config(&r.workspace.join(".gocred.toml"));
    support::write_file(
        &r.workspace.join("consumer/go.mod"),
        std::fs::read_to_string(m.s.path("consumer/go.mod")).unwrap(),
    );
    let job = r.job(&[
        ("base-url", m.base_url.as_str()),
        ("goprivate", GIT_HOST),
        ("working-directory", "consumer"),
        ("run", &format!("go mod download {MODULE}")),
    ]);
    for s in &job {
        assert_success(&s.out, &s.name);
    }
    let arch = if std::env::consts::ARCH == "aarch64" {
        "arm64"
    } else {
        "x64"
    };
    let cached = r.tool_cache.join(format!("gocred/{VERSION}/{arch}"));
    assert!(cached.join("bin/gocred").is_file());
    assert!(r
        .tool_cache
        .join(format!("gocred/{VERSION}/{arch}.complete"))
        .is_file());
    let install = step(&job, "Install gocred");
    assert!(
        stderr_str(&install.out).contains("verified sha256"),
        "{:?}",
        install.out
    );
    // With `run`, the job is served from memory (`ci exec`): the token was masked before use
    // and reached git without a netrc step, and no file holds it after.
    assert!(
        job.iter()
            .all(|r| !r.name.starts_with("Write the job's netrc")),
        "the netrc step ran although `run` was given"
    );
    let run_step = step(&job, "Run (gocred ci exec)");
    assert!(
        stdout_str(&run_step.out).contains(&format!("::add-mask::{TOKEN}")),
        "{}",
        stdout_str(&run_step.out)
    );
    assert!(
        m.users_seen_by_git_endpoint().iter().any(|u| u == USER),
        "git did not authenticate"
    );
    step(&job, "Wipe");
    let netrc = std::fs::read_to_string(m.s.path(".netrc")).unwrap_or_default();
    assert!(!netrc.contains(TOKEN), "token left in ~/.netrc: {netrc}");

    // The next job on this runner, pinned: straight from the tool cache, no download.
    let before = m.release_requests();
    let r2 = runner(&m, "2");
    let job2 = r2.job(&[
        ("version", VERSION),
        ("goprivate", GIT_HOST),
        ("run", "gocred --version"),
    ]);
    for s in &job2 {
        assert_success(&s.out, &s.name);
    }
    assert!(stderr_str(&step(&job2, "Install gocred").out).contains("from the tool cache"));
    assert_eq!(m.release_requests(), before, "downloaded again");
}

#[test]
fn github_action_wipes_after_a_failing_run_and_never_falls_back_on_a_bad_checksum() {
    let m = Machine::new("curl");
    let r = runner(&m, "1");
    m.env_rule_config(&r.workspace.join(".gocred.toml"));
    let job = r.job(&[
        ("base-url", m.base_url.as_str()),
        ("goprivate", GIT_HOST),
        ("run", "test ! -e ~/.netrc\nexit 7"),
    ]);
    let run = step(&job, "Run");
    assert_eq!(run.out.status.code(), Some(7), "{:?}", run.out);
    assert_success(&step(&job, "Wipe").out, "the always() wipe");
    let netrc = std::fs::read_to_string(m.s.path(".netrc")).unwrap_or_default();
    assert!(!netrc.contains(TOKEN), "token left in ~/.netrc: {netrc}");

    // A tampered archive: the install step fails (no cargo fallback), nothing is cached, and
    // no later step but the always() wipe runs.
    let archive = m
        .server
        .releases_dir()
        .join(format!("v{VERSION}/{}", archive_name()));
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[100] ^= 0x80;
    std::fs::write(&archive, bytes).unwrap();
    let r2 = Runner {
        tool_cache: m.s.root().join("toolcache-2"),
        ..runner(&m, "2")
    };
    let job2 = r2.job(&[("base-url", m.base_url.as_str()), ("run", "true")]);
    let install = step(&job2, "Install gocred");
    assert!(!install.out.status.success());
    let err = stderr_str(&install.out);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!err.contains("cargo"), "fell back to building: {err}");
    assert!(!r2.tool_cache.join("gocred").join(VERSION).exists());
    let names: Vec<&str> = job2.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Install gocred", "Wipe (gocred ci wipe)"]);
}

/// A step of the workflow itself, after the action's.
fn user_step(name: &str, cond: Option<&str>, env: &[(&str, &str)], run: &str) -> Step {
    Step {
        name: name.to_string(),
        cond: cond.map(str::to_string),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        run: run.to_string(),
        working_directory: None,
    }
}

/// The module's repository over plain http (`http_proxy` sends it to a recorder, no DNS).
const HTTP_GIT: &str = "git ls-remote http://git.corp.test/lax/lib.git";

#[test]
fn github_action_without_run_writes_the_netrc_and_later_steps_git_refuses_plain_http() {
    let m = Machine::new("curl");
    let r = runner(&m, "1");
    m.env_rule_config(&r.workspace.join(".gocred.toml"));
    support::write_file(
        &r.workspace.join("go.mod"),
        std::fs::read_to_string(m.s.path("consumer/go.mod")).unwrap(),
    );
    // One recorder for git as the action leaves it, one for a command that allows http again.
    let (refused, allowed) = (
        support::PlainHttpRecorder::start(),
        support::PlainHttpRecorder::start(),
    );
    let (p1, p2) = (refused.url(), allowed.url());
    let job = r.job_around(
        &[("base-url", m.base_url.as_str()), ("goprivate", GIT_HOST)],
        // The job has a GIT_CONFIG_* entry of its own before the action: it is kept.
        vec![user_step(
            "own git config",
            None,
            &[],
            "{ echo GIT_CONFIG_COUNT=1; echo GIT_CONFIG_KEY_0=user.name; \
             echo GIT_CONFIG_VALUE_0=ci-user; } >> \"$GITHUB_ENV\"",
        )],
        vec![
            user_step("go", None, &[], &format!("go mod download {MODULE}")),
            user_step(
                "plain http",
                None,
                &[("http_proxy", p1.as_str()), ("HTTP_PROXY", p1.as_str())],
                &format!("if {HTTP_GIT} 2> http-err; then exit 9; fi; git config user.name"),
            ),
            user_step(
                "allowed on purpose",
                None,
                &[("http_proxy", p2.as_str()), ("HTTP_PROXY", p2.as_str())],
                &format!(
                    "git -c protocol.http.allow=always {} || true",
                    &HTTP_GIT[4..]
                ),
            ),
            user_step("Wipe", Some("always()"), &[], "gocred ci wipe"),
        ],
    );
    for s in &job {
        assert_success(&s.out, &s.name);
    }
    step(&job, "Write the job's netrc");
    assert!(
        m.users_seen_by_git_endpoint().iter().any(|u| u == USER),
        "git did not authenticate over https"
    );
    let err = std::fs::read_to_string(r.workspace.join("http-err")).unwrap();
    assert!(err.contains("transport 'http' not allowed"), "{err}");
    assert_eq!(refused.requests(), 0, "git went out over plain http");
    assert_eq!(stdout_str(&step(&job, "plain http").out).trim(), "ci-user");
    assert!(
        allowed.requests() > 0,
        "control: git did not try plain http"
    );
    assert!(
        allowed.saw(USER, TOKEN),
        "control: with http allowed, libcurl sends the entry (the README says so)"
    );
    let netrc = std::fs::read_to_string(m.s.path(".netrc")).unwrap_or_default();
    assert!(!netrc.contains(TOKEN), "token left in ~/.netrc: {netrc}");
}

// ---- GitLab CI: the template's scripts in a Go image without cargo ---------------------------

#[test]
fn gitlab_template_installs_the_release_in_a_go_image_without_cargo_and_wipes() {
    let m = Machine::new("curl");
    assert_no_cargo(&m);
    let doc = yaml(&repo().join("install/gitlab/gocred.gitlab-ci.yml"));
    let job = &doc[".gocred"];
    let project = m.s.path("project");
    m.env_rule_config(&project.join(".gocred.toml"));
    support::write_file(
        &project.join("go.mod"),
        std::fs::read_to_string(m.s.path("consumer/go.mod")).unwrap(),
    );
    // GitLab expands $CI_PROJECT_DIR in variables; the job's own variables come last.
    let mut vars: Vec<(String, String)> = job["variables"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap()
                .replace("$CI_PROJECT_DIR", &project.display().to_string());
            (k.as_str().unwrap().to_string(), v)
        })
        .collect();
    vars.extend([
        ("GOCRED_BASE_URL".to_string(), m.base_url.clone()),
        ("GOPRIVATE".to_string(), GIT_HOST.to_string()),
        ("CORP_TOKEN".to_string(), TOKEN.to_string()),
        ("GITLAB_CI".to_string(), "true".to_string()),
        ("CI".to_string(), "true".to_string()),
        ("CI_JOB_ID".to_string(), "4711".to_string()),
        ("CI_PROJECT_DIR".to_string(), project.display().to_string()),
        // A GIT_CONFIG_* entry of the job's own: the template appends to it.
        ("GIT_CONFIG_COUNT".to_string(), "1".to_string()),
        ("GIT_CONFIG_KEY_0".to_string(), "user.name".to_string()),
        ("GIT_CONFIG_VALUE_0".to_string(), "ci-user".to_string()),
    ]);
    let rec = support::PlainHttpRecorder::start();
    let lines = |key: &str| -> String {
        job[key]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // before_script and script share one shell; after_script gets a new one.
    let main = format!(
        "{}\ngo mod download {MODULE}\ngrep -q {USER} ~/.netrc\n\
         if http_proxy={p} {HTTP_GIT} 2> http-err; then exit 9; fi\n\
         test \"$(git config user.name)\" = ci-user\n",
        lines("before_script"),
        p = rec.url(),
    );
    let shell = |script: &str| {
        m.cmd("sh", &[])
            .args(["-e", "-c", script])
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(&project)
            .output()
            .unwrap()
    };
    let out = shell(&main);
    assert_success(&out, "before_script + script");
    assert!(
        stderr_str(&out).contains("verified sha256"),
        "{}",
        stderr_str(&out)
    );
    assert!(m.local_bin().join("gocred").is_file());
    assert!(m.users_seen_by_git_endpoint().iter().any(|u| u == USER));
    // The rest of the job's git refuses plain http, so the netrc entry never goes out over it.
    let err = std::fs::read_to_string(project.join("http-err")).unwrap();
    assert!(err.contains("transport 'http' not allowed"), "{err}");
    assert_eq!(rec.requests(), 0, "git went out over plain http");
    let after = shell(&lines("after_script"));
    assert_success(&after, "after_script");
    let netrc = std::fs::read_to_string(m.s.path(".netrc")).unwrap_or_default();
    assert!(!netrc.contains(TOKEN), "token left in ~/.netrc: {netrc}");
}

// ---- the archive's completions and man page ---------------------------------------------------

#[test]
fn archive_completions_load_in_bash_and_its_man_page_renders() {
    let dir = tempfile::tempdir().unwrap();
    support::run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(release_dist().join(archive_name()))
            .arg("-C")
            .arg(dir.path()),
    );
    let root = dir.path().join(format!("gocred-{VERSION}-{}", target()));
    let out = support::run_ok(
        Command::new("bash")
            .args([
                "--noprofile",
                "--norc",
                "-c",
                "source \"$1\" && complete -p gocred",
                "_",
            ])
            .arg(root.join("completions/gocred.bash")),
    );
    assert_eq!(
        stdout_str(&out).trim(),
        "complete -o bashdefault -o default -o nosort -F _gocred gocred"
    );
    // The completion function offers the real subcommands.
    let out = support::run_ok(Command::new("bash").args([
        "--noprofile",
        "--norc",
        "-c",
        "source \"$1\"; COMP_WORDS=(gocred ci ''); COMP_CWORD=2; _gocred gocred '' ci; printf '%s\\n' \"${COMPREPLY[@]}\"",
        "_",
    ]).arg(root.join("completions/gocred.bash")));
    let words = stdout_str(&out);
    for w in ["netrc", "wipe", "exec"] {
        assert!(
            words.lines().any(|l| l == w),
            "`gocred ci <TAB>` lacks {w}: {words}"
        );
    }
    let man = support::require_tool("man");
    let out = support::run_ok(
        Command::new(&man)
            .arg("-l")
            .arg(root.join("man/man1/gocred.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "200")
            .env("LANG", "C.UTF-8"),
    );
    // Justified text: compare words, not spacing.
    let page = stdout_str(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        page.contains("NAME gocred - Credentials for private Go modules"),
        "{page}"
    );
    for sub in ["gocred-login(1)", "gocred-ci(1)", "gocred-completions(1)"] {
        assert!(page.contains(sub), "gocred(1) does not name {sub}:\n{page}");
        let file = root.join(format!("man/man1/{}.1", sub.trim_end_matches("(1)")));
        assert!(file.is_file(), "{sub} is named but not shipped");
    }
    for f in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "README.md",
        "completions/_gocred",
        "completions/gocred.fish",
        "completions/_gocred.ps1",
    ] {
        assert!(root.join(f).is_file(), "{f} missing from the archive");
    }
}
