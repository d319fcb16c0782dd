//! Runs an outside program with a deadline and bounded output: a `command` source, the ssh tools
//! `ssh` readiness asks, and everything `doctor` consults (go, git, ssh, a GOAUTH command).
//! Output is returned raw: some of it (a token, `git credential fill`) is a secret, so callers
//! decide what to keep and never print it as is; stdout is zeroed when dropped.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const MAX_OUT: u64 = 1024 * 1024;

pub struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl std::fmt::Debug for Captured {
    // stdout may hold a credential: never in a Debug string.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Captured({}, {} bytes out)",
            self.status,
            self.stdout.len()
        )
    }
}

impl Captured {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        // stdout may have held a credential (git credential fill): clear it before it is freed.
        self.stdout.iter_mut().for_each(|b| *b = 0);
    }
}

/// Runs `cmd` feeding `stdin` (none: `/dev/null`), killing it after `timeout`. `Err` says why it
/// did not run or finish (not found, timed out); a non-zero exit is an `Ok` with that status.
pub fn run(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Result<Captured, String> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let input = if stdin.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    };
    let mut child = cmd
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{prog}` not found"),
            _ => format!("could not start `{prog}`: {e}"),
        })?;
    let input = child.stdin.take();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut input) = input {
            let _ = input.write_all(&data);
        }
    });
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = (&mut r).take(MAX_OUT).read_to_end(&mut buf);
                let _ = std::io::copy(&mut r, &mut std::io::sink());
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{prog}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for `{prog}`: {e}")),
        }
    };
    let _ = writer.join();
    Ok(Captured {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// How a program ended, for messages: `exit status 3`, `killed by signal 9`.
pub fn describe_status(s: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match s.code() {
        Some(c) => format!("exit status {c}"),
        None => "no exit status".into(),
    }
}

/// Quotes `s` as one word for a POSIX shell, when it needs it (commands shown to be pasted, and
/// program paths put into an `sh -c` line).
pub fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./,:=@+%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Finds `name` on `PATH` (as `exec` would; empty entries skipped), for tools reported on before
/// they run.
pub fn which(name: &str, path_var: Option<&str>) -> Option<std::path::PathBuf> {
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| is_exec(p))
}

fn is_exec(p: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("git.corp.test"), "git.corp.test");
        assert_eq!(sh_quote("git /home/a b"), "'git /home/a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn deadline_kills() {
        let t = Instant::now();
        let e = run(
            Command::new("sh").args(["-c", "sleep 5"]),
            b"",
            Duration::from_millis(200),
        );
        assert!(e.unwrap_err().contains("did not finish"));
        assert!(t.elapsed() < Duration::from_secs(4));
        let c = run(&mut Command::new("cat"), b"hi", Duration::from_secs(5)).unwrap();
        assert_eq!(c.stdout_text(), "hi");
        assert!(run(
            &mut Command::new("/nonexistent/x"),
            b"",
            Duration::from_secs(1)
        )
        .unwrap_err()
        .contains("not found"));
    }
}
