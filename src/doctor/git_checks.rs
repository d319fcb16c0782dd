//! Step 5: git. `git.version` (and the protocol features gocred relies on), `git.helpers` (the
//! helper chain for the repository URL in git's order; a helper that answers before gocred is
//! run on its own and its answer probed — a `store` holding a stale token is the classic),
//! `git.usehttppath`, and `git.insteadof` (rewrites that send the host to SSH without a key, or
//! that catch a whole public host).

use std::process::Command;
use std::time::Duration;

use super::gitconf::{self, ConfigEntry, GitVersion, Helper};
use super::net::{self, Client};
use super::report::{clean, sh_quote, Finding, Report};
use super::{proc, Doctor};
use crate::protocol::Origin;
use crate::secret::{same_secret, secret, ExposeSecret, SecretString};

const HELPER_KEYS: &str = r"^credential\.(.*\.)?helper$";
const PUBLIC_HOSTS: [&str; 3] = ["github.com", "gitlab.com", "bitbucket.org"];

pub fn run(d: &mut Doctor, r: &mut Report) {
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
    helpers(d, r, &repo.url, &repo.origin);
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

/// Versions with the January 2025 credential fixes (spec R1.5).
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

/// Another way git gets a credential for `o` (a non-gocred helper, `~/.netrc`), for cred.rule.
pub fn other_sources(d: &mut Doctor, o: &Origin) -> Option<String> {
    let url = format!("https://{}/", o.authority());
    let entries = d.git.entries(HELPER_KEYS);
    let (chain, _) = gitconf::helper_chain(&entries, &url);
    if let Some(h) = chain.iter().find(|h| !h.is_gocred()) {
        return Some(format!("git's helper `{}`", clean(h.value())));
    }
    super::netrc::git_entry_line(d, &o.host).map(|(p, line)| format!("{} line {line}", p.display()))
}

fn helpers(d: &mut Doctor, r: &mut Report, url: &str, o: &Origin) {
    let entries = d.git.entries(HELPER_KEYS);
    let (chain, reset) = gitconf::helper_chain(&entries, url);
    let host = o.authority();
    let names = || {
        chain
            .iter()
            .map(|h| format!("`{}`", clean(h.value())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let has_rule = !matches!(
        d.settings.rules.select(o, None),
        crate::rules::Selection::None
    );
    let Some(pos) = chain.iter().position(Helper::is_gocred) else {
        let f = if chain.is_empty() {
            Finding::fail("git.helpers", format!("git has no credential helper for {url}: nothing gives git a credential (git: `terminal prompts disabled`)"))
        } else {
            Finding::fail(
                "git.helpers",
                format!(
                    "gocred is not among git's helpers for {url} (git asks {})",
                    names()
                ),
            )
        };
        r.push(if has_rule || chain.is_empty() {
            f.fix(add_gocred(&chain, &entries, &host, !chain.is_empty()))
        } else {
            Finding {
                status: super::Status::Warn,
                ..f
            }
        });
        return;
    };
    let ours = d.cred.as_ref().map(|c| {
        (
            c.username.clone(),
            secret(c.secret.expose_secret().to_string()),
            c.accepted,
        )
    });
    for h in &chain[..pos] {
        let Some((user, pw)) = fill_with(h, url) else {
            continue;
        };
        let same = ours.as_ref().is_some_and(|(_, p, _)| same_secret(p, &pw));
        if same {
            continue;
        }
        let probe = probe(d, o, url, &user, &pw);
        let what = format!(
            "`{}` ({}, from {}) answers before gocred for {host}",
            clean(h.value()),
            h.command(),
            clean(&h.entry.origin)
        );
        let f = match probe {
            Some(401) => Finding::fail("git.helpers", format!("{what} with a credential the server rejects (401): git uses it, fails, and never asks gocred")),
            Some(s) => Finding::warn("git.helpers", format!("{what} with its own credential ({s} from the server): gocred is never asked")),
            None => Finding::warn("git.helpers", format!("{what} with its own credential: gocred is never asked")),
        };
        r.push(f.fix(add_gocred(&chain, &entries, &host, true)));
        return;
    }
    let after: Vec<&Helper> = chain[pos + 1..].iter().collect();
    if let Some(s) = after
        .iter()
        .find(|h| h.value().split_whitespace().next() == Some("store"))
    {
        r.push(Finding::warn("git.helpers", format!(
            "git asks {} for {host}; `{}` after gocred keeps a plaintext copy of every credential git confirms in ~/.git-credentials",
            names(), clean(s.value())
        )).fix(add_gocred(&chain, &entries, &host, true)));
        return;
    }
    r.push(Finding::ok(
        "git.helpers",
        format!(
            "git asks {} for {host}{}; gocred answers{}",
            names(),
            if reset {
                " (after an empty `helper =` reset)"
            } else {
                ""
            },
            if pos == 0 {
                " first"
            } else {
                " (the helpers before it have nothing for this host)"
            }
        ),
    ));
}

/// Runs one helper alone (`git -c credential.helper= -c credential.helper=H credential fill`).
fn fill_with(h: &Helper, url: &str) -> Option<(String, SecretString)> {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "credential.helper=", "-c"])
        .arg(format!("credential.helper={}", h.value()))
        .args(["-c", "credential.interactive=never", "credential", "fill"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env("GIT_ASKPASS", "false")
        .env_remove("SSH_ASKPASS");
    let out = proc::run(
        &mut cmd,
        format!("url={url}\n\n").as_bytes(),
        Duration::from_secs(15),
    )
    .ok()?;
    if !out.ok() {
        return None;
    }
    let text = secret(String::from_utf8_lossy(&out.stdout).into_owned());
    let mut user = None;
    let mut pw = None;
    for line in text.expose_secret().lines() {
        match line.split_once('=') {
            Some(("username", v)) => user = Some(v.to_string()),
            Some(("password", v)) => pw = Some(secret(v.to_string())),
            _ => {}
        }
    }
    Some((user.unwrap_or_default(), pw?))
}

/// Git's first authenticated request with (user, pw); the status, or `None` if it could not run.
pub fn probe(d: &mut Doctor, o: &Origin, url: &str, user: &str, pw: &SecretString) -> Option<u16> {
    let path = url
        .split_once(&o.authority())
        .map(|(_, p)| p.trim_end_matches('/').to_string())?;
    let header = secret(format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:{}", pw.expose_secret())
        )
    ));
    net::https(
        d,
        Client::Git,
        &o.host,
        o.port,
        "GET",
        &format!("{path}/info/refs?service=git-upload-pack"),
        &[("Authorization".into(), header)],
    )
    .ok()
    .map(|r| r.status)
}

/// The commands that make gocred the first helper git asks for `host` (see [`add_gocred`]).
pub fn make_gocred_first(d: &mut Doctor, host: &str) -> String {
    let entries = d.git.entries(HELPER_KEYS);
    let (chain, _) = gitconf::helper_chain(&entries, &format!("https://{host}/"));
    add_gocred(&chain, &entries, host, true)
}

/// Commands that make gocred the first helper for `host`: drop gocred's old entries, then add
/// an empty reset and gocred in a section of their own at the end of the global file (config
/// order decides helper order, and a new section is appended after everything before it).
fn add_gocred(chain: &[Helper], entries: &[ConfigEntry], host: &str, reset: bool) -> String {
    let value = chain
        .iter()
        .find(|h| h.is_gocred())
        .map_or("gocred".to_string(), |h| h.value().to_string());
    let mut cmds: Vec<String> = chain
        .iter()
        .filter(|h| h.is_gocred())
        .filter_map(|h| {
            Some(format!(
                "git config {} --fixed-value --unset-all {} {}",
                h.entry.file_option()?,
                sh_quote(&h.entry.key),
                sh_quote(h.value())
            ))
        })
        .collect();
    cmds.dedup();
    let section = ["https://{h}/", "https://{h}:443", "https://{h}:443/"]
        .iter()
        .map(|s| s.replace("{h}", host))
        .find(|s| {
            !entries.iter().any(|e| {
                e.key
                    .eq_ignore_ascii_case(&format!("credential.{s}.helper"))
            })
        })
        .unwrap_or_else(|| format!("https://{host}"));
    let key = sh_quote(&format!("credential.{section}.helper"));
    if reset {
        cmds.push(format!("git config --global --add {key} ''"));
    }
    cmds.push(format!(
        "git config --global --add {key} {}",
        sh_quote(&value)
    ));
    cmds.join(" && ")
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
            match (scoped, entry.and_then(|e| Some(format!("git config {} --unset {}", e.file_option()?, sh_quote(&e.key))))) {
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
                .any(|h| e.value.trim_end_matches('/') == format!("https://{h}"))
        })
        .map(|e| {
            format!(
                "`{}` → `{}`",
                clean(&e.value),
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
    let unset = entry.file_option().map(|opt| {
        format!(
            "git config {opt} --fixed-value --unset {} {}",
            sh_quote(&entry.key),
            sh_quote(&entry.value)
        )
    });
    let what = format!(
        "`{}` (from {}) rewrites {url} to {}",
        clean(&entry.value),
        clean(&entry.origin),
        clean(&to)
    );
    let whole_host = entry.value.trim_end_matches('/') == format!("https://{}", o.authority());
    if !gitconf::is_ssh_url(&to) {
        r.push(Finding::ok(
            "git.insteadof",
            format!("{what}: git fetches over https from there"),
        ));
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
