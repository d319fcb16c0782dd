//! `gocred ci exec [--netrc] -- CMD…`: set up, run CMD, wipe — on every way out.
//!
//! Normal exit, CMD killed, SIGINT/SIGTERM/SIGHUP to gocred (forwarded to CMD, which decides
//! when to stop), an error during setup, a panic in gocred: each ends in the same wipe, run by a
//! guard's `Drop` when nothing else got to it. CMD's exit status is passed through (128+N when a
//! signal killed it). Once CMD has ended, signals get their default action again, and every
//! step of the wipe is bounded. Only a signal then (or SIGKILL at any time) escapes the wipe; the
//! lease is stale by pid, and the next `ci netrc|wipe|exec` cleans it up.
//!
//! By default nothing is written: the tokens stay in this process and reach git through
//! `gocred ci helper` (see `agent`), configured for CMD through `GIT_CONFIG_*`, and Go gets
//! `GOAUTH='<gocred> goauth'` ahead of what it had. The wipe works from the lease held in memory
//! as well as its file, so removing or moving the lease directory (`rm -rf ~/.cache`) while CMD
//! runs changes nothing: the tokens are still revoked. With `--netrc` a managed netrc block is
//! written instead (for tools other than git and Go), and CMD's git is told
//! `protocol.http.allow=never`, because libcurl would send a netrc entry over plain http.
//!
//! Unix only ([`unix`]): the file-less mode serves tokens over a Unix socket that checks its
//! peers (`SO_PEERCRED`, process tree), and the wipe on every way out relies on Unix signals and
//! process groups. On Windows `ci exec` is refused with a clear error; `ci netrc` and `ci wipe`
//! work there.

use std::ffi::OsString;
#[cfg(windows)]
use std::io::Write;

use clap::Args;

#[cfg(windows)]
use crate::error::{Error, Result};
#[cfg(windows)]
use crate::settings::Settings;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::run;

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Write a managed netrc block for CMD instead (for tools other than git and Go); CMD's git
    /// then refuses plain http (a netrc entry goes to every port and scheme of its host).
    #[arg(long, conflicts_with = "no_file")]
    pub netrc: bool,
    /// The default: write no file. CMD's git gets `gocred ci helper` through
    /// GIT_CONFIG_COUNT/KEY_n/VALUE_n and Go gets GOAUTH; they ask this gocred over a Unix socket
    /// that answers only this user's processes inside CMD's process tree, and only while CMD
    /// runs. The tokens are in no file, but any process in that tree can ask for them.
    #[arg(long)]
    pub no_file: bool,
    /// Name this run's lease (default: a new random id).
    #[arg(long)]
    pub lease: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[cfg(windows)]
pub(crate) fn run(
    _args: ExecArgs,
    _settings: &Settings,
    _out: &mut dyn Write,
    _err: &mut dyn Write,
) -> Result<()> {
    Err(Error::with_hint(
        "`gocred ci exec` (`--no-file` and `--netrc` alike) is not available on Windows: it serves tokens over a Unix socket that checks its peers, and wipes on every way out through Unix signals and process groups",
        "run `gocred ci netrc` before the job's commands and `gocred ci wipe` in a step that always runs (GitHub Actions: `if: always()`)",
    ))
}
