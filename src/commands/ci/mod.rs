//! `gocred ci netrc|wipe|exec`: credentials for one CI job, and gone when the job ends.
//!
//! The flow: [`plan`] picks the private hosts (GOPRIVATE ∩ rules); [`setup`] asks each rule's
//! source for a credential minted for this job, recording every token in a lease
//! (`store::lease`) as it comes; `netrc` writes them as a managed block (`crate::netrc`,
//! `store::netrc_file`), or `exec` serves them from memory ([`agent`], the default); [`wipe`]
//! removes the block, revokes what can be revoked and erases the lease. [`exec`] runs a command
//! between the two and wipes on every way out ([`signals`] forwards signals meanwhile).

#[cfg(unix)]
pub(crate) mod agent;
pub(crate) mod exec;
pub(crate) mod netrc;
pub(crate) mod plan;
pub(crate) mod setup;
#[cfg(unix)]
pub(crate) mod signals;
pub(crate) mod wipe;

use std::io::{BufRead, Write};

use clap::{Args, Subcommand};

use crate::error::Result;
#[cfg(unix)]
use crate::settings::Env;
use crate::settings::Settings;

/// The variable that tells `gocred ci helper` (and `goauth`) where the `ci exec` agent listens.
pub(crate) const AGENT_VAR: &str = "GOCRED_CI_AGENT";

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    #[command(subcommand)]
    pub command: CiCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CiCommand {
    /// Write a managed block of `machine` entries for the private hosts into $HOME/.netrc (and
    /// $NETRC); prints `::add-mask::` lines on GitHub Actions.
    Netrc(netrc::NetrcArgs),
    /// Remove the block, revoke the tokens that can be revoked, erase the lease.
    Wipe(wipe::WipeArgs),
    /// Set up, run CMD, and wipe however it ends: `gocred ci exec [--netrc] -- CMD…`. By default
    /// no file: CMD's git and Go ask this gocred over a Unix socket that answers only this user's
    /// processes in CMD's tree while CMD runs; any of them can get the tokens. Unix only.
    Exec(exec::ExecArgs),
    /// (git, inside `ci exec`) Answer a credential request from the exec agent.
    #[cfg(unix)]
    #[command(hide = true)]
    Helper(agent::HelperArgs),
}

pub(crate) fn run(
    args: CiArgs,
    settings: impl FnOnce() -> Result<Settings>,
    input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    #[cfg(not(unix))]
    let _ = input;
    match args.command {
        CiCommand::Netrc(a) => netrc::run(a, &settings()?, out, err),
        CiCommand::Wipe(a) => wipe::run(a, &settings()?, err),
        CiCommand::Exec(a) => exec::run(a, &settings()?, out, err),
        #[cfg(unix)]
        CiCommand::Helper(a) => agent::helper(a, input, &Env::from_process(), out, err),
    }
}
