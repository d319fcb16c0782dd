//! Carries out a plan, recording each change in the [`State`] as soon as it is made.
//!
//! Last step of `init`. Order: rules and their tokens (through `login`'s code path), then git,
//! then Go. If a step fails, the state still lists everything done before it, so `uninit` can
//! take it back.

use std::io::Write;

use super::plan::{Change, Inputs, Plan};
use super::render::describe;
use super::state::{GitRecord, GoRecord, GoVarRecord, RuleRecord, State};
use crate::commands::login;
use crate::error::Result;
use crate::secret::SecretString;
use crate::store::payload::PatSecret;

pub(crate) fn apply(
    plan: &Plan,
    inp: &Inputs,
    tokens: Vec<SecretString>,
    state: &mut State,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let mut tokens = tokens.into_iter();
    let mut go_started = false;
    for c in &plan.changes {
        match c {
            Change::Rule(r) => {
                let secret = match r.needs_token() {
                    true => Some(PatSecret {
                        username: r.pat_username.clone(),
                        token: tokens.next().expect("one token per pat rule"),
                    }),
                    false => None,
                };
                let stored = secret.is_some();
                let config = inp.settings.require_config_path()?.to_path_buf();
                created(&config, state);
                login::save(inp.settings, &r.spec, secret, err)?;
                state.rules.push(RuleRecord {
                    pattern: r.spec.pattern.clone(),
                    config,
                    token_stored: stored,
                });
            }
            Change::GitAdd { key, value, .. } => {
                let file = inp.git.global.clone();
                created(&file, state);
                inp.git.add(key, value)?;
                state.git.push(GitRecord {
                    file,
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            Change::GoSet {
                name,
                before,
                after,
                ..
            } => {
                if !go_started {
                    start_go(inp, state)?;
                    go_started = true;
                }
                inp.go.set(name, after)?;
                let rec = state.go.as_mut().expect("started");
                match rec.vars.iter_mut().find(|v| v.name == *name) {
                    Some(v) => v.after = after.clone(),
                    None => rec.vars.push(GoVarRecord {
                        name: name.to_string(),
                        before: before.clone(),
                        after: after.clone(),
                    }),
                }
                rec.after = inp.go.read_file()?;
            }
        }
        let _ = writeln!(out, "  + {}", describe(c, inp));
    }
    Ok(())
}

/// Notes a file init is about to create, so `uninit` can remove it once it is empty again.
fn created(file: &std::path::Path, state: &mut State) {
    if !file.exists() && !state.created_files.iter().any(|f| f == file) {
        state.created_files.push(file.to_path_buf());
    }
}

/// Before init's first change to Go's env file in this run: keep the bytes as they are now, or
/// notice that someone changed the file since the last init (then only per-variable restores
/// are safe).
fn start_go(inp: &Inputs, state: &mut State) -> Result<()> {
    let now = inp.go.read_file()?;
    match &mut state.go {
        None => {
            state.go = Some(GoRecord {
                file: inp.go.file.clone(),
                snapshot_valid: true,
                before: now.clone(),
                after: now,
                vars: Vec::new(),
            })
        }
        Some(rec) => {
            if rec.file != inp.go.file || rec.after != now {
                rec.snapshot_valid = false;
                rec.file = inp.go.file.clone();
            }
        }
    }
    Ok(())
}
