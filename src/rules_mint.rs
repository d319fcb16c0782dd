//! What a rule of a minting source says, compiled: `github-app`, `oauth`, `gitlab`.
//!
//! Part of the Rule box: `rules::compile_source` hands these kinds over here. Everything is
//! checked when the config is read (URLs https or loopback, names and permission levels from a
//! fixed alphabet), so a source never meets a malformed value at request time.

use std::collections::BTreeMap;

use crate::config::{RuleSpec, SourceKind};

/// `source = "github-app"` (spec §4.1–4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubAppSpec {
    /// JWT `iss`: the client ID, else the App ID as a string.
    pub issuer: String,
    /// REST base without trailing `/`.
    pub api_url: String,
    /// Empty: every repository the installation has.
    pub repositories: Vec<String>,
    pub permissions: BTreeMap<String, String>,
    pub timeout_secs: u64,
}

/// `source = "oauth"`: device flow at login, refresh at `get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthSpec {
    pub provider: String,
    pub client_id: String,
    pub device_url: Option<String>,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub scopes: Vec<String>,
    /// The git username the forge expects with an OAuth token (spec §4.10).
    pub username: String,
    pub timeout_secs: u64,
}

/// `source = "gitlab"` (spec §4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitlabSpec {
    pub mode: GitlabMode,
    pub api_url: Option<String>,
    pub scopes: Vec<String>,
    pub token_days: u32,
    pub access_level: u32,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitlabMode {
    /// `CI_JOB_TOKEN` of the running GitLab CI job, user `gitlab-ci-token`.
    JobToken,
    /// A project access token created/rotated through the API with a PAT from the keyring.
    Project(String),
    Group(String),
}

/// Keys only the minting kinds know, and which kind takes each.
pub const MINT_KEYS: &[(&str, &[SourceKind])] = &[
    ("app_id", &[SourceKind::GithubApp]),
    ("client_id", &[SourceKind::GithubApp, SourceKind::Oauth]),
    (
        "api_url",
        &[
            SourceKind::GithubApp,
            SourceKind::Gitlab,
            SourceKind::GithubOidc,
        ],
    ),
    ("repositories", &[SourceKind::GithubApp]),
    ("permissions", &[SourceKind::GithubApp]),
    ("provider", &[SourceKind::Oauth]),
    ("base_url", &[SourceKind::Oauth]),
    ("device_url", &[SourceKind::Oauth]),
    ("token_url", &[SourceKind::Oauth]),
    ("revoke_url", &[SourceKind::Oauth]),
    ("scopes", &[SourceKind::Oauth, SourceKind::Gitlab]),
    ("project", &[SourceKind::Gitlab]),
    ("group", &[SourceKind::Gitlab]),
    ("token_days", &[SourceKind::Gitlab]),
    ("access_level", &[SourceKind::Gitlab]),
];

/// Which of [`MINT_KEYS`] a rule sets.
pub fn present_keys(spec: &RuleSpec) -> Vec<&'static str> {
    let set = [
        spec.app_id.is_some(),
        spec.client_id.is_some(),
        spec.api_url.is_some(),
        spec.repositories.is_some(),
        spec.permissions.is_some(),
        spec.provider.is_some(),
        spec.base_url.is_some(),
        spec.device_url.is_some(),
        spec.token_url.is_some(),
        spec.revoke_url.is_some(),
        spec.scopes.is_some(),
        spec.project.is_some(),
        spec.group.is_some(),
        spec.token_days.is_some(),
        spec.access_level.is_some(),
    ];
    MINT_KEYS
        .iter()
        .zip(set)
        .filter(|(_, s)| *s)
        .map(|((k, _), _)| *k)
        .collect()
}

/// The first key set on a rule whose kind does not take it.
pub fn foreign_key(kind: SourceKind, spec: &RuleSpec) -> Option<&'static str> {
    present_keys(spec).into_iter().find(|k| {
        MINT_KEYS
            .iter()
            .any(|(name, kinds)| name == k && !kinds.contains(&kind))
    })
}

const GITHUB_API: &str = "https://api.github.com";

pub fn github_app(spec: &RuleSpec) -> Result<GithubAppSpec, String> {
    let issuer = match (&spec.client_id, spec.app_id) {
        (Some(c), _) if is_word(c) => c.clone(),
        (Some(_), _) => return Err("`client_id` must be letters, digits, `.`, `_` or `-`".into()),
        (None, Some(id)) if id > 0 => id.to_string(),
        _ => return Err("source `github-app` needs `app_id` or `client_id`".into()),
    };
    let api_url = url(spec.api_url.as_deref().unwrap_or(GITHUB_API), "api_url")?;
    let repositories = spec.repositories.clone().unwrap_or_default();
    if repositories.len() > 500 {
        return Err("`repositories`: GitHub takes at most 500".into());
    }
    if let Some(r) = repositories.iter().find(|r| !is_word(r) || r.contains('/')) {
        return Err(format!(
            "`repositories`: `{r}` is not a repository name (give names without the owner)"
        ));
    }
    let permissions = spec
        .permissions
        .clone()
        .unwrap_or_else(|| BTreeMap::from([("contents".to_string(), "read".to_string())]));
    for (k, v) in &permissions {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("`permissions`: `{k}` is not a permission name"));
        }
        if !["read", "write", "admin"].contains(&v.as_str()) {
            return Err(format!(
                "`permissions`: `{k} = \"{v}\"` must be read, write or admin"
            ));
        }
    }
    Ok(GithubAppSpec {
        issuer,
        api_url,
        repositories,
        permissions,
        timeout_secs: timeout(spec),
    })
}

/// Device, token and revocation endpoints, and the git username, of an OAuth preset.
type Preset = (Option<String>, Option<String>, Option<String>, &'static str);

/// Endpoints and git username of an OAuth preset; `base` for self-hosted servers.
fn preset(provider: &str, base: Option<&str>) -> Result<Preset, String> {
    let b = |default: &str| base.unwrap_or(default).trim_end_matches('/').to_string();
    Ok(match provider {
        "github" => {
            let h = b("https://github.com");
            (
                Some(format!("{h}/login/device/code")),
                Some(format!("{h}/login/oauth/access_token")),
                None,
                "x-access-token",
            )
        }
        "gitlab" => {
            let h = b("https://gitlab.com");
            (
                Some(format!("{h}/oauth/authorize_device")),
                Some(format!("{h}/oauth/token")),
                Some(format!("{h}/oauth/revoke")),
                "oauth2",
            )
        }
        // Gitea/Forgejo publish no device endpoint: give `device_url` if yours has one.
        "gitea" | "forgejo" => {
            let h = base
                .ok_or(format!("provider `{provider}` needs `base_url`"))?
                .trim_end_matches('/');
            (
                None,
                Some(format!("{h}/login/oauth/access_token")),
                None,
                "oauth2",
            )
        }
        "generic" => (None, None, None, "oauth2"),
        other => {
            return Err(format!(
                "`provider = \"{other}\"`: use github, gitlab, gitea, forgejo or generic"
            ))
        }
    })
}

pub fn oauth(spec: &RuleSpec) -> Result<OauthSpec, String> {
    let provider = spec.provider.clone().unwrap_or_else(|| "generic".into());
    if let Some(b) = &spec.base_url {
        url(b, "base_url")?;
    }
    let (device, token, revoke, username) = preset(&provider, spec.base_url.as_deref())?;
    let pick = |own: &Option<String>,
                preset: Option<String>,
                what: &str|
     -> Result<Option<String>, String> {
        own.clone().or(preset).map(|u| url(&u, what)).transpose()
    };
    let token_url = pick(&spec.token_url, token, "token_url")?
        .ok_or("source `oauth` needs `token_url` (or a `provider` preset)")?;
    let client_id = spec
        .client_id
        .clone()
        .ok_or("source `oauth` needs `client_id`")?;
    if !is_word(&client_id) {
        return Err("`client_id` must be letters, digits, `.`, `_` or `-`".into());
    }
    let scopes = spec.scopes.clone().unwrap_or_default();
    if let Some(s) = scopes.iter().find(|s| {
        s.is_empty()
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    }) {
        return Err(format!("`scopes`: `{s}` is not a scope"));
    }
    Ok(OauthSpec {
        provider,
        client_id,
        device_url: pick(&spec.device_url, device, "device_url")?,
        token_url,
        revoke_url: pick(&spec.revoke_url, revoke, "revoke_url")?,
        scopes,
        username: username.to_string(),
        timeout_secs: timeout(spec),
    })
}

pub fn gitlab(spec: &RuleSpec) -> Result<GitlabSpec, String> {
    let mode = match (&spec.project, &spec.group) {
        (Some(_), Some(_)) => return Err("give `project` or `group`, not both".into()),
        (Some(p), None) => GitlabMode::Project(gitlab_path(p, "project")?),
        (None, Some(g)) => GitlabMode::Group(gitlab_path(g, "group")?),
        (None, None) => GitlabMode::JobToken,
    };
    let api_url = match (&mode, &spec.api_url) {
        (_, Some(u)) => Some(url(u, "api_url")?),
        (GitlabMode::JobToken, None) => None,
        (_, None) => {
            return Err("`project`/`group` tokens need `api_url` (`https://HOST/api/v4`)".into())
        }
    };
    let scopes = spec
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["read_repository".into()]);
    if let Some(s) = scopes.iter().find(|s| !is_word(s)) {
        return Err(format!("`scopes`: `{s}` is not a GitLab scope"));
    }
    Ok(GitlabSpec {
        mode,
        api_url,
        scopes,
        token_days: spec.token_days.unwrap_or(1).clamp(1, 365),
        access_level: spec.access_level.unwrap_or(20),
        timeout_secs: timeout(spec),
    })
}

fn gitlab_path(p: &str, what: &str) -> Result<String, String> {
    let ok = !p.is_empty()
        && !p.starts_with('/')
        && !p.ends_with('/')
        && p.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && is_word(seg));
    ok.then(|| p.to_string())
        .ok_or_else(|| format!("`{what} = \"{p}\"` is not a GitLab ID or path"))
}

fn timeout(spec: &RuleSpec) -> u64 {
    spec.timeout_secs.unwrap_or(30).clamp(1, 300)
}

fn url(raw: &str, what: &str) -> Result<String, String> {
    crate::http::check_endpoint(raw, what)?;
    Ok(raw.trim_end_matches('/').to_string())
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && !s.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: impl FnOnce(&mut RuleSpec)) -> RuleSpec {
        let mut s = RuleSpec {
            pattern: "github.com/acme/*".into(),
            ..Default::default()
        };
        f(&mut s);
        s
    }

    #[test]
    fn github_app_defaults_and_checks() {
        let g = github_app(&spec(|s| s.app_id = Some(42))).unwrap();
        assert_eq!(g.issuer, "42");
        assert_eq!(g.api_url, "https://api.github.com");
        assert_eq!(
            g.permissions.get("contents").map(String::as_str),
            Some("read")
        );
        let g = github_app(&spec(|s| {
            s.app_id = Some(42);
            s.client_id = Some("Iv23liAbc".into());
            s.api_url = Some("https://ghe.corp.example/api/v3/".into());
        }))
        .unwrap();
        assert_eq!(
            (g.issuer.as_str(), g.api_url.as_str()),
            ("Iv23liAbc", "https://ghe.corp.example/api/v3")
        );
        for (f, needle) in [
            (
                Box::new(|_: &mut RuleSpec| {}) as Box<dyn FnOnce(&mut RuleSpec)>,
                "needs `app_id`",
            ),
            (
                Box::new(|s: &mut RuleSpec| {
                    s.app_id = Some(1);
                    s.api_url = Some("http://api.github.com".into())
                }),
                "must be https",
            ),
            (
                Box::new(|s: &mut RuleSpec| {
                    s.app_id = Some(1);
                    s.repositories = Some(vec!["acme/lib".into()])
                }),
                "without the owner",
            ),
            (
                Box::new(|s: &mut RuleSpec| {
                    s.app_id = Some(1);
                    s.permissions = Some(BTreeMap::from([("contents".into(), "all".into())]))
                }),
                "read, write or admin",
            ),
        ] {
            let e = github_app(&spec(f)).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn oauth_presets() {
        let o = oauth(&spec(|s| {
            s.provider = Some("gitlab".into());
            s.client_id = Some("abc".into());
            s.base_url = Some("https://gitlab.corp.example/".into())
        }))
        .unwrap();
        assert_eq!(
            o.device_url.as_deref(),
            Some("https://gitlab.corp.example/oauth/authorize_device")
        );
        assert_eq!(o.token_url, "https://gitlab.corp.example/oauth/token");
        assert_eq!(o.username, "oauth2");
        let o = oauth(&spec(|s| {
            s.provider = Some("github".into());
            s.client_id = Some("Iv1.x".into())
        }))
        .unwrap();
        assert_eq!(o.token_url, "https://github.com/login/oauth/access_token");
        assert!(oauth(&spec(|s| s.client_id = Some("c".into())))
            .unwrap_err()
            .contains("token_url"));
        assert!(oauth(&spec(|s| {
            s.provider = Some("gitea".into());
            s.client_id = Some("c".into())
        }))
        .unwrap_err()
        .contains("base_url"));
    }

    #[test]
    fn gitlab_modes() {
        assert_eq!(gitlab(&spec(|_| {})).unwrap().mode, GitlabMode::JobToken);
        let g = gitlab(&spec(|s| {
            s.project = Some("grp/proj".into());
            s.api_url = Some("https://gitlab.corp.example/api/v4".into())
        }))
        .unwrap();
        assert_eq!(g.mode, GitlabMode::Project("grp/proj".into()));
        assert!(gitlab(&spec(|s| s.project = Some("grp/proj".into())))
            .unwrap_err()
            .contains("api_url"));
        assert!(gitlab(&spec(|s| {
            s.project = Some("../x".into());
            s.api_url = Some("https://h/api/v4".into())
        }))
        .is_err());
    }

    #[test]
    fn foreign_keys_are_named() {
        let s = spec(|s| s.app_id = Some(1));
        assert_eq!(foreign_key(SourceKind::Pat, &s), Some("app_id"));
        assert_eq!(foreign_key(SourceKind::GithubApp, &s), None);
    }
}
