//! Settings: everything from the outside world, read in one place.
//!
//! First box after the command line. Process environment first, then Go's own env file (the one
//! `go env -w` writes: `$GOENV`, else `<user config dir>/go/env`) for the GOPRIVATE family, then
//! the gocred config file. `go` is never spawned here: `get` must stay fast. Commands receive a
//! `Settings`, never raw `std::env`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::{self, KeyringSpec};
use crate::error::Result;
use crate::rules::Rules;
use crate::scope::GoScope;

/// A snapshot of the process environment (UTF-8 variables only).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<I: IntoIterator<Item = (S, S)>, S: Into<String>>(pairs: I) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value, if set and non-empty (Go treats empty as unset for these variables).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether the variable exists at all, even empty.
    pub fn is_set(&self, key: &str) -> bool {
        self.vars.contains_key(key)
    }

    /// The user config dir as Go's `os.UserConfigDir` and `dirs` compute it.
    pub fn user_config_dir(&self) -> Option<PathBuf> {
        if cfg!(any(target_os = "macos", windows)) {
            return dirs::config_dir();
        }
        match (self.get("XDG_CONFIG_HOME"), self.get("HOME")) {
            (Some(x), _) => Some(PathBuf::from(x)),
            (None, Some(h)) => Some(Path::new(h).join(".config")),
            _ => None,
        }
    }
}

/// Where a Go variable's value came from (shown by `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    GoEnvFile(PathBuf),
    Unset,
}

/// GOPRIVATE / GONOPROXY / GONOSUMDB as `go` would see them.
#[derive(Debug, Clone)]
pub struct GoVars {
    pub values: HashMap<&'static str, (String, Origin)>,
    pub env_file: Option<PathBuf>,
}

impl GoVars {
    pub const NAMES: [&'static str; 3] = ["GOPRIVATE", "GONOPROXY", "GONOSUMDB"];
    /// Read too, for `goauth` and `explain`: where Go's own requests go and how it authenticates
    /// them. Not part of the scope.
    pub const FETCH_NAMES: [&'static str; 3] = ["GOPROXY", "GOINSECURE", "GOAUTH"];

    pub fn read(env: &Env) -> GoVars {
        let names: Vec<&'static str> = Self::NAMES.into_iter().chain(Self::FETCH_NAMES).collect();
        Self::read_names(env, &names)
    }

    /// The same for any list of variables (`doctor` reads more of them).
    pub fn read_names(env: &Env, names: &[&'static str]) -> GoVars {
        let env_file = go_env_file(env);
        let mut file_values: Option<HashMap<String, String>> = None;
        let mut values = HashMap::new();
        for &name in names {
            let entry = if let Some(v) = env.get(name) {
                (v.to_string(), Origin::Environment)
            } else if let Some(path) = &env_file {
                let file = file_values.get_or_insert_with(|| read_go_env_file(path));
                match file.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => (v.clone(), Origin::GoEnvFile(path.clone())),
                    None => (String::new(), Origin::Unset),
                }
            } else {
                (String::new(), Origin::Unset)
            };
            values.insert(name, entry);
        }
        GoVars { values, env_file }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |(v, _)| v.as_str())
    }

    pub fn origin(&self, name: &str) -> Origin {
        self.values
            .get(name)
            .map_or(Origin::Unset, |(_, o)| o.clone())
    }

    pub fn scope(&self) -> GoScope {
        let opt = |n: &str| Some(self.value(n)).filter(|v| !v.is_empty());
        GoScope::new(opt("GOPRIVATE"), opt("GONOPROXY"), opt("GONOSUMDB"))
    }
}

/// `$GOENV` (unless `off`), else `<user config dir>/go/env` — go:cmd/go/internal/cfg `EnvFile`.
pub fn go_env_file(env: &Env) -> Option<PathBuf> {
    match env.get("GOENV") {
        Some("off") => None,
        Some(f) => Some(PathBuf::from(f)),
        None => env.user_config_dir().map(|d| d.join("go").join("env")),
    }
}

/// Go's `readEnvFile`: `KEY=VALUE` lines, keys start with A–Z, later lines win, junk ignored.
pub fn parse_go_env(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.split('\n') {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !k.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn read_go_env_file(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .map(|t| parse_go_env(&t))
        .unwrap_or_default()
}

/// Which keyring to use and under which service name.
#[derive(Debug, Clone)]
pub struct KeyringSettings {
    pub backend: String,
    pub service: String,
}

/// How minted tokens are cached: reuse margin and the private directory for lock files.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Never hand out (or reuse) a token that expires within this many seconds.
    pub margin_secs: u64,
    /// `$XDG_CACHE_HOME/gocred`: lock files and non-secret memory, never a token.
    pub dir: Option<PathBuf>,
}

/// Default reuse margin: GitHub/GitLab tokens live an hour or more; five minutes spare covers a
/// long `go mod download` and clock skew.
pub const DEFAULT_MARGIN_SECS: u64 = 300;

/// Everything a command needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub env: Env,
    pub go: GoVars,
    pub scope: GoScope,
    pub config_path: Option<PathBuf>,
    pub rules: Rules,
    pub keyring: KeyringSettings,
    pub cache: CacheSettings,
}

impl Settings {
    pub fn load(env: Env) -> Result<Settings> {
        let go = GoVars::read(&env);
        let scope = go.scope();
        let config_path = config::default_path(env.get("GOCRED_CONFIG"), env.user_config_dir());
        let (file, text) = match &config_path {
            Some(p) => config::load(p)?,
            None => Default::default(),
        };
        let rules = match &config_path {
            Some(p) => Rules::compile(p, &file, &text)?,
            None => Rules::default(),
        };
        let keyring = resolve_keyring(&env, &file.keyring);
        let cache = CacheSettings {
            margin_secs: file.cache.margin_secs.unwrap_or(DEFAULT_MARGIN_SECS),
            dir: crate::store::lock::state_dir(&env),
        };
        Ok(Settings {
            env,
            go,
            scope,
            config_path,
            rules,
            keyring,
            cache,
        })
    }

    /// Settings for in-process tests: `config` in a private temp file, `env` plus `GOENV=off`
    /// (no real Go env file joins in). The dir must live as long as the settings are used.
    #[cfg(test)]
    pub fn for_test(config: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut pairs: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("GOCRED_CONFIG".into(), path.to_str().unwrap().into()));
        pairs.push(("GOENV".into(), "off".into()));
        let s = Settings::load(Env::from_pairs(pairs)).unwrap();
        (dir, s)
    }

    /// The config path or a clear error when no config dir can be found.
    pub fn require_config_path(&self) -> Result<&Path> {
        self.config_path.as_deref().ok_or_else(|| {
            crate::error::Error::with_hint(
                "no place for the config file: neither GOCRED_CONFIG nor a home directory is set",
                "set GOCRED_CONFIG=/path/to/config.toml",
            )
        })
    }
}

fn resolve_keyring(env: &Env, spec: &KeyringSpec) -> KeyringSettings {
    KeyringSettings {
        backend: env
            .get("GOCRED_KEYRING")
            .map(str::to_string)
            .or_else(|| spec.backend.clone())
            .unwrap_or_else(|| "auto".into()),
        service: env
            .get("GOCRED_KEYRING_SERVICE")
            .map(str::to_string)
            .or_else(|| spec.service.clone())
            .unwrap_or_else(|| "gocred".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_env_file_format() {
        let m = parse_go_env(
            "GOPRIVATE=a.example\n# x=y\nlower=z\nGONOSUMDB=\nGOPRIVATE=b.example,c\n=v\nnoeq\n",
        );
        assert_eq!(m.get("GOPRIVATE").map(String::as_str), Some("b.example,c"));
        assert_eq!(m.get("GONOSUMDB").map(String::as_str), Some(""));
        assert!(!m.contains_key("lower") && !m.contains_key("# x"));
    }

    #[test]
    fn env_wins_then_go_env_file_then_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "GOPRIVATE=file.example\nGONOSUMDB=sum.example\n").unwrap();
        let f = file.to_str().unwrap();

        let v = GoVars::read(&Env::from_pairs([("GOENV", f)]));
        assert_eq!(v.value("GOPRIVATE"), "file.example");
        assert_eq!(v.origin("GOPRIVATE"), Origin::GoEnvFile(file.clone()));
        let s = v.scope();
        assert!(
            s.is_noproxy("file.example/x"),
            "empty GONOPROXY falls back to GOPRIVATE"
        );
        assert!(!s.is_nosumdb("file.example/x") && s.is_nosumdb("sum.example/x"));

        let v = GoVars::read(&Env::from_pairs([
            ("GOENV", f),
            ("GOPRIVATE", "env.example"),
        ]));
        assert_eq!(v.value("GOPRIVATE"), "env.example");
        assert_eq!(v.origin("GOPRIVATE"), Origin::Environment);

        // An empty variable in the environment does not hide the file (Go's cfg.Getenv).
        let v = GoVars::read(&Env::from_pairs([("GOENV", f), ("GOPRIVATE", "")]));
        assert_eq!(v.value("GOPRIVATE"), "file.example");

        let v = GoVars::read(&Env::from_pairs([
            ("GOENV", "off"),
            ("HOME", "/nonexistent"),
        ]));
        assert_eq!(v.origin("GOPRIVATE"), Origin::Unset);
    }

    #[test]
    fn fetch_variables_are_read_like_the_scope() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "GOPROXY=https://proxy.corp.example\nGOAUTH=netrc\n").unwrap();
        let f = file.to_str().unwrap();
        let v = GoVars::read(&Env::from_pairs([
            ("GOENV", f),
            ("GOAUTH", "/bin/gocred goauth"),
        ]));
        assert_eq!(v.value("GOPROXY"), "https://proxy.corp.example");
        assert_eq!(v.origin("GOPROXY"), Origin::GoEnvFile(file.clone()));
        assert_eq!(v.value("GOAUTH"), "/bin/gocred goauth");
        assert_eq!(v.origin("GOINSECURE"), Origin::Unset);
    }

    #[test]
    fn default_env_file_location() {
        let e = Env::from_pairs([("HOME", "/h")]);
        if cfg!(target_os = "linux") {
            assert_eq!(go_env_file(&e), Some(PathBuf::from("/h/.config/go/env")));
            let e = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
            assert_eq!(go_env_file(&e), Some(PathBuf::from("/x/go/env")));
        }
    }
}
