//! How `init` shows a change: one line, the same for `--dry-run` and a real run, so the dry run
//! is exactly the list of what a real run does.

use super::plan::{Change, Inputs};
use crate::config::{SourceKind, Transport};

/// One line per change, the same for `--dry-run` and a real run.
pub(crate) fn describe(c: &Change, inp: &Inputs) -> String {
    match c {
        Change::Rule(r) => {
            let what = match (r.spec.transport, r.spec.source) {
                (Transport::Ssh, _) => format!(
                    "ssh via {}",
                    r.spec
                        .ssh_base
                        .clone()
                        .unwrap_or_else(|| "git@<host>:".into())
                ),
                (_, Some(SourceKind::Pat)) => format!(
                    "pat, username {}; the token goes into the keyring",
                    r.pat_username.as_deref().unwrap_or("x-access-token")
                ),
                (_, Some(SourceKind::Env)) => {
                    format!("env ${}", r.spec.variable.as_deref().unwrap_or("?"))
                }
                (_, Some(k)) => k.as_str().to_string(),
                (_, None) => "?".into(),
            };
            format!(
                "rule `{}` ({what}) in {}",
                r.spec.pattern,
                inp.settings
                    .config_path
                    .as_deref()
                    .map_or("the config".into(), |p| p.display().to_string())
            )
        }
        Change::GitAdd { key, value, why } => format!(
            "git config --file {} --add {key} {value}    # {why}",
            inp.git.global.display()
        ),
        Change::GoSet {
            name,
            before,
            after,
            why,
        } => format!(
            "go env -w {name}={after}    # {}; {why}",
            match before {
                Some(b) => format!("was `{b}`"),
                None => "was not set in the env file".into(),
            }
        ),
    }
}
