//! `gocred doctor TARGET [--json]`: walk the chain from `go get` to the private repository and
//! say which link is broken and how to fix it. Exit 0 when the fetch should work, 1 when a link
//! is broken (the report goes to stdout either way; `--json` = array of
//! `{id, status, message, fix}`).

use std::io::Write;

use clap::Args;

use super::resolve_target;
use crate::doctor::{self, Doctor, Target};
use crate::error::{Error, Result};
use crate::rules::Rules;
use crate::settings::{Env, GoVars, KeyringSettings, Settings};

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// A module path (with or without @version) or a URL.
    pub target: String,
    /// Print a JSON array of checks: {id, status (ok|warn|fail|skip), message, fix}.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: DoctorArgs, env: Env, out: &mut dyn Write) -> Result<()> {
    let resolved = resolve_target(&args.target)?;
    let version = (!args.target.contains("://"))
        .then(|| args.target.split_once('@').map(|(_, v)| v.to_string()))
        .flatten();
    // A broken config is a finding, not a reason to stop: run with no rules and report it.
    let (settings, config_error) = match Settings::load(env.clone()) {
        Ok(s) => (s, None),
        Err(e) => (fallback_settings(env), Some(e.to_string())),
    };
    let target = Target {
        module: resolved.module_path.clone(),
        version,
        resolved,
    };
    let mut d = Doctor::new(&settings, config_error, target);
    let report = doctor::run_checks(&mut d);
    let text = if args.json {
        report.to_json()
    } else {
        report.to_text(&format!("gocred doctor {}", d.target.module))
    };
    writeln!(out, "{text}").map_err(|e| Error::io("writing to stdout", e))?;
    match report.first_failure() {
        None => Ok(()),
        Some(f) => Err(Error::Other {
            message: format!("doctor: {} is broken", f.id),
            hint: f.fix.clone(),
        }),
    }
}

fn fallback_settings(env: Env) -> Settings {
    let go = GoVars::read(&env);
    let scope = go.scope();
    let config_path = crate::config::default_path(env.get("GOCRED_CONFIG"), env.user_config_dir());
    let keyring = KeyringSettings {
        backend: env.get("GOCRED_KEYRING").unwrap_or("auto").to_string(),
        service: env
            .get("GOCRED_KEYRING_SERVICE")
            .unwrap_or("gocred")
            .to_string(),
    };
    let cache = crate::settings::CacheSettings::new(None, &env);
    Settings {
        env,
        go,
        scope,
        config_path,
        rules: Rules::default(),
        keyring,
        cache,
    }
}
