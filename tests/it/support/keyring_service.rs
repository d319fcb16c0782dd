//! A keyring service name for one test (`GOCRED_KEYRING_SERVICE`) that cleans up after itself.
//!
//! The kernel user keyring (`@u`) outlives the test: it belongs to the uid, not to the test's temp
//! dir, and a non-root user's key quota (200 keys / 20000 bytes by default) fills after a few
//! runs that leave keys behind. gocred names its keyutils entries `<service>:<account>`, so when a
//! [`KeyringService`] is dropped (also when the test panics), every user key whose description
//! starts with `<service>:` is invalidated. Secret Service entries need no such guard: they live
//! in the throw-away gnome-keyring of [`super::SecretService`], under the test's temp dir.

use std::ffi::OsStr;
use std::fmt;
use std::ops::Deref;
use std::process::{Command, Stdio};

use super::unique_name;

pub struct KeyringService {
    name: String,
}

impl KeyringService {
    /// A name unique across parallel tests: `<prefix>-<pid>-<n>-<nanos>`.
    pub fn new(prefix: &str) -> KeyringService {
        KeyringService {
            name: unique_name(prefix),
        }
    }

    /// `GOCRED_KEYRING=keyutils` and `GOCRED_KEYRING_SERVICE=<name>`: gocred stores in the kernel
    /// keyring, under this service (for `Sandbox::set_env`).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GOCRED_KEYRING".into(), "keyutils".into()),
            ("GOCRED_KEYRING_SERVICE".into(), self.name.clone()),
        ]
    }

    /// `cmd.envs(self.env())`.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.envs(self.env());
    }

    /// `(key id, description)` of the user-keyring keys stored under this service.
    pub fn user_keys(&self) -> Vec<(String, String)> {
        user_keys_with_prefix(&format!("{}:", self.name))
    }
}

/// `(key id, description)` of every `user` key linked into `@u` whose description starts with
/// `prefix`. Empty when keyctl cannot run (then there is nothing this guard could remove either).
pub fn user_keys_with_prefix(prefix: &str) -> Vec<(String, String)> {
    let Some(ids) = keyctl_quiet(&["rlist", "@u"]) else {
        return Vec::new();
    };
    ids.split_whitespace()
        .filter_map(|id| {
            // `type;uid;gid;perm;description`; an expired or revoked key cannot be described and
            // is already on its way out.
            let d = keyctl_quiet(&["rdescribe", id])?;
            let mut f = d.trim_end_matches('\n').splitn(5, ';');
            let kind = f.next()?;
            let desc = f.nth(3)?;
            (kind == "user" && desc.starts_with(prefix)).then(|| (id.to_string(), desc.to_string()))
        })
        .collect()
}

/// keyctl's stdout when it succeeded. Never panics: it runs in `Drop`, maybe while unwinding.
fn keyctl_quiet(args: &[&str]) -> Option<String> {
    let out = Command::new("keyctl")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for KeyringService {
    // A key left behind is worth a line in the test's output, not a panic inside a Drop.
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        for (id, desc) in self.user_keys() {
            if keyctl_quiet(&["invalidate", &id]).is_none() {
                eprintln!("warning: could not remove test key {id} ({desc}) from the user keyring");
            }
        }
    }
}

impl Deref for KeyringService {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl AsRef<OsStr> for KeyringService {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(&self.name)
    }
}

impl AsRef<str> for KeyringService {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for KeyringService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
