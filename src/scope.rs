//! Scope: is a module path private, and under which pattern? Go's
//! GOPRIVATE/GONOPROXY/GONOSUMDB semantics (module.MatchPrefixPatterns).
//!
//! This is a faithful port of two pieces of Go (go1.27.3):
//!
//! * `path.Match` (go:path/match.go), the glob matcher: [`glob`].
//! * `module.MatchPrefixPatterns`
//!   (go:cmd/vendor/golang.org/x/mod/module/module.go), which matches each
//!   comma-separated glob against the leading path elements of a module path:
//!   [`Patterns`] here.
//!
//! The globs decide which modules skip the proxy and the checksum database.
//! They are not a host allow-list for releasing secrets: `*corp.com` matches
//! `evilcorp.com`.
//!
//! Pure code: no I/O, std only.

mod glob;

pub use glob::{path_match, BadPattern};

/// One glob of a [`Patterns`] list, pre-digested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Glob {
    /// The glob as written, after stripping one trailing `/`. Never empty.
    text: String,
    /// Number of `/` in `text`: the glob is matched against the first
    /// `slashes + 1` path elements of the target.
    slashes: usize,
    /// False when `path.Match` rejects the glob as malformed. Go ignores the
    /// error and treats the glob as a non-match; whether a pattern is
    /// malformed does not depend on the name it is matched against.
    well_formed: bool,
}

/// One GOPRIVATE-style list, e.g. "git.corp.example,github.com/acme/*".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    raw: String,
    globs: Vec<Glob>,
}

impl Patterns {
    /// Parses a comma-separated list exactly as `module.MatchPrefixPatterns`
    /// reads it. Never fails. Go's quirks are kept: elements are not trimmed
    /// (spaces are significant), one trailing `/` is stripped from each
    /// element, empty elements are skipped, and malformed globs are kept but
    /// never match.
    pub fn parse(list: &str) -> Patterns {
        let globs = list
            .split(',')
            .map(|piece| piece.strip_suffix('/').unwrap_or(piece))
            .filter(|glob| !glob.is_empty())
            .map(|glob| Glob {
                text: glob.to_owned(),
                slashes: glob.bytes().filter(|&b| b == b'/').count(),
                well_formed: path_match(glob, "").is_ok(),
            })
            .collect();
        Patterns {
            raw: list.to_owned(),
            globs,
        }
    }

    /// True when the list holds no usable glob: it is empty, holds only
    /// empty elements (`""`, `",,"`, `"/"`), or only malformed globs (`"["`).
    pub fn is_empty(&self) -> bool {
        !self.globs.iter().any(|g| g.well_formed)
    }

    /// The raw list, as given to [`Patterns::parse`].
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The first glob that matches `target` (a module or import path), with
    /// Go's semantics. The glob is returned as written, after stripping its
    /// one trailing `/`.
    pub fn matching(&self, target: &str) -> Option<&str> {
        self.globs
            .iter()
            .filter(|g| g.well_formed)
            .find(|g| {
                leading_elements(target, g.slashes)
                    .is_some_and(|prefix| path_match(&g.text, prefix) == Ok(true))
            })
            .map(|g| g.text.as_str())
    }

    /// Whether any glob matches `target` (Go's `MatchPrefixPatterns`).
    pub fn matches(&self, target: &str) -> bool {
        self.matching(target).is_some()
    }

    /// The usable globs, as written (one trailing `/` stripped), in order.
    pub fn globs(&self) -> impl Iterator<Item = &str> {
        self.globs
            .iter()
            .filter(|g| g.well_formed)
            .map(|g| g.text.as_str())
    }
}

/// `target` cut just before its `(slashes + 1)`-th `/`, i.e. its first
/// `slashes + 1` path elements; `None` when it has fewer elements.
fn leading_elements(target: &str, slashes: usize) -> Option<&str> {
    let mut left = slashes;
    for (i, b) in target.bytes().enumerate() {
        if b == b'/' {
            if left == 0 {
                return Some(&target[..i]);
            }
            left -= 1;
        }
    }
    if left > 0 {
        None
    } else {
        Some(target)
    }
}

/// The three lists after Go's fallback rules: empty GONOPROXY / GONOSUMDB fall back to GOPRIVATE.
#[derive(Debug, Clone, Default)]
pub struct GoScope {
    pub private: Patterns,
    pub noproxy: Patterns,
    pub nosumdb: Patterns,
}

impl GoScope {
    /// Values as Go's cfg.Getenv would return them (None or "" = unset).
    ///
    /// As in go:cmd/go/internal/cfg/cfg.go (`EnvOrAndChanged`), only an
    /// empty raw value falls back to GOPRIVATE; a non-empty list that
    /// matches nothing (`none`, `,`) does not.
    pub fn new(
        goprivate: Option<&str>,
        gonoproxy: Option<&str>,
        gonosumdb: Option<&str>,
    ) -> GoScope {
        let private = goprivate.unwrap_or("");
        let or_private = |value: Option<&str>| match value {
            Some(v) if !v.is_empty() => Patterns::parse(v),
            _ => Patterns::parse(private),
        };
        GoScope {
            private: Patterns::parse(private),
            noproxy: or_private(gonoproxy),
            nosumdb: or_private(gonosumdb),
        }
    }

    /// The GOPRIVATE glob that matches `module`, if any.
    pub fn is_private(&self, module: &str) -> Option<&str> {
        self.private.matching(module)
    }

    /// Whether `module` bypasses proxies (GONOPROXY, default GOPRIVATE).
    pub fn is_noproxy(&self, module: &str) -> bool {
        self.noproxy.matches(module)
    }

    /// Whether `module` skips the checksum database (GONOSUMDB, default
    /// GOPRIVATE).
    pub fn is_nosumdb(&self, module: &str) -> bool {
        self.nosumdb.matches(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(globs: &str, target: &str) -> bool {
        Patterns::parse(globs).matches(target)
    }

    /// Every row of the edge-case table in docs/protocols/go-modules.md.
    #[test]
    fn spec_table() {
        let rows: &[(&str, &str, bool)] = &[
            ("*.corp.com", "git.corp.com/x/y", true),
            ("*.corp.com", "corp.com/x", false),
            ("*.corp.com", ".corp.com/x", true),
            ("*.corp.com", "a.b.corp.com/x", true),
            ("*.corp.com", "git.corp.com.evil.com/x", false),
            ("*corp.com", "evilcorp.com/x", true),
            ("corp.com", "corp.com.evil.com/x", false),
            ("corp.com", "corp.comx/y", false),
            ("Corp.com", "corp.com/x", false),
            ("corp.com/private", "corp.com/private", true),
            ("corp.com/private", "corp.com/private/sub", true),
            ("corp.com/private", "corp.com/privateX", false),
            ("corp.com/private/", "corp.com/private/sub", true),
            ("corp.com/private//", "corp.com/private/sub", false),
            ("corp.com/*", "corp.com", false),
            ("*/private", "corp.com/private/x", true),
            ("*", "anything/at/all", true),
            (" corp.com", "corp.com/x", false),
            ("corp.com ,x", "corp.com/x", false),
            (",,corp.com,", "corp.com/x", true),
            ("[,corp.com", "corp.com", true),
            ("/", "x", false),
            ("corp.com", "corp.com/", true),
            ("corp.com:8443", "corp.com:8443/x", true),
        ];
        for &(globs, target, want) in rows {
            assert_eq!(m(globs, target), want, "globs {globs:?} target {target:?}");
        }
    }

    #[test]
    fn matching_returns_first_glob_as_written() {
        let p = Patterns::parse("other.org,corp.com/private/,*.corp.com,corp.com");
        assert_eq!(p.matching("corp.com/private/sub"), Some("corp.com/private"));
        assert_eq!(p.matching("corp.com/public"), Some("corp.com"));
        assert_eq!(p.matching("git.corp.com/x"), Some("*.corp.com"));
        assert_eq!(p.matching("github.com/x"), None);
        assert_eq!(
            p.as_str(),
            "other.org,corp.com/private/,*.corp.com,corp.com"
        );
        // A malformed glob never matches, even against itself.
        let bad = Patterns::parse("[,a[");
        assert_eq!(bad.matching("["), None);
        assert_eq!(bad.matching("a["), None);
    }

    #[test]
    fn parse_quirks() {
        assert!(Patterns::parse("").is_empty());
        assert!(Patterns::parse(",,").is_empty());
        assert!(Patterns::parse("/").is_empty());
        assert!(Patterns::parse("/,/,").is_empty());
        assert!(Patterns::parse("[").is_empty());
        assert!(!Patterns::parse("[,x").is_empty());
        assert!(!Patterns::parse("none").is_empty());
        assert!(!Patterns::parse("//").is_empty());
        let slash = Patterns::parse("//");
        assert_eq!(slash.matching("/"), Some("/"));
        assert_eq!(slash.matching("//x"), Some("/"));
        assert_eq!(slash.matching("/x"), None);
        assert_eq!(Patterns::parse("a//").matching("a/"), Some("a/"));
        assert_eq!(Patterns::parse("a").matching(""), None);
        assert_eq!(Patterns::parse("*").matching(""), Some("*"));
        assert_eq!(Patterns::default(), Patterns::parse(""));
        assert_ne!(Patterns::parse(","), Patterns::parse(""));
        assert!(!Patterns::default().matches("x"));
    }

    #[test]
    fn element_counting() {
        assert_eq!(leading_elements("a/b/c", 0), Some("a"));
        assert_eq!(leading_elements("a/b/c", 1), Some("a/b"));
        assert_eq!(leading_elements("a/b/c", 2), Some("a/b/c"));
        assert_eq!(leading_elements("a/b/c", 3), None);
        assert_eq!(leading_elements("a/", 1), Some("a/"));
        assert_eq!(leading_elements("", 0), Some(""));
        assert!(m("a/*/c", "a/b/c/d"));
        assert!(!m("a/*/c", "a/b"));
        assert!(m("a/*", "a/"));
        assert!(m("é/і", "é/і/x"));
    }

    #[test]
    fn go_scope_fallback() {
        // Unset or empty GONOPROXY / GONOSUMDB fall back to GOPRIVATE.
        for empty in [None, Some("")] {
            let s = GoScope::new(Some("corp.com,*.corp.org"), empty, empty);
            assert_eq!(s.is_private("corp.com/x"), Some("corp.com"));
            assert_eq!(s.is_private("git.corp.org/x"), Some("*.corp.org"));
            assert_eq!(s.is_private("github.com/x"), None);
            assert!(s.is_noproxy("corp.com/x"));
            assert!(s.is_nosumdb("git.corp.org/x"));
            assert!(!s.is_noproxy("github.com/x"));
            assert_eq!(s.noproxy.as_str(), "corp.com,*.corp.org");
        }
        // "none" is a non-empty list that matches nothing: no fallback.
        let s = GoScope::new(Some("corp.com"), Some("none"), None);
        assert_eq!(s.is_private("corp.com/x"), Some("corp.com"));
        assert!(!s.is_noproxy("corp.com/x"));
        assert!(s.is_nosumdb("corp.com/x"));
        // Only the raw value decides: "," matches nothing yet is not empty.
        let s = GoScope::new(Some("corp.com"), Some(","), Some("["));
        assert!(!s.is_noproxy("corp.com/x"));
        assert!(!s.is_nosumdb("corp.com/x"));
        // GONOSUMDB set separately, GOPRIVATE unset.
        let s = GoScope::new(None, None, Some("git.corp.test"));
        assert_eq!(s.is_private("git.corp.test/team/lib"), None);
        assert!(!s.is_noproxy("git.corp.test/team/lib"));
        assert!(s.is_nosumdb("git.corp.test/team/lib"));
        assert!(s.private.is_empty() && s.noproxy.is_empty());
        // Both set, both independent of GOPRIVATE.
        let s = GoScope::new(Some("a.com"), Some("b.com"), Some("c.com"));
        assert!(s.is_private("a.com/x").is_some() && !s.is_noproxy("a.com/x"));
        assert!(s.is_noproxy("b.com/x") && !s.is_nosumdb("b.com/x"));
        assert!(s.is_nosumdb("c.com/x") && s.is_private("c.com/x").is_none());
        // Nothing set: nothing is private.
        let s = GoScope::new(None, None, None);
        assert_eq!(s.is_private("corp.com/x"), None);
        assert!(!s.is_noproxy("corp.com/x") && !s.is_nosumdb("corp.com/x"));
        let d = GoScope::default();
        assert!(d.private.is_empty() && !d.is_noproxy("x"));
    }
}
