//! The `<meta name="go-import" content="prefix vcs repo-root [subdir]">` tags of a go-get page,
//! and which one applies to a module path (go:cmd/go/internal/vcs/discovery.go, vcs.go
//! `matchGoImport`), plus Go's static table of hosts it never asks (github.com …). Pure.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Import {
    pub prefix: String,
    pub vcs: String,
    pub repo_root: String,
    pub subdir: Option<String>,
}

/// Meta tags before `<body>` / `</head>`, as Go's lenient parser reads them.
pub(crate) fn parse(html: &str) -> Vec<Import> {
    let lower = html.to_ascii_lowercase();
    let end = [lower.find("<body"), lower.find("</head")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(lower.len());
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..end].find("<meta") {
        let start = at + i;
        let close = lower[start..end].find('>').map_or(end, |j| start + j);
        let attrs = attributes(&html[start + 5..close]);
        at = close.max(start + 5);
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("name") != Some("go-import") {
            continue;
        }
        let f: Vec<&str> = get("content").unwrap_or("").split_whitespace().collect();
        if f.len() == 3 || f.len() == 4 {
            out.push(Import {
                prefix: f[0].to_string(),
                vcs: f[1].to_string(),
                repo_root: f[2].to_string(),
                subdir: f.get(3).map(|s| s.to_string()),
            });
        }
    }
    out
}

fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        let name = s[ns..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                i = vs;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = s[vs..i.min(b.len())].to_string();
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = s[vs..i].to_string();
            }
        }
        if !name.is_empty() {
            out.push((name, value.replace("&amp;", "&").replace("&quot;", "\"")));
        }
    }
    out
}

/// The tag for `module`: prefix equal to it or a prefix at a `/` boundary. `Err` when several
/// match (Go refuses) or none does.
pub(crate) fn matching<'a>(imports: &'a [Import], module: &str) -> Result<&'a Import, String> {
    let m: Vec<&Import> = imports
        .iter()
        .filter(|i| module == i.prefix || module.starts_with(&format!("{}/", i.prefix)))
        .collect();
    match m.as_slice() {
        [one] => Ok(one),
        [] if imports.is_empty() => Err("the page has no go-import meta tag".into()),
        [] => Err(format!(
            "no go-import tag matches {module} (the page declares {})",
            imports
                .iter()
                .map(|i| i.prefix.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!(
            "several go-import tags match {module}; Go refuses the page"
        )),
    }
}

/// Hosts Go maps without fetching a page (go:cmd/go/internal/vcs/vcs.go `vcsPaths`), and paths
/// with an explicit `.git` element: the repository root Go will use, if `module` is one.
pub(crate) fn static_root(module: &str) -> Option<(String, &'static str)> {
    let parts: Vec<&str> = module.split('/').collect();
    match parts.first() {
        Some(&"github.com") | Some(&"bitbucket.org") if parts.len() >= 3 => Some((
            format!("https://{}/{}/{}", parts[0], parts[1], parts[2]),
            "Go's built-in table (no go-get page is fetched)",
        )),
        _ => {
            let i = parts.iter().position(|p| p.ends_with(".git"))?;
            Some((
                format!("https://{}", parts[..=i].join("/")),
                "the .git element of the path (no go-get page is fetched)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_pages() {
        let page = "<!DOCTYPE html>\n<html><head>\n<meta name=\"go-import\" content=\"git.corp.test/team/lib git https://git.corp.test/team/lib.git\">\n\
                    <META NAME='go-import' CONTENT='x.test/a mod https://proxy.test'/></head><body>\
                    <meta name=\"go-import\" content=\"late git https://late\"></body>";
        let i = parse(page);
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].repo_root, "https://git.corp.test/team/lib.git");
        assert_eq!(i[1].vcs, "mod");
        assert_eq!(
            matching(&i, "git.corp.test/team/lib/sub").unwrap().prefix,
            "git.corp.test/team/lib"
        );
        assert!(matching(&i, "git.corp.test/team/libx").is_err());
        assert!(matching(&[], "a/b").unwrap_err().contains("no go-import"));
    }

    #[test]
    fn static_hosts() {
        assert_eq!(
            static_root("github.com/acme/lib/v2").unwrap().0,
            "https://github.com/acme/lib"
        );
        assert_eq!(
            static_root("git.corp.test/team/lib.git/sub").unwrap().0,
            "https://git.corp.test/team/lib.git"
        );
        assert!(static_root("git.corp.test/team/lib").is_none());
    }
}
