//! The config file model: ordered rules, first match wins (docs/architecture.md).
//!
//! Read by `settings`, compiled into [`crate::rules::Rules`]. Secrets never live here: a rule names
//! a keyring entry (implicitly, by its pattern) or an environment variable. Unknown keys and
//! inconsistent rules are errors that name the key and the line. Writes (`login`/`logout`) go
//! through `toml_edit` so the user's comments and layout survive, and through `fsutil` so they are
//! atomic.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The whole file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, rename = "rule")]
    pub rules: Vec<toml::Spanned<RuleSpec>>,
    #[serde(default)]
    pub keyring: KeyringSpec,
    #[serde(default)]
    pub cache: CacheSpec,
}

/// One `[[rule]]` table: every key any rule may set. Which keys a rule of a given source takes
/// is each kind's `KEYS` table (`sources/<kind>.rs`); which keys a rule sets is
/// [`RuleSpec::set_keys`], read off this struct's own serialisation (unset keys are skipped).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// GOPRIVATE syntax: `git.corp.example`, `*.corp.example`, `github.com/acme/*`.
    pub pattern: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceKind>,
    /// Git username sent with the token. Defaults per source (`pat`: the one stored at login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The git host this rule serves when it is not the pattern's first element (vanity paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Release the credential over plain `http://` to this exact host (never the default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    #[serde(default, skip_serializing_if = "Transport::is_https")]
    pub transport: Transport,
    /// `env` source: the variable holding the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// `command` source: argv (no shell), the token is its stdout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// `command` source: seconds before the command is killed (default 30); minting sources:
    /// seconds before an API request is abandoned (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// `goauth`: the header Go sends, `basic` (default) or `bearer`. Git always gets
    /// username/password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// `transport = "ssh"`: where git fetches over ssh (`git@host:` by default;
    /// `ssh://git@host:2222/` or `host:/srv/git/` also work). `gocred init` writes the rewrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_base: Option<String>,
    /// `github-oidc`: base URL of the octo-sts-style exchange (default `https://octo-sts.dev`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_url: Option<String>,
    /// `github-oidc`: `owner/repo` or `org` the token is for (where the trust policy lives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `github-oidc`: the trust policy's name (`.github/chainguard/<identity>.sts.yaml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `github-oidc`: audience of the CI identity token (default: the exchange's host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// `github-oidc` on GitLab: the CI variable holding the identity token (`id_tokens:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_variable: Option<String>,
    /// `github-app`: the App's numeric ID (or give `client_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// `github-app`: the App's client ID (GitHub's recommended JWT issuer); `oauth`: the OAuth
    /// client ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `github-app` / `gitlab` / `github-oidc`: REST API base (`https://api.github.com`,
    /// `https://HOST/api/v3` for GitHub Enterprise Server, `https://HOST/api/v4` for GitLab);
    /// `github-oidc` revokes its tokens there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// `github-app`: repository names (no owner) the token is limited to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
    /// `github-app`: permissions the token is limited to (default `{ contents = "read" }`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<std::collections::BTreeMap<String, String>>,
    /// `oauth`: `github`, `gitlab`, `gitea`, `forgejo` or `generic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `oauth`: the server's base URL for a self-hosted GitLab/Gitea/Forgejo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `oauth`: RFC 8628 device authorization endpoint (overrides the preset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
    /// `oauth`: token endpoint (overrides the preset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// `oauth`: RFC 7009 revocation endpoint (overrides the preset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
    /// `oauth` / `gitlab`: scopes to ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `gitlab`: project (ID or `group/name`) whose access token is created and rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// `gitlab`: group (ID or path) whose access token is created and rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `gitlab`: full days a created access token lives at least (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_days: Option<u32>,
    /// `gitlab`: role of a created access token (default 20 = reporter, enough to read code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<u32>,
}

impl RuleSpec {
    /// The rule as a TOML table holding only the keys it sets, in the file model's order.
    pub fn to_toml(&self) -> toml::Table {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            _ => unreachable!("a rule's keys are strings, small integers, lists and a map"),
        }
    }

    /// The keys this rule sets.
    pub fn set_keys(&self) -> Vec<String> {
        self.to_toml().keys().cloned().collect()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Pat,
    Env,
    Command,
    GithubOidc,
    GithubApp,
    Oauth,
    Gitlab,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Pat => "pat",
            SourceKind::Env => "env",
            SourceKind::Command => "command",
            SourceKind::GithubOidc => "github-oidc",
            SourceKind::GithubApp => "github-app",
            SourceKind::Oauth => "oauth",
            SourceKind::Gitlab => "gitlab",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "pat" => Some(SourceKind::Pat),
            "env" => Some(SourceKind::Env),
            "command" => Some(SourceKind::Command),
            "github-oidc" => Some(SourceKind::GithubOidc),
            "github-app" => Some(SourceKind::GithubApp),
            "oauth" => Some(SourceKind::Oauth),
            "gitlab" => Some(SourceKind::Gitlab),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Https,
    Ssh,
}

impl Transport {
    pub fn is_https(&self) -> bool {
        *self == Transport::Https
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Https => "https",
            Transport::Ssh => "ssh",
        }
    }
}

/// How `goauth` hands the token to Go: `Authorization: Basic base64(user:token)` or
/// `Authorization: Bearer token` (private GOPROXYs such as Artifactory take either).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HttpAuth {
    #[default]
    Basic,
    Bearer,
}

impl HttpAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpAuth::Basic => "basic",
            HttpAuth::Bearer => "bearer",
        }
    }

    pub fn parse(s: &str) -> Option<HttpAuth> {
        match s {
            "basic" => Some(HttpAuth::Basic),
            "bearer" => Some(HttpAuth::Bearer),
            _ => None,
        }
    }
}

/// `[keyring]`: which OS store holds root secrets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringSpec {
    /// `auto` (default), `secret-service`, `keyutils`, `macos`, `windows`.
    pub backend: Option<String>,
    /// Service name entries are filed under (default `gocred`).
    pub service: Option<String>,
}

/// `[cache]`: how minted tokens are reused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Seconds before expiry at which a minted token is no longer handed out (default 300).
    pub margin_secs: Option<u64>,
}

/// Where the config file lives: `GOCRED_CONFIG`, else `<config dir>/gocred/config.toml`.
pub fn default_path(gocred_config: Option<&str>, config_dir: Option<PathBuf>) -> Option<PathBuf> {
    match gocred_config {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => config_dir.map(|d| d.join("gocred").join("config.toml")),
    }
}

/// Parses the file text. Errors carry the line and the key toml reports.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
    toml::from_str::<ConfigFile>(text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: describe_toml_error(text, &e),
    })
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => format!("line {}: {msg}", line_of(text, span.start)),
        None => msg,
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Largest config file gocred reads (a few rules take a few hundred bytes).
const MAX_CONFIG: u64 = 1 << 20;

/// Reads the file; a missing file is an empty config (CI can run with none).
///
/// The config can name programs to run, so it is read only when nobody but you or root could
/// have written it (`fsutil::trust`): the path is absolute (git runs helpers at the top of a
/// work tree, so a relative `GOCRED_CONFIG` would let a cloned repository supply rules), every
/// directory above it is yours or root's and not writable by others (unless sticky), and the file
/// is opened once without following a link or blocking, checked on that descriptor (a regular
/// file, yours or root's, not group/other writable) and read from it.
pub fn load(path: &Path) -> Result<(ConfigFile, String)> {
    use crate::fsutil::trust::{self, Owner, Untrusted};
    if !path.is_absolute() {
        return Err(Error::with_hint(
            format!(
                "config {}: refusing a relative config path; git runs gocred at the top of the work tree, so the repository would choose the rules",
                path.display()
            ),
            "set GOCRED_CONFIG to an absolute path (or unset it for the default location)",
        ));
    }
    let bytes = match trust::read_file(path, Owner::YouOrRoot, MAX_CONFIG) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok((ConfigFile::default(), String::new())),
        Err(Untrusted::Io(p, e)) => {
            return Err(Error::io(
                format!("reading config {} (at {})", path.display(), p.display()),
                e,
            ))
        }
        Err(e) => {
            return Err(Error::with_hint(
                format!("config {}: refusing to read it: {e}", path.display()),
                "the config can make gocred run programs, so only you (or root) may be able to change it or any directory above it: fix the owner or mode, or set GOCRED_CONFIG to a file in a private directory",
            ))
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| Error::Config {
        path: path.to_path_buf(),
        message: "is not valid UTF-8".into(),
    })?;
    Ok((parse(path, &text)?, text))
}

pub mod edit {
    //! Format-preserving edits of the config file for `login` / `logout`.
    use super::*;
    use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

    fn open(path: &Path) -> Result<DocumentMut> {
        let (_, text) = load(path)?;
        text.parse::<DocumentMut>().map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn rules_mut(doc: &mut DocumentMut) -> Result<&mut ArrayOfTables> {
        if !doc.contains_key("rule") {
            doc.insert("rule", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        doc["rule"].as_array_of_tables_mut().ok_or_else(|| {
            Error::other("`rule` in the config is not an array of tables ([[rule]])")
        })
    }

    /// The rule as `login` writes it: only the keys it sets, lists and maps inline.
    fn to_table(spec: &RuleSpec) -> Table {
        let mut t = Table::new();
        for (k, v) in spec.to_toml() {
            t.insert(&k, value(to_edit(v)));
        }
        t
    }

    fn to_edit(v: toml::Value) -> toml_edit::Value {
        match v {
            toml::Value::String(s) => s.into(),
            toml::Value::Integer(i) => i.into(),
            toml::Value::Float(f) => f.into(),
            toml::Value::Boolean(b) => b.into(),
            toml::Value::Datetime(d) => d.to_string().into(),
            toml::Value::Array(a) => a.into_iter().map(to_edit).collect::<Array>().into(),
            toml::Value::Table(t) => {
                let mut inline = toml_edit::InlineTable::new();
                for (k, v) in t {
                    inline.insert(&k, to_edit(v));
                }
                inline.into()
            }
        }
    }

    /// Replaces the rule with the same pattern in place, or appends it. Returns true if replaced.
    pub fn upsert_rule(path: &Path, spec: &RuleSpec) -> Result<bool> {
        let mut doc = open(path)?;
        let rules = rules_mut(&mut doc)?;
        let pos = rules
            .iter()
            .position(|t| t.get("pattern").and_then(|p| p.as_str()) == Some(spec.pattern.as_str()));
        let replaced = match pos {
            Some(i) => {
                let t = rules.get_mut(i).expect("index from position");
                *t = to_table(spec);
                true
            }
            None => {
                rules.push(to_table(spec));
                false
            }
        };
        let text = doc.to_string();
        parse(path, &text)?; // never write a file we could not read back
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)?;
        Ok(replaced)
    }

    /// Removes every rule with this exact pattern. Returns how many were removed.
    pub fn remove_rule(path: &Path, pattern: &str) -> Result<usize> {
        let mut doc = open(path)?;
        let Some(rules) = doc.get_mut("rule").and_then(|r| r.as_array_of_tables_mut()) else {
            return Ok(0);
        };
        let before = rules.len();
        rules.retain(|t| t.get("pattern").and_then(|p| p.as_str()) != Some(pattern));
        let removed = before - rules.len();
        if removed > 0 {
            crate::fsutil::write_atomic(path, doc.to_string().as_bytes(), 0o600)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<ConfigFile> {
        parse(Path::new("c.toml"), text)
    }

    #[test]
    fn parses_the_design_example() {
        let c = p(r#"
[[rule]]
pattern = "git.corp.example"
source = "pat"
username = "alice"

[[rule]]
pattern = "gitlab.corp.example"
source = "env"
variable = "CORP_GITLAB_TOKEN"
username = "gitlab-ci-token"

[[rule]]
pattern = "git.legacy.example"
transport = "ssh"

[keyring]
backend = "keyutils"
"#)
        .unwrap();
        assert_eq!(c.rules.len(), 3);
        assert_eq!(c.rules[0].get_ref().source, Some(SourceKind::Pat));
        assert_eq!(
            c.rules[1].get_ref().variable.as_deref(),
            Some("CORP_GITLAB_TOKEN")
        );
        assert_eq!(c.rules[2].get_ref().transport, Transport::Ssh);
        assert_eq!(c.keyring.backend.as_deref(), Some("keyutils"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = p("[[rule]]\npattern = \"a.example\"\nsource = \"pat\"\npasword = \"x\"\n")
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("pasword"), "{msg}");
    }

    #[test]
    fn unknown_source_is_an_error() {
        let msg = p("[[rule]]\npattern = \"a\"\nsource = \"magic\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 3") && msg.contains("magic"), "{msg}");
    }

    #[test]
    fn auth_key() {
        let c =
            p("[[rule]]\npattern = \"proxy.corp.example\"\nsource = \"pat\"\nauth = \"bearer\"\n")
                .unwrap();
        assert_eq!(c.rules[0].get_ref().auth, Some(HttpAuth::Bearer));
        let msg = p("[[rule]]\npattern = \"a\"\nsource = \"pat\"\nauth = \"digest\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 4") && msg.contains("digest"), "{msg}");
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
