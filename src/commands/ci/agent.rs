//! `ci exec --no-file`: the job's tokens stay in gocred's memory and reach git through a helper.
//!
//! `gocred ci exec --no-file` serves the credentials it issued on a Unix socket in its private
//! lease directory (0700, so only this user can connect), and gives the command git configuration
//! (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`, command scope, nothing on disk) that makes
//! `gocred ci helper` git's only helper for each host. The helper reads git's request with the
//! normal validating codec, asks the socket for that exact origin and answers git. Tokens are
//! minted once per job (not per `get`) and revoked when the command ends.
//!
//! Socket protocol, one exchange per connection: `get <host>\n` → `ok\n<user>\n<token>\n<expiry|0>\n`
//! or `none\n`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Args;

use super::setup::Issued;
use crate::error::{Error, Result};
use crate::protocol::{read_request, write_response, Response, Scheme};
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::settings::Env;

/// The variable that tells `gocred ci helper` where the agent listens.
pub const AGENT_VAR: &str = "GOCRED_CI_AGENT";

struct Served {
    host: String,
    username: String,
    token: SecretString,
    expires_at: Option<u64>,
}

/// The serving side, owned by `ci exec`.
pub struct Agent {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    pub fn start(path: &Path, issued: &[Issued]) -> Result<Agent> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .map_err(|e| Error::io(format!("listening on {}", path.display()), e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let served: Vec<Served> = issued
            .iter()
            .map(|i| Served {
                host: i.host.clone(),
                username: i.username.clone(),
                token: secret(i.token.expose_secret().to_string()),
                expires_at: i.expires_at,
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = answer(conn, &served);
                }
            }
        });
        Ok(Agent {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn answer(conn: UnixStream, served: &[Served]) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&conn).take(1024)).read_line(&mut line)?;
    let host = line.strip_prefix("get ").map(|h| h.trim_end_matches('\n'));
    let mut w = &conn;
    match host.and_then(|h| served.iter().find(|s| s.host == h)) {
        Some(s) => {
            let msg = secrecy::zeroize::Zeroizing::new(format!(
                "ok\n{}\n{}\n{}\n",
                s.username,
                s.token.expose_secret(),
                s.expires_at.unwrap_or(0)
            ));
            w.write_all(msg.as_bytes())
        }
        None => w.write_all(b"none\n"),
    }
}

#[derive(Debug, Args)]
pub struct HelperArgs {
    /// git's operation: get, store or erase.
    pub operation: String,
}

/// `gocred ci helper <op>`: git's helper inside `ci exec --no-file`. Prints nothing unless the
/// agent answered for exactly the host git asked about.
pub fn helper(
    args: HelperArgs,
    input: impl BufRead,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let req = read_request(input)?;
    if args.operation != "get" || req.origin.scheme != Scheme::Https {
        return Ok(());
    }
    let Some(sock) = env.get(AGENT_VAR) else {
        let _ = writeln!(
            err,
            "gocred: ci helper runs only inside `gocred ci exec --no-file`"
        );
        return Ok(());
    };
    let ask = || ask_agent(sock, &req.origin.authority());
    match ask() {
        Ok(Some((username, password, password_expiry_utc))) => {
            let resp = Response {
                username,
                password,
                password_expiry_utc,
                ephemeral: true,
            };
            write_response(out, &req, &resp).map_err(|e| Error::io("writing the answer to git", e))
        }
        Ok(None) => Ok(()),
        Err(e) => {
            let _ = writeln!(err, "gocred: the ci exec agent did not answer: {e}");
            Ok(())
        }
    }
}

/// What the agent at `sock` holds for `authority` (`host[:port]`): username, token, expiry.
/// Shared by `ci helper` (git) and `goauth` (Go), so a `--no-file` job mints once for both.
pub fn ask_agent(
    sock: &str,
    authority: &str,
) -> std::io::Result<Option<(String, SecretString, Option<u64>)>> {
    let mut conn = UnixStream::connect(sock)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.write_all(format!("get {authority}\n").as_bytes())?;
    let mut reply = secrecy::zeroize::Zeroizing::new(String::new());
    (&conn).take(64 * 1024).read_to_string(&mut reply)?;
    let mut lines = reply.split('\n');
    if lines.next() != Some("ok") {
        return Ok(None);
    }
    let (Some(user), Some(token), Some(exp)) = (lines.next(), lines.next(), lines.next()) else {
        return Ok(None);
    };
    let exp = exp.parse::<u64>().ok().filter(|&e| e > 0);
    Ok(Some((user.to_string(), secret(token.to_string()), exp)))
}

/// The git configuration (command scope, through the environment) that makes `helper` git's only
/// helper for each host, appended after whatever `GIT_CONFIG_COUNT` already holds.
pub fn git_config_env(env: &Env, hosts: &[String], helper: &str) -> Result<Vec<(String, String)>> {
    let start: usize = match env.get("GIT_CONFIG_COUNT") {
        None => 0,
        Some(n) => n.parse().map_err(|_| {
            Error::other(format!(
                "GIT_CONFIG_COUNT={n} is not a number; git would refuse it too"
            ))
        })?,
    };
    let mut vars = Vec::new();
    let mut i = start;
    for host in hosts {
        let key = format!("credential.https://{host}.helper");
        // An empty value resets the helpers gathered so far for this URL: ours alone answers.
        for value in ["", helper] {
            vars.push((format!("GIT_CONFIG_KEY_{i}"), key.clone()));
            vars.push((format!("GIT_CONFIG_VALUE_{i}"), value.to_string()));
            i += 1;
        }
    }
    vars.push(("GIT_CONFIG_COUNT".into(), i.to_string()));
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_config_appends() {
        let env = Env::from_pairs([("GIT_CONFIG_COUNT", "2")]);
        let v = git_config_env(&env, &["git.corp.test".into()], "/bin/gocred ci helper").unwrap();
        assert_eq!(
            v,
            vec![
                (
                    "GIT_CONFIG_KEY_2".into(),
                    "credential.https://git.corp.test.helper".into()
                ),
                ("GIT_CONFIG_VALUE_2".into(), "".into()),
                (
                    "GIT_CONFIG_KEY_3".into(),
                    "credential.https://git.corp.test.helper".into()
                ),
                ("GIT_CONFIG_VALUE_3".into(), "/bin/gocred ci helper".into()),
                ("GIT_CONFIG_COUNT".into(), "4".into()),
            ]
        );
        assert!(git_config_env(&Env::from_pairs([("GIT_CONFIG_COUNT", "x")]), &[], "h").is_err());
    }
}
