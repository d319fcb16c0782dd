//! `gocred agent`: serve this machine's credentials to a far side over a Unix socket, in one
//! narrowed session (`--allow`, `--ttl`), until the TTL or a signal ends it; `gocred agent
//! status` lists live sessions. `gocred ssh` and `gocred exec --agent` start sessions the same
//! way ([`start`]) and end them when their command ends. The session logic is `crate::agent`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::agent::audit::{self, Audit};
use crate::agent::registry;
use crate::agent::session::{check_allow, Options, Session};
use crate::agent_socket::{Limits, PeerPolicy, Server};
use crate::error::{Error, Result};
use crate::settings::Settings;

/// What every session takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct SessionArgs {
    /// Serve only requests whose `host/path` this GOPRIVATE-style pattern matches (repeatable),
    /// e.g. 'github.com/acme/*'. Nothing outside it is answered.
    #[arg(long = "allow", value_name = "PATTERN")]
    pub allow: Vec<String>,
    /// How long the session lives: `90s`, `30m`, `8h`, `1d` (at most 7 days). Requests after it
    /// get nothing; the session's tokens are revoked when it ends.
    #[arg(long, value_name = "DURATION", default_value = "8h")]
    pub ttl: String,
    /// Also forward credentials that outlive the session and cannot be revoked (PATs, `env` and
    /// `command` secrets). Off by default: the far side then only ever holds short-lived tokens.
    #[arg(long)]
    pub allow_long_lived: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    #[command(flatten)]
    pub session: SessionArgs,
    /// The socket to listen on (its directory must be yours and mode 0700). Default:
    /// `$XDG_RUNTIME_DIR/gocred/agent/<session>.sock`.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// List the live agent sessions of this user.
    Status,
}

/// `8h` → 8 hours. Units s, m, h, d; a bare number is seconds.
pub(crate) fn parse_ttl(s: &str) -> Result<Duration> {
    let bad = || {
        Error::Usage(format!(
            "--ttl `{}`: want a duration such as 90s, 30m, 8h or 1d (at most 7 days)",
            crate::protocol::escape_for_display(s)
        ))
    };
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs == 0 || secs > 7 * 86400 {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

/// A session being served.
pub(crate) struct Running {
    pub session: Arc<Session>,
    server: Server,
    socket: PathBuf,
    record: Option<PathBuf>,
}

/// Who may connect: any process of this user (`gocred agent`), or only the process tree below
/// this gocred (`gocred ssh`, `gocred exec --agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peers {
    SameUser,
    OwnTree,
}

/// Starts a session serving at `socket` (default: in the registry directory).
pub(crate) fn start(
    settings: &Settings,
    args: &SessionArgs,
    socket: Option<&Path>,
    kind: &str,
    peers: Peers,
) -> Result<Running> {
    check_allow(&args.allow)?;
    let ttl = parse_ttl(&args.ttl)?;
    let env = &settings.env;
    let reg = registry::dir(env)?;
    let id = registry::new_id();
    let socket = match socket {
        Some(p) => prepare_socket_path(p)?,
        None => reg.join(format!("{id}.sock")),
    };
    let audit_path = audit::default_path(env).ok_or_else(|| {
        Error::with_hint(
            "no place for the agent's audit log: neither XDG_CACHE_HOME nor HOME is set",
            "set XDG_CACHE_HOME to a private directory",
        )
    })?;
    let audit = Audit::open(&audit_path)?;
    let started = crate::state::now_secs();
    let opts = Options {
        allow: args.allow.clone(),
        end: started + ttl.as_secs(),
        allow_long_lived: args.allow_long_lived,
    };
    let session = Arc::new(Session::new(id.clone(), settings.clone(), opts, audit));
    let policy = match (peers, crate::agent_socket::peer::PIDS_KNOWN) {
        (Peers::OwnTree, true) => PeerPolicy::SameUserInTree {
            root: std::process::id(),
        },
        _ => PeerPolicy::SameUser,
    };
    // Everything a far side sends over `ssh -R` arrives from the one local ssh process: a cap
    // per peer pid would cap the whole session, so there the session's total is the bound.
    let limits = Limits {
        connections: 128,
        per_peer: match peers {
            Peers::SameUser => 32,
            Peers::OwnTree => 128,
        },
        ..Limits::default()
    };
    let server = Server::start(&socket, policy, limits, session.clone())
        .map_err(|e| Error::io(format!("listening on {}", socket.display()), e))?;
    let entry = registry::SessionRecord {
        id: id.clone(),
        holder: crate::store::lease::Holder::current(),
        socket: socket.clone(),
        allow: args.allow.clone(),
        kind: kind.to_string(),
        started,
        session_end: started + ttl.as_secs(),
    };
    let record = registry::add(&reg, &entry).ok();
    session.log_event(
        "start",
        &format!(
            "{kind}; allow {}; ttl {} s",
            args.allow.join(","),
            ttl.as_secs()
        ),
    );
    Ok(Running {
        session,
        server,
        socket,
        record,
    })
}

/// `--socket PATH`: an absolute path in a directory that is yours and 0700 (made so when it is
/// missing); a leftover socket of yours that nobody serves is replaced.
fn prepare_socket_path(p: &Path) -> Result<PathBuf> {
    let refuse = |why: String| {
        Error::with_hint(
            format!("refusing the agent socket {}: {why}", p.display()),
            "use a path in a directory of yours with mode 0700",
        )
    };
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(refuse("not a file path".into()));
    };
    if !p.is_absolute() {
        return Err(refuse("not an absolute path".into()));
    }
    let real_dir = match crate::fsutil::trust::resolve(dir) {
        Err(e) if e.is_missing() => {
            crate::fsutil::trust::private_dir(dir).map_err(|e| refuse(e.to_string()))?
        }
        Err(e) => return Err(refuse(e.to_string())),
        Ok(real) => {
            use std::os::unix::fs::MetadataExt;
            let md = std::fs::metadata(&real).map_err(|e| refuse(e.to_string()))?;
            if !md.is_dir() || md.uid() != crate::fsutil::euid() || md.mode() & 0o077 != 0 {
                return Err(refuse(format!(
                    "its directory {} must be yours with mode 0700",
                    real.display()
                )));
            }
            real
        }
    };
    let path = real_dir.join(name);
    if let Ok(md) = std::fs::symlink_metadata(&path) {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let stale = md.file_type().is_socket()
            && md.uid() == crate::fsutil::euid()
            && std::os::unix::net::UnixStream::connect(&path).is_err();
        if !stale {
            return Err(refuse("something is already there".into()));
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(path)
}

impl Running {
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Ends the session (nothing answered, tokens revoked) when its TTL passes, even while its
    /// command still runs (`ssh`, `exec`).
    pub(crate) fn close_at_end(&self) {
        let s = self.session.clone();
        let left = s.options().end.saturating_sub(crate::state::now_secs());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(left));
            let ended = s.close();
            s.log_event(
                "end",
                &format!("its TTL passed; revoked {} token(s)", ended.revoked),
            );
        });
    }

    /// Ends the session: stops serving, revokes its tokens, removes the socket and the record.
    /// Says what it did on `err`.
    pub(crate) fn finish(mut self, why: &str, err: &mut dyn Write) {
        self.server.stop();
        let ended = self.session.close();
        let _ = std::fs::remove_file(&self.socket);
        if let Some(r) = &self.record {
            let _ = std::fs::remove_file(r);
        }
        let mut summary = format!("{why}; revoked {} token(s)", ended.revoked);
        for f in &ended.failed {
            summary.push_str(&format!("; could not revoke a {f}"));
        }
        self.session.log_event("end", &summary);
        let _ = writeln!(
            err,
            "gocred: agent session {} ended: {summary}",
            self.session.id
        );
    }
}

/// Why a session ends.
pub(crate) enum EndReason {
    Signal(i32),
    Ttl,
    ChildExited,
}

/// Waits until a signal (SIGINT, SIGTERM, SIGHUP) arrives, the session's TTL passes, or
/// `done` receives.
pub(crate) fn wait_end(end: u64, done: Option<mpsc::Receiver<()>>) -> Result<EndReason> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let (tx, rx) = mpsc::channel::<EndReason>();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::io("installing signal handlers", e))?;
    let handle = signals.handle();
    let stx = tx.clone();
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let _ = stx.send(EndReason::Signal(sig));
        }
    });
    if let Some(done) = done {
        let ctx = tx.clone();
        std::thread::spawn(move || {
            let _ = done.recv();
            let _ = ctx.send(EndReason::ChildExited);
        });
    }
    drop(tx);
    let left = end.saturating_sub(crate::state::now_secs());
    let why = rx
        .recv_timeout(Duration::from_secs(left))
        .unwrap_or(EndReason::Ttl);
    handle.close();
    Ok(why)
}

pub(crate) fn run(
    args: AgentArgs,
    settings: impl FnOnce() -> Result<Settings>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let settings = settings()?;
    if let Some(AgentCommand::Status) = args.command {
        return status(&settings, out);
    }
    let running = start(
        &settings,
        &args.session,
        args.socket.as_deref(),
        "agent",
        Peers::SameUser,
    )?;
    let s = &running.session;
    // The same line ssh-agent prints: `eval "$(gocred agent --allow …)"`-style use in scripts.
    writeln!(
        out,
        "{}={}; export {};",
        crate::agent::AGENT_VAR,
        running.socket().display(),
        crate::agent::AGENT_VAR
    )
    .and_then(|_| out.flush())
    .map_err(|e| Error::io("writing the socket path", e))?;
    let _ = writeln!(
        err,
        "gocred: agent session {} serves {} until {}; audit log: {}",
        s.id,
        s.options().allow.join(", "),
        rfc3339(s.options().end),
        s.audit().path().display()
    );
    let why = wait_end(s.options().end, None)?;
    let why = match why {
        EndReason::Signal(n) => format!("signal {n}"),
        EndReason::Ttl => "its TTL passed".into(),
        EndReason::ChildExited => "its command ended".into(),
    };
    running.finish(&why, err);
    Ok(())
}

fn status(settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let reg = registry::dir(&settings.env)?;
    let all = registry::list(&reg);
    let mut text = String::new();
    let live: Vec<_> = all.iter().filter(|(_, live)| *live).collect();
    if live.is_empty() {
        text.push_str("no live agent sessions\n");
    }
    for (e, _) in live {
        text.push_str(&format!(
            "session {} ({}) pid {} until {}\n  socket {}\n  allow {}\n",
            e.id,
            e.kind,
            e.holder.pid,
            rfc3339(e.session_end),
            e.socket.display(),
            e.allow.join(", ")
        ));
    }
    if let Some(p) = audit::default_path(&settings.env) {
        text.push_str(&format!("audit log: {}\n", p.display()));
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("writing the status", e))
}

/// Unix seconds as RFC 3339 UTC.
pub(crate) fn rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// The far side's environment for a session at `socket`: `GOCRED_AGENT`, git's helper (`helper`,
/// for each allowed host only, with `useHttpPath` so the agent sees the repository) appended to
/// the command-scope git config `env` already has, and `GOAUTH`.
pub(crate) fn far_side_env(
    env: &crate::settings::Env,
    socket: &str,
    allow: &[String],
    helper: &str,
    goauth: &str,
) -> Result<Vec<(String, String)>> {
    let mut hosts: Vec<String> = Vec::new();
    for a in allow {
        let h = a.split('/').next().unwrap_or("").to_string();
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let mut pairs = Vec::new();
    for h in &hosts {
        let base = format!("credential.https://{h}");
        pairs.push((format!("{base}.helper"), String::new()));
        pairs.push((format!("{base}.helper"), helper.to_string()));
        pairs.push((format!("{base}.useHttpPath"), "true".to_string()));
    }
    let mut vars = vec![(crate::agent::AGENT_VAR.to_string(), socket.to_string())];
    vars.extend(crate::commands::ci::agent::git_config_env(env, &pairs)?);
    vars.push(("GOAUTH".into(), goauth.to_string()));
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("8h").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("1d").unwrap(), Duration::from_secs(86400));
        for bad in ["", "0s", "8w", "h", "-1s", "8d", "99999999999999999999h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn far_side_env_scopes_the_helper_to_allowed_hosts() {
        let env = crate::settings::Env::from_pairs([("GIT_CONFIG_COUNT", "1")]);
        let v = far_side_env(
            &env,
            "/tmp/a.sock",
            &["git.corp.test/acme/*".into(), "git.corp.test/other".into()],
            "gocred",
            "gocred goauth",
        )
        .unwrap();
        assert!(v.contains(&(
            "GIT_CONFIG_KEY_3".into(),
            "credential.https://git.corp.test.useHttpPath".into()
        )));
        assert!(v.contains(&("GIT_CONFIG_COUNT".into(), "4".into())));
        assert!(v.contains(&("GOCRED_AGENT".into(), "/tmp/a.sock".into())));
    }
}
