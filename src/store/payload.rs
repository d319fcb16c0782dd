//! The bytes a `pat` rule keeps in the keyring: a username and a token, versioned.
//!
//! One keyring entry per rule, so `login`, `store` and `erase` change both halves together. The
//! format is JSON (`{"v":1,"username":…,"token":…}`); a bare token (written by another tool or by
//! hand with `secret-tool store`) is read as a token without a username.

use serde::{Deserialize, Serialize};

use crate::secret::{secret, ExposeSecret, SecretString};

pub(crate) struct PatSecret {
    pub username: Option<String>,
    pub token: SecretString,
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    token: std::borrow::Cow<'a, str>,
}

impl PatSecret {
    pub(crate) fn encode(&self) -> SecretString {
        let wire = Wire {
            v: 1,
            username: self.username.clone(),
            token: std::borrow::Cow::Borrowed(self.token.expose_secret()),
        };
        secret(serde_json::to_string(&wire).expect("plain struct serialises"))
    }

    pub(crate) fn decode(raw: &SecretString) -> PatSecret {
        let text = raw.expose_secret();
        if text.starts_with('{') {
            if let Ok(w) = serde_json::from_str::<Wire>(text) {
                if w.v == 1 {
                    return PatSecret {
                        username: w.username,
                        token: secret(w.token.into_owned()),
                    };
                }
            }
        }
        PatSecret {
            username: None,
            token: secret(text.trim_end_matches(['\n', '\r']).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bare_tokens() {
        let p = PatSecret {
            username: Some("alice".into()),
            token: secret("tok\"en".into()),
        };
        let back = PatSecret::decode(&p.encode());
        assert_eq!(back.username.as_deref(), Some("alice"));
        assert_eq!(back.token.expose_secret(), "tok\"en");
        let bare = PatSecret::decode(&secret("ghp_x\n".into()));
        assert!(bare.username.is_none());
        assert_eq!(bare.token.expose_secret(), "ghp_x");
    }
}
