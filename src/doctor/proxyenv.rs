//! Which HTTPS proxy Go and git use for a host, each with its own rules (pure).
//!
//! Go (golang.org/x/net/http/httpproxy): the first non-empty of `HTTPS_PROXY`, `https_proxy`;
//! the first non-empty of `NO_PROXY`, `no_proxy`; `localhost` and loopback IPs never use a proxy;
//! a NO_PROXY entry `corp.test` matches the host and its subdomains, `.corp.test` and
//! `*.corp.test` only subdomains, `*` everything, an optional `:port` must match.
//! git (libcurl): `http.proxy` from git config first, else `https_proxy`, `HTTPS_PROXY`,
//! `all_proxy`, `ALL_PROXY`; `no_proxy` before `NO_PROXY`; an entry matches the host or a
//! subdomain, with or without a leading dot.
//! The difference matters: a NO_PROXY entry that sends Go direct can make a name that only the
//! proxy can resolve look like a DNS failure.

use super::http::Proxy;
use crate::secret::secret;
use crate::settings::Env;

/// Which variable chose the proxy and which entry (if any) excluded the host.
#[derive(Debug, Clone)]
pub(crate) struct ProxyChoice {
    pub proxy: Option<Proxy>,
    /// `HTTPS_PROXY` / `https_proxy` / `http.proxy` that named the proxy.
    pub proxy_var: Option<&'static str>,
    /// The NO_PROXY variable and entry that sent this host direct although a proxy is set.
    pub bypassed_by: Option<(&'static str, String)>,
    pub problem: Option<String>,
}

fn first_set<'a>(env: &'a Env, names: &[&'static str]) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|n| env.get(n).map(|v| (*n, v)))
}

/// Go's choice for `https://host:port`.
pub(crate) fn go_choice(env: &Env, host: &str, port: u16) -> ProxyChoice {
    let proxy = first_set(env, &["HTTPS_PROXY", "https_proxy"]);
    let no_proxy = first_set(env, &["NO_PROXY", "no_proxy"]);
    choose(proxy, no_proxy, host, port, go_no_proxy_entry)
}

/// git's choice; `http_proxy_config` is `git config --get-urlmatch http.proxy <url>`.
pub(crate) fn git_choice(
    env: &Env,
    http_proxy_config: Option<&str>,
    host: &str,
    port: u16,
) -> ProxyChoice {
    let proxy = match http_proxy_config.filter(|v| !v.is_empty()) {
        Some(v) => Some(("http.proxy", v)),
        None => first_set(
            env,
            &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        ),
    };
    let no_proxy = first_set(env, &["no_proxy", "NO_PROXY"]);
    choose(proxy, no_proxy, host, port, curl_no_proxy_entry)
}

fn choose(
    proxy: Option<(&'static str, &str)>,
    no_proxy: Option<(&'static str, &str)>,
    host: &str,
    port: u16,
    matcher: fn(&str, &str, u16) -> Option<String>,
) -> ProxyChoice {
    let mut c = ProxyChoice {
        proxy: None,
        proxy_var: None,
        bypassed_by: None,
        problem: None,
    };
    let Some((var, raw)) = proxy else {
        return c;
    };
    if host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    {
        return c;
    }
    if let Some((nvar, list)) = no_proxy {
        if let Some(entry) = matcher(list, host, port) {
            c.bypassed_by = Some((nvar, entry));
            return c;
        }
    }
    match parse_proxy(raw) {
        Ok(p) => {
            c.proxy = Some(p);
            c.proxy_var = Some(var);
        }
        Err(e) => c.problem = Some(format!("{var}: {e}")),
    }
    c
}

/// Parses `http://[user:pass@]host[:port]` (scheme optional, as Go and curl allow).
pub(crate) fn parse_proxy(raw: &str) -> Result<Proxy, String> {
    let rest = match raw.split_once("://") {
        Some(("http", r)) => r,
        Some((s, _)) => {
            return Err(format!(
                "`{s}://` proxies are not checked by doctor (only http:// CONNECT proxies)"
            ))
        }
        None => raw,
    };
    let authority = rest.split('/').next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>()
                .map_err(|_| "bad port in proxy URL".to_string())?,
        ),
        _ => (hostport, 80),
    };
    if host.is_empty() {
        return Err("no host in proxy URL".into());
    }
    // As net/http builds it from the proxy URL's user info: `user:password`, `user:` without one.
    let auth = userinfo.map(|u| {
        let decoded = percent_decode(u);
        let (user, pw) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let pw = secret(pw.to_string());
        crate::http::redact::register_basic(user, &pw);
        crate::secret::basic_auth(user, &pw)
    });
    Ok(Proxy {
        host: host.to_string(),
        port,
        display: format!("http://{host}:{port}"),
        auth,
    })
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The NO_PROXY entry (Go's rules) that matches `host:port`, if any.
fn go_no_proxy_entry(list: &str, host: &str, port: u16) -> Option<String> {
    let host = host.to_ascii_lowercase();
    for raw in list.split(',') {
        let p = raw.trim().to_ascii_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "*" {
            return Some(raw.trim().to_string());
        }
        let (phost, pport) = match p.rsplit_once(':') {
            Some((h, pp)) if !h.is_empty() && pp.bytes().all(|c| c.is_ascii_digit()) => {
                (h.to_string(), Some(pp.to_string()))
            }
            _ => (p.clone(), None),
        };
        if pport.as_deref().is_some_and(|pp| pp != port.to_string()) {
            continue;
        }
        if phost.parse::<std::net::IpAddr>().is_ok() || phost.contains('/') {
            continue; // IP and CIDR entries never match a host name
        }
        let phost = phost.strip_prefix('*').unwrap_or(&phost);
        let (suffix, match_host) = match phost.strip_prefix('.') {
            Some(_) => (phost.to_string(), false),
            None => (format!(".{phost}"), true),
        };
        if host.ends_with(&suffix) || (match_host && host == suffix[1..]) {
            return Some(raw.trim().to_string());
        }
    }
    None
}

/// The no_proxy entry (libcurl 7.88 rules) that matches `host`, if any.
fn curl_no_proxy_entry(list: &str, host: &str, _port: u16) -> Option<String> {
    let host = host.to_ascii_lowercase();
    for raw in list.split([',', ' ']) {
        let p = raw.trim().to_ascii_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "*" {
            return Some(p);
        }
        let p2 = p.strip_prefix('.').unwrap_or(&p);
        if host == p2 || host.ends_with(&format!(".{p2}")) {
            return Some(raw.trim().to_string());
        }
    }
    None
}

/// `list` without the entry `entry` (for a fix that keeps the user's other exclusions).
pub(crate) fn without_entry(list: &str, entry: &str) -> String {
    list.split(',')
        .filter(|e| e.trim() != entry)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn go_rules() {
        let e = env(&[
            ("HTTPS_PROXY", "http://u:p%40ss@127.0.0.1:3128"),
            ("no_proxy", "x"),
        ]);
        let c = go_choice(&e, "git.corp.test", 443);
        let p = c.proxy.unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert_eq!(p.display, "http://127.0.0.1:3128");
        assert!(p.auth.is_some());
        for (np, host, bypass) in [
            ("corp.test", "git.corp.test", true),
            ("corp.test", "corp.test", true),
            (".corp.test", "corp.test", false),
            ("*.corp.test", "git.corp.test", true),
            ("corp.test:8443", "git.corp.test", false),
            ("corp.test:443", "git.corp.test", true),
            ("*", "anything", true),
            ("evilcorp.test", "corp.test", false),
            ("10.0.0.0/8", "git.corp.test", false),
        ] {
            let e = env(&[("HTTPS_PROXY", "127.0.0.1:1"), ("NO_PROXY", np)]);
            assert_eq!(
                go_choice(&e, host, 443).bypassed_by.is_some(),
                bypass,
                "{np} {host}"
            );
        }
        // Loopback never goes through a proxy; an empty NO_PROXY falls to no_proxy.
        let e = env(&[
            ("HTTPS_PROXY", "127.0.0.1:1"),
            ("NO_PROXY", ""),
            ("no_proxy", "corp.test"),
        ]);
        assert!(go_choice(&e, "127.0.0.1", 443).proxy.is_none());
        assert!(go_choice(&e, "git.corp.test", 443).bypassed_by.is_some());
    }

    #[test]
    fn git_prefers_lowercase_and_config() {
        let e = env(&[("HTTPS_PROXY", "http://a:1"), ("https_proxy", "http://b:2")]);
        assert_eq!(git_choice(&e, None, "h.test", 443).proxy.unwrap().host, "b");
        assert_eq!(
            git_choice(&e, Some("c:3"), "h.test", 443)
                .proxy
                .unwrap()
                .host,
            "c"
        );
        assert_eq!(go_choice(&e, "h.test", 443).proxy.unwrap().host, "a");
        assert!(parse_proxy("socks5://x:1").is_err());
    }

    #[test]
    fn removing_an_entry() {
        assert_eq!(
            without_entry("localhost,corp.test,.x", "corp.test"),
            "localhost,.x"
        );
        assert_eq!(without_entry("corp.test", "corp.test"), "");
    }
}
