//! The conventions users expect of a CLI: `--version` (and `-V`) names the version, the commit it
//! was built from and the target, so a bug report says exactly which binary it is about.

use std::process::Command;

use crate::support::{run_ok, run_with_stdin, stdout_str, Sandbox};

fn version_line(flag: &str) -> String {
    let s = Sandbox::new();
    let out = run_with_stdin(s.gocred().arg(flag), b"");
    assert!(out.status.success(), "{flag}: {out:?}");
    let text = stdout_str(&out);
    assert_eq!(text.lines().count(), 1, "{flag}: one line: {text:?}");
    text.trim_end().to_string()
}

fn git_head() -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--show-toplevel", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let top = std::fs::canonicalize(lines.next()?).ok()?;
    let here = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).ok()?;
    (out.status.success() && top == here).then(|| lines.next().map(str::to_string))?
}

#[test]
fn version_names_the_version_commit_and_target() {
    let line = version_line("--version");
    assert_eq!(version_line("-V"), line, "-V and --version agree");

    let rest = line
        .strip_prefix(&format!("gocred {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line:?}"));
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", "))
        .unwrap_or_else(|| panic!("{line:?}"));

    // The tests run the binary built for this machine: its target is rustc's host.
    let rustc = run_ok(Command::new(std::env::var("RUSTC").unwrap_or("rustc".into())).arg("-vV"));
    let host = stdout_str(&rustc)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names its host");
    assert_eq!(target, host, "{line:?}");

    match (
        option_env!("GOCRED_COMMIT").filter(|c| !c.is_empty()),
        git_head(),
    ) {
        (Some(given), _) => assert_eq!(commit, given.trim(), "GOCRED_COMMIT wins"),
        (None, Some(head)) => assert_eq!(commit, head, "a checkout: git rev-parse HEAD"),
        (None, None) => assert_eq!(commit, "unknown", "no checkout, no GOCRED_COMMIT"),
    }
}
