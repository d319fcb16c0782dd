//! The fuzzing properties: one function per target, shared by the cargo-fuzz targets in `fuzz/`
//! and by `tests/it/fuzz_corpus.rs`, which replays every committed seed on the stable toolchain.
//!
//! Each function takes the raw fuzzer input, runs the codec or parser on it and panics when a
//! property fails; a clean refusal of bad input is never a failure. Keeping the properties here,
//! in the library, means there is one copy of each and the fuzz crate's targets are one line.
//! Targets that need several inputs (a secret and the text that may echo it, a netrc file and the
//! entries written into it) split their input into fields at [`SEP`]: a byte the parsers under
//! test treat like any other control character, so giving it up costs no coverage, while seed
//! files stay readable and hand-written. Not a public API: hidden from the docs and free to change.

mod config;
mod goauth;
mod netrc;
mod protocol;
mod scope;
mod server_text;

pub use config::config_parse;
pub use goauth::{goauth_stdin, goauth_url};
pub use netrc::{netrc_block, netrc_curl, netrc_go};
pub use protocol::protocol_reader;
pub use scope::scope_patterns;
pub use server_text::server_text;

/// ASCII Unit Separator: splits a structured target's input into fields.
pub const SEP: u8 = 0x1f;

/// A property: panics when it fails for this input.
pub type Property = fn(&[u8]);

/// Every target by name (the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`).
pub const TARGETS: &[(&str, Property)] = &[
    ("protocol_reader", protocol_reader),
    ("goauth_stdin", goauth_stdin),
    ("goauth_url", goauth_url),
    ("netrc_go", netrc_go),
    ("netrc_curl", netrc_curl),
    ("netrc_block", netrc_block),
    ("config_parse", config_parse),
    ("scope_patterns", scope_patterns),
    ("server_text", server_text),
];

/// The fields of a structured input; missing fields read as empty.
pub(crate) struct Fields<'a>(Vec<&'a [u8]>);

impl<'a> Fields<'a> {
    pub(crate) fn split(data: &'a [u8]) -> Fields<'a> {
        Fields(data.split(|&b| b == SEP).collect())
    }

    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        self.0.get(i).copied().unwrap_or(b"")
    }

    pub(crate) fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }

    /// Fields `from..`, as given.
    pub(crate) fn rest(&self, from: usize) -> &[&'a [u8]] {
        self.0.get(from..).unwrap_or(&[])
    }
}

/// What gocred may print about bad input: no control character (a terminal escape, a forged
/// line) can come from the input into a message.
pub(crate) fn assert_printable(what: &str, msg: &str) {
    assert!(
        !msg.chars().any(char::is_control),
        "{what} message holds a control character: {msg:?}"
    );
}
