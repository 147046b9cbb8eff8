//! One TCP connection, for either peer: a non-blocking connect from a chosen source address
//! (camera) or an accepted stream (registrar), a bounded buffer of received bytes for framing,
//! and a bounded write queue.
//!
//! A write the kernel cannot take whole is queued and finished on the next writable event, so
//! a full send buffer never drops or truncates a message. The queue is bounded: a peer that
//! stops reading for good is refused (`send` fails) instead of growing memory. This module
//! never parses SIP and never decides when to close.

use crate::sip::framing::StreamBuf;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// `EINPROGRESS` on Linux: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;

/// Largest amount of unsent bytes kept for a slow peer; past it `send` fails.
pub const MAX_WRITE_QUEUE: usize = 256 * 1024;

/// Most unconsumed received bytes held per connection (a message larger than this is refused).
pub const MAX_READ_BUFFER: usize = 64 * 1024;

/// A TCP connection with its framing buffer and write queue.
#[derive(Debug)]
pub struct Conn {
    /// The mio stream.
    pub stream: mio::net::TcpStream,
    /// True once the connect completed (always for accepted streams).
    pub connected: bool,
    /// Bytes received and not yet framed.
    pub rbuf: StreamBuf,
    /// Local address (valid once connected).
    pub local: SocketAddr,
    /// The other end.
    pub peer: SocketAddr,
    wbuf: Vec<u8>,
    /// What the poll registry watches for (None: not registered).
    interest: Option<Interest>,
}

/// Starts a non-blocking connect from `ip` (any port) to `peer`.
pub fn connect(ip: Option<IpAddr>, peer: SocketAddr) -> io::Result<Conn> {
    let sock = Socket::new(Domain::for_address(peer), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    if let Some(ip) = ip {
        sock.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match sock.connect(&peer.into()) {
        Ok(()) => {}
        Err(e)
            if e.raw_os_error() == Some(EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let std: std::net::TcpStream = sock.into();
    let local = std.local_addr().unwrap_or(SocketAddr::new(peer.ip(), 0));
    Ok(Conn {
        stream: mio::net::TcpStream::from_std(std),
        connected: false,
        rbuf: StreamBuf::new(MAX_READ_BUFFER),
        wbuf: Vec::new(),
        local,
        peer,
        interest: None,
    })
}

/// Wraps a stream a listener accepted from `peer`.
pub fn accepted(stream: mio::net::TcpStream, peer: SocketAddr) -> Conn {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    Conn {
        stream,
        connected: true,
        rbuf: StreamBuf::new(MAX_READ_BUFFER),
        wbuf: Vec::new(),
        local,
        peer,
        interest: None,
    }
}

impl Conn {
    /// Checks a pending connect after a writable event: `Ok(true)` once connected.
    pub fn finish_connect(&mut self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connected = true;
                if let Ok(l) = self.stream.local_addr() {
                    self.local = l;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Unsent bytes waiting for a writable event.
    pub fn queued(&self) -> usize {
        self.wbuf.len()
    }

    /// Sends `bytes` now or queues what the kernel did not take; an error means the
    /// connection is unusable (the queue would pass [`MAX_WRITE_QUEUE`], or the write failed).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            return self.queue(bytes);
        }
        match self.stream.write(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(n) => self.queue(&bytes[n..]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.queue(bytes),
            Err(e) => Err(e),
        }
    }

    /// [`send`](Self::send), and asks `registry` for writable events under `token` while
    /// bytes are queued (`read` says whether to keep readable interest too).
    pub fn send_via(
        &mut self,
        registry: &Registry,
        token: Token,
        read: bool,
        bytes: &[u8],
    ) -> io::Result<()> {
        self.send(bytes)?;
        if !self.wbuf.is_empty() {
            self.set_interest(registry, token, read)?;
        }
        Ok(())
    }

    fn queue(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.wbuf.len() + bytes.len() > MAX_WRITE_QUEUE {
            return Err(io::Error::other("peer is not reading: write queue full"));
        }
        self.wbuf.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes queued bytes after a writable event.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.wbuf.is_empty() {
            self.wbuf = Vec::new();
        }
        Ok(())
    }

    /// Registers the stream with `registry` under `token` for `interest`.
    pub fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        registry.register(&mut self.stream, token, interest)?;
        self.interest = Some(interest);
        Ok(())
    }

    /// Removes the stream from `registry`.
    pub fn deregister(&mut self, registry: &Registry) {
        if self.interest.take().is_some() {
            let _ = registry.deregister(&mut self.stream);
        }
    }

    /// Watches for writable while bytes are queued and readable if `read` (an idle stream
    /// stays readable, to hear of a hang-up); no system call when nothing changes.
    pub fn set_interest(
        &mut self,
        registry: &Registry,
        token: Token,
        read: bool,
    ) -> io::Result<()> {
        let interest = match (read, self.wbuf.is_empty()) {
            (true, false) => Interest::READABLE | Interest::WRITABLE,
            (false, false) => Interest::WRITABLE,
            (_, true) => Interest::READABLE,
        };
        if self.interest == Some(interest) {
            return Ok(());
        }
        registry.reregister(&mut self.stream, token, interest)?;
        self.interest = Some(interest);
        Ok(())
    }
}
