//! Which URL prefix a rule may be answered under, so that Go's cache picks the same rule as
//! `Rules::select` for every request under it.
//!
//! Rules are first-match-wins; Go's credential cache is longest-prefix-wins, byte for byte
//! (spec R2.16). A prefix is only handed to Go when the two agree on everything beneath it: the
//! rule's path glob must be literal elements, optionally followed by one `*` (`team`,
//! `acme/*`), and no earlier rule for the same host may cover it, overlap it in a way we cannot
//! compute, or sit deeper under it without having been answered itself. Anything else is
//! answered only on Go's retry call, for the exact URL Go asks about.

use crate::protocol::Origin;
use crate::rules::Rule;
use crate::scope::path_match;

/// A rule's path glob, as far as prefixes are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No path glob: the whole host.
    Whole,
    /// `a/b`: everything under `a/b` (Go's element-prefix semantics).
    Literal(Vec<String>),
    /// `a/*`: everything under `a` one element down.
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

/// The path elements of the prefix `rule` is answered under; `None` for globs no prefix fits.
pub fn prefix_elems(rule: &Rule) -> Option<Vec<String>> {
    match shape(rule) {
        Shape::Whole => Some(Vec::new()),
        Shape::Literal(p) | Shape::LiteralStar(p) => Some(p),
        Shape::Complex { .. } => None,
    }
}

/// How an earlier rule meets the prefix `p` of a later one on the same host.
#[derive(Debug, PartialEq, Eq)]
pub enum Relation {
    /// Nothing under `p` is the earlier rule's.
    Disjoint,
    /// The earlier rule wins everything (or everything but `p` itself) under `p`.
    Covers,
    /// The earlier rule owns the subtree at these elements under `p`.
    Deeper(Vec<String>),
    /// A glob whose overlap with `p` we cannot compute.
    Unknown,
}

fn starts_with(long: &[String], short: &[String]) -> bool {
    long.len() >= short.len() && long[..short.len()] == *short
}

pub fn relation(earlier: &Rule, p: &[String]) -> Relation {
    match shape(earlier) {
        Shape::Whole => Relation::Covers,
        Shape::Literal(q) | Shape::LiteralStar(q) if starts_with(p, &q) => Relation::Covers,
        Shape::Literal(q) | Shape::LiteralStar(q) if starts_with(&q, p) => Relation::Deeper(q),
        Shape::Literal(_) | Shape::LiteralStar(_) => Relation::Disjoint,
        Shape::Complex { lead } if starts_with(p, &lead) || starts_with(&lead, p) => {
            Relation::Unknown
        }
        Shape::Complex { .. } => Relation::Disjoint,
    }
}

/// Why rule `rules[i]` may not be answered under `p` on `origin` in the first call, given the
/// prefixes already answered. `None`: it may.
pub fn first_call_conflict(
    rules: &[Rule],
    i: usize,
    origin: &Origin,
    p: &[String],
    answered: &[(Origin, Vec<String>)],
) -> Option<String> {
    for earlier in rules[..i].iter().filter(|r| r.host.matches(origin)) {
        let line = earlier.line;
        match relation(earlier, p) {
            Relation::Disjoint => {}
            Relation::Covers => {
                return Some(format!("the rule at line {line} comes first and covers it"))
            }
            Relation::Unknown => {
                return Some(format!(
                    "the rule at line {line} comes first and its glob may overlap it"
                ))
            }
            Relation::Deeper(q) => {
                if !answered.iter().any(|(o, a)| o == origin && *a == q) {
                    return Some(format!(
                        "the rule at line {line} (deeper, first) has no credential to give, and \
                         this broader prefix would hand Go the wrong one for it"
                    ));
                }
            }
        }
    }
    None
}

/// On a retry there is no record of what the first call answered: a prefix is used only when
/// no earlier rule for the host touches it at all.
pub fn retry_prefix_ok(rules: &[Rule], i: usize, origin: &Origin, p: &[String]) -> bool {
    rules[..i]
        .iter()
        .filter(|r| r.host.matches(origin))
        .all(|r| relation(r, p) == Relation::Disjoint)
}

/// Whether a GOINSECURE glob could match a module on `host`: Go then fetches it without checking
/// TLS and still attaches GOAUTH credentials (spec R2.3), so no credential is given for the host.
pub fn insecure_host(goinsecure: &str, host: &str) -> Option<String> {
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
    }

    #[test]
    fn relations() {
        let r = rules(&[
            "h.example",
            "h.example/team",
            "h.example/acme/*",
            "h.example/a/b*",
        ]);
        assert_eq!(relation(&r[0], &v(&["x"])), Relation::Covers);
        assert_eq!(relation(&r[1], &v(&["team", "lib"])), Relation::Covers);
        assert_eq!(relation(&r[1], &v(&[])), Relation::Deeper(v(&["team"])));
        assert_eq!(relation(&r[1], &v(&["other"])), Relation::Disjoint);
        assert_eq!(relation(&r[2], &v(&["acme"])), Relation::Covers);
        assert_eq!(relation(&r[3], &v(&["a"])), Relation::Unknown);
        assert_eq!(relation(&r[3], &v(&[])), Relation::Unknown);
        assert_eq!(relation(&r[3], &v(&["b"])), Relation::Disjoint);
    }

    #[test]
    fn first_match_order_decides() {
        let o = Origin::parse(Scheme::Https, "h.example").unwrap();
        // Scoped rule first, host rule second: both answerable, Go's longest prefix agrees.
        let r = rules(&["h.example/acme/*", "h.example"]);
        assert_eq!(first_call_conflict(&r, 0, &o, &v(&["acme"]), &[]), None);
        let answered = vec![(o.clone(), v(&["acme"]))];
        assert_eq!(first_call_conflict(&r, 1, &o, &[], &answered), None);
        assert!(
            first_call_conflict(&r, 1, &o, &[], &[]).is_some(),
            "acme failed"
        );
        assert!(!retry_prefix_ok(&r, 1, &o, &[]));
        // Host rule first: it wins everything, the scoped rule is never answered.
        let r = rules(&["h.example", "h.example/acme/*"]);
        assert!(first_call_conflict(&r, 1, &o, &v(&["acme"]), &[]).is_some());
        // A wildcard rule earlier also covers the host.
        let r = rules(&["*.example", "h.example"]);
        assert!(first_call_conflict(&r, 1, &o, &[], &[]).is_some());
        assert!(retry_prefix_ok(&r, 0, &o, &[]));
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
