//! `gocred completions SHELL` and `gocred man`: the shell completion scripts and the man page,
//! generated from the same clap definition as the parser, so they can never drift from the
//! flags the binary really has. The release archive ships their output (install/release.sh);
//! a user can also regenerate them from any installed binary.

use std::io::Write;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells the release archive ships scripts for (clap_complete also knows elvish).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Shell {
        match s {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

pub(crate) fn completions(args: CompletionsArgs, out: &mut dyn Write) -> Result<()> {
    let mut cmd = crate::cli::Cli::command();
    // Generated into a buffer first: a half-written script on a closed pipe is worse than none.
    let mut buf = Vec::new();
    clap_complete::generate(Shell::from(args.shell), &mut cmd, "gocred", &mut buf);
    write_all(out, &buf)
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write gocred.1 and one page per subcommand (gocred-login.1, gocred-ci-netrc.1, …) into
    /// DIR instead of printing gocred.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
}

/// The roff source of gocred(1) on stdout (`gocred man | man -l -`), or every page into a
/// directory: gocred(1) names its subcommands' pages, so the archive ships them all.
pub(crate) fn man(args: ManArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(dir) = args.out_dir {
        std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(crate::cli::Cli::command(), &dir))
            .map_err(|e| Error::io(format!("writing man pages into {}", dir.display()), e))?;
        return Ok(());
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(crate::cli::Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::io("rendering the man page", e))?;
    write_all(out, &buf)
}

fn write_all(out: &mut dyn Write, buf: &[u8]) -> Result<()> {
    out.write_all(buf)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("writing to stdout", e))
}
