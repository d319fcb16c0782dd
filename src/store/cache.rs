//! The token cache: minted tokens per (source, scope), with their expiry, in the OS keyring.
//!
//! Sits between a minting source (github-app, oauth, gitlab) and the keyring. A hot `get` is one
//! keyring read; a cold one takes the scope's [`ScopeLock`], reads again (another process may
//! have minted meanwhile), and only then mints (double-checked, so 64 parallel cold `get`s mint
//! once). Tokens live in secure storage only, never in a plaintext file: the kernel user keyring
//! with a key timeout when keyutils is the backend, else Secret Service / Keychain / Credential
//! Manager (see [`Keyring::set_expiring`]). A token is reused until `margin` seconds before it
//! expires and never handed out inside that margin.

use serde::{Deserialize, Serialize};

use super::lock::{fingerprint, ScopeLock, LOCK_WAIT};
use super::Keyring;
use crate::error::{Error, Result};
use crate::secret::{same_secret, secret, ExposeSecret, SecretString};
use crate::state::usable;

/// A minted token as cached.
#[derive(Debug)]
pub(crate) struct CachedToken {
    pub username: String,
    pub token: SecretString,
    /// Unix seconds. Minted tokens always expire; a source whose server did not say gives its
    /// own bound.
    pub expires_at: u64,
    /// What revoking or rotating this token later needs (e.g. a GitLab token id); no secret.
    pub handle: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    v: u32,
    username: String,
    token: std::borrow::Cow<'a, str>,
    expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handle: Option<String>,
}

impl CachedToken {
    fn encode(&self) -> SecretString {
        let w = Wire {
            v: 1,
            username: self.username.clone(),
            token: std::borrow::Cow::Borrowed(self.token.expose_secret()),
            expires_at: self.expires_at,
            handle: self.handle.clone(),
        };
        secret(serde_json::to_string(&w).expect("plain struct serialises"))
    }

    fn decode(raw: &SecretString) -> Option<CachedToken> {
        let w: Wire = serde_json::from_str(raw.expose_secret()).ok()?;
        (w.v == 1).then(|| CachedToken {
            username: w.username,
            token: secret(w.token.into_owned()),
            expires_at: w.expires_at,
            handle: w.handle,
        })
    }

    /// Still usable for at least `margin` seconds.
    pub(crate) fn is_fresh(&self, margin: u64) -> bool {
        usable(Some(self.expires_at), margin)
    }
}

/// The cache over one keyring, with the reuse margin and the lock directory.
pub(crate) struct TokenCache<'a> {
    pub keyring: &'a Keyring,
    pub margin: u64,
    pub lock_dir: &'a std::path::Path,
}

impl TokenCache<'_> {
    /// The keyring account of a scope: `cache:<kind>:<digest>`. The scope string names every
    /// input that changes what the token can do (rule, API, owner, repositories, permissions),
    /// so a changed rule never reuses a token minted for the old one.
    pub(crate) fn account(kind: &str, scope: &str) -> String {
        format!("cache:{kind}:{}", fingerprint(scope))
    }

    /// The cached token if it is fresh; an expired or unreadable entry counts as missing.
    pub(crate) fn fresh(&self, account: &str) -> Result<Option<CachedToken>> {
        Ok(self.read(account)?.filter(|t| t.is_fresh(self.margin)))
    }

    /// Whatever is cached, fresh or not (for revocation at logout).
    pub(crate) fn read(&self, account: &str) -> Result<Option<CachedToken>> {
        Ok(self
            .keyring
            .get(account)?
            .and_then(|(raw, _)| CachedToken::decode(&raw)))
    }

    pub(crate) fn put(&self, account: &str, t: &CachedToken) -> Result<()> {
        self.keyring
            .set_expiring(account, &t.encode(), t.expires_at)?;
        Ok(())
    }

    pub(crate) fn remove(&self, account: &str) -> Result<bool> {
        self.keyring.delete(account)
    }

    /// Drops the cached token if it is `password` (git reported it rejected; docs/protocols/git-credential-protocol.md).
    /// `Some(true)` dropped, `Some(false)` a different token is cached, `None` nothing cached.
    pub(crate) fn drop_if_same(
        &self,
        account: &str,
        password: &SecretString,
    ) -> Result<Option<bool>> {
        let Some(t) = self.read(account)? else {
            return Ok(None);
        };
        if !same_secret(&t.token, password) {
            return Ok(Some(false));
        }
        match t.handle {
            // Keep what rotating or revoking the server-side token needs, not the token: the
            // next mint then rotates it instead of leaving it alive beside a new one.
            Some(handle) => {
                let tombstone = CachedToken {
                    username: t.username,
                    token: secret(String::new()),
                    expires_at: 0,
                    handle: Some(handle),
                };
                self.keyring.set(account, &tombstone.encode())?;
            }
            None => {
                self.remove(account)?;
            }
        }
        Ok(Some(true))
    }

    /// The fresh cached token, or one minted by `mint` while holding the scope's lock. `mint`
    /// runs at most once per scope across processes until its token nears expiry.
    pub(crate) fn get_or_mint(
        &self,
        account: &str,
        mint: impl FnOnce(Option<CachedToken>) -> Result<CachedToken>,
    ) -> Result<CachedToken> {
        if let Some(t) = self.fresh(account)? {
            return Ok(t);
        }
        let _lock = ScopeLock::acquire(self.lock_dir, account, LOCK_WAIT)?;
        let previous = self.read(account)?;
        if let Some(t) = previous.as_ref().filter(|t| t.is_fresh(self.margin)) {
            return Ok(CachedToken {
                username: t.username.clone(),
                token: t.token.clone(),
                expires_at: t.expires_at,
                handle: t.handle.clone(),
            });
        }
        let t = mint(previous)?;
        crate::secret::check_token(&t.token)
            .map_err(|p| Error::other(format!("the server returned an unusable token: {p}")))?;
        if !t.is_fresh(self.margin) {
            return Err(Error::with_hint(
                format!(
                    "the server issued a token that expires within the {} s margin",
                    self.margin
                ),
                "lower `[cache] margin_secs` in the config, or check the clock",
            ));
        }
        self.put(account, &t)?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::now_secs;

    #[test]
    fn wire_round_trip_and_junk() {
        let t = CachedToken {
            username: "x-access-token".into(),
            token: secret("ghs_a.b.c".into()),
            expires_at: 4_000_000_000,
            handle: Some("17".into()),
        };
        let back = CachedToken::decode(&t.encode()).unwrap();
        assert_eq!(back.token.expose_secret(), "ghs_a.b.c");
        assert_eq!(back.expires_at, 4_000_000_000);
        assert_eq!(back.handle.as_deref(), Some("17"));
        assert!(CachedToken::decode(&secret("ghs_bare".into())).is_none());
        assert!(CachedToken::decode(&secret("{\"v\":2}".into())).is_none());
    }

    #[test]
    fn freshness_honours_the_margin() {
        let t = |exp| CachedToken {
            username: "u".into(),
            token: secret("t".into()),
            expires_at: exp,
            handle: None,
        };
        let now = now_secs();
        assert!(t(now + 400).is_fresh(300));
        assert!(!t(now + 200).is_fresh(300));
        assert!(!t(now.saturating_sub(1)).is_fresh(0));
    }

    #[test]
    fn accounts_hide_the_scope() {
        let a = TokenCache::account("github-app", "github.com/acme/*|acme");
        assert!(a.starts_with("cache:github-app:") && !a.contains("acme"));
    }
}
