//! `pat`: a long-lived token and its username in the OS keyring, put there by `gocred login` or
//! remembered from git's `store` the first time it works.
//!
//! Two kinds of entry. `pat:<pattern>` is the rule-wide token: only `gocred login` writes it
//! (outside the common case below), because only the person can say a token is good for every
//! host and path a pattern names. What git confirms with `store` was confirmed for one host (and
//! the path git sent, with `credential.useHttpPath`): it is kept bound to exactly that, as
//! `pat:<pattern>@<host[:port]>[/<path>]`, and a lookup only ever reads the entry bound to the
//! host and path it is asked about — a token git confirmed for `a.corp.test` on a `*.corp.test`
//! rule is never offered to `evil.corp.test`. When the rule names one host, no path, and git sent
//! none, the two scopes are the same and `store` writes the rule-wide entry as it always did.
//! The bound entries of a pattern are listed (names only, no secret) under `pat-bound:<pattern>`
//! so `logout` can delete them all.

use std::io::Write;

use super::{username_for, Context, Credential, Erased, Login, Query, SecretInput, Source, Stored};
use crate::error::{Error, Result};
use crate::secret::{same_secret, ExposeSecret, SecretString};
use crate::store::keyring::Keyring;
use crate::store::payload::PatSecret;

/// `pat` takes no keys beyond every rule's.
pub(crate) const KEYS: &[&str] = &[];

/// The keyring account for a rule's pattern.
pub(crate) fn account_for(pattern: &str) -> String {
    format!("pat:{pattern}")
}

/// The entry `store` keeps for `t` when it is narrower than the rule; `None`: the rule-wide one.
fn bound_account(t: &Query) -> Option<String> {
    let whole_rule = t.rule.one_host && t.rule.path_glob.is_none() && t.path.is_none();
    if whole_rule {
        return None;
    }
    let mut account = format!("{}@{}", account_for(&t.rule.pattern), t.origin.authority());
    if let Some(path) = t.path {
        account.push('/');
        account.push_str(path);
    }
    Some(account)
}

/// The keyring entry listing a pattern's bound entries.
fn index_account(pattern: &str) -> String {
    format!("pat-bound:{pattern}")
}

fn read_index(keyring: &Keyring, pattern: &str) -> Result<Vec<String>> {
    Ok(keyring
        .get(&index_account(pattern))?
        .and_then(|(raw, _)| serde_json::from_str(raw.expose_secret()).ok())
        .unwrap_or_default())
}

/// Deletes every token `pattern` holds: the rule-wide entry and each bound one. True if any.
pub(crate) fn forget_all(keyring: &Keyring, pattern: &str) -> Result<bool> {
    let mut any = keyring.delete(&account_for(pattern))?;
    for account in read_index(keyring, pattern)? {
        any |= keyring.delete(&account)?;
    }
    keyring.delete(&index_account(pattern))?;
    Ok(any)
}

pub(crate) struct PatSource;

impl Source for PatSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let keyring = ctx.keyring()?;
        let bound = match bound_account(t) {
            Some(account) => keyring.get(&account)?,
            None => None,
        };
        let found = match bound {
            Some(v) => Some(v),
            None => keyring.get(&account_for(&t.rule.pattern))?,
        };
        let Some((raw, _)) = found else {
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
        Ok(Credential {
            username: username_for(&t.rule, stored.username),
            secret: stored.token,
            expires_at: None,
            ephemeral: false,
        })
    }

    /// Remembers what git confirmed, but only while the rule has no token: a working credential
    /// from another helper or a prompt must not silently replace the one `login` stored.
    fn store(
        &self,
        ctx: &Context,
        t: &Query,
        username: &str,
        password: &SecretString,
    ) -> Result<Stored> {
        let keyring = ctx.keyring()?;
        let rule_wide = account_for(&t.rule.pattern);
        let bound = bound_account(t);
        if keyring.get(&rule_wide)?.is_some() {
            return Ok(Stored::AlreadyHeld);
        }
        if let Some(b) = &bound {
            if keyring.get(b)?.is_some() {
                return Ok(Stored::AlreadyHeld);
            }
        }
        if crate::secret::check_token(password).is_err() || username.chars().any(|c| c.is_control())
        {
            return Ok(Stored::NotApplicable);
        }
        let value = PatSecret {
            username: (!username.is_empty()).then(|| username.to_string()),
            token: password.clone(),
        };
        let account = match bound {
            Some(b) => {
                // Listed before it exists, so a crash between the two never leaves an entry
                // `logout` cannot find.
                let mut index = read_index(keyring, &t.rule.pattern)?;
                if !index.contains(&b) {
                    index.push(b.clone());
                    let names = serde_json::to_string(&index).expect("strings serialise");
                    keyring.set(
                        &index_account(&t.rule.pattern),
                        &crate::secret::secret(names),
                    )?;
                }
                b
            }
            None => rule_wide,
        };
        keyring.set(&account, &value.encode())?;
        Ok(Stored::Saved)
    }

    fn erase(&self, ctx: &Context, t: &Query, password: &SecretString) -> Result<Erased> {
        let keyring = ctx.keyring()?;
        // The entry `get` answered from: the bound one when there is one, else the rule-wide.
        let bound = match bound_account(t) {
            Some(b) => keyring.get(&b)?.map(|v| (b, v)),
            None => None,
        };
        let found = match bound {
            Some(v) => Some(v),
            None => {
                let account = account_for(&t.rule.pattern);
                keyring.get(&account)?.map(|v| (account, v))
            }
        };
        let Some((account, (raw, _))) = found else {
            return Ok(Erased::NothingHeld);
        };
        if !same_secret(&PatSecret::decode(&raw).token, password) {
            return Ok(Erased::Different);
        }
        keyring.delete(&account)?;
        Ok(Erased::Dropped)
    }

    fn root_account(&self, pattern: &str) -> Option<String> {
        Some(account_for(pattern))
    }

    /// The token (one line) and the username to send with it.
    fn login(
        &self,
        _ctx: &Context,
        login: &Login,
        input: &mut dyn SecretInput,
        _err: &mut dyn Write,
    ) -> Result<Option<SecretString>> {
        let token = input.line(&format!("the token for {}", login.pattern))?;
        Ok(Some(
            PatSecret {
                username: login.username.map(str::to_string),
                token,
            }
            .encode(),
        ))
    }

    fn state(&self, ctx: &Context, pattern: &str) -> String {
        match ctx.keyring().and_then(|k| k.get(&account_for(pattern))) {
            Ok(Some((_, b))) => format!("token present in {}", b.name()),
            Ok(None) => format!("no token stored; run: gocred login {pattern}"),
            Err(e) => format!("keyring unavailable: {e}"),
        }
    }

    fn renew_hint(&self, pattern: &str) -> String {
        format!("; store a new one with `gocred login {pattern}`")
    }
}
