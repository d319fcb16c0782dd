//! One error type for the whole tool.
//!
//! Sits at the end of every flow: commands return `Result<_, Error>`, `main` prints the message once
//! and the hint (what to do next) on its own line, then exits with [`Error::exit_code`]. "Not mine,
//! let the next helper try" is *not* an error: the route says that (`settings::Route::NoRule`).
//! No variant ever carries a secret: messages are built from names, paths and exit statuses only.

use std::io;
use std::path::PathBuf;

use crate::protocol::ProtocolError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or arguments (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A credential request we refuse to answer.
    #[error("refused credential request: {0}")]
    Protocol(#[from] ProtocolError),
    /// The config file is unreadable, malformed or unsafe.
    #[error("config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    /// No usable keyring, or the keyring said no.
    #[error("keyring: {message}")]
    Keyring { message: String, hint: String },
    /// A credential source failed (missing variable, failing command, …).
    #[error("{kind} source for {rule}: {message}")]
    Source {
        kind: &'static str,
        rule: String,
        message: String,
        hint: Option<String>,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// `ci exec`: the command's own exit status, passed through (already explained on stderr).
    #[error("the command exited with status {0}")]
    ChildStatus(u8),
    /// Anything else the user can act on.
    #[error("{message}")]
    Other {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn other(message: impl Into<String>) -> Error {
        Error::Other {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Other {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// What the user should do next, printed on its own line after the message.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Keyring { hint, .. } => Some(hint),
            Error::Source { hint, .. } | Error::Other { hint, .. } => hint.as_deref(),
            Error::Config { .. } => {
                Some("fix the file, then check it with `gocred explain <module>`")
            }
            Error::Usage(_) | Error::Protocol(_) | Error::Io { .. } | Error::ChildStatus(_) => None,
        }
    }

    /// 2 for usage errors, 1 for everything the user can act on
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::ChildStatus(code) => i32::from(*code),
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
