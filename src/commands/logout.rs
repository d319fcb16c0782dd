//! `gocred logout PATTERN`: removes the rule and its secret from the keyring, and first revokes
//! at the server what can be revoked: GitHub installation tokens (`DELETE /installation/token`),
//! OAuth refresh and access tokens (RFC 7009, where the server has the endpoint), GitLab access
//! tokens. A revocation that fails is reported; the local secrets are removed anyway.

use std::io::Write;

use clap::Args;

use crate::config::edit;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::sources::Context;

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The pattern given to `gocred login`.
    pub pattern: String,
}

pub fn run(args: LogoutArgs, settings: &Settings, err: &mut dyn Write) -> Result<()> {
    let config = settings.require_config_path()?.to_path_buf();
    let had_pat_rule = settings.rules.rules.iter().any(|r| {
        r.pattern == args.pattern && matches!(r.source, Some(crate::rules::SourceSpec::Pat))
    });
    let ctx = Context::new(settings);
    let minted = super::logout_mint::revoke(settings, &ctx, &args.pattern, err);
    let deleted = match ctx.keyring() {
        Ok(k) => crate::sources::forget_all(k, &args.pattern)?,
        Err(e) if !had_pat_rule => {
            let _ = e;
            false
        }
        Err(e) => return Err(e),
    };
    let removed = edit::remove_rule(&config, &args.pattern)?;
    let deleted = deleted || minted;
    if deleted {
        let _ = writeln!(
            err,
            "gocred: deleted the token for `{}` from the keyring",
            args.pattern
        );
    }
    if removed > 0 {
        let _ = writeln!(
            err,
            "gocred: removed rule `{}` from {}",
            args.pattern,
            config.display()
        );
    }
    if !deleted && removed == 0 {
        return Err(Error::with_hint(
            format!("no rule and no stored token for `{}`", args.pattern),
            "list what is configured with `gocred explain <module>` or look at the config file",
        ));
    }
    Ok(())
}
