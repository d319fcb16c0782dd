//! Step 6, where git will use SSH (the rule says `transport = "ssh"`, or an insteadOf rewrite
//! sends the repository there): `ssh.key` (an agent with keys or an identity file), `ssh.knownhost`
//! (the host key is known, or BatchMode refuses the connection), `ssh.probe` (`git ls-remote`
//! over ssh with BatchMode and a connect timeout). ssh's own view of its config comes from
//! `ssh -G`, with the same command git runs (GIT_SSH_COMMAND, core.sshCommand, GIT_SSH).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::gitconf;
use super::report::{clean, sh_quote, Finding, Report};
use super::Doctor;
use crate::proc;

/// `ssh://[user@]host[:port]/path` or scp-like `[user@]host:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshUrl {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

pub fn parse_ssh_url(url: &str) -> Option<SshUrl> {
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
    (!host.is_empty()).then_some(SshUrl { user, host, port })
}

/// The ssh program and arguments git will run.
fn ssh_command(d: &mut Doctor) -> Vec<String> {
    let raw = d
        .env
        .get("GIT_SSH_COMMAND")
        .map(str::to_string)
        .or_else(|| git_config_get("core.sshCommand"))
        .or_else(|| d.env.get("GIT_SSH").map(str::to_string));
    raw.and_then(|r| super::goauth_cmd::split_words(&r).ok())
        .unwrap_or_else(|| vec!["ssh".into()])
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

/// `ssh -G` for the URL: ssh's effective options.
fn ssh_g(cmd: &[String], u: &SshUrl) -> Result<HashMap<String, Vec<String>>, String> {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..]).arg("-G");
    if let Some(p) = u.port {
        c.args(["-p", &p.to_string()]);
    }
    if let Some(user) = &u.user {
        c.args(["-l", user]);
    }
    c.arg(&u.host);
    let out = proc::run(&mut c, b"", Duration::from_secs(10))?;
    if !out.ok() {
        return Err(format!(
            "`{} -G` failed: {}",
            cmd[0],
            clean(out.stderr_text().trim())
        ));
    }
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for line in out.stdout_text().lines() {
        if let Some((k, v)) = line.split_once(' ') {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    Ok(m)
}

/// ssh expands `~` with the account's home from the password database, not `$HOME`; `ssh -G`
/// shows it expanded in the default `userknownhostsfile` (`<home>/.ssh/known_hosts`).
fn ssh_home(d: &Doctor, g: &HashMap<String, Vec<String>>) -> Option<PathBuf> {
    g.get("userknownhostsfile")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split_whitespace())
        .find_map(|f| f.strip_suffix("/.ssh/known_hosts").map(PathBuf::from))
        .or_else(|| d.env.get("HOME").map(PathBuf::from))
}

fn expand(home: &Option<PathBuf>, p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

/// What will authenticate git over ssh to the host of `url`, or why nothing will.
pub fn key_available(d: &mut Doctor, url: &str) -> Result<String, String> {
    let u = parse_ssh_url(url).ok_or("not an ssh URL")?;
    let cmd = ssh_command(d);
    let g = ssh_g(&cmd, &u)?;
    key_in(d, &g)
}

fn key_in(d: &Doctor, g: &HashMap<String, Vec<String>>) -> Result<String, String> {
    let home = ssh_home(d, g);
    let agent = match g
        .get("identityagent")
        .and_then(|v| v.first())
        .map(String::as_str)
    {
        Some("none") => None,
        Some("SSH_AUTH_SOCK") | None => d.env.get("SSH_AUTH_SOCK").map(PathBuf::from),
        Some(p) => Some(expand(&home, p)),
    };
    if let Some(sock) = agent.filter(|s| s.exists()) {
        let mut c = Command::new("ssh-add");
        c.arg("-l").env("SSH_AUTH_SOCK", &sock);
        if let Ok(out) = proc::run(&mut c, b"", Duration::from_secs(5)) {
            if out.ok() {
                return Ok(format!(
                    "the agent's keys ({} loaded)",
                    out.stdout_text().lines().count()
                ));
            }
        }
    }
    let files: Vec<PathBuf> = g
        .get("identityfile")
        .into_iter()
        .flatten()
        .map(|f| expand(&home, f))
        .collect();
    match files.iter().find(|f| f.is_file()) {
        Some(f) => Ok(format!("the key {}", f.display())),
        None => Err(format!(
            "no SSH key: none of {} exists and no agent holds a key",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

const IDS: [&str; 3] = ["ssh.key", "ssh.knownhost", "ssh.probe"];

pub fn run(d: &mut Doctor, r: &mut Report) {
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
    let cmd = ssh_command(d);
    let g = match ssh_g(&cmd, &u) {
        Ok(g) => g,
        Err(e) => {
            r.push(Finding::fail("ssh.key", e));
            return skip_from(r, 1, "ssh.key");
        }
    };
    let first = |k: &str| g.get(k).and_then(|v| v.first()).cloned();
    let home = ssh_home(d, &g);
    match key_in(d, &g) {
        Ok(k) => r.push(Finding::ok(
            "ssh.key",
            format!("ssh to {} authenticates with {k}", u.host),
        )),
        Err(why) => {
            let target = g
                .get("identityfile")
                .into_iter()
                .flatten()
                .map(|f| expand(&home, f))
                .find(|f| f.to_string_lossy().contains("ed25519"))
                .unwrap_or_else(|| expand(&home, "~/.ssh/id_ed25519"));
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
    let hostname = first("hostname").unwrap_or(u.host.clone());
    let port: u16 = first("port").and_then(|p| p.parse().ok()).unwrap_or(22);
    let name = first("hostkeyalias")
        .filter(|a| a != "none")
        .unwrap_or_else(|| {
            if port == 22 {
                hostname.clone()
            } else {
                format!("[{hostname}]:{port}")
            }
        });
    let files: Vec<PathBuf> = ["userknownhostsfile", "globalknownhostsfile"]
        .iter()
        .flat_map(|k| {
            g.get(*k).into_iter().flatten().flat_map(|v| {
                v.split_whitespace()
                    .map(|f| expand(&home, f))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let known = files.iter().filter(|f| f.is_file()).find(|f| {
        proc::run(
            Command::new("ssh-keygen")
                .arg("-F")
                .arg(&name)
                .arg("-f")
                .arg(f),
            b"",
            Duration::from_secs(5),
        )
        .is_ok_and(|o| o.ok())
    });
    match known {
        Some(f) => r.push(Finding::ok(
            "ssh.knownhost",
            format!("the host key of {name} is in {}", f.display()),
        )),
        None => {
            let file = files
                .first()
                .cloned()
                .unwrap_or_else(|| expand(&home, "~/.ssh/known_hosts"));
            let mut scan = format!("ssh-keyscan -p {port} {}", sh_quote(&hostname));
            if first("hostkeyalias").is_some_and(|a| a != "none") {
                scan.push_str(&format!(" | sed 's/^[^ ]*/{}/'", name.replace('/', "\\/")));
            }
            r.push(Finding::fail("ssh.knownhost", format!(
                "the host key of {name} is not in {}: ssh in BatchMode refuses it (`Host key verification failed`). \
                 The fix trusts what the server shows now: compare `ssh-keygen -lf` of the file with the fingerprint your admin publishes",
                files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
            )).fix(format!("{scan} >> {}", sh_quote(&file.display().to_string()))));
            return skip_from(r, 2, "ssh.knownhost");
        }
    }
    probe(d, r, &cmd, &url);
}

fn probe(_d: &mut Doctor, r: &mut Report, cmd: &[String], url: &str) {
    let mut ssh = cmd
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    ssh.push_str(" -o BatchMode=yes -o ConnectTimeout=3");
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
            parse_ssh_url("ssh://git@git.corp.test:2222/team/lib.git").unwrap(),
            SshUrl {
                user: Some("git".into()),
                host: "git.corp.test".into(),
                port: Some(2222)
            }
        );
        assert_eq!(
            parse_ssh_url("git@github.com:acme/lib.git").unwrap(),
            SshUrl {
                user: Some("git".into()),
                host: "github.com".into(),
                port: None
            }
        );
        assert_eq!(
            parse_ssh_url("host.test:/abs/x.git").unwrap().host,
            "host.test"
        );
    }
}
