//! `gocred login PATTERN`: puts a root secret in the keyring and a rule in the config.
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
use crate::secret::{check_token, secret, SecretString};
use crate::settings::Settings;
use crate::sources::{account_for, Context};
use crate::store::payload::PatSecret;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// GOPRIVATE-style pattern the rule serves: `git.corp.example`, `github.com/acme/*`.
    pub pattern: String,
    /// Where the token comes from: pat (keyring), env (a variable), command (a program).
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
    /// `command` source: seconds before the command is killed.
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// The header `gocred goauth` gives Go for this rule: basic (default) or bearer.
    #[arg(long, value_parser = ["basic", "bearer"])]
    pub auth: Option<String>,
    /// `command` source: the program and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub mint: Box<super::login_mint::MintArgs>,
}

pub fn run(args: LoginArgs, settings: &Settings, err: &mut dyn Write) -> Result<()> {
    let kind = SourceKind::parse(&args.source).expect("clap restricts values");
    let pat = kind == SourceKind::Pat;
    let spec = RuleSpec {
        pattern: args.pattern.clone(),
        source: Some(kind),
        username: if pat { None } else { args.username.clone() },
        host: args.host.clone(),
        allow_http: args.allow_http,
        transport: Transport::Https,
        variable: args.variable.clone(),
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        timeout_secs: args.timeout_secs,
        auth: args.auth.as_deref().and_then(HttpAuth::parse),
        ..Default::default()
    };
    let spec = super::login_mint::with_mint_keys(spec, &args.mint);
    let rule = Rule::compile(&spec, 0).map_err(Error::Usage)?;
    let config = settings.require_config_path()?.to_path_buf();
    if super::login_mint::is_minting(kind) {
        return super::login_mint::run(&args, &spec, &rule, settings, &config, err);
    }
    let secret = match pat {
        true => Some(PatSecret {
            username: args.username.clone(),
            token: read_secret(&args.pattern)?,
        }),
        false => None,
    };
    save(settings, &spec, secret, err)?;
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

/// Stores a `pat` secret in the keyring and adds (or updates) the rule: the one code path
/// `login` and `init` share. The rule is checked before anything is written, the keyring is
/// written before the config, and a failed config write takes the keyring entry back out.
pub fn save(
    settings: &Settings,
    spec: &RuleSpec,
    secret: Option<PatSecret>,
    err: &mut dyn Write,
) -> Result<()> {
    Rule::compile(spec, 0).map_err(Error::Usage)?;
    let config = settings.require_config_path()?.to_path_buf();
    let mut stored_in = None;
    if let Some(value) = secret {
        check_token(&value.token)
            .map_err(|p| Error::Usage(format!("the token is unusable: {p}")))?;
        let ctx = Context::new(settings);
        let backend = ctx
            .keyring()?
            .set(&account_for(&spec.pattern), &value.encode())?;
        stored_in = Some((ctx, backend));
    }
    let replaced = match edit::upsert_rule(&config, spec) {
        Ok(r) => r,
        Err(e) => {
            if let Some((ctx, _)) = &stored_in {
                let _ = ctx
                    .keyring()
                    .and_then(|k| k.delete(&account_for(&spec.pattern)));
            }
            return Err(e);
        }
    };
    if let Some((_, backend)) = &stored_in {
        let _ = writeln!(
            err,
            "gocred: stored the token for `{}` in {}",
            spec.pattern,
            backend.name()
        );
    }
    let _ = writeln!(
        err,
        "gocred: {} rule `{}` ({}) in {}",
        if replaced { "updated" } else { "added" },
        spec.pattern,
        spec.source.map_or(spec.transport.as_str(), |k| k.as_str()),
        config.display()
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

/// Reads the secret from stdin (pipe) or a no-echo terminal prompt.
fn read_secret(pattern: &str) -> Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let t = rpassword::prompt_password(format!("Token for {pattern} (input hidden): "))
            .map_err(|e| Error::io("reading the token from the terminal", e))?;
        return Ok(secret(t));
    }
    let mut buf = String::new();
    stdin
        .lock()
        .take(64 * 1024 + 1)
        .read_to_string(&mut buf)
        .map_err(|e| Error::io("reading the token from stdin", e))?;
    if buf.len() > 64 * 1024 {
        return Err(Error::Usage(
            "the token on stdin is larger than 64 KiB".into(),
        ));
    }
    let buf = secret(buf);
    let text = secrecy::ExposeSecret::expose_secret(&buf);
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let first = lines.next().ok_or_else(|| {
        Error::Usage("no token on stdin; pipe it in (`printf %s \"$TOKEN\" | gocred login …`) or run in a terminal".into())
    })?;
    if lines.next().is_some() {
        return Err(Error::Usage(
            "stdin holds more than one line; give only the token".into(),
        ));
    }
    Ok(secret(first.to_string()))
}
