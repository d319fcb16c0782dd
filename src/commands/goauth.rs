//! `gocred goauth [URL]`: Go's GOAUTH command (design §2, contract; spec §2.4).
//!
//! Go runs it once per process with no argument, before its first HTTPS request: we answer a
//! credential set for every prefix the rules can serve (host-level `https://host/`, or an owner
//! prefix for `host/acme/*`), because a server whose anonymous answer is misleading (GitLab
//! subgroups) never gets Go to ask again. After a 4xx Go runs it again with the request URL and
//! the response on stdin: we answer for that URL only, routed through the same `Rules::select`
//! as `get` — wildcard hosts and complex globs are served here. Stdin is server-controlled; it
//! is read under a size cap and must be well-formed, but never decides anything.
//!
//! Stdout gets one complete, valid answer or nothing (one bad line voids the whole command for
//! Go). A failing source skips its host with a line on stderr instead of voiding the others.
//! Go logs our stderr with `go -x`, so it never holds a secret.

mod plan;

use std::io::{Read, Write};

use clap::Args;

use crate::config::HttpAuth;
use crate::error::{Error, Result};
use crate::goauth::{
    read_challenge, write_response, CredentialSet, GoauthError, Header, RequestUrl, Response,
    UrlLine, UrlPrefix,
};
use crate::protocol::{Origin, Scheme};
use crate::rules::{HostPattern, Rule, Selection};
use crate::settings::Settings;
use crate::sources::{self, Context, Lookup, Target};

#[derive(Debug, Args)]
pub struct GoauthArgs {
    /// The request URL of Go's retry call after a 4xx (absent on Go's first call).
    pub url: Option<String>,
}

/// Runs one GOAUTH call. `stdin` is `None` when there is nothing to read (a terminal);
/// `load` builds Settings after the URL and stdin have been checked.
pub fn run(
    args: GoauthArgs,
    stdin: Option<impl Read>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    load: impl FnOnce() -> Result<Settings>,
) -> Result<()> {
    let Some(raw) = args.url else {
        return first_call(&load()?, out, err);
    };
    let url = RequestUrl::parse(&raw).map_err(refused)?;
    if let Some(input) = stdin {
        read_challenge(input).map_err(refused)?;
    }
    retry(&load()?, &url, out)
}

fn refused(e: GoauthError) -> Error {
    Error::other(format!("goauth: refused: {e}"))
}

/// No argument: every prefix the rules can serve, in rule order.
fn first_call(settings: &Settings, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let ctx = Context::new(settings);
    let rules = &settings.rules.rules;
    let insecure = settings.go.value("GOINSECURE");
    let mut resp = Response::new();
    let mut answered: Vec<(Origin, Vec<String>)> = Vec::new();
    let mut failed = 0;
    for (i, rule) in rules.iter().enumerate() {
        if rule.source.is_none() {
            note(
                err,
                rule,
                "uses ssh: it has no token for Go's own https requests",
            );
            continue;
        }
        let HostPattern::Exact { host, port } = &rule.host else {
            note(
                err,
                rule,
                "wildcard host: answered when Go asks about a URL on it",
            );
            continue;
        };
        let origin = Origin {
            scheme: Scheme::Https,
            host: host.clone(),
            port: port.unwrap_or(443),
        };
        let Some(elems) = plan::prefix_elems(rule) else {
            note(
                err,
                rule,
                "path glob: answered when Go asks about a URL it covers",
            );
            continue;
        };
        if let Some(why) = plan::first_call_conflict(rules, i, &origin, &elems, &answered) {
            note(err, rule, &format!("not answered up front: {why}"));
            continue;
        }
        if let Some(glob) = plan::insecure_host(insecure, &origin.authority()) {
            note(err, rule, &insecure_message(&glob));
            continue;
        }
        let refs: Vec<&str> = elems.iter().map(String::as_str).collect();
        let prefix = match UrlPrefix::new(&origin, &refs) {
            Ok(p) => p,
            Err(e) => {
                note(
                    err,
                    rule,
                    &format!("cannot be written as a GOAUTH prefix: {e}"),
                );
                continue;
            }
        };
        let path = (!elems.is_empty()).then(|| elems.join("/"));
        match header_for(&ctx, rule, &origin, path.as_deref()) {
            Ok(Some(header)) => {
                let set = CredentialSet::new(UrlLine::Prefix(prefix.clone()), header);
                match resp.push(set) {
                    Ok(()) => answered.push((origin, elems)),
                    Err(e) => note(err, rule, &e.to_string()),
                }
            }
            Ok(None) => {}
            Err(e) => {
                failed += 1;
                let _ = writeln!(
                    err,
                    "gocred: goauth: skipping {}: {e}{}",
                    prefix.render(),
                    e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
                );
            }
        }
    }
    write_response(out, &resp).map_err(|e| Error::io("writing the GOAUTH answer", e))?;
    if resp.is_empty() && failed > 0 {
        return Err(Error::other(format!(
            "goauth: no credential for any host ({failed} failed, see above)"
        )));
    }
    Ok(())
}

/// With the URL: the rule `get` would pick for it, answered for that URL only.
fn retry(settings: &Settings, url: &RequestUrl, out: &mut dyn Write) -> Result<()> {
    let origin = url.origin();
    let shown = format!(
        "https://{}/{}",
        origin.authority(),
        url.path().unwrap_or("")
    );
    if let Some(glob) = plan::insecure_host(settings.go.value("GOINSECURE"), &origin.authority()) {
        return Err(Error::other(format!(
            "goauth: {shown}: {}",
            insecure_message(&glob)
        )));
    }
    let rules = &settings.rules.rules;
    let rule = match settings
        .rules
        .select(origin, Some(url.path().unwrap_or("")))
    {
        // A path-scoped rule never answers for the host root.
        Selection::Rule(r) if r.path_glob.is_none() || url.path().is_some() => r,
        _ => {
            return Err(Error::with_hint(
                format!("goauth: no rule covers {shown}"),
                format!("add one with: gocred login {}", origin.authority()),
            ))
        }
    };
    let i = rules
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .expect("selected from these rules");
    let Some(header) = header_for(&Context::new(settings), rule, origin, url.path())? else {
        return Err(Error::other(format!(
            "goauth: rule `{}` has no credential for {shown}",
            rule.pattern
        )));
    };
    let prefix = plan::prefix_elems(rule)
        .filter(|p| plan::retry_prefix_ok(rules, i, origin, p))
        .and_then(|p| {
            UrlPrefix::new(origin, &p.iter().map(String::as_str).collect::<Vec<_>>()).ok()
        });
    let set = match prefix {
        Some(p) if url.is_under(&p) => CredentialSet::new(UrlLine::Prefix(p), header),
        Some(p) => {
            let mut set = CredentialSet::new(UrlLine::Exact(url.clone()), header);
            set.add_url(UrlLine::Prefix(p));
            set
        }
        None => CredentialSet::new(UrlLine::Exact(url.clone()), header),
    };
    let mut resp = Response::new();
    resp.push(set).map_err(refused)?;
    write_response(out, &resp).map_err(|e| Error::io("writing the GOAUTH answer", e))
}

/// The header for `rule` on `origin`, from the same source `get` uses. `None`: "not mine".
fn header_for(
    ctx: &Context,
    rule: &Rule,
    origin: &Origin,
    path: Option<&str>,
) -> Result<Option<Header>> {
    let source_error = |message: String| Error::Source {
        kind: rule.source.as_ref().map_or("ssh", |s| s.kind().as_str()),
        rule: rule.pattern.clone(),
        message,
        hint: None,
    };
    let Some(source) = sources::for_rule(rule) else {
        return Err(source_error(
            "uses ssh: it has no token for Go's own https requests".into(),
        ));
    };
    let cred = match ctx.settings.env.get(crate::commands::ci::agent::AGENT_VAR) {
        // Inside `gocred ci exec` (no file): the job's tokens were minted once and live in the
        // agent; minting again here would give Go a second token that the wipe never revokes.
        #[cfg(unix)]
        Some(_) => {
            match crate::commands::ci::agent::ask_agent(&ctx.settings.env, &origin.authority()) {
                Ok(Some((username, secret, expires_at))) => sources::Credential {
                    username,
                    secret,
                    expires_at,
                    ephemeral: true,
                },
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(source_error(format!(
                        "the ci exec agent did not answer: {e}"
                    )))
                }
            }
        }
        _ => {
            let target = Target { origin, path, rule };
            let Lookup::Found(cred) = source.get(ctx, &target)? else {
                return Ok(None);
            };
            cred
        }
    };
    let now = crate::sources::now_secs();
    if cred
        .expires_at
        .is_some_and(|exp| exp <= now + super::credential::EXPIRY_MARGIN_SECS)
    {
        return Err(source_error(
            "the token expires within a minute; not handing it out".into(),
        ));
    }
    let header = match rule.auth {
        HttpAuth::Basic => Header::basic(&cred.username, &cred.secret),
        HttpAuth::Bearer => Header::bearer(&cred.secret),
    };
    header.map(Some).map_err(|e| {
        source_error(format!(
            "cannot make the {} header: {e}",
            rule.auth.as_str()
        ))
    })
}

fn insecure_message(glob: &str) -> String {
    format!(
        "GOINSECURE pattern `{glob}` covers this host: Go would send the credential without \
         checking TLS, so gocred gives none; remove it from GOINSECURE"
    )
}

#[cfg(test)]
mod tests;

fn note(err: &mut dyn Write, rule: &Rule, what: &str) {
    let _ = writeln!(
        err,
        "gocred: goauth: rule `{}` (line {}): {what}",
        rule.pattern, rule.line
    );
}
