//! `.netrc`: what Go and git read from it, and the managed block `gocred ci` writes into it.
//!
//! Pure code, used by `gocred ci netrc|wipe|exec` (the file I/O lives in
//! `store::netrc_file`). Two readers matter and they disagree on almost everything (docs/protocols/netrc.md):
//! Go's `parseNetrc` ([`go`]) and libcurl 7.88, which git uses ([`curl`]). Both are modelled closely
//! enough that every file gocred writes is checked against both before it reaches the disk: our
//! entries must read back as written in each, and the user's own entries must read exactly as they
//! did before. [`block`] holds the marker lines and the insert/remove edits.
//!
//! An entry line is written in the one form both read identically:
//! `machine <host> login <user> password <secret>` on one line, lower-case keywords, a bare host
//! without port, and no word that is a keyword, contains whitespace or a control character, or
//! starts with `"` or `#`.

pub mod block;
pub mod curl;
pub mod go;

use std::fmt;

use crate::secret::{ExposeSecret, SecretString};

/// Every word either reader treats specially, compared ASCII-case-insensitively (curl is
/// case-insensitive; Go is not, but a word that is a keyword to one is refused for both).
pub const KEYWORDS: [&str; 6] = [
    "machine", "login", "password", "account", "macdef", "default",
];

/// Whether `word` is a netrc keyword to either reader.
pub fn is_keyword(word: &[u8]) -> bool {
    KEYWORDS
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(word))
}

/// libcurl 7.88 reads lines into a 4096-byte buffer and silently skips longer ones.
pub const MAX_LINE: usize = 4000;

/// Why a value cannot go into a netrc line. Never contains the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WordProblem {
    #[error("it is empty")]
    Empty,
    #[error("it contains whitespace or a control character")]
    SpaceOrControl,
    #[error("it starts with `\"` or `#`, which curl reads as a quote or a comment")]
    QuoteOrComment,
    #[error("it is a netrc keyword")]
    Keyword,
    #[error("the line would exceed {MAX_LINE} bytes, which curl 7.88 skips")]
    TooLong,
}

/// Checks one word of an entry line.
pub fn check_word(word: &str) -> Result<(), WordProblem> {
    if word.is_empty() {
        return Err(WordProblem::Empty);
    }
    if word.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WordProblem::SpaceOrControl);
    }
    if word.starts_with(['"', '#']) {
        return Err(WordProblem::QuoteOrComment);
    }
    if is_keyword(word.as_bytes()) {
        return Err(WordProblem::Keyword);
    }
    Ok(())
}

/// One `machine` entry gocred writes.
pub struct Entry {
    /// Bare lower-case host, no port (curl never matches `host:port`).
    pub machine: String,
    pub login: String,
    pub password: SecretString,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("machine", &self.machine)
            .field("login", &self.login)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Which part of an entry is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {part} for {machine} cannot go into a netrc line: {problem}")]
pub struct EntryError {
    pub machine: String,
    pub part: &'static str,
    pub problem: WordProblem,
}

impl Entry {
    /// The portable line, with its `\n`. Checks every word first.
    pub fn line(&self) -> Result<FileBytes, EntryError> {
        let err = |part, problem| EntryError {
            machine: self.machine.clone(),
            part,
            problem,
        };
        let host_ok = self
            .machine
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !host_ok {
            return Err(err("host", WordProblem::SpaceOrControl));
        }
        check_word(&self.machine).map_err(|p| err("host", p))?;
        check_word(&self.login).map_err(|p| err("login", p))?;
        check_word(self.password.expose_secret()).map_err(|p| err("token", p))?;
        let mut line = FileBytes::default();
        for part in [
            "machine ",
            &self.machine,
            " login ",
            &self.login,
            " password ",
            self.password.expose_secret(),
            "\n",
        ] {
            line.extend(part.as_bytes());
        }
        if line.len() > MAX_LINE {
            return Err(err("token", WordProblem::TooLong));
        }
        Ok(line)
    }
}

/// File contents that may hold secrets: zeroed when dropped, never shown by `Debug`.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct FileBytes(secrecy::zeroize::Zeroizing<Vec<u8>>);

impl FileBytes {
    pub fn new(bytes: Vec<u8>) -> FileBytes {
        FileBytes(secrecy::zeroize::Zeroizing::new(bytes))
    }

    pub fn extend(&mut self, more: &[u8]) {
        self.0.extend_from_slice(more);
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes([{} bytes])", self.0.len())
    }
}

/// Every word either reader could see in `data`: Go's whitespace-split fields of every line
/// (comment lines included) plus curl's decoded quoted tokens. `ci wipe` uses it to check that
/// no token it wrote is left anywhere in the file.
pub fn all_words(data: &[u8]) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        words.extend(go::fields(line).into_iter().map(<[u8]>::to_vec));
    }
    words.extend(curl::tokens(data));
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn keywords_any_case() {
        for k in [
            "machine", "MACHINE", "Default", "macDef", "account", "login", "PassWord",
        ] {
            assert!(is_keyword(k.as_bytes()), "{k}");
        }
        for k in ["machines", "gocred", "#", ""] {
            assert!(!is_keyword(k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn words_are_checked() {
        assert_eq!(check_word("x-access-token"), Ok(()));
        assert_eq!(check_word("ghs_a.b.c"), Ok(()));
        assert_eq!(check_word(""), Err(WordProblem::Empty));
        assert_eq!(check_word("a b"), Err(WordProblem::SpaceOrControl));
        assert_eq!(check_word("a\u{a0}b"), Err(WordProblem::SpaceOrControl));
        assert_eq!(check_word("a\u{1b}"), Err(WordProblem::SpaceOrControl));
        assert_eq!(check_word("\"q"), Err(WordProblem::QuoteOrComment));
        assert_eq!(check_word("#c"), Err(WordProblem::QuoteOrComment));
        assert_eq!(check_word("Default"), Err(WordProblem::Keyword));
    }

    #[test]
    fn entry_line_is_portable() {
        let e = Entry {
            machine: "git.corp.test".into(),
            login: "x-access-token".into(),
            password: secret("ghs_abc".into()),
        };
        assert_eq!(
            e.line().unwrap().as_slice(),
            b"machine git.corp.test login x-access-token password ghs_abc\n"
        );
        assert!(!format!("{e:?}").contains("ghs_abc"));
        let bad = |machine: &str, login: &str, pw: &str| {
            Entry {
                machine: machine.into(),
                login: login.into(),
                password: secret(pw.into()),
            }
            .line()
            .unwrap_err()
        };
        assert_eq!(bad("Git.corp.test", "u", "p").part, "host");
        assert_eq!(bad("git.corp.test:8443", "u", "p").part, "host");
        assert_eq!(bad("h", "login", "p").problem, WordProblem::Keyword);
        assert_eq!(bad("h", "u", "#p").problem, WordProblem::QuoteOrComment);
        assert_eq!(
            bad("h", "u", &"x".repeat(5000)).problem,
            WordProblem::TooLong
        );
    }

    #[test]
    fn all_words_sees_comments_and_quotes() {
        let w = all_words(b"# hidden tok1\nmachine a login \"u v\" password p\n");
        assert!(w.contains(&b"tok1".to_vec()));
        assert!(w.contains(&b"u v".to_vec()));
        assert!(w.contains(&b"p".to_vec()));
    }
}
