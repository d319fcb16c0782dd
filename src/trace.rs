//! `GOCRED_TRACE`: every decision a request made, for the person whose fetch failed.
//!
//! Off unless the variable is set, like git's `GIT_TRACE`:
//! * `1`, `2`, `true`, `yes`, `on`: lines to stderr (git shows a helper's stderr; Go shows
//!   GOAUTH's with `go -x`);
//! * an absolute path: lines appended to that file, opened without following a symlink and
//!   created 0600;
//! * `0`, `false`, `no`, `off`, empty: off; anything else (a relative path): off, with one
//!   warning line on stderr.
//!
//! Every line is `gocred trace: <UTC time> <what>`, written with one `write` so lines of parallel
//! processes appending to one file do not interleave. A trace line never holds a secret or a
//! user name: a secret is shown as [`secret`] renders it (length and a short SHA-256
//! fingerprint, which a user can compare with `printf %s "$TOKEN" | sha256sum`, and nothing of
//! the value itself). Off, a call site costs one relaxed atomic load; its arguments are not
//! evaluated.
//!
//! This module owns trace output; the call sites are one-liners: [`trace!`](crate::trace!) or
//! one of the helpers below, at the command and routing level.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::protocol::escape_for_display;

use crate::secret::{ExposeSecret, SecretString};

/// The variable's name.
pub(crate) const VAR: &str = "GOCRED_TRACE";

static ON: AtomicBool = AtomicBool::new(false);
static SINK: OnceLock<Sink> = OnceLock::new();

enum Sink {
    Stderr,
    File(File),
}

/// Whether tracing is on (one relaxed load: the whole cost of a call site when it is off).
#[inline]
pub(crate) fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Turns tracing on from the variable's value (`None`: unset). A value that cannot be used
/// (a relative path, a file that cannot be opened) leaves it off and says so on `err`, once.
pub(crate) fn init(value: Option<&OsStr>, err: &mut dyn Write) {
    let Some(value) = value else { return };
    let sink = match value.to_str().map(str::to_ascii_lowercase).as_deref() {
        Some("" | "0" | "false" | "no" | "off") => return,
        Some("1" | "2" | "true" | "yes" | "on") => Sink::Stderr,
        _ => {
            let path = std::path::Path::new(value);
            if !path.is_absolute() {
                let _ = writeln!(
                    err,
                    "gocred: warning: {VAR}={} is not an absolute path, tracing is off; \
                     use {VAR}=1 (stderr) or {VAR}=/absolute/path",
                    escape_for_display(&value.to_string_lossy())
                );
                return;
            }
            match open_append(path) {
                Ok(f) => Sink::File(f),
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "gocred: warning: cannot open {VAR} file {}: {e}; tracing is off",
                        escape_for_display(&path.to_string_lossy())
                    );
                    return;
                }
            }
        }
    };
    if SINK.set(sink).is_ok() {
        ON.store(true, Ordering::Relaxed);
    }
}

fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    let mut open = std::fs::OpenOptions::new();
    open.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY);
    }
    let f = open.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Writes one trace line (use [`trace!`](crate::trace!), which checks [`enabled`] first).
pub(crate) fn emit(args: fmt::Arguments) {
    let Some(sink) = SINK.get() else { return };
    let mut line = format!("gocred trace: {} ", Timestamp(std::time::SystemTime::now()));
    let _ = fmt::write(&mut line, args);
    line.push('\n');
    let _ = match sink {
        Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
        Sink::File(f) => (&*f).write_all(line.as_bytes()),
    };
}

/// `gocred trace: <time> <format args>`, when tracing is on; the arguments are not evaluated
/// when it is off.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::trace::enabled() {
            $crate::trace::emit(format_args!($($arg)*))
        }
    };
}

/// `2026-12-02T16:21:16.123456Z`: UTC, to the microsecond (GIT_TRACE's precision).
struct Timestamp(std::time::SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let d = self
            .0
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        write!(f, "{}.{:06}Z", UtcSecs(d.as_secs()), d.subsec_micros())
    }
}

/// `2026-12-02T16:21:16` (UTC; the trace's time, and absolute expiry times).
struct UtcSecs(u64);

impl fmt::Display for UtcSecs {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match i64::try_from(self.0)
            .ok()
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        {
            Some(t) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            None => write!(f, "@{}", self.0),
        }
    }
}

/// How a secret appears in a trace: `<redacted, 40 bytes, fingerprint sha256:0123456789ab>`.
/// The fingerprint is the first 12 hex digits of the value's SHA-256: enough to tell two tokens
/// apart, nothing of the value itself.
pub(crate) fn secret(s: &SecretString) -> impl fmt::Display + '_ {
    struct Redacted<'a>(&'a SecretString);
    impl fmt::Display for Redacted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            use sha2::Digest;
            let value = self.0.expose_secret().as_bytes();
            let digest = sha2::Sha256::digest(value);
            write!(f, "<redacted, {} bytes, fingerprint sha256:", value.len())?;
            digest[..6].iter().try_for_each(|b| write!(f, "{b:02x}"))?;
            write!(f, ">")
        }
    }
    Redacted(s)
}

/// `expires 2026-12-02T17:21:16Z (3599 s left)`, or `does not expire`.
pub(crate) fn expiry(expires_at: Option<u64>) -> String {
    match expires_at {
        None => "does not expire".into(),
        Some(at) => {
            let now = crate::state::now_secs();
            if at > now {
                format!("expires {}Z ({} s left)", UtcSecs(at), at - now)
            } else {
                format!("expired {}Z ({} s ago)", UtcSecs(at), now - at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shows_length_and_fingerprint_only() {
        let s = crate::secret::secret("ghs_0123456789abcdef".into());
        let shown = secret(&s).to_string();
        // sha256("ghs_0123456789abcdef") starts with these 12 hex digits.
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(b"ghs_0123456789abcdef")[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            shown,
            format!("<redacted, 20 bytes, fingerprint sha256:{hex}>")
        );
        assert!(!shown.contains("ghs_"));
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(UtcSecs(0).to_string(), "1970-01-01T00:00:00");
        assert_eq!(UtcSecs(1_796_227_200).to_string(), "2026-12-02T16:00:00");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_500_042);
        assert_eq!(Timestamp(t).to_string(), "1970-01-01T00:00:01.500042Z");
    }

    #[test]
    fn off_values_and_relative_paths() {
        let mut err = Vec::new();
        init(Some(OsStr::new("0")), &mut err);
        init(Some(OsStr::new("false")), &mut err);
        assert!(err.is_empty());
        init(Some(OsStr::new("trace.log")), &mut err);
        let err = String::from_utf8(err).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not an absolute path"), "{err}");
        assert!(!enabled());
    }
}
