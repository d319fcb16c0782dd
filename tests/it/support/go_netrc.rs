//! Go's own `.netrc` parser as an oracle: a tiny Go program holding a verbatim copy of
//! `parseNetrc` (and its `netrcLine` type), extracted from the installed GOROOT
//! (`src/cmd/go/internal/auth/netrc.go`) at test time by `go_probe`.
//!
//! Input on stdin: one file per line, hex-encoded. Output: one line per file, the entries Go
//! reads in order as `hex(machine):hex(login):hex(password)` separated by spaces (empty line:
//! no entries).

use std::fmt::Write as _;
use std::path::PathBuf;
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

/// The built oracle binary (built on first use).
pub fn go_netrc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        super::go_probe::build(
            "go-netrc",
            MAIN,
            &[
                (NETRC_GO, "type netrcLine struct"),
                (NETRC_GO, "func parseNetrc("),
            ],
        )
    })
    .clone()
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
    let out = super::go_probe::run(&go_netrc_bin(), &[], input.as_bytes());
    let text = String::from_utf8(out).expect("oracle prints ASCII");
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
