//! Runs an outside program with a deadline and bounded output: a `command` source, the ssh tools
//! `ssh` readiness asks, and everything `doctor` consults (go, git, ssh, a GOAUTH command).
//! Output is returned raw: some of it (a token, `git credential fill`) is a secret, so callers
//! decide what to keep and never print it as is; stdout is zeroed when dropped. The deadline
//! covers the program and everything it starts, up to the end of its output: each program runs
//! in a session and process group of its own, which is killed as a whole when time is up.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const MAX_OUT: u64 = 1024 * 1024;

pub(crate) struct Captured {
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
    pub(crate) fn ok(&self) -> bool {
        self.status.success()
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        // stdout may have held a credential (git credential fill): clear it before it is freed.
        self.stdout.iter_mut().for_each(|b| *b = 0);
    }
}

/// Runs `cmd` feeding `stdin` (none: `/dev/null`), with one deadline for everything: the program
/// runs in a session (and process group) of its own, without a controlling terminal, and unless
/// it has exited *and* its stdout and stderr have reached end of file (and its stdin was taken)
/// by `timeout`, the whole group is killed and this returns an error. So a program that leaves
/// `sleep 20 &` holding its output, or a helper that daemonises, cannot hold the caller (git)
/// past the deadline; output printed before the deadline counts for nothing then, since it may
/// be cut short. `Err` says why it did not run or finish (not found, timed out); a non-zero exit
/// is an `Ok` with that status.
pub(crate) fn run(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Result<Captured, String> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let input = if stdin.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    };
    own_session(cmd);
    let mut child = cmd
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{prog}` not found"),
            _ => format!("could not start `{prog}`: {e}"),
        })?;
    let deadline = Instant::now() + timeout;
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
    let mut exited = false;
    loop {
        // The child is not reaped until the end (on Linux), so its pid (the group's id) cannot
        // be reused by another process while the group may still have to be killed.
        if !exited {
            exited = has_exited(&mut child).map_err(|e| format!("waiting for `{prog}`: {e}"))?;
        }
        let pipes_done = out.is_finished() && err.is_finished() && writer.is_finished();
        if exited && pipes_done {
            break;
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            let _ = child.wait();
            // Reader threads still blocked belong to a process that escaped the group (a new
            // session of its own): they are left behind, never waited for.
            let why = if exited {
                "exited, but something it started kept its output open"
            } else {
                "did not finish"
            };
            return Err(format!(
                "`{prog}` {why} within {} s and was killed",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{prog}`: {e}"))?;
    let _ = writer.join();
    Ok(Captured {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Makes the child the leader of a new session (so of a new process group too), with no
/// controlling terminal: the deadline can kill everything it starts as one group, and a program
/// that would prompt on the terminal fails at once instead of waiting there. On Linux it is also
/// killed if gocred dies first.
#[cfg(unix)]
fn own_session(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (setsid, prctl, getppid), allocating nothing.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("gocred exited"));
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn own_session(_cmd: &mut Command) {}

/// Whether the child has exited, without reaping it (`waitid(WNOWAIT)`).
#[cfg(target_os = "linux")]
fn has_exited(child: &mut std::process::Child) -> std::io::Result<bool> {
    // SAFETY: waitid(2) with WNOWAIT only inspects our own child and writes into `info`.
    #[allow(unsafe_code)]
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(info.si_pid() != 0)
    }
}

/// Elsewhere the child is reaped as soon as it exits (a reused group id is then possible in
/// theory, but only once every member of the group is gone).
#[cfg(not(target_os = "linux"))]
fn has_exited(child: &mut std::process::Child) -> std::io::Result<bool> {
    Ok(child.try_wait()?.is_some())
}

/// SIGKILL to the child's whole process group (it leads one, see [`own_session`]).
#[cfg(unix)]
fn kill_group(child: &mut std::process::Child) {
    // SAFETY: kill(2) on the group our unreaped child leads; no memory is involved.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
}

#[cfg(not(unix))]
fn kill_group(child: &mut std::process::Child) {
    let _ = child.kill();
}

/// How a program ended, for messages: `exit status 3`, `killed by signal 9`.
pub(crate) fn describe_status(s: ExitStatus) -> String {
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
pub(crate) fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./,:=@+%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Finds `name` on `PATH` (as `exec` would, except that empty and relative entries are skipped:
/// they mean the current directory, which is wherever git runs us), for tools reported on before
/// they run and for `command` programs (`fsutil::trust::program`). On Windows a name without an
/// extension is tried with each of `.exe`, `.com`, `.bat`, `.cmd` in turn, as `cmd.exe` does.
pub(crate) fn which(name: &str, path_var: Option<&str>) -> Option<std::path::PathBuf> {
    if name.contains(std::path::is_separator) {
        let p = std::path::PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .filter(|d| d.is_absolute())
        .find_map(|d| candidates(&d, name).into_iter().find(|p| is_exec(p)))
}

#[cfg(unix)]
fn candidates(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    vec![dir.join(name)]
}

#[cfg(windows)]
fn candidates(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    use crate::fsutil::trust::PROGRAM_EXTENSIONS;
    let has_ext = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PROGRAM_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    if has_ext {
        return vec![dir.join(name)];
    }
    PROGRAM_EXTENSIONS
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .collect()
}

fn is_exec(p: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(windows)]
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
    #[cfg(unix)]
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
        // A child that exits but leaves its output held open is bounded too.
        let t = Instant::now();
        let e = run(
            Command::new("sh").args(["-c", "echo out; sleep 20 &"]),
            b"",
            Duration::from_millis(500),
        );
        assert!(e.unwrap_err().contains("kept its output open"));
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(run(
            &mut Command::new("/nonexistent/x"),
            b"",
            Duration::from_secs(1)
        )
        .unwrap_err()
        .contains("not found"));
    }
}
