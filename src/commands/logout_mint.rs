//! The minting half of `gocred logout PATTERN`: revoke minted tokens, delete the root secret.
//!
//! Called by `logout` before it removes the rule. Revocation needs the network; when it fails
//! the user is told which tokens may still live (until their short expiry) and the local
//! secrets are removed all the same, so a lost laptop's keyring never keeps a working root.

use std::io::Write;

use crate::rules::SourceSpec;
use crate::settings::Settings;
use crate::sources::{github_app, gitlab, oauth, Context};

/// Revokes and deletes what the minting rule `pattern` left behind. Returns true if a root
/// secret was deleted from the keyring.
pub fn revoke(settings: &Settings, ctx: &Context, pattern: &str, err: &mut dyn Write) -> bool {
    let Some(rule) = settings.rules.rules.iter().find(|r| r.pattern == pattern) else {
        return false;
    };
    let (revoked, account) = match &rule.source {
        Some(SourceSpec::GithubApp(s)) => (
            github_app::revoke_all(ctx, pattern, s),
            github_app::key_account(pattern),
        ),
        Some(SourceSpec::Oauth(s)) => (oauth::revoke_all(ctx, pattern, s), oauth::account(pattern)),
        Some(SourceSpec::Gitlab(s)) => (
            gitlab::revoke_all(ctx, pattern, s),
            gitlab::account(pattern),
        ),
        _ => return false,
    };
    match revoked {
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
