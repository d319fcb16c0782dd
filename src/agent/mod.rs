//! `gocred agent`: credentials served over a Unix socket to a far side (a remote shell, a
//! container, a sandboxed process tree) that holds no secret, in narrowed, expiring sessions.
//!
//! The serving side ([`session`]) answers with the rules and sources of this machine, but only
//! for requests inside the session's allow-list, only until the session's TTL, and only with
//! credentials that do not outlive the session (minted for it and revoked at its end, or expiring
//! before it ends) unless the user opted in to more. Every answer and refusal is one line of the
//! audit log ([`audit`]); live sessions are listed in the runtime directory ([`registry`]).
//! The far side ([`client`]) is gocred in client mode: where `GOCRED_AGENT` names a socket,
//! `get`, `goauth` and `token` ask it instead of reading any config, keyring or secret.
//!
//! Transport, peer checks, limits and stopping are `agent_socket`'s (the same server and client as
//! `ci exec`); the frames are [`wire`]'s. Wire format and threat model: docs/agent.md.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod registry;
pub(crate) mod session;
pub(crate) mod wire;

pub(crate) use client::client_from_env;

/// The variable that puts `gocred get|goauth|token` in client mode: the agent's socket path.
pub(crate) const AGENT_VAR: &str = "GOCRED_AGENT";
