//! Git's credential protocol: plain data plus a small hand-written codec.
//!
//! First box of the `get`/`store`/`erase` flow. [`read_request`] takes the whole of git's stdin,
//! validates it (docs/protocols/git-credential.md) and returns a [`Request`]; [`write_response`] renders
//! the answer. Nothing here reads config or talks to a keyring; nothing here prints. Entry points
//! take `impl BufRead` / `impl Write` so most tests need no process.

mod origin;
mod reader;
mod writer;

pub use origin::{Origin, Scheme};
pub use reader::{normalise_path, read_request, MAX_INPUT, MAX_LINE};
pub use writer::{write_response, Response};

use crate::secret::SecretString;

/// One credential request from git, validated.
#[derive(Debug)]
pub struct Request {
    /// Where the credential would be sent: scheme, lower-cased host, port.
    pub origin: Origin,
    /// `path` as git sent it (only with `credential.useHttpPath`), validated, without query.
    pub path: Option<String>,
    pub username: Option<String>,
    /// The password git holds: present for `store` and `erase`.
    pub password: Option<SecretString>,
    pub password_expiry_utc: Option<u64>,
    /// `capability[]` values git announced that we understand (`authtype`, `state`).
    pub capabilities: Vec<String>,
}

impl Request {
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }
}

/// Why a request was refused. Messages name the attribute, never echo a raw value that could
/// hold control characters or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("line {line} is longer than {MAX_LINE} bytes")]
    LineTooLong { line: usize },
    #[error("input is larger than {MAX_INPUT} bytes")]
    InputTooLarge,
    #[error("line {line} has no '='")]
    NoEquals { line: usize },
    #[error("line {line} has an empty key")]
    EmptyKey { line: usize },
    #[error("line {line} ends with a carriage return (CRLF input is refused)")]
    Crlf { line: usize },
    #[error("`{key}` contains a NUL byte")]
    Nul { key: String },
    #[error("`{key}` contains a carriage return")]
    CarriageReturn { key: String },
    #[error("`{key}` contains a control character")]
    Control { key: String },
    #[error("`{key}` is not valid UTF-8")]
    NotUtf8 { key: String },
    #[error("`{key}` appears more than once")]
    Duplicate { key: String },
    #[error("`url=` together with other fields (it would reset them)")]
    UrlWithFields,
    #[error("malformed url: {0}")]
    BadUrl(&'static str),
    #[error("no protocol")]
    MissingProtocol,
    #[error("no host")]
    MissingHost,
    #[error("host: {0}")]
    BadHost(&'static str),
    #[error("path: {0}")]
    BadPath(&'static str),
    #[error("protocol `{0}` is not https (allow http for one exact host with `allow_http = true` in its rule)")]
    Insecure(String),
    #[error("protocol `{0}` is not supported")]
    UnsupportedProtocol(String),
}

/// Renders untrusted bytes for an error message: printable ASCII as is, everything else escaped,
/// at most 80 characters. Used for names only, never for secret values.
pub fn escape_for_display(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().take(80) {
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    if raw.chars().count() > 80 {
        out.push('…');
    }
    out
}
