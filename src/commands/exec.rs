//! `gocred exec --agent [--allow P]… [--ttl D] -- CMD…`: run CMD (a coding agent, a build in a
//! sandbox) with its own narrowed agent session. CMD and its descendants, and nobody else (the
//! socket's peer must be of this user and in this gocred's process tree), can ask for credentials
//! inside the allow-list; CMD's environment gets `GOCRED_AGENT`, git's helper for the allowed hosts
//! and `GOAUTH`, and no secret. When CMD ends, the session ends: its tokens are revoked and the
//! socket removed. CMD's exit status is passed through.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use clap::Args;

use super::agent::{far_side_env, start, Peers, SessionArgs};
use super::ci::signals::Forwarder;
use crate::error::{Error, Result};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Serve CMD from an agent session of its own (required: the only mode of `exec`).
    #[arg(long, required = true)]
    pub agent: bool,
    #[command(flatten)]
    pub session: SessionArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// This gocred's own path, as git's helper and Go's GOAUTH command.
pub(crate) fn own_commands() -> Result<(String, String)> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding gocred's own path", e))?;
    let exe = exe
        .to_str()
        .filter(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
        })
        .ok_or_else(|| {
            Error::other(
                "gocred's own path has characters git and Go cannot run it with; install it in a plain path",
            )
        })?;
    Ok((exe.to_string(), format!("{exe} goauth")))
}

/// Runs `cmd` with signals forwarded to it; its exit code (128+N when signal N killed it).
pub(crate) fn run_child(mut cmd: Command, err: &mut dyn Write) -> Result<u8> {
    let mut forwarder = Forwarder::install()?;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                err,
                "gocred: cannot start {}: {e}",
                cmd.get_program().to_string_lossy()
            );
            return Ok(127);
        }
    };
    forwarder.forward_to(child.id());
    let status = child.wait();
    forwarder.stop();
    Ok(match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => c.clamp(0, 255) as u8,
            (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
            _ => 1,
        },
        Err(_) => 1,
    })
}

pub(crate) fn run(
    args: ExecArgs,
    settings: impl FnOnce() -> Result<Settings>,
    err: &mut dyn Write,
) -> Result<()> {
    let settings = settings()?;
    let running = start(&settings, &args.session, None, "exec", Peers::OwnTree)?;
    running.close_at_end();
    let (helper, goauth) = own_commands()?;
    let sock = running.socket().display().to_string();
    let vars = far_side_env(&settings.env, &sock, &args.session.allow, &helper, &goauth)?;
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]).envs(vars);
    let code = run_child(cmd, err);
    running.finish("its command ended", err);
    match code? {
        0 => Ok(()),
        c => Err(Error::ChildStatus(c)),
    }
}
