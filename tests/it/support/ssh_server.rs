//! A real OpenSSH server on 127.0.0.1 for `git.corp.test`: its own config, host
//! key, client key and authorized_keys in a temp dir, supervised like the other daemons.
//!
//! A test that plays a user setting up ssh from scratch brings its own client config and adds
//! the key it made with [`SshServer::authorize`] ("add the .pub to your account").
//!
//! Clients reach it with `GIT_SSH_COMMAND="ssh -F <config>"`, where the config maps
//! `git.corp.test` to 127.0.0.1 and the port, pins the host key under `HostKeyAlias
//! git.corp.test` and never prompts (`BatchMode yes`). Repositories are addressed in the scp
//! form without a user (`git.corp.test:/abs/path/repo.git`), which works as the current user
//! (root here) with no `git` account.

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::proc::Daemon;
use super::{mkdir, require_tool, run_ok, write_file};

/// Which parts of a working client set-up a client config leaves out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientGaps {
    /// Point IdentityFile at a key that does not exist.
    pub no_key: bool,
    /// Use an empty known_hosts file.
    pub no_known_host: bool,
}

pub struct SshServer {
    daemon: Daemon,
    port: u16,
    root: PathBuf,
    _dir: TempDir,
}

impl SshServer {
    /// The server's directory (host and client keys, `client_ed25519.pub`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn start() -> SshServer {
        Self::start_allowing(&[])
    }

    /// [`SshServer::start`], also letting `extra` local users log in, with the keys in their own
    /// `~/.ssh/authorized_keys` (a far side that is another user: `gocred ssh` tests).
    pub fn start_allowing(extra: &[&str]) -> SshServer {
        let dir = super::temp_dir("gocred-sshd-");
        let root = dir.path().to_path_buf();
        // sshd's privilege separation directory: it refuses to start without it.
        if let Err(e) = std::fs::create_dir_all("/run/sshd") {
            panic!("mkdir /run/sshd: {e} (sshd needs it; the tests run as root)");
        }
        let keygen = require_tool("ssh-keygen");
        for (name, comment) in [
            ("host_ed25519", "gocred-test-host"),
            ("client_ed25519", "gocred-test-client"),
        ] {
            run_ok(
                Command::new(&keygen)
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                    .arg(root.join(name))
                    .stdin(Stdio::null()),
            );
        }
        let host_pub = read(&root.join("host_ed25519.pub"));
        write_file(
            &root.join("authorized_keys"),
            read(&root.join("client_ed25519.pub")),
        );
        write_file(
            &root.join("known_hosts"),
            format!("git.corp.test {host_pub}"),
        );
        write_file(&root.join("empty_known_hosts"), "");
        mkdir(&root.join("logs"));
        let mut user = current_user();
        for u in extra {
            user.push(' ');
            user.push_str(u);
        }
        let sshd = require_tool("sshd");
        let mut last = String::new();
        for _ in 0..8 {
            let port = free_port();
            let config = root.join("sshd_config");
            write_file(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {r}/host_ed25519\n\
                     PidFile {r}/sshd.pid\nAuthorizedKeysFile {r}/authorized_keys .ssh/authorized_keys\nUsePAM no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
                     UseDNS no\nLogLevel VERBOSE\nAllowUsers {user}\n",
                    r = root.display()
                ),
            );
            let log = root.join("logs/sshd.log");
            let _ = std::fs::remove_file(&log);
            // -D: stay in the foreground (the watchdog owns it); -e: log to stderr (the log file).
            let argv: Vec<OsString> = vec![
                sshd.clone().into(),
                "-D".into(),
                "-e".into(),
                "-f".into(),
                config.into(),
            ];
            let env = vec![
                (
                    "PATH".to_string(),
                    "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
                ),
                ("LANG".to_string(), "C.UTF-8".to_string()),
            ];
            let daemon = Daemon::spawn_owning("sshd", &argv, &env, None, &log, &root, Some(&root));
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let text = daemon.log_text();
                if text.contains("Address already in use") {
                    last = text;
                    break;
                }
                if !daemon.is_alive() {
                    panic!("sshd exited at start:\n{text}");
                }
                if text.contains("Server listening")
                    && TcpStream::connect(("127.0.0.1", port)).is_ok()
                {
                    return SshServer {
                        daemon,
                        port,
                        root,
                        _dir: dir,
                    };
                }
                if Instant::now() >= deadline {
                    panic!("sshd did not listen on 127.0.0.1:{port} within 15 s:\n{text}");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        panic!("sshd could not bind a free port in 8 attempts:\n{last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Writes a client config for `git.corp.test` and returns its path.
    pub fn client_config(&self, gaps: ClientGaps) -> PathBuf {
        let r = self.root.display();
        let name = format!(
            "ssh_config{}{}",
            if gaps.no_key { "-nokey" } else { "" },
            if gaps.no_known_host { "-nohost" } else { "" }
        );
        let path = self.root.join(name);
        write_file(
            &path,
            format!(
                "Host git.corp.test\n  HostName 127.0.0.1\n  Port {}\n  HostKeyAlias git.corp.test\n  \
                 IdentityFile {r}/{}\n  IdentitiesOnly yes\n  IdentityAgent none\n  \
                 UserKnownHostsFile {r}/{}\n  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n  \
                 StrictHostKeyChecking yes\n  ConnectTimeout 10\n",
                self.port,
                if gaps.no_key { "missing_key" } else { "client_ed25519" },
                if gaps.no_known_host { "empty_known_hosts" } else { "known_hosts" },
            ),
        );
        path
    }

    /// `ssh -F <config>` for `GIT_SSH_COMMAND`.
    pub fn ssh_command(&self, gaps: ClientGaps) -> String {
        format!("ssh -F {}", self.client_config(gaps).display())
    }

    /// Adds a public key to the accepted keys ("add the .pub to your account").
    pub fn authorize(&self, pubkey: &Path) {
        let path = self.root.join("authorized_keys");
        let mut all = read(&path);
        all.push_str(&read(pubkey));
        write_file(&path, all);
    }

    /// sshd's log (VERBOSE: one `Accepted publickey for …` line per login).
    pub fn log(&self) -> String {
        self.daemon.log_text()
    }

    /// How many logins sshd accepted.
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey for").count()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn current_user() -> String {
    let out = run_ok(Command::new("id").arg("-un").stdin(Stdio::null()));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}
