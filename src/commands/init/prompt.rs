//! How `init` asks: a person at a terminal, or a script (`--yes`, tokens on stdin).
//!
//! The [`Ask`] trait keeps the questions out of the planning code so tests can answer them.
//! Prompts go to stderr; tokens are read without echo from the terminal, or from stdin (one line
//! per new `pat` rule, in the order init lists them) and never printed.

use std::io::{BufRead, IsTerminal, Read, Write};

use crate::error::{Error, Result};
use crate::secret::{secret, ExposeSecret, SecretString};

/// How a GOPRIVATE pattern without a rule should be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Https,
    Ssh,
    Skip,
}

pub(crate) trait Ask {
    /// A person answers questions (stdin is a terminal).
    fn interactive(&self) -> bool;
    /// How to serve `pattern` (only asked when interactive).
    fn choose(&mut self, pattern: &str, default: Choice) -> Result<Choice>;
    /// A free-text answer; empty means "the default".
    fn line(&mut self, prompt: &str) -> Result<String>;
    fn confirm(&mut self, question: &str) -> Result<bool>;
    /// One token per pattern, in order.
    fn tokens(&mut self, patterns: &[String]) -> Result<Vec<SecretString>>;
}

/// The real terminal (or a pipe) on stdin, prompts on stderr.
pub(crate) struct Terminal {
    tty: bool,
}

impl Terminal {
    pub(crate) fn from_process() -> Terminal {
        Terminal {
            tty: std::io::stdin().is_terminal(),
        }
    }

    fn read_line(&mut self, prompt: &str) -> Result<String> {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(4096)
            .read_line(&mut line)
            .map_err(|e| Error::io("reading an answer from the terminal", e))?;
        Ok(line.trim().to_string())
    }
}

impl Ask for Terminal {
    fn interactive(&self) -> bool {
        self.tty
    }

    fn choose(&mut self, pattern: &str, default: Choice) -> Result<Choice> {
        let d = match default {
            Choice::Https => "h",
            Choice::Ssh => "s",
            Choice::Skip => "n",
        };
        loop {
            let a = self.read_line(&format!(
                "{pattern}: fetch over [h]ttps with a token, over [s]sh with your key, or [n]o rule? [{d}] "
            ))?;
            match parse_choice(&a, default) {
                Some(c) => return Ok(c),
                None => continue,
            }
        }
    }

    fn line(&mut self, prompt: &str) -> Result<String> {
        self.read_line(prompt)
    }

    fn confirm(&mut self, question: &str) -> Result<bool> {
        let a = self.read_line(&format!("{question} [y/N] "))?;
        Ok(matches!(a.to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    fn tokens(&mut self, patterns: &[String]) -> Result<Vec<SecretString>> {
        if patterns.is_empty() {
            return Ok(Vec::new());
        }
        if self.tty {
            return patterns
                .iter()
                .map(|p| {
                    rpassword::prompt_password(format!("Token for {p} (input hidden): "))
                        .map(secret)
                        .map_err(|e| Error::io("reading the token from the terminal", e))
                })
                .collect();
        }
        let mut buf = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_STDIN as u64 + 1)
            .read_to_string(&mut buf)
            .map_err(|e| Error::io("reading tokens from stdin", e))?;
        tokens_from(secret(buf), patterns)
    }
}

const MAX_STDIN: usize = 256 * 1024;

pub(crate) fn parse_choice(answer: &str, default: Choice) -> Option<Choice> {
    match answer.trim().to_ascii_lowercase().as_str() {
        "" => Some(default),
        "h" | "https" => Some(Choice::Https),
        "s" | "ssh" => Some(Choice::Ssh),
        "n" | "no" | "skip" => Some(Choice::Skip),
        _ => None,
    }
}

/// Splits piped stdin into one token per pattern. Blank lines are ignored; any other count is
/// an error that says the order, never a token.
pub(crate) fn tokens_from(input: SecretString, patterns: &[String]) -> Result<Vec<SecretString>> {
    let text = input.expose_secret();
    if text.len() > MAX_STDIN {
        return Err(Error::Usage("stdin is larger than 256 KiB".into()));
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.len() != patterns.len() {
        return Err(Error::with_hint(
            format!(
                "stdin holds {} token line(s), init needs {}: one per new `pat` rule, in this \
                 order: {}",
                lines.len(),
                patterns.len(),
                patterns.join(", ")
            ),
            "pipe one token per line (`printf '%s\\n' \"$TOKEN\" | gocred init --yes …`), or \
             run init in a terminal",
        ));
    }
    Ok(lines.into_iter().map(|l| secret(l.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lines_match_rules() {
        let ps = vec!["a.example".to_string(), "b.example".to_string()];
        let t = tokens_from(secret("one\n\ntwo\r\n".into()), &ps).unwrap();
        assert_eq!(t[1].expose_secret(), "two");
        let e = tokens_from(secret("only-one-secret\n".into()), &ps)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.example, b.example"), "{e}");
        assert!(!e.contains("only-one-secret"), "{e}");
    }

    #[test]
    fn choices() {
        assert_eq!(parse_choice("", Choice::Ssh), Some(Choice::Ssh));
        assert_eq!(parse_choice(" S ", Choice::Https), Some(Choice::Ssh));
        assert_eq!(parse_choice("no", Choice::Https), Some(Choice::Skip));
        assert_eq!(parse_choice("x", Choice::Https), None);
    }
}
