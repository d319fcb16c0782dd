//! Step 5: git. `git.version` (and the protocol features gocred relies on), `git.helpers` (the
//! helper chain for the repository URL in git's order; a helper that answers before gocred is
//! run on its own and its answer probed — a `store` holding a stale token is the classic),
//! `git.usehttppath`, and `git.insteadof` (rewrites that send the host to SSH without a key, or
//! that catch a whole public host).

use super::gitconf::{self, GitVersion};
use super::report::{clean, sh_quote, Finding, Report};
use super::Doctor;
use crate::protocol::Origin;

const PUBLIC_HOSTS: [&str; 3] = ["github.com", "gitlab.com", "bitbucket.org"];

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
    version(d, r);
    if let Some(p) = d.served_by_proxy.clone() {
        for id in ["git.helpers", "git.usehttppath", "git.insteadof"] {
            r.push(Finding::skip(
                id,
                format!("Go gets the module from {p}: git is not involved"),
            ));
        }
        return;
    }
    let Some(repo) = d.repo.clone() else { return };
    let rewritten = insteadof(d, r, &repo.url, &repo.origin);
    if rewritten {
        r.push(Finding::skip(
            "git.helpers",
            "git does not use https for this repository (see git.insteadof)",
        ));
        r.push(Finding::skip(
            "git.usehttppath",
            "git does not use https for this repository",
        ));
        return;
    }
    super::git_helpers::helpers(d, r, &repo.url, &repo.origin);
    use_http_path(d, r, &repo.origin);
}

fn version(d: &mut Doctor, r: &mut Report) {
    match d.git.version() {
        Err(e) => r.push(Finding::fail(
            "git.version",
            format!("cannot run git: {e}; Go fetches private modules with git"),
        )),
        Ok((v, line)) => {
            let mut notes = Vec::new();
            if v < GitVersion(2, 18, 0) {
                notes.push("no protocol v2 (Go asks for it)");
            }
            if v < GitVersion(2, 40, 0) {
                notes.push(
                    "ignores password_expiry_utc (short-lived tokens may be reused after expiry)",
                );
            }
            if !has_cr_fix(v) {
                notes.push("lacks the CVE-2024-52006 fix (credential.protectProtocol): upgrade");
            }
            let features = if v >= GitVersion(2, 46, 0) {
                "credential capabilities (authtype, state, ephemeral)"
            } else {
                "no credential capabilities (< 2.46)"
            };
            r.push(if notes.is_empty() {
                Finding::ok(
                    "git.version",
                    format!("{}: protocol v2, {features}", clean(&line)),
                )
            } else {
                Finding::warn(
                    "git.version",
                    format!("{}: {}", clean(&line), notes.join("; ")),
                )
            });
        }
    }
}

/// Versions with the January 2025 credential fixes (docs/protocols/git-credential.md, "Versions that matter").
fn has_cr_fix(v: GitVersion) -> bool {
    let GitVersion(maj, min, patch) = v;
    maj > 2
        || min >= 49
        || match min {
            48 => patch >= 1,
            47 => patch >= 2,
            44..=46 => patch >= 3,
            43 => patch >= 6,
            42 => patch >= 4,
            41 => patch >= 3,
            40 => patch >= 4,
            _ => false,
        }
}

fn use_http_path(d: &mut Doctor, r: &mut Report, o: &Origin) {
    let host = o.authority();
    let url = format!("https://{host}/");
    let on = d
        .git
        .urlmatch("credential.useHttpPath", &url)
        .is_some_and(|v| matches!(v.as_str(), "true" | "yes" | "on" | "1"));
    let same_host: Vec<&crate::rules::Rule> = d
        .settings
        .rules
        .rules
        .iter()
        .filter(|r| r.host.matches(o))
        .collect();
    let scoped = same_host.len() > 1 && same_host.iter().any(|r| r.path_glob.is_some());
    let goauth_git =
        d.go.get("GOAUTH")
            .split(';')
            .any(|m| m.trim().starts_with("git "));
    let page_here = d.module_origin() == o;
    let f = match (on, scoped) {
        (false, true) => Finding::fail("git.usehttppath", format!("{} rules share {host} by path but git does not send paths (credential.useHttpPath is off)", same_host.len()))
            .fix(format!("git config --global credential.https://{host}.useHttpPath true")),
        (true, _) if goauth_git && page_here => {
            let f = Finding::fail("git.usehttppath", format!(
                "credential.useHttpPath is on for {host} and GOAUTH asks git: git then sends `path=…?go-get=1` and Go rejects the answer \
                 (`requested a credential for …?go-get=1, but 'git credential fill' provided one for …%3Fgo-get=1`)"
            ));
            let entry = d.git.entries(r"^credential\..*usehttppath$").into_iter().rev().find(|e| gitconf::url_matches(sub_of(&e.key), &url));
            match (scoped, entry.and_then(|e| Some(format!("git config {} --unset {}", gitconf::file_option(&e)?, sh_quote(&e.key))))) {
                (false, Some(fix)) => f.fix(fix),
                _ => f,
            }
        }
        (true, _) => Finding::ok("git.usehttppath", format!("git sends repository paths for {host}{}", if scoped { " (several rules share the host)" } else { "" })),
        (false, false) => Finding::ok("git.usehttppath", format!("not needed: one rule serves {host}")),
    };
    r.push(f);
}

fn sub_of(key: &str) -> &str {
    key.strip_prefix("credential.")
        .and_then(|k| k.rsplit_once('.'))
        .map_or("", |(s, _)| s)
}

/// `git.insteadof`; returns true when git will not use https for the repository.
fn insteadof(d: &mut Doctor, r: &mut Report, url: &str, o: &Origin) -> bool {
    let entries = d.git.entries(r"^url\..*\.insteadof$");
    let broad: Vec<String> = entries
        .iter()
        .filter(|e| {
            PUBLIC_HOSTS
                .iter()
                .any(|h| e.value_str().trim_end_matches('/') == format!("https://{h}"))
        })
        .map(|e| {
            format!(
                "`{}` → `{}`",
                clean(e.value_str()),
                clean(
                    e.key
                        .trim_start_matches("url.")
                        .trim_end_matches(".insteadof")
                )
            )
        })
        .collect();
    let rule_ssh = d
        .settings
        .rules
        .rules
        .iter()
        .find(|r| r.host.matches(o) && r.transport == crate::config::Transport::Ssh)
        .map(|r| r.pattern.clone());
    let Some((entry, _base, to)) = gitconf::rewrite(&entries, url) else {
        if let Some(p) = rule_ssh {
            let h = o.authority();
            r.push(Finding::fail("git.insteadof", format!(
                "rule `{p}` says {h} is reached over ssh, but git fetches {url}: no url.insteadOf sends it to ssh (and gocred answers nothing over https for it)"
            )).fix(format!("git config --global url.ssh://git@{h}/.insteadOf https://{h}/")));
            return false;
        }
        r.push(if broad.is_empty() {
            Finding::ok("git.insteadof", format!("no url.insteadOf rewrite applies to {url}"))
        } else {
            Finding::warn("git.insteadof", format!("no rewrite applies to {url}, but {} sends every repository of that public host to another transport (public modules too)", broad.join(", ")))
        });
        return false;
    };
    let unset = gitconf::file_option(&entry).map(|opt| {
        format!(
            "git config {opt} --fixed-value --unset {} {}",
            sh_quote(&entry.key),
            sh_quote(entry.value_str())
        )
    });
    let what = format!(
        "`{}` (from {}) rewrites {url} to {}",
        clean(entry.value_str()),
        clean(&entry.origin()),
        clean(&to)
    );
    let whole_host =
        entry.value_str().trim_end_matches('/') == format!("https://{}", o.authority());
    if !gitconf::is_ssh_url(&to) {
        let userinfo = to
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .is_some_and(|auth| auth.contains('@'));
        r.push(if userinfo {
            // (The message is scrubbed of the credential itself; so is any fix, so none is given.)
            Finding::warn(
                "git.insteadof",
                format!(
                    "{what}: the rewrite carries a credential in plain text in {}; git sends it and never asks \
                     gocred. Remove it with `git config --global --edit` and let gocred answer",
                    clean(&entry.origin())
                ),
            )
        } else {
            Finding::ok("git.insteadof", format!("{what}: git fetches over https from there"))
        });
        return false;
    }
    let rule_ssh = rule_ssh.is_some();
    let key = super::ssh::key_available(d, &to);
    let scope = if whole_host {
        " — every repository on that host, public ones too,"
    } else {
        ""
    };
    let f = match (rule_ssh, key) {
        (true, _) => Finding::ok("git.insteadof", format!("{what}: the rule says ssh (see ssh.*)")),
        (false, Ok(k)) => Finding::warn("git.insteadof", format!("{what}{scope} goes over ssh with {k}, although gocred's rule for {} is https", o.host)),
        (false, Err(why)) => Finding::fail("git.insteadof", format!("{what}{scope} goes over ssh, and {why}: git cannot authenticate (gocred only serves https)")).maybe_fix(unset),
    };
    r.push(f);
    true
}
