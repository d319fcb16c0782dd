//! `.netrc` read twice, the way each reader reads it (pure): Go's per-line pairs
//! (go:cmd/go/internal/auth/netrc.go, spec §2.6) and libcurl's free-form tokens (what git uses,
//! spec §2.7). The same file can mean different things to the two, so doctor asks each question
//! with the matching parser. Passwords go straight into [`SecretString`]s.
//!
//! (The managed-block writer for `gocred ci netrc` lives elsewhere; this is read-only.)

use crate::secret::{secret, SecretString};

/// One entry, with the lines it spans (1-based) so a fix can name or delete exactly them.
#[derive(Debug)]
pub struct Entry {
    /// `None` for curl's `default` entry.
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<SecretString>,
    pub first_line: usize,
    pub last_line: usize,
}

/// Go's parser: entries complete (machine + login + password) in file order; first wins at use.
pub fn parse_go(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let (mut machine, mut login, mut password): (Option<String>, Option<String>, Option<String>) =
        (None, None, None);
    let mut first = 0;
    let mut in_macro = false;
    'lines: for (n, line) in text.split('\n').enumerate() {
        let lineno = n + 1;
        if in_macro {
            if line.is_empty() {
                in_macro = false;
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let mut i = 0;
        while i + 1 < f.len() {
            match f[i] {
                "machine" => {
                    machine = Some(f[i + 1].to_string());
                    login = None;
                    password = None;
                    first = lineno;
                }
                "login" => login = Some(f[i + 1].to_string()),
                "password" => password = Some(f[i + 1].to_string()),
                "macdef" => in_macro = true,
                _ => {}
            }
            if let (Some(m), Some(l), Some(_)) = (&machine, &login, &password) {
                if !m.is_empty() && !l.is_empty() {
                    out.push(Entry {
                        machine: Some(m.clone()),
                        login: Some(l.clone()),
                        password: password.take().map(secret),
                        first_line: first,
                        last_line: lineno,
                    });
                    machine = None;
                    login = None;
                }
            }
            i += 2;
        }
        if i < f.len() && f[i] == "default" {
            break 'lines;
        }
    }
    out
}

/// libcurl's parser (7.88 rules): whitespace-separated tokens across lines, case-insensitive
/// keywords, `"quoted"` tokens, `#` starting a token comments out the rest of the line,
/// `macdef` skips to the next empty line. Returns every entry, complete or not.
pub fn parse_curl(text: &str) -> Vec<Entry> {
    let tokens = curl_tokens(text);
    let mut out: Vec<Entry> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = (&tokens[i].0, tokens[i].1);
        let kw = tok.to_ascii_lowercase();
        let next = tokens.get(i + 1);
        match kw.as_str() {
            "machine" | "default" => {
                let machine = if kw == "machine" {
                    i += 1;
                    next.map(|t| t.0.clone())
                } else {
                    None
                };
                out.push(Entry {
                    machine: machine.or(if kw == "machine" {
                        Some(String::new())
                    } else {
                        None
                    }),
                    login: None,
                    password: None,
                    first_line: line,
                    last_line: next.map_or(line, |t| t.1.max(line)),
                });
            }
            "login" | "password" | "account" => {
                if let (Some(e), Some(v)) = (out.last_mut(), next) {
                    match kw.as_str() {
                        "login" => e.login = Some(v.0.clone()),
                        "password" => e.password = Some(secret(v.0.clone())),
                        _ => {}
                    }
                    e.last_line = v.1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Tokens with their line numbers; macdef bodies and comments dropped.
fn curl_tokens(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut skip_macro = false;
    for (n, line) in text.lines().enumerate() {
        if skip_macro {
            if line.trim_end_matches('\r').is_empty() {
                skip_macro = false;
            }
            continue;
        }
        let mut rest = line;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                break;
            }
            let (tok, after) = if let Some(q) = rest.strip_prefix('"') {
                let mut t = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((j, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = j + 1;
                            break;
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                t.push(match e {
                                    'n' => '\n',
                                    'r' => '\r',
                                    't' => '\t',
                                    o => o,
                                });
                            }
                        }
                        o => t.push(o),
                    }
                }
                (t, &q[end.min(q.len())..])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            };
            let is_macdef = tok.eq_ignore_ascii_case("macdef");
            out.push((tok, n + 1));
            rest = after;
            if is_macdef {
                skip_macro = true;
                break;
            }
        }
    }
    out
}

/// Whether lines `first..=last` of `text` hold nothing but this entry (so deleting them is exact).
pub fn lines_hold_only(text: &str, entries: &[Entry], idx: usize) -> bool {
    let e = &entries[idx];
    let shared = entries
        .iter()
        .enumerate()
        .any(|(j, o)| j != idx && o.first_line <= e.last_line && o.last_line >= e.first_line);
    let exists = text.lines().count() >= e.last_line;
    !shared && exists
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    fn go(t: &str) -> Vec<(String, String, String)> {
        parse_go(t)
            .into_iter()
            .map(|e| {
                (
                    e.machine.unwrap(),
                    e.login.unwrap(),
                    e.password.unwrap().expose_secret().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn go_table_from_the_spec() {
        let abc = vec![("a".to_string(), "u".to_string(), "p".to_string())];
        assert_eq!(go("machine a login u password p"), abc);
        assert_eq!(go("machine a\nlogin u\npassword p"), abc);
        assert!(go("machine a login u\npassword\np").is_empty());
        assert_eq!(
            go("default login du password dp\nmachine b login u password p").len(),
            1
        );
        assert!(go("default\nmachine b login u password p").is_empty());
        assert_eq!(
            go("macdef x\r\nfoo\r\n\r\nmachine b login v password q\r\n").len(),
            0
        );
        assert_eq!(go("MACHINE a LOGIN u PASSWORD p").len(), 0);
        assert_eq!(go("machine a login u password p\r\n"), abc);
        let lines = parse_go("\n\nmachine a\nlogin u password p\n");
        assert_eq!((lines[0].first_line, lines[0].last_line), (3, 4));
    }

    #[test]
    fn curl_reads_differently() {
        let e = parse_curl("MACHINE a LOGIN u PASSWORD p\n");
        assert_eq!(e[0].machine.as_deref(), Some("a"));
        assert_eq!(e[0].password.as_ref().unwrap().expose_secret(), "p");
        let e = parse_curl("machine a login u password \"p w\"\ndefault login d password dp\n");
        assert_eq!(e[0].password.as_ref().unwrap().expose_secret(), "p w");
        assert!(e[1].machine.is_none());
        let e = parse_curl("machine a login u #password x\npassword p\n");
        assert_eq!(e[0].password.as_ref().unwrap().expose_secret(), "p");
        assert_eq!((e[0].first_line, e[0].last_line), (1, 2));
        let t = "machine a login u password p machine b login v password q\n";
        let e = parse_curl(t);
        assert!(!lines_hold_only(t, &e, 0));
        let t = "machine a login u password p\nmachine b login v password q\n";
        assert!(lines_hold_only(t, &parse_curl(t), 1));
    }
}
