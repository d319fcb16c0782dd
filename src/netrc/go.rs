//! Go's `.netrc` reader, modelled on go:cmd/go/internal/auth/netrc.go `parseNetrc` (docs/protocols/netrc.md).
//!
//! Go splits the file on `\n`, each line with `strings.Fields` (Unicode whitespace; an invalid
//! UTF-8 byte is not whitespace), and consumes the words in pairs *within a line*. `machine`
//! starts an entry; an entry is emitted as soon as machine, login and password are all non-empty.
//! `macdef` skips the following lines up to an exactly empty one. A `default` that is the odd last
//! word of a line stops parsing. There are no comments and no quotes: `#` is an ordinary word that
//! eats its partner. Keywords are case-sensitive. At lookup time the first entry whose `machine`
//! equals the request's `host[:port]` byte for byte wins.
//!
//! `tests/it/netrc_models.rs` runs this model and a verbatim copy of Go's function on the same inputs.

/// One entry as Go reads it (raw bytes: Go does not require UTF-8).
#[derive(Clone, PartialEq, Eq)]
pub struct GoEntry {
    pub machine: Vec<u8>,
    pub login: Vec<u8>,
    pub password: Vec<u8>,
}

impl std::fmt::Debug for GoEntry {
    // Passwords are not shown: these come from real files.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GoEntry({}, {}, [{} bytes])",
            String::from_utf8_lossy(&self.machine),
            String::from_utf8_lossy(&self.login),
            self.password.len()
        )
    }
}

/// All entries, in file order (what `parseNetrc` returns).
pub fn parse(data: &[u8]) -> Vec<GoEntry> {
    parse_located(data).into_iter().map(|(e, _)| e).collect()
}

/// [`parse`], each entry with the 1-based line of its `machine` word (for messages).
pub fn parse_located(data: &[u8]) -> Vec<(GoEntry, usize)> {
    let mut out = Vec::new();
    let mut machine_line = 0;
    let mut cur = GoEntry {
        machine: Vec::new(),
        login: Vec::new(),
        password: Vec::new(),
    };
    let mut in_macro = false;
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        if in_macro {
            if line.is_empty() {
                in_macro = false;
            }
            continue;
        }
        let f = fields(line);
        let mut i = 0;
        while i + 1 < f.len() {
            let value = f[i + 1];
            match f[i] {
                b"machine" => {
                    machine_line = n + 1;
                    cur = GoEntry {
                        machine: value.to_vec(),
                        login: Vec::new(),
                        password: Vec::new(),
                    }
                }
                b"login" => cur.login = value.to_vec(),
                b"password" => cur.password = value.to_vec(),
                b"macdef" => in_macro = true,
                _ => {} // `default` (creds unused), `account`, `#`, anything: eats its partner
            }
            if !cur.machine.is_empty() && !cur.login.is_empty() && !cur.password.is_empty() {
                let entry = std::mem::replace(
                    &mut cur,
                    GoEntry {
                        machine: Vec::new(),
                        login: Vec::new(),
                        password: Vec::new(),
                    },
                );
                out.push((entry, machine_line));
            }
            i += 2;
        }
        if i < f.len() && f[i] == b"default" {
            break;
        }
    }
    out
}

/// The entry Go uses for a request to `host` (`host[:port]` as in the URL): the first match.
pub fn lookup<'a>(entries: &'a [GoEntry], host: &str) -> Option<&'a GoEntry> {
    entries.iter().find(|e| e.machine == host.as_bytes())
}

/// `strings.Fields` on bytes: splits at Unicode whitespace; invalid UTF-8 bytes are words.
pub fn fields(line: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < line.len() {
        let (space, width) = decode(&line[i..]);
        match (space, start) {
            (true, Some(s)) => {
                out.push(&line[s..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
        i += width;
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

/// Whether the rune at the start of `b` is whitespace, and its width. Like Go's decoder, an
/// invalid sequence is one byte wide (and `RuneError` is not whitespace).
fn decode(b: &[u8]) -> (bool, usize) {
    let width = match b[0] {
        // ASCII: Go's and Rust's white space agree on these six (\t \n \v \f \r and space).
        c @ 0x00..=0x7f => return (matches!(c, b'\t'..=b'\r' | b' '), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (false, 1),
    };
    match b.get(..width).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().is_some_and(char::is_whitespace), width),
        None => (false, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String, String)> {
        parse(s.as_bytes())
            .into_iter()
            .map(|e| {
                let s = |v: Vec<u8>| String::from_utf8(v).unwrap();
                (s(e.machine), s(e.login), s(e.password))
            })
            .collect()
    }

    fn one(m: &str, l: &str, pw: &str) -> Vec<(String, String, String)> {
        vec![(m.into(), l.into(), pw.into())]
    }

    // The cases of docs/protocols/netrc.md, also run through Go's own function by tests/it/netrc_models.rs.
    #[test]
    fn spec_table() {
        assert_eq!(p("machine a login u password p"), one("a", "u", "p"));
        assert_eq!(p("machine a\nlogin u\npassword p"), one("a", "u", "p"));
        assert_eq!(p("machine a login u\npassword\np"), vec![]);
        assert_eq!(
            p("default login du password dp\nmachine b login u password p"),
            one("b", "u", "p")
        );
        assert_eq!(p("default\nmachine b login u password p"), vec![]);
        assert_eq!(
            p("machine a login u password p macdef init\ncd /\n\nmachine b login v password q"),
            vec![
                ("a".into(), "u".into(), "p".into()),
                ("b".into(), "v".into(), "q".into())
            ]
        );
        assert_eq!(
            p("macdef x\r\nfoo\r\n\r\nmachine b login v password q\r\n"),
            vec![]
        );
        assert_eq!(
            p("machine a login u password \"p w\""),
            one("a", "u", "\"p")
        );
        assert_eq!(
            p("# comment\nmachine a login u password p"),
            one("a", "u", "p")
        );
        assert_eq!(p("machine a\n#login u password p"), vec![]);
        assert_eq!(p("MACHINE a LOGIN u PASSWORD p"), vec![]);
        assert_eq!(p("machine a login u password p\r\n"), one("a", "u", "p"));
        assert_eq!(
            p("machine a login u password p\nmachine a login v password q").len(),
            2
        );
    }

    #[test]
    fn entries_know_their_machine_line() {
        let e = parse_located(b"\n\nmachine a\nlogin u password p\nmachine b login v password q");
        let lines: Vec<usize> = e.iter().map(|(_, n)| *n).collect();
        assert_eq!(lines, vec![3, 5]);
    }

    #[test]
    fn fields_follow_go() {
        assert_eq!(
            fields(b" a\tb\x0bc\x0cd\re "),
            vec![&b"a"[..], b"b", b"c", b"d", b"e"]
        );
        assert_eq!(
            fields("a\u{a0}b\u{2028}c".as_bytes()),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(fields(b"a\xffb \xc2"), vec![&b"a\xffb"[..], b"\xc2"]);
        assert_eq!(fields(b""), Vec::<&[u8]>::new());
    }

    #[test]
    fn first_match_wins_byte_exact() {
        let e = parse(b"machine a login u password p\nmachine a login v password q\nmachine h:8443 login w password r\n");
        assert_eq!(lookup(&e, "a").unwrap().login, b"u");
        assert!(lookup(&e, "A").is_none());
        assert!(lookup(&e, "h").is_none());
        assert_eq!(lookup(&e, "h:8443").unwrap().login, b"w");
    }
}
