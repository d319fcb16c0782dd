//! gocred: credentials for private Go modules.
//!
//! One request travels left to right once:
//!
//! ```text
//!  git ──credential protocol──► get/store/erase ─┐
//!  you ──────────────────────► login|explain|token┴─► Settings ─► Scope ─► Rule ─► Source ─► Credential
//!                                                  (env, go env  (GOPRIVATE (config:  (pat, env,   (token +
//!                                                   file, config) globs)     pattern→  command)     expiry)
//!                                                                            source)      │
//!                                                             keyring: root secrets ◄─────┘
//! ```
//!
//! Module map: [`cli`] parses flags and dispatches; [`commands`] holds one file per command;
//! [`settings`] reads the outside world once; [`scope`] is Go's GOPRIVATE matching; [`config`] is
//! the file model and [`rules`] its compiled, first-match-wins form; [`protocol`] is git's
//! credential codec; [`sources`] are the credential sources; [`store`] is the OS keyring;
//! [`doctor`] walks the whole chain from `go get` to the repository for `gocred doctor`;
//! [`secret`] marks every place a secret is exposed; [`fsutil`] writes files safely and decides
//! (`fsutil::trust`) what on disk may be trusted; [`error`] is the one error type. [`goauth`] is
//! Go's GOAUTH codec (`gocred goauth`); [`goproxy`] reads GOPROXY and spots the
//! GOPRIVATE-bypasses-the-proxy trap; [`gitconfig`] and [`goenv`] let git
//! and Go edit their own config for `init`/`uninit`; [`ssh`] holds the rewrites and readiness
//! checks of `transport = "ssh"` rules; [`netrc`] models Go's and curl's netrc readers for
//! `gocred ci`. [`proc`] runs outside programs (a `command` source, ssh, go, git) with a deadline
//! and bounded output. [`agent_socket`] serves credential requests over a Unix socket with peer
//! checks (`ci exec`'s in-memory agent, and [`agent`]: `gocred agent`, its
//! sessions and client mode). Each source kind lives in one `sources/<kind>.rs` (its
//! keys, compile, get, login, logout, explain/doctor text); minting kinds (github-app, oauth,
//! gitlab) talk HTTPS through [`http`] and keep tokens in `store::cache`. [`env`] is the process
//! environment snapshot and [`state`] the clock, the one freshness rule and the state directory.
//! Layers and the flow of one `get`: docs/architecture.md.
//! [`trace`] owns `GOCRED_TRACE` output: every decision of a request, never a secret.

#[cfg(unix)]
pub(crate) mod agent;
#[cfg(unix)]
pub(crate) mod agent_socket;
pub mod cli;
pub(crate) mod commands;
pub mod config;
pub(crate) mod doctor;
pub(crate) mod env;
pub mod error;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gitconfig;
pub(crate) mod goauth;
pub(crate) mod goenv;
pub(crate) mod goproxy;
pub(crate) mod http;
pub mod netrc;
pub(crate) mod proc;
pub mod protocol;
pub mod rules;
pub mod scope;
pub mod secret;
pub(crate) mod settings;
pub(crate) mod sources;
pub(crate) mod ssh;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod trace;

#[cfg(test)]
mod layering_test;
