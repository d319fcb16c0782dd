//! One file per command, each with its own Args struct and one `run` function.

pub mod ci;
pub mod credential;
pub mod docs;
pub mod doctor;
pub mod explain;
pub mod goauth;
pub mod init;
pub mod login;
pub mod login_mint;
pub mod logout;
pub mod logout_mint;
pub mod token;
pub mod uninit;

use crate::error::Error;
use crate::protocol::{Origin, Scheme};

/// A TARGET as people write it: a module path (`git.corp.example/team/lib@v1.2.3`) or a URL
/// (`https://git.corp.example/team/lib.git`). Resolved to the origin git would ask about, the
/// repository path, and the module-path form Go's GOPRIVATE matching uses.
#[derive(Debug)]
pub struct ResolvedTarget {
    pub origin: Origin,
    pub path: Option<String>,
    pub module_path: String,
}

pub fn resolve_target(raw: &str) -> Result<ResolvedTarget, Error> {
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
    let module_path = match &path {
        Some(p) => format!(
            "{}/{}",
            origin.authority(),
            p.strip_suffix(".git").unwrap_or(p)
        ),
        None => origin.authority(),
    };
    Ok(ResolvedTarget {
        origin,
        path,
        module_path,
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
        assert!(resolve_target("ftp://a.example").is_err());
        assert!(resolve_target("").is_err());
    }
}
