//! Differential tests of `gocred::netrc`'s two reader models against the real readers:
//!
//! * [`gocred::netrc::go`] against Go's own `parseNetrc`, copied verbatim from GOROOT at test time
//!   (`support::go_netrc`);
//! * [`gocred::netrc::curl`] against the real curl 7.88.1 binary (the libcurl git uses here): curl
//!   reads each file with `--netrc-file`, connects to a loopback listener under the host name
//!   asked about, and `-v` shows the `Authorization` header it built from the file.
//!
//! The corpus is the cases of docs/protocols/netrc.md, hostile shapes (keywords, quotes, NUL, CR, long lines), the
//! edges of curl's line buffer, and gocred's own blocks on top of those files.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use crate::support;
use gocred::netrc::{block, curl, go, Entry};
use gocred::secret::secret;

fn corpus() -> Vec<Vec<u8>> {
    let long = |n: usize| format!("machine a login u password {}\n", "x".repeat(n - 28));
    let mut c: Vec<Vec<u8>> = [
        "machine a login u password p",
        "machine a login u password p\n",
        "machine a\nlogin u\npassword p\n",
        "machine a login u\npassword\np\n",
        "default login du password dp\nmachine b login u password p\n",
        "default\nmachine b login u password p\n",
        "machine a login u password p macdef init\ncd /\n\nmachine b login v password q\n",
        "macdef x\r\nfoo\r\n\r\nmachine b login v password q\r\n",
        "macdef x\nmachine a login u password p\n\nmachine b login v password q\n",
        "machine a login u password \"p w\"\n",
        "machine a login u password \"p\\\"w\\n\\t\\q\"\n",
        "machine a login u password \"unterminated\n",
        "machine a login u password \"p\"x y\n",
        "machine a login u password \"p\" \n",
        "# comment\nmachine a login u password p\n",
        "machine a\n#login u password p\n",
        "machine a login u #password p\n",
        "machine a login u password #p\n",
        "MACHINE a LOGIN u PASSWORD p\n",
        "machine A login u password p\n",
        "machine a login u password p\r\n",
        "machine\r\na login u password p\r\n",
        "machine \na login u password p\n",
        "machine a login u password p\nmachine a login v password q\n",
        "machine a login u login v password p\n",
        "machine a password p login u\n",
        "machine a login u\n",
        "machine a password p\n",
        "machine a\tlogin\tu\x0bpassword\x0cp\n",
        "machine a account x login u password p\n",
        "machine a login u password p default\nmachine b login v password q\n",
        "machine a login u password p\n\x00junk\nmachine b login v password q\n",
        "machine a login u pass\x00word p\nmachine b login v password q\nmachine c login w password r\n",
        "\n\n  \t\nmachine a login u password p\n",
        "machine a login machine password p\n",
        "machine a login u password p\nmachine b login default password q\n",
        "machine a:8443 login u password p\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    c.push(long(4094).into_bytes());
    c.push(long(4095).into_bytes());
    c.push(long(4096).into_bytes());
    c.push(format!("{}machine b login v password q\n", long(5000)).into_bytes());
    let last_no_nl = |n: usize| format!("machine b login v password q\n{}", long(n).trim_end());
    c.push(last_no_nl(4094).into_bytes());
    c.push(last_no_nl(4095).into_bytes());
    c.push(last_no_nl(4096).into_bytes());
    // gocred's block on top of each user file so far.
    let entries = [
        Entry {
            machine: "a".into(),
            login: "x-access-token".into(),
            password: secret("ghs_ours1".into()),
        },
        Entry {
            machine: "c".into(),
            login: "ci".into(),
            password: secret("tok.with.dots_2".into()),
        },
    ];
    let id = block::BlockId::parse("t3st").unwrap();
    let rendered = block::render(&id, &entries).unwrap();
    let with_block: Vec<Vec<u8>> = c
        .iter()
        .map(|u| block::insert(u, &rendered).as_slice().to_vec())
        .collect();
    c.extend(with_block);
    c
}

#[test]
fn go_model_matches_go_parse_netrc() {
    let files = corpus();
    let theirs = support::go_netrc::go_parse_many(&files);
    for (file, want) in files.iter().zip(theirs) {
        let ours: Vec<_> = go::parse(file)
            .into_iter()
            .map(|e| (e.machine, e.login, e.password))
            .collect();
        assert_eq!(ours, want, "file {:?}", String::from_utf8_lossy(file));
    }
}

/// What real curl sends to `host` with `file` as its netrc: `Err(exit code)` when it fails
/// before sending, `Ok(None)` for no Authorization header, `Ok(Some("login:password"))`.
fn real_curl(dir: &std::path::Path, file: &[u8], host: &str) -> Result<Option<Vec<u8>>, i32> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let netrc = dir.join("netrc");
    std::fs::write(&netrc, file).unwrap();
    let out = Command::new(support::require_tool("curl"))
        .args(["-sv", "-o", "/dev/null", "--max-time", "20", "--netrc-file"])
        .arg(&netrc)
        .arg("--connect-to")
        .arg(format!("{host}:{port}:127.0.0.1:{port}"))
        .arg(format!("http://{host}:{port}/"))
        .env_clear()
        .env("HOME", dir)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        // Unblock the listener if curl never connected.
        let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    }
    let _ = server.join();
    if code != 0 {
        return Err(code);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let header = stderr
        .lines()
        .find_map(|l| l.strip_prefix("> Authorization: Basic "))
        .map(|b64| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap()
        });
    Ok(header)
}

#[test]
fn curl_model_matches_curl_7_88() {
    let version = Command::new(support::require_tool("curl"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("curl 7.88."),
        "this oracle is libcurl 7.88 (what git links here); found: {}",
        version.lines().next().unwrap_or("")
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut sent, mut none, mut failed) = (0, 0, 0);
    for file in corpus() {
        for host in ["a", "b", "c", "zz"] {
            let model = curl::lookup(&file, host);
            let want = match &model {
                curl::Lookup::SyntaxError => Err(26),
                curl::Lookup::NoMatch => Ok(None),
                curl::Lookup::Match { login, password } => {
                    match (login.as_deref().unwrap_or(b""), password.as_deref()) {
                        (b"", None | Some(b"")) => Ok(None),
                        (l, p) => Ok(Some([l, b":", p.unwrap_or(b"")].concat())),
                    }
                }
            };
            let got = real_curl(dir.path(), &file, host);
            match &got {
                Ok(Some(_)) => sent += 1,
                Ok(None) => none += 1,
                Err(_) => failed += 1,
            }
            assert_eq!(
                got.as_ref()
                    .map(|o| o.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())),
                want.as_ref()
                    .map(|o| o.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())),
                "host {host}, model {model:?}, file {:?}",
                String::from_utf8_lossy(&file)
            );
        }
    }
    // The corpus exercises every outcome.
    assert!(
        sent > 100 && none > 100 && failed >= 6,
        "{sent} {none} {failed}"
    );
}
