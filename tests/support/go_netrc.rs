//! Go's own `.netrc` parser as an oracle: a tiny Go program holding a verbatim copy of
//! `parseNetrc` (and its `netrcLine` type), extracted from the installed GOROOT
//! (`src/cmd/go/internal/auth/netrc.go`) at test time and built once per test binary.
//!
//! Input on stdin: one file per line, hex-encoded. Output: one line per file, the entries Go
//! reads in order as `hex(machine):hex(login):hex(password)` separated by spaces (empty line:
//! no entries).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const NETRC_GO: &str = "src/cmd/go/internal/auth/netrc.go";

const MAIN: &str = r#"package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		data, err := hex.DecodeString(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad hex")
			os.Exit(2)
		}
		var parts []string
		for _, l := range parseNetrc(string(data)) {
			parts = append(parts, hex.EncodeToString([]byte(l.machine))+":"+
				hex.EncodeToString([]byte(l.login))+":"+hex.EncodeToString([]byte(l.password)))
		}
		fmt.Fprintln(out, strings.Join(parts, " "))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out.Flush()
}

// netrcLine and parseNetrc below are copied verbatim from GOROOT at test time.

"#;

/// One entry as Go reads it.
pub type GoEntry = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Copies `type netrcLine struct` and `func parseNetrc(` up to their closing `}` at column 0.
fn extract(src: &str, start: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in src.lines() {
        if line.starts_with(start) {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
            if line == "}" {
                return out;
            }
        }
    }
    panic!("`{start}` not found (or never closed) in GOROOT/{NETRC_GO}");
}

/// The built oracle binary (built on first use).
pub fn go_netrc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build).clone()
}

fn build() -> PathBuf {
    let go = super::go_bin_dir().join("go");
    let goroot = super::go_bin_dir()
        .parent()
        .expect("GOROOT/bin has a parent")
        .to_path_buf();
    let src = std::fs::read_to_string(goroot.join(NETRC_GO)).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e}; run install/test-deps.sh",
            goroot.join(NETRC_GO).display()
        )
    });
    let program = format!(
        "{MAIN}{}\n{}",
        extract(&src, "type netrcLine struct"),
        extract(&src, "func parseNetrc(")
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gocred-go-netrc-{}", std::process::id()));
    super::mkdir(&dir);
    super::write_file(&dir.join("main.go"), &program);
    let bin = dir.join("go-netrc");
    let out = Command::new(&go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg("main.go")
        .current_dir(&dir)
        .env_clear()
        .env("HOME", &dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOENV", "off")
        .env("GO111MODULE", "off")
        .env("GOCACHE", super::sandbox::shared_gocache())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", go.display()));
    assert!(
        out.status.success(),
        "building the parseNetrc oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from the oracle"))
        .collect()
}

/// What Go's `parseNetrc` returns for each of `files`.
pub fn go_parse_many(files: &[Vec<u8>]) -> Vec<Vec<GoEntry>> {
    let mut input = String::new();
    for f in files {
        for b in f {
            let _ = write!(input, "{b:02x}");
        }
        input.push('\n');
    }
    let out = super::run_with_stdin(&mut Command::new(go_netrc_bin()), input.as_bytes());
    super::assert_success(&out, "the parseNetrc oracle");
    let text = String::from_utf8(out.stdout).expect("oracle prints ASCII");
    let parsed: Vec<Vec<GoEntry>> = text
        .lines()
        .map(|line| {
            line.split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let f: Vec<&str> = p.split(':').collect();
                    (unhex(f[0]), unhex(f[1]), unhex(f[2]))
                })
                .collect()
        })
        .collect();
    assert_eq!(parsed.len(), files.len(), "one answer per file");
    parsed
}

/// `go_parse_many` for one file on disk.
pub fn go_parse_file(path: &Path) -> Vec<GoEntry> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    go_parse_many(&[data]).remove(0)
}
