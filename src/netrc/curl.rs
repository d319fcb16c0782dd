//! libcurl 7.88's `.netrc` reader (what git 2.47 on Debian 12 uses), modelled on
//! curl:lib/netrc.c and lib/curl_get_line.c at curl-7_88_1 (spec §2.7).
//!
//! curl does not build a list: it looks up one host. Lines come from a 4096-byte `fgets` buffer;
//! a longer line is skipped whole, and so is a line holding a NUL byte together with the line
//! after it; a last line without `\n` gets one. Within a line, blanks separate tokens; a token
//! starting with `#` ends the line (a comment); a token starting with `"` is quoted, with `\n`,
//! `\r`, `\t` and `\<any>` escapes, and an unterminated quote fails the whole file (git then fails
//! the request: ".netrc parser error"). Keywords are case-insensitive and span lines; `machine`
//! is compared to the host name case-insensitively, without port; `default` matches any host;
//! `macdef` skips lines up to one starting with `\n` or `\r`. The first login+password found for
//! the host wins.
//!
//! `tests/netrc_models.rs` checks this model against the real curl 7.88.1 binary.

/// What curl finds for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A `machine` (or `default`) matched; login/password as found (either may be missing).
    Match {
        login: Option<Vec<u8>>,
        password: Option<Vec<u8>>,
    },
    NoMatch,
    /// The file does not parse (unterminated quote): curl fails the transfer.
    SyntaxError,
}

const BUFFER: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Nothing,
    HostFound,
    HostValid,
    Macdef,
}

/// The entry curl uses for a request to `host` (a host name; curl ignores the port).
pub fn lookup(data: &[u8], host: &str) -> Lookup {
    let mut state = State::Nothing;
    let mut matched = false;
    let (mut login, mut password): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let (mut want_login, mut want_password) = (false, false);
    let mut done = false;
    for line in lines(data) {
        if done {
            break;
        }
        if state == State::Macdef {
            if line[0] == b'\n' || line[0] == b'\r' {
                state = State::Nothing;
            } else {
                continue;
            }
        }
        let lexed = lex_line(&line, &mut |tok| {
            let set = |v: &Option<Vec<u8>>| v.as_ref().is_some_and(|v| !v.is_empty());
            if set(&login) && set(&password) {
                done = true;
                return false;
            }
            match state {
                State::Nothing => {
                    if tok.eq_ignore_ascii_case(b"macdef") {
                        state = State::Macdef;
                    } else if tok.eq_ignore_ascii_case(b"machine") {
                        state = State::HostFound;
                    } else if tok.eq_ignore_ascii_case(b"default") {
                        state = State::HostValid;
                        matched = true;
                    }
                }
                State::Macdef => {
                    if tok.is_empty() {
                        state = State::Nothing;
                    }
                }
                State::HostFound => {
                    if tok.eq_ignore_ascii_case(host.as_bytes()) {
                        state = State::HostValid;
                        matched = true;
                    } else {
                        state = State::Nothing;
                    }
                }
                State::HostValid => {
                    if want_login {
                        login = Some(tok.to_vec());
                        want_login = false;
                    } else if want_password {
                        password = Some(tok.to_vec());
                        want_password = false;
                    } else if tok.eq_ignore_ascii_case(b"login") {
                        want_login = true;
                    } else if tok.eq_ignore_ascii_case(b"password") {
                        want_password = true;
                    } else if tok.eq_ignore_ascii_case(b"machine") {
                        state = State::HostFound;
                    }
                }
            }
            true
        });
        if lexed.is_err() {
            return Lookup::SyntaxError;
        }
    }
    if matched {
        Lookup::Match { login, password }
    } else {
        Lookup::NoMatch
    }
}

/// Every token curl's lexer produces on any line (quotes decoded; lines with a bad quote are
/// cut there). For "is this token still in the file?" checks, not for lookups.
pub fn tokens(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in lines(data) {
        let _ = lex_line(&line, &mut |tok| {
            out.push(tok.to_vec());
            true
        });
    }
    out
}

/// The lines `Curl_get_line` hands to the parser, each ending in `\n`.
fn lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (mut pos, mut partial, mut eof) = (0, false, false);
    while pos < data.len() {
        // fgets: up to BUFFER-1 bytes, through the first '\n'. EOF is flagged only when it
        // tried to read past the end of the data.
        let rest = &data[pos..];
        let take = match rest.iter().take(BUFFER - 1).position(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None => {
                let take = rest.len().min(BUFFER - 1);
                eof |= take < BUFFER - 1;
                take
            }
        };
        let chunk = &rest[..take];
        pos += take;
        // The C code measures the chunk with strlen: a NUL byte ends it.
        let rlen = chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len());
        if rlen == 0 {
            break;
        }
        if chunk[rlen - 1] == b'\n' {
            if partial {
                partial = false;
                continue;
            }
            out.push(chunk[..rlen].to_vec());
        } else if eof {
            if partial || rlen + 1 >= BUFFER {
                break;
            }
            let mut line = chunk[..rlen].to_vec();
            line.push(b'\n');
            out.push(line);
        } else {
            partial = true;
        }
    }
    out
}

/// curl's ISSPACE.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Splits one line into tokens as parsenetrc does, calling `each` until it returns false.
/// After each token exactly one byte is skipped (the C code's `tok = ++tok_end`), which is how an
/// empty token appears before a `\n` that follows a blank or `\r`.
fn lex_line(line: &[u8], each: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), ()> {
    let n = line.len();
    let mut i = 0;
    loop {
        while i < n && (line[i] == b' ' || line[i] == b'\t') {
            i += 1;
        }
        if i >= n || line[i] == b'#' {
            return Ok(());
        }
        let (tok, end): (Vec<u8>, usize) = if line[i] == b'"' {
            let (mut j, mut store) = (i + 1, Vec::new());
            let (mut escape, mut closed) = (false, false);
            while j < n {
                let mut s = line[j];
                if escape {
                    escape = false;
                    s = match s {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        other => other,
                    };
                } else if s == b'\\' {
                    escape = true;
                    j += 1;
                    continue;
                } else if s == b'"' {
                    j += 1;
                    closed = true;
                    break;
                }
                store.push(s);
                j += 1;
            }
            if escape || !closed {
                return Err(());
            }
            (store, j)
        } else {
            let mut j = i;
            while j < n && !is_space(line[j]) {
                j += 1;
            }
            (line[i..j].to_vec(), j)
        };
        if !each(&tok) {
            return Ok(());
        }
        i = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(login: &str, password: &str) -> Lookup {
        Lookup::Match {
            login: Some(login.into()),
            password: Some(password.into()),
        }
    }

    #[test]
    fn basic_and_case_insensitive() {
        assert_eq!(lookup(b"machine a login u password p\n", "a"), m("u", "p"));
        assert_eq!(lookup(b"MACHINE A LOGIN u PASSWORD p", "a"), m("u", "p"));
        assert_eq!(
            lookup(b"machine a login u password p\n", "b"),
            Lookup::NoMatch
        );
        assert_eq!(
            lookup(b"machine a\nlogin u\n  password p\n", "a"),
            m("u", "p"),
            "free-form across lines"
        );
    }

    #[test]
    fn comments_quotes_and_default() {
        assert_eq!(
            lookup(
                b"# machine a login x password y\nmachine a login u password p\n",
                "a"
            ),
            m("u", "p")
        );
        assert_eq!(
            lookup(b"machine a login u #password p\n", "a"),
            Lookup::Match {
                login: Some(b"u".to_vec()),
                password: None
            }
        );
        assert_eq!(
            lookup(b"machine a login u password \"p w\\\"\\n\"\n", "a"),
            m("u", "p w\"\n")
        );
        assert_eq!(
            lookup(b"machine a login u password \"p\n", "a"),
            Lookup::SyntaxError
        );
        assert_eq!(lookup(b"default login d password e\n", "zzz"), m("d", "e"));
        assert_eq!(
            lookup(
                b"machine a login u password p\ndefault login d password e\n",
                "a"
            ),
            m("u", "p")
        );
    }

    #[test]
    fn first_login_password_wins() {
        assert_eq!(
            lookup(
                b"machine a login u password p\nmachine a login v password q\n",
                "a"
            ),
            m("u", "p")
        );
    }

    #[test]
    fn macdef_and_long_lines() {
        assert_eq!(
            lookup(
                b"macdef x\nmachine a login u password p\n\nmachine b login v password q\n",
                "a"
            ),
            Lookup::NoMatch
        );
        let long = format!("machine a login u password {}\n", "x".repeat(5000));
        assert_eq!(
            lookup(long.as_bytes(), "a"),
            Lookup::NoMatch,
            "skipped whole"
        );
        assert_eq!(
            lookup(b"machine a login u password p", "a"),
            m("u", "p"),
            "no final newline"
        );
    }

    #[test]
    fn crlf_gives_empty_tokens() {
        // "machine\r\n" then the host on the next line: the empty token before '\n' is taken
        // as the host name, so nothing matches.
        assert_eq!(
            lookup(b"machine\r\na login u password p\r\n", "a"),
            Lookup::NoMatch
        );
        assert_eq!(
            lookup(b"machine a login u password p\r\n", "a"),
            m("u", "p")
        );
    }

    #[test]
    fn tokens_decode_quotes() {
        assert_eq!(
            tokens(b"a \"b c\"\n#x\n"),
            vec![b"a".to_vec(), b"b c".to_vec()]
        );
    }
}
