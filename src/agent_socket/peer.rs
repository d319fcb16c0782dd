//! Who is at the other end of a Unix socket: the kernel's word for it (`SO_PEERCRED`), and the
//! policies a server applies to it (same user; same user and inside one process tree).
//!
//! The uid and pid come from the kernel, fixed when the peer connected (for a client) or called
//! `listen` (for a server); nothing the peer sends can change them. The tree check walks the
//! ppid chain in `/proc/<pid>/stat`. A pid can be reused once its process is gone, so where the
//! kernel offers `SO_PEERPIDFD` (Linux 6.5+) the check ends by asking the pidfd whether the
//! process that connected still owns that pid: if it does, the walk looked at the right process.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
#[cfg(target_os = "linux")]
use std::os::fd::{FromRawFd, RawFd};

/// Whether this platform tells a socket's peer pid and lets us walk its ancestry (`/proc`).
/// Elsewhere only the uid is known, and [`PeerPolicy::SameUserInTree`] refuses everyone.
pub(crate) const PIDS_KNOWN: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// The peer's credentials, as the kernel recorded them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    /// 0 when the kernel gives none (the peer lives in a pid namespace we cannot see).
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Which peers a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerPolicy {
    /// Any process of this user.
    SameUser,
    /// A process of this user that descends from `root` (its child, grandchild, …), never
    /// `root` itself.
    SameUserInTree { root: u32 },
}

impl PeerPolicy {
    /// The peer, when the policy admits it; otherwise why not (no secret in it).
    pub(crate) fn admit(&self, conn: &impl AsRawFd) -> Result<Peer, String> {
        let peer = peer_of(conn).map_err(|e| format!("cannot tell who connected: {e}"))?;
        let me = crate::fsutil::euid();
        if peer.uid != me {
            return Err(format!(
                "pid {} runs as uid {}, not uid {me}",
                peer.pid, peer.uid
            ));
        }
        match *self {
            PeerPolicy::SameUser => Ok(peer),
            PeerPolicy::SameUserInTree { root } => {
                let pidfd = peer_pidfd(conn);
                if peer.pid == 0 || !descends_from(peer.pid, root) {
                    return Err(format!(
                        "pid {} is not in the command's process tree (pid {root} and below)",
                        peer.pid
                    ));
                }
                if let Some(fd) = pidfd {
                    if pidfd_pid(&fd) != Some(peer.pid) {
                        return Err(format!(
                            "pid {} exited while it was being checked",
                            peer.pid
                        ));
                    }
                }
                Ok(peer)
            }
        }
    }
}

/// `SO_PEERCRED` (Linux); `getpeereid` elsewhere, which gives no pid (0).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_of(conn: &impl AsRawFd) -> io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt(2) writes at most `len` bytes into `cred`, a properly sized and aligned
    // ucred that lives across the call; the fd is borrowed from a live socket.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Peer {
        pid: u32::try_from(cred.pid).unwrap_or(0),
        uid: cred.uid,
        gid: cred.gid,
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_of(conn: &impl AsRawFd) -> io::Result<Peer> {
    let (mut uid, mut gid) = (u32::MAX, u32::MAX);
    // SAFETY: getpeereid(3) writes two ids into locals that live across the call.
    #[allow(unsafe_code)]
    let r = unsafe { libc::getpeereid(conn.as_raw_fd(), &mut uid, &mut gid) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Peer { pid: 0, uid, gid })
}

/// A pidfd for the peer (`SO_PEERPIDFD`, Linux 6.5+), `None` where the kernel has none.
#[cfg(target_os = "linux")]
fn peer_pidfd(conn: &impl AsRawFd) -> Option<OwnedFd> {
    const SO_PEERPIDFD: libc::c_int = 77;
    let mut fd: RawFd = -1;
    let mut len = std::mem::size_of::<RawFd>() as libc::socklen_t;
    // SAFETY: as in `peer_of`; the kernel writes one int (a new fd we then own) into `fd`.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut RawFd).cast(),
            &mut len,
        )
    };
    if r != 0 || fd < 0 {
        return None;
    }
    // SAFETY: the kernel just created this fd for us; nothing else owns it.
    #[allow(unsafe_code)]
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn peer_pidfd(_conn: &impl AsRawFd) -> Option<OwnedFd> {
    None
}

/// The pid a pidfd's process holds now (`Pid:` in its fdinfo; -1, hence `None`, once reaped).
fn pidfd_pid(fd: &OwnedFd) -> Option<u32> {
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
}

/// The parent of `pid` (`/proc/<pid>/stat` field 4).
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` is a (grand…)child of `root`. Depth is bounded: a ppid chain is short, and a
/// loop seen mid-reparenting must not hang the check.
pub(crate) fn descends_from(pid: u32, root: u32) -> bool {
    let mut cur = pid;
    for _ in 0..256 {
        match parent_of(cur) {
            Some(p) if p == root => return true,
            Some(p) if p > 1 => cur = p,
            _ => return false,
        }
    }
    false
}

/// Linux only: elsewhere the kernel tells no peer pid (see [`PIDS_KNOWN`]).
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_socketpair_peer_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = peer_of(&a).unwrap();
        assert_eq!(p.uid, crate::fsutil::euid());
        assert_eq!(p.pid, std::process::id());
        assert!(PeerPolicy::SameUser.admit(&a).is_ok());
        // This process is not its own descendant, nor its parent's child's child.
        let root = std::process::id();
        let why = PeerPolicy::SameUserInTree { root }.admit(&a).unwrap_err();
        assert!(why.contains("not in the command's process tree"), "{why}");
        let parent = parent_of(root).unwrap();
        assert!(PeerPolicy::SameUserInTree { root: parent }
            .admit(&a)
            .is_ok());
    }

    #[test]
    fn a_child_descends_and_a_stranger_does_not() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(descends_from(child.id(), std::process::id()));
        assert!(!descends_from(std::process::id(), child.id()));
        assert!(!descends_from(1, std::process::id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
