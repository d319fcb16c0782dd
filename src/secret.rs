//! Secret values and the few places they may be exposed.
//!
//! Every token, password and key travels as a [`SecretString`] from the moment it is read (keyring,
//! environment, command output, git's stdin) to the moment it is written (git's stdout, the
//! keyring). `expose_secret()` is the grep-able mark of each place a secret leaves its box; `Debug`
//! prints `[REDACTED]`. Comparison is constant-time.

pub use secrecy::{ExposeSecret, SecretString};

/// For `#[serde(serialize_with)]` on a wire struct that a store keeps (the keyring entry of a
/// root secret): the one place such a struct exposes its secret.
pub fn serialize_exposed<S: serde::Serializer>(
    value: &Option<SecretString>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => ser.serialize_some(v.expose_secret()),
        None => ser.serialize_none(),
    }
}

/// Wraps an owned string; the original allocation moves into the box (no copy left behind).
pub fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

/// `Basic base64(user:password)` (RFC 7617), the value of an `Authorization` header, built
/// without leaving an unzeroed copy of the pair or of the encoding behind.
pub fn basic_auth(user: &str, password: &SecretString) -> SecretString {
    use base64::Engine as _;
    let pair = secrecy::zeroize::Zeroizing::new(format!("{user}:{}", password.expose_secret()));
    // Sized up front: a growing String would leave its old buffers unzeroed.
    let mut value = String::with_capacity(6 + pair.len().div_ceil(3) * 4);
    value.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut value);
    secret(value)
}

/// Constant-time equality of two secrets (`erase` compares what git rejected with what we hold).
pub fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (a.expose_secret().as_bytes(), b.expose_secret().as_bytes());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Why a token cannot be handed to git or Go. Never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("it is empty")]
    Empty,
    #[error("it contains whitespace or a control character")]
    ControlOrSpace,
    #[error("it is longer than 16384 bytes")]
    TooLong,
}

/// A token must be one printable, space-free word: anything else could split a protocol line
/// (CR/LF/NUL) or be mangled by netrc and HTTP header parsers. Length and alphabet are otherwise
/// not assumed (GitHub's stateless installation tokens are ~520 chars with dots).
pub fn check_token(token: &SecretString) -> Result<(), TokenProblem> {
    let t = token.expose_secret();
    if t.is_empty() {
        return Err(TokenProblem::Empty);
    }
    if t.len() > 16 * 1024 {
        return Err(TokenProblem::TooLong);
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TokenProblem::ControlOrSpace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_exact() {
        let a = secret("ghp_abc".into());
        assert!(same_secret(&a, &secret("ghp_abc".into())));
        assert!(!same_secret(&a, &secret("ghp_abd".into())));
        assert!(!same_secret(&a, &secret("ghp_ab".into())));
    }

    #[test]
    fn basic_auth_is_rfc7617() {
        let v = basic_auth("goauthuser", &secret("goauthpw".into()));
        assert_eq!(v.expose_secret(), "Basic Z29hdXRodXNlcjpnb2F1dGhwdw==");
        assert_eq!(
            basic_auth("u", &secret(String::new())).expose_secret(),
            "Basic dTo="
        );
        let long = secret("x".repeat(1000));
        let v = basic_auth("user", &long);
        assert_eq!(v.expose_secret().len(), 6 + 1005usize.div_ceil(3) * 4);
    }

    #[test]
    fn tokens_are_one_printable_word() {
        assert_eq!(
            check_token(&secret(String::new())),
            Err(TokenProblem::Empty)
        );
        for bad in ["a b", "a\rb", "a\nb", "a\0b", "a\tb", "\u{1b}[2K"] {
            assert_eq!(
                check_token(&secret(bad.into())),
                Err(TokenProblem::ControlOrSpace),
                "{bad:?}"
            );
        }
        let stateless = format!(
            "ghs_{}.{}.{}",
            "a".repeat(200),
            "b".repeat(200),
            "c".repeat(100)
        );
        assert_eq!(check_token(&secret(stateless)), Ok(()));
        assert_eq!(
            check_token(&secret("x".repeat(20_000))),
            Err(TokenProblem::TooLong)
        );
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
