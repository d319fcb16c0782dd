//! What `init` would change, worked out completely before anything is changed.
//!
//! First step of `init`: GOPRIVATE (environment, Go's env file, `--goprivate`) → one proposed
//! rule per pattern that has none → the wiring those rules need ([`super::wiring`]: git helper
//! per private host, `useHttpPath`, SSH rewrites, GOAUTH, GONOSUMDB). `--dry-run` prints this
//! plan; a real run prints it, then applies it. Anything already in place is listed as such, so
//! a second run has an empty plan and says so.

use std::path::Path;

use super::prompt::{Ask, Choice};
use super::InitArgs;
use crate::config::{RuleSpec, SourceKind, Transport};
use crate::error::{Error, Result};
use crate::gitconfig::GitConfig;
use crate::goenv::GoEnv;
use crate::rules::{HostPattern, Rule};
use crate::settings::Settings;

/// Everything planning reads.
pub(crate) struct Inputs<'a> {
    /// `--ssh` patterns and their ssh bases.
    pub ssh: Vec<(String, Option<String>)>,
    pub settings: &'a Settings,
    pub args: &'a InitArgs,
    pub git: &'a GitConfig,
    pub go: &'a GoEnv,
    /// The gocred binary git and Go will run.
    pub exe: &'a Path,
}

/// A rule to add, with what its secret needs.
#[derive(Debug, Clone)]
pub(crate) struct NewRule {
    pub spec: RuleSpec,
    /// `pat`: the username stored with the token in the keyring.
    pub pat_username: Option<String>,
}

impl NewRule {
    pub(crate) fn needs_token(&self) -> bool {
        self.spec.source == Some(SourceKind::Pat)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Change {
    Rule(Box<NewRule>),
    GitAdd {
        key: String,
        value: String,
        why: String,
    },
    GoSet {
        name: &'static str,
        before: Option<String>,
        after: String,
        why: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// GOPRIVATE as it will be, and where it is read from.
    pub goprivate: String,
    pub goprivate_from: String,
    pub changes: Vec<Change>,
    /// What is already in place ("= …" lines).
    pub unchanged: Vec<String>,
    /// Warnings and what is missing (stderr).
    pub notes: Vec<String>,
}

impl Plan {
    /// The patterns of new `pat` rules, in order: the order tokens are read in.
    pub(crate) fn token_patterns(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Rule(r) if r.needs_token() => Some(r.spec.pattern.clone()),
                _ => None,
            })
            .collect()
    }
}

pub(crate) fn build(inp: &Inputs, ask: &mut dyn Ask) -> Result<Plan> {
    let mut plan = Plan::default();
    let patterns = super::goprivate::plan(inp, &mut plan)?;
    let rules = propose_rules(inp, ask, &patterns, &mut plan)?;
    super::wiring::plan_git(inp, &rules, &mut plan)?;
    super::wiring::plan_go(inp, &mut plan)?;
    Ok(plan)
}

/// Existing rules plus one new rule per pattern that needs one. Returns every rule to wire.
fn propose_rules(
    inp: &Inputs,
    ask: &mut dyn Ask,
    patterns: &[String],
    plan: &mut Plan,
) -> Result<Vec<Rule>> {
    let s = inp.settings;
    let a = inp.args;
    let mut rules: Vec<Rule> = s.rules.rules.clone();
    // ssh rules first: the first matching rule wins, and an ssh rule is usually the narrower one.
    let ssh_base = |p: &str| inp.ssh.iter().find(|(q, _)| q == p).map(|(_, b)| b.clone());
    let mut order: Vec<&String> = patterns.iter().filter(|p| ssh_base(p).is_some()).collect();
    order.extend(patterns.iter().filter(|p| ssh_base(p).is_none()));
    for p in order {
        if let Some(r) = s.rules.rules.iter().find(|r| &r.pattern == p) {
            plan.unchanged.push(format!(
                "rule `{p}` ({}) is in the config (line {})",
                r.source.as_ref().map_or("ssh", |src| src.kind().as_str()),
                r.line
            ));
            note_missing_token(inp, r, plan);
            continue;
        }
        if let Some(r) = served_by(&rules, p) {
            plan.unchanged
                .push(format!("`{p}` is served by rule `{}`", r.pattern));
            continue;
        }
        if a.skip.contains(p) {
            plan.unchanged.push(format!("`{p}`: no rule (--skip)"));
            continue;
        }
        let default = if ssh_base(p).is_some() {
            Choice::Ssh
        } else {
            Choice::Https
        };
        let choice = if ask.interactive() && !a.yes && !a.dry_run {
            ask.choose(p, default)?
        } else {
            default
        };
        let (spec, pat_username) = match choice {
            Choice::Skip => {
                plan.unchanged.push(format!("`{p}`: no rule (your choice)"));
                continue;
            }
            Choice::Ssh => {
                let mut base = ssh_base(p).flatten();
                if base.is_none() && ask.interactive() && !a.yes && !a.dry_run {
                    let host = p.split('/').next().unwrap_or("");
                    let b = ask.line(&format!("ssh base for {p} (empty: git@{host}:): "))?;
                    base = (!b.is_empty()).then_some(b);
                }
                (
                    RuleSpec {
                        pattern: p.clone(),
                        transport: Transport::Ssh,
                        ssh_base: base,
                        ..Default::default()
                    },
                    None,
                )
            }
            Choice::Https => https_spec(inp, ask, p)?,
        };
        let rule = match Rule::compile(&spec, 0) {
            Ok(r) => r,
            Err(why) if choice == Choice::Ssh => {
                return Err(Error::Usage(format!("ssh rule for `{p}`: {why}")))
            }
            Err(why) => {
                plan.notes.push(format!(
                    "no rule for GOPRIVATE pattern `{}`: {why}. If it names a git host, add one \
                     with `gocred login PATTERN --host HOST`",
                    crate::protocol::escape_for_display(p)
                ));
                continue;
            }
        };
        if choice == Choice::Ssh {
            crate::ssh::rewrite_for(&rule)
                .map_err(|why| Error::Usage(format!("ssh rule for `{p}`: {why}")))?;
        }
        rules.push(rule);
        plan.changes
            .push(Change::Rule(Box::new(NewRule { spec, pat_username })));
    }
    for p in &a.skip {
        if !patterns.contains(p) {
            plan.notes
                .push(format!("--skip {p}: not a GOPRIVATE pattern"));
        }
    }
    Ok(rules)
}

fn https_spec(inp: &Inputs, ask: &mut dyn Ask, p: &str) -> Result<(RuleSpec, Option<String>)> {
    let a = inp.args;
    let kind = SourceKind::parse(&a.source).expect("clap restricts values");
    let mut username = a.username.clone();
    if username.is_none() && ask.interactive() && !a.yes && !a.dry_run {
        let u = ask.line(&format!(
            "git username for {p} (empty: x-access-token, fine for most token logins): "
        ))?;
        username = (!u.is_empty()).then_some(u);
    }
    let pat = kind == SourceKind::Pat;
    Ok((
        RuleSpec {
            pattern: p.to_string(),
            source: Some(kind),
            username: if pat { None } else { username.clone() },
            variable: a.variable.clone(),
            ..Default::default()
        },
        if pat { username } else { None },
    ))
}

/// A rule that already covers all of `pattern`'s host (a whole-host rule for the same host).
fn served_by<'r>(rules: &'r [Rule], pattern: &str) -> Option<&'r Rule> {
    let first = pattern.split('/').next().unwrap_or("");
    let probe = Rule::compile(
        &RuleSpec {
            pattern: first.to_string(),
            transport: Transport::Ssh,
            ..Default::default()
        },
        0,
    )
    .ok()?;
    rules
        .iter()
        .find(|r| r.path_glob.is_none() && r.host == probe.host && pattern.contains('/'))
}

/// An existing `pat` rule without its token would make git fail: say so.
fn note_missing_token(inp: &Inputs, rule: &Rule, plan: &mut Plan) {
    if !matches!(rule.source, Some(crate::rules::SourceSpec::Pat)) || inp.args.dry_run {
        return;
    }
    let ctx = inp.settings.context();
    let account = crate::sources::account_for(&rule.pattern);
    match ctx.keyring().and_then(|k| k.get(&account)) {
        Ok(Some(_)) => {}
        Ok(None) => plan.notes.push(format!(
            "rule `{}` has no token in the keyring: run `gocred login {}`",
            rule.pattern, rule.pattern
        )),
        Err(e) => plan.notes.push(format!(
            "could not check the token of rule `{}`: {e}",
            rule.pattern
        )),
    }
}

/// `host[:port]` as written in a git URL, and the host and port to match git config against.
pub(crate) fn host_of(h: &HostPattern) -> (String, String, u16) {
    let (shown, probe, port) = match h {
        HostPattern::Exact { host, port } => (host.clone(), host.clone(), *port),
        // Any one label stands for the wildcard when matching git's own `*` keys.
        HostPattern::OneLabel { suffix, port } => {
            (format!("*.{suffix}"), format!("x.{suffix}"), *port)
        }
    };
    match port {
        Some(p) if p != 443 => (format!("{shown}:{p}"), probe, p),
        _ => (shown, probe, 443),
    }
}
