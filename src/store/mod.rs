//! Stores: where root secrets live (the OS keyring). The token cache for minted credentials will
//! live here too, beside the keyring, guarded so parallel git processes mint once.

pub mod keyring;
#[cfg(target_os = "linux")]
pub mod keyutils;
pub mod lease;
pub mod netrc_file;
pub mod payload;

pub use self::keyring::{Backend, Keyring};
