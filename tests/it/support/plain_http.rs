//! A plain-http "proxy" on 127.0.0.1 that answers every request 401 (asking for Basic) and
//! records what it was sent: where a test points `http_proxy` to see whether a client (git)
//! sent a credential over plain http.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct PlainHttpRecorder {
    pub port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl PlainHttpRecorder {
    pub fn start() -> PlainHttpRecorder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut c = c;
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut buf = [0u8; 4096];
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    s.lock().unwrap().extend_from_slice(&head);
                    let _ = c.write_all(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                });
            }
        });
        PlainHttpRecorder { port, seen }
    }

    /// `http://127.0.0.1:PORT`, for `http_proxy`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).to_string()
    }

    /// Whether a request carried `secret`, raw or in a Basic header for `user`.
    pub fn saw(&self, user: &str, secret: &str) -> bool {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        let seen = self.text();
        seen.contains(&basic) || seen.contains(secret)
    }

    /// How many requests came in.
    pub fn requests(&self) -> usize {
        self.text().matches(" HTTP/1.1\r\n").count()
    }
}
