//! A snapshot of the process environment, taken once per run (UTF-8 variables only).
//!
//! A leaf: everything that reads a variable (settings, sources, stores, git and Go config
//! helpers) gets it from here, never from `std::env`. It holds every variable, CI tokens
//! included, so its `Debug` prints the names only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Default)]
pub(crate) struct Env {
    vars: HashMap<String, String>,
}

impl std::fmt::Debug for Env {
    /// Names, sorted; never a value (any of them may be a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    pub(crate) fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_pairs<I: IntoIterator<Item = (S, S)>, S: Into<String>>(pairs: I) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value, if set and non-empty (Go treats empty as unset for these variables).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The user config dir as Go's `os.UserConfigDir` and `dirs` compute it.
    pub(crate) fn user_config_dir(&self) -> Option<PathBuf> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_names_never_values() {
        let env = Env::from_pairs([("CI_JOB_TOKEN", "glcbt-supersecret"), ("HOME", "/h")]);
        let shown = format!("{env:?}");
        assert!(
            shown.contains("CI_JOB_TOKEN") && shown.contains("HOME"),
            "{shown}"
        );
        assert!(
            !shown.contains("supersecret") && !shown.contains("/h"),
            "{shown}"
        );
    }
}
