//! The doctor's findings: one per link, each with a stable id, a status, why, and the exact
//! command that fixes it. Rendered as aligned text for a person or as a JSON array
//! (`[{"id", "status", "message", "fix"}]`, **contract**) for scripts.
//!
//! Messages are built from names, paths, statuses and server-controlled strings that went
//! through [`clean`]; never from a secret.

use serde::Serialize;

/// Fix commands are meant to be pasted into a shell.
pub(crate) use crate::proc::sh_quote;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
    /// Not applicable here, or could not be checked because an earlier link is broken.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// A shell command (or commands joined with `&&`) that fixes this link; `None` when there is
    /// nothing to run (ok, or nothing doctor can name).
    pub fix: Option<String>,
}

impl Finding {
    fn new(id: &'static str, status: Status, message: impl Into<String>) -> Finding {
        Finding {
            id,
            status,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn ok(id: &'static str, message: impl Into<String>) -> Finding {
        Self::new(id, Status::Ok, message)
    }

    pub(crate) fn warn(id: &'static str, message: impl Into<String>) -> Finding {
        Self::new(id, Status::Warn, message)
    }

    pub(crate) fn fail(id: &'static str, message: impl Into<String>) -> Finding {
        Self::new(id, Status::Fail, message)
    }

    pub(crate) fn skip(id: &'static str, message: impl Into<String>) -> Finding {
        Self::new(id, Status::Skip, message)
    }

    pub(crate) fn fix(mut self, command: impl Into<String>) -> Finding {
        self.fix = Some(command.into());
        self
    }

    pub(crate) fn maybe_fix(mut self, command: Option<String>) -> Finding {
        self.fix = command;
        self
    }
}

/// Findings in the order a fetch needs the links. A check that can only be judged later (the
/// proxy bypass, once the direct route is known) reserves its place with [`Report::reserve`].
#[derive(Debug, Default)]
pub(crate) struct Report {
    findings: Vec<Option<Finding>>,
}

/// A reserved place in the report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot(usize);

impl Report {
    pub(crate) fn push(&mut self, f: Finding) {
        self.findings.push(Some(scrub(f)));
    }

    pub(crate) fn reserve(&mut self) -> Slot {
        self.findings.push(None);
        Slot(self.findings.len() - 1)
    }

    pub(crate) fn fill(&mut self, slot: Slot, f: Finding) {
        self.findings[slot.0] = Some(scrub(f));
    }

    pub(crate) fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().flatten()
    }

    pub(crate) fn status_of(&self, id: &str) -> Option<Status> {
        self.findings().find(|f| f.id == id).map(|f| f.status)
    }

    #[cfg(test)]
    pub(crate) fn broken(&self) -> bool {
        self.first_failure().is_some()
    }

    pub(crate) fn first_failure(&self) -> Option<&Finding> {
        self.findings().find(|f| f.status == Status::Fail)
    }

    pub(crate) fn to_json(&self) -> String {
        let all: Vec<Finding> = self.findings().cloned().map(scrub).collect();
        serde_json::to_string_pretty(&all).expect("findings serialise")
    }

    pub(crate) fn to_text(&self, header: &str) -> String {
        scrub_text(&self.render_text(header))
    }

    fn render_text(&self, header: &str) -> String {
        let mut out = format!("{header}\n");
        let width = self.findings().map(|f| f.id.len()).max().unwrap_or(0);
        for f in self.findings() {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                f.status.label(),
                f.id,
                f.message
            ));
            if let (Some(fix), true) = (&f.fix, f.status != Status::Ok) {
                out.push_str(&format!("{:<4}  {:<width$}  fix: {fix}\n", "", ""));
            }
        }
        let fails = self.findings().filter(|f| f.status == Status::Fail).count();
        let warns = self.findings().filter(|f| f.status == Status::Warn).count();
        match self.first_failure() {
            Some(first) => {
                out.push_str(&format!(
                    "\n{fails} broken link{}, {warns} warning{}. Start with {}",
                    if fails == 1 { "" } else { "s" },
                    if warns == 1 { "" } else { "s" },
                    first.id
                ));
                match &first.fix {
                    Some(fix) => out.push_str(&format!(":\n    {fix}\n")),
                    None => out.push_str(".\n"),
                }
            }
            None => out.push_str(&format!(
                "\nNo broken link{}: the fetch should work.\n",
                if warns > 0 {
                    format!(" ({warns} warning{})", if warns == 1 { "" } else { "s" })
                } else {
                    String::new()
                }
            )),
        }
        out
    }
}

/// Last line of defence before anything is shown: user info in URLs (`GOPROXY`,
/// `url.<base>.insteadOf`, `http.proxy` values people paste tokens into, a go-import tag a
/// server sends) is masked, and every secret this process has sent or read is redacted (see
/// [`crate::http::redact`]). Applied when a finding is added and again when the report is
/// rendered, so a secret learnt after a finding was written is still caught.
fn scrub(mut f: Finding) -> Finding {
    f.message = scrub_text(&f.message);
    f.fix = f.fix.map(|x| scrub_text(&x));
    f
}

/// [`scrub`] for one string: the one function every line doctor prints goes through.
pub(crate) fn scrub_text(s: &str) -> String {
    crate::http::redact::redact(&redact_userinfo(s))
}

/// Where a URL or word ends in a message: whitespace, quotes, brackets.
fn word_end(c: char) -> bool {
    c.is_whitespace() || "`'\"<>()[]{},;".contains(c)
}

/// Masks URL user info: all of it for http(s) (a token often *is* the user name there), the
/// password part for other schemes (`ssh://git@host` stays readable). Also caught: user info
/// with a `/` in its password (`https://u:ab/cd@host`, which a URL parser would not even read as
/// user info but which still shows the token), and scheme-less `user:password@host`.
pub(crate) fn redact_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let scheme_start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(0, |j| j + 1);
        let scheme = rest[scheme_start..i].to_ascii_lowercase();
        out.push_str(&schemeless(&rest[..scheme_start]));
        out.push_str(&rest[scheme_start..i + 3]);
        rest = &rest[i + 3..];
        let word = rest.find(word_end).unwrap_or(rest.len());
        let end = rest[..word].find(['/', '?', '#']).unwrap_or(word);
        let mut at = rest[..end].rfind('@');
        if at.is_none() {
            // `u:ab/cd@host`: a colon not followed by a port, and an `@` later in the word.
            let colon_not_port = rest[..end].split_once(':').is_some_and(|(_, after)| {
                after.is_empty() || !after.bytes().all(|b| b.is_ascii_digit())
            });
            if colon_not_port {
                at = rest[end..word].find('@').map(|j| end + j);
            }
        }
        match at {
            Some(at) => {
                let user = &rest[..at];
                if scheme == "http" || scheme == "https" || user.contains('/') {
                    out.push_str("***");
                } else {
                    match user.split_once(':') {
                        Some((u, _)) => {
                            out.push_str(u);
                            out.push_str(":***");
                        }
                        None => out.push_str(user),
                    }
                }
                rest = &rest[at..];
            }
            None => {
                out.push_str(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out.push_str(&schemeless(rest));
    out
}

/// `user:password@host` without a scheme (a go-import prefix, an scp-like remote): the part
/// before `@` is masked when it has a `:` and no `/`. `git@host:path` has no `:` before its `@`
/// and stays.
fn schemeless(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.find('@') {
            Some(at) if word[..at].contains(':') && !word[..at].contains('/') => {
                let lead = word[..at].rfind(['=']).map_or(0, |j| j + 1);
                out.push_str(&word[..lead]);
                out.push_str("***");
                out.push_str(&word[at..]);
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in s.chars() {
        if word_end(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Makes a server- or config-controlled string safe to show on one line.
pub(crate) fn clean(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if raw.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_order() {
        let mut r = Report::default();
        r.push(Finding::ok("a.one", "fine"));
        let slot = r.reserve();
        r.push(Finding::fail("c.three", "broken").fix("do x"));
        r.fill(slot, Finding::warn("b.two", "hmm"));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let ids: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a.one", "b.two", "c.three"]);
        assert_eq!(v[0]["fix"], serde_json::Value::Null);
        assert_eq!(v[2]["status"], "fail");
        assert_eq!(v[2]["fix"], "do x");
        assert!(r.broken());
        assert!(r.to_text("h").contains("Start with c.three:\n    do x"));
    }

    #[test]
    fn quoting_and_cleaning() {
        assert_eq!(clean("a\u{1b}[2Kb\n"), "a\\u{1b}[2Kb\\n");
        assert_eq!(
            redact_userinfo("GOPROXY=https://u:tok@proxy.test/x, ssh://git@h.test/a ssh://u:pw@h/ `https://ghp_x@github.com/`"),
            "GOPROXY=https://***@proxy.test/x, ssh://git@h.test/a ssh://u:***@h/ `https://***@github.com/`"
        );
        let mut r = Report::default();
        r.push(
            Finding::warn("x", "rewrites to https://x-access-token:s3cret@git.test/")
                .fix("git config --unset url.https://a:s3cret@h/.insteadof"),
        );
        assert!(!r.to_json().contains("s3cret"));
    }

    #[test]
    fn user_info_is_masked_in_every_shape() {
        for (raw, shown) in [
            (
                "root https://u:ab/cd@git.test/x.git",
                "root https://***@git.test/x.git",
            ),
            (
                "(https://tok@git.test/x), git+https://u:pw@h/",
                "(https://***@git.test/x), git+https://u:***@h/",
            ),
            (
                "prefix u:tok@git.test/x declared",
                "prefix ***@git.test/x declared",
            ),
            ("GOPROXY=u:tok@proxy.test", "GOPROXY=***@proxy.test"),
            (
                "https://proxy.test:8443/x/@v/list git@github.com:o/r.git mod@v1.2.3",
                "https://proxy.test:8443/x/@v/list git@github.com:o/r.git mod@v1.2.3",
            ),
        ] {
            assert_eq!(redact_userinfo(raw), shown, "{raw}");
        }
    }

    #[test]
    fn secrets_learnt_after_a_finding_are_redacted_when_rendered() {
        let mut r = Report::default();
        r.push(Finding::fail("x", "server said tok-unit-doctor-late"));
        crate::http::redact::register(&crate::secret::secret("tok-unit-doctor-late".into()));
        assert!(!r.to_json().contains("tok-unit-doctor-late"));
        assert!(!r.to_text("h").contains("tok-unit-doctor-late"));
    }
}
