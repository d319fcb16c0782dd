//! `gocred explain TARGET [--json]`: is it private, why, and which rule and source would serve it.
//! Never prints a secret; says whether one is present.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::resolve_target;
use crate::error::{Error, Result};
use crate::rules::{Rule, Selection};
use crate::settings::{Settings, VarOrigin};

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A module path (with or without @version) or a URL.
    pub target: String,
    /// Print one JSON object (stable fields: target, private, goprivate_pattern, noproxy,
    /// nosumdb, rule, source, transport).
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: ExplainArgs, settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let report = explain(&args.target, settings)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).expect("json value")
    } else {
        render_text(&report)
    };
    writeln!(out, "{text}").map_err(|e| Error::io("writing to stdout", e))
}

pub(crate) fn explain(raw: &str, settings: &Settings) -> Result<Value> {
    let t = match resolve_target(raw) {
        Ok(t) => t,
        // A module path git could never ask about (`a.b/x//y`, `a.b/./x`): still say what Go's
        // GOPRIVATE matching makes of it, literally; no rule can serve it.
        Err(e) if !raw.contains("://") => return Ok(unroutable(raw, settings, &e)),
        Err(e) => return Err(e),
    };
    let scope = &settings.scope;
    let private = scope.is_private(&t.module_path);
    let selection = settings.rules.select(&t.origin, t.path.as_deref());
    let mut notes: Vec<String> = Vec::new();
    let rule: Option<&Rule> = match &selection {
        Selection::Rule(r) => Some(r),
        Selection::None => None,
        Selection::Ambiguous(rs) => {
            notes.push(format!(
                "several rules cover {} ({}); git must send the repository path: \
                 git config --global credential.https://{}.useHttpPath true",
                t.origin.authority(),
                rs.iter()
                    .map(|r| r.pattern.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                t.origin.authority()
            ));
            None
        }
    };
    if let Some(why) = &t.module_problem {
        notes.push(format!(
            "`{}` is not a valid module path ({why}): go will refuse it; the GOPRIVATE answers \
             above are what Go's matching makes of it as written",
            crate::protocol::escape_for_display(&t.module_path)
        ));
    }
    let proxies = crate::goproxy::served_proxies(&settings.go, &settings.rules);
    let as_proxy = proxies.iter().find(|p| p.origin == t.origin);
    if private.is_none() && as_proxy.is_none() {
        notes.push(format!(
            "GOPRIVATE does not cover {}: go will look it up through the public proxy and checksum database \
             (410 Gone / not found). Run: go env -w GOPRIVATE={}",
            t.module_path,
            rule.map_or(t.module_path.clone(), |r| r.pattern.clone())
        ));
    }
    if private.is_some() && rule.is_none() && matches!(selection, Selection::None) {
        notes.push(format!(
            "no rule serves {}; add one with: gocred login {}",
            t.origin.authority(),
            private.unwrap_or("")
        ));
    }
    if private.is_some() && !scope.is_nosumdb(&t.module_path) {
        notes.push(
            "GONOSUMDB does not cover it: go will ask sum.golang.org about a private module".into(),
        );
    }
    let trap = crate::goproxy::trap_note(&settings.go, &settings.rules, &t.module_path);
    notes.extend(trap.clone());
    if let Some(p) = as_proxy {
        notes.extend(proxy_notes(p, settings));
    }
    let ssh = rule
        .filter(|r| r.transport == crate::config::Transport::Ssh)
        .map(|r| ssh_report(r, settings, &mut notes));
    let credential = match (&ssh, rule) {
        (Some(s), _) => s["summary"].as_str().map(str::to_string),
        (None, Some(r)) => Some(credential_state(r, settings)),
        (None, None) => None,
    };
    let source = rule
        .and_then(|r| r.source.as_ref())
        .map(|s| s.kind().as_str());
    Ok(json!({
        "target": raw,
        "module_path": t.module_path,
        "host": t.origin.authority(),
        "private": private.is_some(),
        "goprivate_pattern": private,
        "goprivate_from": describe_origin(&settings.go.origin("GOPRIVATE")),
        "noproxy": scope.is_noproxy(&t.module_path),
        "nosumdb": scope.is_nosumdb(&t.module_path),
        "rule": rule.map(|r| r.pattern.clone()),
        "rule_line": rule.map(|r| r.line),
        "config": settings.config_path.as_ref().map(|p| p.display().to_string()),
        "source": source,
        "transport": rule.map_or("https", |r| r.transport.as_str()),
        "credential": credential,
        "ssh": ssh,
        "notes": notes,
        "goproxy": Some(settings.go.value("GOPROXY")).filter(|v| !v.is_empty()).unwrap_or(crate::goproxy::DEFAULT),
        "goauth": Some(settings.go.value("GOAUTH")).filter(|v| !v.is_empty()).unwrap_or("netrc"),
        "proxy_bypassed": trap.is_some(),
    }))
}

/// The report for a module path that does not resolve to a repository URL: Go's answers only.
fn unroutable(raw: &str, settings: &Settings, e: &Error) -> Value {
    let module = raw.split('@').next().unwrap_or("");
    let scope = &settings.scope;
    let why = super::module_path_problem(module).unwrap_or_else(|| e.to_string());
    json!({
        "target": raw,
        "module_path": module,
        "host": null,
        "private": scope.is_private(module).is_some(),
        "goprivate_pattern": scope.is_private(module),
        "goprivate_from": describe_origin(&settings.go.origin("GOPRIVATE")),
        "noproxy": scope.is_noproxy(module),
        "nosumdb": scope.is_nosumdb(module),
        "rule": null,
        "rule_line": null,
        "config": settings.config_path.as_ref().map(|p| p.display().to_string()),
        "source": null,
        "transport": "https",
        "credential": null,
        "ssh": null,
        "notes": [format!(
            "`{}` is not a valid module path ({why}): go will refuse it, and git never asks \
             about such a path, so no rule serves it; the GOPRIVATE answers above are what Go's \
             matching makes of it as written",
            crate::protocol::escape_for_display(module)
        )],
        "goproxy": Some(settings.go.value("GOPROXY")).filter(|v| !v.is_empty()).unwrap_or(crate::goproxy::DEFAULT),
        "goauth": Some(settings.go.value("GOAUTH")).filter(|v| !v.is_empty()).unwrap_or("netrc"),
        "proxy_bypassed": false,
    })
}

/// TARGET is a proxy in GOPROXY that a rule serves: Go asks it itself, never through git.
fn proxy_notes(p: &crate::goproxy::ServedProxy, settings: &Settings) -> Vec<String> {
    let mut notes = vec![format!(
        "{} is in GOPROXY and rule `{}` serves it: go fetches from it itself, so the credential \
         reaches it only through GOAUTH",
        p.url, p.rule
    )];
    let goauth = settings.go.value("GOAUTH");
    if !goauth
        .split(';')
        .any(|c| c.split_whitespace().nth(1) == Some("goauth"))
    {
        notes.push(format!(
            "GOAUTH is `{}`: run go env -w GOAUTH=\"$(command -v gocred) goauth\" (the path must \
             hold no spaces)",
            if goauth.is_empty() { "netrc" } else { goauth }
        ));
    }
    let (private, noproxy) = (
        settings.go.value("GOPRIVATE"),
        settings.go.value("GONOPROXY"),
    );
    if !private.is_empty() && noproxy.is_empty() {
        notes.push(format!(
            "GONOPROXY is unset, so modules matching GOPRIVATE `{private}` bypass this proxy; if \
             they are published on it, run: go env -w GONOPROXY=none"
        ));
    }
    notes
}

/// An ssh rule: its rewrite, whether git has it, and whether ssh has a key and the host key.
fn ssh_report(rule: &Rule, settings: &Settings, notes: &mut Vec<String>) -> Value {
    let rw = match crate::ssh::rewrite_for(rule) {
        Ok(rw) => rw,
        Err(why) => {
            notes.push(why.clone());
            return json!({ "error": why, "summary": "ssh: no rewrite possible" });
        }
    };
    let entries = crate::gitconfig::GitConfig::new(&settings.env)
        .and_then(|g| g.list_effective())
        .unwrap_or_default();
    let key = crate::gitconfig::instead_of_key(&rw.base);
    let configured = entries
        .iter()
        .any(|e| e.is_key(&key) && e.value.as_deref() == Some(rw.instead_of.as_str()));
    if !configured {
        notes.push(format!(
            "git does not rewrite {} to ssh yet: run `gocred init` (it adds \
             `url.{}.insteadOf {}`)",
            rw.instead_of, rw.base, rw.instead_of
        ));
    }
    let core_ssh = entries
        .iter()
        .rev()
        .find(|e| e.is_key("core.sshCommand"))
        .and_then(|e| e.value.clone());
    let ready = crate::ssh::readiness::check(&rw.ssh, &settings.env, core_ssh.as_deref());
    let problems = ready.problems(&rw.ssh.host);
    notes.extend(problems.iter().cloned());
    json!({
        "base": rw.base,
        "instead_of": rw.instead_of,
        "rewrite_configured": configured,
        "key": ready.has_key(),
        "host_key_known": ready.known_in.is_some(),
        "missing": problems,
        "summary": ready.summary(),
    })
}

fn describe_origin(o: &VarOrigin) -> String {
    match o {
        VarOrigin::Environment => "environment".into(),
        VarOrigin::GoEnvFile(p) => format!("go env file {}", p.display()),
        VarOrigin::Unset => "unset".into(),
    }
}

/// Whether the rule's secret is there, without reading more than needed and never showing it
/// (`Source::state`).
fn credential_state(rule: &Rule, settings: &Settings) -> String {
    match rule.source() {
        None => "ssh key (not checked here)".into(),
        Some(source) => source.state(&settings.context(), &rule.pattern),
    }
}

fn render_text(r: &Value) -> String {
    let s = |k: &str| r[k].as_str().map(str::to_string);
    let mut lines = vec![format!("target:     {}", s("target").unwrap_or_default())];
    lines.push(format!(
        "module:     {}",
        s("module_path").unwrap_or_default()
    ));
    lines.push(match s("goprivate_pattern") {
        Some(p) => format!(
            "private:    yes (GOPRIVATE pattern `{p}`, from {})",
            s("goprivate_from").unwrap_or_default()
        ),
        None => "private:    no (GOPRIVATE does not cover it)".into(),
    });
    lines.push(format!(
        "go:         {} proxy, {} checksum database",
        if r["noproxy"] == true {
            "bypasses the"
        } else {
            "uses the"
        },
        if r["nosumdb"] == true {
            "skips the"
        } else {
            "asks the"
        }
    ));
    lines.push(match s("rule") {
        Some(p) => format!(
            "rule:       `{p}` (line {} of {})",
            r["rule_line"],
            s("config").unwrap_or_default()
        ),
        None => "rule:       none".into(),
    });
    if let Some(src) = s("source") {
        lines.push(format!("source:     {src}"));
    }
    lines.push(format!(
        "transport:  {}",
        s("transport").unwrap_or_default()
    ));
    if let Some(c) = s("credential") {
        lines.push(format!("credential: {c}"));
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        lines.push(format!("note:       {}", n.as_str().unwrap_or_default()));
    }
    lines.join("\n")
}
