//! The secrets this process has sent somewhere, so that no text a server (or a config) hands back
//! can show them again.
//!
//! Part of [`crate::http`]. Shape rules (`ghs_…`, a JWT, a long run of token characters) miss a
//! short token, or one glued to other words (`token:ghs_…`, `jwt1,jwt2`). So every secret
//! gocred puts into a request is *registered* here by the request builder itself (a request
//! cannot carry a secret any other way), and every piece of server text that may reach a message
//! is passed through [`redact`] first. A secret is looked for in each form a server could echo:
//! as sent, JSON-escaped, and base64 (standard and URL-safe alphabets, alone or inside the
//! encoding of `user:secret` for Basic, at any alignment) — each of them also when some or all
//! of its bytes are percent-encoded. `doctor` registers what it sends and reads the same way.
//!
//! The registry is process-wide and bounded: a long-lived `ci exec` registers a few tokens per
//! job; the oldest forms are dropped past [`MAX_FORMS`]. Forms are held zeroized on drop.

use std::sync::Mutex;

use base64::Engine as _;
use secrecy::zeroize::Zeroizing;

use crate::secret::{ExposeSecret, SecretString};

/// What replaces a secret in any text shown.
pub(crate) const MARK: &str = "[redacted]";

/// Forms kept at most (a few per secret).
const MAX_FORMS: usize = 1024;

/// Shorter values are not looked for: a one- or two-letter "password" would turn every word that
/// contains it into a mark, and no token service issues tokens that short.
const MIN_LEN: usize = 4;

static KNOWN: Mutex<Vec<Zeroizing<String>>> = Mutex::new(Vec::new());

/// Remembers `secret` (and the forms a server may echo it in) for [`redact`].
pub(crate) fn register(secret: &SecretString) {
    register_str(secret.expose_secret());
}

/// Remembers the Basic credential `user:secret`, its base64, and the secret alone.
pub(crate) fn register_basic(user: &str, secret: &SecretString) {
    let pair = Zeroizing::new(format!("{user}:{}", secret.expose_secret()));
    register_str(&pair);
    register_str(secret.expose_secret());
}

/// Remembers a header value: the whole value and, for `Basic`/`Bearer`, the credential in it
/// (for Basic also the password the base64 carries).
pub(crate) fn register_header_value(value: &SecretString) {
    let v = value.expose_secret();
    register_str(v);
    let Some((scheme, cred)) = v.split_once(' ') else {
        return;
    };
    register_str(cred);
    if scheme.eq_ignore_ascii_case("basic") {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cred.trim()) {
            let raw = Zeroizing::new(raw);
            if let Ok(pair) = std::str::from_utf8(&raw) {
                register_str(pair);
                if let Some((_, pw)) = pair.split_once(':') {
                    register_str(pw);
                }
            }
        }
    }
}

fn register_str(s: &str) {
    if s.len() < MIN_LEN {
        return;
    }
    let mut forms: Vec<Zeroizing<String>> = Vec::with_capacity(8);
    let mut add = |f: String| {
        let f = Zeroizing::new(f);
        if f.len() >= MIN_LEN && !forms.iter().any(|g| **g == *f) {
            forms.push(f);
        }
    };
    add(s.to_string());
    // JSON string escaping (a server quoting the request body back).
    if let Ok(j) = serde_json::to_string(s) {
        add(j.trim_matches('"').to_string());
    }
    for core in base64_cores(s.as_bytes()) {
        let url = core.replace('+', "-").replace('/', "_");
        add(url);
        add(core.to_string());
    }
    let Ok(mut known) = KNOWN.lock() else { return };
    for f in forms {
        if !known.iter().any(|k| **k == *f) {
            known.push(f);
        }
    }
    let excess = known.len().saturating_sub(MAX_FORMS);
    known.drain(..excess);
}

/// The part of the base64 encoding of any text containing `s` that depends on `s` alone, for
/// each of the three alignments `s` can have inside that text: `s` by itself, `user:s` in a
/// Basic header, `s:x-oauth-basic`, all contain one of these three strings.
fn base64_cores(s: &[u8]) -> Vec<Zeroizing<String>> {
    let mut out = Vec::with_capacity(3);
    for k in 0..3usize {
        let mut buf = Zeroizing::new(vec![0u8; k]);
        buf.extend_from_slice(s);
        let enc = Zeroizing::new(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&*buf));
        // Skip the first group when it mixes in bytes before `s`, and a last partial group
        // (it mixes in bytes after `s`).
        let start = if k > 0 { 4 } else { 0 };
        let end = 4 * ((k + s.len()) / 3);
        if end > start {
            out.push(Zeroizing::new(enc[start..end].to_string()));
        }
    }
    out
}

/// `text` with every registered secret, in any of its forms, replaced by [`MARK`]. Longest
/// forms first, so a secret inside a longer form is not half-replaced. A form is found even
/// when some or all of its bytes are percent-encoded (`%2E`, `%2e`, `+` for a space).
pub(crate) fn redact(text: &str) -> String {
    let Ok(known) = KNOWN.lock() else {
        // A poisoned registry cannot vouch for anything: show nothing.
        return MARK.to_string();
    };
    if known.is_empty() {
        return text.to_string();
    }
    let mut forms: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for f in forms {
        out = replace_encoded(&out, f.as_bytes());
    }
    out
}

/// Every occurrence of `needle` in `hay`, byte for byte or percent-encoded, replaced by [`MARK`].
fn replace_encoded(hay: &str, needle: &[u8]) -> String {
    let h = hay.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(h.len());
    let mut i = 0;
    while i < h.len() {
        match match_at(h, i, needle) {
            Some(end) => {
                out.extend_from_slice(MARK.as_bytes());
                i = end;
            }
            None => {
                out.push(h[i]);
                i += 1;
            }
        }
    }
    // Only whole ASCII runs are replaced, so the result is still UTF-8; be safe anyway.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The end of `needle` matched at `h[i..]`, each byte literal or as `%XX`.
fn match_at(h: &[u8], mut i: usize, needle: &[u8]) -> Option<usize> {
    for &b in needle {
        if h.get(i) == Some(&b) {
            i += 1;
        } else if h.get(i) == Some(&b'%')
            && h.get(i + 1..i + 3)
                .and_then(|x| std::str::from_utf8(x).ok())
                .and_then(|x| u8::from_str_radix(x, 16).ok())
                == Some(b)
        {
            i += 3;
        } else if b == b' ' && h.get(i) == Some(&b'+') {
            i += 1;
        } else {
            return None;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn every_form_of_a_registered_secret_is_redacted() {
        let s = secret("s3cr:t/+tok-unit-redact".into());
        register(&s);
        register_basic("x-access-token", &secret("pw-unit-basic".into()));
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr:t/+tok-unit-redact");
        let url =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("s3cr:t/+tok-unit-redact");
        let basic =
            base64::engine::general_purpose::STANDARD.encode("x-access-token:pw-unit-basic");
        let b64_in_pair =
            base64::engine::general_purpose::STANDARD.encode("oauth2:s3cr:t/+tok-unit-redact");
        let text = format!(
            "token:s3cr:t/+tok-unit-redact, {b64} {url} s3cr%3At%2F%2Btok-unit-redact \
             s3cr%3at%2f%2btok%2Dunit%2dredact Basic {basic} pw-unit-basic,pw-unit-basic \
             {b64_in_pair}"
        );
        let r = redact(&text);
        for leak in [
            "s3cr",
            "tok-unit",
            "tok%2Dunit",
            &b64,
            &url,
            &basic,
            "pw-unit-basic",
        ] {
            assert!(!r.contains(leak), "{leak} in {r}");
        }
        assert!(r.starts_with("token:[redacted], "), "{r}");
        // Of `oauth2:<secret>` at most the bytes around the secret's edges survive.
        assert!(!r.contains(&b64_in_pair[8..24]), "{r}");
        assert_eq!(redact("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn header_values_register_the_credential_inside() {
        let h = crate::secret::basic_auth("u", &secret("hdr-unit-pw".into()));
        register_header_value(&h);
        assert_eq!(redact("echo hdr-unit-pw"), "echo [redacted]");
        register_header_value(&secret("Bearer brr-unit-tok".into()));
        assert_eq!(redact("got brr-unit-tok!"), "got [redacted]!");
    }
}
