//! The command line: clap structs only, one dispatch line per command.

use std::io::{self, IsTerminal, Read, Write};

use clap::{Parser, Subcommand};

use crate::commands::{
    ci, credential, docs, doctor, explain, goauth, init, login, logout, token, uninit,
};
use crate::error::{Error, Result};
use crate::settings::{Env, Settings};

/// `gocred --version`: `0.1.0 (commit 0123456789ab, x86_64-unknown-linux-gnu)` (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GOCRED_BUILD_COMMIT"),
    ", ",
    env!("GOCRED_BUILD_TARGET"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "gocred",
    version = VERSION,
    about = "Credentials for private Go modules: git credential helper routed by GOPRIVATE, secrets in the OS keyring",
    after_help = "As git's helper: git config --global credential.https://git.corp.example.helper gocred"
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// (git) Answer a credential request on stdin.
    Get,
    /// (git) A credential worked: remember it for a `pat` rule that has none yet.
    Store,
    /// (git) A credential was rejected: drop it if it is the one we hold.
    Erase,
    /// Store a token for PATTERN in the keyring and add its rule to the config.
    Login(login::LoginArgs),
    /// Remove PATTERN's rule and its token.
    Logout(logout::LogoutArgs),
    /// Say whether TARGET is private, and which rule and source serve it.
    Explain(explain::ExplainArgs),
    /// Print a token for TARGET on stdout (for scripts).
    Token(token::TokenArgs),
    /// (go) GOAUTH command: GOAUTH="/abs/path/gocred goauth" (no spaces in the path).
    Goauth(goauth::GoauthArgs),
    /// Set up git and Go on this machine for the private modules GOPRIVATE names.
    Init(init::InitArgs),
    /// Remove exactly what `gocred init` added.
    Uninit(uninit::UninitArgs),
    /// CI jobs: scoped, short-lived credentials that are wiped when the job ends.
    Ci(ci::CiArgs),
    /// Serve this machine's credentials over a Unix socket to a far side, in one narrowed,
    /// expiring session (`gocred agent status`: the live sessions).
    #[cfg(unix)]
    Agent(crate::commands::agent::AgentArgs),
    /// ssh to HOST with an agent session forwarded: git and Go there get narrowed, short-lived
    /// credentials for that shell only.
    #[cfg(unix)]
    Ssh(crate::commands::ssh::SshArgs),
    /// Run CMD (a sandbox, a coding agent) with its own narrowed agent session.
    #[cfg(unix)]
    Exec(crate::commands::exec::ExecArgs),
    /// Check every link from `go get` to TARGET's repository and say how to fix a broken one.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script for bash, zsh, fish or powershell.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff): `gocred man | man -l -`.
    #[command(hide = true)]
    Man(docs::ManArgs),
    /// Git credential operations this version does not know are ignored, as git asks.
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

fn settings() -> Result<Settings> {
    let s = Settings::load(Env::from_process())?;
    crate::commands::trace::settings(&s);
    Ok(s)
}

/// Git runs `gocred get|store|erase` for every request it makes, so start-up is the product:
/// when argv is exactly one of those, skip building clap's whole command tree (a dozen
/// subcommands and their flags cost more than the rest of a hot `get`). Anything else, including
/// `gocred get --help`, goes through clap.
pub fn parse_credential_operation() -> Option<Cli> {
    let mut args = std::env::args_os().skip(1);
    let op = args.next()?;
    if args.next().is_some() {
        return None;
    }
    let command = match op.to_str()? {
        "get" => Command::Get,
        "store" => Command::Store,
        "erase" => Command::Erase,
        _ => return None,
    };
    Some(Cli { command })
}

pub fn run(cli: Cli) -> Result<()> {
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    crate::trace::init(std::env::var_os(crate::trace::VAR).as_deref(), &mut err);
    let stdin = || io::stdin().lock();
    match cli.command {
        Command::Get => credential::run(
            credential::Operation::Get,
            stdin(),
            &mut out,
            &mut err,
            settings,
        ),
        Command::Store => credential::run(
            credential::Operation::Store,
            stdin(),
            &mut out,
            &mut err,
            settings,
        ),
        Command::Erase => credential::run(
            credential::Operation::Erase,
            stdin(),
            &mut out,
            &mut err,
            settings,
        ),
        Command::Login(a) => login::run(a, &settings()?, &mut err),
        Command::Logout(a) => logout::run(a, &settings()?, &mut err),
        Command::Explain(a) => explain::run(a, &settings()?, &mut out),
        Command::Token(a) => token::run(a, &settings()?, &mut out),
        Command::Goauth(a) => {
            let input = (!io::stdin().is_terminal()).then(stdin);
            goauth::run(a, input, &mut out, &mut err, settings)
        }
        Command::Init(a) => init::run_on_terminal(a, &settings()?, &mut out, &mut err),
        Command::Uninit(a) => uninit::run(a, &settings()?, &mut out, &mut err),
        Command::Ci(a) => ci::run(a, settings, stdin(), &mut out, &mut err),
        #[cfg(unix)]
        Command::Agent(a) => crate::commands::agent::run(a, settings, &mut out, &mut err),
        #[cfg(unix)]
        Command::Ssh(a) => crate::commands::ssh::run(a, settings, &mut err),
        #[cfg(unix)]
        Command::Exec(a) => crate::commands::exec::run(a, settings, &mut err),
        Command::Doctor(a) => doctor::run(a, Env::from_process(), &mut out),
        Command::Completions(a) => docs::completions(a, &mut out),
        Command::Man(a) => docs::man(a, &mut out),
        Command::Unknown(args) => unknown_operation(&args, &mut err),
    }
}

/// A helper "must silently ignore unknown operations" (gitcredentials; docs/protocols/git-credential.md). A person who
/// mistyped a command still deserves a word, so one line goes to stderr, which git shows.
fn unknown_operation(args: &[String], err: &mut dyn Write) -> Result<()> {
    let op = args.first().map(String::as_str).unwrap_or("");
    let looks_like_op = args.len() == 1
        && !op.is_empty()
        && op.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if !looks_like_op {
        return Err(Error::Usage(format!(
            "unknown command `{}`; see `gocred --help`",
            crate::protocol::escape_for_display(&args.join(" "))
        )));
    }
    if !io::stdin().is_terminal() {
        let _ = io::stdin()
            .lock()
            .take(crate::protocol::MAX_INPUT as u64)
            .read_to_end(&mut Vec::new());
    }
    if io::stderr().is_terminal() {
        let _ = writeln!(
            err,
            "gocred: `{op}` is not a command of this version (ignored); see `gocred --help`"
        );
    }
    Ok(())
}
