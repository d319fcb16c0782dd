//! `gocred uninit`: removes exactly what `gocred init` added, and nothing of yours.
//!
//! Works through init's record (`init/state.rs`), newest change first: each git config entry is
//! removed by exact key and value (`git config --fixed-value --unset`), so entries you added
//! yourself stay; a git config file init created goes away again if it is empty. Go's env file
//! gets its old bytes back when nobody touched it since init, otherwise each variable init set
//! is restored with `go env -w` / `-u` — unless you changed it since, then it is left as you set
//! it. Rules and tokens init added stay unless `--forget` (they are yours to use with `login`).

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::init::state::{self, GoRecord, State};
use crate::config::edit;
use crate::error::{Error, Result};
use crate::gitconfig::{GitConfig, Unset};
use crate::goenv::GoEnv;
use crate::settings::{parse_go_env, Settings};

#[derive(Debug, Args)]
pub(crate) struct UninitArgs {
    /// Print what would be removed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the rules init added, and their tokens from the keyring.
    #[arg(long)]
    pub forget: bool,
}

pub(crate) fn run(
    args: UninitArgs,
    settings: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let path = state::path(&settings.env)?;
    let Some(mut st) = state::load(&path)? else {
        return line(
            out,
            "gocred uninit: nothing to undo (no record of `gocred init` changes)",
        );
    };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let git = GitConfig::new(&settings.env)?;
    let mut left = State {
        version: st.version,
        ..Default::default()
    };
    for rec in std::mem::take(&mut st.git).into_iter().rev() {
        let what = format!(
            "git config {} = {} ({})",
            rec.key,
            rec.value,
            rec.file.display()
        );
        if args.dry_run {
            line(out, &format!("  - {verb} {what}"))?;
            continue;
        }
        match git.unset(&rec.file, &rec.key, &rec.value) {
            Ok(Unset::Removed) => line(out, &format!("  - {verb} {what}"))?,
            Ok(Unset::Missing) => line(out, &format!("  = already gone: {what}"))?,
            Ok(Unset::Several) => {
                let _ = writeln!(
                    err,
                    "gocred: note: {what} appears more than once (you added it too); left in place"
                );
            }
            Err(e) => {
                let _ = writeln!(err, "gocred: {e}");
                left.git.insert(0, rec);
            }
        }
    }
    if let Some(go) = st.go.take() {
        if let Err(e) = undo_go(&go, settings, args.dry_run, out, err) {
            let _ = writeln!(err, "gocred: {e}");
            left.go = Some(go);
        }
    }
    for r in std::mem::take(&mut st.rules) {
        if !args.forget {
            let _ = writeln!(
                err,
                "gocred: kept rule `{}` in {}{}; `gocred uninit --forget` or `gocred logout {}` removes it",
                r.pattern,
                r.config.display(),
                if r.token_stored { " and its token" } else { "" },
                r.pattern
            );
            continue;
        }
        if args.dry_run {
            line(
                out,
                &format!("  - {verb} rule `{}` and its token", r.pattern),
            )?;
            continue;
        }
        if r.token_stored {
            crate::sources::forget_all(settings.context().keyring()?, &r.pattern)?;
        }
        let n = edit::remove_rule(&r.config, &r.pattern)?;
        line(
            out,
            &format!(
                "  - {verb} rule `{}`{} ({} rule(s) in {})",
                r.pattern,
                if r.token_stored { " and its token" } else { "" },
                n,
                r.config.display()
            ),
        )?;
    }
    // Files init created (git config, gocred config) go away once nothing is left in them.
    for f in std::mem::take(&mut st.created_files) {
        let empty = std::fs::read_to_string(&f).is_ok_and(|t| t.trim().is_empty());
        if empty && !args.dry_run {
            std::fs::remove_file(&f)
                .map_err(|e| Error::io(format!("removing {}", f.display()), e))?;
            line(
                out,
                &format!("  - {verb} {} (init created it; now empty)", f.display()),
            )?;
        }
    }
    if args.dry_run {
        return line(out, "gocred uninit --dry-run: nothing was changed");
    }
    if left.is_empty() {
        state::remove(&path)?;
        line(out, "gocred uninit: done; init's changes are gone")
    } else {
        state::save(&path, &left)?;
        Err(Error::with_hint(
            "some of init's changes could not be undone (see above)",
            format!(
                "fix the cause and run `gocred uninit` again (record: {})",
                path.display()
            ),
        ))
    }
}

fn line(out: &mut dyn Write, s: &str) -> Result<()> {
    writeln!(out, "{s}").map_err(|e| Error::io("writing to stdout", e))
}

fn undo_go(
    rec: &GoRecord,
    settings: &Settings,
    dry_run: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let now = read(&rec.file)?;
    // The old bytes go back only into the file itself, never through a symlink.
    let is_link = std::fs::symlink_metadata(&rec.file).is_ok_and(|m| m.file_type().is_symlink());
    if rec.snapshot_valid && now == rec.after && !is_link {
        for v in &rec.vars {
            line(
                out,
                &format!(
                    "  - {} {}",
                    if dry_run { "would restore" } else { "restored" },
                    describe(v.name.as_str(), v.before.as_deref())
                ),
            )?;
        }
        if !dry_run {
            restore_bytes(&rec.file, rec.before.as_deref())?;
        }
        return Ok(());
    }
    // Someone changed the file since: restore each variable init set, unless it changed too.
    let values = now.as_deref().map(parse_go_env).unwrap_or_default();
    let go = (!dry_run)
        .then(|| GoEnv::locate(&settings.env))
        .transpose()?;
    for v in rec.vars.iter().rev() {
        let current = values.get(&v.name).filter(|c| !c.is_empty());
        if current != Some(&v.after) {
            let _ = writeln!(
                err,
                "gocred: note: {} changed since init (now `{}`); left as you set it",
                v.name,
                current.map_or("unset", String::as_str)
            );
            continue;
        }
        if let Some(go) = &go {
            match &v.before {
                Some(b) => go.set(&v.name, b)?,
                None => go.unset(&v.name)?,
            }
        }
        line(
            out,
            &format!(
                "  - {} {}",
                if dry_run { "would restore" } else { "restored" },
                describe(&v.name, v.before.as_deref())
            ),
        )?;
    }
    Ok(())
}

fn describe(name: &str, before: Option<&str>) -> String {
    match before {
        Some(b) => format!("{name}={b} in Go's env file"),
        None => format!("{name}: removed from Go's env file (it was not set there)"),
    }
}

fn read(p: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", p.display()), e)),
    }
}

/// Puts Go's env file back as it was: its old bytes (keeping the current mode), or no file.
fn restore_bytes(p: &Path, before: Option<&str>) -> Result<()> {
    match before {
        None => match std::fs::remove_file(p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", p.display()), e)),
        },
        Some(bytes) => {
            let mode = file_mode(p);
            crate::fsutil::write_atomic(p, bytes.as_bytes(), mode)
        }
    }
}

#[cfg(unix)]
fn file_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map_or(0o644, |m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_p: &Path) -> u32 {
    0o644
}
