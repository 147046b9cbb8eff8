//! The HTTP endpoint Prometheus scrapes: one thread, one connection at a time, answering
//! `GET /metrics` with the latest page the reporter published.
//!
//! It reads network input, so everything is bounded: a request must fit in
//! [`MAX_REQUEST`] bytes with at most 32 headers (parsed by `httparse` in place, no copy) and
//! arrive within [`DEADLINE`], or the connection gets an error status and is closed; a body is
//! never read; nothing grows with the input. The page is shared as an `Arc<str>` behind a
//! mutex held only to swap or clone the pointer, between the reporter and this thread: no
//! worker takes part.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest request (line and headers) read; a longer one is answered 431.
pub const MAX_REQUEST: usize = 4096;

/// How long a client has to send its request, and to take the answer.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// The page most recently published.
type Latest = Arc<Mutex<Arc<str>>>;

/// A running metrics endpoint; dropping it stops its thread.
pub struct Endpoint {
    addr: SocketAddr,
    latest: Latest,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Binds `addr` (port 0 picks a free one) and serves `first` until the next
    /// [`publish`](Self::publish).
    pub fn start(addr: SocketAddr, first: String) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let latest: Latest = Arc::new(Mutex::new(Arc::from(first)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("gbswarm-metrics".into())
            .spawn({
                let latest = latest.clone();
                let stop = stop.clone();
                move || accept_loop(&listener, &latest, &stop)
            })?;
        Ok(Endpoint {
            addr,
            latest,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the page scrapers get.
    pub fn publish(&self, page: String) {
        let page: Arc<str> = Arc::from(page);
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = page;
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept with a connection of our own.
        let wake = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        // Should that connection fail, the thread is left blocked in accept (serving nothing
        // new: the flag is set) and ends with the process, rather than hanging this drop.
        let woke = TcpStream::connect_timeout(&SocketAddr::new(wake, self.addr.port()), DEADLINE);
        if let (Ok(_), Some(t)) = (woke, self.thread.take()) {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, latest: &Latest, stop: &AtomicBool) {
    let mut buf = vec![0u8; MAX_REQUEST].into_boxed_slice();
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(stream) = conn {
            // A client that fails or goes away costs only its own connection.
            let _ = answer(stream, &mut buf, latest);
        }
    }
}

/// What a request asked for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET` (or `HEAD`, `head` true) `/metrics`.
    Metrics { head: bool },
    /// Another path.
    NotFound,
    /// Another method.
    NotAllowed,
    /// Larger than [`MAX_REQUEST`] or with too many headers.
    TooLarge,
    /// Not HTTP.
    Bad,
}

/// Reads a request into `buf` within the deadline and says what it asked for; `None` when the
/// client left or ran out of time before a whole request arrived.
fn read_request(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<Route>> {
    let deadline = Instant::now() + DEADLINE;
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => return Ok(Some(route(&req))),
            Ok(httparse::Status::Partial) if len == buf.len() => {
                return Ok(Some(Route::TooLarge));
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Ok(Some(Route::TooLarge)),
            Err(_) => return Ok(Some(Route::Bad)),
        }
    }
}

fn route(req: &httparse::Request<'_, '_>) -> Route {
    let path = req.path.unwrap_or("");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let head = match req.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => return Route::NotAllowed,
    };
    if path == "/metrics" {
        Route::Metrics { head }
    } else {
        Route::NotFound
    }
}

fn answer(mut stream: TcpStream, buf: &mut [u8], latest: &Latest) -> io::Result<()> {
    let Some(route) = read_request(&mut stream, buf)? else {
        return Ok(());
    };
    stream.set_write_timeout(Some(DEADLINE))?;
    let page;
    let (status, extra, body, head): (&str, &str, &str, bool) = match route {
        Route::Metrics { head } => {
            page = latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
            ("200 OK", "", &page, head)
        }
        Route::NotFound => ("404 Not Found", "", "the metrics are at /metrics\n", false),
        Route::NotAllowed => (
            "405 Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "only GET and HEAD\n",
            false,
        ),
        Route::TooLarge => (
            "431 Request Header Fields Too Large",
            "",
            "request too large\n",
            false,
        ),
        Route::Bad => ("400 Bad Request", "", "not an HTTP request\n", false),
    };
    let content_type = if matches!(route, Route::Metrics { .. }) {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )?;
    if !head {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_the_latest_page_and_refuses_everything_else_within_bounds() {
        let e = Endpoint::start("127.0.0.1:0".parse().unwrap(), "a 1\n".into()).unwrap();
        let addr = e.local_addr();
        let got = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(
            got.contains("Content-Type: text/plain; version=0.0.4"),
            "{got}"
        );
        assert!(got.ends_with("\r\n\r\na 1\n"), "{got}");
        e.publish("a 2\n".into());
        let got = exchange(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(got.ends_with("\r\n\r\na 2\n"), "{got}");
        let got = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(
            got.contains("Content-Length: 4\r\n") && got.ends_with("\r\n\r\n"),
            "{got}"
        );
        let got = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 404 "), "{got}");
        let got = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(
            got.starts_with("HTTP/1.1 405 ") && got.contains("Allow: GET, HEAD"),
            "{got}"
        );
        let got = exchange(addr, b"\x16\x03\x01 not http\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
        // A request that does not end within MAX_REQUEST bytes is refused there (sent
        // exactly that long, so nothing is left unread to reset the connection).
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST, b'a');
        assert!(exchange(addr, &big).starts_with("HTTP/1.1 431 "));
        let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(exchange(addr, &many).starts_with("HTTP/1.1 431 "));
        // Still serving after all that.
        let got = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(got.ends_with("a 2\n"), "{got}");
        drop(e);
    }
}
