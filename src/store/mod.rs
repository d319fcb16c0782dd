//! Stores: where root secrets live (the OS keyring), and the token cache for minted credentials
//! beside it, guarded by per-scope locks so parallel git processes mint once.

pub(crate) mod cache;
pub(crate) mod keyring;
#[cfg(target_os = "linux")]
pub(crate) mod keyutils;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod netrc_file;
pub(crate) mod payload;
pub(crate) mod revocation;

pub(crate) use self::cache::{CachedToken, TokenCache};
pub(crate) use self::keyring::{Keyring, KeyringSettings};
