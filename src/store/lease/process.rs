//! Whether a lease's process still runs (pid plus start time, zombies count as gone).

pub(crate) use imp::*;

#[cfg(unix)]
mod imp {
    use std::fs;
    use std::path::Path;

    /// Linux `/proc/<pid>/stat` field 22; `None` elsewhere.
    pub(crate) fn start_time(pid: u32) -> Option<u64> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(19)?.parse().ok()
    }

    /// The pid of the nearest ancestor of `pid` (or `pid` itself) whose name is in `names`.
    pub(crate) fn ancestor_named(pid: u32, names: &[&str]) -> Option<u32> {
        let mut cur = pid;
        for _ in 0..64 {
            let comm = fs::read_to_string(format!("/proc/{cur}/comm")).ok()?;
            if names.contains(&comm.trim_end_matches('\n')) {
                return Some(cur);
            }
            let stat = fs::read_to_string(format!("/proc/{cur}/stat")).ok()?;
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            if ppid <= 1 {
                return None;
            }
            cur = ppid;
        }
        None
    }

    /// Alive and not a zombie, and (when known) the same process that started at `start`.
    pub(crate) fn alive(pid: u32, start: Option<u64>) -> bool {
        if pid == 0 {
            return false;
        }
        if Path::new("/proc/self/stat").exists() {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
                return false;
            };
            let mut f = after.split_whitespace();
            if f.next() == Some("Z") {
                return false;
            }
            return match start {
                Some(s) => f.nth(18).and_then(|v| v.parse::<u64>().ok()) == Some(s),
                None => true,
            };
        }
        // SAFETY: kill(2) with signal 0 only checks for existence and permission.
        #[allow(unsafe_code)]
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

#[cfg(not(unix))]
mod imp {
    pub(crate) fn start_time(_pid: u32) -> Option<u64> {
        None
    }

    pub(crate) fn ancestor_named(_pid: u32, _names: &[&str]) -> Option<u32> {
        None
    }

    /// Without a portable liveness check, a lease is never declared stale by pid.
    pub(crate) fn alive(pid: u32, _start: Option<u64>) -> bool {
        pid != 0
    }
}
