//! The git config keys and values gocred writes, checked before git sees them.
//!
//! A host goes into a key only if it matches
//! `^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`, because
//! `git -c` and hand-built keys split at the first `=` (`github.com:443.helper=!cmd` would add a
//! helper). Values never hold CR, LF, NUL or other control characters (CVE-2025-48384).

use crate::error::{Error, Result};

/// `section.sub.section.name` with section and name lower-cased (git's own key identity).
pub(crate) fn normalise_key(key: &str) -> String {
    match (key.find('.'), key.rfind('.')) {
        (Some(first), Some(last)) if first < last => format!(
            "{}{}{}",
            key[..first].to_ascii_lowercase(),
            &key[first..last],
            key[last..].to_ascii_lowercase()
        ),
        _ => key.to_ascii_lowercase(),
    }
}

/// The section of a key: (`section` lower-cased, `subsection` as written); the part before the
/// name. Entries with equal sections live in the same `[section "subsection"]`.
pub(crate) fn section_of(key: &str) -> (String, String) {
    let head = key.rsplit_once('.').map_or(key, |(h, _)| h);
    match head.split_once('.') {
        Some((s, sub)) => (s.to_ascii_lowercase(), sub.to_string()),
        None => (head.to_ascii_lowercase(), String::new()),
    }
}

/// The module docs' pattern: `^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`,
/// plus a port in 1..=65535. Checked on the exact string that goes into a key.
pub(crate) fn is_valid_host(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let port_ok = |p: &str| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    };
    !name.is_empty() && name.split('.').all(label_ok) && port.is_none_or(port_ok)
}

/// `https://<host>` for a `credential.<url>.*` key. `host` may start with `*.` (git's one-label
/// wildcard); the rest must pass [`is_valid_host`]. Upper case is folded first (hosts are
/// case-insensitive for git).
pub(crate) fn credential_url(host: &str) -> Result<String> {
    let lower = host.to_ascii_lowercase();
    let rest = lower.strip_prefix("*.").unwrap_or(&lower);
    if !is_valid_host(rest) {
        return Err(Error::with_hint(
            format!(
                "refusing to write git config for host `{}`: not a plain host name[:port]",
                crate::protocol::escape_for_display(host)
            ),
            "a host may hold only a-z, 0-9, '-', dots between labels and a :port",
        ));
    }
    Ok(format!("https://{lower}"))
}

/// `credential.<url>.helper`.
pub(crate) fn helper_key(url: &str) -> String {
    format!("credential.{url}.helper")
}

/// `credential.<url>.useHttpPath`.
pub(crate) fn use_http_path_key(url: &str) -> String {
    format!("credential.{url}.useHttpPath")
}

/// `url.<base>.insteadOf`.
pub(crate) fn instead_of_key(base: &str) -> String {
    format!("url.{base}.insteadOf")
}

/// A key we build: no control characters anywhere, a section and a name around it.
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.chars().any(|c| c.is_control()) || !key.contains('.') || key.starts_with('-') {
        return Err(Error::other(format!(
            "refusing git config key `{}`",
            crate::protocol::escape_for_display(key)
        )));
    }
    Ok(())
}

/// A value we write: never CR/LF/NUL or other control characters (CVE-2025-48384).
pub(crate) fn check_value(value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::other(format!(
            "refusing to write a git config value with a control character: `{}`",
            crate::protocol::escape_for_display(value)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r3_9_host_pattern() {
        for ok in [
            "github.com",
            "git.corp.test",
            "a",
            "a-b.c1",
            "git.corp.test:8443",
            "127.0.0.1",
            "x:1",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "github.com:443.helper=!cmd",
            "GitHub.com",
            "-a.com",
            "a-.com",
            "a..com",
            ".a.com",
            "a.com.",
            "a.com:",
            "a.com:0",
            "a.com:65536",
            "a.com:123456",
            "a.com\r",
            "a.com\n[core]",
            "a_b.com",
            "a b.com",
            "a.com/x",
            "user@a.com",
            "[::1]",
            "*.a.com",
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn credential_urls_refuse_injection() {
        assert_eq!(
            credential_url("Git.Corp.Test").unwrap(),
            "https://git.corp.test"
        );
        assert_eq!(
            credential_url("*.corp.test").unwrap(),
            "https://*.corp.test"
        );
        assert_eq!(
            credential_url("git.corp.test:8443").unwrap(),
            "https://git.corp.test:8443"
        );
        for bad in [
            "github.com:443.helper=!cmd",
            "github.com\nhelper=!cmd",
            "github.com\r",
            "*.*.corp.test",
            "*",
            "a.com helper",
            "evil.com\u{0}",
        ] {
            let e = credential_url(bad).unwrap_err().to_string();
            assert!(e.contains("refusing"), "{bad:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
        }
    }

    #[test]
    fn values_and_keys_without_control_characters() {
        assert!(check_value("/usr/bin/gocred").is_ok());
        assert!(check_value("a\nb").is_err());
        assert!(check_value("a\rb").is_err());
        assert!(check_value("a\0b").is_err());
        assert!(check_key("credential.https://a.com.helper").is_ok());
        assert!(check_key("credential.https://a.com\n.helper").is_err());
        assert!(check_key("--add").is_err());
    }

    #[test]
    fn key_identity() {
        assert_eq!(
            normalise_key("credential.https://Git.Corp.useHttpPath"),
            "credential.https://Git.Corp.usehttppath"
        );
        assert_eq!(normalise_key("Core.SshCommand"), "core.sshcommand");
    }
}
