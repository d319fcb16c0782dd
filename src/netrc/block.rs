//! The managed block: gocred's entries between two marker lines, at the top of the file.
//!
//! ```text
//! # >>> gocred ci 3f9c0a1e2b4d5e6f - managed block, removed by gocred ci wipe >>>
//! machine git.corp.example login x-access-token password ghs_…
//! # <<< gocred ci 3f9c0a1e2b4d5e6f <<<
//! …the user's file, byte for byte…
//! ```
//!
//! Marker lines start with `#` in column 0 and hold no netrc keyword in any case: curl
//! reads them as comments, and Go, which has no comments, pairs their words harmlessly (no word is
//! a keyword, so nothing is set and parsing never stops). The block goes at the very top: both
//! readers take the first match, and it precedes any `default` (where Go stops) or `macdef`. Each
//! `ci netrc` run has its own block id, so concurrent runs stack blocks and each wipe removes
//! exactly its own. [`check_insert`] proves, on the bytes about to be written, that both readers
//! see our entries and see the user's entries exactly as before.

use std::collections::BTreeSet;

use super::{curl, go, is_keyword, Entry, EntryError, FileBytes};
use crate::secret::ExposeSecret;

const BEGIN: &str = "# >>> gocred ci ";
const BEGIN_TAIL: &str = " - managed block, removed by gocred ci wipe >>>";
const END: &str = "# <<< gocred ci ";
const END_TAIL: &str = " <<<";

/// A block id: 1–64 of `[A-Za-z0-9_-]`, not a netrc keyword (it appears in the marker lines).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(String);

impl BlockId {
    pub fn parse(s: &str) -> Result<BlockId, String> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if s.is_empty() || s.len() > 64 || !ok_chars {
            return Err(format!(
                "`{}` is not a lease id: use 1-64 letters, digits, `-` or `_`",
                crate::protocol::escape_for_display(s)
            ));
        }
        if is_keyword(s.as_bytes()) {
            return Err(format!("`{s}` is a netrc keyword; choose another lease id"));
        }
        Ok(BlockId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The block's bytes: begin marker, one line per entry, end marker.
pub fn render(id: &BlockId, entries: &[Entry]) -> Result<FileBytes, EntryError> {
    let mut out = FileBytes::default();
    out.extend(format!("{BEGIN}{id}{BEGIN_TAIL}\n").as_bytes());
    for e in entries {
        out.extend(e.line()?.as_slice());
    }
    out.extend(format!("{END}{id}{END_TAIL}\n").as_bytes());
    Ok(out)
}

/// The new file: the block, then the original bytes untouched.
pub fn insert(original: &[u8], block: &FileBytes) -> FileBytes {
    let mut out = FileBytes::new(Vec::with_capacity(block.len() + original.len()));
    out.extend(block.as_slice());
    out.extend(original);
    out
}

/// Lines of `data` with their byte ranges (terminator included).
fn line_spans(data: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            spans.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < data.len() {
        spans.push((start, data.len()));
    }
    spans
}

/// A line without its `\n` and one optional `\r` (an editor may have converted the file).
fn bare(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn begin_id(line: &[u8]) -> Option<BlockId> {
    let rest = bare(line).strip_prefix(BEGIN.as_bytes())?;
    let rest = std::str::from_utf8(rest).ok()?;
    let id = rest.strip_suffix(BEGIN_TAIL)?;
    BlockId::parse(id).ok()
}

fn is_end(line: &[u8], id: &BlockId) -> bool {
    bare(line) == format!("{END}{id}{END_TAIL}").as_bytes()
}

/// Ids of every gocred block in the file, in order.
pub fn ids(data: &[u8]) -> Vec<BlockId> {
    line_spans(data)
        .into_iter()
        .filter_map(|(s, e)| begin_id(&data[s..e]))
        .collect()
}

/// What [`remove`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    NotFound,
    Removed {
        content: FileBytes,
        /// The end marker was gone (someone edited the block): we removed the begin marker and
        /// the entry lines right after it, and nothing else.
        end_missing: bool,
    },
}

/// Removes block `id` (begin marker to end marker, inclusive); every other byte stays. Should the
/// end marker be gone, only the entry lines right after the begin marker whose password
/// `is_our_token` recognises are removed with it.
pub fn remove(data: &[u8], id: &BlockId, is_our_token: &dyn Fn(&[u8]) -> bool) -> Removal {
    let spans = line_spans(data);
    let Some(b) = spans
        .iter()
        .position(|&(s, e)| begin_id(&data[s..e]).as_ref() == Some(id))
    else {
        return Removal::NotFound;
    };
    let end = spans[b + 1..]
        .iter()
        .position(|&(s, e)| is_end(&data[s..e], id) || begin_id(&data[s..e]).is_some())
        .map(|k| b + 1 + k)
        .filter(|&k| is_end(&data[spans[k].0..spans[k].1], id));
    let (last, end_missing) = match end {
        Some(k) => (k, false),
        None => {
            // Only what is unmistakably ours: lines of exactly our entry form.
            let ours = spans[b + 1..]
                .iter()
                .take_while(|&&(s, e)| our_entry_line(&data[s..e], is_our_token))
                .count();
            (b + ours, true)
        }
    };
    let mut content = FileBytes::new(Vec::with_capacity(data.len()));
    content.extend(&data[..spans[b].0]);
    content.extend(&data[spans[last].1..]);
    Removal::Removed {
        content,
        end_missing,
    }
}

fn our_entry_line(line: &[u8], is_our_token: &dyn Fn(&[u8]) -> bool) -> bool {
    let f = go::fields(bare(line));
    f.len() == 6
        && f[0] == b"machine"
        && f[2] == b"login"
        && f[4] == b"password"
        && is_our_token(f[5])
}

/// Proves that writing `new` (= block + `original`) is safe: Go and curl read each of `entries`
/// for its host, Go reads the user's entries unchanged after ours, and curl answers every other
/// host it could be asked about exactly as it did with `original`. The message names hosts only.
pub fn check_insert(original: &[u8], new: &[u8], entries: &[Entry]) -> Result<(), String> {
    let ours: Vec<go::GoEntry> = entries
        .iter()
        .map(|e| go::GoEntry {
            machine: e.machine.as_bytes().to_vec(),
            login: e.login.as_bytes().to_vec(),
            password: e.password.expose_secret().as_bytes().to_vec(),
        })
        .collect();
    let mut expected = ours.clone();
    expected.extend(go::parse(original));
    if go::parse(new) != expected {
        return Err("Go would not read the file as intended".into());
    }
    for e in &ours {
        let host = String::from_utf8_lossy(&e.machine);
        let want = curl::Lookup::Match {
            login: Some(e.login.clone()),
            password: Some(e.password.clone()),
        };
        if curl::lookup(new, &host) != want {
            return Err(format!(
                "git (libcurl) would not read the entry for {host}; the existing file may not \
                 parse for curl (an unterminated quote?)"
            ));
        }
    }
    // curl compares a host only with a token in the place after `machine`: those of either
    // file are every host whose answer can change; any other host answers as the sentinel does.
    let mut others: BTreeSet<Vec<u8>> = [original, new]
        .into_iter()
        .flat_map(curl::machine_names)
        .filter(|t| !t.is_empty() && t.len() <= 253)
        .collect();
    others.insert(b"gocred-check.invalid".to_vec());
    for host in others {
        if ours.iter().any(|e| e.machine.eq_ignore_ascii_case(&host)) {
            continue;
        }
        let host = String::from_utf8_lossy(&host);
        if curl::lookup(new, &host) != curl::lookup(original, &host) {
            return Err(format!(
                "git (libcurl) would read the existing entry for {host} differently"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    fn entry(m: &str, l: &str, p: &str) -> Entry {
        Entry {
            machine: m.into(),
            login: l.into(),
            password: secret(p.into()),
        }
    }

    fn id(s: &str) -> BlockId {
        BlockId::parse(s).unwrap()
    }

    #[test]
    fn ids_are_checked() {
        assert!(BlockId::parse("a1-b_2").is_ok());
        for bad in ["", "a b", "a\n", "default", "MACHINE", &"x".repeat(65), "é"] {
            assert!(BlockId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn markers_hold_no_keyword_and_are_inert() {
        let block = render(&id("abc"), &[]).unwrap();
        for word in go::fields(block.as_slice()) {
            assert!(!is_keyword(word), "{}", String::from_utf8_lossy(word));
        }
        assert!(block
            .as_slice()
            .split(|&b| b == b'\n')
            .all(|l| l.is_empty() || l[0] == b'#'));
        assert_eq!(go::parse(block.as_slice()), vec![]);
        assert_eq!(curl::tokens(block.as_slice()), Vec::<Vec<u8>>::new());
    }

    const USER: &[u8] = b"machine other.example login me password mine\r\n\
default login d password dp\nmacdef init\ncd /\n\nmachine after.example login z password zz";

    #[test]
    fn insert_then_remove_is_byte_exact() {
        let entries = [entry("git.corp.test", "x-access-token", "ghs_1")];
        let block = render(&id("one"), &entries).unwrap();
        let new = insert(USER, &block);
        assert!(new.as_slice().ends_with(USER));
        check_insert(USER, new.as_slice(), &entries).unwrap();
        assert_eq!(
            curl::lookup(new.as_slice(), "GIT.corp.test"),
            curl::Lookup::Match {
                login: Some(b"x-access-token".to_vec()),
                password: Some(b"ghs_1".to_vec())
            }
        );
        assert_eq!(ids(new.as_slice()), vec![id("one")]);
        let Removal::Removed {
            content,
            end_missing,
        } = remove(new.as_slice(), &id("one"), &|_| false)
        else {
            panic!("not found")
        };
        assert!(!end_missing);
        assert_eq!(content.as_slice(), USER);
        assert_eq!(remove(USER, &id("one"), &|_| false), Removal::NotFound);
    }

    #[test]
    fn stacked_blocks_come_off_independently_around_user_edits() {
        let a = render(&id("a"), &[entry("h.example", "u", "pa")]).unwrap();
        let b = render(&id("b"), &[entry("h.example", "u", "pb")]).unwrap();
        let mut content = insert(USER, &a);
        content = insert(content.as_slice(), &b);
        // The user edits between and after the blocks.
        let mut edited = content.as_slice().to_vec();
        let pos = edited.windows(3).position(|w| w == b"# >").unwrap() + 1;
        let pos = pos + edited[pos..].windows(3).position(|w| w == b"# >").unwrap();
        edited.splice(
            pos..pos,
            b"machine mid.example login m password mm\n".iter().copied(),
        );
        edited.extend_from_slice(b"\nmachine end.example login e password ee\n");
        let Removal::Removed { content, .. } = remove(&edited, &id("b"), &|_| false) else {
            panic!()
        };
        let Removal::Removed { content, .. } = remove(content.as_slice(), &id("a"), &|_| false)
        else {
            panic!()
        };
        let mut want = b"machine mid.example login m password mm\n".to_vec();
        want.extend_from_slice(USER);
        want.extend_from_slice(b"\nmachine end.example login e password ee\n");
        assert_eq!(content.as_slice(), &want[..]);
    }

    #[test]
    fn missing_end_marker_removes_only_our_lines() {
        let block = render(&id("x"), &[entry("h.example", "u", "p")]).unwrap();
        let mut data = insert(b"machine keep.example login k password kk\n", &block)
            .as_slice()
            .to_vec();
        let end = data.windows(5).position(|w| w == b"# <<<").unwrap();
        let nl = end + data[end..].iter().position(|&b| b == b'\n').unwrap() + 1;
        data.drain(end..nl);
        let Removal::Removed {
            content,
            end_missing,
        } = remove(&data, &id("x"), &|t| t == b"p")
        else {
            panic!()
        };
        assert!(end_missing);
        assert_eq!(
            content.as_slice(),
            b"machine keep.example login k password kk\n"
        );
    }

    #[test]
    fn crlf_markers_are_recognised() {
        let block = render(&id("c"), &[]).unwrap();
        let crlf: Vec<u8> = block
            .as_slice()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .flat_map(|l| [l, b"\r\n"].concat())
            .collect();
        assert!(matches!(
            remove(&crlf, &id("c"), &|_| false),
            Removal::Removed { .. }
        ));
    }

    #[test]
    fn a_file_curl_cannot_parse_is_refused() {
        let entries = [entry("git.corp.test", "u", "p")];
        let broken = b"\"unterminated\nmachine x login y password z\n";
        let new = insert(broken, &render(&id("q"), &entries).unwrap());
        let e = check_insert(broken, new.as_slice(), &entries).unwrap_err();
        assert!(e.contains("git.corp.test"), "{e}");
    }
}
