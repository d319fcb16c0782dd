//! `gocred login PATTERN`: puts a root secret in the keyring and a rule in the config.
//!
//! What the secret is and how it is obtained is the source kind's (`Source::login`): a token
//! for `pat` (and a `gitlab` manager token), the App's PEM key for `github-app`, the device
//! flow's refresh token for `oauth`, nothing for `env`, `command` and `github-oidc`.
//!
//! The secret comes from stdin when it is not a terminal (`… | gocred login PATTERN`), else from a
//! no-echo prompt on the terminal; never from argv (world-readable in /proc). The rule is checked
//! before anything is written, the keyring is written before the config, and a failed config
//! write takes the keyring entry back out.

use std::io::{IsTerminal, Read, Write};

use clap::Args;

use crate::config::{edit, HttpAuth, RuleSpec, SourceKind, Transport};
use crate::error::{Error, Result};
use crate::rules::Rule;
use crate::secret::{check_token, secret, ExposeSecret, SecretString};
use crate::settings::Settings;
use crate::sources::{account_for, Login, SecretInput};
use crate::store::payload::PatSecret;

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// GOPRIVATE-style pattern the rule serves: `git.corp.example`, `github.com/acme/*`.
    pub pattern: String,
    /// Where the token comes from: pat (keyring), env (a variable), command (a program), or a
    /// minting source.
    #[arg(long, default_value = "pat", value_parser = ["pat", "env", "command", "github-app", "oauth", "gitlab"])]
    pub source: String,
    /// Git username to send with the token (default: x-access-token).
    #[arg(long)]
    pub username: Option<String>,
    /// The git host, when it is not the pattern's first element.
    #[arg(long)]
    pub host: Option<String>,
    /// `env` source: the variable holding the token.
    #[arg(long)]
    pub variable: Option<String>,
    /// Allow sending the credential over plain http to this exact host.
    #[arg(long)]
    pub allow_http: bool,
    /// `command` source: seconds before the command is killed; minting sources: before an API
    /// request is abandoned.
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// The header `gocred goauth` gives Go for this rule: basic (default) or bearer.
    #[arg(long, value_parser = ["basic", "bearer"])]
    pub auth: Option<String>,
    /// `command` source: the program and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub mint: Box<MintArgs>,
}

/// Flags of the minting sources (flattened into `login`'s); each is the rule key of its name.
#[derive(Debug, Default, Args)]
pub(crate) struct MintArgs {
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

impl LoginArgs {
    /// The rule the flags describe (only the keys given: the file stays minimal). Whether the
    /// kind takes them is checked when it is compiled.
    fn rule_spec(&self, kind: SourceKind) -> RuleSpec {
        let m = &self.mint;
        let list = |v: &Vec<String>| {
            (!v.is_empty()).then(|| {
                v.iter()
                    .flat_map(|s| s.split(','))
                    .map(str::to_string)
                    .collect()
            })
        };
        RuleSpec {
            pattern: self.pattern.clone(),
            source: Some(kind),
            // A `pat` keeps its username with the token in the keyring.
            username: self.username.clone().filter(|_| kind != SourceKind::Pat),
            host: self.host.clone(),
            allow_http: self.allow_http,
            transport: Transport::Https,
            variable: self.variable.clone(),
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            timeout_secs: self.timeout_secs,
            auth: self.auth.as_deref().and_then(HttpAuth::parse),
            app_id: m.app_id,
            client_id: m.client_id.clone(),
            api_url: m.api_url.clone(),
            repositories: list(&m.repositories),
            permissions: (!m.permissions.is_empty()).then(|| {
                m.permissions
                    .iter()
                    .map(|p| match p.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (p.clone(), String::new()), // rejected by the rule check
                    })
                    .collect()
            }),
            provider: m.provider.clone(),
            base_url: m.base_url.clone(),
            device_url: m.device_url.clone(),
            token_url: m.token_url.clone(),
            revoke_url: m.revoke_url.clone(),
            scopes: list(&m.scopes),
            project: m.project.clone(),
            group: m.group.clone(),
            token_days: m.token_days,
            access_level: m.access_level,
            ..Default::default()
        }
    }
}

pub(crate) fn run(args: LoginArgs, settings: &Settings, err: &mut dyn Write) -> Result<()> {
    let kind = SourceKind::parse(&args.source).expect("clap restricts values");
    let spec = args.rule_spec(kind);
    let rule = Rule::compile(&spec, 0).map_err(Error::Usage)?;
    settings.require_config_path()?;
    let source = rule.source().expect("login writes https rules");
    let login = Login {
        pattern: &args.pattern,
        username: args.username.as_deref(),
    };
    let root = source.login(&settings.context(), &login, &mut Stdin, err)?;
    let root = root.and_then(|value| Some((source.root_account(&args.pattern)?, value)));
    save_root(settings, &spec, root, err)?;
    if settings
        .scope
        .is_private(&args.pattern.replace('*', "x"))
        .is_none()
    {
        let _ = writeln!(
            err,
            "gocred: note: GOPRIVATE does not cover `{0}`; go will ask the public proxy and checksum \
             database about it. Run: go env -w GOPRIVATE={1}",
            args.pattern,
            join_goprivate(settings.go.value("GOPRIVATE"), &args.pattern)
        );
    }
    Ok(())
}

/// Stores a `pat` secret in the keyring and adds (or updates) the rule (`init` shares it).
pub(crate) fn save(
    settings: &Settings,
    spec: &RuleSpec,
    secret: Option<PatSecret>,
    err: &mut dyn Write,
) -> Result<()> {
    let root = match secret {
        Some(value) => {
            check_token(&value.token)
                .map_err(|p| Error::Usage(format!("the token is unusable: {p}")))?;
            Some((account_for(&spec.pattern), value.encode()))
        }
        None => None,
    };
    save_root(settings, spec, root, err)
}

/// The one code path that writes: the rule is checked before anything is written, the root
/// secret goes to the keyring before the rule goes to the config, and a failed config write
/// takes the keyring entry back out.
fn save_root(
    settings: &Settings,
    spec: &RuleSpec,
    root: Option<(String, SecretString)>,
    err: &mut dyn Write,
) -> Result<()> {
    Rule::compile(spec, 0).map_err(Error::Usage)?;
    let config = settings.require_config_path()?.to_path_buf();
    let ctx = settings.context();
    let backend = match &root {
        Some((account, value)) => Some(ctx.keyring()?.set(account, value)?),
        None => None,
    };
    let replaced = match edit::upsert_rule(&config, spec) {
        Ok(r) => r,
        Err(e) => {
            if let Some((account, _)) = &root {
                let _ = ctx.keyring().and_then(|k| k.delete(account));
            }
            return Err(e);
        }
    };
    let kind = spec.source.map_or(spec.transport.as_str(), |k| k.as_str());
    if let Some(b) = backend {
        let what = match spec.source {
            Some(SourceKind::Pat) => "the token",
            _ => "the root secret",
        };
        let _ = writeln!(
            err,
            "gocred: stored {what} for `{}` in {}",
            spec.pattern,
            b.name()
        );
    }
    let minted = matches!(
        spec.source,
        Some(SourceKind::GithubApp | SourceKind::Oauth | SourceKind::Gitlab)
    );
    let _ = writeln!(
        err,
        "gocred: {} rule `{}` ({kind}) in {}{}",
        if replaced { "updated" } else { "added" },
        spec.pattern,
        config.display(),
        if minted {
            "; tokens are minted on demand"
        } else {
            ""
        }
    );
    Ok(())
}

fn join_goprivate(current: &str, pattern: &str) -> String {
    if current.is_empty() {
        pattern.to_string()
    } else {
        format!("{current},{pattern}")
    }
}

/// The terminal or stdin, as `login` reads a secret: never argv (world-readable in /proc).
struct Stdin;

/// Largest secret read from stdin: a token or a key, not a file.
const MAX_SECRET: usize = 64 * 1024;

impl SecretInput for Stdin {
    fn line(&mut self, what: &str) -> Result<SecretString> {
        let stdin = std::io::stdin();
        let raw = if stdin.is_terminal() {
            secret(
                rpassword::prompt_password(format!("Paste {what} (input hidden): "))
                    .map_err(|e| Error::io("reading from the terminal", e))?,
            )
        } else {
            read_stdin("token")?
        };
        let mut lines = raw
            .expose_secret()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let first = lines.next().ok_or_else(|| {
            Error::Usage("no token on stdin; pipe it in (`printf %s \"$TOKEN\" | gocred login …`) or run in a terminal".into())
        })?;
        if lines.next().is_some() {
            return Err(Error::Usage(
                "stdin holds more than one line; give only the token".into(),
            ));
        }
        let token = secret(first.to_string());
        check_token(&token).map_err(|p| Error::Usage(format!("{what} is unusable: {p}")))?;
        Ok(token)
    }

    fn pem(&mut self, how: &str) -> Result<SecretString> {
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage(how.to_string()));
        }
        let raw = read_stdin("key")?;
        Ok(secret(raw.expose_secret().trim().to_string() + "\n"))
    }
}

/// All of stdin, up to [`MAX_SECRET`].
fn read_stdin(what: &str) -> Result<SecretString> {
    let mut buf = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_SECRET as u64 + 1)
        .read_to_string(&mut buf)
        .map_err(|e| Error::io(format!("reading the {what} from stdin"), e))?;
    let buf = secret(buf);
    if buf.expose_secret().len() > MAX_SECRET {
        return Err(Error::Usage(format!(
            "the {what} on stdin is larger than 64 KiB"
        )));
    }
    Ok(buf)
}
