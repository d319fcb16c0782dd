//! Credential requests over a Unix socket: a concurrent server with peer checks, and its client.
//!
//! Used by `gocred ci exec` (the job's tokens served from memory to CMD's git and Go) and by
//! `gocred agent` / `ssh` / `exec --agent` (`crate::agent`: sessions for a far side). What this module guarantees, whatever
//! the handler: the peer is checked from the kernel's credentials on every connection before a
//! byte is read ([`peer`]); connections are served concurrently, with caps in total and per peer
//! pid and one deadline for the whole exchange ([`server`]); stopping never touches the socket
//! path and is bounded; the client checks the server's credentials before it sends anything
//! ([`client`]).
//!
//! Framing: a request is text ending with an empty line (`\n\n`), or at the client's EOF; the
//! reply is everything the server writes before it closes. One exchange per connection. What the
//! lines mean is up to the handler (docs/ci-socket.md for `ci exec`'s, docs/agent.md for the agent's).

pub(crate) mod client;
pub(crate) mod peer;
pub(crate) mod server;

pub(crate) use client::{ask, Expected};
pub(crate) use peer::{Peer, PeerPolicy};
pub(crate) use server::{Handler, Limits, Server};

use std::os::fd::RawFd;
use std::time::Instant;

/// The end of a request: an empty line.
const END: &[u8] = b"\n\n";

/// Waits until `fd` is ready for `events` or `deadline` passes; `false` on timeout, error or
/// hang-up without the event.
fn poll_one(fd: RawFd, events: libc::c_short, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: poll(2) on one local pollfd; the fd is borrowed from a live socket.
        #[allow(unsafe_code)]
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if r > 0 {
            // A hang-up with data still to read counts as readable: read() then sees EOF.
            return p.revents & (events | libc::POLLHUP) != 0 && p.revents & libc::POLLNVAL == 0;
        }
    }
}

/// Polls `cond` for up to 10 s (unit tests).
#[cfg(test)]
fn tests_wait(mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + std::time::Duration::from_secs(10);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}
