//! `gocred doctor`: walks every link between `go get` and a private repository, in the order a
//! fetch needs them, and names the first broken one with the command that fixes it.
//!
//! Sits beside the request flow, not in it: it reads the same Settings, Scope, Rules and Sources
//! a credential request uses, and also what gocred never reads on the hot path (`go env`, git's
//! config, the network, `.netrc`, SSH). Each group of checks is one file with one `run`; each
//! check has a stable id (`go.goprivate`, `net.tls`, `cred.probe`, …) and reports a
//! [`report::Finding`]. A new feature adds its check as a new function in the group it belongs
//! to (or a new file), with a new id, and a line in [`run_checks`].
//!
//! Budget: every network phase and subprocess has its own bound (3 s DNS/TCP, then one 10 s
//! deadline for the whole exchange, 15 s for tools), and a host that failed once is not tried
//! again by later checks, so an unreachable host costs its timeout once.

#[cfg(unix)]
pub(crate) mod agent;
pub(crate) mod cred;
pub(crate) mod git_checks;
pub(crate) mod git_helpers;
pub(crate) mod gitconf;
pub(crate) mod go_scope;
pub(crate) mod go_tools;
pub(crate) mod goauth;
pub(crate) mod goauth_cmd;
pub(crate) mod goenv;
pub(crate) mod gofetch;
pub(crate) mod goget;
pub(crate) mod goget_auth;
pub(crate) mod goimport;
pub(crate) mod goproxy;
pub(crate) mod http;
pub(crate) mod net;
pub(crate) mod netrc;
pub(crate) mod proxyenv;
pub(crate) mod report;
pub(crate) mod ssh;
pub(crate) mod tls;
pub(crate) mod trust;

use std::collections::HashMap;

use crate::commands::ResolvedTarget;
use crate::protocol::Origin;
use crate::settings::{Env, Settings};

pub(crate) use report::{Report, Status};

/// What doctor was asked about.
#[derive(Debug)]
pub(crate) struct Target {
    /// Module path as Go matches it against GOPRIVATE (`git.corp.example/team/lib`).
    pub module: String,
    /// `@version`, when given.
    pub version: Option<String>,
    pub resolved: ResolvedTarget,
}

/// Where the code is, once the go-get page (or Go's static table) has said.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    /// `https://git.corp.example/team/lib.git` (after no insteadOf rewriting).
    pub url: String,
    pub origin: Origin,
    /// Repository path without leading `/` (`team/lib.git`).
    pub path: String,
}

/// How Go will fetch this module (decided by `go_scope` from GOPROXY/GONOPROXY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Straight from the version control server.
    Direct,
    /// Through these proxies, in order; `then_direct` when the list ends in `direct`.
    Proxies {
        urls: Vec<String>,
        then_direct: bool,
    },
    /// `GOPROXY=off` (or a list Go rejects): Go will not fetch it at all.
    Off(String),
}

/// Everything the checks share: inputs, and what earlier checks learnt.
pub(crate) struct Doctor<'a> {
    pub settings: &'a Settings,
    pub env: &'a Env,
    /// The config file could not be loaded (rules are then empty).
    pub config_error: Option<String>,
    pub target: Target,
    pub go: goenv::GoEnvReport,
    pub timeouts: http::Timeouts,
    pub route: Route,
    /// Set when Go will get the module from a proxy: git and gocred are not in the path.
    pub served_by_proxy: Option<String>,
    pub repo: Option<Repo>,
    pub net: net::NetState,
    pub git: gitconf::GitView,
    pub cred: Option<cred::Outcome>,
    /// Go's GOAUTH credential cache (one per `go` process, as in Go).
    pub go_creds: Option<goauth::Cache>,
    /// Memo for expensive answers other checks reuse (keyed by what was asked).
    pub memo: HashMap<String, String>,
}

impl<'a> Doctor<'a> {
    pub(crate) fn new(
        settings: &'a Settings,
        config_error: Option<String>,
        target: Target,
    ) -> Doctor<'a> {
        let env = &settings.env;
        Doctor {
            settings,
            env,
            config_error,
            go: goenv::GoEnvReport::read(env),
            target,
            timeouts: http::Timeouts::default(),
            route: Route::Direct,
            served_by_proxy: None,
            repo: None,
            net: net::NetState::default(),
            git: gitconf::GitView::default(),
            cred: None,
            go_creds: None,
            memo: HashMap::new(),
        }
    }

    /// The module's host (first path element) as an https origin.
    pub(crate) fn module_origin(&self) -> &Origin {
        &self.target.resolved.origin
    }
}

/// All checks, in the order a fetch needs the links.
pub(crate) fn run_checks(d: &mut Doctor) -> Report {
    let mut r = Report::default();
    // 1. Go's configuration.
    let gonoproxy = go_scope::run(d, &mut r);
    go_tools::run(d, &mut r);
    // 2–3. The hosts Go talks to, then what the go-get page or the proxy says.
    goget::run(d, &mut r);
    // 4. gocred's own credential for the repository host (from the agent on a far side).
    #[cfg(unix)]
    let far_side = agent::run(d, &mut r);
    #[cfg(not(unix))]
    let far_side = false;
    if !far_side {
        cred::run(d, &mut r);
    }
    // 5. git: version, helper chain, rewrites, and .netrc (read before any helper).
    git_checks::run(d, &mut r);
    netrc::run(d, &mut r);
    // 6. SSH, where the rule or a rewrite says ssh.
    ssh::run(d, &mut r);
    // The proxy bypass can only be judged once the direct route is known.
    go_scope::judge_gonoproxy(d, &mut r, gonoproxy);
    r
}
