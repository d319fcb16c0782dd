//! Go's `path.Match` (go:path/match.go, go1.27.3), the glob matcher under GOPRIVATE and the
//! rules' path globs. It keeps Go's structure (`scanChunk`, `matchChunk`, `getEsc`) so that its
//! corner cases come out the same: byte-wise literals, rune-wise `?` and `[...]`, `*` never
//! crossing `/`, and whole-pattern validation that reports a malformed pattern even after a
//! failed match. Pure code, std only.

/// `path.ErrBadPattern`: the pattern is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

impl std::error::Error for BadPattern {}

/// Go's path.Match, byte-wise. Err(BadPattern) when the pattern is malformed
/// (Go validates the whole pattern, also after a failed match).
///
/// Syntax: `*` matches any run of non-`/` characters, `?` one non-`/`
/// character, `[...]` / `[^...]` a character class of single characters and
/// `lo-hi` ranges, `\c` the character `c`. The whole name must match.
/// Literals are compared byte by byte; `?` and classes consume one UTF-8
/// rune, where a byte that does not start a valid sequence counts as U+FFFD
/// of width 1. As in Go, a `*` retries the rest of the pattern at every
/// *byte* offset, so the retry may start inside a multi-byte character
/// (`*[^é]` matches `é`).
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    match_bytes(pattern.as_bytes(), name.as_bytes())
}

fn match_bytes(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // Trailing * matches the rest of the name unless it has a '/'.
            return Ok(!name.contains(&b'/'));
        }
        // Look for a match at the current position. If this is the last
        // chunk, it must exhaust the name.
        if let Some(t) = match_chunk(chunk, name)? {
            if t.is_empty() || !pattern.is_empty() {
                name = t;
                continue;
            }
        }
        if star {
            // Look for a match skipping i+1 bytes; the star cannot skip '/'.
            let here = name;
            for (i, &b) in here.iter().enumerate() {
                if b == b'/' {
                    break;
                }
                if let Some(t) = match_chunk(chunk, &here[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
            }
        }
        // Before returning false, check that the rest of the pattern is
        // syntactically valid.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the next segment of `pattern`: a non-star string, possibly
/// preceded by stars. Returns (star, chunk, rest).
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // A trailing '\' is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &[])
}

/// Checks whether `chunk` (literals, classes and `?`, no `*`) matches the
/// beginning of `s`; `Ok(Some(rest of s))` when it does. The whole chunk is
/// parsed even after the match has failed, so a malformed chunk is always
/// reported.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, BadPattern> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed = failed || s.is_empty();
        match c {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (decoded, n) = decode_rune(s);
                    r = decoded;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.first() == Some(&b']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    // get_esc never leaves `chunk` empty.
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    matched = matched || (lo <= r && r <= hi);
                    ranges += 1;
                }
                failed = failed || matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    failed = chunk[0] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Reads one possibly-escaped character of a class. Fails on an empty
/// chunk, an unescaped `-` or `]`, an invalid UTF-8 byte, or when nothing
/// follows the character (the class is unterminated).
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode_rune(chunk);
    if r == RUNE_ERROR && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

/// U+FFFD, Go's `utf8.RuneError`.
const RUNE_ERROR: u32 = 0xFFFD;

/// Go's `utf8.DecodeRune`: the first rune of `s` and its width;
/// `(RUNE_ERROR, 1)` for a byte that does not start a valid, complete UTF-8
/// sequence (Go and Rust agree on validity: no overlongs, no surrogates,
/// nothing above U+10FFFF), `(RUNE_ERROR, 0)` for an empty slice.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    let width = match s.first() {
        None => return (RUNE_ERROR, 0),
        Some(&b) if b < 0x80 => return (u32::from(b), 1),
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        Some(_) => return (RUNE_ERROR, 1),
    };
    s.get(..width)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.chars().next())
        .map_or((RUNE_ERROR, 1), |c| (u32::from(c), width))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(pattern: &str, name: &str) -> Result<bool, BadPattern> {
        path_match(pattern, name)
    }

    /// Go's own path.Match table (go:path/match_test.go) and more.
    #[test]
    fn path_match_cases() {
        let ok: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
            // Empty pattern and name.
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("**", "a", true),
            ("*/", "a/", true),
            ("?", "", false),
            ("?", "/", false),
            ("[^a]", "/", true),
            // Classes: '^' only negates first, '*' and '?' are literal inside.
            ("[a^]", "^", true),
            ("[^^]", "^", false),
            ("[*]", "*", true),
            ("[*]", "a", false),
            ("a[*]*", "a*bc", true),
            ("[?]", "a", false),
            ("[a-cx-z]", "y", true),
            ("[a-cx-z]", "d", false),
            ("[é]", "é", true),
            ("[^é]", "é", false),
            ("[é-і]", "ж", true),
            ("[\\é]", "é", true),
            // Escapes outside classes.
            ("\\a", "a", true),
            ("\\\\", "\\", true),
            ("\\?", "a", false),
            ("\\[", "[", true),
            ("\\é", "é", true),
            // Case-sensitive, whole-string.
            ("ABC", "abc", false),
            ("ab", "abc", false),
            // Multi-byte runes: '?' takes one rune, literals are bytes.
            ("?", "é", true),
            ("??", "é", false),
            ("é", "é", true),
            ("*é", "aé", true),
            // Go retries after '*' at every byte offset, including inside
            // a multi-byte rune, where the stray byte decodes as U+FFFD.
            ("*[^é]", "é", true),
            ("[^é]", "é", false),
            ("*[\u{FFFD}]", "é", true),
            ("*?", "é", true),
            ("*??", "é", false),
            // ... so "*??" (two runes) matches one 3-byte rune: the star
            // skips its lead byte, each '?' takes one stray byte.
            ("*??", "☺", true),
            ("??", "☺", false),
        ];
        for &(pattern, name, want) in ok {
            assert_eq!(pm(pattern, name), Ok(want), "Match({pattern:?}, {name:?})");
        }
    }

    #[test]
    fn path_match_bad_patterns() {
        let bad: &[(&str, &str)] = &[
            ("[]a]", "]"),
            ("[-]", "-"),
            ("[x-]", "x"),
            ("[x-]", "-"),
            ("[x-]", "z"),
            ("[-x]", "x"),
            ("[-x]", "-"),
            ("[-x]", "a"),
            ("\\", "a"),
            ("\\", ""),
            ("a\\", "a"),
            ("[a-b-c]", "a"),
            ("[", "a"),
            ("[", ""),
            ("[^", "a"),
            ("[^]", "a"),
            ("[^bc", "a"),
            ("[a-", "a"),
            ("[a-\\", "a"),
            ("[\\", "a"),
            ("[]", "a"),
            ("a[", "a"),
            ("a[", "ab"),
            ("a[", "x"),
            ("a/b[", "x"),
            ("*[", "a"),
            ("*[", ""),
            ("a*[", "abc"),
            // Validated after a failed match, in any later chunk.
            ("x*[", "abc"),
            ("x*a*\\", "abc"),
            ("b*[a-", "a/b"),
            // ... and even when the match already succeeded chunk-wise.
            ("a[]", "a"),
            ("a*[]", "abc"),
        ];
        for &(pattern, name) in bad {
            assert_eq!(
                pm(pattern, name),
                Err(BadPattern),
                "Match({pattern:?}, {name:?})"
            );
        }
        // Well-formed despite looking odd.
        for pattern in ["]", "-", "^", "[\\]]", "[^\\-]", "[a-a]", "a]", "[é-і]"] {
            assert!(pm(pattern, "").is_ok(), "{pattern:?} is well-formed");
        }
        for pattern in ["[]]]", "[]-]]", "[^-\\-]", "[a-]]"] {
            assert_eq!(
                pm(pattern, "]"),
                Err(BadPattern),
                "{pattern:?} is malformed"
            );
        }
        assert_eq!(BadPattern.to_string(), "syntax error in pattern");
    }

    #[test]
    fn rune_decoding_matches_go() {
        assert_eq!(decode_rune(b""), (RUNE_ERROR, 0));
        assert_eq!(decode_rune(b"a"), (u32::from('a'), 1));
        assert_eq!(decode_rune("é".as_bytes()), (0xE9, 2));
        assert_eq!(decode_rune("😀x".as_bytes()), (0x1F600, 4));
        assert_eq!(decode_rune(&"é".as_bytes()[1..]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[0xE2, 0x98]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[0xC0, 0x80]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[0xED, 0xA0, 0x80]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[0xF4, 0x90, 0x80, 0x80]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[0xFF]), (RUNE_ERROR, 1));
        assert_eq!(decode_rune("\u{FFFD}".as_bytes()), (RUNE_ERROR, 3));
    }
}
