//! `oauth`: access tokens refreshed on demand from a refresh token kept in the keyring.
//!
//! The refresh token comes from the device flow at `gocred login` ([`device_login`]). A `get`
//! uses the cached access token while it is fresh; otherwise it takes the scope's lock, reads
//! the refresh token again (another process may have rotated it), refreshes, and writes the
//! rotated refresh token back to the keyring **before** the new access token is cached or
//! handed out: GitHub and GitLab refresh tokens are single-use, and losing a rotated one locks
//! the user out (docs/protocols/oauth.md). A server that issues no refresh token (classic GitHub OAuth Apps)
//! gives a long-lived access token, which is then kept as the root secret itself.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::keys::{api_timeout, is_word, url};
use super::oauth_grant::{self, GrantError};
use super::{
    username_for, CiCredential, Context, Credential, Erased, Login, Query, SecretInput, Source,
};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::store::{CachedToken, TokenCache};

/// The keys `oauth` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &[
    "timeout_secs",
    "client_id",
    "provider",
    "base_url",
    "device_url",
    "token_url",
    "revoke_url",
    "scopes",
];

/// `source = "oauth"`, compiled: device flow at login, refresh at `get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OauthSpec {
    pub provider: String,
    pub client_id: String,
    pub device_url: Option<String>,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub scopes: Vec<String>,
    /// The git username the forge expects with an OAuth token (docs/protocols/oauth.md).
    pub username: String,
    pub timeout_secs: u64,
}

/// Device, token and revocation endpoints, and the git username, of an OAuth preset.
type Preset = (Option<String>, Option<String>, Option<String>, &'static str);

/// Endpoints and git username of an OAuth preset; `base` for self-hosted servers.
fn preset(provider: &str, base: Option<&str>) -> std::result::Result<Preset, String> {
    let b = |default: &str| base.unwrap_or(default).trim_end_matches('/').to_string();
    Ok(match provider {
        "github" => {
            let h = b("https://github.com");
            (
                Some(format!("{h}/login/device/code")),
                Some(format!("{h}/login/oauth/access_token")),
                None,
                "x-access-token",
            )
        }
        "gitlab" => {
            let h = b("https://gitlab.com");
            (
                Some(format!("{h}/oauth/authorize_device")),
                Some(format!("{h}/oauth/token")),
                Some(format!("{h}/oauth/revoke")),
                "oauth2",
            )
        }
        // Gitea/Forgejo publish no device endpoint: give `device_url` if yours has one.
        "gitea" | "forgejo" => {
            let h = base
                .ok_or(format!("provider `{provider}` needs `base_url`"))?
                .trim_end_matches('/');
            (
                None,
                Some(format!("{h}/login/oauth/access_token")),
                None,
                "oauth2",
            )
        }
        "generic" => (None, None, None, "oauth2"),
        other => {
            return Err(format!(
                "`provider = \"{other}\"`: use github, gitlab, gitea, forgejo or generic"
            ))
        }
    })
}

pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<OauthSpec, String> {
    let provider = spec.provider.clone().unwrap_or_else(|| "generic".into());
    if let Some(b) = &spec.base_url {
        url(b, "base_url")?;
    }
    let (device, token, revoke, username) = preset(&provider, spec.base_url.as_deref())?;
    let pick = |own: &Option<String>,
                preset: Option<String>,
                what: &str|
     -> std::result::Result<Option<String>, String> {
        own.clone().or(preset).map(|u| url(&u, what)).transpose()
    };
    let token_url = pick(&spec.token_url, token, "token_url")?
        .ok_or("source `oauth` needs `token_url` (or a `provider` preset)")?;
    let client_id = spec
        .client_id
        .clone()
        .ok_or("source `oauth` needs `client_id`")?;
    if !is_word(&client_id) {
        return Err("`client_id` must be letters, digits, `.`, `_` or `-`".into());
    }
    let scopes = spec.scopes.clone().unwrap_or_default();
    if let Some(s) = scopes.iter().find(|s| {
        s.is_empty()
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    }) {
        return Err(format!("`scopes`: `{s}` is not a scope"));
    }
    Ok(OauthSpec {
        provider,
        client_id,
        device_url: pick(&spec.device_url, device, "device_url")?,
        token_url,
        revoke_url: pick(&spec.revoke_url, revoke, "revoke_url")?,
        scopes,
        username: username.to_string(),
        timeout_secs: api_timeout(spec),
    })
}

/// Lifetime assumed for an access token whose server did not say (`expires_in` missing).
const ASSUMED_LIFETIME: u64 = 3600;

/// The keyring account of a rule's refresh token.
pub(crate) fn account(pattern: &str) -> String {
    format!("oauth:{pattern}")
}

/// What the keyring holds for an `oauth` rule.
#[derive(Serialize, Deserialize)]
struct Root {
    v: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_exposed"
    )]
    refresh_token: Option<SecretString>,
    /// Only when the server issued no refresh token: a long-lived access token.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_exposed"
    )]
    access_token: Option<SecretString>,
}

impl Root {
    fn encode(&self) -> SecretString {
        secret(serde_json::to_string(self).expect("plain struct serialises"))
    }

    fn decode(raw: &SecretString) -> Option<Root> {
        serde_json::from_str::<Root>(raw.expose_secret())
            .ok()
            .filter(|r| r.v == 1)
    }
}

pub(crate) struct OauthSource {
    pub spec: OauthSpec,
}

fn fail(pattern: &str, message: impl Into<String>, relogin: bool) -> Error {
    Error::Source {
        kind: "oauth",
        rule: pattern.to_string(),
        message: message.into(),
        hint: relogin.then(|| format!("sign in again: gocred login {pattern} --source oauth …")),
    }
}

fn cache_account(spec: &OauthSpec, pattern: &str) -> String {
    TokenCache::account(
        "oauth",
        &format!("{pattern}|{}|{}", spec.token_url, spec.client_id),
    )
}

fn read_root(ctx: &Context, pattern: &str) -> Result<Root> {
    let raw = ctx.keyring()?.get(&account(pattern))?;
    raw.and_then(|(r, _)| Root::decode(&r))
        .ok_or_else(|| fail(pattern, "no refresh token in the keyring", true))
}

impl OauthSource {
    fn refresh(&self, ctx: &Context, pattern: &str) -> Result<CachedToken> {
        // Read again under the lock: another process may have rotated it a moment ago.
        let root = read_root(ctx, pattern)?;
        let Some(rt) = root.refresh_token else {
            return Err(fail(
                pattern,
                "the access token expired and there is no refresh token",
                true,
            ));
        };
        let client =
            oauth_grant::client(&self.spec).map_err(|e| fail(pattern, e.to_string(), false))?;
        let tokens = oauth_grant::refresh(&client, &self.spec, &rt).map_err(|e| match e {
            GrantError::OAuth { code, text } if code == "invalid_grant" => fail(
                pattern,
                format!("the server no longer accepts the refresh token ({text})"),
                true,
            ),
            e => fail(
                pattern,
                format!("refreshing at {}: {e}", self.spec.token_url),
                false,
            ),
        })?;
        // Rotation: keep the new refresh token before anything uses the new access token.
        if let Some(new_rt) = &tokens.refresh {
            let root = Root {
                v: 1,
                refresh_token: Some(new_rt.clone()),
                access_token: None,
            };
            ctx.keyring()?.set(&account(pattern), &root.encode())?;
        }
        Ok(CachedToken {
            username: self.spec.username.clone(),
            expires_at: crate::state::now_secs() + tokens.expires_in.unwrap_or(ASSUMED_LIFETIME),
            token: tokens.access,
            handle: None,
        })
    }
}

impl Source for OauthSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let pattern = &t.rule.pattern;
        let cache = super::token_cache(ctx)?;
        let account = cache_account(&self.spec, pattern);
        let tok = match cache.fresh(&account)? {
            Some(tok) => tok,
            None => {
                let root = read_root(ctx, pattern)?;
                if let (None, Some(access)) = (&root.refresh_token, root.access_token) {
                    return Ok(Credential {
                        username: username_for(&t.rule, Some(self.spec.username.clone())),
                        secret: access,
                        expires_at: None,
                        ephemeral: false,
                    });
                }
                cache.get_or_mint(&account, |_| {
                    let tok = self.refresh(ctx, pattern)?;
                    super::state_files::record_issued(ctx, pattern, &account)?;
                    Ok(tok)
                })?
            }
        };
        Ok(Credential {
            username: username_for(&t.rule, Some(tok.username)),
            secret: tok.token,
            expires_at: Some(tok.expires_at),
            ephemeral: true,
        })
    }

    /// The token `get` hands out, not revoked when the job ends: it expires on its own (GitHub
    /// 8 h, GitLab 2 h) and `ci netrc` says when. A token refreshed for the job and revoked at
    /// `ci wipe` would do harm on every server we know. Revoking an access token also revokes
    /// the refresh token of its grant (RFC 7009 §2.1 allows it; GitLab revokes the pair,
    /// oidc-provider every token of the grant), so each wipe would sign the runner out
    /// (tests/ci_mint.rs shows it). And a refresh invalidates the previous access token on
    /// GitHub and GitLab (docs/protocols/oauth.md), which may be the one another running job holds; the
    /// shared cache refreshes once for all of them.
    fn get_for_ci(&self, ctx: &Context, t: &Query) -> Result<CiCredential> {
        Ok(CiCredential {
            credential: self.get(ctx, t)?,
            revoke: None,
        })
    }

    fn erase(&self, ctx: &Context, t: &Query, password: &SecretString) -> Result<Erased> {
        let account = cache_account(&self.spec, &t.rule.pattern);
        Ok(
            match super::token_cache(ctx)?.drop_if_same(&account, password)? {
                Some(true) => Erased::Minted,
                Some(false) => Erased::Different,
                None => Erased::NothingHeld,
            },
        )
    }

    fn root_account(&self, pattern: &str) -> Option<String> {
        Some(account(pattern))
    }

    /// The device flow on the terminal, keeping the refresh token.
    fn login(
        &self,
        ctx: &Context,
        login: &Login,
        _input: &mut dyn SecretInput,
        err: &mut dyn Write,
    ) -> Result<Option<SecretString>> {
        device_login(ctx, &self.spec, login.pattern, err).map(Some)
    }

    fn revoke_all(&self, ctx: &Context, pattern: &str) -> Result<usize> {
        revoke_grant(ctx, pattern, &self.spec)
    }

    fn state(&self, ctx: &Context, pattern: &str) -> String {
        super::root_state(
            ctx,
            &account(pattern),
            "refresh token",
            &format!("gocred login {pattern} --source oauth --provider … --client-id …"),
        )
    }

    fn renew_hint(&self, pattern: &str) -> String {
        format!(
            "; if the refresh token was revoked, sign in again with `gocred login {pattern} --source oauth …`"
        )
    }
}

/// `gocred login --source oauth`: the device flow, then the root secret to keep (the caller
/// stores it) and the first access token in the cache.
fn device_login(
    ctx: &Context,
    spec: &OauthSpec,
    pattern: &str,
    err: &mut dyn Write,
) -> Result<SecretString> {
    let tokens = super::oauth_device::run(spec, err)?;
    let root = match &tokens.refresh {
        Some(rt) => Root {
            v: 1,
            refresh_token: Some(rt.clone()),
            access_token: None,
        },
        None => Root {
            v: 1,
            refresh_token: None,
            access_token: Some(tokens.access.clone()),
        },
    };
    if tokens.refresh.is_some() {
        let cache = super::token_cache(ctx)?;
        let tok = CachedToken {
            username: spec.username.clone(),
            expires_at: crate::state::now_secs() + tokens.expires_in.unwrap_or(ASSUMED_LIFETIME),
            token: tokens.access,
            handle: None,
        };
        if tok.is_fresh(cache.margin) {
            let account = cache_account(spec, pattern);
            cache.put(&account, &tok)?;
            super::state_files::record_issued(ctx, pattern, &account)?;
        }
    }
    let _ = writeln!(err, "gocred: signed in");
    Ok(root.encode())
}

/// Logout: revokes the refresh token and cached access tokens where the server has an RFC 7009
/// endpoint, and drops the cache. Returns how many tokens were revoked.
fn revoke_grant(ctx: &Context, pattern: &str, spec: &OauthSpec) -> Result<usize> {
    let cache = super::token_cache(ctx)?;
    let client = spec
        .revoke_url
        .as_ref()
        .map(|_| oauth_grant::client(spec))
        .transpose()
        .map_err(|e| fail(pattern, e.to_string(), false))?;
    let mut revoked = 0;
    let mut revoke = |token: &SecretString, hint: &str| -> Result<()> {
        if let (Some(c), Some(url)) = (&client, &spec.revoke_url) {
            oauth_grant::revoke(c, url, spec, token, hint)
                .map_err(|e| fail(pattern, format!("revoking at {url}: {e}"), false))?;
            revoked += 1;
        }
        Ok(())
    };
    if let Ok(root) = read_root(ctx, pattern) {
        if let Some(rt) = root.refresh_token {
            revoke(&rt, "refresh_token")?;
        }
    }
    for acc in super::state_files::issued(ctx, pattern)? {
        if let Some(t) = cache.read(&acc)? {
            if t.expires_at > crate::state::now_secs() {
                revoke(&t.token, "access_token")?;
            }
            cache.remove(&acc)?;
        }
    }
    super::state_files::forget_issued(ctx, pattern)?;
    Ok(revoked)
}
