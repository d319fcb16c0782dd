//! GOPRIVATE for `init`: the patterns to set up, and whether Go's env file must learn them.
//!
//! The patterns are GOPRIVATE as Go sees it (environment, else Go's env file), plus
//! `--goprivate`, the `--ssh` patterns and the patterns of rules already in the gocred config.
//! Those the env file lacks are added to it with `go env -w`, so every go command (an IDE, a new
//! shell) knows they are private, not only the shell that happens to export GOPRIVATE.

use super::plan::{Change, Inputs, Plan};
use crate::error::{Error, Result};
use crate::goenv::join_patterns;
use crate::scope::Patterns;

/// A GOPRIVATE pattern given on the command line: one pattern, printable, no spaces.
pub(crate) fn check_pattern(p: &str) -> Result<()> {
    if p.is_empty() || p.contains(',') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Usage(format!(
            "`{}` is not one GOPRIVATE pattern (no commas, spaces or control characters)",
            crate::protocol::escape_for_display(p)
        )));
    }
    Ok(())
}

/// Does a pattern list cover `pattern` (literally, or as a module path)?
fn covers(list: &str, pattern: &str) -> bool {
    let p = pattern.trim_end_matches('/');
    list.split(',').any(|x| x.trim_end_matches('/') == p)
        || Patterns::parse(list).matches(&p.replace(['*', '?'], "x"))
}

/// Decides the GOPRIVATE patterns and whether Go's env file needs them. Returns the patterns.
pub(crate) fn plan(inp: &Inputs, plan: &mut Plan) -> Result<Vec<String>> {
    let s = inp.settings;
    let a = inp.args;
    let effective = s.go.value("GOPRIVATE").to_string();
    let mut wanted: Vec<String> = effective
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let add = |p: &str, wanted: &mut Vec<String>| {
        if !covers(&wanted.join(","), p) {
            wanted.push(p.to_string());
        }
    };
    for p in a.goprivate.iter().flat_map(|l| l.split(',')) {
        check_pattern(p)?;
        add(p, &mut wanted);
    }
    for (p, _) in &inp.ssh {
        check_pattern(p)?;
        add(p, &mut wanted);
    }
    for r in &s.rules.rules {
        add(&r.pattern, &mut wanted);
    }
    if wanted.is_empty() {
        return Err(Error::with_hint(
            "nothing to set up: GOPRIVATE is empty and the gocred config has no rules",
            "say which modules are private: `gocred init --goprivate git.corp.example` \
             (or `go env -w GOPRIVATE=git.corp.example` first)",
        ));
    }
    if let Some(bad) = wanted.iter().find(|p| p.chars().any(|c| c.is_control())) {
        return Err(Error::other(format!(
            "GOPRIVATE holds a control character (`{}`); refusing to use it",
            crate::protocol::escape_for_display(bad)
        )));
    }
    let file = inp.go.file_values()?;
    let in_file = file.get("GOPRIVATE").cloned().unwrap_or_default();
    let listed: Vec<&str> = in_file.split(',').collect();
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|p| !listed.contains(p))
        .collect();
    plan.goprivate = join_patterns(&in_file, &missing);
    plan.goprivate_from = format!("Go's env file {}", inp.go.file.display());
    if missing.is_empty() {
        plan.unchanged
            .push(format!("GOPRIVATE={} is in Go's env file", plan.goprivate));
    } else {
        plan.changes.push(Change::GoSet {
            name: "GOPRIVATE",
            before: (!in_file.is_empty()).then(|| in_file.clone()),
            after: plan.goprivate.clone(),
            why: format!(
                "so every go command knows {} is private",
                missing.join(", ")
            ),
        });
    }
    if let Some(env) = s.env.get("GOPRIVATE") {
        if env != plan.goprivate {
            plan.notes.push(format!(
                "GOPRIVATE is also set in your environment (`{}`); Go uses that value, not the \
                 env file's, until you unset it",
                crate::protocol::escape_for_display(env)
            ));
        }
    }
    Ok(wanted)
}
