//! Supervised background processes that cannot outlive the test.
//!
//! Each daemon runs under a tiny watchdog shell:
//!
//! ```text
//! test process ──pipe──▶ sh (watchdog, ignores INT/HUP) ──▶ setsid <daemon>   (new group)
//! ```
//!
//! The daemon becomes the leader of its own process group (and session), so everything it
//! forks (fcgiwrap's `-c` workers, git http-backend, ...) can be killed as one group; a SIGTERM
//! to fcgiwrap's master alone leaves its workers running. The watchdog
//! blocks reading its stdin, a pipe whose write end only the test process holds. When the
//! [`Daemon`] is dropped, or the test process dies in any way (panic, abort, SIGKILL, Ctrl-C),
//! the pipe closes and the watchdog SIGKILLs the whole group and reaps the daemon.
//! `Drop` then waits until no live (non-zombie) process is left in the group: PID 1 here reaps
//! orphans only every 1-2 s, so zombies are skipped by looking at the process state.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const WATCHDOG: &str = r#"trap '' INT HUP
in=$1; log=$2; rmdir=$3; setsid=$4; shift 4
( trap - INT HUP; exec "$setsid" "$@" <"$in" >>"$log" 2>&1 ) &
pid=$!
echo "$pid"
read _line
# (dash's kill takes no `--`: "-PGID" right after the signal is the group.)
kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -n "$rmdir" ]; then rm -rf -- "$rmdir" 2>/dev/null; fi
exit 0
"#;

/// A background process supervised by a watchdog; killed (with its process group) on drop.
pub struct Daemon {
    pid: u32,
    log: PathBuf,
    watcher: Option<Child>,
    pipe: Option<ChildStdin>,
}

impl Daemon {
    /// Starts `argv` with exactly the environment `env`, in `cwd`, with stdin from `stdin`
    /// (or /dev/null) and stdout + stderr appended to `log`. Returns once the process has
    /// become its own process-group leader (or has already exited: check [`Daemon::is_alive`]).
    pub fn spawn(
        name: &str,
        argv: &[OsString],
        env: &[(String, String)],
        stdin: Option<&Path>,
        log: &Path,
        cwd: &Path,
    ) -> Daemon {
        Self::spawn_owning(name, argv, env, stdin, log, cwd, None)
    }

    /// Like [`Daemon::spawn`], and the watchdog also removes `dir` (the owner's temp dir,
    /// named `gocred-*`) once the daemon is dead, so that a test process killed without
    /// unwinding leaves no temp dir behind either. Not when `GOCRED_TEST_KEEP=1`.
    pub fn spawn_owning(
        name: &str,
        argv: &[OsString],
        env: &[(String, String)],
        stdin: Option<&Path>,
        log: &Path,
        cwd: &Path,
        dir: Option<&Path>,
    ) -> Daemon {
        assert!(!argv.is_empty(), "Daemon::spawn({name}): empty argv");
        let rmdir = match dir {
            Some(d) if !super::keep_temp() => {
                let last = d.file_name().and_then(|f| f.to_str()).unwrap_or("");
                assert!(
                    d.is_absolute() && last.starts_with("gocred-"),
                    "refusing to let a watchdog remove {}",
                    d.display()
                );
                d.as_os_str().to_owned()
            }
            _ => OsString::new(),
        };
        let setsid = super::require_tool("setsid");
        let stdin = stdin.unwrap_or(Path::new("/dev/null"));
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(format!("gocred-test-watchdog[{name}]"))
            .arg(stdin)
            .arg(log)
            .arg(&rmdir)
            .arg(&setsid)
            .args(argv)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning watchdog for {name}: {e}"));
        let pipe = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading pid of {name}: {e}"));
        let pid: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("watchdog for {name} printed {line:?}, not a pid"));
        let daemon = Daemon {
            pid,
            log: log.to_path_buf(),
            watcher: Some(child),
            pipe,
        };
        // Wait until setsid(2) has happened, so the group kill covers everything it forks.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match proc_stat(pid) {
                Some(st) if st.pgrp == pid => break,
                Some(st) if st.state == 'Z' || st.state == 'X' => break,
                None => break,
                _ => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        daemon
    }

    /// The daemon's pid, which is also its process-group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The daemon process itself is alive (not exited, not a zombie).
    pub fn is_alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some(st) if st.pgrp == self.pid && st.state != 'Z' && st.state != 'X')
    }

    /// The daemon's stdout + stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the daemon's process group and waits until none of it is left running.
    /// Idempotent; also done by `Drop`.
    pub fn stop(&mut self) {
        // Closing the pipe makes the watchdog kill the group and reap the daemon.
        drop(self.pipe.take());
        if let Some(mut watcher) = self.watcher.take() {
            let reaped =
                super::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
                    matches!(watcher.try_wait(), Ok(Some(_)) | Err(_))
                });
            if !reaped {
                kill_group(self.pid);
                let _ = watcher.kill();
                let _ = watcher.wait();
            }
        }
        if !wait_group_gone(self.pid, Duration::from_secs(5)) {
            kill_group(self.pid);
            wait_group_gone(self.pid, Duration::from_secs(5));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Some process of group `pgid` is alive (zombies do not count).
pub fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
        .any(|st| st.pgrp == pgid && st.state != 'Z' && st.state != 'X')
}

fn wait_group_gone(pgid: u32, timeout: Duration) -> bool {
    super::wait_until(timeout, Duration::from_millis(10), || !group_alive(pgid))
}

fn kill_group(pgid: u32) {
    let _ = Command::new("/bin/sh")
        .args(["-c", "kill -KILL \"-$1\" 2>/dev/null", "sh"])
        .arg(pgid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

struct ProcStat {
    state: char,
    pgrp: u32,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcStat { state, pgrp })
}
