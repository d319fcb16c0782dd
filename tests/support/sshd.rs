//! A bare OpenSSH server on 127.0.0.1 for the doctor's SSH tests: its own host key and an
//! `authorized_keys` that starts empty, so a test can show a user creating a key and adding it
//! to "their account" ([`Sshd::authorize`]). Repositories are reached as the current user (root
//! here) by absolute path, so no `git` account is needed (reference §6).

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::proc::Daemon;
use super::{require_tool, run_ok, write_file};

pub struct Sshd {
    daemon: Daemon,
    port: u16,
    root: PathBuf,
    _dir: TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = super::temp_dir("gocred-sshd-doctor-");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all("/run/sshd")
            .expect("mkdir /run/sshd (sshd's privilege separation dir)");
        run_ok(
            Command::new(require_tool("ssh-keygen"))
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(root.join("host_ed25519"))
                .stdin(Stdio::null()),
        );
        write_file(&root.join("authorized_keys"), "");
        let sshd = require_tool("sshd");
        for _ in 0..8 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let r = root.display();
            write_file(
                &root.join("sshd_config"),
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {r}/host_ed25519\nPidFile {r}/sshd.pid\n\
                     AuthorizedKeysFile {r}/authorized_keys\nUsePAM no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\n"
                ),
            );
            let argv: Vec<OsString> = vec![
                sshd.clone().into(),
                "-D".into(),
                "-e".into(),
                "-f".into(),
                root.join("sshd_config").into(),
            ];
            let env = vec![(
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )];
            let daemon = Daemon::spawn("sshd", &argv, &env, None, &root.join("sshd.log"), &root);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && daemon.is_alive() {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd {
                        daemon,
                        port,
                        root,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if !daemon.log_text().contains("Address already in use") {
                panic!("sshd did not start:\n{}", daemon.log_text());
            }
        }
        panic!("sshd could not bind a free port");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a public key to the accepted keys ("add the .pub to your account").
    pub fn authorize(&self, pubkey: &Path) {
        let key = std::fs::read_to_string(pubkey)
            .unwrap_or_else(|e| panic!("reading {}: {e}", pubkey.display()));
        let path = self.root.join("authorized_keys");
        let mut all = std::fs::read_to_string(&path).unwrap_or_default();
        all.push_str(&key);
        write_file(&path, all);
    }

    pub fn log_text(&self) -> String {
        self.daemon.log_text()
    }
}
