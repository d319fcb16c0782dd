//! The git and Go settings the rules need, as planned changes.
//!
//! git: gocred as the helper of each private host only (`credential.https://<host>.helper`,
//! never `credential.helper`), `useHttpPath` where a host's rules tell repositories apart, and a
//! scoped `url.<ssh base>.insteadOf` per ssh rule. Go: GOAUTH runs `gocred goauth` first and
//! keeps what was there after it; GONOSUMDB covers GOPRIVATE. The user's own helpers stay; when
//! one of them would answer before gocred, or an empty `helper =` resets the list, a note says so.

use super::plan::{host_of, Change, Inputs, Plan};
use crate::config::Transport;
use crate::error::{Error, Result};
use crate::gitconfig::urlmatch::{self, Applies, Helper};
use crate::gitconfig::{self, ConfigEntry};
use crate::goenv;
use crate::rules::Rule;

/// The `credential.<url>.helper` value: the absolute path of this gocred. git runs helper values
/// through the shell (docs/protocols/git-credential.md), so the path must not need quoting. On Windows it is written with forward
/// slashes (`C:/Users/me/.local/bin/gocred.exe`), which Git for Windows' shell runs as is, where
/// a backslash would be an escape.
pub(crate) fn helper_value(exe: &std::path::Path) -> Result<String> {
    let p = exe.to_str().unwrap_or("");
    let (p, extra): (String, &[u8]) = match cfg!(windows) {
        true => (p.replace('\\', "/"), b":"),
        false => (p.to_string(), b""),
    };
    if !exe.is_absolute()
        || p.is_empty()
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+@,=-".contains(&b) || extra.contains(&b))
    {
        return Err(Error::with_hint(
            format!(
                "gocred runs from `{}`, a path git's shell and Go's GOAUTH cannot use as is \
                 (spaces, quotes or shell characters)",
                crate::protocol::escape_for_display(&exe.display().to_string())
            ),
            "install gocred at a plain path, e.g. install/install.sh --prefix ~/.local",
        ));
    }
    Ok(p)
}

pub(crate) fn plan_git(inp: &Inputs, rules: &[Rule], plan: &mut Plan) -> Result<()> {
    let entries = inp.git.list_effective()?;
    let ours = helper_value(inp.exe)?;
    let https: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.transport == Transport::Https)
        .collect();
    let mut hosts: Vec<(String, String, u16)> = Vec::new();
    for r in &https {
        let h = host_of(&r.host);
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    for (shown, probe, port) in &hosts {
        let url = gitconfig::credential_url(shown)?;
        let sharing: Vec<&&Rule> = https
            .iter()
            .filter(|r| host_of(&r.host).0 == *shown)
            .collect();
        plan_helper(&entries, &url, probe, *port, &ours, plan);
        let split = sharing.len() > 1 || sharing.iter().any(|r| r.path_glob.is_some());
        if split {
            plan_use_http_path(&entries, &url, probe, *port, &sharing, plan);
        }
    }
    let core_ssh = entries
        .iter()
        .rev()
        .find(|e| e.is_key("core.sshCommand"))
        .and_then(|e| e.value.clone());
    for r in rules.iter().filter(|r| r.transport == Transport::Ssh) {
        plan_rewrite(inp, &entries, r, core_ssh.as_deref(), plan);
    }
    Ok(())
}

fn shown(h: &Helper) -> String {
    format!(
        "`{}` ({} {})",
        crate::protocol::escape_for_display(h.value()),
        h.entry.scope,
        h.entry.file.display()
    )
}

fn plan_helper(
    entries: &[ConfigEntry],
    url: &str,
    host: &str,
    port: u16,
    ours: &str,
    plan: &mut Plan,
) {
    let key = gitconfig::helper_key(url);
    let helpers = urlmatch::helpers_for(entries, host, port, "");
    let existing = helpers
        .iter()
        .rposition(|h| h.applies == Applies::All && urlmatch::is_gocred(h.value()));
    let (helpers, at) = match existing {
        Some(i) => {
            plan.unchanged.push(format!(
                "git asks gocred for {url} already: {}",
                shown(&helpers[i])
            ));
            (helpers, i)
        }
        None => {
            plan.changes.push(Change::GitAdd {
                key: key.clone(),
                value: ours.to_string(),
                why: format!("gocred answers git for {url} only"),
            });
            // `git config --add` puts the line at the end of the last `[credential "<url>"]`
            // section of the global file, or in a new section at the end of the file.
            let section = gitconfig::section_of(&key);
            let pos = entries
                .iter()
                .rposition(|e| e.scope == "global" && gitconfig::section_of(&e.key) == section)
                .map_or(entries.len(), |i| i + 1);
            let mut with_ours = entries.to_vec();
            with_ours.insert(
                pos,
                ConfigEntry {
                    scope: "global".into(),
                    file: Default::default(),
                    key: key.clone(),
                    value: Some(ours.to_string()),
                },
            );
            let helpers = urlmatch::helpers_for(&with_ours, host, port, "");
            let at = helpers
                .iter()
                .position(|h| h.entry.file.as_os_str().is_empty() && h.entry.is_key(&key))
                .expect("our entry is among the helpers");
            (helpers, at)
        }
    };
    let order = urlmatch::order_around(&helpers, at);
    if !order.before.is_empty() {
        plan.notes.push(format!(
            "git asks {} before gocred for {url}: if one of them holds a credential for this \
             host, git uses it and never asks gocred (kept as you have it)",
            order
                .before
                .iter()
                .map(shown)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (reset, dropped) in &order.resets_before {
        if !dropped.is_empty() {
            plan.notes.push(format!(
                "an empty `helper =` ({} {}) resets git's helpers for {url}: {} not asked there",
                reset.entry.scope,
                reset.entry.file.display(),
                dropped.iter().map(shown).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some(reset) = &order.reset_after {
        plan.notes.push(format!(
            "an empty `helper =` for `{}` ({} {}) comes after gocred's entry: git would never \
             ask gocred for {url}. Remove that line or move it above gocred's",
            reset.entry.key,
            reset.entry.scope,
            reset.entry.file.display()
        ));
    }
}

fn is_true(v: Option<&str>) -> bool {
    matches!(
        v.map(str::to_ascii_lowercase).as_deref(),
        None | Some("true" | "yes" | "on" | "1")
    )
}

fn plan_use_http_path(
    entries: &[ConfigEntry],
    url: &str,
    host: &str,
    port: u16,
    sharing: &[&&Rule],
    plan: &mut Plan,
) {
    // Single-valued: the last matching entry wins.
    let current = entries.iter().rev().find(|e| {
        urlmatch::split_credential_key(&e.key).is_some_and(|(u, name)| {
            name.eq_ignore_ascii_case("usehttppath")
                && u.is_none_or(|u| urlmatch::applies(u, host, port, "") == Applies::All)
        })
    });
    if current.is_some_and(|e| is_true(e.value.as_deref())) {
        plan.unchanged.push(format!(
            "git sends repository paths for {url} (useHttpPath)"
        ));
        return;
    }
    let names: Vec<&str> = sharing.iter().map(|r| r.pattern.as_str()).collect();
    plan.changes.push(Change::GitAdd {
        key: gitconfig::use_http_path_key(url),
        value: "true".into(),
        why: if names.len() > 1 {
            format!(
                "rules {} share the host: git must send the repository path",
                names.join(", ")
            )
        } else {
            format!(
                "rule `{}` covers only part of the host: git must send the repository path",
                names[0]
            )
        },
    });
}

fn plan_rewrite(
    inp: &Inputs,
    entries: &[ConfigEntry],
    r: &Rule,
    core_ssh: Option<&str>,
    plan: &mut Plan,
) {
    let rw = match crate::ssh::rewrite_for(r) {
        Ok(rw) => rw,
        Err(why) => {
            plan.notes.push(format!("no ssh rewrite: {why}"));
            return;
        }
    };
    let key = gitconfig::instead_of_key(&rw.base);
    let present = entries
        .iter()
        .any(|e| e.is_key(&key) && e.value.as_deref() == Some(rw.instead_of.as_str()));
    if present {
        plan.unchanged.push(format!(
            "git fetches {} over ssh ({})",
            rw.instead_of, rw.base
        ));
    } else {
        plan.changes.push(Change::GitAdd {
            key: key.clone(),
            value: rw.instead_of.clone(),
            why: format!(
                "rule `{}`: git fetches {}… over ssh",
                r.pattern, rw.instead_of
            ),
        });
    }
    for e in entries.iter().filter(|e| {
        !e.is_key(&key)
            && e.key.to_ascii_lowercase().starts_with("url.")
            && e.key.to_ascii_lowercase().ends_with(".insteadof")
            && e.value
                .as_deref()
                .is_some_and(|v| v.starts_with(rw.instead_of.as_str()))
    }) {
        plan.notes.push(format!(
            "`{}` ({}) also rewrites {}: git uses the longest matching prefix",
            e.key,
            e.file.display(),
            rw.instead_of
        ));
    }
    let ready = crate::ssh::readiness::check(&rw.ssh, &inp.settings.env, core_ssh);
    for p in ready.problems(&rw.ssh.host) {
        plan.notes
            .push(format!("ssh for rule `{}`: {p}", r.pattern));
    }
}

pub(crate) fn plan_go(inp: &Inputs, plan: &mut Plan) -> Result<()> {
    let file = inp.go.file_values()?;
    let env = &inp.settings.env;
    let ours = goenv::goauth_command(inp.exe)?;
    let current = file.get("GOAUTH").map(String::as_str);
    match goenv::goauth_value(&ours, current) {
        Some(after) => plan.changes.push(Change::GoSet {
            name: "GOAUTH",
            before: current.filter(|v| !v.is_empty()).map(str::to_string),
            after,
            why: match current.filter(|v| !v.is_empty()) {
                None => "gocred answers Go's own requests first, then Go's default netrc".into(),
                Some("off") => "gocred answers Go's own requests (`off` cannot be combined)".into(),
                Some(_) => "gocred answers Go's own requests first, yours after it".into(),
            },
        }),
        None => plan.unchanged.push(format!(
            "GOAUTH runs gocred already (`{}`)",
            current.unwrap_or("")
        )),
    }
    if let Some(v) = env.get("GOAUTH") {
        if !goenv::goauth_has_gocred(v) {
            plan.notes.push(format!(
                "GOAUTH is set in your environment (`{}`): Go uses it instead of the env file's \
                 value, so it never runs gocred until you unset it or add `{ours}` to it",
                crate::protocol::escape_for_display(v)
            ));
        }
    }
    let current = file.get("GONOSUMDB").map(String::as_str);
    match goenv::gonosumdb_value(&plan.goprivate, current) {
        Some(after) => plan.changes.push(Change::GoSet {
            name: "GONOSUMDB",
            before: current.map(str::to_string),
            after,
            why: "private modules must not be looked up in the public checksum database".into(),
        }),
        None if current.is_none_or(str::is_empty) => plan
            .unchanged
            .push("GONOSUMDB is not set, so it falls back to GOPRIVATE".into()),
        None => plan.unchanged.push("GONOSUMDB covers GOPRIVATE".into()),
    }
    if let Some(v) = env.get("GONOSUMDB") {
        if goenv::gonosumdb_value(&plan.goprivate, Some(v)).is_some() {
            plan.notes.push(format!(
                "GONOSUMDB is set in your environment (`{}`) and does not cover GOPRIVATE; Go \
                 uses that value",
                crate::protocol::escape_for_display(v)
            ));
        }
    }
    Ok(())
}
