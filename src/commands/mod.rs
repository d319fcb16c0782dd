//! One file per command, each with its own Args struct and one `run` function.

#[cfg(unix)]
pub(crate) mod agent;
pub(crate) mod ci;
pub(crate) mod credential;
pub(crate) mod docs;
pub(crate) mod doctor;
#[cfg(unix)]
pub(crate) mod exec;
pub(crate) mod explain;
pub(crate) mod goauth;
pub(crate) mod init;
pub(crate) mod login;
pub(crate) mod logout;
#[cfg(unix)]
pub(crate) mod ssh;
pub(crate) mod token;
pub(crate) mod trace;
pub(crate) mod uninit;

use crate::error::Error;
use crate::protocol::{Origin, Scheme};

/// A TARGET as people write it: a module path (`git.corp.example/team/lib@v1.2.3`) or a URL
/// (`https://git.corp.example/team/lib.git`). Resolved to the origin git would ask about, the
/// repository path, and the module-path form Go's GOPRIVATE matching uses.
#[derive(Debug)]
pub(crate) struct ResolvedTarget {
    pub origin: Origin,
    pub path: Option<String>,
    /// What Go matches GOPRIVATE against. A module path is kept exactly as written (minus
    /// `@version`): Go matches it byte for byte, case, `//` and trailing `/` included. A URL is
    /// turned into the module path it names (lower-case host, no `.git`).
    pub module_path: String,
    /// Why a module-path TARGET is not a valid Go module path (Go would refuse it).
    pub module_problem: Option<String>,
}

/// Why `p` is not a module path `go` accepts (the main rules of Go's `module.CheckPath`); `None`
/// if it looks valid.
pub(crate) fn module_path_problem(p: &str) -> Option<String> {
    if p.is_empty() {
        return Some("it is empty".into());
    }
    if p.starts_with('/') || p.ends_with('/') {
        return Some("it starts or ends with `/`".into());
    }
    let elems: Vec<&str> = p.split('/').collect();
    if elems.iter().any(|e| e.is_empty()) {
        return Some("it has an empty path element (`//`)".into());
    }
    for e in &elems {
        if e.starts_with('.') || e.ends_with('.') {
            return Some(format!("element `{e}` starts or ends with a dot"));
        }
        if !e
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Some(format!(
                "element `{}` has characters other than letters, digits and `-._~`",
                crate::protocol::escape_for_display(e)
            ));
        }
    }
    let first = elems[0];
    if first.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("its first element (the host) is not lower-case".into());
    }
    if !first.contains('.') || first.starts_with('-') || first.contains(['_', '~']) {
        return Some("its first element is not a host name with a dot".into());
    }
    None
}

pub(crate) fn resolve_target(raw: &str) -> Result<ResolvedTarget, Error> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "TARGET `{}`: {why}",
            crate::protocol::escape_for_display(raw)
        ))
    };
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (Scheme::parse(s).map_err(|e| bad(&e.to_string()))?, r),
        None => (Scheme::Https, raw),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let rest = match raw.contains("://") {
        true => rest,
        false => rest.split('@').next().unwrap_or(""), // module@version
    };
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let origin = Origin::parse(scheme, host).map_err(|e| bad(&e.to_string()))?;
    let path = match path {
        Some(p) => crate::protocol::normalise_path(p).map_err(|e| bad(&e.to_string()))?,
        None => None,
    };
    let (module_path, module_problem) = match raw.contains("://") {
        false => {
            let literal = raw.split('@').next().unwrap_or("").to_string();
            let problem = module_path_problem(&literal);
            (literal, problem)
        }
        true => {
            let p = match &path {
                Some(p) => format!(
                    "{}/{}",
                    origin.authority(),
                    p.strip_suffix(".git").unwrap_or(p)
                ),
                None => origin.authority(),
            };
            (p, None)
        }
    };
    Ok(ResolvedTarget {
        origin,
        path,
        module_path,
        module_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = resolve_target("git.corp.example/team/lib@v1.2.3").unwrap();
        assert_eq!(t.origin.host, "git.corp.example");
        assert_eq!(t.path.as_deref(), Some("team/lib"));
        assert_eq!(t.module_path, "git.corp.example/team/lib");
        let t = resolve_target("https://Git.Corp.Example:443/team/lib.git?x=1").unwrap();
        assert_eq!(t.module_path, "git.corp.example/team/lib");
        assert_eq!(t.path.as_deref(), Some("team/lib.git"));
        assert!(resolve_target("https://a.example/x/../y").is_err());
        // A module path is what Go matches, literally.
        let t = resolve_target("GIT.corp.example//team/x/@v1").unwrap();
        assert_eq!(t.module_path, "GIT.corp.example//team/x/");
        assert!(t.module_problem.is_some());
        assert_eq!(t.origin.host, "git.corp.example");
        assert_eq!(
            resolve_target("git.corp.example/a/b.git")
                .unwrap()
                .module_path,
            "git.corp.example/a/b.git"
        );
        for ok in [
            "git.corp.example",
            "git.corp.example/Team/x.v2",
            "a.b/c~d/e_f-g",
        ] {
            assert_eq!(module_path_problem(ok), None, "{ok}");
        }
        for bad in [
            "Git.corp/x",
            "corp/x",
            "a.b//c",
            "a.b/c/",
            "a.b/.c",
            "a.b/c.",
            "a.b/c d",
            "a.b/c?x",
        ] {
            assert!(module_path_problem(bad).is_some(), "{bad}");
        }
        assert!(resolve_target("ftp://a.example").is_err());
        assert!(resolve_target("").is_err());
    }
}
