//! The OAuth 2.0 token-endpoint grants gocred uses: device code (RFC 8628 §3.4), refresh token
//! (RFC 6749 §6), and revocation (RFC 7009).
//!
//! Hand-rolled on the shared HTTPS client rather than through the `oauth2` crate: two form
//! POSTs are all we need, and doing them here keeps one HTTP stack, one redirect policy (none)
//! and one rule for error text (the server's `error` code and description, never a body).
//! GitHub answers some errors with HTTP 200 and an `error` field, so the field decides.

use std::time::Duration;

use serde::Deserialize;

use super::oauth::OauthSpec;
use crate::http::{self, Client, Field, HttpError};
use crate::secret::{ExposeSecret, SecretString};

/// A successful token response.
pub(crate) struct Tokens {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    /// Seconds the access token lives, if the server said.
    pub expires_in: Option<u64>,
}

/// A grant that did not produce tokens.
#[derive(Debug)]
pub(crate) enum GrantError {
    /// RFC 6749 §5.2 / RFC 8628 §3.5 error code (`invalid_grant`, `slow_down`, …) and text.
    OAuth {
        code: String,
        text: String,
    },
    Http(HttpError),
}

impl std::fmt::Display for GrantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GrantError::OAuth { text, .. } => write!(f, "{text}"),
            GrantError::Http(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Deserialize)]
struct Wire {
    access_token: Option<SecretString>,
    refresh_token: Option<SecretString>,
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

pub(crate) fn client(spec: &OauthSpec) -> Result<Client, GrantError> {
    http::client(Duration::from_secs(spec.timeout_secs))
        .map_err(|m| GrantError::Http(HttpError::Unreachable(m)))
}

/// POSTs a form to the token endpoint and reads a token response.
fn token_request(
    client: &Client,
    spec: &OauthSpec,
    form: Vec<(&'static str, Field<'_>)>,
) -> Result<Tokens, GrantError> {
    let r = client
        .post(&spec.token_url)
        .header("Accept", "application/json")
        .form(form)
        .send_json::<Wire>();
    let w = match r {
        Ok(w) => w,
        Err(HttpError::Status {
            oauth_error: Some(code),
            message,
            ..
        }) => {
            let text = message.unwrap_or_else(|| code.clone());
            return Err(GrantError::OAuth { code, text });
        }
        Err(e) => return Err(GrantError::Http(e)),
    };
    if let Some(code) = w.error {
        let code = http::clean(&code);
        let text = match w.error_description {
            Some(d) => format!("{code}: {}", http::clean(&d)),
            None => code.clone(),
        };
        return Err(GrantError::OAuth { code, text });
    }
    let access = w.access_token.ok_or_else(|| {
        GrantError::Http(HttpError::Garbage("no `access_token` in the answer".into()))
    })?;
    let refresh = w.refresh_token.filter(|r| !r.expose_secret().is_empty());
    for t in std::iter::once(&access).chain(refresh.as_ref()) {
        crate::secret::check_token(t).map_err(|p| {
            GrantError::Http(HttpError::Garbage(format!(
                "a token in the answer is unusable: {p}"
            )))
        })?;
    }
    // Some servers send expires_in as a string.
    let expires_in = match w.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(Tokens {
        access,
        refresh,
        expires_in,
    })
}

/// RFC 8628 §3.4: one poll of the token endpoint with the device code.
pub(crate) fn poll_device(
    client: &Client,
    spec: &OauthSpec,
    device_code: &SecretString,
) -> Result<Tokens, GrantError> {
    token_request(
        client,
        spec,
        vec![
            (
                "grant_type",
                Field::Plain("urn:ietf:params:oauth:grant-type:device_code"),
            ),
            ("device_code", Field::Secret(device_code)),
            ("client_id", Field::Plain(&spec.client_id)),
        ],
    )
}

/// RFC 6749 §6: a new access token (and, on rotating servers, a new refresh token).
pub(crate) fn refresh(
    client: &Client,
    spec: &OauthSpec,
    refresh_token: &SecretString,
) -> Result<Tokens, GrantError> {
    token_request(
        client,
        spec,
        vec![
            ("grant_type", Field::Plain("refresh_token")),
            ("refresh_token", Field::Secret(refresh_token)),
            ("client_id", Field::Plain(&spec.client_id)),
        ],
    )
}

/// RFC 7009: revoke `token` (`hint` = `refresh_token` or `access_token`). 200 = revoked or
/// already unknown to the server.
pub(crate) fn revoke(
    client: &Client,
    url: &str,
    spec: &OauthSpec,
    token: &SecretString,
    hint: &str,
) -> Result<(), HttpError> {
    client
        .post(url)
        .header("Accept", "application/json")
        .form(vec![
            ("token", Field::Secret(token)),
            ("token_type_hint", Field::Plain(hint)),
            ("client_id", Field::Plain(&spec.client_id)),
        ])
        .send()
        .map(|_| ())
}
