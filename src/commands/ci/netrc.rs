//! `gocred ci netrc`: one `machine` entry per private host, in a managed block at the top of
//! `$HOME/.netrc` (git reads only that file) and of `$NETRC` when set (Go reads that one).
//!
//! Order matters for "nothing written, nothing leaked": every target file is checked first (the
//! refusals of `store::netrc_file`), then the lease is created, then tokens are issued (each
//! recorded in the lease as it comes), then the block is written into each file under its lock,
//! proven readable by both Go and curl before it reaches the disk. Any failure wipes what was
//! done so far. On success the lease is parked for `gocred ci wipe`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::plan::{self, Mode, Plan};
use super::setup::{self, Issued};
use super::wipe;
use crate::error::{Error, Result};
use crate::netrc::{block, Entry};

use crate::settings::Settings;
use crate::store::lease::{new_id, Lease, LeaseDir, LeaseFile};
use crate::store::netrc_file::{self, Change};

#[derive(Debug, Args)]
pub(crate) struct NetrcArgs {
    /// Name this job's lease (default: a new random id), to wipe exactly it later with
    /// `gocred ci wipe --lease ID`.
    #[arg(long)]
    pub lease: Option<String>,
}

pub(crate) fn run(
    args: NetrcArgs,
    settings: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let env = &settings.env;
    let id = match &args.lease {
        Some(l) => block::BlockId::parse(l).map_err(Error::Usage)?,
        None => new_id(),
    };
    let targets = netrc_file::targets(env)?;
    for t in &targets {
        netrc_file::preflight(t)?;
    }
    let ld = LeaseDir::open(env)?;
    wipe::clean_stale(&ld, err);
    let plan = planned(settings, Mode::Netrc, err)?;
    let mut lease = Lease::new(&id, env);
    ld.create(&lease)?;
    let result = setup::issue(settings, &plan, &ld, &mut lease, err).and_then(|issued| {
        setup::print_masks(env, &issued, out)?;
        write_block(&ld, &mut lease, &issued, &targets)?;
        Ok(issued)
    });
    match result {
        Ok(issued) => {
            lease.holder = None; // parked: waits for `ci wipe`
            ld.save(&lease)?;
            let hosts: Vec<&str> = issued.iter().map(|i| i.host.as_str()).collect();
            let files: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
            let _ = writeln!(
                err,
                "gocred: wrote {} entr{} ({}) to {} (lease {id}); run `gocred ci wipe` when the job ends",
                issued.len(),
                if issued.len() == 1 { "y" } else { "ies" },
                hosts.join(", "),
                files.join(" and ")
            );
            Ok(())
        }
        Err(e) => {
            undo(&ld, &id, err);
            Err(e)
        }
    }
}

/// The plan, its notes on stderr, and an error when it is empty.
pub(crate) fn planned<'s>(
    settings: &'s Settings,
    mode: Mode,
    err: &mut dyn Write,
) -> Result<Plan<'s>> {
    let plan = plan::plan(settings, mode);
    for n in &plan.notes {
        let _ = writeln!(err, "gocred: {n}");
    }
    if plan.hosts.is_empty() && plan.lazy.is_empty() {
        return Err(Error::with_hint(
            format!(
                "no private host to set up: no rule names a host that GOPRIVATE (`{}`) covers",
                settings.go.value("GOPRIVATE")
            ),
            "set GOPRIVATE for the job and add a rule per host (`gocred explain MODULE` shows both)",
        ));
    }
    Ok(plan)
}

/// Writes the lease's block into each target, recording each file in the lease first.
pub(crate) fn write_block(
    ld: &LeaseDir,
    lease: &mut Lease,
    issued: &[Issued],
    targets: &[PathBuf],
) -> Result<()> {
    let id = lease.block_id()?;
    let entries: Vec<Entry> = issued
        .iter()
        .map(|i| Entry {
            machine: i.host.clone(),
            login: i.username.clone(),
            password: i.token.clone(),
        })
        .collect();
    let rendered = block::render(&id, &entries).map_err(|e| Error::other(e.to_string()))?;
    for path in targets {
        netrc_file::edit(path, &mut |snap| {
            let original = snap.content.clone().unwrap_or_default();
            if block::ids(original.as_slice()).contains(&id) {
                return Ok(Change::Keep);
            }
            let new = block::insert(original.as_slice(), &rendered);
            block::check_insert(original.as_slice(), new.as_slice(), &entries).map_err(|why| {
                Error::with_hint(
                    format!("not writing {}: {why}", path.display()),
                    "fix the file so that `curl --netrc-file FILE` can read it",
                )
            })?;
            // How the file was before any gocred block: when other runs' blocks are already in
            // it, the oldest of them recorded that, so whichever wipe comes last restores it.
            let before = block::ids(original.as_slice())
                .iter()
                .rev()
                .filter_map(|other| ld.peek(other))
                .find_map(|l| l.files.into_iter().find(|f| f.path == *path));
            // In the lease before the file changes: a crash now still leaves what wipe needs.
            lease.files.retain(|f| f.path != *path);
            lease.files.push(LeaseFile {
                path: path.clone(),
                created: before
                    .as_ref()
                    .map_or(snap.content.is_none(), |b| b.created),
                mode: before.map_or(snap.mode, |b| b.mode),
            });
            ld.save(lease)?;
            Ok(Change::Write {
                content: new,
                mode: 0o600,
            })
        })?;
    }
    Ok(())
}

/// Wipes a lease this process created and could not finish.
pub(crate) fn undo(ld: &LeaseDir, id: &block::BlockId, err: &mut dyn Write) {
    let Ok(list) = ld.list() else { return };
    for l in list.into_iter().filter(|l| l.id == id.as_str()) {
        if let Ok(Some(c)) = ld.claim(&l) {
            let report = wipe::wipe_claimed(ld, c);
            for p in &report.problems {
                let _ = writeln!(err, "gocred: warning: {p}");
            }
        }
    }
}
