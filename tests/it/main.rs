//! gocred's integration tests: one test crate, so the shared harness (`support`) is compiled and
//! linked once. Each module is one area, driven through the real binary; run one area with
//! `cargo test --test it credential::` (the module name is the prefix of every test name).
//!
//! A new file under `tests/` must be declared here (`mod name;`): `autotests = false` in
//! Cargo.toml means cargo builds nothing else, and `layout` fails while a file is left out.

#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))] // the Unix- and Linux-only modules are the users

mod support;

mod agent;
mod ci;
mod ci_mint;
mod ci_socket;
mod cli_conventions;
mod credential;
mod doctor;
mod e2e_go;
mod faults;
mod fuzz_corpus;
mod goauth;
mod goauth_vs_go;
mod init;
mod layout;
mod login;
mod mint_e2e;
mod mint_github;
mod mint_gitlab;
mod mint_oauth;
mod netrc_models;
mod release_install;
mod scope_vs_go;
mod static_binary;
mod support_smoke;
mod trace;
mod trust;
