use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

fn private_tmp() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn refused(r: Result<impl std::fmt::Debug, Untrusted>) -> String {
    match r {
        Err(e @ Untrusted::Refused { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn reads_a_private_file_and_misses_quietly() {
    let d = private_tmp();
    let f = d.path().join("c.toml");
    fs::write(&f, b"x = 1\n").unwrap();
    chmod(&f, 0o644);
    assert_eq!(
        read_file(&f, Owner::YouOrRoot, MAX_READ).unwrap().unwrap(),
        b"x = 1\n"
    );
    assert!(
        read_file(&d.path().join("none"), Owner::YouOrRoot, MAX_READ)
            .unwrap()
            .is_none()
    );
    assert!(
        read_file(&d.path().join("no/dir/f"), Owner::YouOrRoot, MAX_READ)
            .unwrap()
            .is_none()
    );
}

#[test]
fn relative_paths_are_refused() {
    let e = refused(read_file(Path::new("c.toml"), Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("relative"), "{e}");
    let e = refused(resolve(Path::new("./a/b")));
    assert!(e.contains("relative"), "{e}");
}

#[test]
fn links_are_followed_through_trusted_places_only() {
    let d = private_tmp();
    let real = d.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::write(real.join("f"), b"ok").unwrap();
    symlink("real", d.path().join("rel")).unwrap();
    symlink(real.join("f"), d.path().join("flink")).unwrap();
    let canon = fs::canonicalize(&real).unwrap();
    assert_eq!(resolve(&d.path().join("rel/f")).unwrap(), canon.join("f"));
    assert_eq!(resolve(&d.path().join("flink")).unwrap(), canon.join("f"));
    assert_eq!(
        read_file(&d.path().join("flink"), Owner::You, MAX_READ)
            .unwrap()
            .unwrap(),
        b"ok"
    );
    // The link target's directory is judged like any other.
    let open = d.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::write(open.join("f"), b"evil").unwrap();
    chmod(&open, 0o777);
    symlink(open.join("f"), d.path().join("to-open")).unwrap();
    let e = refused(read_file(&d.path().join("to-open"), Owner::You, MAX_READ));
    assert!(e.contains("writable by group or others"), "{e}");
    // Loops end.
    symlink("loop2", d.path().join("loop1")).unwrap();
    symlink("loop1", d.path().join("loop2")).unwrap();
    let e = refused(resolve(&d.path().join("loop1")));
    assert!(e.contains("symbolic links"), "{e}");
}

#[test]
fn fifo_and_devices_are_refused_at_once() {
    let d = private_tmp();
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path we own.
    #[allow(unsafe_code)]
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(r, 0);
    let started = std::time::Instant::now();
    let e = refused(read_file(&fifo, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("a FIFO"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let e = refused(read_file(
        Path::new("/dev/null"),
        Owner::YouOrRoot,
        MAX_READ,
    ));
    assert!(e.contains("a character device"), "{e}");
    let sock = d.path().join("sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = refused(read_file(&sock, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("a socket"), "{e}");
    let e = refused(read_file(d.path(), Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("a directory"), "{e}");
}

#[test]
fn group_writable_files_and_dirs_are_refused() {
    let d = private_tmp();
    let f = d.path().join("f");
    fs::write(&f, b"x").unwrap();
    chmod(&f, 0o664);
    let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("writable by group or others (mode 664)"), "{e}");
    chmod(&f, 0o600);
    chmod(d.path(), 0o770);
    let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("(a directory) is writable"), "{e}");
    // Sticky: the entry's own owner is what counts.
    chmod(d.path(), 0o1777);
    assert!(read_file(&f, Owner::YouOrRoot, MAX_READ).unwrap().is_some());
    chmod(d.path(), 0o700);
}

/// A uid nobody uses here, to own what an attacker would plant.
const OTHER: u32 = 61_001;

#[test]
#[allow(clippy::print_stderr)]
fn other_owned_files_links_and_dirs_are_refused() {
    if crate::fsutil::euid() != 0 {
        eprintln!("skipped: needs root to give files to another uid");
        return;
    }
    let d = private_tmp();
    let f = d.path().join("f");
    fs::write(&f, b"x").unwrap();
    std::os::unix::fs::chown(&f, Some(OTHER), Some(OTHER)).unwrap();
    let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("owned by uid 61001"), "{e}");
    std::os::unix::fs::chown(&f, Some(0), Some(0)).unwrap();
    let link = d.path().join("link");
    symlink(&f, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(OTHER), Some(OTHER)).unwrap();
    let e = refused(read_file(&link, Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("(a symbolic link) is owned by uid 61001"), "{e}");
    let sub = d.path().join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("f"), b"x").unwrap();
    std::os::unix::fs::chown(&sub, Some(OTHER), Some(OTHER)).unwrap();
    let e = refused(read_file(&sub.join("f"), Owner::YouOrRoot, MAX_READ));
    assert!(e.contains("(a directory) is owned by uid 61001"), "{e}");
    // In a sticky shared directory, an entry someone else made is theirs to swap.
    chmod(d.path(), 0o1777);
    let e = refused(private_dir(&sub));
    assert!(e.contains("owned by uid 61001"), "{e}");
    chmod(d.path(), 0o700);
}

#[test]
fn size_is_bounded() {
    let d = private_tmp();
    let f = d.path().join("big");
    fs::write(&f, vec![b'a'; 4096]).unwrap();
    let e = refused(read_file(&f, Owner::You, 1024));
    assert!(e.contains("larger than 1 KiB"), "{e}");
}

#[test]
fn programs_resolve_once_to_a_checked_absolute_path() {
    let d = private_tmp();
    let bin = d.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let prog = bin.join("tok");
    fs::write(&prog, b"#!/bin/sh\n").unwrap();
    chmod(&prog, 0o755);
    let path_var = format!("relative/dir::{}", bin.display());
    assert_eq!(program("tok", Some(&path_var)).unwrap(), prog);
    assert_eq!(program(prog.to_str().unwrap(), None).unwrap(), prog);
    // Through a link: the link's path is run, the file it leads to is what is checked.
    let link = d.path().join("tok-link");
    symlink(&prog, &link).unwrap();
    assert_eq!(program(link.to_str().unwrap(), None).unwrap(), link);
    chmod(&prog, 0o777);
    let e = refused(program(link.to_str().unwrap(), None));
    assert!(e.contains("bin/tok is writable"), "{e}");
    chmod(&prog, 0o755);
    assert!(program("tok", Some("relative/dir"))
        .unwrap_err()
        .is_missing());
    let e = refused(program("./tok", Some(&path_var)));
    assert!(e.contains("relative"), "{e}");
    chmod(&prog, 0o757);
    let e = refused(program("tok", Some(&path_var)));
    assert!(e.contains("writable by group or others"), "{e}");
    chmod(&prog, 0o755);
    chmod(&bin, 0o775);
    let e = refused(program("tok", Some(&path_var)));
    assert!(e.contains("(a directory) is writable"), "{e}");
    chmod(&bin, 0o755);
    chmod(&prog, 0o644);
    assert!(program("tok", Some(&path_var)).is_err());
    // Root's own programs are fine.
    assert!(program("sh", Some("/bin:/usr/bin")).is_ok());
}

#[test]
fn private_dirs_are_created_0700_and_checked() {
    let d = private_tmp();
    let want = d.path().join("a/b/c");
    let real = private_dir(&want).unwrap();
    for p in [d.path().join("a"), d.path().join("a/b"), real.clone()] {
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o700,
            "{}",
            p.display()
        );
    }
    chmod(&real, 0o755);
    private_dir(&want).unwrap();
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o700
    );
    fs::write(d.path().join("file"), b"").unwrap();
    let e = refused(private_dir(&d.path().join("file")));
    assert!(e.contains("not a directory"), "{e}");
    chmod(&d.path().join("a"), 0o777);
    let e = refused(private_dir(&want));
    assert!(e.contains("writable by group or others"), "{e}");
}
