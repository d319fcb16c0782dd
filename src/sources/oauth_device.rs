//! RFC 8628 device authorization at `gocred login --source oauth`: show a code, wait, get tokens.
//!
//! Runs only at login, on a person's terminal; never on git's protocol channel (docs/protocols/oauth.md). Every
//! string the server sends for display (`verification_uri`, `user_code`, error text) is stripped
//! of control characters before it reaches the terminal, and the verification URI must be https
//! on the host of the device endpoint (plain http only when that endpoint is a loopback test
//! server), so a hostile server cannot send the user to a look-alike page. Polling honours
//! `interval`, `slow_down` (+5 s), `authorization_pending`, `access_denied` and `expired_token`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::oauth::OauthSpec;
use super::oauth_grant::{self, GrantError, Tokens};
use crate::error::{Error, Result};
use crate::http::{self, Field, HttpError};
use crate::secret::SecretString;

#[derive(Deserialize)]
struct DeviceAuth {
    device_code: SecretString,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: Option<u64>,
    interval: Option<u64>,
}

fn fail(message: impl Into<String>) -> Error {
    Error::Source {
        kind: "oauth",
        rule: "login".into(),
        message: message.into(),
        hint: None,
    }
}

/// Runs the whole device flow and returns the tokens.
pub(crate) fn run(spec: &OauthSpec, err: &mut dyn Write) -> Result<Tokens> {
    let device_url = spec.device_url.as_deref().ok_or_else(|| {
        Error::with_hint(
            format!(
                "provider `{}` has no device authorization endpoint",
                spec.provider
            ),
            "give the server's RFC 8628 endpoint with --device-url",
        )
    })?;
    let client = oauth_grant::client(spec).map_err(|e| fail(e.to_string()))?;
    let scope = spec.scopes.join(" ");
    let mut form = vec![("client_id", Field::Plain(&spec.client_id))];
    if !scope.is_empty() {
        form.push(("scope", Field::Plain(&scope)));
    }
    let auth: DeviceAuth = client
        .post(device_url)
        .header("Accept", "application/json")
        .form(form)
        .send_json()
        .map_err(|e| fail(format!("device authorization at {device_url}: {e}")))?;
    let uri = check_verification_uri(&auth.verification_uri, device_url)?;
    let complete = auth
        .verification_uri_complete
        .as_deref()
        .and_then(|u| check_verification_uri(u, device_url).ok());
    let code = http::clean(&auth.user_code);
    let _ = writeln!(err, "gocred: to sign in, open {uri}");
    let _ = writeln!(err, "gocred: and enter the code: {code}");
    if let Some(c) = complete {
        let _ = writeln!(err, "gocred: (or open {c})");
    }
    let device_code = auth.device_code;
    let lifetime = Duration::from_secs(auth.expires_in.unwrap_or(900).clamp(10, 1800));
    let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).clamp(1, 60));
    poll(&client, spec, &device_code, lifetime, &mut interval)
}

fn poll(
    client: &http::Client,
    spec: &OauthSpec,
    device_code: &SecretString,
    lifetime: Duration,
    interval: &mut Duration,
) -> Result<Tokens> {
    let spinner = indicatif::ProgressBar::with_draw_target(
        None,
        indicatif::ProgressDrawTarget::stderr(), // hidden when stderr is not a terminal
    );
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("static template"),
    );
    spinner.set_message("waiting for you to approve in the browser…");
    let deadline = Instant::now() + lifetime;
    let result = loop {
        let wake = Instant::now() + *interval;
        while Instant::now() < wake {
            spinner.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
        if Instant::now() >= deadline {
            break Err(fail(
                "the code expired before it was approved; run login again",
            ));
        }
        match oauth_grant::poll_device(client, spec, device_code) {
            Ok(t) => break Ok(t),
            Err(GrantError::OAuth { code, text }) => match code.as_str() {
                "authorization_pending" => {}
                "slow_down" => *interval += Duration::from_secs(5),
                "access_denied" => break Err(fail("the sign-in was denied")),
                "expired_token" => {
                    break Err(fail(
                        "the code expired before it was approved; run login again",
                    ))
                }
                _ => break Err(fail(format!("the server refused: {text}"))),
            },
            Err(GrantError::Http(HttpError::Status { status, .. })) if status >= 500 => {}
            Err(GrantError::Http(e)) => {
                break Err(fail(format!("polling {}: {e}", spec.token_url)))
            }
        }
    };
    spinner.finish_and_clear();
    result
}

/// The URI the user is sent to: https on the device endpoint's host (docs/protocols/oauth.md); shown cleaned.
pub(crate) fn check_verification_uri(raw: &str, device_url: &str) -> Result<String> {
    let bad = |why: &str| {
        fail(format!(
            "the server's verification URI {why}; not showing it"
        ))
    };
    let u = reqwest::Url::parse(raw).map_err(|_| bad("is not a URL"))?;
    let expected = reqwest::Url::parse(device_url).map_err(|_| bad("cannot be checked"))?;
    let scheme_ok = u.scheme() == "https"
        || (u.scheme() == "http" && http::is_loopback(&expected) && http::is_loopback(&u));
    if !scheme_ok {
        return Err(bad("is not https"));
    }
    if u.host_str() != expected.host_str()
        || u.port_or_known_default() != expected.port_or_known_default()
    {
        return Err(bad("is not on the server's own host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("carries a user name"));
    }
    Ok(http::clean(u.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_uri_must_be_on_the_server() {
        let dev = "https://gitlab.corp.example/oauth/authorize_device";
        assert!(check_verification_uri("https://gitlab.corp.example/oauth/device", dev).is_ok());
        for bad in [
            "http://gitlab.corp.example/oauth/device",
            "https://gitlab.corp.example.evil.example/device",
            "https://gitlab.corp.example:8443/device",
            "https://user@gitlab.corp.example/device",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(check_verification_uri(bad, dev).is_err(), "{bad}");
        }
        let local = "http://127.0.0.1:4000/device/auth";
        assert!(check_verification_uri("http://127.0.0.1:4000/device", local).is_ok());
        assert!(check_verification_uri("http://127.0.0.1:4001/device", local).is_err());
    }

    #[test]
    fn shown_uris_have_no_controls() {
        let dev = "https://h.example/d";
        let shown = check_verification_uri("https://h.example/dev%1b[2Kice", dev).unwrap();
        assert!(!shown.chars().any(char::is_control));
    }
}
