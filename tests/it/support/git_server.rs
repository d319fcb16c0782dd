//! HTTPS git server for `git.corp.test` (nginx + fcgiwrap + `git http-backend`) behind a test
//! CA, reached through a CONNECT proxy on 127.0.0.1 (no /etc/hosts edit, no port 443).

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::proc::Daemon;
use super::{mkdir, require_tool, run_ok, run_with_stdin, write_file};

pub const GIT_HOST: &str = "git.corp.test";
pub const PROXY_HOST: &str = "proxy.corp.test";
/// The same GOPROXY directory, but behind `Authorization: Bearer <GitServer::bearer_token>`.
pub const BEARER_PROXY_HOST: &str = "bearer-proxy.corp.test";
/// Static files from [`GitServer::releases_dir`], no auth: a stand-in for a release download site.
pub const RELEASES_HOST: &str = "releases.corp.test";

/// Fixed commit dates make repos reproducible: 2024-01-01T00:00:00Z plus one minute per commit.
const EPOCH: u64 = 1_704_067_200;

/// One line of the nginx access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub status: u16,
    pub method: String,
    /// Path and query as requested, e.g. `/team/lib?go-get=1`.
    pub uri: String,
    /// The Basic-auth user name sent (also on a 401), `None` when none was sent.
    pub user: Option<String>,
    pub user_agent: String,
    pub host: String,
}

/// nginx serving, over HTTPS with a test CA:
///
/// * `https://git.corp.test/<ns>/<name>.git/...`: smart HTTP (`git http-backend`, fetch only),
///   Basic auth always required.
/// * `https://git.corp.test/<ns>/<name>[/sub...]?go-get=1`: the go-import meta page for every
///   module added with [`GitServer::add_module`]; Basic auth required, except under namespace
///   `lax` where it is open (GitHub vs GitLab style). Unknown modules: 404.
/// * `https://git.corp.test/` (GET/HEAD): 200 when authorized, 401 otherwise (Go's `HEAD /`
///   check with `GOAUTH=git`).
/// * `https://proxy.corp.test/...`: the static directory [`GitServer::goproxy_dir`] (a GOPROXY
///   layout, empty at start), Basic auth required.
/// * `https://releases.corp.test/...`: the static directory [`GitServer::releases_dir`] (empty at
///   start), open to anyone, like a project's release downloads.
/// * `https://bearer-proxy.corp.test/...`: the same directory, only for
///   `Authorization: Bearer <`[`GitServer::bearer_token`]`>` (compared case-sensitively; else 401
///   with `WWW-Authenticate: Bearer`). Its access-log user is `bearer-token` when the token
///   matched, `-` otherwise.
///
/// Both hosts accept the users of [`GitServer::start`] / [`GitServer::set_users`] with realm
/// `<host>`. Modules `lax/lib` and `team/lib` v1.0.0 exist from the start (package `lib`,
/// `func Hello() string` returning "hello from lax" / "hello from team").
/// Clients reach it through [`GitServer::env`] (HTTPS_PROXY + CA bundle).
pub struct GitServer {
    // Drop order: proxy, nginx, fcgiwrap, then the temp dir.
    proxy: ConnectProxy,
    nginx: Daemon,
    fcgiwrap: Daemon,
    port: u16,
    commits: Mutex<HashMap<String, u64>>,
    root: PathBuf,
    bearer_token: String,
    _dir: TempDir,
}

impl GitServer {
    pub fn start(users: &[(&str, &str)]) -> GitServer {
        Self::start_inner(users, None)
    }

    /// Like [`GitServer::start`], but `git.corp.test` checks credentials with nginx
    /// `auth_request` against `http://127.0.0.1:<validator_port>/__validate` (e.g. the GitHub
    /// API stand-in, which accepts only live installation tokens) instead of the htpasswd
    /// users; the subrequest gets the client's `Authorization` and `X-Original-URI`. go-get
    /// pages are open in this mode (Go never sends git credentials there), `proxy.corp.test`
    /// keeps Basic auth.
    pub fn start_with_token_check(validator_port: u16) -> GitServer {
        Self::start_inner(&[], Some(validator_port))
    }

    fn start_inner(users: &[(&str, &str)], token_check: Option<u16>) -> GitServer {
        let dir = super::temp_dir("gocred-git-");
        let root = dir.path().to_path_buf();
        for d in [
            "repos",
            "work",
            "www/_goget",
            "goproxy",
            "releases",
            "logs",
            "pki",
            "srvhome",
            "ngx",
        ] {
            mkdir(&root.join(d));
        }
        write_file(&root.join("www/index.html"), "gocred test git server\n");
        // Server-side git (add_module, push -> receive-pack, http-backend): no auto-maintenance.
        // It would detach (setsid) and linger as a zombie of PID 1 or outlive the server.
        write_file(
            &root.join("srvhome/.gitconfig"),
            "[maintenance]\n\tauto = false\n[gc]\n\tauto = 0\n[receive]\n\tautogc = false\n",
        );
        make_pki(&root);
        write_htpasswd(&root, users);
        for (user, password) in users {
            super::canary::credential(user, password);
        }
        let bearer_token = random_token();
        super::canary::secret(&bearer_token);
        write_file(
            &root.join("bearer.map"),
            format!("\"~^Bearer {bearer_token}$\" bearer-token;\n"),
        );

        let fcgiwrap = start_fcgiwrap(&root);
        let (nginx, port) = start_nginx(&root, token_check);
        let proxy = ConnectProxy::start(port);

        let server = GitServer {
            proxy,
            nginx,
            fcgiwrap,
            port,
            commits: Mutex::new(HashMap::new()),
            root,
            bearer_token,
            _dir: dir,
        };
        let lib = |who: &str| {
            format!("package lib\n\nfunc Hello() string {{ return \"hello from {who}\" }}\n")
        };
        server.add_module("lax", "lib", "v1.0.0", &[("lib.go", &lib("lax"))]);
        server.add_module("team", "lib", "v1.0.0", &[("lib.go", &lib("team"))]);
        server
    }

    /// Replaces the accepted Basic-auth users (nginx reads the file on every request).
    pub fn set_users(&self, users: &[(&str, &str)]) {
        write_htpasswd(&self.root, users);
    }

    /// The one token `bearer-proxy.corp.test` accepts (random per server, 32 hex digits).
    pub fn bearer_token(&self) -> &str {
        &self.bearer_token
    }

    /// Environment for a client of this server: `HTTPS_PROXY`/`https_proxy` pointing at the
    /// CONNECT proxy, empty `NO_PROXY`/`no_proxy`, and `SSL_CERT_FILE`, `GIT_SSL_CAINFO`,
    /// `CURL_CA_BUNDLE` set to a bundle of the system CAs plus the test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        let proxy = format!("http://{}", self.proxy.addr);
        let bundle = self.ca_bundle().display().to_string();
        vec![
            ("HTTPS_PROXY".into(), proxy.clone()),
            ("https_proxy".into(), proxy),
            ("NO_PROXY".into(), String::new()),
            ("no_proxy".into(), String::new()),
            ("SSL_CERT_FILE".into(), bundle.clone()),
            ("GIT_SSL_CAINFO".into(), bundle.clone()),
            ("CURL_CA_BUNDLE".into(), bundle),
        ]
    }

    /// `cmd.envs(self.env())`.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.envs(self.env());
    }

    /// The raw nginx access log, one request a line:
    /// `<status> <method> <uri> <remote_user or -> "<user agent>" <host>`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.root.join("logs/access.log")).unwrap_or_default()
    }

    /// The access log, parsed.
    pub fn access_entries(&self) -> Vec<AccessLogEntry> {
        self.access_log()
            .lines()
            .filter_map(parse_access_line)
            .collect()
    }

    /// The fetches git made: successful `info/refs` requests (one per clone or fetch), with
    /// the user each authenticated as.
    pub fn git_fetches(&self) -> Vec<AccessLogEntry> {
        self.access_entries()
            .into_iter()
            .filter(|e| e.uri.contains("/info/refs") && e.status == 200)
            .collect()
    }

    /// The CONNECT requests the proxy saw, e.g. `CONNECT git.corp.test:443 -> 200`.
    pub fn proxy_log(&self) -> Vec<String> {
        self.proxy.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// System CA bundle + test CA (what `env()` points clients at).
    pub fn ca_bundle(&self) -> PathBuf {
        self.root.join("pki/bundle.pem")
    }

    /// nginx's port on 127.0.0.1 (clients normally go through the proxy instead).
    pub fn nginx_port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>` of the CONNECT proxy.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy.addr)
    }

    /// Directory served as `https://proxy.corp.test/` (GOPROXY layout:
    /// `<module>/@v/list`, `<version>.info`, `.mod`, `.zip`).
    pub fn goproxy_dir(&self) -> PathBuf {
        self.root.join("goproxy")
    }

    /// Directory served as `https://releases.corp.test/` (no auth).
    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    /// The server's temp dir (removed on drop, or by the watchdog if the test process dies).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory holding the bare repos (`<ns>/<name>.git`).
    pub fn repos_dir(&self) -> PathBuf {
        self.root.join("repos")
    }

    /// Process-group ids of the server processes (nginx, fcgiwrap); see `support::group_alive`.
    pub fn process_groups(&self) -> Vec<u32> {
        vec![self.nginx.pid(), self.fcgiwrap.pid()]
    }

    /// Creates (or adds a version to) module `git.corp.test/<ns>/<name>`: the repo's tree
    /// becomes exactly `go_files` plus a `go.mod` saying `module git.corp.test/<ns>/<name>`
    /// (unless `go_files` has its own `go.mod`), committed with fixed author and dates and
    /// tagged `version`, in the bare repo `<ns>/<name>.git`; also publishes the go-get page.
    pub fn add_module(&self, ns: &str, name: &str, version: &str, go_files: &[(&str, &str)]) {
        let valid = |s: &str| {
            !s.is_empty()
                && !s.starts_with('.')
                && !s.ends_with(".git")
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        assert!(valid(ns) && valid(name), "bad module name {ns}/{name}");
        assert!(
            version.starts_with('v'),
            "version {version:?} must look like v1.2.3"
        );
        let module = format!("{GIT_HOST}/{ns}/{name}");
        let key = format!("{ns}/{name}");
        let mut commits = self
            .commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = commits.entry(key.clone()).or_insert(0);
        let work = self.root.join("work").join(&key);
        let bare = self.root.join("repos").join(format!("{key}.git"));
        let first = *n == 0;
        if first {
            mkdir(&work);
            self.git(&work, &["init", "-q", "-b", "main"]);
        } else {
            for entry in std::fs::read_dir(&work)
                .expect("reading work tree")
                .flatten()
            {
                if entry.file_name() != ".git" {
                    let p = entry.path();
                    if p.is_dir() {
                        std::fs::remove_dir_all(&p).expect("cleaning work tree");
                    } else {
                        std::fs::remove_file(&p).expect("cleaning work tree");
                    }
                }
            }
        }
        if !go_files.iter().any(|(p, _)| *p == "go.mod") {
            write_file(
                &work.join("go.mod"),
                format!("module {module}\n\ngo 1.21\n"),
            );
        }
        for (rel, content) in go_files {
            assert!(
                !rel.starts_with('/') && !rel.split('/').any(|c| c == ".." || c == ".git"),
                "bad file name {rel:?}"
            );
            write_file(&work.join(rel), content);
        }
        *n += 1;
        let date = format!("{} +0000", EPOCH + 60 * *n);
        self.git_dated(&work, &["add", "-A"], &date);
        self.git_dated(
            &work,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("{module} {version}"),
            ],
            &date,
        );
        self.git_dated(&work, &["tag", version], &date);
        if first {
            mkdir(bare.parent().expect("bare repo parent"));
            let (w, b) = (work.display().to_string(), bare.display().to_string());
            self.git(&self.root, &["clone", "-q", "--bare", &w, &b]);
            self.git(&bare, &["config", "http.receivepack", "false"]);
        } else {
            let b = bare.display().to_string();
            let tag = format!("refs/tags/{version}");
            self.git(&work, &["push", "-q", &b, "HEAD:refs/heads/main", &tag]);
        }
        let page = format!(
            "<!DOCTYPE html>\n<html><head>\n\
             <meta name=\"go-import\" content=\"{module} git https://{module}.git\">\n\
             </head><body>go get {module}</body></html>\n"
        );
        let page_path = self.root.join(format!("www/_goget/{key}.html"));
        let tmp = page_path.with_extension("html.tmp");
        write_file(&tmp, page);
        std::fs::rename(&tmp, &page_path).expect("publishing go-get page");
    }

    /// Publishes `git.corp.test/<ns>/<name>@<version>` (added before with
    /// [`GitServer::add_module`]) to the GOPROXY directory served as `https://proxy.corp.test/`:
    /// `@v/list` (appended), `<version>.info`, `.mod`, and `.zip` (made with `git archive`;
    /// the module hash is the same as for a direct fetch). For a client:
    /// `GOPROXY=https://proxy.corp.test GOPRIVATE= GONOSUMDB=git.corp.test` (gotcha 2).
    pub fn publish_to_goproxy(&self, ns: &str, name: &str, version: &str) {
        let module = format!("{GIT_HOST}/{ns}/{name}");
        let bare = self.root.join(format!("repos/{ns}/{name}.git"));
        assert!(bare.is_dir(), "no repo for {module}: add_module first");
        let dir = self.goproxy_dir().join(&module).join("@v");
        mkdir(&dir);
        let tag = format!("refs/tags/{version}");
        let zip = dir.join(format!("{version}.zip"));
        let (prefix, zip_arg) = (
            format!("--prefix={module}@{version}/"),
            format!("-o{}", zip.display()),
        );
        self.git(&bare, &["archive", "--format=zip", &prefix, &zip_arg, &tag]);
        let go_mod = self.git(&bare, &["show", &format!("{tag}:go.mod")]).stdout;
        write_file(&dir.join(format!("{version}.mod")), go_mod);
        let time = self.git(
            &bare,
            &[
                "log",
                "-1",
                "--format=%cd",
                "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
                &tag,
            ],
        );
        let time = String::from_utf8_lossy(&time.stdout).trim().to_string();
        write_file(
            &dir.join(format!("{version}.info")),
            format!("{{\"Version\":\"{version}\",\"Time\":\"{time}\"}}\n"),
        );
        let list = dir.join("list");
        let mut versions = std::fs::read_to_string(&list).unwrap_or_default();
        if !versions.lines().any(|v| v == version) {
            versions.push_str(version);
            versions.push('\n');
        }
        write_file(&list, versions);
    }

    fn git(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        self.git_dated(dir, args, &format!("{EPOCH} +0000"))
    }

    fn git_dated(&self, dir: &Path, args: &[&str], date: &str) -> std::process::Output {
        let home = self.root.join("srvhome").display().to_string();
        run_ok(
            Command::new(require_tool("git"))
                .args(args)
                .current_dir(dir)
                .env_clear()
                .envs(server_env(&home))
                .env("GIT_AUTHOR_NAME", "gocred test")
                .env("GIT_AUTHOR_EMAIL", "test@corp.test")
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_NAME", "gocred test")
                .env("GIT_COMMITTER_EMAIL", "test@corp.test")
                .env("GIT_COMMITTER_DATE", date)
                .env("TZ", "UTC")
                .stdin(Stdio::null()),
        )
    }
}

/// 32 hex digits from /dev/urandom.
fn random_token() -> String {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("reading /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Minimal environment for server-side processes (git, fcgiwrap, nginx).
fn server_env(home: &str) -> Vec<(String, String)> {
    vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        ("HOME".into(), home.into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
    ]
}

fn parse_access_line(line: &str) -> Option<AccessLogEntry> {
    let (head, rest) = line.split_once(" \"")?;
    let (ua, host) = rest.rsplit_once("\" ")?;
    let mut f = head.split(' ');
    let status = f.next()?.parse().ok()?;
    let method = f.next()?.to_string();
    let uri = f.next()?.to_string();
    let user = f.next()?;
    Some(AccessLogEntry {
        status,
        method,
        uri,
        user: (user != "-").then(|| user.to_string()),
        user_agent: ua.to_string(),
        host: host.trim().to_string(),
    })
}

fn openssl(dir: &Path, args: &[&str]) {
    run_ok(
        Command::new(require_tool("openssl"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null()),
    );
}

/// Test CA + server certificate (SAN git.corp.test, proxy.corp.test, *.corp.test) + a client
/// bundle (system CAs + test CA). P-256 keys: fast to make.
pub fn make_pki(root: &Path) {
    let pki = root.join("pki");
    openssl(
        &pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=gocred test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        &pki,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=git.corp.test",
        ],
    );
    write_file(
        &pki.join("server.ext"),
        "basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=DNS:git.corp.test,DNS:proxy.corp.test,DNS:*.corp.test\n\
         subjectKeyIdentifier=hash\n\
         authorityKeyIdentifier=keyid,issuer\n",
    );
    openssl(
        &pki,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "825",
            "-extfile",
            "server.ext",
        ],
    );
    let ca = std::fs::read_to_string(pki.join("ca.pem")).expect("reading ca.pem");
    let mut bundle =
        std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(&ca);
    write_file(&pki.join("bundle.pem"), bundle);
}

/// htpasswd via `openssl passwd -apr1 -stdin`, replaced atomically.
fn write_htpasswd(root: &Path, users: &[(&str, &str)]) {
    let mut lines = String::new();
    if !users.is_empty() {
        let mut input = String::new();
        for (user, pw) in users {
            assert!(
                !user.is_empty() && !user.contains([':', '\n', '\r']),
                "bad user name {user:?}"
            );
            assert!(!pw.contains(['\n', '\r']), "password with a newline");
            input.push_str(pw);
            input.push('\n');
        }
        let out = run_with_stdin(
            Command::new(require_tool("openssl")).args(["passwd", "-apr1", "-stdin"]),
            input.as_bytes(),
        );
        super::assert_success(&out, "openssl passwd -apr1 -stdin");
        let text = String::from_utf8(out.stdout).expect("htpasswd hashes");
        let hashes: Vec<&str> = text.lines().collect();
        assert_eq!(hashes.len(), users.len(), "openssl passwd output: {text}");
        for ((user, _), hash) in users.iter().zip(hashes) {
            lines.push_str(&format!("{user}:{hash}\n"));
        }
    }
    let tmp = root.join("htpasswd.tmp");
    write_file(&tmp, lines);
    std::fs::rename(&tmp, root.join("htpasswd")).expect("replacing htpasswd");
}

fn start_fcgiwrap(root: &Path) -> Daemon {
    let sock = root.join("fcgiwrap.sock");
    let home = root.join("srvhome").display().to_string();
    // No `-c N`: prefork workers would be orphaned on kill and linger as zombies until PID 1
    // reaps them (every 1-2 s here). One process serves the CGI requests one at a time and
    // reaps each `git http-backend` itself.
    let argv: Vec<OsString> = vec![
        require_tool("fcgiwrap").into(),
        "-s".into(),
        format!("unix:{}", sock.display()).into(),
    ];
    let daemon = Daemon::spawn_owning(
        "fcgiwrap",
        &argv,
        &server_env(&home),
        None,
        &root.join("logs/fcgiwrap.log"),
        root,
        Some(root),
    );
    let up = super::wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
        sock.exists() || !daemon.is_alive()
    });
    assert!(
        up && sock.exists(),
        "fcgiwrap did not create {}:\n{}",
        sock.display(),
        daemon.log_text()
    );
    daemon
}

/// Starts nginx on a free port, retrying with another port if it lost a race for it.
fn start_nginx(root: &Path, token_check: Option<u16>) -> (Daemon, u16) {
    let nginx = require_tool("nginx");
    let home = root.join("srvhome").display().to_string();
    let error_log = root.join("logs/error.log");
    let mut last = String::new();
    for _attempt in 0..8 {
        let port = free_port();
        write_file(
            &root.join("nginx.conf"),
            nginx_conf(root, port, token_check),
        );
        let _ = std::fs::remove_file(&error_log);
        let argv: Vec<OsString> = vec![
            nginx.clone().into(),
            "-p".into(),
            format!("{}/", root.display()).into(),
            "-c".into(),
            root.join("nginx.conf").into(),
            "-e".into(),
            error_log.clone().into(),
        ];
        let daemon = Daemon::spawn(
            "nginx",
            &argv,
            &server_env(&home),
            None,
            &root.join("logs/nginx.out"),
            root,
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let errors = std::fs::read_to_string(&error_log).unwrap_or_default();
            if errors.contains("bind() to") {
                // Lost the port to another process between probing and binding.
                last = errors;
                break;
            }
            if !daemon.is_alive() {
                panic!(
                    "nginx exited at start:\n--- error.log ---\n{errors}\n--- output ---\n{}",
                    daemon.log_text()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (daemon, port);
            }
            if Instant::now() >= deadline {
                panic!(
                    "nginx did not listen on 127.0.0.1:{port} within 15 s:\n\
                     --- error.log ---\n{errors}\n--- output ---\n{}",
                    daemon.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("nginx could not bind a free port in 8 attempts:\n{last}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

fn nginx_conf(root: &Path, port: u16, token_check: Option<u16>) -> String {
    let r = root.display();
    // Token-check mode: auth_request on the git endpoints and `/`, go-get pages open.
    let (server_auth, git_auth, check_location) = match token_check {
        None => ("auth_basic $gocred_realm;".to_string(), "", String::new()),
        Some(p) => (
            "auth_basic off;".to_string(),
            "auth_request /__gocred_auth;",
            format!(
                "location = /__gocred_auth {{\n            internal;\n            \
                 proxy_pass http://127.0.0.1:{p}/__validate;\n            \
                 proxy_pass_request_body off;\n            \
                 proxy_set_header Content-Length \"\";\n            \
                 proxy_set_header X-Original-URI $request_uri;\n        }}"
            ),
        ),
    };
    let exec_path = git_exec_path();
    let exec_path = exec_path.display();
    // Only a root master may (and must, to read our 0700 temp dir) keep workers as root; with
    // `master_process off` nginx runs as one process and never switches user anyway.
    format!(
        r#"# generated by tests/it/support/git_server.rs
daemon off;
master_process off;
worker_processes 1;
pid {r}/nginx.pid;
lock_file {r}/nginx.lock;
error_log {r}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format gocred '$status $request_method $request_uri $remote_user "$http_user_agent" $host';
    access_log {r}/logs/access.log gocred;
    client_body_temp_path {r}/ngx/body;
    proxy_temp_path {r}/ngx/proxy;
    fastcgi_temp_path {r}/ngx/fastcgi;
    uwsgi_temp_path {r}/ngx/uwsgi;
    scgi_temp_path {r}/ngx/scgi;
    types {{
        text/html html;
        application/json info;
        text/plain mod;
        application/zip zip;
    }}
    default_type text/plain;
    server_tokens off;
    ssl_certificate {r}/pki/server.pem;
    ssl_certificate_key {r}/pki/server.key;
    auth_basic_user_file {r}/htpasswd;
    client_max_body_size 0;

    # `return` runs before auth_basic, so pages are static files and auth is per request via
    # a variable (`off` = open); `$arg_go-get` is not a valid variable name.
    map $args $gocred_goget {{
        default 0;
        "~(^|&)go-get=1(&|$)" 1;
    }}
    map $request_uri $gocred_realm {{
        default "{GIT_HOST}";
        "~^/lax/[^?]*\?(.*&)?go-get=1(&|$)" off;
    }}

    server {{
        listen 127.0.0.1:{port} ssl default_server;
        server_name {GIT_HOST};
        root {r}/www;
        {server_auth}

        {check_location}

        location = / {{
            {git_auth}
            try_files /index.html =404;
        }}

        location ~ ^/[^/]+/[^/]+\.git(/.*)?$ {{
            {git_auth}
            fastcgi_pass unix:{r}/fcgiwrap.sock;
            fastcgi_param SCRIPT_FILENAME {exec_path}/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {r}/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $uri;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param SERVER_NAME $server_name;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param HTTPS on;
            fastcgi_read_timeout 120s;
        }}

        location / {{
            if ($gocred_goget = 0) {{
                return 404;
            }}
            rewrite ^/([^/]+)/([^/]+) /_goget/$1/$2.html break;
            return 404;
        }}
    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {PROXY_HOST};
        root {r}/goproxy;
        auth_basic "{PROXY_HOST}";
    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {RELEASES_HOST};
        root {r}/releases;
    }}

    # `map` compares plain strings ignoring case: the token is matched by a `~` regex
    # (case-sensitive) from bearer.map.
    map $http_authorization $gocred_bearer_user {{
        default "-";
        include {r}/bearer.map;
    }}
    log_format gocred_bearer '$status $request_method $request_uri $gocred_bearer_user "$http_user_agent" $host';

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {BEARER_PROXY_HOST};
        root {r}/goproxy;
        access_log {r}/logs/access.log gocred_bearer;
        location / {{
            add_header WWW-Authenticate 'Bearer realm="{BEARER_PROXY_HOST}"' always;
            if ($gocred_bearer_user = "-") {{
                return 401;
            }}
        }}
    }}
}}
"#
    )
}

fn git_exec_path() -> PathBuf {
    let out = run_ok(
        Command::new(require_tool("git"))
            .arg("--exec-path")
            .stdin(Stdio::null()),
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A CONNECT proxy on 127.0.0.1:0 that tunnels `CONNECT <label>.corp.test:443` to nginx and
/// answers 403 to anything else. Stopped (listener, all open tunnels) on drop.
struct ConnectProxy {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Conns,
    log: Arc<Mutex<Vec<String>>>,
    accept: Option<JoinHandle<()>>,
}

/// Open tunnels by id: clones of their sockets, so `Drop` can shut them down.
type Conns = Arc<Mutex<HashMap<u64, Vec<TcpStream>>>>;

impl ConnectProxy {
    fn start(upstream_port: u16) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the CONNECT proxy");
        let addr = listener.local_addr().expect("proxy address");
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let accept = {
            let (stop, conns, log) = (stop.clone(), conns.clone(), log.clone());
            std::thread::Builder::new()
                .name("connect-proxy".into())
                .spawn(move || {
                    let mut next_id = 0u64;
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(conn) = conn else { continue };
                        next_id += 1;
                        let tracked = Tracked {
                            id: next_id,
                            conns: conns.clone(),
                        };
                        tracked.add(&conn);
                        let log = log.clone();
                        let _ = std::thread::Builder::new()
                            .name("connect-tunnel".into())
                            .spawn(move || tunnel(conn, upstream_port, &tracked, &log));
                    }
                })
                .expect("spawning proxy thread")
        };
        ConnectProxy {
            addr,
            stop,
            conns,
            log,
            accept: Some(accept),
        }
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); if that fails, leave the thread rather than hang.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok();
        if let Some(h) = self.accept.take() {
            if woke {
                let _ = h.join();
            }
        }
        for (_, streams) in lock(&self.conns).drain() {
            for s in streams {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// A tunnel's entry in [`Conns`], removed when the tunnel ends.
struct Tracked {
    id: u64,
    conns: Conns,
}

impl Tracked {
    fn add(&self, stream: &TcpStream) {
        if let Ok(c) = stream.try_clone() {
            lock(&self.conns).entry(self.id).or_default().push(c);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        lock(&self.conns).remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn tunnel(mut client: TcpStream, upstream_port: u16, tracked: &Tracked, log: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 16 * 1024 {
            return;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let first = text.lines().next().unwrap_or("").to_string();
    let mut parts = first.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let allowed = method == "CONNECT"
        && target
            .to_ascii_lowercase()
            .strip_suffix(".corp.test:443")
            .is_some_and(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
    let upstream = if allowed {
        TcpStream::connect(("127.0.0.1", upstream_port)).ok()
    } else {
        None
    };
    let Some(mut upstream) = upstream else {
        let (status, reason) = if allowed {
            (502, "Bad Gateway")
        } else {
            (403, "Forbidden")
        };
        lock(log).push(format!("{first} -> {status}"));
        let _ = client.write_all(
            format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    lock(log).push(format!("{first} -> 200"));
    tracked.add(&upstream);
    let _ = client.set_read_timeout(None);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    // Bytes the client sent after the CONNECT head (normally none) go first.
    if end < head.len() && upstream.write_all(&head[end..]).is_err() {
        return;
    }
    let (Ok(mut client_r), Ok(mut upstream_r)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_r, &mut upstream);
        let _ = upstream.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_r, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
}
