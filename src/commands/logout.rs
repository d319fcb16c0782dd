//! `gocred logout PATTERN`: removes the rule and its secrets from the keyring, and first revokes
//! at the server what the rule's source minted (`Source::revoke_all`: GitHub installation
//! tokens, OAuth refresh and access tokens where the server has an RFC 7009 endpoint, GitLab
//! access tokens). Revocation needs the network; when it fails the user is told which tokens
//! may still live (until their short expiry) and the local secrets are removed all the same, so
//! a lost laptop's keyring never keeps a working root.

use std::io::Write;

use clap::Args;

use crate::config::edit;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::sources::{Context, Source, SourceSpec};

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The pattern given to `gocred login`.
    pub pattern: String,
}

pub(crate) fn run(args: LogoutArgs, settings: &Settings, err: &mut dyn Write) -> Result<()> {
    let config = settings.require_config_path()?.to_path_buf();
    let pattern = &args.pattern;
    let rule = settings.rules.rules.iter().find(|r| r.pattern == *pattern);
    let ctx = settings.context();
    let root_deleted = match rule.and_then(|r| r.source()) {
        Some(source) => revoke(&ctx, source.as_ref(), pattern, err),
        None => false,
    };
    // A `pat` pattern's entries (the rule-wide and the bound ones) go even without its rule.
    let had_pat_rule = rule.is_some_and(|r| matches!(r.source, Some(SourceSpec::Pat)));
    let pat_deleted = match ctx.keyring() {
        Ok(k) => crate::sources::forget_all(k, pattern)?,
        Err(_) if !had_pat_rule => false,
        Err(e) => return Err(e),
    };
    let removed = edit::remove_rule(&config, pattern)?;
    let deleted = pat_deleted || root_deleted;
    if deleted {
        let _ = writeln!(
            err,
            "gocred: deleted the token for `{pattern}` from the keyring"
        );
    }
    if removed > 0 {
        let _ = writeln!(
            err,
            "gocred: removed rule `{pattern}` from {}",
            config.display()
        );
    }
    if !deleted && removed == 0 {
        return Err(Error::with_hint(
            format!("no rule and no stored token for `{pattern}`"),
            "list what is configured with `gocred explain <module>` or look at the config file",
        ));
    }
    Ok(())
}

/// Revokes what `source` minted for `pattern` and deletes its root secret (other than a
/// `pat`'s, which `forget_all` deletes). Returns true if a root secret was deleted.
fn revoke(ctx: &Context, source: &dyn Source, pattern: &str, err: &mut dyn Write) -> bool {
    match source.revoke_all(ctx, pattern) {
        Ok(0) => {}
        Ok(n) => {
            let _ = writeln!(err, "gocred: revoked {n} token(s) minted for `{pattern}`");
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "gocred: warning: could not revoke the tokens minted for `{pattern}` ({e}); they stay valid until they expire"
            );
        }
    }
    let Some(account) = source
        .root_account(pattern)
        .filter(|a| *a != crate::sources::account_for(pattern))
    else {
        return false;
    };
    match ctx.keyring().and_then(|k| k.delete(&account)) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(
                err,
                "gocred: warning: could not delete the root secret: {e}"
            );
            false
        }
    }
}
