//! `gocred token TARGET`: prints one token for TARGET on stdout and nothing else (for scripts).

use std::io::Write;

use clap::Args;
use secrecy::zeroize::Zeroizing;

use super::resolve_target;
use crate::error::{Error, Result};
use crate::secret::ExposeSecret;
use crate::settings::{Route, Settings};

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// A module path or URL.
    pub target: String,
}

pub(crate) fn run(args: TokenArgs, settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let t = resolve_target(&args.target)?;
    #[cfg(unix)]
    if let Some(agent) = crate::agent::client_from_env()? {
        return agent.token(&t.origin, t.path.as_deref(), out);
    }
    crate::commands::trace::request("token", &t.origin, t.path.as_deref());
    crate::commands::trace::rules(&settings.rules, &t.origin, t.path.as_deref());
    let routed = match settings.route(&t.origin, t.path.as_deref())? {
        Route::Source(r) => r,
        Route::NoRule => {
            return Err(Error::with_hint(
                format!("no rule covers {}", t.module_path),
                format!("add one with: gocred login {}", t.module_path),
            ))
        }
        Route::Ambiguous(_) => {
            return Err(Error::Usage(format!(
                "several rules cover {}; give the repository path too",
                t.origin.authority()
            )))
        }
        Route::Ssh(rule) => {
            return Err(Error::other(format!(
                "rule `{}` uses ssh: there is no token",
                rule.pattern
            )))
        }
    };
    let cred = routed.credential(&routed.query(&t.origin, t.path.as_deref()))?;
    crate::commands::trace::answered("token", routed.rule, &cred);
    // Our copy of the line is zeroed when dropped.
    let mut line = Zeroizing::new(String::with_capacity(cred.secret.expose_secret().len() + 1));
    line.push_str(cred.secret.expose_secret());
    line.push('\n');
    out.write_all(line.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("writing the token", e))
}
