//! Go's GOAUTH command protocol (docs/protocols/goauth.md): a pure codec.
//!
//! The first box on Go's side of the flow. `go` runs `gocred goauth` once with no argument and
//! an empty stdin, and again with a request URL and the 4xx response on stdin after a refusal.
//! [`read_challenge`] takes that response (bounded, validated; its content never routes
//! anything, it only has to be well-formed) and [`write_response`] renders the credential sets.
//!
//! Go rejects the *whole* output of a command for one bad line (`parseUserAuth`), so the types
//! make such output unrepresentable: a [`UrlPrefix`] is `https://`, a lower-case host without
//! the default port and ends in `/`; a [`RequestUrl`] is the URL Go passed, accepted only when Go
//! will read it back byte for byte; a [`Header`] has a token name and a value without control
//! characters or edge whitespace; a [`CredentialSet`] has at least one URL and one header (a set
//! with no header would *delete* Go's cached entry); the writer adds the mandatory blank lines.
//! Nothing here reads config, keyrings or the environment.

mod header;
mod reader;
mod url;
mod writer;

pub(crate) use header::{Header, HeaderName};
pub(crate) use reader::{read_challenge, MAX_CHALLENGE};
pub(crate) use url::{RequestUrl, UrlLine, UrlPrefix};
pub(crate) use writer::{write_response, CredentialSet, GoauthResponse};

/// Why a GOAUTH input or output was refused. Never carries a secret, nor a raw URL that could
/// hold user information or control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GoauthError {
    #[error("URL: {0}")]
    BadUrl(String),
    #[error("URL prefix: {0}")]
    BadPrefix(String),
    #[error("header: {0}")]
    BadHeader(&'static str),
    #[error("the response on stdin: {0}")]
    BadChallenge(String),
    #[error("two credential sets for the same URL prefix `{0}`")]
    DuplicatePrefix(String),
}
