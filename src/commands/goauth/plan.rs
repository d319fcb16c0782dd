//! Which URL lines a rule may be answered under, so that Go's credential cache picks the same
//! rule as `Rules::select` (what `get` uses) for every URL Go requests.
//!
//! Rules are first-match-wins; Go's cache is a map from keys (a URL line minus `https://` and
//! one trailing `/`) and a request takes the longest key it can reach by cutting its URL, query
//! included, at the last `/` (see docs/protocols/goauth.md). The two disagree in three ways: the go-get
//! page of a prefix (`host/a/b?go-get=1`) skips the key `host/a/b`, because the query sticks to
//! the last element; a `.git` on the last element is the same repository to a rule but another
//! key to Go; and a broader key answers everything beneath it that no longer key answers, even
//! where an earlier rule (deeper, or a glob) is the one `get` picks.
//!
//! So a rule's keys are proposed from its shape ([`keys`]) and then *checked* ([`check`]): for
//! a finite set of sample URLs that stands for every URL on the host (each path built from the
//! rules' literal elements, a `.git` variant and an element no rule names, as a go-get page and
//! as a proxy/repository URL with elements after it), Go's lookup over the keys is compared with
//! first-match. Literal elements are all either rule can tell apart, so agreeing on the samples
//! is agreeing everywhere; a glob element is only known by its literal lead, and an earlier glob
//! that may reach under a key blocks it ([`glob_overlap`]). A rule that fails is not answered up
//! front (only on Go's retry, for the exact URL), because Go cannot be told "nothing here".

use crate::goauth::{UrlLine, UrlPrefix};
use crate::protocol::Origin;
use crate::rules::Rule;
use crate::scope::path_match;

/// A rule's path glob, as far as keys are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No path glob: the whole host.
    Whole,
    /// `a/b`: everything under `a/b` (Go's element-prefix semantics), `a/b.git` included.
    Literal(Vec<String>),
    /// `a/*`: everything under `a` one element down, but not `a` itself.
    LiteralStar(Vec<String>),
    /// Anything else; `lead` are its literal leading elements.
    Complex { lead: Vec<String> },
}

fn is_literal(e: &str) -> bool {
    !e.is_empty() && !e.contains(['*', '?', '[', '\\'])
}

fn shape(rule: &Rule) -> Shape {
    let Some(glob) = &rule.path_glob else {
        return Shape::Whole;
    };
    let elems: Vec<&str> = glob.split('/').collect();
    let lead: Vec<String> = elems
        .iter()
        .take_while(|e| is_literal(e))
        .map(|e| e.to_string())
        .collect();
    match elems.len() - lead.len() {
        0 => Shape::Literal(lead),
        1 if elems.last() == Some(&"*") => Shape::LiteralStar(lead),
        _ => Shape::Complex { lead },
    }
}

/// One key Go would store a rule's credential under: the path elements, and whether it is the
/// go-get page of exactly that path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub elems: Vec<String>,
    pub go_get: bool,
}

impl Key {
    fn plain(elems: Vec<String>) -> Key {
        Key {
            elems,
            go_get: false,
        }
    }

    /// Go's cache key for this key on `origin`.
    pub(crate) fn cache_key(&self, origin: &Origin) -> String {
        let mut s = origin.authority();
        for e in &self.elems {
            s.push('/');
            s.push_str(e);
        }
        if self.go_get {
            s.push_str("?go-get=1");
        }
        s
    }

    /// The URL line that makes Go store this key; `None` if it cannot be written safely.
    pub(crate) fn line(&self, origin: &Origin) -> Option<UrlLine> {
        let refs: Vec<&str> = self.elems.iter().map(String::as_str).collect();
        let p = UrlPrefix::new(origin, &refs).ok()?;
        Some(match self.go_get {
            true => UrlLine::GoGet(p),
            false => UrlLine::Prefix(p),
        })
    }
}

/// The path elements a rule's credential is looked up for (its literal lead); `None` for
/// globs no key fits.
pub(crate) fn prefix_elems(rule: &Rule) -> Option<Vec<String>> {
    match shape(rule) {
        Shape::Whole => Some(Vec::new()),
        Shape::Literal(p) | Shape::LiteralStar(p) => Some(p),
        Shape::Complex { .. } => None,
    }
}

/// The keys that answer everything `rule` covers on its own: the host; a literal path, its
/// `.git` twin and the go-get pages of both; for `a/*` the key `a` alone (its go-get page
/// `a?go-get=1` is not the rule's, and Go, finding no key for it, falls back to a broader one).
pub(crate) fn keys(rule: &Rule) -> Option<Vec<Key>> {
    Some(match shape(rule) {
        Shape::Whole => vec![Key::plain(Vec::new())],
        Shape::Literal(p) => {
            let mut git = p.clone();
            if let Some(last) = git.last_mut() {
                last.push_str(".git");
            }
            vec![
                Key::plain(p.clone()),
                Key {
                    elems: p,
                    go_get: true,
                },
                Key::plain(git.clone()),
                Key {
                    elems: git,
                    go_get: true,
                },
            ]
        }
        Shape::LiteralStar(p) => vec![Key::plain(p)],
        Shape::Complex { .. } => return None,
    })
}

fn related(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// An earlier rule for the host whose glob may reach under `elems`: its overlap cannot be
/// sampled, so no key there is safe.
pub(crate) fn glob_overlap(
    rules: &[Rule],
    i: usize,
    origin: &Origin,
    elems: &[String],
) -> Option<usize> {
    rules[..i]
        .iter()
        .filter(|r| r.host.matches(origin))
        .find(|r| matches!(shape(r), Shape::Complex { lead } if related(&lead, elems)))
        .map(|r| r.line)
}

/// An element name no rule uses (the stand-in for "any other element").
fn fresh(taken: &[Vec<String>]) -> String {
    let mut name = String::from("gocred-other");
    while taken
        .iter()
        .flatten()
        .any(|e| *e == name || *e == format!("{name}.git"))
    {
        name.push('x');
    }
    name
}

/// Sample paths standing for every path on `origin`: each literal lead of a rule (and each of
/// its prefixes), with the last element also as `.git`, each alone and followed by one or two
/// elements no rule names.
fn sample_paths(rules: &[Rule], origin: &Origin) -> Vec<Vec<String>> {
    let mut bases: Vec<Vec<String>> = vec![Vec::new()];
    for r in rules.iter().filter(|r| r.host.matches(origin)) {
        let lead = match shape(r) {
            Shape::Whole => continue,
            Shape::Literal(p) | Shape::LiteralStar(p) | Shape::Complex { lead: p } => p,
        };
        for l in 1..=lead.len() {
            bases.push(lead[..l].to_vec());
        }
    }
    let other = fresh(&bases);
    let mut out: Vec<Vec<String>> = Vec::new();
    for base in &bases {
        let mut variants = vec![base.clone()];
        if let Some(last) = base.last() {
            let mut g = base.clone();
            *g.last_mut().expect("non-empty") = format!("{last}.git");
            variants.push(g);
        }
        for v in variants {
            for tail in [
                &[][..],
                &[other.clone()][..],
                &[other.clone(), other.clone()][..],
            ] {
                let mut p = v.clone();
                p.extend_from_slice(tail);
                out.push(p.clone());
                if !tail.is_empty() {
                    let last = p.last_mut().expect("non-empty");
                    last.push_str(".git");
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Go's `loadCredential`: the longest key reachable from `url` (minus `https://` and one
/// trailing `/`) by cutting at the last `/`.
pub(crate) fn go_lookup<'k, T>(keys: &'k [(String, T)], url: &str) -> Option<&'k T> {
    let mut cur = url.strip_prefix("https://").unwrap_or(url);
    cur = cur.strip_suffix('/').unwrap_or(cur);
    loop {
        if let Some((_, v)) = keys.iter().find(|(k, _)| k == cur) {
            return Some(v);
        }
        cur = &cur[..cur.rfind('/')?];
    }
}

/// The rule `get` picks for `path` on `origin` (first match), by index.
fn first_match(rules: &[Rule], origin: &Origin, path: &str) -> Option<usize> {
    rules
        .iter()
        .position(|r| r.host.matches(origin) && r.covers_path(path))
}

/// Whether Go, holding `keys` (cache key → rule index) for `origin`, attaches to every sample
/// URL either nothing or the credential of the rule first-match picks. `Err`: the first URL
/// where it would not, and the rule Go would use there.
pub(crate) fn check(
    rules: &[Rule],
    origin: &Origin,
    keys: &[(String, usize)],
) -> Result<(), String> {
    let auth = origin.authority();
    for p in sample_paths(rules, origin) {
        let path = p.join("/");
        let tail = match p.is_empty() {
            true => "@v/list".to_string(),
            false => format!("{path}/@v/list"),
        };
        let mut urls = vec![(format!("https://{auth}/{tail}"), tail)];
        if !p.is_empty() {
            urls.push((format!("https://{auth}/{path}?go-get=1"), path.clone()));
        }
        for (url, fm_path) in urls {
            let Some(&go) = go_lookup(keys, &url) else {
                continue;
            };
            let fm = first_match(rules, origin, &fm_path);
            if fm != Some(go) {
                let picks = match fm {
                    Some(j) => format!("the rule at line {}", rules[j].line),
                    None => "no rule".to_string(),
                };
                return Err(format!(
                    "Go would send the credential of the rule at line {} with {url}, where \
                     `get` picks {picks}",
                    rules[go].line
                ));
            }
        }
    }
    Ok(())
}

/// Whether a GOINSECURE glob could match a module on `host`: Go then fetches it without checking
/// TLS and still attaches GOAUTH credentials (docs/protocols/goauth.md), so no credential is given for the host.
pub(crate) fn insecure_host(goinsecure: &str, host: &str) -> Option<String> {
    goinsecure
        .split(',')
        .map(|g| g.strip_suffix('/').unwrap_or(g))
        .filter(|g| !g.is_empty())
        .find(|g| path_match(g.split('/').next().unwrap_or(""), host).unwrap_or(false))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::protocol::Scheme;
    use crate::rules::Rules;
    use std::path::Path;

    fn rules(patterns: &[&str]) -> Vec<Rule> {
        let toml: String = patterns
            .iter()
            .map(|p| format!("[[rule]]\npattern = \"{p}\"\nsource = \"pat\"\n"))
            .collect();
        let f = parse(Path::new("c.toml"), &toml).unwrap();
        Rules::compile(Path::new("c.toml"), &f, &toml)
            .unwrap()
            .rules
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|e| e.to_string()).collect()
    }

    fn o() -> Origin {
        Origin::parse(Scheme::Https, "h.example").unwrap()
    }

    /// All keys of rules `idx`, as `check` takes them.
    fn keyed(r: &[Rule], idx: &[usize]) -> Vec<(String, usize)> {
        idx.iter()
            .flat_map(|&i| {
                keys(&r[i])
                    .unwrap()
                    .into_iter()
                    .map(move |k| (k.cache_key(&o()), i))
            })
            .collect()
    }

    #[test]
    fn prefixes_for_shapes() {
        let r = rules(&[
            "h.example",
            "h.example/team",
            "h.example/acme/*",
            "h.example/a/b*",
            "h.example/*/x",
            "h.example/a/*/*",
        ]);
        let got: Vec<Option<Vec<String>>> = r.iter().map(prefix_elems).collect();
        assert_eq!(
            got,
            [
                Some(v(&[])),
                Some(v(&["team"])),
                Some(v(&["acme"])),
                None,
                None,
                None
            ]
        );
        let k: Vec<String> = keys(&r[1])
            .unwrap()
            .iter()
            .map(|k| k.cache_key(&o()))
            .collect();
        assert_eq!(
            k,
            [
                "h.example/team",
                "h.example/team?go-get=1",
                "h.example/team.git",
                "h.example/team.git?go-get=1"
            ]
        );
        assert_eq!(keyed(&r, &[2]), [("h.example/acme".to_string(), 2)]);
    }

    #[test]
    fn go_lookup_cuts_at_the_last_slash_with_the_query_attached() {
        let keys = vec![("h/team/lib".to_string(), 0), ("h".to_string(), 1)];
        assert_eq!(go_lookup(&keys, "https://h/team/lib?go-get=1"), Some(&1));
        assert_eq!(go_lookup(&keys, "https://h/team/lib/x?go-get=1"), Some(&0));
        assert_eq!(go_lookup(&keys, "https://h/team/lib/"), Some(&0));
        assert_eq!(go_lookup(&keys, "https://other/x"), None);
    }

    #[test]
    fn the_nested_layout_of_the_review_is_answered_consistently() {
        // `team/lib` first, host second: with only the plain key, Go's go-get page of
        // `team/lib` falls back to the host key; with the go-get key it does not.
        let r = rules(&["h.example/team/lib", "h.example"]);
        let only_plain = vec![
            ("h.example/team/lib".to_string(), 0),
            ("h.example".to_string(), 1),
        ];
        let e = check(&r, &o(), &only_plain).unwrap_err();
        assert!(e.contains("h.example/team/lib?go-get=1"), "{e}");
        assert_eq!(check(&r, &o(), &keyed(&r, &[0, 1])), Ok(()));
        // The host key alone would answer `team/lib` with the wrong rule.
        assert!(check(&r, &o(), &keyed(&r, &[1])).is_err());
    }

    #[test]
    fn first_match_order_decides() {
        // Scoped rule first, host rule second: both answerable.
        let r = rules(&["h.example/acme/*", "h.example"]);
        assert_eq!(check(&r, &o(), &keyed(&r, &[0, 1])), Ok(()));
        assert!(check(&r, &o(), &keyed(&r, &[1])).is_err(), "acme failed");
        // Host rule first: it wins everything, the scoped rule is never answered.
        let r = rules(&["h.example", "h.example/acme/*"]);
        assert!(check(&r, &o(), &keyed(&r, &[0, 1])).is_err());
        assert_eq!(check(&r, &o(), &keyed(&r, &[0])), Ok(()));
        // A wildcard rule earlier covers the host: its rule gets no key.
        let r = rules(&["*.example", "h.example"]);
        assert!(check(&r, &o(), &keyed(&r, &[1])).is_err());
        // `acme/*` then `acme`: the owner key `acme` answers the `acme/*` subtree; `acme`'s own
        // go-get page must not fall back to a host key.
        let r = rules(&["h.example/acme/*", "h.example/acme", "h.example"]);
        assert!(check(&r, &o(), &keyed(&r, &[0, 2])).is_err());
        // A `.git` repository URL is the same repository to a rule.
        let r = rules(&["h.example/team/lib", "h.example"]);
        let no_git = vec![
            ("h.example/team/lib".to_string(), 0),
            ("h.example/team/lib?go-get=1".to_string(), 0),
            ("h.example".to_string(), 1),
        ];
        assert!(check(&r, &o(), &no_git).unwrap_err().contains("lib.git"));
    }

    #[test]
    fn an_earlier_glob_blocks_keys_it_may_reach() {
        let r = rules(&["h.example/a/b*", "h.example", "h.example/c"]);
        assert_eq!(glob_overlap(&r, 1, &o(), &[]), Some(1));
        assert_eq!(glob_overlap(&r, 2, &o(), &v(&["c"])), None);
        assert_eq!(glob_overlap(&r, 2, &o(), &v(&["a", "x"])), Some(1));
    }

    #[test]
    fn goinsecure_hosts() {
        assert_eq!(insecure_host("", "git.corp.test"), None);
        assert_eq!(
            insecure_host("*.corp.test", "git.corp.test").as_deref(),
            Some("*.corp.test")
        );
        assert_eq!(
            insecure_host("other.test,git.corp.test/legacy/", "git.corp.test").as_deref(),
            Some("git.corp.test/legacy")
        );
        assert_eq!(insecure_host("corp.test", "git.corp.test"), None);
    }
}
