//! Reads what Go writes to a GOAUTH command's stdin on the retry call: the 4xx response's status
//! line and headers, then a blank line (`writeResponseToStdin`, docs/protocols/goauth.md).
//!
//! Every byte of it comes from the server that just refused Go, so it is hostile until checked.
//! Nothing in it chooses a credential: the URL on the command line and the rules do that. It
//! only has to be what Go writes — bounded in size, text without NUL/CR/control characters, a
//! status line `HTTP/x.y 4xx reason`, `Name: value` headers, one blank line, then the end.
//! Anything else means the input is not Go's, and `goauth` answers nothing.

use std::io::Read;

use super::GoauthError;

/// The whole response (Go sends headers only, no body).
pub(crate) const MAX_CHALLENGE: usize = 64 * 1024;
/// One line, without its LF.
pub(crate) const MAX_CHALLENGE_LINE: usize = 8 * 1024;
/// Header lines (Go joins repeated headers into one line).
pub(crate) const MAX_CHALLENGE_HEADERS: usize = 256;

/// What was read: enough for a diagnostic, nothing to route on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub status: u16,
    pub headers: usize,
}

fn bad(why: impl Into<String>) -> GoauthError {
    GoauthError::BadChallenge(why.into())
}

/// Reads and validates the response. Empty input (a person running the retry form by hand,
/// stdin from /dev/null) is `None`.
pub(crate) fn read_challenge(input: impl Read) -> Result<Option<Challenge>, GoauthError> {
    let mut buf = Vec::new();
    input
        .take(MAX_CHALLENGE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.len() > MAX_CHALLENGE {
        return Err(bad(format!("larger than {MAX_CHALLENGE} bytes")));
    }
    if buf.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    if buf.contains(&b'\r') {
        return Err(bad("contains a carriage return (Go writes LF only)"));
    }
    let text = std::str::from_utf8(&buf).map_err(|_| bad("is not UTF-8 text"))?;
    let mut lines = text.split_inclusive('\n').enumerate();
    let mut status = None;
    let mut headers = 0;
    let mut ended = false;
    for (i, raw) in lines.by_ref() {
        let n = i + 1;
        let line = raw
            .strip_suffix('\n')
            .ok_or_else(|| bad(format!("line {n} has no line feed (truncated)")))?;
        if line.len() > MAX_CHALLENGE_LINE {
            return Err(bad(format!(
                "line {n} is longer than {MAX_CHALLENGE_LINE} bytes"
            )));
        }
        if status.is_none() {
            status = Some(parse_status(line)?);
            continue;
        }
        if line.is_empty() {
            ended = true;
            break;
        }
        check_header(line, n)?;
        headers += 1;
        if headers > MAX_CHALLENGE_HEADERS {
            return Err(bad(format!(
                "more than {MAX_CHALLENGE_HEADERS} header lines"
            )));
        }
    }
    if !ended {
        return Err(bad("no blank line after the headers (truncated)"));
    }
    if lines.next().is_some() {
        return Err(bad("data after the blank line that ends the response"));
    }
    Ok(Some(Challenge {
        status: status.expect("set on the first line"),
        headers,
    }))
}

/// `HTTP/<d>.<d> <4xx>[ <reason>]` — Go writes `res.Proto + " " + res.Status`.
fn parse_status(line: &str) -> Result<u16, GoauthError> {
    let shape = || bad("line 1 is not an HTTP status line (`HTTP/1.1 401 Unauthorized`)");
    let (proto, status) = line.split_once(' ').ok_or_else(shape)?;
    let version = proto.strip_prefix("HTTP/").ok_or_else(shape)?.as_bytes();
    if !(version.len() == 3
        && version[0].is_ascii_digit()
        && version[1] == b'.'
        && version[2].is_ascii_digit())
    {
        return Err(shape());
    }
    let (code, reason) = status.split_once(' ').unwrap_or((status, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(shape());
    }
    if reason.chars().any(char::is_control) {
        return Err(bad("the status line holds a control character"));
    }
    let code: u16 = code.parse().map_err(|_| shape())?;
    if !(400..500).contains(&code) {
        return Err(bad(format!(
            "status {code} is not a 4xx (Go re-runs GOAUTH commands only after a 4xx)"
        )));
    }
    Ok(code)
}

/// `Name: value`: an HTTP token, `": "`, a value without control characters other than tab.
fn check_header(line: &str, n: usize) -> Result<(), GoauthError> {
    let (name, value) = line
        .split_once(": ")
        .or_else(|| line.strip_suffix(':').map(|name| (name, "")))
        .ok_or_else(|| bad(format!("line {n} is not a `Name: value` header line")))?;
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(tchar) {
        return Err(bad(format!(
            "line {n}: the header name is not an HTTP token"
        )));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad(format!(
            "line {n}: the header value holds a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &[u8]) -> Result<Option<Challenge>, GoauthError> {
        read_challenge(s)
    }

    const GO: &str = "HTTP/1.1 401 Unauthorized\nContent-Length: 19\n\
                      Content-Type: text/plain; charset=utf-8\n\
                      Date: Thu, 07 Nov 2024 18:43:09 GMT\n\
                      Www-Authenticate: Basic realm=\"git.corp.test\"\n\n";

    #[test]
    fn what_go_writes_is_accepted() {
        assert_eq!(
            read(GO.as_bytes()).unwrap(),
            Some(Challenge {
                status: 401,
                headers: 4
            })
        );
        assert_eq!(read(b"").unwrap(), None);
        for ok in [
            "HTTP/2.0 403 Forbidden\n\n",
            "HTTP/1.1 404\n\n",
            "HTTP/1.1 407 Proxy Authentication Required\nX-Empty: \nX-Tab: a\tb\n\n",
            "HTTP/1.1 401 Unauthorized\nX-Utf8: caf\u{e9}\n\n",
        ] {
            assert!(read(ok.as_bytes()).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn hostile_input_is_refused() {
        let huge_line = format!("HTTP/1.1 401 x\nX: {}\n\n", "a".repeat(MAX_CHALLENGE_LINE));
        let many = format!(
            "HTTP/1.1 401 x\n{}\n",
            "X: 1\n".repeat(MAX_CHALLENGE_HEADERS + 1)
        );
        let big = format!(
            "HTTP/1.1 401 x\n{}\n",
            "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".repeat(5000)
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"HTTP/1.1 401 Unauthorized\r\n\r\n".to_vec(), "carriage return"),
            (b"HTTP/1.1 401 Unauthorized\nX: a\rb\n\n".to_vec(), "carriage return"),
            (b"HTTP/1.1 401 Unauthorized\nX: a\0b\n\n".to_vec(), "NUL"),
            (b"HTTP/1.1 401 \xff\xfe\n\n".to_vec(), "UTF-8"),
            (b"HTTP/1.1 401 Unauthorized\nX: \x1b[2J\n\n".to_vec(), "control"),
            (b"HTTP/1.1 401 Un\x1bauth\n\n".to_vec(), "control"),
            (b"HTTP/1.1 401 Unauthorized\n\nhttps://evil.example/\n\nAuthorization: Basic eA==\n\n".to_vec(), "after the blank line"),
            (b"HTTP/1.1 401 Unauthorized\nX: 1\n".to_vec(), "truncated"),
            (b"HTTP/1.1 401 Unauthorized".to_vec(), "truncated"),
            (b"HTTP/1.1 200 OK\n\n".to_vec(), "not a 4xx"),
            (b"HTTP/1.1 500 Oops\n\n".to_vec(), "not a 4xx"),
            (b"https://evil.example/\n\n".to_vec(), "status line"),
            (b"HTTP/1.1 4O1 x\n\n".to_vec(), "status line"),
            (b"HTTP/11 401 x\n\n".to_vec(), "status line"),
            (b"\n".to_vec(), "status line"),
            (b"HTTP/1.1 401 x\nBad Name: v\n\n".to_vec(), "token"),
            (b"HTTP/1.1 401 x\nNoColon\n\n".to_vec(), "Name: value"),
            (huge_line.into_bytes(), "longer than"),
            (many.into_bytes(), "more than"),
            (big.into_bytes(), "larger than"),
            (vec![b'A'; 10 * 1024 * 1024], "larger than"),
        ];
        for (input, needle) in cases {
            let e = read(&input).unwrap_err().to_string();
            assert!(
                e.contains(needle),
                "{:?}: {e}",
                String::from_utf8_lossy(&input[..input.len().min(60)])
            );
        }
    }
}
