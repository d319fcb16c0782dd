//! `gocred ci` with the minting sources: a token minted for the job alone (never the shared
//! cached one), used by real Go and git through the netrc, and revoked when the job ends, while
//! the shared cache keeps working. Real parts: the gocred binary, git, Go, nginx checking every
//! git request against the token service (`GitServer::start_with_token_check`), the kernel
//! keyring, and a real OAuth server (`oidc-provider`). GitHub's and GitLab's APIs are stand-ins
//! (tests/it/support/github_api.rs, gitlab_api.rs) that follow the published APIs.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support;
use crate::support::gitlab_api::MANAGER;
use crate::support::{
    assert_success, inline_credential_helper, run_with_stdin, stderr_str, stdout_str, GitServer,
    GithubApi, GitlabApi, KeyringService, OauthServer, Sandbox, OAUTH_CLIENT_ID,
};

/// One CI job's world: a sandbox whose every command gets GOPRIVATE, the kernel keyring under
/// the job's own service name, and the CI variables set with `with`.
struct Job {
    s: Sandbox,
    _service: KeyringService,
    /// Rules signed in to the keyring: logged out when the job is dropped.
    logins: Vec<String>,
}

impl Job {
    fn new(goprivate: &str) -> Job {
        let service = KeyringService::new("gocred-cimint");
        let mut s = Sandbox::new();
        s.set_env("GOPRIVATE", goprivate);
        for (k, v) in service.env() {
            s.set_env(k, v);
        }
        Job {
            s,
            _service: service,
            logins: Vec::new(),
        }
    }

    fn with(mut self, k: &str, v: &str) -> Job {
        self.s.set_env(k, v);
        self
    }

    /// `gocred login ARGS` with `stdin`; the rule (`args[1]`) is logged out on drop.
    fn login(&mut self, args: &[&str], stdin: &[u8]) {
        let mut all = vec!["login"];
        all.extend_from_slice(args);
        assert_success(&self.gocred_in(&all, stdin), "login");
        self.logins.push(args[0].to_string());
    }

    fn gocred(&self, args: &[&str]) -> Output {
        self.gocred_in(args, b"")
    }

    fn gocred_in(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.s.command(support::gocred_bin());
        c.args(args);
        run_with_stdin(&mut c, stdin)
    }

    fn netrc(&self) -> Vec<u8> {
        std::fs::read(self.s.path(".netrc")).unwrap_or_default()
    }

    fn leases(&self) -> usize {
        std::fs::read_dir(self.s.root().join("run/gocred/ci"))
            .map(|rd| rd.flatten().count())
            .unwrap_or(0)
    }

    /// `go mod download MODULE` in a fresh module cache, with the server's proxy and CA only:
    /// no credential helper is configured, so credentials can come from the netrc alone.
    fn go_download(&self, server: &GitServer, module: &str, cache: &str) -> Output {
        let dir = self.s.path("consumer");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("go.mod"),
            "module example.test/consumer\n\ngo 1.22\n",
        )
        .unwrap();
        let mut c = self.s.command(support::go_bin_dir().join("go"));
        c.args(["mod", "download", module])
            .current_dir(&dir)
            .env("GOMODCACHE", self.s.root().join(cache));
        server.apply(&mut c);
        c.output().unwrap()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Leave nothing in the kernel keyring of the test user.
        for p in std::mem::take(&mut self.logins) {
            let _ = self.gocred(&["logout", &p]);
        }
    }
}

/// The password the netrc gives `host` (Go's reading of the file).
fn netrc_password(job: &Job, host: &str) -> Option<String> {
    gocred::netrc::go::parse(&job.netrc())
        .into_iter()
        .find(|e| e.machine == host.as_bytes())
        .map(|e| String::from_utf8(e.password).unwrap())
}

/// No command's output ever holds one of `tokens`.
fn no_token_in(out: &Output, tokens: &[&str]) {
    for t in tokens {
        assert!(
            !stderr_str(out).contains(t) && !stdout_str(out).contains(t),
            "a token was printed"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// github-app

/// GitHub stand-in with the App on `acme`, nginx checking tokens against it, a module
/// `git.corp.test/acme/lib`, and a job whose keyring holds the App key for
/// `git.corp.test/acme/*`.
fn github_world() -> (GithubApi, GitServer, Job) {
    let api = GithubApi::start();
    api.install(11, "acme", true, &["lib"], &[("contents", "read")]);
    let server = GitServer::start_with_token_check(api.port());
    server.add_module(
        "acme",
        "lib",
        "v1.0.0",
        &[(
            "lib.go",
            "package lib\n\nfunc Hello() string { return \"acme\" }\n",
        )],
    );
    let mut job = Job::new("git.corp.test");
    job.login(
        &[
            "git.corp.test/acme/*",
            "--source",
            "github-app",
            "--app-id",
            &api.app.id.to_string(),
            "--api-url",
            &api.url(),
        ],
        api.app.private_key_pem.as_bytes(),
    );
    (api, server, job)
}

fn shared_token(job: &Job) -> String {
    let out = job.gocred(&["token", "git.corp.test/acme/lib"]);
    assert_success(&out, "gocred token");
    stdout_str(&out).trim().to_string()
}

/// git with only `password` as its credential: does the server take it?
fn git_accepts(job: &Job, server: &GitServer, password: &str) -> bool {
    let mut c = job.s.git();
    c.args([
        "-c",
        &format!(
            "credential.helper={}",
            inline_credential_helper("x-access-token", password)
        ),
        "ls-remote",
        "https://git.corp.test/acme/lib.git",
    ]);
    server.apply(&mut c);
    c.output().unwrap().status.success()
}

#[test]
fn github_app_job_token_is_its_own_works_with_go_and_is_revoked_at_wipe() {
    let (api, server, job) = github_world();
    let shared = shared_token(&job);
    assert_eq!(api.mints().len(), 1);

    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    let mints = api.mints();
    assert_eq!(mints.len(), 2, "one token minted for the job");
    let minted = mints[1].token.clone();
    assert_ne!(
        minted, shared,
        "the job does not get the shared cached token"
    );
    assert_eq!(
        netrc_password(&job, "git.corp.test").as_deref(),
        Some(minted.as_str())
    );
    no_token_in(&out, &[&minted, &shared]);
    // The cache is neither read nor written by the job: `token` still gives the shared one.
    assert_eq!(shared_token(&job), shared);
    assert_eq!(api.mints().len(), 2);

    // Real Go and git, with nothing but the netrc.
    let got = job.go_download(&server, "git.corp.test/acme/lib@v1.0.0", "modcache1");
    assert_success(&got, "go mod download with the netrc");
    assert!(
        api.validations()
            .iter()
            .any(|(user, _, _, status)| user == "x-access-token" && *status == 200),
        "{:?}",
        api.validations()
    );

    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "ci wipe");
    assert!(
        stderr_str(&out).contains("1 token(s) revoked"),
        "{}",
        stderr_str(&out)
    );
    no_token_in(&out, &[&minted, &shared]);
    let revoked: Vec<String> = api.revoked().into_iter().map(|m| m.token).collect();
    assert_eq!(
        revoked,
        vec![minted.clone()],
        "the stand-in recorded the DELETE"
    );
    assert!(api
        .requests()
        .iter()
        .any(|r| r == "DELETE /installation/token -> 204"));
    assert!(job.netrc().is_empty(), "the netrc gocred created is gone");
    assert_eq!(job.leases(), 0);

    // The job's token is dead at the server; the shared one still opens the repository.
    assert!(!git_accepts(&job, &server, &minted));
    assert!(git_accepts(&job, &server, &shared));
    assert_eq!(shared_token(&job), shared);
    let after = job.go_download(&server, "git.corp.test/acme/lib@v1.0.0", "modcache2");
    assert!(!after.status.success(), "downloads after the wipe");
}

fn spawn_exec(job: &Job, cmd: &[&str]) -> std::process::Child {
    let mut c = job.s.command(support::gocred_bin());
    c.args(["ci", "exec", "--netrc", "--"])
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

#[test]
fn ci_exec_revokes_the_job_token_when_the_command_is_killed_or_gocred_gets_sigterm() {
    let (api, _server, job) = github_world();
    let shared = shared_token(&job);

    // The command dies of SIGKILL.
    let out = job.gocred(&["ci", "exec", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr_str(&out));
    let mints = api.mints();
    assert_eq!(mints.len(), 2);
    assert_eq!(
        api.revoked().iter().map(|m| &m.token).collect::<Vec<_>>(),
        vec![&mints[1].token]
    );
    assert!(job.netrc().is_empty() && job.leases() == 0);

    // gocred itself gets SIGTERM while the command runs.
    let mut child = spawn_exec(&job, &["sleep", "600"]);
    let up = support::wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
        String::from_utf8_lossy(&job.netrc()).contains("# >>> gocred ci ")
            || child.try_wait().unwrap().is_some()
    });
    assert!(
        up && child.try_wait().unwrap().is_none(),
        "ci exec did not set up"
    );
    let job_token = api.mints()[2].token.clone();
    assert_eq!(
        netrc_password(&job, "git.corp.test").as_deref(),
        Some(job_token.as_str())
    );
    support::run_ok(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr_str(&out));
    let revoked: Vec<String> = api.revoked().into_iter().map(|m| m.token).collect();
    assert!(revoked.contains(&job_token), "{revoked:?}");
    assert!(!revoked.contains(&shared), "the shared token survives");
    assert_eq!(api.mints().len(), 3);
    assert!(job.netrc().is_empty() && job.leases() == 0);
}

#[test]
fn a_github_app_rule_for_several_owners_gets_no_ci_entry() {
    let api = GithubApi::start();
    let mut job = Job::new("git.corp.test");
    job.login(
        &[
            "git.corp.test",
            "--source",
            "github-app",
            "--app-id",
            &api.app.id.to_string(),
            "--api-url",
            &api.url(),
        ],
        api.app.private_key_pem.as_bytes(),
    );
    let out = job.gocred(&["ci", "netrc"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_str(&out);
    assert!(
        err.contains("serves one owner") && err.contains("git.corp.test/OWNER/*"),
        "{err}"
    );
    assert!(api.mints().is_empty());
    assert!(job.netrc().is_empty() && job.leases() == 0);
}

// ---------------------------------------------------------------------------------------------
// oauth

const OAUTH_HOST: &str = "oauth.corp.test";

/// Signs the job's keyring in through the device flow (the "person" approves).
fn oauth_login(job: &mut Job, server: &OauthServer) {
    use std::io::{BufRead, BufReader};
    let mut c = job.s.command(support::gocred_bin());
    c.args([
        "login",
        OAUTH_HOST,
        "--source",
        "oauth",
        "--provider",
        "generic",
        "--client-id",
        OAUTH_CLIENT_ID,
        "--device-url",
        &server.device_url(),
        "--token-url",
        &server.token_url(),
        "--revoke-url",
        &server.revoke_url(),
        "--scope",
        "openid",
        "--scope",
        "offline_access",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut uri, mut code) = (None, None);
    while uri.is_none() || code.is_none() {
        let line = lines.next().expect("login printed no code").unwrap();
        if let Some(u) = line.strip_prefix("gocred: to sign in, open ") {
            uri = Some(u.to_string());
        }
        if let Some(c) = line.strip_prefix("gocred: and enter the code: ") {
            code = Some(c.to_string());
        }
    }
    server.act_on_code(uri.as_deref().unwrap(), code.as_deref().unwrap(), true);
    for _ in lines {}
    assert!(child.wait().unwrap().success(), "{}", server.log());
    job.logins.push(OAUTH_HOST.into());
}

fn oauth_get(job: &Job) -> Output {
    job.gocred_in(
        &["get"],
        format!("protocol=https\nhost={OAUTH_HOST}\n\n").as_bytes(),
    )
}

fn password(out: &Output) -> String {
    stdout_str(out)
        .lines()
        .find_map(|l| l.strip_prefix("password=").map(str::to_string))
        .unwrap_or_else(|| panic!("no password: {}", stderr_str(out)))
}

fn oauth_erase(job: &Job, pw: &str) {
    let out = job.gocred_in(
        &["erase"],
        format!("protocol=https\nhost={OAUTH_HOST}\nusername=oauth2\npassword={pw}\n\n").as_bytes(),
    );
    assert_success(&out, "erase");
}

/// Why an OAuth token is not revoked at `ci wipe`: with a real server, revoking an access token
/// ends the sign-in it came from (RFC 7009 §2.1 allows it; oidc-provider revokes every token of
/// the grant, GitLab the access/refresh pair). So the job shares the cached token, says it
/// cannot be revoked and until when it lives, and the runner stays signed in after the wipe.
#[test]
fn oauth_job_token_is_not_revoked_because_revoking_would_sign_the_runner_out() {
    let server = OauthServer::start(3600);
    let mut job = Job::new(OAUTH_HOST);
    oauth_login(&mut job, &server);
    let cached = password(&oauth_get(&job));

    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    assert_eq!(
        netrc_password(&job, OAUTH_HOST).as_deref(),
        Some(cached.as_str())
    );
    let err = stderr_str(&out);
    assert!(
        err.contains("cannot be revoked when the job ends; it expires at 20"),
        "{err}"
    );
    no_token_in(&out, &[&cached]);

    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "ci wipe");
    let err = stderr_str(&out);
    assert!(
        err.contains("0 token(s) revoked; 1 cannot be revoked and expire(s) on their own"),
        "{err}"
    );
    assert!(job.netrc().is_empty() && job.leases() == 0);
    let st = server.stats();
    assert_eq!(st.revocation_requests, 0);
    assert!(
        server.is_active(&cached),
        "the token lives until it expires"
    );

    // The runner is still signed in: a refresh (with the rotated refresh token) works.
    oauth_erase(&job, &cached);
    let refreshed = password(&oauth_get(&job));
    assert_ne!(refreshed, cached);
    assert!(server.is_active(&refreshed));

    // What revoking the job's access token would have done: the server drops the whole grant,
    // and the next refresh fails.
    server.revoke_access_token(&refreshed);
    assert!(!server.is_active(&refreshed));
    assert!(
        !server.is_active(&cached),
        "every token of the grant is gone"
    );
    oauth_erase(&job, &refreshed);
    let out = oauth_get(&job);
    assert_eq!(
        stdout_str(&out),
        "",
        "no credential after the grant was revoked"
    );
    assert!(
        stderr_str(&out).contains("sign in again"),
        "{}",
        stderr_str(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// gitlab

/// GitLab stand-in, nginx checking tokens against it, and a job whose keyring holds the manager
/// token of a `project = grp/proj` rule for git.corp.test.
fn gitlab_world() -> (GitlabApi, GitServer, Job) {
    let api = GitlabApi::start();
    let server = GitServer::start_with_token_check(api.port());
    let mut job = Job::new("git.corp.test")
        .with("GITLAB_CI", "true")
        .with("CI_JOB_ID", "7731");
    job.login(
        &[
            "git.corp.test",
            "--source",
            "gitlab",
            "--project",
            "grp/proj",
            "--api-url",
            &api.url(),
        ],
        format!("{MANAGER}\n").as_bytes(),
    );
    (api, server, job)
}

#[test]
fn gitlab_project_token_is_created_for_the_job_and_revokes_itself_at_wipe() {
    let (api, server, job) = gitlab_world();
    let out = job.gocred(&["token", "git.corp.test/team/lib"]);
    assert_success(&out, "gocred token");
    let shared = stdout_str(&out).trim().to_string();
    assert_eq!(api.token(101).unwrap().token, shared);

    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    let created = api.token(102).expect("a token created for the job");
    assert_eq!(created.name, "gocred-ci gitlab:7731");
    assert_eq!(created.scopes, vec!["read_repository".to_string()]);
    assert_eq!(
        netrc_password(&job, "git.corp.test").as_deref(),
        Some(created.token.as_str())
    );
    no_token_in(&out, &[&created.token, &shared, MANAGER]);
    assert_eq!(api.tokens().len(), 2, "the shared token was not rotated");

    let got = job.go_download(&server, "git.corp.test/team/lib@v1.0.0", "modcache1");
    assert_success(&got, "go mod download with the netrc");

    // An older GitLab refuses self-revocation without `api` scope: the block goes anyway, the
    // wipe fails naming what it could not revoke, and the next wipe retries.
    api.set_before_15_4(true);
    let out = job.gocred(&["ci", "wipe"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_str(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains("could not revoke the token for git.corp.test")
            && err.contains("GitLab access token 102")
            && err.contains("before 15.4"),
        "{err}"
    );
    no_token_in(&out, &[&created.token, &shared, MANAGER]);
    assert!(job.netrc().is_empty(), "the block is removed anyway");
    assert!(!api.token(102).unwrap().revoked);
    api.set_before_15_4(false);
    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "second ci wipe");
    assert!(
        stderr_str(&out).contains("1 token(s) revoked"),
        "{}",
        stderr_str(&out)
    );
    assert!(api.token(102).unwrap().revoked, "revoked by the retry");
    assert!(
        !api.token(101).unwrap().revoked,
        "the shared token lives on"
    );
    let selfs = api
        .calls()
        .iter()
        .filter(|c| *c == "DELETE /api/v4/personal_access_tokens/self")
        .count();
    assert_eq!(selfs, 2);
    assert_eq!(job.leases(), 0);

    let after = job.go_download(&server, "git.corp.test/team/lib@v1.0.0", "modcache2");
    assert!(!after.status.success(), "downloads after the wipe");
    let again = job.gocred(&["ci", "wipe"]);
    assert_success(&again, "third ci wipe");
    assert!(stderr_str(&again).contains("nothing to wipe"));
}

#[test]
fn gitlab_job_token_mode_has_nothing_to_revoke() {
    let job = Job::new("git.corp.test")
        .with("GITLAB_CI", "true")
        .with("CI_JOB_TOKEN", "glcbt-64_jobtoken0123")
        .with("CI_SERVER_URL", "https://git.corp.test");
    job.s
        .write_config("[[rule]]\npattern = \"git.corp.test\"\nsource = \"gitlab\"\n");
    let out = job.gocred(&["ci", "netrc"]);
    assert_success(&out, "ci netrc");
    assert!(
        !stderr_str(&out).contains("cannot be revoked"),
        "GitLab ends CI_JOB_TOKEN with the job: {}",
        stderr_str(&out)
    );
    assert_eq!(
        netrc_password(&job, "git.corp.test").as_deref(),
        Some("glcbt-64_jobtoken0123")
    );
    let out = job.gocred(&["ci", "wipe"]);
    assert_success(&out, "ci wipe");
    assert!(
        stderr_str(&out).contains("0 token(s) revoked\n"),
        "{}",
        stderr_str(&out)
    );
    assert!(job.netrc().is_empty() && job.leases() == 0);
}
