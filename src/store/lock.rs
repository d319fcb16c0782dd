//! Cross-process "one mint at a time per scope": an advisory lock on a file that holds no secret.
//!
//! Sits beside the token cache. `go mod download` runs many git processes at once and each asks
//! us for a credential; without this, N cold processes would mint N tokens (or spend one
//! single-use refresh token N times, which makes GitHub and GitLab revoke the whole grant). The
//! caller takes [`ScopeLock`], re-reads the cache, and mints only if the token is still missing
//! (double-checked locking). The lock is `flock(2)` (through `fs4`), so the kernel releases it
//! when the holder exits or is killed: a crashed mint never wedges later processes.
//!
//! Lock files live in a private directory (`state::state_dir`, checked by [`private_dir`]): 0700, ours, and reached only through directories nobody else can change. A
//! file name is a hash of the scope, so nothing about the request leaks into the file system.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Longest wait for another process's mint: above the worst case of one mint (HTTP connect +
/// read timeouts and bounded retries), so a waiter gives up only when the holder is stuck.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(120);

/// An exclusive advisory lock, released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub(crate) struct ScopeLock {
    file: File,
}

impl ScopeLock {
    /// Takes the lock for `scope` in `dir`, waiting up to `wait` for another holder.
    pub(crate) fn acquire(dir: &Path, scope: &str, wait: Duration) -> Result<ScopeLock> {
        let locks = dir.join("locks");
        private_dir(&locks)?;
        let path = locks.join(format!("{}.lock", fingerprint(scope)));
        let file = crate::fsutil::trust::open_private(&path)
            .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(2);
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(ScopeLock { file }),
                Err(fs4::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(Error::with_hint(
                        format!(
                            "another gocred process has been minting this token for over {} s",
                            wait.as_secs()
                        ),
                        "a gocred process may be stuck; it holds the lock until it exits",
                    ))
                }
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e))
                }
            }
        }
    }
}

impl Drop for ScopeLock {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Creates (0700, one component at a time) and checks a directory only this user can use, on a
/// path only this user or root can change (`fsutil::trust::private_dir`): others could plant lock
/// or memory files in it otherwise.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    crate::fsutil::trust::private_dir(dir)
        .map(drop)
        .map_err(|e| {
            Error::with_hint(
                format!("refusing to keep gocred's state in {}: {e}", dir.display()),
                "set XDG_CACHE_HOME to a private directory of yours (mode 0700)",
            )
        })
}

/// A stable, file-name-safe digest of a scope (FNV-1a, 64 bit): names lock and memory files
/// without putting hosts, owners or patterns into the file system.
pub(crate) fn fingerprint(scope: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scope.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dir, inside, max) = (d.path().to_path_buf(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    // flock locks belong to the open file description: one per thread here.
                    let _l = ScopeLock::acquire(&dir, "s", LOCK_WAIT).unwrap();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn waiting_is_bounded_and_scopes_are_independent() {
        let d = tempfile::tempdir().unwrap();
        let _held = ScopeLock::acquire(d.path(), "a", LOCK_WAIT).unwrap();
        let e = ScopeLock::acquire(d.path(), "a", Duration::from_millis(20)).unwrap_err();
        assert!(e.to_string().contains("minting"), "{e}");
        ScopeLock::acquire(d.path(), "b", Duration::from_millis(20)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_lock_dir_linked_to_an_open_place() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o777)).unwrap();
        let state = d.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&elsewhere, state.join("locks")).unwrap();
        let e = ScopeLock::acquire(&state, "a", LOCK_WAIT).unwrap_err();
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        // A link of ours to a place only we can change is followed like any other path.
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        ScopeLock::acquire(&state, "a", LOCK_WAIT).unwrap();
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("").len(), 16);
    }
}
