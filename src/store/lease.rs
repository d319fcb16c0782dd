//! Leases: what `gocred ci wipe` needs to undo one `ci netrc` / `ci exec`, kept private.
//!
//! A lease names the files that hold its block, the hosts and rules it served, a SHA-256 of each
//! token (to check a file no longer holds it) and, only for tokens that can be revoked, the token
//! itself and how to revoke it, until it is revoked. It is a 0600 JSON file in a 0700 directory
//! outside the workspace (`$XDG_RUNTIME_DIR/gocred/ci`, else the cache dir), written atomically;
//! superseded and finished copies are overwritten with zeros before they are let go.
//!
//! States: *held* (its `holder` process runs: a `ci exec`, or a `ci netrc` still writing),
//! *parked* (`ci netrc` finished; waits for `ci wipe`), *stale* (its holder died, e.g. SIGKILL, or
//! it was parked by another CI job). The next `ci netrc|wipe|exec` cleans stale leases up. A wiper
//! *claims* a lease by renaming its file to `<id>.lease.claim-<pid>-<start>`: rename is atomic,
//! so two wipers never work on one lease, and a wiper that dies leaves a claim that is stale too.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::netrc::block::BlockId;
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::settings::Env;
use crate::sources::revoke::Revocation;

const SUFFIX: &str = ".lease";
const CLAIM: &str = ".lease.claim-";

/// The process a lease belongs to while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// Process start time (Linux: clock ticks since boot), so a reused pid is not mistaken.
    pub start: Option<u64>,
}

impl Holder {
    pub fn current() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: process::start_time(pid),
        }
    }

    pub fn is_alive(&self) -> bool {
        process::alive(self.pid, self.start)
    }
}

/// One file a lease wrote its block into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseFile {
    pub path: PathBuf,
    /// The file did not exist before: remove it if only our block was in it.
    pub created: bool,
    /// Its permission bits before (restored once no gocred block is left).
    pub mode: Option<u32>,
}

/// One token handed out.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeaseToken {
    pub host: String,
    pub rule: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub expires_at: Option<u64>,
    pub revoke: Option<Revocation>,
    /// Only while `revoke` is pending.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretString>,
}

/// Everything a wipe needs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Lease {
    pub version: u32,
    pub id: BlockIdString,
    pub created_at: u64,
    pub holder: Option<Holder>,
    /// The CI job that made it (`github:<run>-<attempt>-<job>`, `gitlab:<job id>`).
    pub job: Option<String>,
    pub files: Vec<LeaseFile>,
    /// `ci exec --no-file`: the socket that served the tokens.
    pub agent: Option<PathBuf>,
    pub tokens: Vec<LeaseToken>,
}

/// A block id as stored (validated on load).
pub type BlockIdString = String;

impl Lease {
    pub fn new(id: &BlockId, env: &Env) -> Lease {
        Lease {
            version: 1,
            id: id.as_str().to_string(),
            created_at: now(),
            holder: Some(Holder::current()),
            job: job_id(env),
            files: Vec::new(),
            agent: None,
            tokens: Vec::new(),
        }
    }

    pub fn block_id(&self) -> Result<BlockId> {
        BlockId::parse(&self.id).map_err(Error::other)
    }

    /// Whether `token` is one this lease handed out.
    pub fn holds_hash(&self, token: &[u8]) -> bool {
        let h = sha256_hex(token);
        self.tokens.iter().any(|t| t.sha256 == h)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This CI job, when the CI says.
pub fn job_id(env: &Env) -> Option<String> {
    if env.get("GITHUB_ACTIONS") == Some("true") {
        let run = env.get("GITHUB_RUN_ID")?;
        return Some(format!(
            "github:{run}-{}-{}",
            env.get("GITHUB_RUN_ATTEMPT").unwrap_or("1"),
            env.get("GITHUB_JOB").unwrap_or("")
        ));
    }
    if env.get("GITLAB_CI") == Some("true") {
        return Some(format!("gitlab:{}", env.get("CI_JOB_ID")?));
    }
    None
}

/// A fresh lease id: not secret, only unique.
pub fn new_id() -> BlockId {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}-{nanos}-{:p}", std::process::id(), &nanos);
    BlockId::parse(&sha256_hex(seed.as_bytes())[..16]).expect("hex is a valid id")
}

mod opt_secret {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        v: &Option<SecretString>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(t.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(secret))
    }
}

/// How a listed lease stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Held(u32),
    Parked,
    Stale(String),
    /// Being wiped by a live process.
    Claimed(u32),
}

/// A lease file found in the directory.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub path: PathBuf,
    /// Set for a claim file: the claimer.
    claimer: Option<Holder>,
}

/// A lease this process has claimed for wiping.
pub struct Claimed {
    pub lease: Lease,
    path: PathBuf,
}

/// The lease directory.
pub struct LeaseDir {
    dir: PathBuf,
}

impl LeaseDir {
    /// `$XDG_RUNTIME_DIR/gocred/ci`, else `<cache dir>/gocred/ci`; created 0700, checked to be
    /// ours, private, and outside the CI workspace (which may be uploaded or cached).
    pub fn open(env: &Env) -> Result<LeaseDir> {
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
        crate::fsutil::create_private_dir(&dir)?;
        process::check_private_dir(&dir)?;
        Ok(LeaseDir { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    /// The agent socket path for a lease.
    pub fn socket(&self, id: &BlockId) -> PathBuf {
        self.dir.join(format!("{id}.sock"))
    }

    /// Writes a new lease; refuses an id that is already in use.
    pub fn create(&self, lease: &Lease) -> Result<()> {
        if self.list()?.iter().any(|l| l.id == lease.id) {
            return Err(Error::Usage(format!(
                "lease `{}` already exists; wipe it first (`gocred ci wipe --lease {}`) or pick another id",
                lease.id, lease.id
            )));
        }
        write_private(&self.file(&lease.id), lease)
    }

    /// Rewrites a lease this process holds.
    pub fn save(&self, lease: &Lease) -> Result<()> {
        write_private(&self.file(&lease.id), lease)
    }

    pub fn list(&self) -> Result<Vec<Listed>> {
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

    /// How a listed lease stands, seen from `env`'s CI job.
    pub fn status(&self, l: &Listed, env: &Env) -> Status {
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
        match (&lease.holder, &lease.job, job_id(env)) {
            (Some(h), _, _) if h.is_alive() => Status::Held(h.pid),
            (Some(h), _, _) => Status::Stale(format!("its process (pid {}) is gone", h.pid)),
            (None, Some(theirs), Some(ours)) if *theirs != ours => {
                Status::Stale(format!("it was left by another CI job ({theirs})"))
            }
            (None, _, _) => Status::Parked,
        }
    }

    /// Reads a lease without claiming it (`None` if it is gone or unreadable).
    pub fn peek(&self, id: &BlockId) -> Option<Lease> {
        let listed = self
            .list()
            .ok()?
            .into_iter()
            .find(|l| l.id == id.as_str())?;
        load(&listed.path).ok()
    }

    /// Takes a lease for wiping. `Ok(None)`: someone else got it first (or it is gone).
    pub fn claim(&self, l: &Listed) -> Result<Option<Claimed>> {
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
    pub fn release(&self, mut c: Claimed) -> Result<()> {
        c.lease.holder = None;
        write_private(&c.path, &c.lease)?;
        let back = self.file(&c.lease.id);
        fs::rename(&c.path, &back)
            .map_err(|e| Error::io(format!("releasing {}", back.display()), e))
    }

    /// Rewrites a claimed lease in place (after each revocation, so revoked tokens leave the disk).
    pub fn update(&self, c: &Claimed) -> Result<()> {
        write_private(&c.path, &c.lease)
    }

    /// Erases a finished lease: zeros, then unlink.
    pub fn destroy(&self, c: Claimed) -> Result<()> {
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
    let old = process::open_nofollow_write(path);
    crate::fsutil::write_atomic(path, &bytes, 0o600)?;
    if let Some(old) = old {
        zero_file(old);
    }
    Ok(())
}

fn shred(path: &Path) {
    if let Some(f) = process::open_nofollow_write(path) {
        zero_file(f);
    }
}

fn zero_file(mut f: File) {
    let len = f.metadata().map_or(0, |m| m.len()) as usize;
    let _ = f.write_all(&vec![0u8; len]).and_then(|_| f.sync_all());
}

#[cfg(unix)]
mod process {
    use super::*;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

    /// Linux `/proc/<pid>/stat` field 22; `None` elsewhere.
    pub fn start_time(pid: u32) -> Option<u64> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(19)?.parse().ok()
    }

    /// Alive and not a zombie, and (when known) the same process that started at `start`.
    pub fn alive(pid: u32, start: Option<u64>) -> bool {
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

    pub fn check_private_dir(dir: &Path) -> Result<()> {
        let md = fs::symlink_metadata(dir)
            .map_err(|e| Error::io(format!("checking {}", dir.display()), e))?;
        if !md.is_dir() || md.uid() != crate::fsutil::euid() {
            return Err(Error::with_hint(
                format!(
                    "{} is not a directory of yours; refusing to keep CI leases there",
                    dir.display()
                ),
                "remove it, or set XDG_RUNTIME_DIR to a private directory",
            ));
        }
        if md.mode() & 0o077 != 0 {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("making {} private", dir.display()), e))?;
        }
        Ok(())
    }

    pub fn open_nofollow_write(path: &Path) -> Option<File> {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
    }
}

#[cfg(not(unix))]
mod process {
    use super::*;

    pub fn start_time(_pid: u32) -> Option<u64> {
        None
    }

    /// Without a portable liveness check, a lease is never declared stale by pid.
    pub fn alive(pid: u32, _start: Option<u64>) -> bool {
        pid != 0
    }

    pub fn check_private_dir(_dir: &Path) -> Result<()> {
        Ok(())
    }

    pub fn open_nofollow_write(path: &Path) -> Option<File> {
        OpenOptions::new().write(true).open(path).ok()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn env(dir: &Path) -> Env {
        Env::from_pairs([("XDG_RUNTIME_DIR", dir.to_str().unwrap())])
    }

    #[test]
    fn roundtrip_claim_release_destroy() {
        let d = tempfile::tempdir().unwrap();
        let env = env(d.path());
        let ld = LeaseDir::open(&env).unwrap();
        let id = new_id();
        let mut lease = Lease::new(&id, &env);
        lease.tokens.push(LeaseToken {
            host: "h".into(),
            rule: "h".into(),
            sha256: sha256_hex(b"tok"),
            expires_at: None,
            revoke: Some(Revocation::GithubInstallationToken {
                api_url: "https://api.github.com".into(),
            }),
            token: Some(secret("tok".into())),
        });
        ld.create(&lease).unwrap();
        assert!(ld.create(&lease).is_err(), "ids are unique");
        let listed = ld.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            ld.status(&listed[0], &env),
            Status::Held(std::process::id())
        );
        let c = ld.claim(&listed[0]).unwrap().unwrap();
        assert!(ld.claim(&listed[0]).unwrap().is_none(), "claimed once");
        assert!(c.lease.holds_hash(b"tok"));
        assert_eq!(
            c.lease.tokens[0].token.as_ref().unwrap().expose_secret(),
            "tok"
        );
        ld.release(c).unwrap();
        let listed = ld.list().unwrap();
        assert_eq!(ld.status(&listed[0], &env), Status::Parked);
        let c = ld.claim(&listed[0]).unwrap().unwrap();
        ld.destroy(c).unwrap();
        assert!(ld.list().unwrap().is_empty());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(ld.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn dead_holders_and_other_jobs_are_stale() {
        let d = tempfile::tempdir().unwrap();
        let env = env(d.path());
        let ld = LeaseDir::open(&env).unwrap();
        let mut lease = Lease::new(&new_id(), &env);
        lease.holder = Some(Holder {
            pid: u32::MAX - 1,
            start: None,
        });
        ld.create(&lease).unwrap();
        let l = &ld.list().unwrap()[0];
        assert!(matches!(ld.status(l, &env), Status::Stale(_)));

        let job_env = |run: &str| {
            Env::from_pairs([
                ("XDG_RUNTIME_DIR", d.path().to_str().unwrap()),
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_RUN_ID", run),
            ])
        };
        let mut parked = Lease::new(&new_id(), &job_env("1"));
        parked.holder = None;
        ld.create(&parked).unwrap();
        let l = ld
            .list()
            .unwrap()
            .into_iter()
            .find(|l| l.id == parked.id)
            .unwrap();
        assert_eq!(ld.status(&l, &job_env("1")), Status::Parked);
        assert!(matches!(ld.status(&l, &job_env("2")), Status::Stale(_)));
    }

    #[test]
    fn workspace_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([
            ("XDG_RUNTIME_DIR", d.path().join("ws/run").to_str().unwrap()),
            ("GITHUB_WORKSPACE", d.path().join("ws").to_str().unwrap()),
        ]);
        fs::create_dir_all(d.path().join("ws/run")).unwrap();
        let e = LeaseDir::open(&env).err().unwrap().to_string();
        assert!(e.contains("GITHUB_WORKSPACE"), "{e}");
    }
}
