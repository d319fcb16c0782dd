//! The trust rule on Windows, on a real NTFS volume.

use super::*;

fn refused(r: Result<impl std::fmt::Debug, Untrusted>) -> String {
    match r {
        Err(e @ Untrusted::Refused { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn reads_files_refuses_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.toml");
    fs::write(&f, b"x = 1\n").unwrap();
    assert_eq!(
        read_file(&f, Owner::You, MAX_READ).unwrap().unwrap(),
        b"x = 1\n"
    );
    assert!(
        read_file(&d.path().join("no\\dir\\f"), Owner::You, MAX_READ)
            .unwrap()
            .is_none()
    );
    let e = refused(read_file(Path::new("c.toml"), Owner::You, MAX_READ));
    assert!(e.contains("relative"), "{e}");
    let e = refused(read_file(Path::new("\\\\.\\pipe\\x"), Owner::You, MAX_READ));
    assert!(e.contains("not on a drive"), "{e}");
    let e = refused(read_file(d.path(), Owner::You, MAX_READ));
    assert!(e.contains("a directory"), "{e}");
    fs::write(&f, vec![b'a'; 4096]).unwrap();
    let e = refused(read_file(&f, Owner::You, 1024));
    assert!(e.contains("larger than 1 KiB"), "{e}");
}

#[test]
#[allow(clippy::print_stderr)]
fn links_are_refused_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("real.toml");
    fs::write(&f, b"x").unwrap();
    let link = d.path().join("link.toml");
    // Symbolic links need Developer Mode or an elevated token.
    if let Err(e) = std::os::windows::fs::symlink_file(&f, &link) {
        eprintln!("skipped: cannot create a symbolic link here: {e}");
        return;
    }
    let e = refused(read_file(&link, Owner::You, MAX_READ));
    assert!(e.contains("reparse point"), "{e}");
    let sub = d.path().join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("f"), b"x").unwrap();
    std::os::windows::fs::symlink_dir(&sub, d.path().join("dlink")).unwrap();
    let e = refused(read_file(&d.path().join("dlink\\f"), Owner::You, MAX_READ));
    assert!(e.contains("reparse point"), "{e}");
}

#[test]
fn programs_need_an_absolute_path_and_a_runnable_extension() {
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("tok.exe");
    fs::write(&prog, b"MZ").unwrap();
    fs::write(d.path().join("notes.txt"), b"").unwrap();
    let path_var = format!("relative;{}", d.path().display());
    assert_eq!(program("tok", Some(&path_var)).unwrap(), prog);
    assert_eq!(program("tok.exe", Some(&path_var)).unwrap(), prog);
    assert_eq!(program(prog.to_str().unwrap(), None).unwrap(), prog);
    assert!(program("tok", Some("relative")).unwrap_err().is_missing());
    let e = refused(program(".\\tok.exe", Some(&path_var)));
    assert!(e.contains("relative"), "{e}");
    let txt = d.path().join("notes.txt");
    let e = refused(program(txt.to_str().unwrap(), None));
    assert!(e.contains("not a program"), "{e}");
}

#[test]
fn private_dirs_are_created_one_at_a_time() {
    let d = tempfile::tempdir().unwrap();
    let want = d.path().join("a\\b\\c");
    let real = private_dir(&want).unwrap();
    assert!(real.is_dir());
    assert_eq!(private_dir(&want).unwrap(), real);
    fs::write(d.path().join("file"), b"").unwrap();
    let e = refused(private_dir(&d.path().join("file")));
    assert!(e.contains("not a directory"), "{e}");
}
