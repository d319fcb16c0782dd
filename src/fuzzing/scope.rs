//! GOPRIVATE-style pattern lists (Go's `module.MatchPrefixPatterns` over `path.Match`).

use super::Fields;
use crate::scope::{path_match, GoScope, Patterns};

/// Whether `glob` holds no `path.Match` metacharacter.
fn literal(glob: &str) -> bool {
    !glob.contains(['*', '?', '[', '\\'])
}

/// Properties, for a pattern list (field 0) and module paths (the other fields):
/// - whether a glob is malformed does not depend on the name it is matched against (gocred
///   decides it once, Go on every call);
/// - `matching` is the first usable glob that matches the path's leading elements;
/// - a literal glob matches exactly itself and the paths below it;
/// - a match is kept when more elements are added below the path;
/// - GONOPROXY/GONOSUMDB fall back to GOPRIVATE only when unset or empty.
pub fn scope_patterns(data: &[u8]) {
    let f = Fields::split(data);
    let whole = f.text(0);
    assert_eq!(Patterns::parse(&whole).as_str(), whole);
    // Each check below scans the whole list once per target: the first 64 entries are the list
    // (a longer one only repeats the same per-glob code, and made this target 10× slower).
    let list = whole.split(',').take(64).collect::<Vec<_>>().join(",");
    let patterns = Patterns::parse(&list);
    assert_eq!(patterns.as_str(), list);
    let globs: Vec<&str> = patterns.globs().collect();
    assert_eq!(patterns.is_empty(), globs.is_empty());
    let mut targets: Vec<String> = f
        .rest(1)
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    targets.extend(globs.iter().map(|g| g.to_string()));
    // Every glob against every target is quadratic: a long list checks its first ones.
    targets.truncate(32);
    for raw_glob in list.split(',').take(32) {
        let malformed = path_match(raw_glob, "").is_err();
        for t in &targets {
            assert_eq!(
                path_match(raw_glob, t).is_err(),
                malformed,
                "{raw_glob:?} {t:?}"
            );
        }
    }
    for t in &targets {
        let first = globs.iter().copied().find(|g| {
            let n = g.matches('/').count() + 1;
            let elems: Vec<&str> = t.splitn(n + 1, '/').collect();
            elems.len() >= n && path_match(g, &elems[..n].join("/")) == Ok(true)
        });
        assert_eq!(patterns.matching(t), first, "{t:?}");
        for g in globs.iter().copied().filter(|g| literal(g)).take(32) {
            let want = t == g || t.strip_prefix(g).is_some_and(|r| r.starts_with('/'));
            // `g/`: parsing strips exactly one `/`, giving back the glob `g` itself.
            let alone = Patterns::parse(&format!("{g}/"));
            assert_eq!(alone.matches(t), want, "literal {g:?} {t:?}");
        }
        if patterns.matches(t) {
            assert!(patterns.matches(&format!("{t}/x/y")), "{t:?} below");
        }
    }
    let other = f.text(1);
    for (np, ns) in [(None, None), (Some(""), Some(other.as_str()))] {
        let s = GoScope::new(Some(&list), np, ns);
        let own = ns.filter(|v| !v.is_empty()).map(Patterns::parse);
        for t in &targets {
            assert_eq!(s.is_private(t), patterns.matching(t));
            assert_eq!(s.is_noproxy(t), patterns.matches(t));
            let nosum = match &own {
                Some(p) => p.matches(t),
                None => patterns.matches(t),
            };
            assert_eq!(s.is_nosumdb(t), nosum);
        }
    }
}
