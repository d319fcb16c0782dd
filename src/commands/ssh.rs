//! `gocred ssh [--allow P]… [--ttl D] [-c COMMAND] [ssh args…] HOST`: an SSH session whose far
//! side gets this machine's credentials, narrowed, for that session only.
//!
//! gocred starts an agent session (its socket answers only this gocred's process tree, i.e. the
//! ssh it starts), then runs
//! `ssh -o ExitOnForwardFailure=yes -R <far socket>:<local socket> [-t] <your args> <far command>`.
//! The far socket is a fresh name in the far side's `/tmp` (sshd binds it 0600 as you; the
//! client there checks owner, mode and the listener's uid). The far command is
//! `env GOCRED_AGENT=… GIT_CONFIG_COUNT=… GIT_CONFIG_KEY_n=… GIT_CONFIG_VALUE_n=… GOAUTH='gocred
//! goauth' "$SHELL" -l` (or `sh -c COMMAND`): git's helper and Go's GOAUTH for that shell only,
//! nothing written on the far side. When ssh exits, the session ends: its tokens are revoked and
//! the socket here removed, so the far socket (removed by sshd with the forwarding) answers nothing.

use std::ffi::OsString;
use std::io::Write;
use std::process::Command;

use clap::Args;

use super::agent::{far_side_env, start, Peers, SessionArgs};
use super::exec::run_child;
use crate::error::{Error, Result};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub(crate) struct SshArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Run this on the far side (with `sh -c`) instead of a login shell.
    #[arg(short = 'c', long = "command", value_name = "COMMAND")]
    pub command: Option<String>,
    /// gocred on the far side, as git and Go will run it there.
    #[arg(long, value_name = "PATH", default_value = "gocred")]
    pub remote_gocred: String,
    /// The ssh program.
    #[arg(long, value_name = "PATH", default_value = "ssh")]
    pub ssh: String,
    /// ssh's own options, then HOST (last).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "SSH ARGS… HOST"
    )]
    pub ssh_args: Vec<OsString>,
}

/// `'…'` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub(crate) fn run(
    args: SshArgs,
    settings: impl FnOnce() -> Result<Settings>,
    err: &mut dyn Write,
) -> Result<()> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
    };
    if !plain(&args.remote_gocred) {
        return Err(Error::Usage(
            "--remote-gocred must be a plain path (letters, digits, `/._+-`)".into(),
        ));
    }
    let settings = settings()?;
    let running = start(&settings, &args.session, None, "ssh", Peers::OwnTree)?;
    running.close_at_end();
    let far = format!("/tmp/gocred-agent-{}.sock", running.session.id);
    let goauth = format!("{} goauth", args.remote_gocred);
    // The far side's own command-scope git config is not known here: start at 0.
    let vars = far_side_env(
        &crate::settings::Env::default(),
        &far,
        &args.session.allow,
        &args.remote_gocred,
        &goauth,
    )?;
    let mut remote = String::from("exec env");
    for (k, v) in &vars {
        remote.push_str(&format!(" {k}={}", sh_quote(v)));
    }
    match &args.command {
        Some(c) => remote.push_str(&format!(" sh -c {}", sh_quote(c))),
        None => remote.push_str(" \"${SHELL:-/bin/sh}\" -l"),
    }
    let mut cmd = Command::new(&args.ssh);
    cmd.args([
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "StreamLocalBindUnlink=yes",
    ])
    .arg("-R")
    .arg(format!("{far}:{}", running.socket().display()));
    if args.command.is_none() {
        cmd.arg("-t");
    }
    cmd.args(&args.ssh_args).arg(remote);
    let code = run_child(cmd, err);
    running.finish("the ssh session ended", err);
    match code? {
        0 => Ok(()),
        c => Err(Error::ChildStatus(c)),
    }
}
