//! Step 4 on a far side (`GOCRED_AGENT` set): gocred answers from an agent session, not from
//! rules of its own. `agent.socket` (exists, a socket, yours, 0600, on a trusted path),
//! `agent.ping` (the agent answers; its session and end), `agent.allow` (the module is inside
//! the session's allow-list) and `agent.get` (the agent hands out a credential for the module's
//! repository; never shown). The agent's answers hold no secret except `agent.get`'s, which is
//! registered for redaction and dropped.

use super::report::{Finding, Report};
use super::Doctor;
use crate::agent::client;

/// Runs the agent checks; `false` (and nothing reported) when `GOCRED_AGENT` is not set.
pub(crate) fn run(d: &mut Doctor, r: &mut Report) -> bool {
    let Ok(Some(c)) = client::from_env(d.env) else {
        return false;
    };
    let shown = c.path().display().to_string();
    let restart = "start a new session on the machine that holds the secrets (`gocred ssh …`, `gocred agent --allow …`), or unset GOCRED_AGENT";
    if let Err(why) = c.check_socket() {
        r.push(Finding::fail("agent.socket", format!("GOCRED_AGENT={shown}: {why}")).fix(restart));
        return true;
    }
    r.push(Finding::ok(
        "agent.socket",
        format!("GOCRED_AGENT={shown}: a socket of yours, mode 0600"),
    ));
    let (session, pid, end, allow) = match c.ping() {
        Ok(p) => p,
        Err(e) => {
            r.push(Finding::fail("agent.ping", e.to_string()).fix(restart));
            return true;
        }
    };
    let left = end.saturating_sub(crate::state::now_secs());
    r.push(Finding::ok(
        "agent.ping",
        format!("agent session {session} (pid {pid} there) answers; it ends in {left} s"),
    ));
    let module = &d.target.module;
    let patterns = crate::scope::Patterns::parse(&allow.join(","));
    match patterns.matching(module) {
        Some(p) => r.push(Finding::ok(
            "agent.allow",
            format!("{module} is inside the session's allow-list (`{p}`)"),
        )),
        None => {
            r.push(
                Finding::fail(
                    "agent.allow",
                    format!(
                        "{module} is outside the session's allow-list ({}): the agent answers nothing for it",
                        allow.join(", ")
                    ),
                )
                .fix(format!(
                    "start the session with --allow {}",
                    super::report::sh_quote(module)
                )),
            );
            return true;
        }
    }
    let t = &d.target.resolved;
    let path = t.path.as_ref().map(|p| match p.ends_with(".git") {
        true => p.clone(),
        false => format!("{p}.git"),
    });
    match c.get(&t.origin, path.as_deref()) {
        Ok(Ok(g)) => {
            crate::http::redact::register(&g.password);
            r.push(Finding::ok(
                "agent.get",
                format!(
                    "the agent gives a credential for {} (user {}{})",
                    t.origin.authority(),
                    g.username,
                    g.expiry
                        .map(|e| format!(
                            ", expires in {} s",
                            e.saturating_sub(crate::state::now_secs())
                        ))
                        .unwrap_or_default()
                ),
            ));
        }
        Ok(Err(reason)) => r.push(Finding::fail(
            "agent.get",
            format!("the agent gives no credential for {module}: {reason}"),
        )),
        Err(e) => r.push(Finding::fail("agent.get", e.to_string()).fix(restart)),
    }
    true
}
