//! `gocred ci wipe`: removes a job's block from each netrc file, revokes every token that can be
//! revoked, checks the files no longer hold any of them, and erases the lease.
//!
//! Idempotent: a lease already wiped is simply gone. A wipe that could not revoke still removes
//! the block, keeps only the unrevoked tokens in the (parked) lease so the next wipe retries until
//! they expire, and fails naming the host and rule — never the token. Without `--lease`, every
//! parked or stale lease of this user is wiped, plus any gocred block left in this HOME's netrc
//! files whose lease is gone (its tokens cannot be revoked any more; they expire).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::netrc::{self, block};
use crate::secret::ExposeSecret;
use crate::settings::{Env, Settings};
use crate::store::lease::{self, Claimed, Lease, LeaseDir, Status};
use crate::store::netrc_file::{self, Change};

#[derive(Debug, Args)]
pub(crate) struct WipeArgs {
    /// Wipe only this lease (the id given to, or chosen by, `ci netrc --lease`).
    #[arg(long)]
    pub lease: Option<String>,
}

/// What one wipe did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub files: Vec<PathBuf>,
    pub revoked: usize,
    /// Short-lived tokens no source can revoke (oauth): they expire on their own.
    pub expiring: usize,
    pub problems: Vec<String>,
    /// The lease served from memory (`ci exec` without a file): no block was ever written.
    pub agent: bool,
    /// The lease file had gone (its directory removed or moved while the command ran): wiped
    /// from what gocred held in memory.
    pub from_memory: bool,
    /// SHA-256 of every token the wiped lease file listed (read by `ci exec`, Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub seen: Vec<String>,
}

pub(crate) fn run(args: WipeArgs, settings: &Settings, err: &mut dyn Write) -> Result<()> {
    let env = &settings.env;
    let ld = LeaseDir::open(env)?;
    let mut problems = Vec::new();
    let mut wiped = 0;
    let wanted = args
        .lease
        .as_deref()
        .map(block::BlockId::parse)
        .transpose()
        .map_err(Error::Usage)?;
    for l in ld.list()? {
        if wanted.as_ref().is_some_and(|w| w.as_str() != l.id) {
            continue;
        }
        match ld.status(&l) {
            Status::Held(pid) if wanted.is_some() => {
                return Err(Error::with_hint(
                    format!("lease {} is held by a running gocred (pid {pid})", l.id),
                    "it wipes by itself when its command ends (`gocred ci exec`)",
                ))
            }
            Status::Held(_) | Status::Claimed(_) => continue,
            Status::Parked | Status::Stale(_) => {}
        }
        let Some(claimed) = ld.claim(&l)? else {
            continue;
        };
        let report = wipe_claimed(&ld, claimed);
        say(err, &l.id, &report);
        problems.extend(report.problems);
        wiped += 1;
    }
    let orphans = remove_orphans(&ld, env, wanted.as_ref(), err);
    problems.extend(orphans.err());
    if wiped == 0 && problems.is_empty() {
        let _ = writeln!(err, "gocred: nothing to wipe");
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(Error::with_hint(
            problems.join("; "),
            "the blocks are removed; `gocred ci wipe` retries the revocation until the tokens expire",
        )),
    }
}

/// One line on stderr about a finished wipe.
pub(crate) fn say(err: &mut dyn Write, id: &str, r: &Report) {
    let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
    let what = if !files.is_empty() {
        format!("block removed from {}", files.join(", "))
    } else if r.agent {
        "served from memory, no file to clean".to_string()
    } else {
        "no block was left in any file".to_string()
    };
    let _ = writeln!(
        err,
        "gocred: wiped lease {id}: {what}; {} token(s) revoked{}{}{}",
        r.revoked,
        match r.expiring {
            0 => String::new(),
            n => format!("; {n} cannot be revoked and expire(s) on their own"),
        },
        if r.from_memory {
            "; its lease file had gone, so gocred wiped from memory"
        } else {
            ""
        },
        if r.problems.is_empty() {
            ""
        } else {
            "; with problems (below)"
        }
    );
}

/// Wipes every stale lease (its process died, or another CI job left it). Never fatal: what
/// cannot be cleaned is reported and stays for the next run.
pub(crate) fn clean_stale(ld: &LeaseDir, err: &mut dyn Write) {
    let Ok(list) = ld.list() else { return };
    for l in list {
        let Status::Stale(why) = ld.status(&l) else {
            continue;
        };
        let Ok(Some(claimed)) = ld.claim(&l) else {
            continue;
        };
        let _ = writeln!(err, "gocred: cleaning up lease {} ({why})", l.id);
        let report = wipe_claimed(ld, claimed);
        say(err, &l.id, &report);
        for p in report.problems {
            let _ = writeln!(err, "gocred: warning: {p}");
        }
    }
}

/// What a wipe works on: a claimed lease file, or (its file gone) the lease in memory.
trait Wiping {
    fn lease(&mut self) -> &mut Lease;
    /// Records progress (a token revoked), so a wipe cut short does not revoke twice.
    fn persist(&self);
}

impl Wiping for (&LeaseDir, Claimed) {
    fn lease(&mut self) -> &mut Lease {
        &mut self.1.lease
    }
    fn persist(&self) {
        let _ = self.0.update(&self.1);
    }
}

impl Wiping for &mut Lease {
    fn lease(&mut self) -> &mut Lease {
        self
    }
    fn persist(&self) {}
}

/// Wipes one claimed lease: blocks, verification, revocation, then the lease itself.
pub(crate) fn wipe_claimed(ld: &LeaseDir, c: Claimed) -> Report {
    let mut report = Report {
        seen: c.lease.tokens.iter().map(|t| t.sha256.clone()).collect(),
        ..Report::default()
    };
    let mut w = (ld, c);
    if !wipe_core(&mut w, &mut report, |_| true) {
        return report;
    }
    let (_, c) = w;
    let pending = c.lease.tokens.iter().any(|t| t.token.is_some()) || !c.lease.files.is_empty();
    let done = if pending {
        ld.release(c)
    } else {
        ld.destroy(c)
    };
    if let Err(e) = done {
        report.problems.push(e.to_string());
    }
    report
}

/// Wipes what `lease` (held in memory) holds beyond what a wipe of its lease file already saw
/// (`seen`, the hashes that file listed); everything when the file had gone (`None`).
#[cfg(unix)]
pub(crate) fn wipe_in_memory(lease: &mut Lease, seen: Option<&[String]>) -> Report {
    let mut report = Report {
        from_memory: seen.is_none(),
        ..Report::default()
    };
    if seen.is_some() {
        lease.files.clear(); // the lease file listed them; that wipe handled them
        lease.agent = None;
    }
    let seen = seen.unwrap_or(&[]);
    let mut w = lease;
    wipe_core(&mut w, &mut report, |t| !seen.contains(&t.sha256));
    report
}

/// Blocks, verification and revocation (of the tokens `wanted` picks). `false`: the lease is
/// unusable and nothing was done.
fn wipe_core(
    w: &mut impl Wiping,
    report: &mut Report,
    wanted: impl Fn(&lease::LeaseToken) -> bool,
) -> bool {
    let id = match w.lease().block_id() {
        Ok(id) => id,
        Err(e) => {
            report.problems.push(e.to_string());
            return false;
        }
    };
    let files = std::mem::take(&mut w.lease().files);
    for f in files {
        match remove_block(&f, &id, w.lease()) {
            Ok(changed) => {
                if changed {
                    report.files.push(f.path.clone());
                }
                if let Err(e) = check_gone(&f.path, w.lease()) {
                    report.problems.push(e.to_string());
                }
            }
            Err(e) => {
                report.problems.push(format!(
                    "could not remove the block from {}: {e}",
                    f.path.display()
                ));
                w.lease().files.push(f);
            }
        }
    }
    if let Some(sock) = w.lease().agent.take() {
        report.agent = true;
        // Only a socket: whatever else now sits at that path is not ours to remove.
        if std::fs::symlink_metadata(&sock)
            .is_ok_and(|m| crate::fsutil::trust::is_socket(&m.file_type()))
        {
            let _ = std::fs::remove_file(sock);
        }
    }
    let now = lease::now();
    report.expiring += w
        .lease()
        .tokens
        .iter()
        .filter(|t| wanted(t))
        .filter(|t| t.revoke.is_none() && t.token.is_none())
        .filter(|t| t.expires_at.is_some_and(|e| e > now))
        .count();
    for i in 0..w.lease().tokens.len() {
        let t = &w.lease().tokens[i];
        if !wanted(t) {
            continue;
        }
        let (Some(how), Some(token)) = (&t.revoke, &t.token) else {
            continue;
        };
        match how.revoke(token) {
            Ok(_) => report.revoked += 1,
            Err(_) if t.expires_at.is_some_and(|e| e <= now) => {} // expired: nothing to revoke
            Err(why) => {
                report.problems.push(format!(
                    "could not revoke the token for {} (rule `{}`, {}): {why}",
                    t.host,
                    t.rule,
                    how.describe()
                ));
                continue;
            }
        }
        // The description stays (no secret): it marks the token as revoked, not unrevocable.
        w.lease().tokens[i].token = None;
        w.persist();
    }
    true
}

/// Removes the block from one file and checks no token of the lease is left in it.
fn remove_block(f: &lease::LeaseFile, id: &block::BlockId, l: &Lease) -> Result<bool> {
    let is_ours = |tok: &[u8]| l.holds_hash(tok);
    if std::fs::symlink_metadata(&f.path).is_err() {
        return Ok(false); // the file is gone: nothing of ours can be in it
    }
    let edited = netrc_file::edit(&f.path, &mut |snap| {
        let Some(content) = &snap.content else {
            return Ok(Change::Keep);
        };
        match block::remove(content.as_slice(), id, &is_ours) {
            block::Removal::NotFound => Ok(Change::Keep),
            block::Removal::Removed { content, .. } => {
                let last = block::ids(content.as_slice()).is_empty();
                if last && f.created && content.is_empty() {
                    return Ok(Change::Delete);
                }
                let mode = if last { f.mode.unwrap_or(0o600) } else { 0o600 };
                Ok(Change::Write { content, mode })
            }
        }
    })?;
    Ok(edited.changed)
}

/// Checks that no token of the lease is left in the file outside gocred's blocks (other
/// concurrent runs may hold the same token from an `env` source in their own blocks).
fn check_gone(path: &std::path::Path, l: &Lease) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if let Some(mut content) = netrc_file::read(path)? {
        for other in block::ids(content.as_slice()) {
            if let block::Removal::Removed { content: rest, .. } =
                block::remove(content.as_slice(), &other, &|_| false)
            {
                content = rest;
            }
        }
        let left = netrc::all_words(content.as_slice())
            .iter()
            .any(|w| l.holds_hash(w))
            || l.tokens.iter().filter_map(|t| t.token.as_ref()).any(|t| {
                let t = t.expose_secret().as_bytes();
                content.as_slice().windows(t.len()).any(|w| w == t)
            });
        if left {
            return Err(Error::with_hint(
                format!(
                    "{} still holds a token gocred wrote, outside any gocred block",
                    path.display()
                ),
                "remove that line by hand",
            ));
        }
    }
    Ok(())
}

/// Removes gocred blocks whose lease no longer exists from this HOME's netrc files.
fn remove_orphans(
    ld: &LeaseDir,
    env: &Env,
    only: Option<&block::BlockId>,
    err: &mut dyn Write,
) -> std::result::Result<(), String> {
    let Ok(targets) = netrc_file::targets(env) else {
        return Ok(());
    };
    for path in targets {
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let mut removed = Vec::new();
        let r = netrc_file::edit(&path, &mut |snap| {
            let Some(content) = &snap.content else {
                return Ok(Change::Keep);
            };
            // Listed under the file's lock: a run writes its lease before its block, so a block
            // whose lease is missing now is really orphaned.
            let known: Vec<String> = ld.list()?.into_iter().map(|l| l.id).collect();
            let mut cur = content.clone();
            removed.clear();
            for id in block::ids(content.as_slice()) {
                if known.contains(&id.as_str().to_string()) || only.is_some_and(|o| *o != id) {
                    continue;
                }
                if let block::Removal::Removed { content, .. } =
                    block::remove(cur.as_slice(), &id, &|_| false)
                {
                    cur = content;
                    removed.push(id);
                }
            }
            Ok(match removed.is_empty() {
                true => Change::Keep,
                false => Change::Write {
                    content: cur,
                    mode: 0o600,
                },
            })
        });
        if let Err(e) = r {
            return Err(format!(
                "could not check {} for leftover blocks: {e}",
                path.display()
            ));
        }
        for id in removed {
            let _ = writeln!(
                err,
                "gocred: removed block {id} from {}: its lease is gone, so its tokens could not be \
                 revoked (they expire on their own)",
                path.display()
            );
        }
    }
    Ok(())
}
