//! The config file model: ordered rules, first match wins (design §3).
//!
//! Read by `settings`, compiled into [`crate::rules::Rules`]. Secrets never live here: a rule names
//! a keyring entry (implicitly, by its pattern) or an environment variable. Unknown keys and
//! inconsistent rules are errors that name the key and the line. Writes (`login`/`logout`) go
//! through `toml_edit` so the user's comments and layout survive, and through `fsutil` so they are
//! atomic.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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

/// One `[[rule]]` table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// GOPRIVATE syntax: `git.corp.example`, `*.corp.example`, `github.com/acme/*`.
    pub pattern: String,
    pub source: Option<SourceKind>,
    /// Git username sent with the token. Defaults per source (`pat`: the one stored at login).
    pub username: Option<String>,
    /// The git host this rule serves when it is not the pattern's first element (vanity paths).
    pub host: Option<String>,
    /// Release the credential over plain `http://` to this exact host (never the default).
    #[serde(default)]
    pub allow_http: bool,
    #[serde(default)]
    pub transport: Transport,
    /// `env` source: the variable holding the token.
    pub variable: Option<String>,
    /// `command` source: argv (no shell), the token is its stdout.
    pub command: Option<Vec<String>>,
    /// `command` source: seconds before the command is killed (default 30); minting sources:
    /// seconds before an API request is abandoned (default 30).
    pub timeout_secs: Option<u64>,
    /// `goauth`: the header Go sends, `basic` (default) or `bearer`. Git always gets
    /// username/password.
    pub auth: Option<HttpAuth>,
    /// `transport = "ssh"`: where git fetches over ssh (`git@host:` by default;
    /// `ssh://git@host:2222/` or `host:/srv/git/` also work). `gocred init` writes the rewrite.
    pub ssh_base: Option<String>,
    /// `github-oidc`: base URL of the octo-sts-style exchange (default `https://octo-sts.dev`).
    pub sts_url: Option<String>,
    /// `github-oidc`: `owner/repo` or `org` the token is for (where the trust policy lives).
    pub scope: Option<String>,
    /// `github-oidc`: the trust policy's name (`.github/chainguard/<identity>.sts.yaml`).
    pub identity: Option<String>,
    /// `github-oidc`: audience of the CI identity token (default: the exchange's host).
    pub audience: Option<String>,
    /// `github-oidc` on GitLab: the CI variable holding the identity token (`id_tokens:`).
    pub id_token_variable: Option<String>,
    /// `github-app`: the App's numeric ID (or give `client_id`).
    pub app_id: Option<u64>,
    /// `github-app`: the App's client ID (GitHub's recommended JWT issuer); `oauth`: the OAuth
    /// client ID.
    pub client_id: Option<String>,
    /// `github-app` / `gitlab` / `github-oidc`: REST API base (`https://api.github.com`,
    /// `https://HOST/api/v3` for GitHub Enterprise Server, `https://HOST/api/v4` for GitLab);
    /// `github-oidc` revokes its tokens there.
    pub api_url: Option<String>,
    /// `github-app`: repository names (no owner) the token is limited to.
    pub repositories: Option<Vec<String>>,
    /// `github-app`: permissions the token is limited to (default `{ contents = "read" }`).
    pub permissions: Option<std::collections::BTreeMap<String, String>>,
    /// `oauth`: `github`, `gitlab`, `gitea`, `forgejo` or `generic`.
    pub provider: Option<String>,
    /// `oauth`: the server's base URL for a self-hosted GitLab/Gitea/Forgejo.
    pub base_url: Option<String>,
    /// `oauth`: RFC 8628 device authorization endpoint (overrides the preset).
    pub device_url: Option<String>,
    /// `oauth`: token endpoint (overrides the preset).
    pub token_url: Option<String>,
    /// `oauth`: RFC 7009 revocation endpoint (overrides the preset).
    pub revoke_url: Option<String>,
    /// `oauth` / `gitlab`: scopes to ask for.
    pub scopes: Option<Vec<String>>,
    /// `gitlab`: project (ID or `group/name`) whose access token is created and rotated.
    pub project: Option<String>,
    /// `gitlab`: group (ID or path) whose access token is created and rotated.
    pub group: Option<String>,
    /// `gitlab`: full days a created access token lives at least (default 1).
    pub token_days: Option<u32>,
    /// `gitlab`: role of a created access token (default 20 = reporter, enough to read code).
    pub access_level: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Https,
    Ssh,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Https => "https",
            Transport::Ssh => "ssh",
        }
    }
}

/// How `goauth` hands the token to Go: `Authorization: Basic base64(user:token)` or
/// `Authorization: Bearer token` (private GOPROXYs such as Artifactory take either).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
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

    fn to_table(spec: &RuleSpec) -> Table {
        let mut t = Table::new();
        t.insert("pattern", value(&spec.pattern));
        if let Some(s) = spec.source {
            t.insert("source", value(s.as_str()));
        }
        if let Some(u) = &spec.username {
            t.insert("username", value(u));
        }
        if let Some(h) = &spec.host {
            t.insert("host", value(h));
        }
        if spec.allow_http {
            t.insert("allow_http", value(true));
        }
        if spec.transport != Transport::Https {
            t.insert("transport", value(spec.transport.as_str()));
        }
        if let Some(v) = &spec.variable {
            t.insert("variable", value(v));
        }
        if let Some(c) = &spec.command {
            t.insert("command", value(c.iter().collect::<Array>()));
        }
        if let Some(s) = spec.timeout_secs {
            t.insert("timeout_secs", value(s as i64));
        }
        if let Some(a) = spec.auth {
            t.insert("auth", value(a.as_str()));
        }
        if let Some(b) = &spec.ssh_base {
            t.insert("ssh_base", value(b));
        }
        for (key, v) in [
            ("sts_url", &spec.sts_url),
            ("scope", &spec.scope),
            ("identity", &spec.identity),
            ("audience", &spec.audience),
            ("id_token_variable", &spec.id_token_variable),
        ] {
            if let Some(v) = v {
                t.insert(key, value(v));
            }
        }
        mint_keys(&mut t, spec);
        t
    }

    /// The minting sources' keys, in a stable order.
    fn mint_keys(t: &mut Table, spec: &RuleSpec) {
        let strs = |v: &Vec<String>| v.iter().collect::<Array>();
        if let Some(v) = spec.app_id {
            t.insert("app_id", value(v as i64));
        }
        for (k, v) in [
            ("client_id", &spec.client_id),
            ("api_url", &spec.api_url),
            ("provider", &spec.provider),
            ("base_url", &spec.base_url),
            ("device_url", &spec.device_url),
            ("token_url", &spec.token_url),
            ("revoke_url", &spec.revoke_url),
            ("project", &spec.project),
            ("group", &spec.group),
        ] {
            if let Some(v) = v {
                t.insert(k, value(v));
            }
        }
        if let Some(v) = &spec.repositories {
            t.insert("repositories", value(strs(v)));
        }
        if let Some(v) = &spec.scopes {
            t.insert("scopes", value(strs(v)));
        }
        if let Some(p) = &spec.permissions {
            let mut inline = toml_edit::InlineTable::new();
            for (k, v) in p {
                inline.insert(k, v.into());
            }
            t.insert("permissions", value(inline));
        }
        if let Some(v) = spec.token_days {
            t.insert("token_days", value(i64::from(v)));
        }
        if let Some(v) = spec.access_level {
            t.insert("access_level", value(i64::from(v)));
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
