//! `gocred ci exec`'s in-memory agent socket under attack and abuse, with real parts: the real
//! gocred binary, real git fetching from nginx + `git http-backend` over HTTPS, the real
//! `gocred ci helper` as the client, Perl for raw socket peers (slow, idle, late, other uid), and
//! the stand-in for GitHub's token exchange and revocation (`support::token_service`), which
//! records every token minted and revoked.
//!
//! Unix only: it drives Unix servers, file modes, uids and shell scripts (tests/credential.rs
//! is the integration test that runs on macOS and Windows too).
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::token_service::{AUDIENCE, IDENTITY, SCOPE};
use crate::support::{stderr_str, stdout_str, GitServer, Sandbox, TokenService};

const TOKEN: &str = "ghs_socketStandInToken0123456789abcdefAB";

/// A raw client for the agent socket, for what the real helper never does.
///
/// `perl agent.pl SOCK ask AUTH`: one complete request, prints the reply.
/// `perl agent.pl SOCK slow`: sends a request one byte a second, until the server hangs up.
/// `perl agent.pl SOCK idle N READY`: opens N connections (N/10 per process, 10 processes),
/// creates READY, and waits until the server has closed every one.
/// `perl agent.pl SOCK late AUTH GATE`: sends half a request, waits until GATE exists, sends the
/// rest, prints `got <n> bytes` and what it got.
const PEER: &str = r#"
use strict; use warnings; use IO::Socket::UNIX; use IO::Select; use POSIX ();
$SIG{PIPE} = 'IGNORE'; $| = 1;
my ($path, $mode, @a) = @ARGV;
sub conn { IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) }
if ($mode eq 'ask') {
    my $s = conn() or do { print "connect failed: $!\n"; exit 0 };
    print $s "get\nauthority=$a[0]\n\n"; shutdown($s, 1);
    local $/; my $r = <$s>; print defined $r ? $r : '';
} elsif ($mode eq 'slow') {
    my $s = conn() or exit 0;
    for my $c (split //, "get\nauthority=git.corp.test\n\n" x 10) {
        syswrite($s, $c) or exit 0; sleep 1;
    }
} elsif ($mode eq 'idle') {
    my ($n, $ready) = @a; my @kids;
    for my $k (1..10) {
        my $pid = fork(); die unless defined $pid;
        if ($pid == 0) {
            my $sel = IO::Select->new(grep { defined } map { conn() } 1..($n/10));
            open(my $f, '>', "$ready.$k"); close $f;
            my $until = time + 60;
            while ($sel->count && time < $until) {
                for my $h ($sel->can_read(1)) { my $b; $sel->remove($h) unless sysread($h, $b, 1); }
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    while (grep { !-e "$ready.$_" } 1..10) { select(undef, undef, undef, 0.05) }
    open(my $f, '>', $ready); close $f;
    waitpid($_, 0) for @kids;
} elsif ($mode eq 'late') {
    my ($auth, $gate) = @a;
    my $s = conn() or do { print "connect failed\n"; exit 0 };
    syswrite($s, "get\n");
    open(my $f, '>', "$gate.connected"); close $f;
    my $until = time + 60;
    select(undef, undef, undef, 0.05) while !-e $gate && time < $until;
    sleep 1;
    syswrite($s, "authority=$auth\n\n"); shutdown($s, 1);
    my ($all, $b) = ('', '');
    while (sysread($s, $b, 4096)) { $all .= $b }
    print "got ", length($all), " bytes:$all";
}
"#;

struct Job {
    s: Sandbox,
    sts: TokenService,
    _server: GitServer,
}

impl Job {
    /// A `github-oidc` rule for `pattern` against the stand-in, GOPRIVATE=`goprivate`, and the
    /// git server accepting the token the stand-in will mint.
    fn new(pattern: &str, goprivate: &str) -> Job {
        let sts = TokenService::start();
        sts.expect_tokens(&[TOKEN]);
        let server = GitServer::start(&[("x-access-token", TOKEN)]);
        let mut s = Sandbox::new();
        s.write_config(&format!(
            "[[rule]]\npattern = \"{pattern}\"\nsource = \"github-oidc\"\nsts_url = \"{b}\"\napi_url = \"{b}\"\nscope = \"{SCOPE}\"\nidentity = \"{IDENTITY}\"\naudience = \"{AUDIENCE}\"\n",
            b = sts.base
        ));
        std::fs::write(s.root().join("agent.pl"), PEER).unwrap();
        s.set_env("GOPRIVATE", goprivate);
        for (k, v) in sts.actions_env().into_iter().chain(server.env()) {
            s.set_env(k, v);
        }
        Job {
            s,
            sts,
            _server: server,
        }
    }

    /// `gocred ci exec [flags] -- sh -c SCRIPT`, started.
    fn spawn(&self, flags: &[&str], script: &str, extra: &[(&str, &str)]) -> Child {
        let mut c = self.s.command(support::gocred_bin());
        c.args(["ci", "exec"])
            .args(flags)
            .args(["--", "sh", "-c", script])
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.s.root().join(name)
    }

    /// `perl agent.pl "$GOCRED_CI_AGENT" ARGS` for a CMD script.
    fn peer(&self, args: &str) -> String {
        format!(
            "perl {} \"$GOCRED_CI_AGENT\" {args}",
            self.file("agent.pl").display()
        )
    }

    fn lease_dir(&self) -> PathBuf {
        self.s.root().join("run/gocred/ci")
    }

    fn socket(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.lease_dir())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "sock"))
    }

    /// The token was minted once and the stand-in saw it revoked.
    fn assert_revoked(&self) {
        assert_eq!(self.sts.minted(), vec![TOKEN.to_string()]);
        assert_eq!(self.sts.revoked(), vec![TOKEN.to_string()], "not revoked");
    }
}

/// Waits for `child` at most `limit`; kills it and fails when it is still running.
fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let done = support::wait_until(limit, Duration::from_millis(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !done {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "{what}: gocred still ran after {limit:?}\n{}",
            stderr_str(&out)
        );
    }
    child.wait_with_output().unwrap()
}

fn wait_for(path: &Path, what: &str) {
    assert!(
        support::wait_until(Duration::from_secs(60), Duration::from_millis(20), || path
            .exists()),
        "{what}: {} never appeared",
        path.display()
    );
}

const LS_REMOTE: &str = "git ls-remote https://git.corp.test/team/lib.git >/dev/null";

// ---------------------------------------------------------------------------------------------
// The socket path removed or moved while CMD runs.

#[test]
fn removing_or_moving_the_socket_or_its_directory_mid_command_still_wipes_and_revokes() {
    for (name, action) in [
        ("rm socket", "rm -f \"$GOCRED_CI_AGENT\""),
        ("rm -rf dir", "rm -rf \"$(dirname \"$GOCRED_CI_AGENT\")\""),
        (
            "mv dir",
            "mv \"$(dirname \"$GOCRED_CI_AGENT\")\" \"$(dirname \"$GOCRED_CI_AGENT\").moved\"",
        ),
    ] {
        let job = Job::new("git.corp.test", "git.corp.test");
        let script = format!("{LS_REMOTE} || exit 11; {action} || exit 12; exit 7");
        let child = job.spawn(&[], &script, &[]);
        let out = finish(child, Duration::from_secs(60), name);
        let err = stderr_str(&out);
        assert_eq!(out.status.code(), Some(7), "{name}: CMD's status\n{err}");
        job.assert_revoked();
        assert!(err.contains("wiped lease"), "{name}: {err}");
        if name != "rm socket" {
            assert!(
                err.contains("its lease file had gone, so gocred wiped from memory"),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn sigterm_after_the_command_has_ended_ends_gocred_and_the_next_run_revokes() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let pidfile = job.file("cmd.pid");
    let script = format!("{LS_REMOTE} || exit 11; echo $$ > {}", pidfile.display());
    let child = job.spawn(&[], &script, &[("GOCRED_TEST_FAULT", "sleep-after-exec")]);
    // CMD has ended once gocred has reaped it (its /proc entry is gone).
    assert!(support::wait_until(
        Duration::from_secs(60),
        Duration::from_millis(20),
        || {
            std::fs::read_to_string(&pidfile).is_ok_and(|p| {
                p.ends_with('\n') && !Path::new(&format!("/proc/{}", p.trim())).exists()
            })
        }
    ));
    std::thread::sleep(Duration::from_millis(200));
    support::run_ok(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let out = finish(child, Duration::from_secs(10), "SIGTERM after CMD");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(15), "{}", stderr_str(&out));
    assert!(job.sts.revoked().is_empty(), "killed before its wipe");
    // The lease is stale by pid: the next run revokes.
    let wipe = job
        .s
        .command(support::gocred_bin())
        .args(["ci", "wipe"])
        .output()
        .unwrap();
    support::assert_success(&wipe, "ci wipe");
    job.assert_revoked();
}

// ---------------------------------------------------------------------------------------------
// Slow and idle peers inside CMD's tree.

#[test]
fn a_slow_peer_and_two_hundred_idle_connections_do_not_stall_git_or_the_wipe() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let ready = job.file("idle-ready");
    let ended = job.file("ended");
    let script = format!(
        "{slow} >/dev/null 2>&1 & {idle} >/dev/null 2>&1 & \
         i=0; while [ ! -e {ready} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
         [ -e {ready} ] || exit 10; \
         {LS_REMOTE} || exit 11; {LS_REMOTE} || exit 12; touch {ended}",
        slow = job.peer("slow"),
        idle = job.peer(&format!("idle 200 {}", ready.display())),
        ready = ready.display(),
        ended = ended.display(),
    );
    let child = job.spawn(&[], &script, &[]);
    wait_for(&ended, "CMD");
    let cmd_ended = Instant::now();
    let out = finish(child, Duration::from_secs(60), "slow peers");
    let after = cmd_ended.elapsed();
    let err = stderr_str(&out);
    support::assert_success(&out, "ci exec with slow peers");
    job.assert_revoked();
    // The server's whole-request deadline is 10 s; the wipe must not wait for it.
    assert!(
        after < Duration::from_secs(6),
        "the wipe waited {after:?} for slow peers\n{err}"
    );
    assert!(err.contains("connections open already"), "{err}");
}

#[test]
fn a_request_begun_while_the_command_ran_gets_nothing_after_it_ended() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let gate = job.file("gate");
    let (early, late) = (job.file("early"), job.file("late"));
    let script = format!(
        "{ask} > {early}; {late_peer} > {late} 2>&1 & \
         i=0; while [ ! -e {gate}.connected ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 0",
        ask = job.peer("ask git.corp.test"),
        late_peer = job.peer(&format!("late git.corp.test {}", gate.display())),
        early = early.display(),
        late = late.display(),
        gate = gate.display(),
    );
    let child = job.spawn(&[], &script, &[]);
    let out = finish(child, Duration::from_secs(60), "late request");
    support::assert_success(&out, "ci exec");
    // Control: the same client, while CMD ran, got the token.
    let got = std::fs::read_to_string(&early).unwrap();
    assert!(
        got.starts_with("ok\n") && got.contains(TOKEN),
        "early: {got:?}"
    );
    std::fs::write(&gate, "").unwrap();
    let done = support::wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        std::fs::read_to_string(&late).is_ok_and(|s| s.starts_with("got "))
    });
    let text = std::fs::read_to_string(&late).unwrap_or_default();
    assert!(done, "the late peer never finished: {text:?}");
    assert_eq!(text, "got 0 bytes:", "a late request got an answer");
    job.assert_revoked();
}

// ---------------------------------------------------------------------------------------------
// Who may ask, and whom the helper asks.

/// `printf 'protocol=https\nhost=HOST\n\n' | gocred ci helper get`, as git would run it.
fn helper_get(job: &Job, host: &str, env: &[(&str, String)]) -> Output {
    let mut c = job.s.command(support::gocred_bin());
    c.args(["ci", "helper", "get"]);
    for (k, v) in env {
        c.env(k, v);
    }
    support::run_with_stdin(
        &mut c,
        format!("protocol=https\nhost={host}\n\n").as_bytes(),
    )
}

#[test]
fn a_same_user_process_outside_the_command_tree_gets_nothing() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let (ready, go) = (job.file("ready"), job.file("go"));
    let script = format!(
        "touch {ready}; i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
         {LS_REMOTE} || exit 11",
        ready = ready.display(),
        go = go.display()
    );
    let child = job.spawn(&[], &script, &[]);
    wait_for(&ready, "CMD");
    let sock = job.socket().expect("the agent socket");
    let env = [
        ("GOCRED_CI_AGENT", sock.display().to_string()),
        ("GOCRED_CI_AGENT_PID", child.id().to_string()),
    ];
    // The real helper, run by a process of the same user outside CMD's tree.
    let out = helper_get(&job, "git.corp.test", &env);
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "", "an outsider got an answer");
    // A raw client too: the connection is closed before a byte is read.
    let raw = job
        .s
        .command("perl")
        .arg(job.file("agent.pl"))
        .arg(&sock)
        .args(["ask", "git.corp.test"])
        .output()
        .unwrap();
    assert_eq!(stdout_str(&raw), "", "an outsider got an answer");
    std::fs::write(&go, "").unwrap();
    let out = finish(child, Duration::from_secs(60), "outsider");
    let err = stderr_str(&out);
    support::assert_success(&out, "CMD's own git still works");
    assert!(
        err.contains("refused a connection")
            && err.contains("is not in the command's process tree"),
        "{err}"
    );
    assert!(!err.contains(TOKEN) && !stdout_str(&out).contains(TOKEN));
    job.assert_revoked();
}

#[test]
fn another_uid_inside_the_command_tree_gets_nothing() {
    if !support::is_root() {
        support::skipped("needs root to run a peer as a throwaway uid (setpriv)");
        return;
    }
    let job = Job::new("git.corp.test", "git.corp.test");
    for d in job.s.root().ancestors().skip(1) {
        if std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 == 0) {
            support::skipped(&format!("{} is closed to other users", d.display()));
            return;
        }
    }
    let result = job.file("other-uid");
    let control = job.file("same-uid");
    // Open the way to the socket for uid 64123 (only root can; an attacker cannot), so that
    // the kernel's peer uid is the only thing that stops it.
    let mut open_up = String::new();
    let mut d = job.lease_dir();
    while d.starts_with(job.s.root()) {
        open_up.push_str(&format!("chmod o+x '{}'; ", d.display()));
        d = d.parent().unwrap().to_path_buf();
    }
    let script = format!(
        "{open_up} chmod 666 \"$GOCRED_CI_AGENT\"; \
         setpriv --reuid=64123 --regid=64123 --clear-groups {peer} > {result} 2>&1; \
         {peer} > {control}; {LS_REMOTE} || exit 11",
        peer = job.peer("ask git.corp.test"),
        result = result.display(),
        control = control.display()
    );
    let child = job.spawn(&[], &script, &[]);
    let out = finish(child, Duration::from_secs(60), "other uid");
    let err = stderr_str(&out);
    support::assert_success(&out, "ci exec");
    let got = std::fs::read_to_string(&result).unwrap();
    assert!(!got.contains(TOKEN) && !got.starts_with("ok"), "{got:?}");
    assert!(
        !got.contains("connect failed"),
        "the peer must reach the socket: {got}"
    );
    assert!(err.contains("runs as uid 64123, not uid 0"), "{err}");
    let same = std::fs::read_to_string(&control).unwrap();
    assert!(same.contains(TOKEN), "control: {same:?}");
    job.assert_revoked();
}

#[test]
fn the_helper_refuses_a_server_that_is_not_the_gocred_it_was_told() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let (ready, go) = (job.file("ready"), job.file("go"));
    let (answer, helper_err) = (job.file("answer"), job.file("helper-err"));
    let script = format!(
        "touch {ready}; i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
         printf 'protocol=https\\nhost=git.corp.test\\n\\n' | '{gocred}' ci helper get > {answer} 2> {helper_err}; \
         if {LS_REMOTE} 2>/dev/null; then exit 20; fi; exit 0",
        ready = ready.display(),
        go = go.display(),
        gocred = support::gocred_bin().display(),
        answer = answer.display(),
        helper_err = helper_err.display()
    );
    let child = job.spawn(&[], &script, &[]);
    wait_for(&ready, "CMD");
    // Another process (this test) moves the real socket aside and binds its own at the path.
    let sock = job.socket().expect("the agent socket");
    std::fs::rename(&sock, sock.with_extension("aside")).unwrap();
    let fake = UnixListener::bind(&sock).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    fake.set_nonblocking(true).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let thread = std::thread::spawn(move || {
        while !st.load(std::sync::atomic::Ordering::SeqCst) {
            match fake.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    c.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let _ = c.write_all(
                        b"ok\nusername=x-access-token\npassword=ghs_FAKEfakeFAKEfake0123456789\nexpiry=0\n\n",
                    );
                    let mut buf = Vec::new();
                    let _ = c.read_to_end(&mut buf);
                    h.lock().unwrap().extend(buf);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    std::fs::write(&go, "").unwrap();
    let out = finish(child, Duration::from_secs(60), "fake server");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    thread.join().unwrap();
    support::assert_success(&out, "git got no credential from the fake server");
    assert_eq!(
        std::fs::read_to_string(&answer).unwrap(),
        "",
        "answered git"
    );
    let herr = std::fs::read_to_string(&helper_err).unwrap();
    assert!(
        herr.contains("not by the gocred that started this job"),
        "{herr}"
    );
    assert!(
        heard.lock().unwrap().is_empty(),
        "the helper told the fake server what it wanted"
    );
    job.assert_revoked();
}

// ---------------------------------------------------------------------------------------------
// Also seen: wildcard and port rules are served; the wipe message is right.

#[test]
fn wildcard_rules_are_minted_on_first_request_and_revoked() {
    let job = Job::new("*.corp.test", "*.corp.test");
    let script = format!("{LS_REMOTE} || exit 11; {LS_REMOTE} || exit 12");
    let out = finish(
        job.spawn(&[], &script, &[]),
        Duration::from_secs(60),
        "wildcard",
    );
    let err = stderr_str(&out);
    support::assert_success(&out, "git through a wildcard rule");
    assert!(err.contains("serving *.corp.test"), "{err}");
    assert!(
        err.contains("minted a token for git.corp.test (rule `*.corp.test`)"),
        "{err}"
    );
    job.assert_revoked(); // one mint for both fetches, revoked at the end
    assert!(
        err.contains("served from memory, no file to clean") && !err.contains("from no file"),
        "{err}"
    );
}

#[test]
fn port_rules_are_served_for_their_port_only() {
    let job = Job::new("git.corp.test", "git.corp.test");
    // A second rule, ahead of the first, for port 8443 with its own token.
    let cfg = std::fs::read_to_string(&job.s.config_path).unwrap();
    job.s.write_config(&format!(
        "[[rule]]\npattern = \"git.corp.test:8443\"\nsource = \"env\"\nvariable = \"PORT_TOKEN\"\nusername = \"port-bot\"\n\n{cfg}"
    ));
    let (on_port, other_port) = (job.file("on-port"), job.file("other-port"));
    let ask = |host: &str, to: &Path| {
        format!(
            "printf 'protocol=https\\nhost={host}\\n\\n' | '{}' ci helper get > {}",
            support::gocred_bin().display(),
            to.display()
        )
    };
    let script = format!(
        "{}; {}; {LS_REMOTE} || exit 11",
        ask("git.corp.test:8443", &on_port),
        ask("git.corp.test:9443", &other_port)
    );
    let out = finish(
        job.spawn(&[], &script, &[("PORT_TOKEN", "port-token-0123456789")]),
        Duration::from_secs(60),
        "port rule",
    );
    support::assert_success(&out, "ci exec with a port rule");
    let got = std::fs::read_to_string(&on_port).unwrap();
    assert!(
        got.contains("username=port-bot\n") && got.contains("password=port-token-0123456789\n"),
        "{got:?}"
    );
    assert_eq!(std::fs::read_to_string(&other_port).unwrap(), "");
    job.assert_revoked();
}

// ---------------------------------------------------------------------------------------------
// A netrc entry and plain http.

#[test]
fn plain_http_never_carries_the_token_in_either_exec_mode_but_a_bare_netrc_would() {
    let job = Job::new("git.corp.test", "git.corp.test");
    let rec = support::PlainHttpRecorder::start();
    let proxy = rec.url();
    let http_git = "git ls-remote http://git.corp.test/team/lib.git";
    // Plain http goes to the recorder; the token service on 127.0.0.1 is reached directly.
    let env = [
        ("http_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("no_proxy", "127.0.0.1"),
        ("NO_PROXY", "127.0.0.1"),
    ];

    // `ci exec --netrc`: the netrc holds the entry, and CMD's git refuses plain http.
    let script = format!("{http_git} 2> {}; exit 0", job.file("netrc-err").display());
    let out = finish(
        job.spawn(&["--netrc"], &script, &env),
        Duration::from_secs(60),
        "--netrc",
    );
    support::assert_success(&out, "ci exec --netrc");
    let gerr = std::fs::read_to_string(job.file("netrc-err")).unwrap();
    assert!(gerr.contains("transport 'http' not allowed"), "{gerr}");
    assert_eq!(rec.requests(), 0, "git went out over plain http");

    // The default (no file): nothing to send.
    job.sts.expect_tokens(&[TOKEN]);
    let out = finish(
        job.spawn(&[], &format!("{http_git}; exit 0"), &env),
        Duration::from_secs(60),
        "default",
    );
    support::assert_success(&out, "ci exec");
    assert!(rec.requests() > 0, "control: git did try plain http");
    assert!(
        !rec.saw("x-access-token", TOKEN),
        "the token went out over plain http"
    );

    // What README warns about: a bare `ci netrc` entry, and git outside `ci exec`.
    job.sts.expect_tokens(&[TOKEN]);
    let netrc = job
        .s
        .command(support::gocred_bin())
        .args(["ci", "netrc"])
        .output()
        .unwrap();
    support::assert_success(&netrc, "ci netrc");
    let _ = job
        .s
        .command("git")
        .args(http_git.split(' ').skip(1))
        .envs(env)
        .output();
    let exposed = rec.saw("x-access-token", TOKEN);
    let wipe = job
        .s
        .command(support::gocred_bin())
        .args(["ci", "wipe"])
        .output()
        .unwrap();
    support::assert_success(&wipe, "ci wipe");
    assert!(
        exposed,
        "libcurl sends a netrc entry over plain http (README says so)"
    );
}
