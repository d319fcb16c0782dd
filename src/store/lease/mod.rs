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
//! it was parked by a CI job whose runner process has ended — the GitHub Actions
//! `Runner.Worker` that ran the job; a job id alone would not do, since several runners may
//! share one user and one lease directory at the same time). The next `ci netrc|wipe|exec`
//! cleans stale leases up. A wiper
//! *claims* a lease by renaming its file to `<id>.lease.claim-<pid>-<start>`: rename is atomic,
//! so two wipers never work on one lease, and a wiper that dies leaves a claim that is stale too.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::netrc::block::BlockId;
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::store::revocation::Revocation;

mod dir;
mod process;

pub(crate) use dir::{Claimed, LeaseDir, Status};

const SUFFIX: &str = ".lease";
const CLAIM: &str = ".lease.claim-";

/// The process a lease belongs to while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub pid: u32,
    /// Process start time (Linux: clock ticks since boot), so a reused pid is not mistaken.
    pub start: Option<u64>,
}

impl Holder {
    pub(crate) fn current() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: process::start_time(pid),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        process::alive(self.pid, self.start)
    }

    /// The nearest ancestor that is a CI runner's per-job process (Linux only).
    pub(crate) fn job_process() -> Option<Holder> {
        let pid = process::ancestor_named(std::process::id(), &["Runner.Worker"])?;
        Some(Holder {
            pid,
            start: process::start_time(pid),
        })
    }
}

/// One file a lease wrote its block into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseFile {
    pub path: PathBuf,
    /// The file did not exist before: remove it if only our block was in it.
    pub created: bool,
    /// Its permission bits before (restored once no gocred block is left).
    pub mode: Option<u32>,
}

/// One token handed out.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LeaseToken {
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
pub(crate) struct Lease {
    pub version: u32,
    pub id: BlockIdString,
    pub created_at: u64,
    pub holder: Option<Holder>,
    /// The CI job that made it (`github:<run>-<attempt>-<job>`, `gitlab:<job id>`), for people.
    pub job: Option<String>,
    /// The CI runner's per-job process (GitHub's `Runner.Worker`) among our ancestors: once it
    /// is gone, a parked lease is stale.
    #[serde(default)]
    pub job_process: Option<Holder>,
    pub files: Vec<LeaseFile>,
    /// `ci exec --no-file`: the socket that served the tokens.
    pub agent: Option<PathBuf>,
    pub tokens: Vec<LeaseToken>,
}

/// A block id as stored (validated on load).
pub(crate) type BlockIdString = String;

impl Lease {
    pub(crate) fn new(id: &BlockId, env: &Env) -> Lease {
        Lease {
            version: 1,
            id: id.as_str().to_string(),
            created_at: now(),
            holder: Some(Holder::current()),
            job: job_id(env),
            job_process: Holder::job_process(),
            files: Vec::new(),
            agent: None,
            tokens: Vec::new(),
        }
    }

    pub(crate) fn block_id(&self) -> Result<BlockId> {
        BlockId::parse(&self.id).map_err(Error::other)
    }

    /// Whether `token` is one this lease handed out.
    pub(crate) fn holds_hash(&self, token: &[u8]) -> bool {
        let h = sha256_hex(token);
        self.tokens.iter().any(|t| t.sha256 == h)
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Unix seconds now.
pub(crate) use crate::state::now_secs as now;

/// This CI job, when the CI says.
pub(crate) fn job_id(env: &Env) -> Option<String> {
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
pub(crate) fn new_id() -> BlockId {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}-{nanos}-{:p}", std::process::id(), &nanos);
    BlockId::parse(&sha256_hex(seed.as_bytes())[..16]).expect("hex is a valid id")
}

mod opt_secret {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<SecretString>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(t.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(secret))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

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
        assert_eq!(ld.status(&listed[0]), Status::Held(std::process::id()));
        let c = ld.claim(&listed[0]).unwrap().unwrap();
        assert!(ld.claim(&listed[0]).unwrap().is_none(), "claimed once");
        assert!(c.lease.holds_hash(b"tok"));
        assert_eq!(
            c.lease.tokens[0].token.as_ref().unwrap().expose_secret(),
            "tok"
        );
        ld.release(c).unwrap();
        let listed = ld.list().unwrap();
        assert_eq!(ld.status(&listed[0]), Status::Parked);
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
    fn dead_holders_and_ended_jobs_are_stale() {
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
        assert!(matches!(ld.status(l), Status::Stale(_)));

        // Parked by a job whose runner process still runs (here: us), or whose runner is
        // unknown: left alone. Parked by a job whose runner process has ended: stale.
        for (job_process, stale) in [
            (Some(Holder::current()), false),
            (None, false),
            (
                Some(Holder {
                    pid: u32::MAX - 2,
                    start: None,
                }),
                true,
            ),
        ] {
            let mut parked = Lease::new(&new_id(), &env);
            parked.holder = None;
            parked.job_process = job_process;
            ld.create(&parked).unwrap();
            let l = ld
                .list()
                .unwrap()
                .into_iter()
                .find(|l| l.id == parked.id)
                .unwrap();
            assert_eq!(matches!(ld.status(&l), Status::Stale(_)), stale);
            assert_eq!(ld.status(&l) == Status::Parked, !stale);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_runner_process_is_found_among_ancestors() {
        // The test binary is not run by a CI runner here.
        assert_eq!(Holder::job_process(), None);
        let me = std::process::id();
        assert_eq!(process::ancestor_named(me, &["no-such-process"]), None);
        let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
        assert_eq!(process::ancestor_named(me, &[comm.trim()]), Some(me));
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
