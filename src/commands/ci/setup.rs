//! Getting one credential per planned host for the job, recorded in the lease as it is issued.
//!
//! Each source is asked through `Source::get_for_ci`, so a source that can mint mints a token for
//! this job alone and says how to revoke it. The lease is saved after every token: a run killed
//! right after a mint still leaves what the next wipe needs to revoke it. Masks for GitHub Actions
//! (`::add-mask::`) are printed here, by the `ci` commands only, before any token is used.

use std::io::Write;

use super::plan::Plan;
use crate::error::{Error, Result};
use crate::netrc;
use crate::protocol::{Origin, Scheme};
use crate::rules::Rule;
use crate::secret::{ExposeSecret, SecretString};
use crate::settings::{Env, Settings};
use crate::sources::Context;
use crate::store::lease::{sha256_hex, Lease, LeaseDir, LeaseToken};

/// One credential handed to the job.
pub(crate) struct Issued {
    pub host: String,
    pub username: String,
    pub token: SecretString,
    /// Sent by the `ci` agent (Unix only) as the credential's expiry.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub expires_at: Option<u64>,
}

pub(crate) fn issue(
    settings: &Settings,
    plan: &Plan,
    ld: &LeaseDir,
    lease: &mut Lease,
    err: &mut dyn Write,
) -> Result<Vec<Issued>> {
    let ctx = settings.context();
    let mut issued = Vec::new();
    for p in &plan.hosts {
        if let Some(i) = issue_one(&ctx, p.rule, &p.host, ld, lease, err)? {
            issued.push(i);
        }
    }
    if issued.is_empty() && plan.lazy.is_empty() {
        return Err(Error::other("no credential was issued for any host"));
    }
    Ok(issued)
}

/// One credential from `rule`'s source for `host` (an authority: `host` or `host:port`),
/// recorded in the lease (and the lease saved) before any check of it can fail. `None`: the
/// source had nothing for this host (said on `err`).
pub(crate) fn issue_one(
    ctx: &Context,
    rule: &Rule,
    host: &str,
    ld: &LeaseDir,
    lease: &mut Lease,
    err: &mut dyn Write,
) -> Result<Option<Issued>> {
    let Some(source) = rule.source() else {
        return Ok(None);
    };
    let origin = Origin::parse(Scheme::Https, host)?;
    let ci = source.get_for_ci(ctx, &rule.query(&origin, None))?;
    let cred = ci.credential;
    // Recorded before any check can fail, so a minted token is always revoked.
    lease.tokens.push(LeaseToken {
        host: host.to_string(),
        rule: rule.pattern.clone(),
        sha256: sha256_hex(cred.secret.expose_secret().as_bytes()),
        expires_at: cred.expires_at,
        token: ci.revoke.is_some().then(|| cred.secret.clone()),
        revoke: ci.revoke,
    });
    ld.save(lease)?;
    let bad = |part: &str, why: String| Error::Source {
        kind: rule.source.as_ref().map_or("?", |s| s.kind().as_str()),
        rule: rule.pattern.clone(),
        message: format!("the {part} for {host} cannot be used: {why}"),
        hint: None,
    };
    crate::secret::check_token(&cred.secret).map_err(|e| bad("token", e.to_string()))?;
    netrc::check_word(cred.secret.expose_secret()).map_err(|e| bad("token", e.to_string()))?;
    netrc::check_word(&cred.username).map_err(|e| bad("username", e.to_string()))?;
    if let Some(exp) = cred.expires_at {
        let margin = ctx.cache.margin_secs;
        if !cred.usable(margin) {
            return Err(bad(
                "token",
                format!(
                    "it expires within {margin} s (`[cache] margin_secs`); lower the margin if \
                     tokens are issued with shorter lives"
                ),
            ));
        }
        // A short-lived token the wipe cannot revoke (oauth): the job should know it
        // outlives the job, and until when.
        if cred.ephemeral && lease.tokens.last().is_some_and(|t| t.revoke.is_none()) {
            let _ = writeln!(
                err,
                "gocred: the token for {host} (rule `{}`) cannot be revoked when the job ends; \
                 it expires at {}",
                rule.pattern,
                utc(exp)
            );
        }
    }
    Ok(Some(Issued {
        host: host.to_string(),
        username: cred.username,
        token: cred.secret,
        expires_at: cred.expires_at,
    }))
}

/// Unix seconds as an RFC 3339 UTC time, for messages.
pub(crate) fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} (Unix time)"))
}

/// `::add-mask::` for each token and for `base64(user:token)` (what a Basic header carries), on
/// the step's stdout, when running under GitHub Actions. Nothing otherwise.
pub(crate) fn print_masks(env: &Env, issued: &[Issued], out: &mut dyn Write) -> Result<()> {
    if env.get("GITHUB_ACTIONS") != Some("true") {
        return Ok(());
    }
    use base64::Engine as _;
    for i in issued {
        let basic = secrecy::zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                i.username,
                i.token.expose_secret()
            )),
        );
        for value in [i.token.expose_secret(), basic.as_str()] {
            // Workflow-command data escaping: % first, then CR and LF.
            let escaped = secrecy::zeroize::Zeroizing::new(
                value
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A"),
            );
            writeln!(out, "::add-mask::{}", escaped.as_str())
                .map_err(|e| Error::io("writing masks", e))?;
        }
    }
    out.flush().map_err(|e| Error::io("writing masks", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn masks_only_under_github_actions() {
        let issued = vec![Issued {
            host: "h".into(),
            username: "x-access-token".into(),
            token: secret("ghs_a%b".into()),
            expires_at: None,
        }];
        let mut out = Vec::new();
        print_masks(&Env::from_pairs([("CI", "true")]), &issued, &mut out).unwrap();
        assert!(out.is_empty());
        print_masks(
            &Env::from_pairs([("GITHUB_ACTIONS", "true")]),
            &issued,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode("x-access-token:ghs_a%b");
        assert_eq!(text, format!("::add-mask::ghs_a%25b\n::add-mask::{b64}\n"));
    }
}
