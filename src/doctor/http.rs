//! A small blocking HTTPS client for `doctor`, one phase at a time: DNS, TCP, proxy CONNECT,
//! TLS, one HTTP/1.1 request.
//!
//! Why not reqwest: doctor must say *which* phase broke (a name that does not resolve, a port
//! nobody listens on, a proxy that refuses the tunnel, a certificate from an unknown authority)
//! and must verify the same server once against Go's trust store and once against git's. A
//! high-level client folds all of that into one opaque error and one trust store per client.
//! Here every phase has its own error, the TLS verifier records the chain it was shown (so
//! doctor can say which CA bundle *would* verify it), and there is no async runtime. One request
//! per connection (`Connection: close`); bodies are capped.
//!
//! Timing: DNS and each TCP connect have their own short timeouts; from there on (proxy CONNECT,
//! TLS handshake, request, head and body) one [`Deadline`] of [`Timeouts::request`] bounds the
//! exchange, read by read, through the same [`Bounded`] reader gocred's own client uses — so a
//! server that trickles its answer costs that bound, never more. Every secret header sent is
//! registered for redaction (see [`crate::http::redact`]) before it is written.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) use super::tls::{tls, TlsStream};
pub(crate) use crate::http::deadline::Deadline;

use crate::http::deadline::{is_timeout, Bounded};
use crate::secret::{ExposeSecret, SecretString};

/// Largest response body read (a go-get page or a ref advertisement head, not a clone).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub dns: Duration,
    pub connect: Duration,
    pub io: Duration,
    /// One exchange once connected: CONNECT, TLS, request and the whole answer.
    pub request: Duration,
}

impl Timeouts {
    /// The deadline of one exchange starting now.
    pub(crate) fn deadline(&self) -> Deadline {
        Deadline::after(self.request)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            dns: Duration::from_secs(3),
            connect: Duration::from_secs(3),
            io: Duration::from_secs(5),
            request: Duration::from_secs(10),
        }
    }
}

/// An HTTP proxy from HTTPS_PROXY / `http.proxy` (CONNECT tunnels only).
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    pub host: String,
    pub port: u16,
    /// `http://host:port` with any user info removed: safe to print.
    pub display: String,
    /// `Proxy-Authorization` value when the URL carried user info.
    pub auth: Option<SecretString>,
}

/// Resolves `host:port` within `timeout`. `getaddrinfo` cannot be cancelled, so a slow lookup is
/// left to finish on its own thread while we report the timeout.
pub(crate) fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let (tx, rx) = mpsc::channel();
    let name = format!("{host}:{port}");
    let _ = std::thread::Builder::new()
        .name("doctor-dns".into())
        .spawn(move || {
            let r = name
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            let _ = tx.send(r);
        });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err("no address".into()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

/// Why a TCP connection failed.
#[derive(Debug)]
pub(crate) struct TcpFailure {
    pub message: String,
    pub refused: bool,
    pub timed_out: bool,
}

pub(crate) fn tcp(addrs: &[SocketAddr], t: &Timeouts) -> Result<TcpStream, TcpFailure> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, t.connect) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(t.io));
                let _ = s.set_write_timeout(Some(t.io));
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some((*a, e)),
        }
    }
    let (a, e) = last.expect("at least one address");
    Err(TcpFailure {
        refused: e.kind() == std::io::ErrorKind::ConnectionRefused,
        timed_out: e.kind() == std::io::ErrorKind::TimedOut,
        message: format!("{a}: {e}"),
    })
}

/// Asks `proxy` for a tunnel to `host:port`. `Err` holds the proxy's status line or why it
/// did not answer.
pub(crate) fn connect_tunnel(
    stream: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
    deadline: Deadline,
) -> Result<(), (Option<u16>, String)> {
    if let Some(a) = &proxy.auth {
        crate::http::redact::register_header_value(a);
    }
    let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(a) = &proxy.auth {
        req.push_str(&format!("Proxy-Authorization: {}\r\n", a.expose_secret()));
    }
    req.push_str("\r\n");
    let mut bounded = Bounded::new(stream, deadline);
    let written = bounded.write_all(req.as_bytes());
    req.clear();
    req.shrink_to_fit();
    written.map_err(|e| (None, format!("sending CONNECT: {e}")))?;
    let head = read_head(&mut bounded).map_err(|e| (None, e))?;
    let (status, reason) = parse_status_line(&head).map_err(|e| (None, e))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err((Some(status), format!("{status} {reason}")))
    }
}

/// One HTTP response (body capped at 1 MiB).
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends one GET (or HEAD) and reads the response. `secret_headers` are written to the socket
/// and nowhere else.
pub(crate) fn request(
    s: &mut TlsStream,
    method: &str,
    host_header: &str,
    path_and_query: &str,
    secret_headers: &[(String, SecretString)],
    deadline: Deadline,
) -> Result<HttpResponse, String> {
    for (_, v) in secret_headers {
        crate::http::redact::register_header_value(v);
    }
    let s = &mut Bounded::new(s, deadline);
    let mut head = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: gocred-doctor/{}\r\n\
         Accept: */*\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in secret_headers {
        head.push_str(&format!("{k}: {}\r\n", v.expose_secret()));
    }
    head.push_str("\r\n");
    let written = s.write_all(head.as_bytes()).and_then(|_| s.flush());
    // The request may have held a credential: drop the buffer's contents before it is freed.
    head.clear();
    head.shrink_to_fit();
    written.map_err(|e| format!("sending the request: {e}"))?;
    let raw = read_head(s)?;
    let (status, reason) = parse_status_line(&raw)?;
    let headers = parse_headers(&raw);
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        read_chunked(s)?
    } else if let Some(n) = find("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        read_exact_capped(s, n)?
    } else {
        read_to_close(s)?
    };
    Ok(HttpResponse {
        status,
        reason,
        headers,
        body,
    })
}

/// Reads up to the blank line ending a response head (bytes are read one at a time so nothing
/// after the head is consumed: the CONNECT tunnel's TLS bytes follow it directly).
fn read_head(r: &mut dyn Read) -> Result<String, String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() > 64 * 1024 {
            return Err("response head larger than 64 KiB".into());
        }
        match r.read(&mut b) {
            Ok(0) if head.is_empty() => {
                return Err("the connection closed without an answer".into())
            }
            Ok(0) => return Err("the connection closed in the middle of the response".into()),
            Ok(_) => head.push(b[0]),
            Err(e) if is_timeout(&e) => return Err(format!("no answer ({e})")),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

pub(crate) fn parse_status_line(head: &str) -> Result<(u16, String), String> {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/") {
        return Err("the answer is not HTTP".into());
    }
    let status = code
        .parse::<u16>()
        .map_err(|_| "malformed HTTP status line".to_string())?;
    Ok((status, parts.next().unwrap_or("").trim().to_string()))
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn read_exact_capped(r: &mut dyn Read, n: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    r.take(n.min(MAX_BODY) as u64)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(body)
}

fn read_to_close(r: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    match r.take(MAX_BODY as u64).read_to_end(&mut body) {
        Ok(_) => Ok(body),
        // Servers often close TLS without close_notify; what arrived is the body.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(body),
        Err(e) => Err(format!("reading the body: {e}")),
    }
}

fn read_chunked(r: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\n") {
            if line.len() > 1024 || r.read(&mut b).map_err(|e| e.to_string())? == 0 {
                return Err("malformed chunked body".into());
            }
            line.push(b[0]);
        }
        let text = String::from_utf8_lossy(&line);
        let size = text.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16).map_err(|_| "malformed chunk size")?;
        if n == 0 {
            return Ok(body);
        }
        if body.len() + n > MAX_BODY {
            return Ok(body);
        }
        let mut chunk = vec![0u8; n + 2];
        r.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        body.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line("HTTP/1.1 200 Connection established\r\n\r\n").unwrap(),
            (200, "Connection established".into())
        );
        assert_eq!(parse_status_line("HTTP/1.0 403\r\n").unwrap().0, 403);
        assert!(parse_status_line("SSH-2.0-OpenSSH\r\n").is_err());
    }

    #[test]
    fn chunked_bodies() {
        let mut r: &[u8] = b"4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n";
        assert_eq!(read_chunked(&mut r).unwrap(), b"abcdefg");
        let mut bad: &[u8] = b"zz\r\n";
        assert!(read_chunked(&mut bad).is_err());
    }

    /// A proxy that answers CONNECT one byte every 200 ms never trips a read timeout; the
    /// exchange's deadline ends it.
    #[test]
    fn a_trickling_proxy_is_cut_at_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            for b in b"HTTP/1.1 200 Connection established, eventually, after a very long time" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let t = Timeouts {
            request: Duration::from_secs(1),
            ..Timeouts::default()
        };
        let addrs = resolve("127.0.0.1", port, t.dns).unwrap();
        let mut s = tcp(&addrs, &t).unwrap();
        let proxy = Proxy {
            host: "127.0.0.1".into(),
            port,
            display: format!("http://127.0.0.1:{port}"),
            auth: None,
        };
        let start = std::time::Instant::now();
        let (status, why) =
            connect_tunnel(&mut s, &proxy, "h.test", 443, t.deadline()).unwrap_err();
        assert!(status.is_none() && why.contains("within 1 s"), "{why}");
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        drop(s);
        server.join().unwrap();
    }

    #[test]
    fn unresolvable_names_fail_fast_and_bounded() {
        let e = resolve("nonexistent.invalid", 443, Duration::from_secs(3)).unwrap_err();
        assert!(!e.is_empty());
    }
}
