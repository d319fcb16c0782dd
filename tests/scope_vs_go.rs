//! Differential test: `gocred::scope` against the real Go toolchain.
//!
//! At test time this builds a tiny Go program holding a verbatim copy of
//! `module.MatchPrefixPatterns`, extracted from the installed GOROOT
//! (`src/cmd/vendor/golang.org/x/mod/module/module.go`), plus the standard
//! library's `path.Match`. It feeds the program a few thousand cases (the
//! spec §2.2 table, hand-picked edge cases, deterministic pseudo-random
//! cases) and requires our `Patterns::matches` and `path_match` to give the
//! same answer as Go on every one.
//!
//! Go is found through `GOCRED_TEST_GO`, else the venv that
//! `install/test-deps.sh` creates, else `go` on PATH. No Go is a failure,
//! not a skip.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gocred::scope::{path_match, BadPattern, Patterns};

const INSTALL_HINT: &str = "run install/test-deps.sh (it installs Go into \
     ~/.cache/gocred-test/go-venv), or point GOCRED_TEST_GO at a go binary";

/// Where the module source lives inside GOROOT.
const MODULE_GO: &str = "src/cmd/vendor/golang.org/x/mod/module/module.go";

// ---------------------------------------------------------------------------
// Locating and running Go.

fn find_go() -> PathBuf {
    if let Some(explicit) = std::env::var_os("GOCRED_TEST_GO").filter(|v| !v.is_empty()) {
        let go = PathBuf::from(explicit);
        assert!(
            go.is_file(),
            "GOCRED_TEST_GO={} is not a file; {INSTALL_HINT}",
            go.display()
        );
        return go;
    }
    let mut candidates = Vec::new();
    if let Some(venv) = std::env::var_os("GOCRED_GO_VENV").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(venv).join("bin/go"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(home).join(".cache/gocred-test/go-venv/bin/go"));
    }
    candidates.push(PathBuf::from("/root/.cache/gocred-test/go-venv/bin/go"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("go")));
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .unwrap_or_else(|| panic!("no Go toolchain found; {INSTALL_HINT}"))
}

/// Runs Go hermetically: local toolchain only, no proxy, no GOFLAGS, a
/// throw-away HOME (so no `go env -w` file applies) and the build cache
/// shared by the whole test run under the cargo target dir.
struct GoEnv {
    go: PathBuf,
    home: PathBuf,
    gocache: PathBuf,
}

impl GoEnv {
    fn command(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.go);
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", &self.home)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOCACHE", &self.gocache);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} {args:?}: {e}; {INSTALL_HINT}",
                self.go.display()
            )
        });
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\n{}{}",
            self.go.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// `func MatchPrefixPatterns` ... closing `}` at column 0, verbatim.
fn extract_match_prefix_patterns(module_go: &str) -> String {
    let mut lines = module_go.lines();
    let mut func = String::new();
    for line in lines.by_ref() {
        if line.starts_with("func MatchPrefixPatterns(") {
            func.push_str(line);
            func.push('\n');
            break;
        }
    }
    assert!(
        !func.is_empty(),
        "no func MatchPrefixPatterns in {MODULE_GO}"
    );
    for line in lines {
        func.push_str(line);
        func.push('\n');
        if line == "}" {
            return func;
        }
    }
    panic!("func MatchPrefixPatterns in {MODULE_GO} has no closing brace at column 0");
}

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

/// Spec §2.2 edge-case table (globs, target).
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
    let go = find_go();
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target_dir = target_tmp.parent().unwrap_or(target_tmp);
    let gocache = target_dir.join("gocred-test-cache").join("gocache");
    fs::create_dir_all(&gocache).expect("create GOCACHE");
    fs::create_dir_all(target_tmp).expect("create CARGO_TARGET_TMPDIR");
    let work = tempfile::Builder::new()
        .prefix("scope-vs-go-")
        .tempdir_in(target_tmp)
        .expect("temp dir");
    let home = work.path().join("home");
    let src = work.path().join("probe");
    fs::create_dir_all(&home).expect("create HOME");
    fs::create_dir_all(&src).expect("create probe dir");
    let env = GoEnv { go, home, gocache };

    let goroot_out = env.command(&src, &["env", "GOROOT"]);
    let goroot = PathBuf::from(String::from_utf8_lossy(&goroot_out.stdout).trim());
    let module_go = goroot.join(MODULE_GO);
    let module_src = fs::read_to_string(&module_go)
        .unwrap_or_else(|e| panic!("read {}: {e}", module_go.display()));
    let func = extract_match_prefix_patterns(&module_src);

    fs::write(src.join("go.mod"), "module gocredprobe\n\ngo 1.21\n").expect("write go.mod");
    fs::write(src.join("main.go"), format!("{PROBE_MAIN}{func}")).expect("write main.go");
    env.command(&src, &["build", "-o", "probe", "."]);

    let cases = corpus();
    let input: String = cases.iter().map(Case::probe_line).collect();
    let input_path = work.path().join("cases.txt");
    fs::write(&input_path, input).expect("write cases");
    let stdin = fs::File::open(&input_path).expect("open cases");
    let out = Command::new(src.join("probe"))
        .stdin(stdin)
        .output()
        .expect("run probe");
    assert!(
        out.status.success(),
        "probe failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("probe output is UTF-8");
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
        extract_match_prefix_patterns(src),
        "func MatchPrefixPatterns(globs, target string) bool {\n\tif x {\n\t}\n\treturn false\n}\n"
    );
}
