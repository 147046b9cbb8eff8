//! One camera's TCP connection: non-blocking connect from a chosen source address, framing of
//! the byte stream into messages, and a bounded write queue.

use crate::sip::framing::StreamBuf;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// `EINPROGRESS` on Linux: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;

/// Largest amount of unsent bytes kept for a slow peer before the connection is dropped.
pub const MAX_WRITE_QUEUE: usize = 256 * 1024;

/// A camera's connection to its registrar.
#[derive(Debug)]
pub struct Conn {
    /// The mio stream.
    pub stream: mio::net::TcpStream,
    /// True once the connect completed.
    pub connected: bool,
    /// Bytes received and not yet framed.
    pub rbuf: StreamBuf,
    /// Bytes not yet accepted by the kernel.
    pub wbuf: Vec<u8>,
    /// Local address (valid once connected).
    pub local: SocketAddr,
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
        rbuf: StreamBuf::new(64 * 1024),
        wbuf: Vec::new(),
        local,
    })
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

    /// Sends `bytes` now or queues them; an error means the connection is unusable.
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
                Err(e) => return Err(e),
            }
        }
        if self.wbuf.is_empty() {
            self.wbuf = Vec::new();
        }
        Ok(())
    }
}
