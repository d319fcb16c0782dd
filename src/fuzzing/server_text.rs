//! Server text shown to the user (an error body's message): one clean line, no secret in it.

use super::Fields;
use crate::http::clean;

/// Properties of `clean`, for a secret (field 0, reduced to token characters) and server text
/// (field 1) in which every ASCII Record Separator (0x1e) is replaced by the secret as a word:
/// - the result is one line of printable ASCII (plus `…`), at most 200 characters;
/// - a token-shaped secret (a GitHub/GitLab prefix, or 32+ token characters) set apart by
///   spaces never survives, wherever it stands in the text.
pub fn server_text(data: &[u8]) {
    let f = Fields::split(data);
    let body: String = f
        .text(0)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let text = f.text(1);
    let alnum: String = body.chars().filter(char::is_ascii_alphanumeric).collect();
    let shaped = if alnum.len() >= 32 {
        alnum
    } else {
        format!("ghs_{body}")
    };
    let with = text.replace('\u{1e}', &format!(" {shaped} "));
    let out = clean(&with);
    assert!(out.chars().count() <= 200);
    assert!(
        out.chars()
            .all(|c| c == ' ' || c == '…' || c.is_ascii_graphic()),
        "{out:?}"
    );
    // Only where the text does not already glue the secret to other characters.
    let stripped: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.contains('\u{1e}') && !stripped.contains(&shaped) && !body.is_empty() {
        assert!(!out.contains(&shaped), "secret survived: {out:?}");
    }
}
