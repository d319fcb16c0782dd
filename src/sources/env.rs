//! `env`: the token is in a named environment variable (CI injects it as a masked secret).

use super::{username_for, Context, Credential, Erased, Query, Source, SourceSpec};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::secret::{same_secret, secret, SecretString};

/// The keys `env` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &["variable"];

pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<SourceSpec, String> {
    let variable = spec
        .variable
        .clone()
        .ok_or("source `env` needs `variable`")?;
    if !super::keys::is_variable(&variable) {
        return Err(format!(
            "`variable = \"{variable}\"` is not an environment variable name"
        ));
    }
    Ok(SourceSpec::Env { variable })
}

pub(crate) struct EnvSource {
    pub variable: String,
}

impl EnvSource {
    fn read(&self, ctx: &Context, t: &Query) -> Result<SecretString> {
        let value = ctx.env.get(&self.variable).ok_or_else(|| Error::Source {
            kind: "env",
            rule: t.rule.pattern.clone(),
            message: format!("${} is not set", self.variable),
            hint: Some(format!(
                "export {} with the token (in CI: map the secret to this variable)",
                self.variable
            )),
        })?;
        let token = secret(value.trim_end_matches(['\n', '\r']).to_string());
        crate::secret::check_token(&token).map_err(|p| Error::Source {
            kind: "env",
            rule: t.rule.pattern.clone(),
            message: format!("${} is unusable: {p}", self.variable),
            hint: None,
        })?;
        Ok(token)
    }
}

impl Source for EnvSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let token = self.read(ctx, t)?;
        Ok(Credential {
            username: username_for(&t.rule, None),
            secret: token,
            expires_at: None,
            ephemeral: false,
        })
    }

    fn erase(&self, ctx: &Context, t: &Query, password: &SecretString) -> Result<Erased> {
        match self.read(ctx, t) {
            Ok(ours) if same_secret(&ours, password) => Ok(Erased::CannotForget(format!(
                "the server rejected the token in ${}; replace it (expired or revoked?)",
                self.variable
            ))),
            Ok(_) => Ok(Erased::Different),
            Err(_) => Ok(Erased::NothingHeld),
        }
    }

    fn state(&self, ctx: &Context, _pattern: &str) -> String {
        match ctx.env.get(&self.variable) {
            Some(_) => format!("${} is set", self.variable),
            None => format!("${} is NOT set", self.variable),
        }
    }

    fn renew_hint(&self, _pattern: &str) -> String {
        format!("; put a fresh token in ${}", self.variable)
    }
}
