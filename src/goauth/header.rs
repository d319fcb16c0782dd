//! The header lines of a GOAUTH answer: `Name: value`, as Go's `parseUserAuth` accepts them.
//!
//! Go splits each line at the first `": "`, trims the value, and requires an RFC 7230 token
//! name and a value without control characters other than SP/HT (userauth.go, httputils.go).
//! [`HeaderName`] and the value inside [`Header`] are checked against exactly that, a bit
//! stricter: the value is visible ASCII with inner spaces only, so trimming never changes it.
//! The value is a secret (`Authorization: Basic …`): it lives in a `SecretString`, and
//! `Debug` shows only the name.

use super::GoauthError;
use crate::secret::{basic_auth, check_token, secret, ExposeSecret, SecretString};

/// An RFC 7230 token (`tchar`s), as Go's `validHeaderFieldName` requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderName(String);

impl HeaderName {
    pub(crate) fn new(name: &str) -> Result<HeaderName, GoauthError> {
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(tchar) {
            return Err(GoauthError::BadHeader("name is not an HTTP token"));
        }
        Ok(HeaderName(name.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// One header line with a secret value.
pub(crate) struct Header {
    name: HeaderName,
    value: SecretString,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Header({}: [REDACTED])", self.name.as_str())
    }
}

impl Header {
    pub(crate) fn new(name: HeaderName, value: SecretString) -> Result<Header, GoauthError> {
        let v = value.expose_secret().as_bytes();
        if v.is_empty() {
            return Err(GoauthError::BadHeader("empty value"));
        }
        if v[0] == b' ' || v[v.len() - 1] == b' ' {
            return Err(GoauthError::BadHeader(
                "value starts or ends with a space (Go would trim it)",
            ));
        }
        if !v.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            return Err(GoauthError::BadHeader(
                "value holds a control or non-ASCII character",
            ));
        }
        Ok(Header { name, value })
    }

    /// `Authorization: Basic base64(username:token)` (RFC 7617). A `:` in the username would
    /// move the split point, so it is refused; the token must be one printable word.
    pub(crate) fn basic(username: &str, token: &SecretString) -> Result<Header, GoauthError> {
        if username.is_empty() || username.contains(':') || username.chars().any(char::is_control) {
            return Err(GoauthError::BadHeader(
                "Basic auth needs a non-empty username without ':' or control characters",
            ));
        }
        check_token(token)
            .map_err(|_| GoauthError::BadHeader("the token is not one printable word"))?;
        Header::new(
            HeaderName::new("Authorization")?,
            basic_auth(username, token),
        )
    }

    /// `Authorization: Bearer token` (RFC 6750).
    pub(crate) fn bearer(token: &SecretString) -> Result<Header, GoauthError> {
        check_token(token)
            .map_err(|_| GoauthError::BadHeader("the token is not one printable word"))?;
        let mut value = String::from("Bearer ");
        value.push_str(token.expose_secret());
        Header::new(HeaderName::new("Authorization")?, secret(value))
    }

    pub(crate) fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The value; every caller is a place the secret leaves.
    pub(crate) fn value(&self) -> &SecretString {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer() {
        let h = Header::basic("goauthuser", &secret("goauthpw".into())).unwrap();
        assert_eq!(h.name().as_str(), "Authorization");
        assert_eq!(
            h.value().expose_secret(),
            "Basic Z29hdXRodXNlcjpnb2F1dGhwdw=="
        );
        let h = Header::bearer(&secret("tok.en_1".into())).unwrap();
        assert_eq!(h.value().expose_secret(), "Bearer tok.en_1");
        assert!(!format!("{h:?}").contains("tok.en_1"));
    }

    #[test]
    fn refuses_what_go_would_reject_or_mangle() {
        for bad in ["", "Auth orization", "Auth:", "Autho\u{e9}", "a\nb"] {
            assert!(HeaderName::new(bad).is_err(), "{bad:?}");
        }
        let name = || HeaderName::new("X-Token").unwrap();
        for bad in [
            "", " x", "x ", "a\rb", "a\nb", "a\0b", "a\tb", "\u{7f}", "é",
        ] {
            assert!(Header::new(name(), secret(bad.into())).is_err(), "{bad:?}");
        }
        assert!(Header::new(name(), secret("a b".into())).is_ok());
        for (user, tok) in [
            ("a:b", "t"),
            ("", "t"),
            ("a\u{1b}", "t"),
            ("a", "t t"),
            ("a", ""),
        ] {
            assert!(
                Header::basic(user, &secret(tok.into())).is_err(),
                "{user:?} {tok:?}"
            );
        }
        assert!(Header::bearer(&secret("a\r\nX-Evil: 1".into())).is_err());
    }
}
