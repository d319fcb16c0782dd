//! What git's configuration says, asked of git itself (`git config`, so includes, scopes and
//! `GIT_CONFIG_*` count exactly as they will for the fetch), plus the pieces git does not print
//! directly: the credential helper chain for one URL (every matching `credential.<url>.helper`
//! in config order, an empty value resetting the list; docs/protocols/git-credential.md) and the insteadOf
//! rewrite that applies to a URL (the longest matching prefix wins).

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

pub(crate) use crate::gitconfig::urlmatch::url_matches;
pub(crate) use crate::gitconfig::ConfigEntry;
use crate::proc;

/// The `git config` option that edits the file `e` lives in.
pub(crate) fn file_option(e: &ConfigEntry) -> Option<String> {
    match e.scope.as_str() {
        "global" => Some("--global".into()),
        "system" => Some("--system".into()),
        "local" => Some("--local".into()),
        _ if e.file.as_os_str().is_empty() => None,
        _ => Some(format!(
            "--file {}",
            super::report::sh_quote(&e.file.display().to_string())
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GitVersion(pub u32, pub u32, pub u32);

#[derive(Default)]
pub(crate) struct GitView {
    version: Option<Result<(GitVersion, String), String>>,
    urlmatch: HashMap<(String, String), Option<String>>,
    regexp: HashMap<String, Vec<ConfigEntry>>,
}

/// `git` seeing the configuration Go's git sees: Go runs git with `GIT_DIR` set to a bare repo
/// in its module cache, so only system, global and command-line (`GIT_CONFIG_*`) config apply —
/// never the repository doctor happens to be run in. A `GIT_DIR` that cannot exist does that.
pub(crate) fn git_command() -> Command {
    let mut c = Command::new("git");
    c.env("GIT_DIR", "/dev/null/gocred-doctor-no-repository");
    c
}

fn git(args: &[&str]) -> Result<proc::Captured, String> {
    proc::run(git_command().args(args), b"", Duration::from_secs(15))
}

impl GitView {
    /// `git --version`, parsed; the raw line for messages.
    pub(crate) fn version(&mut self) -> Result<(GitVersion, String), String> {
        self.version
            .get_or_insert_with(|| {
                let out = git(&["--version"])?;
                let line = out.stdout_text().trim().to_string();
                parse_version(&line)
                    .map(|v| (v, line.clone()))
                    .ok_or(format!("unexpected `git --version`: {line}"))
            })
            .clone()
    }

    /// `git config --get-urlmatch KEY URL` (the best-matching single value).
    pub(crate) fn urlmatch(&mut self, key: &str, url: &str) -> Option<String> {
        self.urlmatch
            .entry((key.to_string(), url.to_string()))
            .or_insert_with(|| {
                let out = git(&["config", "--get-urlmatch", key, url]).ok()?;
                out.ok()
                    .then(|| out.stdout_text().trim_end_matches('\n').to_string())
            })
            .clone()
    }

    /// Every entry whose key matches `regex` (case-insensitive keys), in config order.
    pub(crate) fn entries(&mut self, regex: &str) -> Vec<ConfigEntry> {
        self.regexp
            .entry(regex.to_string())
            .or_insert_with(|| {
                git(&[
                    "config",
                    "-z",
                    "--show-scope",
                    "--show-origin",
                    "--get-regexp",
                    regex,
                ])
                .map(|o| crate::gitconfig::parse_list(&o.stdout))
                .unwrap_or_default()
            })
            .clone()
    }
}

fn parse_version(line: &str) -> Option<GitVersion> {
    let v = line.strip_prefix("git version ")?;
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|n| n.parse::<u32>().ok());
    Some(GitVersion(
        it.next()??,
        it.next()??,
        it.next().flatten().unwrap_or(0),
    ))
}

/// One helper in git's list for a URL, with the config entry that put it there.
#[derive(Debug, Clone)]
pub(crate) struct Helper {
    pub entry: ConfigEntry,
}

impl Helper {
    pub(crate) fn value(&self) -> &str {
        self.entry.value_str()
    }

    /// Is this gocred (`gocred`, `/path/gocred …`, `/path/git-credential-gocred`), also when a
    /// shell helper runs it later in its line (`!env X=1 /path/gocred`)?
    pub(crate) fn is_gocred(&self) -> bool {
        crate::gitconfig::urlmatch::is_gocred(self.value())
            || self
                .value()
                .split_whitespace()
                .any(|w| w.ends_with("/gocred"))
    }

    /// The helper as messages show it: an inline shell helper (`!…`) can hold a password, so
    /// only its kind is shown.
    pub(crate) fn display(&self) -> String {
        match self.value().starts_with('!') {
            true => "an inline shell helper (`!…`)".to_string(),
            false => super::report::clean(self.value()),
        }
    }

    /// How git will run it (docs/protocols/git-credential.md), for messages.
    pub(crate) fn command(&self) -> String {
        let v = self.value();
        if let Some(s) = v.strip_prefix('!') {
            s.to_string()
        } else if v.starts_with('/') {
            v.to_string()
        } else {
            format!("git credential-{v}")
        }
    }
}

/// The helpers git will run for `url`, in order, and whether an empty value reset the list.
pub(crate) fn helper_chain(entries: &[ConfigEntry], url: &str) -> (Vec<Helper>, bool) {
    let mut chain = Vec::new();
    let mut reset = false;
    for e in entries {
        let k = e.key.to_ascii_lowercase();
        let Some(rest) = k.strip_prefix("credential.") else {
            continue;
        };
        let Some(mid) = rest.strip_suffix("helper") else {
            continue;
        };
        let pattern = mid.trim_end_matches('.');
        // Use the entry's own (case-preserved) subsection for matching.
        let raw_pattern =
            &e.key["credential.".len()..e.key.len() - "helper".len()].trim_end_matches('.');
        if !pattern.is_empty() && !url_matches(raw_pattern, url) {
            continue;
        }
        if e.value_str().is_empty() {
            chain.clear();
            reset = true;
        } else {
            chain.push(Helper { entry: e.clone() });
        }
    }
    (chain, reset)
}

/// The insteadOf rewrite git applies to `url`: (config entry, base, rewritten URL).
pub(crate) fn rewrite(entries: &[ConfigEntry], url: &str) -> Option<(ConfigEntry, String, String)> {
    let mut best: Option<(ConfigEntry, String, String)> = None;
    for e in entries {
        let k = &e.key;
        let Some(base) = k.strip_prefix("url.").and_then(|r| {
            r.strip_suffix(".insteadof")
                .or_else(|| r.strip_suffix(".insteadOf"))
        }) else {
            continue;
        };
        let from = e.value_str();
        if url.starts_with(from)
            && best
                .as_ref()
                .is_none_or(|b| from.len() > b.0.value_str().len())
        {
            best = Some((
                e.clone(),
                base.to_string(),
                format!("{base}{}", &url[from.len()..]),
            ));
        }
    }
    best
}

/// Is this URL one git fetches over SSH (`ssh://`, `git+ssh://`, or scp-like `user@host:path`)?
pub(crate) fn is_ssh_url(url: &str) -> bool {
    url.starts_with("ssh://")
        || url.starts_with("git+ssh://")
        || url.starts_with("ssh+git://")
        || (!url.contains("://") && url.split_once(':').is_some_and(|(h, _)| !h.contains('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: &str, value: &str) -> ConfigEntry {
        ConfigEntry {
            scope: "global".into(),
            file: "/h/.gitconfig".into(),
            key: key.into(),
            value: Some(value.into()),
        }
    }

    #[test]
    fn chain_in_config_order_with_resets() {
        let entries = [
            e("credential.helper", "store"),
            e("credential.https://git.corp.test.helper", ""),
            e("credential.https://git.corp.test.helper", "gocred"),
            e("credential.https://other.test.helper", "x"),
            e("credential.https://*.corp.test.helper", "wild"),
            e("credential.helper", "cache"),
        ];
        let (c, reset) = helper_chain(&entries, "https://git.corp.test/team/lib.git");
        let v: Vec<&str> = c.iter().map(|h| h.value()).collect();
        assert_eq!(v, ["gocred", "wild", "cache"]);
        assert!(reset && c[0].is_gocred() && !c[2].is_gocred());
        assert_eq!(c[2].command(), "git credential-cache");
        let (c, _) = helper_chain(&entries, "https://a.b.corp.test/x");
        assert_eq!(
            c.iter().map(|h| h.value()).collect::<Vec<_>>(),
            ["store", "cache"]
        );
    }

    #[test]
    fn insteadof_longest_wins() {
        let entries = [
            e(
                "url.ssh://git@git.corp.test/.insteadof",
                "https://git.corp.test/",
            ),
            e(
                "url.https://mirror.test/team/.insteadof",
                "https://git.corp.test/team/",
            ),
        ];
        let (_, base, to) = rewrite(&entries, "https://git.corp.test/team/lib.git").unwrap();
        assert_eq!(
            (base.as_str(), to.as_str()),
            (
                "https://mirror.test/team/",
                "https://mirror.test/team/lib.git"
            )
        );
        let (_, _, to) = rewrite(&entries, "https://git.corp.test/lax/lib.git").unwrap();
        assert!(is_ssh_url(&to));
        assert!(is_ssh_url("git@github.com:a/b.git") && !is_ssh_url("https://a/b"));
        assert_eq!(
            parse_version("git version 2.47.3"),
            Some(GitVersion(2, 47, 3))
        );
        assert_eq!(
            parse_version("git version 2.39.5.windows.1"),
            Some(GitVersion(2, 39, 5))
        );
    }
}
