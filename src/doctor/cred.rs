//! Step 4: gocred's own answer for the repository host — `cred.rule` (which rule and source),
//! `cred.keyring` (reachable, unlocked), `cred.secret` (present, usable), `cred.expiry`, and
//! `cred.probe`: git's first request (`info/refs?service=git-upload-pack`) sent with the
//! credential, to see whether the server accepts it. The same Rules and Sources as `gocred get`;
//! nothing here prints or stores the secret.

use super::gitconf;
use super::net::{self, Blocked, Client};
use super::report::{sh_quote, Finding, Report};
use super::Doctor;
use crate::commands::credential::EXPIRY_MARGIN_SECS;
use crate::protocol::Origin;
use crate::rules::{Rule, Selection, SourceSpec};
use crate::secret::SecretString;
use crate::sources::{self, account_for, Context, Lookup, Target};

/// What gocred would answer for the repository host (kept for `git.helpers` to compare).
pub struct Outcome {
    pub pattern: String,
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
pub fn gocred_plain<'s>(d: &Doctor<'s>, o: &Origin) -> Option<(&'s Rule, String, SecretString)> {
    let settings: &'s crate::settings::Settings = d.settings;
    let Selection::Rule(rule) = settings.rules.select(o, None) else {
        return None;
    };
    let src = sources::for_rule(rule)?;
    let ctx = Context::new(settings);
    let Ok(Lookup::Found(c)) = src.get(
        &ctx,
        &Target {
            origin: o,
            path: None,
            rule,
        },
    ) else {
        return None;
    };
    // Doctor never prints it, and now cannot, even if a server reflects it back.
    crate::http::redact::register(&c.secret);
    Some((rule, c.username, c.secret))
}

/// `Authorization: Basic …` with gocred's credential for `o` (used for the subgroup check).
pub fn gocred_basic(d: &mut Doctor, o: &Origin) -> Option<SecretString> {
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

pub fn run(d: &mut Doctor, r: &mut Report) {
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
    let ctx = Context::new(settings);
    keyring_finding(r, &ctx, rule, &spec);
    if r.status_of("cred.keyring") == Some(super::Status::Fail) {
        return skip_rest(r, "cred.keyring");
    }
    let target = Target {
        origin: &o,
        path: path.as_deref(),
        rule,
    };
    let src = sources::for_rule(rule).expect("https rule has a source");
    let cred = match src.get(&ctx, &target) {
        Ok(Lookup::Found(c)) => c,
        Ok(Lookup::NotMine) => {
            r.push(Finding::fail(
                "cred.secret",
                format!(
                    "source `{}` answered nothing for {host}",
                    spec.kind().as_str()
                ),
            ));
            return skip_rest(r, "cred.secret");
        }
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
                        renew_hint(rule, &spec)
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
    r.push(expiry_finding(cred.expires_at, rule, &spec));
    let mut outcome = Outcome {
        pattern: rule.pattern.clone(),
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
                let hint = if matches!(spec, SourceSpec::Pat) { String::new() } else { renew_hint(rule, &spec) };
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
        Ok(None) => Finding::ok("cred.keyring", format!("the keyring ({}) answers", ctx.settings.keyring.backend)),
        Err(e) => {
            let desktop = ctx.settings.env.get("DISPLAY").is_some() || ctx.settings.env.get("WAYLAND_DISPLAY").is_some();
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
pub fn login_fix(rule: &Rule, username: Option<&str>) -> String {
    let mut s = format!("gocred login {}", sh_quote(&rule.pattern));
    if let Some(u) = username
        .or(rule.username.as_deref())
        .filter(|u| *u != "x-access-token")
    {
        s.push_str(&format!(" --username {}", sh_quote(u)));
    }
    s
}

/// For sources whose token comes from elsewhere: what to renew (words, not a command — doctor
/// cannot know how your vault or CI mints it).
fn renew_hint(rule: &Rule, spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Pat => format!("; store a new one with `gocred login {}`", rule.pattern),
        SourceSpec::Env { variable } => format!("; put a fresh token in ${variable}"),
        SourceSpec::Command { argv, .. } => format!(
            "; renew what `{}` reads (its login or cache), then run gocred doctor again",
            argv.iter()
                .map(|a| sh_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        // Minted tokens: the next `get` mints anew once the cached one is dropped.
        SourceSpec::GithubApp(_) | SourceSpec::GithubOidc(_) => format!(
            "; gocred mints a new token on the next fetch (check the App's installation and \
             permissions with `gocred explain {}`)",
            rule.pattern
        ),
        SourceSpec::Oauth(_) => format!(
            "; if the refresh token was revoked, sign in again with `gocred login {} --source oauth …`",
            rule.pattern
        ),
        SourceSpec::Gitlab(_) => format!(
            "; gocred rotates the project/group token on the next fetch; if that fails, run \
             `gocred login {} --source gitlab …` again",
            rule.pattern
        ),
    }
}

fn expiry_finding(expires_at: Option<u64>, rule: &Rule, spec: &SourceSpec) -> Finding {
    let Some(exp) = expires_at else {
        return Finding::ok(
            "cred.expiry",
            "no expiry known for this token (the source does not say)",
        );
    };
    let now = crate::sources::now_secs();
    let when = time::OffsetDateTime::from_unix_timestamp(exp as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| exp.to_string());
    if exp <= now + EXPIRY_MARGIN_SECS {
        Finding::fail("cred.expiry", format!("the token expires at {when}, within {EXPIRY_MARGIN_SECS} s: gocred will not hand it out{}", renew_hint(rule, spec)))
    } else if exp <= now + 600 {
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
