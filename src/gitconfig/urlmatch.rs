//! Which `credential.<url>.helper` entries git applies to a host, and in which order.
//!
//! Pure code over [`ConfigEntry`] lists. Git collects helpers from every matching `credential.<url>`
//! section in config order and an empty `helper =` clears what came before (docs/protocols/git-credential.md); a
//! `<url>` matches by scheme, host (lower-cased, `*` = exactly one label), port, path prefix on
//! `/` boundaries, and must have no user name when the request has none. `init` uses
//! this to say which of the user's helpers git asks before gocred, and whether a reset after
//! gocred's entry would silence it; `doctor` matches full request URLs ([`url_matches`]) for
//! `credential.<url>.*` and `http.<url>.*` keys.

use super::ConfigEntry;

/// How far a `credential.<url>` key applies to a host's repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    /// To every repository on the host.
    All,
    /// Only below a path (`credential.https://host/org.helper`).
    Some,
    No,
}

/// The url part of a `credential.<url>.<name>` key, and the name; `(None, name)` for
/// `credential.<name>`.
pub(crate) fn split_credential_key(key: &str) -> Option<(Option<&str>, &str)> {
    let rest = key
        .get(..11)
        .filter(|p| p.eq_ignore_ascii_case("credential."))
        .map(|_| &key[11..])?;
    match rest.rfind('.') {
        Some(i) => Some((Some(&rest[..i]), &rest[i + 1..])),
        None => Some((None, rest)),
    }
}

/// Does a `credential.<url>` key apply to `https://<host>[:port]/<path>`? `host` is lower-case,
/// `path` is "" for the host as a whole.
pub(crate) fn applies(url: &str, host: &str, port: u16, path: &str) -> Applies {
    applies_to(url, "https", host, port, path)
}

/// Does the `<url>` of a `credential.<url>.*` or `http.<url>.*` key apply to the whole of
/// `request` (a full URL, as git fetches it)?
pub(crate) fn url_matches(key_url: &str, request: &str) -> bool {
    let Ok(u) = url::Url::parse(request) else {
        return false;
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return false;
    };
    applies_to(key_url, u.scheme(), host, port, u.path()) == Applies::All
}

/// [`applies`] for a request of any scheme (a key without a port means the scheme's default).
fn applies_to(url: &str, request_scheme: &str, host: &str, port: u16, path: &str) -> Applies {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    if scheme.is_some_and(|s| !s.eq_ignore_ascii_case(request_scheme)) {
        return Applies::No;
    }
    let (authority, key_path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_matches('/')),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Applies::No; // a key with a user name needs a URL with that user
    }
    if !authority.is_empty() {
        let (h, p) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok()),
            None => (authority, default_port(request_scheme)),
        };
        if p != Some(port) || !host_matches(&h.to_ascii_lowercase(), host) {
            return Applies::No;
        }
    }
    if key_path.is_empty() {
        return Applies::All;
    }
    let path = path.trim_matches('/');
    if path == key_path || path.starts_with(&format!("{key_path}/")) {
        Applies::All
    } else if path.is_empty() || key_path.starts_with(&format!("{path}/")) {
        Applies::Some
    } else {
        Applies::No
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// Git's `match_host`: label by label, a pattern label `*` matches any one label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.len() == h.len() && p.iter().zip(&h).all(|(a, b)| *a == "*" || a == b)
}

/// A helper entry that applies to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Helper {
    pub entry: ConfigEntry,
    pub applies: Applies,
}

impl Helper {
    pub(crate) fn value(&self) -> &str {
        self.entry.value.as_deref().unwrap_or("")
    }
}

/// The helper entries for a host, in the order git reads them (resets included).
pub(crate) fn helpers_for(
    entries: &[ConfigEntry],
    host: &str,
    port: u16,
    path: &str,
) -> Vec<Helper> {
    entries
        .iter()
        .filter_map(|e| {
            let (url, name) = split_credential_key(&e.key)?;
            if !name.eq_ignore_ascii_case("helper") {
                return None;
            }
            let applies = url.map_or(Applies::All, |u| applies(u, host, port, path));
            (applies != Applies::No).then(|| Helper {
                entry: e.clone(),
                applies,
            })
        })
        .collect()
}

/// What git's helper list looks like around gocred's entry at `ours` (an index into the
/// helpers of [`helpers_for`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Order {
    /// Helpers git asks before gocred (after any reset).
    pub before: Vec<Helper>,
    /// Empty `helper =` entries before gocred's, with the helpers each one drops.
    pub resets_before: Vec<(Helper, Vec<Helper>)>,
    /// An empty `helper =` after gocred's entry: git never asks gocred.
    pub reset_after: Option<Helper>,
}

pub(crate) fn order_around(helpers: &[Helper], ours: usize) -> Order {
    let mut order = Order::default();
    let mut list: Vec<Helper> = Vec::new();
    for h in &helpers[..ours.min(helpers.len())] {
        if h.value().is_empty() {
            if h.applies == Applies::All {
                order
                    .resets_before
                    .push((h.clone(), std::mem::take(&mut list)));
            }
        } else {
            list.push(h.clone());
        }
    }
    order.before = list;
    order.reset_after = helpers
        .iter()
        .skip(ours + 1)
        .find(|h| h.value().is_empty() && h.applies == Applies::All)
        .cloned();
    order
}

/// Whether a helper value runs gocred (`gocred`, `git-credential-gocred`, or a path to either).
pub(crate) fn is_gocred(value: &str) -> bool {
    let v = value.trim().trim_start_matches('!').trim();
    let first = match v.chars().next() {
        Some(q @ ('\'' | '"')) => v[1..].split(q).next().unwrap_or(""),
        _ => v.split_whitespace().next().unwrap_or(""),
    };
    let name = first.rsplit(['/', '\\']).next().unwrap_or("");
    matches!(
        name.strip_suffix(".exe").unwrap_or(name),
        "gocred" | "git-credential-gocred"
    ) || v == "gocred"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn e(key: &str, value: &str) -> ConfigEntry {
        ConfigEntry {
            scope: "global".into(),
            file: PathBuf::from("/h/.gitconfig"),
            key: key.into(),
            value: Some(value.into()),
        }
    }

    #[test]
    fn url_matching_follows_git() {
        let a = |u: &str| applies(u, "git.corp.test", 443, "");
        assert_eq!(a("https://git.corp.test"), Applies::All);
        assert_eq!(a("https://GIT.corp.test/"), Applies::All);
        assert_eq!(a("https://git.corp.test:443"), Applies::All);
        assert_eq!(a("https://*.corp.test"), Applies::All);
        assert_eq!(a("git.corp.test"), Applies::All);
        assert_eq!(a("https://"), Applies::All);
        assert_eq!(a("https://git.corp.test/team"), Applies::Some);
        assert_eq!(a("http://git.corp.test"), Applies::No);
        assert_eq!(a("https://git.corp.test:8443"), Applies::No);
        assert_eq!(a("https://*.test"), Applies::No, "one label only");
        assert_eq!(a("https://corp.test"), Applies::No);
        assert_eq!(a("https://alice@git.corp.test"), Applies::No);
        assert_eq!(a("https://other.example"), Applies::No);
        let p = |u: &str| applies(u, "github.com", 443, "acme");
        assert_eq!(p("https://github.com/acme"), Applies::All);
        assert_eq!(p("https://github.com/acme/lib"), Applies::Some);
        assert_eq!(p("https://github.com/acmex"), Applies::No);
    }

    #[test]
    fn full_urls_match_like_git() {
        let m = url_matches;
        assert!(m("https://git.corp.test", "https://git.corp.test/a"));
        assert!(m("https://git.corp.test:443/", "https://git.corp.test/a"));
        assert!(!m("https://git.corp.test:8443", "https://git.corp.test/a"));
        assert!(!m("http://git.corp.test", "https://git.corp.test/a"));
        assert!(m("http://git.corp.test", "http://git.corp.test:80/a"));
        assert!(m("git.corp.test", "http://git.corp.test/x"));
        assert!(!m("git.corp.test", "https://git.corp.test:8443/x"));
        assert!(m("https://GIT.corp.test", "https://git.corp.test/x"));
        assert!(m("https://*.corp.test", "https://git.corp.test/x"));
        assert!(m(
            "https://git.corp.test/team",
            "https://git.corp.test/team/lib.git"
        ));
        assert!(!m(
            "https://git.corp.test/tea",
            "https://git.corp.test/team/lib.git"
        ));
        assert!(!m(
            "https://git.corp.test/team/lib.git/x",
            "https://git.corp.test/team/lib.git"
        ));
        assert!(!m("https://alice@git.corp.test", "https://git.corp.test/x"));
        assert!(!m("https://git.corp.test", "not a url"));
    }

    #[test]
    fn order_with_resets() {
        let entries = vec![
            e("credential.helper", "store"),
            e("credential.https://other.example.helper", "cache"),
            e("credential.https://git.corp.test.helper", ""),
            e("credential.https://git.corp.test.helper", "osxkeychain"),
            e("credential.https://git.corp.test.helper", "/bin/gocred"),
            e("credential.https://*.corp.test.usehttppath", "true"),
            e("credential.helper", ""),
        ];
        let hs = helpers_for(&entries, "git.corp.test", 443, "");
        assert_eq!(
            hs.iter().map(Helper::value).collect::<Vec<_>>(),
            ["store", "", "osxkeychain", "/bin/gocred", ""]
        );
        let o = order_around(&hs, 3);
        assert_eq!(o.before.len(), 1);
        assert_eq!(o.before[0].value(), "osxkeychain");
        assert_eq!(o.resets_before.len(), 1);
        assert_eq!(o.resets_before[0].1[0].value(), "store");
        assert!(o.reset_after.is_some());
    }

    #[test]
    fn recognises_gocred() {
        for v in [
            "gocred",
            "/usr/local/bin/gocred",
            "!'/opt/my tools/gocred'",
            "git-credential-gocred",
            "/home/a/.local/bin/gocred --flag",
        ] {
            assert!(is_gocred(v), "{v}");
        }
        for v in [
            "store",
            "cache --timeout 30",
            "/usr/bin/gocredx",
            "manager",
            "",
        ] {
            assert!(!is_gocred(v), "{v}");
        }
    }

    #[test]
    fn splits_credential_keys() {
        assert_eq!(
            split_credential_key("credential.https://a.b.helper"),
            Some((Some("https://a.b"), "helper"))
        );
        assert_eq!(
            split_credential_key("credential.helper"),
            Some((None, "helper"))
        );
        assert_eq!(split_credential_key("url.x.insteadof"), None);
    }
}
