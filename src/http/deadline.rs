//! One deadline per request: connect, headers and every byte of the body must arrive before it.
//!
//! Part of [`crate::http`], and used by `doctor`'s own client too. A per-read timeout is not a
//! bound: a server that sends one byte a second never trips a 5 s read timeout and can hold a
//! request for as long as its body is. So a request gets one [`Deadline`] when it starts, and
//! every read goes through [`Bounded`], which refuses once the deadline has passed and otherwise
//! sets the socket's read timeout to what is left, so even a read that gets nothing at all
//! returns by the deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The moment a request must be complete by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    pub(crate) fn after(total: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + total,
            total,
        }
    }

    /// What is left, or the timeout error once nothing is.
    pub(crate) fn remaining(&self) -> io::Result<Duration> {
        match self.end.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(self.expired()),
        }
    }

    /// Whether `wait` (a `Retry-After`) still leaves time for another attempt.
    pub(crate) fn allows(&self, wait: Duration) -> bool {
        Instant::now() + wait < self.end
    }

    /// The error of a request that ran out of time; says the bound, names no server text.
    pub(crate) fn expired(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "timed out: no complete answer within {} s",
                self.total.as_secs_f64().ceil() as u64
            ),
        )
    }
}

/// A stream whose blocking reads can be bounded.
pub(crate) trait ReadTimeout {
    fn set_read_timeout(&mut self, d: Duration) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&mut self, d: Duration) -> io::Result<()> {
        TcpStream::set_read_timeout(self, Some(d))
    }
}

impl<C> ReadTimeout for rustls::StreamOwned<C, TcpStream> {
    fn set_read_timeout(&mut self, d: Duration) -> io::Result<()> {
        self.sock.set_read_timeout(Some(d))
    }
}

/// A reader whose blocking does its own timing (reqwest's body, bounded by the same deadline
/// given to reqwest as the request's total timeout): only the check between reads is ours.
pub(crate) struct SelfTimed<R>(pub R);

impl<R> ReadTimeout for SelfTimed<R> {
    fn set_read_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

impl<R: Read> Read for SelfTimed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// `inner`, with every read (and write) held to `deadline`.
pub(crate) struct Bounded<'a, S> {
    inner: &'a mut S,
    deadline: Deadline,
}

impl<'a, S: ReadTimeout> Bounded<'a, S> {
    pub(crate) fn new(inner: &'a mut S, deadline: Deadline) -> Self {
        Bounded { inner, deadline }
    }
}

impl<S: Read + ReadTimeout> Read for Bounded<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.remaining()?;
        self.inner.set_read_timeout(left)?;
        match self.inner.read(buf) {
            // The socket gave up because the remainder ran out: that is the deadline.
            Err(e) if is_timeout(&e) => Err(self.deadline.expired()),
            r => r,
        }
    }
}

impl<S: Write> Write for Bounded<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deadline.remaining()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that sends one byte every 200 ms forever never trips a per-read timeout; the
    /// deadline ends the read anyway.
    #[test]
    fn a_trickle_is_cut_at_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            for _ in 0..40 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        let mut got = Vec::new();
        let e = Bounded::new(&mut c, Deadline::after(Duration::from_secs(1)))
            .read_to_end(&mut got)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("within 1 s"), "{e}");
        assert!(!got.is_empty(), "bytes did arrive before the deadline");
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        drop(c);
        server.join().unwrap();
    }
}
