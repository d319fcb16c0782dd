//! Step 4: gocred's own answer for the repository host — `cred.rule` (which rule and source),
//! `cred.keyring` (reachable, unlocked), `cred.secret` (present, usable), `cred.expiry`, and
//! `cred.probe`: git's first request (`info/refs?service=git-upload-pack`) sent with the
//! credential, to see whether the server accepts it. The same Rules and Sources as `gocred get`;
//! nothing here prints or stores the secret.

use super::gitconf;
use super::net::{self, Blocked, Client};
use super::report::{sh_quote, Finding, Report};
use super::Doctor;
use crate::protocol::Origin;
use crate::rules::{Rule, Selection, SourceSpec};
use crate::secret::SecretString;
use crate::settings::Route;
use crate::sources::{self, account_for, Context};

/// What gocred would answer for the repository host (kept for `git.helpers` to compare).
pub(crate) struct Outcome {
    pub username: String,
    pub secret: SecretString,
    /// `Some(true)` accepted by the server, `Some(false)` rejected, `None` not probed.
    pub accepted: Option<bool>,
}

fn uses_http_path(d: &mut Doctor, o: &Origin) -> bool {
    d.git
        .urlmatch(
            "credential.useHttpPath",
            &format!("https://{}/", o.authority()),
        )
        .is_some_and(|v| matches!(v.as_str(), "true" | "yes" | "on" | "1"))
}

/// gocred's answer for `o` without a path: (rule, username, token), if it has one.
pub(crate) fn gocred_plain<'s>(
    d: &Doctor<'s>,
    o: &Origin,
) -> Option<(&'s Rule, String, SecretString)> {
    let settings: &'s crate::settings::Settings = d.settings;
    let Ok(Route::Source(routed)) = settings.route(o, None) else {
        return None;
    };
    let Ok(c) = routed.source.get(&routed.ctx, &routed.query(o, None)) else {
        return None;
    };
    let rule = routed.rule;
    // Doctor never prints it, and now cannot, even if a server reflects it back.
    crate::http::redact::register(&c.secret);
    Some((rule, c.username, c.secret))
}

/// `Authorization: Basic …` with gocred's credential for `o` (used for the subgroup check).
pub(crate) fn gocred_basic(d: &mut Doctor, o: &Origin) -> Option<SecretString> {
    gocred_plain(d, o).map(|(_, u, s)| crate::secret::basic_auth(&u, &s))
}

const IDS: [&str; 5] = [
    "cred.rule",
    "cred.keyring",
    "cred.secret",
    "cred.expiry",
    "cred.probe",
];

fn skip_all(r: &mut Report, why: &str) {
    for id in IDS {
        r.push(Finding::skip(id, why.to_string()));
    }
}

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
    if let Some(p) = &d.served_by_proxy {
        return skip_all(
            r,
            &format!("Go gets the module from {p}: git and gocred are not involved"),
        );
    }
    let Some(repo) = d.repo.clone() else {
        return skip_all(r, "no repository known");
    };
    let rewrites = d.git.entries(r"^url\..*\.insteadof$");
    if let Some((_, _, to)) = gitconf::rewrite(&rewrites, &repo.url) {
        if gitconf::is_ssh_url(&to) {
            return skip_all(
                r,
                &format!(
                    "git rewrites {} to {} (url.insteadOf): https credentials are not used",
                    repo.url,
                    super::report::clean(&to)
                ),
            );
        }
    }
    if let Some(e) = &d.config_error {
        r.push(Finding::fail(
            "cred.rule",
            format!("gocred's config cannot be used: {e}"),
        ));
        return skip_rest(r, "cred.rule");
    }
    let o = repo.origin.clone();
    let host = o.authority();
    let path = uses_http_path(d, &o).then(|| repo.path.clone());
    let settings = d.settings;
    let rule: &Rule = match settings.rules.select(&o, path.as_deref()) {
        Selection::Rule(rule) => rule,
        Selection::None => {
            let others = super::git_helpers::other_sources(d, &o);
            let f = match others {
                Some(what) => Finding::warn("cred.rule", format!("no gocred rule serves {host}; {what} must answer instead (see git.helpers, netrc.shadow)")),
                None => Finding::fail("cred.rule", format!("no gocred rule serves {host} and nothing else gives git a credential for it"))
                    .fix(format!("gocred login {}", sh_quote(&host))),
            };
            r.push(f);
            return skip_rest(r, "cred.rule");
        }
        Selection::Ambiguous(rules) => {
            let names = rules
                .iter()
                .map(|r| format!("`{}`", r.pattern))
                .collect::<Vec<_>>()
                .join(", ");
            r.push(Finding::fail("cred.rule", format!("several rules cover {host} ({names}) and git sends no repository path, so gocred answers nothing"))
                .fix(format!("git config --global credential.https://{host}.useHttpPath true")));
            return skip_rest(r, "cred.rule");
        }
    };
    let Some(spec) = rule.source.clone() else {
        r.push(Finding::ok(
            "cred.rule",
            format!(
                "rule `{}` (line {}) says {host} is reached over ssh",
                rule.pattern, rule.line
            ),
        ));
        return skip_rest(r, "cred.rule");
    };
    r.push(Finding::ok(
        "cred.rule",
        format!(
            "rule `{}` (line {} of {}) serves {host} with source `{}`",
            rule.pattern,
            rule.line,
            settings
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            spec.kind().as_str()
        ),
    ));
    let ctx = settings.context();
    keyring_finding(r, &ctx, rule, &spec);
    if r.status_of("cred.keyring") == Some(super::Status::Fail) {
        return skip_rest(r, "cred.keyring");
    }
    let query = rule.query(&o, path.as_deref());
    let src = spec.source();
    let cred = match src.get(&ctx, &query) {
        Ok(c) => c,
        Err(e) => {
            let text = e.to_string();
            // The command source refuses expired tokens (sources/command.rs parse_output).
            if text.contains("already expired") {
                r.push(Finding::ok(
                    "cred.secret",
                    format!(
                        "source `{}` produced a token for {host}",
                        spec.kind().as_str()
                    ),
                ));
                r.push(Finding::fail(
                    "cred.expiry",
                    format!(
                        "{text}; gocred will not hand it to git{}",
                        src.renew_hint(&rule.pattern)
                    ),
                ));
                r.push(Finding::skip("cred.probe", "no usable token"));
                return;
            }
            let fix = match &spec {
                SourceSpec::Pat => Some(login_fix(rule, None)),
                _ => None,
            };
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            r.push(Finding::fail("cred.secret", format!("{text}{hint}")).maybe_fix(fix));
            return skip_rest(r, "cred.secret");
        }
    };
    r.push(Finding::ok(
        "cred.secret",
        format!(
            "source `{}` gives a token for {host} (user `{}`; the token is never shown)",
            spec.kind().as_str(),
            super::report::clean(&cred.username)
        ),
    ));
    r.push(expiry_finding(
        &cred,
        settings.cache.margin_secs,
        &src.renew_hint(&rule.pattern),
    ));
    let mut outcome = Outcome {
        username: cred.username.clone(),
        secret: cred.secret,
        accepted: None,
    };
    let probe_path = format!(
        "/{}/info/refs?service=git-upload-pack",
        repo.path.trim_end_matches('/')
    );
    let header = vec![(
        "Authorization".to_string(),
        crate::secret::basic_auth(&outcome.username, &outcome.secret),
    )];
    let res = net::https(d, Client::Git, &o.host, o.port, "GET", &probe_path, &header);
    let url = format!("https://{host}{probe_path}");
    r.push(match res {
        Err(Blocked::Unreachable(id)) => Finding::skip("cred.probe", format!("{host} is not reachable (see {id})")),
        Err(Blocked::Error(e)) => Finding::fail("cred.probe", format!("{url}: {}", super::report::clean(&e))),
        Ok(res) => match res.status {
            200 => {
                outcome.accepted = Some(true);
                Finding::ok("cred.probe", format!("{host} accepts the credential (200 on git's first request, {url})"))
            }
            401 => {
                outcome.accepted = Some(false);
                let hint = if matches!(spec, SourceSpec::Pat) { String::new() } else { src.renew_hint(&rule.pattern) };
                Finding::fail("cred.probe", format!("{host} rejects the credential (401 on {url}): the token is wrong, expired or revoked{hint}"))
                    .maybe_fix(matches!(spec, SourceSpec::Pat).then(|| login_fix(rule, Some(&outcome.username))))
            }
            403 => Finding::fail("cred.probe", format!("{host} knows the credential but refuses {} (403): the token lacks read access (scopes / permissions)", repo.path)),
            404 => Finding::fail("cred.probe", format!("{url}: 404 — no such repository, or hidden from this credential")),
            s => Finding::fail("cred.probe", format!("{url}: {s} {}", super::report::clean(&res.reason))),
        },
    });
    d.cred = Some(outcome);
}

fn skip_rest(r: &mut Report, after: &str) {
    let i = IDS.iter().position(|i| *i == after).map_or(0, |i| i + 1);
    for id in &IDS[i..] {
        r.push(Finding::skip(id, format!("blocked by {after}")));
    }
}

fn keyring_finding(r: &mut Report, ctx: &Context, rule: &Rule, spec: &SourceSpec) {
    if !matches!(spec, SourceSpec::Pat) {
        r.push(Finding::ok(
            "cred.keyring",
            format!("source `{}` does not use the keyring", spec.kind().as_str()),
        ));
        return;
    }
    let k = ctx.keyring().and_then(|k| {
        k.get(&account_for(&rule.pattern))
            .map(|v| v.map(|(_, b)| b))
    });
    r.push(match k {
        Ok(Some(b)) => Finding::ok("cred.keyring", format!("{} answers and holds the entry for `{}`", b.name(), rule.pattern)),
        Ok(None) => Finding::ok("cred.keyring", format!("the keyring ({}) answers", ctx.keyring_settings.backend)),
        Err(e) => {
            let desktop = ctx.env.get("DISPLAY").is_some() || ctx.env.get("WAYLAND_DISPLAY").is_some();
            let f = Finding::fail("cred.keyring", format!("{e}"));
            if desktop || !cfg!(target_os = "linux") {
                f // unlock it by logging in; nothing to run
            } else {
                Finding { message: format!("{}; with no desktop session to unlock it, keep the token in the kernel keyring instead", f.message), ..f }
                    .fix(format!("export GOCRED_KEYRING=keyutils && {}", login_fix(rule, None)))
            }
        }
    });
}

/// `gocred login PATTERN`, keeping the username: login rewrites the rule, so a username the
/// rule or the stored entry carried must be given again.
pub(crate) fn login_fix(rule: &Rule, username: Option<&str>) -> String {
    let mut s = format!("gocred login {}", sh_quote(&rule.pattern));
    if let Some(u) = username
        .or(rule.username.as_deref())
        .filter(|u| *u != "x-access-token")
    {
        s.push_str(&format!(" --username {}", sh_quote(u)));
    }
    s
}

/// Passes only what `get` would hand out: the one freshness rule (`Credential::usable`) under
/// the configured margin. `renew` is the source's advice (`Source::renew_hint`).
fn expiry_finding(cred: &sources::Credential, margin: u64, renew: &str) -> Finding {
    let Some(exp) = cred.expires_at else {
        return Finding::ok(
            "cred.expiry",
            "no expiry known for this token (the source does not say)",
        );
    };
    let now = crate::state::now_secs();
    let when = time::OffsetDateTime::from_unix_timestamp(exp as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| exp.to_string());
    if !cred.usable(margin) {
        Finding::fail("cred.expiry", format!("the token expires at {when}, within the {margin} s margin (`[cache] margin_secs`): gocred will not hand it out{renew}"))
    } else if exp <= now + margin.max(300) * 2 {
        Finding::warn(
            "cred.expiry",
            format!("the token expires soon, at {when} (in {} s)", exp - now),
        )
    } else {
        Finding::ok(
            "cred.expiry",
            format!("the token expires at {when} (in {} min)", (exp - now) / 60),
        )
    }
}
