//! The config file: TOML into rules, and first-match rule selection.

use std::path::Path;

use crate::config::parse;
use crate::protocol::{Origin, Scheme};
use crate::rules::{HostPattern, Rules, Selection};

/// Properties, for any text (non-UTF-8 input is read lossily: `load` refuses it earlier):
/// - parsing and compiling never panic; an error names a line of the file;
/// - for requests built from the rules' own hosts, a selected rule matches the request's host
///   (and path, when one is given), no earlier rule would have matched, and every ambiguous
///   candidate matches the host.
pub fn config_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("config.toml");
    let lines = text.matches('\n').count() + 1;
    let line_ok = |msg: &str| {
        if let Some(n) = msg.split("line ").nth(1).and_then(|r| {
            r.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse::<usize>().ok())
        }) {
            assert!((1..=lines).contains(&n), "line {n} of {lines}: {msg}");
        }
    };
    let file = match parse(path, &text) {
        Err(e) => return line_ok(&e.to_string()),
        Ok(f) => f,
    };
    let rules = match Rules::compile(path, &file, &text) {
        Err(e) => return line_ok(&e.to_string()),
        Ok(r) => r,
    };
    let mut origins = Vec::new();
    for r in &rules.rules {
        let (host, port) = match &r.host {
            HostPattern::Exact { host, port } => (host.clone(), *port),
            HostPattern::OneLabel { suffix, port } => (format!("x.{suffix}"), *port),
        };
        for scheme in [Scheme::Https, Scheme::Http] {
            let authority = match port {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            };
            if let Ok(o) = Origin::parse(scheme, &authority) {
                origins.push(o);
            }
        }
    }
    let paths: Vec<Option<String>> = std::iter::once(None)
        .chain(
            rules
                .rules
                .iter()
                .filter_map(|r| r.path_glob.clone().map(Some)),
        )
        .chain([Some("team/lib".to_string())])
        .collect();
    // Origins × paths × rules grows as a cube: a file with many rules checks its first ones.
    for o in origins.iter().take(16) {
        for p in paths.iter().take(16) {
            match rules.select(o, p.as_deref()) {
                Selection::None => {}
                Selection::Rule(r) => {
                    assert!(r.host.matches(o));
                    if let Some(p) = p {
                        // One rule alone selects exactly when it matches host and path.
                        let alone = |x: &crate::rules::Rule| {
                            let one = Rules {
                                rules: vec![x.clone()],
                            };
                            matches!(one.select(o, Some(p)), Selection::Rule(_))
                        };
                        assert!(alone(r));
                        let i = rules.rules.iter().position(|x| std::ptr::eq(x, r)).unwrap();
                        assert!(!rules.rules[..i].iter().any(alone), "not the first match");
                    }
                    let _ = Rules::check_scheme(r, o);
                }
                Selection::Ambiguous(c) => {
                    assert!(p.is_none() && c.len() > 1);
                    assert!(c.iter().all(|r| r.host.matches(o)));
                }
            }
        }
    }
}
