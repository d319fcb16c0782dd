//! `command`: runs a configured program (argv, no shell) and reads the token from its stdout.
//!
//! Output is either one line holding the token, or a JSON object
//! `{"token": "…", "expires_at": "2026-01-01T00:00:00Z" | 1767225600, "username": "…"}` so Vault,
//! octo-sts clients or cloud CLIs plug in without code here. The command learns what is asked
//! through `GOCRED_PROTOCOL`, `GOCRED_HOST`, `GOCRED_PATH` and `GOCRED_PATTERN`. Its stdout and
//! stderr are never shown: either may hold a secret. A failure names the program and its status.
//!
//! The program is found on PATH by gocred (absolute entries only), checked like the config
//! (`fsutil::trust`), and run by that absolute path; `timeout_secs` bounds everything, up to the
//! end of its output, and kills whatever it started (`proc::run`).

use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use super::{username_for, Context, Credential, Erased, Query, Source, SourceSpec};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::proc;
use crate::secret::{secret, ExposeSecret, SecretString};

/// Cap on what we read from the command: a token, not a file.
const MAX_OUTPUT: u64 = 64 * 1024;

/// The keys `command` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &["command", "timeout_secs"];

pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<SourceSpec, String> {
    let argv = spec
        .command
        .clone()
        .ok_or("source `command` needs `command = [\"prog\", \"arg\"…]`")?;
    if argv.first().is_none_or(|p| p.is_empty()) {
        return Err("`command` must name a program".into());
    }
    Ok(SourceSpec::Command {
        argv,
        timeout_secs: spec.timeout_secs.unwrap_or(30).max(1),
    })
}

pub(crate) struct CommandSource {
    pub argv: Vec<String>,
    pub timeout_secs: u64,
}

/// What the command said, parsed.
#[derive(Debug)]
pub(crate) struct CommandOutput {
    pub token: SecretString,
    pub username: Option<String>,
    pub expires_at: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOutput {
    token: SecretString,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
    #[serde(default)]
    username: Option<String>,
}

impl CommandSource {
    fn fail(&self, t: &Query, message: String) -> Error {
        Error::Source {
            kind: "command",
            rule: t.rule.pattern.clone(),
            message,
            hint: Some(
                "its output is not shown because it may hold a secret; run the command yourself to see why".into(),
            ),
        }
    }

    /// The program as an absolute path, found and checked once (`fsutil::trust::program`): a
    /// program anyone but you or root could change would run as you with your credentials. It is
    /// run by that path, with `argv[0]` as written in the rule (as a shell would).
    fn program(&self, ctx: &Context, t: &Query) -> Result<std::path::PathBuf> {
        use crate::fsutil::trust::{program, Untrusted};
        let prog = &self.argv[0];
        program(prog, ctx.env.get("PATH")).map_err(|e| {
            let (message, hint) = match e {
                Untrusted::Missing(_) if !prog.contains('/') => (
                    format!("`{prog}` is not on PATH (only its absolute entries are searched)"),
                    "install it in an absolute PATH directory, or name it by its absolute path",
                ),
                Untrusted::Missing(p) => (
                    format!("`{prog}` not found ({} does not exist)", p.display()),
                    "name the program by its absolute path",
                ),
                Untrusted::Io(p, e) => (
                    format!("cannot check `{prog}` ({}): {e}", p.display()),
                    "name the program by its absolute path",
                ),
                e @ Untrusted::Refused { .. } => (
                    format!("refusing to run `{prog}`: {e}"),
                    "a command rule runs its program as you: it must be a regular executable file that only you or root can change, in directories only you or root can change (chmod go-w, or name another copy by absolute path)",
                ),
            };
            Error::Source {
                kind: "command",
                rule: t.rule.pattern.clone(),
                message,
                hint: Some(hint.into()),
            }
        })
    }

    fn run(&self, ctx: &Context, t: &Query) -> Result<CommandOutput> {
        let prog = &self.argv[0];
        let exe = self.program(ctx, t)?;
        let mut cmd = Command::new(&exe);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::arg0(&mut cmd, prog);
        cmd.args(&self.argv[1..])
            .env("GOCRED_PROTOCOL", t.origin.scheme.as_str())
            .env("GOCRED_HOST", t.origin.authority())
            .env("GOCRED_PATH", t.path.unwrap_or(""))
            .env("GOCRED_PATTERN", &t.rule.pattern);
        // stderr is captured and dropped unread: it may hold a secret too.
        let mut out = proc::run(&mut cmd, b"", Duration::from_secs(self.timeout_secs))
            .map_err(|m| self.fail(t, m))?;
        if !out.ok() {
            let status = proc::describe_status(out.status);
            return Err(self.fail(t, format!("`{prog}` failed ({status})")));
        }
        let stdout = std::mem::take(&mut out.stdout);
        parse_output(secret_bytes(stdout)).map_err(|m| self.fail(t, format!("`{prog}` {m}")))
    }
}

fn secret_bytes(buf: Vec<u8>) -> Option<SecretString> {
    if buf.len() as u64 > MAX_OUTPUT {
        return None;
    }
    String::from_utf8(buf).ok().map(secret)
}

/// Parses the command's stdout. Errors describe the shape, never the content.
pub(crate) fn parse_output(
    out: Option<SecretString>,
) -> std::result::Result<CommandOutput, String> {
    let out = out.ok_or("printed more than 64 KiB or invalid UTF-8")?;
    let text = out.expose_secret().trim();
    if text.starts_with('{') {
        let j: JsonOutput = serde_json::from_str(text).map_err(|e| {
            // serde_json messages quote unknown field names, never values.
            format!("printed JSON that is not {{\"token\", \"expires_at\", \"username\"}} (line {}, column {})", e.line(), e.column())
        })?;
        let token = j.token;
        crate::secret::check_token(&token)
            .map_err(|p| format!("printed an unusable token: {p}"))?;
        let expires_at = j.expires_at.map(parse_expiry).transpose()?;
        if let Some(t) = expires_at {
            if t <= crate::state::now_secs() {
                return Err("printed a token that has already expired".into());
            }
        }
        return Ok(CommandOutput {
            token,
            username: j
                .username
                .filter(|u| !u.is_empty() && !u.chars().any(char::is_control)),
            expires_at,
        });
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().ok_or("printed nothing")?;
    if lines.next().is_some() {
        return Err("printed more than one line (print only the token, or JSON)".into());
    }
    let token = secret(first.trim().to_string());
    crate::secret::check_token(&token).map_err(|p| format!("printed an unusable token: {p}"))?;
    Ok(CommandOutput {
        token,
        username: None,
        expires_at: None,
    })
}

fn parse_expiry(v: serde_json::Value) -> std::result::Result<u64, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .filter(|&n| n > 0)
            .ok_or_else(|| "printed a bad expires_at".into()),
        serde_json::Value::String(s) => {
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
                .ok_or_else(|| "printed an expires_at that is not RFC 3339".into())
        }
        _ => Err("printed a bad expires_at".into()),
    }
}

impl Source for CommandSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let out = self.run(ctx, t)?;
        Ok(Credential {
            username: username_for(&t.rule, out.username),
            secret: out.token,
            ephemeral: out.expires_at.is_some(),
            expires_at: out.expires_at,
        })
    }

    fn erase(&self, _ctx: &Context, _t: &Query, _password: &SecretString) -> Result<Erased> {
        // Re-running the command to compare could mint a new token; say what happened instead.
        Ok(Erased::CannotForget(format!(
            "the server rejected the token from `{}`; check what the command returns",
            self.argv[0]
        )))
    }

    fn state(&self, _ctx: &Context, _pattern: &str) -> String {
        format!("from `{}` (not run by explain)", self.argv[0])
    }

    /// Words, not a command: doctor cannot know how your vault or CI mints it.
    fn renew_hint(&self, _pattern: &str) -> String {
        let argv: Vec<String> = self.argv.iter().map(|a| proc::sh_quote(a)).collect();
        format!(
            "; renew what `{}` reads (its login or cache), then run gocred doctor again",
            argv.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> std::result::Result<CommandOutput, String> {
        parse_output(Some(secret(s.into())))
    }

    #[test]
    fn bare_token() {
        let o = p("  ghp_abc\n").unwrap();
        assert_eq!(o.token.expose_secret(), "ghp_abc");
        assert!(o.expires_at.is_none());
    }

    #[test]
    fn json_with_expiry() {
        let o =
            p(r#"{"token":"t.o.k","expires_at":"2099-01-01T00:00:00Z","username":"bot"}"#).unwrap();
        assert_eq!(o.token.expose_secret(), "t.o.k");
        assert_eq!(o.expires_at, Some(4_070_908_800));
        assert_eq!(o.username.as_deref(), Some("bot"));
        assert_eq!(
            p(r#"{"token":"t","expires_at":4070908800}"#)
                .unwrap()
                .expires_at,
            Some(4_070_908_800)
        );
    }

    #[test]
    fn bad_outputs_never_echo_the_content() {
        for (out, needle) in [
            ("", "printed nothing"),
            ("tok\nsecond", "more than one line"),
            ("to ken", "unusable"),
            (
                r#"{"token":"t","expires_at":"2001-01-01T00:00:00Z"}"#,
                "already expired",
            ),
            (r#"{"token":"t","expires_at":"tomorrow"}"#, "RFC 3339"),
            (r#"{"tok":"supersecret"}"#, "JSON"),
        ] {
            let e = p(out).unwrap_err();
            assert!(e.contains(needle), "{out:?}: {e}");
            assert!(!e.contains("supersecret"));
        }
        assert!(parse_output(None).is_err());
    }
}
