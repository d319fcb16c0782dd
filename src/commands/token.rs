//! `gocred token TARGET`: prints one token for TARGET on stdout and nothing else (for scripts).

use std::io::Write;

use clap::Args;

use super::resolve_target;
use crate::error::{Error, Result};
use crate::rules::Selection;
use crate::secret::ExposeSecret;
use crate::settings::Settings;
use crate::sources::{self, Context, Lookup, Target};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// A module path or URL.
    pub target: String,
}

pub fn run(args: TokenArgs, settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let t = resolve_target(&args.target)?;
    crate::trace::request("token", &t.origin, t.path.as_deref());
    crate::trace::rules(&settings.rules, &t.origin, t.path.as_deref());
    let rule = match settings.rules.select(&t.origin, t.path.as_deref()) {
        Selection::Rule(r) => r,
        Selection::None => {
            return Err(Error::with_hint(
                format!("no rule covers {}", t.module_path),
                format!("add one with: gocred login {}", t.module_path),
            ))
        }
        Selection::Ambiguous(_) => {
            return Err(Error::Usage(format!(
                "several rules cover {}; give the repository path too",
                t.origin.authority()
            )))
        }
    };
    crate::rules::Rules::check_scheme(rule, &t.origin)?;
    let source = sources::for_rule(rule).ok_or_else(|| {
        Error::other(format!(
            "rule `{}` uses ssh: there is no token",
            rule.pattern
        ))
    })?;
    let ctx = Context::new(settings);
    let target = Target {
        origin: &t.origin,
        path: t.path.as_deref(),
        rule,
    };
    let Lookup::Found(cred) = source.get(&ctx, &target)? else {
        return Err(Error::other(format!("no token for {}", t.module_path)));
    };
    cred.check_usable(rule, settings.cache.margin_secs)?;
    crate::trace::answered("token", rule, &cred);
    let mut line = cred.secret.expose_secret().to_string();
    line.push('\n');
    let r = out.write_all(line.as_bytes()).and_then(|_| out.flush());
    // Overwrite our copy before it is freed.
    line.clear();
    r.map_err(|e| Error::io("writing the token", e))
}
