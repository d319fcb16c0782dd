//! `gocred agent`, client mode, `gocred exec --agent` and `gocred ssh`, with real parts: the real
//! gocred binary on both sides, the GitHub REST API stand-in (tests/it/support/github_api.rs, which
//! records every mint with its repositories and permissions, and every revocation), the real
//! kernel keyring on the agent's side, and nothing on the far side but `GOCRED_AGENT`: a fresh
//! sandbox with no config, no keyring variables and no netrc. Raw socket peers (oversized,
//! malformed, idle, never reading) are Perl.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    run_parallel, run_with_stdin, stderr_str, stdout_str, GitServer, GithubApi, KeyringService,
    Sandbox,
};

const HOST: &str = "git.corp.test";

/// The machine that holds the secrets: a GitHub App rule for `git.corp.test`, its key in the
/// kernel keyring, the App installed on `acme` (lib, tool, secret) and `other` (lib).
struct Home {
    s: Sandbox,
    api: GithubApi,
    service: KeyringService,
}

impl Home {
    fn new() -> Home {
        let api = GithubApi::start();
        api.install(
            11,
            "acme",
            true,
            &["lib", "tool", "secret"],
            &[("contents", "read"), ("metadata", "read")],
        );
        api.install(22, "other", false, &["lib"], &[("contents", "read")]);
        let h = Home {
            s: Sandbox::new(),
            api,
            service: KeyringService::new("gocred-agent"),
        };
        let mut login = h.cmd();
        login.args([
            "login",
            HOST,
            "--source",
            "github-app",
            "--app-id",
            &h.api.app.id.to_string(),
            "--api-url",
            &h.api.url(),
        ]);
        let out = run_with_stdin(&mut login, h.api.app.private_key_pem.as_bytes());
        assert!(out.status.success(), "login: {}", stderr_str(&out));
        h
    }

    fn cmd(&self) -> Command {
        let mut c = self.s.gocred();
        c.env("GOCRED_KEYRING", "keyutils")
            .env("GOCRED_KEYRING_SERVICE", &self.service);
        c
    }

    /// `gocred agent ARGS`, started; returns once it printed its socket.
    fn agent(&self, args: &[&str]) -> Agent {
        let mut c = self.cmd();
        c.arg("agent").args(args);
        Agent::spawn(c)
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.s.path(".cache/gocred/agent-audit.log")).unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = run_with_stdin(self.cmd().args(["logout", HOST]), b"");
    }
}

struct Agent {
    child: Option<Child>,
    socket: PathBuf,
    _stdout: BufReader<ChildStdout>,
}

impl Agent {
    fn spawn(mut c: Command) -> Agent {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn gocred agent");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(sock) = line
            .strip_prefix("GOCRED_AGENT=")
            .and_then(|l| l.strip_suffix("; export GOCRED_AGENT;\n"))
        else {
            let out = child.wait_with_output().unwrap();
            panic!("agent did not start: {line:?}\n{}", stderr_str(&out));
        };
        Agent {
            socket: PathBuf::from(sock),
            child: Some(child),
            _stdout: stdout,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM, then its output once it has ended (the session's end: tokens revoked).
    fn stop(mut self) -> Output {
        let pid = self.pid().to_string();
        support::run_ok(Command::new("kill").args(["-TERM", &pid]));
        self.wait()
    }

    fn wait(&mut self) -> Output {
        let mut child = self.child.take().unwrap();
        let done = support::wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
            child.try_wait().unwrap().is_some()
        });
        if !done {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        assert!(done, "the agent did not end: {}", stderr_str(&out));
        support::canary::check(&out, "gocred agent");
        out
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The far side: a sandbox of its own with nothing but `GOCRED_AGENT`.
struct Far {
    s: Sandbox,
    socket: PathBuf,
}

impl Far {
    fn new(socket: &Path) -> Far {
        Far {
            s: Sandbox::new(),
            socket: socket.to_path_buf(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = self.s.gocred();
        c.env("GOCRED_AGENT", &self.socket);
        c
    }

    fn get(&self, path: Option<&str>) -> Output {
        let path = path.map(|p| format!("path={p}\n")).unwrap_or_default();
        run_with_stdin(
            self.cmd().arg("get"),
            format!("protocol=https\nhost={HOST}\n{path}\n").as_bytes(),
        )
    }
}

fn field(out: &str, key: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

fn sha256_prefix(token: &str) -> String {
    // `sha256sum` of the token, as the audit log's fingerprint (16 hex digits).
    let mut c = Command::new("sha256sum");
    let out = support::run_with_stdin_unchecked(&mut c, token.as_bytes());
    String::from_utf8_lossy(&out.stdout)[..16].to_string()
}

#[test]
fn the_far_side_gets_a_session_token_with_nothing_but_gocred_agent() {
    let home = Home::new();
    let agent = home.agent(&["--allow", "git.corp.test/acme/*"]);
    let far = Far::new(&agent.socket);

    let out = far.get(Some("acme/lib.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    let text = stdout_str(&out);
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1, "{mints:?}");
    assert_eq!(mints[0].installation, 11);
    assert!(
        mints[0].repositories.is_empty(),
        "acme/* allows every repository"
    );
    assert_eq!(
        mints[0].permissions.get("contents").map(String::as_str),
        Some("read")
    );
    let token = mints[0].token.clone();
    assert_eq!(field(&text, "password").as_deref(), Some(token.as_str()));
    assert_eq!(field(&text, "username").as_deref(), Some("x-access-token"));
    assert_eq!(
        field(&text, "password_expiry_utc"),
        Some(mints[0].expires_at.to_string())
    );

    // Same owner, same session token; no new mint.
    let again = stdout_str(&far.get(Some("acme/tool.git")));
    assert_eq!(field(&again, "password").as_deref(), Some(token.as_str()));
    assert_eq!(home.api.mints().len(), 1);

    // `token` and `goauth` in client mode.
    let out = run_with_stdin(far.cmd().args(["token", "git.corp.test/acme/lib"]), b"");
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(support::canary::raw_stdout(&out), format!("{token}\n"));
    let url = "https://git.corp.test/acme/lib?go-get=1";
    let out = run_with_stdin(
        far.cmd().args(["goauth", url]),
        b"HTTP/1.1 401 Unauthorized\n\n",
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    let g = stdout_str(&out);
    assert!(
        g.starts_with(&format!("{url}\n\nAuthorization: Basic ")),
        "{g}"
    );
    // Go's first call: nothing up front (the agent answers per URL).
    let out = run_with_stdin(far.cmd().arg("goauth"), b"");
    assert!(out.status.success(), "{}", stderr_str(&out));

    // Outside the allow-list: nothing, and a logged refusal.
    let out = far.get(Some("other/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("outside the session's allow-list"),
        "{}",
        stderr_str(&out)
    );
    let out = far.get(None);
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("useHttpPath"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(home.api.mints().len(), 1, "a refusal mints nothing");

    // store and erase are not forwarded: the session's token stays.
    let out = run_with_stdin(
        far.cmd().arg("erase"),
        format!("protocol=https\nhost={HOST}\npath=acme/lib.git\nusername=x-access-token\npassword={token}\n\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr_str(&out));
    let again = stdout_str(&far.get(Some("acme/lib.git")));
    assert_eq!(field(&again, "password").as_deref(), Some(token.as_str()));

    // status lists the session.
    let out = run_with_stdin(home.cmd().args(["agent", "status"]), b"");
    let status = stdout_str(&out);
    assert!(
        status.contains(&agent.socket.display().to_string()),
        "{status}"
    );
    assert!(status.contains("git.corp.test/acme/*"), "{status}");

    let audit = home.audit();
    assert!(!audit.contains(&token), "the audit log holds the token");
    let answered: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains(" event=answer "))
        .collect();
    assert!(
        answered
            .iter()
            .all(|l| l.contains(&format!("token=sha256:{}", sha256_prefix(&token)))),
        "{audit}"
    );
    assert!(
        answered.iter().any(|l| l.contains(" path=acme/lib.git ")),
        "{audit}"
    );
    let refused: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains(" event=refuse ") && l.contains(" path=other/lib.git "))
        .collect();
    assert_eq!(refused.len(), 1, "{audit}");
    assert!(refused[0].contains(" host=git.corp.test "), "{audit}");
    assert!(
        refused[0].contains(&format!(" uid={} ", my_uid())),
        "{audit}"
    );

    // The session ends: the token is revoked, the socket is gone, the far side fails clearly.
    let out = agent.stop();
    let err = stderr_str(&out);
    assert!(err.contains("revoked 1 token(s)"), "{err}");
    assert!(home.api.revoked().iter().any(|m| m.token == token));
    assert!(!far.socket.exists());
    let out = far.get(Some("acme/lib.git"));
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("gocred agent at"),
        "{}",
        stderr_str(&out)
    );
    let audit = home.audit();
    assert!(
        audit.lines().last().unwrap().contains(" event=end "),
        "{audit}"
    );
}

/// This process's uid (`id -u`).
fn my_uid() -> String {
    let out = support::run_ok(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn sixty_four_parallel_cold_far_side_gets_mint_once() {
    let home = Home::new();
    let agent = home.agent(&["--allow", "git.corp.test/acme"]);
    let far = Far::new(&agent.socket);
    let outs = run_parallel(
        64,
        || {
            let mut c = far.cmd();
            c.arg("get");
            c
        },
        format!("protocol=https\nhost={HOST}\npath=acme/lib.git\n\n").as_bytes(),
    );
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1, "{mints:?}");
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            field(&text, "password").as_deref(),
            Some(mints[0].token.as_str())
        );
    }
    drop(agent.stop());
}

#[test]
fn a_session_token_reaches_only_the_allowed_repositories_and_dies_with_the_session() {
    let home = Home::new();
    let mut agent = home.agent(&[
        "--allow",
        "git.corp.test/acme/lib",
        "--allow",
        "git.corp.test/acme/tool",
        "--ttl",
        "4s",
    ]);
    let far = Far::new(&agent.socket);
    let out = far.get(Some("acme/lib.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1);
    let mut repos = mints[0].repositories.clone();
    repos.sort();
    assert_eq!(repos, vec!["lib".to_string(), "tool".to_string()]);
    // The stand-in, like GitHub, lets that token reach those repositories only.
    let out = far.get(Some("acme/secret.git"));
    assert_eq!(stdout_str(&out), "");
    // The TTL passes: the agent ends by itself and revokes the token.
    let out = agent.wait();
    assert!(stderr_str(&out).contains("TTL"), "{}", stderr_str(&out));
    assert!(home.api.revoked().iter().any(|m| m.token == mints[0].token));
    let out = far.get(Some("acme/lib.git"));
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
}

#[test]
fn a_long_lived_secret_is_forwarded_only_with_an_explicit_opt_in() {
    let s = Sandbox::new();
    s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\n"
    ));
    let pat = "corp_pat_0123456789abcdef";
    support::canary::secret(pat);
    let start = |extra: &[&str]| {
        let mut c = s.gocred();
        c.env("CORP_TOKEN", pat)
            .args(["agent", "--allow", HOST])
            .args(extra);
        Agent::spawn(c)
    };
    let agent = start(&[]);
    let far = Far::new(&agent.socket);
    let out = far.get(Some("acme/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("--allow-long-lived"),
        "{}",
        stderr_str(&out)
    );
    drop(agent.stop());
    let agent = start(&["--allow-long-lived"]);
    let far = Far::new(&agent.socket);
    let out = far.get(Some("acme/lib.git"));
    assert_eq!(field(&stdout_str(&out), "password").as_deref(), Some(pat));
    drop(agent.stop());
}

/// Raw peers: `perl peer.pl SOCK MODE`.
/// `big`: 20 KiB without an empty line; `junk`: a frame that is not a request;
/// `ctl`: a request with a control character; `deaf`: a whole request, then never reads;
/// `idle N READY`: N connections from this one process, READY created once they are open.
const PEER: &str = r#"
use strict; use warnings; use IO::Socket::UNIX; $SIG{PIPE} = 'IGNORE'; $| = 1;
my ($path, $mode, @a) = @ARGV;
sub conn { IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) }
sub reply { my $s = shift; shutdown($s, 1); local $/; my $r = <$s>; print defined $r ? $r : ''; }
if ($mode eq 'big') { my $s = conn() or exit 0; syswrite($s, "get\n" . ("x" x 20000)); reply($s); }
elsif ($mode eq 'junk') { my $s = conn() or exit 0; print $s "hello\nthere\n\n"; reply($s); }
elsif ($mode eq 'ctl') { my $s = conn() or exit 0; print $s "get\nprotocol=https\nhost=git.corp.test\npath=acme/l\x01ib\n\n"; reply($s); }
elsif ($mode eq 'deaf') { my $s = conn() or exit 0; print $s "get\nprotocol=https\nhost=git.corp.test\npath=acme/lib.git\n\n"; sleep 30; }
elsif ($mode eq 'idle') {
    my ($n, $ready) = @a; my @c = grep { defined } map { conn() } 1..$n;
    open(my $f, '>', $ready); close $f; sleep 30;
}
"#;

#[test]
fn hostile_frames_and_floods_are_refused_while_a_good_client_is_served() {
    let home = Home::new();
    let agent = home.agent(&["--allow", "git.corp.test/acme/*"]);
    let far = Far::new(&agent.socket);
    let script = far.s.root().join("peer.pl");
    std::fs::write(&script, PEER).unwrap();
    let perl = |args: &[&str]| {
        let mut c = far.s.command("perl");
        c.arg(&script).arg(&agent.socket).args(args);
        c
    };
    for mode in ["big", "junk", "ctl"] {
        let out = support::run_ok(&mut perl(&[mode]));
        let text = stdout_str(&out);
        assert!(!text.contains("password="), "{mode}: {text}");
        assert!(
            text.is_empty() || text.starts_with("none\n"),
            "{mode}: {text}"
        );
    }
    let mut deaf = perl(&["deaf"]).spawn().unwrap();
    let ready = far.s.root().join("idle-ready");
    let mut idle = perl(&["idle", "200", ready.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(support::wait_until(
        Duration::from_secs(30),
        Duration::from_millis(20),
        || ready.exists()
    ));
    let out = far.get(Some("acme/lib.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert!(field(&stdout_str(&out), "password").is_some());
    let _ = deaf.kill();
    let _ = idle.kill();
    let _ = deaf.wait();
    let _ = idle.wait();
    let audit = home.audit();
    assert!(audit.contains("connections open already"), "{audit}");
    assert!(audit.contains("unknown request"), "{audit}");
    // Still serving afterwards.
    let out = far.get(Some("acme/tool.git"));
    assert!(out.status.success(), "{}", stderr_str(&out));
    drop(agent.stop());
}

#[test]
fn a_socket_that_is_not_the_users_own_agent_is_refused() {
    let far = Far::new(Path::new("/nonexistent/gocred.sock"));
    let t = Instant::now();
    let out = far.get(Some("acme/lib.git"));
    assert!(!out.status.success());
    assert!(
        stderr_str(&out).contains("gocred agent at"),
        "{}",
        stderr_str(&out)
    );
    let _ = t;
    // A plain file, and a socket others may use.
    let dir = far.s.root().join("fake");
    support::mkdir_private(&dir);
    let file = dir.join("f.sock");
    std::fs::write(&file, "").unwrap();
    let far = Far::new(&file);
    let out = far.get(Some("acme/lib.git"));
    assert!(
        stderr_str(&out).contains("not a socket"),
        "{}",
        stderr_str(&out)
    );
    let sock = dir.join("open.sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let far = Far::new(&sock);
    let out = far.get(Some("acme/lib.git"));
    assert!(
        stderr_str(&out).contains("mode 666"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn exec_agent_serves_its_own_process_tree_and_revokes_at_the_end() {
    let home = Home::new();
    let sock_file = home.s.root().join("sock-path");
    let gate = home.s.root().join("gate");
    let got = home.s.root().join("got");
    let script = format!(
        "printf 'protocol=https\\nhost={HOST}\\npath=acme/lib.git\\n\\n' | git-credential-gocred get > {got} || exit 3; \
         echo \"$GOCRED_AGENT\" > {sock}; i=0; while [ ! -e {gate} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done",
        got = got.display(),
        sock = sock_file.display(),
        gate = gate.display(),
    );
    let mut c = home.cmd();
    c.args([
        "exec",
        "--agent",
        "--allow",
        "git.corp.test/acme/*",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    assert!(support::wait_until(
        Duration::from_secs(30),
        Duration::from_millis(20),
        || std::fs::read_to_string(&sock_file).is_ok_and(|s| s.ends_with('\n'))
    ));
    let sock = std::fs::read_to_string(&sock_file).unwrap();
    let token = home.api.mints()[0].token.clone();
    let inside = std::fs::read_to_string(&got).unwrap();
    assert_eq!(field(&inside, "password").as_deref(), Some(token.as_str()));
    // A process of the same user outside the tree gets nothing.
    let far = Far::new(Path::new(sock.trim_end()));
    let out = far.get(Some("acme/lib.git"));
    assert_eq!(stdout_str(&out), "");
    assert!(!out.status.success());
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    support::assert_success(&out, "gocred exec --agent");
    assert!(home.api.revoked().iter().any(|m| m.token == token));
    assert!(!Path::new(sock.trim_end()).exists());
}

#[test]
fn go_mod_download_in_an_exec_sandbox_through_the_agent() {
    let home = Home::new();
    let server = GitServer::start_with_token_check(home.api.port());
    let lib = "package lib\n\nfunc Hello() string { return \"hello from acme\" }\n";
    server.add_module("acme", "lib", "v1.0.0", &[("lib.go", lib)]);
    home.s.consumer(&[]);
    let mut c = home.cmd();
    c.args(["exec", "--agent", "--allow", "git.corp.test/acme/*", "--"])
        .arg(support::go_bin_dir().join("go"))
        .args(["mod", "download", "git.corp.test/acme/lib@v1.0.0"])
        .current_dir(home.s.path("consumer"))
        .env("GOPRIVATE", "git.corp.test");
    server.apply(&mut c);
    let out = c.output().unwrap();
    support::assert_success(&out, "go mod download under exec --agent");
    assert!(home
        .s
        .gomodcache()
        .join("git.corp.test/acme/lib@v1.0.0/lib.go")
        .exists());
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1, "{mints:?}");
    assert!(mints[0].revoked || home.api.revoked().len() == 1);
}

#[allow(clippy::print_stderr)]
fn skip(why: &str) {
    eprintln!("skipped: {why}");
}

fn is_root() -> bool {
    my_uid() == "0"
}

/// A throwaway local user for the far side, removed (with its processes' user entry) on drop.
struct FarUser {
    name: String,
    home: PathBuf,
    dir: tempfile::TempDir,
}

impl FarUser {
    fn create() -> FarUser {
        let dir = tempfile::Builder::new()
            .prefix("gocred-far-")
            .tempdir()
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let name = format!("gcfar{}", std::process::id() % 100_000);
        let home = dir.path().join("home");
        let _ = Command::new("userdel").arg("-f").arg(&name).output();
        support::run_ok(
            Command::new("useradd")
                .args(["-M", "-p", "*", "-s", "/bin/sh", "-d"])
                .arg(&home)
                .arg(&name),
        );
        support::mkdir(&home);
        FarUser { name, home, dir }
    }

    /// A copy of `src` (a file or a tree) this user can read and run, beside its home: the
    /// tests' Go and gocred live under root's home or the checkout, which others may not enter
    /// (root's home is 0700). Removed with the user's directory.
    fn runnable_copy(&self, src: &Path, name: &str) -> PathBuf {
        let dst = self.dir.path().join(name);
        support::run_ok(Command::new("cp").arg("-a").arg(src).arg(&dst));
        support::run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&dst));
        dst
    }

    /// Makes everything under HOME the user's.
    fn chown_home(&self) {
        support::run_ok(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{0}:{0}", self.name))
                .arg(&self.home),
        );
    }

    /// `setpriv` to the user with only `env` (a login environment of its own), running `argv`.
    fn run(&self, env: &[(&str, &str)], argv: &[&str], stdin: &[u8]) -> Output {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.name,
            "--regid",
            &self.name,
            "--init-groups",
            "--",
        ])
        .arg("env")
        .arg("-i")
        .arg(format!("HOME={}", self.home.display()))
        .arg("PATH=/usr/bin:/bin")
        .args(env.iter().map(|(k, v)| format!("{k}={v}")))
        .args(argv)
        .current_dir(&self.home);
        run_with_stdin(&mut c, stdin)
    }
}

impl Drop for FarUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .output();
        let _ = Command::new("userdel").arg("-f").arg(&self.name).output();
    }
}

/// Every file under `dir` whose bytes contain one of `needles`.
fn files_containing(dir: &Path, needles: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                if needles.iter().any(|n| text.contains(n.as_str())) {
                    found.push(p);
                }
            }
        }
    }
    found
}

const PROXY_PW: &str = "proxy_pw_0123456789abcdef";

/// The far side's environment for Go and git against the test servers (no credential in it).
fn far_go_env(far_home: &Path, goroot: &Path, server: &GitServer, bundle: &Path) -> String {
    let h = far_home.display();
    let mut vars = vec![
        format!("PATH={}/bin:/usr/bin:/bin", goroot.display()),
        format!("HOME={h}"),
        format!("GOMODCACHE={h}/gomodcache"),
        format!("GOCACHE={h}/.cache/go-build"),
        "GOTOOLCHAIN=local".into(),
        "GOSUMDB=off".into(),
        "GOFLAGS=-modcacherw".into(),
        "GOPRIVATE=git.corp.test".into(),
        format!("SSL_CERT_FILE={}", bundle.display()),
        format!("GIT_SSL_CAINFO={}", bundle.display()),
    ];
    for (k, v) in server.env() {
        if k.to_ascii_lowercase().contains("proxy") {
            vars.push(format!("{k}={v}"));
        }
    }
    vars.iter()
        .map(|v| format!("export {};", support::sh_quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn ssh_to_another_user_downloads_private_modules_through_the_forwarded_socket() {
    if !is_root() {
        skip("gocred ssh to a second local user needs root (useradd, setpriv)");
        return;
    }
    let home = Home::new();
    let cfg = std::fs::read_to_string(&home.s.config_path).unwrap();
    home.s.write_config(&format!(
        "{cfg}\n[[rule]]\npattern = \"proxy.corp.test\"\nsource = \"env\"\nvariable = \"PROXY_PW\"\nusername = \"proxyuser\"\n"
    ));
    support::canary::credential("proxyuser", PROXY_PW);
    let server = GitServer::start_with_token_check(home.api.port());
    server.set_users(&[("proxyuser", PROXY_PW)]);
    let lib =
        |n: &str| format!("package {n}\n\nfunc Hello() string {{ return \"hello from {n}\" }}\n");
    server.add_module("acme", "lib", "v1.0.0", &[("lib.go", &lib("lib"))]);
    server.add_module("acme", "tool", "v1.0.0", &[("tool.go", &lib("tool"))]);
    server.publish_to_goproxy("acme", "tool", "v1.0.0");

    let far = FarUser::create();
    let sshd = support::SshServer::start_allowing(&[&far.name]);
    let client_pub = std::fs::read_to_string(sshd.root().join("client_ed25519.pub")).unwrap();
    support::write_file(&far.home.join(".ssh/authorized_keys"), client_pub);
    let bundle = far.home.join("ca.pem");
    std::fs::copy(server.ca_bundle(), &bundle).unwrap();
    support::write_file(
        &far.home.join("consumer/go.mod"),
        "module example.test/consumer\n\ngo 1.22\n",
    );
    far.chown_home();
    let goroot = far.runnable_copy(support::go_bin_dir().parent().unwrap(), "goroot");
    let script = format!(
        "{env} cd \"$HOME/consumer\" && echo \"$GOCRED_AGENT\" > \"$HOME/agent-path\" && \
         GOPROXY=off go mod download git.corp.test/acme/lib@v1.0.0 && \
         GONOPROXY=none GOPROXY=https://proxy.corp.test go mod download git.corp.test/acme/tool@v1.0.0 && \
         env > \"$HOME/env.txt\"",
        env = far_go_env(&far.home, &goroot, &server, &bundle),
    );
    let gocred = far.runnable_copy(&support::gocred_bin(), "gocred");
    let mut c = home.cmd();
    c.env("PROXY_PW", PROXY_PW)
        .args([
            "ssh",
            "--allow",
            "git.corp.test/acme/*",
            "--allow",
            "proxy.corp.test",
            "--allow-long-lived",
            "--remote-gocred",
            gocred.to_str().unwrap(),
            "-c",
            &script,
            "-F",
        ])
        .arg(sshd.client_config(support::ClientGaps::default()))
        .arg(format!("{}@git.corp.test", far.name));
    let out = run_with_stdin(&mut c, b"");
    support::assert_success(&out, "gocred ssh");
    let err = stderr_str(&out);
    assert!(err.contains("revoked 1 token(s)"), "{err}");
    for m in ["lib@v1.0.0/lib.go", "tool@v1.0.0/tool.go"] {
        assert!(
            far.home
                .join("gomodcache/git.corp.test/acme")
                .join(m)
                .exists(),
            "{m} not downloaded"
        );
    }
    // git went through the agent with the session token, Go through GOAUTH to the proxy.
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1, "{mints:?}");
    assert!(home.api.revoked().iter().any(|m| m.token == mints[0].token));
    assert!(server
        .access_entries()
        .iter()
        .any(|e| e.host == "proxy.corp.test"
            && e.status == 200
            && e.user.as_deref() == Some("proxyuser")));
    let audit = home.audit();
    assert!(audit.contains(" host=proxy.corp.test "), "{audit}");
    // Nothing of it stays on the far side.
    let needles = vec![mints[0].token.clone(), PROXY_PW.to_string()];
    assert_eq!(files_containing(&far.home, &needles), Vec::<PathBuf>::new());
    let env = std::fs::read_to_string(far.home.join("env.txt")).unwrap();
    assert!(env.contains("GOCRED_AGENT=/tmp/gocred-agent-"), "{env}");
    // After the session, `get` there fails clearly.
    let sock = std::fs::read_to_string(far.home.join("agent-path")).unwrap();
    let out = far.run(
        &[("GOCRED_AGENT", sock.trim_end())],
        &[gocred.to_str().unwrap(), "get"],
        b"protocol=https\nhost=git.corp.test\npath=acme/lib.git\n\n",
    );
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("gocred agent at"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn a_mount_namespace_that_sees_only_the_socket_runs_go_mod_download() {
    if !is_root() {
        skip("unshare -m needs root");
        return;
    }
    let home = Home::new();
    let server = GitServer::start_with_token_check(home.api.port());
    let lib = "package lib\n\nfunc Hello() string { return \"hello from acme\" }\n";
    server.add_module("acme", "lib", "v1.0.0", &[("lib.go", lib)]);
    home.s.consumer(&[]);
    let ctr = home.s.root().join("ctr");
    support::mkdir_private(&ctr);
    // Inside: the socket bind-mounted alone at ctr/agent.sock, then the config, cache (audit
    // log, state), runtime dir (the real socket) and the whole home's gocred state hidden.
    let script = format!(
        "touch {c}/agent.sock && mount --bind \"$GOCRED_AGENT\" {c}/agent.sock && \
         mount -t tmpfs tmpfs \"$XDG_RUNTIME_DIR\" && mount -t tmpfs tmpfs \"$XDG_CONFIG_HOME\" && \
         mount -t tmpfs tmpfs \"$XDG_CACHE_HOME\" && \
         test ! -e \"$GOCRED_CONFIG\" && \
         GOCRED_AGENT={c}/agent.sock GOCRED_KEYRING=none GOCACHE={c}/gocache go mod download git.corp.test/acme/lib@v1.0.0",
        c = ctr.display()
    );
    let mut c = home.cmd();
    c.args(["exec", "--agent", "--allow", "git.corp.test/acme/lib", "--"])
        .args([
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .current_dir(home.s.path("consumer"))
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin:/usr/sbin:/sbin",
                support::go_bin_dir().display()
            ),
        )
        .env("GOPRIVATE", "git.corp.test");
    server.apply(&mut c);
    let out = c.output().unwrap();
    support::assert_success(&out, "go mod download in a mount namespace");
    assert!(home
        .s
        .gomodcache()
        .join("git.corp.test/acme/lib@v1.0.0/lib.go")
        .exists());
    let mints = home.api.mints();
    assert_eq!(mints.len(), 1);
    assert_eq!(mints[0].repositories, vec!["lib".to_string()]);
    assert!(home.api.revoked().iter().any(|m| m.token == mints[0].token));
}

#[test]
fn doctor_on_the_far_side_checks_the_socket_the_agent_and_the_allow_list() {
    let home = Home::new();
    let agent = home.agent(&["--allow", "git.corp.test/acme/*"]);
    let far = Far::new(&agent.socket);
    let doctor = |module: &str| -> Vec<serde_json::Value> {
        let out = run_with_stdin(far.cmd().args(["doctor", "--json", module]), b"");
        serde_json::from_str(&stdout_str(&out)).unwrap()
    };
    let status = |all: &[serde_json::Value], id: &str| -> String {
        all.iter()
            .find(|f| f["id"] == id)
            .map(|f| format!("{} {}", f["status"].as_str().unwrap(), f["message"]))
            .unwrap_or_else(|| format!("no {id} in {all:?}"))
    };
    let all = doctor("git.corp.test/acme/lib");
    assert!(status(&all, "agent.socket").starts_with("ok"), "{all:?}");
    assert!(status(&all, "agent.ping").starts_with("ok"), "{all:?}");
    assert!(status(&all, "agent.allow").starts_with("ok"), "{all:?}");
    assert!(status(&all, "agent.get").starts_with("ok"), "{all:?}");
    assert!(all.iter().all(|f| f["id"] != "cred.rule"), "{all:?}");
    let all = doctor("git.corp.test/other/lib");
    assert!(status(&all, "agent.allow").starts_with("fail"), "{all:?}");
    let out = agent.stop();
    drop(out);
    let all = doctor("git.corp.test/acme/lib");
    assert!(status(&all, "agent.socket").starts_with("fail"), "{all:?}");
}
