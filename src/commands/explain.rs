//! `gocred explain TARGET [--json]`: is it private, why, and which rule and source would serve it.
//! Never prints a secret; says whether one is present.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::resolve_target;
use crate::error::{Error, Result};
use crate::rules::{Rule, Selection, SourceSpec};
use crate::settings::{Origin as VarOrigin, Settings};
use crate::sources::{account_for, Context};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A module path (with or without @version) or a URL.
    pub target: String,
    /// Print one JSON object (stable fields: target, private, goprivate_pattern, noproxy,
    /// nosumdb, rule, source, transport).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ExplainArgs, settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let report = explain(&args.target, settings)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).expect("json value")
    } else {
        render_text(&report)
    };
    writeln!(out, "{text}").map_err(|e| Error::io("writing to stdout", e))
}

pub fn explain(raw: &str, settings: &Settings) -> Result<Value> {
    let t = resolve_target(raw)?;
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
    if private.is_none() {
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
    let credential = rule.map(|r| credential_state(r, settings));
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
        "notes": notes,
    }))
}

fn describe_origin(o: &VarOrigin) -> String {
    match o {
        VarOrigin::Environment => "environment".into(),
        VarOrigin::GoEnvFile(p) => format!("go env file {}", p.display()),
        VarOrigin::Unset => "unset".into(),
    }
}

/// Whether the rule's secret is there, without reading more than needed and never showing it.
fn credential_state(rule: &Rule, settings: &Settings) -> String {
    match &rule.source {
        None => "ssh key (not checked here)".into(),
        Some(SourceSpec::Env { variable }) => match settings.env.get(variable) {
            Some(_) => format!("${variable} is set"),
            None => format!("${variable} is NOT set"),
        },
        Some(SourceSpec::Command { argv, .. }) => {
            format!("from `{}` (not run by explain)", argv[0])
        }
        Some(SourceSpec::Pat) => {
            let ctx = Context::new(settings);
            match ctx
                .keyring()
                .and_then(|k| k.get(&account_for(&rule.pattern)))
            {
                Ok(Some((_, b))) => format!("token present in {}", b.name()),
                Ok(None) => format!("no token stored; run: gocred login {}", rule.pattern),
                Err(e) => format!("keyring unavailable: {e}"),
            }
        }
        Some(spec) => crate::sources::mint_state(spec, rule, settings),
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
