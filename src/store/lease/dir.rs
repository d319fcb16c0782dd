//! The lease directory: create, list, judge (held, parked, stale), claim by rename, save and
//! erase leases. See the parent module for the states.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Holder, Lease, CLAIM, SUFFIX};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::netrc::block::BlockId;

/// How a listed lease stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    Held(u32),
    Parked,
    Stale(String),
    /// Being wiped by a live process.
    Claimed(u32),
}

/// A lease file found in the directory.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub id: String,
    pub path: PathBuf,
    /// Set for a claim file: the claimer.
    claimer: Option<Holder>,
}

/// A lease this process has claimed for wiping.
pub(crate) struct Claimed {
    pub lease: Lease,
    path: PathBuf,
}

/// The lease directory.
pub(crate) struct LeaseDir {
    dir: PathBuf,
}

impl LeaseDir {
    /// `$XDG_RUNTIME_DIR/gocred/ci`, else `<cache dir>/gocred/ci`; created 0700, checked to be
    /// ours, private, reached only through directories nobody else can change
    /// (`fsutil::trust::private_dir`), and outside the CI workspace (which may be uploaded or
    /// cached).
    pub(crate) fn open(env: &Env) -> Result<LeaseDir> {
        let base = env
            .get("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| env.get("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()))
            .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".cache")))
            .or_else(dirs::cache_dir)
            .ok_or_else(|| {
                Error::with_hint(
                    "no place for gocred's CI lease: XDG_RUNTIME_DIR, XDG_CACHE_HOME and HOME are unset",
                    "set XDG_RUNTIME_DIR to a private directory",
                )
            })?;
        let dir = base.join("gocred").join("ci");
        for var in ["GITHUB_WORKSPACE", "CI_PROJECT_DIR", "CI_BUILDS_DIR"] {
            if let Some(ws) = env.get(var) {
                let ws = fs::canonicalize(ws).unwrap_or_else(|_| PathBuf::from(ws));
                let resolved = fs::canonicalize(&base).unwrap_or_else(|_| base.clone());
                if resolved.starts_with(&ws) {
                    return Err(Error::with_hint(
                        format!(
                            "gocred's CI lease would live in {}, inside ${var}; the workspace may be uploaded or cached",
                            dir.display()
                        ),
                        "set XDG_RUNTIME_DIR (or XDG_CACHE_HOME) to a directory outside the workspace",
                    ));
                }
            }
        }
        // Every parent is checked and missing ones are made 0700 one by one: with
        // XDG_RUNTIME_DIR=/tmp, a /tmp/gocred someone else made first would let them swap `ci`
        // (and the agent socket in it) for their own.
        let dir = crate::fsutil::trust::private_dir(&dir).map_err(|e| {
            Error::with_hint(
                format!("refusing to keep CI leases in {}: {e}", dir.display()),
                "set XDG_RUNTIME_DIR to a private directory of yours (mode 0700), or remove what is in the way if it is yours",
            )
        })?;
        Ok(LeaseDir { dir })
    }

    #[cfg(all(test, unix))]
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    /// The agent socket path for a lease.
    #[cfg(unix)]
    pub(crate) fn socket(&self, id: &BlockId) -> PathBuf {
        self.dir.join(format!("{id}.sock"))
    }

    /// Writes a new lease; refuses an id that is already in use.
    pub(crate) fn create(&self, lease: &Lease) -> Result<()> {
        if self.list()?.iter().any(|l| l.id == lease.id) {
            return Err(Error::Usage(format!(
                "lease `{}` already exists; wipe it first (`gocred ci wipe --lease {}`) or pick another id",
                lease.id, lease.id
            )));
        }
        write_private(&self.file(&lease.id), lease)
    }

    /// Rewrites a lease this process holds.
    pub(crate) fn save(&self, lease: &Lease) -> Result<()> {
        write_private(&self.file(&lease.id), lease)
    }

    pub(crate) fn list(&self) -> Result<Vec<Listed>> {
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let (id, claimer) = if let Some((id, who)) = name.split_once(CLAIM) {
                let mut it = who.splitn(2, '-');
                let pid = it.next().and_then(|p| p.parse().ok());
                let start = it.next().and_then(|s| s.parse().ok());
                match pid {
                    Some(pid) => (id.to_string(), Some(Holder { pid, start })),
                    None => continue,
                }
            } else if let Some(id) = name.strip_suffix(SUFFIX) {
                (id.to_string(), None)
            } else {
                continue;
            };
            if BlockId::parse(&id).is_err() {
                continue;
            }
            out.push(Listed {
                id,
                path: entry.path(),
                claimer,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// How a listed lease stands.
    pub(crate) fn status(&self, l: &Listed) -> Status {
        if let Some(c) = &l.claimer {
            return if c.is_alive() {
                Status::Claimed(c.pid)
            } else {
                Status::Stale(format!("its wipe (pid {}) did not finish", c.pid))
            };
        }
        let lease = match load(&l.path) {
            Ok(lease) => lease,
            Err(_) => return Status::Stale("it cannot be read".into()),
        };
        match (&lease.holder, &lease.job_process) {
            (Some(h), _) if h.is_alive() => Status::Held(h.pid),
            (Some(h), _) => Status::Stale(format!("its process (pid {}) is gone", h.pid)),
            (None, Some(job)) if !job.is_alive() => Status::Stale(format!(
                "the CI job that wrote it ({}) has ended",
                lease.job.as_deref().unwrap_or("runner process gone")
            )),
            (None, _) => Status::Parked,
        }
    }

    /// Reads a lease without claiming it (`None` if it is gone or unreadable).
    pub(crate) fn peek(&self, id: &BlockId) -> Option<Lease> {
        let listed = self
            .list()
            .ok()?
            .into_iter()
            .find(|l| l.id == id.as_str())?;
        load(&listed.path).ok()
    }

    /// Takes a lease for wiping. `Ok(None)`: someone else got it first (or it is gone).
    pub(crate) fn claim(&self, l: &Listed) -> Result<Option<Claimed>> {
        let me = Holder::current();
        let to = self.dir.join(format!(
            "{}{CLAIM}{}-{}",
            l.id,
            me.pid,
            me.start.unwrap_or(0)
        ));
        match fs::rename(&l.path, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("claiming {}", l.path.display()), e)),
        }
        match load(&to) {
            Ok(lease) => Ok(Some(Claimed { lease, path: to })),
            Err(e) => {
                // Unreadable: nothing can be done with it; keep it out of the way for a person.
                let _ = fs::rename(&to, to.with_extension("unreadable"));
                Err(e)
            }
        }
    }

    /// Saves what is left of a claimed lease and releases it (it becomes parked again).
    pub(crate) fn release(&self, mut c: Claimed) -> Result<()> {
        c.lease.holder = None;
        write_private(&c.path, &c.lease)?;
        let back = self.file(&c.lease.id);
        fs::rename(&c.path, &back)
            .map_err(|e| Error::io(format!("releasing {}", back.display()), e))
    }

    /// Rewrites a claimed lease in place (after each revocation, so revoked tokens leave the disk).
    pub(crate) fn update(&self, c: &Claimed) -> Result<()> {
        write_private(&c.path, &c.lease)
    }

    /// Erases a finished lease: zeros, then unlink.
    pub(crate) fn destroy(&self, c: Claimed) -> Result<()> {
        shred(&c.path);
        match fs::remove_file(&c.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", c.path.display()), e)),
        }
    }
}

fn load(path: &Path) -> Result<Lease> {
    let bytes = secrecy::zeroize::Zeroizing::new(
        fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?,
    );
    let lease: Lease = serde_json::from_slice(&bytes)
        .map_err(|e| Error::other(format!("lease {} is damaged: {e}", path.display())))?;
    BlockId::parse(&lease.id).map_err(Error::other)?;
    Ok(lease)
}

/// Atomic 0600 write; the copy it replaces is zeroed first (it may hold tokens).
fn write_private(path: &Path, lease: &Lease) -> Result<()> {
    let bytes = secrecy::zeroize::Zeroizing::new(
        serde_json::to_vec_pretty(lease).map_err(|e| Error::other(format!("lease: {e}")))?,
    );
    let old = crate::fsutil::trust::open_nofollow_write(path);
    crate::fsutil::write_atomic(path, &bytes, 0o600)?;
    if let Some(old) = old {
        zero_file(old);
    }
    Ok(())
}

fn shred(path: &Path) {
    if let Some(f) = crate::fsutil::trust::open_nofollow_write(path) {
        zero_file(f);
    }
}

fn zero_file(mut f: File) {
    let len = f.metadata().map_or(0, |m| m.len()) as usize;
    let _ = f.write_all(&vec![0u8; len]).and_then(|_| f.sync_all());
}
