use super::*;
use crate::agent_socket::{ask, Expected};

struct Echo;

impl Handler for Echo {
    fn answer(&self, _peer: &Peer, request: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut r = b"echo:".to_vec();
        r.extend_from_slice(request);
        Some(Zeroizing::new(r))
    }
}

fn start(dir: &Path, limits: Limits) -> Server {
    Server::start(
        &dir.join("s.sock"),
        PeerPolicy::SameUser,
        limits,
        Arc::new(Echo),
    )
    .unwrap()
}

/// This process, with its pid where the kernel tells a socket's peer pid (Linux).
fn me() -> Expected {
    Expected {
        uid: crate::fsutil::euid(),
        pid: crate::agent_socket::peer::PIDS_KNOWN.then(std::process::id),
    }
}

fn get(server: &Server, req: &[u8]) -> std::io::Result<Zeroizing<Vec<u8>>> {
    ask(server.path(), me(), req, Duration::from_secs(5), 1024)
}

#[test]
fn answers_and_checks_who_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Limits::default());
    assert_eq!(&get(&server, b"hello").unwrap()[..], b"echo:hello\n");
    if !crate::agent_socket::peer::PIDS_KNOWN {
        return;
    }
    let wrong = Expected {
        uid: crate::fsutil::euid(),
        pid: Some(1),
    };
    let e = ask(server.path(), wrong, b"x", Duration::from_secs(5), 1024).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
}

#[test]
fn the_socket_is_a_private_file_never_an_abstract_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Limits::default());
    let md = std::fs::symlink_metadata(server.path()).unwrap();
    assert!(md.file_type().is_socket(), "not a socket file: {md:?}");
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    #[cfg(target_os = "linux")]
    {
        // The kernel's table of Unix sockets names a bound path as is, an abstract one with `@`.
        let table = std::fs::read_to_string("/proc/net/unix").unwrap();
        let path = server.path().to_str().unwrap();
        assert!(
            table.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} is not in /proc/net/unix"
        );
        assert!(!table.lines().any(|l| l.contains(" @") && l.ends_with(path)));
    }
}

#[test]
fn a_silent_peer_does_not_hold_up_another_and_is_cut_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    };
    let server = start(dir.path(), limits);
    let silent = UnixStream::connect(server.path()).unwrap();
    let t = Instant::now();
    assert_eq!(&get(&server, b"hi").unwrap()[..], b"echo:hi\n");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The silent one trickles a byte every 300 ms: cut at 2 s from accept, not per read.
    silent.set_nonblocking(false).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    loop {
        if (&silent).write_all(b"x").is_err() {
            break;
        }
        silent
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match (&silent).read(&mut buf) {
            Ok(0) => break,
            Ok(_) => panic!("answered an incomplete request"),
            Err(_) => {}
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never cut");
    }
}

#[test]
fn stop_is_bounded_answers_nobody_and_survives_a_removed_path() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).unwrap();
    let mut server = start(&sub, Limits::default());
    let half = UnixStream::connect(server.path()).unwrap();
    (&half).write_all(b"half").unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    let t = Instant::now();
    server.stop();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(server.live(), 0);
    let _ = (&half).write_all(b"\n\n");
    let mut got = Vec::new();
    half.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = (&half).read_to_end(&mut got);
    assert!(got.is_empty(), "answered after stop: {got:?}");
}

#[test]
fn caps_per_peer_leave_room_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        per_peer: 2,
        ..Limits::default()
    };
    let server = start(dir.path(), limits);
    let held: Vec<UnixStream> = (0..5)
        .map(|_| UnixStream::connect(server.path()).unwrap())
        .collect();
    assert!(crate::agent_socket::tests_wait(|| server.live() == 2));
    // The over-cap ones were closed; this process's next request waits only for a slot.
    drop(held);
    assert!(crate::agent_socket::tests_wait(|| server.live() == 0));
    assert_eq!(&get(&server, b"ok").unwrap()[..], b"echo:ok\n");
}
