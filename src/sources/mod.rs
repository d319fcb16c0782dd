//! Sources: one file per kind, behind one trait.
//!
//! The box after Rule in the flow. Each `sources/<kind>.rs` owns everything about its kind: the
//! config keys it takes (its `KEYS` table), compiling a rule's keys into its [`SourceSpec`]
//! variant, answering a request with a [`Credential`] (with its expiry), `login` (the root secret
//! it keeps), `logout` (what it revokes), and what `explain` and `doctor` say about it. Sources
//! never parse protocol lines and never print except through the writer they are given: the
//! command decides what git and the user see.

mod command;
mod env;
mod github_api;
mod github_app;
mod github_oidc;
mod gitlab;
mod gitlab_ci;
mod keys;
mod oauth;
mod oauth_device;
mod oauth_grant;
mod pat;
mod revoke;
mod state_files;

use std::cell::OnceCell;
use std::io::Write;

use crate::config::{RuleSpec, SourceKind};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::protocol::Origin;
use crate::secret::SecretString;
use crate::state::CacheSettings;
use crate::store::{Keyring, KeyringSettings};

pub(crate) use command::CommandSource;
pub(crate) use env::EnvSource;
#[cfg(unix)]
pub(crate) use github_app::owner_and_repo;
pub(crate) use github_app::{GithubAppSource, GithubAppSpec};
pub(crate) use github_oidc::{GithubOidcSource, OidcSpec};
pub(crate) use gitlab::{GitlabSource, GitlabSpec};
pub(crate) use oauth::{OauthSource, OauthSpec};
pub(crate) use pat::{account_for, forget_all, PatSource};

/// How a rule gets its secret: the compiled keys of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceSpec {
    Pat,
    Env {
        variable: String,
    },
    Command {
        argv: Vec<String>,
        timeout_secs: u64,
    },
    GithubOidc(OidcSpec),
    GithubApp(GithubAppSpec),
    Oauth(OauthSpec),
    Gitlab(GitlabSpec),
}

impl SourceSpec {
    /// Checks a rule's keys against its kind's `KEYS` table and compiles them.
    pub(crate) fn compile(
        kind: SourceKind,
        spec: &RuleSpec,
    ) -> std::result::Result<SourceSpec, String> {
        keys::check(kind, Self::keys(kind), spec)?;
        match kind {
            SourceKind::Pat => Ok(SourceSpec::Pat),
            SourceKind::Env => env::compile(spec),
            SourceKind::Command => command::compile(spec),
            SourceKind::GithubOidc => github_oidc::compile(spec).map(SourceSpec::GithubOidc),
            SourceKind::GithubApp => github_app::compile(spec).map(SourceSpec::GithubApp),
            SourceKind::Oauth => oauth::compile(spec).map(SourceSpec::Oauth),
            SourceKind::Gitlab => gitlab::compile(spec).map(SourceSpec::Gitlab),
        }
    }

    /// The keys `kind` takes beyond `keys::COMMON` (every rule's): each kind's one table.
    pub(crate) fn keys(kind: SourceKind) -> &'static [&'static str] {
        match kind {
            SourceKind::Pat => pat::KEYS,
            SourceKind::Env => env::KEYS,
            SourceKind::Command => command::KEYS,
            SourceKind::GithubOidc => github_oidc::KEYS,
            SourceKind::GithubApp => github_app::KEYS,
            SourceKind::Oauth => oauth::KEYS,
            SourceKind::Gitlab => gitlab::KEYS,
        }
    }

    pub(crate) fn kind(&self) -> SourceKind {
        match self {
            SourceSpec::Pat => SourceKind::Pat,
            SourceSpec::Env { .. } => SourceKind::Env,
            SourceSpec::Command { .. } => SourceKind::Command,
            SourceSpec::GithubOidc(_) => SourceKind::GithubOidc,
            SourceSpec::GithubApp(_) => SourceKind::GithubApp,
            SourceSpec::Oauth(_) => SourceKind::Oauth,
            SourceSpec::Gitlab(_) => SourceKind::Gitlab,
        }
    }

    /// The source that answers for this spec.
    pub(crate) fn source(&self) -> Box<dyn Source> {
        match self {
            SourceSpec::Pat => Box::new(PatSource),
            SourceSpec::Env { variable } => Box::new(EnvSource {
                variable: variable.clone(),
            }),
            SourceSpec::Command { argv, timeout_secs } => Box::new(CommandSource {
                argv: argv.clone(),
                timeout_secs: *timeout_secs,
            }),
            SourceSpec::GithubOidc(spec) => Box::new(GithubOidcSource { spec: spec.clone() }),
            SourceSpec::GithubApp(spec) => Box::new(GithubAppSource { spec: spec.clone() }),
            SourceSpec::Oauth(spec) => Box::new(OauthSource { spec: spec.clone() }),
            SourceSpec::Gitlab(spec) => Box::new(GitlabSource { spec: spec.clone() }),
        }
    }
}

/// A credential ready to hand out.
#[derive(Debug)]
pub(crate) struct Credential {
    pub username: String,
    pub secret: SecretString,
    /// Unix seconds; `None` = does not expire.
    pub expires_at: Option<u64>,
    /// True for tokens we minted (or fetched short-lived): git's storing helpers should not keep them.
    pub ephemeral: bool,
}

impl Credential {
    /// Whether it may be handed out now, under the configured margin (`[cache] margin_secs`):
    /// the one freshness rule (`state::usable`).
    pub(crate) fn usable(&self, margin: u64) -> bool {
        crate::state::usable(self.expires_at, margin)
    }

    /// `Ok` if [`usable`](Self::usable); else the error every command gives for it.
    pub(crate) fn check_usable(&self, q: &Query, margin: u64) -> Result<()> {
        if self.usable(margin) {
            return Ok(());
        }
        Err(Error::Source {
            kind: q.rule.kind,
            rule: q.rule.pattern.clone(),
            message: format!("the token expires within {margin} s; not handing it out"),
            hint: Some(
                "lower `[cache] margin_secs` in the config if tokens are issued with shorter lives"
                    .into(),
            ),
        })
    }
}

/// A credential handed to a CI job (`gocred ci`), with how to revoke it when the job ends.
#[derive(Debug)]
pub(crate) struct CiCredential {
    pub credential: Credential,
    /// `None`: the source cannot revoke (a secret the CI injected, a stored token).
    pub revoke: Option<revoke::Revocation>,
}

/// What `store` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    Saved,
    AlreadyHeld,
    NotApplicable,
}

/// What `erase` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Erased {
    Dropped,
    /// The rejected password is not the one we hold: keep ours (docs/protocols/git-credential-protocol.md).
    Different,
    NothingHeld,
    /// The source cannot forget (env, command); the message says what the user should change.
    CannotForget(String),
    /// A token we minted was dropped from the cache; the next `get` mints a new one.
    Minted,
}

/// What a source knows of the rule that routed a request to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleRef {
    /// The source kind's name (for messages).
    pub kind: &'static str,
    pub pattern: String,
    /// The rule's `username`, which wins over the source's.
    pub username: Option<String>,
    /// Pattern elements after the host (`acme/*`); `None` = the whole host.
    pub path_glob: Option<String>,
    /// The rule names one exact host (no `*.` wildcard).
    pub one_host: bool,
}

/// The request as a source sees it.
pub(crate) struct Query<'a> {
    pub origin: &'a Origin,
    pub path: Option<&'a str>,
    pub rule: RuleRef,
}

/// Shared per-run state: what the sources read of the settings, and a lazily opened keyring.
pub(crate) struct Context<'a> {
    pub env: &'a Env,
    pub keyring_settings: &'a KeyringSettings,
    pub cache: &'a CacheSettings,
    keyring: OnceCell<Keyring>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        env: &'a Env,
        keyring_settings: &'a KeyringSettings,
        cache: &'a CacheSettings,
    ) -> Context<'a> {
        Context {
            env,
            keyring_settings,
            cache,
            keyring: OnceCell::new(),
        }
    }

    pub(crate) fn keyring(&self) -> Result<&Keyring> {
        if let Some(k) = self.keyring.get() {
            return Ok(k);
        }
        let k = Keyring::open(self.keyring_settings, self.env)?;
        Ok(self.keyring.get_or_init(|| k))
    }

    /// gocred's state directory, or a clear error when there is none.
    pub(crate) fn state_dir(&self) -> Result<&std::path::Path> {
        self.cache.dir.as_deref().ok_or_else(|| {
            Error::with_hint(
                "no directory for gocred's lock files: neither XDG_CACHE_HOME nor HOME is set",
                "set XDG_CACHE_HOME to a private directory",
            )
        })
    }
}

/// What `gocred login` was told about the secret it stores.
pub(crate) struct Login<'a> {
    pub pattern: &'a str,
    /// `--username` (a `pat` keeps it with the token).
    pub username: Option<&'a str>,
}

/// Where `login` reads a root secret from: stdin or a no-echo prompt, never argv.
pub(crate) trait SecretInput {
    /// One line holding a token; `what` names it in the prompt and in errors.
    fn line(&mut self, what: &str) -> Result<SecretString>;
    /// A PEM file (many lines, so never from a terminal); `how` says how to give it.
    fn pem(&mut self, how: &str) -> Result<SecretString>;
}

pub(crate) trait Source {
    /// The credential for `q`, or the error that says why there is none.
    fn get(&self, ctx: &Context, q: &Query) -> Result<Credential>;

    /// Git confirmed `username`/`password` worked. Default: nothing to remember.
    fn store(
        &self,
        _ctx: &Context,
        _q: &Query,
        _username: &str,
        _password: &SecretString,
    ) -> Result<Stored> {
        Ok(Stored::NotApplicable)
    }

    /// Git reports `password` was rejected.
    fn erase(&self, ctx: &Context, q: &Query, password: &SecretString) -> Result<Erased>;

    /// A credential for a CI job (`gocred ci`): minted for this job where the source can mint
    /// (never one shared with other processes through a cache), with how to revoke it.
    /// Default: what `get` returns, nothing to revoke.
    /// (`oauth` keeps the default on purpose: revoking its token would end the sign-in.)
    fn get_for_ci(&self, ctx: &Context, q: &Query) -> Result<CiCredential> {
        Ok(CiCredential {
            credential: self.get(ctx, q)?,
            revoke: None,
        })
    }

    /// The keyring entry of the rule's root secret, if the kind keeps one.
    fn root_account(&self, _pattern: &str) -> Option<String> {
        None
    }

    /// `gocred login`: reads (or obtains) the root secret to keep under
    /// [`root_account`](Self::root_account). `None`: nothing to keep. Notes go to `err`.
    fn login(
        &self,
        _ctx: &Context,
        _login: &Login,
        _input: &mut dyn SecretInput,
        _err: &mut dyn Write,
    ) -> Result<Option<SecretString>> {
        Ok(None)
    }

    /// `gocred logout`: revokes at the server what was minted for `pattern` and forgets it
    /// locally. Returns how many tokens were revoked.
    fn revoke_all(&self, _ctx: &Context, _pattern: &str) -> Result<usize> {
        Ok(0)
    }

    /// `explain`: whether the secret is there, without reading more than needed and never
    /// showing it.
    fn state(&self, ctx: &Context, pattern: &str) -> String;

    /// `doctor`: what to renew when the token is rejected or expired (a clause starting `; `).
    fn renew_hint(&self, pattern: &str) -> String;
}

/// A minted token for `q` from the shared token cache under `account`, minted (once across
/// processes, under the scope lock) when missing; `mint` gets the previous token, if any, for
/// sources that rotate. The mint is recorded so `logout` can revoke it.
pub(crate) fn cached_mint(
    ctx: &Context,
    q: &Query,
    account: &str,
    mint: impl FnOnce(Option<crate::store::CachedToken>) -> Result<crate::store::CachedToken>,
) -> Result<Credential> {
    let mut minted = false;
    let tok = token_cache(ctx)?.get_or_mint(account, |prev| {
        minted = true;
        crate::trace!("token cache: no usable token for {account}; minting");
        let tok = mint(prev)?;
        state_files::record_issued(ctx, &q.rule.pattern, account)?;
        Ok(tok)
    })?;
    crate::trace!(
        "token cache: {} for {account}, {}",
        if minted { "minted" } else { "hit" },
        crate::trace::expiry(Some(tok.expires_at))
    );
    Ok(Credential {
        username: username_for(&q.rule, Some(tok.username)),
        secret: tok.token,
        expires_at: Some(tok.expires_at),
        ephemeral: true,
    })
}

/// The username to send: the rule's, else the source's, else a placeholder every forge accepts
/// for token auth (GitHub/GitLab/Gitea take any non-empty name with a PAT).
pub(crate) fn username_for(rule: &RuleRef, from_source: Option<String>) -> String {
    rule.username
        .clone()
        .or(from_source)
        .unwrap_or_else(|| "x-access-token".to_string())
}

/// The token cache of this run: the context's keyring, the configured margin, the lock dir.
pub(crate) fn token_cache<'c>(ctx: &'c Context) -> Result<crate::store::TokenCache<'c>> {
    Ok(crate::store::TokenCache {
        keyring: ctx.keyring()?,
        margin: ctx.cache.margin_secs,
        lock_dir: ctx.state_dir()?,
    })
}

/// What `explain` says of a minting rule's root secret: present or not, never the secret.
fn root_state(ctx: &Context, account: &str, what: &str, login: &str) -> String {
    match ctx.keyring().and_then(|k| k.get(account)) {
        Ok(Some((_, b))) => format!("{what} present in {}; tokens minted on demand", b.name()),
        Ok(None) => format!("no {what} stored; run: {login}"),
        Err(e) => format!("keyring unavailable: {e}"),
    }
}

#[cfg(test)]
mod tests;
