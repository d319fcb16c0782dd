//! `gocred init`: set up a laptop for the private modules GOPRIVATE names.
//!
//! Reads GOPRIVATE (environment, Go's env file, `--goprivate`), proposes a rule per pattern
//! (https with a token, or ssh), stores the tokens through `login`'s code path, and wires git and
//! Go: gocred as the helper of each private host only, `useHttpPath` where a host's rules tell
//! repositories apart, `go env -w` GOAUTH/GONOSUMDB, scoped SSH rewrites. The whole plan is
//! computed first ([`plan`], [`wiring`]); `--dry-run` prints it and stops; otherwise it is
//! printed, applied ([`apply`]) and recorded ([`state`]) so `gocred uninit` removes exactly what
//! was added. A second run finds everything in place and says so.

mod apply;
mod goprivate;
pub(crate) mod plan;
pub(crate) mod prompt;
mod render;
pub(crate) mod state;
mod wiring;

use std::io::Write;

use clap::Args;

use crate::error::{Error, Result};
use crate::gitconfig::GitConfig;
use crate::goenv::GoEnv;
use crate::settings::Settings;
use plan::Inputs;
use prompt::Ask;
use render::describe;

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Print every change init would make, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without questions (scripts): tokens come from stdin, one line per new `pat` rule.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Source of new https rules: pat (a token in the keyring) or env (a variable).
    #[arg(long, default_value = "pat", value_parser = ["pat", "env"])]
    pub source: String,
    /// Git username sent with the token of new rules (default x-access-token).
    #[arg(long)]
    pub username: Option<String>,
    /// `--source env`: the variable holding the token.
    #[arg(long)]
    pub variable: Option<String>,
    /// Fetch PATTERN over ssh (repeatable): a scoped `url.<base>.insteadOf` rewrite. The ssh
    /// base defaults to `git@<host>:`; give another as PATTERN=BASE.
    #[arg(long = "ssh", value_name = "PATTERN[=BASE]")]
    pub ssh: Vec<String>,
    /// The ssh base when there is one --ssh PATTERN (same as --ssh PATTERN=BASE).
    #[arg(long, value_name = "BASE")]
    pub ssh_base: Option<String>,
    /// Also treat PATTERNS as private (comma-separated, repeatable): added to GOPRIVATE.
    #[arg(long, value_name = "PATTERNS")]
    pub goprivate: Vec<String>,
    /// Make no rule for this GOPRIVATE pattern (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
}

/// [`run`], answered by the process's terminal (or, with `--yes`, its stdin).
pub(crate) fn run_on_terminal(
    args: InitArgs,
    settings: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    run(
        args,
        settings,
        &mut prompt::Terminal::from_process(),
        out,
        err,
    )
}

pub(crate) fn run(
    args: InitArgs,
    settings: &Settings,
    ask: &mut dyn Ask,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    check_args(&args)?;
    if !args.yes && !args.dry_run && !ask.interactive() {
        return Err(Error::Usage(
            "stdin is not a terminal: pass --yes to apply without questions (tokens on stdin), \
             or --dry-run to see the changes"
                .into(),
        ));
    }
    settings.require_config_path()?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("finding the gocred binary (for git and GOAUTH)", e))?;
    // Before anything else: git and Go must be able to run this path as written.
    crate::goenv::goauth_command(&exe)?;
    wiring::helper_value(&exe)?;
    let git = GitConfig::new(&settings.env)?;
    let go = GoEnv::locate(&settings.env)?;
    let inp = Inputs {
        ssh: ssh_patterns(&args)?,
        settings,
        args: &args,
        git: &git,
        go: &go,
        exe: &exe,
    };
    let plan = plan::build(&inp, ask)?;
    let w = |out: &mut dyn Write, line: String| {
        writeln!(out, "{line}").map_err(|e| Error::io("writing to stdout", e))
    };
    w(
        out,
        format!(
            "gocred init: GOPRIVATE={} ({})",
            plan.goprivate, plan.goprivate_from
        ),
    )?;
    for n in &plan.notes {
        let _ = writeln!(err, "gocred: note: {n}");
    }
    if !plan.unchanged.is_empty() {
        w(out, "already in place:".into())?;
        for u in &plan.unchanged {
            w(out, format!("  = {u}"))?;
        }
    }
    if plan.changes.is_empty() {
        return w(
            out,
            "gocred init: nothing to change; git, Go and gocred are already set up".into(),
        );
    }
    if args.dry_run {
        w(out, "would change:".into())?;
        for c in &plan.changes {
            w(out, format!("  + {}", describe(c, &inp)))?;
        }
        return w(
            out,
            format!(
                "gocred init --dry-run: {} change(s) listed; nothing was changed",
                plan.changes.len()
            ),
        );
    }
    if ask.interactive() && !args.yes {
        // Its own heading: right after "already in place:" the list would read as more of it.
        let _ = writeln!(err, "will change:");
        for c in &plan.changes {
            let _ = writeln!(err, "  + {}", describe(c, &inp));
        }
        if !ask.confirm(&format!("Make these {} change(s)?", plan.changes.len()))? {
            return w(out, "gocred init: nothing was changed".into());
        }
    }
    let tokens = ask.tokens(&plan.token_patterns())?;
    let state_path = state::path(&settings.env)?;
    let mut record = state::load(&state_path)?.unwrap_or(state::State {
        version: state::VERSION,
        ..Default::default()
    });
    let before = record.clone();
    w(out, "changed:".into())?;
    let result = apply::apply(&plan, &inp, tokens, &mut record, out, err);
    if record != before {
        state::save(&state_path, &record)?;
    }
    result?;
    w(
        out,
        format!(
            "gocred init: {} change(s) made; `gocred uninit` takes them back (record: {})",
            plan.changes.len(),
            state_path.display()
        ),
    )
}

/// `--ssh PATTERN[=BASE]` (and `--ssh-base` for a single one), bases checked.
fn ssh_patterns(a: &InitArgs) -> Result<Vec<(String, Option<String>)>> {
    if a.ssh_base.is_some() && a.ssh.len() != 1 {
        return Err(Error::Usage(
            "--ssh-base goes with exactly one --ssh PATTERN; for several, write --ssh PATTERN=BASE"
                .into(),
        ));
    }
    a.ssh
        .iter()
        .map(|v| {
            let (p, base) = match v.split_once('=') {
                Some((p, b)) => (p, Some(b.to_string())),
                None => (v.as_str(), a.ssh_base.clone()),
            };
            if let Some(b) = &base {
                crate::ssh::SshBase::parse(b).map_err(Error::Usage)?;
            }
            Ok((p.to_string(), base))
        })
        .collect()
}

fn check_args(a: &InitArgs) -> Result<()> {
    match (a.source.as_str(), &a.variable) {
        ("env", None) => Err(Error::Usage("--source env needs --variable NAME".into())),
        ("pat", Some(_)) => Err(Error::Usage("--variable goes with --source env".into())),
        _ => {
            if let Some(u) = &a.username {
                if u.is_empty() || u.chars().any(|c| c.is_control()) {
                    return Err(Error::Usage(
                        "--username must be non-empty and free of control characters".into(),
                    ));
                }
            }
            Ok(())
        }
    }
}
