//! The asking side: connect, check who is listening, send one request, read the reply to EOF,
//! all within one deadline.
//!
//! The server's credentials are checked before the request is sent: a socket at the expected
//! path that some other process bound (after moving ours aside, say) learns nothing, not even
//! which host was asked for.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use secrecy::zeroize::Zeroizing;

use super::peer::peer_of;
use super::poll_one;

/// Who must be serving the socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub uid: u32,
    /// The server's pid, when the client was told it (as `ci exec` tells its command).
    pub pid: Option<u32>,
}

/// Sends `request` (its lines; the ending empty line is added) to the server at `path` and
/// returns its whole reply (at most `max_reply` bytes), all before `timeout` has passed.
pub(crate) fn ask(
    path: &Path,
    expect: Expected,
    request: &[u8],
    timeout: Duration,
    max_reply: usize,
) -> io::Result<Zeroizing<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    let conn = connect(path, deadline)?;
    let server = peer_of(&conn)?;
    if server.uid != expect.uid || expect.pid.is_some_and(|p| p != server.pid) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is served by pid {} (uid {}), not by {}; not asking it",
                path.display(),
                server.pid,
                server.uid,
                match expect.pid {
                    Some(p) => format!(
                        "the gocred that started this job (pid {p}, uid {})",
                        expect.uid
                    ),
                    None => format!("a gocred of yours (uid {})", expect.uid),
                }
            ),
        ));
    }
    let mut msg = Zeroizing::new(request.to_vec());
    if !msg.ends_with(b"\n") {
        msg.push(b'\n');
    }
    msg.push(b'\n');
    let mut sent = 0;
    while sent < msg.len() {
        match (&conn).write(&msg[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !poll_one(conn.as_raw_fd(), libc::POLLOUT, deadline) {
                    return Err(timed_out());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut reply = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new([0u8; 1024]);
    loop {
        match (&conn).read(&mut chunk[..]) {
            Ok(0) => return Ok(reply),
            Ok(n) => {
                reply.extend_from_slice(&chunk[..n]);
                if reply.len() > max_reply {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the reply is too long",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !poll_one(conn.as_raw_fd(), libc::POLLIN, deadline) {
                    return Err(timed_out());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "no answer in time")
}

/// A non-blocking connect: a server whose backlog is full makes us wait at most to `deadline`.
fn connect(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is a valid value (family set below).
    #[allow(unsafe_code)]
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if bytes.is_empty() || bytes.contains(&0) || bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a usable socket path",
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // Linux sets both flags atomically; macOS has no SOCK_CLOEXEC/SOCK_NONBLOCK, so they are
    // set right after (gocred starts no program between the two).
    #[cfg(target_os = "linux")]
    let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    #[cfg(not(target_os = "linux"))]
    let flags = 0;
    // SAFETY: socket(2) has no memory preconditions; the new fd is owned right away.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just created and nothing else owns it.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    #[cfg(not(target_os = "linux"))]
    super::server::cloexec_nonblock(&fd)?;
    loop {
        // SAFETY: connect(2) reads `addr`, a fully initialised sockaddr_un of the given length.
        #[allow(unsafe_code)]
        let r = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return Ok(UnixStream::from(fd));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            // A full backlog (Linux answers EAGAIN on Unix sockets): try again shortly.
            Some(libc::EAGAIN) => {
                if Instant::now() >= deadline {
                    return Err(timed_out());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => return Err(e),
        }
    }
}
