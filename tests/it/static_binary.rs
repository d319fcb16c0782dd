//! The Linux release binary needs nothing from the machine it runs on: no dynamic loader, no
//! shared library, no NSS module. `install/release.sh` builds it (static-pie glibc, flags from
//! install/build-env.sh; one build, which later runs reuse), then
//! * its ELF headers name no interpreter (`PT_INTERP`) and no `DT_NEEDED` library;
//! * in a chroot holding only the binary, /etc/hosts, /etc/resolv.conf and a CA file (no libc, no
//!   libnss, no shell: less than a distroless image), it resolves `sts.corp.test` through
//!   /etc/hosts, talks HTTPS to a local server by that name and answers git; a name that is in
//!   neither /etc/hosts nor any DNS server fails with a clear error and no answer.
//!
//! `GOCRED_STATIC_BINARY=PATH` checks another binary instead (e.g. a musl build); then nothing
//! is built. Needs root (chroot); skipped with a message otherwise.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use crate::support;
use crate::support::{require_tool, run_ok, run_with_stdin, stderr_str, stdout_str};

const STS_HOST: &str = "sts.corp.test";
const TOKEN: &str = "ghs_static0123456789abcdefghijklmn";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6YWNtZS9hcHAifQ.c2lnbmF0dXJl";

fn host_target() -> String {
    let out = run_ok(Command::new(std::env::var("RUSTC").unwrap_or("rustc".into())).arg("-vV"));
    stdout_str(&out)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names its host")
}

/// The release binary: `$GOCRED_STATIC_BINARY`, else built by `install/release.sh` (cargo
/// makes it once; an unchanged tree then costs a second).
fn release_binary(work: &Path) -> PathBuf {
    if let Some(b) = std::env::var_os("GOCRED_STATIC_BINARY").filter(|v| !v.is_empty()) {
        return PathBuf::from(b);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = host_target();
    let out = run_ok(
        Command::new("bash")
            .arg(repo.join("install/release.sh"))
            .args(["--target", &target, "--out"])
            .arg(work.join("dist"))
            .env_remove("GOCRED_RELEASE_BINARY")
            .stdin(Stdio::null()),
    );
    let text = stdout_str(&out);
    assert!(text.contains("linkage: static"), "release.sh: {text}");
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    dir.join(&target).join("release/gocred")
}

fn readelf(args: &[&str], bin: &Path) -> String {
    let out = run_ok(Command::new(require_tool("readelf")).args(args).arg(bin));
    stdout_str(&out)
}

/// A one-connection-at-a-time HTTPS server on 127.0.0.1 with the test CA's certificate for
/// `*.corp.test`, answering the octo-sts exchange with TOKEN. Records request lines.
fn https_server(pki: &Path) -> (u16, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(pki.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or("").to_string());
            let body = format!("{{\"token\":\"{TOKEN}\"}}");
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, seen)
}

fn write(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
#[allow(clippy::print_stderr)] // the skip notice
fn the_release_binary_is_static_and_resolves_names_without_nss() {
    if !cfg!(target_os = "linux") {
        return;
    }
    if gocred::fsutil::euid() != 0 {
        eprintln!("skipped: chroot needs root");
        return;
    }
    support::canary::secret(TOKEN);
    support::canary::secret(JWT);
    let work = tempfile::Builder::new()
        .prefix("gocred-static-")
        .tempdir()
        .unwrap();
    let bin = release_binary(work.path());

    // No loader, no libraries: nothing the machine has to provide.
    let phdrs = readelf(&["-lW"], &bin);
    assert!(
        !phdrs.contains("INTERP"),
        "{}: PT_INTERP\n{phdrs}",
        bin.display()
    );
    let dynamic = readelf(&["-dW"], &bin);
    assert!(
        !dynamic.contains("(NEEDED)"),
        "{}: DT_NEEDED\n{dynamic}",
        bin.display()
    );

    // The chroot: the binary, name resolution's two files and the CA. Nothing else.
    let root = work.path().join("root");
    let pki = work.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    support::make_pki(work.path());
    let (port, seen) = https_server(&pki);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(&bin, root.join("gocred")).unwrap();
    write(
        &root.join("etc/hosts"),
        &format!("127.0.0.1 localhost\n127.0.0.1 {STS_HOST}\n"),
        0o644,
    );
    // A resolver that answers nothing quickly: names not in /etc/hosts must fail, not hang.
    write(
        &root.join("etc/resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        0o644,
    );
    write(
        &root.join("etc/ssl/certs/ca-certificates.crt"),
        &std::fs::read_to_string(pki.join("ca.pem")).unwrap(),
        0o644,
    );
    let config = |sts: &str| {
        format!(
            "[[rule]]\npattern = \"git.corp.test\"\nsource = \"github-oidc\"\n\
             sts_url = \"https://{sts}:{port}\"\napi_url = \"https://{sts}:{port}\"\n\
             scope = \"acme/lib\"\nidentity = \"ci-read\"\naudience = \"octo-sts.test\"\n\
             id_token_variable = \"GOCRED_ID_TOKEN\"\n"
        )
    };
    std::fs::create_dir_all(root.join("home")).unwrap();
    let get = |sts: &str| -> Output {
        write(&root.join("home/config.toml"), &config(sts), 0o600);
        let mut c = Command::new(require_tool("chroot"));
        c.arg(&root)
            .arg("/gocred")
            .arg("get")
            .env_clear()
            .env("HOME", "/home")
            .env("GOCRED_CONFIG", "/home/config.toml")
            .env("GOENV", "off")
            .env("GOCRED_ID_TOKEN", JWT)
            .env("GITLAB_CI", "true")
            .env("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt");
        run_with_stdin(
            &mut c,
            b"protocol=https\nhost=git.corp.test\npath=acme/lib.git\n\n",
        )
    };

    let out = get(STS_HOST);
    assert!(out.status.success(), "in the chroot: {}", stderr_str(&out));
    assert!(
        stdout_str(&out).contains(&format!("password={TOKEN}\n")),
        "{out:?}"
    );
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /sts/exchange?scope=acme%2Flib&identity=ci-read "),
        "{requests:?}"
    );

    // A name nobody knows: a clear error naming it, nothing for git.
    let out = get("nowhere.corp.test");
    assert!(!out.status.success());
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(err.contains("nowhere.corp.test"), "{err}");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "no request reached the server"
    );
}
