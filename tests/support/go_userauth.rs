//! Go's own GOAUTH output parser, built at test time from the installed GOROOT.
//!
//! A tiny Go program holds verbatim copies of `parseUserAuth` and `mapHeadersToPrefixes`
//! (cmd/go/internal/auth/userauth.go), the header checks they use (httputils.go) and
//! `storeCredential`/`loadCredential` (auth.go), extracted with the same
//! "from `func NAME(` to the `}` at column 0" rule as tests/scope_vs_go.rs. Go's source is
//! never committed. [`GoUserAuth::check`] feeds it a GOAUTH command's stdout and request URLs,
//! and reports what Go itself makes of it: the error that voids the output, or the cached
//! prefixes and, per URL, the headers Go would attach.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tempfile::TempDir;

/// What Go made of one output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GoParse {
    /// `parseUserAuth`'s error: Go ignores the whole output.
    #[serde(default)]
    pub error: Option<String>,
    /// Cache key (prefix minus `https://`, as `storeCredential` stores it) → header → values.
    #[serde(default)]
    pub creds: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Request URL → the headers `loadCredential` attaches (absent: none).
    #[serde(default)]
    pub lookups: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Request URL → `user:password` as net/http's `Request.BasicAuth` decodes the header.
    #[serde(default)]
    pub basic: BTreeMap<String, String>,
}

impl GoParse {
    /// The `Authorization` value Go would send with `url`, if any.
    pub fn authorization_for(&self, url: &str) -> Option<&str> {
        self.lookups
            .get(url)
            .and_then(|h| h.get("Authorization"))
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

pub struct GoUserAuth {
    bin: PathBuf,
    _dir: TempDir,
}

const MAIN: &str = r#"package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

var credentialCache sync.Map

type result struct {
	Error   *string                `json:"error"`
	Creds   map[string]http.Header `json:"creds"`
	Lookups map[string]http.Header `json:"lookups"`
	Basic   map[string]string      `json:"basic"`
}

// Reads a GOAUTH command's stdout; args are request URLs to look up, as AddCredentials does
// after runGoAuth stored what the command printed.
func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	res := result{Creds: map[string]http.Header{}, Lookups: map[string]http.Header{}, Basic: map[string]string{}}
	creds, err := parseUserAuth(string(data))
	if err != nil {
		msg := err.Error()
		res.Error = &msg
	} else {
		for prefix := range creds {
			storeCredential(prefix, creds[prefix])
		}
		credentialCache.Range(func(k, v any) bool {
			res.Creds[k.(string)] = v.(http.Header)
			return true
		})
		for _, u := range os.Args[1:] {
			req, err := http.NewRequest("GET", u, nil)
			if err != nil {
				panic(err)
			}
			if loadCredential(req, req.URL.String()) {
				res.Lookups[u] = req.Header
				if user, pass, ok := req.BasicAuth(); ok {
					res.Basic[u] = user + ":" + pass
				}
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// Imports the copied functions need (strings, url, maps, fmt) are used by them.
var _ = strings.Cut
var _ = url.ParseRequestURI
var _ = maps.Copy[map[string]http.Header, map[string]http.Header]

// Copied verbatim from GOROOT at test time:

"#;

/// `(file under GOROOT/src/cmd/go/internal/auth, declaration start)`.
const PIECES: &[(&str, &str)] = &[
    ("userauth.go", "func parseUserAuth("),
    ("userauth.go", "func mapHeadersToPrefixes("),
    ("httputils.go", "var isTokenTable = "),
    ("httputils.go", "func isLWS("),
    ("httputils.go", "func isCTL("),
    ("httputils.go", "func validHeaderFieldName("),
    ("httputils.go", "func validHeaderFieldValue("),
    ("auth.go", "func loadCredential("),
    ("auth.go", "func storeCredential("),
];

/// From the line starting with `start` to the next line that is exactly `}`, verbatim
/// (one-line declarations end on their own line).
fn extract(source: &str, start: &str, file: &str) -> String {
    let mut lines = source.lines();
    let first = lines
        .by_ref()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` in {file}: Go's auth package changed"));
    let mut out = format!("{first}\n");
    if first.ends_with('}') {
        return out;
    }
    for line in lines {
        out.push_str(line);
        out.push('\n');
        if line == "}" {
            return out;
        }
    }
    panic!("`{start}` in {file} has no closing brace at column 0");
}

impl GoUserAuth {
    /// Built once per test process.
    pub fn get() -> &'static GoUserAuth {
        static CELL: OnceLock<GoUserAuth> = OnceLock::new();
        CELL.get_or_init(GoUserAuth::build)
    }

    fn build() -> GoUserAuth {
        let goroot = super::go_bin_dir()
            .parent()
            .expect("GOROOT/bin has a parent")
            .to_path_buf();
        let auth = goroot.join("src/cmd/go/internal/auth");
        let mut program = MAIN.to_string();
        for (file, start) in PIECES {
            let text = std::fs::read_to_string(auth.join(file)).unwrap_or_else(|e| {
                panic!(
                    "reading {}: {e}; run install/test-deps.sh",
                    auth.join(file).display()
                )
            });
            program.push_str(&extract(&text, start, file));
            program.push('\n');
        }
        let dir = super::temp_dir("gocred-go-userauth-");
        std::fs::write(dir.path().join("main.go"), program).expect("writing main.go");
        let bin = dir.path().join("userauth");
        let gocache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocred-test-cache/gocache");
        let home = dir.path().join("home");
        super::mkdir(&home);
        let out = Command::new(super::go_bin_dir().join("go"))
            .args(["build", "-o"])
            .arg(&bin)
            .arg("main.go")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOCACHE", &gocache)
            .stdin(Stdio::null())
            .output()
            .expect("running go build");
        super::assert_success(&out, "go build of the parseUserAuth probe");
        GoUserAuth { bin, _dir: dir }
    }

    /// What Go makes of `output`, and which headers it attaches to each of `urls`.
    pub fn check(&self, output: &[u8], urls: &[&str]) -> GoParse {
        let out = super::run_with_stdin(Command::new(&self.bin).args(urls), output);
        super::assert_success(&out, "the parseUserAuth probe");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "probe output {:?}: {e}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn path(&self) -> &Path {
        &self.bin
    }
}
