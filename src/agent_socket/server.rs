//! The serving side: one listener, one short-lived thread per admitted connection.
//!
//! Shutdown never goes through the filesystem: the accept loop polls the listener together with
//! the read end of a private pipe, and [`Server::stop`] writes one byte to that pipe. It then cuts
//! every live connection (`shutdown(2)` on sockets it still holds a reference to, so a reused fd
//! number is never hit) and from that moment nothing more is written to any peer: a write happens
//! only under the state lock, after checking the server is still running. Every wait in `stop` is
//! bounded; a handler still busy past the bound is left to finish on its own, unable to answer.
//!
//! Limits: a cap on live connections in total and per peer pid, one deadline for the whole
//! exchange (read the request, answer it, write the reply), a cap on the request's size. A peer
//! refused by the [`PeerPolicy`] is closed before a byte of its request is read.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use secrecy::zeroize::Zeroizing;

use super::peer::{Peer, PeerPolicy};
use super::{poll_one, END};

/// How much a server takes on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Live connections in total; more are closed at once.
    pub connections: usize,
    /// Live connections from one peer pid.
    pub per_peer: usize,
    /// From accept to the last byte of the reply.
    pub deadline: Duration,
    /// Bytes of one request.
    pub request_bytes: usize,
    /// How long `stop` waits for the accept loop and for busy handlers.
    pub stop_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: 128,
            per_peer: 8,
            deadline: Duration::from_secs(10),
            request_bytes: 8 * 1024,
            stop_wait: Duration::from_secs(2),
        }
    }
}

/// What a server does with the requests it admits.
pub(crate) trait Handler: Send + Sync + 'static {
    /// The reply to one request (its bytes up to, not including, the empty line), or `None` to
    /// close without a word.
    fn answer(&self, peer: &Peer, request: &[u8]) -> Option<Zeroizing<Vec<u8>>>;

    /// A connection closed unanswered: refused by the policy, over a cap, or out of time.
    fn refused(&self, _peer: Option<&Peer>, _why: &str) {}
}

struct Conn {
    pid: u32,
    stream: Arc<UnixStream>,
}

#[derive(Default)]
struct State {
    stopped: bool,
    next: u64,
    live: HashMap<u64, Conn>,
}

struct Shared {
    state: Mutex<State>,
    idle: Condvar,
    limits: Limits,
    policy: PeerPolicy,
    handler: Arc<dyn Handler>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running server. [`Server::stop`] (or drop) ends it.
pub(crate) struct Server {
    path: PathBuf,
    bound: (u64, u64),
    shared: Arc<Shared>,
    wake: Option<OwnedFd>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens at `path` (mode 0600; the caller keeps it in a private directory) and serves.
    pub(crate) fn start(
        path: &Path,
        policy: PeerPolicy,
        limits: Limits,
        handler: Arc<dyn Handler>,
    ) -> io::Result<Server> {
        // A path in the filesystem (never an abstract name, which no file mode guards), bound
        // under umask 077 so it is 0600 from its first moment, and set 0600 again in case the
        // platform ignored the umask for sockets.
        let listener = crate::fsutil::with_private_umask(|| UnixListener::bind(path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let md = std::fs::symlink_metadata(path)?;
        listener.set_nonblocking(true)?;
        let (wake_r, wake_w) = pipe()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            idle: Condvar::new(),
            limits,
            policy,
            handler,
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("agent-accept".into())
            .spawn(move || accept_loop(&listener, &wake_r, &s))?;
        Ok(Server {
            path: path.to_path_buf(),
            bound: (md.dev(), md.ino()),
            shared,
            wake: Some(wake_w),
            accept: Some(accept),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Live connections now (for tests).
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.shared.lock().live.len()
    }

    /// Stops accepting, cuts every connection, and from now on answers nobody. Bounded by
    /// `Limits::stop_wait` (twice at most), whatever the peers or the socket path do.
    pub(crate) fn stop(&mut self) {
        {
            let mut st = self.shared.lock();
            st.stopped = true;
            for c in st.live.values() {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
        }
        if let Some(w) = self.wake.take() {
            // SAFETY: write(2) of one byte from a local to a pipe fd we own.
            #[allow(unsafe_code)]
            unsafe {
                libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1);
            }
        }
        let wait = self.shared.limits.stop_wait;
        if let Some(t) = self.accept.take() {
            let until = Instant::now() + wait;
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let st = self.shared.lock();
        let _ = self
            .shared
            .idle
            .wait_timeout_while(st, wait, |st| !st.live.is_empty());
        // Tidy up the socket file, only if it is still the one we bound (a moved or replaced
        // path is left alone). Nothing above depended on it.
        if let Ok(md) = std::fs::symlink_metadata(&self.path) {
            if md.file_type().is_socket() && (md.dev(), md.ino()) == self.bound {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.wake.is_some() {
            self.stop();
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: pipe2(2) / pipe(2) write two new fds into a local array of two.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    #[cfg(not(target_os = "linux"))]
    #[allow(unsafe_code)]
    let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created for us and are owned by nothing else.
    #[allow(unsafe_code)]
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(target_os = "linux"))]
    {
        cloexec_nonblock(&r)?;
        cloexec_nonblock(&w)?;
    }
    Ok((r, w))
}

/// `FD_CLOEXEC` and `O_NONBLOCK` on a new fd, where the call that made it cannot set them
/// (macOS: no `pipe2`, no `SOCK_CLOEXEC`).
#[cfg(not(target_os = "linux"))]
pub(super) fn cloexec_nonblock(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl(2) on an fd we own, with integer arguments only.
    #[allow(unsafe_code)]
    let ok = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        fl != -1
            && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) != -1
            && libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) != -1
    };
    match ok {
        true => Ok(()),
        false => Err(io::Error::last_os_error()),
    }
}

fn accept_loop(listener: &UnixListener, wake: &OwnedFd, shared: &Arc<Shared>) {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll(2) on a local array of two pollfds; the fds stay open across the call.
        #[allow(unsafe_code)]
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
        if shared.lock().stopped || fds[1].revents != 0 {
            return;
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        // Drain every pending connection, then poll again.
        loop {
            match listener.accept() {
                Ok((conn, _)) => admit(conn, shared),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EMFILE and friends: back off instead of spinning; peers wait in the backlog.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            }
        }
    }
}

fn admit(conn: UnixStream, shared: &Arc<Shared>) {
    let started = Instant::now();
    let peer = match shared.policy.admit(&conn) {
        Ok(p) => p,
        Err(why) => {
            shared.handler.refused(None, &why);
            return;
        }
    };
    if conn.set_nonblocking(true).is_err() {
        return;
    }
    let stream = Arc::new(conn);
    let id = {
        let mut st = shared.lock();
        if st.stopped {
            return;
        }
        let limits = &shared.limits;
        let mine = st.live.values().filter(|c| c.pid == peer.pid).count();
        let over = if st.live.len() >= limits.connections {
            Some(format!("{} connections are open already", st.live.len()))
        } else if mine >= limits.per_peer {
            Some(format!(
                "pid {} has {mine} connections open already",
                peer.pid
            ))
        } else {
            None
        };
        if let Some(why) = over {
            drop(st);
            shared.handler.refused(Some(&peer), &why);
            return;
        }
        st.next += 1;
        let id = st.next;
        st.live.insert(
            id,
            Conn {
                pid: peer.pid,
                stream: stream.clone(),
            },
        );
        id
    };
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("agent-conn".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            serve(&s, &stream, &peer, started);
            let mut st = s.lock();
            st.live.remove(&id);
            s.idle.notify_all();
        });
    if spawned.is_err() {
        let mut st = shared.lock();
        st.live.remove(&id);
        shared.idle.notify_all();
    }
}

/// One exchange on an admitted connection, all of it before `started + deadline`.
fn serve(shared: &Shared, conn: &UnixStream, peer: &Peer, started: Instant) {
    let limits = &shared.limits;
    let deadline = started + limits.deadline;
    let Some(request) = read_request(conn, deadline, limits.request_bytes) else {
        shared.handler.refused(
            Some(peer),
            "the request was incomplete, too long or too slow",
        );
        return;
    };
    if shared.lock().stopped {
        return;
    }
    let Some(reply) = shared.handler.answer(peer, &request) else {
        return;
    };
    let mut sent = 0;
    while sent < reply.len() {
        {
            let st = shared.lock();
            if st.stopped {
                return;
            }
            match (&*conn).write(&reply[sent..]) {
                Ok(0) => return,
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
        if sent < reply.len() && !poll_one(conn.as_raw_fd(), libc::POLLOUT, deadline) {
            return;
        }
    }
}

/// Bytes up to the empty line that ends a request (or to the peer's EOF), within the deadline
/// and the size cap. Zeroed when dropped: a request may name what it asks for.
fn read_request(conn: &UnixStream, deadline: Instant, cap: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    let mut chunk = Zeroizing::new([0u8; 1024]);
    loop {
        if let Some(end) = find_end(&buf) {
            buf.truncate(end);
            return Some(buf);
        }
        if buf.len() > cap {
            return None;
        }
        match (&*conn).read(&mut chunk[..]) {
            Ok(0) => return (!buf.is_empty()).then_some(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !poll_one(conn.as_raw_fd(), libc::POLLIN, deadline) {
                    return None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn find_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"\n") {
        return Some(0);
    }
    buf.windows(END.len()).position(|w| w == END).map(|p| p + 1)
}

#[cfg(test)]
mod tests;
