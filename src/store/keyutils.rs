//! Kernel keyutils backend on the *user* keyring, plugged into the `keyring` crate.
//!
//! The `keyring` crate's own keyutils store files keys in the session keyring, which on many
//! machines (containers, CI runners, ssh without pam_keyinit) is a throw-away per-process keyring:
//! a key stored by `gocred login` would be gone for the next `gocred get`. The user keyring (`@u`) is shared by every process of the uid for as
//! long as the user has a process running. Keys are created possessor+user read/write only.

use std::any::Any;

use keyring::credential::{Credential, CredentialApi};
use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};

/// One entry: `gocred:<service>:<account>` in the user keyring.
#[derive(Debug)]
pub(crate) struct UserKeyringCredential {
    description: String,
    /// Seconds after which the kernel itself drops the key (minted tokens: their lifetime).
    timeout: Option<u64>,
}

impl UserKeyringCredential {
    pub(crate) fn new(service: &str, account: &str) -> UserKeyringCredential {
        UserKeyringCredential {
            description: format!("{service}:{account}"),
            timeout: None,
        }
    }

    /// The key expires (the kernel deletes it) `secs` seconds after it is written.
    pub(crate) fn with_timeout(mut self, secs: Option<u64>) -> UserKeyringCredential {
        self.timeout = secs;
        self
    }

    pub(crate) fn into_entry(self) -> keyring::Entry {
        keyring::Entry::new_with_credential(Box::new(self) as Box<Credential>)
    }

    fn ring() -> keyring::Result<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(platform)
    }
}

fn platform(e: KeyError) -> keyring::Error {
    keyring::Error::PlatformFailure(Box::new(e))
}

fn not_found_or(e: KeyError) -> keyring::Error {
    match e {
        KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked => {
            keyring::Error::NoEntry
        }
        other => platform(other),
    }
}

impl CredentialApi for UserKeyringCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        let ring = Self::ring()?;
        // add_key updates an existing key with the same description in place.
        let key = ring.add_key(&self.description, secret).map_err(platform)?;
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(
                Permission::VIEW
                    | Permission::READ
                    | Permission::WRITE
                    | Permission::SEARCH
                    | Permission::SETATTR,
            )
            .build();
        key.set_perms(perms).map_err(platform)?;
        if let Some(secs) = self.timeout {
            // 0 would mean "never"; an already-useless token gets the shortest life instead.
            let secs = usize::try_from(secs.max(1)).unwrap_or(usize::MAX);
            key.set_timeout(secs).map_err(platform)?;
        }
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        let ring = Self::ring()?;
        let key = ring.search(&self.description).map_err(not_found_or)?;
        key.read_to_vec().map_err(not_found_or)
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        let ring = Self::ring()?;
        let key = ring.search(&self.description).map_err(not_found_or)?;
        key.invalidate().map_err(not_found_or)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
