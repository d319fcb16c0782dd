//! The two netrc models (Go's `parseNetrc`, libcurl 7.88's reader) and the managed block that
//! `gocred ci` writes with them.

use super::Fields;
use crate::netrc::block::{check_insert, ids, insert, remove, render, BlockId, Removal};
use crate::netrc::{all_words, curl, go, Entry};
use crate::secret::{secret, ExposeSecret};

/// Properties of Go's model on any bytes:
/// - entries have a non-empty machine, login and password, each one whitespace-free word;
///   `parse_located` gives the same entries, each on a real line;
/// - lookup returns the first entry with that machine;
/// - the reader is online: the entries of a prefix cut at a line end are a prefix of the whole
///   file's, and appending an empty line or a `default` line adds none;
/// - every password Go can read is among `all_words` (what `ci wipe` searches).
pub fn netrc_go(data: &[u8]) {
    let entries = go::parse(data);
    let located = go::parse_located(data);
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    assert_eq!(entries.len(), located.len());
    let words: std::collections::HashSet<Vec<u8>> = all_words(data).into_iter().collect();
    for (e, (l, n)) in entries.iter().zip(&located) {
        assert!(e == l && (1..=lines).contains(n));
        for w in [&e.machine, &e.login, &e.password] {
            assert_eq!(go::fields(w), vec![&w[..]], "not one word");
        }
        if let Ok(m) = std::str::from_utf8(&e.machine) {
            let first = entries.iter().find(|x| x.machine == e.machine);
            assert_eq!(go::lookup(&entries, m), first);
        }
        assert!(
            words.contains(&e.password),
            "password missing from all_words"
        );
    }
    // Cut at up to 8 line ends spread over the file (each cut is a whole parse).
    let ends: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let step = ends.len().div_ceil(8).max(1);
    for &nl in ends.iter().step_by(step) {
        let head = go::parse(&data[..nl]);
        assert!(entries.starts_with(&head), "not online at {nl}");
    }
    for tail in [&b"\n"[..], b"\ndefault\nmachine z login z password z\n"] {
        let more = [data, tail].concat();
        assert_eq!(go::parse(&more), entries, "{tail:?}");
    }
}

/// Properties of curl's model. Fields: the host asked for, then the file (all the rest).
/// - `lookup` and `locate` agree; a match has a place on real lines, a miss has none;
/// - host names compare ASCII-case-insensitively;
/// - a match needs the host (any case) or `default` among the file's tokens, and the login and
///   password found are tokens of the file (what `ci wipe` searches).
pub fn netrc_curl(data: &[u8]) {
    let (host, file) = match data.iter().position(|&b| b == super::SEP) {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => ("git.corp.test".to_string(), data),
    };
    let (found, place) = curl::locate(file, &host);
    assert_eq!(curl::lookup(file, &host), found);
    assert_eq!(curl::lookup(file, &host.to_ascii_uppercase()), found);
    assert_eq!(curl::lookup(file, &host.to_ascii_lowercase()), found);
    let lines = file.iter().filter(|&&b| b == b'\n').count() + 1;
    let tokens = curl::tokens(file);
    match &found {
        curl::Lookup::Match { login, password } => {
            let p = place.expect("a match has a place");
            assert!(1 <= p.first_line && p.first_line <= p.last_line && p.last_line <= lines);
            assert!(tokens
                .iter()
                .any(|t| t.eq_ignore_ascii_case(host.as_bytes())
                    || t.eq_ignore_ascii_case(b"default")));
            for v in [login, password].into_iter().flatten() {
                assert!(v.is_empty() || tokens.contains(v), "value is not a token");
            }
        }
        curl::Lookup::NoMatch | curl::Lookup::SyntaxError => assert!(place.is_none()),
    }
    let _ = all_words(file);
}

/// An independent statement of what writing `new` must achieve: Go reads our entries then the
/// user's unchanged; both readers give each of our hosts (any case, for curl) its entry; curl
/// reads every other host that appears in the user's file exactly as before.
fn reads_as_intended(user: &[u8], new: &[u8], entries: &[Entry]) -> bool {
    let ours: Vec<go::GoEntry> = entries
        .iter()
        .map(|e| go::GoEntry {
            machine: e.machine.clone().into_bytes(),
            login: e.login.clone().into_bytes(),
            password: e.password.expose_secret().as_bytes().to_vec(),
        })
        .collect();
    let parsed = go::parse(new);
    if parsed != [ours.clone(), go::parse(user)].concat() {
        return false;
    }
    for e in &ours {
        let host = String::from_utf8_lossy(&e.machine).into_owned();
        if go::lookup(&parsed, &host) != Some(e) {
            return false;
        }
        let want = curl::Lookup::Match {
            login: Some(e.login.clone()),
            password: Some(e.password.clone()),
        };
        for h in [host.clone(), host.to_ascii_uppercase()] {
            if curl::lookup(new, &h) != want {
                return false;
            }
        }
    }
    // curl compares a host only with the token that follows a `machine` keyword, so those
    // tokens (of either file) are every host whose answer can differ; any other host answers as
    // the two names no file here has in that place.
    let mut others = [machine_names(user), machine_names(new)].concat();
    others.extend([
        b"gocred-check.invalid".to_vec(),
        b"gocred-other.invalid".to_vec(),
    ]);
    others.sort();
    others.dedup();
    others.into_iter().all(|t| {
        let t = String::from_utf8_lossy(&t);
        ours.iter()
            .any(|e| e.machine.eq_ignore_ascii_case(t.as_bytes()))
            || curl::lookup(new, &t) == curl::lookup(user, &t)
    })
}

/// The tokens in curl's host-name place: each one right after a `machine` keyword, lowercased.
/// Restated from curl's token stream rather than taken from `curl::machine_names`, so the
/// property does not lean on the code it checks.
fn machine_names(file: &[u8]) -> Vec<Vec<u8>> {
    let tokens = curl::tokens(file);
    tokens
        .windows(2)
        .filter(|w| w[0].eq_ignore_ascii_case(b"machine"))
        .map(|w| w[1].to_ascii_lowercase())
        .collect()
}

/// Properties of the managed block. Fields: block id, entry lines (`machine login password`,
/// one per line), then the user's file (all the rest).
/// - rendering refuses exactly the entries whose line is refused;
/// - the new file is the block, then the user's bytes untouched; its block ids are ours then
///   the user's;
/// - `check_insert` accepts exactly when Go and curl read the file as intended (restated here
///   without its limits);
/// - removing the block gives the user's bytes back, byte for byte, also with another block
///   stacked on top; with the end marker gone, only leading lines are taken from the user's
///   file; on any file, removal takes out one run of whole lines and nothing else.
pub fn netrc_block(data: &[u8]) {
    let f = Fields::split(data);
    let user = match data
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == super::SEP)
        .nth(1)
    {
        Some((i, _)) => &data[i + 1..],
        None => b"",
    };
    let Ok(id) = BlockId::parse(&f.text(0)) else {
        return;
    };
    check_removal(user, &id);
    let entries: Vec<Entry> = f
        .text(1)
        .split('\n')
        .filter_map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            [m, l, p] => Some(Entry {
                machine: m.to_string(),
                login: l.to_string(),
                password: secret(p.to_string()),
            }),
            _ => None,
        })
        .collect();
    let block = match render(&id, &entries) {
        Err(_) => return assert!(entries.iter().any(|e| e.line().is_err())),
        Ok(b) => b,
    };
    let new = insert(user, &block);
    let new = new.as_slice();
    assert!(new.starts_with(block.as_slice()) && new.ends_with(user));
    assert_eq!(new.len(), block.len() + user.len());
    assert_eq!(ids(new), [vec![id.clone()], ids(user)].concat());

    let accepted = check_insert(user, new, &entries).is_ok();
    assert_eq!(
        accepted,
        reads_as_intended(user, new, &entries),
        "check_insert"
    );

    let ours = |t: &[u8]| {
        entries
            .iter()
            .any(|e| e.password.expose_secret().as_bytes() == t)
    };
    let Removal::Removed {
        content,
        end_missing,
    } = remove(new, &id, &ours)
    else {
        panic!("our block is not found");
    };
    assert!(!end_missing);
    assert_eq!(content.as_slice(), user, "user bytes not restored");

    if id.as_str().len() <= 62 {
        let id2 = BlockId::parse(&format!("{id}-2")).expect("valid id");
        let block2 = render(&id2, &entries).expect("rendered once already");
        let stacked = insert(new, &block2);
        let Removal::Removed { content, .. } = remove(stacked.as_slice(), &id, &ours) else {
            panic!("stacked block not found");
        };
        assert_eq!(content.as_slice(), insert(user, &block2).as_slice());
        let Removal::Removed { content, .. } = remove(stacked.as_slice(), &id2, &ours) else {
            panic!("top block not found");
        };
        assert_eq!(content.as_slice(), new);
    }

    // The end marker deleted by hand: only our lines and, at most, leading user lines go.
    let end_line = block.as_slice()[..block.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let cut = [&new[..end_line], &new[block.len()..]].concat();
    if let Removal::Removed { content, .. } = remove(&cut, &id, &ours) {
        assert!(user.ends_with(content.as_slice()), "took user bytes");
    } else {
        panic!("begin marker not found");
    }
}

/// On any file: a removal is one contiguous run of whole lines.
fn check_removal(data: &[u8], id: &BlockId) {
    if let Removal::Removed { content, .. } = remove(data, id, &|_| true) {
        let c = content.as_slice();
        assert!(c.len() < data.len());
        let a = c.iter().zip(data).take_while(|(x, y)| x == y).count();
        let a = c[..a]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        assert!(
            data.starts_with(&c[..a]) && data.ends_with(&c[a..]),
            "not one run"
        );
    }
}
