//! `gitlab` source: `CI_JOB_TOKEN` pass-through inside GitLab CI (only to the job's own GitLab),
//! and project access tokens created, rotated and revoked through the API.

use std::process::Output;

use crate::support::gitlab_api::MANAGER;
use crate::support::{run_with_stdin, stderr_str, stdout_str, GitlabApi, KeyringService, Sandbox};

const HOST: &str = "gitlab.corp.test";

fn gocred(s: &Sandbox, service: &str, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Output {
    let mut c = s.gocred();
    c.args(args)
        .env("GOCRED_KEYRING", "keyutils")
        .env("GOCRED_KEYRING_SERVICE", service);
    for (k, v) in env {
        c.env(k, v);
    }
    run_with_stdin(&mut c, stdin)
}

/// `gocred login HOST --source gitlab --project grp/proj` with `manager` as the token.
fn login(s: &Sandbox, service: &str, api: &GitlabApi, manager: &str) -> Output {
    gocred(
        s,
        service,
        &[],
        &[
            "login",
            HOST,
            "--source",
            "gitlab",
            "--project",
            "grp/proj",
            "--api-url",
            &api.url(),
        ],
        format!("{manager}\n").as_bytes(),
    )
}

fn get_req() -> Vec<u8> {
    format!("capability[]=authtype\nprotocol=https\nhost={HOST}\n\n").into_bytes()
}

#[test]
fn job_token_goes_only_to_the_jobs_own_gitlab() {
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-gl");
    s.write_config(&format!(
        "[[rule]]\npattern = \"{HOST}\"\nsource = \"gitlab\"\n"
    ));
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_JOB_TOKEN", "glcbt-64_jobtoken"),
        ("CI_SERVER_URL", "https://gitlab.corp.test"),
    ];
    let out = gocred(&s, &svc, &ci, &["get"], &get_req());
    assert!(out.status.success(), "{}", stderr_str(&out));
    assert_eq!(stdout_str(&out), "capability[]=authtype\nephemeral=1\nusername=gitlab-ci-token\npassword=glcbt-64_jobtoken\n");
    // Another GitLab (or another port): not sent.
    for url in [
        "https://gitlab.other.test",
        "https://gitlab.corp.test:8443",
        "not a url",
    ] {
        let env = [ci[0], ci[1], ("CI_SERVER_URL", url)];
        let out = gocred(&s, &svc, &env, &["get"], &get_req());
        assert_eq!(stdout_str(&out), "", "{url}");
        assert!(
            stderr_str(&out).contains("not sending it"),
            "{}",
            stderr_str(&out)
        );
    }
    // Outside CI: a clear error, nothing on stdout.
    let out = gocred(&s, &svc, &[], &["get"], &get_req());
    assert_eq!(stdout_str(&out), "");
    assert!(
        stderr_str(&out).contains("only inside a GitLab CI job"),
        "{}",
        stderr_str(&out)
    );
    // A rejected job token cannot be forgotten: say what to fix.
    let out = gocred(
        &s,
        &svc,
        &ci,
        &["erase"],
        format!(
            "protocol=https\nhost={HOST}\nusername=gitlab-ci-token\npassword=glcbt-64_jobtoken\n\n"
        )
        .as_bytes(),
    );
    assert!(
        stderr_str(&out).contains("allowlist"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn project_tokens_are_created_cached_rotated_and_revoked() {
    let api = GitlabApi::start();
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-gl");
    let login = login(&s, &svc, &api, MANAGER);
    assert!(login.status.success(), "{}", stderr_str(&login));
    let first = gocred(&s, &svc, &[], &["get"], &get_req());
    assert!(first.status.success(), "{}", stderr_str(&first));
    let text = stdout_str(&first);
    assert!(
        text.contains("username=gitlab-access-token\npassword=glpat-minted101-"),
        "{text}"
    );
    assert!(text.contains("password_expiry_utc="));
    // Cached: the second get calls nothing.
    let calls = api.calls().len();
    assert_eq!(
        stdout_str(&gocred(&s, &svc, &[], &["get"], &get_req())),
        text
    );
    assert_eq!(api.calls().len(), calls);
    // Rejected by git: dropped; the next get rotates the old one (which revokes it).
    let pw = text
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .unwrap()
        .to_string();
    let erase =
        format!("protocol=https\nhost={HOST}\nusername=gitlab-access-token\npassword={pw}\n\n");
    assert!(gocred(&s, &svc, &[], &["erase"], erase.as_bytes())
        .status
        .success());
    let second = stdout_str(&gocred(&s, &svc, &[], &["get"], &get_req()));
    assert!(second.contains("password=glpat-minted102-"), "{second}");
    let calls = api.calls();
    assert!(
        calls
            .iter()
            .any(|c| c == "POST /api/v4/projects/grp%2Fproj/access_tokens/101/rotate"),
        "{calls:?}"
    );
    assert!(
        api.token(101).unwrap().revoked,
        "the rotated token is revoked"
    );
    // Logout revokes the live one.
    let out = gocred(&s, &svc, &[], &["logout", HOST], b"");
    assert!(
        stderr_str(&out).contains("revoked 1 token(s)"),
        "{}",
        stderr_str(&out)
    );
    assert!(api.token(102).unwrap().revoked);
}

#[test]
fn a_refused_manager_token_says_what_to_do() {
    let api = GitlabApi::start();
    let s = Sandbox::new();
    let svc = KeyringService::new("gocred-gl");
    let login = login(&s, &svc, &api, "glpat-wrong-token");
    assert!(login.status.success());
    let out = gocred(&s, &svc, &[], &["get"], &get_req());
    assert_eq!(stdout_str(&out), "");
    let err = stderr_str(&out);
    assert!(
        err.contains("HTTP 401") && err.contains("gocred login"),
        "{err}"
    );
    assert!(!err.contains("glpat-wrong"));
    let _ = gocred(&s, &svc, &[], &["logout", HOST], b"");
}
