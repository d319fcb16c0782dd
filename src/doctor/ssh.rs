//! Step 6, where git will use SSH (the rule says `transport = "ssh"`, or an insteadOf rewrite
//! sends the repository there): `ssh.key` (an agent with keys or an identity file), `ssh.knownhost`
//! (the host key is known, or BatchMode refuses the connection), `ssh.probe` (`git ls-remote`
//! over ssh with BatchMode and a connect timeout). What ssh will use (its own view of its config
//! through `ssh -G`, with the same command git runs) comes from `ssh::readiness`, which `init`
//! and `explain` use too; this file turns it into findings and fixes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::gitconf;
use super::report::{clean, sh_quote, Finding, Report};
use super::Doctor;
use crate::proc;
use crate::ssh::readiness::Readiness;
use crate::ssh::SshBase;

/// The ssh endpoint of `ssh://[user@]host[:port]/path` or scp-like `[user@]host:path`.
pub(crate) fn parse_ssh_url(url: &str) -> Option<SshBase> {
    let (auth, scp) = match url.split_once("://") {
        Some((_, rest)) => (rest.split('/').next()?.to_string(), false),
        None => (url.split_once(':')?.0.to_string(), true),
    };
    let (user, hp) = match auth.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, auth),
    };
    let (host, port) = match (scp, hp.rsplit_once(':')) {
        (false, Some((h, p))) => (h.to_string(), p.parse().ok()),
        _ => (hp, None),
    };
    (!host.is_empty()).then(|| SshBase {
        raw: url.to_string(),
        user,
        host,
        port,
    })
}

/// What ssh will do for the host of `url`, asked the way git runs it (GIT_SSH_COMMAND,
/// core.sshCommand, GIT_SSH).
fn readiness(d: &Doctor, u: &SshBase) -> Readiness {
    crate::ssh::readiness::check(u, d.env, git_config_get("core.sshCommand").as_deref())
}

fn git_config_get(key: &str) -> Option<String> {
    let out = proc::run(
        gitconf::git_command().args(["config", "--get", key]),
        b"",
        Duration::from_secs(10),
    )
    .ok()?;
    out.ok()
        .then(|| out.stdout_text().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The key that will authenticate, or why there is none.
fn key_in(ready: &Readiness) -> Result<String, String> {
    if let Some(err) = &ready.ssh_error {
        return Err(err.clone());
    }
    match (ready.agent_keys, ready.keys.first()) {
        (Some(n), _) if n > 0 => Ok(format!("the agent's keys ({n} loaded)")),
        (_, Some(k)) => Ok(format!("the key {}", k.display())),
        _ => Err(format!(
            "no SSH key: none of {} exists and {}",
            join(&ready.looked_for),
            ready.agent_note
        )),
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What will authenticate git over ssh to the host of `url`, or why nothing will.
pub(crate) fn key_available(d: &mut Doctor, url: &str) -> Result<String, String> {
    let u = parse_ssh_url(url).ok_or("not an ssh URL")?;
    key_in(&readiness(d, &u))
}

const IDS: [&str; 3] = ["ssh.key", "ssh.knownhost", "ssh.probe"];

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
    let Some(repo) = d.repo.clone().filter(|_| d.served_by_proxy.is_none()) else {
        return skip(r, "git is not involved in this fetch");
    };
    let entries = d.git.entries(r"^url\..*\.insteadof$");
    let Some((_, _, url)) =
        gitconf::rewrite(&entries, &repo.url).filter(|(_, _, to)| gitconf::is_ssh_url(to))
    else {
        return skip(r, "git uses https for this repository");
    };
    let Some(u) = parse_ssh_url(&url) else {
        return skip(r, "cannot parse the ssh URL");
    };
    let ready = readiness(d, &u);
    let home = ready.home.clone();
    let expand = |p: &str| match (p.strip_prefix("~/"), &home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(p),
    };
    if let Some(err) = &ready.ssh_error {
        r.push(Finding::fail("ssh.key", err.clone()));
        return skip_from(r, 1, "ssh.key");
    }
    match key_in(&ready) {
        Ok(k) => r.push(Finding::ok(
            "ssh.key",
            format!("ssh to {} authenticates with {k}", u.host),
        )),
        Err(why) => {
            let target = ready
                .looked_for
                .iter()
                .find(|f| f.to_string_lossy().contains("ed25519"))
                .cloned()
                .unwrap_or_else(|| expand("~/.ssh/id_ed25519"));
            let t = target.display().to_string();
            r.push(
                Finding::fail(
                    "ssh.key",
                    format!(
                        "{why}; after creating one, add {t}.pub to your account on {}",
                        u.host
                    ),
                )
                .fix(format!(
                    "mkdir -p {} && ssh-keygen -q -t ed25519 -N '' -f {}",
                    sh_quote(
                        &target
                            .parent()
                            .unwrap_or(Path::new("."))
                            .display()
                            .to_string()
                    ),
                    sh_quote(&t)
                )),
            );
            return skip_from(r, 1, "ssh.key");
        }
    }
    let name = &ready.known_hosts_name;
    match &ready.known_in {
        Some(f) => r.push(Finding::ok(
            "ssh.knownhost",
            format!("the host key of {name} is in {}", f.display()),
        )),
        None => {
            let file = ready
                .known_hosts_files
                .first()
                .cloned()
                .unwrap_or_else(|| expand("~/.ssh/known_hosts"));
            let mut scan = format!(
                "ssh-keyscan -p {} {}",
                ready.port,
                sh_quote(&ready.hostname)
            );
            if ready.alias {
                scan.push_str(&format!(" | sed 's/^[^ ]*/{}/'", name.replace('/', "\\/")));
            }
            r.push(Finding::fail("ssh.knownhost", format!(
                "the host key of {name} is not in {}: ssh in BatchMode refuses it (`Host key verification failed`). \
                 The fix trusts what the server shows now: compare `ssh-keygen -lf` of the file with the fingerprint your admin publishes",
                join(&ready.known_hosts_files)
            )).fix(format!("{scan} >> {}", sh_quote(&file.display().to_string()))));
            return skip_from(r, 2, "ssh.knownhost");
        }
    }
    probe(r, &ready.ssh_command, &url);
}

/// `git ls-remote` over ssh as git will run it, but never prompting and with a short connect
/// timeout (GIT_SSH_COMMAND is a shell command: options can follow it).
fn probe(r: &mut Report, ssh_command: &str, url: &str) {
    let ssh = format!("{ssh_command} -o BatchMode=yes -o ConnectTimeout=3");
    let mut c = Command::new("git");
    c.args(["ls-remote", "--heads", url])
        .env("GIT_SSH_COMMAND", &ssh)
        .env("GIT_TERMINAL_PROMPT", "0");
    match proc::run(&mut c, b"", Duration::from_secs(20)) {
        Err(e) => r.push(Finding::fail("ssh.probe", e)),
        Ok(out) if out.ok() => r.push(Finding::ok(
            "ssh.probe",
            format!("git ls-remote {} works over ssh", clean(url)),
        )),
        Ok(out) => {
            let err = out.stderr_text();
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            let why = if err.contains("Permission denied") {
                "the server does not accept your key (add the .pub to your account)"
            } else if err.contains("Host key verification failed") {
                "the host key is unknown or changed"
            } else if err.contains("Could not resolve hostname") {
                "the ssh host name does not resolve (check ~/.ssh/config HostName)"
            } else if err.contains("Connection refused") || err.contains("timed out") {
                "nothing answers on the ssh port"
            } else {
                "git could not read the repository over ssh"
            };
            r.push(Finding::fail(
                "ssh.probe",
                format!("git ls-remote {}: {why} ({})", clean(url), clean(&last)),
            ));
        }
    }
}

fn skip(r: &mut Report, why: &str) {
    for id in IDS {
        r.push(Finding::skip(id, why.to_string()));
    }
}

fn skip_from(r: &mut Report, i: usize, after: &str) {
    for id in &IDS[i..] {
        r.push(Finding::skip(id, format!("blocked by {after}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls() {
        assert_eq!(
            parse_ssh_url("ssh://git@git.corp.test:2222/team/lib.git")
                .map(|u| (u.user, u.host, u.port))
                .unwrap(),
            (Some("git".into()), "git.corp.test".into(), Some(2222))
        );
        assert_eq!(
            parse_ssh_url("git@github.com:acme/lib.git")
                .map(|u| (u.user, u.host, u.port))
                .unwrap(),
            (Some("git".into()), "github.com".into(), None)
        );
        assert_eq!(
            parse_ssh_url("host.test:/abs/x.git").unwrap().host,
            "host.test"
        );
    }
}
