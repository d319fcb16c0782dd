//! Stores: where root secrets live (the OS keyring), and the token cache for minted credentials
//! beside it, guarded by per-scope locks so parallel git processes mint once.

pub mod cache;
pub mod keyring;
#[cfg(target_os = "linux")]
pub mod keyutils;
pub mod lease;
pub mod lock;
pub mod netrc_file;
pub mod payload;
pub mod revocation;

pub use self::cache::{CachedToken, TokenCache};
pub use self::keyring::{Keyring, KeyringSettings};
