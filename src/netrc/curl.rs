//! libcurl 7.88's `.netrc` reader (what git 2.47 on Debian 12 uses), modelled on
//! curl:lib/netrc.c and lib/curl_get_line.c at curl-7_88_1 (docs/protocols/netrc.md).
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
//! `tests/it/netrc_models.rs` checks this model against the real curl 7.88.1 binary.

use std::borrow::Cow;

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

/// Where the entry curl uses for a host stands in the file (1-based lines), for messages and
/// exact edits (`gocred doctor` names it and offers to delete it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The line of the `machine` (or `default`) keyword that matched.
    pub first_line: usize,
    /// The line of the entry's last token curl read.
    pub last_line: usize,
    /// Matched by `default`, which curl uses for every host.
    pub default: bool,
    /// Lines `first_line..=last_line` hold nothing but this entry (deleting them is exact).
    pub alone: bool,
}

/// The entry curl uses for a request to `host` (a host name; curl ignores the port).
pub fn lookup(data: &[u8], host: &str) -> Lookup {
    locate(data, host).0
}

/// [`lookup`], and where the matching entry stands.
pub fn locate(data: &[u8], host: &str) -> (Lookup, Option<Place>) {
    let mut state = State::Nothing;
    let mut matched = false;
    let (mut login, mut password): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let (mut want_login, mut want_password) = (false, false);
    let mut done = false;
    // Lines of the matched entry, of every token outside it, and of every line read.
    let mut place: Option<Place> = None;
    let mut in_entry = false;
    let mut keyword_line = 0;
    let mut outside: Vec<usize> = Vec::new();
    let mut read: Vec<usize> = Vec::new();
    for (n, line) in lines(data) {
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
        read.push(n);
        let lexed = lex_line(&line, &mut |tok| {
            let set = |v: &Option<Vec<u8>>| v.as_ref().is_some_and(|v| !v.is_empty());
            if set(&login) && set(&password) {
                outside.push(n);
                done = true;
                return false;
            }
            let was_in_entry = in_entry;
            match state {
                State::Nothing => {
                    if tok.eq_ignore_ascii_case(b"macdef") {
                        state = State::Macdef;
                    } else if tok.eq_ignore_ascii_case(b"machine") {
                        state = State::HostFound;
                        keyword_line = n;
                    } else if tok.eq_ignore_ascii_case(b"default") {
                        state = State::HostValid;
                        matched = true;
                        if place.is_none() {
                            (keyword_line, in_entry) = (n, true);
                            place = Some(Place {
                                first_line: n,
                                last_line: n,
                                default: true,
                                alone: false,
                            });
                        }
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
                        if place.is_none() {
                            in_entry = true;
                            place = Some(Place {
                                first_line: keyword_line,
                                last_line: n,
                                default: false,
                                alone: false,
                            });
                        } else {
                            outside.push(keyword_line);
                        }
                    } else {
                        state = State::Nothing;
                        outside.push(keyword_line);
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
                        keyword_line = n;
                        in_entry = false;
                    }
                }
            }
            match (&mut place, was_in_entry && in_entry) {
                (Some(p), true) => p.last_line = n,
                _ if in_entry || state == State::HostFound => {}
                _ => outside.push(n),
            }
            true
        });
        if lexed.is_err() {
            return (Lookup::SyntaxError, None);
        }
    }
    if !matched {
        return (Lookup::NoMatch, None);
    }
    let place = place.map(|mut p| {
        let span = p.first_line..=p.last_line;
        let lines_read = read.iter().filter(|l| span.contains(l)).count();
        p.alone = !outside.iter().any(|l| span.contains(l))
            && lines_read == p.last_line + 1 - p.first_line;
        p
    });
    (Lookup::Match { login, password }, place)
}

/// Every token curl's lexer produces on any line (quotes decoded; lines with a bad quote are
/// cut there). For "is this token still in the file?" checks, not for lookups.
pub fn tokens(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, line) in lines(data) {
        let _ = lex_line(&line, &mut |tok| {
            out.push(tok.to_vec());
            true
        });
    }
    out
}

/// The tokens in the place where curl reads a host name (right after a `machine` keyword, any
/// case), lowercased: the only names a lookup compares the asked host with.
pub fn machine_names(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut after_machine = false;
    for (_, line) in lines(data) {
        let _ = lex_line(&line, &mut |tok| {
            if after_machine {
                out.push(tok.to_ascii_lowercase());
            }
            after_machine = tok.eq_ignore_ascii_case(b"machine");
            true
        });
    }
    out
}

/// The lines `Curl_get_line` hands to the parser, each ending in `\n`, with their 1-based
/// numbers in the file.
fn lines(data: &[u8]) -> Vec<(usize, Cow<'_, [u8]>)> {
    let mut out = Vec::new();
    let (mut pos, mut partial, mut eof) = (0, false, false);
    let mut number = 1;
    while pos < data.len() {
        let at = number;
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
        number += usize::from(chunk.last() == Some(&b'\n'));
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
            out.push((at, Cow::Borrowed(&chunk[..rlen])));
        } else if eof {
            if partial || rlen + 1 >= BUFFER {
                break;
            }
            let mut line = chunk[..rlen].to_vec();
            line.push(b'\n');
            out.push((at, Cow::Owned(line)));
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
        let (tok, end): (Cow<[u8]>, usize) = if line[i] == b'"' {
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
            (Cow::Owned(store), j)
        } else {
            let mut j = i;
            while j < n && !is_space(line[j]) {
                j += 1;
            }
            (Cow::Borrowed(&line[i..j]), j)
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
    fn places_name_the_lines_and_whether_they_hold_only_the_entry() {
        let place = |t: &str, host| locate(t.as_bytes(), host).1.unwrap();
        let p = place("\n\nmachine a\nlogin u password p\n", "a");
        assert_eq!(
            (p.first_line, p.last_line, p.default, p.alone),
            (3, 4, false, true)
        );
        let t = "machine a login u password p machine b login v password q\n";
        assert!(!place(t, "a").alone && !place(t, "b").alone);
        let t = "machine a login u password p\nmachine b login v password q\n";
        assert!(place(t, "a").alone && place(t, "b").alone);
        assert_eq!(place(t, "b").first_line, 2);
        let p = place("machine a login u #password x\npassword p\n", "a");
        assert_eq!((p.first_line, p.last_line, p.alone), (1, 2, true));
        let p = place("machine a\ndefault login d\npassword e\n", "zzz");
        assert_eq!(
            (p.first_line, p.last_line, p.default, p.alone),
            (2, 3, true, true)
        );
        assert!(
            !place(
                "machine a login u password p default login d password e",
                "z"
            )
            .alone
        );
        let p = place("macdef m\nmachine a\n\nMACHINE A LOGIN u PASSWORD p\n", "a");
        assert_eq!((p.first_line, p.alone), (4, true));
        assert_eq!(
            locate(b"machine b login u password p\n", "a"),
            (Lookup::NoMatch, None)
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
