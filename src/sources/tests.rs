//! Every kind takes exactly the keys of its table, and compiles them as documented.

use std::collections::BTreeMap;
use std::path::Path;

use super::gitlab::GitlabMode;
use super::{keys, SourceSpec};
use crate::config::{RuleSpec, SourceKind};

const KINDS: [SourceKind; 7] = [
    SourceKind::Pat,
    SourceKind::Env,
    SourceKind::Command,
    SourceKind::GithubOidc,
    SourceKind::GithubApp,
    SourceKind::Oauth,
    SourceKind::Gitlab,
];

/// A value for every key of a `[[rule]]` that is valid for every kind that takes it.
const SAMPLES: &[(&str, &str)] = &[
    ("username", r#""bot""#),
    ("host", r#""git.example""#),
    ("allow_http", "true"),
    ("auth", r#""bearer""#),
    ("variable", r#""V""#),
    ("command", r#"["/bin/true"]"#),
    ("timeout_secs", "10"),
    ("sts_url", r#""https://sts.example""#),
    ("scope", r#""acme""#),
    ("identity", r#""ci""#),
    ("audience", r#""sts.example""#),
    ("id_token_variable", r#""ID_TOKEN""#),
    ("app_id", "1"),
    ("client_id", r#""Iv1.abc""#),
    ("api_url", r#""https://api.example/api/v4""#),
    ("repositories", r#"["lib"]"#),
    ("permissions", r#"{ contents = "read" }"#),
    ("provider", r#""github""#),
    ("base_url", r#""https://forge.example""#),
    ("device_url", r#""https://forge.example/device""#),
    ("token_url", r#""https://forge.example/token""#),
    ("revoke_url", r#""https://forge.example/revoke""#),
    ("scopes", r#"["read_repository"]"#),
    ("project", r#""grp/proj""#),
    ("group", r#""grp""#),
    ("token_days", "2"),
    ("access_level", "30"),
];

/// The keys each kind needs to compile.
fn minimal(kind: SourceKind) -> &'static [&'static str] {
    match kind {
        SourceKind::Pat => &[],
        SourceKind::Env => &["variable"],
        SourceKind::Command => &["command"],
        SourceKind::GithubOidc => &["scope", "identity"],
        SourceKind::GithubApp => &["app_id"],
        SourceKind::Oauth => &["provider", "client_id"],
        SourceKind::Gitlab => &["api_url"],
    }
}

fn rule(kind: SourceKind, keys: &[&str]) -> RuleSpec {
    let mut text = format!(
        "[[rule]]\npattern = \"github.com/acme/*\"\nsource = \"{}\"\n",
        kind.as_str()
    );
    for k in keys {
        let (_, v) = SAMPLES
            .iter()
            .find(|(name, _)| name == k)
            .expect("a sample");
        text.push_str(&format!("{k} = {v}\n"));
    }
    let file = crate::config::parse(Path::new("c.toml"), &text).unwrap();
    file.rules[0].get_ref().clone()
}

#[test]
fn every_sample_is_a_key_of_the_file_model() {
    let all: Vec<&str> = SAMPLES.iter().map(|(k, _)| *k).collect();
    let spec = rule(SourceKind::Pat, &all);
    let mut set = spec.set_keys();
    set.retain(|k| k != "pattern" && k != "source");
    assert_eq!(set.len(), all.len(), "{set:?}");
    for kind in KINDS {
        for k in SourceSpec::keys(kind) {
            assert!(all.contains(k), "{k} of {} has no sample", kind.as_str());
        }
    }
}

#[test]
fn each_kind_takes_exactly_the_keys_of_its_table() {
    for kind in KINDS {
        let own = SourceSpec::keys(kind);
        for (key, _) in SAMPLES {
            let mut keys: Vec<&str> = minimal(kind).to_vec();
            if !keys.contains(key) {
                keys.push(key);
            }
            let took = keys::COMMON.contains(key) || own.contains(key);
            match SourceSpec::compile(kind, &rule(kind, &keys)) {
                Ok(_) => assert!(took, "{} took `{key}`", kind.as_str()),
                Err(e) if took => {
                    // Taken, but with these samples it conflicts with another key of the kind.
                    assert!(!e.contains("does not apply"), "{}: {e}", kind.as_str());
                    assert!(
                        matches!((kind, *key), (SourceKind::Gitlab, "project" | "group")),
                        "{} refused `{key}`: {e}",
                        kind.as_str()
                    );
                }
                Err(e) => assert_eq!(
                    e,
                    format!("`{key}` does not apply to source `{}`", kind.as_str())
                ),
            }
        }
    }
}

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
    use super::github_app::compile;
    let g = compile(&spec(|s| s.app_id = Some(42))).unwrap();
    assert_eq!(g.issuer, "42");
    assert_eq!(g.api_url, "https://api.github.com");
    assert_eq!(
        g.permissions.get("contents").map(String::as_str),
        Some("read")
    );
    let g = compile(&spec(|s| {
        s.app_id = Some(42);
        s.client_id = Some("Iv23liAbc".into());
        s.api_url = Some("https://ghe.corp.example/api/v3/".into());
    }))
    .unwrap();
    assert_eq!(
        (g.issuer.as_str(), g.api_url.as_str()),
        ("Iv23liAbc", "https://ghe.corp.example/api/v3")
    );
    type Edit = Box<dyn FnOnce(&mut RuleSpec)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|_| {}), "needs `app_id`"),
        (
            Box::new(|s| {
                s.app_id = Some(1);
                s.api_url = Some("http://api.github.com".into())
            }),
            "must be https",
        ),
        (
            Box::new(|s| {
                s.app_id = Some(1);
                s.repositories = Some(vec!["acme/lib".into()])
            }),
            "without the owner",
        ),
        (
            Box::new(|s| {
                s.app_id = Some(1);
                s.permissions = Some(BTreeMap::from([("contents".into(), "all".into())]))
            }),
            "read, write or admin",
        ),
    ];
    for (f, needle) in cases {
        let e = compile(&spec(f)).unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn oauth_presets() {
    use super::oauth::compile;
    let o = compile(&spec(|s| {
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
    let o = compile(&spec(|s| {
        s.provider = Some("github".into());
        s.client_id = Some("Iv1.x".into())
    }))
    .unwrap();
    assert_eq!(o.token_url, "https://github.com/login/oauth/access_token");
    assert!(compile(&spec(|s| s.client_id = Some("c".into())))
        .unwrap_err()
        .contains("token_url"));
    assert!(compile(&spec(|s| {
        s.provider = Some("gitea".into());
        s.client_id = Some("c".into())
    }))
    .unwrap_err()
    .contains("base_url"));
}

#[test]
fn gitlab_modes() {
    use super::gitlab::compile;
    assert_eq!(compile(&spec(|_| {})).unwrap().mode, GitlabMode::JobToken);
    let g = compile(&spec(|s| {
        s.project = Some("grp/proj".into());
        s.api_url = Some("https://gitlab.corp.example/api/v4".into())
    }))
    .unwrap();
    assert_eq!(g.mode, GitlabMode::Project("grp/proj".into()));
    assert!(compile(&spec(|s| s.project = Some("grp/proj".into())))
        .unwrap_err()
        .contains("api_url"));
    assert!(compile(&spec(|s| {
        s.project = Some("../x".into());
        s.api_url = Some("https://h/api/v4".into())
    }))
    .is_err());
}
