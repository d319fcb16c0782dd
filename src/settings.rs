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
use crate::protocol::Origin as UrlOrigin;
use crate::rules::{Rule, Rules, Selection};
use crate::scope::GoScope;
use crate::sources::{Context, Credential, Query, Source};

pub(crate) use crate::env::Env;
pub(crate) use crate::state::CacheSettings;
pub(crate) use crate::store::KeyringSettings;

/// Where a Go variable's value came from (shown by `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VarOrigin {
    Environment,
    GoEnvFile(PathBuf),
    Unset,
}

/// GOPRIVATE / GONOPROXY / GONOSUMDB as `go` would see them.
#[derive(Debug, Clone)]
pub(crate) struct GoVars {
    pub values: HashMap<&'static str, (String, VarOrigin)>,
    /// Go's env file (`GOENV`), when there is one; `GOCRED_TRACE` names it.
    pub env_file: Option<PathBuf>,
}

impl GoVars {
    pub(crate) const NAMES: [&'static str; 3] = ["GOPRIVATE", "GONOPROXY", "GONOSUMDB"];
    /// Read too, for `goauth` and `explain`: where Go's own requests go and how it authenticates
    /// them. Not part of the scope.
    pub(crate) const FETCH_NAMES: [&'static str; 3] = ["GOPROXY", "GOINSECURE", "GOAUTH"];

    pub(crate) fn read(env: &Env) -> GoVars {
        let names: Vec<&'static str> = Self::NAMES.into_iter().chain(Self::FETCH_NAMES).collect();
        Self::read_names(env, &names)
    }

    /// The same for any list of variables (`doctor` reads more of them).
    pub(crate) fn read_names(env: &Env, names: &[&'static str]) -> GoVars {
        let env_file = go_env_file(env);
        let mut file_values: Option<HashMap<String, String>> = None;
        let mut values = HashMap::new();
        for &name in names {
            let entry = if let Some(v) = env.get(name) {
                (v.to_string(), VarOrigin::Environment)
            } else if let Some(path) = &env_file {
                let file = file_values.get_or_insert_with(|| read_go_env_file(path));
                match file.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => (v.clone(), VarOrigin::GoEnvFile(path.clone())),
                    None => (String::new(), VarOrigin::Unset),
                }
            } else {
                (String::new(), VarOrigin::Unset)
            };
            values.insert(name, entry);
        }
        GoVars { values, env_file }
    }

    pub(crate) fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |(v, _)| v.as_str())
    }

    pub(crate) fn origin(&self, name: &str) -> VarOrigin {
        self.values
            .get(name)
            .map_or(VarOrigin::Unset, |(_, o)| o.clone())
    }

    pub(crate) fn scope(&self) -> GoScope {
        let opt = |n: &str| Some(self.value(n)).filter(|v| !v.is_empty());
        GoScope::new(opt("GOPRIVATE"), opt("GONOPROXY"), opt("GONOSUMDB"))
    }
}

/// `$GOENV` (unless `off`), else `<user config dir>/go/env` — go:cmd/go/internal/cfg `EnvFile`.
pub(crate) fn go_env_file(env: &Env) -> Option<PathBuf> {
    match env.get("GOENV") {
        Some("off") => None,
        Some(f) => Some(PathBuf::from(f)),
        None => env.user_config_dir().map(|d| d.join("go").join("env")),
    }
}

/// Go's `readEnvFile`: `KEY=VALUE` lines, keys start with A–Z, later lines win, junk ignored.
pub(crate) fn parse_go_env(text: &str) -> HashMap<String, String> {
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

/// Everything a command needs.
#[derive(Clone)]
pub(crate) struct Settings {
    pub env: Env,
    pub go: GoVars,
    pub scope: GoScope,
    pub config_path: Option<PathBuf>,
    pub rules: Rules,
    pub keyring: KeyringSettings,
    pub cache: CacheSettings,
}

impl Settings {
    pub(crate) fn load(env: Env) -> Result<Settings> {
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
        let cache = CacheSettings::new(file.cache.margin_secs, &env);
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
    pub(crate) fn for_test(config: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Settings) {
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

    /// What the sources read of these settings, with a keyring opened on first use.
    pub(crate) fn context(&self) -> Context<'_> {
        Context::new(&self.env, &self.keyring, &self.cache)
    }

    /// Where a request for `origin` (and git's `path`) goes: the first matching rule
    /// (`Rules::select`), refused over plain http unless it opted in (`Rules::check_scheme`),
    /// and its source. The one route of `get`, `goauth`, `token` and `doctor`.
    pub(crate) fn route(&self, origin: &UrlOrigin, path: Option<&str>) -> Result<Route<'_>> {
        Ok(match self.rules.select(origin, path) {
            Selection::None => Route::NoRule,
            Selection::Ambiguous(rules) => Route::Ambiguous(rules),
            Selection::Rule(rule) => {
                Rules::check_scheme(rule, origin)?;
                self.routed(rule).map_or(Route::Ssh(rule), Route::Source)
            }
        })
    }

    /// The source of a rule chosen by other means (`goauth`'s first call walks the rules);
    /// `None` for `transport = "ssh"` rules.
    pub(crate) fn routed<'s>(&'s self, rule: &'s Rule) -> Option<Routed<'s>> {
        Some(Routed {
            rule,
            source: rule.source()?,
            ctx: self.context(),
        })
    }

    /// The config path or a clear error when no config dir can be found.
    pub(crate) fn require_config_path(&self) -> Result<&Path> {
        self.config_path.as_deref().ok_or_else(|| {
            crate::error::Error::with_hint(
                "no place for the config file: neither GOCRED_CONFIG nor a home directory is set",
                "set GOCRED_CONFIG=/path/to/config.toml",
            )
        })
    }
}

impl std::fmt::Debug for Settings {
    /// The environment by names only: it holds CI tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("env", &self.env)
            .field("config_path", &self.config_path)
            .field("rules", &self.rules.rules.len())
            .field("keyring", &self.keyring)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Where one request goes.
pub(crate) enum Route<'s> {
    /// No rule covers it: answer nothing, let git try its next helper.
    NoRule,
    /// No path and several rules share the host: we cannot know which one git means.
    Ambiguous(Vec<&'s Rule>),
    /// A `transport = "ssh"` rule: there is no token; git should not ask over https.
    Ssh(&'s Rule),
    Source(Routed<'s>),
}

/// A rule with its source, ready to ask.
pub(crate) struct Routed<'s> {
    pub rule: &'s Rule,
    pub source: Box<dyn Source>,
    pub ctx: Context<'s>,
}

impl Routed<'_> {
    /// The request as the source sees it.
    pub(crate) fn query<'a>(&self, origin: &'a UrlOrigin, path: Option<&'a str>) -> Query<'a> {
        self.rule.query(origin, path)
    }

    /// The credential to hand out for `q`: the source's, refused inside the configured margin
    /// (`Credential::check_usable`).
    pub(crate) fn credential(&self, q: &Query) -> Result<Credential> {
        let cred = self.source.get(&self.ctx, q)?;
        self.check_fresh(q, &cred)?;
        Ok(cred)
    }

    /// The one freshness rule, for a credential from elsewhere (the `ci exec` agent).
    pub(crate) fn check_fresh(&self, q: &Query, cred: &Credential) -> Result<()> {
        cred.check_usable(q, self.ctx.cache.margin_secs)
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
        assert_eq!(v.origin("GOPRIVATE"), VarOrigin::GoEnvFile(file.clone()));
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
        assert_eq!(v.origin("GOPRIVATE"), VarOrigin::Environment);

        // An empty variable in the environment does not hide the file (Go's cfg.Getenv).
        let v = GoVars::read(&Env::from_pairs([("GOENV", f), ("GOPRIVATE", "")]));
        assert_eq!(v.value("GOPRIVATE"), "file.example");

        let v = GoVars::read(&Env::from_pairs([
            ("GOENV", "off"),
            ("HOME", "/nonexistent"),
        ]));
        assert_eq!(v.origin("GOPRIVATE"), VarOrigin::Unset);
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
        assert_eq!(v.origin("GOPROXY"), VarOrigin::GoEnvFile(file.clone()));
        assert_eq!(v.value("GOAUTH"), "/bin/gocred goauth");
        assert_eq!(v.origin("GOINSECURE"), VarOrigin::Unset);
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
