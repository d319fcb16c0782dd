//! `git.helpers`: the credential helpers git runs for the repository URL, in git's order (every
//! matching `credential.<url>.helper` in config order; an empty value resets the list,
//! docs/protocols/git-credential.md). A helper that answers before gocred is run on its own and its answer probed against
//! the server — a `store` holding a stale token is the classic. The fix puts an empty reset and
//! gocred in a section of their own at the end of the global config.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use super::gitconf::{self, ConfigEntry, Helper};
use super::net::{self, Client};
use super::report::{clean, sh_quote, Finding, Report};
use super::Doctor;
use crate::proc;
use crate::protocol::Origin;
use crate::secret::{same_secret, secret, ExposeSecret, SecretString};

pub(crate) const HELPER_KEYS: &str = r"^credential\.(.*\.)?helper$";

/// Another way git gets a credential for `o` (a non-gocred helper, `~/.netrc`), for cred.rule.
pub(crate) fn other_sources(d: &mut Doctor, o: &Origin) -> Option<String> {
    let url = format!("https://{}/", o.authority());
    let entries = d.git.entries(HELPER_KEYS);
    let (chain, _) = gitconf::helper_chain(&entries, &url);
    if let Some(h) = chain.iter().find(|h| !h.is_gocred()) {
        return Some(format!("git's helper {}", h.display()));
    }
    super::netrc::git_entry_line(d, &o.host).map(|(p, line)| format!("{} line {line}", p.display()))
}

pub(crate) fn helpers(d: &mut Doctor, r: &mut Report, url: &str, o: &Origin) {
    if let Some(f) = extra_header(d, url, o) {
        r.push(f);
    }
    let entries = d.git.entries(HELPER_KEYS);
    let (chain, reset) = gitconf::helper_chain(&entries, url);
    let host = o.authority();
    let names = || {
        chain
            .iter()
            .map(|h| h.display())
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
    let ours = d
        .cred
        .as_ref()
        .map(|c| (c.username.clone(), c.secret.clone(), c.accepted));
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
            "{} ({}from {}) answers before gocred for {host}",
            h.display(),
            if h.value().starts_with('!') {
                String::new()
            } else {
                format!("{}, ", h.command())
            },
            clean(&h.entry.origin())
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
            names(), s.display()
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

/// `http.<url>.extraHeader = Authorization: …` (left behind by CI checkouts that "persist
/// credentials"): git sends it on every request and asks no helper unless it is rejected. The
/// value is a secret and never shown.
fn extra_header(d: &mut Doctor, url: &str, o: &Origin) -> Option<Finding> {
    let e = d
        .git
        .entries(r"^http\.(.*\.)?extraheader$")
        .into_iter()
        .filter(|e| {
            let sub = e.key["http.".len()..e.key.len() - "extraheader".len()].trim_end_matches('.');
            sub.is_empty() || gitconf::url_matches(sub, url)
        })
        .find(|e| {
            e.value_str()
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("authorization:")
        })?;
    let fix = gitconf::file_option(&e)
        .map(|opt| format!("git config {opt} --unset-all {}", sh_quote(&e.key)));
    Some(
        Finding::warn(
            "git.helpers",
            format!(
                "`{}` (from {}) makes git send a fixed Authorization header to {}: credential helpers, gocred \
                 included, are only asked if the server rejects it",
                e.key,
                clean(&e.origin()),
                o.authority()
            ),
        )
        .maybe_fix(fix),
    )
}

/// Runs one helper alone (`git -c credential.helper= -c credential.helper=H credential fill`).
fn fill_with(h: &Helper, url: &str) -> Option<(String, SecretString)> {
    let mut cmd = gitconf::git_command();
    cmd.args(["-c", "credential.helper=", "-c"])
        .arg(format!("credential.helper={}", h.value()))
        .args(["-c", "credential.interactive=never", "credential", "fill"]);
    let mut filled = credential_fill(&mut cmd, url).ok()??;
    Some((
        filled.field("username").to_string(),
        filled.password.take()?,
    ))
}

/// What `git credential fill` answered: its fields, the password apart as a secret.
#[derive(Default)]
pub(crate) struct Filled {
    fields: HashMap<String, String>,
    pub password: Option<SecretString>,
}

impl Filled {
    /// A field other than the password ("" when absent).
    pub(crate) fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

/// Runs `cmd` (a `git … credential fill`) as a caller that cannot prompt, asking for `url`.
/// `Ok(None)` when git fails (no helper answered).
pub(crate) fn credential_fill(cmd: &mut Command, url: &str) -> Result<Option<Filled>, String> {
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env("GIT_ASKPASS", "false")
        .env_remove("SSH_ASKPASS");
    let out = proc::run(
        cmd,
        format!("url={url}\n\n").as_bytes(),
        Duration::from_secs(15),
    )?;
    if !out.ok() {
        return Ok(None);
    }
    let text = secret(String::from_utf8_lossy(&out.stdout).into_owned());
    let mut filled = Filled::default();
    for line in text.expose_secret().lines() {
        match line.trim().split_once('=') {
            Some(("password", v)) => {
                let pw = secret(v.to_string());
                crate::http::redact::register(&pw);
                filled.password = Some(pw);
            }
            Some((k, v)) => {
                filled.fields.insert(k.to_string(), v.to_string());
            }
            None => {}
        }
    }
    Ok(Some(filled))
}

/// Git's first authenticated request with (user, pw); the status, or `None` if it could not run.
pub(crate) fn probe(
    d: &mut Doctor,
    o: &Origin,
    url: &str,
    user: &str,
    pw: &SecretString,
) -> Option<u16> {
    let path = url
        .split_once(&o.authority())
        .map(|(_, p)| p.trim_end_matches('/').to_string())?;
    let header = crate::secret::basic_auth(user, pw);
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
pub(crate) fn make_gocred_first(d: &mut Doctor, host: &str) -> String {
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
                gitconf::file_option(&h.entry)?,
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
