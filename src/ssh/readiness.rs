//! Is ssh ready for an ssh rule? A usable key (a private key file ssh would offer, or an agent
//! holding keys) and the server's host key in a known_hosts file — and if not, what is missing.
//!
//! Asks ssh itself: `<GIT_SSH_COMMAND or core.sshCommand or ssh> -G [-p port] [-l user] host`
//! prints the configuration ssh would use (HostName, Port, IdentityFile, UserKnownHostsFile,
//! HostKeyAlias…) without connecting; then `ssh-keygen -F` looks the host up in each known_hosts
//! file and `ssh-add -l` asks the agent. Nothing here connects to the server or reads a key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::SshBase;
use crate::env::Env;

/// What was found for one ssh endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Readiness {
    /// `host` or `[host]:port` as looked up in known_hosts (or the HostKeyAlias).
    pub known_hosts_name: String,
    /// Private key files that exist.
    pub keys: Vec<PathBuf>,
    /// Key files ssh would try (for the message when none exists).
    pub looked_for: Vec<PathBuf>,
    /// `Some(n)` keys in a reachable agent; `None` no agent.
    pub agent_keys: Option<usize>,
    /// Why the agent is not usable, when it is not.
    pub agent_note: String,
    /// The known_hosts file that holds the host key.
    pub known_in: Option<PathBuf>,
    pub known_hosts_files: Vec<PathBuf>,
    /// The ssh command asked (when `-G` did not work, defaults were assumed: see `ssh_error`).
    pub ssh_command: String,
    /// Why `-G` did not work (ssh's first complaint), when it did not.
    pub ssh_error: Option<String>,
    /// Where ssh connects (after `HostName`/`Port`), and whether a `HostKeyAlias` names it.
    pub hostname: String,
    pub port: u16,
    pub alias: bool,
    /// The home directory ssh expands `~` with.
    pub home: Option<PathBuf>,
}

impl Readiness {
    pub(crate) fn has_key(&self) -> bool {
        !self.keys.is_empty() || self.agent_keys.is_some_and(|n| n > 0)
    }

    /// One sentence per missing piece, saying what to do.
    pub(crate) fn problems(&self, host: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !self.has_key() {
            out.push(format!(
                "no usable SSH key for {host}: none of {} exists and {}. Create one with \
                 `ssh-keygen -t ed25519` and add the .pub file to your account on {host}",
                list(&self.looked_for),
                self.agent_note
            ));
        }
        if self.known_in.is_none() {
            out.push(format!(
                "the host key of {host} (looked up as `{}`) is in none of {}: ssh would stop with \
                 `Host key verification failed`. Compare the fingerprint your admin publishes \
                 with `ssh-keyscan {host}`, then add the line to ~/.ssh/known_hosts",
                self.known_hosts_name,
                list(&self.known_hosts_files)
            ));
        }
        out
    }

    /// A one-line summary for `explain`.
    pub(crate) fn summary(&self) -> String {
        let key = match (self.keys.first(), self.agent_keys) {
            (_, Some(n)) if n > 0 => format!("{n} key(s) in ssh-agent"),
            (Some(k), _) => format!("key {}", k.display()),
            _ => "NO key".into(),
        };
        let host = match &self.known_in {
            Some(f) => format!("host key known ({})", f.display()),
            None => "host key NOT known".into(),
        };
        format!("ssh: {key}; {host}")
    }
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(none configured)".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `base`. `core_ssh_command` is git's `core.sshCommand`, if set.
pub(crate) fn check(base: &SshBase, env: &Env, core_ssh_command: Option<&str>) -> Readiness {
    let ssh_command = env
        .get("GIT_SSH_COMMAND")
        .map(str::to_string)
        .or_else(|| core_ssh_command.map(str::to_string))
        // `GIT_SSH` names a program, not a shell command: quote it for `sh -c`.
        .or_else(|| env.get("GIT_SSH").map(crate::proc::sh_quote))
        .unwrap_or_else(|| "ssh".into());
    let resolved = ask_ssh(&ssh_command, base);
    let ssh_error = resolved.as_ref().err().cloned();
    let cfg = resolved.unwrap_or_default();
    // ssh expands `~` with the account's home from the password database, not `$HOME`; `-G`
    // shows it in the expanded default `userknownhostsfile` (`<home>/.ssh/known_hosts`).
    let home = cfg
        .get("userknownhostsfile")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split_whitespace())
        .find_map(|f| f.strip_suffix("/.ssh/known_hosts").map(PathBuf::from))
        .or_else(|| env.get("HOME").map(PathBuf::from));
    let expand = |p: &str| -> PathBuf {
        match (p.strip_prefix("~/"), &home) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(p),
        }
    };
    let one = |k: &str| cfg.get(k).and_then(|v| v.first()).map(String::as_str);
    let looked_for: Vec<PathBuf> = match cfg.get("identityfile") {
        Some(v) => v
            .iter()
            .filter(|p| *p != "none")
            .map(|p| expand(p))
            .collect(),
        None => [
            "id_rsa",
            "id_ecdsa",
            "id_ecdsa_sk",
            "id_ed25519",
            "id_ed25519_sk",
        ]
        .iter()
        .map(|n| expand(&format!("~/.ssh/{n}")))
        .collect(),
    };
    let keys = looked_for.iter().filter(|p| p.is_file()).cloned().collect();
    let (agent_keys, agent_note) = agent(env, one("identityagent"));

    let hostname = one("hostname").unwrap_or(&base.host).to_string();
    let port: u16 = one("port")
        .and_then(|p| p.parse().ok())
        .or(base.port)
        .unwrap_or(22);
    let alias = one("hostkeyalias").filter(|a| *a != "none");
    let known_hosts_name = match alias {
        Some(a) => a.to_string(),
        _ if port == 22 => hostname.clone(),
        _ => format!("[{hostname}]:{port}"),
    };
    let split = |k: &str, default: &str| -> Vec<PathBuf> {
        match cfg.get(k) {
            Some(v) => v
                .iter()
                .flat_map(|s| s.split_whitespace())
                .filter(|p| *p != "none")
                .map(expand)
                .collect(),
            None => default.split_whitespace().map(expand).collect(),
        }
    };
    let mut known_hosts_files = split(
        "userknownhostsfile",
        "~/.ssh/known_hosts ~/.ssh/known_hosts2",
    );
    known_hosts_files.extend(split(
        "globalknownhostsfile",
        "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2",
    ));
    let known_in = known_hosts_files
        .iter()
        .find(|f| f.is_file() && in_known_hosts(f, &known_hosts_name))
        .cloned();
    Readiness {
        known_hosts_name,
        keys,
        looked_for,
        agent_keys,
        agent_note,
        known_in,
        known_hosts_files,
        ssh_command,
        ssh_error,
        alias: alias.is_some(),
        hostname,
        port,
        home,
    }
}

/// `<ssh command> -G …` through the shell (GIT_SSH_COMMAND is a shell command, as git runs it).
/// `Err` is ssh's first complaint, for messages.
fn ask_ssh(ssh_command: &str, base: &SshBase) -> Result<HashMap<String, Vec<String>>, String> {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{ssh_command} \"$@\""))
        .arg("gocred-ssh-check")
        .arg("-G");
    if let Some(p) = base.port {
        c.args(["-p", &p.to_string()]);
    }
    if let Some(u) = &base.user {
        c.args(["-l", u]);
    }
    c.arg(&base.host);
    let out = crate::proc::run(&mut c, b"", Duration::from_secs(10))?;
    if !out.ok() {
        let err = out.stderr_text();
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "`{ssh_command} -G` failed: {}",
            crate::protocol::escape_for_display(first.trim())
        ));
    }
    let mut cfg: HashMap<String, Vec<String>> = HashMap::new();
    for line in out.stdout_text().lines() {
        if let Some((k, v)) = line.split_once(' ') {
            cfg.entry(k.to_ascii_lowercase())
                .or_default()
                .push(v.to_string());
        }
    }
    if !cfg.contains_key("hostname") {
        return Err(format!("`{ssh_command} -G` printed no configuration"));
    }
    Ok(cfg)
}

/// The agent: `IdentityAgent` or `$SSH_AUTH_SOCK`, asked with `ssh-add -l` (exit 0 = has keys,
/// 1 = no keys, 2 = cannot connect).
fn agent(env: &Env, identity_agent: Option<&str>) -> (Option<usize>, String) {
    let sock = match identity_agent {
        Some("none") => return (None, "ssh-agent is disabled (IdentityAgent none)".into()),
        Some(a) if a != "SSH_AUTH_SOCK" && !a.starts_with('$') => Some(a.to_string()),
        _ => env.get("SSH_AUTH_SOCK").map(str::to_string),
    };
    let Some(sock) = sock else {
        return (
            None,
            "no ssh-agent is running (SSH_AUTH_SOCK is unset)".into(),
        );
    };
    if !Path::new(&sock).exists() {
        return (None, format!("the ssh-agent socket {sock} does not exist"));
    }
    let mut c = Command::new("ssh-add");
    c.arg("-l").env("SSH_AUTH_SOCK", &sock);
    match run_bounded(&mut c, Duration::from_secs(5)) {
        Some(out) => {
            let n = String::from_utf8_lossy(&out).lines().count();
            (Some(n), "the ssh-agent holds no keys".into())
        }
        None => (
            Some(0),
            "the ssh-agent holds no keys (or did not answer)".into(),
        ),
    }
}

fn in_known_hosts(file: &Path, name: &str) -> bool {
    let mut c = Command::new("ssh-keygen");
    c.arg("-F").arg(name).arg("-f").arg(file);
    run_bounded(&mut c, Duration::from_secs(5)).is_some_and(|o| !o.is_empty())
}

/// Runs `c`, returns stdout when it exits 0 within `limit` (killed otherwise).
fn run_bounded(c: &mut Command, limit: Duration) -> Option<Vec<u8>> {
    let mut out = crate::proc::run(c, b"", limit).ok()?;
    out.ok().then(|| std::mem::take(&mut out.stdout))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn reports_what_is_missing_with_a_private_ssh_config() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("ssh_config");
        let kh = d.path().join("known_hosts");
        std::fs::write(&kh, "").unwrap();
        std::fs::write(
            &cfg,
            format!(
                "Host git.corp.test\n  HostName 127.0.0.1\n  Port 2222\n  IdentityFile {}/id_test\n  \
                 UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
                d.path().display(),
                kh.display()
            ),
        )
        .unwrap();
        let env = Env::from_pairs([
            ("HOME".to_string(), d.path().to_str().unwrap().to_string()),
            (
                "GIT_SSH_COMMAND".to_string(),
                format!("ssh -F {}", cfg.display()),
            ),
        ]);
        let base = SshBase::parse("git.corp.test:/srv/").unwrap();
        let r = check(&base, &env, None);
        assert!(
            r.ssh_error.is_none(),
            "ssh -G did not work: {:?}",
            r.ssh_error
        );
        assert_eq!(r.known_hosts_name, "[127.0.0.1]:2222");
        assert_eq!(r.looked_for, vec![d.path().join("id_test")]);
        let p = r.problems("git.corp.test");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("no usable SSH key") && p[0].contains("id_test"),
            "{p:?}"
        );
        assert!(p[1].contains("[127.0.0.1]:2222"), "{p:?}");

        // A key and a known host key (under the HostKeyAlias) make both problems go away.
        std::fs::write(d.path().join("id_test"), "not read").unwrap();
        std::fs::write(
            &kh,
            "git.corp.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        )
        .unwrap();
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("  HostKeyAlias git.corp.test\n");
        std::fs::write(&cfg, text).unwrap();
        let r = check(&base, &env, None);
        assert!(
            r.problems("git.corp.test").is_empty(),
            "{:?}",
            r.problems("git.corp.test")
        );
    }
}
