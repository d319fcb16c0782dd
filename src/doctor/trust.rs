//! Which CA certificates Go and git trust, loaded the way each of them loads them, and what a
//! TLS failure means in words a user can act on.
//!
//! Go (crypto/x509, Linux): `SSL_CERT_FILE` replaces the system bundle, `SSL_CERT_DIR` (colon
//! separated) replaces the system directories, and the directories are added to the file.
//! git (libcurl): `GIT_SSL_CAINFO`, else `http.<url>.sslCAInfo`, else libcurl's built-in bundle
//! (Debian: the system bundle); `GIT_SSL_CAPATH` / `http.sslCAPath` add a directory.
//! The two disagree often (a corporate CA added for one and not the other), so doctor checks each.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;

use crate::settings::Env;

/// The system bundles Go looks for, in its order (go:crypto/x509/root_linux.go).
pub(crate) const SYSTEM_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
const SYSTEM_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// Where one client's trusted CAs come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TrustSpec {
    /// How the user would name it: `SSL_CERT_FILE=/x.pem`, `the system bundle /etc/...`.
    pub label: String,
    pub files: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
    /// The setting that chose it, for the fix (`SSL_CERT_FILE`, `GIT_SSL_CAINFO`, `http.sslCAInfo`).
    pub chosen_by: Option<String>,
}

fn system_file() -> Option<PathBuf> {
    SYSTEM_FILES.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Go's trust store.
pub(crate) fn go_trust(env: &Env) -> TrustSpec {
    let (files, label, chosen_by) = match env.get("SSL_CERT_FILE") {
        Some(f) => (
            vec![PathBuf::from(f)],
            format!("SSL_CERT_FILE={f}"),
            Some("SSL_CERT_FILE".to_string()),
        ),
        None => match system_file() {
            Some(p) => {
                let l = format!("the system bundle {}", p.display());
                (vec![p], l, None)
            }
            None => (Vec::new(), "the system store".into(), None),
        },
    };
    let dirs = match env.get("SSL_CERT_DIR") {
        Some(d) => d
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
    };
    TrustSpec {
        label,
        files,
        dirs,
        chosen_by,
    }
}

/// git's trust store; `config_cainfo` / `config_capath` are `http.<url>.sslCAInfo/sslCAPath`.
pub(crate) fn git_trust(
    env: &Env,
    config_cainfo: Option<String>,
    config_capath: Option<String>,
) -> TrustSpec {
    let (files, label, chosen_by) = if let Some(f) = env.get("GIT_SSL_CAINFO") {
        (
            vec![PathBuf::from(f)],
            format!("GIT_SSL_CAINFO={f}"),
            Some("GIT_SSL_CAINFO".to_string()),
        )
    } else if let Some(f) = config_cainfo {
        let l = format!("http.sslCAInfo={f}");
        (
            vec![PathBuf::from(f)],
            l,
            Some("http.sslCAInfo".to_string()),
        )
    } else {
        match system_file() {
            Some(p) => {
                let l = format!("the system bundle {}", p.display());
                (vec![p], l, None)
            }
            None => (Vec::new(), "libcurl's built-in bundle".into(), None),
        }
    };
    let dirs = env
        .get("GIT_SSL_CAPATH")
        .map(str::to_string)
        .or(config_capath)
        .map(|d| vec![PathBuf::from(d)])
        .unwrap_or_default();
    TrustSpec {
        label,
        files,
        dirs,
        chosen_by,
    }
}

/// Loads a spec into a root store. `Err` when nothing usable was found (the message says why).
pub(crate) fn load(spec: &TrustSpec) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    let mut problems = Vec::new();
    for f in &spec.files {
        match read_pem(f) {
            Ok(certs) => {
                store.add_parsable_certificates(certs);
            }
            Err(e) => problems.push(format!("{}: {e}", f.display())),
        }
    }
    for d in &spec.dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                if let Ok(certs) = read_pem(&p) {
                    store.add_parsable_certificates(certs);
                }
            }
        }
    }
    if store.is_empty() {
        return Err(match problems.is_empty() {
            true => format!("no CA certificates found in {}", spec.label),
            false => problems.join("; "),
        });
    }
    Ok(Arc::new(store))
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())?;
    let certs: Vec<_> = iter.filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err("no PEM certificates in it".into());
    }
    Ok(certs)
}

/// Would `roots` accept `chain` (leaf first) for `host`? Checked offline, no new connection.
pub(crate) fn verifies(
    chain: &[CertificateDer<'static>],
    host: &str,
    roots: Arc<RootCertStore>,
) -> bool {
    let Some((leaf, rest)) = chain.split_first() else {
        return false;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(v) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider).build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return false;
    };
    use rustls::client::danger::ServerCertVerifier;
    v.verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
        .is_ok()
}

/// CA bundles the user already has that might hold the missing CA, most specific first.
pub(crate) fn candidate_bundles(env: &Env, git_config_cainfo: Option<&str>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let vars = [
        "SSL_CERT_FILE",
        "GIT_SSL_CAINFO",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    ];
    let named = vars.iter().filter_map(|v| env.get(v)).map(PathBuf::from);
    for p in named
        .chain(git_config_cainfo.map(PathBuf::from))
        .chain(SYSTEM_FILES.iter().map(PathBuf::from))
    {
        if p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// What went wrong in a handshake, and whether a CA setting can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsProblem {
    UnknownAuthority,
    Expired,
    WrongName,
    Other,
}

pub(crate) fn classify(e: &rustls::Error) -> (TlsProblem, String) {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => (
                TlsProblem::UnknownAuthority,
                "certificate signed by unknown authority".into(),
            ),
            C::Expired | C::ExpiredContext { .. } => (
                TlsProblem::Expired,
                "the server's certificate has expired".into(),
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => (
                TlsProblem::WrongName,
                "the certificate is not valid for this host name".into(),
            ),
            other => (TlsProblem::Other, format!("invalid certificate: {other:?}")),
        },
        other => (TlsProblem::Other, other.to_string()),
    }
}
