//! `gocred get|store|erase`: git's credential helper (docs/protocols/git-credential-protocol.md).
//!
//! Reads the whole request first, refuses anything unclean, then routes: Settings → Rule → Source.
//! Stdout belongs to git and receives bytes only when the answer is complete and certain (git uses
//! a helper's output even when it exits non-zero, docs/protocols/git-credential-protocol.md). Everything for the person goes to
//! stderr, one line each, with host names already validated.

use std::io::{BufRead, Write};

use crate::error::{Error, Result};
use crate::protocol::{read_request, write_response, Request, Response};
use crate::settings::{Route, Routed, Settings};
use crate::sources::{Erased, Query, Stored};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Get,
    Store,
    Erase,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Store => "store",
            Operation::Erase => "erase",
        }
    }
}

/// Runs one operation. `load` builds Settings after the request has been read and validated.
pub(crate) fn run(
    op: Operation,
    input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    load: impl FnOnce() -> Result<Settings>,
) -> Result<()> {
    let req = read_request(input)?;
    #[cfg(unix)]
    if let Some(agent) = crate::agent::client_from_env()? {
        return agent.forward_credential(op, &req, out, err);
    }
    crate::commands::trace::request(op.as_str(), &req.origin, req.path.as_deref());
    let settings = load()?;
    let Some(routed) = route(&settings, &req, op, err)? else {
        return Ok(());
    };
    let q = routed.query(&req.origin, req.path.as_deref());
    match op {
        Operation::Get => get(&routed, &q, &req, out),
        Operation::Store => store(&routed, &q, &req, err),
        Operation::Erase => erase(&routed, &q, &req, err),
    }
}

/// The rule and source for the request, or (on stderr) why none answers.
fn route<'s>(
    settings: &'s Settings,
    req: &Request,
    op: Operation,
    err: &mut dyn Write,
) -> Result<Option<Routed<'s>>> {
    let host = req.origin.authority();
    crate::commands::trace::rules(&settings.rules, &req.origin, req.path.as_deref());
    match settings.route(&req.origin, req.path.as_deref())? {
        Route::Source(routed) => {
            crate::trace!(
                "route: {} serves {host}",
                crate::commands::trace::rule_name(routed.rule)
            );
            Ok(Some(routed))
        }
        Route::Ssh(rule) => {
            crate::trace!(
                "{}: rule `{}` uses ssh: no answer over https",
                op.as_str(),
                rule.pattern
            );
            if op == Operation::Get {
                let _ = writeln!(
                    err,
                    "gocred: rule `{}` uses ssh; git should reach {host} over ssh, not https \
                     (set `url.<ssh base>.insteadOf`, see `gocred explain {}`)",
                    rule.pattern, rule.pattern
                );
            }
            Ok(None)
        }
        Route::NoRule => {
            let module = match &req.path {
                Some(p) => format!("{host}/{}", p.strip_suffix(".git").unwrap_or(p)),
                None => host.clone(),
            };
            let private = settings.scope.is_private(&module);
            crate::trace!(
                "route: no rule covers {host}; {module} is {}: no answer (git asks its next helper)",
                private.as_ref().map_or_else(
                    || "not private per GOPRIVATE".to_string(),
                    |g| format!("private per GOPRIVATE pattern `{g}`")
                )
            );
            if let Some(glob) = private {
                let _ = writeln!(
                    err,
                    "gocred: no credential rule for {host} (private per GOPRIVATE pattern `{glob}`); \
                     add one with: gocred login {}",
                    if module.contains('/') { glob.to_string() } else { host.clone() }
                );
            }
            Ok(None)
        }
        Route::Ambiguous(rules) => {
            let names: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
            crate::trace!("route: ambiguous, no path from git: {}", names.join(", "));
            let _ = writeln!(
                err,
                "gocred: several rules cover {host} ({}) and git sent no repository path; run: \
                 git config --global credential.https://{host}.useHttpPath true",
                names.join(", ")
            );
            Ok(None)
        }
    }
}

fn get(routed: &Routed, q: &Query, req: &Request, out: &mut dyn Write) -> Result<()> {
    let cred = routed.credential(q)?;
    crate::commands::trace::answered("get", routed.rule, &cred);
    let resp = Response {
        username: cred.username,
        password: cred.secret,
        password_expiry_utc: cred.expires_at,
        ephemeral: cred.ephemeral,
    };
    write_response(out, req, &resp).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::Source {
            kind: q.rule.kind,
            rule: q.rule.pattern.clone(),
            message: format!("refusing to answer: {e}"),
            hint: None,
        },
        _ => Error::io("writing the answer to git", e),
    })
}

fn store(routed: &Routed, t: &Query, req: &Request, err: &mut dyn Write) -> Result<()> {
    let (Some(user), Some(pw)) = (req.username.as_deref(), req.password.as_ref()) else {
        return Ok(());
    };
    if req
        .password_expiry_utc
        .is_some_and(|e| e <= crate::state::now_secs())
    {
        return Ok(()); // git never stores expired credentials; neither do we
    }
    let stored = routed.source.store(&routed.ctx, t, user, pw)?;
    crate::trace!(
        "store: {}: {stored:?}",
        crate::commands::trace::rule_name(routed.rule)
    );
    if stored == Stored::Saved {
        let _ = writeln!(
            err,
            "gocred: remembered the credential git confirmed for `{}`",
            t.rule.pattern
        );
    }
    Ok(())
}

fn erase(routed: &Routed, t: &Query, req: &Request, err: &mut dyn Write) -> Result<()> {
    let Some(pw) = req.password.as_ref() else {
        return Ok(()); // never "erase all" on a request without the rejected password
    };
    let erased = routed.source.erase(&routed.ctx, t, pw)?;
    crate::trace!(
        "erase: {} (rejected password {}): {erased:?}",
        crate::commands::trace::rule_name(routed.rule),
        crate::trace::secret(pw)
    );
    match erased {
        Erased::Dropped => {
            let _ = writeln!(
                err,
                "gocred: {} rejected the token for `{}`; dropped it. Store a new one with: gocred login {}",
                t.origin.authority(),
                t.rule.pattern,
                t.rule.pattern
            );
        }
        Erased::CannotForget(msg) => {
            let _ = writeln!(err, "gocred: {msg}");
        }
        Erased::Minted => {
            let _ = writeln!(
                err,
                "gocred: {} rejected the token minted for `{}`; dropped it, the next request mints a new one",
                t.origin.authority(),
                t.rule.pattern
            );
        }
        Erased::Different | Erased::NothingHeld => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(config: &str, env: &[(&str, &str)], input: &str) -> (Result<()>, String, String) {
        let (_d, s) = Settings::for_test(config, env);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = run(Operation::Get, input.as_bytes(), &mut out, &mut err, || {
            Ok(s)
        });
        (
            r,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    const ENV_RULE: &str = "[[rule]]\npattern = \"git.corp.example\"\nsource = \"env\"\nvariable = \"CORP_TOKEN\"\nusername = \"ci\"\n";

    #[test]
    fn env_rule_answers() {
        let (r, out, _) = get(
            ENV_RULE,
            &[("CORP_TOKEN", "tok123")],
            "protocol=https\nhost=git.corp.example\n\n",
        );
        r.unwrap();
        assert_eq!(out, "username=ci\npassword=tok123\n");
    }

    #[test]
    fn uncovered_private_host_prints_nothing_but_a_hint() {
        let (r, out, err) = get(
            ENV_RULE,
            &[("CORP_TOKEN", "t"), ("GOPRIVATE", "other.example")],
            "protocol=https\nhost=other.example\n\n",
        );
        r.unwrap();
        assert_eq!(out, "");
        assert!(err.contains("gocred login other.example"), "{err}");
        let (_, out, err) = get(
            ENV_RULE,
            &[("CORP_TOKEN", "t")],
            "protocol=https\nhost=public.example\n\n",
        );
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("", ""),
            "public host: silence"
        );
    }

    #[test]
    fn missing_variable_is_an_error_without_output() {
        let (r, out, _) = get(ENV_RULE, &[], "protocol=https\nhost=git.corp.example\n\n");
        let e = r.unwrap_err();
        assert!(e.to_string().contains("$CORP_TOKEN is not set"), "{e}");
        assert_eq!(out, "");
    }

    #[test]
    fn http_is_refused_without_opt_in() {
        let (r, out, _) = get(
            ENV_RULE,
            &[("CORP_TOKEN", "t")],
            "protocol=http\nhost=git.corp.example\n\n",
        );
        assert!(r.unwrap_err().to_string().contains("not https"));
        assert_eq!(out, "");
    }

    #[test]
    fn token_with_newline_never_reaches_git() {
        let (r, out, _) = get(
            ENV_RULE,
            &[("CORP_TOKEN", "a\nhost=evil")],
            "protocol=https\nhost=git.corp.example\n\n",
        );
        assert!(r.is_err());
        assert_eq!(out, "");
    }
}
