//! The OS keyring, through the `keyring` crate: root secrets live here and nowhere else.
//!
//! Linux: Secret Service (gnome-keyring, KWallet) when one answers on the session D-Bus, else the
//! kernel's user keyring (`keyutils`). macOS: Keychain. Windows: Credential Manager. There is no
//! plaintext fallback: when no store is usable the error says so and says what to do.
//!
//! A Secret Service is another process on D-Bus, and one that accepts the call but never answers
//! (stopped, swapped out, wedged) would hold git forever: every Secret Service call is made on a
//! helper thread and given up after [`ANSWER_WITHIN`], reported as "did not answer".

use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::{secret, ExposeSecret, SecretString};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    SecretService,
    Keyutils,
    /// macOS Keychain / Windows Credential Manager: the crate's platform default.
    Native,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils (kernel user keyring)",
            Backend::Native if cfg!(target_os = "macos") => "macOS Keychain",
            Backend::Native if cfg!(windows) => "Windows Credential Manager",
            Backend::Native => "native",
        }
    }
}

/// Which keyring to use and under which service name (`[keyring]`, `GOCRED_KEYRING*`).
#[derive(Debug, Clone)]
pub(crate) struct KeyringSettings {
    pub backend: String,
    pub service: String,
}

/// A handle on the chosen store. `auto` on Linux tries Secret Service first and falls back to
/// keyutils only when no Secret Service answers (never when one answers "locked" or "denied").
#[derive(Debug, Clone)]
pub(crate) struct Keyring {
    candidates: Vec<Backend>,
    service: String,
}

/// How long a Secret Service call may take (an unlock prompt is never shown: we ask with no
/// window to show it in).
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

const WHAT_TO_DO: &str =
    "on a desktop, log in so the keyring is unlocked (gnome-keyring, KWallet); \
on a server or CI, use `GOCRED_KEYRING=keyutils` (kernel keyring) or an `env` rule \
(`gocred login PATTERN --source env --variable NAME`)";

impl Keyring {
    pub(crate) fn open(settings: &KeyringSettings, env: &Env) -> Result<Keyring> {
        let candidates = match settings.backend.as_str() {
            "auto" => auto_candidates(env),
            "secret-service" if cfg!(target_os = "linux") => vec![Backend::SecretService],
            "keyutils" if cfg!(target_os = "linux") => vec![Backend::Keyutils],
            "macos" if cfg!(target_os = "macos") => vec![Backend::Native],
            "windows" if cfg!(windows) => vec![Backend::Native],
            other => {
                return Err(Error::Keyring {
                    message: format!("backend `{other}` is not available on this system"),
                    hint: "use `auto` (default), or on Linux `secret-service` or `keyutils`, \
                           in GOCRED_KEYRING or [keyring] backend"
                        .into(),
                })
            }
        };
        if candidates.is_empty() {
            return Err(Error::Keyring {
                message: "no keyring is available on this system".into(),
                hint: WHAT_TO_DO.into(),
            });
        }
        Ok(Keyring {
            candidates,
            service: settings.service.clone(),
        })
    }

    fn entry_expiring(
        &self,
        backend: Backend,
        account: &str,
        _timeout: Option<u64>,
    ) -> keyring::Result<keyring::Entry> {
        match backend {
            #[cfg(target_os = "linux")]
            Backend::Keyutils => Ok(super::keyutils::UserKeyringCredential::new(
                &self.service,
                account,
            )
            .with_timeout(_timeout)
            .into_entry()),
            #[cfg(target_os = "linux")]
            Backend::SecretService => {
                let c = keyring::secret_service::SsCredential::new_with_target(
                    None,
                    &self.service,
                    account,
                )?;
                Ok(keyring::Entry::new_with_credential(Box::new(c)))
            }
            _ => keyring::Entry::new(&self.service, account),
        }
    }

    /// `op` on the entry for `account` in `backend`; bounded by [`ANSWER_WITHIN`] when the store
    /// is another process (Secret Service). A call that timed out is left to finish on its own
    /// thread: the D-Bus library offers no way to cancel it.
    fn call<T: Send + 'static>(
        &self,
        backend: Backend,
        account: &str,
        expiry: Option<u64>,
        op: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> keyring::Result<T> {
        let (me, account) = (self.clone(), account.to_string());
        let run = move || me.entry_expiring(backend, &account, expiry).and_then(op);
        if backend != Backend::SecretService {
            return run();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("gocred-keyring".into())
            .spawn(move || {
                let _ = tx.send(run());
            })
            .map_err(|e| keyring::Error::PlatformFailure(Box::new(e)))?;
        rx.recv_timeout(ANSWER_WITHIN).unwrap_or_else(|_| {
            Err(keyring::Error::PlatformFailure(
                format!("no answer within {} s", ANSWER_WITHIN.as_secs()).into(),
            ))
        })
    }

    /// Reads a secret. `Ok(None)` when no store holds it.
    pub(crate) fn get(&self, account: &str) -> Result<Option<(SecretString, Backend)>> {
        let mut last_unreachable = None;
        let mut found_empty = false;
        for &b in &self.candidates {
            match self.call(b, account, None, |e| e.get_password()) {
                Ok(pw) => return Ok(Some((secret(pw), b))),
                // A Secret Service without our entry does not hide one in keyutils: `login` may
                // have fallen back there while no Secret Service answered.
                Err(keyring::Error::NoEntry) => found_empty = true,
                Err(e) if unreachable(&e) && self.candidates.len() > 1 => {
                    last_unreachable = Some((b, e))
                }
                Err(e) => return Err(self.fail(b, "reading", &e)),
            }
        }
        match last_unreachable {
            Some((b, e)) if !found_empty => Err(self.fail(b, "reading", &e)),
            _ => Ok(None),
        }
    }

    /// Stores a secret in the first store that answers; returns which.
    pub(crate) fn set(&self, account: &str, value: &SecretString) -> Result<Backend> {
        self.set_with_timeout(account, value, None)
    }

    /// Stores a short-lived secret (a minted token) that is useless after `expires_at` (Unix s).
    /// In the kernel keyring the key gets a timeout, so the kernel deletes it then; the other
    /// stores keep it until it is overwritten or deleted, and the reader checks the expiry.
    pub(crate) fn set_expiring(
        &self,
        account: &str,
        value: &SecretString,
        expires_at: u64,
    ) -> Result<Backend> {
        let timeout = expires_at.saturating_sub(crate::state::now_secs());
        self.set_with_timeout(account, value, Some(timeout))
    }

    fn set_with_timeout(
        &self,
        account: &str,
        value: &SecretString,
        timeout: Option<u64>,
    ) -> Result<Backend> {
        let mut last = None;
        for &b in &self.candidates {
            let v = secrecy::zeroize::Zeroizing::new(value.expose_secret().to_string());
            match self.call(b, account, timeout, move |e| e.set_password(&v)) {
                Ok(()) => return Ok(b),
                Err(e) if unreachable(&e) && self.candidates.len() > 1 => last = Some((b, e)),
                Err(e) => return Err(self.fail(b, "writing", &e)),
            }
        }
        let (b, e) = last.expect("at least one candidate");
        Err(self.fail(b, "writing", &e))
    }

    /// Deletes a secret from every candidate store; true if one held it.
    pub(crate) fn delete(&self, account: &str) -> Result<bool> {
        let mut deleted = false;
        for &b in &self.candidates {
            match self.call(b, account, None, |e| e.delete_credential()) {
                Ok(()) => deleted = true,
                Err(keyring::Error::NoEntry) => {}
                Err(e) if unreachable(&e) && self.candidates.len() > 1 => {}
                Err(e) => return Err(self.fail(b, "deleting from", &e)),
            }
        }
        Ok(deleted)
    }

    fn fail(&self, backend: Backend, doing: &str, e: &keyring::Error) -> Error {
        let why = match e {
            keyring::Error::NoStorageAccess(_) => {
                "the keyring is locked or refused access".to_string()
            }
            keyring::Error::PlatformFailure(inner) => {
                format!("the keyring did not answer ({inner})")
            }
            other => other.to_string(),
        };
        Error::Keyring {
            message: format!("{doing} {}: {why}", backend.name()),
            hint: WHAT_TO_DO.into(),
        }
    }
}

/// "Nobody answered" (no D-Bus, no Secret Service on it) as opposed to "answered no".
fn unreachable(e: &keyring::Error) -> bool {
    matches!(e, keyring::Error::PlatformFailure(_))
}

fn auto_candidates(env: &Env) -> Vec<Backend> {
    if cfg!(target_os = "linux") {
        let bus = env.get("DBUS_SESSION_BUS_ADDRESS").is_some()
            || env
                .get("XDG_RUNTIME_DIR")
                .is_some_and(|d| std::path::Path::new(d).join("bus").exists());
        if bus {
            vec![Backend::SecretService, Backend::Keyutils]
        } else {
            vec![Backend::Keyutils]
        }
    } else if cfg!(any(target_os = "macos", windows)) {
        vec![Backend::Native]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(backend: &str) -> KeyringSettings {
        KeyringSettings {
            backend: backend.into(),
            service: "gocred-unit".into(),
        }
    }

    #[test]
    fn auto_without_a_bus_is_keyutils_only() {
        if cfg!(target_os = "linux") {
            let k =
                Keyring::open(&ks("auto"), &Env::from_pairs([("HOME", "/nonexistent")])).unwrap();
            assert_eq!(k.candidates, vec![Backend::Keyutils]);
            let k = Keyring::open(
                &ks("auto"),
                &Env::from_pairs([("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x")]),
            )
            .unwrap();
            assert_eq!(
                k.candidates,
                vec![Backend::SecretService, Backend::Keyutils]
            );
        }
    }

    /// The real macOS Keychain / Windows Credential Manager (CI runs it on those runners):
    /// store, read back, overwrite, delete, and nothing left behind. Linux's stores are
    /// exercised end to end by tests/ against a real gnome-keyring and the kernel keyring.
    #[cfg(any(target_os = "macos", windows))]
    #[test]
    fn native_store_round_trip() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let service = format!("gocred-unit-{}-{nanos}", std::process::id());
        let k = Keyring::open(
            &KeyringSettings {
                backend: "auto".into(),
                service,
            },
            &Env::default(),
        )
        .unwrap();
        assert_eq!(k.candidates, vec![Backend::Native]);
        let account = "git.corp.example";
        assert!(k.get(account).unwrap().is_none());
        assert_eq!(
            k.set(account, &secret("first-canary".into())).unwrap(),
            Backend::Native
        );
        k.set(account, &secret("second-canary".into())).unwrap();
        let (got, b) = k.get(account).unwrap().expect("stored");
        assert_eq!((got.expose_secret(), b), ("second-canary", Backend::Native));
        assert!(k.delete(account).unwrap());
        assert!(k.get(account).unwrap().is_none());
        assert!(!k.delete(account).unwrap());
    }

    #[test]
    fn unknown_backend_is_a_clear_error() {
        let e = Keyring::open(&ks("plaintext"), &Env::default()).unwrap_err();
        assert!(
            e.to_string().contains("`plaintext` is not available"),
            "{e}"
        );
        assert!(e.hint().unwrap().contains("keyutils"));
    }
}
