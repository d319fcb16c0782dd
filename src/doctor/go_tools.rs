//! `go.goflags`, `go.goinsecure`, `go.goauth`, `go.gotoolchain`: the rest of Go's settings that
//! change how (or whether) a private module is fetched (docs/protocols/go-modules.md).

use std::path::{Path, PathBuf};

use super::goauth::{self, Method};
use super::report::{clean, Finding, Report};
use super::Doctor;
use crate::proc;
use crate::scope::Patterns;

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
    goflags(d, r);
    goinsecure(d, r);
    goauth_check(d, r);
    gotoolchain(d, r);
}

fn goflags(d: &Doctor, r: &mut Report) {
    let v = d.go.get("GOFLAGS");
    let flags: Vec<&str> = v.split_whitespace().collect();
    let f = if flags.contains(&"-mod=vendor") {
        Finding::warn("go.goflags", format!("GOFLAGS={v}: -mod=vendor makes builds ignore the module cache (`go mod download` still fetches)"))
    } else if flags.iter().any(|f| f.starts_with("-insecure")) {
        Finding::fail("go.goflags", format!("GOFLAGS={v}: -insecure no longer exists; use GOINSECURE for the hosts that need it"))
            .fix(d.go.set_command("GOFLAGS", &flags.iter().filter(|f| !f.starts_with("-insecure")).copied().collect::<Vec<_>>().join(" ")))
    } else if v.is_empty() {
        Finding::ok("go.goflags", "GOFLAGS is empty")
    } else {
        Finding::ok(
            "go.goflags",
            format!("GOFLAGS={v} ({})", d.go.describe_from("GOFLAGS")),
        )
    };
    r.push(f);
}

fn goinsecure(d: &Doctor, r: &mut Report) {
    let v = d.go.get("GOINSECURE");
    let m = &d.target.module;
    r.push(match Patterns::parse(v).matching(m) {
        Some(p) => Finding::warn("go.goinsecure", format!(
            "GOINSECURE pattern `{p}` covers {m}: Go skips TLS verification (and may use http) for it, and still sends \
             GOAUTH credentials — anyone on the path can read them"
        )),
        None if v.is_empty() => Finding::ok("go.goinsecure", "GOINSECURE is empty: TLS is verified"),
        None => Finding::ok("go.goinsecure", format!("GOINSECURE={v} does not cover {m}")),
    });
}

fn goauth_check(d: &Doctor, r: &mut Report) {
    let v = d.go.get("GOAUTH").to_string();
    let from = d.go.describe_from("GOAUTH");
    let methods = match goauth::parse_goauth(&v) {
        Ok(m) => m,
        Err(e) => {
            let fix = match (e.contains("git"), d.env.get("HOME")) {
                (true, Some(h)) if !h.contains(char::is_whitespace) => {
                    d.go.set_command("GOAUTH", &format!("git {h}"))
                }
                _ => d.go.set_command("GOAUTH", "netrc"),
            };
            return r.push(
                Finding::fail(
                    "go.goauth",
                    format!("GOAUTH={} ({from}): go stops with: {e}", clean(&v)),
                )
                .fix(fix),
            );
        }
    };
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    for m in &methods {
        match m {
            Method::Off => notes.push("off: Go sends no credentials of its own (not even .netrc)".to_string()),
            Method::Netrc => {
                let p = goauth::go_netrc_path(d.env).map(|p| p.display().to_string()).unwrap_or_default();
                notes.push(format!("netrc: Go sends entries from {p} up front"));
            }
            Method::Git(dir) => notes.push(format!("git {dir}: after a 401/404 Go runs `git credential fill` there (git's helpers, so gocred, answer)")),
            Method::Command(c) => {
                let words = super::goauth_cmd::split_words(c).unwrap_or_default();
                let prog = words.first().cloned().unwrap_or_default();
                match proc::which(&prog, d.env.get("PATH")) {
                    Some(p) => notes.push(format!("command `{}` ({}): runs before the first request and again after a 4xx", clean(c), p.display())),
                    None => problems.push(format!("the GOAUTH command `{}` is not found on PATH (Go logs the error and sends nothing)", clean(&prog))),
                }
            }
        }
    }
    let msg = format!("GOAUTH={} ({from}): {}", clean(&v), notes.join("; "));
    r.push(if problems.is_empty() {
        Finding::ok("go.goauth", msg)
    } else {
        Finding::fail("go.goauth", format!("{msg}; {}", problems.join("; ")))
    });
}

/// GOTOOLCHAIN surprises: a go.mod asking for a newer Go either fails (`local`) or makes `go`
/// download a toolchain through GOPROXY (`auto`), which fails with GOPROXY=off or a private
/// proxy that does not mirror golang.org/toolchain.
fn gotoolchain(d: &Doctor, r: &mut Report) {
    let tc = d.go.get("GOTOOLCHAIN").to_string();
    let running = d.go.get("GOVERSION").to_string();
    let f = match &d.go.go {
        Err(e) => Finding::warn(
            "go.gotoolchain",
            format!("{e}: read Go's settings from the environment and Go's env file instead"),
        ),
        Ok(path) => {
            let need = find_go_mod().and_then(|p| required_go(&p).map(|v| (p, v)));
            match need {
                Some((gomod, want)) if newer(&want, running.trim_start_matches("go")) => {
                    let where_ = gomod.display();
                    if tc == "local" || tc.ends_with("+path") || tc == "path" {
                        Finding::fail("go.gotoolchain", format!("{where_} needs go {want}, this is {running} and GOTOOLCHAIN={tc} forbids switching"))
                    } else if crate::goproxy::proxy_urls(d.go.get("GOPROXY")).is_empty() {
                        Finding::fail("go.gotoolchain", format!("{where_} needs go {want}; GOTOOLCHAIN={tc} makes go download it from GOPROXY, which is {}", d.go.get("GOPROXY")))
                    } else {
                        Finding::warn("go.gotoolchain", format!("{where_} needs go {want}: GOTOOLCHAIN={tc} makes go download it first (through GOPROXY)"))
                    }
                }
                _ => Finding::ok(
                    "go.gotoolchain",
                    format!("{running} at {} (GOTOOLCHAIN={tc})", path.display()),
                ),
            }
        }
    };
    r.push(f);
}

fn find_go_mod() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let p = dir.join("go.mod");
        if p.is_file() {
            return Some(p);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The `toolchain goX` or `go X` line of a go.mod.
fn required_go(p: &Path) -> Option<String> {
    let text = std::fs::read_to_string(p).ok()?;
    let mut go = None;
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match (w.next(), w.next()) {
            (Some("toolchain"), Some(v)) => return Some(v.trim_start_matches("go").to_string()),
            (Some("go"), Some(v)) => go = Some(v.to_string()),
            _ => {}
        }
    }
    go
}

/// Is version `a` newer than `b` (`1.22.3` style, pre-release suffixes ignored)?
fn newer(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u32> {
        s.split('.')
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (mut x, mut y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    !b.is_empty() && x > y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(newer("1.28", "1.27.3"));
        assert!(!newer("1.27.3", "1.27.3"));
        assert!(!newer("1.21", "1.27.3"));
        assert!(newer("1.27.4", "1.27.3"));
        assert!(!newer("1.30", ""));
    }
}
