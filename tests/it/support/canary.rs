//! The secret canary: no secret a test used may show up in what a process printed, except as
//! the protocol answer that is the command's job.
//!
//! Secrets are registered where tests create them, so a new test gets the check for free:
//! the stand-in servers register the tokens and passwords they accept or mint
//! ([`GitServer::start`](super::GitServer::start), `TokenService::expect_tokens`, the GitHub,
//! GitLab and OAuth stand-ins); [`run_with_stdin`](super::run_with_stdin) registers the secret
//! a `login` reads on stdin, the `password=` of a `store`/`erase` request and the values of
//! secret-looking environment variables it sets (`*TOK*`, `*SECRET*`, `*PASS*`, `*PAT*`,
//! `*KEY*`); a test may add its own with [`secret`] / [`credential`].
//!
//! Every output a test runs through the support runners (`run_with_stdin`, `run_parallel`,
//! `run_ok`) or reads with `stdout_str`/`stderr_str`/`assert_success` is checked with
//! [`check`]: no registered secret, raw, percent-encoded or in a Basic `user:secret` form
//! (base64, for the registered user names and `x-access-token`, `oauth2`, `git`), may appear in
//! stderr; in stdout only on the lines that are a protocol answer — git's `password=` line,
//! GOAUTH's `Authorization:` header, GitHub Actions' `::add-mask::` — or as the whole of
//! stdout (`gocred token`). Where printing the secret *is* the job (a test that reads a netrc
//! file back with `cat`), the test reads the output with [`raw_stdout`] instead: the opt-out
//! is explicit at the call site.
//!
//! The registry is process-wide (the stand-ins mint on their own threads); secrets shorter
//! than [`MIN_LEN`] are not checked, as they would match ordinary words.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::Mutex;

use base64::Engine as _;

/// Shorter secrets are not looked for (`"a"`, `"tok"` would match ordinary text).
pub const MIN_LEN: usize = 8;

/// User names a Basic header is looked for with, besides the registered ones.
const USERS: &[&str] = &["x-access-token", "oauth2", "git", "token"];

struct Registry {
    secrets: BTreeSet<String>,
    users: BTreeSet<String>,
    /// [`forms`] of the above, rebuilt when one of them changes.
    forms: Option<std::sync::Arc<Vec<(String, String)>>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    secrets: BTreeSet::new(),
    users: BTreeSet::new(),
    forms: None,
});

/// Registers `s` as a secret no output may show.
pub fn secret(s: &str) {
    let s = s.trim_end_matches(['\n', '\r']);
    if s.len() >= MIN_LEN {
        let mut r = REGISTRY.lock().unwrap();
        if r.secrets.insert(s.to_string()) {
            r.forms = None;
        }
    }
}

/// Registers `password` (and `user`, for its Basic form).
pub fn credential(user: &str, password: &str) {
    secret(password);
    if !user.is_empty() {
        let mut r = REGISTRY.lock().unwrap();
        if r.users.insert(user.to_string()) {
            r.forms = None;
        }
    }
}

fn secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // gocred's own settings (`GOCRED_CONFIG`, `GOCRED_TRACE`…) are not secrets by their
    // prefix; what follows it still counts (`GOCRED_CI_TOKEN`).
    let n = upper.strip_prefix("GOCRED_").unwrap_or(&upper);
    ["TOK", "SECRET", "PASS", "PAT", "KEY", "CRED"]
        .iter()
        .any(|w| n.contains(w))
        && !matches!(n, "PATH" | "KEYRING" | "KEYRING_SERVICE")
}

/// What a command is about to be given: secrets on stdin (`login`), in a credential request
/// (`store`/`erase`) and in secret-looking environment variables.
pub fn register_input(cmd: &Command, stdin: &[u8]) {
    for (k, v) in cmd.get_envs() {
        if let (Some(k), Some(v)) = (k.to_str(), v.and_then(|v| v.to_str())) {
            if secret_env_name(k) {
                secret(v);
            }
        }
    }
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let text = String::from_utf8_lossy(stdin);
    if args.iter().any(|a| a == "login") {
        if let Some(first) = text.lines().next() {
            secret(first);
        }
    }
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("username="))
        .unwrap_or("");
    for pw in text.lines().filter_map(|l| l.strip_prefix("password=")) {
        credential(user, pw);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every form of every registered secret, with the raw secret it stands for.
fn forms() -> std::sync::Arc<Vec<(String, String)>> {
    let mut r = REGISTRY.lock().unwrap();
    if let Some(f) = &r.forms {
        return f.clone();
    }
    let f = std::sync::Arc::new(build_forms(&r));
    r.forms = Some(f.clone());
    f
}

fn build_forms(r: &Registry) -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for s in &r.secrets {
        out.push((s.clone(), s.clone()));
        let pct = percent_encode(s);
        if pct != *s {
            out.push((pct, s.clone()));
        }
        out.push((b64.encode(s), s.clone()));
        for u in r
            .users
            .iter()
            .map(String::as_str)
            .chain(USERS.iter().copied())
        {
            out.push((b64.encode(format!("{u}:{s}")), s.clone()));
        }
    }
    out
}

/// A stdout line that is a protocol answer, where a secret belongs.
fn answer_line(line: &str) -> bool {
    line.starts_with("password=")
        || line.starts_with("Authorization: ")
        || line.starts_with("::add-mask::")
}

/// Panics if `out` shows a registered secret outside a protocol answer. `what` names the
/// process in the message (never the secret itself: it is shown masked).
pub fn check(out: &Output, what: &str) {
    let forms = forms();
    if forms.is_empty() {
        return;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let whole = stdout.trim_end_matches('\n');
    let beyond: String = stdout
        .lines()
        .filter(|l| !answer_line(l))
        .collect::<Vec<_>>()
        .join("\n");
    for (form, raw) in forms.iter() {
        if !stderr.contains(form.as_str()) && !beyond.contains(form.as_str()) {
            continue;
        }
        let masked = format!(
            "{}…({} bytes)",
            raw.chars().take(3).collect::<String>(),
            raw.len()
        );
        assert!(
            !stderr.contains(form.as_str()),
            "secret canary: {what} printed the secret {masked} on stderr:\n{}",
            stderr.replace(form.as_str(), "<SECRET>")
        );
        if whole == raw {
            continue; // `gocred token`: stdout is the token.
        }
        assert!(
            !beyond.contains(form.as_str()),
            "secret canary: {what} printed the secret {masked} on stdout beyond its answer:\n{}",
            beyond.replace(form.as_str(), "<SECRET>")
        );
    }
}

/// Stdout without the canary: for a test whose job is to print a secret (reading a netrc
/// back). Stderr is still checked.
pub fn raw_stdout(out: &Output) -> String {
    let errs = Output {
        status: out.status,
        stdout: Vec::new(),
        stderr: out.stderr.clone(),
    };
    check(&errs, "a process whose stdout is read raw");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
