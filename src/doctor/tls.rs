//! The TLS phase: a rustls handshake verified against one trust store, with a verifier that
//! records the chain the server showed — so when verification fails, doctor can check offline
//! which CA bundle already on the machine *would* verify it, and name that bundle in the fix
//! (`SSL_CERT_FILE` for Go, `GIT_SSL_CAINFO` / `http.sslCAInfo` for git).

use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use super::net::Client;
use super::report::{sh_quote, Finding};
use super::trust::{self, TrustSpec};
use super::Doctor;

/// What the TLS handshake saw.
#[derive(Debug, Clone)]
pub(crate) struct TlsInfo {
    pub version: String,
}

pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Handshakes with `host` over `stream`, verifying against `roots`, within `deadline`.
pub(crate) fn tls(
    stream: TcpStream,
    host: &str,
    roots: Arc<rustls::RootCertStore>,
    deadline: crate::http::deadline::Deadline,
) -> Result<(TlsStream, TlsInfo), (rustls::Error, Vec<CertificateDer<'static>>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| (rustls::Error::General(e.to_string()), Vec::new()))?;
    let verifier = Arc::new(Recording {
        inner,
        seen: seen.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (e, Vec::new()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| (rustls::Error::General(e.to_string()), Vec::new()))?;
    let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| (e, Vec::new()))?;
    let mut s = StreamOwned::new(conn, stream);
    let chain = || seen.lock().map(|c| c.clone()).unwrap_or_default();
    while s.conn.is_handshaking() {
        let mut sock = crate::http::deadline::Bounded::new(&mut s.sock, deadline);
        if let Err(e) = s.conn.complete_io(&mut sock) {
            let err = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(r) => r.clone(),
                None => rustls::Error::General(e.to_string()),
            };
            return Err((err, chain()));
        }
    }
    let version = s.conn.protocol_version().map_or("TLS".into(), |v| {
        format!("{v:?}").replace("TLSv1_", "TLS 1.")
    });
    Ok((s, TlsInfo { version }))
}

/// Delegates to webpki and remembers what the server presented.
#[derive(Debug)]
struct Recording {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    seen: Arc<Mutex<Vec<CertificateDer<'static>>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut s) = self.seen.lock() {
            s.push(end_entity.clone().into_owned());
            s.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// GOINSECURE / http.sslVerify=false turn a verification failure into a warning (and a risk).
pub(crate) fn insecure_for(d: &mut Doctor, clients: &[Client]) -> Option<String> {
    if clients.contains(&Client::Go)
        && crate::scope::Patterns::parse(d.go.get("GOINSECURE")).matches(&d.target.module)
    {
        return Some("GOINSECURE covers the module, so Go skips verification — and still sends credentials over it".into());
    }
    None
}

/// Names a bundle already on this machine that verifies the server, as the fix for each client.
pub(crate) fn tls_fix(
    d: &mut Doctor,
    f: Finding,
    clients: &[Client],
    host: &str,
    chain: &[rustls::pki_types::CertificateDer<'static>],
    ts: &TrustSpec,
) -> Finding {
    let cfg = d
        .git
        .urlmatch("http.sslCAInfo", &format!("https://{host}/"));
    let mut good = None;
    for cand in trust::candidate_bundles(d.env, cfg.as_deref()) {
        let spec = TrustSpec {
            label: cand.display().to_string(),
            files: vec![cand.clone()],
            dirs: vec![],
            chosen_by: None,
        };
        if let Ok(roots) = super::net::roots(d, &spec) {
            if trust::verifies(chain, host, roots) {
                good = Some(cand);
                break;
            }
        }
    }
    let path = good.as_ref().map_or_else(
        || "/path/to/ca-bundle-with-your-CA.pem".to_string(),
        |p| p.display().to_string(),
    );
    let mut fixes = Vec::new();
    if clients.contains(&Client::Go) {
        fixes.push(format!("export SSL_CERT_FILE={}", sh_quote(&path)));
    }
    if clients.contains(&Client::Git) {
        if d.env.get("GIT_SSL_CAINFO").is_some()
            || ts.chosen_by.as_deref() == Some("GIT_SSL_CAINFO")
        {
            fixes.push(format!("export GIT_SSL_CAINFO={}", sh_quote(&path)));
        } else {
            fixes.push(format!(
                "git config --global http.https://{host}/.sslCAInfo {}",
                sh_quote(&path)
            ));
        }
    }
    let msg = match &good {
        Some(p) => format!(
            "{}; {} (already on this machine) verifies it",
            f.message,
            p.display()
        ),
        None => format!(
            "{}; no CA bundle on this machine verifies it: get your organisation's CA certificate",
            f.message
        ),
    };
    Finding { message: msg, ..f }.fix(fixes.join(" && "))
}
