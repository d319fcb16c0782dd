//! `gocred ci exec [--no-file] -- CMD…`: set up, run CMD, wipe — on every way out.
//!
//! Normal exit, CMD killed, SIGINT/SIGTERM/SIGHUP to gocred (forwarded to CMD, which decides
//! when to stop), an error during setup, a panic in gocred: each ends in the same wipe, run by a
//! guard's `Drop` when nothing else got to it. CMD's exit status is passed through (128+N when a
//! signal killed it). Only SIGKILL escapes; its lease is stale by pid, and the next
//! `ci netrc|wipe|exec` cleans it up.
//!
//! With `--no-file` nothing is written: the tokens stay in this process and reach git through
//! `gocred ci helper` (see `agent`), configured for CMD through `GIT_CONFIG_*`, and Go gets
//! `GOAUTH='<gocred> goauth'` ahead of what it had.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use clap::Args;

use super::agent::{self, Agent};
use super::netrc::{planned, write_block};
use super::setup::{self, Issued};
use super::signals::{self, Forwarder};
use super::wipe::{self, Report};
use crate::error::{Error, Result};
use crate::netrc::block::BlockId;
use crate::settings::{Env, Settings};
use crate::store::lease::{new_id, Lease, LeaseDir};
use crate::store::netrc_file;

/// Hidden test hook: `panic-in-exec` makes gocred panic while CMD runs.
const FAULT_VAR: &str = "GOCRED_TEST_FAULT";

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Write no file: CMD gets git's helper configuration through GIT_CONFIG_COUNT/KEY_n/VALUE_n
    /// and Go's through GOAUTH; the tokens never leave gocred's memory.
    #[arg(long)]
    pub no_file: bool,
    /// Name this run's lease (default: a new random id).
    #[arg(long)]
    pub lease: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(
    args: ExecArgs,
    settings: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let mut forwarder = Forwarder::install()?;
    let env = &settings.env;
    let id = match &args.lease {
        Some(l) => BlockId::parse(l).map_err(Error::Usage)?,
        None => new_id(),
    };
    let targets = match args.no_file {
        true => Vec::new(),
        false => netrc_file::targets(env)?,
    };
    for t in &targets {
        netrc_file::preflight(t)?;
    }
    let ld = LeaseDir::open(env)?;
    wipe::clean_stale(&ld, err);
    let plan = planned(settings, err)?;
    let mut lease = Lease::new(&id, env);
    ld.create(&lease)?;
    let mut guard = Guard {
        ld: &ld,
        id: id.clone(),
        child: None,
        armed: true,
    };
    let issued = setup::issue(settings, &plan, &ld, &mut lease, err)?;
    setup::print_masks(env, &issued, out)?;
    let hosts: Vec<String> = issued.iter().map(|i| i.host.clone()).collect();
    let (agent_handle, extra_env) = if args.no_file {
        let sock = ld.socket(&id);
        lease.agent = Some(sock.clone());
        ld.save(&lease)?;
        let a = Agent::start(&sock, &issued)?;
        let vars = no_file_env(env, &issued, a.path())?;
        let _ = writeln!(
            err,
            "gocred: serving {} to the command through git's helper configuration (no file)",
            hosts.join(", ")
        );
        (Some(a), vars)
    } else {
        write_block(&ld, &mut lease, &issued, &targets)?;
        let files: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
        let _ = writeln!(
            err,
            "gocred: wrote {} to {} for the command",
            hosts.join(", "),
            files.join(" and ")
        );
        (None, Vec::new())
    };
    let _ = out.flush();
    if let Some(sig) = forwarder.received() {
        let _ = writeln!(
            err,
            "gocred: got signal {sig} during setup; not starting the command"
        );
        return Err(Error::ChildStatus((128 + sig) as u8));
    }
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]).envs(extra_env);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                err,
                "gocred: cannot run {}: {e}",
                Path::new(&args.command[0]).display()
            );
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Err(Error::ChildStatus(code));
        }
    };
    forwarder.forward_to(child.id());
    guard.child = Some(child);
    if env.get(FAULT_VAR) == Some("panic-in-exec") {
        panic!("injected panic ({FAULT_VAR}=panic-in-exec)");
    }
    let status = guard.child.as_mut().map(Child::wait).expect("child is set");
    guard.child = None;
    forwarder.stop();
    drop(agent_handle);
    let report = guard.finish();
    wipe::say(err, id.as_str(), &report);
    let code = match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(e) => {
            let _ = writeln!(err, "gocred: waiting for the command: {e}");
            1
        }
    };
    if !report.problems.is_empty() {
        for p in &report.problems {
            let _ = writeln!(err, "gocred: {p}");
        }
        if code == 0 {
            return Err(Error::with_hint(
                "the command succeeded, but the wipe did not finish",
                "run `gocred ci wipe`; it retries the revocation until the tokens expire",
            ));
        }
    }
    match code {
        0 => Ok(()),
        c => Err(Error::ChildStatus(c.clamp(1, 255) as u8)),
    }
}

/// Wipes this run's lease however `run` is left: finished normally, returned an error, or panicked.
struct Guard<'a> {
    ld: &'a LeaseDir,
    id: BlockId,
    child: Option<Child>,
    armed: bool,
}

impl Guard<'_> {
    fn finish(&mut self) -> Report {
        self.armed = false;
        wipe_own(self.ld, &self.id)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop_child(child);
        }
        if self.armed {
            let report = wipe_own(self.ld, &self.id);
            let mut err = std::io::stderr();
            wipe::say(&mut err, self.id.as_str(), &report);
            for p in report.problems {
                let _ = writeln!(err, "gocred: {p}");
            }
        }
    }
}

fn wipe_own(ld: &LeaseDir, id: &BlockId) -> Report {
    let mut report = Report::default();
    match ld.list() {
        Ok(list) => {
            for l in list.into_iter().filter(|l| l.id == id.as_str()) {
                match ld.claim(&l) {
                    Ok(Some(c)) => report = wipe::wipe_claimed(ld, c),
                    Ok(None) => {}
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    report
}

/// SIGTERM, up to 10 s to finish, then SIGKILL.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signals::send(child.id() as i32, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The environment that points git and Go at gocred instead of a file.
fn no_file_env(env: &Env, issued: &[Issued], sock: &Path) -> Result<Vec<(String, String)>> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding gocred's own path", e))?;
    let exe = exe.to_str().ok_or_else(|| {
        Error::other("gocred's own path is not UTF-8; git cannot be pointed at it")
    })?;
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
    };
    // git runs an absolute path verbatim through the shell; anything unusual goes through `!`.
    let helper = match plain(exe) {
        true => format!("{exe} ci helper"),
        false => format!("!'{}' ci helper", exe.replace('\'', "'\\''")),
    };
    let hosts: Vec<String> = issued.iter().map(|i| i.host.clone()).collect();
    let mut vars = agent::git_config_env(env, &hosts, &helper)?;
    vars.push((agent::AGENT_VAR.into(), sock.display().to_string()));
    // Go splits GOAUTH with quote support but no escapes.
    let ours = if !exe.contains(char::is_whitespace) {
        format!("{exe} goauth")
    } else if !exe.contains('\'') {
        format!("'{exe}' goauth")
    } else {
        return Err(Error::other(
            "gocred's path holds spaces and quotes; Go cannot run it from GOAUTH",
        ));
    };
    let existing = env.get("GOAUTH").map(str::to_string).or_else(|| {
        crate::settings::go_env_file(env)
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| crate::settings::parse_go_env(&t).remove("GOAUTH"))
            .filter(|v| !v.is_empty())
    });
    let goauth = match existing.as_deref() {
        None => format!("{ours};netrc"),
        Some("off") => ours,
        Some(e) => format!("{ours};{e}"),
    };
    vars.push(("GOAUTH".into(), goauth));
    Ok(vars)
}
