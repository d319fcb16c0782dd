//! One agent session: what it serves, to whom, until when, and what it minted.
//!
//! Every request is read as if git had sent it ([`super::wire::Ask::decode`]), then must be
//! inside the allow-list (GOPRIVATE-style patterns matched against `host[:port]/path`, with
//! `.git` dropped), before the session's end, and routed by the rules of this machine exactly as
//! `get` routes (`Rules::select`, first match wins). What is handed out never outlives the
//! session unless the user said so (`--allow-long-lived`):
//!
//! * a source that mints (GitHub App, GitLab) mints for the session alone, through its
//!   `get_for_ci` (never the shared token cache, so revoking leaves other processes' tokens
//!   alive); a GitHub App token is limited to the repositories the allow-list names (within the
//!   rule's own `repositories`) and carries the rule's permissions (`contents: read` unless the
//!   rule says more). Each such token is minted once per session and scope (one mint at a time,
//!   under a per-scope lock), reused while usable, and revoked when the session ends;
//! * a short-lived credential that expires before the session ends (an OAuth access token) is
//!   handed out as `get` would;
//! * a credential that does not expire or outlives the session (a PAT, an `env` or `command`
//!   secret) is refused unless the agent was started with `--allow-long-lived`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use secrecy::zeroize::Zeroizing;

use super::audit::{Audit, AuditLine};
use super::wire::{Ask, Reply};
use crate::agent_socket::{Handler, Peer};
use crate::protocol::Origin;
use crate::rules::{Rules, Selection};
use crate::scope::Patterns;
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::settings::Settings;
use crate::sources::{self, GithubAppSource, GithubAppSpec, SourceSpec};
use crate::store::revocation::{Revocation, Revoked};

/// What a session was started with.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub allow: Vec<String>,
    /// Unix seconds.
    pub end: u64,
    pub allow_long_lived: bool,
}

/// A credential the session holds.
struct Held {
    username: String,
    secret: SecretString,
    expires_at: Option<u64>,
    revocable: bool,
}

pub(crate) struct Session {
    pub id: String,
    settings: Settings,
    allow: Patterns,
    opts: Options,
    audit: Audit,
    /// One slot per scope (rule and owner, or rule and origin): its lock is the one-mint-at-a-time
    /// guarantee within the session.
    slots: Mutex<HashMap<String, Arc<Mutex<Option<Held>>>>>,
    /// Every token minted for the session with a way to revoke it, for its end.
    minted: Mutex<Vec<(SecretString, Revocation)>>,
    closed: AtomicBool,
}

/// What the end of a session did.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    pub revoked: usize,
    pub failed: Vec<String>,
}

impl Session {
    pub(crate) fn new(id: String, settings: Settings, opts: Options, audit: Audit) -> Session {
        Session {
            id,
            settings,
            allow: Patterns::parse(&opts.allow.join(",")),
            opts,
            audit,
            slots: Mutex::new(HashMap::new()),
            minted: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.opts
    }

    pub(crate) fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Logs a session event (start, end) with no request.
    pub(crate) fn log_event(&self, event: &str, reason: &str) {
        let _ = self.audit.write(
            &self.id,
            &AuditLine {
                event,
                pid: Some(std::process::id()),
                uid: Some(crate::fsutil::euid()),
                reason: Some(reason),
                ..AuditLine::default()
            },
        );
    }

    /// Ends the session: nothing more is answered; every token minted for it is revoked.
    pub(crate) fn close(&self) -> Ended {
        self.closed.store(true, Ordering::SeqCst);
        let mut out = Ended::default();
        let minted = std::mem::take(&mut *lock(&self.minted));
        for (token, how) in minted {
            match how.revoke(&token) {
                Ok(Revoked::Now) | Ok(Revoked::AlreadyInvalid) => out.revoked += 1,
                Err(e) => out.failed.push(format!("{}: {e}", how.describe())),
            }
        }
        lock(&self.slots).clear();
        out
    }

    fn is_over(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || crate::state::now_secs() >= self.opts.end
    }

    /// Answers one decoded request; the reply and what to log.
    fn answer_get(
        &self,
        origin: &Origin,
        path: Option<&str>,
    ) -> std::result::Result<Served, Refusal> {
        if self.is_over() {
            return Err(Refusal::plain("the session has ended"));
        }
        let target = Self::allow_target(origin, path);
        if !self.allow.matches(&target) {
            let why = match path {
                None => format!(
                    "no repository path was sent and the session allows only {}; set \
                     credential.useHttpPath for this host",
                    self.opts.allow.join(", ")
                ),
                Some(_) => format!(
                    "{} is outside the session's allow-list ({})",
                    crate::protocol::escape_for_display(&target),
                    self.opts.allow.join(", ")
                ),
            };
            return Err(Refusal::plain(&why));
        }
        let settings = &self.settings;
        let rule = match settings.rules.select(origin, path) {
            Selection::Rule(r) => r,
            Selection::None => {
                return Err(Refusal::plain(&format!(
                    "no rule of the agent covers {}",
                    origin.authority()
                )))
            }
            Selection::Ambiguous(_) => {
                return Err(Refusal::plain(&format!(
                    "several rules of the agent cover {} and no repository path was sent",
                    origin.authority()
                )))
            }
        };
        let refuse = |why: String| Refusal {
            reason: why,
            rule: Some(rule.pattern.clone()),
        };
        Rules::check_scheme(rule, origin).map_err(|e| refuse(e.to_string()))?;
        let index = settings
            .rules
            .rules
            .iter()
            .position(|r| std::ptr::eq(r, rule))
            .unwrap_or(0);
        let source: Box<dyn sources::Source> = match &rule.source {
            None => return Err(refuse("the rule uses ssh: no token to forward".into())),
            Some(SourceSpec::GithubApp(spec)) => {
                let t = rule.query(origin, path);
                let (owner, _) = sources::owner_and_repo(&t).map_err(|e| refuse(e.to_string()))?;
                let repos = self.session_repos(spec, &origin.authority(), &owner)?;
                let key = format!("{index}|{owner}");
                let scoped = GithubAppSource {
                    spec: GithubAppSpec {
                        repositories: repos,
                        ..spec.clone()
                    },
                };
                return self.held(&key, &scoped, origin, path, rule);
            }
            Some(spec) => spec.source(),
        };
        let key = format!("{index}|{}|{}", origin.authority(), path.unwrap_or(""));
        self.held(&key, source.as_ref(), origin, path, rule)
    }

    /// The session's credential in slot `key`, minted by `source` when missing or no longer
    /// usable. The slot's lock is held across the mint: concurrent requests wait for it.
    fn held(
        &self,
        key: &str,
        source: &dyn sources::Source,
        origin: &Origin,
        path: Option<&str>,
        rule: &crate::rules::Rule,
    ) -> std::result::Result<Served, Refusal> {
        let refuse = |why: String| Refusal {
            reason: why,
            rule: Some(rule.pattern.clone()),
        };
        let slot = lock(&self.slots)
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(None)))
            .clone();
        let mut slot = lock(&slot);
        let margin = self.settings.cache.margin_secs;
        let fresh = slot
            .as_ref()
            .is_some_and(|h| crate::state::usable(h.expires_at, margin));
        if !fresh {
            let ctx = self.settings.context();
            let t = rule.query(origin, path);
            let got = source.get_for_ci(&ctx, &t).map_err(|e| {
                refuse(match e.hint() {
                    Some(h) => format!("{e} ({h})"),
                    None => e.to_string(),
                })
            })?;
            let ci = got;
            let c = ci.credential;
            let revocable = ci.revoke.is_some();
            if !revocable && !self.opts.allow_long_lived {
                let outlives = c.expires_at.is_none_or(|e| e > self.opts.end);
                if outlives {
                    return Err(refuse(
                        "the rule's credential outlives the session and cannot be revoked \
                         (a PAT or another long-lived secret); start the agent with \
                         --allow-long-lived to forward it"
                            .into(),
                    ));
                }
            }
            if let Some(how) = ci.revoke {
                if self.is_over() {
                    // Ended while minting: revoke at once, hand out nothing.
                    let _ = how.revoke(&c.secret);
                    return Err(refuse("the session has ended".into()));
                }
                lock(&self.minted).push((copy(&c.secret), how));
            }
            *slot = Some(Held {
                username: c.username,
                secret: c.secret,
                expires_at: c.expires_at,
                revocable,
            });
        }
        let h = slot.as_ref().expect("filled above");
        if !crate::state::usable(h.expires_at, margin) {
            return Err(refuse(format!(
                "the token expires within {margin} s; not handing it out"
            )));
        }
        Ok(Served {
            username: h.username.clone(),
            secret: copy(&h.secret),
            expires_at: h.expires_at,
            auth: rule.auth,
            rule: rule.pattern.clone(),
            minted_for_session: h.revocable,
        })
    }

    fn pong(&self) -> Reply {
        Reply::Pong {
            session: self.id.clone(),
            pid: std::process::id(),
            session_end: self.opts.end,
            allow: self.opts.allow.clone(),
        }
    }
}

struct Served {
    username: String,
    secret: SecretString,
    expires_at: Option<u64>,
    auth: crate::config::HttpAuth,
    rule: String,
    #[allow(dead_code)]
    minted_for_session: bool,
}

struct Refusal {
    reason: String,
    rule: Option<String>,
}

impl Refusal {
    fn plain(why: &str) -> Refusal {
        Refusal {
            reason: why.to_string(),
            rule: None,
        }
    }
}

fn copy(s: &SecretString) -> SecretString {
    secret(s.expose_secret().to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Handler for Session {
    fn answer(&self, peer: &Peer, request: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let base = AuditLine {
            pid: Some(peer.pid),
            uid: Some(peer.uid),
            ..AuditLine::default()
        };
        let ask = match Ask::decode(request) {
            Ok(a) => a,
            Err(why) => {
                let _ = self.audit.write(
                    &self.id,
                    &AuditLine {
                        event: "refuse",
                        reason: Some(&why),
                        ..base
                    },
                );
                return Reply::Nothing { reason: why }.encode();
            }
        };
        let (origin, path) = match ask {
            Ask::Ping => return self.pong().encode(),
            Ask::Get { origin, path } => (origin, path),
        };
        let host = origin.authority();
        let base = AuditLine {
            protocol: Some("https"),
            host: Some(&host),
            path: path.as_deref(),
            ..base
        };
        match self.answer_get(&origin, path.as_deref()) {
            Ok(s) => {
                let logged = self.audit.write(
                    &self.id,
                    &AuditLine {
                        event: "answer",
                        rule: Some(&s.rule),
                        token: Some(&s.secret),
                        ..base
                    },
                );
                if logged.is_err() {
                    // What cannot be logged is not handed out.
                    return Reply::Nothing {
                        reason: "the agent cannot write its audit log".into(),
                    }
                    .encode();
                }
                Reply::Credential {
                    username: s.username,
                    password: s.secret,
                    expiry: s.expires_at,
                    auth: s.auth,
                    session_end: self.opts.end,
                }
                .encode()
            }
            Err(r) => {
                let _ = self.audit.write(
                    &self.id,
                    &AuditLine {
                        event: "refuse",
                        rule: r.rule.as_deref(),
                        reason: Some(&r.reason),
                        ..base
                    },
                );
                Reply::Nothing { reason: r.reason }.encode()
            }
        }
    }

    fn refused(&self, peer: Option<&Peer>, why: &str) {
        let _ = self.audit.write(
            &self.id,
            &AuditLine {
                event: "refuse",
                pid: peer.map(|p| p.pid),
                uid: peer.map(|p| p.uid),
                reason: Some(why),
                ..AuditLine::default()
            },
        );
    }
}

mod allow;
pub(crate) use allow::check_allow;

#[cfg(test)]
mod tests;
