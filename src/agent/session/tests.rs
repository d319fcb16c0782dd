use super::*;

fn session(allow: &[&str]) -> (tempfile::TempDir, Session) {
    let (d, s) = Settings::for_test("", &[]);
    let audit = Audit::open(&d.path().join("state/agent-audit.log")).unwrap();
    let opts = Options {
        allow: allow.iter().map(|s| s.to_string()).collect(),
        end: crate::state::now_secs() + 60,
        allow_long_lived: false,
    };
    (d, Session::new("t".into(), s, opts, audit))
}

#[test]
fn repositories_come_from_the_allow_list() {
    let (_d, s) = session(&[
        "github.com/acme/lib",
        "github.com/acme/tool.git",
        "github.com/other/*",
    ]);
    assert_eq!(
        s.allowed_repos("github.com", "acme"),
        Some(vec!["lib".to_string(), "tool".to_string()])
    );
    assert_eq!(s.allowed_repos("github.com", "other"), None);
    assert_eq!(s.allowed_repos("github.com", "third"), Some(vec![]));
    let (_d, s) = session(&["github.com"]);
    assert_eq!(s.allowed_repos("github.com", "acme"), None);
}

#[test]
fn allow_patterns_are_checked() {
    assert!(check_allow(&[]).is_err());
    for bad in ["", "a,b", "acme/*", "git corp.test", "["] {
        assert!(check_allow(&[bad.to_string()]).is_err(), "{bad}");
    }
    assert!(check_allow(&["github.com/acme/*".into(), "git.corp.test:8443".into()]).is_ok());
}
