//! `ci exec`'s in-memory agent: the job's tokens stay in gocred and reach git and Go through a
//! helper that asks a Unix socket.
//!
//! `gocred ci exec` (without `--netrc`) serves the credentials it issued with
//! `agent_socket::Server` at `<lease dir>/<id>.sock` (0600 in a 0700 directory), and gives the
//! command git configuration (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`, command scope, nothing on
//! disk) that makes `gocred ci helper` git's only helper for each served URL, and `GOAUTH` for
//! Go. The helper reads git's request with the normal validating codec, asks the socket for that
//! exact origin and answers git.
//!
//! Who gets an answer: a process of this user that descends from this gocred (CMD and its
//! children; checked on every connection from the kernel's `SO_PEERCRED`), and only while CMD
//! runs. The helper in turn talks only to a socket served by the pid and uid it was told
//! (`GOCRED_CI_AGENT_PID`). Exact and port rules are minted before CMD starts; a wildcard rule
//! is minted on the first request for each host (one at a time, recorded in the lease before it
//! is used), so every token is revoked when CMD ends. The protocol and the boundary are in
//! docs/ci-socket.md.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Args;
use secrecy::zeroize::Zeroizing;

use super::plan::{self, Plan};
use super::setup::{self, Issued};
use crate::agent_socket::{self, Expected, Handler, Limits, Peer, PeerPolicy, Server};
use crate::error::{Error, Result};
use crate::protocol::{read_request, write_response, Origin, Response, Scheme};
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::settings::{Env, Settings};
use crate::store::lease::{Lease, LeaseDir};

pub(crate) use super::AGENT_VAR;
/// The pid that must be serving that socket (this gocred).
pub(crate) const AGENT_PID_VAR: &str = "GOCRED_CI_AGENT_PID";

/// How long the helper waits for the whole exchange (the server's own deadline is shorter).
const ASK_TIMEOUT: Duration = Duration::from_secs(15);
/// Refusals logged on stderr, at most (a flood must not flood the job's log).
const MAX_LOGGED: usize = 20;

/// What `ci exec` and its agent share: the lease in memory (the truth for the wipe, even when
/// its file is gone) and what has been served.
pub(crate) struct Job {
    pub lease: Lease,
    served: Vec<Issued>,
    /// Hosts whose on-demand mint failed: not retried in this job.
    failed: Vec<String>,
    /// CMD has ended: nothing more is served or minted.
    closed: bool,
}

impl Job {
    pub(crate) fn new(lease: Lease) -> Arc<Mutex<Job>> {
        Arc::new(Mutex::new(Job {
            lease,
            served: Vec::new(),
            failed: Vec::new(),
            closed: false,
        }))
    }
}

impl Job {
    /// CMD has ended: serve and mint nothing more.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }
}

/// Locks the job, whatever a panicking holder left.
pub(crate) fn lock(job: &Mutex<Job>) -> MutexGuard<'_, Job> {
    job.lock().unwrap_or_else(|p| p.into_inner())
}

/// The serving side, owned by `ci exec`.
pub(crate) struct Agent {
    server: Server,
    job: Arc<Mutex<Job>>,
}

struct Serve {
    settings: Settings,
    /// Indices (in `settings.rules.rules`) of the wildcard rules minted on demand.
    lazy: Vec<usize>,
    ld: LeaseDir,
    job: Arc<Mutex<Job>>,
    logged: Mutex<usize>,
}

impl Agent {
    /// Serves `issued` (and `plan.lazy` on demand) at `path` to this process's descendants.
    pub(crate) fn start(
        path: &Path,
        settings: &Settings,
        plan: &Plan,
        issued: Vec<Issued>,
        job: Arc<Mutex<Job>>,
    ) -> Result<Agent> {
        let lazy = plan
            .lazy
            .iter()
            .filter_map(|l| {
                settings
                    .rules
                    .rules
                    .iter()
                    .position(|r| std::ptr::eq(r, *l))
            })
            .collect();
        lock(&job).served = issued;
        let serve = Serve {
            settings: settings.clone(),
            lazy,
            ld: LeaseDir::open(&settings.env)?,
            job: job.clone(),
            logged: Mutex::new(0),
        };
        let _ = std::fs::remove_file(path);
        // Without peer pids (not Linux) the boundary is this user alone; say so.
        let policy = match agent_socket::peer::PIDS_KNOWN {
            true => PeerPolicy::SameUserInTree {
                root: std::process::id(),
            },
            false => {
                let _ = writeln!(
                    std::io::stderr(),
                    "gocred: this system does not tell a socket's peer pid: every process of \
                     this user can ask the agent while the command runs"
                );
                PeerPolicy::SameUser
            }
        };
        let server = Server::start(path, policy, Limits::default(), Arc::new(serve))
            .map_err(|e| Error::io(format!("listening on {}", path.display()), e))?;
        Ok(Agent { server, job })
    }

    pub(crate) fn path(&self) -> &Path {
        self.server.path()
    }

    /// CMD has ended: cut every connection, answer nothing more, and wait for a mint in flight
    /// (bounded by its source's own deadline) so that its token is in the lease for the wipe.
    pub(crate) fn stop(mut self) {
        self.server.stop();
        lock(&self.job).close();
    }
}

impl Handler for Serve {
    fn answer(&self, _peer: &Peer, request: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let authority = parse_request(request)?;
        let mut job = lock(&self.job);
        if job.closed {
            return None;
        }
        let found = match job.served.iter().position(|s| s.host == authority) {
            Some(i) => Some(i),
            None => self.mint(&mut job, &authority),
        };
        let reply = match found {
            Some(i) => {
                let s = &job.served[i];
                Zeroizing::new(
                    format!(
                        "ok\nusername={}\npassword={}\nexpiry={}\n\n",
                        s.username,
                        s.token.expose_secret(),
                        s.expires_at.unwrap_or(0)
                    )
                    .into_bytes(),
                )
            }
            None => Zeroizing::new(b"none\n\n".to_vec()),
        };
        Some(reply)
    }

    fn refused(&self, _peer: Option<&Peer>, why: &str) {
        let mut n = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        let Some(mut err) = unlocked(std::io::stderr()) else {
            return;
        };
        if *n <= MAX_LOGGED {
            let _ = writeln!(err, "gocred: agent socket: refused a connection: {why}");
        } else if *n == MAX_LOGGED + 1 {
            let _ = writeln!(err, "gocred: agent socket: more refusals, not shown");
        }
    }
}

impl Serve {
    /// A wildcard rule's token for `authority`, minted now; the index into `served`.
    fn mint(&self, job: &mut Job, authority: &str) -> Option<usize> {
        if job.failed.iter().any(|f| f == authority) {
            return None;
        }
        let origin = Origin::parse(Scheme::Https, authority).ok()?;
        let rules = &self.settings.rules.rules;
        // First match wins, as in `get`: the first rule for this host must be a lazy one.
        let first = rules.iter().position(|r| r.host.matches(&origin))?;
        let rule = &rules[first];
        if !self.lazy.contains(&first) || !plan::is_private(&self.settings, rule, &origin.host) {
            return None;
        }
        let ctx = self.settings.context();
        let (Some(mut out), Some(mut err)) =
            (unlocked(std::io::stdout()), unlocked(std::io::stderr()))
        else {
            return None;
        };
        match setup::issue_one(&ctx, rule, authority, &self.ld, &mut job.lease, &mut err) {
            Ok(Some(issued)) => {
                // Masks go out before the token does.
                if setup::print_masks(&self.settings.env, std::slice::from_ref(&issued), &mut out)
                    .is_err()
                {
                    job.failed.push(authority.to_string());
                    return None;
                }
                let _ = writeln!(
                    err,
                    "gocred: minted a token for {authority} (rule `{}`) for the command",
                    rule.pattern
                );
                job.served.push(issued);
                Some(job.served.len() - 1)
            }
            Ok(None) => {
                job.failed.push(authority.to_string());
                None
            }
            Err(e) => {
                let _ = writeln!(err, "gocred: no token for {authority}: {e}");
                job.failed.push(authority.to_string());
                None
            }
        }
    }
}

/// The process's stdout or stderr as a file of its own: `ci exec`'s main thread holds the
/// standard handles' locks while CMD runs, and a serving thread must not wait for them.
fn unlocked(std: impl std::os::fd::AsFd) -> Option<std::fs::File> {
    std.as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
}

/// `get\nauthority=<host[:port]>` → the authority, normalised; anything else → `None`.
fn parse_request(request: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(request).ok()?;
    let mut lines = text.split('\n');
    if lines.next() != Some("get") {
        return None;
    }
    let authority = lines.next()?.strip_prefix("authority=")?;
    if lines.any(|l| !l.is_empty()) {
        return None;
    }
    Origin::parse(Scheme::Https, authority)
        .ok()
        .map(|o| o.authority())
}

#[derive(Debug, Args)]
pub(crate) struct HelperArgs {
    /// git's operation: get, store or erase.
    pub operation: String,
}

/// `gocred ci helper <op>`: git's helper inside `ci exec`. Prints nothing unless the agent
/// answered for exactly the host git asked about.
pub(crate) fn helper(
    args: HelperArgs,
    input: impl BufRead,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let req = read_request(input)?;
    if args.operation != "get" || req.origin.scheme != Scheme::Https {
        return Ok(());
    }
    if env.get(AGENT_VAR).is_none() {
        let _ = writeln!(err, "gocred: ci helper runs only inside `gocred ci exec`");
        return Ok(());
    }
    match ask_agent(env, &req.origin.authority()) {
        Ok(Some((username, password, password_expiry_utc))) => {
            let resp = Response {
                username,
                password,
                password_expiry_utc,
                ephemeral: true,
            };
            write_response(out, &req, &resp).map_err(|e| Error::io("writing the answer to git", e))
        }
        Ok(None) => Ok(()),
        Err(e) => {
            let _ = writeln!(err, "gocred: the ci exec agent did not answer: {e}");
            Ok(())
        }
    }
}

/// What the agent named in `env` holds for `authority` (`host[:port]`): username, token, expiry.
/// Shared by `ci helper` (git) and `goauth` (Go), so a job mints once for both. Refuses a socket
/// not served by the gocred pid (and uid) the environment names.
pub(crate) fn ask_agent(
    env: &Env,
    authority: &str,
) -> std::io::Result<Option<(String, SecretString, Option<u64>)>> {
    let invalid = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
    let sock = env
        .get(AGENT_VAR)
        .ok_or_else(|| invalid("GOCRED_CI_AGENT is not set"))?;
    let pid = env
        .get(AGENT_PID_VAR)
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|&p| p > 0)
        .ok_or_else(|| invalid("GOCRED_CI_AGENT_PID is missing or not a pid"))?;
    let expect = Expected {
        uid: crate::fsutil::euid(),
        pid: agent_socket::peer::PIDS_KNOWN.then_some(pid),
    };
    let request = format!("get\nauthority={authority}\n");
    let reply = agent_socket::ask(
        Path::new(sock),
        expect,
        request.as_bytes(),
        ASK_TIMEOUT,
        64 * 1024,
    )?;
    let Ok(text) = std::str::from_utf8(&reply) else {
        return Ok(None);
    };
    let mut lines = text.split('\n');
    if lines.next() != Some("ok") {
        return Ok(None);
    }
    let (mut user, mut token, mut exp) = (None, None, None);
    for l in lines {
        match l.split_once('=') {
            Some(("username", v)) => user = Some(v),
            Some(("password", v)) => token = Some(v),
            Some(("expiry", v)) => exp = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    let (Some(user), Some(token)) = (user, token) else {
        return Ok(None);
    };
    if user.is_empty() || token.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        user.to_string(),
        secret(token.to_string()),
        exp.filter(|&e| e > 0),
    )))
}

/// Appends `pairs` to CMD's command-scope git configuration (after whatever
/// `GIT_CONFIG_COUNT` already holds), as the variables to set.
pub(crate) fn git_config_env(
    env: &Env,
    pairs: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let start: usize = match env.get("GIT_CONFIG_COUNT") {
        None => 0,
        Some(n) => n.parse().map_err(|_| {
            Error::other(format!(
                "GIT_CONFIG_COUNT={n} is not a number; git would refuse it too"
            ))
        })?,
    };
    let mut vars = Vec::new();
    let mut i = start;
    for (key, value) in pairs {
        vars.push((format!("GIT_CONFIG_KEY_{i}"), key.clone()));
        vars.push((format!("GIT_CONFIG_VALUE_{i}"), value.clone()));
        i += 1;
    }
    vars.push(("GIT_CONFIG_COUNT".into(), i.to_string()));
    Ok(vars)
}

/// The git configuration that makes `helper` git's only helper for each served URL pattern
/// (`host`, `host:port`, `*.suffix`).
pub(crate) fn helper_config(patterns: &[String], helper: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for p in patterns {
        let key = format!("credential.https://{p}.helper");
        // An empty value resets the helpers gathered so far for this URL: ours alone answers.
        pairs.push((key.clone(), String::new()));
        pairs.push((key, helper.to_string()));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_config_appends() {
        let env = Env::from_pairs([("GIT_CONFIG_COUNT", "2")]);
        let pairs = helper_config(&["git.corp.test".into()], "/bin/gocred ci helper");
        let v = git_config_env(&env, &pairs).unwrap();
        assert_eq!(
            v,
            vec![
                (
                    "GIT_CONFIG_KEY_2".into(),
                    "credential.https://git.corp.test.helper".into()
                ),
                ("GIT_CONFIG_VALUE_2".into(), "".into()),
                (
                    "GIT_CONFIG_KEY_3".into(),
                    "credential.https://git.corp.test.helper".into()
                ),
                ("GIT_CONFIG_VALUE_3".into(), "/bin/gocred ci helper".into()),
                ("GIT_CONFIG_COUNT".into(), "4".into()),
            ]
        );
        assert!(git_config_env(&Env::from_pairs([("GIT_CONFIG_COUNT", "x")]), &[]).is_err());
    }

    #[test]
    fn requests_are_strict() {
        assert_eq!(
            parse_request(b"get\nauthority=Git.Corp.Test:443"),
            Some("git.corp.test".into())
        );
        assert_eq!(
            parse_request(b"get\nauthority=git.corp.test:8443\n"),
            Some("git.corp.test:8443".into())
        );
        for bad in [
            &b"get git.corp.test"[..],
            b"put\nauthority=git.corp.test",
            b"get\nauthority=git.corp.test\nextra=1",
            b"get\nauthority=user@git.corp.test",
            b"get\nauthority=git.corp.test/x",
            b"\xff",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }
}
