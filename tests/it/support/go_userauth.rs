//! Go's own GOAUTH output parser, built at test time from the installed GOROOT.
//!
//! A tiny Go program holds verbatim copies of `parseUserAuth` and `mapHeadersToPrefixes`
//! (cmd/go/internal/auth/userauth.go), the header checks they use (httputils.go) and
//! `storeCredential`/`loadCredential` (auth.go), extracted and built by `go_probe`.
//! [`GoUserAuth::check`] feeds it a GOAUTH command's stdout and request URLs, and reports what
//! Go itself makes of it: the error that voids the output, or the cached prefixes and, per
//! URL, the headers Go would attach.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

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

/// `(file under GOROOT, declaration start)`.
const PIECES: &[(&str, &str)] = &[
    (
        "src/cmd/go/internal/auth/userauth.go",
        "func parseUserAuth(",
    ),
    (
        "src/cmd/go/internal/auth/userauth.go",
        "func mapHeadersToPrefixes(",
    ),
    (
        "src/cmd/go/internal/auth/httputils.go",
        "var isTokenTable = ",
    ),
    ("src/cmd/go/internal/auth/httputils.go", "func isLWS("),
    ("src/cmd/go/internal/auth/httputils.go", "func isCTL("),
    (
        "src/cmd/go/internal/auth/httputils.go",
        "func validHeaderFieldName(",
    ),
    (
        "src/cmd/go/internal/auth/httputils.go",
        "func validHeaderFieldValue(",
    ),
    ("src/cmd/go/internal/auth/auth.go", "func loadCredential("),
    ("src/cmd/go/internal/auth/auth.go", "func storeCredential("),
];

impl GoUserAuth {
    /// Built once per test process.
    pub fn get() -> &'static GoUserAuth {
        static CELL: OnceLock<GoUserAuth> = OnceLock::new();
        CELL.get_or_init(GoUserAuth::build)
    }

    fn build() -> GoUserAuth {
        GoUserAuth {
            bin: super::go_probe::build("go-userauth", MAIN, PIECES),
        }
    }

    /// What Go makes of `output`, and which headers it attaches to each of `urls`.
    pub fn check(&self, output: &[u8], urls: &[&str]) -> GoParse {
        let out = super::go_probe::run(&self.bin, urls, output);
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("probe output {:?}: {e}", String::from_utf8_lossy(&out)))
    }
}
