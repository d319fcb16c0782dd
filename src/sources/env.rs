//! `env`: the token is in a named environment variable (CI injects it as a masked secret).

use super::{username_for, Context, Credential, Erased, Lookup, Source, Target};
use crate::error::{Error, Result};
use crate::secret::{same_secret, secret, SecretString};

pub struct EnvSource {
    pub variable: String,
}

impl EnvSource {
    fn read(&self, ctx: &Context, t: &Target) -> Result<SecretString> {
        let value = ctx
            .settings
            .env
            .get(&self.variable)
            .ok_or_else(|| Error::Source {
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
    fn get(&self, ctx: &Context, t: &Target) -> Result<Lookup> {
        let token = self.read(ctx, t)?;
        Ok(Lookup::Found(Credential {
            username: username_for(t.rule, None),
            secret: token,
            expires_at: None,
            ephemeral: false,
        }))
    }

    fn erase(&self, ctx: &Context, t: &Target, password: &SecretString) -> Result<Erased> {
        match self.read(ctx, t) {
            Ok(ours) if same_secret(&ours, password) => Ok(Erased::CannotForget(format!(
                "the server rejected the token in ${}; replace it (expired or revoked?)",
                self.variable
            ))),
            Ok(_) => Ok(Erased::Different),
            Err(_) => Ok(Erased::NothingHeld),
        }
    }
}
