//! Go's configuration as `go` itself will see it, and where each value came from.
//!
//! Unlike the credential helper's hot path, doctor may run `go env -json` (it is not in a fetch):
//! that is the only way to get exactly what `go` computes (`$GOROOT/go.env` defaults, the env
//! file, the environment). It runs with `GOTOOLCHAIN=local` so that a `go.mod` asking for a newer
//! Go cannot make it download a toolchain; GOTOOLCHAIN itself is read the same way the rest are
//! when `go` is missing: environment, then Go's env file, then `$GOROOT/go.env`, then Go's
//! built-in default. Where the value came from decides the fix: `go env -w` cannot override a
//! variable set in the environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::report::sh_quote;
use crate::proc;
use crate::settings::{parse_go_env, Env, GoVars, VarOrigin};

pub(crate) const NAMES: [&str; 12] = [
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOPROXY",
    "GOSUMDB",
    "GOFLAGS",
    "GOINSECURE",
    "GOAUTH",
    "GOTOOLCHAIN",
    "GOVCS",
    "GOROOT",
    "GOVERSION",
];

#[derive(Debug, Clone)]
pub(crate) struct GoEnvReport {
    values: HashMap<String, String>,
    /// What the environment and Go's env file say, and which of them said it.
    own: GoVars,
    /// `go` binary used, or why none could be run.
    pub go: Result<PathBuf, String>,
}

impl GoEnvReport {
    pub(crate) fn read(env: &Env) -> GoEnvReport {
        let own = GoVars::read_names(env, &NAMES);
        let go =
            proc::which("go", env.get("PATH")).ok_or_else(|| "`go` is not on PATH".to_string());
        let from_go = go.as_ref().ok().map(|g| run_go_env(g, env));
        let go_ok = matches!(&from_go, Some(Ok(_)));
        let go_vals = match &from_go {
            Some(Ok(v)) => v.clone(),
            _ => HashMap::new(),
        };
        let root_defaults = go_vals
            .get("GOROOT")
            .and_then(|r| std::fs::read_to_string(PathBuf::from(r).join("go.env")).ok())
            .map(|t| parse_go_env(&t))
            .unwrap_or_default();
        let mut values = HashMap::new();
        for name in NAMES {
            let mine = match own.origin(name) {
                VarOrigin::Unset => root_defaults
                    .get(name)
                    .cloned()
                    .or_else(|| builtin_default(name).map(str::to_string)),
                _ => Some(own.value(name).to_string()),
            };
            // `go env` ran with GOTOOLCHAIN=local: for that one name our own reading is the truth.
            let value = if go_ok && name != "GOTOOLCHAIN" {
                go_vals.get(name).cloned().or(mine)
            } else {
                mine
            };
            values.insert(name.to_string(), value.unwrap_or_default());
        }
        let go = match (go, from_go) {
            (_, Some(Err(e))) | (Err(e), _) => Err(e),
            (Ok(p), _) => Ok(p),
        };
        GoEnvReport { values, own, go }
    }

    pub(crate) fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Where Go reads `name` from (`Unset`: a default, Go's own or `$GOROOT/go.env`'s).
    pub(crate) fn from(&self, name: &str) -> VarOrigin {
        self.own.origin(name)
    }

    pub(crate) fn describe_from(&self, name: &str) -> String {
        match self.from(name) {
            VarOrigin::Environment => "environment".into(),
            VarOrigin::GoEnvFile(p) => format!("go env file {}", p.display()),
            VarOrigin::Unset => "default".into(),
        }
    }

    /// The command that sets `name=value` where Go will read it: `export` when the environment
    /// already sets it (`go env -w` cannot override the environment), else `go env -w`.
    pub(crate) fn set_command(&self, name: &str, value: &str) -> String {
        match self.from(name) {
            VarOrigin::Environment => format!("export {name}={}", sh_quote(value)),
            _ => format!("go env -w {name}={}", sh_quote(value)),
        }
    }
}

/// Go's compiled-in defaults for when neither `go` nor `$GOROOT/go.env` can be read.
fn builtin_default(name: &str) -> Option<&'static str> {
    Some(match name {
        "GOPROXY" => "https://proxy.golang.org,direct",
        "GOSUMDB" => "sum.golang.org",
        "GOAUTH" => "netrc",
        "GOTOOLCHAIN" => "auto",
        _ => return None,
    })
}

fn run_go_env(go: &PathBuf, _env: &Env) -> Result<HashMap<String, String>, String> {
    let mut cmd = Command::new(go);
    cmd.arg("env")
        .arg("-json")
        .args(NAMES)
        .env("GOTOOLCHAIN", "local");
    let out = proc::run(&mut cmd, b"", Duration::from_secs(15))?;
    if !out.ok() {
        let err = out.stderr_text();
        return Err(format!(
            "`go env` failed: {}",
            super::report::clean(err.lines().next().unwrap_or("").trim())
        ));
    }
    serde_json::from_slice::<HashMap<String, String>>(&out.stdout)
        .map_err(|e| format!("`go env -json` printed something unexpected: {e}"))
}
