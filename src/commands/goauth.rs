//! `gocred goauth [URL]`: Go's GOAUTH command (docs/protocols/goauth.md).
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
    read_challenge, write_response, CredentialSet, GoauthError, GoauthResponse, Header, RequestUrl,
    UrlLine,
};
use crate::protocol::{Origin, Scheme};
use crate::rules::{HostPattern, Rule};
use crate::settings::{Route, Settings};
#[cfg(unix)]
use crate::sources::Credential;

#[derive(Debug, Args)]
pub(crate) struct GoauthArgs {
    /// The request URL of Go's retry call after a 4xx (absent on Go's first call).
    pub url: Option<String>,
}

/// Runs one GOAUTH call. `stdin` is `None` when there is nothing to read (a terminal);
/// `load` builds Settings after the URL and stdin have been checked.
pub(crate) fn run(
    args: GoauthArgs,
    stdin: Option<impl Read>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    load: impl FnOnce() -> Result<Settings>,
) -> Result<()> {
    #[cfg(unix)]
    if let Some(agent) = crate::agent::client_from_env()? {
        return agent.goauth(args.url.as_deref(), stdin, out);
    }
    let Some(raw) = args.url else {
        crate::trace!("goauth: first call (no URL): answering every prefix the rules serve");
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
    let rules = &settings.rules.rules;
    let insecure = settings.go.value("GOINSECURE");
    let mut resp = GoauthResponse::new();
    // Go's cache keys answered so far, with the index of the rule they belong to.
    let mut answered: Vec<(String, usize)> = Vec::new();
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
        let (Some(elems), Some(keys)) = (plan::prefix_elems(rule), plan::keys(rule)) else {
            note(
                err,
                rule,
                "path glob: answered when Go asks about a URL it covers",
            );
            continue;
        };
        if let Some(line) = plan::glob_overlap(rules, i, &origin, &elems) {
            note(
                err,
                rule,
                &format!(
                    "not answered up front: the glob rule at line {line} comes first and may \
                     cover part of it"
                ),
            );
            continue;
        }
        if let Some(glob) = plan::insecure_host(insecure, &origin.authority()) {
            note(err, rule, &insecure_message(&glob));
            continue;
        }
        let lines: Option<Vec<UrlLine>> = keys.iter().map(|k| k.line(&origin)).collect();
        let Some(lines) = lines else {
            note(
                err,
                rule,
                "a path element cannot be written as a GOAUTH prefix",
            );
            continue;
        };
        let mut proposed = answered.clone();
        proposed.extend(keys.iter().map(|k| (k.cache_key(&origin), i)));
        let dup = keys
            .iter()
            .any(|k| answered.iter().any(|(a, _)| *a == k.cache_key(&origin)));
        if dup {
            note(
                err,
                rule,
                "not answered up front: an earlier rule answers the same prefix",
            );
            continue;
        }
        if let Err(why) = plan::check(rules, &origin, &proposed) {
            note(err, rule, &format!("not answered up front: {why}"));
            continue;
        }
        let shown = lines[0].render();
        let path = (!elems.is_empty()).then(|| elems.join("/"));
        match header_for(settings, rule, &origin, path.as_deref()) {
            Ok(Some(header)) => {
                let mut lines = lines.into_iter();
                let mut set = CredentialSet::new(lines.next().expect("a key"), header);
                lines.for_each(|l| set.add_url(l));
                match resp.push(set) {
                    Ok(()) => {
                        crate::trace!(
                            "goauth: {shown}: answered by {}",
                            crate::commands::trace::rule_name(rule)
                        );
                        answered = proposed
                    }
                    Err(e) => note(err, rule, &e.to_string()),
                }
            }
            Ok(None) => {
                crate::trace!(
                    "goauth: {shown}: {} has nothing",
                    crate::commands::trace::rule_name(rule)
                );
            }
            Err(e) => {
                failed += 1;
                crate::trace!(
                    "goauth: {shown}: {} failed: {e}",
                    crate::commands::trace::rule_name(rule)
                );
                let _ = writeln!(
                    err,
                    "gocred: goauth: skipping {shown}: {e}{}",
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
    crate::commands::trace::request("goauth", origin, url.path());
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
    crate::commands::trace::rules(&settings.rules, origin, Some(url.path().unwrap_or("")));
    let rule = match settings.route(origin, Some(url.path().unwrap_or("")))? {
        // A path-scoped rule never answers for the host root.
        Route::Source(r) if r.rule.path_glob.is_none() || url.path().is_some() => r.rule,
        Route::Ssh(r) if r.path_glob.is_none() || url.path().is_some() => r,
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
    let Some(header) = header_for(settings, rule, origin, url.path())? else {
        return Err(Error::other(format!(
            "goauth: rule `{}` has no credential for {shown}",
            rule.pattern
        )));
    };
    // The rule's keys, when they alone never make Go send this credential where `get` would
    // pick another rule (the first call's keys are not known here); else the URL only.
    let keys: Vec<(String, UrlLine)> = plan::prefix_elems(rule)
        .zip(plan::keys(rule))
        .filter(|(elems, _)| plan::glob_overlap(rules, i, origin, elems).is_none())
        .and_then(|(_, keys)| {
            let mine: Vec<(String, usize)> =
                keys.iter().map(|k| (k.cache_key(origin), i)).collect();
            plan::check(rules, origin, &mine).ok()?;
            keys.iter()
                .map(|k| Some((k.cache_key(origin), k.line(origin)?)))
                .collect()
        })
        .unwrap_or_default();
    // The URL itself only when none of the keys already reaches it.
    let reached = keys.iter().any(|(k, _)| url.reaches(k));
    let mut lines = keys.into_iter().map(|(_, l)| l);
    let mut set = match (reached, lines.next()) {
        (true, Some(first)) => CredentialSet::new(first, header),
        (_, first) => {
            let mut set = CredentialSet::new(UrlLine::Exact(url.clone()), header);
            first.into_iter().for_each(|l| set.add_url(l));
            set
        }
    };
    lines.for_each(|l| set.add_url(l));
    let mut resp = GoauthResponse::new();
    resp.push(set).map_err(refused)?;
    write_response(out, &resp).map_err(|e| Error::io("writing the GOAUTH answer", e))
}

/// The header for `rule` on `origin`, from the same source and under the same freshness rule
/// as `get`. `None`: the `ci exec` agent has nothing for this host.
fn header_for(
    settings: &Settings,
    rule: &Rule,
    origin: &Origin,
    path: Option<&str>,
) -> Result<Option<Header>> {
    let source_error = |message: String| Error::Source {
        kind: rule.kind_name(),
        rule: rule.pattern.clone(),
        message,
        hint: None,
    };
    let Some(routed) = settings.routed(rule) else {
        return Err(source_error(
            "uses ssh: it has no token for Go's own https requests".into(),
        ));
    };
    let q = routed.query(origin, path);
    let cred = match settings.env.get(crate::commands::ci::AGENT_VAR) {
        // Inside `gocred ci exec` (no file): the job's tokens were minted once and live in the
        // agent; minting again here would give Go a second token that the wipe never revokes.
        #[cfg(unix)]
        Some(_) => {
            match crate::commands::ci::agent::ask_agent(&settings.env, &origin.authority()) {
                Ok(Some((username, secret, expires_at))) => {
                    crate::trace!("goauth: asked the ci exec agent");
                    let cred = Credential {
                        username,
                        secret,
                        expires_at,
                        ephemeral: true,
                    };
                    routed.check_fresh(&q, &cred)?;
                    cred
                }
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(source_error(format!(
                        "the ci exec agent did not answer: {e}"
                    )))
                }
            }
        }
        _ => routed.credential(&q)?,
    };
    crate::commands::trace::answered("goauth", rule, &cred);
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
    crate::trace!(
        "goauth: {}: {what}",
        crate::commands::trace::rule_name(rule)
    );
    let _ = writeln!(
        err,
        "gocred: goauth: rule `{}` (line {}): {what}",
        rule.pattern, rule.line
    );
}
