//! A GOAUTH user command, run as Go runs it (go:cmd/go/internal/auth/userauth.go): argv split
//! with Go's quoting rules, no shell; the request URL appended and the response head on stdin
//! after a 4xx; its output parsed with Go's exact grammar (docs/protocols/goauth.md) — any error voids the
//! whole output. Header values are secrets from the moment they are read.

use std::process::Command;
use std::time::Duration;

use crate::proc;
use crate::secret::{secret, ExposeSecret, SecretString};

pub(crate) type Found = Vec<(Vec<String>, Vec<(String, SecretString)>)>;

/// Runs a GOAUTH user command and parses its output (go:cmd/go/internal/auth/userauth.go).
pub(crate) fn run_command(cmdline: &str, retry: Option<(&str, &str)>) -> Result<Found, String> {
    let words = split_words(cmdline)?;
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..]);
    let mut stdin = Vec::new();
    if let Some((url, head)) = retry {
        cmd.arg(url);
        stdin = head.as_bytes().to_vec();
    }
    let out = proc::run(&mut cmd, &stdin, Duration::from_secs(15))?;
    if !out.ok() {
        return Err(format!("exited with {}", out.status));
    }
    let text = secret(String::from_utf8_lossy(&out.stdout).into_owned());
    parse_user_auth(text.expose_secret())
}

/// Go's `parseUserAuth`: blocks of URL lines, an empty line, header lines, an empty line.
pub(crate) fn parse_user_auth(mut data: &str) -> Result<Found, String> {
    let mut out = Vec::new();
    let next = |d: &mut &str, what: &str| -> Result<String, String> {
        let (line, rest) = d
            .split_once('\n')
            .ok_or(format!("invalid format: missing empty line after {what}"))?;
        *d = rest;
        Ok(line.to_string())
    };
    while !data.is_empty() {
        let mut urls = Vec::new();
        loop {
            let line = next(&mut data, "URLs")?;
            if line.is_empty() {
                break;
            }
            if !line.contains("://") || line.chars().any(|c| c.is_control()) {
                return Err("could not parse a URL line".into());
            }
            urls.push(line.trim_start_matches("https://").to_string());
        }
        let mut headers = Vec::new();
        loop {
            let line = next(&mut data, "headers")?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(": ")
                .ok_or("invalid format: invalid header line")?;
            let value = value.trim();
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token || value.chars().any(|c| c.is_control() && c != '\t') {
                return Err("invalid format: invalid header line".into());
            }
            let value = secret(value.to_string());
            crate::http::redact::register_header_value(&value);
            headers.push((name.to_string(), value));
        }
        out.push((urls, headers));
    }
    Ok(out)
}

/// cmd/internal/quoted.Split: fields separated by spaces, `'…'` and `"…"` group.
pub(crate) fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quote, mut any) = (None, false);
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quoted string".into());
    }
    if any {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("empty command".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_auth_grammar() {
        let ok =
            parse_user_auth("https://a.test/\nhttps://b.test/x\n\nAuthorization: Basic QQ==\n\n")
                .unwrap();
        assert_eq!(ok[0].0, ["a.test/", "b.test/x"]);
        assert_eq!(ok[0].1[0].1.expose_secret(), "Basic QQ==");
        assert!(parse_user_auth("https://a.test/\n\nAuthorization: x\n").is_err());
        assert!(parse_user_auth("https://a.test/\n\nAuthorization:x\n\n").is_err());
        assert!(parse_user_auth("").unwrap().is_empty());
        assert_eq!(split_words("a 'b c' \"d\"").unwrap(), ["a", "b c", "d"]);
        assert!(split_words("a 'b").is_err());
    }
}
