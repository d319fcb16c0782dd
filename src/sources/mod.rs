//! Sources: one trait, one file per kind.
//!
//! The box after Rule in the flow. A source is built from its rule and answers a request with
//! [`Lookup::NotMine`] (let git try its next helper), a [`Credential`] (with its expiry, ready for
//! minted short-lived tokens), or a fatal error. Sources never parse protocol lines and never
//! print: the command decides what git and the user see.

mod command;
mod env;
mod pat;

use std::cell::OnceCell;

use crate::error::Result;
use crate::protocol::Origin;
use crate::rules::{Rule, SourceSpec};
use crate::secret::SecretString;
use crate::settings::Settings;
use crate::store::Keyring;

pub use command::CommandSource;
pub use env::EnvSource;
pub use pat::{account_for, PatSource};

/// A credential ready to hand out.
#[derive(Debug)]
pub struct Credential {
    pub username: String,
    pub secret: SecretString,
    /// Unix seconds; `None` = does not expire.
    pub expires_at: Option<u64>,
    /// True for tokens we minted (or fetched short-lived): git's storing helpers should not keep them.
    pub ephemeral: bool,
}

#[derive(Debug)]
pub enum Lookup {
    NotMine,
    Found(Credential),
}

/// What `store` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Saved,
    AlreadyHeld,
    NotApplicable,
}

/// What `erase` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Erased {
    Dropped,
    /// The rejected password is not the one we hold: keep ours (R1.15).
    Different,
    NothingHeld,
    /// The source cannot forget (env, command); the message says what the user should change.
    CannotForget(String),
}

/// The request as a source sees it.
pub struct Target<'a> {
    pub origin: &'a Origin,
    pub path: Option<&'a str>,
    pub rule: &'a Rule,
}

/// Shared per-run state: settings and a lazily opened keyring.
pub struct Context<'a> {
    pub settings: &'a Settings,
    keyring: OnceCell<Keyring>,
}

impl<'a> Context<'a> {
    pub fn new(settings: &'a Settings) -> Context<'a> {
        Context {
            settings,
            keyring: OnceCell::new(),
        }
    }

    pub fn keyring(&self) -> Result<&Keyring> {
        if let Some(k) = self.keyring.get() {
            return Ok(k);
        }
        let k = Keyring::open(&self.settings.keyring, &self.settings.env)?;
        Ok(self.keyring.get_or_init(|| k))
    }
}

pub trait Source {
    fn get(&self, ctx: &Context, target: &Target) -> Result<Lookup>;

    /// Git confirmed `username`/`password` worked. Default: nothing to remember.
    fn store(
        &self,
        _ctx: &Context,
        _target: &Target,
        _username: &str,
        _password: &SecretString,
    ) -> Result<Stored> {
        Ok(Stored::NotApplicable)
    }

    /// Git reports `password` was rejected.
    fn erase(&self, ctx: &Context, target: &Target, password: &SecretString) -> Result<Erased>;
}

/// The source a rule names. `None` for rules that do not answer over HTTPS (ssh).
pub fn for_rule(rule: &Rule) -> Option<Box<dyn Source>> {
    Some(match rule.source.as_ref()? {
        SourceSpec::Pat => Box::new(PatSource),
        SourceSpec::Env { variable } => Box::new(EnvSource {
            variable: variable.clone(),
        }),
        SourceSpec::Command { argv, timeout_secs } => Box::new(CommandSource {
            argv: argv.clone(),
            timeout_secs: *timeout_secs,
        }),
    })
}

/// The username to send: the rule's, else the source's, else a placeholder every forge accepts
/// for token auth (GitHub/GitLab/Gitea take any non-empty name with a PAT).
pub fn username_for(rule: &Rule, from_source: Option<String>) -> String {
    rule.username
        .clone()
        .or(from_source)
        .unwrap_or_else(|| "x-access-token".to_string())
}

/// Unix seconds now (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
