use super::*;
use crate::secret::ExposeSecret;

fn read(s: &[u8]) -> Result<Request, ProtocolError> {
    read_request(s)
}

#[test]
fn git_247_get_request() {
    let r = read(
        b"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=Git.Corp.Test\nwwwauth[]=Basic realm=\"git.corp.test\"\n\n",
    )
    .unwrap();
    assert_eq!(r.origin.host, "git.corp.test");
    assert_eq!(r.origin.port, 443);
    assert!(r.has_capability("authtype") && r.has_capability("state"));
    assert!(r.path.is_none() && r.username.is_none() && r.password.is_none());
}

#[test]
fn erase_request_with_everything() {
    let r = read(
        b"protocol=https\nhost=h.example:8443\npath=team/lib.git\nusername=u\npassword=WRONG\npassword_expiry_utc=1700000000\noauth_refresh_token=rt\nephemeral=1\nstate[]=gocred:v1\nstate[]=other:x\nunknown=whatever\n",
    )
    .unwrap();
    assert_eq!(r.origin.authority(), "h.example:8443");
    assert_eq!(r.path.as_deref(), Some("team/lib.git"));
    assert_eq!(r.password.as_ref().unwrap().expose_secret(), "WRONG");
    assert_eq!(r.password_expiry_utc, Some(1_700_000_000));
    // Read and dropped: nothing of them is kept (the refresh token is never held).
    assert!(!format!("{r:?}").contains("rt\""));
}

#[test]
fn expiry_zero_or_garbage_means_never() {
    for v in ["0", "abc", "99999999999999999999999"] {
        let r = read(format!("protocol=https\nhost=a.b\npassword_expiry_utc={v}\n").as_bytes())
            .unwrap();
        assert_eq!(r.password_expiry_utc, None, "{v}");
    }
}

#[test]
fn spec_attack_vectors_are_refused() {
    let long_wwwauth = format!(
        "protocol=https\nhost=badguy.example.com\nhost=x\nwwwauth[]=basic realm={}host=victim.example.com\n\n",
        "a".repeat(1000)
    );
    let cases: Vec<Vec<u8>> = vec![
        b"protocol=https\nhost=good.corp.com\nhost=evil.example\n\n".to_vec(),
        b"protocol=https\nhost=localhost:13337\nusername=\rprotocol=https\rhost=github.com\r\n\n"
            .to_vec(),
        b"protocol=https\nhost=github.com\x00.evil.example\n\n".to_vec(),
        b"protocol=https\nhost=\n\n".to_vec(),
        b"protocol=https\n\n".to_vec(),
        b"host=github.com\n\n".to_vec(),
        b"protocol=https\nhost=victim.example.com\x1b[2K\x1b[1Agithub.com\n\n".to_vec(),
        b"protocol=https\nhost=github.com\nurl=https://evil.example/\n".to_vec(),
        b"url=https://evil.example/\nprotocol=https\nhost=github.com\n".to_vec(),
        b"protocol=https\nhost=github.com\npath=org/repo/../../other/secret.git\n".to_vec(),
        b"protocol=https\nhost=github.com\npath=org%2frepo\n".to_vec(),
        b"protocol=https\r\nhost=github.com\r\n".to_vec(),
        b"protocol=https\nhost=github.com\nusername=\xff\xfe\n".to_vec(),
        b"protocol=https\nnoequals\nhost=github.com\n".to_vec(),
        b"protocol=https\n=v\nhost=github.com\n".to_vec(),
        b"protocol=ftp\nhost=github.com\n".to_vec(),
        b"url=https://one.example.com?%0ahost=two.example.com/\n".to_vec(),
        b"url=https://example%0d.com/\n".to_vec(),
        b"url=https:///path\n".to_vec(),
        b"url=https://@/x\n".to_vec(),
        long_wwwauth.into_bytes(),
    ];
    for c in cases {
        assert!(
            read(&c).is_err(),
            "accepted: {:?}",
            String::from_utf8_lossy(&c)
        );
    }
}

#[test]
fn the_long_header_is_not_split() {
    // t/lib-credential.sh "not confused by long header": one line, one wwwauth value.
    let input = format!(
        "protocol=https\nhost=badguy.example.com\nwwwauth[]=basic realm={}host=victim.example.com\n\n",
        "a".repeat(1000)
    );
    let r = read(input.as_bytes()).unwrap();
    assert_eq!(r.origin.host, "badguy.example.com");
    assert!(r.path.is_none() && r.username.is_none());
}

#[test]
fn size_limits() {
    let line = format!("protocol=https\nhost=a.b\nx={}\n", "a".repeat(70_000));
    assert!(matches!(
        read(line.as_bytes()),
        Err(ProtocolError::LineTooLong { .. })
    ));
    let mut big = b"protocol=https\nhost=a.b\n".to_vec();
    for _ in 0..200 {
        big.extend_from_slice(format!("wwwauth[]={}\n", "a".repeat(60_000)).as_bytes());
    }
    assert_eq!(read(&big).unwrap_err(), ProtocolError::InputTooLarge);
    // Exactly at the limit is fine (65535 bytes including LF).
    let ok = format!("protocol=https\nhost=a.b\nx={}\n", "a".repeat(MAX_LINE - 3));
    assert!(read(ok.as_bytes()).is_ok());
}

#[test]
fn stops_at_blank_line() {
    let r = read(b"protocol=https\nhost=a.example\n\nhost=evil.example\n").unwrap();
    assert_eq!(r.origin.host, "a.example");
}

#[test]
fn url_alone_is_parsed_and_validated() {
    let r = read(b"url=https://alice@Git.Corp.Test/team/lib?go-get=1\n").unwrap();
    assert_eq!(r.origin.host, "git.corp.test");
    assert_eq!(r.username.as_deref(), Some("alice"));
    assert_eq!(r.path.as_deref(), Some("team/lib"));
    let r = read(b"url=https://corp.com@evil.com/\n").unwrap();
    assert_eq!(r.origin.host, "evil.com", "host never comes from userinfo");
}

#[test]
fn url_userinfo_cannot_carry_control_characters() {
    // Found by the `protocol_reader` fuzz target: `username=` refuses an ESC, `url=` took one.
    for url in ["a%1bb", "a%7f", "%c2%85x"] {
        let input = format!("url=https://{url}:pw@git.corp.test/x\n");
        assert!(
            matches!(read(input.as_bytes()), Err(ProtocolError::BadUrl(_))),
            "{url}"
        );
    }
    let r = read(b"url=https://a%40b@git.corp.test/x\n").unwrap();
    assert_eq!(r.username.as_deref(), Some("a@b"));
}

#[test]
fn caller_supplied_credential_is_ignored_data() {
    let r =
        read(b"capability[]=authtype\nauthtype=Bearer\ncredential=x\nprotocol=https\nhost=a.b\n")
            .unwrap();
    assert!(r.password.is_none());
}

#[test]
fn empty_capability_resets_the_list() {
    let r = read(b"capability[]=authtype\ncapability[]=\nprotocol=https\nhost=a.b\n").unwrap();
    assert!(r.capabilities.is_empty());
}
