//! A private D-Bus session bus with gnome-keyring's Secret Service, unlocked, headless.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::proc::Daemon;
use super::{mkdir, mkdir_private, require_tool, run_with_stdin, wait_until, write_file};

const LOGIN: &str = "/org/freedesktop/secrets/collection/login";
const PASSWORD: &str = "gocred-test-keyring-pw";

/// `dbus-daemon --session` on `unix:path=<tmp>/bus` (own config file without service dirs, so
/// nothing is ever D-Bus-activated: no second keyring daemon, no prompter) and
/// `gnome-keyring-daemon --foreground --unlock --components=secrets` whose login collection is
/// created and unlocked with a fixed password. [`SecretService::start`] returns once
/// `org.freedesktop.secrets` has an owner and the login collection is unlocked.
pub struct SecretService {
    // Drop order: keyring, bus, then the temp dir.
    keyring: Daemon,
    bus: Daemon,
    address: String,
    _dir: TempDir,
}

impl SecretService {
    pub fn start() -> SecretService {
        let dir = super::temp_dir("gocred-ss-");
        let root = dir.path();
        mkdir(&root.join("home"));
        mkdir(&root.join("data"));
        mkdir(&root.join("config"));
        mkdir_private(&root.join("runtime"));
        let sock = root.join("bus");
        let address = format!("unix:path={}", sock.display());
        write_file(
            &root.join("bus.conf"),
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
            ),
        );
        let s = |p: &Path| p.display().to_string();
        let base_env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            ),
            ("HOME".into(), s(&root.join("home"))),
            ("LANG".into(), "C.UTF-8".into()),
        ];

        let bus = Daemon::spawn_owning(
            "dbus-daemon",
            &[
                require_tool("dbus-daemon").into(),
                "--nofork".into(),
                OsString::from(format!("--config-file={}", root.join("bus.conf").display())),
            ],
            &base_env,
            None,
            &root.join("dbus.log"),
            root,
            Some(root),
        );
        let bus_up = wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
            (sock.exists()
                && dbus_send(
                    &address,
                    &[
                        "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.GetId",
                    ],
                )
                .status
                .success())
                || !bus.is_alive()
        });
        assert!(
            bus_up && bus.is_alive(),
            "private dbus-daemon did not come up:\n{}",
            bus.log_text()
        );

        write_file(&root.join("password"), PASSWORD);
        let mut keyring_env = base_env.clone();
        keyring_env.extend([
            ("DBUS_SESSION_BUS_ADDRESS".to_string(), address.clone()),
            ("XDG_DATA_HOME".into(), s(&root.join("data"))),
            ("XDG_CONFIG_HOME".into(), s(&root.join("config"))),
            ("XDG_RUNTIME_DIR".into(), s(&root.join("runtime"))),
        ]);
        let keyring = Daemon::spawn(
            "gnome-keyring-daemon",
            &[
                require_tool("gnome-keyring-daemon").into(),
                "--foreground".into(),
                "--unlock".into(),
                "--components=secrets".into(),
            ],
            &keyring_env,
            Some(&root.join("password")),
            &root.join("keyring.log"),
            root,
        );
        let service = SecretService {
            keyring,
            bus,
            address,
            _dir: dir,
        };
        // `--unlock` returns before the daemon owns the name (gnome-keyring-daemon): wait for the
        // name, then for the login collection to exist unlocked.
        let ready = wait_until(Duration::from_secs(15), Duration::from_millis(10), || {
            !service.keyring.is_alive()
                || (service.name_has_owner("org.freedesktop.secrets")
                    && service.locked() == Some(false))
        });
        assert!(
            ready && service.keyring.is_alive(),
            "gnome-keyring-daemon did not provide an unlocked login collection:\n\
             --- keyring.log ---\n{}\n--- dbus.log ---\n{}",
            service.keyring.log_text(),
            service.bus.log_text()
        );
        service
    }

    /// `DBUS_SESSION_BUS_ADDRESS=unix:path=...` of the private bus.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".to_string(), self.address.clone())]
    }

    /// `cmd.envs(self.env())`.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.envs(self.env());
    }

    /// The service's temp dir (keyring data, bus socket, logs).
    pub fn root(&self) -> &Path {
        self._dir.path()
    }

    /// Locks the login collection (`org.freedesktop.Secret.Service.Lock`). There is no
    /// prompter, so it cannot be unlocked again: reads of its secrets fail from then on.
    pub fn lock(&self) {
        let out = dbus_send(
            &self.address,
            &[
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                &format!("array:objpath:{LOGIN}"),
            ],
        );
        super::assert_success(&out, "Secret Service Lock");
        let locked = wait_until(Duration::from_secs(5), Duration::from_millis(10), || {
            self.locked() == Some(true)
        });
        assert!(locked, "login collection still unlocked after Lock");
    }

    /// `Locked` of the login collection; `None` if it cannot be read.
    pub fn locked(&self) -> Option<bool> {
        let out = dbus_send(
            &self.address,
            &[
                "--dest=org.freedesktop.secrets",
                LOGIN,
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ],
        );
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("boolean true") {
            Some(true)
        } else if text.contains("boolean false") {
            Some(false)
        } else {
            None
        }
    }

    /// `secret-tool lookup k1 v1 ...`: the secret (stdout, exactly), or `None` if it fails.
    pub fn secret_tool_lookup(&self, attrs: &[(&str, &str)]) -> Option<String> {
        let out = self
            .secret_tool()
            .arg("lookup")
            .args(attrs.iter().flat_map(|(k, v)| [*k, *v]))
            .output()
            .expect("running secret-tool lookup");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `secret-tool store --label=<label> k1 v1 ...` with `secret` on stdin; panics on failure.
    pub fn secret_tool_store(&self, label: &str, attrs: &[(&str, &str)], secret: &str) {
        let out = run_with_stdin(
            self.secret_tool()
                .arg("store")
                .arg(format!("--label={label}"))
                .args(attrs.iter().flat_map(|(k, v)| [*k, *v])),
            secret.as_bytes(),
        );
        super::assert_success(&out, "secret-tool store");
    }

    /// Process-group ids of the dbus-daemon and gnome-keyring-daemon.
    pub fn process_groups(&self) -> Vec<u32> {
        vec![self.keyring.pid(), self.bus.pid()]
    }

    fn secret_tool(&self) -> Command {
        let mut cmd = Command::new(require_tool("secret-tool"));
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null());
        cmd
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let out = dbus_send(
            &self.address,
            &[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ],
        );
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }
}

/// `dbus-send --bus=<address> --print-reply --type=method_call <args>`.
fn dbus_send(address: &str, args: &[&str]) -> Output {
    Command::new(require_tool("dbus-send"))
        .arg(format!("--bus={address}"))
        .args([
            "--print-reply",
            "--type=method_call",
            "--reply-timeout=5000",
        ])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("running dbus-send")
}
