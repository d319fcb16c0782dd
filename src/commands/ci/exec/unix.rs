//! `ci exec` on Unix: the agent socket, signal forwarding and the child's process group.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ExecArgs;
use crate::commands::ci::agent::{self, Agent, Job};
use crate::commands::ci::netrc::{planned, write_block};
use crate::commands::ci::plan::{Mode, Plan};
use crate::commands::ci::setup::{self, Issued};
use crate::commands::ci::signals::{self, Forwarder};
use crate::commands::ci::wipe::{self, Report};
use crate::error::{Error, Result};
use crate::netrc::block::BlockId;
use crate::settings::{Env, Settings};
use crate::store::lease::{new_id, Lease, LeaseDir};
use crate::store::netrc_file;

/// Hidden test hook: `panic-in-exec` makes gocred panic while CMD runs; `sleep-after-exec` makes
/// it sleep 60 s once CMD has ended, before the wipe (to show signals work again then).
const FAULT_VAR: &str = "GOCRED_TEST_FAULT";

pub(crate) fn run(
    args: ExecArgs,
    settings: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let mut forwarder = Forwarder::install()?;
    let env = &settings.env;
    let mode = match args.netrc {
        true => Mode::Netrc,
        false => Mode::Agent,
    };
    let id = match &args.lease {
        Some(l) => BlockId::parse(l).map_err(Error::Usage)?,
        None => new_id(),
    };
    let targets = match mode {
        Mode::Agent => Vec::new(),
        Mode::Netrc => netrc_file::targets(env)?,
    };
    for t in &targets {
        netrc_file::preflight(t)?;
    }
    let ld = LeaseDir::open(env)?;
    wipe::clean_stale(&ld, err);
    let plan = planned(settings, mode, err)?;
    let lease = Lease::new(&id, env);
    ld.create(&lease)?;
    let job = Job::new(lease);
    let mut guard = Guard {
        ld: &ld,
        id: id.clone(),
        job: job.clone(),
        child: None,
        armed: true,
    };
    let issued = setup::issue(settings, &plan, &ld, &mut agent::lock(&job).lease, err)?;
    setup::print_masks(env, &issued, out)?;
    let (agent_handle, extra_env) = match mode {
        Mode::Agent => {
            let (a, vars) = start_agent(settings, &plan, issued, &ld, &id, &job, err)?;
            (Some(a), vars)
        }
        Mode::Netrc => {
            let hosts: Vec<String> = issued.iter().map(|i| i.host.clone()).collect();
            write_block(&ld, &mut agent::lock(&job).lease, &issued, &targets)?;
            let files: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
            let _ = writeln!(
                err,
                "gocred: wrote {} to {} for the command; its git refuses plain http \
                 (protocol.http.allow=never)",
                hosts.join(", "),
                files.join(" and ")
            );
            let refuse_http = [("protocol.http.allow".to_string(), "never".to_string())];
            (None, agent::git_config_env(env, &refuse_http)?)
        }
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
    // CMD has ended: from here a signal to gocred has its default effect again.
    forwarder.stop();
    if env.get(FAULT_VAR) == Some("sleep-after-exec") {
        std::thread::sleep(Duration::from_secs(60));
    }
    if let Some(a) = agent_handle {
        a.stop();
    }
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

/// Starts the in-memory agent and returns it with the environment that points CMD at it.
fn start_agent(
    settings: &Settings,
    plan: &Plan,
    issued: Vec<Issued>,
    ld: &LeaseDir,
    id: &BlockId,
    job: &Arc<Mutex<Job>>,
    err: &mut dyn Write,
) -> Result<(Agent, Vec<(String, String)>)> {
    let sock = ld.socket(id);
    {
        let mut j = agent::lock(job);
        j.lease.agent = Some(sock.clone());
        ld.save(&j.lease)?;
    }
    let mut patterns: Vec<String> = issued.iter().map(|i| i.host.clone()).collect();
    patterns.extend(plan.lazy.iter().map(|r| lazy_pattern(r)));
    let a = Agent::start(&sock, settings, plan, issued, job.clone())?;
    let vars = no_file_env(&settings.env, &patterns, a.path())?;
    let _ = writeln!(
        err,
        "gocred: serving {} to the command from memory (no file)",
        patterns.join(", ")
    );
    Ok((a, vars))
}

/// `*.suffix[:port]`: the git URL pattern of a wildcard rule.
fn lazy_pattern(rule: &crate::rules::Rule) -> String {
    match &rule.host {
        crate::rules::HostPattern::OneLabel {
            suffix,
            port: Some(p),
        } if *p != 443 => format!("*.{suffix}:{p}"),
        crate::rules::HostPattern::OneLabel { suffix, .. } => format!("*.{suffix}"),
        crate::rules::HostPattern::Exact { host, .. } => host.clone(),
    }
}

/// Wipes this run's lease however `run` is left: finished normally, returned an error, or panicked.
struct Guard<'a> {
    ld: &'a LeaseDir,
    id: BlockId,
    job: Arc<Mutex<Job>>,
    child: Option<Child>,
    armed: bool,
}

impl Guard<'_> {
    fn finish(&mut self) -> Report {
        self.armed = false;
        wipe_job(self.ld, &self.id, &self.job)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop_child(child);
        }
        if self.armed {
            let report = wipe_job(self.ld, &self.id, &self.job);
            let mut err = std::io::stderr();
            wipe::say(&mut err, self.id.as_str(), &report);
            for p in report.problems {
                let _ = writeln!(err, "gocred: {p}");
            }
        }
    }
}

/// Wipes this run's lease from its file, then whatever the lease in memory holds beyond it (all
/// of it when the file had gone): every token is revoked even if the lease directory was
/// removed or moved while CMD ran.
fn wipe_job(ld: &LeaseDir, id: &BlockId, job: &Mutex<Job>) -> Report {
    let mut from_file: Option<Report> = None;
    if let Ok(list) = ld.list() {
        for l in list.into_iter().filter(|l| l.id == id.as_str()) {
            match ld.claim(&l) {
                Ok(Some(c)) => from_file = Some(wipe::wipe_claimed(ld, c)),
                Ok(None) => {}
                Err(e) => {
                    let mut r = Report::default();
                    r.problems.push(e.to_string());
                    from_file = Some(r);
                }
            }
        }
    }
    let mut j = agent::lock(job);
    j.close();
    let seen = from_file.as_ref().map(|r| r.seen.clone());
    let rest = wipe::wipe_in_memory(&mut j.lease, seen.as_deref());
    match from_file {
        None => rest,
        Some(mut r) => {
            r.revoked += rest.revoked;
            r.expiring += rest.expiring;
            r.problems.extend(rest.problems);
            r
        }
    }
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
fn no_file_env(env: &Env, patterns: &[String], sock: &Path) -> Result<Vec<(String, String)>> {
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
    let mut vars = agent::git_config_env(env, &agent::helper_config(patterns, &helper))?;
    vars.push((agent::AGENT_VAR.into(), sock.display().to_string()));
    vars.push((agent::AGENT_PID_VAR.into(), std::process::id().to_string()));
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
