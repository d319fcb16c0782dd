//! `pat`: a long-lived token and its username in the OS keyring, put there by `gocred login` or
//! remembered from git's `store` the first time it works.

use super::{username_for, Context, Credential, Erased, Lookup, Source, Stored, Target};
use crate::error::{Error, Result};
use crate::secret::{same_secret, secret, ExposeSecret, SecretString};
use crate::store::payload::PatSecret;

/// The keyring account for a rule's pattern.
pub fn account_for(pattern: &str) -> String {
    format!("pat:{pattern}")
}

pub struct PatSource;

impl Source for PatSource {
    fn get(&self, ctx: &Context, t: &Target) -> Result<Lookup> {
        let Some((raw, _)) = ctx.keyring()?.get(&account_for(&t.rule.pattern))? else {
            return Err(Error::Source {
                kind: "pat",
                rule: t.rule.pattern.clone(),
                message: "no token in the keyring yet".into(),
                hint: Some(format!(
                    "run `gocred login {}` to store one",
                    t.rule.pattern
                )),
            });
        };
        let stored = PatSecret::decode(&raw);
        crate::secret::check_token(&stored.token).map_err(|p| Error::Source {
            kind: "pat",
            rule: t.rule.pattern.clone(),
            message: format!("the stored token is unusable: {p}"),
            hint: Some(format!("run `gocred login {}` again", t.rule.pattern)),
        })?;
        Ok(Lookup::Found(Credential {
            username: username_for(t.rule, stored.username),
            secret: stored.token,
            expires_at: None,
            ephemeral: false,
        }))
    }

    /// Remembers what git confirmed, but only while the rule has no token: a working credential
    /// from another helper or a prompt must not silently replace the one `login` stored.
    fn store(
        &self,
        ctx: &Context,
        t: &Target,
        username: &str,
        password: &SecretString,
    ) -> Result<Stored> {
        let keyring = ctx.keyring()?;
        let account = account_for(&t.rule.pattern);
        if keyring.get(&account)?.is_some() {
            return Ok(Stored::AlreadyHeld);
        }
        if crate::secret::check_token(password).is_err() || username.chars().any(|c| c.is_control())
        {
            return Ok(Stored::NotApplicable);
        }
        let value = PatSecret {
            username: (!username.is_empty()).then(|| username.to_string()),
            token: secret(password.expose_secret().to_string()),
        };
        keyring.set(&account, &value.encode())?;
        Ok(Stored::Saved)
    }

    fn erase(&self, ctx: &Context, t: &Target, password: &SecretString) -> Result<Erased> {
        let keyring = ctx.keyring()?;
        let account = account_for(&t.rule.pattern);
        let Some((raw, _)) = keyring.get(&account)? else {
            return Ok(Erased::NothingHeld);
        };
        if !same_secret(&PatSecret::decode(&raw).token, password) {
            return Ok(Erased::Different);
        }
        keyring.delete(&account)?;
        Ok(Erased::Dropped)
    }
}
