//! `gocred login PATTERN --source github-app|oauth|gitlab`: the root secret of a minting source.
//!
//! Part of `login`: the rule is already compiled; this puts the root secret in the keyring and
//! then the rule in the config (taking the secret back out if the config write fails).
//! github-app: the App's PEM private key from stdin (`< app-key.pem`), checked by signing a JWT.
//! oauth: the RFC 8628 device flow on the terminal, keeping the refresh token. gitlab: nothing
//! for `CI_JOB_TOKEN`; for project/group tokens a personal access token with `api` scope.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use clap::Args;

use super::login::LoginArgs;
use crate::config::{edit, RuleSpec, SourceKind};
use crate::error::{Error, Result};
use crate::rules::{Rule, SourceSpec};
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::settings::Settings;
use crate::sources::{github_api, github_app, Context};

/// Flags of the minting sources (flattened into `login`'s).
#[derive(Debug, Default, Args)]
pub struct MintArgs {
    /// github-app: the App's numeric ID.
    #[arg(long)]
    pub app_id: Option<u64>,
    /// github-app: the App's client ID (JWT issuer); oauth: the OAuth client ID.
    #[arg(long)]
    pub client_id: Option<String>,
    /// github-app / gitlab: REST API base (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long)]
    pub api_url: Option<String>,
    /// github-app: limit tokens to this repository (name without owner); repeatable.
    #[arg(long = "repository", value_name = "NAME")]
    pub repositories: Vec<String>,
    /// github-app: token permission NAME=LEVEL (default contents=read); repeatable.
    #[arg(long = "permission", value_name = "NAME=LEVEL")]
    pub permissions: Vec<String>,
    /// oauth: github, gitlab, gitea, forgejo or generic.
    #[arg(long)]
    pub provider: Option<String>,
    /// oauth: base URL of a self-hosted GitLab/Gitea/Forgejo.
    #[arg(long)]
    pub base_url: Option<String>,
    /// oauth: device authorization endpoint.
    #[arg(long)]
    pub device_url: Option<String>,
    /// oauth: token endpoint.
    #[arg(long)]
    pub token_url: Option<String>,
    /// oauth: token revocation endpoint.
    #[arg(long)]
    pub revoke_url: Option<String>,
    /// oauth / gitlab: scope to ask for; repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// gitlab: project (ID or path) whose access token is created and rotated.
    #[arg(long)]
    pub project: Option<String>,
    /// gitlab: group (ID or path) whose access token is created and rotated.
    #[arg(long)]
    pub group: Option<String>,
    /// gitlab: days a created access token lives.
    #[arg(long)]
    pub token_days: Option<u32>,
    /// gitlab: role of a created access token (10 guest, 20 reporter, 30 developer).
    #[arg(long)]
    pub access_level: Option<u32>,
}

pub fn is_minting(kind: SourceKind) -> bool {
    matches!(
        kind,
        SourceKind::GithubApp | SourceKind::Oauth | SourceKind::Gitlab
    )
}

/// Copies the flags into the rule spec (only those given: the file stays minimal).
pub fn with_mint_keys(mut spec: RuleSpec, m: &MintArgs) -> RuleSpec {
    let list = |v: &Vec<String>| {
        (!v.is_empty()).then(|| {
            v.iter()
                .flat_map(|s| s.split(','))
                .map(str::to_string)
                .collect()
        })
    };
    spec.app_id = m.app_id;
    spec.client_id = m.client_id.clone();
    spec.api_url = m.api_url.clone();
    spec.repositories = list(&m.repositories);
    spec.permissions = (!m.permissions.is_empty()).then(|| {
        m.permissions
            .iter()
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.clone(), String::new()), // rejected by the rule check
            })
            .collect()
    });
    spec.provider = m.provider.clone();
    spec.base_url = m.base_url.clone();
    spec.device_url = m.device_url.clone();
    spec.token_url = m.token_url.clone();
    spec.revoke_url = m.revoke_url.clone();
    spec.scopes = list(&m.scopes);
    spec.project = m.project.clone();
    spec.group = m.group.clone();
    spec.token_days = m.token_days;
    spec.access_level = m.access_level;
    spec
}

pub fn run(
    args: &LoginArgs,
    spec: &RuleSpec,
    rule: &Rule,
    settings: &Settings,
    config: &Path,
    err: &mut dyn Write,
) -> Result<()> {
    let ctx = Context::new(settings);
    let stored: Option<(String, SecretString)> = match rule.source.as_ref() {
        Some(SourceSpec::GithubApp(g)) => {
            let pem = read_pem()?;
            github_api::app_jwt(&g.issuer, &pem).map_err(|_| {
                Error::Usage(
                    "stdin is not an RSA private key in PEM form (the App's .pem file)".into(),
                )
            })?;
            Some((github_app::key_account(&args.pattern), pem))
        }
        Some(SourceSpec::Oauth(o)) => {
            let root = crate::sources::oauth::device_login(&ctx, o, &args.pattern, err)?;
            Some((crate::sources::oauth::account(&args.pattern), root))
        }
        Some(SourceSpec::Gitlab(g)) => match g.mode {
            crate::rules_mint::GitlabMode::JobToken => None,
            _ => {
                let pat = read_line_secret("a GitLab personal access token with `api` scope")?;
                Some((crate::sources::gitlab::account(&args.pattern), pat))
            }
        },
        _ => unreachable!("run only for minting sources"),
    };
    let backend = match &stored {
        Some((account, value)) => Some(ctx.keyring()?.set(account, value)?),
        None => None,
    };
    if let Err(e) = edit::upsert_rule(config, spec) {
        if let Some((account, _)) = &stored {
            let _ = ctx.keyring().and_then(|k| k.delete(account));
        }
        return Err(e);
    }
    if let Some(b) = backend {
        let _ = writeln!(
            err,
            "gocred: stored the root secret for `{}` in {}",
            args.pattern,
            b.name()
        );
    }
    let _ = writeln!(
        err,
        "gocred: rule `{}` ({}) in {}; tokens are minted on demand",
        args.pattern,
        args.source,
        config.display()
    );
    if matches!(rule.source, Some(SourceSpec::GithubApp(_)))
        && rule
            .path_glob
            .as_deref()
            .and_then(|g| g.split('/').next())
            .is_none_or(|o| !github_api::valid_owner(o))
    {
        let _ = writeln!(
            err,
            "gocred: this rule serves several owners: git must send the repository path. Run: \
             git config --global credential.https://{}.useHttpPath true",
            crate::protocol::escape_for_display(args.pattern.split('/').next().unwrap_or(""))
        );
    }
    Ok(())
}

/// The App key: a PEM file on stdin (never a terminal: it is many lines).
fn read_pem() -> Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "give the App's private key on stdin: gocred login PATTERN --source github-app --app-id ID < app-key.pem".into(),
        ));
    }
    let mut buf = String::new();
    stdin
        .lock()
        .take(64 * 1024 + 1)
        .read_to_string(&mut buf)
        .map_err(|e| Error::io("reading the key from stdin", e))?;
    let buf = secret(buf);
    if buf.expose_secret().len() > 64 * 1024 {
        return Err(Error::Usage(
            "the key on stdin is larger than 64 KiB".into(),
        ));
    }
    Ok(secret(buf.expose_secret().trim().to_string() + "\n"))
}

/// One line from stdin (pipe) or a no-echo prompt.
fn read_line_secret(what: &str) -> Result<SecretString> {
    let stdin = std::io::stdin();
    let raw = if stdin.is_terminal() {
        secret(
            rpassword::prompt_password(format!("Paste {what} (input hidden): "))
                .map_err(|e| Error::io("reading from the terminal", e))?,
        )
    } else {
        let mut buf = String::new();
        stdin
            .lock()
            .take(64 * 1024)
            .read_to_string(&mut buf)
            .map_err(|e| Error::io("reading stdin", e))?;
        secret(buf)
    };
    let token = secret(raw.expose_secret().trim().to_string());
    crate::secret::check_token(&token).map_err(|p| Error::Usage(format!("{what}: {p}")))?;
    Ok(token)
}
