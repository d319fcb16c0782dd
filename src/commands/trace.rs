//! The `GOCRED_TRACE` lines of a request's decisions (what arrived, which settings came from
//! where, each rule considered, what was answered), written through [`crate::trace`], which
//! owns the output and the redaction of secrets. Here because they read settings and rules;
//! `crate::trace` itself is a leaf that every layer may call.

use crate::protocol::{escape_for_display, Origin};
use crate::rules::{Rule, Rules};
use crate::settings::{Settings, VarOrigin as ValueOrigin};
use crate::trace::{emit, enabled, expiry, secret};

/// The request as it arrived: protocol, host and path (never the user name or password).
pub(crate) fn request(command: &str, origin: &Origin, path: Option<&str>) {
    if !enabled() {
        return;
    }
    emit(format_args!(
        "{command}: request protocol={} host={} path={}",
        origin.scheme.as_str(),
        origin.authority(),
        path.map_or_else(|| "(none)".into(), escape_for_display)
    ));
}

/// Where each setting came from: the config file, the GOPRIVATE family, the keyring.
pub(crate) fn settings(s: &Settings) {
    if !enabled() {
        return;
    }
    match &s.config_path {
        Some(p) if p.exists() => emit(format_args!(
            "settings: config {} ({} rule{})",
            p.display(),
            s.rules.rules.len(),
            if s.rules.rules.len() == 1 { "" } else { "s" }
        )),
        Some(p) => emit(format_args!(
            "settings: config {} (not found: no rules)",
            p.display()
        )),
        None => emit(format_args!(
            "settings: no config path (neither GOCRED_CONFIG nor a home directory)"
        )),
    }
    let env_file =
        s.go.env_file
            .as_ref()
            .map_or_else(|| "off".into(), |p| p.display().to_string());
    for name in crate::settings::GoVars::NAMES
        .into_iter()
        .chain(crate::settings::GoVars::FETCH_NAMES)
    {
        let value = escape_for_display(s.go.value(name));
        match s.go.origin(name) {
            ValueOrigin::Environment => emit(format_args!(
                "settings: {name}={value} (from the environment)"
            )),
            ValueOrigin::GoEnvFile(p) => emit(format_args!(
                "settings: {name}={value} (from the go env file {})",
                p.display()
            )),
            ValueOrigin::Unset => emit(format_args!(
                "settings: {name} unset (environment and go env file {env_file})"
            )),
        }
    }
    emit(format_args!(
        "settings: keyring backend={} service={}",
        escape_for_display(&s.keyring.backend),
        escape_for_display(&s.keyring.service)
    ));
}

/// Each rule in order and why it does or does not cover the request (first match wins).
pub(crate) fn rules(rules: &Rules, origin: &Origin, path: Option<&str>) {
    if !enabled() {
        return;
    }
    if rules.rules.is_empty() {
        emit(format_args!("rules: none configured"));
    }
    let mut matched = false;
    for r in &rules.rules {
        let verdict = if matched {
            "not considered (an earlier rule matched)".to_string()
        } else if !r.host.matches(origin) {
            format!("no match: host is not {}", origin.authority())
        } else {
            match (&r.path_glob, path) {
                (None, _) => {
                    matched = true;
                    "matches (whole host)".to_string()
                }
                (Some(glob), Some(p)) if r.covers_path(p) => {
                    matched = true;
                    format!("matches (path {} is under `{glob}`)", escape_for_display(p))
                }
                (Some(glob), Some(p)) => format!(
                    "no match: path {} is not under `{glob}`",
                    escape_for_display(p)
                ),
                (Some(glob), None) => format!(
                    "host matches, path glob `{glob}` needs a path (git sends one with \
                     credential.useHttpPath)"
                ),
            }
        };
        emit(format_args!("{}: {verdict}", rule_name(r)));
    }
}

/// `rule `git.corp.example` (line 3, pat)`.
pub(crate) fn rule_name(r: &Rule) -> String {
    format!(
        "rule `{}` (line {}, {})",
        r.pattern,
        r.line,
        r.source.as_ref().map_or("ssh", |s| s.kind().as_str())
    )
}

/// What was handed out, by whom, until when.
pub(crate) fn answered(command: &str, rule: &Rule, cred: &crate::sources::Credential) {
    if !enabled() {
        return;
    }
    emit(format_args!(
        "{command}: {} answered username={} password={}, {}",
        rule_name(rule),
        if cred.username.is_empty() {
            "(none)"
        } else {
            "(set)"
        },
        secret(&cred.secret),
        expiry(cred.expires_at)
    ));
}
